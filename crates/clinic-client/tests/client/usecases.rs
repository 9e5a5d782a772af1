//! Use-cases through the library, with an injected clock.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use clinic_client::{InitOptions, ManualClock, Password, Workstation};
use clinic_core::patients::*;
use clinic_core::permissions::{Action, BuiltinRole, Module, SensitiveFlag};
use clinic_core::ErrorCode;
use clinic_store::keys::{Passphrase, Unlock};
use std::sync::Arc;
use uuid::Uuid;

const PASSPHRASE: &str = "correct horse battery staple";

struct Fixture {
    _dir: tempfile::TempDir,
    ws: Workstation,
    clock: Arc<ManualClock>,
}

fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-22T09:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn pw(s: &str) -> Password {
    Password::new(s.into())
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(start()));
    let mut ws = Workstation::init(
        &dir.path().join("ws"),
        InitOptions {
            tenant_name: "Test Clinic".into(),
            admin_email: "Admin@Test.Clinic".into(),
            admin_name: "Ada Admin".into(),
            admin_password: pw("admin-password-1"),
            passphrase: Passphrase::new(PASSPHRASE.into()).unwrap(),
            keychain: None,
            site_name: "Main".into(),
            timezone: "Europe/London".into(),
        },
        clock.clone(),
    )
    .unwrap();
    ws.login("admin@test.clinic", &pw("admin-password-1"))
        .unwrap();
    for r in BuiltinRole::ALL {
        if r != BuiltinRole::Admin {
            ws.directory()
                .add_user(
                    &format!("{}@test.clinic", r.key()),
                    r.display_name(),
                    r.key(),
                    &pw("role-password-1"),
                    None,
                )
                .unwrap();
        }
    }
    Fixture {
        _dir: dir,
        ws,
        clock,
    }
}

fn person(first: &str, last: &str) -> PatientDetails {
    PatientDetails {
        first_name: first.into(),
        last_name: last.into(),
        date_of_birth: NaiveDate::from_ymd_opt(1980, 6, 1),
        phone: Some("07700 900001".into()),
        ..Default::default()
    }
}

fn last_action(ws: &Workstation) -> (String, Option<Uuid>) {
    let e = ws
        .store_for_tests()
        .unwrap()
        .db()
        .last_audit_event()
        .unwrap()
        .unwrap();
    (e.action, e.user_id)
}

/// The built-in permission matrix, written out independently of the code:
/// per role, per module (in Module::ALL order) the letters V C E D it allows.
const EXPECTED: &[(BuiltinRole, [&str; 8], &[SensitiveFlag])] = {
    use SensitiveFlag::*;
    &[
        //                              patients appts  clinical presc  billing inventory reports admin
        (
            BuiltinRole::Admin,
            [
                "VCED", "VCED", "VCED", "VCED", "VCED", "VCED", "VCED", "VCED",
            ],
            &[SensitiveInfo, FinancialData, MedicalHistory],
        ),
        (
            BuiltinRole::Manager,
            ["VCE", "VCED", "", "", "VCED", "VCED", "V", "VCE"],
            &[FinancialData],
        ),
        (
            BuiltinRole::Clinician,
            ["VCE", "VCE", "VCED", "VCED", "V", "V", "V", ""],
            &[SensitiveInfo, MedicalHistory],
        ),
        (
            BuiltinRole::Receptionist,
            ["VCE", "VCED", "", "", "VCE", "", "V", ""],
            &[FinancialData],
        ),
        (
            BuiltinRole::Pharmacist,
            ["V", "V", "", "VE", "V", "VCED", "V", ""],
            &[MedicalHistory],
        ),
        (
            BuiltinRole::BillingClerk,
            ["VE", "V", "", "", "VCED", "", "V", ""],
            &[FinancialData],
        ),
    ]
};

fn letter(a: Action) -> char {
    match a {
        Action::View => 'V',
        Action::Create => 'C',
        Action::Edit => 'E',
        Action::Delete => 'D',
    }
}

#[test]
fn permission_matrix_cell_by_cell() {
    for (role, cells, flags) in EXPECTED {
        let m = role.matrix();
        for (module, cell) in Module::ALL.iter().zip(cells) {
            for action in Action::ALL {
                assert_eq!(
                    m.allows(*module, action),
                    cell.contains(letter(action)),
                    "{role:?} {module:?} {action:?}"
                );
            }
        }
        for f in SensitiveFlag::ALL {
            assert_eq!(m.has_flag(f), flags.contains(&f), "{role:?} {f:?}");
        }
    }
}

