//! Deterministic simulation of sync, driven by a seed.
//!
//! Several workstations (real `clinic-store` SQLite stores and the real
//! sync engine) and a server that applies pushes with the same rules as the
//! real one (`clinic_core::sync::apply_batch`), joined by a network that
//! drops requests and answers, duplicates them, delivers old requests late,
//! damages pages and partitions workstations; the server may be restored
//! from an earlier snapshot; a workstation may "crash" between any two of
//! its transactions (a failed call leaves only what was committed). Device
//! clocks are skewed. After healing and a full sync every seed must satisfy:
//! - convergence: every replica equals the server, by bucket checksums and
//!   record by record;
//! - exactly once: every mutation a workstation made was applied by the
//!   server exactly once (per server history), none lost;
//! - no acknowledged write lost: replaying the accepted mutations in server
//!   order with an independent model of the merge rules (field-level
//!   last-writer-wins by server order, list items by id) gives the
//!   server's records;
//! - the audit chain of every workstation is on the server, unbroken.
//!
//! `SIM_SEEDS=N` runs seeds 0..N (default 1,000 in the test command);
//! `SIM_SEED=K` replays exactly seed K.

use chrono::{DateTime, Duration, TimeZone, Utc};
use clinic_core::audit::{AuditEntry, ChainVerifier, GENESIS_HASH};
use clinic_core::patients::*;
use clinic_core::sync::*;
use clinic_core::{ClinicError, ClinicResult, ErrorCode};
use clinic_demo::DemoRng;
use clinic_store::Store;
use clinic_sync::engine::{sync_now, Transport};
use serde_json::{json, Map, Value};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use uuid::Uuid;

const FIELDS: [&str; 4] = ["city", "address_line1", "address_line2", "state"];

#[derive(Clone)]
struct DeviceState {
    last_applied: i64,
    outcomes: BTreeMap<i64, Outcome>,
    audit_seq: i64,
    audit_hash: String,
    audit_broken: bool,
}

/// The server's state (all of it is what a backup holds).
#[derive(Clone)]
struct ServerState {
    records: BTreeMap<Uuid, AnyRecord>,
    /// Numbers issued, with the record that holds each.
    issued: std::collections::HashMap<(String, u64), Uuid>,
    feed: Vec<Change>,
    devices: BTreeMap<Uuid, DeviceState>,
    /// (device, device_seq) → times applied (exactly-once check).
    applied: BTreeMap<(Uuid, i64), u32>,
    /// Accepted mutations in server order (the oracle replays these).
    accepted: Vec<Envelope>,
}

struct Server {
    tenant: Uuid,
    epoch: Uuid,
    rules: Rules,
    state: ServerState,
    /// The patient numbers leased to each device.
    leases: BTreeMap<Uuid, (u64, u64)>,
}

impl Server {
    fn device(&mut self, d: Uuid) -> &mut DeviceState {
        self.state.devices.entry(d).or_insert_with(|| DeviceState {
            last_applied: 0,
            outcomes: BTreeMap::new(),
            audit_seq: 0,
            audit_hash: GENESIS_HASH.into(),
            audit_broken: false,
        })
    }

