//! The clinical section: a clinician opening charts (summary, the last 20
//! encounters and the vitals trend; an audited read), the autosave of a
//! draft while typing, and signing a note, on the demo consultations of
//! `performance.md` (S 20,000, L 200,000).

use crate::{figure, Figure, Scalar};
use clinic_client::{Password, Workstation};
use clinic_core::ClinicResult;
use clinic_store::keys::{Passphrase, Unlock};
use clinic_store::Store;
use std::path::Path;
use std::time::Instant;
use uuid::Uuid;

pub struct ClinicalArgs<'a> {
    pub data: &'a Path,
    pub passphrase: &'a str,
    pub password: &'a Password,
    pub samples: usize,
}

pub struct ClinicalResult {
    pub figures: Vec<Figure>,
    pub scalars: Vec<Scalar>,
}

/// The bytes of the consultations', invoices' and payments' JSON
/// documents as stored (their raw JSON, for the size ratio).
pub fn json_bytes(data: &Path, passphrase: &str) -> ClinicResult<u64> {
    let store = Store::open(
        data,
        &Unlock::Passphrase(Passphrase::for_unlock(passphrase.into())),
    )?;
    let docs = store.db().query_docs(
        "SELECT json_object('n', (SELECT coalesce(sum(length(doc)), 0) FROM encounters)
             + (SELECT coalesce(sum(length(doc)), 0) FROM invoices)
             + (SELECT coalesce(sum(length(doc)), 0) FROM payments))",
        &[],
    )?;
    Ok(docs.first().and_then(|d| d["n"].as_u64()).unwrap_or(0))
}

fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

pub fn run(ws: &mut Workstation, a: ClinicalArgs) -> ClinicResult<ClinicalResult> {
    // Patients with consultations, spread over the data set (a second
    // connection, as a report would read).
    let (patients, encounters) = {
        let store = Store::open(
            a.data,
            &Unlock::Passphrase(Passphrase::for_unlock(a.passphrase.into())),
        )?;
        let db = store.db();
        let encounters = db.encounter_count()?;
        let step = (encounters / a.samples.max(1) as i64).max(1);
        let docs = db.query_docs(
            "SELECT doc FROM encounters WHERE rowid % ?1 = 0 LIMIT ?2",
            &[&step, &(a.samples as i64)],
        )?;
        let patients: Vec<Uuid> = docs
            .iter()
            .filter_map(|d| d["patient_id"].as_str().and_then(|s| s.parse().ok()))
            .collect();
        (patients, encounters)
    };
    ws.login("clinician01@demo.clinic", a.password)?;
    let mut chart = Vec::new();
    for p in &patients {
        let t = Instant::now();
        let c = ws.clinical().chart(*p)?;
        chart.push(ms_since(t));
        assert!(!c.encounters.is_empty(), "a sampled patient has encounters");
    }
    // One note typed into, a draft saved per pause in typing.
    let first = patients[0];
    let note = ws.clinical().start(first, None, None)?;
    let mut autosave = Vec::new();
    let mut text = String::new();
    for k in 0..a.samples * 5 {
        text.push_str(&format!("word{k} "));
        let field = ["history", "examination", "plan"][k % 3];
        let t = Instant::now();
        ws.clinical().save_draft(note.id, field, &text)?;
        autosave.push(ms_since(t));
    }
    // Notes signed (each started and written first, not timed).
    let mut sign = Vec::new();
    for (k, p) in patients.iter().enumerate() {
        let e = ws.clinical().start(*p, None, None)?;
        ws.clinical().edit(
            e.id,
            "assessment",
            &format!("Benchmark note {k}: viral illness"),
            vec![],
        )?;
        let t = Instant::now();
        let signed = ws.clinical().sign(e.id)?;
        sign.push(ms_since(t));
        assert!(signed.is_signed());
    }
    Ok(ClinicalResult {
        figures: vec![
            figure(
                "clinical: open a chart",
                "a patient with consultations: summary, last 20 encounters and the vitals trend (an audited read)",
                Some("p99 <= 20 ms"),
                chart,
            ),
            figure(
                "clinical: autosave a draft",
                "a note's field as typed so far, saved to the encrypted store",
                Some("p99 <= 5 ms"),
                autosave,
            ),
            figure(
                "clinical: sign a note",
                "drafts saved, SHA-256 over the note, the signing change queued and audited",
                Some("p99 <= 10 ms"),
                sign,
            ),
        ],
        scalars: vec![(
            "clinical: consultations in the store".into(),
            encounters as f64,
            "encounters".into(),
        )],
    })
}
