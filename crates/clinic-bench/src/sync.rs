//! The sync benchmarks: a real sync server on loopback (axum in this
//! process, its PostgreSQL a private cluster on the same machine) and real
//! workstations (SQLCipher stores, the product's HTTP transport).
//!
//! 1. Upload: workstation A is enrolled, generates the demo clinic (one
//!    queued `RegisterPatient` per patient) and pushes the whole outbox.
//!    A device leases 10,000 patient numbers, so beyond that the clinic's
//!    patients are queued at several workstations (A1, A2, ...) which upload
//!    one after another; A1 then catches up with the feed.
//! 2. Bootstrap: workstation B is enrolled into an empty folder and syncs
//!    from nothing until caught up (an indexed, searchable store).
//! 3. Live propagation: B long-polls the feed and applies what arrives
//!    while A edits one patient at a time and pushes at once.

use crate::{figure, Figure, Scalar};
use clinic_client::{demo, Password, SystemClock, Workstation};
use clinic_core::patients::PatientPatch;
use clinic_core::patients::LEASE_SIZE;
use clinic_core::sync::{PullResponse, PushRequest, PushResponse};
use clinic_core::ClinicResult;
use clinic_demo::{demo_patient, DemoSize};
use clinic_store::keys::{Passphrase, Unlock};
use clinic_store::sync::PageApplied;
use clinic_store::Store;
use clinic_sync::engine::{self, Transport};
use clinic_sync::live::LONG_POLL_SECS;
use clinic_sync::HttpTransport;
use std::cell::RefCell;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};
use sync_server::testing::TestServer;

const TENANT: &str = "bench";
const ADMIN: &str = "admin@bench.example";
const ADMIN_PASSWORD: &str = "admin-password-1";
const PASSPHRASE: &str = "bench passphrase";
/// Longest A1 spends catching up with the feed after the upload.
const ECHO_BUDGET: Duration = Duration::from_secs(180);

/// What the sync section is asked to do.
#[derive(Debug, Clone, Copy)]
pub struct SyncArgs {
    pub size: DemoSize,
    pub seed: u64,
    /// Patients to upload and bootstrap: the size's (via `demo-data`), or
    /// the first this many of them (a scaled-down smoke run).
    pub patients: Option<u64>,
    pub live_samples: usize,
    /// Plain HTTP on loopback instead of HTTPS with the server's own
    /// certificate (pinned), for the figures before TLS.
    pub plain_http: bool,
}

/// The sync section's figures and scalars, and the process's peak RSS up
/// to the bootstrap's enrolment (the bootstrap resets the high-water mark).
#[derive(Debug)]
pub struct SyncResult {
    pub figures: Vec<Figure>,
    pub scalars: Vec<Scalar>,
    pub peak_rss_before_bootstrap_mib: f64,
}

/// One call through the transport: when it started and ended, and its size
/// (mutations answered by a push; changes, JSON bytes and bytes as sent of
/// a pull page).
#[derive(Debug, Clone, Copy)]
struct Call {
    start: Instant,
    end: Instant,
    items: usize,
    bytes: usize,
    /// Body bytes of the answer as the server sent it (compressed).
    wire: u64,
}

impl Call {
    fn ms(&self) -> f64 {
        (self.end - self.start).as_secs_f64() * 1e3
    }
}

/// The product's HTTP transport, timing every call and counting the bytes
/// of every pull page: as sent (the body bytes the test server counted
/// going out, after compression) and as JSON (serialized again exactly as
/// the server does: `serde_json::to_vec` of the `PullResponse`).
#[derive(Debug)]
struct Measured<'s> {
    inner: HttpTransport,
    server: &'s TestServer,
    pushes: RefCell<Vec<Call>>,
    pulls: RefCell<Vec<Call>>,
}

impl<'s> Measured<'s> {
    fn new(inner: HttpTransport, server: &'s TestServer) -> Self {
        Self {
            inner,
            server,
            pushes: RefCell::default(),
            pulls: RefCell::default(),
        }
    }
}

