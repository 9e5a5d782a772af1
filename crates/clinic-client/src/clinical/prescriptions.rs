//! Prescribing: the safety checks shown while a prescription is written
//! (against the patient's allergies, recorded medications and active
//! prescriptions), issuing it (a blocking warning needs an override with
//! its reason, recorded and audited), ending it, and its PDF, printed from
//! the copy it keeps of what it printed.

use super::{encounter_audit, Clinical};
use crate::workstation::new_id;
use chrono::{DateTime, SubsecRound, Utc};
use clinic_core::audit::AuditEntry;
use clinic_core::clinical::medications::{MedicationTable, SafetyWarning};
use clinic_core::clinical::*;
use clinic_core::directory::StaffMember;
use clinic_core::patients::Patient;
use clinic_core::permissions::{Action, Module};
use clinic_core::sync::{Mutation, RecordKind};
use clinic_core::{ClinicError, ClinicResult};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

/// What issuing answers: the prescription and the warnings shown with it.
#[derive(Debug, Clone, Serialize)]
pub struct Issued {
    #[serde(flatten)]
    pub prescription: Prescription,
    /// Non-blocking findings (and overridden ones), for the prescriber.
    pub shown: Vec<SafetyWarning>,
}

/// The human number printed on a prescription (from its id: unique, never
/// reused, needs no number block).
pub fn prescription_number(id: Uuid) -> String {
    let hex = id.simple().to_string().to_uppercase();
    format!("RX-{}-{}", &hex[20..24], &hex[24..32])
}

