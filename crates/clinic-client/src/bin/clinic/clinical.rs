//! `clinic encounter …` and `clinic chart`: a clinician's notes from the
//! command line (the scripting contract of issue #19).

use super::Ctx;
use clap::Subcommand;
use clinic_client::clinical::EncounterView;
use clinic_core::clinical::{parse_blood_pressure, vitals_text, Diagnosis, Encounter, Vitals};
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
    /// Add diagnoses ("J45.9:Asthma", or text alone) and remove others by id
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
        _ => (None, s),
    };
    if text.trim().is_empty() {
        return Err(ClinicError::field(
            "add",
            "give the diagnosis as CODE:text or text",
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