    /// What sync-server's `push` does, over in-memory state.
    fn push(&mut self, dev: Uuid, req: &PushRequest) -> ClinicResult<PushResponse> {
        if req.protocol != PROTOCOL_VERSION {
            return Err(ClinicError::new(ErrorCode::UpdateRequired, "protocol"));
        }
        let last_applied = self.device(dev).last_applied;
        // Every record is context (the simulated clinic is small): the
        // bookings and moves are checked against every appointment.
        let mut recs = Records::default();
        for r in self.state.records.values() {
            recs.put_any(r.clone());
        }
        let mut ledger = NumberLedger {
            issued: self.state.issued.clone(),
            ..Default::default()
        };
        if let Some(block) = self.leases.get(&dev) {
            ledger.leased.insert("patient".into(), vec![*block]);
        }
        let result = apply_batch(
            self.rules,
            self.tenant,
            last_applied,
            &req.mutations,
            &Gate::default(),
            &mut recs,
            &mut ledger,
        );
        self.state.issued = ledger.issued;
        for id in &result.changed {
            let r = recs.any(*id).expect("a changed record").clone();
            let seq = self.state.feed.len() as i64 + 1;
            let prev = self
                .state
                .feed
                .last()
                .map(|c| c.chain.clone())
                .unwrap_or_else(|| FEED_GENESIS.into());
            let mut change = Change {
                seq,
                entity_type: r.kind().into(),
                entity_id: *id,
                data: r.doc(),
                chain: String::new(),
                hash: None,
            };
            change.chain = chain_hash(&prev, &change);
            self.state.feed.push(change);
            self.state.records.insert(*id, r);
        }
        for o in &result.outcomes {
            let env = req
                .mutations
                .iter()
                .find(|e| e.device_seq == o.device_seq)
                .expect("outcome of a sent mutation");
            *self.state.applied.entry((dev, o.device_seq)).or_default() += 1;
            if o.status == OutcomeStatus::Accepted {
                self.state.accepted.push(env.clone());
            }
        }
        let epoch = self.epoch;
        let d = self.device(dev);
        let mut outcomes: Vec<Outcome> = req
            .mutations
            .iter()
            .filter(|e| e.device_seq <= last_applied)
            .filter_map(|e| d.outcomes.get(&e.device_seq).cloned())
            .collect();
        for o in &result.outcomes {
            d.outcomes.insert(o.device_seq, o.clone());
        }
        outcomes.extend(result.outcomes);
        d.last_applied = result.last_applied_seq;
        let mut v = ChainVerifier::resume(dev, d.audit_seq, &d.audit_hash);
        let mut audit_break = None;
        let held = d.audit_seq;
        let fresh: Vec<_> = req.audit.iter().filter(|e| e.seq > held).collect();
        let gap = fresh.first().is_some_and(|e| e.seq != held + 1);
        for e in fresh.into_iter().filter(|_| !gap) {
            match v.check(e) {
                Ok(()) => {
                    d.audit_seq = e.seq;
                    d.audit_hash = e.hash.clone();
                }
                Err(b) => {
                    d.audit_broken = true;
                    audit_break = Some(b);
                    break;
                }
            }
        }
        Ok(PushResponse {
            epoch,
            last_applied_seq: d.last_applied,
            outcomes,
            gap: result.gap,
            audit_head: d.audit_seq,
            audit_break,
            number_blocks: vec![],
            blocks_retired: false,
            renumber_from: None,
        })
    }

    /// What sync-server's `pull` does.
    fn pull(
        &mut self,
        dev: Uuid,
        after: i64,
        after_hash: Option<&str>,
        limit: i64,
    ) -> PullResponse {
        let cursor_ok = match (after_hash, after > 0) {
            (Some(h), true) => self
                .state
                .feed
                .get(after as usize - 1)
                .is_some_and(|c| c.chain == h),
            _ => true,
        };
        let mut changes: Vec<Change> = if cursor_ok {
            self.state
                .feed
                .iter()
                .skip(after.max(0) as usize)
                .take(limit as usize)
                .cloned()
                .collect()
        } else {
            vec![]
        };
        // As the real server sends pages: chain values on the first and
        // last change only.
        let checksum = page_checksum(&changes);
        compact_chains(&mut changes);
        PullResponse {
            protocol: PROTOCOL_VERSION,
            epoch: self.epoch,
            head: self.state.feed.len() as i64,
            checksum,
            changes,
            last_applied_seq: self.device(dev).last_applied,
            cursor_ok,
        }
    }

    fn sums(&self) -> BucketSums {
        let hashes: Vec<(Uuid, String)> = self
            .state
            .records
            .values()
            .map(|r| (r.id(), doc_hash(&r.doc())))
            .collect();
        BucketSums::compute(hashes.iter().map(|(i, h)| (*i, h.as_str())))
    }
}

