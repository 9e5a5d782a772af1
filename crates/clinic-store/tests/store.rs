//! Integration tests of the encrypted store: real SQLCipher files in temp dirs.

use chrono::{DateTime, NaiveDate, Utc};
use clinic_core::patients::{PatientDetails, PatientLists};
use clinic_core::ErrorCode;
use clinic_store::keys::{Passphrase, Unlock};
use clinic_store::{NewStore, Store};
use sha2::{Digest, Sha256};
use std::path::Path;
use uuid::Uuid;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-22T09:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn pass(s: &str) -> Passphrase {
    Passphrase::new(s.to_string()).unwrap()
}

fn create(dir: &Path, p: &str) -> Store {
    Store::create(
        dir,
        NewStore {
            tenant_id: Uuid::now_v7(),
            device_id: Uuid::now_v7(),
            passphrase: Some(pass(p)),
            keychain: None,
        },
        |db| {
            db.insert_tenant(
                &clinic_store::directory::Tenant {
                    id: db.tenant_id,
                    name: "T".into(),
                    slug: "t".into(),
                    plan: "standalone".into(),
                },
                now(),
            )?;
            Ok(db.add_number_block("patient", 1, 1_000_000)?)
        },
    )
    .unwrap()
}

fn add(
    store: &mut Store,
    first: &str,
    last: &str,
    dob: (i32, u32, u32),
    phone: Option<&str>,
) -> Uuid {
    let d = PatientDetails {
        first_name: first.into(),
        last_name: last.into(),
        date_of_birth: NaiveDate::from_ymd_opt(dob.0, dob.1, dob.2),
        phone: phone.map(str::to_string),
        ..Default::default()
    };
    let id = Uuid::now_v7();
    store
        .write(|db| Ok(db.insert_patient(id, &d, &PatientLists::default(), now())?))
        .unwrap();
    id
}

fn sha(path: &Path) -> Option<String> {
    std::fs::read(path)
        .ok()
        .map(|b| format!("{:x}", Sha256::digest(b)))
}

fn fingerprint(dir: &Path) -> Vec<(String, Option<String>)> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|n| (n.clone(), sha(&dir.join(&n))))
        .collect()
}

#[test]
fn database_is_sqlcipher_encrypted_with_wal_fk_and_memory_temp() {
    let t = tempfile::tempdir().unwrap();
    let store = create(t.path(), "a good passphrase");
    let header = std::fs::read(t.path().join("clinic.db")).unwrap();
    assert!(
        !header.starts_with(b"SQLite format 3"),
        "database header is plaintext SQLite"
    );
    assert!(!store.pragma("cipher_version").unwrap().is_empty());
    assert_eq!(store.pragma("journal_mode").unwrap(), "wal");
    assert_eq!(store.pragma("foreign_keys").unwrap(), "1");
    assert_eq!(store.pragma("temp_store").unwrap(), "2");
    let envelope = std::fs::read_to_string(t.path().join("store-key.json")).unwrap();
    assert!(envelope.contains("argon2") || envelope.contains("m_kib"));
    assert!(
        envelope.contains("\"m_kib\": 65536") && envelope.contains("\"t\": 3"),
        "{envelope}"
    );
}

#[test]
fn wrong_passphrase_is_a_typed_error_and_changes_nothing() {
    let t = tempfile::tempdir().unwrap();
    {
        let mut s = create(t.path(), "a good passphrase");
        add(&mut s, "Ada", "Lovelace", (1985, 12, 10), None);
        // Keep a WAL with content around while we try the wrong key from another handle.
        let before = fingerprint(t.path());
        let err =
            Store::open(t.path(), &Unlock::Passphrase(pass("not the passphrase"))).unwrap_err();
        assert_eq!(err.code(), ErrorCode::WrongKey);
        assert_eq!(before, fingerprint(t.path()));
    }
    let before = fingerprint(t.path());
    let started = std::time::Instant::now();
    let err = Store::open(t.path(), &Unlock::Passphrase(pass("not the passphrase"))).unwrap_err();
    assert_eq!(err.code(), ErrorCode::WrongKey);
    assert!(started.elapsed().as_secs() < 10);
    assert_eq!(
        before,
        fingerprint(t.path()),
        "files changed by a failed unlock"
    );
}

