//! The sync protocol's messages (HTTP bodies, JSON, compressed by the transport).
//!
//! Push: the device sends its outbox in `device_seq` order plus a heartbeat; the server
//! stores each accepted change exactly once (by `op_id`) and answers with the highest
//! `device_seq` it holds and a reason for each rejected change.
//! Pull: the device asks for changes in its scopes after a cursor, page by page, without
//! the changes it wrote itself (it holds them) unless it asks for them.
//! Verify: the device compares per-scope checksums after a pull.

use crate::change::{Change, Scope};
use crate::checksum::ScopeChecksum;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

/// The protocol version. A server answers a request with another major version with
/// HTTP 426 and the versions it speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// What a device reports about itself on every push, so a supervisor can see who is
/// behind before the data arrives.
#[derive(Clone, PartialEq, Serialize, Deserialize, Debug, Default)]
pub struct Heartbeat {
    /// Changes still in the outbox (including this batch).
    pub pending_changes: u64,
    /// Age in seconds of the oldest unsent change.
    pub oldest_pending_secs: u64,
    /// Blobs (photos, signatures) not yet uploaded.
    #[serde(default)]
    pub pending_blobs: u64,
    pub app_version: String,
    /// The device's wall clock when it sent the request, ms since the epoch.
    pub device_clock_ms: u64,
    /// Free storage on the device, bytes.
    pub free_storage_bytes: u64,
}

#[derive(Clone, PartialEq, Serialize, Deserialize, Debug)]
pub struct PushRequest {
    pub protocol: u32,
    pub device_id: Uuid,
    pub changes: Vec<Change>,
    pub heartbeat: Heartbeat,
}

/// Stable rejection codes the device acts on.
pub mod codes {
    /// The change's clock is too far ahead of the server's: NOT held by the server;
    /// the device corrects its clock, re-stamps its unsent changes and sends again.
    /// The server stops reading a batch at the first such change.
    pub const CLOCK_AHEAD: &str = "clock_ahead";
    /// The account may not write this village (or the child moved away).
    pub const OUT_OF_SCOPE: &str = "out_of_scope";
    /// The same op_id arrived before with different content.
    pub const OP_ID_CONFLICT: &str = "op_id_conflict";
    /// HTTP 401 body code: this device was revoked (a lost phone). It must wipe itself.
    pub const DEVICE_REVOKED: &str = "device_revoked";
}

/// Why the server refused one change. The change stays on the device, visible.
#[derive(Clone, PartialEq, Serialize, Deserialize, Debug)]
pub struct Rejection {
    pub op_id: Uuid,
    pub device_seq: u64,
    /// Stable code, e.g. `unknown_field`, `out_of_scope`, `clock_ahead`, `write_once`.
    pub code: String,
    /// A sentence for the device's status screen (English; the app translates codes).
    pub message: String,
}

impl Rejection {
    /// Whether the server did NOT keep this change and the device should send it again
    /// after fixing the cause (its clock). Every other rejection is final and held.
    pub fn is_retryable(&self) -> bool {
        self.code == codes::CLOCK_AHEAD
    }
}

#[derive(Clone, PartialEq, Serialize, Deserialize, Debug)]
pub struct PushResponse {
    /// Highest `device_seq` of this device the server holds (accepted or rejected):
    /// everything up to it may leave the outbox.
    pub max_device_seq: u64,
    pub accepted: u64,
    pub rejected: Vec<Rejection>,
    /// The server's clock, ms since the epoch, for the device to learn its offset.
    pub server_time_ms: u64,
}

#[derive(Clone, PartialEq, Serialize, Deserialize, Debug)]
pub struct PullRequest {
    pub protocol: u32,
    /// Last `server_seq` the device applied (0 at first).
    pub cursor: u64,
    /// Page size the device wants; the server may send fewer.
    pub limit: u32,
    /// Whether the page includes the puller's own changes where they first entered the
    /// feed (it holds them already; changes re-fed into a village because a child moved
    /// there are always sent). A device asks `false` for its pulls and `true` when it
    /// fetches villages afresh (verify found a mismatch). Absent — a client from before
    /// this field — means `true`: such a client gets what it always got.
    #[serde(default = "include_own_when_absent")]
    pub include_own: bool,
}

fn include_own_when_absent() -> bool {
    true
}

/// A change as the server hands it out: with its place in the server's order.
#[derive(Clone, PartialEq, Serialize, Deserialize, Debug)]
pub struct PulledChange {
    pub server_seq: u64,
    #[serde(flatten)]
    pub change: Change,
}

#[derive(Clone, PartialEq, Serialize, Deserialize, Debug)]
pub struct PullResponse {
    pub changes: Vec<PulledChange>,
    /// The cursor to store once this page is applied: the last `server_seq` the server
    /// looked at for this page, which may lie beyond the last change sent (the puller's
    /// own changes are skipped), so a page of only its own changes still moves it on.
    pub next_cursor: u64,
    /// Whether more pages wait (a page may be empty and still have more after it).
    pub has_more: bool,
    pub server_time_ms: u64,
}

#[derive(Clone, PartialEq, Serialize, Deserialize, Debug)]
pub struct VerifyRequest {
    pub protocol: u32,
    pub checksums: BTreeMap<Scope, ScopeChecksum>,
}

#[derive(Clone, PartialEq, Serialize, Deserialize, Debug)]
pub struct VerifyResponse {
    /// Scopes whose server checksum differs from the device's: re-fetch these.
    pub mismatched: Vec<Scope>,
    pub server: BTreeMap<Scope, ScopeChecksum>,
    pub server_time_ms: u64,
}

/// Error body of every non-2xx answer.
#[derive(Clone, PartialEq, Serialize, Deserialize, Debug)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pull_request_without_include_own_includes_own_changes() {
        let old: PullRequest =
            serde_json::from_str(r#"{"protocol":1,"cursor":5,"limit":100}"#).unwrap();
        assert!(
            old.include_own,
            "an older client keeps getting its own changes"
        );
        let new: PullRequest =
            serde_json::from_str(r#"{"protocol":1,"cursor":5,"limit":100,"include_own":false}"#)
                .unwrap();
        assert!(!new.include_own);
        let back: PullRequest =
            serde_json::from_value(serde_json::to_value(&new).unwrap()).unwrap();
        assert_eq!(back, new);
    }
}
