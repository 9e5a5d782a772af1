//! The sync kernel knows no domain: a kind declared here, in a test module
//! alone — with its own typed table and constraints on both sides, a
//! permission and a number series — syncs between two workstations through
//! the real server and PostgreSQL with no edit to the kernel. Also the
//! kernel's own guarantees end to end: one id holds one kind, a store
//! restored from a backup issues no number until the server retired its
//! blocks and never passes new changes off as retries, and changes queued
//! before the protocol 4 upgrade are pushed after it.

use crate::{ada, signed_in, sync};
use clinic_client::{Password, Workstation};
use clinic_core::audit::AuditEntry;
use clinic_core::directory::SiteDoc;
use clinic_core::patients::{PatientDetails, RegisterPatient};
use clinic_core::permissions::{Action, Module, Permission};
use clinic_core::scheduling::WaitlistEntry;
use clinic_core::sync::{
    AnyRecord, Applied, Context, IssuedNumber, Merge, Mutation, MutationKind, NumberSeries,
    RecordKind, Records, SaveDocument,
};
use clinic_core::{ClinicError, ClinicResult, ErrorCode};
use clinic_store::records::Projection as StoreProjection;
use clinic_store::{Db, StoreResult};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sync_server::records::{BoxFuture, Projection as ServerProjection, Written};
use uuid::Uuid;

// ---- the domain: parking permits, numbered offline, one per plate ----

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Permit {
    id: Uuid,
    tenant_id: Uuid,
    plate: String,
    number: String,
}

impl RecordKind for Permit {
    const KIND: &'static str = "test_permit";
    const MERGE: Merge = Merge::Fields;
    fn id(&self) -> Uuid {
        self.id
    }
    fn tenant(&self) -> Option<Uuid> {
        Some(self.tenant_id)
    }
}

fn format_permit(n: u64) -> String {
    format!("TP-{n:05}")
}

fn parse_permit(s: &str) -> Option<u64> {
    s.strip_prefix("TP-")?.parse().ok()
}

const PERMITS: NumberSeries = NumberSeries {
    name: "test_permit",
    lease: 100,
    low_water: 10,
    format: format_permit,
    parse: parse_permit,
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct IssuePermit {
    permit: Uuid,
    plate: String,
    number: String,
}

impl MutationKind for IssuePermit {
    const NAME: &'static str = "test_issue_permit";
    fn touches(&self) -> Vec<Uuid> {
        vec![self.permit]
    }
    fn permission(&self) -> Permission {
        Permission::new(Module::Inventory, Action::Create)
    }
    fn numbers(&self) -> Vec<IssuedNumber> {
        parse_permit(&self.number)
            .map(|value| IssuedNumber {
                series: PERMITS.name,
                value,
                record: self.permit,
            })
            .into_iter()
            .collect()
    }
    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        if recs.get::<Permit>(self.permit).is_some() {
            return Ok(Applied::nothing());
        }
        if self.plate.trim().len() < 2 {
            return Err(ClinicError::field("plate", "is too short"));
        }
        // Its projection loaded every permit with this plate.
        if recs
            .all::<Permit>()
            .any(|p| p.plate == self.plate && p.id != self.permit)
        {
            return Err(ClinicError::conflict(format!(
                "Plate {} already has a permit.",
                self.plate
            )));
        }
        recs.put(Permit {
            id: self.permit,
            tenant_id: cx.tenant,
            plate: self.plate.clone(),
            number: self.number.clone(),
        });
        Ok(Applied::one(self.permit))
    }
}

fn permit_of(r: &AnyRecord) -> StoreResult<&Permit> {
    Ok(r.get::<Permit>()
        .ok_or_else(|| ClinicError::internal("not a permit"))?)
}

/// The workstation's table: typed columns, a unique plate, a length check.
#[derive(Debug)]
struct StorePermits;