#[test]
fn missing_database_is_not_recreated_and_missing_envelope_is_refused() {
    let t = tempfile::tempdir().unwrap();
    drop(create(t.path(), "a good passphrase"));
    let env = t.path().join("store-key.json");
    let saved = std::fs::read(&env).unwrap();
    std::fs::remove_file(&env).unwrap();
    let before = fingerprint(t.path());
    assert_eq!(
        Store::open(t.path(), &Unlock::Passphrase(pass("a good passphrase")))
            .unwrap_err()
            .code(),
        ErrorCode::StoreCorrupt
    );
    assert_eq!(before, fingerprint(t.path()));
    std::fs::write(&env, saved).unwrap();
    std::fs::remove_file(t.path().join("clinic.db")).unwrap();
    assert_eq!(
        Store::open(t.path(), &Unlock::Passphrase(pass("a good passphrase")))
            .unwrap_err()
            .code(),
        ErrorCode::StoreMissing
    );
    assert!(
        !t.path().join("clinic.db").exists(),
        "an empty database was created"
    );
}

#[test]
fn envelope_from_another_store_does_not_open_this_one() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    drop(create(a.path(), "same passphrase!"));
    drop(create(b.path(), "same passphrase!"));
    std::fs::copy(
        b.path().join("store-key.json"),
        a.path().join("store-key.json"),
    )
    .unwrap();
    let before = fingerprint(a.path());
    let err = Store::open(a.path(), &Unlock::Passphrase(pass("same passphrase!"))).unwrap_err();
    assert!(
        matches!(err.code(), ErrorCode::WrongKey | ErrorCode::StoreCorrupt),
        "{err:?}"
    );
    assert_eq!(before, fingerprint(a.path()));
}

#[test]
fn passphrase_change_rewraps_without_reencrypting() {
    let t = tempfile::tempdir().unwrap();
    let id;
    {
        let mut s = create(t.path(), "old passphrase 1");
        id = add(&mut s, "Grace", "Hopper", (1906, 12, 9), None);
        s.change_passphrase(
            &Unlock::Passphrase(pass("old passphrase 1")),
            &pass("new passphrase 2"),
        )
        .unwrap();
    }
    let db_hash = sha(&t.path().join("clinic.db"));
    assert_eq!(
        Store::open(t.path(), &Unlock::Passphrase(pass("old passphrase 1")))
            .unwrap_err()
            .code(),
        ErrorCode::WrongKey
    );
    {
        let s = Store::open(t.path(), &Unlock::Passphrase(pass("new passphrase 2"))).unwrap();
        assert_eq!(
            s.db().patient(id).unwrap().unwrap().details.last_name,
            "Hopper"
        );
    }
    assert_eq!(
        db_hash,
        sha(&t.path().join("clinic.db")),
        "database was rewritten by a passphrase change"
    );
}

#[test]
fn newer_schema_is_refused_untouched_and_older_is_migrated() {
    let t = tempfile::tempdir().unwrap();
    {
        let s = create(t.path(), "a good passphrase");
        s.execute_raw_for_tests(&format!(
            "PRAGMA user_version = {}",
            clinic_store::schema_version() + 1
        ))
        .unwrap();
        assert_eq!(
            s.pragma("user_version").unwrap(),
            (clinic_store::schema_version() + 1).to_string()
        );
    }
    let before = fingerprint(t.path());
    let err = Store::open(t.path(), &Unlock::Passphrase(pass("a good passphrase"))).unwrap_err();
    assert_eq!(err.code(), ErrorCode::SchemaTooNew);
    assert!(err.message().contains("newer version"));
    assert_eq!(before, fingerprint(t.path()));
}

#[test]
fn weak_kdf_in_a_tampered_envelope_is_refused() {
    let t = tempfile::tempdir().unwrap();
    drop(create(t.path(), "a good passphrase"));
    let p = t.path().join("store-key.json");
    let text = std::fs::read_to_string(&p)
        .unwrap()
        .replace("\"m_kib\": 65536", "\"m_kib\": 8");
    std::fs::write(&p, text).unwrap();
    assert_eq!(
        Store::open(t.path(), &Unlock::Passphrase(pass("a good passphrase")))
            .unwrap_err()
            .code(),
        ErrorCode::StoreCorrupt
    );
}

#[test]
fn an_envelope_asking_for_gigabytes_of_key_derivation_is_refused_at_once() {
    let t = tempfile::tempdir().unwrap();
    drop(create(t.path(), "a good passphrase"));
    let p = t.path().join("store-key.json");
    let good = std::fs::read_to_string(&p).unwrap();
    for (from, to) in [
        ("\"m_kib\": 65536", "\"m_kib\": 4194304"),
        ("\"t\": 3", "\"t\": 1000"),
    ] {
        assert!(good.contains(from), "{good}");
        std::fs::write(&p, good.replace(from, to)).unwrap();
        let started = std::time::Instant::now();
        let err =
            Store::open(t.path(), &Unlock::Passphrase(pass("a good passphrase"))).unwrap_err();
        assert_eq!(err.code(), ErrorCode::StoreCorrupt, "{to}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "{to}"
        );
    }
}

