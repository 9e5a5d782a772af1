use super::*;

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

// ---- setting up the appointment book ----

#[tauri::command]
pub async fn setup_view(app: AppHandle) -> Answer<SetupView> {
    run(app, "setup_view", move |d| {
        d.with(|w| w.scheduling().setup_view())
    })
    .await
}

/// A change on the setup screens, answered with the setup as it is now.
async fn change_setup(
    app: AppHandle,
    name: &'static str,
    change: impl FnOnce(&mut clinic_client::scheduling::Scheduling<'_>) -> ClinicResult<()>
        + Send
        + 'static,
) -> Answer<SetupView> {
    run(app, name, move |d| {
        d.change(|w| {
            change(&mut w.scheduling())?;
            w.scheduling().setup_view()
        })
    })
    .await
}

#[tauri::command]
pub async fn save_hours(app: AppHandle, req: HoursReq) -> Answer<SetupView> {
    change_setup(app, "save_hours", move |s| {
        s.set_weekly_hours(req.clinician_id, &req.hours)
    })
    .await
}

#[tauri::command]
pub async fn add_leave(app: AppHandle, req: LeaveReq) -> Answer<SetupView> {
    change_setup(app, "add_leave", move |s| {
        s.add_leave(
            req.clinician_id,
            &req.kind,
            &req.start_local,
            &req.end_local,
            req.reason,
        )
        .map(|_| ())
    })
    .await
}

#[tauri::command]
pub async fn remove_leave(app: AppHandle, req: RemoveLeaveReq) -> Answer<SetupView> {
    change_setup(app, "remove_leave", move |s| {
        s.remove_leave(req.clinician_id, req.id)
    })
    .await
}

#[tauri::command]
pub async fn save_room(app: AppHandle, req: RoomReq) -> Answer<SetupView> {
    change_setup(app, "save_room", move |s| {
        s.save_room(req.id, &req.name, &req.kind).map(|_| ())
    })
    .await
}

#[tauri::command]
pub async fn save_type(app: AppHandle, req: TypeReq) -> Answer<SetupView> {
    change_setup(app, "save_type", move |s| s.save_type(req.line).map(|_| ())).await
}