impl StoreProjection for StorePermits {
    fn kinds(&self) -> &'static [&'static str] {
        &[Permit::KIND]
    }
    fn load(&self, db: &Db, id: Uuid) -> StoreResult<Option<AnyRecord>> {
        let docs = db.query_docs(
            "SELECT doc FROM test_permits WHERE id = ?1",
            &[&id.to_string()],
        )?;
        docs.into_iter()
            .next()
            .map(|d| Ok(AnyRecord::from_doc(Permit::KIND, &d)?))
            .transpose()
    }
    fn put(&self, db: &Db, r: &AnyRecord) -> StoreResult<()> {
        let p = permit_of(r)?;
        db.execute_sql(
            "INSERT INTO test_permits (id, plate, number, doc) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO UPDATE SET plate = excluded.plate, number = excluded.number, doc = excluded.doc",
            &[&p.id.to_string(), &p.plate, &p.number, &r.doc().to_string()],
        )
    }
    fn discard(&self, db: &Db, id: Uuid) -> StoreResult<()> {
        db.execute_sql("DELETE FROM test_permits WHERE id = ?1", &[&id.to_string()])
    }
    fn hashes(&self, db: &Db, wanted: &dyn Fn(Uuid) -> bool) -> StoreResult<Vec<(Uuid, String)>> {
        let docs = db.query_docs("SELECT doc FROM test_permits", &[])?;
        let mut out = Vec::new();
        for d in docs {
            let r = AnyRecord::from_doc(Permit::KIND, &d)?;
            if wanted(r.id()) {
                out.push((r.id(), clinic_core::sync::doc_hash(&r.doc())));
            }
        }
        Ok(out)
    }
    fn load_context(&self, db: &Db, m: &Mutation, recs: &mut Records) -> StoreResult<()> {
        if let Some(i) = m.get::<IssuePermit>() {
            for d in db.query_docs("SELECT doc FROM test_permits WHERE plate = ?1", &[&i.plate])? {
                recs.offer(AnyRecord::from_doc(Permit::KIND, &d)?);
            }
        }
        Ok(())
    }
    fn migrations(&self) -> &'static [(&'static str, &'static str)] {
        &[(
            "29990101000000_test_permits",
            "CREATE TABLE test_permits (
                id TEXT PRIMARY KEY,
                plate TEXT NOT NULL UNIQUE CHECK (length(plate) >= 2),
                number TEXT NOT NULL,
                doc TEXT NOT NULL
            );",
        )]
    }
}

/// The server's table: tenant first in every key, row-level security, a
/// unique plate per tenant.
#[derive(Debug)]
struct ServerPermits;

impl ServerProjection for ServerPermits {
    fn kinds(&self) -> &'static [&'static str] {
        &[Permit::KIND]
    }
    fn select(&self) -> &'static str {
        "SELECT 'test_permit', id, doc_hash, doc FROM test_permits"
    }
    fn write<'a>(
        &'a self,
        tx: &'a deadpool_postgres::Transaction<'a>,
        tenant: Uuid,
        rows: &'a [Written<'a>],
    ) -> BoxFuture<'a, Result<(), sync_server::ServerError>> {
        Box::pin(async move {
            for w in rows {
                let p = w.record.get::<Permit>().expect("a permit");
                tx.execute(
                    "INSERT INTO test_permits (tenant_id, id, plate, number, doc, doc_hash) VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT (tenant_id, id) DO UPDATE SET plate = EXCLUDED.plate, number = EXCLUDED.number,
                         doc = EXCLUDED.doc, doc_hash = EXCLUDED.doc_hash",
                    &[&tenant, &p.id, &p.plate, &p.number, w.doc, &w.hash],
                )
                .await
                ?;
            }
            Ok(())
        })
    }
    fn load_context<'a>(
        &'a self,
        tx: &'a deadpool_postgres::Transaction<'a>,
        batch: &'a [&'a clinic_core::sync::Envelope],
        recs: &'a mut Records,
    ) -> BoxFuture<'a, Result<(), sync_server::ServerError>> {
        Box::pin(async move {
            let plates: Vec<String> = batch
                .iter()
                .filter_map(|e| e.mutation.get::<IssuePermit>().map(|i| i.plate.clone()))
                .collect();
            if plates.is_empty() {
                return Ok(());
            }
            for r in sync_server::records::load_docs(
                tx,
                Permit::KIND,
                "SELECT doc FROM test_permits WHERE plate = ANY($1)",
                &[&plates],
            )
            .await?
            {
                recs.offer(r);
            }
            Ok(())
        })
    }
    fn migrations(&self) -> &'static [(&'static str, &'static str)] {
        &[(
            "29990101000000_test_permits",
            "CREATE TABLE test_permits (
                tenant_id uuid NOT NULL REFERENCES tenants (id),
                id uuid NOT NULL,
                plate text NOT NULL CHECK (length(plate) >= 2),
                number text NOT NULL,
                doc jsonb NOT NULL,
                doc_hash text NOT NULL,
                PRIMARY KEY (tenant_id, id),
                UNIQUE (tenant_id, plate)
            );
            ALTER TABLE test_permits ENABLE ROW LEVEL SECURITY;
            ALTER TABLE test_permits FORCE ROW LEVEL SECURITY;
            CREATE POLICY tenant_isolation ON test_permits
                USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
                WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);
            GRANT SELECT, INSERT, UPDATE ON test_permits TO clinic_app;",
        )]
    }
}

