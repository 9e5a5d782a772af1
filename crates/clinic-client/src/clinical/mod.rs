//! Clinical use-cases: a clinician's day, a patient's chart (an audited
//! read), and the note from its start to its signature: drafts autosaved
//! to this workstation while typing and made into one edit per field when
//! the person moves on (so the feed never carries keystrokes), vitals,
//! diagnoses, signing and addenda. The rules live in
//! `clinic_core::clinical`; here they meet the session and the store.

pub mod desk;
pub mod prescriptions;

use crate::workstation::{new_id, Session, Workstation};
use chrono::{DateTime, SubsecRound, Utc};
use clinic_core::audit::AuditEntry;
use clinic_core::clinical::*;
use clinic_core::patients::{redact, Patient};
use clinic_core::permissions::{Action, Module, SensitiveFlag};
use clinic_core::sync::{Mutation, MutationKind, RecordKind};
use clinic_core::{ClinicError, ClinicResult, ErrorCode};
use clinic_store::clinical::Draft;
use clinic_store::Db;
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

/// The field a draft addendum is kept under.
pub const ADDENDUM_DRAFT: &str = "addendum";

/// The clinical use-cases of a workstation: `ws.clinical()`.
#[derive(Debug)]
pub struct Clinical<'w> {
    pub(crate) ws: &'w mut Workstation,
}

impl Workstation {
    pub fn clinical(&mut self) -> Clinical<'_> {
        Clinical { ws: self }
    }
}

/// An encounter as shown: the record, who and whom, this desk's unsaved
/// drafts of the person looking, and whether its signature holds.
#[derive(Debug, Clone, Serialize)]
pub struct EncounterView {
    #[serde(flatten)]
    pub encounter: Encounter,
    pub patient_name: String,
    pub patient_number: String,
    pub clinician_name: String,
    /// Text typed on this desk and not yet an edit (autosaved).
    pub drafts: Vec<DraftView>,
    /// `Some(true)` when signed and the hash still matches.
    pub signature_valid: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DraftView {
    pub field: String,
    pub text: String,
    pub saved_at: DateTime<Utc>,
}

/// One encounter in a chart's list.
#[derive(Debug, Clone, Serialize)]
pub struct EncounterSummary {
    pub id: Uuid,
    pub started_at: DateTime<Utc>,
    pub status: EncounterStatus,
    pub encounter_type: String,
    pub clinician_name: String,
    pub chief_complaint: String,
    pub assessment: String,
    pub diagnoses: Vec<Diagnosis>,
}

/// One set of vitals in a chart's trend.
#[derive(Debug, Clone, Serialize)]
pub struct VitalsPoint {
    pub at: DateTime<Utc>,
    pub encounter_id: Uuid,
    pub vitals: Vitals,
}

/// A patient's chart: the record (with problems, allergies and
/// medications), the last encounters, and the vitals over time.
#[derive(Debug, Clone, Serialize)]
pub struct Chart {
    pub patient: Patient,
    pub encounters: Vec<EncounterSummary>,
    /// Oldest first.
    pub vitals: Vec<VitalsPoint>,
}

/// How many encounters a chart lists.
pub const CHART_ENCOUNTERS: u32 = 20;

/// What making drafts into edits did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FlushReport {
    /// Edits made.
    pub saved: usize,
    /// Drafts of notes signed meanwhile, kept as draft addenda.
    pub to_addenda: usize,
    /// Drafts kept because their text is refused (a malformed date), with why.
    pub kept: Vec<(Uuid, String, ClinicError)>,
}

fn staff_name(db: &Db, id: Uuid) -> String {
    db.user(id)
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| "(unknown clinician)".into())
}

fn field_label(field: &str) -> String {
    let mut s = field.replace('_', " ");
    if let Some(c) = s.get(0..1) {
        let up = c.to_uppercase();
        s.replace_range(0..1, &up);
    }
    s
}

