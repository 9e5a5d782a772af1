//! Clinical records across two workstations and the real server: drafts
//! that survive the store closing, per-field merge with siblings, signed
//! notes the server keeps frozen, and edits refused after a signature
//! kept as draft addenda.

use crate::{ada, signed_in, sync};
use clinic_client::clinical::ADDENDUM_DRAFT;
use clinic_client::Workstation;
use clinic_core::clinical::{EditEncounter, Encounter, EncounterStatus};
use clinic_core::sync::MutationKind;
use clinic_core::ErrorCode;
use uuid::Uuid;

fn ada_id(ws: &mut Workstation) -> Uuid {
    ws.patients()
        .register(ada(), Default::default())
        .unwrap()
        .patient
        .id
}

fn local(ws: &Workstation, id: Uuid) -> Encounter {
    ws.store_for_tests()
        .unwrap()
        .db()
        .encounter(id)
        .unwrap()
        .unwrap()
}

/// Two desks signed in as the administrator, holding one walk-in encounter.
fn two_desks_with_a_note() -> (
    sync_server::testing::TestServer,
    tempfile::TempDir,
    Workstation,
    Workstation,
    Uuid,
) {
    let server = crate::start_server("acme");
    let t = tempfile::tempdir().unwrap();
    let mut a = signed_in(&server, &t.path().join("a"));
    let mut b = signed_in(&server, &t.path().join("b"));
    let patient = ada_id(&mut a);
    let e = a
        .clinical()
        .start(patient, None, Some("consultation"))
        .unwrap();
    assert_eq!(e.status, EncounterStatus::Draft);
    sync(&mut a);
    sync(&mut b);
    assert_eq!(local(&b, e.id), local(&a, e.id));
    (server, t, a, b, e.id)
}

#[test]
fn a_note_edited_on_two_desks_offline_merges_field_by_field_and_keeps_the_same_field_as_a_sibling()
{
    let (_server, _t, mut a, mut b, id) = two_desks_with_a_note();
    a.clinical()
        .edit(id, "history", "Cough for two weeks", vec![])
        .unwrap();
    b.clinical()
        .edit(id, "history", "Cough and fever since Monday", vec![])
        .unwrap();
    b.clinical()
        .edit(id, "plan", "Paracetamol; fluids", vec![])
        .unwrap();
    sync(&mut a);
    sync(&mut b);
    sync(&mut a);
    let (ea, eb) = (local(&a, id), local(&b, id));
    assert_eq!(ea, eb, "both desks hold the same note");
    assert_eq!(
        ea.sections.history, "Cough and fever since Monday",
        "the later edit by server order is current"
    );
    assert_eq!(
        ea.sections.plan, "Paracetamol; fluids",
        "an edit of another field is kept"
    );
    assert_eq!(ea.siblings.len(), 1);
    assert_eq!(
        ea.siblings[0].text, "Cough for two weeks",
        "the displaced text is kept beside it"
    );
    // Not signed while two versions stand.
    assert_eq!(a.clinical().sign(id).unwrap_err().code, ErrorCode::Conflict);
    // The clinician settles it on desk A; desk B learns it.
    let sibling = ea.siblings[0].revision;
    a.clinical()
        .edit(
            id,
            "history",
            "Cough for two weeks, fever since Monday",
            vec![sibling],
        )
        .unwrap();
    let signed = a.clinical().sign(id).unwrap();
    sync(&mut a);
    sync(&mut b);
    let eb = local(&b, id);
    assert!(eb.siblings.is_empty());
    assert_eq!(eb.status, EncounterStatus::Signed);
    assert_eq!(eb.signature, signed.signature);
    assert!(b.clinical().verify(id).is_ok());
    // Every value the field held is in its history, on both desks.
    let texts: Vec<&str> = eb
        .revisions
        .iter()
        .filter(|h| h.field == "history")
        .map(|h| h.text.as_str())
        .collect();
    assert_eq!(
        texts,
        [
            "Cough for two weeks",
            "Cough and fever since Monday",
            "Cough for two weeks, fever since Monday"
        ]
    );
}

#[test]
fn an_edit_of_a_note_signed_on_another_desk_is_refused_by_the_server_shown_and_kept_as_a_draft_addendum(
) {
    let (server, _t, mut a, mut b, id) = two_desks_with_a_note();
    a.clinical()
        .edit(id, "assessment", "Acute bronchitis", vec![])
        .unwrap();
    let signed = a.clinical().sign(id).unwrap();
    let hash = signed.signature.clone().unwrap().content_sha256;
    sync(&mut a);
    // Desk B, offline, still has the draft and adds to the plan.
    b.clinical()
        .edit(id, "plan", "Review in one week", vec![])
        .unwrap();
    sync(&mut b);
    let eb = local(&b, id);
    assert_eq!(
        eb.status,
        EncounterStatus::Signed,
        "the server's signed note stands"
    );
    assert_eq!(eb.sections.plan, "");
    // Shown: the refusal is among this desk's sync problems …
    let problems = b.sync_conflicts().unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p.kind == EditEncounter::NAME && p.status == "conflict"),
        "{problems:?}"
    );
    // … and in the note's history on every desk.
    sync(&mut a);
    let notes = a.not_applied(id).unwrap();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].change["text"], "Review in one week");
    // Not lost: the text waits as its author's draft addendum on desk B.
    let view = b.clinical().show(id).unwrap();
    let draft = view
        .drafts
        .iter()
        .find(|d| d.field == ADDENDUM_DRAFT)
        .expect("a draft addendum");
    assert_eq!(draft.text, "Plan: Review in one week");
    // Syncing again does not add it twice.
    sync(&mut b);
    let view = b.clinical().show(id).unwrap();
    assert_eq!(
        view.drafts
            .iter()
            .filter(|d| d.field == ADDENDUM_DRAFT)
            .count(),
        1
    );
    assert_eq!(view.drafts[0].text, "Plan: Review in one week");
    // Signed as an addendum, it joins the note on both desks.
    b.clinical().add_addendum(id, &draft.text).unwrap();
    assert!(b.clinical().show(id).unwrap().drafts.is_empty());
    sync(&mut b);
    sync(&mut a);
    let ea = local(&a, id);
    assert_eq!(ea.addenda.len(), 1);
    assert!(a.clinical().verify(id).is_ok());
    // The server holds the same signed note, its hash as signed …
    let rows = server.query(&format!(
        "SELECT status, content_sha256, doc::text FROM encounters WHERE id = '{id}'"
    ));
    assert_eq!(rows[0][0].as_deref(), Some("signed"));
    assert_eq!(rows[0][1].as_deref(), Some(hash.as_str()));
    let on_server: Encounter = serde_json::from_str(rows[0][2].as_deref().unwrap()).unwrap();
    assert_eq!(on_server.verify(), Ok(()));
    assert_eq!(on_server, ea);
    // … and refuses to change it, whatever writes to the table.
    let e = server
        .try_query(&format!(
            "UPDATE encounters SET doc = jsonb_set(doc, '{{sections,assessment}}', '\"Nothing\"') WHERE id = '{id}'"
        ))
        .unwrap_err();
    assert!(e.contains("signed and never changes"), "{e}");
}