#[test]
fn use_cases_enforce_the_matrix_for_every_role() {
    let mut f = fixture();
    let target =
        f.ws.patients()
            .register(person("Target", "Patient"), NewLists::default())
            .unwrap()
            .patient
            .id;
    for (role, cells, _) in EXPECTED {
        let email = format!("{}@test.clinic", role.key());
        let pass = if *role == BuiltinRole::Admin {
            "admin-password-1"
        } else {
            "role-password-1"
        };
        f.ws.login(&email, &pw(pass)).unwrap();
        let allowed = |module: usize, a: char| cells[module].contains(a);
        let code = |r: Result<(), clinic_core::ClinicError>| r.err().map(|e| e.code);
        let expect = |ok: bool| if ok { None } else { Some(ErrorCode::Forbidden) };
        assert_eq!(
            code(f.ws.patients().search("target", 5).map(|_| ())),
            expect(allowed(0, 'V')),
            "{role:?} search"
        );
        assert_eq!(
            code(f.ws.patients().show(target).map(|_| ())),
            expect(allowed(0, 'V')),
            "{role:?} show"
        );
        assert_eq!(
            code(
                f.ws.patients()
                    .register(person("New", role.key()), NewLists::default())
                    .map(|_| ())
            ),
            expect(allowed(0, 'C')),
            "{role:?} create"
        );
        let patch = PatientPatch {
            city: Some(format!("City of {}", role.key())),
            ..Default::default()
        };
        assert_eq!(
            code(f.ws.patients().edit(target, patch).map(|_| ())),
            expect(allowed(0, 'E')),
            "{role:?} edit"
        );
        let victim = {
            f.ws.login("admin@test.clinic", &pw("admin-password-1"))
                .unwrap();
            let id =
                f.ws.patients()
                    .register(person("Archive", "Me"), NewLists::default())
                    .unwrap()
                    .patient
                    .id;
            f.ws.login(&email, &pw(pass)).unwrap();
            id
        };
        assert_eq!(
            code(f.ws.patients().archive(victim, "duplicate entry")),
            expect(allowed(0, 'D')),
            "{role:?} archive"
        );
        assert_eq!(
            code(f.ws.directory().list_users().map(|_| ())),
            expect(allowed(7, 'V')),
            "{role:?} list users"
        );
        let new_user = f.ws.directory().add_user(
            &format!("new-{}@test.clinic", role.key()),
            "New User",
            "receptionist",
            &pw("new-password-1"),
            None,
        );
        assert_eq!(
            code(new_user.map(|_| ())),
            expect(allowed(7, 'C')),
            "{role:?} add user"
        );
        assert_eq!(
            code(f.ws.audit_log(None, 10).map(|_| ())),
            expect(allowed(7, 'V')),
            "{role:?} audit log"
        );
    }
}

