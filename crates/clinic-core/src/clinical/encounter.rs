//! What an encounter's note holds, and the hash its signature covers.
//!
//! Signing freezes a note and stores the SHA-256 of a canonical form of
//! everything it holds: every section, the vitals, the diagnoses, the
//! patient, the author and the time of signing. The form is written field
//! by field in a fixed order, each value length-prefixed (as the audit
//! chain does), so it depends on neither JSON key order nor float
//! formatting; `encounter verify` recomputes it.

use super::Vitals;
use crate::error::{ClinicResult, FieldErrors};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The text sections of a note (SOAP and the plan), each free text.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NoteSections {
    pub chief_complaint: String,
    pub history: String,
    pub examination: String,
    pub assessment: String,
    pub plan: String,
}

/// The most characters one section holds (a long consultation note is a
/// few thousand).
pub const MAX_SECTION_CHARS: usize = 20_000;

impl NoteSections {
    /// The sections by name, in the canonical order.
    pub fn named(&self) -> [(&'static str, &str); 5] {
        [
            ("chief_complaint", &self.chief_complaint),
            ("history", &self.history),
            ("examination", &self.examination),
            ("assessment", &self.assessment),
            ("plan", &self.plan),
        ]
    }
}

/// A diagnosis: an ICD-10 code when there is one, and its text. Its id
/// lets two desks add diagnoses to one note at once (both kept) and
/// remove one by name; it is not part of what a signature covers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Diagnosis {
    #[serde(default)]
    pub id: Uuid,
    pub code: Option<String>,
    pub text: String,
}

/// Everything a signed note holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoteContent {
    pub patient: Uuid,
    pub appointment: Option<Uuid>,
    pub sections: NoteSections,
    pub vitals: Vitals,
    pub diagnoses: Vec<Diagnosis>,
    pub follow_up: Option<NaiveDate>,
    /// The prescriptions written in the encounter, by content hash.
    #[serde(default)]
    pub prescriptions: Vec<super::PrescribedRef>,
}

impl NoteContent {
    /// Section lengths and diagnosis codes, as a signature needs them.
    pub fn validate(&self) -> ClinicResult<()> {
        let mut errs = FieldErrors::default();
        for (name, text) in self.sections.named() {
            if text.chars().count() > MAX_SECTION_CHARS {
                errs.add(
                    name,
                    format!("must be at most {MAX_SECTION_CHARS} characters"),
                );
            }
        }
        for d in &self.diagnoses {
            if d.text.trim().is_empty() || d.text.chars().count() > 300 {
                errs.add("diagnoses.text", "is required (at most 300 characters)");
            }
            if d.code
                .as_deref()
                .is_some_and(|c| !crate::patients::is_icd10(c))
            {
                errs.add("diagnoses.code", "is not an ICD-10 code (example: J45.9)");
            }
        }
        errs.into_result()
    }