#[test]
fn autosaved_drafts_survive_the_store_closing_and_reach_the_feed_as_one_edit_per_field() {
    let (_server, t, mut a, mut b, id) = two_desks_with_a_note();
    let mut typed = String::new();
    for word in "Three days of sore throat and fever".split(' ') {
        typed.push_str(word);
        typed.push(' ');
        a.clinical()
            .save_draft(id, "history", typed.trim_end())
            .unwrap();
    }
    a.clinical().save_draft(id, "plan", "Rest").unwrap();
    let outbox_before = a
        .store_for_tests()
        .unwrap()
        .db()
        .outbox_after(0, 1000)
        .unwrap()
        .len();
    // The app is closed (or killed) before anything became an edit.
    drop(a);
    let mut a = crate::kernel::reopen(&t.path().join("a"));
    let view = a.clinical().show(id).unwrap();
    let history = view.drafts.iter().find(|d| d.field == "history").unwrap();
    assert_eq!(history.text, "Three days of sore throat and fever");
    assert_eq!(
        view.encounter.sections.history, "",
        "a draft is not an edit yet"
    );
    // Moving on makes one edit per field, whatever the keystrokes.
    let report = a.clinical().flush_drafts(Some(id), None).unwrap();
    assert_eq!(report.saved, 2);
    let outbox = a
        .store_for_tests()
        .unwrap()
        .db()
        .outbox_after(0, 1000)
        .unwrap();
    let edits = outbox
        .iter()
        .skip(outbox_before)
        .filter(|e| e.mutation.name() == EditEncounter::NAME)
        .count();
    assert_eq!(edits, 2);
    assert!(a.clinical().show(id).unwrap().drafts.is_empty());
    sync(&mut a);
    sync(&mut b);
    let eb = local(&b, id);
    assert_eq!(eb.sections.history, "Three days of sore throat and fever");
    assert_eq!(eb.sections.plan, "Rest");
}

#[test]
fn clinical_records_need_the_clinical_module_and_every_opening_is_audited() {
    let (_server, _t, mut a, _b, id) = two_desks_with_a_note();
    let pw = clinic_client::Password::new("rita-password-12".into());
    a.directory()
        .add_user(
            "rita@acme.example",
            "Rita Reception",
            "receptionist",
            &pw,
            None,
        )
        .unwrap();
    let patient = local(&a, id).patient_id;
    a.clinical().show(id).unwrap();
    a.clinical().chart(patient).unwrap();
    let events = a.audit_log(Some(patient), 100).unwrap();
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    for wanted in ["encounter.start", "encounter.read", "chart.read"] {
        assert!(actions.contains(&wanted), "{wanted} in {actions:?}");
    }
    a.logout().unwrap();
    a.login("rita@acme.example", &pw).unwrap();
    for e in [
        a.clinical().show(id).map(|_| ()),
        a.clinical().chart(patient).map(|_| ()),
        a.clinical().start(patient, None, None).map(|_| ()),
        a.clinical().edit(id, "plan", "x", vec![]).map(|_| ()),
    ] {
        assert_eq!(e.unwrap_err().code, ErrorCode::Forbidden);
    }
}

#[test]
fn a_prescription_reaches_the_server_with_its_encounter_listing_it() {
    let (server, _t, mut a, mut b, id) = two_desks_with_a_note();
    let line = clinic_core::clinical::PrescriptionLine {
        drug: "Paracetamol".into(),
        dose: "1 g".into(),
        frequency: "four times a day".into(),
        days: 3,
        ..Default::default()
    };
    let issued = a.clinical().prescribe(id, vec![line], "", None).unwrap();
    sync(&mut a);
    sync(&mut b);
    let rows = server.query(&format!(
        "SELECT jsonb_array_length(doc->'prescriptions') FROM encounters WHERE id = '{id}'"
    ));
    assert_eq!(rows[0][0].as_deref(), Some("1"));
    let rows = server.query(&format!(
        "SELECT status, encounter_id::text FROM prescriptions WHERE id = '{}'",
        issued.prescription.id
    ));
    assert_eq!(rows[0], vec![Some("active".into()), Some(id.to_string())]);
    assert_eq!(local(&b, id), local(&a, id));
    assert_eq!(local(&b, id).prescriptions[0].id, issued.prescription.id);
}
