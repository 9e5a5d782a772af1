//! The real `clinic` binary, driven as an admin script would drive it.

use base64::Engine;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Clinic {
    pub root: tempfile::TempDir,
}

impl Clinic {
    pub fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("tmp")).unwrap();
        Self { root }
    }
    pub fn data(&self) -> PathBuf {
        self.root.path().join("data")
    }
    pub fn tmp(&self) -> PathBuf {
        self.root.path().join("tmp")
    }
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_clinic"));
        c.arg("--data-dir").arg(self.data()).args(args);
        c.env("CLINIC_PASSPHRASE", "correct horse battery staple")
            .env("CLINIC_PASSWORD", "admin-password-1")
            .env("CLINIC_KEYCHAIN", "off")
            .env("TMPDIR", self.tmp())
            .env("SQLITE_TMPDIR", self.tmp())
            .env_remove("CLINIC_USER")
            .env_remove("CLINIC_DATA_DIR");
        c
    }
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }
    /// Runs and expects success; returns stdout parsed as JSON.
    pub fn json(&self, args: &[&str]) -> Value {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "clinic {args:?} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&o.stdout)))
    }
    pub fn init(&self) {
        let o = self.run(&[
            "init",
            "--tenant-name",
            "Canary Clinic",
            "--admin-email",
            "admin@test.clinic",
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    /// Adds a receptionist (password `desk-password-1`) through the CLI, as the admin.
    pub fn add_receptionist(&self, email: &str) -> Value {
        self.add_user(email, "Front Desk", "receptionist", "desk-password-1")
    }
    /// Adds a user through the CLI, as the admin.
    pub fn add_user(&self, email: &str, name: &str, role: &str, password: &str) -> Value {
        let mut add = self.cmd(&[
            "--user",
            "admin@test.clinic",
            "user",
            "add",
            "--email",
            email,
            "--name",
            name,
            "--role",
            role,
            "--json",
        ]);
        add.env("CLINIC_NEW_PASSWORD", password);
        let o = add.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&o.stdout).unwrap()
    }
    pub fn admin(&self, args: &[&str]) -> Value {
        let mut a = vec!["--user", "admin@test.clinic"];
        a.extend_from_slice(args);
        a.push("--json");
        self.json(&a)
    }
    /// Runs `args` as another user (their password in the environment).
    pub fn as_user(&self, email: &str, password: &str, args: &[&str]) -> Output {
        let mut cmd = self.cmd(args);
        cmd.env("CLINIC_PASSWORD", password)
            .env("CLINIC_USER", email);
        cmd.output().unwrap()
    }
}

/// The JSON a successful command printed.
pub fn ok(o: Output) -> Value {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// The refusal's exit code and error JSON.
pub fn refused(o: &Output) -> (i32, Value) {
    assert!(
        !o.status.success(),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let e = serde_json::from_slice::<Value>(&o.stderr).unwrap_or_else(|_| {
        panic!(
            "stderr is not the error JSON: {}",
            String::from_utf8_lossy(&o.stderr)
        )
    })["error"]
        .clone();
    (o.status.code().unwrap(), e)
}

/// A string field of a JSON answer.
pub fn s(v: &Value, k: &str) -> String {
    v[k].as_str()
        .unwrap_or_else(|| panic!("{k} is not a string in {v}"))
        .to_string()
}

fn all_files(dir: &Path, out: &mut Vec<PathBuf>) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                all_files(&p, out);
            } else {
                out.push(p);
            }
        }
    }
}

/// Every encoding in which a canary could leak.
fn encodings(canary: &str) -> Vec<(String, Vec<u8>)> {
    let b = canary.as_bytes();
    let mut v = vec![
        ("utf8".to_string(), b.to_vec()),
        ("utf8-lower".to_string(), canary.to_lowercase().into_bytes()),
        (
            "utf16le".to_string(),
            canary
                .encode_utf16()
                .flat_map(|u| u.to_le_bytes())
                .collect(),
        ),
        (
            "utf16be".to_string(),
            canary
                .encode_utf16()
                .flat_map(|u| u.to_be_bytes())
                .collect(),
        ),
        (
            "hex".to_string(),
            b.iter()
                .map(|x| format!("{x:02x}"))
                .collect::<String>()
                .into_bytes(),
        ),
        (
            "HEX".to_string(),
            b.iter()
                .map(|x| format!("{x:02X}"))
                .collect::<String>()
                .into_bytes(),
        ),
    ];
    // base64 at each of the three alignments; drop the edge characters that depend on neighbours.
    for shift in 0..3 {
        let mut padded = vec![b'A'; shift];
        padded.extend_from_slice(b);
        let enc = base64::engine::general_purpose::STANDARD.encode(&padded);
        let skip = (shift * 4).div_ceil(3) + 1;
        let core = &enc[skip..enc.len().saturating_sub(4)];
        if core.len() >= 8 {
            v.push((format!("base64/{shift}"), core.as_bytes().to_vec()));
        }
    }
    v
}

