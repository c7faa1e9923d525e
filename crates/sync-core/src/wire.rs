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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    /// Ids of the children whose latest visit is recorded on the device but not yet
    /// acknowledged by the server (ids only, never names): the supervisor console tells
    /// "visited on the phone, not yet synced" apart from "not visited" with them. Absent
    /// (older devices) means none known; at most [`MAX_UNSENT_VISIT_CHILDREN`] are read.
    #[serde(default)]
    pub unsent_visit_children: Vec<Uuid>,
}

/// Most child ids a heartbeat's `unsent_visit_children` carries (a director holds a few
/// hundred children at most; the server ignores any beyond this).
pub const MAX_UNSENT_VISIT_CHILDREN: usize = 5000;

#[derive(Clone, PartialEq, Serialize, Deserialize, Debug)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushRequest {
    pub protocol: u32,
    pub device_id: Uuid,
    pub changes: Vec<Change>,
    pub heartbeat: Heartbeat,
}

/// Stable codes: per-change rejection codes of a push answer, and the `code` of the
/// [`ErrorBody`] of non-2xx answers. Both sides name them from here.
pub mod codes {
    /// The change's clock is too far ahead of the server's: NOT held by the server;
    /// the device corrects its clock, re-stamps its unsent changes and sends again.
    /// The server stops reading a batch at the first such change.
    pub const CLOCK_AHEAD: &str = "clock_ahead";
    /// The account may not write this village (or the child moved away).
    pub const OUT_OF_SCOPE: &str = "out_of_scope";
    /// The same op_id arrived before with different content.
    pub const OP_ID_CONFLICT: &str = "op_id_conflict";
    /// The change (or the push) names another device than the token's.
    pub const WRONG_DEVICE: &str = "wrong_device";
    /// `device_seq` is not a positive 63-bit number.
    pub const BAD_DEVICE_SEQ: &str = "bad_device_seq";
    /// The `device_seq` is already held by another op_id of this device (a device
    /// mints each seq once): refused, not held.
    pub const DEVICE_SEQ_REUSED: &str = "device_seq_reused";
    /// The table is not in the schema.
    pub const UNKNOWN_TABLE: &str = "unknown_table";
    /// The field is not in the table's schema.
    pub const UNKNOWN_FIELD: &str = "unknown_field";
    /// The value does not have the field's type.
    pub const BAD_VALUE: &str = "bad_value";
    /// An append-only row takes only its creating write (then only `voided`).
    pub const WRITE_ONCE: &str = "write_once";
    /// The change's village is not the row's (or its child's) current village.
    pub const SCOPE_MISMATCH: &str = "scope_mismatch";
    /// A move names a village that does not exist.
    pub const UNKNOWN_VILLAGE: &str = "unknown_village";
    /// The field is written only by the server's own replica (a task's finding, the
    /// county's decision on a child): a device may not write it.
    pub const SERVER_ONLY: &str = "server_only";

