//! `clinic encounter …` and `clinic chart` as a script drives them (the
//! contract of issue #19), on a local store.

use super::cli::Clinic;
use serde_json::Value;
use std::process::Output;

fn as_doctor(c: &Clinic, args: &[&str]) -> Output {
    let mut cmd = c.cmd(args);
    cmd.env("CLINIC_PASSWORD", "doctor-password-1")
        .env("CLINIC_USER", "grace@test.clinic");
    cmd.output().unwrap()
}

fn ok(o: Output) -> Value {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn refused(o: &Output) -> Value {
    assert!(!o.status.success());
    serde_json::from_slice::<Value>(&o.stderr).unwrap_or_else(|_| {
        panic!(
            "stderr is not the error JSON: {}",
            String::from_utf8_lossy(&o.stderr)
        )
    })["error"]
        .clone()
}

#[test]
fn a_clinician_documents_signs_and_verifies_a_note_from_the_command_line() {
    let c = Clinic::new();
    c.init();
    c.add_user(
        "grace@test.clinic",
        "Dr Grace Hopper",
        "clinician",
        "doctor-password-1",
    );
    c.add_receptionist("desk@test.clinic");
    let p = c.admin(&[
        "patient",
        "add",
        "--first-name",
        "Nnamdi",
        "--last-name",
        "Okonkwo-Ó Briain",
        "--dob",
        "1979-03-02",
    ]);
    let number = p["patient_number"].as_str().unwrap();

    let e = ok(as_doctor(
        &c,
        &["encounter", "start", "--patient", number, "--json"],
    ));
    assert_eq!(e["status"], "draft");
    let id = e["id"].as_str().unwrap().to_string();
    ok(as_doctor(
        &c,
        &[
            "encounter",
            "edit",
            &id,
            "--field",
            "assessment",
            "--text",
            "Community-acquired pneumonia",
            "--json",
        ],
    ));
    ok(as_doctor(
        &c,
        &[
            "encounter",
            "edit",
            &id,
            "--field",
            "follow_up",
            "--text",
            "2099-01-04",
            "--json",
        ],
    ));

    // Unusual values wait for a confirmation; impossible ones are refused.
    let o = as_doctor(
        &c,
        &[
            "encounter",
            "vitals",
            &id,
            "--spo2",
            "62",
            "--pulse",
            "118",
            "--json",
        ],
    );
    assert_eq!(o.status.code(), Some(7));
    let err = refused(&o);
    assert_eq!(err["code"], "CONFIRMATION_NEEDED");
    assert_eq!(err["fields"][0]["field"], "spo2_pct");
    let o = as_doctor(
        &c,
        &["encounter", "vitals", &id, "--bp", "1200/80", "--json"],
    );
    assert_eq!(o.status.code(), Some(3));
    assert_eq!(refused(&o)["fields"][0]["field"], "systolic_mmhg");
    let v = ok(as_doctor(
        &c,
        &[
            "encounter",
            "vitals",
            &id,
            "--bp",
            "128/84",
            "--pulse",
            "118",
            "--temp",
            "38.94",
            "--spo2",
            "62",
            "--weight",
            "70",
            "--height",
            "175",
            "--confirm",
            "--json",
        ],
    ));
    assert_eq!(v["vitals"]["bmi"], 22.9);
    assert_eq!(v["vitals"]["temperature_c"], 38.9);
    ok(as_doctor(
        &c,
        &[
            "encounter",
            "diagnosis",
            &id,
            "--add",
            "J18.9:Pneumonia, unspecified",
            "--json",
        ],
    ));
    // A code alone takes the shipped ICD-10-CM list's description; a code
    // not in the list is refused, naming codes near it.
    let dx = ok(as_doctor(
        &c,
        &["encounter", "diagnosis", &id, "--add", "J45.909", "--json"],
    ));
    assert!(
        dx["diagnoses"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["text"] == "Unspecified asthma, uncomplicated"),
        "{dx}"
    );
    let o = as_doctor(
        &c,
        &[
            "encounter",
            "diagnosis",
            &id,
            "--add",
            "J45.9:Asthma",
            "--json",
        ],
    );
    assert_eq!(o.status.code(), Some(3));
    let why = refused(&o)["fields"][0]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        why.contains("not in the ICD-10-CM list") && why.contains("J45."),
        "{why}"
    );

    // A receptionist opens no clinical record.
    let mut desk = c.cmd(&["encounter", "show", &id, "--json"]);
    desk.env("CLINIC_PASSWORD", "desk-password-1")
        .env("CLINIC_USER", "desk@test.clinic");
    assert_eq!(desk.output().unwrap().status.code(), Some(5));

    let signed = ok(as_doctor(&c, &["encounter", "sign", &id, "--json"]));
    assert_eq!(signed["status"], "signed");
    let hash = signed["content_sha256"].as_str().unwrap().to_string();
    assert_eq!(hash.len(), 64);
    // Signed means frozen.
    let o = as_doctor(
        &c,
        &[
            "encounter",
            "edit",
            &id,
            "--field",
            "plan",
            "--text",
            "Amoxicillin",
            "--json",
        ],
    );
    assert_eq!(o.status.code(), Some(7));
    assert_eq!(refused(&o)["code"], "CONFLICT");
    let a = ok(as_doctor(
        &c,
        &[
            "encounter",
            "addendum",
            &id,
            "--text",
            "Chest X-ray confirms right lower lobe consolidation.",
            "--json",
        ],
    ));
    assert_eq!(a["addenda"].as_array().unwrap().len(), 1);

    let shown = ok(as_doctor(&c, &["encounter", "show", &id, "--json"]));
    assert_eq!(shown["patient_name"], "Nnamdi Okonkwo-Ó Briain");
    assert_eq!(shown["signature"]["content_sha256"], hash.as_str());
    assert_eq!(shown["signature_valid"], true);
    let fields: Vec<&str> = shown["revisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["assessment", "follow_up", "vitals"]);
    assert_eq!(shown["siblings"], serde_json::json!([]));
    let verified = ok(as_doctor(&c, &["encounter", "verify", &id, "--json"]));
    assert_eq!(verified["content_sha256"], hash.as_str());

    let chart = ok(as_doctor(&c, &["chart", number, "--json"]));
    assert_eq!(chart["encounters"][0]["id"], id.as_str());
    assert_eq!(chart["vitals"][0]["vitals"]["spo2_pct"], 62);

    // A note altered in storage no longer verifies (exit 8).
    {
        let store = clinic_store::Store::open(
            &c.data(),
            &clinic_store::keys::Unlock::Passphrase(clinic_store::keys::Passphrase::for_unlock(
                "correct horse battery staple".into(),
            )),
        )
        .unwrap();
        let db = store.db();
        let mut e = db.encounter(id.parse().unwrap()).unwrap().unwrap();
        e.sections.assessment = "Nothing abnormal".into();
        db.put_encounter(&e).unwrap();
    }
    let o = as_doctor(&c, &["encounter", "verify", &id, "--json"]);
    assert_eq!(o.status.code(), Some(8));
    assert_eq!(refused(&o)["code"], "SIGNATURE_MISMATCH");
}

#[test]
fn prescribing_warns_refuses_a_known_allergy_until_overridden_with_a_reason_and_prints() {
    let c = Clinic::new();
    c.init();
    c.add_user(
        "grace@test.clinic",
        "Dr Grace Hopper",
        "clinician",
        "doctor-password-1",
    );
    let p = c.admin(&[
        "patient",
        "add",
        "--first-name",
        "Þórunn",
        "--last-name",
        "Jónsdóttir",
        "--dob",
        "1988-07-14",
    ]);
    let number = p["patient_number"].as_str().unwrap().to_string();
    // A coded allergy (the table knows penicillins) and an uncoded one.
    let edited = ok(as_doctor(
        &c,
        &[
            "patient",
            "edit",
            &number,
            "--allergy",
            "Penicillin:severe:rash",
            "--allergy",
            "the blue tablets:mild",
            "--json",
        ],
    ));
    let allergies = edited["allergies"].as_array().unwrap();
    let coded = allergies
        .iter()
        .find(|a| a["substance"] == "Penicillin")
        .unwrap();
    assert_eq!(coded["code"], serde_json::json!({"class": "penicillins"}));
    let uncoded = allergies
        .iter()
        .find(|a| a["substance"] == "the blue tablets")
        .unwrap();
    assert!(uncoded.get("code").is_none(), "{uncoded}");

    let e = ok(as_doctor(
        &c,
        &["encounter", "start", "--patient", &number, "--json"],
    ));
    let id = e["id"].as_str().unwrap().to_string();
    let amoxicillin = [
        "prescription",
        "add",
        "--encounter",
        &id,
        "--drug",
        "Amoxicillin",
        "--strength",
        "500 mg",
        "--form",
        "capsules",
        "--dose",
        "1 capsule",
        "--frequency",
        "three times a day",
        "--days",
        "7",
        "--quantity",
        "21 capsules",
    ];
    let mut args = amoxicillin.to_vec();
    args.push("--json");
    let o = as_doctor(&c, &args);
    assert_eq!(
        o.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let err = refused(&o);
    assert_eq!(err["code"], "SAFETY_WARNING");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("penicillin"),
        "{err}"
    );
    // --override needs its reason.
    let mut args = amoxicillin.to_vec();
    args.extend(["--override", "--json"]);
    assert_eq!(as_doctor(&c, &args).status.code(), Some(3));
    let mut args = amoxicillin.to_vec();
    args.extend([
        "--override",
        "--reason",
        "Tolerated a full course in 2025 under supervision",
        "--json",
    ]);
    let rx = ok(as_doctor(&c, &args));
    assert_eq!(rx["status"], "active");
    assert_eq!(
        rx["override_reason"],
        "Tolerated a full course in 2025 under supervision"
    );
    let warnings = rx["warnings"].as_array().unwrap();
    assert!(
        warnings.iter().any(|w| w["kind"] == "allergy"),
        "{warnings:?}"
    );
    // The uncoded allergy could not be checked, and says so.
    assert!(
        warnings
            .iter()
            .any(|w| w["kind"] == "not_checked" && w["allergy"] == "the blue tablets"),
        "{warnings:?}"
    );
    let log = c.admin(&["audit", "log", "--patient", &number]);
    let override_event = log
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "prescription.override")
        .expect("the override is audited");
    assert_eq!(
        override_event["details"]["reason"],
        "Tolerated a full course in 2025 under supervision"
    );

    // Interactions, both ways round: the patient now takes amoxicillin; a
    // second line of ibuprofen with a duplicate NSAID warns without blocking.
    let nsaid = ok(as_doctor(
        &c,
        &[
            "prescription",
            "add",
            "--encounter",
            &id,
            "--drug",
            "Naproxen",
            "--dose",
            "250 mg",
            "--frequency",
            "twice a day",
            "--days",
            "5",
            "--json",
        ],
    ));
    assert_eq!(nsaid["status"], "active");
    let dup = ok(as_doctor(
        &c,
        &[
            "prescription",
            "add",
            "--encounter",
            &id,
            "--drug",
            "Ibuprofen",
            "--dose",
            "400 mg",
            "--frequency",
            "three times a day",
            "--days",
            "5",
            "--json",
        ],
    ));
    assert!(
        dup["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["kind"] == "duplicate"),
        "{dup}"
    );

    // The PDF: a real PDF, private to its owner, with the patient's name as written.
    let out = c.tmp().join("rx.pdf");
    let rx_id = rx["id"].as_str().unwrap();
    ok(as_doctor(
        &c,
        &[
            "prescription",
            "pdf",
            rx_id,
            "--out",
            out.to_str().unwrap(),
            "--json",
        ],
    ));
    let bytes = std::fs::read(&out).unwrap();
    assert!(bytes.starts_with(b"%PDF"));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // Signing covers the prescriptions; afterwards none is added.
    ok(as_doctor(
        &c,
        &[
            "encounter",
            "edit",
            &id,
            "--field",
            "plan",
            "--text",
            "Course of amoxicillin",
            "--json",
        ],
    ));
    let signed = ok(as_doctor(&c, &["encounter", "sign", &id, "--json"]));
    assert_eq!(signed["prescriptions"].as_array().unwrap().len(), 3);
    let o = as_doctor(
        &c,
        &[
            "prescription",
            "add",
            "--encounter",
            &id,
            "--drug",
            "Paracetamol",
            "--dose",
            "1 g",
            "--frequency",
            "four times a day",
            "--days",
            "3",
            "--json",
        ],
    );
    assert_eq!(o.status.code(), Some(7));
    assert_eq!(refused(&o)["code"], "CONFLICT");
    ok(as_doctor(&c, &["encounter", "verify", &id, "--json"]));
    let cancelled = ok(as_doctor(
        &c,
        &[
            "prescription",
            "cancel",
            rx_id,
            "--reason",
            "Switched to doxycycline",
            "--json",
        ],
    ));
    assert_eq!(cancelled["status"], "cancelled");
}