impl Transport for Measured<'_> {
    fn push(&self, req: &PushRequest) -> ClinicResult<PushResponse> {
        let start = Instant::now();
        let resp = self.inner.push(req)?;
        self.pushes.borrow_mut().push(Call {
            start,
            end: Instant::now(),
            items: resp.outcomes.len(),
            bytes: 0,
            wire: 0,
        });
        Ok(resp)
    }

    fn pull(
        &self,
        after: i64,
        after_hash: Option<&str>,
        limit: i64,
        wait_secs: u64,
    ) -> ClinicResult<PullResponse> {
        // The server counts a body's bytes before it writes them, so all
        // of this answer's are counted once the client has read it.
        let sent = self.server.pull_bodies().bytes;
        let start = Instant::now();
        let page = self.inner.pull(after, after_hash, limit, wait_secs)?;
        let end = Instant::now();
        let wire = self.server.pull_bodies().bytes - sent;
        let bytes = serde_json::to_vec(&page).map(|v| v.len()).unwrap_or(0);
        self.pulls.borrow_mut().push(Call {
            start,
            end,
            items: page.changes.len(),
            bytes,
            wire,
        });
        Ok(page)
    }

    fn checksums(&self) -> ClinicResult<clinic_core::sync::BucketSums> {
        self.inner.checksums()
    }

    fn records(&self, buckets: &[usize]) -> ClinicResult<Vec<clinic_core::sync::RecordCopy>> {
        self.inner.records(buckets)
    }
}

/// A `/proc/self/status` field in KiB (VmRSS, VmHWM, …).
pub(crate) fn status_kib(field: &str) -> Option<f64> {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<f64>().ok())
        })
}

pub(crate) fn mib(kib: Option<f64>) -> f64 {
    kib.map(|k| k / 1024.0).unwrap_or(f64::NAN)
}

/// Resets the process's peak RSS (VmHWM) to its current RSS (Linux: write
/// 5 to clear_refs). Returns whether it worked.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Where the workstations reach the server: HTTPS with its own
/// certificate, pinned (as a clinic's LAN server), or plain HTTP.
struct Address {
    url: String,
    pin: Option<clinic_core::api::KeyPin>,
}

fn enroll(at: &Address, dir: &Path, name: &str) -> ClinicResult<Workstation> {
    Workstation::enroll(
        dir,
        &at.url,
        at.pin,
        TENANT,
        ADMIN,
        &Password::new(ADMIN_PASSWORD.into()),
        None,
        name,
        Passphrase::new(PASSPHRASE.into())?,
        None,
        Arc::new(SystemClock),
    )
    .map(|(ws, _)| ws)
}

/// Opens `user`'s signing key with their password on a second connection
/// to a store, so what it queues in their name is signed.
fn sign_as(store: &mut Store, user: uuid::Uuid, password: &Password) -> ClinicResult<()> {
    let key = store
        .db()
        .staff(user)?
        .and_then(|s| s.signing_key)
        .ok_or_else(|| {
            clinic_core::ClinicError::internal("the administrator has no signing key")
        })?;
    let signer = clinic_core::signing::UserSigner::open(&key, store.tenant_id(), user, password)?;
    store.add_signer(signer);
    Ok(())
}

/// What signed authorship costs per mutation, on the changes the upload
/// sent (up to 10,000 of them): the desk signing each as it queues it,
/// and the server verifying each before anything else (both build the
/// change's canonical content first).
fn signature_costs(store: &Store) -> ClinicResult<Vec<Scalar>> {
    use clinic_core::signing::{change_content, verify, PublicKey, UserSigner};
    let db = store.db();
    let mut envs = db.outbox_after(0, 10_000)?;
    let (tenant, device) = (store.tenant_id(), store.device_id());
    let signer = UserSigner::from_secret(uuid::Uuid::nil(), &[7; 32]);
    let keys = [PublicKey {
        key_id: signer.key_id().to_string(),
        public_key: signer.public_key(),
    }];
    let n = envs.len().max(1) as f64;
    let t0 = Instant::now();
    for e in envs.iter_mut() {
        signer.sign_change(tenant, device, e);
    }
    let sign = secs(t0.elapsed()) * 1e6 / n;
    let t0 = Instant::now();
    for e in &envs {
        verify(
            &keys,
            e.author_key.as_deref(),
            e.signature.as_deref(),
            &change_content(tenant, device, e),
        )
        .map_err(clinic_core::ClinicError::internal)?;
    }
    let check = secs(t0.elapsed()) * 1e6 / n;
    Ok(vec![
        scalar(
            &format!("signatures: sign one change at the desk (canonical content + Ed25519; mean of {} uploaded)", envs.len()),
            sign,
            "us",
        ),
        scalar(
            &format!("signatures: verify one change at the server (canonical content + Ed25519; mean of {})", envs.len()),
            check,
            "us",
        ),
    ])
}