static STORE_PERMITS: StorePermits = StorePermits;
static SERVER_PERMITS: ServerPermits = ServerPermits;

/// The one registration line of each layer.
pub(crate) fn register_permits() {
    clinic_core::sync::register(|r| {
        r.record::<Permit>()
            .mutation::<IssuePermit>()
            .series(PERMITS);
    });
    clinic_store::records::register(&STORE_PERMITS);
    sync_server::records::register(&SERVER_PERMITS);
}

/// The use-case: a permit with the next number of the series.
fn issue_permit(ws: &mut Workstation, plate: &str) -> ClinicResult<Permit> {
    let id = Uuid::now_v7();
    let c = ws.make_change(
        |db| {
            Ok(Mutation::new(IssuePermit {
                permit: id,
                plate: plate.into(),
                number: format_permit(db.next_number(PERMITS.name)?),
            }))
        },
        |_| {
            vec![AuditEntry {
                action: "permit.issue",
                entity_type: Permit::KIND,
                entity_id: Some(id),
                patient_id: None,
                details: json!({}),
            }]
        },
    )?;
    Ok(c.after::<Permit>(id)?)
}

fn local_permit(ws: &Workstation, id: Uuid) -> Option<Permit> {
    ws.store_for_tests()
        .unwrap()
        .db()
        .record(id)
        .unwrap()
        .and_then(|r| r.get::<Permit>().cloned())
}

