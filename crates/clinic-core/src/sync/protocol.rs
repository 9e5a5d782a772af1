//! What workstations and the server say to each other.

use super::feed::Change;
use super::mutation::Mutation;
use crate::error::{ClinicResult, ErrorCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Version of the push/pull protocol and of the documents it carries. A
/// workstation and a server with different versions refuse to exchange data
/// (`UPDATE_REQUIRED`), so neither ever writes a row it does not understand.
///
/// 3: pull pages carry the feed's chain value only on their first and last
/// change; the receiver computes the ones between.
/// 4: the chain covers each change's content hash (erasure-ready); number
/// blocks of any series; envelopes reserve the author's key id and
/// signature; a device restored from a backup renumbers what it queued.
/// 5: the server re-checks every change's author and references; staff
/// and roles are records changed by named mutations (no longer whole
/// documents); a change that finds nothing to do is a conflict; the feed
/// carries refused-change notes and the clinic's plan.
/// 6: the records of a repair come in pages ([`super::RecordsPage`]); a
/// change or record larger than [`super::MAX_RECORD_BYTES`] is refused.
/// 7: every change carries its author's signature (`author_key`,
/// `signature`), which the server verifies before anything else; audit
/// events carry theirs too ([`crate::signing`]).
pub const PROTOCOL_VERSION: u32 = 7;

/// A mutation as queued on a workstation: numbered per device without gaps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    pub device_seq: i64,
    pub id: Uuid,
    pub user_id: Option<Uuid>,
    /// The workstation's clock when the person made the change (data, not authority).
    pub at: DateTime<Utc>,
    pub mutation: Mutation,
    /// The id of its author's key that signed this change, and the
    /// signature over the change's canonical content
    /// ([`crate::signing::change_content`]); the server refuses a change
    /// without a good one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum OutcomeStatus {
    /// Applied as sent.
    Accepted,
    /// Refused because the record changed elsewhere (archived, merged, …):
    /// kept on the workstation for a person to resolve.
    Conflict,
    /// Refused as invalid or not allowed: kept and shown as well.
    Rejected,
}

impl OutcomeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeStatus::Accepted => "accepted",
            OutcomeStatus::Conflict => "conflict",
            OutcomeStatus::Rejected => "rejected",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Accepted, Self::Conflict, Self::Rejected]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

/// What became of one mutation on the server (recorded; a retry gets the same answer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Outcome {
    pub device_seq: i64,
    pub status: OutcomeStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<ErrorCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl Outcome {
    pub fn from_result<T>(device_seq: i64, r: &ClinicResult<T>) -> Self {
        match r {
            Ok(_) => Outcome {
                device_seq,
                status: OutcomeStatus::Accepted,
                code: None,
                message: None,
            },
            Err(e) => Outcome {
                device_seq,
                status: if e.code == ErrorCode::Conflict {
                    OutcomeStatus::Conflict
                } else {
                    OutcomeStatus::Rejected
                },
                code: Some(e.code),
                message: Some(e.message.clone()),
            },
        }
    }
}

/// Numbers `start` (inclusive) to `end` (exclusive) of a series, leased to one device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NumberBlock {
    pub series: String,
    pub start: i64,
    pub end: i64,
}

/// Unknown fields are refused (a client and server that disagree on the
/// shape stop at once instead of silently dropping what one of them sent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PushRequest {
    /// The sync protocol the workstation speaks; a server speaking another
    /// refuses the push (426, `UPDATE_REQUIRED`).
    pub protocol: u32,
    pub mutations: Vec<Envelope>,
    /// This device's audit events the server does not have yet, in order.
    #[serde(default)]
    pub audit: Vec<crate::audit::AuditEvent>,
    /// Series the device is running low on: lease another block of each.
    #[serde(default)]
    pub want_numbers: Vec<String>,
    /// The device's store was restored from a backup: retire every block
    /// leased to it before (the copy may have issued numbers the backup
    /// does not show), and lease it fresh ones of `want_numbers`.
    #[serde(default)]
    pub restored: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushResponse {
    pub epoch: Uuid,
    /// The last mutation of this device the server has applied.
    pub last_applied_seq: i64,
    /// Outcomes of every mutation in the request up to `last_applied_seq`
    /// (recorded ones for mutations applied before).
    pub outcomes: Vec<Outcome>,
    /// The request skipped sequence numbers: resend from `last_applied_seq + 1`.
    pub gap: bool,
    /// The server applied a *different* mutation under one of the sequence
    /// numbers sent (this device's store is a restored copy that numbered
    /// new changes again from an older position): from this number on,
    /// the device renumbers its unanswered changes after `last_applied_seq`
    /// and sends them again. Nothing was applied from the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renumber_from: Option<i64>,
    /// The last audit event of this device the server holds.
    pub audit_head: i64,
    /// Set when the uploaded audit events do not continue the chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_break: Option<crate::audit::ChainBreak>,
    /// New blocks leased to the device (of the series it asked for).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub number_blocks: Vec<NumberBlock>,
    /// The blocks leased before were retired (answer to `restored`).
    #[serde(default)]
    pub blocks_retired: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PullResponse {
    pub protocol: u32,
    pub epoch: Uuid,
    /// The tenant's last feed sequence when the page was read.
    pub head: i64,
    pub changes: Vec<Change>,
    /// [`super::page_checksum`] of `changes`.
    pub checksum: String,
    /// The last mutation of this device the server has applied.
    pub last_applied_seq: i64,
    /// False when the change at the workstation's cursor is not the one it
    /// applied (the server was restored from a backup and its history
    /// differs since): the workstation starts again from zero.
    #[serde(default = "yes")]
    pub cursor_ok: bool,
}

fn yes() -> bool {
    true
}