impl Clinical<'_> {
    /// The session, allowed `action` on clinical records and the medical history.
    fn act(&mut self, action: Action) -> ClinicResult<(Session, DateTime<Utc>)> {
        self.act_in(Module::Clinical, action)
    }

    /// The session, allowed `action` in `module` (clinical records or
    /// prescriptions) and the medical history.
    pub(crate) fn act_in(
        &mut self,
        module: Module,
        action: Action,
    ) -> ClinicResult<(Session, DateTime<Utc>)> {
        let (s, now) = self.ws.act(module, action)?;
        s.permissions.require_flag(SensitiveFlag::MedicalHistory)?;
        Ok((s, now))
    }

    pub(crate) fn load(&self, id: Uuid) -> ClinicResult<Encounter> {
        self.ws
            .store()?
            .db()
            .encounter(id)?
            .ok_or_else(|| ClinicError::not_found("Encounter"))
    }

    /// Starts an encounter for a patient, from one of their appointments
    /// (which goes in progress) or without one.
    pub fn start(
        &mut self,
        patient: Uuid,
        appointment: Option<Uuid>,
        encounter_type: Option<&str>,
    ) -> ClinicResult<Encounter> {
        let (s, now) = self.act(Action::Create)?;
        let id = new_id(now);
        let kind = encounter_type.unwrap_or(ENCOUNTER_TYPES[0].key).to_string();
        {
            let db = self.ws.store()?.db();
            if db.patient(patient)?.is_none() {
                return Err(ClinicError::not_found("Patient"));
            }
            if let Some(a) = appointment {
                if db.appointment(a)?.is_none() {
                    return Err(ClinicError::not_found("Appointment"));
                }
            }
        }
        let c = self.ws.commit_change(
            &s,
            now,
            |_| {
                Ok(Mutation::new(StartEncounter {
                    encounter: id,
                    patient,
                    clinician: s.user_id,
                    appointment,
                    encounter_type: kind,
                }))
            },
            |_| {
                vec![encounter_audit(
                    "encounter.start",
                    id,
                    patient,
                    json!({"appointment": appointment}),
                )]
            },
        )?;
        Ok(c.after::<Encounter>(id)?)
    }

    /// Autosave: keeps what is typed into a field on this workstation
    /// (nothing is sent). Typed into a note signed meanwhile, it is kept as
    /// the person's draft addendum instead.
    pub fn save_draft(
        &mut self,
        encounter: Uuid,
        field: &str,
        text: &str,
    ) -> ClinicResult<DraftView> {
        let (s, now) = self.act(Action::Edit)?;
        if field != ADDENDUM_DRAFT && !TEXT_FIELDS.contains(&field) {
            return Err(ClinicError::field(
                "field",
                format!("{field:?} is not a field of a note"),
            ));
        }
        if text.chars().count() > MAX_SECTION_CHARS {
            return Err(ClinicError::field(
                field,
                format!("must be at most {MAX_SECTION_CHARS} characters"),
            ));
        }
        let e = self.load(encounter)?;
        let (field, text) = if e.is_signed() && field != ADDENDUM_DRAFT {
            (
                ADDENDUM_DRAFT.to_string(),
                format!("{}: {text}", field_label(field)),
            )
        } else {
            (field.to_string(), text.to_string())
        };
        let d = Draft {
            encounter_id: encounter,
            base: e.current.get(&field).copied(),
            field,
            user_id: s.user_id,
            text,
            saved_at: now,
        };
        self.ws.store()?.db().save_draft(&d)?;
        Ok(DraftView {
            field: d.field,
            text: d.text,
            saved_at: d.saved_at,
        })
    }

    /// Makes the signed-in person's drafts into edits, one per field: of one
    /// encounter, or all of theirs last saved before `idle_since`.
    pub fn flush_drafts(
        &mut self,
        encounter: Option<Uuid>,
        idle_since: Option<DateTime<Utc>>,
    ) -> ClinicResult<FlushReport> {
        let (s, now) = self.act(Action::Edit)?;
        let drafts: Vec<Draft> = {
            let db = self.ws.store()?.db();
            db.user_drafts(s.user_id, idle_since)?
                .into_iter()
                .filter(|d| {
                    d.field != ADDENDUM_DRAFT && encounter.is_none_or(|e| e == d.encounter_id)
                })
                .collect()
        };
        let mut report = FlushReport::default();
        for d in drafts {
            let e = self.load(d.encounter_id)?;
            if e.is_signed() {
                self.keep_as_addendum(&d, s.user_id, now)?;
                report.to_addenda += 1;
                continue;
            }
            if e.field_text(&d.field).as_deref() == Some(d.text.as_str()) {
                self.ws
                    .store()?
                    .db()
                    .delete_draft(d.encounter_id, &d.field, s.user_id)?;
                continue;
            }
            let revision = new_id(now);
            let result = self.ws.commit_change(
                &s,
                now,
                |db| {
                    db.delete_draft(d.encounter_id, &d.field, s.user_id)?;
                    Ok(Mutation::new(EditEncounter {
                        encounter: d.encounter_id,
                        field: d.field.clone(),
                        text: d.text.clone(),
                        revision,
                        base: d.base,
                        resolves: vec![],
                    }))
                },
                |_| {
                    vec![encounter_audit(
                        "encounter.edit",
                        e.id,
                        e.patient_id,
                        json!({"field": d.field}),
                    )]
                },
            );
            match result {
                Ok(_) => report.saved += 1,
                Err(err) if err.code == ErrorCode::Validation => {
                    report.kept.push((d.encounter_id, d.field.clone(), err))
                }
                Err(err) => return Err(err),
            }
        }
        Ok(report)
    }

    /// Appends a draft's text to its author's draft addendum of that note
    /// and drops the draft (the note was signed on another desk).
    fn keep_as_addendum(&mut self, d: &Draft, user: Uuid, now: DateTime<Utc>) -> ClinicResult<()> {
        let text = format!("{}: {}", field_label(&d.field), d.text);
        self.append_addendum_draft(d.encounter_id, user, &text, now)?;
        self.ws
            .store()?
            .db()
            .delete_draft(d.encounter_id, &d.field, user)?;
        Ok(())
    }

    /// Adds `text` to `user`'s draft addendum of a note (false: it holds it already).
    fn append_addendum_draft(
        &mut self,
        encounter: Uuid,
        user: Uuid,
        text: &str,
        now: DateTime<Utc>,
    ) -> ClinicResult<bool> {
        let db = self.ws.store()?.db();
        let existing = db
            .encounter_drafts(encounter)?
            .into_iter()
            .find(|x| x.field == ADDENDUM_DRAFT && x.user_id == user);
        let text = match existing {
            Some(x) if x.text.contains(text) => return Ok(false),
            Some(x) => format!("{}\n\n{text}", x.text),
            None => text.to_string(),
        };
        db.save_draft(&Draft {
            encounter_id: encounter,
            field: ADDENDUM_DRAFT.into(),
            user_id: user,
            text,
            base: None,
            saved_at: now,
        })?;
        Ok(true)
    }

    /// Sets one field now (the CLI; the editor autosaves drafts instead):
    /// typed over the field as this desk has it. `resolves` settles
    /// siblings of that field.
    pub fn edit(
        &mut self,
        encounter: Uuid,
        field: &str,
        text: &str,
        resolves: Vec<Uuid>,
    ) -> ClinicResult<Encounter> {
        let (s, now) = self.act(Action::Edit)?;
        let e = self.load(encounter)?;
        let base = e.current.get(field).copied();
        let revision = new_id(now);
        let c = self.ws.commit_change(
            &s,
            now,
            |db| {
                db.delete_draft(encounter, field, s.user_id)?;
                Ok(Mutation::new(EditEncounter {
                    encounter,
                    field: field.to_string(),
                    text: text.to_string(),
                    revision,
                    base,
                    resolves,
                }))
            },
            |_| {
                vec![encounter_audit(
                    "encounter.edit",
                    encounter,
                    e.patient_id,
                    json!({"field": field}),
                )]
            },
        )?;
        Ok(c.after::<Encounter>(encounter)?)
    }

    /// Records vitals; unusual values are refused (`CONFIRMATION_NEEDED`,
    /// each named) unless `confirmed`.
    pub fn record_vitals(
        &mut self,
        encounter: Uuid,
        vitals: Vitals,
        confirmed: bool,
    ) -> ClinicResult<Encounter> {
        let (s, now) = self.act(Action::Edit)?;
        let e = self.load(encounter)?;
        let revision = new_id(now);
        let c = self.ws.commit_change(
            &s,
            now,
            |_| {
                Ok(Mutation::new(RecordVitals {
                    encounter,
                    revision,
                    vitals,
                    confirmed,
                }))
            },
            |_| {
                vec![encounter_audit(
                    "encounter.vitals",
                    encounter,
                    e.patient_id,
                    json!({"confirmed": confirmed}),
                )]
            },
        )?;
        Ok(c.after::<Encounter>(encounter)?)
    }

    /// Adds diagnoses (given without ids) and removes others by id. A
    /// code must be one of the shipped ICD-10-CM list; a diagnosis given
    /// as a code alone takes the list's description.
    pub fn change_diagnoses(
        &mut self,
        encounter: Uuid,
        add: Vec<Diagnosis>,
        remove: Vec<Uuid>,
    ) -> ClinicResult<Encounter> {
        let list = icd10::shipped();
        let mut add = add;
        for d in &mut add {
            if let Some(code) = d.code.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
                let Some(known) = list.get(code) else {
                    let near: Vec<String> = list
                        .search(code.get(..3).unwrap_or(code), 3)
                        .iter()
                        .map(|c| format!("{} {}", c.code, c.description))
                        .collect();
                    return Err(ClinicError::field(
                        "diagnoses.code",
                        format!(
                            "{code} is not in the ICD-10-CM list this product ships{}",
                            if near.is_empty() {
                                String::new()
                            } else {
                                format!(" (near it: {})", near.join("; "))
                            }
                        ),
                    ));
                };
                d.code = Some(known.code.clone());
                if d.text.trim().is_empty() {
                    d.text = known.description.clone();
                }
            }
        }
        let (s, now) = self.act(Action::Edit)?;
        let e = self.load(encounter)?;
        let add: Vec<Diagnosis> = add
            .into_iter()
            .map(|d| Diagnosis {
                id: if d.id.is_nil() { new_id(now) } else { d.id },
                ..d
            })
            .collect();
        let c = self.ws.commit_change(
            &s,
            now,
            |_| {
                Ok(Mutation::new(ChangeDiagnoses {
                    encounter,
                    add,
                    remove,
                }))
            },
            |_| {
                vec![encounter_audit(
                    "encounter.diagnoses",
                    encounter,
                    e.patient_id,
                    json!({}),
                )]
            },
        )?;
        Ok(c.after::<Encounter>(encounter)?)
    }

    /// Signs the note as it stands, the person's drafts of it saved first.
    pub fn sign(&mut self, encounter: Uuid) -> ClinicResult<Encounter> {
        let report = self.flush_drafts(Some(encounter), None)?;
        if let Some((_, _, err)) = report.kept.into_iter().next() {
            return Err(err);
        }
        let (s, now) = self.act(Action::Edit)?;
        let now = now.trunc_subsecs(6);
        let e = self.load(encounter)?;
        let content_sha256 = e.content().signed_hash(s.user_id, now);
        let c = self.ws.commit_change(
            &s,
            now,
            |_| {
                Ok(Mutation::new(SignEncounter {
                    encounter,
                    appointment: e.appointment_id,
                    content_sha256: content_sha256.clone(),
                }))
            },
            |_| {
                vec![encounter_audit(
                    "encounter.sign",
                    encounter,
                    e.patient_id,
                    json!({"content_sha256": content_sha256}),
                )]
            },
        )?;
        Ok(c.after::<Encounter>(encounter)?)
    }

    /// Adds an addendum to a signed note, signed as it is written; the
    /// person's draft addendum of that note, if any, is done with.
    pub fn add_addendum(&mut self, encounter: Uuid, text: &str) -> ClinicResult<Encounter> {
        let (s, now) = self.act(Action::Create)?;
        let now = now.trunc_subsecs(6);
        let e = self.load(encounter)?;
        let Some(sig) = e.signature.clone() else {
            return Err(ClinicError::conflict(
                "This note is not signed yet: change the note itself instead of adding an addendum.",
            ));
        };
        let id = new_id(now);
        let text = text.trim().to_string();
        let hash = addendum_hash(&sig.content_sha256, id, &text, s.user_id, now);
        let c = self.ws.commit_change(
            &s,
            now,
            |db| {
                db.delete_draft(encounter, ADDENDUM_DRAFT, s.user_id)?;
                Ok(Mutation::new(AddAddendum {
                    encounter,
                    addendum: id,
                    text: text.clone(),
                    content_sha256: hash.clone(),
                }))
            },
            |_| {
                vec![encounter_audit(
                    "encounter.addendum",
                    encounter,
                    e.patient_id,
                    json!({"addendum": id}),
                )]
            },
        )?;
        Ok(c.after::<Encounter>(encounter)?)
    }

    /// Opens an encounter: a read of health data, audited.
    pub fn show(&mut self, encounter: Uuid) -> ClinicResult<EncounterView> {
        let (s, now) = self.act(Action::View)?;
        let e = self.load(encounter)?;
        self.ws.audit_read(
            &s,
            now,
            encounter_audit("encounter.read", encounter, e.patient_id, json!({})),
        )?;
        let db = self.ws.store()?.db();
        let patient = db.patient(e.patient_id)?;
        let drafts = db
            .encounter_drafts(encounter)?
            .into_iter()
            .filter(|d| d.user_id == s.user_id)
            .map(|d| DraftView {
                field: d.field,
                text: d.text,
                saved_at: d.saved_at,
            })
            .collect();
        Ok(EncounterView {
            patient_name: patient
                .as_ref()
                .map(|p| format!("{} {}", p.details.first_name, p.details.last_name))
                .unwrap_or_default(),
            patient_number: patient.map(|p| p.patient_number).unwrap_or_default(),
            clinician_name: staff_name(&db, e.clinician_id),
            drafts,
            signature_valid: e.signature.as_ref().map(|_| e.verify().is_ok()),
            encounter: e,
        })
    }

    /// Recomputes a signed note's hash (and each addendum's):
    /// `SIGNATURE_MISMATCH` when the stored note no longer matches.
    pub fn verify(&mut self, encounter: Uuid) -> ClinicResult<Encounter> {
        self.act(Action::View)?;
        let e = self.load(encounter)?;
        e.verify()?;
        Ok(e)
    }

    /// A patient's chart: an audited read.
    pub fn chart(&mut self, patient: Uuid) -> ClinicResult<Chart> {
        let (s, now) = self.act(Action::View)?;
        let mut p = self
            .ws
            .store()?
            .db()
            .patient(patient)?
            .ok_or_else(|| ClinicError::not_found("Patient"))?;
        self.ws.audit_read(
            &s,
            now,
            AuditEntry::patient("chart.read", patient, json!({})),
        )?;
        let db = self.ws.store()?.db();
        let encounters = db.patient_encounters(patient, CHART_ENCOUNTERS)?;
        let mut vitals: Vec<VitalsPoint> = encounters
            .iter()
            .filter(|e| !e.vitals.is_empty())
            .map(|e| VitalsPoint {
                at: e.vitals_at.unwrap_or(e.started_at),
                encounter_id: e.id,
                vitals: e.vitals,
            })
            .collect();
        vitals.reverse();
        let encounters = encounters
            .into_iter()
            .map(|e| EncounterSummary {
                id: e.id,
                started_at: e.started_at,
                status: e.status,
                clinician_name: staff_name(&db, e.clinician_id),
                encounter_type: e.encounter_type,
                chief_complaint: e.sections.chief_complaint,
                assessment: e.sections.assessment,
                diagnoses: e.diagnoses,
            })
            .collect();
        redact(&mut p, crate::patients::may_see(&s));
        Ok(Chart {
            patient: p,
            encounters,
            vitals,
        })
    }

    /// The encounter of an appointment, if one was started.
    pub fn of_appointment(&mut self, appointment: Uuid) -> ClinicResult<Option<Encounter>> {
        self.act(Action::View)?;
        Ok(self
            .ws
            .store()?
            .db()
            .appointment_encounters(appointment)?
            .pop())
    }

    /// The refused edits of notes signed elsewhere, made by this desk:
    /// each becomes its author's draft addendum (once), never lost.
    pub fn keep_refused_edits(&mut self) -> ClinicResult<usize> {
        let (done, problems) = {
            let db = self.ws.store()?.db();
            let done: i64 = db
                .meta("clinical_refused_kept")?
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let problems: Vec<_> = db
                .sync_problems()?
                .into_iter()
                .filter(|p| p.device_seq > done && p.kind == EditEncounter::NAME)
                .collect();
            (done, problems)
        };
        let mut kept = 0;
        let mut last = done;
        for p in problems {
            last = last.max(p.device_seq);
            let (Some(edit), Some(user)) = (p.mutation.get::<EditEncounter>(), p.user_id) else {
                continue;
            };
            if !self.load(edit.encounter)?.is_signed() {
                continue;
            }
            let text = format!("{}: {}", field_label(&edit.field), edit.text);
            if self.append_addendum_draft(edit.encounter, user, &text, p.at)? {
                kept += 1;
            }
        }
        if last > done {
            self.ws
                .store()?
                .db()
                .set_meta("clinical_refused_kept", &last.to_string())?;
        }
        Ok(kept)
    }
}

/// An audit event about an encounter, filed under its patient.
pub(crate) fn encounter_audit(
    action: &'static str,
    encounter: Uuid,
    patient: Uuid,
    details: serde_json::Value,
) -> AuditEntry {
    AuditEntry {
        action,
        entity_type: Encounter::KIND,
        entity_id: Some(encounter),
        patient_id: Some(patient),
        details,
    }
}
