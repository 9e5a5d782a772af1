use super::*;

#[tauri::command]
pub async fn users(app: AppHandle) -> Answer<Vec<UserView>> {
    run(app, "users", move |d| d.with(|w| w.user_views())).await
}

#[tauri::command]
pub async fn add_user(app: AppHandle, req: AddUserReq) -> Answer<UserView> {
    run(app, "add_user", move |d| {
        let p = Password::new_checked(req.password)?;
        d.change(|w| {
            w.directory()
                .add_user(&req.email, &req.name, &req.role, &p, None)
        })
        .map(UserView::from)
    })
    .await
}

#[tauri::command]
pub async fn set_user_disabled(app: AppHandle, req: DisableReq) -> Answer<UserView> {
    run(app, "set_user_disabled", move |d| {
        d.change(|w| w.directory().set_user_disabled(&req.email, req.disabled))
            .map(UserView::from)
    })
    .await
}

#[tauri::command]
pub async fn set_user_roles(app: AppHandle, req: UserRolesReq) -> Answer<UserView> {
    run(app, "set_user_roles", move |d| {
        d.change(|w| w.directory().set_user_roles(&req.email, &req.roles))
            .map(UserView::from)
    })
    .await
}

#[tauri::command]
pub async fn devices(app: AppHandle, req: ServerAdminReq) -> Answer<Vec<DeviceRow>> {
    run(app, "devices", move |d| {
        let p = Password::new(req.password);
        d.with(|w| w.directory().server_devices(&p, req.totp.as_deref()))
    })
    .await
}

#[tauri::command]
pub async fn revoke_device(app: AppHandle, req: RevokeDeviceReq) -> Answer<Vec<DeviceRow>> {
    run(app, "revoke_device", move |d| {
        let p = Password::new(req.password);
        d.change(|w| w.directory().revoke_device(req.id, &p, req.totp.as_deref()))
    })
    .await
}

#[tauri::command]
pub async fn roles(app: AppHandle) -> Answer<Vec<RoleChoice>> {
    run(app, "roles", move |d| {
        d.with(|w| {
            Ok(w.directory()
                .list_roles()?
                .into_iter()
                .map(|r| RoleChoice {
                    key: r.key,
                    name: r.name,
                })
                .collect())
        })
    })
    .await
}
