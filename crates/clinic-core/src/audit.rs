//! Append-only, hash-chained audit events (one chain per device).
//!
//! Each event's hash covers its content and the previous event's hash, so an
//! edited, removed or reordered event breaks the chain; the chain head (last
//! sequence and hash) is kept separately so that truncating the tail is
//! detected as well.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The hash that precedes the first event of a chain.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEvent {
    pub device_id: Uuid,
    /// 1, 2, 3, … per device, without gaps.
    pub seq: i64,
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub at: DateTime<Utc>,
    pub user_id: Option<Uuid>,
    /// e.g. "patient.create", "patient.read", "user.login_failed".
    pub action: String,
    pub entity_type: String,
    pub entity_id: Option<Uuid>,
    pub patient_id: Option<Uuid>,
    /// Non-identifying detail, e.g. the names of changed fields.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub details: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
    /// The key of `user_id` that signed the event, and its signature over
    /// the event's hash ([`crate::signing`]); none on an event no signed-in
    /// user made (a refused sign-in, setting up a store) or made before
    /// signatures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

/// What a use-case records; the store adds the chain fields.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub action: &'static str,
    pub entity_type: &'static str,
    pub entity_id: Option<Uuid>,
    pub patient_id: Option<Uuid>,
    pub details: serde_json::Value,
}

impl AuditEntry {
    /// Something done to, or a read of, one patient's record.
    pub fn patient(action: &'static str, patient: Uuid, details: serde_json::Value) -> Self {
        Self {
            action,
            entity_type: "patient",
            entity_id: Some(patient),
            patient_id: Some(patient),
            details,
        }
    }
    /// Something about a user account (sign-in, creation, status).
    pub fn user(action: &'static str, user: Option<Uuid>, details: serde_json::Value) -> Self {
        Self {
            action,
            entity_type: "user",
            entity_id: user,
            patient_id: None,
            details,
        }
    }
    /// Something done to an enrolled workstation (revoked from the server).
    pub fn device(action: &'static str, device: Uuid, details: serde_json::Value) -> Self {
        Self {
            action,
            entity_type: "device",
            entity_id: Some(device),
            patient_id: None,
            details,
        }
    }
    /// Something done to the store as a whole (backup, key change).
    pub fn store(action: &'static str) -> Self {
        Self {
            action,
            entity_type: "store",
            entity_id: None,
            patient_id: None,
            details: serde_json::json!({}),
        }
    }
}

fn feed(h: &mut Sha256, s: &str) {
    h.update((s.len() as u64).to_be_bytes());
    h.update(s.as_bytes());
}

fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

/// The hash of an event's content chained to `prev_hash` (length-prefixed
/// fields, so no two different events serialise the same).
pub fn event_hash(e: &AuditEvent) -> String {
    let mut h = Sha256::new();
    feed(&mut h, "clinic-audit-v1");
    feed(&mut h, &e.device_id.to_string());
    feed(&mut h, &e.seq.to_string());
    feed(&mut h, &e.id.to_string());
    feed(&mut h, &e.tenant_id.to_string());
    feed(
        &mut h,
        &e.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
    );
    feed(
        &mut h,
        &e.user_id.map(|u| u.to_string()).unwrap_or_default(),
    );
    feed(&mut h, &e.action);
    feed(&mut h, &e.entity_type);
    feed(
        &mut h,
        &e.entity_id.map(|u| u.to_string()).unwrap_or_default(),
    );
    feed(
        &mut h,
        &e.patient_id.map(|u| u.to_string()).unwrap_or_default(),
    );
    feed(&mut h, &e.details.to_string());
    feed(&mut h, &e.prev_hash);
    hex(&h.finalize())
}

/// Where and why a chain fails verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChainBreak {
    pub seq: i64,
    pub event_id: Option<Uuid>,
    pub reason: String,
}

/// Verifies a chain incrementally, event by event in stored order.
#[derive(Debug)]
pub struct ChainVerifier {
    expected_seq: i64,
    prev_hash: String,
    device_id: Uuid,
}

impl ChainVerifier {
    pub fn new(device_id: Uuid) -> Self {
        Self::resume(device_id, 0, GENESIS_HASH)
    }

