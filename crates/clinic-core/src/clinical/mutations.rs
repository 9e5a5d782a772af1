//! The named changes of an encounter, applied the same way on the
//! workstation and the server. Each needs the clinical module and the
//! medical-history flag; signing needs the note's own clinician.

use super::record::*;
use super::{Diagnosis, NoteSections, Vitals};
use crate::directory::StaffMember;
use crate::error::{ClinicError, ClinicResult, ErrorCode, FieldError};
use crate::permissions::{Action, Module, Permission, SensitiveFlag};
use crate::scheduling::{Appointment, AppointmentStatus};
use crate::sync::{Applied, Context, MutationKind, Records, Ref};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

fn clinical(action: Action) -> Permission {
    Permission::new(Module::Clinical, action).with_flags([SensitiveFlag::MedicalHistory])
}

fn encounter(recs: &Records, id: Uuid) -> ClinicResult<Encounter> {
    recs.get::<Encounter>(id)
        .cloned()
        .ok_or_else(|| ClinicError::not_found("Encounter"))
}

/// A draft the mutation may change (a signed note refuses every change).
fn draft(recs: &Records, id: Uuid) -> ClinicResult<Encounter> {
    let e = encounter(recs, id)?;
    e.ensure_draft()?;
    Ok(e)
}

/// Writes an encounter back; the change of a single-record mutation.
fn put(recs: &mut Records, e: Encounter) -> Applied {
    let id = e.id;
    recs.put(e);
    Applied::one(id)
}

/// Starts an encounter: from an appointment (which goes in progress) or
/// without one (a walk-in, telephone advice). The draft starts with its
/// type's template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StartEncounter {
    pub encounter: Uuid,
    pub patient: Uuid,
    pub clinician: Uuid,
    #[serde(default)]
    pub appointment: Option<Uuid>,
    pub encounter_type: String,
}

impl MutationKind for StartEncounter {
    const NAME: &'static str = "start_encounter";

    fn touches(&self) -> Vec<Uuid> {
        let mut t = vec![self.encounter];
        t.extend(self.appointment);
        t
    }

    fn permission(&self) -> Permission {
        clinical(Action::Create)
    }

    fn refs(&self) -> Vec<Ref> {
        let mut r = vec![
            Ref::to::<crate::patients::Patient>(self.patient, "patient"),
            Ref::to::<StaffMember>(self.clinician, "clinician"),
        ];
        r.extend(
            self.appointment
                .map(|a| Ref::to::<Appointment>(a, "appointment")),
        );
        r
    }

    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        if let Some(existing) = recs.get::<Encounter>(self.encounter) {
            // A retried start is a no-op; anything else is a clash of ids.
            if existing.patient_id == self.patient && existing.clinician_id == self.clinician {
                return Ok(Applied::nothing());
            }
            return Err(ClinicError::conflict(
                "A different encounter already has this id.",
            ));
        }
        if cx.user.is_some_and(|u| u != self.clinician) {
            return Err(ClinicError::forbidden(
                "An encounter is started by its own clinician; this one names another. It was not applied.",
            ));
        }
        let kind = encounter_type(&self.encounter_type).ok_or_else(|| {
            ClinicError::field(
                "type",
                format!(
                    "is not a kind of encounter (one of {})",
                    ENCOUNTER_TYPES.map(|t| t.key).join(", ")
                ),
            )
        })?;
        let mut e = Encounter {
            id: self.encounter,
            tenant_id: cx.tenant,
            patient_id: self.patient,
            clinician_id: self.clinician,
            appointment_id: self.appointment,
            encounter_type: kind.key.to_string(),
            status: EncounterStatus::Draft,
            started_at: cx.at,
            updated_at: cx.at,
            sections: NoteSections::default(),
            vitals: Vitals::default(),
            vitals_at: None,
            diagnoses: vec![],
            follow_up: None,
            current: Default::default(),
            revisions: vec![],
            siblings: vec![],
            prescriptions: vec![],
            signature: None,
            addenda: vec![],
            appointment_conflict: None,
        };
        for (i, (field, text)) in kind.template.iter().enumerate() {
            e.edit_field(FieldEdit {
                field,
                text,
                // The template's revisions are the encounter's own, so
                // both sides derive the same ones.
                revision: derived_id(self.encounter, i as u8),
                base: None,
                resolves: &[],
                by: cx.user,
                at: cx.at,
            });
        }
        let mut changed = vec![e.id];
        if let Some(aid) = self.appointment {
            let a = recs
                .get::<Appointment>(aid)
                .cloned()
                .ok_or_else(|| ClinicError::not_found("Appointment"))?;
            if a.patient_id != self.patient {
                return Err(ClinicError::field(
                    "appointment",
                    "is another patient's appointment",
                ));
            }
            // The clinician may start before the front desk checked the
            // patient in (a scheduled or confirmed appointment goes straight
            // to in progress; the desk's own steps stay as they are).
            use AppointmentStatus::*;
            if matches!(a.status, Scheduled | Confirmed | Arrived) {
                let mut a = a;
                a.status = AppointmentStatus::InProgress;
                a.updated_at = cx.at;
                recs.put(a);
                changed.push(aid);
            } else if !a.status.occupies() {
                // Cancelled on another desk while the patient was being
                // seen: the consultation happened and is kept; the clash is
                // shown on it for a person to settle.
                e.appointment_conflict = Some(format!(
                    "The appointment was {} on another desk before this consultation started; the consultation is kept.",
                    a.status.as_str().replace('_', " ")
                ));
            }
        }
        recs.put(e);
        Ok(Applied { changed })
    }
}

