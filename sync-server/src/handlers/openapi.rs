//! `GET /api/openapi.json`: the one OpenAPI description of everything the server
//! answers in JSON — the sync API (`/v1/…`, described here from `sync_core::wire`'s
//! own types) merged with the console's JSON API ([`super::console::api::ConsoleApi`]).
//! The test suite runs schemathesis against it on SQLite and PostgreSQL.
//!
//! The functions below are never called: they carry the `#[utoipa::path]` of each
//! sync route, whose handlers live in [`super::sync`], [`super::enroll`] and
//! [`super::blobs`].
#![allow(dead_code)]

use axum::Json;
use sync_core::wire::{
    BlobConflict, BlobStatus, EnrollRequest, EnrollResponse, ErrorBody, Heartbeat, PullRequest,
    PullResponse, PulledChange, PushRequest, PushResponse, Rejection, VerifyRequest,
    VerifyResponse,
};
use sync_core::{Change, ScopeChecksum};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi};

/// Trade a one-time enrollment code for a device token (shown once). Safe to retry:
/// the same code and `device_id` are answered again, with a new token (the previous
/// one stops working), until the device first uses its token.
#[utoipa::path(post, path = "/v1/enroll", tag = "sync", request_body = EnrollRequest,
    responses(
        (status = 200, description = "Enrolled (or the same enrollment answered again)", body = EnrollResponse),
        (status = 400, description = "Malformed body, or a name too long", body = ErrorBody),
        (status = 401, description = "invalid_code, code_used, code_expired", body = ErrorBody),
        (status = 404, description = "The code's account is gone", body = ErrorBody),
        (status = 409, description = "device_exists", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Unsupported Content-Encoding", body = ErrorBody),
    ))]
fn enroll() {}

/// Push outbox changes (in `device_seq` order) and a heartbeat. The answer holds the
/// highest contiguous `device_seq` the server holds and a reason per refused change.
#[utoipa::path(post, path = "/v1/push", tag = "sync", request_body = PushRequest,
    security(("device_token" = [])),
    responses(
        (status = 200, description = "Ingested", body = PushResponse),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "unauthorized, device_revoked", body = ErrorBody),
        (status = 403, description = "wrong_device", body = ErrorBody),
        (status = 413, description = "batch_too_large, body_too_large", body = ErrorBody),
        (status = 415, description = "Unsupported Content-Encoding", body = ErrorBody),
        (status = 426, description = "protocol_version", body = ErrorBody),
    ))]
fn push() {}

/// A page of the feed of the device's villages after `cursor`.
#[utoipa::path(post, path = "/v1/pull", tag = "sync", request_body = PullRequest,
    security(("device_token" = [])),
    responses(
        (status = 200, description = "A page", body = PullResponse),
        (status = 400, description = "Malformed body; bad_cursor (above 2^63-1)", body = ErrorBody),
        (status = 401, description = "unauthorized, device_revoked", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Unsupported Content-Encoding", body = ErrorBody),
        (status = 426, description = "protocol_version", body = ErrorBody),
    ))]
fn pull() {}

/// Compare per-village checksums; mismatched villages are re-fetched.
#[utoipa::path(post, path = "/v1/verify", tag = "sync", request_body = VerifyRequest,
    security(("device_token" = [])),
    responses(
        (status = 200, description = "Compared", body = VerifyResponse),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "unauthorized, device_revoked", body = ErrorBody),
        (status = 403, description = "out_of_scope", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Unsupported Content-Encoding", body = ErrorBody),
        (status = 426, description = "protocol_version", body = ErrorBody),
    ))]
fn verify() {}

/// A blob's name: its SHA-256 as 64 lowercase hex digits.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
struct BlobName {
    #[param(pattern = "^[0-9a-f]{64}$")]
    sha256: String,
}

/// Raw bytes.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
struct BlobBytes(Vec<u8>);

