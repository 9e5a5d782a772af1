//! Prescriptions: written in an encounter (part of what its signature
//! covers), checked against the medication table while prescribing, and
//! printed from the copy they keep of what they printed.
//!
//! A prescription is issued whole and never edited: its status may go from
//! active to completed or cancelled. Issuing one is refused while a
//! blocking warning stands without an override reason; the server checks
//! again against the patient record it holds.

use super::medications::{check, AllergyInput, MedicationTable, SafetyWarning};
use super::record::Encounter;
use crate::directory::StaffMember;
use crate::error::{ClinicError, ClinicResult, ErrorCode, FieldErrors};
use crate::patients::Patient;
use crate::permissions::{Action, Module, Permission, SensitiveFlag};
use crate::sync::{Applied, Context, Merge, MutationKind, RecordKind, Records, Ref};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum PrescriptionStatus {
    Active,
    Completed,
    Cancelled,
}

impl PrescriptionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
        }
    }
}

/// One medicine of a prescription.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct PrescriptionLine {
    /// The medicine as prescribed ("Amoxicillin").
    pub drug: String,
    /// Its key in the medication table, when it is there.
    pub substance: Option<String>,
    pub strength: String,
    pub form: String,
    /// "1 capsule", "5 ml".
    pub dose: String,
    pub route: String,
    /// "three times a day".
    pub frequency: String,
    pub days: u32,
    pub quantity: String,
    pub refills: u8,
}

/// What a prescription printed about the people and place on it, kept so a
/// reprint shows the same whatever changed since.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct PrescriptionPrint {
    pub patient_name: String,
    pub patient_number: String,
    pub date_of_birth: Option<NaiveDate>,
    pub patient_address: String,
    pub prescriber_name: String,
    pub prescriber_registration: Option<String>,
    pub clinic_name: String,
    pub clinic_address: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prescription {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub encounter_id: Uuid,
    pub patient_id: Uuid,
    pub prescriber_id: Uuid,
    pub lines: Vec<PrescriptionLine>,
    #[serde(default)]
    pub instructions: String,
    pub status: PrescriptionStatus,
    pub issued_at: DateTime<Utc>,
    pub expires_on: NaiveDate,
    /// The warnings the prescriber was shown, and the server's own check.
    #[serde(default)]
    pub warnings: Vec<SafetyWarning>,
    /// Why a blocking warning was overridden (recorded and audited).
    #[serde(default)]
    pub override_reason: Option<String>,
    #[serde(default)]
    pub status_reason: Option<String>,
    pub updated_at: DateTime<Utc>,
    #[serde(default)]
    pub print: PrescriptionPrint,
}

impl RecordKind for Prescription {
    const KIND: &'static str = "prescription";
    const MERGE: Merge = Merge::Fields;

    fn id(&self) -> Uuid {
        self.id
    }
    fn tenant(&self) -> Option<Uuid> {
        Some(self.tenant_id)
    }
}

/// A prescription as its encounter lists it: the signature of the note
/// covers each one's content hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PrescribedRef {
    pub id: Uuid,
    pub content_sha256: String,
}

impl Prescription {
    /// The SHA-256 (hex) of what was prescribed: who, for whom, when, every
    /// line field by field, the instructions and any override reason
    /// (length-prefixed; never changes after issue).
    pub fn content_sha256(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        let mut put = |label: &str, value: &str| {
            for part in [label, value] {
                h.update((part.len() as u64).to_be_bytes());
                h.update(part.as_bytes());
            }
        };
        put("form", "clinic-prescription-v1");
        put("id", &self.id.to_string());
        put("encounter", &self.encounter_id.to_string());
        put("patient", &self.patient_id.to_string());
        put("prescriber", &self.prescriber_id.to_string());
        put(
            "issued_at",
            &self
                .issued_at
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        );
        put("lines", &self.lines.len().to_string());
        for l in &self.lines {
            for (k, v) in l.canonical() {
                put(k, &v);
            }
        }
        put("instructions", &self.instructions);
        put(
            "override_reason",
            self.override_reason.as_deref().unwrap_or_default(),
        );
        crate::sync::feed::hex(&h.finalize())
    }
}