    /// Continues a chain already verified up to `seq` ending in `hash`
    /// (the server checks each upload against what it holds).
    pub fn resume(device_id: Uuid, seq: i64, hash: &str) -> Self {
        Self {
            expected_seq: seq + 1,
            prev_hash: hash.to_string(),
            device_id,
        }
    }

    pub fn check(&mut self, e: &AuditEvent) -> Result<(), ChainBreak> {
        let fail = |reason: String| ChainBreak {
            seq: e.seq,
            event_id: Some(e.id),
            reason,
        };
        if e.device_id != self.device_id {
            return Err(fail("event belongs to another device's chain".into()));
        }
        if e.seq != self.expected_seq {
            return Err(fail(format!(
                "expected sequence {} but found {} (an event was removed or reordered)",
                self.expected_seq, e.seq
            )));
        }
        if e.prev_hash != self.prev_hash {
            return Err(fail(
                "previous-hash link does not match (an event was removed or reordered)".into(),
            ));
        }
        if event_hash(e) != e.hash {
            return Err(fail(
                "content does not match its hash (the event was edited)".into(),
            ));
        }
        self.expected_seq += 1;
        self.prev_hash = e.hash.clone();
        Ok(())
    }

    /// Checks the recorded head against what was verified.
    pub fn finish(&self, head_seq: i64, head_hash: &str) -> Result<i64, ChainBreak> {
        let verified = self.expected_seq - 1;
        if head_seq != verified || head_hash != self.prev_hash {
            return Err(ChainBreak {
                seq: verified + 1,
                event_id: None,
                reason: format!(
                    "chain ends at event {verified} but the recorded head is event {head_seq} (events were removed from the end)"
                ),
            });
        }
        Ok(verified)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<AuditEvent> {
        let dev = Uuid::from_u128(7);
        let mut prev = GENESIS_HASH.to_string();
        (1..=n)
            .map(|seq| {
                let mut e = AuditEvent {
                    device_id: dev,
                    seq,
                    id: Uuid::from_u128(seq as u128),
                    tenant_id: Uuid::from_u128(1),
                    at: DateTime::from_timestamp(1_700_000_000 + seq, 0).unwrap(),
                    user_id: Some(Uuid::from_u128(2)),
                    action: "patient.read".into(),
                    entity_type: "patient".into(),
                    entity_id: Some(Uuid::from_u128(3)),
                    patient_id: Some(Uuid::from_u128(3)),
                    details: serde_json::json!({"fields": ["phone"]}),
                    prev_hash: prev.clone(),
                    hash: String::new(),
                    author_key: None,
                    signature: None,
                };
                e.hash = event_hash(&e);
                prev = e.hash.clone();
                e
            })
            .collect()
    }

    fn verify(events: &[AuditEvent], head: (i64, &str)) -> Result<i64, ChainBreak> {
        let mut v = ChainVerifier::new(Uuid::from_u128(7));
        for e in events {
            v.check(e)?;
        }
        v.finish(head.0, head.1)
    }

    #[test]
    fn intact_chain_verifies() {
        let c = chain(5);
        assert_eq!(verify(&c, (5, &c[4].hash)), Ok(5));
    }

    #[test]
    fn every_kind_of_tampering_is_found() {
        let c = chain(5);
        let head = (5, c[4].hash.clone());
        let mut edited = c.clone();
        edited[2].action = "patient.update".into();
        assert_eq!(verify(&edited, (head.0, &head.1)).unwrap_err().seq, 3);
        let mut removed = c.clone();
        removed.remove(1);
        assert_eq!(verify(&removed, (head.0, &head.1)).unwrap_err().seq, 3);
        let mut reordered = c.clone();
        reordered.swap(1, 2);
        assert!(verify(&reordered, (head.0, &head.1)).is_err());
        let truncated = &c[..4];
        assert_eq!(verify(truncated, (head.0, &head.1)).unwrap_err().seq, 5);
        let mut user_changed = c.clone();
        user_changed[0].user_id = None;
        assert_eq!(verify(&user_changed, (head.0, &head.1)).unwrap_err().seq, 1);
    }
}