#[test]
fn audit_rows_cannot_be_updated_or_deleted_through_sql() {
    let t = tempfile::tempdir().unwrap();
    let mut s = create(t.path(), "a good passphrase");
    s.write(|db| {
        Ok(db.append_audit(
            Uuid::now_v7(),
            None,
            now(),
            clinic_core::audit::AuditEntry {
                action: "test",
                entity_type: "store",
                entity_id: None,
                patient_id: None,
                details: serde_json::json!({}),
            },
        )?)
    })
    .unwrap();
    add(&mut s, "Ada", "Lovelace", (1985, 12, 10), None);
    assert!(s
        .execute_raw_for_tests("UPDATE audit_events SET action = 'x'")
        .is_err());
    assert!(s.execute_raw_for_tests("DELETE FROM audit_events").is_err());
    assert!(
        s.execute_raw_for_tests("DELETE FROM patients").is_err(),
        "patients are never hard-deleted"
    );
    assert_eq!(s.db().verify_audit_chain().unwrap(), Ok(1));
}

#[test]
fn search_prefix_typo_phone_number_dob_and_archive() {
    let t = tempfile::tempdir().unwrap();
    let mut s = create(t.path(), "a good passphrase");
    let ada = add(
        &mut s,
        "Ada",
        "Lovelace",
        (1985, 12, 10),
        Some("020 7946 0958"),
    );
    let jon = add(
        &mut s,
        "Jonathan",
        "Smith",
        (1970, 1, 2),
        Some("+44 7700 900123"),
    );
    let jane = add(&mut s, "Jane", "Smyth", (1990, 5, 6), None);
    let _li = add(&mut s, "Li", "Wu", (2000, 3, 4), None);
    let nhs = {
        let d = PatientDetails {
            first_name: "Nia".into(),
            last_name: "Identity".into(),
            date_of_birth: NaiveDate::from_ymd_opt(1999, 9, 9),
            national_id_kind: Some(clinic_core::patients::NationalIdKind::Nhs),
            national_id: Some("9434765919".into()),
            ..Default::default()
        };
        let id = Uuid::now_v7();
        s.write(|db| Ok(db.insert_patient(id, &d, &PatientLists::default(), now())?))
            .unwrap();
        id
    };
    fn ids_in(s: &Store, q: &str) -> Vec<Uuid> {
        s.db()
            .search_patients(q, 10)
            .unwrap()
            .into_iter()
            .map(|p| p.id)
            .collect()
    }
    let ids = |q: &str| ids_in(&s, q);
    assert_eq!(ids("lov"), vec![ada]);
    assert_eq!(ids("Lovelace Ada"), vec![ada]);
    assert_eq!(ids("lovleace"), vec![ada], "transposition typo");
    assert_eq!(ids("lovelase"), vec![ada], "substitution typo");
    assert_eq!(ids("jonh"), vec![jon], "typo while typing a prefix");
    assert_eq!(ids("smith")[0], jon, "exact match first");
    assert!(ids("smith").contains(&jane), "smyth is one typo from smith");
    assert_eq!(ids("wu"), vec![_li], "short names");
    assert_eq!(ids("020 7946"), vec![ada], "phone prefix");
    assert_eq!(ids("7946 0958"), vec![ada], "phone without area code");
    assert_eq!(ids("07700900123"), vec![jon], "phone with trunk zero");
    assert_eq!(ids("0958"), vec![ada], "last digits of a phone");
    assert_eq!(
        ids("943 476 5919"),
        vec![nhs],
        "national identifier as printed"
    );
    assert_eq!(
        ids("9434765919"),
        vec![nhs],
        "national identifier as digits"
    );
    assert_eq!(ids("10/12/1985"), vec![ada]);
    assert_eq!(ids("1985-12-10"), vec![ada]);
    let number = s.db().patient(jane).unwrap().unwrap().patient_number;
    assert_eq!(ids(&number), vec![jane]);
    assert_eq!(ids(&number.to_lowercase()), vec![jane]);
    assert!(ids("zzzz").is_empty());
    assert!(ids("").is_empty());
    assert!(
        ids("\"*) OR (").is_empty(),
        "FTS syntax in a query is harmless"
    );
    let archive = clinic_core::sync::Mutation::new(clinic_core::patients::ArchivePatient {
        patient: ada,
        reason: "test".into(),
    });
    s.write(|db| Ok(db.commit_mutation(None, now(), &archive)?))
        .unwrap();
    assert!(
        ids_in(&s, "lovelace").is_empty(),
        "archived patients are excluded"
    );
    assert!(ids_in(&s, "020 7946").is_empty());
}