fn scan_for(canaries: &[&str], dirs: &[PathBuf]) -> Vec<String> {
    let mut files = Vec::new();
    for d in dirs {
        all_files(d, &mut files);
    }
    assert!(!files.is_empty());
    let mut found = Vec::new();
    for f in files {
        let bytes = std::fs::read(&f).unwrap_or_default();
        for c in canaries {
            for (name, needle) in encodings(c) {
                if bytes.windows(needle.len()).any(|w| w == needle.as_slice()) {
                    found.push(format!("{c} as {name} in {}", f.display()));
                }
            }
        }
    }
    found
}

#[test]
fn canary_values_never_reach_disk_in_plaintext() {
    let c = Clinic::new();
    c.init();
    let first = "Zyqwanderfirst";
    let last = "Quxlastcanary";
    let street = "Canarystreetvaluex";
    let p = c.admin(&[
        "patient",
        "add",
        "--first-name",
        first,
        "--last-name",
        last,
        "--dob",
        "1971-04-05",
        "--phone",
        "+44 7911 123456",
        "--email",
        "zyq.canary@example.org",
        "--address-line1",
        street,
        "--national-id",
        "nhs:943 476 5919",
        "--allergy",
        "Canaryallergenium:severe:hives",
    ]);
    let id = p["id"].as_str().unwrap().to_string();
    c.admin(&[
        "patient",
        "edit",
        &id,
        "--city",
        "Canarycityvaluez",
        "--phone",
        "+44 7911 654321",
    ]);
    let hits = c.admin(&["patient", "search", "zyqwan"]);
    assert_eq!(hits[0]["id"], p["id"]);
    c.admin(&["patient", "search", "Quxlastcanary Zyqwanderfirst"]);
    c.admin(&["patient", "show", &id]);
    c.admin(&["patient", "archive", &id, "--reason", "test"]);
    assert!(c.run(&["audit", "verify"]).status.success());
    let found = scan_for(
        &[
            first,
            last,
            street,
            "Canarycityvaluez",
            "Canaryallergenium",
            "zyq.canary@example.org",
            "7911123456",
            "7911654321",
            "9434765919",
        ],
        &[c.data(), c.tmp()],
    );
    assert!(
        found.is_empty(),
        "plaintext patient data on disk: {found:#?}"
    );
    // The scan itself works: a plaintext file with a canary is found.
    std::fs::write(
        c.tmp().join("probe.txt"),
        first
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect::<Vec<u8>>(),
    )
    .unwrap();
    assert_eq!(scan_for(&[first], &[c.tmp()]).len(), 1);
}

