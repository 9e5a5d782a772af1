//! The sync server: axum over a multi-tenant PostgreSQL master in which
//! tenancy is enforced by the database itself (row-level security).
//!
//! `router(state)` builds the HTTP app and `serve(listener, …)` runs it, so
//! tests start the real server on 127.0.0.1:0 against a fresh database.
//! Handlers only convert; the logic lives in the modules below and in
//! `clinic-core`.

pub mod accounts;
pub mod audit;
pub mod db;
pub mod devices;
pub mod embedded;
pub mod error;
pub mod gate;
pub mod http;
pub mod limits;
pub mod metrics;
pub mod passwords;
pub mod records;
pub mod state;
pub mod sync;
pub mod tenants;
#[cfg(feature = "test-support")]
pub mod testing;
pub mod tls;
pub mod tokens;

// Domains: each keeps its kinds in tables of its own ([`records::Projection`]).
pub mod billing;
pub mod clinical;
pub mod directory;
pub mod inventory;
pub mod patients;
pub mod scheduling;

pub use error::ServerError;
pub use state::AppState;

/// The product's projections, one line per domain (the directory's sites
/// and rooms need nothing beyond `sync_records`).
fn product_projections() -> Vec<&'static dyn records::Projection> {
    vec![
        &directory::PROJECTION,
        &patients::PROJECTION,
        &scheduling::PROJECTION,
        &clinical::PROJECTION,
        &clinical::PRESCRIPTIONS,
        &billing::INVOICES,
        &billing::PAYMENTS,
        &billing::CREDIT_NOTES,
        &inventory::MOVEMENTS,
    ]
}

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use deadpool_postgres::Pool;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use tower_http::compression::predicate::SizeAbove;
use tower_http::compression::{CompressionLayer, CompressionLevel};

/// Request bodies larger than this are refused (413) before they are read.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// A push carries up to [`sync::MAX_PUSH`] mutations and audit events.
pub const MAX_PUSH_BYTES: usize = 32 * 1024 * 1024;

#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "Clinic sync server", description = "Multi-tenant sync server of the clinic workstations. Errors are `{\"error\": {code, message, fields}}` with a stable code."),
    modifiers(&SecuritySchemes)
)]
struct ApiDoc;

struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "operator",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "`Operator <token>`: the server's operator (CLINIC_OPERATOR_TOKEN)",
            ))),
        );
        components.add_security_scheme(
            "device",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "`Device <credential>` of an enrolled workstation",
            ))),
        );
    }
}

/// Every documented route, registered together with its OpenAPI entry, so
/// the router and the document cannot disagree.
fn api_router() -> utoipa_axum::router::OpenApiRouter<AppState> {
    use utoipa::OpenApi;
    use utoipa_axum::routes;
    utoipa_axum::router::OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health))
        .routes(routes!(metrics::render))
        .routes(routes!(http::login))
        .routes(routes!(http::refresh))
        .routes(routes!(http::logout))
        .routes(routes!(http::logout_everywhere))
        .routes(routes!(http::mfa_setup))
        .routes(routes!(http::mfa_confirm))
        .routes(routes!(http::add_user))
        .routes(routes!(http::enroll, http::list_devices))
        .routes(routes!(http::revoke_device))
        .routes(routes!(http::whoami))
        .routes(routes!(http::peers))
        .routes(routes!(http::rotate_credential))
        .routes(routes!(http::renew_device))
        .routes(routes!(http::create_tenant))
        .routes(routes!(http::sync_pull))
        .routes(routes!(http::sync_checksums))
        .routes(routes!(http::sync_records))
        .merge(
            utoipa_axum::router::OpenApiRouter::new()
                .routes(routes!(http::sync_push))
                .layer(axum::extract::DefaultBodyLimit::max(MAX_PUSH_BYTES)),
        )
}

/// The OpenAPI 3 document of the API (served at `/openapi.json`, checked in
/// as `sync-server/openapi.json`).
pub fn openapi() -> utoipa::openapi::OpenApi {
    api_router().split_for_parts().1
}

/// Answers smaller than this go uncompressed: under one network packet,
/// compressing saves no packet and only costs time at both ends (an empty
/// pull page, a sign-in, an error).
pub const COMPRESS_MIN_BYTES: u16 = 1024;