/// A second connection to a workstation's store (what the live loop uses);
/// `Workstation` keeps its own `Store` to itself.
fn open_store(dir: &Path) -> ClinicResult<Store> {
    Ok(Store::open(
        dir,
        &Unlock::Passphrase(Passphrase::for_unlock(PASSPHRASE.into())),
    )?)
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn scalar(name: &str, value: f64, unit: &str) -> Scalar {
    (name.to_string(), value, unit.to_string())
}

pub fn run(args: SyncArgs) -> ClinicResult<SyncResult> {
    let n = args
        .patients
        .unwrap_or(args.size.patients())
        .clamp(1, args.size.patients());
    let size = format!("{:?}", args.size);
    let mut figures = Vec::new();
    let mut scalars = Vec::new();

    eprintln!("sync: starting the server (embedded PostgreSQL) ...");
    let started = Instant::now();
    let tmp = tempfile::tempdir().map_err(clinic_core::ClinicError::internal)?;
    let (server, at) = if args.plain_http {
        let server = TestServer::start(TENANT);
        let url = server.url.clone();
        (server, Address { url, pin: None })
    } else {
        let identity = sync_server::tls::ServerIdentity::self_signed(&tmp.path().join("server"))
            .map_err(clinic_core::ClinicError::internal)?;
        let server = TestServer::start_with_tls(TENANT, &identity);
        let url = server.tls_url.clone().unwrap_or_default();
        let pin = Some(identity.pin);
        (server, Address { url, pin })
    };
    eprintln!(
        "sync: server at {} in {:.1} s",
        at.url,
        started.elapsed().as_secs_f64()
    );
    let b_dir = tmp.path().join("b");
    let password = Password::new(ADMIN_PASSWORD.into());

    // ---- 1. Upload of offline mutations --------------------------------
    // The server leases LEASE_SIZE patient numbers to a device when it
    // enrols (and more only at a push, once it runs low), so a device
    // registers at most that many patients offline: beyond it, the clinic's
    // patients are registered at several workstations, which upload one
    // after another.
    let per_device = LEASE_SIZE as u64;
    let devices = n.div_ceil(per_device);
    let via_demo = devices == 1 && n == args.size.patients();
    let mut first_a: Option<(Workstation, Store, Measured)> = None;
    let mut pushes: Vec<Call> = Vec::new();
    let (mut upload, mut answered) = (Duration::ZERO, 0usize);
    let mut first_10k: Option<Duration> = None;
    for k in 0..devices {
        let range = k * per_device..n.min((k + 1) * per_device);
        let dir = tmp.path().join(format!("a{k}"));
        let mut a = enroll(&at, &dir, &format!("Bench A{}", k + 1))?;
        a.allow_demo_data()?;
        a.login(ADMIN, &password)?;
        eprintln!(
            "sync: A{} queues patients {}..{} of size {size} ...",
            k + 1,
            range.start,
            range.end
        );
        let mut store = if via_demo {
            // Patients only: this section measures them (the calendar has
            // its own section, on a standalone store).
            let patients_only = demo::DemoOptions {
                appointments: false,
            };
            demo::generate_with(
                &mut a,
                args.size,
                args.seed,
                &password,
                patients_only,
                |_, _| {},
            )?;
            open_store(&dir)?
        } else {
            // The same clinic's patients, queued in one transaction
            // exactly as `demo-data` queues them on an enrolled store.
            let user = a.session().map(|s| s.user_id);
            let mut store = open_store(&dir)?;
            // Signed by the administrator, as their session signs on the desk.
            if let Some(u) = user {
                sign_as(&mut store, u, &password)?;
            }
            let now = chrono::Utc::now();
            store.write(|db| {
                demo::write_demo_patients(db, args.seed, range.clone(), user, now, &mut |_| {})
            })?;
            store
        };
        let queued = store.db().pending_summary()?.0;
        let t = Measured::new(a.transport()?, &server);
        eprintln!("sync: A{} pushes {queued} mutations ...", k + 1);
        let t0 = Instant::now();
        let got = engine::push_all(&mut store, &t, chrono::Utc::now())?;
        let took = t0.elapsed();
        let left = store.db().pending_summary()?.0;
        let refused = store.db().sync_problems()?.len();
        if got as i64 != queued || left != 0 || refused != 0 {
            return Err(clinic_core::ClinicError::internal(format!(
                "upload at A{}: {queued} queued, {got} answered, {left} still pending, {refused} refused",
                k + 1
            )));
        }
        // Time until the 10,000th mutation was answered and recorded: up
        // to the start of the next push (it follows the local bookkeeping
        // of the answer), or the end of this device's upload.
        let calls = t.pushes.take();
        let mut done = answered;
        for (i, c) in calls.iter().enumerate() {
            done += c.items;
            if done >= 10_000 && first_10k.is_none() {
                first_10k = Some(upload + calls.get(i + 1).map(|c| c.start - t0).unwrap_or(took));
            }
        }
        pushes.extend(calls);
        upload += took;
        answered += got;
        if k == 0 {
            first_a = Some((a, store, t));
        }
    }
    let (mut a, mut a_store, t_a) = first_a.expect("at least one uploading workstation");
    scalars.extend(signature_costs(&a_store)?);
    let in_push: f64 = pushes.iter().map(|c| secs(c.end - c.start)).sum();
    let (first_10k_note, first_10k_s) = match first_10k {
        Some(d) => ("measured", secs(d)),
        None => (
            "scaled from the whole upload",
            secs(upload) * 10_000.0 / answered.max(1) as f64,
        ),
    };
    let how = if via_demo {
        "queued by demo-data at one workstation: the patients' registrations, and the clinic's staff, sites and rooms".to_string()
    } else if devices == 1 {
        format!("the first {n} of the clinic's patients, queued at one workstation")
    } else {
        format!(
            "queued at {devices} workstations ({per_device} each: the numbers a device leases), uploading one after another"
        )
    };
    scalars.push(scalar(
        &format!("sync upload: first 10,000 offline mutations, push_all ({first_10k_note}: until the 10,000th is answered and recorded at the workstation)"),
        first_10k_s,
        "s (target <= 1)",
    ));
    scalars.push(scalar(
        &format!("sync upload: server throughput ({answered} mutations, {how}; batches of {}; time inside the HTTP push requests)", engine::PUSH_BATCH),
        answered as f64 / in_push,
        "mutations/s (target >= 3,000)",
    ));
    scalars.push(scalar(
        "sync upload: end to end (push_all: incl. reading the outbox and recording the answers)",
        answered as f64 / secs(upload),
        "mutations/s",
    ));
    figures.push(figure(
        &format!("sync upload: one push request ({} mutations)", engine::PUSH_BATCH),
        "HTTP POST /v1/sync/push on loopback: server applies the batch in one PostgreSQL transaction (rules, upserts, feed, outcomes, audit)",
        None,
        pushes.iter().map(Call::ms).collect(),
    ));
    // A1 catches up as pull_all does, page by page, within a time budget
    // (the live run below does not depend on it). Its own changes come back
    // first (they are the feed's first entries), then the others'.
    let own = answered.min(per_device as usize);
    let t0 = Instant::now();
    let mut echoed = 0usize;
    let mut own_back: Option<Duration> = None;
    let caught_up = loop {
        let c = a_store.db().sync_cursor()?;
        let page = t_a.pull(c.cursor, c.cursor_hash.as_deref(), engine::PULL_PAGE, 0)?;
        match a_store.write(|db| Ok(db.apply_page(&page)?))? {
            PageApplied::Applied { cursor, records } => {
                echoed += records;
                if echoed >= own && own_back.is_none() {
                    own_back = Some(t0.elapsed());
                }
                if records == 0 || cursor >= page.head {
                    break true;
                }
                if t0.elapsed() > ECHO_BUDGET {
                    break false;
                }
            }
            PageApplied::EpochChanged => {
                return Err(clinic_core::ClinicError::internal(
                    "the server's epoch changed after the upload",
                ))
            }
        }
    };
    let echo = t0.elapsed();
    let (back, back_rows) = own_back.map_or((echo, echoed), |d| (d, own));
    scalars.push(scalar(
        &format!("sync upload: A1 applies its own {back_rows} changes coming back in the feed (apply_page as pull_all does; they replace rows A1 holds)"),
        back_rows as f64 / secs(back),
        "rows/s",
    ));
    scalars.push(scalar(
        &format!(
            "sync upload: A1 pulls the whole feed after the upload ({echoed} of {answered} rows{})",
            if caught_up {
                String::new()
            } else {
                format!("; stopped after {} s, not caught up", ECHO_BUDGET.as_secs())
            }
        ),
        secs(echo),
        "s",
    ));

    // ---- 2. Bootstrap of a fresh workstation ---------------------------
    // Memory: VmHWM is process-wide (server, A and B share this process;
    // PostgreSQL does not), so it is reset before each step and read after.
    let rss_before = mib(status_kib("VmRSS:"));
    let peak_before = mib(status_kib("VmHWM:"));
    let reset = reset_peak_rss();
    eprintln!("sync: B bootstraps from an empty folder ...");
    let t0 = Instant::now();
    let mut b = enroll(&at, &b_dir, "Bench B")?;
    let enrol = t0.elapsed();
    let peak_enrol = mib(status_kib("VmHWM:"));
    // Outside the timing: a second connection (its key derivation) that
    // the product would not need (`Workstation::sync_now` uses its own).
    let mut b_store = open_store(&b_dir)?;
    let t_b = Measured::new(b.transport()?, &server);
    let rss_before_sync = mib(status_kib("VmRSS:"));
    let reset = reset && reset_peak_rss();
    let sent_before = server.pull_bodies();
    let t0 = Instant::now();
    let report = engine::sync_now(&mut b_store, &t_b, chrono::Utc::now(), &mut |_, _| {})?;
    let boot = t0.elapsed();
    let t_end = Instant::now();
    let sent_after = server.pull_bodies();
    let peak_during = mib(status_kib("VmHWM:"));
    let rss_after = mib(status_kib("VmRSS:"));
    let pulls = t_b.pulls.take();
    let rows: usize = pulls.iter().map(|c| c.items).sum();
    let bytes: usize = pulls.iter().map(|c| c.bytes).sum();
    let wire: u64 = pulls.iter().map(|c| c.wire).sum();
    // The figure below says zstd: every page with changes must have been
    // sent so (only the last, empty one is too small to compress).
    let encoded =
        |b: &sync_server::testing::PullBodies, e: &str| b.by_encoding.get(e).copied().unwrap_or(0);
    let zstd_pages = encoded(&sent_after, "zstd") - encoded(&sent_before, "zstd");
    let full_pages = pulls.iter().filter(|c| c.items > 0).count() as u64;
    if zstd_pages < full_pages || wire == 0 {
        return Err(clinic_core::ClinicError::internal(format!(
            "bootstrap: {full_pages} pull pages with changes but {zstd_pages} sent zstd-compressed ({wire} bytes counted; answers by encoding: {:?})",
            sent_after.by_encoding
        )));
    }
    // Usable: every patient is there and found by search.
    let count = b_store.db().patient_count()?;
    b.login(ADMIN, &password)?;
    let probe = demo_patient(args.seed, 7.min(n - 1)).0.last_name;
    let found = b.patients().search(&probe, 20)?.len();
    // A fresh desk pulls the whole feed: the patients and the clinic's
    // directory (administrator, site, plan, and the demo's staff and rooms).
    if count != n as i64 || report.pulled as i64 != report.head || found == 0 {
        return Err(clinic_core::ClinicError::internal(format!(
            "bootstrap: {count} patients at B (expected {n}), {} pulled of {}, search for {probe:?} found {found}",
            report.pulled, report.head
        )));
    }
    let target = if args.size == DemoSize::L {
        "s (target <= 40 at L)"
    } else {
        "s (target at L: <= 40)"
    };
    scalars.push(scalar(
        "sync bootstrap: enrolment (server sign-in, device registration, new encrypted store)",
        secs(enrol),
        "s",
    ));
    scalars.push(scalar(
        &format!("sync bootstrap: sync_now from the enrolled empty store to caught up ({rows} rows, pages of {}, indexed; enrolment not included)", engine::PULL_PAGE),
        secs(boot),
        target,
    ));
    scalars.push(scalar(
        "sync bootstrap: from an empty folder, enrolment included",
        secs(enrol + boot),
        "s",
    ));
    scalars.push(scalar(
        "sync bootstrap: rows/s (sync_now only)",
        rows as f64 / secs(boot),
        "rows/s (target >= 37,000)",
    ));
    scalars.push(scalar(
        "sync bootstrap: bytes on the wire per row (body bytes of the pull answers as sent, zstd-compressed as the workstation asks for; measured at the server; HTTP headers not counted)",
        wire as f64 / rows.max(1) as f64,
        "B (target <= 120)",
    ));
    scalars.push(scalar(
        "sync bootstrap: JSON of the pull pages per row, uncompressed (what compression starts from; HTTP headers not counted)",
        bytes as f64 / rows.max(1) as f64,
        "B",
    ));
    let rss = |what: &str| {
        format!(
            "sync bootstrap memory: {what} (process RSS: server, A and B; PostgreSQL not included)"
        )
    };
    let note = if reset {
        ""
    } else {
        " [VmHWM could not be reset: peak of the whole run]"
    };
    scalars.push(scalar(&rss("before enrolment"), rss_before, "MiB"));
    scalars.push(scalar(
        &rss(&format!(
            "peak during enrolment (Argon2id password hash){note}"
        )),
        peak_enrol,
        "MiB",
    ));
    scalars.push(scalar(
        &rss("before sync_now (B's store open)"),
        rss_before_sync,
        "MiB",
    ));
    scalars.push(scalar(
        &rss(&format!("peak during sync_now{note}")),
        peak_during,
        "MiB",
    ));
    scalars.push(scalar(
        &rss("growth during sync_now (peak - before; bounded if equal at S and L)"),
        peak_during - rss_before_sync,
        "MiB",
    ));
    scalars.push(scalar(&rss("after sync_now"), rss_after, "MiB"));
    figures.push(figure(
        &format!("sync bootstrap: one pull request ({} changes)", engine::PULL_PAGE),
        "HTTP GET /v1/sync/pull on loopback: server reads a page of the feed from PostgreSQL and sends it zstd-compressed, client decompresses and parses the JSON",
        None,
        pulls.iter().map(Call::ms).collect(),
    ));
    // Local apply of a page: from the end of its pull to the start of the
    // next (one transaction: parse, rebase check, row, lists, FTS index).
    let mut apply_ms: Vec<f64> = pulls
        .windows(2)
        .filter(|w| w[0].items > 0)
        .map(|w| (w[1].start - w[0].end).as_secs_f64() * 1e3)
        .collect();
    if let Some(last) = pulls.last().filter(|c| c.items > 0) {
        apply_ms.push((t_end - last.end).as_secs_f64() * 1e3);
    }
    figures.push(figure(
        &format!(
            "sync bootstrap: apply one page at B ({} changes)",
            engine::PULL_PAGE
        ),
        "apply_page in one SQLCipher transaction: records, list items, search index, cursor",
        None,
        apply_ms,
    ));
    drop(b_store);

    // ---- 3. Live propagation A -> B ------------------------------------
    if args.live_samples > 0 {
        let (lat, edit, push) = live(&mut a, &mut a_store, &b, &b_dir, args.live_samples)?;
        figures.push(figure(
            "sync live: change at A1 visible at B",
            "A1 (signed in) edits one patient's city, then push_all at once; B long-polls the feed and applies the page; from before A1's edit to B's commit",
            Some("p50 <= 30 ms, p99 <= 100 ms"),
            lat,
        ));
        figures.push(figure(
            "sync live: A1's edit (part of the above)",
            "edit_patient: permission check, one SQLCipher transaction with outbox entry and audit event",
            None,
            edit,
        ));
        figures.push(figure(
            "sync live: A1's push (part of the above)",
            "push_all of one mutation and its audit event: HTTP round trip, server transaction, A1 records the answer",
            None,
            push,
        ));
    }
    drop((a, b, a_store));
    drop(server);
    Ok(SyncResult {
        figures,
        scalars,
        peak_rss_before_bootstrap_mib: peak_before.max(peak_enrol),
    })
}

type Samples = (Vec<f64>, Vec<f64>, Vec<f64>);

/// B's puller thread and A's edits; returns (latency, A's edit, A's push) in ms.
fn live(
    a: &mut Workstation,
    a_store: &mut Store,
    b: &Workstation,
    b_dir: &Path,
    samples: usize,
) -> ClinicResult<Samples> {
    let ids = a_store.db().patient_ids()?;
    let t_a = a.transport()?;
    let t_b = b.transport()?;
    let mut b_store = open_store(b_dir)?;
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel::<ClinicResult<(Instant, usize)>>();
    let puller = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut run = || -> ClinicResult<()> {
                while !stop.load(Ordering::Relaxed) {
                    // As the product's live loop does (clinic_sync::live).
                    let c = b_store.db().sync_cursor()?;
                    let page = t_b.pull(
                        c.cursor,
                        c.cursor_hash.as_deref(),
                        engine::PULL_PAGE,
                        LONG_POLL_SECS,
                    )?;
                    match b_store.write(|db| Ok(db.apply_page(&page)?))? {
                        PageApplied::Applied { records, .. } => {
                            if records > 0 && tx.send(Ok((Instant::now(), records))).is_err() {
                                return Ok(());
                            }
                        }
                        PageApplied::EpochChanged => {
                            return Err(clinic_core::ClinicError::internal(
                                "the server's epoch changed during the live run",
                            ))
                        }
                    }
                }
                Ok(())
            };
            if let Err(e) = run() {
                let _ = tx.send(Err(e));
            }
        })
    };
    // Let B's first long poll reach the server.
    std::thread::sleep(Duration::from_millis(200));
    let (mut lat, mut edit, mut push) = (vec![], vec![], vec![]);
    let mut change = |i: usize| -> ClinicResult<(Instant, Instant, Instant)> {
        let id = ids[(i * 7919) % ids.len()];
        let t0 = Instant::now();
        a.patients().edit(
            id,
            PatientPatch {
                city: Some(format!("City {i}")),
                ..Default::default()
            },
        )?;
        let t1 = Instant::now();
        engine::push_all(a_store, &t_a, chrono::Utc::now())?;
        Ok((t0, t1, Instant::now()))
    };
    let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1e3;
    for i in 0..samples {
        let (t0, t1, t2) = change(i)?;
        let (seen, records) = rx
            .recv_timeout(Duration::from_secs(30))
            .map_err(|_| clinic_core::ClinicError::internal("live: B saw nothing within 30 s"))??;
        if records != 1 {
            return Err(clinic_core::ClinicError::internal(format!(
                "live: B applied {records} changes for one edit"
            )));
        }
        lat.push(ms(t0, seen));
        edit.push(ms(t0, t1));
        push.push(ms(t1, t2));
        // Edits are not back to back at a front desk: let B poll again.
        std::thread::sleep(Duration::from_millis(10));
    }
    // One more change wakes B's long poll so that it sees the stop flag.
    stop.store(true, Ordering::Relaxed);
    change(samples)?;
    let _ = puller.join();
    Ok((lat, edit, push))
}
