use super::*;

#[tauri::command]
pub async fn sync_status(app: AppHandle) -> Answer<SyncView> {
    run(app, "sync_status", move |d| d.sync_view()).await
}

#[tauri::command]
pub async fn sync_now(app: AppHandle) -> Answer<SyncView> {
    run(app, "sync_now", move |d| d.sync_now()).await
}

#[tauri::command]
pub async fn conflicts(app: AppHandle) -> Answer<ConflictsView> {
    run(app, "conflicts", move |d| d.with(|w| w.conflicts_view())).await
}

#[tauri::command]
pub async fn reapply_refused(app: AppHandle, req: SeqReq) -> Answer<ConflictsView> {
    run(app, "reapply_refused", move |d| {
        d.with(|w| {
            w.reapply_sync_problem(req.device_seq)?;
            w.conflicts_view()
        })
    })
    .await
}

#[tauri::command]
pub async fn dismiss_refused(app: AppHandle, req: SeqReq) -> Answer<ConflictsView> {
    run(app, "dismiss_refused", move |d| {
        d.with(|w| {
            w.resolve_sync_conflict(req.device_seq)?;
            w.conflicts_view()
        })
    })
    .await
}
