//! What the desktop's clinical screens show: the clinician's day, a
//! patient's chart and the note editor, built from the clinical use-cases.
//! Times are the site's wall clock, like every other screen.

use super::{DraftView, ADDENDUM_DRAFT};
use crate::desk::{NotAppliedView, LOCAL_FORMAT};
use crate::workstation::Workstation;
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use clinic_core::clinical::*;
use clinic_core::patients::{Allergy, Condition, Medication};
use clinic_core::scheduling::{local_to_utc, parse_tz, utc_to_local, AppointmentStatus};
use clinic_core::ClinicResult;
use serde::Serialize;
use uuid::Uuid;

#[cfg(feature = "ts")]
use ts_rs::TS;

/// One appointment of the clinician's day, with its note if started.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct DayRow {
    pub appointment_id: Uuid,
    /// The site's wall-clock time, "HH:MM".
    pub start_local: String,
    pub end_local: String,
    pub patient_id: Uuid,
    pub patient_name: String,
    pub patient_number: String,
    pub appointment_type: String,
    pub status: AppointmentStatus,
    pub encounter_id: Option<Uuid>,
    pub encounter_status: Option<EncounterStatus>,
}

/// A note started today without an appointment (a walk-in, a call).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct WalkInRow {
    pub encounter_id: Uuid,
    pub started_local: String,
    pub patient_id: Uuid,
    pub patient_name: String,
    pub encounter_status: EncounterStatus,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct ClinicianDayView {
    pub date: NaiveDate,
    pub clinician: String,
    pub rows: Vec<DayRow>,
    pub walk_ins: Vec<WalkInRow>,
}

/// One earlier encounter in a chart.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct ChartEncounter {
    pub id: Uuid,
    pub started_local: String,
    pub status: EncounterStatus,
    pub encounter_type: String,
    pub clinician: String,
    pub chief_complaint: String,
    pub assessment: String,
    pub diagnoses: Vec<String>,
}

/// One set of vitals in a chart's trend.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct VitalsRow {
    pub at_local: String,
    pub vitals: Vitals,
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct ChartView {
    pub patient_id: Uuid,
    pub name: String,
    pub patient_number: String,
    pub date_of_birth: Option<NaiveDate>,
    pub problems: Vec<Condition>,
    pub allergies: Vec<Allergy>,
    pub medications: Vec<Medication>,
    /// Groups of the record the person's role does not show.
    pub redacted: Vec<clinic_core::permissions::SensitiveFlag>,
    pub encounters: Vec<ChartEncounter>,
    /// Oldest first.
    pub vitals: Vec<VitalsRow>,
}

/// A text displaced by the same field's edit on another desk.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct SiblingView {
    pub revision: Uuid,
    pub text: String,
    pub by: String,
    pub at_local: String,
}

/// One text field of the note as the editor shows it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct NoteField {
    pub field: String,
    pub label: String,
    /// What the person sees: their autosaved draft, else the current text.
    pub text: String,
    /// The note's own current text.
    pub saved_text: String,
    /// When their draft was autosaved (`None`: no draft: the text is the note's).
    pub draft_saved_at_local: Option<String>,
    pub siblings: Vec<SiblingView>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct SignatureView {
    pub by: String,
    pub at_local: String,
    pub content_sha256: String,
    pub valid: bool,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct AddendumView {
    pub by: String,
    pub at_local: String,
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct NoteView {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub patient_name: String,
    pub patient_number: String,
    pub clinician: String,
    pub encounter_type: String,
    pub status: EncounterStatus,
    pub started_local: String,
    pub fields: Vec<NoteField>,
    pub vitals: Vitals,
    pub vitals_text: String,
    pub diagnoses: Vec<Diagnosis>,
    pub signature: Option<SignatureView>,
    pub addenda: Vec<AddendumView>,
    pub prescriptions: Vec<PrescriptionView>,
    /// Every value each field held, oldest first.
    pub revisions: Vec<RevisionView>,
    /// The person's draft addendum (text kept from an edit the signature
    /// came before, or one they began).
    pub addendum_draft: Option<String>,
    pub appointment_conflict: Option<String>,
    /// The signed-in person may sign it (their note, a draft, no siblings).
    pub can_sign: bool,
    /// Changes to the note the server did not apply (kept, shown).
    pub not_applied: Vec<NotAppliedView>,
}

/// One value a field took (or a recording of vitals), oldest first.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct RevisionView {
    pub field: String,
    pub text: String,
    pub by: String,
    pub at_local: String,
}

/// A prescription written in the note.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct PrescriptionView {
    pub id: Uuid,
    pub number: String,
    pub status: PrescriptionStatus,
    pub lines: Vec<PrescriptionLine>,
    pub instructions: String,
    pub warnings: Vec<clinic_core::clinical::medications::SafetyWarning>,
    pub override_reason: Option<String>,
}

