//! `sync-server`: parses flags and environment, starts the database (the
//! embedded default or `--database-url`), then serves. Logic lives in the lib.

use clap::{Parser, Subcommand};
use clinic_core::auth::Password;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use sync_server::tenants::{create_tenant, NewTenant};
use sync_server::{open_database, serve, AppState, ServerError};

#[derive(Parser, Debug)]
#[command(
    name = "sync-server",
    version,
    about = "Clinic sync server: multi-tenant PostgreSQL master with row-level security."
)]
struct Cli {
    /// Folder for the server's state (the embedded PostgreSQL cluster, role secrets)
    #[arg(
        long,
        env = "CLINIC_SERVER_DATA_DIR",
        default_value = "sync-server-data"
    )]
    data_dir: PathBuf,
    /// PostgreSQL connection string of a role that may migrate; omit to run the embedded default
    #[arg(long, env = "CLINIC_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Address to listen on
    #[arg(long, env = "CLINIC_LISTEN", default_value = "127.0.0.1:8480")]
    listen: SocketAddr,
    /// Log as JSON lines (for log collectors)
    #[arg(long, env = "CLINIC_LOG_JSON", action = clap::ArgAction::SetTrue, value_parser = clap::builder::BoolishValueParser::new())]
    log_json: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    #[command(subcommand)]
    Tenant(TenantCmd),
}

#[derive(Subcommand, Debug)]
enum TenantCmd {
    /// Provision a tenant and its first administrator (password from CLINIC_PASSWORD)
    Create {
        #[arg(long)]
        slug: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        admin_email: String,
        #[arg(long, default_value = "Administrator")]
        admin_name: String,
        /// basic | standard | enterprise
        #[arg(long, default_value = "standard")]
        plan: String,
        #[arg(long, default_value = "Main site")]
        site_name: String,
        #[arg(long, default_value = "Europe/London")]
        timezone: String,
    },
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

async fn run(cli: Cli) -> Result<(), ServerError> {
    let db = open_database(&cli.data_dir, cli.database_url.as_deref()).await?;
    let result = match cli.command {
        Some(Command::Tenant(TenantCmd::Create {
            slug,
            name,
            admin_email,
            admin_name,
            plan,
            site_name,
            timezone,
        })) => {
            let password = std::env::var("CLINIC_PASSWORD")
                .ok()
                .filter(|p| !p.is_empty())
                .ok_or_else(|| {
                    ServerError::Clinic(clinic_core::ClinicError::new(
                        clinic_core::ErrorCode::Validation,
                        "Set CLINIC_PASSWORD to the new administrator's password.",
                    ))
                })?;
            let created = create_tenant(
                &db.pool,
                NewTenant {
                    slug,
                    name,
                    admin_email,
                    admin_name,
                    admin_password: Password::new_checked(password)?,
                    plan,
                    site_name,
                    timezone,
                },
                chrono::Utc::now(),
            )
            .await;
            created.map(|c| println!("{}", serde_json::to_string_pretty(&c).unwrap_or_default()))
        }
        None => {
            let listener = tokio::net::TcpListener::bind(cli.listen)
                .await
                .map_err(|e| {
                    ServerError::Startup(format!("cannot listen on {}: {e}", cli.listen))
                })?;
            let addr = listener
                .local_addr()
                .map_err(|e| ServerError::Startup(e.to_string()))?;
            tracing::info!(%addr, "sync server listening");
            let key = sync_server::tokens::SigningKey::load_or_create(&cli.data_dir)?;
            // The operator API is on only when CLINIC_OPERATOR_TOKEN is set
            // (environment only: a token on the command line would show in process lists).
            let mut state = AppState::new(db.pool.clone(), key);
            if let Some(token) = std::env::var("CLINIC_OPERATOR_TOKEN")
                .ok()
                .filter(|t| !t.is_empty())
            {
                state = state.with_operator_token(&token)?;
            }
            // Patient notifications (CLINIC_NOTIFY, CLINIC_SMTP_URL, …; see notify.rs).
            let notifier = sync_server::scheduling::notify::start_from_env(&db.pool)?;
            let served = serve(listener, state, shutdown_signal())
                .await
                .map_err(|e| ServerError::Startup(e.to_string()));
            if let Some(worker) = notifier {
                worker.abort();
            }
            served
        }
    };
    db.pool.close();
    if let Some(pg) = &db.embedded {
        pg.stop()?;
    }
    result
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    if cli.log_json {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .init();
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    }
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            match e {
                ServerError::Clinic(c) if c.code == clinic_core::ErrorCode::Validation => {
                    ExitCode::from(3)
                }
                ServerError::Clinic(c) if c.code == clinic_core::ErrorCode::Conflict => {
                    ExitCode::from(7)
                }
                _ => ExitCode::FAILURE,
            }
        }
    }
}
