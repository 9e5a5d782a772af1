//! Applying mutations: the kernel's checks around every domain rule, and a
//! device's push batch as the server applies it.

use super::mutation::{Applied, Context, IssuedNumber, Mutation};
use super::protocol::{Envelope, Outcome, OutcomeStatus};
use super::record::{AnyRecord, Merge, Records};
use super::refused::RefusedChange;
use crate::error::{ClinicError, ClinicResult};
use std::collections::HashMap;
use uuid::Uuid;

/// The rules a mutation is applied with: its domain's own in the product
/// ([`domain_rules`]); the simulation swaps in deliberately broken rules to
/// show it catches them.
pub type Rules = fn(&Mutation, &Context, &mut Records) -> ClinicResult<Applied>;

/// Each mutation's own rule, as its domain declared it.
pub fn domain_rules(m: &Mutation, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
    m.apply_rule(cx, recs)
}

/// What the server knows of the numbers a batch hands out: the blocks
/// leased to the sending device, and the numbers of those series already
/// issued (as ranges: a device issues its numbers one after another).
#[derive(Debug, Default, Clone)]
pub struct NumberLedger {
    /// Series → blocks `[start, end)` leased to the device (retired ones too:
    /// a change queued before a restore may still use them).
    pub leased: HashMap<String, Vec<(u64, u64)>>,
    /// Series → numbers issued, as ranges `[start, end)`.
    pub issued: HashMap<String, Vec<(u64, u64)>>,
}

impl NumberLedger {
    fn check(&self, n: &IssuedNumber, format: impl Fn(u64) -> String) -> ClinicResult<()> {
        let taken = self
            .issued
            .get(n.series)
            .is_some_and(|r| r.iter().any(|(s, e)| (*s..*e).contains(&n.value)));
        if taken {
            return Err(ClinicError::conflict(format!(
                "Number {} is already in use; it was not issued from this workstation's block.",
                format(n.value)
            )));
        }
        let leased = self
            .leased
            .get(n.series)
            .is_some_and(|b| b.iter().any(|(s, e)| (*s..*e).contains(&n.value)));
        if !leased {
            return Err(ClinicError::conflict(format!(
                "Number {} was not leased to this workstation; it was not issued.",
                format(n.value)
            )));
        }
        Ok(())
    }

    fn issue(&mut self, n: IssuedNumber) {
        let ranges = self.issued.entry(n.series.to_string()).or_default();
        match ranges.last_mut() {
            Some((_, end)) if *end == n.value => *end += 1,
            _ => ranges.push((n.value, n.value + 1)),
        }
    }
}

