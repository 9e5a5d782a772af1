//! The scheduling half of the `clinic` scripting contract, through the real
//! binary: book (refusing an overlap unless overridden), move, check in,
//! cancel, free slots, the day sheet (text and PDF), the conflict inbox as
//! a JSON array, and the iCalendar export.

use super::cli::Clinic;
use serde_json::Value;

#[test]
fn appointments_follow_the_scripting_contract() {
    let c = Clinic::new();
    c.init();
    c.add_receptionist("desk@test.clinic");
    c.add_user(
        "dr.adeyemi@test.clinic",
        "Dr Tolu Adeyemi",
        "clinician",
        "clinician-password-1",
    );
    let desk = |args: &[&str]| {
        let mut full = vec!["--user", "desk@test.clinic"];
        full.extend_from_slice(args);
        let mut cmd = c.cmd(&full);
        cmd.env("CLINIC_PASSWORD", "desk-password-1");
        cmd.output().unwrap()
    };
    let json = |o: std::process::Output| -> Value {
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let p = json(desk(&[
        "patient",
        "add",
        "--first-name",
        "Mary",
        "--last-name",
        "Seacole",
        "--dob",
        "1955-11-23",
        "--json",
    ]));
    let q = json(desk(&[
        "patient",
        "add",
        "--first-name",
        "Αλέξης",
        "--last-name",
        "Παπαδόπουλος",
        "--dob",
        "1960-05-12",
        "--json",
    ]));
    let (pid, qid) = (p["id"].as_str().unwrap(), q["id"].as_str().unwrap());
    let book = |patient: &str, start: &str, extra: &[&str]| {
        let mut args = vec![
            "appointment",
            "book",
            "--patient",
            patient,
            "--clinician",
            "dr.adeyemi@test.clinic",
            "--start",
            start,
            "--minutes",
            "30",
            "--json",
        ];
        args.extend_from_slice(extra);
        desk(&args)
    };
    let a = json(book(pid, "2030-03-25T09:00:00+00:00", &[]));
    assert_eq!(a["id"].as_str().unwrap().len(), 36);
    assert_eq!(a["status"], "scheduled");
    assert_eq!(a["minutes"], 30);
    // An overlap on the same workstation is refused (exit 7) with the next free slots …
    let o = book(qid, "2030-03-25T09:15:00Z", &[]);
    assert_eq!(
        o.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let err: Value = serde_json::from_slice(&o.stderr).unwrap();
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Next free"),
        "{err}"
    );
    // … and booked when overridden, marked as a deliberate double booking.
    let b = json(book(qid, "2030-03-25T09:15:00Z", &["--override"]));
    assert_eq!(b["double_booking_accepted"], true);
    // Bad input: a clear field error, nothing written.
    let o = book(qid, "next tuesday", &[]);
    assert_eq!(o.status.code(), Some(3));
    let o = book(qid, "2030-03-25T11:00:00Z", &["--mode", "virtual"]);
    assert_eq!(o.status.code(), Some(3));

    // Free slots skip both booked times and the type's 5-minute buffer.
    let slots = json(desk(&[
        "slots",
        "--clinician",
        "dr.adeyemi@test.clinic",
        "--minutes",
        "30",
        "--from",
        "2030-03-25T09:00:00Z",
        "--count",
        "2",
        "--json",
    ]));
    assert_eq!(
        slots,
        serde_json::json!(["2030-03-25T10:00:00Z", "2030-03-25T10:15:00Z"])
    );

    // Move, check in, cancel with a reason.
    let id = a["id"].as_str().unwrap();
    let moved = json(desk(&[
        "appointment",
        "move",
        id,
        "--start",
        "2030-03-25T10:00:00Z",
        "--json",
    ]));
    assert_eq!(moved["start"], "2030-03-25T10:00:00Z");
    let arrived = json(desk(&["appointment", "status", id, "arrived", "--json"]));
    assert_eq!(arrived["status"], "arrived");
    // A check-in made by mistake is undone: back to booked, a change of
    // its own (the check-in stays in the history) ...
    let undone = json(desk(&["appointment", "status", id, "scheduled", "--json"]));
    assert_eq!(undone["status"], "scheduled");
    let arrived = json(desk(&["appointment", "status", id, "arrived", "--json"]));
    assert_eq!(arrived["status"], "arrived");
    // ... but an arrived patient does not become merely "confirmed".
    let o = desk(&["appointment", "status", id, "confirmed", "--json"]);
    assert_eq!(o.status.code(), Some(7), "arrived cannot become confirmed");
    let bid = b["id"].as_str().unwrap();
    let o = desk(&["appointment", "cancel", bid, "--reason", "", "--json"]);
    assert_eq!(o.status.code(), Some(3), "a cancellation needs a reason");
    let cancelled = json(desk(&[
        "appointment",
        "cancel",
        bid,
        "--reason",
        "unwell",
        "--json",
    ]));
    assert_eq!(cancelled["status"], "cancelled");

    // The day list and the day sheet, as text, JSON and a printable PDF.
    let list = json(desk(&[
        "appointment",
        "list",
        "--date",
        "2030-03-25",
        "--json",
    ]));
    assert_eq!(
        list.as_array().unwrap().len(),
        1,
        "cancelled ones are hidden by default"
    );
    let pdf = c.tmp().join("day.pdf");
    let plan = json(desk(&[
        "dayplan",
        "--date",
        "2030-03-25",
        "--pdf",
        pdf.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(plan["rows"].as_array().unwrap().len(), 2);
    assert_eq!(plan["rows"][1]["local_start"], "10:00");
    assert_eq!(plan["rows"][1]["patient"], "Mary Seacole");
    let bytes = std::fs::read(&pdf).unwrap();
    assert!(bytes.starts_with(b"%PDF-"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&pdf).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "printouts are for their owner only");
    }
    // Read back by poppler's pdftotext (poppler-utils, from scripts/setup.sh).
    let text = std::process::Command::new("pdftotext")
        .args(["-layout", "-enc", "UTF-8"])
        .arg(&pdf)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils)");
    assert!(text.status.success());
    let text = String::from_utf8(text.stdout).unwrap();
    for printed in [
        "Day sheet",
        "Monday 25 March 2030",
        "Time",
        "Clinician",
        "10:00–10:30",
        "Mary Seacole",
        "Αλέξης Παπαδόπουλος",
        "cancelled",
        "arrived",
        "Page 1 of 1",
    ] {
        assert!(
            text.contains(printed),
            "{printed:?} is not on the day sheet:\n{text}"
        );
    }

    // The conflict inbox is a JSON array (empty: nothing is in conflict here).
    let inbox = json(desk(&["conflicts", "list", "--json"]));
    assert_eq!(inbox, serde_json::json!([]));

    // iCalendar export of the clinician (as the admin).
    let ics = c.tmp().join("dr.ics");
    let out = c.admin(&[
        "calendar",
        "export",
        "--clinician",
        "dr.adeyemi@test.clinic",
        "--out",
        ics.to_str().unwrap(),
        "--days-ahead",
        "2000",
    ]);
    assert_eq!(out["events"], 2);
    let text = std::fs::read_to_string(&ics).unwrap();
    assert!(text.starts_with("BEGIN:VCALENDAR\r\n"));
    assert!(text.contains(&format!("UID:{id}@clinic")));
    assert!(text.contains("DTSTART;TZID=Europe/London:20300325T100000"));
    assert!(text.contains("STATUS:CANCELLED"));
    // Patients' names and times: readable by this user only, whatever the umask.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&ics).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{mode:o}");
    }

    // Working hours: booking outside them needs an override.
    let o = {
        let cmd = &mut c.cmd(&[
            "--user",
            "admin@test.clinic",
            "availability",
            "hours",
            "--clinician",
            "dr.adeyemi@test.clinic",
            "--weekdays",
            "mon-fri",
            "--from",
            "09:00",
            "--to",
            "13:00",
            "--json",
        ]);
        cmd.output().unwrap()
    };
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = book(qid, "2030-03-26T15:00:00Z", &[]);
    assert_eq!(o.status.code(), Some(7));
    assert!(String::from_utf8_lossy(&o.stderr).contains("working hours"));
    let late = json(book(qid, "2030-03-26T15:00:00Z", &["--override"]));
    assert_eq!(late["outside_hours_accepted"], true);
    // The override is in the audit trail.
    let log = c.admin(&["audit", "log", "--limit", "50"]);
    let overrides: Vec<&Value> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "appointment.book" && e["details"]["override_hours"] == true)
        .collect();
    assert_eq!(overrides.len(), 1, "{log}");
}
