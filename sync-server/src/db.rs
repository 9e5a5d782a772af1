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

fn db_err(e: tokio_postgres::Error) -> ServerError {
    ServerError::Database(describe(&e))
}

/// PostgreSQL's own message (tokio-postgres displays only "db error").
pub fn describe(e: &tokio_postgres::Error) -> String {
    // PostgreSQL's DETAIL can quote row values (patient data): never included.
    match e.as_db_error() {
        Some(d) => format!("{} ({})", d.message(), d.code().code()),
        None => e.to_string(),
    }
}

/// Connects with a libpq-style connection string.
pub async fn connect(url: &str) -> Result<tokio_postgres::Client, ServerError> {
    let (client, conn) = tokio_postgres::connect(url, NoTls).await.map_err(db_err)?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::warn!(error = %e, "database connection ended");
        }
    });
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

/// A pool of runtime-role connections (waits at most five seconds).
pub fn app_pool(url: &str, size: usize) -> Result<Pool, ServerError> {
    let cfg: tokio_postgres::Config = url.parse().map_err(db_err)?;
    let mgr = Manager::from_config(
        cfg,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
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
    let cfg: tokio_postgres::Config = admin_url.parse().map_err(db_err)?;
    let host = match cfg.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        _ => "127.0.0.1".to_string(),
    };
    let port = cfg.get_ports().first().copied().unwrap_or(5432);
    let db = cfg.get_dbname().unwrap_or("postgres");
    Ok(format!(
        "host={host} port={port} user={APP_ROLE} password={password} dbname={db}"
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
