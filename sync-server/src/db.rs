//! The master database: roles, migrations and tenant-scoped transactions.
//!
//! Two roles. `clinic_owner` (no login) owns every table; migrations run as
//! the cluster's administrator with `SET ROLE clinic_owner`. `clinic_app`
//! is what the server runs as: it owns nothing, is not superuser and cannot
//! bypass row-level security. The server checks that at start and refuses to
//! run otherwise. The tenant is set per transaction with
//! `set_config('app.tenant_id', …, true)`, never per session, so a pooled
//! connection cannot carry one tenant into another's request.

use crate::embedded::write_secret;
use crate::ServerError;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use rand::RngCore;
use std::path::Path;
use tokio_postgres::NoTls;
use uuid::Uuid;

include!(concat!(env!("OUT_DIR"), "/migrations_postgres.rs"));

pub const OWNER_ROLE: &str = "clinic_owner";
pub const APP_ROLE: &str = "clinic_app";
const APP_PASSWORD_FILE: &str = "app-role.secret";

pub(crate) fn db_err(e: tokio_postgres::Error) -> ServerError {
    ServerError::Database(describe(&e))
}

/// PostgreSQL's own message (tokio-postgres displays only "db error").
pub fn describe(e: &tokio_postgres::Error) -> String {
    // PostgreSQL's DETAIL can quote row values (patient data): never included.
    match e.as_db_error() {
        Some(d) => format!("{} ({})", d.message(), d.code().code()),
        None => {
            // The cause (a TLS handshake's "invalid peer certificate", …).
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text.push_str(": ");
                text.push_str(&s.to_string());
                source = s.source();
            }
            text
        }
    }
}

/// A connection string as the server uses it: tokio-postgres's own
/// settings, and TLS when `sslmode=verify-full` asks for it (tokio-postgres
/// reads neither `verify-full` nor `sslrootcert`, so they are taken out
/// here). `verify-full` checks the database server's certificate against
/// `sslrootcert` (PEM) or the system's authorities, and its name.
pub struct DbUrl {
    pub config: tokio_postgres::Config,
    /// `sslrootcert`, when given with `verify-full`.
    root: Option<String>,
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
}

impl std::fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbUrl")
            .field("tls", &self.uses_tls())
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

impl DbUrl {
    pub fn parse(url: &str) -> Result<Self, ServerError> {
        let (rest, mode, root) = take_tls_params(url);
        let mut config: tokio_postgres::Config = rest.parse().map_err(db_err)?;
        let tls = match mode.as_deref() {
            None | Some("disable") | Some("prefer") | Some("allow") => None,
            Some("verify-full") => {
                config.ssl_mode(tokio_postgres::config::SslMode::Require);
                Some(tls_connector(root.as_deref())?)
            }
            Some(other) => {
                return Err(ServerError::Startup(format!(
                    "sslmode={other} is not supported: use sslmode=verify-full (with sslrootcert=FILE for a private CA), so the server checks which database it talks to, or leave TLS off on a private link"
                )))
            }
        };
        Ok(Self { config, root, tls })
    }

    /// Whether connections use TLS.
    pub fn uses_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The TLS part to add to another connection string to the same server.
    fn tls_params(&self) -> String {
        match (&self.tls, &self.root) {
            (None, _) => String::new(),
            (Some(_), None) => " sslmode=verify-full".into(),
            (Some(_), Some(r)) => format!(" sslmode=verify-full sslrootcert='{r}'"),
        }
    }
}