/// An id derived from another (the template revisions of a new encounter).
fn derived_id(base: Uuid, n: u8) -> Uuid {
    let mut b = *base.as_bytes();
    b[15] ^= n.wrapping_add(1);
    b[14] ^= 0xA5;
    Uuid::from_bytes(b)
}

/// One field's new text in a draft. `base` is the field's revision the
/// text was typed over; `resolves` settles siblings of that field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EditEncounter {
    pub encounter: Uuid,
    pub field: String,
    pub text: String,
    pub revision: Uuid,
    #[serde(default)]
    pub base: Option<Uuid>,
    #[serde(default)]
    pub resolves: Vec<Uuid>,
}

impl MutationKind for EditEncounter {
    const NAME: &'static str = "edit_encounter";

    fn touches(&self) -> Vec<Uuid> {
        vec![self.encounter]
    }

    fn permission(&self) -> Permission {
        clinical(Action::Edit)
    }

    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        let mut e = draft(recs, self.encounter)?;
        check_field(&self.field, &self.text, e.started_at.date_naive())?;
        if self.resolves.len() > 100 {
            return Err(ClinicError::field("resolves", "at most 100 at once"));
        }
        let same = e.field_text(&self.field).as_deref() == Some(self.text.as_str());
        let settles = e
            .siblings
            .iter()
            .any(|s| s.field == self.field && self.resolves.contains(&s.revision));
        if (same && !settles) || e.revisions.iter().any(|h| h.revision == self.revision) {
            return Ok(Applied::nothing());
        }
        e.edit_field(FieldEdit {
            field: &self.field,
            text: &self.text,
            revision: self.revision,
            base: self.base,
            resolves: &self.resolves,
            by: cx.user,
            at: cx.at,
        });
        Ok(put(recs, e))
    }
}

/// Records the vitals of an encounter (replacing any recorded before; the
/// history keeps them). Unusual values need `confirmed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordVitals {
    pub encounter: Uuid,
    /// The history entry this recording makes.
    pub revision: Uuid,
    pub vitals: Vitals,
    #[serde(default)]
    pub confirmed: bool,
}

impl MutationKind for RecordVitals {
    const NAME: &'static str = "record_vitals";

    fn touches(&self) -> Vec<Uuid> {
        vec![self.encounter]
    }

