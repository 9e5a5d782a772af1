//! The commands the UI calls. Each one only converts its request, calls a
//! `clinic_client` use-case (the same ones the `clinic` CLI calls) and
//! converts the answer back; errors keep the one shape with stable codes
//! (`ClinicError`: code, message, field errors).

use crate::state::Desktop;
use clinic_client::desk::{
    parse_date, AppState, AppointmentView, CalendarView, ConflictsView, PatientHit, PatientSummary,
    ResolveAction, SettingsView, Slot, SyncView, UserView,
};
use clinic_client::directory::devices::DeviceRow;
use clinic_client::scheduling::{BookRequest, MoveRequest};
use clinic_client::{InitOptions, Password};
use clinic_core::patients::{DuplicateCandidate, NewLists, Patient, PatientDetails, PatientPatch};
use clinic_core::scheduling::{AppointmentStatus, SeriesScope};
use clinic_core::{ClinicError, ClinicResult};
use clinic_store::keys::Passphrase;
use serde::Deserialize;
use tauri::{AppHandle, Manager};
use uuid::Uuid;

type Answer<T> = Result<T, ClinicError>;

/// Runs a command's work on the blocking pool (the store, Argon2 and the
/// sync client block; the UI's event loop never waits on them) and logs a
/// refusal by its code (never the arguments: they may hold patient data or
/// passwords).
async fn run<T: Send + 'static>(
    app: AppHandle,
    name: &'static str,
    work: impl FnOnce(&Desktop) -> ClinicResult<T> + Send + 'static,
) -> Answer<T> {
    let r = tauri::async_runtime::spawn_blocking(move || work(&app.state::<Desktop>()))
        .await
        .unwrap_or_else(|e| Err(ClinicError::internal(e)));
    if let Err(e) = &r {
        tracing::info!(command = name, code = %e.code, "refused");
    }
    r
}

