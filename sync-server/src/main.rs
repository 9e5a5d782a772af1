//! `sync-server`: parses flags and environment, starts the database (the
//! embedded default or `--database-url`), then serves. Logic lives in the lib.

use clap::{Parser, Subcommand};
use clinic_core::auth::Password;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use sync_server::tenants::{create_tenant, NewTenant};
use sync_server::tls::{ServerIdentity, TlsListener, TlsSource};
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
    /// Serve HTTPS with the server's own certificate (made once, kept in the
    /// data folder; workstations pin its fingerprint). The default when
    /// listening on anything but loopback without --tls-cert.
    #[arg(long, env = "CLINIC_TLS_SELF_SIGNED", action = clap::ArgAction::SetTrue, value_parser = clap::builder::BoolishValueParser::new())]
    tls_self_signed: bool,
    /// Serve HTTPS with this certificate chain (PEM; e.g. from a CA)
    #[arg(
        long,
        env = "CLINIC_TLS_CERT",
        requires = "tls_key",
        conflicts_with = "tls_self_signed"
    )]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM)
    #[arg(long, env = "CLINIC_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Multiply the sign-in, refresh and enrolment rate limits (a clinic
    /// whose many workstations share one public address)
    #[arg(long, env = "CLINIC_RATE_LIMIT_SCALE", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    rate_limit_scale: u32,
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
    #[command(subcommand)]
    Tls(TlsCmd),
    #[command(subcommand)]
    Audit(AuditCmd),
}

#[derive(Subcommand, Debug)]
enum AuditCmd {
    /// Verify a tenant's audit trail: every device's chain is whole, and
    /// every signed event verifies against its user's public keys (prints
    /// a JSON report; exits 1 when anything does not verify)
    Verify {
        #[arg(long)]
        tenant: String,
    },
}

#[derive(Subcommand, Debug)]
enum TlsCmd {
    /// Print the pin of the server's public key (`SHA256:<hex>`), to give
    /// to `clinic enroll --fingerprint`; makes the server's own certificate
    /// if there is none yet
    Fingerprint,
}

impl Cli {
    /// Where the certificate comes from, or `None` for plain HTTP (only on
    /// loopback: anywhere else the server makes its own certificate).
    fn tls_source(&self) -> Option<TlsSource> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(TlsSource::Files {
                cert: cert.clone(),
                key: key.clone(),
            }),
            _ if self.tls_self_signed || !self.listen.ip().is_loopback() => {
                Some(TlsSource::SelfSigned)
            }
            _ => None,
        }
    }
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
    if let Some(Command::Tls(TlsCmd::Fingerprint)) = cli.command {
        let source = cli.tls_source().unwrap_or(TlsSource::SelfSigned);
        std::fs::create_dir_all(&cli.data_dir)
            .map_err(|e| ServerError::Startup(format!("{}: {e}", cli.data_dir.display())))?;
        println!("{}", ServerIdentity::load(&source, &cli.data_dir)?.pin);
        return Ok(());
    }
    let tls = match cli.tls_source() {
        Some(source) => Some(ServerIdentity::load(&source, &cli.data_dir)?),
        None => None,
    };
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
        Some(Command::Tls(_)) => Ok(()),
        Some(Command::Audit(AuditCmd::Verify { tenant })) => {
            match sync_server::audit::verify_tenant(&db.pool, &tenant).await {
                Ok(report) => {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&report).unwrap_or_default()
                    );
                    if report.ok {
                        Ok(())
                    } else {
                        Err(ServerError::Clinic(clinic_core::ClinicError::new(
                            clinic_core::ErrorCode::AuditChainBroken,
                            "The audit trail does not verify (see the report above).",
                        )))
                    }
                }
                Err(e) => Err(e),
            }
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

            let key = sync_server::tokens::SigningKey::load_or_create(&cli.data_dir)?;
            // The operator API is on only when CLINIC_OPERATOR_TOKEN is set
            // (environment only: a token on the command line would show in process lists).
            let mut state = AppState::new(db.pool.clone(), key).with_rate_limits(
                sync_server::limits::RateLimits::scaled(cli.rate_limit_scale),
            );
            if let Some(token) = std::env::var("CLINIC_OPERATOR_TOKEN")
                .ok()
                .filter(|t| !t.is_empty())
            {
                state = state.with_operator_token(&token)?;
            }
            // Patient notifications (CLINIC_NOTIFY, CLINIC_SMTP_URL, …; see notify.rs).
            let notifier = sync_server::scheduling::notify::start_from_env(&db.pool)?;
            let served = match &tls {
                Some(identity) => {
                    let config = identity.server_config()?;
                    let listener = TlsListener::new(listener, config)
                        .map_err(|e| ServerError::Startup(e.to_string()))?;
                    tracing::info!(%addr, fingerprint = %identity.pin, "sync server listening (HTTPS)");
                    serve(listener, state, shutdown_signal()).await
                }
                None => {
                    tracing::info!(%addr, "sync server listening (plain HTTP, loopback only)");
                    serve(listener, state, shutdown_signal()).await
                }
            }
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
