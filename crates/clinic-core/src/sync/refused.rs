//! Nothing reported done is dropped: a change the server did not apply as
//! its author made it (a conflict, or a change that found its records
//! already as it would have left them) is kept, whole, in the history of
//! the records it touched. The server writes one [`RefusedChange`] per such
//! change into the feed, so every desk shows it next to the record, not
//! only the desk that made it.

use super::record::{Merge, RecordKind};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefusedChange {
    /// Derived by the server from the change ([`RefusedChange::id_for`]):
    /// one note per change, and never an id a device chose (which could
    /// name a record that exists).
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// The records it would have changed.
    pub records: Vec<Uuid>,
    /// The mutation as its author made it (`{"kind": …, …}`).
    pub change: Value,
    pub user_id: Option<Uuid>,
    /// Who made it, by name, when the server knows them.
    #[serde(default)]
    pub user_name: Option<String>,
    pub made_at: DateTime<Utc>,
    /// `conflict` (for now the only one).
    pub status: String,
    /// Why it was not applied, in words for the person reading the history.
    pub message: String,
}

impl RecordKind for RefusedChange {
    const KIND: &'static str = "refused_change";
    const MERGE: Merge = Merge::Ledger;

    fn id(&self) -> Uuid {
        self.id
    }
    fn tenant(&self) -> Option<Uuid> {
        Some(self.tenant_id)
    }
}

impl RefusedChange {
    /// The note's id for the change `change_id` that a device sent as its
    /// `device_seq`-th: a name-based id (SHA-256, version 8), so a device
    /// cannot steer it onto an existing record.
    pub fn id_for(change_id: Uuid, device_seq: i64) -> Uuid {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(b"clinic refused change\0");
        h.update(change_id.as_bytes());
        h.update(device_seq.to_be_bytes());
        let d = h.finalize();
        let mut b = [0u8; 16];
        b.copy_from_slice(&d[..16]);
        b[6] = (b[6] & 0x0f) | 0x80;
        b[8] = (b[8] & 0x3f) | 0x80;
        Uuid::from_bytes(b)
    }

    /// What the change was, in a few words ("change appointment").
    pub fn what(&self) -> String {
        self.change["kind"]
            .as_str()
            .unwrap_or("change")
            .replace('_', " ")
    }
}
