//! The embedded default: a private PostgreSQL cluster started from the
//! system's binaries (initdb, pg_ctl) on 127.0.0.1, for when no database URL
//! is given.
//!
//! PostgreSQL refuses to run as root. As root the cluster is owned by the
//! system's `postgres` user and lives under that user's home
//! (`/var/lib/postgresql/clinic-sync/<id>`, so every directory on the way is
//! traversable); `DATA_DIR/embedded-postgres.json` records where. Otherwise
//! it lives in `DATA_DIR/postgres`. A watchdog process stops the cluster when
//! the process that started it exits, even after SIGKILL.

use crate::ServerError;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::Command;

const SUPERUSER: &str = "clinic_admin";
const POINTER_FILE: &str = "embedded-postgres.json";

#[derive(Debug, Serialize, Deserialize)]
struct Pointer {
    cluster_dir: PathBuf,
}

/// A running private cluster. Call [`EmbeddedPostgres::stop`] on shutdown.
#[derive(Debug)]
pub struct EmbeddedPostgres {
    bin_dir: PathBuf,
    cluster_dir: PathBuf,
    run_as: Option<&'static str>,
    port: u16,
    password: String,
    /// Deleted (cluster and data folder) once stopped: for tests.
    ephemeral_dirs: Option<(PathBuf, PathBuf)>,
}

/// Whether this process runs as root (the effective user id, not `$USER`).
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0\n"))
        .unwrap_or(false)
}

/// The directory holding pg_ctl: `CLINIC_PG_BIN`, `pg_config --bindir`, or
/// the newest `/usr/lib/postgresql/*/bin`.
fn find_bin_dir() -> Result<PathBuf, ServerError> {
    if let Ok(dir) = std::env::var("CLINIC_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let mut candidates: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("pg_ctl").exists().then_some((v, bin))
        })
        .collect();
    candidates.sort();
    if let Some((_, bin)) = candidates.pop() {
        return Ok(bin);
    }
    if let Ok(o) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&o.stdout).trim());
        if dir.join("pg_ctl").exists() {
            return Ok(dir);
        }
    }
    Err(ServerError::Startup("PostgreSQL's binaries (initdb, pg_ctl) were not found; install the postgresql package or set CLINIC_PG_BIN".into()))
}

fn free_port() -> Result<u16, ServerError> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| ServerError::Startup(format!("no free port: {e}")))?;
    Ok(l.local_addr()
        .map_err(|e| ServerError::Startup(e.to_string()))?
        .port())
}