#[test]
fn a_kind_declared_outside_the_kernel_syncs_through_the_real_server() {
    let server = crate::start_server("acme");
    let t = tempfile::tempdir().unwrap();
    let mut a = signed_in(&server, &t.path().join("a"));
    let mut b = signed_in(&server, &t.path().join("b"));

    // Numbered offline from the series' own block (leased at enrolment).
    let first = issue_permit(&mut a, "AB12CDE").unwrap();
    assert_eq!(parse_permit(&first.number), Some(1));
    sync(&mut a);
    sync(&mut b);
    assert_eq!(local_permit(&b, first.id), Some(first.clone()));
    assert_eq!(
        server.query("SELECT plate, number FROM test_permits"),
        vec![vec![Some("AB12CDE".into()), Some("TP-00001".into())]]
    );
    let b_first = issue_permit(&mut b, "XY99ZZZ").unwrap();
    assert_eq!(
        parse_permit(&b_first.number),
        Some(101),
        "B numbers from its own block"
    );

    // Two desks offline issue a permit for the same plate: the server's
    // answer is a conflict (its projection loaded the other permit), the
    // push goes on, and nothing is written twice.
    let dup_a = issue_permit(&mut a, "SAME1").unwrap();
    let dup_b = issue_permit(&mut b, "SAME1").unwrap();
    sync(&mut a);
    sync(&mut b);
    sync(&mut a);
    assert!(local_permit(&a, dup_a.id).is_some());
    assert!(
        local_permit(&b, dup_b.id).is_none(),
        "the refused permit is gone from B's copy, which now holds A's"
    );
    assert!(local_permit(&b, dup_a.id).is_some());
    let problems = b.sync_conflicts().unwrap();
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].kind, IssuePermit::NAME);
    assert_eq!(problems[0].code.as_deref(), Some("CONFLICT"));
    assert_eq!(
        server.query("SELECT count(*) FROM test_permits WHERE plate = 'SAME1'"),
        vec![vec![Some("1".into())]]
    );
    // Both copies equal the server's, checked by checksum.
    for ws in [&mut a, &mut b] {
        assert!(ws.verify_sync().unwrap().differing_buckets.is_empty());
    }

    // The constraints hold in both databases, whatever the domain code does.
    let raw = a.store_for_tests().unwrap();
    assert!(raw
        .execute_raw_for_tests("INSERT INTO test_permits VALUES ('x', 'SAME1', 'TP-9', '{}')")
        .is_err());
    assert!(raw
        .execute_raw_for_tests("INSERT INTO test_permits VALUES ('y', 'Z', 'TP-9', '{}')")
        .is_err());
    assert!(server
        .try_query(&format!(
            "INSERT INTO test_permits SELECT tenant_id, gen_random_uuid(), plate, number, doc, doc_hash FROM test_permits WHERE id = '{}'",
            dup_a.id
        ))
        .is_err());

    // The declared permission is enforced: a receptionist may not issue one.
    a.directory()
        .add_user(
            "desk@acme.example",
            "Front Desk",
            "receptionist",
            &Password::new("desk-password-1".into()),
            None,
        )
        .unwrap();
    a.login(
        "desk@acme.example",
        &Password::new("desk-password-1".into()),
    )
    .unwrap();
    assert_eq!(
        issue_permit(&mut a, "NEW1").unwrap_err().code,
        ErrorCode::Forbidden
    );
}