impl Clinical<'_> {
    fn prescribing(&mut self, action: Action) -> ClinicResult<(crate::Session, DateTime<Utc>)> {
        self.act_in(Module::Prescriptions, action)
    }

    /// The patient, and the drugs of their other active prescriptions.
    fn prescribing_context(
        &self,
        patient: Uuid,
        today: chrono::NaiveDate,
    ) -> ClinicResult<(Patient, Vec<String>)> {
        let db = self.ws.store()?.db();
        let p = db
            .patient(patient)?
            .ok_or_else(|| ClinicError::not_found("Patient"))?;
        let active = db
            .patient_prescriptions(patient, true)?
            .into_iter()
            .filter(|x| clinic_store::clinical::is_current(x, today))
            .flat_map(|x| x.lines.into_iter().map(|l| l.drug))
            .collect();
        Ok((p, active))
    }

    /// The safety checks of prescribing `lines` in `encounter` now (nothing
    /// is written): allergies, interactions, duplicates, and what could not
    /// be checked.
    pub fn check_prescription(
        &mut self,
        encounter: Uuid,
        lines: &[PrescriptionLine],
    ) -> ClinicResult<Vec<SafetyWarning>> {
        let (_, now) = self.prescribing(Action::Create)?;
        let e = self.load(encounter)?;
        let (patient, active) = self.prescribing_context(e.patient_id, now.date_naive())?;
        Ok(safety_warnings(lines, &patient, &active))
    }

    /// Issues a prescription in a draft encounter. A blocking warning
    /// refuses it (`SAFETY_WARNING`) unless `override_reason` says why it
    /// is prescribed anyway; the override is audited with its reason.
    pub fn prescribe(
        &mut self,
        encounter: Uuid,
        mut lines: Vec<PrescriptionLine>,
        instructions: &str,
        override_reason: Option<&str>,
    ) -> ClinicResult<Issued> {
        let (s, now) = self.prescribing(Action::Create)?;
        let now = now.trunc_subsecs(6);
        let e = self.load(encounter)?;
        e.ensure_draft()?;
        let table = MedicationTable::shipped();
        for l in &mut lines {
            l.drug = l.drug.trim().to_string();
            l.substance = table.find_in_text(&l.drug).map(|x| x.key.clone());
        }
        validate_lines(&lines, instructions)?;
        let (patient, active) = self.prescribing_context(e.patient_id, now.date_naive())?;
        let warnings = safety_warnings(&lines, &patient, &active);
        let reason = override_reason.map(str::trim).filter(|r| !r.is_empty());
        if reason.is_none() && warnings.iter().any(SafetyWarning::blocks) {
            return Err(safety_refusal(&warnings));
        }
        let print = self.print_snapshot(&patient, s.user_id)?;
        let id = new_id(now);
        let p = Prescription {
            id,
            tenant_id: Uuid::nil(),
            encounter_id: encounter,
            patient_id: e.patient_id,
            prescriber_id: s.user_id,
            lines,
            instructions: instructions.trim().to_string(),
            status: PrescriptionStatus::Active,
            issued_at: now,
            expires_on: now.date_naive(),
            warnings: warnings.clone(),
            override_reason: reason.map(str::to_string),
            status_reason: None,
            updated_at: now,
            print,
        };
        let blocking: Vec<&SafetyWarning> = warnings.iter().filter(|w| w.blocks()).collect();
        let c = self.ws.commit_change(
            &s,
            now,
            |_| Ok(Mutation::new(IssuePrescription { prescription: p })),
            |_| {
                let mut events = vec![AuditEntry {
                    action: "prescription.issue",
                    entity_type: Prescription::KIND,
                    entity_id: Some(id),
                    patient_id: Some(e.patient_id),
                    details: json!({"encounter": encounter, "warnings": warnings.len()}),
                }];
                if let Some(r) = reason {
                    events.push(encounter_audit(
                        "prescription.override",
                        encounter,
                        e.patient_id,
                        json!({"prescription": id, "reason": r,
                               "overridden": blocking.iter().map(|w| &w.message).collect::<Vec<_>>()}),
                    ));
                }
                events
            },
        )?;
        let prescription = c.after::<Prescription>(id)?;
        Ok(Issued {
            shown: prescription.warnings.clone(),
            prescription,
        })
    }

    /// What the prescription prints about the patient, prescriber and clinic.
    fn print_snapshot(
        &self,
        patient: &Patient,
        prescriber: Uuid,
    ) -> ClinicResult<PrescriptionPrint> {
        let db = self.ws.store()?.db();
        let d = &patient.details;
        let staff = db
            .record(prescriber)?
            .and_then(|r| r.get::<StaffMember>().cloned());
        let site = self.ws.home_site()?;
        let tenant = db.tenant()?;
        Ok(PrescriptionPrint {
            patient_name: format!("{} {}", d.first_name, d.last_name),
            patient_number: patient.patient_number.clone(),
            date_of_birth: d.date_of_birth,
            patient_address: clinic_core::patients::address_lines(d).join(", "),
            prescriber_name: staff.as_ref().map(|s| s.name.clone()).unwrap_or_default(),
            prescriber_registration: staff.and_then(|s| s.registration_number),
            clinic_name: format!("{} — {}", tenant.name, site.name),
            clinic_address: String::new(),
        })
    }

    /// Completes or cancels a prescription (a cancellation says why).
    pub fn end_prescription(
        &mut self,
        id: Uuid,
        to: PrescriptionStatus,
        reason: Option<&str>,
    ) -> ClinicResult<Prescription> {
        let (s, now) = self.prescribing(Action::Edit)?;
        let p = self.prescription(id)?;
        let c = self.ws.commit_change(
            &s,
            now,
            |_| {
                Ok(Mutation::new(EndPrescription {
                    prescription: id,
                    to,
                    reason: reason.map(str::to_string),
                }))
            },
            |_| {
                vec![AuditEntry {
                    action: "prescription.end",
                    entity_type: Prescription::KIND,
                    entity_id: Some(id),
                    patient_id: Some(p.patient_id),
                    details: json!({"to": to.as_str(), "reason": reason}),
                }]
            },
        )?;
        Ok(c.after::<Prescription>(id)?)
    }

    fn prescription(&self, id: Uuid) -> ClinicResult<Prescription> {
        self.ws
            .store()?
            .db()
            .prescription(id)?
            .ok_or_else(|| ClinicError::not_found("Prescription"))
    }

    /// Opens a prescription (a read of health data: audited).
    pub fn show_prescription(&mut self, id: Uuid) -> ClinicResult<Prescription> {
        let (s, now) = self.prescribing(Action::View)?;
        let p = self.prescription(id)?;
        self.ws.audit_read(
            &s,
            now,
            AuditEntry {
                action: "prescription.read",
                entity_type: Prescription::KIND,
                entity_id: Some(id),
                patient_id: Some(p.patient_id),
                details: json!({}),
            },
        )?;
        Ok(p)
    }

    /// The prescription as printed, from its own copy of what it printed
    /// (whatever changed since in the patient's or the clinic's details).
    pub fn prescription_pdf(&mut self, id: Uuid) -> ClinicResult<Vec<u8>> {
        let p = self.show_prescription(id)?;
        let signed = self.load(p.encounter_id)?.signature.map(|sig| {
            format!(
                "Signed electronically by {} on {}",
                p.print.prescriber_name,
                sig.at.format("%d %b %Y %H:%M UTC")
            )
        });
        let doc =
            clinic_print::Prescription {
                letterhead: clinic_print::Letterhead {
                    name: p.print.clinic_name.clone(),
                    address_lines: [p.print.clinic_address.clone()]
                        .into_iter()
                        .filter(|a| !a.is_empty())
                        .collect(),
                    ..Default::default()
                },
                number: prescription_number(p.id),
                issued: p.issued_at.format("%d %b %Y").to_string(),
                patient: clinic_print::PatientDetails {
                    name: p.print.patient_name.clone(),
                    number: p.print.patient_number.clone(),
                    date_of_birth: p
                        .print
                        .date_of_birth
                        .map(|d| d.format("%d %b %Y").to_string()),
                    address_lines: [p.print.patient_address.clone()]
                        .into_iter()
                        .filter(|a| !a.is_empty())
                        .collect(),
                },
                prescriber: clinic_print::Clinician {
                    name: p.print.prescriber_name.clone(),
                    role: None,
                    registration: p.print.prescriber_registration.clone(),
                },
                items: p
                    .lines
                    .iter()
                    .map(|l| clinic_print::PrescriptionItem {
                        medicine: [l.drug.as_str(), l.strength.as_str(), l.form.as_str()]
                            .into_iter()
                            .filter(|x| !x.is_empty())
                            .collect::<Vec<_>>()
                            .join(" "),
                        directions: format!(
                            "{} {}{} for {} days",
                            l.dose,
                            l.frequency,
                            if l.route.is_empty() {
                                String::new()
                            } else {
                                format!(" ({})", l.route)
                            },
                            l.days
                        ),
                        quantity: l.quantity.clone(),
                        repeats: (l.refills > 0).then(|| format!("{} repeats", l.refills)),
                    })
                    .collect(),
                notes: [p.instructions.clone()]
                    .into_iter()
                    .filter(|i| !i.is_empty())
                    .chain((p.status != PrescriptionStatus::Active).then(|| {
                        format!("{} — not to be dispensed", p.status.as_str().to_uppercase())
                    }))
                    .collect(),
                signature: signed,
                footer: format!(
                    "Valid until {}. {}",
                    p.expires_on.format("%d %b %Y"),
                    prescription_number(p.id)
                ),
            };
        clinic_print::render(&doc, clinic_print::Paper::A4)
            .map_err(|e| ClinicError::internal(format!("printing the prescription: {e}")))
    }
}
