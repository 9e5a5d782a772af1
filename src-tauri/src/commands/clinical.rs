use super::*;
use clinic_client::clinical::desk::{ChartView, ClinicianDayView, DraftSaved, NoteView};
use clinic_core::clinical::medications::SafetyWarning;
use clinic_core::clinical::{parse_blood_pressure, Diagnosis, Vitals};

#[tauri::command]
pub async fn clinician_day(app: AppHandle, req: DayReq) -> Answer<ClinicianDayView> {
    run(app, "clinician_day", move |d| {
        let date = req
            .date
            .as_deref()
            .map(|s| parse_date("date", s))
            .transpose()?;
        d.with(|w| w.clinician_day(date))
    })
    .await
}

#[tauri::command]
pub async fn chart(app: AppHandle, req: IdReq) -> Answer<ChartView> {
    run(app, "chart", move |d| d.with(|w| w.chart_view(req.id))).await
}

#[tauri::command]
pub async fn start_encounter(app: AppHandle, req: StartEncounterReq) -> Answer<NoteView> {
    run(app, "start_encounter", move |d| {
        d.change(|w| {
            let e = w.clinical().start(
                req.patient_id,
                req.appointment_id,
                req.encounter_type.as_deref(),
            )?;
            w.note_view(e.id)
        })
    })
    .await
}

#[tauri::command]
pub async fn note(app: AppHandle, req: IdReq) -> Answer<NoteView> {
    run(app, "note", move |d| d.with(|w| w.note_view(req.id))).await
}

#[tauri::command]
pub async fn save_draft(app: AppHandle, req: DraftReq) -> Answer<DraftSaved> {
    run(app, "save_draft", move |d| {
        d.with(|w| w.save_note_draft(req.id, &req.field, &req.text))
    })
    .await
}

#[tauri::command]
pub async fn save_note(app: AppHandle, req: IdReq) -> Answer<NoteView> {
    run(app, "save_note", move |d| {
        d.change(|w| {
            let report = w.clinical().flush_drafts(Some(req.id), None)?;
            if let Some((_, _, e)) = report.kept.into_iter().next() {
                return Err(e);
            }
            w.note_view(req.id)
        })
    })
    .await
}

#[tauri::command]
pub async fn record_vitals(app: AppHandle, req: VitalsReq) -> Answer<NoteView> {
    run(app, "record_vitals", move |d| {
        let (systolic, diastolic) = match req.bp.as_deref().map(str::trim).filter(|s| !s.is_empty())
        {
            Some(bp) => {
                let (s, d) = parse_blood_pressure(bp)?;
                (Some(s), Some(d))
            }
            None => (None, None),
        };
        let vitals = Vitals {
            systolic_mmhg: systolic,
            diastolic_mmhg: diastolic,
            pulse_bpm: req.pulse,
            temperature_c: req.temperature,
            spo2_pct: req.spo2,
            weight_kg: req.weight,
            height_cm: req.height,
            bmi: None,
        };
        d.change(|w| {
            w.clinical().record_vitals(req.id, vitals, req.confirm)?;
            w.note_view(req.id)
        })
    })
    .await
}

#[tauri::command]
pub async fn change_diagnoses(app: AppHandle, req: DiagnosesReq) -> Answer<NoteView> {
    run(app, "change_diagnoses", move |d| {
        let add = req
            .add
            .into_iter()
            .map(|n| Diagnosis {
                id: Uuid::nil(),
                code: n
                    .code
                    .map(|c| c.trim().to_string())
                    .filter(|c| !c.is_empty()),
                text: n.text,
            })
            .collect();
        d.change(|w| {
            w.clinical().change_diagnoses(req.id, add, req.remove)?;
            w.note_view(req.id)
        })
    })
    .await
}

#[tauri::command]
pub async fn sign_note(app: AppHandle, req: IdReq) -> Answer<NoteView> {
    run(app, "sign_note", move |d| {
        d.change(|w| {
            w.clinical().sign(req.id)?;
            w.note_view(req.id)
        })
    })
    .await
}

#[tauri::command]
pub async fn add_addendum(app: AppHandle, req: AddendumReq) -> Answer<NoteView> {
    run(app, "add_addendum", move |d| {
        d.change(|w| {
            w.clinical().add_addendum(req.id, &req.text)?;
            w.note_view(req.id)
        })
    })
    .await
}

#[tauri::command]
pub async fn resolve_sibling(app: AppHandle, req: ResolveSiblingReq) -> Answer<NoteView> {
    run(app, "resolve_sibling", move |d| {
        d.change(|w| {
            w.clinical()
                .edit(req.id, &req.field, &req.text, req.resolves)?;
            w.note_view(req.id)
        })
    })
    .await
}

#[tauri::command]
pub async fn check_prescription(
    app: AppHandle,
    req: PrescriptionReq,
) -> Answer<Vec<SafetyWarning>> {
    run(app, "check_prescription", move |d| {
        d.with(|w| w.clinical().check_prescription(req.id, &req.lines))
    })
    .await
}

#[tauri::command]
pub async fn prescribe(app: AppHandle, req: PrescriptionReq) -> Answer<NoteView> {
    run(app, "prescribe", move |d| {
        d.change(|w| {
            w.clinical().prescribe(
                req.id,
                req.lines,
                &req.instructions,
                req.override_reason.as_deref(),
            )?;
            w.note_view(req.id)
        })
    })
    .await
}

#[tauri::command]
pub async fn end_prescription(app: AppHandle, req: EndPrescriptionReq) -> Answer<NoteView> {
    run(app, "end_prescription", move |d| {
        d.change(|w| {
            let p = w
                .clinical()
                .end_prescription(req.id, req.to, req.reason.as_deref())?;
            w.note_view(p.encounter_id)
        })
    })
    .await
}