// ---- OS keychain (a real Secret Service: gnome-keyring in CI, see scripts/with-keyring.sh) ----

fn create_with_keychain(dir: &Path, kc: &Keychain) -> Store {
    Store::create(
        dir,
        NewStore {
            tenant_id: Uuid::now_v7(),
            device_id: Uuid::now_v7(),
            passphrase: Some(pass("recovery passphrase")),
            keychain: Some(kc.clone()),
        },
        |_| Ok(()),
    )
    .unwrap()
}

use clinic_store::keys::{KeyEnvelope, Keychain, KeychainLookup, SecretKey};

/// A keychain service name of this test run only.
struct TestKeychain(Keychain);
impl TestKeychain {
    fn new() -> Self {
        Self(Keychain::with_service(format!(
            "clinic-test-{}",
            Uuid::now_v7()
        )))
    }
}

fn account(dir: &Path) -> String {
    let env = KeyEnvelope::read(&dir.join("store-key.json")).unwrap();
    env.keychain_account().unwrap().to_string()
}

#[test]
fn keychain_unlocks_and_a_lost_or_replaced_entry_never_creates_a_fresh_key() {
    let t = tempfile::tempdir().unwrap();
    let kc = TestKeychain::new();
    let id;
    {
        let mut s = create_with_keychain(t.path(), &kc.0);
        assert_eq!(s.keychain_warning(), None);
        id = add_raw(&mut s);
    }
    let env = KeyEnvelope::read(&t.path().join("store-key.json")).unwrap();
    assert!(
        env.has_keychain() && env.has_passphrase(),
        "store must be linked to the keychain (is a Secret Service running?)"
    );
    // Daily unlock through the keychain.
    {
        let s = Store::open(t.path(), &Unlock::Keychain(kc.0.clone())).unwrap();
        assert!(s.db().patient(id).unwrap().is_some());
    }
    let acct = account(t.path());
    assert!(matches!(kc.0.get(&acct), KeychainLookup::Found(_)));

    // The entry is replaced by another key: refused, nothing changes.
    kc.0.set(&acct, &SecretKey::random()).unwrap();
    let before = fingerprint(t.path());
    let err = Store::open(t.path(), &Unlock::Keychain(kc.0.clone())).unwrap_err();
    assert_eq!(err.code(), ErrorCode::KeychainMismatch);
    assert_eq!(before, fingerprint(t.path()));

    // The entry is deleted: refused, nothing changes, no new entry appears.
    kc.0.delete(&acct).unwrap();
    let err = Store::open(t.path(), &Unlock::Keychain(kc.0.clone())).unwrap_err();
    assert_eq!(err.code(), ErrorCode::KeychainMismatch);
    assert!(err.message().contains("no new key"));
    assert_eq!(before, fingerprint(t.path()));
    assert!(
        matches!(kc.0.get(&acct), KeychainLookup::Missing),
        "a keychain entry was recreated"
    );

    // The passphrase still opens it, and re-linking restores keychain unlock
    // with the same data, under a new entry of its own.
    {
        let s = Store::open(t.path(), &Unlock::Passphrase(pass("recovery passphrase"))).unwrap();
        s.link_keychain(&Unlock::Passphrase(pass("recovery passphrase")), &kc.0)
            .unwrap();
    }
    let s = Store::open(t.path(), &Unlock::Keychain(kc.0.clone())).unwrap();
    assert!(s.db().patient(id).unwrap().is_some());
    let relinked = account(t.path());
    assert_ne!(
        relinked, acct,
        "a re-linked store must not reuse an entry another copy may hold"
    );
    kc.0.delete(&relinked).unwrap();
}