impl EmbeddedPostgres {
    fn command(&self, program: &str) -> Command {
        let exe = self.bin_dir.join(program);
        match self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(exe);
                c
            }
            None => Command::new(exe),
        }
    }

    fn run(&self, mut c: Command, what: &str) -> Result<String, ServerError> {
        let o = c
            .output()
            .map_err(|e| ServerError::Startup(format!("{what}: {e}")))?;
        if !o.status.success() {
            return Err(ServerError::Startup(format!(
                "{what} failed: {}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            )));
        }
        Ok(String::from_utf8_lossy(&o.stdout).to_string())
    }

    /// A throwaway cluster for tests: removed from disk when the process that
    /// started it exits.
    pub fn start_ephemeral(data_dir: &Path) -> Result<Self, ServerError> {
        Self::start_inner(data_dir, true)
    }

    /// Initialises the cluster on first use, then starts it on a free loopback port.
    pub fn start(data_dir: &Path) -> Result<Self, ServerError> {
        Self::start_inner(data_dir, false)
    }

    fn start_inner(data_dir: &Path, ephemeral: bool) -> Result<Self, ServerError> {
        std::fs::create_dir_all(data_dir)
            .map_err(|e| ServerError::Startup(format!("data dir: {e}")))?;
        let run_as = is_root().then_some("postgres");
        let cluster_dir = match run_as {
            None => data_dir.join("postgres"),
            Some(_) => {
                let pointer = data_dir.join(POINTER_FILE);
                match std::fs::read_to_string(&pointer)
                    .ok()
                    .and_then(|t| serde_json::from_str::<Pointer>(&t).ok())
                {
                    // A cluster an earlier version kept outside the data
                    // folder: still used, so no data is lost on upgrade.
                    // The pointer names a folder that gets chowned and
                    // started as postgres: accept only our own kind of path.
                    Some(p) if is_cluster_path(&p.cluster_dir) => {
                        tracing::warn!(cluster = %p.cluster_dir.display(), "the embedded cluster lives outside the data folder (made by an earlier version); removing the data folder does not remove it");
                        p.cluster_dir
                    }
                    Some(p) => {
                        return Err(ServerError::Startup(format!(
                            "{} names {}, which is not a clinic-sync cluster folder",
                            pointer.display(),
                            p.cluster_dir.display()
                        )))
                    }
                    // Inside the data folder (so removing the folder removes
                    // the database), in a folder the postgres user owns; it
                    // must be able to reach it.
                    None => {
                        let data_dir = data_dir.canonicalize().map_err(|e| {
                            ServerError::Startup(format!("{}: {e}", data_dir.display()))
                        })?;
                        let reachable = Command::new("runuser")
                            .args(["-u", "postgres", "--", "test", "-x"])
                            .arg(&data_dir)
                            .status()
                            .is_ok_and(|s| s.success());
                        if !reachable {
                            return Err(ServerError::Startup(format!(
                                "run as root, the embedded PostgreSQL runs as the postgres user, which cannot reach {}: choose a data folder it can reach (for example /var/lib/clinic-sync), or give --database-url",
                                data_dir.display()
                            )));
                        }
                        data_dir.join("postgres-cluster").join("data")
                    }
                }
            }
        };
        let password_file = data_dir.join("postgres-superuser.secret");
        let ephemeral_dirs = ephemeral.then(|| (cluster_dir.clone(), data_dir.to_path_buf()));
        let mut pg = EmbeddedPostgres {
            bin_dir: find_bin_dir()?,
            cluster_dir,
            run_as,
            port: 0,
            password: String::new(),
            ephemeral_dirs,
        };
        if !pg.cluster_dir.join("PG_VERSION").exists() {
            pg.init(&password_file)?;
        }
        pg.password = std::fs::read_to_string(&password_file)
            .map_err(|e| {
                ServerError::Startup(format!(
                    "the embedded cluster's password file {}: {e}",
                    password_file.display()
                ))
            })?
            .trim()
            .to_string();
        // A cluster left running by a process that was killed: stop it first.
        let mut status = pg.command("pg_ctl");
        status.arg("-D").arg(&pg.cluster_dir).arg("status");
        if status.output().map(|o| o.status.success()).unwrap_or(false) {
            let mut stop = pg.command("pg_ctl");
            stop.arg("-D")
                .arg(&pg.cluster_dir)
                .args(["-m", "fast", "-w", "stop"]);
            pg.run(stop, "pg_ctl stop (stale)")?;
        }
        pg.port = free_port()?;
        let mut start = pg.command("pg_ctl");
        start
            .arg("-D")
            .arg(&pg.cluster_dir)
            .arg("-l")
            .arg(pg.cluster_dir.join("server.log"))
            .args(["-w", "-t", "60", "-o"])
            .arg(format!("-c listen_addresses=127.0.0.1 -p {} -c unix_socket_directories='' -c max_connections=200", pg.port))
            .arg("start");
        pg.run(start, "pg_ctl start")?;
        pg.spawn_watchdog();
        tracing::info!(port = pg.port, cluster = %pg.cluster_dir.display(), "embedded PostgreSQL started");
        Ok(pg)
    }

    fn init(&self, password_file: &Path) -> Result<(), ServerError> {
        let mut pw = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut pw);
        let password: String = pw.iter().map(|b| format!("{b:02x}")).collect();
        write_secret(password_file, &password)?;
        if let Some(parent) = self.cluster_dir.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| ServerError::Startup(format!("{}: {e}", parent.display())))?;
        }
        // initdb reads the superuser password from a file the cluster's user can read.
        let pwfile = self.cluster_dir.with_extension("pwfile");
        write_secret(&pwfile, &password)?;
        if let Some(user) = self.run_as {
            let parent = self.cluster_dir.parent().unwrap_or(Path::new("/"));
            let mut chown = Command::new("chown");
            chown.arg(format!("{user}:")).arg(parent).arg(&pwfile);
            self.run(chown, "chown")?;
        }
        let mut initdb = self.command("initdb");
        initdb
            .arg("-D")
            .arg(&self.cluster_dir)
            .args([
                "-U",
                SUPERUSER,
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ])
            .arg(format!("--pwfile={}", pwfile.display()));
        let result = self.run(initdb, "initdb");
        let _ = std::fs::remove_file(&pwfile);
        result.map(|_| ())
    }

    /// Stops the cluster when this process exits, however it exits, but only
    /// the postmaster this process started: a later process may have
    /// restarted the same cluster by then.
    fn spawn_watchdog(&self) {
        let pg_ctl = self.bin_dir.join("pg_ctl");
        let pid_file = self.cluster_dir.join("postmaster.pid");
        let postmaster = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|t| t.lines().next().map(str::to_string))
            .unwrap_or_default();
        if postmaster.is_empty() {
            tracing::warn!("no postmaster.pid after start; the cluster will not be stopped automatically if this process dies");
            return;
        }
        // Values travel as positional arguments, never spliced into the
        // script, so no path or name can inject shell code.
        let (cleanup_cluster, cleanup_data) = match &self.ephemeral_dirs {
            Some((cluster, data)) => (cluster.display().to_string(), data.display().to_string()),
            None => (String::new(), String::new()),
        };
        let run_as = self.run_as.unwrap_or("");
        let script = r#"while kill -0 "$1" 2>/dev/null; do sleep 0.5; done
