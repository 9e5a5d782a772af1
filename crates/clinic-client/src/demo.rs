//! `clinic demo-data`: fills a store with the deterministic clinic of
//! `performance.md` (users, sites and rooms, patients and appointments;
//! other domains as they arrive).

use crate::auth::{hash_password, Password};
use crate::workstation::{new_id, Workstation};
use clinic_core::audit::AuditEntry;
use clinic_core::directory::{CreateUser, RoomDoc, SiteDoc};
use clinic_core::patients::{validate_details, validate_new_lists};
use clinic_core::permissions::BuiltinRole;
use clinic_core::scheduling::{Appointment, AppointmentChange, AppointmentStatus};
use clinic_core::sync::{Mutation, SaveDocument};
use clinic_core::{ClinicError, ClinicResult, ErrorCode};
use clinic_demo::{demo_appointments, demo_patient, demo_users, DemoCalendar, DemoSite, DemoSize};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

#[derive(Debug, Serialize)]
pub struct DemoReport {
    pub size: DemoSize,
    pub seed: u64,
    pub users: usize,
    pub patients: u64,
    pub sites: usize,
    /// Appointments written: all of the size's on a standalone store; on an
    /// enrolled one only those within [`SYNCED_APPOINTMENT_DAYS`] of now.
    pub appointments: u64,
    /// Consultations written (signed notes with vitals and a diagnosis).
    pub encounters: u64,
    /// Of the whole run, the consultations' (written before the appointments).
    pub encounter_seconds: f64,
    /// Invoices (for the newest completed appointments) and payments written.
    pub invoices: u64,
    pub payments: u64,
    /// Of the whole run, the billing's (written after the appointments).
    pub billing_seconds: f64,
    /// Stock items in the catalogue and movements in the ledger (on an
    /// enrolled store: opening receipts and the last days' movements).
    pub stock_items: u64,
    pub stock_movements: u64,
    /// Of the whole run, the inventory's (written after the billing).
    pub inventory_seconds: f64,
    /// Whole run, one transaction (users, patients, appointments, commit).
    pub seconds: f64,
    /// Of which the appointments: from their first write to the end,
    /// the commit included (most of what it writes is theirs).
    pub appointment_seconds: f64,
}

/// What `generate` writes besides users, sites and patients.
#[derive(Debug, Clone, Copy)]
pub struct DemoOptions {
    /// The demo calendar (`demo_appointments`).
    pub appointments: bool,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self { appointments: true }
    }
}

/// On an enrolled store only the appointments within this many days of
/// now are made (as mutations that reach the server): the calendar around
/// today, not years of history pushed through the outbox.
pub const SYNCED_APPOINTMENT_DAYS: i64 = 14;

impl Workstation {
    /// Marks a freshly enrolled, still empty store as a demo clinic's, so
    /// that demo data may go into it (and from there to the server). Refused
    /// once the store holds any patient.
    pub fn allow_demo_data(&mut self) -> ClinicResult<()> {
        let store = self.store_mut()?;
        if store.db().patient_count()? > 0 {
            return Err(ClinicError::new(
                ErrorCode::Conflict,
                "This store already holds patients; demo data only goes into an empty one.",
            ));
        }
        store.write(|db| Ok(db.set_meta("demo", "1")?))
    }
}

/// Writes demo patients `range` of `seed` in the caller's transaction: on
/// an enrolled store each is a queued `RegisterPatient` mutation (so it
/// reaches the server), otherwise a plain insert. `progress` gets each index.
pub fn write_demo_patients(
    db: &clinic_store::Db,
    seed: u64,
    range: std::ops::Range<u64>,
    actor: Option<uuid::Uuid>,
    now: chrono::DateTime<chrono::Utc>,
    progress: &mut dyn FnMut(u64),
) -> ClinicResult<()> {
    write_patients(db, seed, range, actor, now, progress).map(|_| ())
}