    /// HTTP 401 body code: this device was revoked (a lost phone). It must wipe itself.
    pub const DEVICE_REVOKED: &str = "device_revoked";
    /// HTTP 401: no or an unknown token.
    pub const UNAUTHORIZED: &str = "unauthorized";
    /// HTTP 401 (enroll): the code does not exist or its secret is wrong.
    pub const INVALID_CODE: &str = "invalid_code";
    /// HTTP 401 (enroll): the code was used already.
    pub const CODE_USED: &str = "code_used";
    /// HTTP 401 (enroll): the code has expired.
    pub const CODE_EXPIRED: &str = "code_expired";
    /// HTTP 409 (enroll): the device id is enrolled already.
    pub const DEVICE_EXISTS: &str = "device_exists";
    /// HTTP 426: another protocol version.
    pub const PROTOCOL_VERSION: &str = "protocol_version";
    /// HTTP 413: more changes than one push may carry.
    pub const BATCH_TOO_LARGE: &str = "batch_too_large";
    /// HTTP 400: the body is not a valid request.
    pub const MALFORMED_JSON: &str = "malformed_json";
    /// HTTP 400: a blob name is not a lowercase hex SHA-256.
    pub const BAD_BLOB_NAME: &str = "bad_blob_name";
    /// HTTP 409 (blob chunk): the offset is not where the server is; see [`super::BlobConflict`].
    pub const OFFSET_MISMATCH: &str = "offset_mismatch";
    /// HTTP 422 (blob chunk): the bytes do not hash to the name; the upload is discarded.
    pub const HASH_MISMATCH: &str = "hash_mismatch";
    /// HTTP 413 (blob chunk): the announced total is too large.
    pub const BLOB_TOO_LARGE: &str = "blob_too_large";
    /// HTTP 503: the server cannot reach its storage; try again later.
    pub const STORAGE_UNAVAILABLE: &str = "storage_unavailable";
    /// HTTP 404.
    pub const NOT_FOUND: &str = "not_found";
    /// HTTP 400 (pull): the cursor is not a `server_seq` the server can hold (above
    /// 2^63 − 1).
    pub const BAD_CURSOR: &str = "bad_cursor";
    /// HTTP 415: a `Content-Encoding` (or content type) the server does not take.
    pub const UNSUPPORTED_MEDIA_TYPE: &str = "unsupported_media_type";
    /// HTTP 400: malformed query parameters.
    pub const BAD_QUERY: &str = "bad_query";
    /// HTTP 400: a malformed path parameter.
    pub const BAD_PATH: &str = "bad_path";
    /// HTTP 400 (blob chunk): an empty or oversized chunk, or one past `total`.
    pub const BAD_CHUNK: &str = "bad_chunk";
    /// HTTP 413: the body is larger than the endpoint takes.
    pub const BODY_TOO_LARGE: &str = "body_too_large";
    /// HTTP 400: the body could not be read.
    pub const BAD_BODY: &str = "bad_body";
    /// HTTP 405.
    pub const METHOD_NOT_ALLOWED: &str = "method_not_allowed";
    /// HTTP 408 / 504: the request took too long.
    pub const TIMEOUT: &str = "timeout";
    /// HTTP 500: a failure inside the server (a bug); the request may be sent again.
    pub const INTERNAL: &str = "internal";

    /// Every per-change rejection code, for reading one back from storage.
    pub const REJECTION_CODES: &[&str] = &[
        CLOCK_AHEAD,
        OUT_OF_SCOPE,
        OP_ID_CONFLICT,
        WRONG_DEVICE,
        BAD_DEVICE_SEQ,
        DEVICE_SEQ_REUSED,
        UNKNOWN_TABLE,
        UNKNOWN_FIELD,
        BAD_VALUE,
        WRITE_ONCE,
        SCOPE_MISMATCH,
        UNKNOWN_VILLAGE,
        SERVER_ONLY,
    ];

    /// Every code a refused request's body can carry ([`super::ErrorBody::code`]).
    pub const REQUEST_CODES: &[&str] = &[
        DEVICE_REVOKED,
        UNAUTHORIZED,
        INVALID_CODE,
        CODE_USED,
        CODE_EXPIRED,
        DEVICE_EXISTS,
        PROTOCOL_VERSION,
        BATCH_TOO_LARGE,
        MALFORMED_JSON,
        BAD_BLOB_NAME,
        OFFSET_MISMATCH,
        HASH_MISMATCH,
        BLOB_TOO_LARGE,
        STORAGE_UNAVAILABLE,
        NOT_FOUND,
        BAD_CURSOR,
        UNSUPPORTED_MEDIA_TYPE,
        BAD_QUERY,
        BAD_PATH,
        BAD_CHUNK,
        BODY_TOO_LARGE,
        BAD_BODY,
        METHOD_NOT_ALLOWED,
        TIMEOUT,
        INTERNAL,
    ];

    /// The static code equal to `code`, if it is a per-change rejection code.
    pub fn known(code: &str) -> Option<&'static str> {
        REJECTION_CODES.iter().copied().find(|c| *c == code)
    }
}