if [ "$(head -n 1 "$2" 2>/dev/null)" = "$3" ]; then
  if [ -n "$6" ]; then runuser -u "$6" -- "$4" -D "$5" -m fast -w stop; else "$4" -D "$5" -m fast -w stop; fi >/dev/null 2>&1
fi
if [ -n "$7" ]; then rm -rf -- "$7" "$8"; fi"#;
        let pid = std::process::id().to_string();
        let _ = Command::new("sh")
            .args(["-c", script, "clinic-pg-watchdog", &pid])
            .arg(&pid_file)
            .arg(&postmaster)
            .arg(&pg_ctl)
            .arg(&self.cluster_dir)
            .args([run_as, &cleanup_cluster, &cleanup_data])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
    }

    /// Connection string of the cluster's superuser (used only to migrate
    /// and to manage the runtime role).
    pub fn admin_url(&self, database: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user={SUPERUSER} password={} dbname={database}",
            self.port, self.password
        )
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Where the cluster's files are.
    pub fn cluster_dir(&self) -> &Path {
        &self.cluster_dir
    }

    /// Serves TLS as well, with this certificate and key (PEM files copied
    /// into the cluster): for tests of `sslmode=verify-full`.
    pub async fn enable_tls(&self, cert: &Path, key: &Path) -> Result<(), ServerError> {
        for (from, name) in [(cert, "server.crt"), (key, "server.key")] {
            let to = self.cluster_dir.join(name);
            let pem = std::fs::read_to_string(from)
                .map_err(|e| ServerError::Startup(format!("{}: {e}", from.display())))?;
            write_secret(&to, &pem)?;
            if let Some(user) = self.run_as {
                let mut chown = Command::new("chown");
                chown.arg(format!("{user}:")).arg(&to);
                self.run(chown, "chown")?;
            }
        }
        let admin = crate::db::connect(&self.admin_url("postgres")).await?;
        admin
            .batch_execute("ALTER SYSTEM SET ssl = on")
            .await
            .map_err(crate::db::db_err)?;
        admin
            .batch_execute("SELECT pg_reload_conf()")
            .await
            .map_err(crate::db::db_err)?;
        // The reload is asynchronous: wait until new sessions see it.
        for _ in 0..100 {
            let c = crate::db::connect(&self.admin_url("postgres")).await?;
            let on: String = c
                .query_one("SHOW ssl", &[])
                .await
                .map_err(crate::db::db_err)?
                .get(0);
            if on == "on" {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        Err(ServerError::Startup(
            "PostgreSQL did not switch TLS on".into(),
        ))
    }

    pub fn stop(&self) -> Result<(), ServerError> {
        let mut stop = self.command("pg_ctl");
        stop.arg("-D")
            .arg(&self.cluster_dir)
            .args(["-m", "fast", "-w", "stop"]);
        self.run(stop, "pg_ctl stop").map(|_| ())
    }
}

/// `/var/lib/postgresql/clinic-sync/<16 hex digits>`, the only place a
/// root-run server keeps clusters.
fn is_cluster_path(p: &Path) -> bool {
    p.parent() == Some(Path::new("/var/lib/postgresql/clinic-sync"))
        && p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.len() == 16 && n.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Writes a secret file readable by this user only.
pub(crate) fn write_secret(path: &Path, value: &str) -> Result<(), ServerError> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts
        .open(path)
        .map_err(|e| ServerError::Startup(format!("{}: {e}", path.display())))?;
    f.write_all(value.as_bytes())
        .map_err(|e| ServerError::Startup(e.to_string()))
}