/// [`write_demo_patients`], returning the ids given to the patients in order.
fn write_patients(
    db: &clinic_store::Db,
    seed: u64,
    range: std::ops::Range<u64>,
    actor: Option<uuid::Uuid>,
    now: chrono::DateTime<chrono::Utc>,
    progress: &mut dyn FnMut(u64),
) -> ClinicResult<Vec<uuid::Uuid>> {
    let today = now.date_naive();
    let synced = db.is_synced()?;
    let mut ids = Vec::with_capacity((range.end - range.start) as usize);
    db.batch_index(|db| -> ClinicResult<_> {
        for i in range {
            let (mut details, mut lists) = demo_patient(seed, i);
            validate_details(&mut details, today)?;
            validate_new_lists(&mut lists, today)?;
            let id = new_id(now);
            let lists = lists.assign_ids(|| new_id(now));
            if synced {
                let m = clinic_core::sync::Mutation::new(clinic_core::patients::RegisterPatient {
                    patient: id,
                    patient_number: clinic_core::patients::format_patient_number(
                        db.next_number("patient")?,
                    ),
                    details,
                    lists,
                });
                db.commit_mutation(actor, now, &m)?;
            } else {
                db.insert_patient(id, &details, &lists, now)?;
            }
            ids.push(id);
            progress(i);
        }
        Ok(())
    })?;
    Ok(ids)
}

/// Writes the demo calendar of `size` in the caller's transaction, for the
/// patients `patients` (demo patient `i` is `patients[i]`). On a standalone
/// store every appointment is inserted as it is; on an enrolled one only
/// those within [`SYNCED_APPOINTMENT_DAYS`] of `now`, each booked with a
/// queued `BookAppointment` (and, for one already over, the status changes
/// that got it there), so that they reach the server. Returns how many.
#[allow(clippy::too_many_arguments)]
pub fn write_demo_appointments(
    db: &clinic_store::Db,
    seed: u64,
    size: DemoSize,
    clinicians: Vec<uuid::Uuid>,
    patients: &[uuid::Uuid],
    actor: Option<uuid::Uuid>,
    now: chrono::DateTime<chrono::Utc>,
    types: Vec<clinic_core::scheduling::AppointmentType>,
) -> ClinicResult<u64> {
    let mut sites = Vec::new();
    for s in db.sites()? {
        let rooms = db.rooms_of(s.id)?.into_iter().map(|r| r.0).collect();
        sites.push(DemoSite {
            id: s.id,
            timezone: s.timezone,
            rooms,
        });
    }
    let cal = DemoCalendar {
        tenant_id: db.tenant_id,
        clinicians,
        sites,
        patients: patients.len() as u64,
        types,
        booked_by: actor,
        now,
    };
    let all = demo_appointments(seed, size, cal, |i| patients[i as usize])?;
    let mut n = 0u64;
    if !db.is_synced()? {
        for a in all {
            db.put_appointment(&a)?;
            n += 1;
        }
        return Ok(n);
    }
    // Newest day first: skip the far future, stop at the far past.
    let window = chrono::Duration::days(SYNCED_APPOINTMENT_DAYS);
    let near = all
        .skip_while(|a| a.start > now + window)
        .take_while(|a| a.start >= now - window - chrono::Duration::days(1))
        .filter(|a| a.start >= now - window && a.start <= now + window);
    for a in near {
        book_synced(db, a, actor, now)?;
        n += 1;
    }
    Ok(n)
}