#[test]
fn one_id_holds_one_kind_on_both_sides() {
    let server = crate::start_server("acme");
    let t = tempfile::tempdir().unwrap();
    let mut a = signed_in(&server, &t.path().join("a"));
    let mut b = signed_in(&server, &t.path().join("b"));
    // A adds a member of staff (shared with every desk as a staff record)
    // and opens a second site.
    let staff = a
        .directory()
        .add_user(
            "dr.jones@acme.example",
            "Dr Jones",
            "clinician",
            &Password::new("jones-password-1".into()),
            None,
        )
        .unwrap()
        .id;
    let site = Uuid::now_v7();
    a.make_change(
        |_| {
            Ok(Mutation::new(SaveDocument::new(SiteDoc {
                id: site,
                name: "North".into(),
                timezone: "Europe/London".into(),
            })))
        },
        |_| vec![],
    )
    .unwrap();
    // (A patient for the waitlist entry below to name: the server checks it exists.)
    let waiting = a
        .patients()
        .register(ada(), Default::default())
        .unwrap()
        .patient
        .id;
    sync(&mut a);
    let staff_doc = server.query(&format!(
        "SELECT doc_hash FROM sync_records WHERE id = '{staff}'"
    ));
    let site_doc = server.query(&format!(
        "SELECT doc_hash FROM sync_records WHERE id = '{site}'"
    ));
    assert_eq!((staff_doc.len(), site_doc.len()), (1, 1));

    let patient_with = |id: Uuid, n: u64| {
        Mutation::new(RegisterPatient {
            patient: id,
            patient_number: clinic_core::patients::format_patient_number(n),
            details: PatientDetails {
                first_name: "Ada".into(),
                last_name: "Lovelace".into(),
                date_of_birth: chrono::NaiveDate::from_ymd_opt(1985, 12, 10),
                ..Default::default()
            },
            lists: Default::default(),
        })
    };
    let waitlist_with = |id: Uuid| {
        Mutation::new(SaveDocument::new(WaitlistEntry {
            id,
            site_id: site,
            patient_id: waiting,
            clinician_id: None,
            type_id: None,
            earliest: chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            latest: None,
            notes: None,
            status: "waiting".into(),
            appointment_id: None,
            created_at: chrono::Utc::now(),
        }))
    };
    // On a workstation that holds them, both are refused at once.
    for m in [patient_with(staff, 1), waitlist_with(site)] {
        let e = a.make_change(|_| Ok(m), |_| vec![]).unwrap_err();
        assert_eq!(e.code, ErrorCode::Conflict, "{e:?}");
    }

    // B has not pulled them: it takes the staff member's id for a patient
    // and the site's id for a waitlist entry. The server refuses both and
    // overwrites nothing; B's copy drops them and keeps the problems.
    b.make_change(|_| Ok(patient_with(staff, 10_001)), |_| vec![])
        .unwrap();
    b.make_change(|_| Ok(waitlist_with(site)), |_| vec![])
        .unwrap();
    sync(&mut b);
    let problems: Vec<(String, Option<String>)> = b
        .sync_conflicts()
        .unwrap()
        .into_iter()
        .map(|p| (p.kind, p.code))
        .collect();
    assert_eq!(
        problems,
        vec![
            ("register_patient".into(), Some("CONFLICT".into())),
            ("save_document".into(), Some("CONFLICT".into())),
        ]
    );
    assert_eq!(
        server.query(&format!(
            "SELECT count(*) FROM patients WHERE id = '{staff}'"
        )),
        vec![vec![Some("0".into())]]
    );
    for (id, before) in [(staff, staff_doc), (site, site_doc)] {
        assert_eq!(
            server.query(&format!(
                "SELECT doc_hash FROM sync_records WHERE id = '{id}'"
            )),
            before,
            "nothing overwritten"
        );
    }
    let db = b.store_for_tests().unwrap().db();
    let kind = |id: Uuid| db.record(id).unwrap().map(|r| r.kind());
    assert_eq!(kind(staff), Some("staff"), "B holds the member of staff");
    assert_eq!(kind(site), Some("site"), "B holds the site");
}

pub(crate) fn city(ws: &mut Workstation, id: Uuid, city: &str) {
    ws.patients()
        .edit(
            id,
            clinic_core::patients::PatientPatch {
                city: Some(city.into()),
                ..Default::default()
            },
        )
        .unwrap();
}

pub(crate) const PASSPHRASE: &str = "workstation passphrase";

fn unlock() -> clinic_store::keys::Unlock {
    clinic_store::keys::Unlock::Passphrase(
        clinic_store::keys::Passphrase::new(PASSPHRASE.into()).unwrap(),
    )
}

pub(crate) fn reopen(dir: &std::path::Path) -> Workstation {
    let mut ws = Workstation::open(
        dir,
        &unlock(),
        std::sync::Arc::new(clinic_client::SystemClock),
    )
    .unwrap();
    ws.login(
        "admin@acme.example",
        &Password::new("admin-password-1".into()),
    )
    .unwrap();
    ws
}