#[test]
fn sensitive_fields_are_hidden_and_protected_by_role() {
    let mut f = fixture();
    let mut d = person("Sense", "Itive");
    d.national_id_kind = Some(clinic_core::patients::NationalIdKind::Nhs);
    d.national_id = Some("9434765919".into());
    d.blood_group = Some("O+".into());
    d.gender = Some("non-binary".into());
    let lists = NewLists {
        allergies: vec![NewAllergy {
            substance: "Latex".into(),
            reaction: None,
            severity: Severity::Severe,
        }],
        insurances: vec![NewInsurance {
            provider: "Acme Health".into(),
            policy_number: Some("POL-1".into()),
            group_number: None,
            member_number: None,
            plan: None,
            valid_from: None,
            valid_to: None,
            copay: Some("10.00".into()),
            is_primary: true,
        }],
        ..Default::default()
    };
    let id = f.ws.patients().register(d, lists).unwrap().patient.id;

    f.ws.login("receptionist@test.clinic", &pw("role-password-1"))
        .unwrap();
    let seen = f.ws.patients().show(id).unwrap();
    assert_eq!(
        seen.details.national_id.as_deref(),
        Some("9434765919"),
        "front desk reads identifiers"
    );
    assert_eq!(seen.details.gender, None);
    assert_eq!(seen.details.blood_group, None);
    assert!(seen.lists.allergies.is_empty());
    assert_eq!(
        seen.lists.insurances.len(),
        1,
        "front desk handles insurance"
    );
    assert_eq!(
        seen.redacted,
        vec![SensitiveFlag::SensitiveInfo, SensitiveFlag::MedicalHistory]
    );
    let e =
        f.ws.patients()
            .edit(
                id,
                PatientPatch {
                    gender: Some("female".into()),
                    ..Default::default()
                },
            )
            .unwrap_err();
    assert_eq!(e.code, ErrorCode::Forbidden);
    let mut with_gender = person("Reg", "Istration");
    with_gender.gender = Some("female".into());
    let e =
        f.ws.patients()
            .register(with_gender, NewLists::default())
            .unwrap_err();
    assert_eq!(e.code, ErrorCode::Forbidden);
    // Registering with an NHS number is everyday front-desk work.
    let mut with_nhs = person("Reg", "Istration");
    with_nhs.national_id_kind = Some(clinic_core::patients::NationalIdKind::Nhs);
    with_nhs.national_id = Some("4010232137".into());
    f.ws.patients()
        .register(with_nhs, NewLists::default())
        .unwrap();
    let e =
        f.ws.patients()
            .edit(
                id,
                PatientPatch {
                    add: NewLists {
                        allergies: vec![NewAllergy {
                            substance: "Nuts".into(),
                            reaction: None,
                            severity: Severity::Mild,
                        }],
                        ..Default::default()
                    },
                    ..Default::default()
                },
            )
            .unwrap_err();
    assert_eq!(e.code, ErrorCode::Forbidden);
    // A receptionist's ordinary edit does not wipe the hidden fields.
    f.ws.patients()
        .edit(
            id,
            PatientPatch {
                phone: Some("07700 900999".into()),
                ..Default::default()
            },
        )
        .unwrap();

    f.ws.login("clinician@test.clinic", &pw("role-password-1"))
        .unwrap();
    let seen = f.ws.patients().show(id).unwrap();
    assert_eq!(seen.details.gender.as_deref(), Some("non-binary"));
    assert_eq!(seen.details.blood_group.as_deref(), Some("O+"));
    assert_eq!(seen.details.phone.as_deref(), Some("07700 900999"));
    assert_eq!(seen.lists.allergies.len(), 1);
    assert!(
        seen.lists.insurances.is_empty(),
        "clinicians do not see financial data"
    );
    let allergy = seen.lists.allergies[0].id;
    let after =
        f.ws.patients()
            .edit(
                id,
                PatientPatch {
                    remove_ids: vec![allergy],
                    ..Default::default()
                },
            )
            .unwrap();
    assert!(after.lists.allergies.is_empty());
}

#[test]
fn every_use_case_leaves_an_audit_event_attributed_to_the_right_user() {
    let mut f = fixture();
    let admin = f.ws.session().unwrap().user_id;
    let r =
        f.ws.patients()
            .register(person("Audited", "Person"), NewLists::default())
            .unwrap();
    let id = r.patient.id;
    assert_eq!(last_action(&f.ws), ("patient.create".into(), Some(admin)));
    f.ws.patients().show(id).unwrap();
    assert_eq!(last_action(&f.ws), ("patient.read".into(), Some(admin)));
    // Fast user switch: the next action is the clinician's.
    f.ws.login("clinician@test.clinic", &pw("role-password-1"))
        .unwrap();
    let clinician = f.ws.session().unwrap().user_id;
    assert_eq!(
        last_action(&f.ws),
        ("session.switch_user".into(), Some(clinician))
    );
    f.ws.patients()
        .edit(
            id,
            PatientPatch {
                city: Some("York".into()),
                ..Default::default()
            },
        )
        .unwrap();
    let (action, user) = last_action(&f.ws);
    assert_eq!((action.as_str(), user), ("patient.update", Some(clinician)));
    let e =
        f.ws.store_for_tests()
            .unwrap()
            .db()
            .last_audit_event()
            .unwrap()
            .unwrap();
    assert_eq!(e.details["fields"], serde_json::json!(["city"]));
    assert_eq!(e.patient_id, Some(id));
    f.ws.login("admin@test.clinic", &pw("admin-password-1"))
        .unwrap();
    let other =
        f.ws.patients()
            .register(person("Audited", "Persson"), NewLists::default())
            .unwrap();
    assert_eq!(
        other.duplicate_candidates.len(),
        1,
        "similar name and same birth date"
    );
    f.ws.patients().merge(id, other.patient.id).unwrap();
    assert_eq!(last_action(&f.ws).0, "patient.merged_into");
    let third =
        f.ws.patients()
            .register(person("Third", "Person"), NewLists::default())
            .unwrap()
            .patient
            .id;
    f.ws.patients()
        .archive(third, "registered in error")
        .unwrap();
    assert_eq!(last_action(&f.ws).0, "patient.archive");
    f.ws.directory()
        .add_user(
            "x@test.clinic",
            "X",
            "receptionist",
            &pw("x-password-01"),
            None,
        )
        .unwrap();
    assert_eq!(last_action(&f.ws).0, "user.create");
    f.ws.directory()
        .set_user_disabled("x@test.clinic", true)
        .unwrap();
    assert_eq!(last_action(&f.ws).0, "user.disable");
    f.ws.logout().unwrap();
    assert_eq!(last_action(&f.ws), ("user.logout".into(), Some(admin)));
    assert_eq!(f.ws.verify_audit().unwrap().map(|n| n > 10), Ok(true));
    // A disabled user cannot sign in.
    assert_eq!(
        f.ws.login("x@test.clinic", &pw("x-password-01"))
            .unwrap_err()
            .code,
        ErrorCode::InvalidCredentials
    );
}

