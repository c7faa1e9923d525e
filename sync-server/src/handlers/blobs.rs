//! Blobs: `GET /v1/blobs/{sha256}/status`, `PUT /v1/blobs/{sha256}?offset=N&total=T`,
//! `GET /v1/blobs/{sha256}`. A device may upload only blobs named by a row it may
//! write, and see or fetch only blobs named by a row in its scopes.

use super::{now_ms, AppState, Authenticated, Body};
use crate::blobs::{append_chunk, ChunkOutcome, MAX_BLOB_BYTES, MAX_CHUNK_BYTES};
use crate::error::ApiError;
use axum::extract::{Path, Query, State};
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

async fn check_named(state: &AppState, sha: &str, scopes: &[String]) -> Result<(), ApiError> {
    if state.db.blob_named_in(sha, scopes).await? {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            codes::OUT_OF_SCOPE,
            "no record this device holds names this blob",
        ))
    }
}

pub async fn status(
    State(state): State<AppState>,
    Authenticated(device): Authenticated,
    Path(sha): Path<String>,
) -> Result<Json<BlobStatus>, ApiError> {
    check_name(&sha)?;
    check_named(&state, &sha, &device.read_scopes).await?;
    let s = crate::blobs::status(
        state.db.as_ref(),
        state.blobs.as_ref(),
        &sha,
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
    Path(sha): Path<String>,
    Query(q): Query<ChunkQuery>,
    Body(chunk): Body,
) -> Result<Response, ApiError> {
    check_name(&sha)?;
    check_named(&state, &sha, &device.write_scopes).await?;
    if q.total == 0 || q.total > MAX_BLOB_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            codes::BLOB_TOO_LARGE,
            format!("a blob holds 1..={MAX_BLOB_BYTES} bytes"),
        ));
    }
    if chunk.is_empty() || chunk.len() > MAX_CHUNK_BYTES || q.offset + chunk.len() as u64 > q.total
    {
        return Err(ApiError::bad_request(
            "bad_chunk",
            format!("a chunk holds 1..={MAX_CHUNK_BYTES} bytes and ends at or before total"),
        ));
    }
    match append_chunk(
        state.db.as_ref(),
        state.blobs.as_ref(),
        &sha,
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
    Path(sha): Path<String>,
) -> Result<Response, ApiError> {
    check_name(&sha)?;
    check_named(&state, &sha, &device.read_scopes).await?;
    if !state.db.blob_state(&sha).await?.complete {
        return Err(ApiError::not_found(
            "the server does not hold this blob yet",
        ));
    }
    let bytes = state
        .blobs
        .get(&sha)
        .await?
        .ok_or_else(|| ApiError::not_found("the server does not hold this blob"))?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}
