//! Test support (feature `test-support`): one throwaway PostgreSQL cluster
//! per test binary, a fresh database per test, and a real server on
//! 127.0.0.1:0 with a provisioned tenant. Shared by every crate that tests
//! against the server, so the harness exists once.

use crate::embedded::EmbeddedPostgres;
use crate::tenants::{create_tenant, NewTenant, TenantCreated};
use crate::{db, open_database, AppState, Database};
use axum::body::{Body, Bytes, HttpBody};
use clinic_core::auth::Password;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};

#[derive(Debug)]
pub struct TestCluster {
    pub pg: EmbeddedPostgres,
    pub dir: PathBuf,
}

/// The cluster of this test binary; its watchdog stops and deletes it when
/// the binary exits. Its folder is not a private temp dir, because as root
/// the `postgres` user must reach it.
pub fn cluster() -> &'static TestCluster {
    static CLUSTER: OnceLock<TestCluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("clinic-server-tests-{}", std::process::id()));
        TestCluster {
            pg: EmbeddedPostgres::start_ephemeral(&dir).expect("embedded PostgreSQL starts"),
            dir,
        }
    })
}

/// A fresh, migrated database with its runtime-role pool, and its admin URL.
pub async fn fresh_database() -> (Database, String) {
    // Role setup is cluster-wide; tests running in parallel take turns.
    static SETUP: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let c = cluster();
    let name = format!("t_{}", uuid::Uuid::now_v7().simple());
    let admin = db::connect(&c.pg.admin_url("postgres"))
        .await
        .expect("admin connection");
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create database");
    let url = c.pg.admin_url(&name);
    let _guard = SETUP.lock().await;
    let database = open_database(&c.dir, Some(&url))
        .await
        .expect("database opens");
    (database, url)
}

/// Rate limits no test reaches by signing in, refreshing or enrolling
/// often (the product's defaults are for people).
pub fn generous_rate_limits() -> crate::limits::RateLimits {
    crate::limits::RateLimits::scaled(10_000)
}

/// Provisions a tenant `slug` whose administrator is `admin@<slug>.example`
/// with password `admin-password-1`.
/// The password of the administrator [`provision`] makes.
pub const ADMIN_PASSWORD: &str = "admin-password-1";

pub async fn provision(pool: &deadpool_postgres::Pool, slug: &str, plan: &str) -> TenantCreated {
    create_tenant(
        pool,
        NewTenant {
            slug: slug.into(),
            name: format!("Clinic {slug}"),
            admin_email: format!("admin@{slug}.example"),
            admin_name: "Admin".into(),
            admin_password: Password::new(ADMIN_PASSWORD.into()),
            plan: plan.into(),
            site_name: "Main".into(),
            timezone: "Europe/London".into(),
        },
        chrono::Utc::now(),
    )
    .await
    .expect("tenant provisioned")
}

/// A real server on 127.0.0.1:0 with tenant `slug` provisioned, running on
/// its own thread and runtime so blocking client code can call it. It can
/// go away and come back on the same address (an outage, for the tests of
/// what workstations show and do meanwhile).
#[derive(Debug)]
pub struct TestServer {
    pub url: String,
    /// The same server over HTTPS (`https://127.0.0.1:PORT`), when started
    /// with a TLS identity ([`TestServer::start_with_tls`]).
    pub tls_url: Option<String>,
    /// The server's database, as its administrator (for assertions).
    pub database_url: String,
    pull_bodies: Arc<Mutex<PullBodies>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    control: std::sync::mpsc::Sender<Control>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[derive(Debug)]
enum Control {
    /// Serve again until this stop signal.
    Resume(tokio::sync::oneshot::Receiver<()>),
    Quit,
}

impl TestServer {
    /// The server over a fresh database with one tenant, `slug`, on the
    /// enterprise plan (room for the demo clinic's 28 members of staff).
    pub fn start(slug: &'static str) -> TestServer {
        Self::start_with(slug, None)
    }

    /// The same, also serving HTTPS with `identity` at [`TestServer::tls_url`].
    pub fn start_with_tls(slug: &'static str, identity: &crate::tls::ServerIdentity) -> TestServer {
        Self::start_with(slug, Some(identity.server_config().expect("TLS config")))
    }