/// Takes `sslmode` and `sslrootcert` out of a key=value or URL connection string.
fn take_tls_params(url: &str) -> (String, Option<String>, Option<String>) {
    let (mut mode, mut root) = (None, None);
    let mut take = |key: &str, value: &str| match key {
        "sslmode" => mode = Some(value.trim_matches('\'').to_string()),
        "sslrootcert" => root = Some(value.trim_matches('\'').to_string()),
        _ => {}
    };
    let rest = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        match url.split_once('?') {
            Some((base, query)) => {
                let kept: Vec<&str> = query
                    .split('&')
                    .filter(|pair| {
                        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                        take(k, v);
                        !matches!(k, "sslmode" | "sslrootcert")
                    })
                    .collect();
                if kept.is_empty() {
                    base.to_string()
                } else {
                    format!("{base}?{}", kept.join("&"))
                }
            }
            None => url.to_string(),
        }
    } else {
        url.split_whitespace()
            .filter(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                take(k, v);
                !matches!(k, "sslmode" | "sslrootcert")
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    (rest, mode, root)
}

/// A verifying TLS connector: the authorities in `root` (PEM), else the system's.
fn tls_connector(
    root: Option<&str>,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect, ServerError> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    match root {
        Some(path) => {
            let certs = rustls::pki_types::CertificateDer::pem_file_iter(path)
                .and_then(|i| i.collect::<Result<Vec<_>, _>>())
                .map_err(|e| ServerError::Startup(format!("sslrootcert {path}: {e}")))?;
            for c in certs {
                roots
                    .add(c)
                    .map_err(|e| ServerError::Startup(format!("sslrootcert {path}: {e}")))?;
            }
        }
        None => {
            for c in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(c);
            }
        }
    }
    if roots.is_empty() {
        return Err(ServerError::Startup(
            "sslmode=verify-full: no certificate authority to check the database against (give sslrootcert=FILE)".into(),
        ));
    }
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| ServerError::Startup(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// Connects with a libpq-style connection string (TLS as [`DbUrl`] says).
pub async fn connect(url: &str) -> Result<tokio_postgres::Client, ServerError> {
    let url = DbUrl::parse(url)?;
    let client = match url.tls {
        Some(tls) => {
            let (client, conn) = url.config.connect(tls).await.map_err(db_err)?;
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    tracing::warn!(error = %e, "database connection ended");
                }
            });
            client
        }
        None => {
            let (client, conn) = url.config.connect(NoTls).await.map_err(db_err)?;
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    tracing::warn!(error = %e, "database connection ended");
                }
            });
            client
        }
    };
    Ok(client)
}

/// Creates the owner and runtime roles (cluster-wide, once) and gives the
/// runtime role a password kept in `data_dir`. Returns that password.
pub async fn ensure_roles(
    admin: &tokio_postgres::Client,
    data_dir: &Path,
) -> Result<String, ServerError> {
    let file = data_dir.join(APP_PASSWORD_FILE);
    let password = match std::fs::read_to_string(&file) {
        Ok(p) => p.trim().to_string(),
        Err(_) => {
            let mut b = [0u8; 24];
            rand::rngs::OsRng.fill_bytes(&mut b);
            let p: String = b.iter().map(|x| format!("{x:02x}")).collect();
            write_secret(&file, &p)?;
            p
        }
    };
    // Role names are fixed identifiers; the password is hex, so both are safe to inline.
    let sql = format!(
            "DO $$ BEGIN
               IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{OWNER_ROLE}') THEN
                 CREATE ROLE {OWNER_ROLE} NOLOGIN;
               END IF;
               IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
                 CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
               END IF;
             END $$;
             ALTER ROLE {APP_ROLE} WITH LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD '{password}';
             GRANT {OWNER_ROLE} TO CURRENT_USER;"
        );
    // Roles are cluster-wide: two servers (or test runs) starting at once can
    // collide on the catalog row ("tuple concurrently updated"); try again.
    let mut attempt = 0;
    loop {
        match admin.batch_execute(&sql).await {
            Ok(()) => break,
            Err(e)
                if attempt < 10
                    && (e.code() == Some(&tokio_postgres::error::SqlState::INTERNAL_ERROR)
                        || e.code()
                            == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION)) =>
            {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(50 * attempt)).await;
            }
            Err(e) => return Err(db_err(e)),
        }
    }
    Ok(password)
}

/// Every migration this server knows: the product's, and those of
/// projections registered besides, in name (= time) order.
fn all_migrations() -> Vec<(&'static str, &'static str)> {
    let mut all: Vec<(&str, &str)> = MIGRATIONS.to_vec();
    for p in crate::records::projections() {
        all.extend_from_slice(p.migrations());
    }
    all.sort();
    all.dedup();
    all
}