#[test]
fn creating_a_store_never_overwrites_a_key_envelope_or_leftover_files() {
    let t = tempfile::tempdir().unwrap();
    drop(create(t.path(), "a good passphrase"));
    let envelope = std::fs::read(t.path().join("store-key.json")).unwrap();
    std::fs::rename(t.path().join("clinic.db"), t.path().join("elsewhere.db")).unwrap();
    let new = || {
        Store::create(
            t.path(),
            NewStore {
                tenant_id: Uuid::now_v7(),
                device_id: Uuid::now_v7(),
                passphrase: Some(pass("another passphrase")),
                keychain: None,
            },
            |_| Ok(()),
        )
    };
    assert_eq!(new().unwrap_err().code(), ErrorCode::StoreExists);
    assert_eq!(
        std::fs::read(t.path().join("store-key.json")).unwrap(),
        envelope,
        "key envelope overwritten"
    );
    std::fs::rename(
        t.path().join("store-key.json"),
        t.path().join("old-key.json"),
    )
    .unwrap();
    std::fs::write(t.path().join("clinic.db-wal"), b"leftover").unwrap();
    assert_eq!(new().unwrap_err().code(), ErrorCode::StoreCorrupt);
    std::fs::remove_file(t.path().join("clinic.db-wal")).unwrap();
    new().unwrap();
}

fn add_raw(s: &mut Store) -> Uuid {
    s.write(|db| {
        db.insert_tenant(
            &clinic_store::directory::Tenant {
                id: db.tenant_id,
                name: "T".into(),
                slug: "t".into(),
                plan: "standalone".into(),
            },
            now(),
        )?;
        Ok(db.add_number_block("patient", 1, 100)?)
    })
    .unwrap();
    add(s, "Key", "Chain", (1990, 1, 1), None)
}

#[test]
fn per_answer_sync_lookups_use_their_indexes() {
    let t = tempfile::tempdir().unwrap();
    let s = create(t.path(), "a good passphrase");
    let plans = s.db().sync_query_plans().unwrap();
    assert_eq!(plans.len(), 3);
    for (name, plan) in &plans {
        // A full scan here made recording one push answer O(queued records).
        assert!(
            !plan.contains("SCAN sync_shadows") && !plan.contains("SCAN outbox_touches"),
            "{name}: {plan}"
        );
    }
    let plan = |name: &str| &plans.iter().find(|(n, _)| *n == name).unwrap().1;
    assert!(
        plan("shadow by id").contains("sync_shadows_entity"),
        "{plans:?}"
    );
    assert!(
        plan("drop shadow").contains("sync_shadows_entity"),
        "{plans:?}"
    );
}

#[test]
fn hot_search_queries_use_their_indexes() {
    let t = tempfile::tempdir().unwrap();
    let s = create(t.path(), "a good passphrase");
    let plans = s.db().search_query_plans().unwrap();
    let plan = |name: &str| {
        plans
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, p)| p.clone())
            .unwrap()
    };
    assert!(
        plan("names by prefix").contains("USING INDEX patients_sort_name"),
        "{plans:?}"
    );
    assert!(
        !plan("names by prefix").contains("USE TEMP B-TREE"),
        "sorting must come from the index: {plans:?}"
    );
    assert!(
        plan("full-text").contains("VIRTUAL TABLE INDEX"),
        "{plans:?}"
    );
    assert!(
        plan("full-text").contains("INTEGER PRIMARY KEY"),
        "join by rowid: {plans:?}"
    );
    assert!(plan("typo keys").contains("USING PRIMARY KEY"), "{plans:?}");
}

#[test]
fn hot_inventory_queries_use_their_indexes() {
    let t = tempfile::tempdir().unwrap();
    let s = create(t.path(), "a good passphrase");
    let plans = s.db().inventory_query_plans().unwrap();
    let plan = |name: &str| {
        plans
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, p)| p.clone())
            .unwrap()
    };
    // A site's on-hand is a range of the covering index, each lot's expiry
    // one lookup by id; one item's on-hand (after every dispense) is a
    // point range, never a scan of the site's lots.
    assert!(
        plan("site stock").contains("COVERING INDEX stock_onhand_site (site_id=?)"),
        "{plans:?}"
    );
    assert!(
        plan("site stock").contains("stock_batches_1 (id=?)"),
        "{plans:?}"
    );
    assert!(
        plan("item total").contains("COVERING INDEX stock_onhand_site (site_id=? AND item_id=?)"),
        "{plans:?}"
    );
    // The items in table order (sorted by the caller), not a seek each
    // through the name index.
    assert!(!plan("stock items").contains("INDEX"), "{plans:?}");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 300, ..Default::default() })]
    /// Whatever is typed into the search box, search answers (possibly with
    /// nothing) and never fails or panics: FTS5 syntax, quotes, control
    /// characters, emoji and very long input included.
    #[test]
    fn search_accepts_any_input(q in proptest::string::string_regex("(.|[\"*():^+-]|NEAR|AND|OR|NOT|[0-9/]){0,60}").unwrap()) {
        thread_local! {
            static STORE: (tempfile::TempDir, std::cell::RefCell<Store>) = {
                let t = tempfile::tempdir().unwrap();
                let mut s = create(t.path(), "a good passphrase");
                add(&mut s, "Ada", "Lovelace", (1985, 12, 10), Some("020 7946 0958"));
                add(&mut s, "Jonathan", "Smith", (1970, 1, 2), None);
                (t, std::cell::RefCell::new(s))
            };
        }
        STORE.with(|(_, s)| {
            let r = s.borrow().db().search_patients(&q, 20);
            proptest::prop_assert!(r.is_ok(), "{q:?}: {r:?}");
            Ok(())
        })?;
    }
}