/// What an autosave answers.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(TS))]
pub struct DraftSaved {
    pub field: String,
    pub saved_at_local: String,
}

const LABELS: [(&str, &str); 6] = [
    ("chief_complaint", "Presenting complaint"),
    ("history", "History"),
    ("examination", "Examination"),
    ("assessment", "Assessment"),
    ("plan", "Plan"),
    ("follow_up", "Follow-up date"),
];

impl Workstation {
    fn site_tz(&self) -> ClinicResult<chrono_tz::Tz> {
        parse_tz(&self.home_site()?.timezone)
    }

    fn local(&self, tz: chrono_tz::Tz, t: DateTime<Utc>) -> String {
        utc_to_local(tz, t).format(LOCAL_FORMAT).to_string()
    }

    /// The signed-in clinician's day at this site: their appointments in
    /// time order with the state of each one's note, and today's notes
    /// started without an appointment.
    pub fn clinician_day(&mut self, date: Option<NaiveDate>) -> ClinicResult<ClinicianDayView> {
        let (s, now) = self.act(
            clinic_core::permissions::Module::Clinical,
            clinic_core::permissions::Action::View,
        )?;
        let tz = self.site_tz()?;
        let date = date.unwrap_or_else(|| utc_to_local(tz, now).date());
        let plan = self.scheduling().day_plan(None, Some(s.user_id), date)?;
        let db = self.store()?.db();
        let mut rows = Vec::with_capacity(plan.rows.len());
        for r in plan.rows {
            if !r.status.occupies() {
                continue;
            }
            let a = db.appointment(r.appointment_id)?;
            let enc = db.appointment_encounters(r.appointment_id)?.pop();
            rows.push(DayRow {
                appointment_id: r.appointment_id,
                start_local: r.local_start,
                end_local: r.local_end,
                patient_id: a.map(|a| a.patient_id).unwrap_or_default(),
                patient_name: r.patient,
                patient_number: r.patient_number,
                appointment_type: r.appointment_type,
                status: r.status,
                encounter_id: enc.as_ref().map(|e| e.id),
                encounter_status: enc.map(|e| e.status),
            });
        }
        let from = local_to_utc(tz, date.and_time(NaiveTime::MIN));
        let to = local_to_utc(tz, (date + Duration::days(1)).and_time(NaiveTime::MIN));
        let mut walk_ins = Vec::new();
        for e in db.clinician_encounters(s.user_id, from, to)? {
            if e.appointment_id.is_some() {
                continue;
            }
            let p = db.patient(e.patient_id)?;
            walk_ins.push(WalkInRow {
                encounter_id: e.id,
                started_local: self.local(tz, e.started_at),
                patient_id: e.patient_id,
                patient_name: p
                    .map(|p| format!("{} {}", p.details.first_name, p.details.last_name))
                    .unwrap_or_default(),
                encounter_status: e.status,
            });
        }
        Ok(ClinicianDayView {
            date,
            clinician: s.name,
            rows,
            walk_ins,
        })
    }

    /// A patient's chart for the screen (an audited read).
    pub fn chart_view(&mut self, patient: Uuid) -> ClinicResult<ChartView> {
        let c = self.clinical().chart(patient)?;
        let tz = self.site_tz()?;
        let p = c.patient;
        Ok(ChartView {
            patient_id: p.id,
            name: format!("{} {}", p.details.first_name, p.details.last_name),
            patient_number: p.patient_number.clone(),
            date_of_birth: p.details.date_of_birth,
            problems: p.lists.conditions.clone(),
            allergies: p.lists.allergies.clone(),
            medications: p.lists.medications.clone(),
            redacted: p.redacted.clone(),
            encounters: c
                .encounters
                .into_iter()
                .map(|e| ChartEncounter {
                    id: e.id,
                    started_local: self.local(tz, e.started_at),
                    status: e.status,
                    encounter_type: e.encounter_type,
                    clinician: e.clinician_name,
                    chief_complaint: e.chief_complaint,
                    assessment: e.assessment,
                    diagnoses: e
                        .diagnoses
                        .iter()
                        .map(|d| match &d.code {
                            Some(c) => format!("{c} {}", d.text),
                            None => d.text.clone(),
                        })
                        .collect(),
                })
                .collect(),
            vitals: c
                .vitals
                .into_iter()
                .map(|v| VitalsRow {
                    at_local: self.local(tz, v.at),
                    text: vitals_text(&v.vitals),
                    vitals: v.vitals,
                })
                .collect(),
        })
    }