#[test]
fn idle_lock_drops_the_store_and_needs_unlock_and_sign_in() {
    let mut f = fixture();
    f.ws.patients().search("x", 5).unwrap();
    f.clock.advance(Duration::minutes(9));
    f.ws.patients().search("x", 5).unwrap();
    f.clock.advance(Duration::minutes(11));
    let e = f.ws.patients().search("x", 5).unwrap_err();
    assert_eq!(e.code, ErrorCode::SessionLocked);
    assert!(f.ws.is_locked() && f.ws.session().is_none());
    assert_eq!(
        f.ws.login("admin@test.clinic", &pw("admin-password-1"))
            .unwrap_err()
            .code,
        ErrorCode::SessionLocked
    );
    let wrong = Unlock::Passphrase(Passphrase::new("not the passphrase".into()).unwrap());
    assert_eq!(f.ws.unlock(&wrong).unwrap_err().code, ErrorCode::WrongKey);
    f.ws.unlock(&Unlock::Passphrase(
        Passphrase::new(PASSPHRASE.into()).unwrap(),
    ))
    .unwrap();
    assert_eq!(
        f.ws.patients().search("x", 5).unwrap_err().code,
        ErrorCode::SessionLocked,
        "unlocking is not signing in"
    );
    f.ws.login("admin@test.clinic", &pw("admin-password-1"))
        .unwrap();
    f.ws.patients().search("x", 5).unwrap();
}

#[test]
fn repeated_wrong_passwords_lock_the_account_for_a_while() {
    let mut f = fixture();
    for _ in 0..5 {
        assert_eq!(
            f.ws.login("clinician@test.clinic", &pw("guess-guess"))
                .unwrap_err()
                .code,
            ErrorCode::InvalidCredentials
        );
    }
    assert_eq!(
        f.ws.login("clinician@test.clinic", &pw("role-password-1"))
            .unwrap_err()
            .code,
        ErrorCode::AccountLocked
    );
    f.clock.advance(Duration::minutes(6));
    f.ws.login("clinician@test.clinic", &pw("role-password-1"))
        .unwrap();
    assert_eq!(
        f.ws.login("nobody@test.clinic", &pw("whatever-1"))
            .unwrap_err()
            .code,
        ErrorCode::InvalidCredentials
    );
}