    fn start_with(slug: &'static str, tls: Option<Arc<rustls::ServerConfig>>) -> TestServer {
        let (url_tx, url_rx) = std::sync::mpsc::channel::<(String, String, Option<String>)>();
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (control, control_rx) = std::sync::mpsc::channel::<Control>();
        let pull_bodies = Arc::new(Mutex::new(PullBodies::default()));
        let counter = pull_bodies.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().expect("runtime");
            rt.block_on(async move {
                let (database, database_url) = fresh_database().await;
                provision(&database.pool, slug, "enterprise").await;
                let mut listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind");
                let addr = listener.local_addr().expect("addr");
                // Test suites sign in far more often than people do.
                let state =
                    AppState::new(database.pool.clone(), crate::tokens::SigningKey::random())
                        .with_rate_limits(generous_rate_limits());
                // As crate::serve, with the pull answers counted as sent.
                let counted = crate::router(state.clone()).layer(
                    axum::middleware::from_fn_with_state(counter.clone(), count_pull_bodies),
                );
                let mut tls_url = None;
                if let Some(config) = tls {
                    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0")
                        .await
                        .expect("bind");
                    tls_url = Some(format!("https://{}", tcp.local_addr().expect("addr")));
                    let tls = crate::tls::TlsListener::new(tcp, config).expect("TLS listener");
                    let app = counted.clone();
                    tokio::spawn(async move {
                        axum::serve(
                            tls,
                            app.into_make_service_with_connect_info::<crate::http::Peer>(),
                        )
                        .await
                    });
                }
                let _ = url_tx.send((format!("http://{addr}"), database_url, tls_url));
                let mut stop_rx = stop_rx;
                loop {
                    let app = counted
                        .clone()
                        .into_make_service_with_connect_info::<crate::http::Peer>();
                    let _ = axum::serve(listener, app)
                        .with_graceful_shutdown(async {
                            let _ = stop_rx.await;
                        })
                        .await;
                    match control_rx.recv() {
                        Ok(Control::Resume(next)) => stop_rx = next,
                        Ok(Control::Quit) | Err(_) => break,
                    }
                    listener = tokio::net::TcpListener::bind(addr).await.expect("rebind");
                }
                database.pool.close();
            });
        });
        let (url, database_url, tls_url) = url_rx.recv().expect("server started");
        TestServer {
            url,
            tls_url,
            database_url,
            pull_bodies,
            stop: Some(stop),
            control,
            thread: Some(thread),
        }
    }

    /// Stops answering: new connections are refused (requests under way
    /// finish first).
    pub fn go_away(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }

    /// The answers to `GET /v1/sync/pull` sent so far, counted as they
    /// left the server (after compression).
    pub fn pull_bodies(&self) -> PullBodies {
        self.pull_bodies
            .lock()
            .map(|b| b.clone())
            .unwrap_or_default()
    }

    /// Serves again on the same address, with the same database.
    pub fn come_back(&mut self) {
        if self.stop.is_none() {
            let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
            let _ = self.control.send(Control::Resume(stop_rx));
            self.stop = Some(stop);
        }
    }
}

impl TestServer {
    /// Runs SQL against the server's database as its administrator (for
    /// assertions from blocking test code); every value as text.
    pub fn query(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        self.try_query(sql).expect("query")
    }

    /// Verifies tenant `slug`'s audit trail as `sync-server audit verify` does.
    pub fn verify_audit(&self, slug: &str) -> crate::audit::AuditReport {
        let (url, slug) = (self.database_url.clone(), slug.to_string());
        std::thread::spawn(move || {
            tokio::runtime::Runtime::new()
                .expect("runtime")
                .block_on(async move {
                    let pool = db::app_pool(&url, 1).expect("a pool");
                    crate::audit::verify_tenant(&pool, &slug)
                        .await
                        .expect("the audit trail is read")
                })
        })
        .join()
        .expect("verify thread")
    }

    /// [`TestServer::query`] that returns PostgreSQL's refusal instead of panicking.
    pub fn try_query(&self, sql: &str) -> Result<Vec<Vec<Option<String>>>, String> {
        let (url, sql) = (self.database_url.clone(), sql.to_string());
        std::thread::spawn(move || {
            tokio::runtime::Runtime::new()
                .expect("runtime")
                .block_on(async move {
                    let c = db::connect(&url).await.expect("admin connection");
                    let rows = c.simple_query(&sql).await.map_err(|e| db::describe(&e))?;
                    Ok(rows
                        .into_iter()
                        .filter_map(|m| match m {
                            tokio_postgres::SimpleQueryMessage::Row(r) => {
                                Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect())
                            }
                            _ => None,
                        })
                        .collect())
                })
        })
        .join()
        .expect("query thread")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = self.control.send(Control::Quit);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What the server has sent in answer to `GET /v1/sync/pull`: body bytes as
/// they went out (compressed, when the client asked for it; HTTP headers
/// and chunked-transfer framing not counted).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PullBodies {
    pub responses: u64,
    pub bytes: u64,
    /// Responses by `Content-Encoding` ("identity" when none).
    pub by_encoding: BTreeMap<String, u64>,
}