/// Numbers as the ranges `(series, start, end)` they make, consecutive
/// numbers of a series joined (how the server keeps what it issued).
pub fn number_ranges(numbers: &[IssuedNumber]) -> Vec<(&'static str, u64, u64)> {
    let mut sorted: Vec<(&'static str, u64)> =
        numbers.iter().map(|n| (n.series, n.value)).collect();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out: Vec<(&'static str, u64, u64)> = Vec::new();
    for (series, v) in sorted {
        match out.last_mut() {
            Some((s, _, end)) if *s == series && *end == v => *end += 1,
            _ => out.push((series, v, v + 1)),
        }
    }
    out
}

/// Applies one mutation with its domain's rule and the kernel's checks:
/// it changes only records it declared, an id keeps the kind it has, a
/// ledger entry is never changed, a record names only this tenant, and
/// (with a `ledger`) every number it issues was leased to the device and
/// never issued before. A refusal leaves `recs` exactly as it was.
pub fn apply_with(
    rules: Rules,
    m: &Mutation,
    cx: &Context,
    recs: &mut Records,
    ledger: Option<&mut NumberLedger>,
) -> ClinicResult<Applied> {
    let touched = m.touches();
    let saved: Vec<(Uuid, Option<AnyRecord>)> = touched
        .iter()
        .map(|id| (*id, recs.any(*id).cloned()))
        .collect();
    let numbers = m.numbers();
    let result = (|| {
        let applied = rules(m, cx, recs)?;
        // Numbers are checked when the change writes something (a replay
        // over a copy that has it already is a no-op, number and all).
        if let (Some(l), false) = (&ledger, applied.changed.is_empty()) {
            let registry = super::registry::read();
            for n in &numbers {
                let format = registry
                    .series_named(n.series)
                    .map(|s| s.format)
                    .ok_or_else(|| {
                        ClinicError::internal(format!("unknown number series {}", n.series))
                    })?;
                l.check(n, format)?;
            }
        }
        for id in &applied.changed {
            let Some((_, before)) = saved.iter().find(|(t, _)| t == id) else {
                return Err(ClinicError::internal(format!(
                    "{} changed a record it does not declare",
                    m.name()
                )));
            };
            let after = recs
                .any(*id)
                .ok_or_else(|| ClinicError::internal("a changed record is missing"))?;
            if let Some(b) = before {
                if b.kind() != after.kind() {
                    return Err(ClinicError::conflict(format!(
                        "This id already belongs to a {} record; a {} cannot take it. Nothing was changed.",
                        b.kind().replace('_', " "),
                        after.kind().replace('_', " ")
                    )));
                }
                if b.merge() == Merge::Ledger && b != after {
                    return Err(ClinicError::conflict(format!(
                        "A {} entry is never changed once written; record a correcting entry instead.",
                        b.kind().replace('_', " ")
                    )));
                }
            }
            let size = after.encoded_len();
            if size > super::record::MAX_RECORD_BYTES {
                return Err(ClinicError::new(
                    crate::ErrorCode::Validation,
                    format!(
                        "This change would make the {} record {} KiB; a record may hold at most {} KiB. Nothing was changed.",
                        after.kind().replace('_', " "),
                        size / 1024,
                        super::record::MAX_RECORD_BYTES / 1024
                    ),
                ));
            }
            if after.tenant().is_some_and(|t| t != cx.tenant) {
                return Err(ClinicError::forbidden(
                    "This change names a record of another clinic; it was not applied.",
                ));
            }
        }
        Ok(applied)
    })();
    match &result {
        Ok(a) => {
            if let (Some(l), false) = (ledger, a.changed.is_empty()) {
                for n in numbers {
                    l.issue(n);
                }
            }
        }
        Err(_) => {
            for (id, before) in saved {
                match before {
                    Some(r) => recs.put_any(r),
                    None => {
                        recs.remove(id);
                    }
                }
            }
        }
    }
    result
}

/// [`apply_with`] the domains' own rules, without a number ledger (a
/// workstation issues numbers only from its own blocks).
pub fn apply(m: &Mutation, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
    apply_with(domain_rules, m, cx, recs, None)
}

/// The result of applying one push batch on the server.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct BatchResult {
    pub last_applied_seq: i64,
    /// Outcomes of the mutations applied now, in order.
    pub outcomes: Vec<Outcome>,
    pub gap: bool,
    /// Records changed by the batch (each once, in order of first change).
    pub changed: Vec<Uuid>,
    /// Numbers the batch issued.
    pub issued: Vec<IssuedNumber>,
}

/// The server's own view of who made a change, before its rule runs: the
/// envelope names a user, the tenant has them (their record is among
/// `recs`), it carries their signature over its content as queued on
/// `device` (checked with the keys their record shows; an author with no
/// key yet signs only the change registering their first, with that
/// key), they are active, and their roles allow what the mutation
/// declares; every record it names exists in the tenant. Refusals are
/// `Forbidden` or `NotFound`, so the outcome is `rejected`.
pub fn authorize(env: &Envelope, tenant: Uuid, device: Uuid, recs: &Records) -> ClinicResult<()> {
    let m = &env.mutation;
    let what = m.name().replace('_', " ");
    let Some(user) = env.user_id else {
        return Err(ClinicError::forbidden(format!(
            "This change ({what}) names no user; every change must be made by a signed-in member of staff. It was not applied."
        )));
    };
    let registry = super::registry::read();
    let Some(actor) = registry.actor(user, recs) else {
        return Err(ClinicError::forbidden(format!(
            "This change ({what}) was made by a user this clinic does not have; it was not applied."
        )));
    };
    let own: Vec<_>;
    let keys = if actor.keys.is_empty() {
        own = m.own_key().into_iter().collect();
        &own
    } else {
        &actor.keys
    };
    crate::signing::verify(
        keys,
        env.author_key.as_deref(),
        env.signature.as_deref(),
        &crate::signing::change_content(tenant, device, env),
    )
    .map_err(|why| {
        ClinicError::forbidden(format!(
            "This change ({what}) names {} as its author, but {why}: only a change signed with their own key is theirs. It was not applied.",
            actor.name
        ))
    })?;
    if !actor.active {
        return Err(ClinicError::forbidden(format!(
            "This change ({what}) was made by {}, whose account has been disabled; it was not applied.",
            actor.name
        )));
    }
    actor.permissions.check(&m.permission()).map_err(|e| {
        ClinicError::forbidden(format!(
            "This change ({what}) was made by {}, whose role does not allow it ({}); it was not applied.",
            actor.name,
            e.message.trim_end_matches('.')
        ))
    })?;
    for r in m.refs() {
        if recs.any(r.id).is_none_or(|x| x.kind() != r.kind) {
            return Err(ClinicError::new(
                crate::error::ErrorCode::NotFound,
                format!(
                    "This change ({what}) names a {} that does not exist in this clinic ({}); it was not applied.",
                    r.noun, r.id
                ),
            ));
        }
    }
    Ok(())
}

/// Refuses a change larger than a record may be ([`super::MAX_RECORD_BYTES`]):
/// no rule runs on it and its refusal note does not carry it whole.
fn check_size(m: &Mutation) -> ClinicResult<()> {
    let size = super::record::encoded_len(m);
    if size > super::record::MAX_RECORD_BYTES {
        return Err(ClinicError::new(
            crate::ErrorCode::Validation,
            format!(
                "This change ({}) is {} KiB; a change may carry at most {} KiB. It was not applied.",
                m.name().replace('_', " "),
                size / 1024,
                super::record::MAX_RECORD_BYTES / 1024
            ),
        ));
    }
    Ok(())
}

/// The server's decision for a batch of one device's mutations: mutations
/// at or below `last_applied` were applied before (a retry: skipped), the
/// next ones are checked ([`authorize`]) and applied in order, and a jump
/// in numbering stops the batch (`gap`). Business failures are outcomes
/// and never stop the queue.
///
/// Nothing reported done is dropped: a change that is refused as a
/// conflict, or that changes nothing (its records were already as it would
/// leave them: another desk did it first), is a `conflict` outcome, and a
/// [`RefusedChange`] holding it whole joins the history of its records.
/// (A workstation never queues a change that changed nothing on it.)
pub fn apply_batch(
    rules: Rules,
    tenant: Uuid,
    device: Uuid,
    last_applied: i64,
    mutations: &[Envelope],
    recs: &mut Records,
    ledger: &mut NumberLedger,
) -> BatchResult {
    let mut out = BatchResult {
        last_applied_seq: last_applied,
        ..Default::default()
    };
    let mut seen = std::collections::HashSet::new();
    for env in mutations {
        if env.device_seq <= out.last_applied_seq {
            continue;
        }
        if env.device_seq != out.last_applied_seq + 1 {
            out.gap = true;
            break;
        }
        let cx = Context {
            tenant,
            at: env.at,
            user: env.user_id,
        };
        let result = check_size(&env.mutation)
            .and_then(|()| authorize(env, tenant, device, recs))
            .and_then(|()| apply_with(rules, &env.mutation, &cx, recs, Some(ledger)))
            .and_then(|a| {
                if a.changed.is_empty() {
                    Err(ClinicError::conflict(format!(
                        "Nothing was changed: another workstation had already made this change ({}); its records were already in that state. The change is kept in their history.",
                        env.mutation.name().replace('_', " ")
                    )))
                } else {
                    Ok(a)
                }
            });
        let mut changed = match &result {
            Ok(a) => {
                out.issued.extend(env.mutation.numbers());
                a.changed.clone()
            }
            Err(_) => vec![],
        };
        let outcome = Outcome::from_result(env.device_seq, &result);
        if outcome.status == OutcomeStatus::Conflict {
            let note = RefusedChange {
                id: RefusedChange::id_for(env.id, env.device_seq),
                tenant_id: tenant,
                records: env.mutation.touches(),
                change: env.mutation.to_value(),
                user_id: env.user_id,
                user_name: env
                    .user_id
                    .and_then(|u| super::registry::read().actor(u, recs))
                    .map(|a| a.name),
                made_at: env.at,
                status: "conflict".into(),
                message: outcome.message.clone().unwrap_or_default(),
            };
            // Written once (its id is the change's), and never over a record.
            if !recs.contains(note.id) {
                changed.push(note.id);
                recs.put(note);
            }
        }
        for id in changed {
            if seen.insert(id) {
                out.changed.push(id);
            }
        }
        out.outcomes.push(outcome);
        out.last_applied_seq = env.device_seq;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::StaffMember;
    use crate::error::ErrorCode;
    use crate::patients::{format_patient_number, Patient, PatientDetails, RegisterPatient};
    use crate::scheduling::WaitlistEntry;
    use crate::sync::{OutcomeStatus, SaveDocument};
    use chrono::{DateTime, NaiveDate, TimeZone, Utc};

    const TENANT: Uuid = Uuid::from_u128(1);
    const ADMIN: Uuid = Uuid::from_u128(900);
    const RECEPTION: Uuid = Uuid::from_u128(901);

    fn at(min: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap() + chrono::Duration::minutes(min)
    }

    fn register(id: Uuid, n: u64) -> Mutation {
        Mutation::new(RegisterPatient {
            patient: id,
            patient_number: format_patient_number(n),
            details: PatientDetails {
                first_name: "Ada".into(),
                last_name: "Okafor".into(),
                date_of_birth: NaiveDate::from_ymd_opt(1980, 5, 1),
                ..Default::default()
            },
            lists: Default::default(),
        })
    }

    fn staff(id: Uuid) -> StaffMember {
        member(id, "dr.jones", "clinician")
    }

    fn member(id: Uuid, who: &str, role: &str) -> StaffMember {
        StaffMember {
            id,
            email: format!("{who}@example.org"),
            name: who.into(),
            roles: vec![role.into()],
            active: true,
            password_hash:
                "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"
                    .into(),
            specialization: None,
            registration_number: None,
            must_change_password: false,
            signing_key: Some(signer(id).unopenable(id)),
            past_keys: vec![],
        }
    }

    const DEVICE: Uuid = Uuid::from_u128(77);

    fn signer(user: Uuid) -> crate::signing::UserSigner {
        crate::signing::UserSigner::from_secret(user, &[user.as_u128() as u8; 32])
    }

    fn envelope(seq: i64, m: Mutation) -> Envelope {
        signed(Envelope {
            device_seq: seq,
            id: Uuid::from_u128(1000 + seq as u128),
            user_id: Some(ADMIN),
            at: at(seq),
            mutation: m,
            author_key: None,
            signature: None,
        })
    }

    /// Signed by its author's key.
    fn signed(mut e: Envelope) -> Envelope {
        if let Some(u) = e.user_id {
            signer(u).sign_change(TENANT, DEVICE, &mut e);
        }
        e
    }

    fn leased(series: &str, start: u64, end: u64) -> NumberLedger {
        let mut l = NumberLedger::default();
        l.leased.insert(series.into(), vec![(start, end)]);
        l
    }

    /// The records of a clinic with an administrator and a receptionist.
    fn clinic() -> Records {
        let mut r = Records::default();
        r.put(member(ADMIN, "admin", "admin"));
        r.put(member(RECEPTION, "reception", "receptionist"));
        r
    }

    fn batch(
        last: i64,
        envs: &[Envelope],
        recs: &mut Records,
        ledger: &mut NumberLedger,
    ) -> BatchResult {
        apply_batch(domain_rules, TENANT, DEVICE, last, envs, recs, ledger)
    }

    /// A rule that writes a patient far larger than any real one.
    fn giant(m: &Mutation, cx: &Context, recs: &mut Records) -> ClinicResult<Applied> {
        let id = m.touches()[0];
        let details = PatientDetails {
            family_history: Some("x".repeat(crate::sync::MAX_RECORD_BYTES)),
            ..Default::default()
        };
        recs.put(Patient::registered(
            id,
            cx.tenant,
            format_patient_number(1),
            details,
            Default::default(),
            cx.at,
        ));
        Ok(Applied::one(id))
    }

    #[test]
    fn no_change_may_make_a_record_larger_than_every_desk_can_receive() {
        let id = Uuid::from_u128(10);
        let cx = Context {
            tenant: TENANT,
            at: at(0),
            user: Some(ADMIN),
        };
        let mut r = clinic();
        let e = apply_with(giant, &register(id, 1), &cx, &mut r, None).unwrap_err();
        assert_eq!(e.code, ErrorCode::Validation);
        assert!(e.message.contains("at most 1024 KiB"), "{}", e.message);
        assert_eq!(r, clinic(), "nothing changed");
        // A change that is itself too large is refused before any rule runs,
        // with no note carrying it, and the queue goes on.
        let huge = Mutation::new(RegisterPatient {
            patient: id,
            patient_number: format_patient_number(1),
            details: PatientDetails {
                family_history: Some("x".repeat(crate::sync::MAX_RECORD_BYTES + 1)),
                ..Default::default()
            },
            lists: Default::default(),
        });
        let envs = [
            envelope(1, huge),
            envelope(2, register(Uuid::from_u128(11), 2)),
        ];
        let mut l = leased("patient", 1, 100);
        let out = batch(0, &envs, &mut r, &mut l);
        assert_eq!(out.outcomes[0].status, OutcomeStatus::Rejected);
        assert!(out.outcomes[0]
            .message
            .as_deref()
            .unwrap_or("")
            .contains("a change may carry at most"));
        assert_eq!(out.outcomes[1].status, OutcomeStatus::Accepted);
        assert_eq!(out.changed, vec![Uuid::from_u128(11)]);
    }

    #[test]
    fn batches_are_idempotent_and_stop_at_gaps() {
        let envs: Vec<Envelope> = (1..=3)
            .map(|i| envelope(i, register(Uuid::from_u128(10 + i as u128), i as u64)))
            .collect();
        let mut r = clinic();
        let mut l = leased("patient", 1, 100);
        let first = batch(0, &envs[..2], &mut r, &mut l);
        assert_eq!(first.last_applied_seq, 2);
        assert_eq!(first.outcomes.len(), 2);
        assert_eq!(first.issued.len(), 2);
        // A retry of the whole queue applies only the new one.
        let again = batch(2, &envs, &mut r, &mut l);
        assert_eq!(again.outcomes.len(), 1);
        assert_eq!(r.all::<Patient>().count(), 3);
        // A batch that skips a number stops before it.
        let mut r2 = clinic();
        let gap = batch(0, &envs[1..], &mut r2, &mut leased("patient", 1, 100));
        assert!(gap.gap);
        assert_eq!(gap.last_applied_seq, 0);
        assert_eq!(r2, clinic());
    }

    #[test]
    fn a_number_is_issued_once_and_only_from_the_devices_own_blocks() {
        let mut r = clinic();
        let mut l = leased("patient", 1, 10);
        let out = batch(
            0,
            &[
                envelope(1, register(Uuid::from_u128(2), 7)),
                // Another patient with the same number.
                envelope(2, register(Uuid::from_u128(3), 7)),
                // A number from a block this device was never leased.
                envelope(3, register(Uuid::from_u128(4), 50)),
            ],
            &mut r,
            &mut l,
        );
        let status: Vec<OutcomeStatus> = out.outcomes.iter().map(|o| o.status).collect();
        assert_eq!(
            status,
            [
                OutcomeStatus::Accepted,
                OutcomeStatus::Conflict,
                OutcomeStatus::Conflict
            ]
        );
        assert_eq!(
            r.all::<Patient>().count(),
            1,
            "nothing written for the refused ones"
        );
        // Each refused one is kept whole in the history.
        assert_eq!(r.all::<RefusedChange>().count(), 2);
        // The same registration again (a replay over a copy that has it) is fine.
        let replay = register(Uuid::from_u128(2), 7);
        let cx = Context {
            tenant: TENANT,
            at: at(9),
            user: Some(ADMIN),
        };
        apply_with(domain_rules, &replay, &cx, &mut r, Some(&mut l)).unwrap();
    }

    #[test]
    fn one_id_holds_one_kind() {
        let cx = Context {
            tenant: TENANT,
            at: at(0),
            user: None,
        };
        let shared = Uuid::from_u128(77);
        let mut r = Records::default();
        r.put(staff(shared));
        let before = r.clone();
        // A patient registered with a staff member's id.
        let e = apply(&register(shared, 1), &cx, &mut r).unwrap_err();
        assert_eq!(e.code, ErrorCode::Conflict, "{e:?}");
        // A waitlist entry saved over a member of staff.
        let entry = WaitlistEntry {
            id: shared,
            site_id: Uuid::from_u128(5),
            patient_id: Uuid::from_u128(6),
            clinician_id: None,
            type_id: None,
            earliest: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            latest: None,
            notes: None,
            status: "waiting".into(),
            appointment_id: None,
            created_at: at(0),
        };
        let e = apply(&Mutation::new(SaveDocument::new(entry)), &cx, &mut r).unwrap_err();
        assert_eq!(e.code, ErrorCode::Conflict);
        assert_eq!(r, before, "the member of staff is untouched");
    }

    #[test]
    fn a_record_of_another_tenant_is_refused_not_rewritten() {
        let cx = Context {
            tenant: Uuid::from_u128(99),
            at: at(0),
            user: None,
        };
        let p = Uuid::from_u128(2);
        let mut r = Records::default();
        apply(&register(p, 1), &cx, &mut r).unwrap();
        let mut other = r.get::<Patient>(p).unwrap().clone();
        other.tenant_id = TENANT;
        r.put(other);
        let before = r.clone();
        let archive = Mutation::new(crate::patients::ArchivePatient {
            patient: p,
            reason: "x".into(),
        });
        assert_eq!(
            apply(&archive, &cx, &mut r).unwrap_err().code,
            ErrorCode::Forbidden
        );
        assert_eq!(r, before);
    }

    #[test]
    fn a_whole_document_save_is_refused_for_kinds_changed_field_by_field() {
        let cx = Context {
            tenant: TENANT,
            at: at(0),
            user: None,
        };
        let mut r = Records::default();
        apply(&register(Uuid::from_u128(2), 1), &cx, &mut r).unwrap();
        let mut p = r.get::<Patient>(Uuid::from_u128(2)).unwrap().clone();
        p.details.city = Some("Leeds".into());
        let save = Mutation::new(SaveDocument::new(p));
        assert_eq!(
            apply(&save, &cx, &mut r).unwrap_err().code,
            ErrorCode::Validation
        );
        // So is one of a member of staff (changed by named mutations only).
        let save = Mutation::new(SaveDocument::new(staff(Uuid::from_u128(3))));
        assert_eq!(
            apply(&save, &cx, &mut r).unwrap_err().code,
            ErrorCode::Validation
        );
        // A document kind's wire form names its kind, and reads back.
        let site = crate::directory::SiteDoc {
            id: Uuid::from_u128(4),
            name: "Main".into(),
            timezone: "Europe/London".into(),
        };
        let text = serde_json::to_string(&Mutation::new(SaveDocument::new(site))).unwrap();
        assert!(text.contains(r#""kind":"site""#), "{text}");
        let back: Mutation = serde_json::from_str(&text).unwrap();
        assert_eq!(back.touches(), vec![Uuid::from_u128(4)]);
    }

    /// One envelope by `user`, applied to the clinic; its outcome, and
    /// whether the records are as they were (nothing but a history note).
    fn one(user: Option<Uuid>, m: Mutation, recs: &mut Records) -> (OutcomeStatus, String, bool) {
        let mut env = envelope(1, m);
        env.user_id = user;
        let env = signed(env);
        let before = recs.clone();
        let out = batch(
            0,
            std::slice::from_ref(&env),
            recs,
            &mut leased("patient", 1, 100),
        );
        assert_eq!(out.last_applied_seq, 1, "the queue goes on");
        let o = &out.outcomes[0];
        let mut without_notes = recs.clone();
        for n in recs.all::<RefusedChange>() {
            without_notes.remove(n.id);
        }
        (
            o.status,
            o.message.clone().unwrap_or_default(),
            without_notes == before,
        )
    }

    #[test]
    fn a_change_counts_only_with_its_authors_signature() {
        use crate::directory::{RegisterSigningKey, SetUserActive};
        let mut r = clinic();
        let p = Uuid::from_u128(2);
        let reg = |n: u64| envelope(n as i64, register(Uuid::from_u128(100 + n as u128), n));
        let run = |envs: &[Envelope], r: &mut Records| {
            let last = envs[0].device_seq - 1;
            batch(last, envs, r, &mut leased("patient", 1, 100))
        };
        // Unsigned, signed by another key, or re-addressed: refused, the queue goes on.
        let mut unsigned = reg(1);
        (unsigned.author_key, unsigned.signature) = (None, None);
        let mut forged = reg(2);
        crate::signing::UserSigner::from_secret(ADMIN, &[99; 32]).sign_change(
            TENANT,
            DEVICE,
            &mut forged,
        );
        let mut other_device = reg(3);
        signer(ADMIN).sign_change(TENANT, Uuid::from_u128(78), &mut other_device);
        let out = run(&[unsigned, forged, other_device, reg(4)], &mut r);
        let status: Vec<_> = out.outcomes.iter().map(|o| o.status).collect();
        use OutcomeStatus::*;
        assert_eq!(status, [Rejected, Rejected, Rejected, Accepted]);
        for o in &out.outcomes[..3] {
            let msg = o.message.as_deref().unwrap_or("");
            assert!(
                msg.contains("only a change signed with their own key"),
                "{msg}"
            );
        }
        assert_eq!(r.all::<Patient>().count(), 1);
        let _ = p;
        // An author with no key registers their first, signed by it; only then
        // do their changes count. A second self-made key is not accepted.
        let mut s = r.get::<StaffMember>(RECEPTION).unwrap().clone();
        s.signing_key = None;
        r.put(s);
        let fresh = crate::signing::UserSigner::from_secret(RECEPTION, &[42; 32]);
        let key_env = |seq: i64, k: &crate::signing::UserSigner| {
            let mut e = Envelope {
                device_seq: seq,
                id: Uuid::from_u128(2000 + seq as u128),
                user_id: Some(RECEPTION),
                at: at(seq),
                mutation: Mutation::new(RegisterSigningKey {
                    user: RECEPTION,
                    signing_key: k.unopenable(RECEPTION),
                }),
                author_key: None,
                signature: None,
            };
            k.sign_change(TENANT, DEVICE, &mut e);
            e
        };
        let mut by_reception = reg(6);
        by_reception.user_id = Some(RECEPTION);
        fresh.sign_change(TENANT, DEVICE, &mut by_reception);
        let intruder = crate::signing::UserSigner::from_secret(RECEPTION, &[43; 32]);
        let out = run(
            &[key_env(5, &fresh), by_reception, key_env(7, &intruder)],
            &mut r,
        );
        let status: Vec<_> = out.outcomes.iter().map(|o| o.status).collect();
        assert_eq!(status, [Accepted, Accepted, Rejected], "{:?}", out.outcomes);
        let s = r.get::<StaffMember>(RECEPTION).unwrap();
        assert_eq!(s.signing_key.as_ref().unwrap().key_id, fresh.key_id());
        // A correctly signed change from an account disabled meanwhile: refused.
        let disable = envelope(
            8,
            Mutation::new(SetUserActive {
                user: RECEPTION,
                active: false,
            }),
        );
        let mut late = reg(9);
        late.user_id = Some(RECEPTION);
        fresh.sign_change(TENANT, DEVICE, &mut late);
        let out = run(&[disable, late], &mut r);
        assert_eq!(out.outcomes[0].status, Accepted);
        assert_eq!(out.outcomes[1].status, Rejected);
        assert!(out.outcomes[1]
            .message
            .as_deref()
            .unwrap_or("")
            .contains("disabled"));
    }

    #[test]
    fn the_server_checks_who_made_each_change() {
        let mut r = clinic();
        let p = Uuid::from_u128(2);
        batch(
            0,
            &[envelope(1, register(p, 1))],
            &mut r,
            &mut leased("patient", 1, 10),
        );
        let blood = |g: &str| {
            let mut set = serde_json::Map::new();
            set.insert("blood_group".into(), serde_json::json!(g));
            Mutation::new(crate::patients::UpdatePatient {
                patient: p,
                set,
                ..Default::default()
            })
        };
        let rejected = |(s, msg, same): (OutcomeStatus, String, bool), why: &str| {
            assert_eq!(s, OutcomeStatus::Rejected, "{why}: {msg}");
            assert!(same, "{why}: nothing written");
        };
        rejected(one(None, blood("A+"), &mut r), "no user");
        rejected(
            one(Some(Uuid::from_u128(5)), blood("A+"), &mut r),
            "unknown user",
        );
        rejected(
            one(Some(RECEPTION), blood("A+"), &mut r),
            "receptionist, medical history",
        );
        let (s, _, _) = one(Some(ADMIN), blood("A+"), &mut r);
        assert_eq!(s, OutcomeStatus::Accepted);
        // A receptionist may change what their role allows.
        let mut set = serde_json::Map::new();
        set.insert("city".into(), serde_json::json!("Leeds"));
        let city = Mutation::new(crate::patients::UpdatePatient {
            patient: p,
            set,
            ..Default::default()
        });
        assert_eq!(
            one(Some(RECEPTION), city, &mut r).0,
            OutcomeStatus::Accepted
        );
        // Removing an allergy needs the medical-history flag too, though
        // only the record says the removed id is an allergy.
        let allergy = Uuid::from_u128(77);
        let mut p_now = r.get::<Patient>(p).unwrap().clone();
        p_now.lists.allergies.push(crate::patients::Allergy {
            code: None,
            id: allergy,
            substance: "Penicillin".into(),
            reaction: None,
            severity: crate::patients::Severity::Severe,
        });
        r.put(p_now);
        let remove = || {
            Mutation::new(crate::patients::UpdatePatient {
                patient: p,
                remove_ids: vec![allergy],
                ..Default::default()
            })
        };
        rejected(
            one(Some(RECEPTION), remove(), &mut r),
            "receptionist removes an allergy",
        );
        assert_eq!(
            one(Some(ADMIN), remove(), &mut r).0,
            OutcomeStatus::Accepted
        );
        // Granting: only within one's own roles.
        let grant = |user, role: &str| {
            Mutation::new(crate::directory::ChangeUserRoles {
                user,
                roles: vec![role.into()],
            })
        };
        rejected(
            one(Some(RECEPTION), grant(RECEPTION, "admin"), &mut r),
            "non-admin grants admin",
        );
        let manager = Uuid::from_u128(902);
        r.put(member(manager, "manager", "manager"));
        rejected(
            one(Some(manager), grant(RECEPTION, "admin"), &mut r),
            "manager grants admin",
        );
        assert_eq!(
            one(Some(manager), grant(RECEPTION, "billing_clerk"), &mut r).0,
            OutcomeStatus::Accepted
        );
        // A new account over an existing one's id.
        let over = Mutation::new(crate::directory::CreateUser {
            user: manager,
            email: "intruder@example.org".into(),
            name: "Intruder".into(),
            roles: vec!["admin".into()],
            password_hash:
                "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"
                    .into(),
            specialization: None,
            registration_number: None,
            signing_key: None,
        });
        rejected(
            one(Some(ADMIN), over, &mut r),
            "staff record with another user's id",
        );
        // Disabled: nothing more from them.
        let off = Mutation::new(crate::directory::SetUserActive {
            user: RECEPTION,
            active: false,
        });
        assert_eq!(one(Some(ADMIN), off, &mut r).0, OutcomeStatus::Accepted);
        rejected(one(Some(RECEPTION), blood("B+"), &mut r), "disabled user");
    }

    #[test]
    fn a_booking_must_name_records_of_this_clinic() {
        use crate::scheduling::fixtures::appointment;
        use crate::scheduling::{
            AppointmentChange, AppointmentStatus, BookAppointment, ChangeAppointment,
        };
        let mut r = clinic();
        let (patient, clinician, site) =
            (Uuid::from_u128(20), Uuid::from_u128(4), Uuid::from_u128(2));
        batch(
            0,
            &[envelope(1, register(patient, 1))],
            &mut r,
            &mut leased("patient", 1, 10),
        );
        r.put(crate::directory::SiteDoc {
            id: site,
            name: "Main".into(),
            timezone: "Europe/London".into(),
        });
        r.put(staff(clinician));
        let book = |id: u128, clinician: u128, patient: u128| {
            Mutation::new(BookAppointment {
                appointment: appointment(id, clinician, patient, "2026-11-02T10:00:00Z", 15),
                override_overlap: false,
            })
        };
        for (m, why) in [
            (book(30, 4, 99), "no such patient"),
            (book(30, 99, 20), "no such clinician"),
            (book(30, 2, 20), "the site's id is no clinician"),
        ] {
            let (s, msg, same) = one(Some(ADMIN), m, &mut r);
            assert_eq!(s, OutcomeStatus::Rejected, "{why}: {msg}");
            assert!(same, "{why}");
        }
        // A whole document names records too: a waitlist entry's patient.
        let waiting = |patient: u128| {
            Mutation::new(SaveDocument::new(WaitlistEntry {
                id: Uuid::from_u128(40),
                site_id: site,
                patient_id: Uuid::from_u128(patient),
                clinician_id: Some(clinician),
                type_id: None,
                earliest: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
                latest: None,
                notes: None,
                status: "waiting".into(),
                appointment_id: None,
                created_at: at(0),
            }))
        };
        let (s, msg, same) = one(Some(ADMIN), waiting(99), &mut r);
        assert_eq!((s, same), (OutcomeStatus::Rejected, true), "{msg}");
        assert!(msg.contains("patient that does not exist"), "{msg}");
        assert_eq!(
            one(Some(ADMIN), waiting(20), &mut r).0,
            OutcomeStatus::Accepted
        );
        // The patient is a record of this clinic: the booking stands.
        assert_eq!(
            one(Some(ADMIN), book(31, 4, 20), &mut r).0,
            OutcomeStatus::Accepted
        );

        // Two desks cancel it with their own reasons: the second finds it
        // cancelled already; its reason is kept in the history, not lost.
        let cancel = |why: &str| {
            Mutation::new(ChangeAppointment {
                appointment: Uuid::from_u128(31),
                change: AppointmentChange::Status {
                    to: AppointmentStatus::Cancelled,
                    reason: Some(why.into()),
                },
            })
        };
        assert_eq!(
            one(Some(ADMIN), cancel("r1"), &mut r).0,
            OutcomeStatus::Accepted
        );
        let (s, msg, same) = one(Some(RECEPTION), cancel("r2"), &mut r);
        assert_eq!(s, OutcomeStatus::Conflict, "{msg}");
        assert!(same);
        let note = r
            .all::<RefusedChange>()
            .find(|n| n.change["change"]["reason"] == "r2")
            .expect("the second reason is kept");
        assert_eq!(note.records, vec![Uuid::from_u128(31)]);
        assert_eq!(note.user_name.as_deref(), Some("reception"));
    }
}