#[test]
fn a_store_restored_from_a_backup_issues_no_number_until_synced_and_its_new_changes_are_not_taken_for_retries(
) {
    let server = crate::start_server("acme");
    let t = tempfile::tempdir().unwrap();
    let mut a = signed_in(&server, &t.path().join("a"));
    let p0 = a
        .patients()
        .register(ada(), Default::default())
        .unwrap()
        .patient;
    sync(&mut a);
    let backup = t.path().join("backup");
    a.backup(
        &backup,
        &clinic_store::keys::Passphrase::new(PASSPHRASE.into()).unwrap(),
    )
    .unwrap();
    // After the backup the desk issues a number and edits, and syncs; then
    // it is lost.
    let p1 = a
        .patients()
        .register(ada(), Default::default())
        .unwrap()
        .patient;
    city(&mut a, p0.id, "Leeds");
    sync(&mut a);
    drop(a);

    // The backup is put back in service: no number of any series until it
    // has synced (it cannot know which ones the lost desk issued).
    let mut r = reopen(&backup);
    let e = r
        .patients()
        .register(ada(), Default::default())
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::NumbersExhausted);
    assert!(
        e.message.contains("restored from a backup"),
        "{}",
        e.message
    );
    // Offline, it edits: queued under a sequence number the lost desk had
    // already used for its registration. It must not pass for a retry.
    city(&mut r, p0.id, "York");
    sync(&mut r);
    assert_eq!(r.sync_status(false).unwrap().pending, 0);
    assert!(r.sync_conflicts().unwrap().is_empty());
    assert_eq!(
        server.query(&format!(
            "SELECT doc->>'city' FROM patients WHERE id = '{}'",
            p0.id
        )),
        vec![vec![Some("York".into())]],
        "the restored desk's edit reached the server, after the lost desk's"
    );
    assert_eq!(
        r.patients().show(p1.id).unwrap().patient_number,
        p1.patient_number
    );
    // Its old blocks are retired; new numbers come from a fresh block.
    let device = r.info().unwrap().device_id;
    assert_eq!(
        server.query(&format!(
            "SELECT count(*) FILTER (WHERE retired_at IS NOT NULL), count(*) FILTER (WHERE retired_at IS NULL)
             FROM number_blocks WHERE device_id = '{device}' AND series = 'patient'"
        )),
        vec![vec![Some("1".into()), Some("1".into())]]
    );
    let p2 = r
        .patients()
        .register(ada(), Default::default())
        .unwrap()
        .patient;
    let n = clinic_core::patients::parse_patient_number(&p2.patient_number).unwrap();
    assert!(n > 10_000, "a number from the fresh block, not {n}");
    sync(&mut r);
    assert_eq!(r.sync_status(false).unwrap().pending, 0);
    assert!(r.verify_sync().unwrap().differing_buckets.is_empty());
}