    fn permission(&self) -> Permission {
        clinical(Action::Edit)
    }

    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        let mut e = draft(recs, self.encounter)?;
        let (vitals, unusual) = self.vitals.checked(self.confirmed)?;
        if !unusual.is_empty() {
            return Err(confirmation_needed(&unusual));
        }
        if vitals.is_empty() {
            return Err(ClinicError::field("vitals", "record at least one value"));
        }
        if e.vitals == vitals {
            return Ok(Applied::nothing());
        }
        e.vitals = vitals;
        e.vitals_at = Some(cx.at);
        e.revisions.push(FieldValue {
            revision: self.revision,
            field: "vitals".into(),
            text: vitals_text(&vitals),
            by: cx.user,
            at: cx.at,
        });
        e.updated_at = cx.at;
        Ok(put(recs, e))
    }
}

/// The refusal of unusual values not yet confirmed: each named.
pub fn confirmation_needed(unusual: &[super::Unusual]) -> ClinicError {
    let fields: Vec<FieldError> = unusual
        .iter()
        .map(|u| FieldError {
            field: u.field.clone(),
            message: u.message.clone(),
        })
        .collect();
    ClinicError {
        code: ErrorCode::ConfirmationNeeded,
        message: format!(
            "Confirm these values before they are kept: {}.",
            unusual
                .iter()
                .map(|u| u.message.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        ),
        fields,
    }
}

/// Vitals as a line of text (the history, the chart).
pub fn vitals_text(v: &Vitals) -> String {
    let mut parts = Vec::new();
    if let (Some(s), Some(d)) = (v.systolic_mmhg, v.diastolic_mmhg) {
        parts.push(format!("BP {s}/{d} mmHg"));
    }
    if let Some(p) = v.pulse_bpm {
        parts.push(format!("pulse {p}/min"));
    }
    if let Some(t) = v.temperature_c {
        parts.push(format!("temp {t:.1} °C"));
    }
    if let Some(s) = v.spo2_pct {
        parts.push(format!("SpO2 {s} %"));
    }
    if let Some(w) = v.weight_kg {
        parts.push(format!("weight {w:.1} kg"));
    }
    if let Some(h) = v.height_cm {
        parts.push(format!("height {h:.1} cm"));
    }
    if let Some(b) = v.bmi {
        parts.push(format!("BMI {b:.1}"));
    }
    parts.join(", ")
}

/// Adds and removes diagnoses by id (two desks adding at once both keep theirs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeDiagnoses {
    pub encounter: Uuid,
    #[serde(default)]
    pub add: Vec<Diagnosis>,
    #[serde(default)]
    pub remove: Vec<Uuid>,
}

impl MutationKind for ChangeDiagnoses {
    const NAME: &'static str = "change_diagnoses";

    fn touches(&self) -> Vec<Uuid> {
        vec![self.encounter]
    }

    fn permission(&self) -> Permission {
        clinical(Action::Edit)
    }

    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        let mut e = draft(recs, self.encounter)?;
        if self.add.len() > MAX_DIAGNOSES || self.remove.len() > MAX_DIAGNOSES {
            return Err(ClinicError::field(
                "diagnoses",
                format!("at most {MAX_DIAGNOSES} at once"),
            ));
        }
        let before = e.diagnoses.clone();
        e.diagnoses.retain(|d| !self.remove.contains(&d.id));
        for d in &self.add {
            let d = Diagnosis {
                id: d.id,
                code: d
                    .code
                    .as_deref()
                    .map(|c| c.trim().to_ascii_uppercase())
                    .filter(|c| !c.is_empty()),
                text: d.text.trim().to_string(),
            };
            if !e.diagnoses.iter().any(|x| x.id == d.id) {
                e.diagnoses.push(d);
            }
        }
        if e.diagnoses.len() > MAX_DIAGNOSES {
            return Err(ClinicError::field(
                "diagnoses",
                format!("a note holds at most {MAX_DIAGNOSES}"),
            ));
        }
        e.content().validate()?;
        if e.diagnoses == before {
            return Ok(Applied::nothing());
        }
        e.updated_at = cx.at;
        Ok(put(recs, e))
    }
}

/// Signs a note: its clinician, over the content they saw
/// (`content_sha256`, which the rule recomputes: a note that changed on
/// another desk before the signature arrived is not signed unseen). The
/// appointment, if in progress, is completed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignEncounter {
    pub encounter: Uuid,
    #[serde(default)]
    pub appointment: Option<Uuid>,
    pub content_sha256: String,
}

