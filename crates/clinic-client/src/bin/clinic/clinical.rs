//! `clinic encounter …` and `clinic chart`: a clinician's notes from the
//! command line (the scripting contract of issue #19).

use super::Ctx;
use clap::Subcommand;
use clinic_client::clinical::EncounterView;
use clinic_core::clinical::{
    parse_blood_pressure, vitals_text, Diagnosis, Encounter, Prescription, PrescriptionLine,
    PrescriptionStatus, Vitals,
};
use clinic_core::{ClinicError, ClinicResult};
use serde_json::json;
use uuid::Uuid;

#[derive(Subcommand, Debug)]
pub enum EncounterCmd {
    /// Start an encounter (a consultation) for a patient, from their
    /// appointment (which goes in progress) or without one
    Start {
        /// Patient number or id
        #[arg(long)]
        patient: String,
        /// The appointment it is for (none: a walk-in, telephone advice)
        #[arg(long)]
        appointment: Option<Uuid>,
        /// consultation (default), follow_up, phone or procedure
        #[arg(long = "type")]
        kind: Option<String>,
    },
    /// Set one field of a draft note
    Edit {
        id: Uuid,
        /// chief_complaint, history, examination, assessment, plan or follow_up (YYYY-MM-DD)
        #[arg(long)]
        field: String,
        #[arg(long)]
        text: String,
        /// Settle a sibling of the field (its revision, from `encounter show`)
        #[arg(long)]
        resolves: Vec<Uuid>,
    },
    /// Record vitals; values outside the usual range need --confirm
    Vitals {
        id: Uuid,
        /// Blood pressure, systolic/diastolic mmHg (120/80)
        #[arg(long)]
        bp: Option<String>,
        /// Pulse, beats per minute
        #[arg(long)]
        pulse: Option<u16>,
        /// Temperature, °C
        #[arg(long)]
        temp: Option<f64>,
        /// Oxygen saturation, %
        #[arg(long)]
        spo2: Option<u16>,
        /// Weight, kg
        #[arg(long)]
        weight: Option<f64>,
        /// Height, cm
        #[arg(long)]
        height: Option<f64>,
        /// The unusual values were measured so: keep them
        #[arg(long)]
        confirm: bool,
    },
    /// Add diagnoses ("J45.909:Asthma", a code of the shipped ICD-10-CM list alone, or text alone) and remove others by id
    Diagnosis {
        id: Uuid,
        #[arg(long)]
        add: Vec<String>,
        #[arg(long)]
        remove: Vec<Uuid>,
    },
    /// Sign the note (its clinician): it never changes again
    Sign { id: Uuid },
    /// Add a signed addendum to a signed note
    Addendum {
        id: Uuid,
        #[arg(long)]
        text: String,
    },
    /// Show an encounter: the note, its revisions, siblings and drafts (an audited read)
    Show { id: Uuid },
    /// Recompute a signed note's hash (exit 8 when it does not match)
    Verify { id: Uuid },
}

fn parse_diagnosis(s: &str) -> ClinicResult<Diagnosis> {
    let (code, text) = match s.split_once(':') {
        Some((c, t)) if clinic_core::patients::is_icd10(c.trim()) => {
            (Some(c.trim().to_string()), t)
        }
        // A code alone takes the shipped list's description.
        None if clinic_core::patients::is_icd10(s.trim()) => (Some(s.trim().to_string()), ""),
        _ => (None, s),
    };
    if text.trim().is_empty() && code.is_none() {
        return Err(ClinicError::field(
            "add",
            "give the diagnosis as CODE:text, a code of the ICD-10-CM list, or text",
        ));
    }
    Ok(Diagnosis {
        id: Uuid::nil(),
        code,
        text: text.trim().to_string(),
    })
}