/// Outermost layer of the test server (outside the compression), so it
/// sees the bytes that go on the wire.
async fn count_pull_bodies(
    axum::extract::State(counter): axum::extract::State<Arc<Mutex<PullBodies>>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let pull = req.uri().path() == "/v1/sync/pull";
    let res = next.run(req).await;
    if !pull {
        return res;
    }
    let encoding = res
        .headers()
        .get(axum::http::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity")
        .to_string();
    if let Ok(mut c) = counter.lock() {
        c.responses += 1;
        *c.by_encoding.entry(encoding).or_default() += 1;
    }
    res.map(|inner| Body::new(CountedBody { inner, counter }))
}

/// A response body that adds the size of each data frame to the counter
/// as it is handed to the connection.
struct CountedBody {
    inner: Body,
    counter: Arc<Mutex<PullBodies>>,
}

impl HttpBody for CountedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled {
            if let (Some(data), Ok(mut c)) = (frame.data_ref(), self.counter.lock()) {
                c.bytes += data.len() as u64;
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// A private certificate authority in `dir` (`ca.pem`) and a server
/// identity it issued for `localhost` and 127.0.0.1 (`server.pem`,
/// `server.key`): a clinic's server with a certificate from its own CA.
pub fn private_ca(dir: &std::path::Path) -> (PathBuf, crate::tls::ServerIdentity) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
        KeyUsagePurpose,
    };
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "Test clinic's own CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_key = KeyPair::generate().expect("CA key");
    let ca_cert = ca.self_signed(&ca_key).expect("CA certificate");
    let mut leaf = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .expect("server params");
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_key = KeyPair::generate().expect("server key");
    let leaf_cert = leaf
        .signed_by(&leaf_key, &ca_cert, &ca_key)
        .expect("server certificate");
    let (ca_pem, cert, key) = (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    );
    std::fs::write(&ca_pem, ca_cert.pem()).expect("write");
    std::fs::write(&cert, format!("{}{}", leaf_cert.pem(), ca_cert.pem())).expect("write");
    std::fs::write(&key, leaf_key.serialize_pem()).expect("write");
    let identity = crate::tls::ServerIdentity::from_files(&cert, &key).expect("identity");
    (ca_pem, identity)
}

/// A relay in front of a server that keeps a copy of every byte crossing it
/// in either direction: a capture of the traffic between workstations and
/// the server on loopback.
#[derive(Debug)]
pub struct Tap {
    /// The server's URL, through the tap.
    pub url: String,
    seen: Arc<Mutex<Vec<u8>>>,
}

impl Tap {
    /// Taps the server at `url` (`http://` or `https://`, host 127.0.0.1).
    pub fn start(url: &str) -> Tap {
        let (scheme, target) = url.split_once("://").expect("a URL");
        let target: std::net::SocketAddr = target.parse().expect("host:port");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("{scheme}://{}", listener.local_addr().expect("addr"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let copy = seen.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = std::net::TcpStream::connect(target) else {
                    continue;
                };
                for (from, to) in [
                    (client.try_clone(), server.try_clone()),
                    (server.try_clone(), client.try_clone()),
                ] {
                    let (Ok(mut from), Ok(mut to)) = (from, to) else {
                        continue;
                    };
                    let seen = copy.clone();
                    std::thread::spawn(move || {
                        use std::io::{Read, Write};
                        let mut buf = [0u8; 16 * 1024];
                        while let Ok(n) = from.read(&mut buf) {
                            if n == 0 || to.write_all(&buf[..n]).is_err() {
                                break;
                            }
                            seen.lock().expect("tap").extend_from_slice(&buf[..n]);
                        }
                        let _ = to.shutdown(std::net::Shutdown::Write);
                    });
                }
            }
        });
        Tap { url, seen }
    }

    /// Every byte seen so far.
    pub fn captured(&self) -> Vec<u8> {
        self.seen.lock().expect("tap").clone()
    }

    /// Whether `text` crossed the tap as it is.
    pub fn saw(&self, text: &str) -> bool {
        let seen = self.captured();
        seen.windows(text.len()).any(|w| w == text.as_bytes())
    }
}

/// Signs every change of a push request written by hand (JSON) whose
/// author's key `password` opens, as their desk would: tests that push
/// without a workstation sign as the provisioned administrator. A change
/// that does not parse, names no user or whose key does not open is left
/// as it is (the server answers it as it would any such change).
pub async fn sign_push(
    pool: &deadpool_postgres::Pool,
    credential: &str,
    body: &mut serde_json::Value,
    password: &str,
) {
    use clinic_core::directory::StaffMember;
    use clinic_core::signing::UserSigner;
    let Some((tenant, device)) =
        crate::tokens::device_credential_ids(credential.trim_start_matches("Device "))
    else {
        return;
    };
    let Some(envelopes) = body.get_mut("mutations").and_then(|m| m.as_array_mut()) else {
        return;
    };
    let mut signers: std::collections::HashMap<uuid::Uuid, Option<UserSigner>> = Default::default();
    for v in envelopes.iter_mut() {
        let Ok(mut env) = serde_json::from_value::<clinic_core::sync::Envelope>(v.clone()) else {
            continue;
        };
        let Some(user) = env.user_id else { continue };
        if let std::collections::hash_map::Entry::Vacant(slot) = signers.entry(user) {
            let mut client = pool.get().await.expect("a connection");
            let tx = crate::db::tenant_tx(&mut client, tenant)
                .await
                .expect("a transaction");
            let staff = crate::records::load(&tx, &[user]).await.expect("records");
            let signer = staff
                .get::<StaffMember>(user)
                .and_then(|s| s.signing_key.clone())
                .and_then(|k| {
                    UserSigner::open(&k, tenant, user, &Password::new(password.into())).ok()
                });
            slot.insert(signer);
        }
        if let Some(Some(signer)) = signers.get(&user) {
            signer.sign_change(tenant, device, &mut env);
            v["author_key"] = env.author_key.clone().into();
            v["signature"] = env.signature.clone().into();
        }
    }
}
