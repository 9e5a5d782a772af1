//! Scheduling across two real workstations and the real server: a double
//! booking made offline is kept as a conflict in both inboxes (never
//! dropped, never moved) until one desk resolves it, and the database
//! itself refuses two overlapping live appointments.

use crate::{signed_in, sync};
use clinic_client::scheduling::BookRequest;
use clinic_client::{Password, Workstation};
use clinic_core::patients::PatientDetails;
use clinic_core::scheduling::{AppointmentStatus, Resolution, SeriesScope, Span};
use clinic_core::ErrorCode;
use clinic_store::scheduling::AppointmentFilter;
use uuid::Uuid;

fn patient(ws: &mut Workstation, first: &str) -> Uuid {
    ws.patients()
        .register(
            PatientDetails {
                first_name: first.into(),
                last_name: "Mensah".into(),
                date_of_birth: chrono::NaiveDate::from_ymd_opt(1979, 4, 2),
                ..Default::default()
            },
            Default::default(),
        )
        .unwrap()
        .patient
        .id
}

fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

fn day_of(ws: &mut Workstation, clinician: Uuid) -> Vec<clinic_core::scheduling::Appointment> {
    ws.scheduling()
        .list_appointments(&AppointmentFilter {
            clinician_id: Some(clinician),
            span: Some(Span::new(
                at("2030-01-07T00:00:00Z"),
                at("2030-01-08T00:00:00Z"),
            )),
            include_ended: true,
            ..Default::default()
        })
        .unwrap()
}

#[test]
fn a_slot_booked_on_two_desks_offline_is_one_booking_and_one_conflict_on_both_until_resolved() {
    let server = crate::start_server("acme");
    let t = tempfile::tempdir().unwrap();
    let mut a = signed_in(&server, &t.path().join("a"));
    let mut b = signed_in(&server, &t.path().join("b"));
    // A adds a clinician and two patients; B learns of them by syncing.
    let dr = a
        .directory()
        .add_user(
            "dr.okafor@acme.example",
            "Dr Ngozi Okafor",
            "clinician",
            &Password::new("clinician-pass-1".into()),
            None,
        )
        .unwrap();
    let (p1, p2) = (patient(&mut a, "Kofi"), patient(&mut a, "Ama"));
    sync(&mut a);
    sync(&mut b);
    assert_eq!(
        b.scheduling()
            .clinician_by_email("dr.okafor@acme.example")
            .unwrap()
            .id,
        dr.id
    );
    // The clinician can sign in on B (offline) with the password set on A.
    b.logout().unwrap();
    b.login(
        "dr.okafor@acme.example",
        &Password::new("clinician-pass-1".into()),
    )
    .unwrap();
    b.logout().unwrap();
    b.login(
        "admin@acme.example",
        &Password::new("admin-password-1".into()),
    )
    .unwrap();

    // Both desks, offline, book Dr Okafor at 09:00 on the same Monday.
    let book = |ws: &mut Workstation, p: Uuid| {
        ws.scheduling()
            .book_appointment(BookRequest {
                patient: p,
                clinician: dr.id,
                start: at("2030-01-07T09:00:00Z"),
                minutes: Some(30),
                ..Default::default()
            })
            .unwrap()
            .remove(0)
    };
    let first = book(&mut a, p1);
    let second = book(&mut b, p2);
    // On one desk the same slot is refused without an override.
    let again = a
        .scheduling()
        .book_appointment(BookRequest {
            patient: p2,
            clinician: dr.id,
            start: at("2030-01-07T09:15:00Z"),
            minutes: Some(30),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(again.code, ErrorCode::Conflict);
    assert!(again.message.contains("Next free"), "{}", again.message);

    sync(&mut a);
    sync(&mut b);
    sync(&mut a);
    for ws in [&mut a, &mut b] {
        let day = day_of(ws, dr.id);
        assert_eq!(day.len(), 2, "no appointment lost: {day:?}");
        let inbox = ws.scheduling().booking_conflicts().unwrap();
        assert_eq!(inbox.len(), 1, "one conflict in every inbox");
        assert_eq!(
            inbox[0].appointment.id, second.id,
            "the later one by server order"
        );
        assert_eq!(inbox[0].overlaps[0].id, first.id);
        assert!(inbox[0].reason.contains("clinician"), "{}", inbox[0].reason);
        let kept = day.iter().find(|x| x.id == first.id).unwrap();
        assert!(kept.conflict.is_none());
        let marked = day.iter().find(|x| x.id == second.id).unwrap();
        assert_eq!(marked.start, second.start, "never silently moved");
    }
    // The server holds both; only the first holds the slot exclusively.
    let rows = server.query("SELECT id, exclusive, in_conflict FROM appointments ORDER BY id");
    assert_eq!(rows.len(), 2);
    let exclusive: Vec<_> = rows
        .iter()
        .filter(|r| r[1].as_deref() == Some("t"))
        .collect();
    assert_eq!(exclusive.len(), 1);
    assert_eq!(
        exclusive[0][0].as_deref(),
        Some(first.id.to_string().as_str())
    );
    // The database itself refuses two overlapping live appointments.
    let refused = server.try_query(&format!(
        "UPDATE appointments SET in_conflict = false, exclusive = true,
            doc = jsonb_set(doc, '{{conflict}}', 'null') WHERE id = '{}'",
        second.id
    ));
    let e = refused.unwrap_err();
    assert!(e.contains("appointments_clinician_overlap"), "{e}");

    // Resolved on B by moving it; A's inbox clears after it syncs.
    b.scheduling()
        .resolve_booking_conflict(
            second.id,
            Resolution::Move {
                start: at("2030-01-07T09:45:00Z"),
                minutes: 30,
                clinician_id: dr.id,
                room_id: None,
            },
        )
        .unwrap();
    assert!(b.scheduling().booking_conflicts().unwrap().is_empty());
    sync(&mut b);
    sync(&mut a);
    assert!(a.scheduling().booking_conflicts().unwrap().is_empty());
    assert_eq!(
        a.scheduling().show_appointment(second.id).unwrap().start,
        at("2030-01-07T09:45:00Z")
    );
    // Resolving it again elsewhere is refused: it is no longer a conflict.
    let e = a
        .scheduling()
        .resolve_booking_conflict(second.id, Resolution::AcceptDoubleBooking)
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Conflict);
    let rows = server.query("SELECT count(*) FROM appointments WHERE exclusive");
    assert_eq!(rows[0][0].as_deref(), Some("2"));

    // Check-in and cancellation travel too; both copies stay equal.
    a.scheduling()
        .set_appointment_status(
            first.id,
            AppointmentStatus::Arrived,
            None,
            SeriesScope::This,
        )
        .unwrap();
    b.scheduling()
        .set_appointment_status(
            second.id,
            AppointmentStatus::Cancelled,
            Some("feeling better".into()),
            SeriesScope::This,
        )
        .unwrap();
    sync(&mut a);
    sync(&mut b);
    sync(&mut a);
    for ws in [&mut a, &mut b] {
        assert_eq!(
            ws.scheduling().show_appointment(first.id).unwrap().status,
            AppointmentStatus::Arrived
        );
        assert_eq!(
            ws.scheduling().show_appointment(second.id).unwrap().status,
            AppointmentStatus::Cancelled
        );
        let v = ws.verify_sync().unwrap();
        assert!(v.differing_buckets.is_empty(), "{v:?}");
    }
}