/// Days a prescription can be dispensed after it is issued.
pub const VALID_DAYS: i64 = 180;
pub const MAX_LINES: usize = 10;

impl PrescriptionLine {
    /// The line as it enters a signature's hash, field by field.
    pub fn canonical(&self) -> Vec<(&'static str, String)> {
        vec![
            ("drug", self.drug.clone()),
            ("substance", self.substance.clone().unwrap_or_default()),
            ("strength", self.strength.clone()),
            ("form", self.form.clone()),
            ("dose", self.dose.clone()),
            ("route", self.route.clone()),
            ("frequency", self.frequency.clone()),
            ("days", self.days.to_string()),
            ("quantity", self.quantity.clone()),
            ("refills", self.refills.to_string()),
        ]
    }
}

/// Checks what a prescriber typed: at least one line, each with a drug,
/// dose, frequency and a duration; sensible lengths.
pub fn validate_lines(lines: &[PrescriptionLine], instructions: &str) -> ClinicResult<()> {
    let mut errs = FieldErrors::default();
    if lines.is_empty() || lines.len() > MAX_LINES {
        errs.add(
            "lines",
            format!("a prescription has 1 to {MAX_LINES} medicines"),
        );
    }
    for l in lines {
        for (field, v) in [
            ("drug", &l.drug),
            ("dose", &l.dose),
            ("frequency", &l.frequency),
        ] {
            if v.trim().is_empty() {
                errs.add(field, "is required");
            }
        }
        for (field, v) in [
            ("drug", &l.drug),
            ("strength", &l.strength),
            ("form", &l.form),
            ("dose", &l.dose),
            ("route", &l.route),
            ("frequency", &l.frequency),
            ("quantity", &l.quantity),
        ] {
            if v.chars().count() > 120 {
                errs.add(field, "must be at most 120 characters");
            }
        }
        if !(1..=365).contains(&l.days) {
            errs.add("days", "must be 1 to 365");
        }
        if l.refills > 12 {
            errs.add("refills", "must be at most 12");
        }
    }
    if instructions.chars().count() > 2000 {
        errs.add("instructions", "must be at most 2000 characters");
    }
    errs.into_result()
}

/// The checks of `lines` for a patient as the records show them: their
/// allergies (coded or not) and recorded current medications.
pub fn safety_warnings(
    lines: &[PrescriptionLine],
    patient: &Patient,
    also_current: &[String],
) -> Vec<SafetyWarning> {
    let new: Vec<&str> = lines.iter().map(|l| l.drug.as_str()).collect();
    let mut current: Vec<&str> = patient
        .lists
        .medications
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    current.extend(also_current.iter().map(String::as_str));
    let allergies: Vec<AllergyInput> = patient
        .lists
        .allergies
        .iter()
        .map(|a| AllergyInput {
            text: a.substance.clone(),
            code: a.code.clone(),
        })
        .collect();
    check(MedicationTable::shipped(), &new, &current, &allergies)
}

/// The refusal of a prescription whose blocking warnings stand without a reason.
pub fn safety_refusal(warnings: &[SafetyWarning]) -> ClinicError {
    let blocking: Vec<&str> = warnings
        .iter()
        .filter(|w| w.blocks())
        .map(|w| w.message.as_str())
        .collect();
    ClinicError::new(
        ErrorCode::SafetyWarning,
        format!(
            "Not prescribed: {} Prescribe anyway only with a reason (--override --reason \"…\").",
            blocking.join(" ")
        ),
    )
}

fn prescribing(action: Action) -> Permission {
    Permission::new(Module::Prescriptions, action).with_flags([SensitiveFlag::MedicalHistory])
}

/// Issues a prescription in a draft encounter (which lists it, so the
/// note's signature covers it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssuePrescription {
    pub prescription: Prescription,
}

impl MutationKind for IssuePrescription {
    const NAME: &'static str = "issue_prescription";

    fn touches(&self) -> Vec<Uuid> {
        let p = &self.prescription;
        // The patient is read (allergies, medications), never changed.
        vec![p.id, p.encounter_id, p.patient_id]
    }

    fn permission(&self) -> Permission {
        prescribing(Action::Create)
    }