/// The demo consultations (`performance.md`): on a standalone store all of
/// them, spread over the last two years, written as they are; on an
/// enrolled one only those of the last [`SYNCED_APPOINTMENT_DAYS`] days, each
/// made by the mutations a clinician's desk queues (started, typed, vitals,
/// diagnosis, signed) in `actor`'s name. Returns how many.
pub fn write_demo_encounters(
    db: &clinic_store::Db,
    seed: u64,
    size: DemoSize,
    clinicians: &[uuid::Uuid],
    patients: &[uuid::Uuid],
    actor: Option<uuid::Uuid>,
    now: chrono::DateTime<chrono::Utc>,
) -> ClinicResult<u64> {
    use chrono::SubsecRound;
    use clinic_core::clinical::*;
    let total = size.consultations();
    if total == 0 || patients.is_empty() || clinicians.is_empty() {
        return Ok(0);
    }
    let span = chrono::Duration::days(730);
    let at = |i: u64| now - span + span * (i as i32 + 1) / (total as i32 + 1);
    let synced = db.is_synced()?;
    let now = now.trunc_subsecs(6);
    let mut n = 0;
    for i in 0..total {
        let started = at(i);
        if synced && started < now - chrono::Duration::days(SYNCED_APPOINTMENT_DAYS) {
            continue;
        }
        let mut rng = clinic_demo::DemoRng::for_item(seed, 8, i);
        let patient = *rng.pick(patients);
        let clinician = match (synced, actor) {
            (true, Some(a)) => a,
            _ => clinicians[(i % clinicians.len() as u64) as usize],
        };
        let e = clinic_demo::demo_encounter(seed, i, db.tenant_id, patient, clinician, started);
        if !synced {
            db.put_encounter(&e)?;
            n += 1;
            continue;
        }
        let mut steps = vec![Mutation::new(StartEncounter {
            encounter: e.id,
            patient,
            clinician,
            appointment: None,
            encounter_type: e.encounter_type.clone(),
        })];
        for (k, (field, text)) in e.sections.named().into_iter().enumerate() {
            steps.push(Mutation::new(EditEncounter {
                encounter: e.id,
                field: field.into(),
                text: text.into(),
                revision: uuid::Uuid::from_u64_pair(e.id.as_u64_pair().0, 100 + k as u64),
                base: None,
                resolves: vec![],
            }));
        }
        steps.push(Mutation::new(RecordVitals {
            encounter: e.id,
            revision: uuid::Uuid::from_u64_pair(e.id.as_u64_pair().0, 200),
            vitals: e.vitals,
            confirmed: true,
        }));
        steps.push(Mutation::new(ChangeDiagnoses {
            encounter: e.id,
            add: e.diagnoses.clone(),
            remove: vec![],
        }));
        for m in &steps {
            db.commit_mutation(actor, now, m)?;
        }
        let mut made = db
            .encounter(e.id)?
            .ok_or_else(|| ClinicError::internal("a demo encounter was not written"))?;
        made.status = EncounterStatus::Draft;
        let hash = made.content().signed_hash(clinician, now);
        db.commit_mutation(
            actor,
            now,
            &Mutation::new(SignEncounter {
                encounter: e.id,
                appointment: None,
                content_sha256: hash,
            }),
        )?;
        n += 1;
    }
    Ok(n)
}

/// A demo appointment as the mutations a workstation would have queued:
/// booked (scheduled or confirmed), then moved along its status lifecycle.
fn book_synced(
    db: &clinic_store::Db,
    a: Appointment,
    actor: Option<uuid::Uuid>,
    now: chrono::DateTime<chrono::Utc>,
) -> ClinicResult<()> {
    use AppointmentStatus::*;
    let (id, status, reason) = (a.id, a.status, a.status_reason.clone());
    let mut booked = a;
    if !booked.status.is_open() {
        booked.status = Scheduled;
        booked.status_reason = None;
    }
    db.commit_mutation(
        actor,
        now,
        &Mutation::new(clinic_core::scheduling::BookAppointment {
            appointment: booked,
            override_overlap: false,
        }),
    )?;
    let steps: &[AppointmentStatus] = match status {
        Completed => &[Arrived, Completed],
        InProgress => &[Arrived, InProgress],
        Arrived | Cancelled | NoShow | Rescheduled => std::slice::from_ref(&status),
        Scheduled | Confirmed => &[],
    };
    for to in steps {
        let change = AppointmentChange::Status {
            to: *to,
            reason: reason.clone().filter(|_| *to == status),
        };
        db.commit_mutation(
            actor,
            now,
            &Mutation::new(clinic_core::scheduling::ChangeAppointment {
                appointment: id,
                change,
            }),
        )?;
    }
    Ok(())
}

