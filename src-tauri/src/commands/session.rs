use super::*;

#[tauri::command]
pub async fn app_state(app: AppHandle) -> Answer<AppState> {
    run(app, "app_state", |d| Ok(d.state())).await
}

#[tauri::command]
pub async fn create_store(app: AppHandle, req: CreateStoreReq) -> Answer<AppState> {
    run(app, "create_store", move |d| {
        let opts = InitOptions {
            tenant_name: req.clinic_name,
            admin_email: req.admin_email,
            admin_name: req.admin_name,
            admin_password: Password::new_checked(req.admin_password)?,
            passphrase: Passphrase::new(req.passphrase)?,
            keychain: None,
            site_name: "Main site".into(),
            timezone: "Europe/London".into(),
        };
        d.create_store(opts)
    })
    .await
}

#[tauri::command]
pub async fn enroll(app: AppHandle, req: EnrollReq) -> Answer<AppState> {
    run(app, "enroll", move |d| {
        let pin = req
            .fingerprint
            .as_deref()
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .map(clinic_core::api::KeyPin::parse)
            .transpose()?;
        Passphrase::new(req.passphrase).and_then(|p| {
            d.enroll(
                &req.server_url,
                pin,
                &req.tenant,
                &req.email,
                &Password::new(req.password),
                &req.device_name,
                p,
            )
        })
    })
    .await
}

#[tauri::command]
pub async fn unlock(app: AppHandle, req: UnlockReq) -> Answer<AppState> {
    run(app, "unlock", move |d| d.unlock(req.passphrase)).await
}

#[tauri::command]
pub async fn unlock_as(app: AppHandle, req: SignInReq) -> Answer<AppState> {
    run(app, "unlock_as", move |d| {
        d.unlock_as(&req.email, &Password::new(req.password))
    })
    .await
}

#[tauri::command]
pub async fn sign_in(app: AppHandle, req: SignInReq) -> Answer<AppState> {
    run(app, "sign_in", move |d| {
        d.sign_in(&req.email, &Password::new(req.password))
    })
    .await
}

#[tauri::command]
pub async fn change_password(app: AppHandle, req: ChangePasswordReq) -> Answer<AppState> {
    run(app, "change_password", move |d| {
        d.change_password(&Password::new(req.current), Password::new(req.new))
    })
    .await
}

#[tauri::command]
pub async fn sign_out(app: AppHandle) -> Answer<AppState> {
    run(app, "sign_out", move |d| d.sign_out()).await
}

#[tauri::command]
pub async fn lock(app: AppHandle) -> Answer<AppState> {
    run(app, "lock", move |d| d.lock()).await
}

#[tauri::command]
pub async fn settings(app: AppHandle) -> Answer<SettingsView> {
    run(app, "settings", move |d| {
        d.with(|w| {
            let info = w.info()?;
            let site = w.scheduling().home_site().ok();
            let sync = w.sync_status(false)?;
            Ok(SettingsView {
                data_dir: w.dir().display().to_string(),
                log_dir: d.log_dir().display().to_string(),
                version: env!("CARGO_PKG_VERSION").into(),
                server_url: sync.server,
                device_id: Some(info.device_id.to_string()),
                device_name: w.device_name()?,
                clinic_name: Some(info.tenant.name),
                site_name: site.as_ref().map(|s| s.name.clone()),
                timezone: site.map(|s| s.timezone),
                keychain_linked: d.keychain_linked(),
            })
        })
    })
    .await
}