fn card(e: &Encounter) -> String {
    let mut lines = vec![format!(
        "Encounter {} ({}, {}), started {}",
        e.id,
        e.encounter_type.replace('_', " "),
        e.status.as_str(),
        e.started_at.format("%Y-%m-%d %H:%M UTC")
    )];
    for (name, text) in e.sections.named() {
        if !text.is_empty() {
            lines.push(format!("  {}: {text}", name.replace('_', " ")));
        }
    }
    if !e.vitals.is_empty() {
        lines.push(format!("  vitals: {}", vitals_text(&e.vitals)));
    }
    for d in &e.diagnoses {
        lines.push(format!(
            "  diagnosis: {}{}",
            d.code
                .as_deref()
                .map(|c| format!("{c} "))
                .unwrap_or_default(),
            d.text
        ));
    }
    if let Some(f) = e.follow_up {
        lines.push(format!("  follow-up: {f}"));
    }
    for s in &e.siblings {
        lines.push(format!(
            "  also typed into {} on another desk (revision {}): {}",
            s.field.replace('_', " "),
            s.revision,
            s.text
        ));
    }
    if let Some(c) = &e.appointment_conflict {
        lines.push(format!("  appointment: {c}"));
    }
    if let Some(sig) = &e.signature {
        lines.push(format!(
            "  signed {} — SHA-256 {}",
            sig.at.format("%Y-%m-%d %H:%M UTC"),
            sig.content_sha256
        ));
    }
    for a in &e.addenda {
        lines.push(format!(
            "  addendum {}: {}",
            a.at.format("%Y-%m-%d %H:%M UTC"),
            a.text
        ));
    }
    lines.join("\n")
}

/// The encounter with its signature's hash beside it (`content_sha256`).
fn signed_json(e: &Encounter) -> serde_json::Value {
    let mut v = serde_json::to_value(e).unwrap_or_default();
    if let serde_json::Value::Object(o) = &mut v {
        o.insert(
            "content_sha256".into(),
            json!(e.signature.as_ref().map(|s| &s.content_sha256)),
        );
    }
    v
}

pub fn encounter(ctx: &Ctx, cmd: EncounterCmd) -> ClinicResult<()> {
    let mut ws = ctx.signed_in()?;
    let done = |e: &Encounter| ctx.print(&signed_json(e), |_| card(e));
    match cmd {
        EncounterCmd::Start {
            patient,
            appointment,
            kind,
        } => {
            let patient = ws.patients().resolve(&patient)?;
            let e = ws.clinical().start(patient, appointment, kind.as_deref())?;
            done(&e);
        }
        EncounterCmd::Edit {
            id,
            field,
            text,
            resolves,
        } => {
            let e = ws.clinical().edit(id, &field, &text, resolves)?;
            done(&e);
        }
        EncounterCmd::Vitals {
            id,
            bp,
            pulse,
            temp,
            spo2,
            weight,
            height,
            confirm,
        } => {
            let (systolic, diastolic) = match bp {
                Some(bp) => {
                    let (s, d) = parse_blood_pressure(&bp)?;
                    (Some(s), Some(d))
                }
                None => (None, None),
            };
            let vitals = Vitals {
                systolic_mmhg: systolic,
                diastolic_mmhg: diastolic,
                pulse_bpm: pulse,
                temperature_c: temp,
                spo2_pct: spo2,
                weight_kg: weight,
                height_cm: height,
                bmi: None,
            };
            let e = ws.clinical().record_vitals(id, vitals, confirm)?;
            done(&e);
        }
        EncounterCmd::Diagnosis { id, add, remove } => {
            let add = add
                .iter()
                .map(|s| parse_diagnosis(s))
                .collect::<ClinicResult<Vec<_>>>()?;
            let e = ws.clinical().change_diagnoses(id, add, remove)?;
            done(&e);
        }
        EncounterCmd::Sign { id } => {
            let e = ws.clinical().sign(id)?;
            done(&e);
        }
        EncounterCmd::Addendum { id, text } => {
            let e = ws.clinical().add_addendum(id, &text)?;
            done(&e);
        }
        EncounterCmd::Show { id } => {
            let v: EncounterView = ws.clinical().show(id)?;
            ctx.print_record(&mut ws, id, &v, |v| {
                let mut text = format!(
                    "{} ({}) — {}\n{}",
                    v.patient_name,
                    v.patient_number,
                    v.clinician_name,
                    card(&v.encounter)
                );
                for d in &v.drafts {
                    text.push_str(&format!(
                        "\n  draft of {} (saved {}, not yet a change): {}",
                        d.field.replace('_', " "),
                        d.saved_at.format("%H:%M:%S UTC"),
                        d.text
                    ));
                }
                text
            })?;
        }
        EncounterCmd::Verify { id } => {
            let e = ws.clinical().verify(id)?;
            let sig = e
                .signature
                .clone()
                .unwrap_or_else(|| unreachable!("verified notes are signed"));
            ctx.print(
                &json!({"id": e.id, "verified": true, "content_sha256": sig.content_sha256, "addenda": e.addenda.len()}),
                |_| format!("The signature holds: SHA-256 {} ({} addenda verified).", sig.content_sha256, e.addenda.len()),
            );
        }
    }
    Ok(())
}