#[test]
fn merge_moves_items_fills_gaps_and_retires_the_duplicate() {
    let mut f = fixture();
    let keep =
        f.ws.patients()
            .register(
                person("Maria", "Garcia"),
                NewLists {
                    allergies: vec![NewAllergy {
                        substance: "Penicillin".into(),
                        reaction: None,
                        severity: Severity::Severe,
                    }],
                    ..Default::default()
                },
            )
            .unwrap()
            .patient;
    let mut dup_details = person("María", "García");
    dup_details.email = Some("maria@example.org".into());
    dup_details.phone = None;
    let dup =
        f.ws.patients()
            .register(
                dup_details,
                NewLists {
                    allergies: vec![
                        NewAllergy {
                            substance: "penicillin".into(),
                            reaction: Some("rash".into()),
                            severity: Severity::Moderate,
                        },
                        NewAllergy {
                            substance: "Latex".into(),
                            reaction: None,
                            severity: Severity::Mild,
                        },
                    ],
                    ..Default::default()
                },
            )
            .unwrap();
    assert_eq!(
        dup.duplicate_candidates[0].patient_id, keep.id,
        "accents do not hide a duplicate"
    );
    let merged = f.ws.patients().merge(keep.id, dup.patient.id).unwrap();
    assert_eq!(merged.details.email.as_deref(), Some("maria@example.org"));
    assert_eq!(merged.details.phone.as_deref(), Some("07700 900001"));
    let substances: Vec<_> = merged
        .lists
        .allergies
        .iter()
        .map(|a| a.substance.as_str())
        .collect();
    assert_eq!(
        substances,
        vec!["Penicillin", "penicillin", "Latex"],
        "nothing clinical is dropped by a merge"
    );
    let gone = f.ws.patients().show(dup.patient.id).unwrap();
    assert_eq!(gone.merged_into, Some(keep.id));
    assert!(gone.archived_at.is_some());
    let hits: Vec<Uuid> =
        f.ws.patients()
            .search("garcia", 10)
            .unwrap()
            .into_iter()
            .map(|h| h.id)
            .collect();
    assert_eq!(hits, vec![keep.id]);
    assert_eq!(
        f.ws.patients()
            .edit(
                dup.patient.id,
                PatientPatch {
                    city: Some("X".into()),
                    ..Default::default()
                }
            )
            .unwrap_err()
            .code,
        ErrorCode::Conflict
    );
    assert_eq!(
        f.ws.patients().merge(keep.id, keep.id).unwrap_err().code,
        ErrorCode::Validation
    );
    // Receptionists cannot merge (they cannot see the medical history being merged).
    f.ws.login("receptionist@test.clinic", &pw("role-password-1"))
        .unwrap();
    let other =
        f.ws.patients()
            .register(person("Other", "Person"), NewLists::default())
            .unwrap()
            .patient
            .id;
    assert_eq!(
        f.ws.patients().merge(keep.id, other).unwrap_err().code,
        ErrorCode::Forbidden
    );
}

#[test]
fn patient_numbers_are_unique_and_check_digited() {
    let mut f = fixture();
    let mut seen = std::collections::HashSet::new();
    for i in 0..50 {
        let p =
            f.ws.patients()
                .register(
                    person("Num", &format!("Ber{}", "x".repeat(i % 5 + 1))),
                    NewLists::default(),
                )
                .unwrap()
                .patient;
        assert!(clinic_core::patients::parse_patient_number(&p.patient_number).is_some());
        assert!(seen.insert(p.patient_number));
    }
}

#[test]
fn nobody_can_hand_out_more_access_than_they_have() {
    let mut f = fixture();
    f.ws.login("manager@test.clinic", &pw("role-password-1"))
        .unwrap();
    for role in ["admin", "clinician"] {
        let e =
            f.ws.directory()
                .add_user(
                    &format!("x-{role}@test.clinic"),
                    "X",
                    role,
                    &pw("x-password-01"),
                    None,
                )
                .unwrap_err();
        assert_eq!(e.code, ErrorCode::Forbidden, "{role}");
    }
    f.ws.directory()
        .add_user(
            "clerk2@test.clinic",
            "Clerk",
            "billing_clerk",
            &pw("x-password-01"),
            None,
        )
        .unwrap();
    assert_eq!(
        f.ws.directory()
            .set_user_disabled("admin@test.clinic", true)
            .unwrap_err()
            .code,
        ErrorCode::Forbidden
    );
    assert_eq!(
        f.ws.directory()
            .set_user_disabled("clinician@test.clinic", true)
            .unwrap_err()
            .code,
        ErrorCode::Forbidden
    );
    f.ws.directory()
        .set_user_disabled("clerk2@test.clinic", true)
        .unwrap();
    // The last administrator cannot be disabled, even by another administrator.
    f.ws.login("admin@test.clinic", &pw("admin-password-1"))
        .unwrap();
    f.ws.directory()
        .add_user(
            "admin2@test.clinic",
            "Second Admin",
            "admin",
            &pw("x-password-01"),
            None,
        )
        .unwrap();
    f.ws.login("admin2@test.clinic", &pw("x-password-01"))
        .unwrap();
    f.ws.directory()
        .set_user_disabled("admin@test.clinic", true)
        .unwrap();
    assert_eq!(
        f.ws.login("admin@test.clinic", &pw("admin-password-1"))
            .unwrap_err()
            .code,
        ErrorCode::InvalidCredentials
    );
    f.ws.login("admin2@test.clinic", &pw("x-password-01"))
        .unwrap();
    assert_eq!(
        f.ws.directory()
            .set_user_disabled("admin2@test.clinic", true)
            .unwrap_err()
            .code,
        ErrorCode::Conflict
    );
}