/// Compression level of the answers (zstd's, and gzip's for clients
/// without zstd). Measured on the bootstrap's pull pages (2,000 changes,
/// 2.46 MB of JSON each): zstd level 1 makes them 8.4x smaller at about
/// 700 MB/s (~3.5 ms a page, while the request waits); levels 2 to 4 are
/// slower and no smaller on this JSON, and 6 to 9 only 5-9 % smaller at a
/// sixth to a tenth of the speed.
pub const COMPRESSION_LEVEL: i32 = 1;

/// Compresses answers of at least [`COMPRESS_MIN_BYTES`] for clients that
/// ask for it in `Accept-Encoding`: zstd (what the workstations ask for,
/// preferred), else gzip; others get them as they are.
fn compression() -> CompressionLayer<SizeAbove> {
    CompressionLayer::new()
        .quality(CompressionLevel::Precise(COMPRESSION_LEVEL))
        .compress_when(SizeAbove::new(COMPRESS_MIN_BYTES))
}

/// The HTTP application.
pub fn router(state: AppState) -> Router {
    let (router, api) = api_router().split_for_parts();
    let doc = Arc::new(api);
    router
        .route(
            "/openapi.json",
            get(move || async move { Json(doc.as_ref().clone()) }),
        )
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::count,
        ))
        .layer(compression())
        .with_state(state)
}

/// Liveness and database check.
#[utoipa::path(get, path = "/health", tag = "operations",
    responses((status = 200, description = "the server and its database answer"), (status = 500, body = clinic_core::api::ErrorBody)))]
async fn health(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ServerError> {
    let client = db::conn(&state.pool).await?;
    client
        .query_one("SELECT 1", &[])
        .await
        .map_err(db::map_db)?;
    Ok(Json(
        serde_json::json!({ "status": "ok", "database": "ok" }),
    ))
}

/// Serves until `shutdown` resolves, then finishes in-flight requests.
/// `listener` is a plain `TcpListener` (loopback) or a [`tls::TlsListener`].
pub async fn serve<L>(
    listener: L,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    L: axum::serve::Listener<Addr = std::net::SocketAddr>,
    http::Peer: for<'a> axum::extract::connect_info::Connected<axum::serve::IncomingStream<'a, L>>,
{
    // The client's address is what sign-in, refresh and enrolment are rate-limited by.
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<http::Peer>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// The database side of a running server: migrated, with the runtime role
/// checked, and (on the embedded default) the private cluster to stop later.
#[derive(Debug)]
pub struct Database {
    pub pool: Pool,
    pub embedded: Option<embedded::EmbeddedPostgres>,
}

/// Prepares the master database. Without `admin_url` it starts the embedded
/// cluster under `data_dir`; with one, it uses that server (the URL's role
/// must be allowed to create roles and databases objects: it migrates).
pub async fn open_database(
    data_dir: &Path,
    admin_url: Option<&str>,
) -> Result<Database, ServerError> {
    std::fs::create_dir_all(data_dir)
        .map_err(|e| ServerError::Startup(format!("{}: {e}", data_dir.display())))?;
    let (embedded, admin_url) = match admin_url {
        Some(url) => (None, url.to_string()),
        None => {
            let pg = embedded::EmbeddedPostgres::start(data_dir)?;
            let bootstrap = db::connect(&pg.admin_url("postgres")).await?;
            let exists = bootstrap
                .query_opt("SELECT 1 FROM pg_database WHERE datname = 'clinic'", &[])
                .await
                .map_err(db::map_db)?;
            if exists.is_none() {
                bootstrap
                    .batch_execute("CREATE DATABASE clinic")
                    .await
                    .map_err(db::map_db)?;
            }
            let url = pg.admin_url("clinic");
            (Some(pg), url)
        }
    };
    let mut admin = db::connect(&admin_url).await?;
    let app_password = db::ensure_roles(&admin, data_dir).await?;
    let applied = db::migrate(&mut admin).await?;
    if applied > 0 {
        tracing::info!(applied, "database migrated");
    }
    let pool = db::app_pool(&db::app_url(&admin_url, &app_password)?, 16)?;
    let client = pool.get().await.map_err(|e| {
        let why = match &e {
            deadpool_postgres::PoolError::Backend(pg) => db::describe(pg),
            other => other.to_string(),
        };
        ServerError::Startup(format!("cannot connect as the runtime role: {why}"))
    })?;
    db::check_runtime_role(&client).await?;
    drop(client);
    let tenants: Vec<uuid::Uuid> = admin
        .query("SELECT id FROM tenants", &[])
        .await
        .map_err(db::map_db)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    directory::ensure_all(&pool, &tenants).await?;
    Ok(Database { pool, embedded })
}