#[test]
fn a_batch_indexes_its_patients_at_the_end_as_written_one_by_one_and_space_adds_up() {
    let t = tempfile::tempdir().unwrap();
    let mut s = create(t.path(), "a good passphrase");
    let details = |first: &str, last: &str| PatientDetails {
        first_name: first.into(),
        last_name: last.into(),
        date_of_birth: NaiveDate::from_ymd_opt(1980, 1, 1),
        ..Default::default()
    };
    let (grace, alan, kept) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let before = add(&mut s, "Edsger", "Dijkstra", (1930, 5, 11), None);
    s.write(|db| {
        Ok(db.batch_index(|db| {
            for (id, first, last) in [
                (grace, "Grace", "Hopper"),
                (alan, "Alan", "Turing"),
                (kept, "Ada", "Byron"),
            ] {
                db.insert_patient(id, &details(first, last), &PatientLists::default(), now())?;
            }
            // Written twice in the batch: only the second version is found.
            let mut p = db.patient(kept)?.unwrap();
            p.details.last_name = "Lovelace".into();
            db.put_patient(&p)?;
            // A patient indexed before the batch and written in it.
            let mut e = db.patient(before)?.unwrap();
            e.details.last_name = "Dijkstraa".into();
            db.put_patient(&e)
        })?)
    })
    .unwrap();
    let ids = |q: &str| -> Vec<Uuid> {
        s.db()
            .search_patients(q, 10)
            .unwrap()
            .into_iter()
            .map(|p| p.id)
            .collect()
    };
    assert_eq!(ids("hop"), vec![grace]);
    assert_eq!(ids("turing"), vec![alan]);
    assert_eq!(ids("lovelace"), vec![kept]);
    assert!(ids("byron").is_empty(), "the first version is not indexed");
    assert_eq!(ids("dijkstraa"), vec![before]);
    assert_eq!(ids("dijkstra"), vec![before], "prefix of the new name");

    // dbstat accounts for every page of the file but the free ones.
    s.checkpoint().unwrap();
    let space = s.space_by_object().unwrap();
    let n = |p: &str| -> u64 { s.pragma(p).unwrap().parse().unwrap() };
    let (pages, free, page) = (n("page_count"), n("freelist_count"), n("page_size"));
    assert_eq!(
        space.iter().map(|(_, b)| b).sum::<u64>() + free * page,
        pages * page
    );
    for object in ["patients", "patient_fts", "search_typo_keys"] {
        assert!(
            space.iter().any(|(o, b)| o == object && *b > 0),
            "{object}: {space:?}"
        );
    }
}