    fn refs(&self) -> Vec<Ref> {
        vec![
            Ref::to::<Patient>(self.prescription.patient_id, "patient"),
            Ref::to::<StaffMember>(self.prescription.prescriber_id, "prescriber"),
        ]
    }

    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        let p = &self.prescription;
        if let Some(existing) = recs.get::<Prescription>(p.id) {
            if existing.lines == p.lines && existing.encounter_id == p.encounter_id {
                return Ok(Applied::nothing());
            }
            return Err(ClinicError::conflict(
                "A different prescription already has this id.",
            ));
        }
        if cx.user.is_some_and(|u| u != p.prescriber_id) {
            return Err(ClinicError::forbidden(
                "A prescription is issued by its own prescriber; this one names another. It was not applied.",
            ));
        }
        let mut e = recs
            .get::<Encounter>(p.encounter_id)
            .cloned()
            .ok_or_else(|| ClinicError::not_found("Encounter"))?;
        e.ensure_draft()?;
        if e.patient_id != p.patient_id {
            return Err(ClinicError::field(
                "encounter",
                "is another patient's encounter",
            ));
        }
        validate_lines(&p.lines, &p.instructions)?;
        let reason = p
            .override_reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty());
        if reason.is_some_and(|r| r.chars().count() > 500) {
            return Err(ClinicError::field(
                "reason",
                "must be at most 500 characters",
            ));
        }
        let patient = recs
            .get::<Patient>(p.patient_id)
            .ok_or_else(|| ClinicError::not_found("Patient"))?;
        let mut warnings = safety_warnings(&p.lines, patient, &[]);
        for w in &p.warnings {
            if !warnings.contains(w) {
                warnings.push(w.clone());
            }
        }
        if reason.is_none() && warnings.iter().any(SafetyWarning::blocks) {
            return Err(safety_refusal(&warnings));
        }
        let mut out = p.clone();
        out.tenant_id = cx.tenant;
        out.status = PrescriptionStatus::Active;
        out.issued_at = cx.at;
        out.updated_at = cx.at;
        out.expires_on = cx.today() + chrono::Duration::days(VALID_DAYS);
        out.override_reason = reason.map(str::to_string);
        out.warnings = warnings;
        e.prescriptions.push(PrescribedRef {
            id: p.id,
            content_sha256: out.content_sha256(),
        });
        e.updated_at = cx.at;
        let ids = vec![p.id, e.id];
        recs.put(out);
        recs.put(e);
        Ok(Applied { changed: ids })
    }
}

/// Ends a prescription: completed (course finished) or cancelled, with why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndPrescription {
    pub prescription: Uuid,
    pub to: PrescriptionStatus,
    #[serde(default)]
    pub reason: Option<String>,
}

impl MutationKind for EndPrescription {
    const NAME: &'static str = "end_prescription";

    fn touches(&self) -> Vec<Uuid> {
        vec![self.prescription]
    }

    fn permission(&self) -> Permission {
        prescribing(Action::Edit)
    }

