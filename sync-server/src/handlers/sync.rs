//! `POST /v1/push`, `POST /v1/pull`, `POST /v1/verify`: the sync protocol of
//! [`sync_core::wire`].

use super::{check_protocol, now_ms, revoked, AnyDevice, ApiJson, AppState, Authenticated};
use crate::error::ApiError;
use crate::store::PushBatch;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use sync_core::wire::{
    codes, PullRequest, PullResponse, PushRequest, PushResponse, VerifyRequest, VerifyResponse,
};

/// Most changes one push may carry.
pub const MAX_PUSH_CHANGES: usize = 5000;
/// Most changes one pull page holds.
pub const MAX_PULL_LIMIT: u32 = 1000;

/// A revoked device's push is not applied: its changes go into quarantine (for a
/// supervisor to review and accept) and the answer is 401 `device_revoked`, upon which
/// the phone wipes itself.
pub async fn push(
    State(state): State<AppState>,
    AnyDevice(device): AnyDevice,
    ApiJson(req): ApiJson<PushRequest>,
) -> Result<Json<PushResponse>, ApiError> {
    check_protocol(req.protocol)?;
    if req.device_id != device.device_id {
        return Err(ApiError::forbidden(
            codes::WRONG_DEVICE,
            "the push names another device than the token's",
        ));
    }
    if device.revoked {
        let mine: Vec<_> = req
            .changes
            .into_iter()
            .filter(|c| c.device_id == device.device_id)
            .take(MAX_PUSH_CHANGES)
            .collect();
        state
            .db
            .quarantine(device.device_id, mine, now_ms() as i64)
            .await?;
        return Err(revoked());
    }
    if req.changes.len() > MAX_PUSH_CHANGES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            codes::BATCH_TOO_LARGE,
            format!("at most {MAX_PUSH_CHANGES} changes per push"),
        ));
    }
    let batch = PushBatch {
        changes: req.changes,
        heartbeat: req.heartbeat,
        now_ms: now_ms(),
        max_ahead_ms: state.settings.max_ahead_ms,
    };
    let out = state.db.push(&device, batch).await?;
    crate::metrics::push_handled();
    Ok(Json(PushResponse {
        max_device_seq: out.max_device_seq,
        accepted: out.accepted,
        rejected: out.rejected,
        server_time_ms: now_ms(),
    }))
}

pub async fn pull(
    State(state): State<AppState>,
    Authenticated(device): Authenticated,
    ApiJson(req): ApiJson<PullRequest>,
) -> Result<Json<PullResponse>, ApiError> {
    check_protocol(req.protocol)?;
    if req.cursor > i64::MAX as u64 {
        // Stored seqs are 63-bit; a larger cursor would be read as negative (the
        // whole feed).
        return Err(ApiError::bad_request(
            codes::BAD_CURSOR,
            format!("the cursor is at most {} (a server_seq)", i64::MAX),
        ));
    }
    let limit = req.limit.clamp(1, MAX_PULL_LIMIT);
    let page = state
        .db
        .pull(&device, req.cursor, limit, req.include_own, now_ms() as i64)
        .await?;
    crate::metrics::pull_handled(page.changes.len());
    // The account's villages today; their names only when the phone does not know them.
    let scopes = device.read_scopes.clone();
    let village_names = match &req.held {
        Some(held) if *held != scopes => state.db.place_names(&scopes).await?,
        _ => Default::default(),
    };
    Ok(Json(PullResponse {
        changes: page.changes,
        next_cursor: page.next_cursor,
        has_more: page.has_more,
        server_time_ms: now_ms(),
        scopes: Some(scopes),
        village_names,
        latest_app_version: state.settings.latest_app_version.clone(),
    }))
}

pub async fn verify(
    State(state): State<AppState>,
    Authenticated(device): Authenticated,
    ApiJson(req): ApiJson<VerifyRequest>,
) -> Result<Json<VerifyResponse>, ApiError> {
    check_protocol(req.protocol)?;
    if let Some(s) = req.checksums.keys().find(|s| !device.can_read(s.as_str())) {
        return Err(ApiError::forbidden(
            codes::OUT_OF_SCOPE,
            format!("this device does not hold village {s}"),
        ));
    }
    let scopes: Vec<String> = req.checksums.keys().map(|s| s.0.clone()).collect();
    let server = state.db.checksums(&scopes).await?;
    let mismatched = req
        .checksums
        .iter()
        .filter(|(s, c)| server.get(*s) != Some(*c))
        .map(|(s, _)| s.clone())
        .collect();
    Ok(Json(VerifyResponse {
        mismatched,
        server,
        server_time_ms: now_ms(),
    }))
}