/// Route paths of the sync API, for the server's router and the device's client.
pub mod paths {
    /// `POST`: trade a one-time code for a token ([`super::EnrollRequest`]).
    pub const ENROLL: &str = "/v1/enroll";
    /// `POST`: [`super::PushRequest`] → [`super::PushResponse`].
    pub const PUSH: &str = "/v1/push";
    /// `POST`: [`super::PullRequest`] → [`super::PullResponse`].
    pub const PULL: &str = "/v1/pull";
    /// `POST`: [`super::VerifyRequest`] → [`super::VerifyResponse`].
    pub const VERIFY: &str = "/v1/verify";
    /// `GET` the bytes, `PUT ?offset=N&total=T` a chunk (router template).
    pub const BLOB: &str = "/v1/blobs/{sha256}";
    /// `GET` a [`super::BlobStatus`] (router template).
    pub const BLOB_STATUS: &str = "/v1/blobs/{sha256}/status";

    /// The path of a blob.
    pub fn blob(sha256: &str) -> String {
        format!("/v1/blobs/{sha256}")
    }
    /// The path of a blob's upload status.
    pub fn blob_status(sha256: &str) -> String {
        format!("/v1/blobs/{sha256}/status")
    }
    /// The path a chunk at `offset` of a blob of `total` bytes is put to.
    pub fn blob_chunk(sha256: &str, offset: u64, total: u64) -> String {
        format!("/v1/blobs/{sha256}?offset={offset}&total={total}")
    }
}

/// Whether `name` names a blob: 64 lowercase hex digits (its SHA-256).
pub fn is_blob_name(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The enrollment request: a device trades a one-time code for a bearer token.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnrollRequest {
    pub code: String,
    /// Minted on the device (UUIDv7).
    pub device_id: Uuid,
    pub device_name: String,
    pub app_version: String,
}

/// Never prints the code (a secret until used) or the device's name.
impl std::fmt::Debug for EnrollRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrollRequest")
            .field("code", &"<secret>")
            .field("device_id", &self.device_id)
            .field("app_version", &self.app_version)
            .finish_non_exhaustive()
    }
}

/// The enrollment answer. `token` is shown once; the server keeps only its hash.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnrollResponse {
    pub device_id: Uuid,
    pub token: String,
    pub account_id: i64,
    /// `director`, `supervisor`, `county_admin` or `city_admin`.
    pub role: String,
    /// Village codes this device holds (receives).
    pub scopes: Vec<String>,
    pub server_time_ms: u64,
    /// The name of each village in `scopes`, from the roster (a village the roster
    /// names no name for is absent; older servers send none).
    #[serde(default)]
    pub village_names: BTreeMap<String, String>,
}

impl std::fmt::Debug for EnrollResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrollResponse")
            .field("device_id", &self.device_id)
            .field("token", &"<redacted>")
            .field("account_id", &self.account_id)
            .field("role", &self.role)
            .field("scopes", &self.scopes.len())
            .finish()
    }
}

/// How much of a blob the server holds (`GET …/status`, and the answer to a chunk).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Debug)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BlobStatus {
    pub held_bytes: u64,
    pub complete: bool,
    pub server_time_ms: u64,
}

/// The 409 body of a chunk at the wrong offset: an [`ErrorBody`] plus where to continue.
#[derive(Clone, PartialEq, Serialize, Deserialize, Debug)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BlobConflict {
    /// [`codes::OFFSET_MISMATCH`].
    pub code: String,
    pub message: String,
    pub held_bytes: u64,
    #[serde(default)]
    pub complete: bool,
    pub server_time_ms: u64,
}

/// Why the server refused one change. The change stays on the device, visible.
#[derive(Clone, PartialEq, Serialize, Deserialize, Debug)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    /// The villages the device believes it holds (sorted). When they differ from the
    /// account's villages today, the answer names the villages ([`PullResponse::scopes`]
    /// is always there). Absent from older clients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<Vec<String>>,
}

fn include_own_when_absent() -> bool {
    true
}