/// Generates the demo clinic into an open store. Refuses if demo data is
/// already there. All demo users share `password` (and so one Argon2id hash,
/// computed once). One transaction: all or nothing.
pub fn generate(
    ws: &mut Workstation,
    size: DemoSize,
    seed: u64,
    password: &Password,
    progress: impl FnMut(u64, u64),
) -> ClinicResult<DemoReport> {
    generate_with(ws, size, seed, password, DemoOptions::default(), progress)
}

/// [`generate`], choosing what goes in besides users, sites and patients.
pub fn generate_with(
    ws: &mut Workstation,
    size: DemoSize,
    seed: u64,
    password: &Password,
    options: DemoOptions,
    mut progress: impl FnMut(u64, u64),
) -> ClinicResult<DemoReport> {
    let started = std::time::Instant::now();
    // Demo data only ever goes into a store made for the demo: in a real
    // clinic's store it would add known-password accounts and thousands of
    // records that can never be deleted.
    if ws.store()?.db().meta("demo")?.is_none() {
        return Err(ClinicError::new(
            ErrorCode::Conflict,
            "Demo data can only go into a demo store: run `clinic demo-data` with an empty --data-dir.",
        ));
    }
    // The server accepts no change without a user: on an enrolled store,
    // demo data is made in the enrolling administrator's name.
    let enrolled_by = ws
        .store()?
        .db()
        .meta("enrolled_by")?
        .and_then(|u| Uuid::parse_str(&u).ok());
    let ws_session_user = ws.session().map(|s| s.user_id);
    let actor = ws_session_user.or(enrolled_by);
    let now = ws.now();
    let users = demo_users(seed, size);
    let hash = hash_password(password)?;
    let types = ws.scheduling().appointment_types()?;
    let store = ws.store_mut()?;
    if store.db().meta("demo_seed")?.is_some() {
        return Err(ClinicError::new(
            ErrorCode::Conflict,
            "This store already holds demo data.",
        ));
    }
    // What the demo makes in the enrolling administrator's name carries
    // their signature when the demo password opens their key; otherwise
    // it waits for their first sign-in here, which signs it.
    if let (None, Some(admin)) = (ws_session_user, actor) {
        let tenant = store.tenant_id();
        if let Some(k) = store.db().staff(admin)?.and_then(|s| s.signing_key) {
            if let Ok(signer) = clinic_core::signing::UserSigner::open(&k, tenant, admin, password)
            {
                store.add_signer(signer);
            }
        }
    }
    let tenant = store.tenant_id();
    let total = size.patients();
    let mut appointments = 0u64;
    let mut encounters = 0u64;
    let mut encounter_seconds = 0.0;
    let mut billing = crate::billing::demo::DemoBilling::default();
    let mut billing_seconds = 0.0;
    let mut inventory = crate::inventory::demo::DemoInventory::default();
    let mut inventory_seconds = 0.0;
    let mut appointments_started = None;
    store.write(|db| {
        // Sites, rooms and staff as any desk makes them (so an enrolled
        // store shares them with the server and every other desk).
        let mut sites = db.sites()?;
        while sites.len() < size.sites() as usize {
            let name = ["Northside", "Riverside"][sites.len() % 2];
            let id = new_id(now);
            let site = SiteDoc {
                id,
                name: name.into(),
                timezone: "Europe/London".into(),
            };
            db.commit_mutation(actor, now, &Mutation::new(SaveDocument::new(site)))?;
            for i in 1..=5 {
                let room = RoomDoc {
                    id: new_id(now),
                    site_id: id,
                    name: format!("Room {i}"),
                    kind: "consulting".into(),
                };
                db.commit_mutation(actor, now, &Mutation::new(SaveDocument::new(room)))?;
            }
            sites = db.sites()?;
        }
        let mut clinicians = Vec::new();
        for u in &users {
            if let Some(c) = db.credentials(&u.email)? {
                if u.role == BuiltinRole::Clinician {
                    clinicians.push(c.user_id);
                }
                continue;
            }
            let id = new_id(now);
            let (_, key) = crate::auth::new_signing_key(tenant, id, password, actor.unwrap_or(id))?;
            let create = CreateUser {
                user: id,
                email: u.email.clone(),
                name: u.name.clone(),
                roles: vec![u.role.key().into()],
                password_hash: hash.clone(),
                specialization: u.specialization.clone(),
                registration_number: u.registration_number.clone(),
                signing_key: Some(key),
            };
            db.commit_mutation(actor, now, &Mutation::new(create))?;
            if u.role == BuiltinRole::Clinician {
                clinicians.push(id);
            }
        }
        let patients = write_patients(db, seed, 0..total, actor, now, &mut |i| {
            if i % 10_000 == 0 {
                progress(i, total);
            }
        })?;
        if options.appointments {
            let started = std::time::Instant::now();
            encounters = write_demo_encounters(db, seed, size, &clinicians, &patients, actor, now)?;
            encounter_seconds = started.elapsed().as_secs_f64();
            appointments_started = Some(std::time::Instant::now());
            appointments = write_demo_appointments(
                db,
                seed,
                size,
                clinicians,
                &patients,
                actor,
                now,
                types.clone(),
            )?;
            let started = std::time::Instant::now();
            billing = crate::billing::demo::write_demo_billing(db, seed, size, actor, now)?;
            billing_seconds = started.elapsed().as_secs_f64();
            let started = std::time::Instant::now();
            inventory = crate::inventory::demo::write_demo_inventory(db, seed, size, actor, now)?;
            inventory_seconds = started.elapsed().as_secs_f64();
        }
        db.set_meta("demo_seed", &format!("{seed}:{size:?}"))?;
        db.append_audit(
            new_id(now),
            actor,
            now,
            AuditEntry {
                action: "demo_data.generate",
                entity_type: "store",
                entity_id: None,
                patient_id: None,
                details: json!({
                    "size": size, "seed": seed, "patients": total, "users": users.len(),
                    "appointments": appointments, "encounters": encounters,
                    "invoices": billing.invoices, "payments": billing.payments,
                    "stock_items": inventory.stock_items,
                    "stock_movements": inventory.stock_movements,
                }),
            },
        )?;
        Ok(())
    })?;
    if ws_session_user.is_none() {
        // The administrator's key was open for the demo only.
        ws.store_mut()?.set_signer(None);
    }
    progress(total, total);
    Ok(DemoReport {
        size,
        seed,
        users: users.len(),
        patients: total,
        sites: size.sites() as usize,
        appointments,
        encounters,
        encounter_seconds,
        invoices: billing.invoices,
        payments: billing.payments,
        billing_seconds,
        stock_items: inventory.stock_items,
        stock_movements: inventory.stock_movements,
        inventory_seconds,
        seconds: started.elapsed().as_secs_f64(),
        appointment_seconds: appointments_started.map_or(0.0, |t| t.elapsed().as_secs_f64()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clinic_store::directory::Site;
    use clinic_store::Store;

    fn store(synced: bool) -> Store {
        let mut s =
            Store::in_memory_for_tests(Uuid::from_u128(1), Uuid::from_u128(2), synced, (1, 1))
                .unwrap();
        let epoch = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
        s.write(|db| {
            for i in 0..2u128 {
                let id = Uuid::from_u128(10 + i);
                let site = Site {
                    id,
                    name: format!("Site {i}"),
                    timezone: "Europe/London".into(),
                };
                db.insert_site(&site, epoch)?;
                for r in 0..5u128 {
                    db.insert_room(
                        Uuid::from_u128(100 + i * 10 + r),
                        id,
                        &format!("Room {r}"),
                        "consulting",
                        epoch,
                    )?;
                }
            }
            Ok(())
        })
        .unwrap();
        s
    }

    #[test]
    fn an_enrolled_store_gets_the_calendar_around_now_as_mutations() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-25T11:07:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let clinicians: Vec<Uuid> = (0..20).map(|i| Uuid::from_u128(1_000 + i)).collect();
        // Queued, not inserted: patients are not needed for the bookings.
        let patients: Vec<Uuid> = (0..2_000).map(|i| Uuid::from_u128(50_000 + i)).collect();
        let mut s = store(true);
        let n = s
            .write(|db| {
                write_demo_appointments(
                    db,
                    1,
                    DemoSize::S,
                    clinicians,
                    &patients,
                    None,
                    now,
                    vec![],
                )
            })
            .unwrap();
        let db = s.db();
        let all = db
            .appointments(&clinic_store::scheduling::AppointmentFilter {
                include_ended: true,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(all.len() as u64, n);
        // 20 clinicians, ~14 a working day, 4 weeks.
        assert!((4_000..7_000).contains(&n), "{n}");
        let window = chrono::Duration::days(SYNCED_APPOINTMENT_DAYS);
        let mut changes = 0;
        for a in &all {
            assert!(a.start >= now - window && a.start <= now + window);
            assert!(a.conflict.is_none(), "{a:?}");
            changes += match a.status {
                AppointmentStatus::Completed | AppointmentStatus::InProgress => 2,
                AppointmentStatus::Scheduled | AppointmentStatus::Confirmed => 0,
                _ => 1,
            };
        }
        assert!(all.iter().any(|a| a.status == AppointmentStatus::Completed));
        assert!(all.iter().any(|a| a.status == AppointmentStatus::Cancelled));
        assert_eq!(db.pending_summary().unwrap().0 as u64, n + changes);
    }

    fn count(db: &clinic_store::Db, sql: &str) -> i64 {
        db.query_docs(&format!("SELECT json_object('n', ({sql}))"), &[])
            .unwrap()
            .first()
            .and_then(|d| d["n"].as_i64())
            .unwrap_or(-1)
    }

    /// On-hand is the sum of the ledger, lot by lot and site by site.
    fn assert_onhand_is_the_ledger(db: &clinic_store::Db) {
        for sql in [
            "SELECT count(*) FROM (SELECT batch_id, site_id, sum(quantity) FROM stock_movements GROUP BY 1, 2
              EXCEPT SELECT batch_id, site_id, quantity FROM stock_onhand)",
            "SELECT count(*) FROM (SELECT batch_id, site_id, quantity FROM stock_onhand
              EXCEPT SELECT batch_id, site_id, sum(quantity) FROM stock_movements GROUP BY 1, 2)",
        ] {
            assert_eq!(count(db, sql), 0, "{sql}");
        }
    }

    /// The one lot below zero, with another lot of its item in stock at
    /// its site.
    fn assert_one_negative_lot(db: &clinic_store::Db) {
        let neg = db.negative_onhand().unwrap();
        assert_eq!(neg.len(), 1, "{neg:?}");
        let lots = db.lots_at(neg[0].item_id, neg[0].site_id).unwrap();
        assert!(lots
            .iter()
            .any(|l| l.batch.id != neg[0].batch_id && l.quantity > 0));
    }

    /// `Db::stock_rows` (the stock list's one pass) says what the items,
    /// their on-hand totals and their lots with stock say, in the same order.
    fn assert_stock_rows_are_the_items_with_their_stock(
        db: &clinic_store::Db,
        today: chrono::NaiveDate,
    ) {
        use clinic_store::inventory::ItemFilter;
        let far = today + chrono::Duration::days(365 * 100);
        for site in db.sites().unwrap() {
            for f in [
                ItemFilter {
                    limit: u32::MAX,
                    include_discontinued: true,
                    ..Default::default()
                },
                ItemFilter {
                    limit: 40,
                    ..Default::default()
                },
                ItemFilter {
                    text: Some("amox".into()),
                    limit: 500,
                    ..Default::default()
                },
            ] {
                let totals: std::collections::HashMap<Uuid, i64> =
                    db.item_totals(site.id).unwrap().into_iter().collect();
                let mut first = std::collections::HashMap::new();
                for (b, o) in db.expiring(Some(site.id), far).unwrap() {
                    first.entry(o.item_id).or_insert(b.expiry);
                }
                let want: Vec<_> = db
                    .stock_items(&f)
                    .unwrap()
                    .into_iter()
                    .map(|i| {
                        (
                            i.id,
                            i.sku,
                            i.unit,
                            i.category_id,
                            i.reorder_point,
                            i.prescription_required,
                            i.discontinued,
                            totals.get(&i.id).copied().unwrap_or(0),
                            first.get(&i.id).copied().flatten(),
                        )
                    })
                    .collect();
                let got: Vec<_> = db
                    .stock_rows(site.id, &f)
                    .unwrap()
                    .into_iter()
                    .map(|r| {
                        (
                            r.id,
                            r.sku,
                            r.unit,
                            r.category_id,
                            r.reorder_point,
                            r.prescription_required,
                            r.discontinued,
                            r.on_hand,
                            r.next_expiry,
                        )
                    })
                    .collect();
                assert!(!want.is_empty());
                assert_eq!(got, want, "{:?}", f.text);
            }
        }
    }

    #[test]
    fn a_standalone_store_gets_the_stock_of_its_size() {
        use clinic_core::inventory::{OrderStatus, TransferStatus};
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-25T11:07:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let today = now.date_naive();
        let size = DemoSize::S;
        let mut s = store(false);
        let out = s
            .write(|db| crate::inventory::demo::write_demo_inventory(db, 1, size, None, now))
            .unwrap();
        let db = s.db();
        assert_eq!(out.stock_items, size.stock_items());
        assert_eq!(out.stock_movements, size.stock_movements());
        assert_eq!(db.stock_item_count().unwrap() as u64, size.stock_items());
        assert_eq!(db.movement_count().unwrap() as u64, size.stock_movements());
        assert_onhand_is_the_ledger(&db);
        assert_one_negative_lot(&db);
        assert_stock_rows_are_the_items_with_their_stock(&db, today);
        // About two years, both sites, every kind a clinic makes.
        let first = db
            .query_docs(
                "SELECT json_object('d', min(on_day), 'e', max(on_day)) FROM stock_movements",
                &[],
            )
            .unwrap()[0]
            .clone();
        let day = |k: &str| {
            chrono::NaiveDate::parse_from_str(first[k].as_str().unwrap(), "%Y-%m-%d").unwrap()
        };
        assert!(
            day("d") >= today - chrono::Duration::days(731)
                && day("d") < today - chrono::Duration::days(700)
        );
        assert!(day("e") <= today);
        assert_eq!(
            count(&db, "SELECT count(DISTINCT site_id) FROM stock_movements"),
            2
        );
        for kind in [
            "receipt",
            "dispense",
            "adjustment",
            "expiry_write_off",
            "transfer_out",
            "transfer_in",
        ] {
            let n = count(
                &db,
                &format!("SELECT count(*) FROM stock_movements WHERE kind = '{kind}'"),
            );
            assert!(n > 0, "{kind}");
        }
        let dispensed = count(
            &db,
            "SELECT count(*) FROM stock_movements WHERE kind = 'dispense'",
        );
        assert!(
            dispensed > size.stock_movements() as i64 * 6 / 10,
            "{dispensed}"
        );
        // Costs are the rules': what each lot cost (a lot kept by lot is
        // received once, so its movements all carry its receipt's cost).
        assert_eq!(
            count(
                &db,
                "SELECT count(*) FROM stock_movements m JOIN stock_batches b ON b.id = m.batch_id
                 WHERE b.lot <> '' AND json_extract(m.doc, '$.unit_cost') <> b.unit_cost"
            ),
            0
        );
        // Expiring soon, exactly two expired lots on the shelf, a few
        // items low (and the three new ones at both sites).
        let until = today + chrono::Duration::days(90);
        let exp = db.expiring(None, until).unwrap();
        let expired = exp.iter().filter(|(b, _)| b.expired_on(today)).count();
        assert_eq!(
            expired,
            2,
            "{:?}",
            exp.iter()
                .filter(|(b, _)| b.expired_on(today))
                .collect::<Vec<_>>()
        );
        assert!(exp.len() - expired >= 5, "{}", exp.len());
        let points = db.reorder_points().unwrap();
        let mut low = 0;
        for site in db.sites().unwrap() {
            let totals: std::collections::HashMap<Uuid, i64> =
                db.item_totals(site.id).unwrap().into_iter().collect();
            low += points
                .iter()
                .filter(|(id, p)| totals.get(id).copied().unwrap_or(0) < *p)
                .count();
        }
        assert!((6 + 1..=6 + 40).contains(&low), "{low}");
        // Orders: received, one partly received, one waiting for approval.
        let orders = db.purchase_orders().unwrap();
        let with = |st: OrderStatus| orders.iter().filter(|o| o.status == st).count();
        assert!(with(OrderStatus::Received) >= 3, "{orders:?}");
        assert_eq!(with(OrderStatus::PartiallyReceived), 1);
        assert_eq!(with(OrderStatus::Pending), 1);
        let transfers = db.stock_transfers().unwrap();
        assert!(transfers
            .iter()
            .any(|t| t.status == TransferStatus::Received));
        assert_eq!(
            transfers
                .iter()
                .filter(|t| t.status == TransferStatus::InTransit)
                .count(),
            1
        );
        // The same seed makes the same stock.
        let mut again = store(false);
        let out2 = again
            .write(|db| crate::inventory::demo::write_demo_inventory(db, 1, size, None, now))
            .unwrap();
        assert_eq!(out, out2);
        let sums = |db: &clinic_store::Db| {
            db.query_docs(
                "SELECT json_object('q', sum(abs(quantity)), 'n', count(*), 'k', group_concat(DISTINCT kind)) FROM stock_movements",
                &[],
            )
            .unwrap()
        };
        assert_eq!(sums(&db), sums(&again.db()));
    }

    #[test]
    fn an_enrolled_store_gets_opening_stock_and_the_last_days_as_mutations() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-25T11:07:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let mut s = store(true);
        s.write(|db| Ok(db.add_number_block("purchase_order", 1, 101)?))
            .unwrap();
        let out = s
            .write(|db| crate::inventory::demo::write_demo_inventory(db, 1, DemoSize::S, None, now))
            .unwrap();
        let db = s.db();
        assert_eq!(out.stock_items, DemoSize::S.stock_items());
        assert_eq!(out.stock_movements as i64, db.movement_count().unwrap());
        assert!(
            out.stock_movements > 1_000 && out.stock_movements < 10_000,
            "{out:?}"
        );
        assert_onhand_is_the_ledger(&db);
        assert_one_negative_lot(&db);
        // Queued, in a desk's mutations, at most a few hundred receipts each.
        assert!(db.pending_summary().unwrap().0 > 1_000);
        assert_eq!(
            count(&db, "SELECT count(*) FROM outbox WHERE kind = 'receive_stock' AND length(mutation) > 200000"),
            0
        );
        // The orders of the last days: one waiting, one partly received.
        use clinic_core::inventory::OrderStatus;
        let orders = db.purchase_orders().unwrap();
        assert!(orders.iter().any(|o| o.status == OrderStatus::Pending));
        assert!(orders
            .iter()
            .any(|o| o.status == OrderStatus::PartiallyReceived));
    }
}
