use super::*;

#[tauri::command]
pub async fn search_patients(app: AppHandle, req: SearchReq) -> Answer<Vec<PatientHit>> {
    run(app, "search_patients", move |d| {
        d.with(|w| w.patients().search(&req.query, req.limit as usize))
    })
    .await
}

#[tauri::command]
pub async fn patient_summary(app: AppHandle, req: IdReq) -> Answer<PatientSummary> {
    run(app, "patient_summary", move |d| {
        d.with(|w| w.patient_summary(req.id))
    })
    .await
}

#[tauri::command]
pub async fn check_duplicates(app: AppHandle, req: DetailsReq) -> Answer<Vec<DuplicateCandidate>> {
    run(app, "check_duplicates", move |d| {
        d.with(|w| w.patients().find_duplicates(&req.details))
    })
    .await
}

#[tauri::command]
pub async fn register_patient(app: AppHandle, req: DetailsReq) -> Answer<Patient> {
    run(app, "register_patient", move |d| {
        d.change(|w| w.patients().register(req.details, NewLists::default()))
            .map(|r| r.patient)
    })
    .await
}

#[tauri::command]
pub async fn update_patient(app: AppHandle, req: UpdatePatientReq) -> Answer<Patient> {
    run(app, "update_patient", move |d| {
        d.change(|w| w.patients().edit(req.id, req.patch))
    })
    .await
}