#[test]
fn scripting_contract_works_as_documented() {
    let c = Clinic::new();
    c.init();
    let u = c.add_receptionist("desk@test.clinic");
    assert_eq!(u["email"], "desk@test.clinic");
    assert_eq!(u["roles"][0], "receptionist");

    let desk = |args: &[&str]| {
        let mut cmd = c.cmd(args);
        cmd.env("CLINIC_PASSWORD", "desk-password-1")
            .env("CLINIC_USER", "desk@test.clinic");
        cmd.output().unwrap()
    };
    let o = desk(&[
        "patient",
        "add",
        "--first-name",
        "Mary",
        "--last-name",
        "Seacole",
        "--dob",
        "1955-11-23",
        "--phone",
        "07700 900461",
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let p: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(p["id"].as_str().unwrap().len() == 36);
    let number = p["patient_number"].as_str().unwrap();
    assert!(
        clinic_core::patients::parse_patient_number(number).is_some(),
        "{number}"
    );
    let o = desk(&["patient", "search", "seac", "--json"]);
    let hits: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(hits.as_array().unwrap().len(), 1);
    assert_eq!(hits[0]["id"], p["id"]);
    let o = desk(&["patient", "search", "nobody-like-this", "--json"]);
    assert_eq!(
        serde_json::from_slice::<Value>(&o.stdout).unwrap(),
        serde_json::json!([])
    );
    // A receptionist may not add users.
    let o = desk(&["user", "list", "--json"]);
    assert_eq!(o.status.code(), Some(5));
    let o = c.run(&["audit", "verify"]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("intact"));
    // `login` with a wrong password fails clearly.
    let mut bad = c.cmd(&["--user", "admin@test.clinic", "login"]);
    bad.env("CLINIC_PASSWORD", "wrong-password");
    let o = bad.output().unwrap();
    assert_eq!(o.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&o.stderr).contains("email or password is wrong"));
}

#[test]
fn bad_input_gets_field_errors_and_writes_nothing() {
    let c = Clinic::new();
    c.init();
    let before = c.admin(&["info"]);
    for (args, field) in [
        (
            vec![
                "--first-name",
                "",
                "--last-name",
                "X",
                "--dob",
                "1990-01-01",
            ],
            "first_name",
        ),
        (
            vec![
                "--first-name",
                "A",
                "--last-name",
                "B",
                "--dob",
                "2999-01-01",
            ],
            "date_of_birth",
        ),
        (
            vec![
                "--first-name",
                "A",
                "--last-name",
                "B",
                "--dob",
                "1990-01-01",
                "--phone",
                "call me",
            ],
            "phone",
        ),
        (
            vec![
                "--first-name",
                "A",
                "--last-name",
                "B",
                "--dob",
                "1990-01-01",
                "--email",
                "nope",
            ],
            "email",
        ),
        (
            vec![
                "--first-name",
                "A",
                "--last-name",
                "B",
                "--dob",
                "1990-01-01",
                "--national-id",
                "nhs:9434765918",
            ],
            "national_id",
        ),
        (
            vec![
                "--first-name",
                "A",
                "--last-name",
                "B",
                "--dob",
                "1990-01-01",
                "--allergy",
                ":severe",
            ],
            "allergies.substance",
        ),
        (
            vec![
                "--first-name",
                "A",
                "--last-name",
                "B",
                "--dob",
                "1990-01-01",
                "--country",
                "Britain",
            ],
            "country",
        ),
    ] {
        let mut a = vec!["--user", "admin@test.clinic", "patient", "add"];
        a.extend(args);
        let o = c.run(&a);
        assert_eq!(o.status.code(), Some(3), "{a:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(field), "{field} not named in: {err}");
    }
    // Unparseable date is refused by the argument parser.
    let o = c.run(&[
        "--user",
        "admin@test.clinic",
        "patient",
        "add",
        "--first-name",
        "A",
        "--last-name",
        "B",
        "--dob",
        "31/12/1990",
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("YYYY-MM-DD"));
    let after = c.admin(&["info"]);
    assert_eq!(before["patients"], after["patients"]);
    assert_eq!(
        before["audit_events"].as_i64().unwrap() + 7,
        after["audit_events"].as_i64().unwrap(),
        "only the 7 sign-ins were audited"
    );
    // Errors as JSON carry the stable code.
    let o = c.run(&[
        "--user",
        "admin@test.clinic",
        "--json",
        "patient",
        "add",
        "--first-name",
        "A",
        "--last-name",
        "B",
    ]);
    let e: Value = serde_json::from_slice(&o.stderr).unwrap();
    assert_eq!(e["error"]["code"], "VALIDATION");
    assert_eq!(e["error"]["fields"][0]["field"], "date_of_birth");
}

#[test]
fn audit_verify_detects_edit_removal_reorder_and_truncation() {
    use clinic_store::keys::{Passphrase, Unlock};
    let c = Clinic::new();
    c.init();
    let p = c.admin(&[
        "patient",
        "add",
        "--first-name",
        "Audit",
        "--last-name",
        "Trail",
        "--dob",
        "1980-01-01",
    ]);
    let id = p["id"].as_str().unwrap().to_string();
    c.admin(&["patient", "show", &id]);
    c.admin(&["patient", "edit", &id, "--city", "Leeds"]);
    assert!(c.run(&["audit", "verify"]).status.success());
    let pristine = c.root.path().join("pristine");
    std::fs::create_dir_all(&pristine).unwrap();
    for f in ["clinic.db", "store-key.json"] {
        std::fs::copy(c.data().join(f), pristine.join(f)).unwrap();
    }
    let unlock =
        Unlock::Passphrase(Passphrase::new("correct horse battery staple".into()).unwrap());
    let tamper = |sql: &str| {
        for f in ["clinic.db", "store-key.json"] {
            std::fs::copy(pristine.join(f), c.data().join(f)).unwrap();
        }
        let s = clinic_store::Store::open(&c.data(), &unlock).unwrap();
        s.execute_raw_for_tests(
            "DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete;",
        )
        .unwrap();
        s.execute_raw_for_tests(sql).unwrap();
        drop(s);
        c.run(&["audit", "verify"])
    };
    let cases = [
        ("UPDATE audit_events SET action = 'patient.view' WHERE seq = 4", "4"),
        ("UPDATE audit_events SET at = '2020-01-01T00:00:00.000000Z' WHERE seq = 3", "3"),
        ("DELETE FROM audit_events WHERE seq = 3", "4"),
        ("CREATE TEMP TABLE t AS SELECT * FROM audit_events WHERE seq = 3; DELETE FROM audit_events WHERE seq = 3; INSERT INTO audit_events SELECT * FROM t;", "4"),
        ("DELETE FROM audit_events WHERE seq = (SELECT max(seq) FROM audit_events)", ""),
    ];
    for (sql, seq) in cases {
        let o = tamper(sql);
        assert_eq!(o.status.code(), Some(8), "tampering not detected: {sql}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(&format!("event {seq}")), "{sql}: {err}");
    }
}

#[test]
fn demo_data_is_deterministic_per_seed() {
    let a = Clinic::new();
    let b = Clinic::new();
    for c in [&a, &b] {
        let o = c.run(&["demo-data", "--size", "S", "--seed", "42", "--json"]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let r: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(r["patients"], 10_000);
    }
    let search = |c: &Clinic| {
        let mut cmd = c.cmd(&[
            "--user",
            "reception1@demo.clinic",
            "patient",
            "search",
            "smith",
            "--limit",
            "50",
            "--json",
        ]);
        cmd.env("CLINIC_PASSWORD", "admin-password-1");
        let o = cmd.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["patient_number"].clone(),
                    p["first_name"].clone(),
                    p["date_of_birth"].clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    let (ra, rb) = (search(&a), search(&b));
    assert!(ra.len() >= 20, "{}", ra.len());
    assert_eq!(ra, rb);
    let info = a.json(&["info", "--json"]);
    assert_eq!(info["patients"], 10_000);
    assert_eq!(info["users"], 28);
    assert!(a.run(&["audit", "verify"]).status.success());
    // Running it again is refused rather than doubling the clinic.
    assert_eq!(
        a.run(&["demo-data", "--size", "S", "--seed", "42"])
            .status
            .code(),
        Some(7)
    );
}

#[test]
fn backup_is_encrypted_consistent_and_restorable() {
    let c = Clinic::new();
    c.init();
    let p = c.admin(&[
        "patient",
        "add",
        "--first-name",
        "Backed",
        "--last-name",
        "Upperson",
        "--dob",
        "1960-02-03",
    ]);
    let out = c.root.path().join("backup");
    c.admin(&["backup", "--out", out.to_str().unwrap()]);
    let header = std::fs::read(out.join("clinic.db")).unwrap();
    assert!(!header.starts_with(b"SQLite format 3"));
    assert!(scan_for(&["Upperson"], std::slice::from_ref(&out)).is_empty());
    // A second backup into the same folder is refused, not overwritten.
    let o = c.run(&[
        "--user",
        "admin@test.clinic",
        "backup",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(6));
    // Restore: the backup folder is a complete store.
    let mut show = c.cmd(&[
        "--user",
        "admin@test.clinic",
        "patient",
        "show",
        p["id"].as_str().unwrap(),
        "--json",
    ]);
    show.arg("--data-dir").arg(&out);
    let o = show.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let restored: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(restored["last_name"], "Upperson");
    // A receptionist may not take a backup of everything.
    c.add_receptionist("d@test.clinic");
    let mut b = c.cmd(&[
        "--user",
        "d@test.clinic",
        "backup",
        "--out",
        c.root.path().join("b2").to_str().unwrap(),
    ]);
    b.env("CLINIC_PASSWORD", "desk-password-1");
    assert_eq!(b.output().unwrap().status.code(), Some(5));
}

#[test]
fn demo_data_never_goes_into_a_real_clinic() {
    let c = Clinic::new();
    c.init();
    for user in [None, Some("admin@test.clinic")] {
        let mut args = vec![];
        if let Some(u) = user {
            args.extend(["--user", u]);
        }
        args.extend(["demo-data", "--size", "S"]);
        let o = c.run(&args);
        assert_eq!(
            o.status.code(),
            Some(7),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(String::from_utf8_lossy(&o.stderr).contains("demo store"));
    }
    let info = c.admin(&["info"]);
    assert_eq!(info["patients"], 0);
    assert_eq!(
        info["users"], 1,
        "no known-password demo accounts were added"
    );
}

#[test]
fn key_changes_need_a_signed_in_administrator_and_the_current_passphrase() {
    let c = Clinic::new();
    c.init();
    let change = |user: Option<&str>, current: &str| {
        let mut args = vec![];
        if let Some(u) = user {
            args.extend(["--user", u]);
        }
        args.extend(["key", "change-passphrase"]);
        let mut cmd = c.cmd(&args);
        cmd.env("CLINIC_PASSPHRASE", current)
            .env("CLINIC_NEW_PASSPHRASE", "a brand new passphrase");
        cmd.output().unwrap()
    };
    assert_eq!(
        change(None, "correct horse battery staple").status.code(),
        Some(3),
        "no user named"
    );
    assert_eq!(
        change(Some("admin@test.clinic"), "not the passphrase")
            .status
            .code(),
        Some(6)
    );
    let o = change(Some("admin@test.clinic"), "correct horse battery staple");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // The old passphrase no longer opens the store; a short wrong one is just wrong.
    for old in ["correct horse battery staple", "short"] {
        let o = c.run(&["info"]);
        let _ = o;
        let mut cmd = c.cmd(&["info"]);
        cmd.env("CLINIC_PASSPHRASE", old);
        let o = cmd.output().unwrap();
        assert_eq!(o.status.code(), Some(6), "{old}");
        assert!(String::from_utf8_lossy(&o.stderr).contains("passphrase is wrong"));
    }
    let mut cmd = c.cmd(&["info", "--json"]);
    cmd.env("CLINIC_PASSPHRASE", "a brand new passphrase");
    assert!(cmd.output().unwrap().status.success());
}

#[test]
fn flags_are_added_and_removed_one_by_one_and_archive_can_be_undone() {
    let c = Clinic::new();
    c.init();
    let p = c.admin(&[
        "patient",
        "add",
        "--first-name",
        "Flag",
        "--last-name",
        "Bearer",
        "--dob",
        "1950-05-05",
        "--flag",
        "interpreter: Polish",
    ]);
    let id = p["id"].as_str().unwrap().to_string();
    let p = c.admin(&["patient", "edit", &id, "--flag", "wheelchair"]);
    assert_eq!(
        p["flags"],
        serde_json::json!(["interpreter: Polish", "wheelchair"])
    );
    let p = c.admin(&[
        "patient",
        "edit",
        &id,
        "--remove-flag",
        "interpreter: polish",
    ]);
    assert_eq!(p["flags"], serde_json::json!(["wheelchair"]));
    let p = c.admin(&["patient", "edit", &id, "--clear-flags"]);
    assert_eq!(p["flags"], serde_json::json!([]));
    let o = c.run(&["--user", "admin@test.clinic", "patient", "archive", &id]);
    assert!(!o.status.success(), "a reason is required");
    c.admin(&["patient", "archive", &id, "--reason", "registered in error"]);
    assert_eq!(
        c.admin(&["patient", "search", "bearer"]),
        serde_json::json!([])
    );
    let o = c.run(&[
        "--user",
        "admin@test.clinic",
        "patient",
        "edit",
        &id,
        "--city",
        "X",
    ]);
    assert_eq!(o.status.code(), Some(7));
    assert!(String::from_utf8_lossy(&o.stderr).contains("patient restore"));
    c.admin(&["patient", "restore", &id]);
    assert_eq!(
        c.admin(&["patient", "search", "bearer"])[0]["id"].as_str(),
        Some(id.as_str())
    );
    // The archive reason is free text: it stays out of the audit trail.
    let log = c.admin(&["audit", "log", "--patient", &id]);
    assert!(!log.to_string().contains("registered in error"), "{log}");
}

fn open_store(dir: &Path) -> clinic_store::Store {
    use clinic_store::keys::{Passphrase, Unlock};
    let unlock =
        Unlock::Passphrase(Passphrase::new("correct horse battery staple".into()).unwrap());
    clinic_store::Store::open(dir, &unlock).unwrap()
}

/// Every patient has exactly one creation event: no write without its audit, no audit without its write.
fn assert_writes_and_audit_agree(s: &clinic_store::Store) {
    s.integrity_check().unwrap();
    let db = s.db();
    let created = db
        .audit_events(None, 1_000_000)
        .unwrap()
        .iter()
        .filter(|e| e.action == "patient.create")
        .count();
    let demo = db.meta("demo_seed").unwrap().map(|_| 10_000).unwrap_or(0);
    assert_eq!(db.patient_count().unwrap() as usize, created + demo);
    assert_eq!(db.verify_audit_chain().unwrap().map(|_| ()), Ok(()));
}

#[test]
fn sigkill_during_a_bulk_import_is_all_or_nothing() {
    let mut killed_mid_import = 0;
    for delay_ms in [150u64, 500, 900, 1400, 2000] {
        let c = Clinic::new();
        let mut child = c
            .cmd(&["demo-data", "--size", "S", "--seed", "3"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill(); // SIGKILL
        let finished = child.wait().unwrap().success();
        if !clinic_store::Store::exists(&c.data()) {
            assert!(!finished);
            // Killed while the store was being created: nothing half-made is
            // taken for a store, and starting again works.
            let o = c.run(&["demo-data", "--size", "S", "--seed", "3"]);
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        }
        let s = open_store(&c.data());
        let n = s.db().patient_count().unwrap();
        assert!(
            n == 0 || n == 10_000,
            "half an import survived a crash: {n} patients (killed after {delay_ms} ms)"
        );
        if finished {
            assert_eq!(n, 10_000);
        }
        eprintln!("bulk import killed after {delay_ms} ms: finished={finished}, patients={n}");
        if !finished && n == 0 {
            killed_mid_import += 1;
        }
        assert_writes_and_audit_agree(&s);
    }
    assert!(
        killed_mid_import >= 1,
        "no kill landed inside the import transaction; the test proved nothing"
    );
}

#[test]
fn sigkill_during_registrations_loses_no_confirmed_patient() {
    let c = Clinic::new();
    c.init();
    let mut confirmed = Vec::new();
    for i in 0..24u64 {
        let last = format!("Killtest{}", (b'a' + i as u8) as char);
        let mut child = c
            .cmd(&[
                "--user",
                "admin@test.clinic",
                "patient",
                "add",
                "--first-name",
                "Sig",
                "--last-name",
                &last,
                "--dob",
                "1990-01-01",
                "--json",
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Spread the kills over key derivation, sign-in, the write and the output.
        std::thread::sleep(std::time::Duration::from_millis(30 * (i % 12)));
        if i % 3 != 2 {
            let _ = child.kill();
        }
        let out = child.wait_with_output().unwrap();
        if out.status.success() {
            let v: Value = serde_json::from_slice(&out.stdout).unwrap();
            confirmed.push(v["id"].as_str().unwrap().to_string());
        }
    }
    assert!(
        confirmed.len() >= 8,
        "every third registration runs to completion"
    );
    let s = open_store(&c.data());
    assert_writes_and_audit_agree(&s);
    for id in &confirmed {
        let p = s.db().patient(id.parse().unwrap()).unwrap();
        assert!(p.is_some(), "confirmed patient {id} lost");
    }
    drop(s);
    assert!(c.run(&["audit", "verify"]).status.success());
}

#[test]
fn enroll_follows_the_scripting_contract() {
    let server = sync_server::testing::TestServer::start("contract");
    let c = Clinic::new();
    let mut cmd = c.cmd(&[
        "enroll",
        "--server",
        &server.url,
        "--tenant",
        "contract",
        "--user",
        "admin@contract.example",
        "--device-name",
        "Desk 1",
        "--json",
    ]);
    cmd.env("CLINIC_PASSWORD", "admin-password-1");
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let e: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(e["tenant_name"], "Clinic contract");
    assert!(
        e.get("device_credential").is_none(),
        "the credential is never printed"
    );
    assert_eq!(
        e["number_blocks"],
        serde_json::json!([
            {"series": "claim", "start": 1, "end": 101},
            {"series": "credit_note", "start": 1, "end": 1_001},
            {"series": "invoice", "start": 1, "end": 1_001},
            {"series": "patient", "start": 1, "end": 10_001},
            {"series": "purchase_order", "start": 1, "end": 101},
            {"series": "receipt", "start": 1, "end": 1_001}
        ])
    );
    // The enrolled workstation works offline with the enrolling administrator.
    let mut add = c.cmd(&[
        "--user",
        "admin@contract.example",
        "patient",
        "add",
        "--first-name",
        "Ada",
        "--last-name",
        "Lovelace",
        "--dob",
        "1985-12-10",
        "--json",
    ]);
    add.env("CLINIC_PASSWORD", "admin-password-1");
    let o = add.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let status = c.json(&["enrollment", "--json"]);
    assert_eq!(status["device_id"], e["device_id"]);
    // Wrong password on the server: a clear refusal, exit 5, nothing created.
    let other = Clinic::new();
    let mut bad = other.cmd(&[
        "enroll",
        "--server",
        &server.url,
        "--tenant",
        "contract",
        "--user",
        "admin@contract.example",
    ]);
    bad.env("CLINIC_PASSWORD", "wrong-password");
    let o = bad.output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!clinic_store::Store::exists(&other.data()));
    // No server there: exit 9 (unreachable).
    let mut gone = other.cmd(&[
        "enroll",
        "--server",
        "http://127.0.0.1:9",
        "--tenant",
        "contract",
        "--user",
        "admin@contract.example",
    ]);
    gone.env("CLINIC_PASSWORD", "admin-password-1");
    assert_eq!(gone.output().unwrap().status.code(), Some(9));
}

/// `clinic enroll` (CLINIC_PASSWORD set by `cmd`) with the given server
/// arguments, in `c`'s data folder, as the contract tenant's administrator.
fn enroll_with(c: &Clinic, server: &[&str], ca: Option<&Path>) -> Output {
    let mut args = vec!["enroll"];
    args.extend_from_slice(server);
    args.extend_from_slice(&["--tenant", "tls", "--user", "admin@tls.example", "--json"]);
    let mut cmd = c.cmd(&args);
    // The computer's certificate authorities: only the test's own (or none).
    let none = c.tmp().join("no-authorities.pem");
    std::fs::write(&none, "").unwrap();
    cmd.env("SSL_CERT_FILE", ca.unwrap_or(&none))
        .env_remove("SSL_CERT_DIR");
    cmd.output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn enrolment_over_https_pins_the_servers_key_or_trusts_a_private_ca_and_never_sends_clear_text_to_the_network(
) {
    let dir = tempfile::tempdir().unwrap();
    let own = sync_server::tls::ServerIdentity::self_signed(dir.path()).unwrap();
    let server = sync_server::testing::TestServer::start_with_tls("tls", &own);
    let https = server.tls_url.clone().unwrap();
    let pin = own.pin.to_string();

    // Plain http:// to anything but this computer: refused before any contact.
    let c = Clinic::new();
    let o = enroll_with(&c, &["--server", "http://192.168.1.20:8480"], None);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("only allowed to this computer"),
        "{}",
        stderr(&o)
    );
    assert!(!clinic_store::Store::exists(&c.data()));

    // The server's own certificate without its fingerprint: not trusted.
    let o = enroll_with(&c, &["--server", &https], None);
    assert_eq!(o.status.code(), Some(9), "{}", stderr(&o));
    assert!(stderr(&o).contains("--fingerprint"), "{}", stderr(&o));
    // A wrong fingerprint: refused at the handshake, before the password goes.
    let wrong = clinic_core::api::KeyPin::of_public_key(b"another server").to_string();
    let o = enroll_with(&c, &["--server", &https, "--fingerprint", &wrong], None);
    assert_eq!(o.status.code(), Some(9), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("not the one this workstation trusts") && stderr(&o).contains(&pin),
        "{}",
        stderr(&o)
    );
    assert!(!clinic_store::Store::exists(&c.data()));
    let signed_in = |server: &sync_server::testing::TestServer| {
        server.query("SELECT count(*) FROM refresh_tokens")[0][0]
            .clone()
            .unwrap()
    };
    assert_eq!(signed_in(&server), "0", "no sign-in reached the server");
    let bad = enroll_with(
        &c,
        &["--server", &https, "--fingerprint", "SHA256:12"],
        None,
    );
    assert_eq!(bad.status.code(), Some(3), "{}", stderr(&bad));

    // The right fingerprint: enrolled, and sync goes over HTTPS.
    let o = enroll_with(&c, &["--server", &https, "--fingerprint", &pin], None);
    assert!(o.status.success(), "{}", stderr(&o));
    c.json(&[
        "--user",
        "admin@tls.example",
        "patient",
        "add",
        "--first-name",
        "Ada",
        "--last-name",
        "Lovelace",
        "--dob",
        "1985-12-10",
        "--json",
    ]);
    let synced = c.json(&["--user", "admin@tls.example", "sync", "--json"]);
    assert_eq!(synced["pending"], 0, "{synced}");
    assert_eq!(
        server.query("SELECT count(*) FROM patients")[0][0].as_deref(),
        Some("1")
    );

    // A certificate from the clinic's own CA, trusted by this computer.
    let ca_dir = tempfile::tempdir().unwrap();
    let (ca, issued) = sync_server::testing::private_ca(ca_dir.path());
    let ca_server = sync_server::testing::TestServer::start_with_tls("tls", &issued);
    let by_name = ca_server
        .tls_url
        .clone()
        .unwrap()
        .replace("127.0.0.1", "localhost");
    let other = Clinic::new();
    let o = enroll_with(&other, &["--server", &by_name], None);
    assert_eq!(
        o.status.code(),
        Some(9),
        "not trusted without the CA: {}",
        stderr(&o)
    );
    let o = enroll_with(&other, &["--server", &by_name], Some(&ca));
    assert!(o.status.success(), "{}", stderr(&o));

    // A desk enrolled over loopback http:// moves to https:// with its
    // waiting change, and the pin; only an administrator may move it.
    let moved = Clinic::new();
    let o = enroll_with(&moved, &["--server", &server.url], None);
    assert!(o.status.success(), "{}", stderr(&o));
    moved.json(&[
        "--user",
        "admin@tls.example",
        "patient",
        "add",
        "--first-name",
        "Grace",
        "--last-name",
        "Hopper",
        "--dob",
        "1906-12-09",
        "--json",
    ]);
    let o = moved.run(&[
        "--user",
        "admin@tls.example",
        "enrollment",
        "set-server",
        &https,
        "--fingerprint",
        &wrong,
    ]);
    assert_eq!(o.status.code(), Some(9), "{}", stderr(&o));
    let status = moved.json(&["sync", "status", "--json"]);
    assert_eq!(
        status["server"],
        server.url.as_str(),
        "unchanged after a refusal"
    );
    assert_eq!(status["pending"], 1);
    let mut add = moved.cmd(&[
        "--user",
        "admin@tls.example",
        "user",
        "add",
        "--email",
        "desk@tls.example",
        "--name",
        "Front Desk",
        "--role",
        "receptionist",
    ]);
    add.env("CLINIC_NEW_PASSWORD", "desk-password-1");
    assert!(add.output().unwrap().status.success());
    let mut as_desk = moved.cmd(&[
        "--user",
        "desk@tls.example",
        "enrollment",
        "set-server",
        &https,
        "--fingerprint",
        &pin,
    ]);
    as_desk.env("CLINIC_PASSWORD", "desk-password-1");
    let o = as_desk.output().unwrap();
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    let now = moved.json(&[
        "--user",
        "admin@tls.example",
        "enrollment",
        "set-server",
        &https,
        "--fingerprint",
        &pin,
        "--json",
    ]);
    assert_eq!(now["server"], https.as_str());
    assert_eq!(now["online"], true);
    let synced = moved.json(&["--user", "admin@tls.example", "sync", "--json"]);
    assert_eq!(synced["pending"], 0, "{synced}");
    assert_eq!(
        server.query("SELECT count(*) FROM patients WHERE last_name = 'Hopper'")[0][0].as_deref(),
        Some("1"),
        "the change that waited went to the new address"
    );
}