#[test]
fn an_edit_never_reveals_a_hidden_value() {
    let mut f = fixture();
    let mut d = person("Hidden", "Value");
    d.blood_group = Some("A+".into());
    let id =
        f.ws.patients()
            .register(d, NewLists::default())
            .unwrap()
            .patient
            .id;
    f.ws.login("receptionist@test.clinic", &pw("role-password-1"))
        .unwrap();
    // Same answer whether the guess is right or wrong.
    for guess in ["A+", "B-"] {
        let e =
            f.ws.patients()
                .edit(
                    id,
                    PatientPatch {
                        blood_group: Some(guess.into()),
                        ..Default::default()
                    },
                )
                .unwrap_err();
        assert_eq!(e.code, ErrorCode::Forbidden, "{guess}");
    }
}

#[test]
fn a_lockout_that_ran_out_starts_the_count_again() {
    let mut f = fixture();
    for _ in 0..5 {
        let _ = f.ws.login("clinician@test.clinic", &pw("guess-guess"));
    }
    f.clock.advance(Duration::minutes(6));
    // One typo after the lock ran out is one typo, not another lockout.
    assert_eq!(
        f.ws.login("clinician@test.clinic", &pw("typo-typo"))
            .unwrap_err()
            .code,
        ErrorCode::InvalidCredentials
    );
    f.ws.login("clinician@test.clinic", &pw("role-password-1"))
        .unwrap();
    let refused =
        f.ws.store_for_tests()
            .unwrap()
            .db()
            .audit_events(None, 100)
            .unwrap()
            .iter()
            .filter(|e| e.action == "user.login_failed")
            .count();
    assert_eq!(refused, 6);
}

#[test]
fn merging_two_people_with_different_national_ids_is_refused() {
    let mut f = fixture();
    let mut a = person("Twin", "One");
    a.national_id_kind = Some(clinic_core::patients::NationalIdKind::Nhs);
    a.national_id = Some("9434765919".into());
    let mut b = a.clone();
    b.national_id = Some("4010232137".into());
    let a =
        f.ws.patients()
            .register(a, NewLists::default())
            .unwrap()
            .patient
            .id;
    let b =
        f.ws.patients()
            .register(b, NewLists::default())
            .unwrap()
            .patient
            .id;
    assert_eq!(
        f.ws.patients().merge(a, b).unwrap_err().code,
        ErrorCode::Conflict
    );
}