#[derive(Subcommand, Debug)]
pub enum PrescriptionCmd {
    /// Prescribe one medicine in a draft encounter. Warnings are printed
    /// (`warnings` in the JSON); a blocking one (an allergy, a severe
    /// interaction) refuses it with SAFETY_WARNING (exit 7) unless
    /// --override --reason "…"
    Add {
        #[arg(long)]
        encounter: Uuid,
        /// The medicine ("Amoxicillin"): checked against the shipped medication table
        #[arg(long)]
        drug: String,
        #[arg(long, default_value = "")]
        strength: String,
        #[arg(long, default_value = "")]
        form: String,
        /// "1 capsule", "5 ml"
        #[arg(long)]
        dose: String,
        #[arg(long, default_value = "")]
        route: String,
        /// "three times a day"
        #[arg(long)]
        frequency: String,
        /// Duration in days
        #[arg(long)]
        days: u32,
        #[arg(long, default_value = "")]
        quantity: String,
        #[arg(long, default_value_t = 0)]
        refills: u8,
        #[arg(long, default_value = "")]
        instructions: String,
        /// Prescribe despite a blocking warning (needs --reason; audited)
        #[arg(long = "override")]
        override_warnings: bool,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Show a prescription (an audited read)
    Show { id: Uuid },
    /// Print a prescription as PDF (from the copy it keeps of what it printed)
    Pdf {
        id: Uuid,
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Cancel a prescription, saying why
    Cancel {
        id: Uuid,
        #[arg(long)]
        reason: String,
    },
    /// Mark a prescription's course completed
    Complete { id: Uuid },
}

fn prescription_card(p: &Prescription) -> String {
    let mut lines = vec![format!(
        "Prescription {} ({}), {} — {}",
        clinic_client::clinical::prescriptions::prescription_number(p.id),
        p.status.as_str(),
        p.issued_at.format("%Y-%m-%d"),
        p.print.patient_name
    )];
    for l in &p.lines {
        lines.push(format!(
            "  {} {} {}: {} {} for {} days",
            l.drug, l.strength, l.form, l.dose, l.frequency, l.days
        ));
    }
    for w in &p.warnings {
        lines.push(format!("  warning ({:?}): {}", w.kind, w.message));
    }
    if let Some(r) = &p.override_reason {
        lines.push(format!("  overridden: {r}"));
    }
    lines.join("\n")
}

pub fn prescription(ctx: &Ctx, cmd: PrescriptionCmd) -> ClinicResult<()> {
    let mut ws = ctx.signed_in()?;
    match cmd {
        PrescriptionCmd::Add {
            encounter,
            drug,
            strength,
            form,
            dose,
            route,
            frequency,
            days,
            quantity,
            refills,
            instructions,
            override_warnings,
            reason,
        } => {
            let reason = match (override_warnings, reason) {
                (true, Some(r)) if !r.trim().is_empty() => Some(r),
                (true, _) => {
                    return Err(ClinicError::field(
                        "reason",
                        "say why the warning is overridden (--reason \"…\")",
                    ))
                }
                (false, Some(_)) => {
                    return Err(ClinicError::field(
                        "override",
                        "--reason goes with --override",
                    ))
                }
                (false, None) => None,
            };
            let line = PrescriptionLine {
                drug,
                substance: None,
                strength,
                form,
                dose,
                route,
                frequency,
                days,
                quantity,
                refills,
            };
            let issued =
                ws.clinical()
                    .prescribe(encounter, vec![line], &instructions, reason.as_deref())?;
            let mut v =
                serde_json::to_value(&issued.prescription).map_err(ClinicError::internal)?;
            if let serde_json::Value::Object(o) = &mut v {
                o.insert("warnings".into(), json!(issued.shown));
                o.insert(
                    "number".into(),
                    json!(clinic_client::clinical::prescriptions::prescription_number(
                        issued.prescription.id
                    )),
                );
            }
            for w in &issued.shown {
                eprintln!("warning: {}", w.message);
            }
            ctx.print(&v, |_| prescription_card(&issued.prescription));
        }
        PrescriptionCmd::Show { id } => {
            let p = ws.clinical().show_prescription(id)?;
            ctx.print(&p, prescription_card);
        }
        PrescriptionCmd::Pdf { id, out } => {
            let pdf = ws.clinical().prescription_pdf(id)?;
            clinic_print::write_pdf(&out, &pdf)
                .map_err(|e| ClinicError::field("out", format!("could not be written: {e}")))?;
            ctx.print(&json!({"id": id, "out": out, "bytes": pdf.len()}), |_| {
                format!("Wrote {} ({} bytes)", out.display(), pdf.len())
            });
        }
        PrescriptionCmd::Cancel { id, reason } => {
            let p =
                ws.clinical()
                    .end_prescription(id, PrescriptionStatus::Cancelled, Some(&reason))?;
            ctx.print(&p, prescription_card);
        }
        PrescriptionCmd::Complete { id } => {
            let p = ws
                .clinical()
                .end_prescription(id, PrescriptionStatus::Completed, None)?;
            ctx.print(&p, prescription_card);
        }
    }
    Ok(())
}

/// `clinic chart PATIENT`: the patient's chart (an audited read).
pub fn chart(ctx: &Ctx, patient: &str) -> ClinicResult<()> {
    let mut ws = ctx.signed_in()?;
    let id = ws.patients().resolve(patient)?;
    let c = ws.clinical().chart(id)?;
    ctx.print(&c, |c| {
        let p = &c.patient;
        let mut lines = vec![format!(
            "{} {} ({})",
            p.details.first_name, p.details.last_name, p.patient_number
        )];
        for a in &p.lists.allergies {
            lines.push(format!("  allergy: {}", a.substance));
        }
        for cond in &p.lists.conditions {
            lines.push(format!("  problem: {}", cond.name));
        }
        for m in &p.lists.medications {
            lines.push(format!("  medication: {}", m.name));
        }
        for e in &c.encounters {
            lines.push(format!(
                "  {} {} {} — {}",
                e.started_at.format("%Y-%m-%d"),
                e.status.as_str(),
                e.clinician_name,
                if e.assessment.is_empty() {
                    &e.chief_complaint
                } else {
                    &e.assessment
                }
            ));
        }
        for v in &c.vitals {
            lines.push(format!(
                "  vitals {}: {}",
                v.at.format("%Y-%m-%d"),
                vitals_text(&v.vitals)
            ));
        }
        lines.join("\n")
    });
    Ok(())
}
