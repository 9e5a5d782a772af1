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
    /// The change's own id (one note per change, however often it is sent).
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
    /// `conflict`, or `superseded` (the records were already in that state).
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
    /// What the change was, in a few words ("change appointment").
    pub fn what(&self) -> String {
        self.change["kind"]
            .as_str()
            .unwrap_or("change")
            .replace('_', " ")
    }
}
