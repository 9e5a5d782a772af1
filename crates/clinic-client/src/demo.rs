//! `clinic demo-data`: fills a store with the deterministic clinic of
//! `performance.md` (users and patients now; other domains as they arrive).

use crate::auth::{hash_password, Password};
use crate::workstation::{new_id, Workstation};
use clinic_core::audit::AuditEntry;
use clinic_core::demo::{demo_patient, demo_users, DemoSize};
use clinic_core::patient::{validate_details, validate_new_lists};
use clinic_core::permissions::BuiltinRole;
use clinic_core::{ClinicError, ClinicResult, ErrorCode};
use clinic_store::identity::{ClinicianProfile, Site};
use serde::Serialize;
use serde_json::json;

#[derive(Debug, Serialize)]
pub struct DemoReport {
    pub size: DemoSize,
    pub seed: u64,
    pub users: usize,
    pub patients: u64,
    pub sites: usize,
    pub seconds: f64,
}

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
        store.write(|db| db.set_meta("demo", "1"))
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
    let today = now.date_naive();
    let synced = db.is_synced()?;
    for i in range {
        let (mut details, mut lists) = demo_patient(seed, i);
        validate_details(&mut details, today)?;
        validate_new_lists(&mut lists, today)?;
        let id = new_id(now);
        let lists = lists.assign_ids(|| new_id(now));
        if synced {
            let m = clinic_core::sync::Mutation::RegisterPatient {
                patient: id,
                patient_number: clinic_core::patient_number::format_patient_number(
                    db.next_number("patient")?,
                ),
                details,
                lists,
            };
            db.commit_mutation(actor, now, &m)?;
        } else {
            db.insert_patient(id, &details, &lists, now)?;
        }
        progress(i);
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
    let actor = ws.session().map(|s| s.user_id);
    let now = ws.now();
    let users = demo_users(seed, size);
    let hash = hash_password(password)?;
    let store = ws.store_mut()?;
    if store.db().meta("demo_seed")?.is_some() {
        return Err(ClinicError::new(
            ErrorCode::Conflict,
            "This store already holds demo data.",
        ));
    }
    let total = size.patients();
    store.write(|db| {
        let mut sites = db.sites()?;
        while sites.len() < size.sites() as usize {
            let name = ["Northside", "Riverside"][sites.len() % 2];
            let id = new_id(now);
            db.insert_site(
                &Site {
                    id,
                    name: name.into(),
                    timezone: "Europe/London".into(),
                },
                now,
            )?;
            for i in 1..=5 {
                db.insert_room(new_id(now), id, &format!("Room {i}"), "consulting", now)?;
            }
            sites = db.sites()?;
        }
        for u in &users {
            if db.credentials(&u.email)?.is_some() {
                continue;
            }
            let role = db
                .role_by_key(u.role.key())?
                .ok_or_else(|| ClinicError::internal("role missing"))?;
            let id = new_id(now);
            db.insert_user(id, &u.email, &u.name, &hash, &[role.id], now)?;
            if u.role == BuiltinRole::Clinician {
                db.upsert_clinician_profile(
                    id,
                    &ClinicianProfile {
                        specialization: u.specialization.clone(),
                        registration_number: u.registration_number.clone(),
                        ..Default::default()
                    },
                    now,
                )?;
            }
        }
        write_demo_patients(db, seed, 0..total, actor, now, &mut |i| {
            if i % 10_000 == 0 {
                progress(i, total);
            }
        })?;
        db.set_meta("demo_seed", &format!("{seed}:{size:?}"))?;
        db.append_audit(new_id(now), actor, now, AuditEntry {
            action: "demo_data.generate",
            entity_type: "store",
            entity_id: None,
            patient_id: None,
            details: json!({"size": size, "seed": seed, "patients": total, "users": users.len()}),
        })?;
        Ok(())
    })?;
    progress(total, total);
    Ok(DemoReport {
        size,
        seed,
        users: users.len(),
        patients: total,
        sites: size.sites() as usize,
        seconds: started.elapsed().as_secs_f64(),
    })
}