impl MutationKind for SignEncounter {
    const NAME: &'static str = "sign_encounter";

    fn touches(&self) -> Vec<Uuid> {
        let mut t = vec![self.encounter];
        t.extend(self.appointment);
        t
    }

    fn permission(&self) -> Permission {
        clinical(Action::Edit)
    }

    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        let mut e = encounter(recs, self.encounter)?;
        if e.is_signed() {
            if e.signature.as_ref().map(|s| &s.content_sha256) == Some(&self.content_sha256) {
                return Ok(Applied::nothing());
            }
            e.ensure_draft()?;
        }
        let Some(author) = cx.user else {
            return Err(ClinicError::forbidden(
                "A note is signed by a signed-in clinician.",
            ));
        };
        if author != e.clinician_id {
            return Err(ClinicError::forbidden(
                "Only the note's own clinician can sign it.",
            ));
        }
        if self.appointment != e.appointment_id {
            return Err(ClinicError::field(
                "appointment",
                "is not this encounter's appointment",
            ));
        }
        if let Some(s) = e.siblings.first() {
            return Err(ClinicError::conflict(format!(
                "The {} was changed on two desks at once; choose which text to keep before signing.",
                s.field.replace('_', " ")
            )));
        }
        let content = e.content();
        content.validate()?;
        if content
            .sections
            .named()
            .iter()
            .all(|(_, t)| t.trim().is_empty())
        {
            return Err(ClinicError::field(
                "note",
                "is empty: write at least one section before signing",
            ));
        }
        let hash = content.signed_hash(author, cx.at);
        if hash != self.content_sha256 {
            return Err(ClinicError::conflict(
                "The note changed on another desk before this signature reached it, so it was not signed unseen; read it again and sign.",
            ));
        }
        e.status = EncounterStatus::Signed;
        e.signature = Some(Signature {
            by: author,
            at: cx.at,
            content_sha256: hash,
        });
        e.updated_at = cx.at;
        let mut changed = vec![e.id];
        if let Some(aid) = e.appointment_id {
            if let Some(a) = recs.get::<Appointment>(aid) {
                if a.status == AppointmentStatus::InProgress {
                    let mut a = a.clone();
                    a.status = AppointmentStatus::Completed;
                    a.updated_at = cx.at;
                    recs.put(a);
                    changed.push(aid);
                }
            }
        }
        recs.put(e);
        Ok(Applied { changed })
    }
}

/// An addendum to a signed note, signed as it is written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddAddendum {
    pub encounter: Uuid,
    pub addendum: Uuid,
    pub text: String,
    pub content_sha256: String,
}

impl MutationKind for AddAddendum {
    const NAME: &'static str = "add_addendum";

    fn touches(&self) -> Vec<Uuid> {
        vec![self.encounter]
    }

