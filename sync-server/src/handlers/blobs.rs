//! Blobs: `GET /v1/blobs/{sha256}/status`, `PUT /v1/blobs/{sha256}?offset=N&total=T`,
//! `GET /v1/blobs/{sha256}`. A device may upload only blobs named by a row it may
//! write, and see or fetch only blobs named by a row in its scopes — and fetch one only
//! once a device of that row's village proved possession by uploading the bytes itself
//! ([`crate::store::BlobUploads`]); naming a hash is not enough.

use super::{now_ms, ApiPath, ApiQuery, AppState, Authenticated, Body};
use crate::blobs::{append_chunk, ChunkOutcome, MAX_BLOB_BYTES, MAX_CHUNK_BYTES};
use crate::error::ApiError;
use crate::model::DeviceAuth;
use crate::store::{BlobAccess, Uploader};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use sync_core::wire::{codes, is_blob_name, BlobConflict, BlobStatus};

/// Where a chunk goes.
#[derive(Deserialize, Debug)]
pub struct ChunkQuery {
    pub offset: u64,
    pub total: u64,
}

fn check_name(sha: &str) -> Result<(), ApiError> {
    if is_blob_name(sha) {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            codes::BAD_BLOB_NAME,
            "a blob is named by its lowercase hex SHA-256",
        ))
    }
}

async fn access(state: &AppState, sha: &str, scopes: &[String]) -> Result<BlobAccess, ApiError> {
    let access = state.db.blob_access(sha, scopes).await?;
    if access.named {
        Ok(access)
    } else {
        Err(ApiError::forbidden(
            codes::OUT_OF_SCOPE,
            "no record this device holds names this blob",
        ))
    }
}

fn reader(device: &DeviceAuth) -> Uploader<'_> {
    Uploader {
        device_id: device.device_id,
        scopes: &device.read_scopes,
    }
}

pub async fn status(
    State(state): State<AppState>,
    Authenticated(device): Authenticated,
    ApiPath(sha): ApiPath<String>,
) -> Result<Json<BlobStatus>, ApiError> {
    check_name(&sha)?;
    access(&state, &sha, &device.read_scopes).await?;
    let s = crate::blobs::status(
        state.db.as_ref(),
        state.blobs.as_ref(),
        &sha,
        reader(&device),
        now_ms() as i64,
    )
    .await?;
    Ok(Json(BlobStatus {
        held_bytes: s.held_bytes,
        complete: s.complete,
        server_time_ms: now_ms(),
    }))
}

pub async fn put_chunk(
    State(state): State<AppState>,
    Authenticated(device): Authenticated,
    ApiPath(sha): ApiPath<String>,
    ApiQuery(q): ApiQuery<ChunkQuery>,
    Body(chunk): Body,
) -> Result<Response, ApiError> {
    check_name(&sha)?;
    access(&state, &sha, &device.write_scopes).await?;
    if q.total == 0 || q.total > MAX_BLOB_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            codes::BLOB_TOO_LARGE,
            format!("a blob holds 1..={MAX_BLOB_BYTES} bytes"),
        ));
    }
    let ends = q.offset.checked_add(chunk.len() as u64);
    if chunk.is_empty() || chunk.len() > MAX_CHUNK_BYTES || ends.is_none_or(|e| e > q.total) {
        return Err(ApiError::bad_request(
            codes::BAD_CHUNK,
            format!("a chunk holds 1..={MAX_CHUNK_BYTES} bytes and ends at or before total"),
        ));
    }
    let uploader = Uploader {
        device_id: device.device_id,
        scopes: &device.write_scopes,
    };
    match append_chunk(
        state.db.as_ref(),
        state.blobs.as_ref(),
        &sha,
        uploader,
        q.offset,
        q.total,
        chunk.to_vec(),
        now_ms() as i64,
    )
    .await?
    {
        ChunkOutcome::Held {
            held_bytes,
            complete,
        } => Ok(Json(BlobStatus {
            held_bytes,
            complete,
            server_time_ms: now_ms(),
        })
        .into_response()),
        ChunkOutcome::Conflict { held_bytes } => Ok((
            StatusCode::CONFLICT,
            Json(BlobConflict {
                code: codes::OFFSET_MISMATCH.into(),
                message: format!(
                    "the server holds {held_bytes} bytes of this blob; continue from there"
                ),
                held_bytes,
                complete: false,
                server_time_ms: now_ms(),
            }),
        )
            .into_response()),
        ChunkOutcome::HashMismatch => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            codes::HASH_MISMATCH,
            "the uploaded bytes do not match the blob's SHA-256; upload again",
        )),
    }
}

pub async fn fetch(
    State(state): State<AppState>,
    Authenticated(device): Authenticated,
    ApiPath(sha): ApiPath<String>,
) -> Result<Response, ApiError> {
    check_name(&sha)?;
    if !access(&state, &sha, &device.read_scopes).await?.proven {
        // Not uploaded yet by a device of a village this device reads (maybe never:
        // naming a hash does not make another village's bytes readable).
        return Err(ApiError::not_found(
            "no device of your villages has uploaded this blob yet",
        ));
    }
    let bytes = state
        .blobs
        .get(&sha)
        .await?
        .ok_or_else(|| ApiError::not_found("the server does not hold this blob"))?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}