macro_rules! request {
    ($(#[$m:meta])* $name:ident { $($(#[$fm:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Deserialize, ts_rs::TS)]
        pub struct $name { $($(#[$fm])* pub $field: $ty),* }
    };
}

request!(CreateStoreReq {
    clinic_name: String,
    admin_name: String,
    admin_email: String,
    admin_password: String,
    passphrase: String,
});
request!(EnrollReq {
    server_url: String,
    tenant: String,
    email: String,
    password: String,
    device_name: String,
    passphrase: String,
});
request!(UnlockReq { passphrase: Option<String> });
request!(SignInReq {
    email: String,
    password: String
});
request!(SearchReq {
    query: String,
    limit: u32
});
request!(IdReq { id: Uuid });
request!(DetailsReq {
    details: PatientDetails
});
request!(UpdatePatientReq {
    id: Uuid,
    patch: PatientPatch
});
request!(CalendarReq {
    from: String,
    to: String
});
request!(SlotsReq {
    clinician_id: Uuid,
    minutes: u32,
    from_local: String,
    count: u32
});
request!(BookReq {
    patient_id: Uuid,
    clinician_id: Uuid,
    start_local: String,
    minutes: Option<u32>,
    type_name: Option<String>,
    room_id: Option<Uuid>,
    notes: Option<String>,
    override_checks: bool,
});
request!(MoveReq { id: Uuid, start_local: String, clinician_id: Option<Uuid>, override_checks: bool });
request!(StatusReq { id: Uuid, status: AppointmentStatus, reason: Option<String> });
request!(ResolveReq {
    appointment_id: Uuid,
    action: ResolveAction,
    reason: Option<String>,
    start_local: Option<String>,
});
request!(SeqReq {
    #[ts(type = "number")]
    device_seq: i64,
});
request!(AddUserReq {
    email: String,
    name: String,
    role: String,
    password: String
});
request!(DisableReq {
    email: String,
    disabled: bool
});
// An administrator's password (and TOTP code when their account has one),
// confirmed with the sync server for one call.
request!(ServerAdminReq {
    password: String,
    totp: Option<String>
});
request!(RevokeDeviceReq {
    id: Uuid,
    password: String,
    totp: Option<String>
});

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
        Passphrase::new(req.passphrase).and_then(|p| {
            d.enroll(
                &req.server_url,
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
pub async fn sign_in(app: AppHandle, req: SignInReq) -> Answer<AppState> {
    run(app, "sign_in", move |d| {
        d.sign_in(&req.email, &Password::new(req.password))
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

#[tauri::command]
pub async fn calendar(app: AppHandle, req: CalendarReq) -> Answer<CalendarView> {
    run(app, "calendar", move |d| {
        parse_date("from", &req.from)
            .and_then(|from| Ok((from, parse_date("to", &req.to)?)))
            .and_then(|(from, to)| d.with(|w| w.calendar(from, to)))
    })
    .await
}

#[tauri::command]
pub async fn find_slots(app: AppHandle, req: SlotsReq) -> Answer<Vec<Slot>> {
    run(app, "find_slots", move |d| {
        d.with(|w| {
            w.slot_views(
                req.clinician_id,
                req.minutes,
                &req.from_local,
                req.count as usize,
            )
        })
    })
    .await
}

fn first_view(
    w: &clinic_client::Workstation,
    list: Vec<clinic_core::scheduling::Appointment>,
) -> ClinicResult<AppointmentView> {
    let a = list
        .into_iter()
        .next()
        .ok_or_else(|| ClinicError::internal("no appointment changed"))?;
    w.appointment_view(&a)
}

#[tauri::command]
pub async fn book_appointment(app: AppHandle, req: BookReq) -> Answer<AppointmentView> {
    run(app, "book_appointment", move |d| {
        d.change(|w| {
            let start = w.home_instant("start_local", &req.start_local)?;
            let booked = w.scheduling().book_appointment(BookRequest {
                patient: req.patient_id,
                clinician: req.clinician_id,
                start,
                minutes: req.minutes,
                type_name: req.type_name.filter(|t| !t.trim().is_empty()),
                room: req.room_id,
                notes: req.notes.filter(|n| !n.trim().is_empty()),
                override_checks: req.override_checks,
                ..Default::default()
            })?;
            first_view(w, booked)
        })
    })
    .await
}

#[tauri::command]
pub async fn move_appointment(app: AppHandle, req: MoveReq) -> Answer<AppointmentView> {
    run(app, "move_appointment", move |d| {
        d.change(|w| {
            let start = w.home_instant("start_local", &req.start_local)?;
            let moved = w.scheduling().move_appointment(
                req.id,
                MoveRequest {
                    start,
                    minutes: None,
                    clinician: req.clinician_id,
                    room: None,
                    override_checks: req.override_checks,
                    scope: SeriesScope::This,
                },
            )?;
            first_view(w, moved)
        })
    })
    .await
}

#[tauri::command]
pub async fn set_appointment_status(app: AppHandle, req: StatusReq) -> Answer<AppointmentView> {
    run(app, "set_appointment_status", move |d| {
        d.change(|w| {
            let changed = w.scheduling().set_appointment_status(
                req.id,
                req.status,
                req.reason,
                SeriesScope::This,
            )?;
            first_view(w, changed)
        })
    })
    .await
}

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
pub async fn resolve_booking(app: AppHandle, req: ResolveReq) -> Answer<ConflictsView> {
    run(app, "resolve_booking", move |d| {
        d.change(|w| {
            w.resolve_from_inbox(
                req.appointment_id,
                req.action,
                req.reason,
                req.start_local.as_deref(),
            )?;
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
pub async fn roles(app: AppHandle) -> Answer<Vec<String>> {
    run(app, "roles", move |d| {
        d.with(|w| {
            Ok(w.directory()
                .list_roles()?
                .into_iter()
                .map(|r| r.key)
                .collect())
        })
    })
    .await
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

/// The handler with every command of [`crate::command_names::COMMANDS`].
pub fn handler() -> impl Fn(tauri::ipc::Invoke) -> bool + Send + Sync + 'static {
    tauri::generate_handler![
        app_state,
        create_store,
        enroll,
        unlock,
        sign_in,
        sign_out,
        lock,
        search_patients,
        patient_summary,
        check_duplicates,
        register_patient,
        update_patient,
        calendar,
        find_slots,
        book_appointment,
        move_appointment,
        set_appointment_status,
        sync_status,
        sync_now,
        conflicts,
        resolve_booking,
        dismiss_refused,
        users,
        add_user,
        set_user_disabled,
        devices,
        revoke_device,
        roles,
        settings,
    ]
}