    fn permission(&self) -> Permission {
        clinical(Action::Create)
    }

    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        let mut e = encounter(recs, self.encounter)?;
        if e.addenda.iter().any(|a| a.id == self.addendum) {
            return Ok(Applied::nothing());
        }
        let Some(sig) = e.signature.clone() else {
            return Err(ClinicError::conflict(
                "This note is not signed yet: change the note itself instead of adding an addendum.",
            ));
        };
        let Some(author) = cx.user else {
            return Err(ClinicError::forbidden(
                "An addendum is signed by a signed-in clinician.",
            ));
        };
        let text = self.text.trim();
        if text.is_empty() || text.chars().count() > super::MAX_SECTION_CHARS {
            return Err(ClinicError::field(
                "text",
                format!(
                    "is required (at most {} characters)",
                    super::MAX_SECTION_CHARS
                ),
            ));
        }
        if e.addenda.len() >= 200 {
            return Err(ClinicError::field(
                "addendum",
                "a note holds at most 200 addenda",
            ));
        }
        let hash = addendum_hash(&sig.content_sha256, self.addendum, text, author, cx.at);
        if hash != self.content_sha256 {
            return Err(ClinicError::field(
                "content_sha256",
                "does not match the addendum's text, author and time",
            ));
        }
        e.addenda.push(Addendum {
            id: self.addendum,
            text: text.to_string(),
            by: author,
            at: cx.at,
            content_sha256: hash,
        });
        e.updated_at = cx.at;
        Ok(put(recs, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::{apply, Mutation};
    use chrono::{DateTime, TimeZone, Utc};
    use serde_json::json;

    const TENANT: Uuid = Uuid::from_u128(1);
    const PATIENT: Uuid = Uuid::from_u128(2);
    const DOCTOR: Uuid = Uuid::from_u128(3);
    const NURSE: Uuid = Uuid::from_u128(4);
    const APPT: Uuid = Uuid::from_u128(5);
    const ENC: Uuid = Uuid::from_u128(6);

    fn at(min: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 5, 9, 0, 0).unwrap() + chrono::Duration::minutes(min)
    }

    fn cx(user: Uuid, min: i64) -> Context {
        Context {
            tenant: TENANT,
            at: at(min),
            user: Some(user),
        }
    }

    fn appointment(status: &str) -> Appointment {
        serde_json::from_value(json!({
            "id": APPT, "tenant_id": TENANT, "site_id": Uuid::from_u128(9),
            "patient_id": PATIENT, "clinician_id": DOCTOR, "type_name": "Consultation",
            "start": "2026-12-05T09:00:00Z", "minutes": 15, "timezone": "Europe/London",
            "status": status, "created_at": "2026-12-01T09:00:00Z", "updated_at": "2026-12-01T09:00:00Z"
        }))
        .unwrap()
    }

    fn run(recs: &mut Records, cx: Context, m: impl MutationKind) -> ClinicResult<Applied> {
        apply(&Mutation::new(m), &cx, recs)
    }

    fn started(status: &str) -> Records {
        let mut r = Records::default();
        r.put(appointment(status));
        run(
            &mut r,
            cx(DOCTOR, 0),
            StartEncounter {
                encounter: ENC,
                patient: PATIENT,
                clinician: DOCTOR,
                appointment: Some(APPT),
                encounter_type: "consultation".into(),
            },
        )
        .unwrap();
        r
    }

    fn edit(field: &str, text: &str, rev: u128, base: Option<u128>) -> EditEncounter {
        EditEncounter {
            encounter: ENC,
            field: field.into(),
            text: text.into(),
            revision: Uuid::from_u128(rev),
            base: base.map(Uuid::from_u128),
            resolves: vec![],
        }
    }

    fn enc(r: &Records) -> &Encounter {
        r.get::<Encounter>(ENC).unwrap()
    }

    fn sign(r: &mut Records, min: i64) -> ClinicResult<Applied> {
        let e = enc(r).clone();
        let hash = e.content().signed_hash(DOCTOR, at(min));
        run(
            r,
            cx(DOCTOR, min),
            SignEncounter {
                encounter: ENC,
                appointment: e.appointment_id,
                content_sha256: hash,
            },
        )
    }

    #[test]
    fn starting_from_an_appointment_puts_it_in_progress_and_signing_completes_it() {
        for status in ["scheduled", "confirmed", "arrived"] {
            let mut r = started(status);
            assert_eq!(
                r.get::<Appointment>(APPT).unwrap().status,
                AppointmentStatus::InProgress
            );
            assert_eq!(enc(&r).status, EncounterStatus::Draft);
            run(
                &mut r,
                cx(DOCTOR, 1),
                edit("assessment", "Viral URTI", 10, None),
            )
            .unwrap();
            sign(&mut r, 2).unwrap();
            assert_eq!(
                r.get::<Appointment>(APPT).unwrap().status,
                AppointmentStatus::Completed
            );
            assert_eq!(enc(&r).status, EncounterStatus::Signed);
            assert_eq!(enc(&r).verify(), Ok(()));
        }
    }

    #[test]
    fn an_appointment_cancelled_elsewhere_keeps_the_encounter_and_says_so() {
        let r = started("cancelled");
        assert_eq!(
            r.get::<Appointment>(APPT).unwrap().status,
            AppointmentStatus::Cancelled
        );
        let e = enc(&r);
        assert!(
            e.appointment_conflict
                .as_deref()
                .unwrap()
                .contains("cancelled"),
            "{e:?}"
        );
    }

    #[test]
    fn concurrent_edits_of_one_field_keep_the_displaced_text_as_a_sibling() {
        // Desk A and desk B both start from the empty field.
        let mut r = started("arrived");
        run(
            &mut r,
            cx(DOCTOR, 1),
            edit("history", "Cough 2 weeks", 10, None),
        )
        .unwrap();
        // B's edit arrives later in server order, typed over nothing.
        run(
            &mut r,
            cx(NURSE, 2),
            edit("history", "Cough and fever", 20, None),
        )
        .unwrap();
        // A different field from B: no sibling.
        run(&mut r, cx(NURSE, 2), edit("plan", "Fluids", 21, None)).unwrap();
        let e = enc(&r);
        assert_eq!(e.sections.history, "Cough and fever");
        assert_eq!(e.sections.plan, "Fluids");
        assert_eq!(e.siblings.len(), 1);
        assert_eq!(e.siblings[0].text, "Cough 2 weeks");
        // Signing waits until the clinician chooses.
        let err = sign(&mut r, 3).unwrap_err();
        assert_eq!(err.code, ErrorCode::Conflict, "{err:?}");
        // A continues typing over its own text: its old text is no longer
        // a sibling, B's (which A never saw) is.
        run(
            &mut r,
            cx(DOCTOR, 4),
            edit("history", "Cough 2 weeks, no fever", 11, Some(10)),
        )
        .unwrap();
        let e = enc(&r);
        assert_eq!(e.sections.history, "Cough 2 weeks, no fever");
        assert_eq!(
            e.siblings
                .iter()
                .map(|s| s.text.as_str())
                .collect::<Vec<_>>(),
            ["Cough and fever"]
        );
        // Resolving keeps the chosen text and clears the sibling.
        let mut settle = edit(
            "history",
            "Cough 2 weeks, fever since yesterday",
            12,
            Some(11),
        );
        settle.resolves = vec![Uuid::from_u128(20)];
        run(&mut r, cx(DOCTOR, 5), settle).unwrap();
        assert!(enc(&r).siblings.is_empty());
        assert_eq!(
            enc(&r)
                .revisions
                .iter()
                .filter(|h| h.field == "history")
                .count(),
            4
        );
        sign(&mut r, 6).unwrap();
    }

    #[test]
    fn a_signed_note_refuses_every_change_and_takes_signed_addenda() {
        let mut r = started("arrived");
        run(
            &mut r,
            cx(DOCTOR, 1),
            edit("assessment", "Asthma", 10, None),
        )
        .unwrap();
        sign(&mut r, 2).unwrap();
        let before = enc(&r).clone();
        let refusals = [
            run(
                &mut r,
                cx(DOCTOR, 3),
                edit("assessment", "Asthma, mild", 11, Some(10)),
            ),
            run(
                &mut r,
                cx(DOCTOR, 3),
                RecordVitals {
                    encounter: ENC,
                    revision: Uuid::from_u128(12),
                    vitals: Vitals {
                        pulse_bpm: Some(70),
                        ..Default::default()
                    },
                    confirmed: false,
                },
            ),
            run(
                &mut r,
                cx(DOCTOR, 3),
                ChangeDiagnoses {
                    encounter: ENC,
                    add: vec![Diagnosis {
                        id: Uuid::from_u128(13),
                        code: Some("J45.9".into()),
                        text: "Asthma".into(),
                    }],
                    remove: vec![],
                },
            ),
            sign(&mut r, 4),
        ];
        for e in refusals {
            assert_eq!(e.unwrap_err().code, ErrorCode::Conflict);
        }
        assert_eq!(enc(&r), &before);
        let sig = before.signature.clone().unwrap();
        let id = Uuid::from_u128(30);
        let text = "Spirometry result: FEV1 82 %";
        run(
            &mut r,
            cx(DOCTOR, 5),
            AddAddendum {
                encounter: ENC,
                addendum: id,
                text: text.into(),
                content_sha256: addendum_hash(&sig.content_sha256, id, text, DOCTOR, at(5)),
            },
        )
        .unwrap();
        assert_eq!(enc(&r).addenda.len(), 1);
        assert_eq!(enc(&r).verify(), Ok(()));
        // Tampering with the stored text is found.
        let mut forged = enc(&r).clone();
        forged.sections.assessment = "Nothing wrong".into();
        assert!(forged.verify().is_err());
        let mut forged = enc(&r).clone();
        forged.addenda[0].text.push('!');
        assert!(forged.verify().is_err());
    }

    #[test]
    fn a_signature_over_content_the_signer_did_not_see_is_refused() {
        let mut r = started("arrived");
        run(
            &mut r,
            cx(DOCTOR, 1),
            edit("assessment", "Asthma", 10, None),
        )
        .unwrap();
        let seen = enc(&r).content().signed_hash(DOCTOR, at(3));
        // Another desk's edit reaches the note first.
        run(&mut r, cx(NURSE, 2), edit("plan", "Inhaler", 11, None)).unwrap();
        let e = run(
            &mut r,
            cx(DOCTOR, 3),
            SignEncounter {
                encounter: ENC,
                appointment: Some(APPT),
                content_sha256: seen,
            },
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::Conflict);
        assert_eq!(enc(&r).status, EncounterStatus::Draft);
        // Only the note's clinician signs it.
        let hash = enc(&r).content().signed_hash(NURSE, at(4));
        let e = run(
            &mut r,
            cx(NURSE, 4),
            SignEncounter {
                encounter: ENC,
                appointment: Some(APPT),
                content_sha256: hash,
            },
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::Forbidden);
    }

    #[test]
    fn unusual_vitals_need_a_confirmation_and_impossible_ones_are_refused() {
        let mut r = started("arrived");
        let low = Vitals {
            spo2_pct: Some(62),
            ..Default::default()
        };
        let e = run(
            &mut r,
            cx(DOCTOR, 1),
            RecordVitals {
                encounter: ENC,
                revision: Uuid::from_u128(10),
                vitals: low,
                confirmed: false,
            },
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::ConfirmationNeeded);
        assert_eq!(e.fields[0].field, "spo2_pct");
        assert_eq!(enc(&r).vitals, Vitals::default());
        run(
            &mut r,
            cx(DOCTOR, 1),
            RecordVitals {
                encounter: ENC,
                revision: Uuid::from_u128(10),
                vitals: low,
                confirmed: true,
            },
        )
        .unwrap();
        assert_eq!(enc(&r).vitals.spo2_pct, Some(62));
        let bad = Vitals {
            systolic_mmhg: Some(1200),
            diastolic_mmhg: Some(80),
            ..Default::default()
        };
        let e = run(
            &mut r,
            cx(DOCTOR, 2),
            RecordVitals {
                encounter: ENC,
                revision: Uuid::from_u128(11),
                vitals: bad,
                confirmed: true,
            },
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::Validation);
    }

    #[test]
    fn bad_edits_are_refused_and_change_nothing() {
        let mut r = started("arrived");
        let before = enc(&r).clone();
        for m in [
            edit("diagnosis", "x", 10, None),
            edit("follow_up", "next week", 11, None),
            edit("follow_up", "2026-11-01", 12, None),
            edit(
                "plan",
                &"x".repeat(super::super::MAX_SECTION_CHARS + 1),
                13,
                None,
            ),
        ] {
            assert_eq!(
                run(&mut r, cx(DOCTOR, 1), m).unwrap_err().code,
                ErrorCode::Validation
            );
        }
        assert_eq!(enc(&r), &before);
        run(
            &mut r,
            cx(DOCTOR, 1),
            edit("follow_up", "2027-01-04", 14, None),
        )
        .unwrap();
        assert_eq!(
            enc(&r).follow_up,
            chrono::NaiveDate::from_ymd_opt(2027, 1, 4)
        );
        // An empty note is not signed.
        let mut empty = started("arrived");
        assert_eq!(sign(&mut empty, 2).unwrap_err().code, ErrorCode::Validation);
    }
}