    fn apply(&self, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        let mut p = recs
            .get::<Prescription>(self.prescription)
            .cloned()
            .ok_or_else(|| ClinicError::not_found("Prescription"))?;
        if self.to == PrescriptionStatus::Active {
            return Err(ClinicError::field("status", "is completed or cancelled"));
        }
        if p.status == self.to {
            return Ok(Applied::nothing());
        }
        if p.status != PrescriptionStatus::Active {
            return Err(ClinicError::conflict(format!(
                "This prescription is already {}.",
                p.status.as_str()
            )));
        }
        let reason = self
            .reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty());
        if self.to == PrescriptionStatus::Cancelled && reason.is_none() {
            return Err(ClinicError::field(
                "reason",
                "say why the prescription is cancelled",
            ));
        }
        if reason.is_some_and(|r| r.chars().count() > 500) {
            return Err(ClinicError::field(
                "reason",
                "must be at most 500 characters",
            ));
        }
        p.status = self.to;
        p.status_reason = reason.map(str::to_string);
        p.updated_at = cx.at;
        let id = p.id;
        recs.put(p);
        Ok(Applied::one(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clinical::medications::WarningKind;
    use crate::clinical::StartEncounter;
    use crate::patients::{Allergy, Medication, PatientDetails, PatientLists, Severity};
    use crate::sync::{apply, Mutation};
    use chrono::TimeZone;

    const TENANT: Uuid = Uuid::from_u128(1);
    const PATIENT: Uuid = Uuid::from_u128(2);
    const DOCTOR: Uuid = Uuid::from_u128(3);
    const ENC: Uuid = Uuid::from_u128(4);

    fn cx(min: i64) -> Context {
        Context {
            tenant: TENANT,
            at: Utc.with_ymd_and_hms(2026, 12, 5, 9, 0, 0).unwrap()
                + chrono::Duration::minutes(min),
            user: Some(DOCTOR),
        }
    }

    fn clinic(allergies: &[&str], medications: &[&str]) -> Records {
        let table = MedicationTable::shipped();
        let lists = PatientLists {
            allergies: allergies
                .iter()
                .enumerate()
                .map(|(i, a)| Allergy {
                    id: Uuid::from_u128(100 + i as u128),
                    substance: a.to_string(),
                    reaction: None,
                    severity: Severity::Severe,
                    code: table.code_allergy(a),
                })
                .collect(),
            medications: medications
                .iter()
                .enumerate()
                .map(|(i, m)| Medication {
                    id: Uuid::from_u128(200 + i as u128),
                    name: m.to_string(),
                    dose: None,
                    frequency: None,
                    started_on: None,
                })
                .collect(),
            ..Default::default()
        };
        let mut r = Records::default();
        r.put(Patient::registered(
            PATIENT,
            TENANT,
            "P0000001".into(),
            PatientDetails {
                first_name: "Ada".into(),
                last_name: "Obi".into(),
                ..Default::default()
            },
            lists,
            cx(0).at,
        ));
        apply(
            &Mutation::new(StartEncounter {
                encounter: ENC,
                patient: PATIENT,
                clinician: DOCTOR,
                appointment: None,
                encounter_type: "consultation".into(),
            }),
            &cx(0),
            &mut r,
        )
        .unwrap();
        r
    }

    fn line(drug: &str) -> PrescriptionLine {
        PrescriptionLine {
            drug: drug.into(),
            dose: "1 tablet".into(),
            frequency: "three times a day".into(),
            days: 7,
            ..Default::default()
        }
    }

    fn issue(
        r: &mut Records,
        id: u128,
        drugs: &[&str],
        reason: Option<&str>,
    ) -> ClinicResult<Prescription> {
        let p = Prescription {
            id: Uuid::from_u128(id),
            tenant_id: TENANT,
            encounter_id: ENC,
            patient_id: PATIENT,
            prescriber_id: DOCTOR,
            lines: drugs.iter().map(|d| line(d)).collect(),
            instructions: String::new(),
            status: PrescriptionStatus::Active,
            issued_at: cx(1).at,
            expires_on: cx(1).today(),
            warnings: vec![],
            override_reason: reason.map(str::to_string),
            status_reason: None,
            updated_at: cx(1).at,
            print: Default::default(),
        };
        apply(
            &Mutation::new(IssuePrescription { prescription: p }),
            &cx(1),
            r,
        )?;
        Ok(r.get::<Prescription>(Uuid::from_u128(id)).unwrap().clone())
    }

    #[test]
    fn a_penicillin_allergy_stops_amoxicillin_until_overridden_with_a_reason() {
        let mut r = clinic(&["Penicillin"], &[]);
        let e = issue(&mut r, 10, &["Amoxicillin 500 mg capsules"], None).unwrap_err();
        assert_eq!(e.code, ErrorCode::SafetyWarning, "{e:?}");
        assert!(e.message.to_lowercase().contains("penicillin"), "{e:?}");
        assert!(r.get::<Prescription>(Uuid::from_u128(10)).is_none());
        assert!(r.get::<Encounter>(ENC).unwrap().prescriptions.is_empty());
        let p = issue(
            &mut r,
            10,
            &["Amoxicillin 500 mg capsules"],
            Some("Tolerated amoxicillin in 2024 under observation"),
        )
        .unwrap();
        assert_eq!(
            p.override_reason.as_deref(),
            Some("Tolerated amoxicillin in 2024 under observation")
        );
        assert!(p
            .warnings
            .iter()
            .any(|w| w.kind == WarningKind::Allergy && w.blocks()));
        let refs = &r.get::<Encounter>(ENC).unwrap().prescriptions;
        assert_eq!(
            refs,
            &vec![PrescribedRef {
                id: p.id,
                content_sha256: p.content_sha256()
            }]
        );
    }

    #[test]
    fn interactions_are_found_in_both_orders_and_duplicates_warn_without_blocking() {
        // On warfarin, prescribing ibuprofen; on ibuprofen, prescribing warfarin.
        for (current, new) in [("Warfarin", "Ibuprofen"), ("Ibuprofen", "Warfarin")] {
            let mut r = clinic(&[], &[current]);
            let e = issue(&mut r, 10, &[new], None).unwrap_err();
            assert_eq!(
                e.code,
                ErrorCode::SafetyWarning,
                "{current} then {new}: {e:?}"
            );
        }
        // Within one prescription too.
        let mut r = clinic(&[], &[]);
        assert_eq!(
            issue(&mut r, 10, &["Warfarin", "Ibuprofen"], None)
                .unwrap_err()
                .code,
            ErrorCode::SafetyWarning
        );
        // Two NSAIDs: a duplicate, shown, not blocking.
        let p = issue(&mut r, 11, &["Ibuprofen", "Naproxen"], None).unwrap();
        assert!(
            p.warnings.iter().any(|w| w.kind == WarningKind::Duplicate),
            "{:?}",
            p.warnings
        );
    }

    #[test]
    fn an_uncoded_allergy_or_unknown_drug_is_reported_as_not_checked() {
        let mut r = clinic(&["the blue tablets"], &[]);
        let p = issue(&mut r, 10, &["Paracetamol", "Zzyzxomab"], None).unwrap();
        let not_checked: Vec<&SafetyWarning> = p
            .warnings
            .iter()
            .filter(|w| w.kind == WarningKind::NotChecked)
            .collect();
        assert!(
            not_checked
                .iter()
                .any(|w| w.allergy.as_deref() == Some("the blue tablets")),
            "{:?}",
            p.warnings
        );
        assert!(
            not_checked
                .iter()
                .any(|w| w.drugs.iter().any(|d| d == "Zzyzxomab")),
            "{:?}",
            p.warnings
        );
    }

    #[test]
    fn a_signed_note_takes_no_prescription_and_its_signature_covers_the_ones_it_has() {
        let mut r = clinic(&[], &[]);
        let p = issue(&mut r, 10, &["Paracetamol"], None).unwrap();
        let e = r.get::<Encounter>(ENC).unwrap().clone();
        let mut content = e.content();
        let hash = content.signed_hash(DOCTOR, cx(2).at);
        content.prescriptions.clear();
        assert_ne!(
            content.signed_hash(DOCTOR, cx(2).at),
            hash,
            "the prescription is in the hash"
        );
        let mut e2 = e.clone();
        e2.sections.plan = "Rest".into();
        r.put(e2);
        let hash = r
            .get::<Encounter>(ENC)
            .unwrap()
            .content()
            .signed_hash(DOCTOR, cx(2).at);
        apply(
            &Mutation::new(crate::clinical::SignEncounter {
                encounter: ENC,
                appointment: None,
                content_sha256: hash,
            }),
            &cx(2),
            &mut r,
        )
        .unwrap();
        let e = issue(&mut r, 11, &["Ibuprofen"], None).unwrap_err();
        assert_eq!(e.code, ErrorCode::Conflict);
        // Ending a prescription is not a change of the note.
        apply(
            &Mutation::new(EndPrescription {
                prescription: p.id,
                to: PrescriptionStatus::Cancelled,
                reason: None,
            }),
            &cx(3),
            &mut r,
        )
        .unwrap_err();
        apply(
            &Mutation::new(EndPrescription {
                prescription: p.id,
                to: PrescriptionStatus::Cancelled,
                reason: Some("Wrong strength".into()),
            }),
            &cx(3),
            &mut r,
        )
        .unwrap();
        assert_eq!(
            r.get::<Prescription>(p.id).unwrap().status,
            PrescriptionStatus::Cancelled
        );
        assert_eq!(r.get::<Encounter>(ENC).unwrap().verify(), Ok(()));
    }
}