/// Applies pending migrations in one transaction each, as the owner role.
pub async fn migrate(admin: &mut tokio_postgres::Client) -> Result<usize, ServerError> {
    admin
        .batch_execute(&format!(
            "GRANT USAGE, CREATE ON SCHEMA public TO {OWNER_ROLE};
             -- Extensions are the administrator's to create (the owner role may not):
             -- btree_gist lets appointments' exclusion constraints compare ids.
             CREATE EXTENSION IF NOT EXISTS btree_gist;
             CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());
             ALTER TABLE schema_migrations OWNER TO {OWNER_ROLE};"
        ))
        .await
        .map_err(db_err)?;
    let applied: Vec<String> = admin
        .query("SELECT name FROM schema_migrations", &[])
        .await
        .map_err(db_err)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let all = all_migrations();
    let known: Vec<&str> = all.iter().map(|(n, _)| *n).collect();
    if let Some(newer) = applied.iter().find(|a| !known.contains(&a.as_str())) {
        return Err(ServerError::Startup(format!("the database has migration {newer}, which this server does not know: it is newer than this server; upgrade the server")));
    }
    let mut n = 0;
    for (name, sql) in all {
        if applied.iter().any(|a| a == name) {
            continue;
        }
        let tx = admin.transaction().await.map_err(db_err)?;
        tx.batch_execute(&format!("SET LOCAL ROLE {OWNER_ROLE};"))
            .await
            .map_err(db_err)?;
        tx.batch_execute(sql)
            .await
            .map_err(|e| ServerError::Startup(format!("migration {name}: {}", describe(&e))))?;
        tx.execute("INSERT INTO schema_migrations (name) VALUES ($1)", &[&name])
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        n += 1;
    }
    crate::sync::rechain_feeds(admin).await?;
    Ok(n)
}

/// Refuses to run as a role that could see across tenants.
pub async fn check_runtime_role(app: &tokio_postgres::Client) -> Result<(), ServerError> {
    let row = app
        .query_one(
            &format!(
                "SELECT r.rolsuper, r.rolbypassrls,
                        (SELECT count(*) FROM pg_class c WHERE c.relowner = r.oid AND c.relnamespace = 'public'::regnamespace),
                        pg_has_role(current_user, '{OWNER_ROLE}', 'MEMBER'),
                        (SELECT count(*) FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
                           AND (has_table_privilege(current_user, c.oid, 'DELETE')
                             OR has_table_privilege(current_user, c.oid, 'TRUNCATE')))
                 FROM pg_roles r WHERE r.rolname = current_user"
            ),
            &[],
        )
        .await
        .map_err(db_err)?;
    let (superuser, bypass, owned, owner_member, deletable): (bool, bool, i64, bool, i64) =
        (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
    if superuser || bypass || owned > 0 || owner_member || deletable > 0 {
        return Err(ServerError::Startup(format!(
            "refusing to run: the database role is superuser={superuser}, bypassrls={bypass}, owns {owned} relations, member of the owner role={owner_member}, may delete from {deletable} tables; the server must run as a role that owns nothing, cannot bypass row-level security and cannot delete"
        )));
    }
    Ok(())
}

/// The longest one statement of a request may run.
pub const STATEMENT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);
/// The longest a statement waits for a lock (a tenant's feed lock is held
/// by one push at a time; the largest push applies in well under a second).
pub const LOCK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// A pool of runtime-role connections (waits at most five seconds).
pub fn app_pool(url: &str, size: usize) -> Result<Pool, ServerError> {
    let url = DbUrl::parse(url)?;
    let mut cfg = url.config;
    // No request holds a connection, or a tenant's feed lock, for long:
    // a statement that runs past STATEMENT_TIMEOUT, or waits for a lock
    // past LOCK_TIMEOUT, is cancelled and the request answers "busy".
    cfg.options(format!(
        "-c statement_timeout={} -c lock_timeout={}",
        STATEMENT_TIMEOUT.as_millis(),
        LOCK_TIMEOUT.as_millis()
    ));
    let manager = ManagerConfig {
        recycling_method: RecyclingMethod::Fast,
    };
    let mgr = match url.tls {
        Some(tls) => Manager::from_config(cfg, tls, manager),
        None => Manager::from_config(cfg, NoTls, manager),
    };
    Pool::builder(mgr)
        .max_size(size)
        .wait_timeout(Some(std::time::Duration::from_secs(5)))
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .build()
        .map_err(|e| ServerError::Startup(e.to_string()))
}