struct Net {
    rng: DemoRng,
    faults: bool,
    partitioned: BTreeSet<Uuid>,
    /// Requests that timed out on the client and reach the server later.
    late: Vec<(Uuid, PushRequest)>,
    /// Set by a "crash": the device's next call fails and its sync stops.
    crash: BTreeSet<Uuid>,
}

struct World {
    server: Server,
    net: Net,
}

struct Link {
    dev: Uuid,
    world: Rc<RefCell<World>>,
}

fn offline() -> ClinicError {
    ClinicError::new(ErrorCode::Unreachable, "simulated network failure")
}

impl Link {
    /// Network weather before a request: a partition, a crash, late
    /// deliveries of old requests to the server.
    fn weather(&self, w: &mut World) -> ClinicResult<()> {
        if w.net.faults && !w.net.late.is_empty() && w.net.rng.chance(30) {
            let i = w.net.rng.below(w.net.late.len() as u64) as usize;
            let (d, req) = w.net.late.remove(i);
            let _ = w.server.push(d, &req);
        }
        if w.net.crash.remove(&self.dev) || w.net.partitioned.contains(&self.dev) {
            return Err(offline());
        }
        Ok(())
    }
}

impl Transport for Link {
    fn push(&self, req: &PushRequest) -> ClinicResult<PushResponse> {
        let mut w = self.world.borrow_mut();
        self.weather(&mut w)?;
        if !w.net.faults {
            return w.server.push(self.dev, req);
        }
        match w.net.rng.below(100) {
            0..=7 => Err(offline()), // request lost
            8..=11 => {
                // Delayed past the client's timeout; arrives later.
                w.net.late.push((self.dev, req.clone()));
                Err(offline())
            }
            12..=19 => {
                // Applied, but the answer is lost.
                w.server.push(self.dev, req)?;
                Err(offline())
            }
            20..=25 => {
                // Duplicated on the way.
                w.server.push(self.dev, req)?;
                w.server.push(self.dev, req)
            }
            _ => w.server.push(self.dev, req),
        }
    }

    fn pull(
        &self,
        after: i64,
        after_hash: Option<&str>,
        limit: i64,
        _wait: u64,
    ) -> ClinicResult<PullResponse> {
        let mut w = self.world.borrow_mut();
        self.weather(&mut w)?;
        let small = if w.net.faults {
            1 + w.net.rng.below(7) as i64
        } else {
            limit
        };
        let mut page = w.server.pull(self.dev, after, after_hash, small.min(limit));
        if w.net.faults {
            match w.net.rng.below(100) {
                0..=7 => return Err(offline()),
                8..=10 => {
                    // Damaged on the way: the checksum no longer matches.
                    if let Some(c) = page.changes.first_mut() {
                        c.data["first_name"] = json!("Garbled");
                    }
                }
                _ => {}
            }
        }
        Ok(page)
    }

    fn checksums(&self) -> ClinicResult<BucketSums> {
        Ok(self.world.borrow().server.sums())
    }

    fn records(&self, buckets: &[usize]) -> ClinicResult<Vec<RecordCopy>> {
        let w = self.world.borrow();
        Ok(w.server
            .state
            .records
            .values()
            .filter(|r| buckets.contains(&bucket_of(r.id())))
            .map(|r| {
                let doc = r.doc();
                RecordCopy {
                    entity_type: r.kind().into(),
                    id: r.id(),
                    hash: doc_hash(&doc),
                    doc: Some(doc),
                }
            })
            .collect())
    }
}

struct Device {
    id: Uuid,
    store: Store,
    skew: Duration,
    link: Link,
}

fn uuid(rng: &mut DemoRng) -> Uuid {
    uuid::Builder::from_random_bytes(
        ((rng.next_u64() as u128) << 64 | rng.next_u64() as u128).to_be_bytes(),
    )
    .into_uuid()
}