/// Every detail field (the domain's one list, `DETAIL_FIELDS`) goes into
/// its column and comes back: a field added to the domain that the store's
/// typed conversions missed fails here.
#[test]
fn every_patient_detail_round_trips_through_its_column() {
    use clinic_core::patients::*;
    let t = tempfile::tempdir().unwrap();
    let mut s = create(t.path(), "a passphrase 1");
    let details = PatientDetails {
        first_name: "Nguyễn".into(),
        middle_name: Some("Thị".into()),
        last_name: "Minh".into(),
        preferred_name: Some("Minnie".into()),
        date_of_birth: NaiveDate::from_ymd_opt(1990, 2, 3),
        sex_at_birth: Some(SexAtBirth::Female),
        gender: Some("woman".into()),
        phone: Some("020 7946 0018".into()),
        alt_phone: Some("07700 900123".into()),
        email: Some("minh@example.org".into()),
        address_line1: Some("1 High Street".into()),
        address_line2: Some("Flat 2".into()),
        city: Some("Leeds".into()),
        state: Some("West Yorkshire".into()),
        postcode: Some("LS1 1AA".into()),
        country: Some("GB".into()),
        national_id_kind: Some(NationalIdKind::Nhs),
        national_id: Some("943 476 5919".into()),
        preferred_channel: Some(ContactChannel::Sms),
        preferred_language: Some("vi".into()),
        reminders_opt_in: Some(true),
        blood_group: Some("O+".into()),
        smoking_status: Some("never".into()),
        alcohol_use: Some("none".into()),
        family_history: Some("diabetes".into()),
        risk_level: Some(Level::Low),
        alert_level: Some(Level::High),
        flags: vec!["interpreter".into()],
    };
    let empty = serde_json::to_value(PatientDetails::default()).unwrap();
    let full = serde_json::to_value(&details).unwrap();
    for f in DETAIL_FIELDS {
        assert_ne!(empty[f], full[f], "set {f} in this test");
    }
    let id = Uuid::now_v7();
    let p = Patient::registered(
        id,
        s.tenant_id(),
        format_patient_number(7),
        details.clone(),
        Default::default(),
        now(),
    );
    s.write(|db| Ok(db.put_patient(&p)?)).unwrap();
    assert_eq!(s.db().patient(id).unwrap().unwrap().details, details);
}

/// Pages of the change feed for [`Db::apply_page`]: patients registered
/// one per change, chained from `prev`.
mod feed_pages {
    use super::now;
    use clinic_core::patients::{format_patient_number, PatientDetails, RegisterPatient};
    use clinic_core::sync::{
        apply, chain_hash, compact_chains, page_checksum, Change, Context, Mutation, PullResponse,
        Records, FEED_GENESIS, PROTOCOL_VERSION,
    };
    use uuid::Uuid;

    pub fn changes(tenant: Uuid, prev: &str, seqs: std::ops::RangeInclusive<i64>) -> Vec<Change> {
        let mut prev = prev.to_string();
        seqs.map(|seq| {
            let id = Uuid::from_u128(0xfeed_0000 + seq as u128);
            let mut recs = Records::default();
            let m = Mutation::new(RegisterPatient {
                patient: id,
                patient_number: format_patient_number(500 + seq as u64),
                details: PatientDetails {
                    first_name: format!("Feed{}", "x".repeat(seq as usize)),
                    last_name: "Page".into(),
                    date_of_birth: chrono::NaiveDate::from_ymd_opt(1990, 1, 1),
                    ..Default::default()
                },
                lists: Default::default(),
            });
            apply(
                &m,
                &Context {
                    tenant,
                    at: now(),
                    user: None,
                },
                &mut recs,
            )
            .unwrap();
            let r = recs.any(id).unwrap();
            let mut c = Change {
                seq,
                entity_type: r.kind().into(),
                entity_id: id,
                data: r.doc(),
                chain: String::new(),
                hash: None,
            };
            c.chain = chain_hash(&prev, &c);
            prev = c.chain.clone();
            c
        })
        .collect()
    }

    /// A page as the server sends it: checksum over the changes, chain
    /// values on the first and last only.
    pub fn page(epoch: Uuid, head: i64, mut changes: Vec<Change>) -> PullResponse {
        let checksum = page_checksum(&changes);
        compact_chains(&mut changes);
        PullResponse {
            protocol: PROTOCOL_VERSION,
            epoch,
            head,
            changes,
            checksum,
            last_applied_seq: 0,
            cursor_ok: true,
        }
    }

    pub fn genesis() -> &'static str {
        FEED_GENESIS
    }
}