/// A connection from the pool; a pool that stays exhausted for five seconds
/// is "busy" (503) rather than a request left hanging.
pub async fn conn(pool: &Pool) -> Result<deadpool_postgres::Client, ServerError> {
    pool.get().await.map_err(|e| match e {
        deadpool_postgres::PoolError::Timeout(_) => ServerError::Busy,
        other => ServerError::Database(other.to_string()),
    })
}

/// The database as requests from nobody signed in (sign-in, refresh,
/// sign-out) use it: never more connections at once than their `gate`
/// lets in, so however many arrive, the rest of the pool stays free for
/// signed-in work and sync.
#[derive(Debug, Clone, Copy)]
pub struct Share<'a> {
    pub pool: &'a Pool,
    pub gate: &'a crate::gate::Gate,
}

/// A connection taken within a [`Share`]; its place is given back with it.
#[derive(Debug)]
pub struct SharedConn {
    client: deadpool_postgres::Client,
    _place: tokio::sync::OwnedSemaphorePermit,
}

impl std::ops::Deref for SharedConn {
    type Target = deadpool_postgres::Client;
    fn deref(&self) -> &Self::Target {
        &self.client
    }
}

impl std::ops::DerefMut for SharedConn {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.client
    }
}

impl Share<'_> {
    /// A connection, once the share has room for one (busy when too many wait).
    pub async fn conn(&self) -> Result<SharedConn, ServerError> {
        let place = self.gate.enter().await?;
        Ok(SharedConn {
            client: conn(self.pool).await?,
            _place: place,
        })
    }
}

/// Runtime-role connection string for the same server as `admin_url`.
pub fn app_url(admin_url: &str, password: &str) -> Result<String, ServerError> {
    let url = DbUrl::parse(admin_url)?;
    let cfg = &url.config;
    let host = match cfg.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        _ => "127.0.0.1".to_string(),
    };
    let port = cfg.get_ports().first().copied().unwrap_or(5432);
    let db = cfg.get_dbname().unwrap_or("postgres");
    Ok(format!(
        "host={host} port={port} user={APP_ROLE} password={password} dbname={db}{}",
        url.tls_params()
    ))
}

/// Begins a transaction scoped to one tenant: every row-level-security
/// policy sees this tenant, and only for this transaction.
pub async fn tenant_tx<'a>(
    client: &'a mut deadpool_postgres::Client,
    tenant: Uuid,
) -> Result<deadpool_postgres::Transaction<'a>, ServerError> {
    let tx = client.transaction().await.map_err(db_err)?;
    tx.execute(
        "SELECT set_config('app.tenant_id', $1, true)",
        &[&tenant.to_string()],
    )
    .await
    .map_err(db_err)?;
    Ok(tx)
}

/// Database errors caused by what a client sent (text the database cannot
/// store, values beyond its limits) are the client's 422, not a 500.
pub fn map_db(e: tokio_postgres::Error) -> ServerError {
    // Cancelled by the statement or lock timeout: the server is busy.
    if e.code()
        .is_some_and(|c| matches!(c.code(), "57014" | "55P03"))
    {
        tracing::warn!(error = %describe(&e), "a statement was cancelled by a timeout");
        return ServerError::Busy;
    }
    let client_data = e
        .code()
        .is_some_and(|c| c.code().starts_with("22") || c.code() == "54000");
    if client_data {
        return clinic_core::ClinicError::new(
            clinic_core::ErrorCode::Validation,
            "The request contains text the server cannot store (control characters, or too long).",
        )
        .into();
    }
    db_err(e)
}