/// A step number as letters (names may not contain digits).
fn letters(mut n: usize) -> String {
    let mut s = String::new();
    loop {
        s.push((b'a' + (n % 26) as u8) as char);
        n /= 26;
        if n == 0 {
            return s;
        }
    }
}

fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 8, 0, 0).unwrap()
}

/// One local change on a device, as the use-cases make them: the mutation
/// with its outbox entry and an audit event in one transaction.
fn local_change(dev: &mut Device, rng: &mut DemoRng, at: DateTime<Utc>, step: usize) {
    let ids = dev.store.db().patient_ids().unwrap();
    let pick = |rng: &mut DemoRng| (!ids.is_empty()).then(|| *rng.pick(&ids));
    let m = match rng.below(100) {
        0..=24 => Some(Mutation::new(RegisterPatient {
            patient: uuid(rng),
            patient_number: format_patient_number(
                dev.store.db().next_number("patient").unwrap_or(0),
            ),
            details: PatientDetails {
                first_name: format!("Name{}", letters(step)),
                last_name: "Sim".into(),
                date_of_birth: chrono::NaiveDate::from_ymd_opt(1970 + (step % 40) as i32, 1, 1),
                ..Default::default()
            },
            lists: PatientLists::default(),
        })),
        25..=69 => pick(rng).map(|p| {
            let mut set = Map::new();
            for _ in 0..1 + rng.below(2) {
                let f = *rng.pick(&FIELDS);
                set.insert(f.into(), json!(format!("{f} {step}-{}", rng.below(1000))));
            }
            Mutation::new(UpdatePatient {
                patient: p,
                set,
                add: PatientLists::default(),
                remove_ids: vec![],
            })
        }),
        70..=81 => pick(rng).map(|p| {
            Mutation::new(UpdatePatient {
                patient: p,
                set: Map::new(),
                add: PatientLists {
                    allergies: vec![Allergy {
                        id: uuid(rng),
                        substance: format!("Substance {step}"),
                        reaction: None,
                        severity: Severity::Mild,
                    }],
                    ..Default::default()
                },
                remove_ids: vec![],
            })
        }),
        82..=87 => pick(rng).and_then(|p| {
            let items = dev.store.db().patient(p).unwrap()?.lists.allergies;
            (!items.is_empty()).then(|| {
                Mutation::new(UpdatePatient {
                    patient: p,
                    set: Map::new(),
                    add: PatientLists::default(),
                    remove_ids: vec![rng.pick(&items).id],
                })
            })
        }),
        88..=92 => pick(rng).map(|p| {
            Mutation::new(ArchivePatient {
                patient: p,
                reason: "simulated".into(),
            })
        }),
        93..=96 => pick(rng).map(|p| Mutation::new(RestorePatient { patient: p })),
        _ => match (pick(rng), pick(rng)) {
            (Some(a), Some(b)) if a != b => Some(Mutation::new(MergePatients {
                keep: a,
                duplicate: b,
            })),
            _ => None,
        },
    };
    let Some(m) = m else { return };
    // A refused change (e.g. editing a record archived here) is not queued:
    // the use-case answers the person at once.
    let r = dev.store.write(|db| {
        db.commit_mutation(None, at, &m)?;
        db.append_audit(uuid(rng), None, at, AuditEntry::store("sim.change"))?;
        Ok(())
    });
    if std::env::var("SIM_DEBUG").is_ok() {
        eprintln!("{} {:?}", m.name(), r.err());
    }
}