/// Where a chunk goes.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
struct ChunkPlace {
    /// The first byte of the chunk (the bytes the server holds).
    offset: u64,
    /// The blob's size (1..=10 MB).
    total: u64,
}

/// How much of a blob this device's villages hold (its own upload, or the complete
/// blob once a device of its villages uploaded it).
#[utoipa::path(get, path = "/v1/blobs/{sha256}/status", tag = "blobs", params(BlobName),
    security(("device_token" = [])),
    responses(
        (status = 200, description = "The state", body = BlobStatus),
        (status = 400, description = "bad_blob_name", body = ErrorBody),
        (status = 401, description = "unauthorized, device_revoked", body = ErrorBody),
        (status = 403, description = "out_of_scope: no row of this device names it", body = ErrorBody),
    ))]
fn blob_status() {}

/// One chunk of a resumable upload (at most 256 KiB).
#[utoipa::path(put, path = "/v1/blobs/{sha256}", tag = "blobs", params(BlobName, ChunkPlace),
    security(("device_token" = [])),
    request_body(content = BlobBytes, content_type = "application/octet-stream"),
    responses(
        (status = 200, description = "Held; complete once verified", body = BlobStatus),
        (status = 400, description = "bad_blob_name, bad_query, bad_chunk", body = ErrorBody),
        (status = 401, description = "unauthorized, device_revoked", body = ErrorBody),
        (status = 403, description = "out_of_scope: no row this device writes names it", body = ErrorBody),
        (status = 409, description = "offset_mismatch", body = BlobConflict),
        (status = 413, description = "blob_too_large, body_too_large", body = ErrorBody),
        (status = 415, description = "Unsupported Content-Encoding", body = ErrorBody),
        (status = 422, description = "hash_mismatch", body = ErrorBody),
    ))]
fn blob_put() {}

/// The bytes of a blob a device of this device's villages uploaded.
#[utoipa::path(get, path = "/v1/blobs/{sha256}", tag = "blobs", params(BlobName),
    security(("device_token" = [])),
    responses(
        (status = 200, description = "The bytes", content_type = "application/octet-stream", body = BlobBytes),
        (status = 400, description = "bad_blob_name", body = ErrorBody),
        (status = 401, description = "unauthorized, device_revoked", body = ErrorBody),
        (status = 403, description = "out_of_scope: no row of this device names it", body = ErrorBody),
        (status = 404, description = "Not uploaded by a device of these villages", body = ErrorBody),
    ))]
fn blob_get() {}

/// Liveness.
#[derive(utoipa::ToSchema)]
struct Health {
    status: String,
    server_time_ms: u64,
}

/// The process answers.
#[utoipa::path(get, path = "/healthz", tag = "ops",
    responses((status = 200, description = "Alive", body = Health)))]
fn healthz() {}

struct DeviceToken;

impl Modify for DeviceToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "device_token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The sync API's description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tonghu sync server API",
        description = "Push, pull, verify and resumable blobs for the field app (童护), and the supervisor console's JSON. Every error answer is an ErrorBody {code, message}."
    ),
    paths(enroll, push, pull, verify, blob_status, blob_put, blob_get, healthz,
        super::shared_ids::shared_id_numbers),
    components(schemas(
        EnrollRequest, EnrollResponse, PushRequest, PushResponse, Heartbeat, Change,
        Rejection, PullRequest, PullResponse, PulledChange, VerifyRequest, VerifyResponse,
        ScopeChecksum, BlobStatus, BlobConflict, ErrorBody, Health,
        crate::one_file::SharedIdNumber, crate::one_file::SharedFile
    )),
    modifiers(&DeviceToken)
)]
pub struct SyncApi;

/// The whole description: the sync API and the console's JSON API.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = SyncApi::openapi();
    doc.merge(super::console::api::ConsoleApi::openapi());
    doc
}

/// `GET /api/openapi.json`.
pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(document())
}
