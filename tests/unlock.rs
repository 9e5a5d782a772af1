//! Unlocking a desk with one's own password (#28): staff who signed in on
//! a desk unlock it after an idle lock with their own password (a wrap of
//! the store key made at that sign-in), which signs them in and never
//! resumes anyone else's session; disabling them, or a new password set on
//! any desk, takes the wrap away once the desk has synced.

use crate::{enroll, signed_in, sync};
use clinic_client::{Password, Workstation};
use clinic_core::ErrorCode;
use clinic_store::keys::{Passphrase, Unlock};

const ADMIN: (&str, &str) = ("admin@acme.example", "admin-password-1");
const RITA: (&str, &str) = ("rita@acme.example", "rita-password-1");
const SAM: (&str, &str) = ("sam@acme.example", "sam-password-1");
const SAM_NEW: &str = "sam-chose-this-2";

fn pw(p: &str) -> Password {
    Password::new(p.into())
}

fn unlock_as(ws: &mut Workstation, who: (&str, &str)) -> Result<uuid::Uuid, ErrorCode> {
    match ws.unlock_as(who.0, &pw(who.1)) {
        Ok(()) => Ok(ws.session().expect("signed in").user_id),
        Err(e) => {
            assert!(ws.is_locked(), "a refused unlock leaves the desk locked");
            Err(e.code)
        }
    }
}

#[test]
fn staff_unlock_a_desk_they_signed_in_on_and_lose_that_everywhere_when_disabled_or_re_passworded() {
    let server = crate::start_server("acme");
    let t = tempfile::tempdir().unwrap();
    let mut a = signed_in(&server, &t.path().join("a"));
    let admin = a.session().unwrap().user_id;
    let rita = a
        .directory()
        .add_user(RITA.0, "Rita Reception", "receptionist", &pw(RITA.1), None)
        .unwrap()
        .id;
    let sam = a
        .directory()
        .add_user(SAM.0, "Sam Smith", "receptionist", &pw(SAM.1), None)
        .unwrap()
        .id;
    sync(&mut a);
    let b_dir = t.path().join("b");
    let mut b = enroll(&server, &b_dir, ADMIN.0, ADMIN.1).unwrap();
    b.login(ADMIN.0, &pw(ADMIN.1)).unwrap();
    sync(&mut b);

    // Rita has not signed in on desk B: her password cannot unlock it.
    b.lock();
    assert_eq!(unlock_as(&mut b, RITA), Err(ErrorCode::KeyUnavailable));
    // Someone with the passphrase unlocks it; Rita signs in once ...
    b.unlock(&Unlock::Passphrase(
        Passphrase::new("workstation passphrase".into()).unwrap(),
    ))
    .unwrap();
    b.login(RITA.0, &pw(RITA.1)).unwrap();
    b.login(SAM.0, &pw(SAM.1)).unwrap();
    // ... and from then on her own password unlocks it, signing her in
    // (not Sam, whose session was the last one).
    b.lock();
    assert_eq!(
        unlock_as(&mut b, (RITA.0, "not-her-password")),
        Err(ErrorCode::WrongKey)
    );
    assert_eq!(unlock_as(&mut b, ("RITA@acme.example", RITA.1)), Ok(rita));
    b.lock();
    assert_eq!(unlock_as(&mut b, SAM), Ok(sam));
    // The envelope names nobody: no e-mail in it.
    let envelope = std::fs::read_to_string(b_dir.join("store-key.json")).unwrap();
    assert!(!envelope.contains("rita") && !envelope.contains("sam@"));
    // Each wrap's making is on the sign-in's audit event.
    b.login(ADMIN.0, &pw(ADMIN.1)).unwrap();
    let audit = b.audit_log(None, 500).unwrap();
    let remembered = audit
        .iter()
        .filter(|e| e.details["unlock_remembered"] == serde_json::json!(true))
        .filter_map(|e| e.user_id)
        .collect::<Vec<_>>();
    for who in [admin, rita, sam] {
        assert!(remembered.contains(&who), "{who} remembered");
    }

    // On desk A: Rita is disabled, Sam chooses a new password.
    a.login(ADMIN.0, &pw(ADMIN.1)).unwrap();
    a.directory().set_user_disabled(RITA.0, true).unwrap();
    a.login(SAM.0, &pw(SAM.1)).unwrap();
    a.change_password(&pw(SAM.1), pw(SAM_NEW)).unwrap();
    sync(&mut a);
    // Desk B syncs: neither old password unlocks it any more, nor Sam's
    // new one until he signs in here with it; the administrator's does.
    sync(&mut b);
    b.lock();
    assert_eq!(unlock_as(&mut b, RITA), Err(ErrorCode::KeyUnavailable));
    assert_eq!(unlock_as(&mut b, SAM), Err(ErrorCode::KeyUnavailable));
    assert_eq!(
        unlock_as(&mut b, (SAM.0, SAM_NEW)),
        Err(ErrorCode::KeyUnavailable)
    );
    assert_eq!(unlock_as(&mut b, ADMIN), Ok(admin));
    let forgotten = b
        .audit_log(None, 500)
        .unwrap()
        .iter()
        .filter(|e| e.action == "device.unlock_forgotten")
        .filter_map(|e| e.entity_id)
        .collect::<Vec<_>>();
    assert!(forgotten.contains(&rita) && forgotten.contains(&sam));
    assert!(
        !forgotten.contains(&admin),
        "enrolling took the server's password hash: syncing it changed nothing"
    );
    b.login(SAM.0, &pw(SAM_NEW)).unwrap();
    b.lock();
    assert_eq!(unlock_as(&mut b, (SAM.0, SAM_NEW)), Ok(sam));

    // A password reset on this desk takes effect here at once.
    b.login(ADMIN.0, &pw(ADMIN.1)).unwrap();
    b.directory()
        .reset_password(SAM.0, pw("reset-by-admin-3"))
        .unwrap();
    b.lock();
    assert_eq!(
        unlock_as(&mut b, (SAM.0, SAM_NEW)),
        Err(ErrorCode::KeyUnavailable)
    );
    assert_eq!(
        unlock_as(&mut b, (SAM.0, "reset-by-admin-3")),
        Err(ErrorCode::KeyUnavailable),
        "a password someone else set is not remembered until its owner chooses their own"
    );
}