/// The oracle: the records that the accepted mutations, in server order,
/// must produce under the merge rules, modelled independently of `apply`:
/// per record, each field is the value of the last accepted mutation that
/// set it, and the live list items are those added and not removed.
fn expected_fields(accepted: &[Envelope]) -> BTreeMap<Uuid, BTreeMap<String, Value>> {
    let mut merged = BTreeSet::new();
    let mut fields: BTreeMap<Uuid, BTreeMap<String, Value>> = BTreeMap::new();
    for e in accepted {
        if let Some(u) = e.mutation.get::<UpdatePatient>() {
            let f = fields.entry(u.patient).or_default();
            for (k, v) in &u.set {
                f.insert(k.clone(), v.clone());
            }
        } else if let Some(m) = e.mutation.get::<MergePatients>() {
            merged.insert(m.keep);
            merged.insert(m.duplicate);
        }
    }
    // A merge fills the survivor's empty fields from the duplicate: left out.
    fields.retain(|id, _| !merged.contains(id));
    fields
}

fn expected_allergies(accepted: &[Envelope]) -> BTreeMap<Uuid, BTreeSet<Uuid>> {
    let mut involved = BTreeSet::new();
    let mut live: BTreeMap<Uuid, BTreeSet<Uuid>> = BTreeMap::new();
    for e in accepted {
        if let Some(u) = e.mutation.get::<UpdatePatient>() {
            let l = live.entry(u.patient).or_default();
            l.extend(u.add.allergies.iter().map(|a| a.id));
            for r in &u.remove_ids {
                l.remove(r);
            }
        } else if let Some(m) = e.mutation.get::<MergePatients>() {
            involved.insert(m.keep);
            involved.insert(m.duplicate);
        }
    }
    live.retain(|id, _| !involved.contains(id));
    live
}