/// The setup screens' use-cases: weekly hours (overlaps refused, the
/// calendar shades what was saved), leave added and removed, rooms only by
/// a full administrator, and the first change to the built-in appointment
/// types keeping the others.
#[test]
fn the_appointment_book_is_set_up_with_the_permissions_its_documents_have() {
    use clinic_client::scheduling::setup::{HoursLine, TypeLine};
    let mut f = fixture();
    let doctor =
        f.ws.directory()
            .add_user(
                "dr@test.clinic",
                "Dr Who",
                "clinician",
                &pw("doctor-password-1"),
                None,
            )
            .unwrap()
            .id;
    let line = |weekday, start: &str, end: &str| HoursLine {
        weekday,
        start: start.into(),
        end: end.into(),
    };
    // Overlapping periods on one day are refused, nothing saved.
    let e =
        f.ws.scheduling()
            .set_weekly_hours(
                doctor,
                &[line(1, "09:00", "13:00"), line(1, "12:00", "17:00")],
            )
            .unwrap_err();
    assert_eq!(e.code, ErrorCode::Validation);
    assert!(
        e.message.contains("overlap") || e.fields.iter().any(|x| x.message.contains("overlap"))
    );
    assert!(f.ws.scheduling().setup_view().unwrap().clinicians[0]
        .hours
        .is_empty());
    // Monday morning and afternoon, Tuesday all day.
    f.ws.scheduling()
        .set_weekly_hours(
            doctor,
            &[
                line(1, "13:30", "17:00"),
                line(1, "09:00", "12:30"),
                line(2, "08:00", "16:00"),
            ],
        )
        .unwrap();
    let v = f.ws.scheduling().setup_view().unwrap();
    let c = v.clinicians.iter().find(|c| c.id == doctor).unwrap();
    assert_eq!(
        c.hours,
        vec![
            line(1, "09:00", "12:30"),
            line(1, "13:30", "17:00"),
            line(2, "08:00", "16:00")
        ]
    );
    // The calendar of Monday 23 Nov 2026 shows those hours.
    let monday = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    let cal = f.ws.calendar(monday, monday + Duration::days(1)).unwrap();
    let spans: Vec<(String, String)> = cal
        .working
        .iter()
        .filter(|w| w.clinician_id == doctor)
        .map(|w| {
            (
                w.start_local[11..16].to_string(),
                w.end_local[11..16].to_string(),
            )
        })
        .collect();
    assert_eq!(
        spans,
        vec![
            ("09:00".into(), "12:30".into()),
            ("13:30".into(), "17:00".into())
        ]
    );
    // Leave: added, shown, and taken off again.
    let leave =
        f.ws.scheduling()
            .add_leave(
                doctor,
                "leave",
                "2026-12-24T00:00:00",
                "2026-12-27T00:00",
                Some("Christmas".into()),
            )
            .unwrap();
    assert_eq!(leave.kind, "leave");
    let e =
        f.ws.scheduling()
            .add_leave(
                doctor,
                "leave",
                "2026-12-24T10:00",
                "2026-12-24T09:00",
                None,
            )
            .unwrap_err();
    assert_eq!(e.code, ErrorCode::Validation, "ends before it starts");
    let v = f.ws.scheduling().setup_view().unwrap();
    let c = v.clinicians.iter().find(|c| c.id == doctor).unwrap();
    assert_eq!(c.leave.len(), 1);
    assert_eq!(c.leave[0].end_local, "2026-12-27T00:00:00");
    f.ws.scheduling().remove_leave(doctor, leave.id).unwrap();
    assert_eq!(
        f.ws.scheduling()
            .remove_leave(doctor, leave.id)
            .unwrap_err()
            .code,
        ErrorCode::NotFound
    );

    // Appointment types: the first change keeps the other built-in ones.
    let before = f.ws.scheduling().setup_view().unwrap().types;
    assert!(before.len() > 1);
    let mut first = before[0].clone();
    first.minutes = 25;
    f.ws.scheduling().save_type(first.clone()).unwrap();
    let after = f.ws.scheduling().setup_view().unwrap().types;
    assert_eq!(after.len(), before.len(), "no built-in type vanished");
    assert_eq!(after.iter().find(|t| t.id == first.id).unwrap().minutes, 25);
    let added =
        f.ws.scheduling()
            .save_type(TypeLine {
                id: Uuid::nil(),
                name: "Dressing change".into(),
                minutes: 10,
                colour: "#AABBCC".into(),
                archived: false,
            })
            .unwrap();
    assert!(!added.id.is_nil());
    assert_eq!(added.colour, "#aabbcc");
    let dup = TypeLine {
        id: Uuid::nil(),
        ..added.clone()
    };
    assert_eq!(
        f.ws.scheduling().save_type(dup).unwrap_err().code,
        ErrorCode::Validation,
        "one name, one type"
    );

    // Rooms: an administrator adds one; a manager may not (premises).
    let room =
        f.ws.scheduling()
            .save_room(None, "Room 7", "treatment")
            .unwrap();
    let v = f.ws.scheduling().setup_view().unwrap();
    assert!(v.can_edit_rooms);
    assert_eq!(v.rooms.len(), 1);
    assert_eq!(v.rooms[0].id, room.id);
    f.ws.login("manager@test.clinic", &pw("role-password-1"))
        .unwrap();
    let v = f.ws.scheduling().setup_view().unwrap();
    assert!(v.can_edit && !v.can_edit_rooms);
    assert_eq!(
        f.ws.scheduling()
            .save_room(None, "Room 8", "")
            .unwrap_err()
            .code,
        ErrorCode::Forbidden
    );
    // A manager sets working hours.
    f.ws.scheduling()
        .set_weekly_hours(doctor, &[line(5, "10:00", "14:00")])
        .unwrap();
    // A receptionist sees none of it.
    f.ws.login("receptionist@test.clinic", &pw("role-password-1"))
        .unwrap();
    assert_eq!(
        f.ws.scheduling().setup_view().unwrap_err().code,
        ErrorCode::Forbidden
    );
}
