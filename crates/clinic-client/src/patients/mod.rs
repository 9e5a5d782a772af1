//! Patients' use-cases: register (with a duplicate warning), find, show
//! (an audited read), edit, archive, restore and merge. The rules live in
//! `clinic_core::patients`; here they are checked against the session and
//! the local store, and committed as mutations with their audit events.

use crate::workstation::{merge_validation, new_id, Registered, Session, Workstation};
use clinic_core::audit::AuditEntry;
use clinic_core::patients::*;
use clinic_core::permissions::{Action, Module, SensitiveFlag};
use clinic_core::sync::Mutation;
use clinic_core::{ClinicError, ClinicResult, ErrorCode};
use clinic_store::patients::search::PatientSummary;
use serde_json::json;
use uuid::Uuid;

/// The patients' use-cases of a workstation: `ws.patients()`.
#[derive(Debug)]
pub struct Patients<'w> {
    ws: &'w mut Workstation,
}

impl Workstation {
    pub fn patients(&mut self) -> Patients<'_> {
        Patients { ws: self }
    }
}

/// Whether the session's role may see a group of fields.
pub(crate) fn may_see(s: &Session) -> impl Fn(SensitiveFlag) -> bool + '_ {
    |f| s.permissions.has_flag(f)
}

impl Patients<'_> {
    /// Possible duplicates of a person about to be registered (no write).
    pub fn find_duplicates(
        &mut self,
        details: &PatientDetails,
    ) -> ClinicResult<Vec<DuplicateCandidate>> {
        let (_, now) = self.ws.act(Module::Patients, Action::View)?;
        let mut d = details.clone();
        validate_details(&mut d, now.date_naive())?;
        Ok(self.ws.store()?.db().duplicate_candidates(&d, None)?)
    }

    /// Registers a patient. Returns the record and any duplicate candidates
    /// found at the moment of registration (shown to the person; the UI asks
    /// before saving through [`Workstation::find_duplicates`]).
    pub fn register(
        &mut self,
        details: PatientDetails,
        lists: NewLists,
    ) -> ClinicResult<Registered> {
        let (s, now) = self.ws.act(Module::Patients, Action::Create)?;
        let mut details = details;
        let mut lists = lists;
        let today = now.date_naive();
        let a = validate_details(&mut details, today);
        let b = validate_new_lists(&mut lists, today);
        merge_validation(a, b)?;
        for f in lists.flags_touched() {
            s.permissions.require_flag(f)?;
        }
        for field in changed_fields(&PatientDetails::default(), &details) {
            if let Some(flag) = field_flag(field) {
                s.permissions.require_flag(flag)?;
            }
        }
        let id = new_id(now);
        let lists = lists.assign_ids(|| new_id(now));
        let store = self.ws.store_mut()?;
        let candidates = store.db().duplicate_candidates(&details, None)?;
        let mut patient = self
            .ws
            .commit_change(
                &s,
                now,
                |db| {
                    Ok(Mutation::new(RegisterPatient {
                        patient: id,
                        patient_number: format_patient_number(db.next_number("patient")?),
                        details: details.clone(),
                        lists,
                    }))
                },
                |_| {
                    vec![AuditEntry::patient(
                        "patient.create",
                        id,
                        json!({"duplicate_candidates": candidates.len()}),
                    )]
                },
            )?
            .after::<Patient>(id)?;
        redact(&mut patient, may_see(&s));
        Ok(Registered {
            patient,
            duplicate_candidates: candidates,
        })
    }

    /// Opens a patient's record. This is a read of health data: audited.
    pub fn show(&mut self, id: Uuid) -> ClinicResult<Patient> {
        let (s, now) = self.ws.act(Module::Patients, Action::View)?;
        let mut p = self
            .ws
            .store()?
            .db()
            .patient(id)?
            .ok_or_else(|| ClinicError::not_found("Patient"))?;
        self.ws
            .audit_read(&s, now, AuditEntry::patient("patient.read", id, json!({})))?;
        redact(&mut p, may_see(&s));
        Ok(p)
    }

    /// Resolves a patient id or patient number as typed.
    pub fn resolve(&mut self, text: &str) -> ClinicResult<Uuid> {
        self.ws.act(Module::Patients, Action::View)?;
        if let Ok(id) = Uuid::parse_str(text.trim()) {
            return Ok(id);
        }
        let db = self.ws.store()?.db();
        if clinic_core::patients::parse_patient_number(text).is_some() {
            if let Some(id) = db.patient_by_number(text.trim())? {
                return Ok(id);
            }
        }
        Err(ClinicError::new(
            ErrorCode::NotFound,
            "No patient has that id or patient number.",
        ))
    }

    pub fn search(&mut self, text: &str, limit: usize) -> ClinicResult<Vec<PatientSummary>> {
        self.ws.act(Module::Patients, Action::View)?;
        if text.chars().count() > 200 {
            return Err(ClinicError::field(
                "query",
                "is too long (at most 200 characters)",
            ));
        }
        Ok(self
            .ws
            .store()?
            .db()
            .search_patients(text, limit.clamp(1, 200))?)
    }

    /// Edits a patient: validates the whole result, refuses changes to groups
    /// of fields the role may not touch, and records which fields changed.
    pub fn edit(&mut self, id: Uuid, patch: PatientPatch) -> ClinicResult<Patient> {
        let (s, now) = self.ws.act(Module::Patients, Action::Edit)?;
        let store = self.ws.store_mut()?;
        let current = store
            .db()
            .patient(id)?
            .ok_or_else(|| ClinicError::not_found("Patient"))?;
        ensure_editable(&current)?;
        // Permission first, on every field the edit names, changed or not:
        // the answer must not reveal a hidden field's value.
        for f in patch.touched_fields() {
            if let Some(flag) = field_flag(f) {
                s.permissions.require_flag(flag)?;
            }
        }
        for f in patch.add.flags_touched() {
            s.permissions.require_flag(f)?;
        }
        let mut details = current.details.clone();
        patch.apply_to(&mut details);
        let mut add = patch.add.clone();
        let today = now.date_naive();
        merge_validation(
            validate_details(&mut details, today),
            validate_new_lists(&mut add, today),
        )?;
        // Compared after validation, so a value that only normalises back to
        // what was stored ("gb" → "GB") is not a change.
        let changed = changed_fields(&current.details, &details);
        let items = current.lists.items();
        let guard = |r: &Uuid| items.iter().find(|(i, _)| i == r).map(|(_, flag)| *flag);
        if patch.remove_ids.iter().any(|r| {
            guard(r)
                .flatten()
                .is_some_and(|f| !s.permissions.has_flag(f))
        }) {
            return Err(ClinicError::forbidden(
                "Your role does not allow removing these items.",
            ));
        }
        let new_items = add.assign_ids(|| new_id(now));
        let added = new_items.items().len();
        if patch.remove_ids.iter().any(|r| guard(r).is_none()) {
            return Err(ClinicError::new(
                ErrorCode::NotFound,
                "One of the items to remove does not belong to this patient.",
            ));
        }
        let removed = patch.remove_ids.len();
        let m = Mutation::new(UpdatePatient {
            patient: id,
            set: changed_values(&current.details, &details),
            add: new_items,
            remove_ids: patch.remove_ids.clone(),
        });
        let mut updated = self
            .ws
            .commit_change(
                &s,
                now,
                |_| Ok(m),
                |_| {
                    vec![AuditEntry::patient(
                        "patient.update",
                        id,
                        json!({"fields": changed, "items_added": added, "items_removed": removed}),
                    )]
                },
            )?
            .after::<Patient>(id)?;
        redact(&mut updated, may_see(&s));
        Ok(updated)
    }

    /// Archives (soft-deletes) a patient: gone from lists and searches, kept
    /// for retention. The reason is kept with the record (it is free text and
    /// may name the patient), not in the audit trail.
    pub fn archive(&mut self, id: Uuid, reason: &str) -> ClinicResult<()> {
        let (s, now) = self.ws.act(Module::Patients, Action::Delete)?;
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > 500 {
            return Err(ClinicError::field(
                "reason",
                "say why the record is archived (at most 500 characters)",
            ));
        }
        // Archiving a merged or archived record is refused by the rule itself.
        let m = Mutation::new(ArchivePatient {
            patient: id,
            reason: reason.to_string(),
        });
        self.ws
            .commit_change(
                &s,
                now,
                |_| Ok(m),
                |_| vec![AuditEntry::patient("patient.archive", id, json!({}))],
            )
            .map(|_| ())
    }

    /// Brings an archived patient back (a record archived by mistake).
    /// Records merged into another stay retired.
    pub fn restore(&mut self, id: Uuid) -> ClinicResult<Patient> {
        let (s, now) = self.ws.act(Module::Patients, Action::Delete)?;
        // A merged record stays retired, and a live one cannot be restored:
        // both are refused by the rule itself.
        let mut p = self
            .ws
            .commit_change(
                &s,
                now,
                |_| Ok(Mutation::new(RestorePatient { patient: id })),
                |_| vec![AuditEntry::patient("patient.restore", id, json!({}))],
            )?
            .after::<Patient>(id)?;
        redact(&mut p, may_see(&s));
        Ok(p)
    }

    /// Merges `duplicate` into `keep`: the survivor gains the duplicate's list
    /// items and fills its empty fields from it; the duplicate is archived and
    /// points at the survivor. Both records' audit trails note the merge.
    pub fn merge(&mut self, keep: Uuid, duplicate: Uuid) -> ClinicResult<Patient> {
        let (s, now) = self.ws.act(Module::Patients, Action::Delete)?;
        s.permissions.require(Module::Patients, Action::Edit)?;
        for f in SensitiveFlag::ALL {
            s.permissions.require_flag(f).map_err(|_| ClinicError::forbidden("Merging records needs access to all patient information; ask an administrator."))?;
        }
        // Two different, editable records with no conflicting national
        // identifiers: checked by the merge rule itself.
        let done = self.ws.commit_change(
            &s,
            now,
            |_| Ok(Mutation::new(MergePatients { keep, duplicate })),
            |c| {
                let filled = changed_fields(
                    &c.before
                        .get::<Patient>(keep)
                        .map(|p| p.details.clone())
                        .unwrap_or_default(),
                    &c.after
                        .get::<Patient>(keep)
                        .map(|p| p.details.clone())
                        .unwrap_or_default(),
                );
                vec![
                    AuditEntry::patient(
                        "patient.merge",
                        keep,
                        json!({"merged": duplicate, "fields_filled": filled}),
                    ),
                    AuditEntry::patient(
                        "patient.merged_into",
                        duplicate,
                        json!({"survivor": keep}),
                    ),
                ]
            },
        )?;
        Ok(done.after::<Patient>(keep)?)
    }
}