/// Runs one seed; `Err` names the violated guarantee.
fn run_seed(seed: u64, rules: Rules) -> Result<usize, String> {
    let mut rng = DemoRng::new(seed);
    let tenant = uuid(&mut rng);
    let world = Rc::new(RefCell::new(World {
        server: Server {
            tenant,
            epoch: uuid(&mut rng),
            rules,
            leases: BTreeMap::new(),
            state: ServerState {
                records: BTreeMap::new(),
                issued: Default::default(),
                feed: vec![],
                devices: BTreeMap::new(),
                applied: BTreeMap::new(),
                accepted: vec![],
            },
        },
        net: Net {
            rng: DemoRng::new(seed ^ 0x5EED),
            faults: true,
            partitioned: BTreeSet::new(),
            late: vec![],
            crash: BTreeSet::new(),
        },
    }));
    let n_devices = 2 + rng.below(3) as usize;
    let mut devices: Vec<Device> = (0..n_devices)
        .map(|i| {
            let id = uuid(&mut rng);
            let start = 1 + i as u64 * 10_000;
            world
                .borrow_mut()
                .server
                .leases
                .insert(id, (start, start + 10_000));
            Device {
                id,
                store: Store::in_memory_for_tests(tenant, id, true, (start, start + 10_000))
                    .expect("store"),
                skew: Duration::minutes(rng.below(240) as i64 - 120),
                link: Link {
                    dev: id,
                    world: world.clone(),
                },
            }
        })
        .collect();
    let restores = rng.chance(25);
    let mut snapshot: Option<ServerState> = None;
    let steps = 30 + rng.below(50) as usize;
    let mut now = base_time();
    for step in 0..steps {
        now += Duration::minutes(1 + rng.below(5) as i64);
        let d = rng.below(n_devices as u64) as usize;
        match rng.below(100) {
            0..=49 => {
                let at = now + devices[d].skew;
                local_change(&mut devices[d], &mut rng, at, step);
            }
            50..=79 => {
                if rng.chance(15) {
                    // Crash part-way: the call after next fails and the run stops there.
                    world.borrow_mut().net.crash.insert(devices[d].id);
                }
                let dev = &mut devices[d];
                let _ = sync_now(&mut dev.store, &dev.link, now, &mut |_, _| {});
            }
            80..=87 => {
                let id = devices[d].id;
                let mut w = world.borrow_mut();
                if !w.net.partitioned.remove(&id) {
                    w.net.partitioned.insert(id);
                }
            }
            88..=91 if restores => {
                let mut w = world.borrow_mut();
                match &snapshot {
                    None => snapshot = Some(w.server.state.clone()),
                    Some(s) => w.server.state = s.clone(),
                }
            }
            _ => {}
        }
    }
    // Heal: no partitions, no faults, late requests delivered, then sync
    // every workstation until nothing moves.
    {
        let mut w = world.borrow_mut();
        w.net.faults = false;
        w.net.partitioned.clear();
        w.net.crash.clear();
        let late = std::mem::take(&mut w.net.late);
        for (d, req) in late {
            let _ = w.server.push(d, &req);
        }
    }
    for _round in 0..3 {
        for dev in devices.iter_mut() {
            sync_now(&mut dev.store, &dev.link, now, &mut |_, _| {})
                .map_err(|e| format!("sync after healing failed: {e:?}"))?;
        }
    }
    let w = world.borrow();
    let server = &w.server;
    let server_sums = server.sums();
    for dev in &devices {
        let db = dev.store.db();
        // Exactly once, none lost.
        let made: i64 = db.outbox_after(0, u32::MAX).unwrap().len() as i64;
        let pending = db.pending_summary().unwrap().0;
        if pending != 0 {
            return Err(format!("device {} still has {pending} pending", dev.id));
        }
        for seq in 1..=made {
            match server.state.applied.get(&(dev.id, seq)) {
                Some(1) => {}
                Some(n) => return Err(format!("mutation {seq} of {} applied {n} times", dev.id)),
                None => return Err(format!("mutation {seq} of {} lost", dev.id)),
            }
        }
        let all: Vec<usize> = (0..CHECKSUM_BUCKETS).collect();
        let ids: BTreeSet<Uuid> = db
            .bucket_members(&all)
            .unwrap()
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        let theirs: BTreeSet<Uuid> = server.state.records.keys().copied().collect();
        if ids != theirs {
            let only_here: Vec<_> = ids.difference(&theirs).collect();
            let only_there: Vec<_> = theirs.difference(&ids).collect();
            return Err(format!(
                "device {} holds other records than the server: only here {only_here:?}, only on the server {only_there:?}; outbox: {:?}",
                dev.id,
                db.outbox_after(0, u32::MAX)
                    .unwrap()
                    .iter()
                    .map(|e| (e.device_seq, e.mutation.name(), e.mutation.touches()))
                    .collect::<Vec<_>>()
            ));
        }
        for r in server.state.records.values() {
            let mine = db.record(r.id()).unwrap().expect("record");
            let (a, b) = (mine.doc(), r.doc());
            if a != b {
                let diff: Vec<String> = b
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(k, v)| a.get(k.as_str()) != Some(v))
                    .map(|(k, v)| format!("{k}: device {:?} server {v}", a.get(k.as_str())))
                    .collect();
                return Err(format!(
                    "record {} differs on device {}: {diff:?}",
                    r.id(),
                    dev.id
                ));
            }
        }
        // Convergence.
        let local = db.bucket_sums().unwrap();
        if local != server_sums {
            return Err(format!(
                "device {} differs from the server in buckets {:?}",
                dev.id,
                local.differing(&server_sums)
            ));
        }
        // The audit chain reached the server unbroken.
        let st = &server.state.devices[&dev.id];
        let count = db.audit_event_count().unwrap();
        if st.audit_broken || st.audit_seq != count {
            return Err(format!(
                "audit of {}: server holds {} of {count}, broken={}",
                dev.id, st.audit_seq, st.audit_broken
            ));
        }
        dev.store.integrity_check().map_err(|e| e.to_string())?;
    }
    // No acknowledged write lost (independent model of the merge rules).
    for (id, fields) in expected_fields(&server.state.accepted) {
        let Some(p) = server
            .state
            .records
            .get(&id)
            .and_then(|r| r.get::<Patient>())
        else {
            return Err(format!("record {id} with accepted edits is missing"));
        };
        let doc = serde_json::to_value(&p.details).unwrap();
        for (f, v) in fields {
            if doc.get(&f) != Some(&v) {
                return Err(format!(
                    "acknowledged write lost: {id}.{f} is {:?}, the last accepted edit set {v}",
                    doc.get(&f)
                ));
            }
        }
    }
    for (id, live) in expected_allergies(&server.state.accepted) {
        let have: BTreeSet<Uuid> = server.state.records[&id]
            .get::<Patient>()
            .expect("a patient")
            .lists
            .allergies
            .iter()
            .map(|a| a.id)
            .collect();
        if have != live {
            return Err(format!(
                "allergies of {id}: have {have:?}, accepted edits say {live:?}"
            ));
        }
    }
    Ok(server.state.accepted.len())
}