    /// The SHA-256 (hex) a signature by `author` at `signed_at` covers.
    pub fn signed_hash(&self, author: Uuid, signed_at: DateTime<Utc>) -> String {
        let mut h = Sha256::new();
        let mut put = |label: &str, value: &str| {
            for part in [label, value] {
                h.update((part.len() as u64).to_be_bytes());
                h.update(part.as_bytes());
            }
        };
        put("form", "clinic-note-v1");
        put("patient", &self.patient.to_string());
        put(
            "appointment",
            &self.appointment.map(|a| a.to_string()).unwrap_or_default(),
        );
        for (name, text) in self.sections.named() {
            put(name, text);
        }
        let v = &self.vitals;
        let int = |x: Option<u16>| x.map(|x| x.to_string()).unwrap_or_default();
        let dec = |x: Option<f64>| x.map(|x| format!("{x:.1}")).unwrap_or_default();
        put("systolic_mmhg", &int(v.systolic_mmhg));
        put("diastolic_mmhg", &int(v.diastolic_mmhg));
        put("pulse_bpm", &int(v.pulse_bpm));
        put("temperature_c", &dec(v.temperature_c));
        put("spo2_pct", &int(v.spo2_pct));
        put("weight_kg", &dec(v.weight_kg));
        put("height_cm", &dec(v.height_cm));
        put("bmi", &dec(v.bmi));
        put("diagnoses", &self.diagnoses.len().to_string());
        for d in &self.diagnoses {
            put("code", d.code.as_deref().unwrap_or_default());
            put("text", &d.text);
        }
        put(
            "follow_up",
            &self.follow_up.map(|d| d.to_string()).unwrap_or_default(),
        );
        put("prescriptions", &self.prescriptions.len().to_string());
        for p in &self.prescriptions {
            put("prescription", &p.id.to_string());
            put("prescription_sha256", &p.content_sha256);
        }
        put("author", &author.to_string());
        put(
            "signed_at",
            &signed_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        );
        crate::sync::feed::hex(&h.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn note() -> NoteContent {
        NoteContent {
            patient: Uuid::from_u128(1),
            appointment: Some(Uuid::from_u128(2)),
            sections: NoteSections {
                chief_complaint: "Cough for two weeks".into(),
                assessment: "Probable asthma".into(),
                plan: "Salbutamol inhaler; review in 4 weeks".into(),
                ..Default::default()
            },
            vitals: Vitals {
                systolic_mmhg: Some(120),
                diastolic_mmhg: Some(80),
                temperature_c: Some(36.8),
                ..Default::default()
            },
            diagnoses: vec![Diagnosis {
                id: Uuid::from_u128(10),
                code: Some("J45.9".into()),
                text: "Asthma, unspecified".into(),
            }],
            follow_up: NaiveDate::from_ymd_opt(2027, 1, 4),
            prescriptions: vec![super::super::PrescribedRef {
                id: Uuid::from_u128(20),
                content_sha256: "ab".repeat(32),
            }],
        }
    }

    #[test]
    fn the_signed_hash_covers_every_part_of_the_note() {
        let (author, at) = (
            Uuid::from_u128(9),
            Utc.with_ymd_and_hms(2026, 12, 5, 9, 30, 0).unwrap(),
        );
        let base = note().signed_hash(author, at);
        assert_eq!(base.len(), 64);
        assert_eq!(
            note().signed_hash(author, at),
            base,
            "the same note, the same hash"
        );
        let mut changed: Vec<NoteContent> = Vec::new();
        for edit in [
            |n: &mut NoteContent| n.sections.assessment.push('.'),
            |n: &mut NoteContent| n.sections.history = "x".into(),
            |n: &mut NoteContent| n.vitals.temperature_c = Some(36.9),
            |n: &mut NoteContent| n.vitals.pulse_bpm = Some(72),
            |n: &mut NoteContent| n.diagnoses[0].code = Some("J45.0".into()),
            |n: &mut NoteContent| {
                n.diagnoses.push(Diagnosis {
                    id: Uuid::from_u128(11),
                    code: None,
                    text: "Rhinitis".into(),
                })
            },
            |n: &mut NoteContent| n.follow_up = None,
            |n: &mut NoteContent| n.prescriptions[0].content_sha256 = "cd".repeat(32),
            |n: &mut NoteContent| n.prescriptions.clear(),
            |n: &mut NoteContent| n.appointment = None,
            |n: &mut NoteContent| n.patient = Uuid::from_u128(3),
            // Moving text between sections is a different note.
            |n: &mut NoteContent| {
                n.sections.plan = format!("{}{}", n.sections.assessment, n.sections.plan);
                n.sections.assessment.clear();
            },
        ] {
            let mut n = note();
            edit(&mut n);
            changed.push(n);
        }
        for n in &changed {
            assert_ne!(n.signed_hash(author, at), base, "{n:?}");
        }
        assert_ne!(
            note().signed_hash(Uuid::from_u128(8), at),
            base,
            "the author"
        );
        assert_ne!(
            note().signed_hash(author, at + chrono::Duration::seconds(1)),
            base,
            "the time"
        );
    }

    #[test]
    fn a_note_refuses_overlong_sections_and_malformed_codes() {
        assert!(note().validate().is_ok());
        let mut long = note();
        long.sections.history = "x".repeat(MAX_SECTION_CHARS + 1);
        let e = long.validate().unwrap_err();
        assert!(e.fields.iter().any(|f| f.field == "history"), "{e:?}");
        let mut bad = note();
        bad.diagnoses[0].code = Some("asthma".into());
        bad.diagnoses.push(Diagnosis {
            id: Uuid::from_u128(12),
            code: None,
            text: " ".into(),
        });
        let e = bad.validate().unwrap_err();
        let fields: Vec<&str> = e.fields.iter().map(|f| f.field.as_str()).collect();
        assert!(
            fields.contains(&"diagnoses.code") && fields.contains(&"diagnoses.text"),
            "{fields:?}"
        );
    }
}