    /// The note editor's view of an encounter (an audited read).
    pub fn note_view(&mut self, id: Uuid) -> ClinicResult<NoteView> {
        // An edit the server refused because the note was signed elsewhere
        // (the live sync loop brought the answer) waits here as a draft
        // addendum, never lost.
        self.clinical().keep_refused_edits()?;
        let v = self.clinical().show(id)?;
        let me = self.session().map(|s| s.user_id);
        let not_applied = self.not_applied(id)?;
        let tz = self.site_tz()?;
        let db = self.store()?.db();
        let name = |u: Option<Uuid>| {
            u.and_then(|u| db.user(u).ok().flatten())
                .map(|u| u.name)
                .unwrap_or_else(|| "(unknown)".into())
        };
        let e = &v.encounter;
        let draft = |field: &str| v.drafts.iter().find(|d| d.field == field);
        let mut prescriptions: Vec<PrescriptionView> = db
            .patient_prescriptions(e.patient_id, false)?
            .into_iter()
            .filter(|p| p.encounter_id == e.id)
            .map(|p| PrescriptionView {
                number: super::prescriptions::prescription_number(p.id),
                id: p.id,
                status: p.status,
                lines: p.lines,
                instructions: p.instructions,
                warnings: p.warnings,
                override_reason: p.override_reason,
            })
            .collect();
        prescriptions.reverse();
        let fields = LABELS
            .iter()
            .map(|(field, label)| {
                let saved = e.field_text(field).unwrap_or_default();
                let d: Option<&DraftView> = draft(field);
                NoteField {
                    field: field.to_string(),
                    label: label.to_string(),
                    text: d.map(|d| d.text.clone()).unwrap_or_else(|| saved.clone()),
                    saved_text: saved,
                    draft_saved_at_local: d.map(|d| {
                        utc_to_local(tz, d.saved_at)
                            .format(LOCAL_FORMAT)
                            .to_string()
                    }),
                    siblings: e
                        .siblings
                        .iter()
                        .filter(|s| s.field == *field)
                        .map(|s| SiblingView {
                            revision: s.revision,
                            text: s.text.clone(),
                            by: name(s.by),
                            at_local: utc_to_local(tz, s.at).format(LOCAL_FORMAT).to_string(),
                        })
                        .collect(),
                }
            })
            .collect();
        Ok(NoteView {
            id: e.id,
            patient_id: e.patient_id,
            patient_name: v.patient_name.clone(),
            patient_number: v.patient_number.clone(),
            clinician: v.clinician_name.clone(),
            encounter_type: encounter_type(&e.encounter_type)
                .map(|t| t.name.to_string())
                .unwrap_or_else(|| e.encounter_type.clone()),
            status: e.status,
            started_local: utc_to_local(tz, e.started_at)
                .format(LOCAL_FORMAT)
                .to_string(),
            fields,
            vitals: e.vitals,
            vitals_text: vitals_text(&e.vitals),
            diagnoses: e.diagnoses.clone(),
            signature: e.signature.as_ref().map(|s| SignatureView {
                by: name(Some(s.by)),
                at_local: utc_to_local(tz, s.at).format(LOCAL_FORMAT).to_string(),
                content_sha256: s.content_sha256.clone(),
                valid: v.signature_valid == Some(true),
            }),
            addenda: e
                .addenda
                .iter()
                .map(|a| AddendumView {
                    by: name(Some(a.by)),
                    at_local: utc_to_local(tz, a.at).format(LOCAL_FORMAT).to_string(),
                    text: a.text.clone(),
                })
                .collect(),
            prescriptions,
            revisions: e
                .revisions
                .iter()
                .map(|r| RevisionView {
                    field: LABELS
                        .iter()
                        .find(|(f, _)| *f == r.field)
                        .map(|(_, l)| l.to_string())
                        .unwrap_or_else(|| "Vitals".into()),
                    text: r.text.clone(),
                    by: name(r.by),
                    at_local: utc_to_local(tz, r.at).format(LOCAL_FORMAT).to_string(),
                })
                .collect(),
            addendum_draft: draft(ADDENDUM_DRAFT).map(|d| d.text.clone()),
            appointment_conflict: e.appointment_conflict.clone(),
            can_sign: !e.is_signed() && e.siblings.is_empty() && me == Some(e.clinician_id),
            not_applied: not_applied
                .iter()
                .map(|n| NotAppliedView::of(n, tz))
                .collect(),
        })
    }

    /// An autosave, as the editor sends it while the person types.
    pub fn save_note_draft(
        &mut self,
        id: Uuid,
        field: &str,
        text: &str,
    ) -> ClinicResult<DraftSaved> {
        let d = self.clinical().save_draft(id, field, text)?;
        let tz = self.site_tz()?;
        Ok(DraftSaved {
            field: d.field,
            saved_at_local: self.local(tz, d.saved_at),
        })
    }
}