#[test]
fn changes_queued_before_the_protocol_4_upgrade_are_pushed_after_it() {
    let server = crate::start_server("acme");
    let t = tempfile::tempdir().unwrap();
    let mut a = signed_in(&server, &t.path().join("a"));
    let b_dir = t.path().join("b");
    let mut b = signed_in(&server, &b_dir);
    let p = a
        .patients()
        .register(ada(), Default::default())
        .unwrap()
        .patient;
    sync(&mut a);
    sync(&mut b);
    a.patients().archive(p.id, "moved away").unwrap();
    sync(&mut a);
    // B's edit of the archived record comes back as an open conflict ...
    city(&mut b, p.id, "Leeds");
    sync(&mut b);
    assert_eq!(b.sync_conflicts().unwrap().len(), 1);
    // ... and B queues more offline: a registration and a waitlist entry.
    let queued = b
        .patients()
        .register(ada(), Default::default())
        .unwrap()
        .patient;
    let site = b.scheduling().home_site().unwrap().id;
    b.scheduling()
        .add_to_waitlist(WaitlistEntry {
            id: Uuid::nil(),
            site_id: site,
            patient_id: queued.id,
            clinician_id: None,
            type_id: None,
            earliest: chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            latest: None,
            notes: None,
            status: "waiting".into(),
            appointment_id: None,
            created_at: chrono::Utc::now(),
        })
        .unwrap();
    assert_eq!(b.sync_status(false).unwrap().pending, 2);
    // B's store goes back to how a protocol 3 workstation left it: the
    // documents table under its old name, whole-document saves under their
    // old name, a cursor hash of the old chain, and numbered migrations
    // (without the table a test kind registered since may have added, nor
    // what later migrations added).
    b.store_for_tests()
        .unwrap()
        .execute_raw_for_tests(
            "ALTER TABLE records RENAME TO sync_refs;
             DROP INDEX records_kind;
             CREATE INDEX sync_refs_kind ON sync_refs (kind);
             UPDATE outbox SET kind = 'save_ref', mutation = json_set(mutation, '$.kind', 'save_ref')
                 WHERE kind = 'save_document';
             UPDATE meta SET value = 'an old chain value' WHERE key = 'sync_cursor_hash';
             DROP TABLE schema_migrations;
             DROP TABLE IF EXISTS test_permits;
             DROP TABLE sync_reread_seen;
             DROP TABLE encounter_drafts;
             DROP TABLE encounters;
             DROP TABLE prescriptions;
             DROP TABLE invoices;
             DROP TABLE payments;
             DROP TABLE credit_notes;
             DROP TABLE stock_movements;
             DROP TABLE stock_onhand;
             DROP TABLE stock_batches;
             DROP TABLE stock_items;
             ALTER TABLE patient_allergies DROP COLUMN code;
             ALTER TABLE users DROP COLUMN must_change_password;
             DROP INDEX outbox_unsigned;
             DROP TRIGGER audit_events_no_update;
             ALTER TABLE outbox DROP COLUMN author_key;
             ALTER TABLE outbox DROP COLUMN signature;
             ALTER TABLE audit_events DROP COLUMN author_key;
             ALTER TABLE audit_events DROP COLUMN signature;
             CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
             BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
             PRAGMA user_version = 5;",
        )
        .unwrap();
    drop(b);
    // The server's feed goes back to the old chain, as a protocol 3 server
    // left it; it is chained again when the server starts.
    server.query(
        "UPDATE change_feed SET chain = 'old ' || seq; UPDATE feed_heads SET chain_version = 1",
    );
    let url = server.database_url.clone();
    std::thread::spawn(move || {
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(async move {
                let mut admin = sync_server::db::connect(&url).await.unwrap();
                sync_server::sync::rechain_feeds(&mut admin).await.unwrap();
            })
    })
    .join()
    .unwrap();
    let chains = server.query(
        "SELECT seq, entity_type, entity_id, data::text, chain FROM change_feed ORDER BY seq",
    );
    let mut prev = clinic_core::sync::FEED_GENESIS.to_string();
    for row in &chains {
        let c = clinic_core::sync::Change {
            seq: row[0].as_ref().unwrap().parse().unwrap(),
            entity_type: row[1].clone().unwrap(),
            entity_id: row[2].as_ref().unwrap().parse().unwrap(),
            data: serde_json::from_str(row[3].as_ref().unwrap()).unwrap(),
            chain: String::new(),
            hash: None,
        };
        prev = clinic_core::sync::chain_hash(&prev, &c);
        assert_eq!(row[4].as_deref(), Some(prev.as_str()), "change {}", c.seq);
    }

    // The upgraded B pushes what it queued, keeps its open conflict, and
    // converges with the server.
    let mut b = reopen(&b_dir);
    assert_eq!(b.sync_status(false).unwrap().pending, 2);
    sync(&mut b);
    assert_eq!(b.sync_status(false).unwrap().pending, 0);
    let problems = b.sync_conflicts().unwrap();
    assert_eq!(problems.len(), 1, "the open conflict is still there");
    assert_eq!(problems[0].kind, "update_patient");
    assert_eq!(
        server.query(&format!(
            "SELECT count(*) FROM patients WHERE id = '{}'",
            queued.id
        )),
        vec![vec![Some("1".into())]]
    );
    assert_eq!(
        server.query("SELECT count(*) FROM sync_records WHERE entity_type = 'waitlist_entry'"),
        vec![vec![Some("1".into())]]
    );
    assert_eq!(b.scheduling().waitlist().unwrap().len(), 1);
    assert!(b.verify_sync().unwrap().differing_buckets.is_empty());
    sync(&mut a);
    assert!(a.verify_sync().unwrap().differing_buckets.is_empty());
}