/// A change as the server hands it out: with its place in the server's order.
#[derive(Clone, PartialEq, Serialize, Deserialize, Debug)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PulledChange {
    pub server_seq: u64,
    #[serde(flatten)]
    pub change: Change,
}

#[derive(Clone, PartialEq, Serialize, Deserialize, Debug)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PullResponse {
    pub changes: Vec<PulledChange>,
    /// The cursor to store once this page is applied: the last `server_seq` the server
    /// looked at for this page, which may lie beyond the last change sent (the puller's
    /// own changes are skipped), so a page of only its own changes still moves it on.
    pub next_cursor: u64,
    /// Whether more pages wait (a page may be empty and still have more after it).
    pub has_more: bool,
    pub server_time_ms: u64,
    /// The villages the device's account holds today (sorted), from the roster: the
    /// county may give a director another village or take one away, and the phone
    /// follows at its next pull. A village it did not hold before is fetched from the
    /// start of the feed. Absent from older servers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// Names of the villages in `scopes`, sent when they differ from the request's
    /// `held` (so the phone shows 二村 rather than a code).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub village_names: BTreeMap<String, String>,
    /// The newest app version the deployment offers (`0.2.0`), as its operator
    /// configured it: a phone running an older one tells the director, in plain words,
    /// that an update is available. Absent when none is configured (and from older
    /// servers); older phones ignore it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_app_version: Option<String>,
}

#[derive(Clone, PartialEq, Serialize, Deserialize, Debug)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VerifyRequest {
    pub protocol: u32,
    /// Village code → the device's checksum of it.
    #[cfg_attr(feature = "openapi", schema(value_type = std::collections::BTreeMap<String, ScopeChecksum>))]
    pub checksums: BTreeMap<Scope, ScopeChecksum>,
}

#[derive(Clone, PartialEq, Serialize, Deserialize, Debug)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VerifyResponse {
    /// Scopes whose server checksum differs from the device's: re-fetch these.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub mismatched: Vec<Scope>,
    #[cfg_attr(feature = "openapi", schema(value_type = std::collections::BTreeMap<String, ScopeChecksum>))]
    pub server: BTreeMap<Scope, ScopeChecksum>,
    pub server_time_ms: u64,
}

/// Error body of every non-2xx answer.
#[derive(Clone, PartialEq, Serialize, Deserialize, Debug)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

    #[test]
    fn a_heartbeat_from_an_older_device_has_no_unsent_visits() {
        let old: Heartbeat = serde_json::from_str(
            r#"{"pending_changes":2,"oldest_pending_secs":60,"app_version":"0.1","device_clock_ms":1,"free_storage_bytes":9}"#,
        )
        .unwrap();
        assert!(old.unsent_visit_children.is_empty());
        let child = Uuid::now_v7();
        let new = Heartbeat {
            unsent_visit_children: vec![child],
            ..old
        };
        let text = serde_json::to_string(&new).unwrap();
        assert!(text.contains(&child.to_string()));
        assert_eq!(serde_json::from_str::<Heartbeat>(&text).unwrap(), new);
    }

    #[test]
    fn blob_names_are_lowercase_hex_sha256() {
        assert!(is_blob_name(&"a".repeat(64)));
        assert!(!is_blob_name(&"A".repeat(64)));
        assert!(!is_blob_name("../etc/passwd"));
        assert_eq!(
            paths::blob_chunk("ab", 3, 9),
            "/v1/blobs/ab?offset=3&total=9"
        );
    }
}

#[cfg(test)]
mod debug_tests {
    use super::*;

    #[test]
    fn an_enrollment_request_never_prints_its_code() {
        let req = EnrollRequest {
            code: "k7f3-SECRET-9q".into(),
            device_id: Uuid::nil(),
            device_name: "王主任的手机".into(),
            app_version: "1.0".into(),
        };
        let shown = format!("{req:?}");
        assert!(
            !shown.contains("SECRET") && !shown.contains("王主任"),
            "{shown}"
        );
    }
}
