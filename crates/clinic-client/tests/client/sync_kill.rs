//! Real processes: the `clinic` binary syncing with the real server over
//! real PostgreSQL, killed with SIGKILL at random points while it pushes,
//! pulls and applies. Afterwards nothing is lost or applied twice, and every
//! store passes `integrity_check` after every kill.
//!
//! `KILL_RUNS=N` sets the number of kills (default 24; the documented long
//! mode is `KILL_RUNS=300`). `KILL_SEED` varies the kill times.

use super::cli::Clinic;
use clinic_demo::DemoRng;
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};
use sync_server::testing::TestServer;

const PATIENTS: i64 = 10_000;

fn enroll(c: &Clinic, server: &TestServer, name: &str, demo: bool) {
    let mut args = vec![
        "enroll",
        "--server",
        &server.url,
        "--tenant",
        "killtest",
        "--user",
        "admin@killtest.example",
        "--device-name",
        name,
    ];
    if demo {
        args.push("--demo");
    }
    let o = c.run(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn check_store(dir: &Path) {
    use clinic_store::keys::{Passphrase, Unlock};
    let unlock =
        Unlock::Passphrase(Passphrase::new("correct horse battery staple".into()).unwrap());
    let s = clinic_store::Store::open(dir, &unlock).expect("store opens after a kill");
    s.integrity_check().expect("integrity_check after a kill");
}

/// (patients, distinct patient numbers, outcomes of the device's mutations, accepted ones) on the server.
/// Patients, distinct patient numbers, appointments, and device A's
/// answered / accepted mutations as the server holds them.
fn server_counts(server: &TestServer, device: &str) -> [i64; 5] {
    let row = server.query(&format!(
        "SELECT (SELECT count(*) FROM patients),
                (SELECT count(DISTINCT patient_number) FROM patients),
                (SELECT count(*) FROM appointments),
                (SELECT count(*) FROM mutation_outcomes WHERE device_id = '{device}'),
                (SELECT count(*) FROM mutation_outcomes WHERE device_id = '{device}' AND status = 'accepted')"
    ));
    let n = |i: usize| row[0][i].as_deref().unwrap_or("0").parse().unwrap();
    [n(0), n(1), n(2), n(3), n(4)]
}

#[test]
fn sigkill_during_push_pull_and_apply_loses_and_duplicates_nothing() {
    let runs: u64 = std::env::var("KILL_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    let seed: u64 = std::env::var("KILL_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(42);
    let server = TestServer::start("killtest");
    let a = Clinic::new();
    let b = Clinic::new();
    enroll(&a, &server, "Desk A", true);
    enroll(&b, &server, "Desk B", false);
    // Desk A worked offline: 10,000 registrations and four weeks of
    // bookings (with their check-ins, completions, cancellations) queued.
    let demo = a.json(&["demo-data", "--size", "S", "--seed", "5", "--json"]);
    let booked = demo["appointments"].as_i64().unwrap();
    assert!(booked > 1_000, "{demo}");
    let queued = a.json(&["sync", "status", "--json"])["pending"]
        .as_i64()
        .unwrap();
    assert!(
        queued > PATIENTS + booked,
        "bookings and their status changes"
    );
    let device_a = a.json(&["info", "--json"])["device_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut rng = DemoRng::new(seed);
    let mut killed_mid_sync = 0;
    for run in 0..runs {
        // Alternate: A pushing, B pulling and applying, both at once.
        let who: Vec<&Clinic> = match run % 3 {
            0 => vec![&a],
            1 => vec![&b],
            _ => vec![&a, &b],
        };
        let mut children: Vec<_> = who
            .iter()
            .map(|c| {
                c.cmd(&["sync"])
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let started = Instant::now();
        std::thread::sleep(Duration::from_millis(150 + rng.below(1_200)));
        for child in &mut children {
            let running = child.try_wait().unwrap().is_none();
            let _ = child.kill(); // SIGKILL
            let _ = child.wait();
            if running {
                killed_mid_sync += 1;
            }
        }
        for c in &who {
            check_store(&c.data());
        }
        eprintln!(
            "run {run}: killed after {} ms",
            started.elapsed().as_millis()
        );
    }
    assert!(
        killed_mid_sync >= runs as usize / 2,
        "too few kills landed while syncing ({killed_mid_sync}); the test proved little"
    );
    // Let both finish, then check the guarantees.
    for c in [&a, &b, &a] {
        let o = c.run(&["sync", "--json"]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let status: Value = a.json(&["sync", "status", "--json"]);
    assert_eq!(status["pending"], 0, "{status}");
    assert_eq!(status["open_conflicts"], 0, "{status}");
    let [patients, numbers, appointments, outcomes, accepted] = server_counts(&server, &device_a);
    assert_eq!(
        patients, PATIENTS,
        "every registration reached the server once"
    );
    assert_eq!(numbers, PATIENTS, "no patient number twice");
    assert_eq!(
        appointments, booked,
        "every booking reached the server once"
    );
    assert_eq!(outcomes, queued, "each mutation answered exactly once");
    assert_eq!(accepted, queued, "the demo calendar has no overlaps");
    for c in [&a, &b] {
        assert_eq!(c.json(&["info", "--json"])["patients"], PATIENTS);
        let v = c.json(&["sync", "verify", "--json"]);
        assert_eq!(v["differing_buckets"], serde_json::json!([]), "{v}");
        check_store(&c.data());
    }
}