#[test]
fn apply_page_takes_a_page_that_continues_the_history_and_refuses_a_damaged_or_foreign_one() {
    use clinic_store::sync::PageApplied;
    let (tenant, device, epoch) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let mut store = Store::in_memory_for_tests(tenant, device, true, (1, 100)).unwrap();
    let apply = |store: &mut Store, page: &clinic_core::sync::PullResponse| {
        store.write(|db| Ok(db.apply_page(page)?))
    };
    let ids = |changes: &[clinic_core::sync::Change]| -> Vec<Uuid> {
        changes.iter().map(|c| c.entity_id).collect()
    };
    let held = |store: &Store, ids: &[Uuid]| -> usize {
        ids.iter()
            .filter(|id| store.db().record(**id).unwrap().is_some())
            .count()
    };

    // A good first page: applied, cursor and its chain value saved with it.
    let first = feed_pages::changes(tenant, feed_pages::genesis(), 1..=3);
    let first_chain = first[2].chain.clone();
    let r = apply(&mut store, &feed_pages::page(epoch, 5, first.clone())).unwrap();
    assert!(matches!(r, PageApplied::Applied { cursor: 3, .. }), "{r:?}");
    let c = store.db().sync_cursor().unwrap();
    assert_eq!(
        (c.cursor, c.cursor_hash.as_deref()),
        (3, Some(first_chain.as_str()))
    );
    assert_eq!(held(&store, &ids(&first)), 3);
    let sums = store.db().bucket_sums().unwrap();

    // The next page, damaged on the way (a document changed after the
    // server computed the checksum): refused whole, nothing written, the
    // cursor where it was.
    let next = feed_pages::changes(tenant, &first_chain, 4..=5);
    let mut damaged = feed_pages::page(epoch, 5, next.clone());
    damaged.changes[1].data["first_name"] = serde_json::json!("Garbled");
    let e = apply(&mut store, &damaged).unwrap_err();
    assert_eq!(e.code, ErrorCode::Unreachable, "{e:?}");
    // The same with the checksum itself wrong.
    let mut bad_sum = feed_pages::page(epoch, 5, next.clone());
    bad_sum.checksum = "0".repeat(64);
    assert_eq!(
        apply(&mut store, &bad_sum).unwrap_err().code,
        ErrorCode::Unreachable
    );
    let c = store.db().sync_cursor().unwrap();
    assert_eq!(
        (c.cursor, c.cursor_hash.as_deref()),
        (3, Some(first_chain.as_str()))
    );
    assert_eq!(
        held(&store, &ids(&next)),
        0,
        "nothing of a damaged page written"
    );
    assert_eq!(store.db().bucket_sums().unwrap(), sums);

    // A page from a foreign history: intact (its checksum matches), but its
    // chain does not continue the one at the cursor. None of it is
    // written; the workstation takes it as a server whose history changed
    // and starts again from zero (PageApplied::EpochChanged).
    let foreign = feed_pages::changes(tenant, &"f".repeat(64), 4..=5);
    let r = apply(&mut store, &feed_pages::page(epoch, 5, foreign.clone())).unwrap();
    assert!(matches!(r, PageApplied::EpochChanged), "{r:?}");
    assert_eq!(
        held(&store, &ids(&foreign)),
        0,
        "nothing of a foreign page written"
    );
    assert_eq!(
        store.db().bucket_sums().unwrap(),
        sums,
        "nothing else changed"
    );
    let c = store.db().sync_cursor().unwrap();
    assert_eq!(
        (c.cursor, c.cursor_hash),
        (0, None),
        "read again from the start"
    );

    // From the start again, the server's real history applies page by page.
    let r = apply(&mut store, &feed_pages::page(epoch, 5, first.clone())).unwrap();
    assert!(matches!(r, PageApplied::Applied { cursor: 3, .. }), "{r:?}");
    let r = apply(&mut store, &feed_pages::page(epoch, 5, next.clone())).unwrap();
    assert!(matches!(r, PageApplied::Applied { cursor: 5, .. }), "{r:?}");
    let c = store.db().sync_cursor().unwrap();
    assert_eq!(
        (c.cursor, c.cursor_hash.as_deref()),
        (5, Some(next[1].chain.as_str()))
    );
    assert_eq!(held(&store, &ids(&next)), 2);

    // A foreign page whose chain values are all left out but the last
    // (the one the receiver checks them all against) is refused too.
    let more = feed_pages::changes(tenant, &"e".repeat(64), 6..=8);
    let mut page = feed_pages::page(epoch, 8, more.clone());
    page.changes[0].chain.clear();
    let r = apply(&mut store, &page).unwrap();
    assert!(matches!(r, PageApplied::EpochChanged), "{r:?}");
    assert_eq!(held(&store, &ids(&more)), 0);
}

#[test]
fn a_first_page_that_does_not_chain_from_the_start_is_refused() {
    let (tenant, device, epoch) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let mut store = Store::in_memory_for_tests(tenant, device, true, (1, 100)).unwrap();
    let foreign = feed_pages::changes(tenant, &"f".repeat(64), 1..=3);
    let e = store
        .write(|db| Ok(db.apply_page(&feed_pages::page(epoch, 3, foreign.clone()))?))
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Unreachable, "{e:?}");
    for c in &foreign {
        assert!(store.db().record(c.entity_id).unwrap().is_none());
    }
    let c = store.db().sync_cursor().unwrap();
    assert_eq!((c.cursor, c.epoch), (0, None), "nothing recorded either");
}