fn seeds() -> Vec<u64> {
    if let Some(s) = std::env::var("SIM_SEED").ok().and_then(|s| s.parse().ok()) {
        return vec![s];
    }
    let n = std::env::var("SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000u64);
    (0..n).collect()
}

/// Runs seeds on two threads; returns the failures.
fn run_all(seeds: Vec<u64>, rules: Rules) -> (usize, Vec<(u64, String)>) {
    let chunks: Vec<Vec<u64>> = vec![
        seeds.iter().copied().step_by(2).collect(),
        seeds.iter().copied().skip(1).step_by(2).collect(),
    ];
    let handles: Vec<_> = chunks
        .into_iter()
        .map(|chunk| {
            std::thread::spawn(move || {
                let mut accepted = 0;
                let mut failures = vec![];
                for s in chunk {
                    match run_seed(s, rules) {
                        Ok(n) => accepted += n,
                        Err(e) => failures.push((s, e)),
                    }
                }
                (accepted, failures)
            })
        })
        .collect();
    let mut total = 0;
    let mut failures = vec![];
    for h in handles {
        let (a, f) = h.join().expect("simulation thread");
        total += a;
        failures.extend(f);
    }
    failures.sort();
    (total, failures)
}

#[test]
fn every_seed_converges_with_no_write_lost_or_applied_twice() {
    let seeds = seeds();
    let (accepted, failures) = run_all(seeds.clone(), domain_rules);
    if let Some((seed, why)) = failures.first() {
        panic!(
            "{} of {} seeds failed; first: seed {seed}: {why}\nreplay: SIM_SEED={seed} cargo test -p clinic-workspace-tests simulation",
            failures.len(),
            seeds.len()
        );
    }
    assert!(
        accepted > seeds.len() * 5,
        "the simulation did real work: {accepted} accepted mutations over {} seeds",
        seeds.len()
    );
}

/// Last writer wins by the device's clock instead of server order: an
/// edit older by wall clock than the record is silently dropped (the bug
/// the spec warns about: device time is data, never the authority).
fn rules_with_wall_clock_lww(
    m: &Mutation,
    cx: &Context,
    recs: &mut Records,
) -> ClinicResult<Applied> {
    if let Some(u) = m.get::<UpdatePatient>() {
        if recs
            .get::<Patient>(u.patient)
            .is_some_and(|p| p.updated_at > cx.at)
        {
            return Ok(Applied::default());
        }
    }
    domain_rules(m, cx, recs)
}

#[test]
fn the_simulation_catches_a_deliberately_broken_merge_rule() {
    let (_, failures) = run_all((0..200).collect(), rules_with_wall_clock_lww);
    assert!(
        failures
            .iter()
            .any(|(_, why)| why.contains("acknowledged write lost")),
        "a broken merge rule went unnoticed in 200 seeds: {failures:?}"
    );
}

#[test]
fn a_seed_replays_exactly() {
    let a = run_seed(7, domain_rules);
    let b = run_seed(7, domain_rules);
    assert_eq!(a, b);
    assert!(a.unwrap() > 0);
}
