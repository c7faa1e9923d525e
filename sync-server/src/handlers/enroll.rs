//! `POST /v1/enroll`: a device trades a one-time code for a bearer token.

use super::{now_ms, ApiJson, AppState};
use crate::error::ApiError;
use crate::store::{EnrollRefusal, NewDevice};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The enrollment request.
#[derive(Deserialize, Serialize, Debug, Clone)]
pub struct EnrollRequest {
    pub code: String,
    /// Minted on the device (UUIDv7).
    pub device_id: Uuid,
    pub device_name: String,
    pub app_version: String,
}

/// The enrollment answer. `token` is shown once; the server keeps only its hash.
#[derive(Deserialize, Serialize, Clone)]
pub struct EnrollResponse {
    pub device_id: Uuid,
    pub token: String,
    pub account_id: i64,
    pub role: String,
    /// Village codes this device holds (receives).
    pub scopes: Vec<String>,
    pub server_time_ms: u64,
}

fn bad_code(code: &'static str, message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, code, message)
}

pub async fn enroll(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<EnrollRequest>,
) -> Result<Json<EnrollResponse>, ApiError> {
    if req.device_name.chars().count() > 100 || req.app_version.chars().count() > 40 {
        return Err(ApiError::bad_request(
            "bad_value",
            "device_name or app_version too long",
        ));
    }
    let (code_id, secret) = crate::auth::split_code(&req.code)
        .ok_or_else(|| bad_code("invalid_code", "this enrollment code is not valid"))?;
    let record = state
        .db
        .enroll_code(&code_id)
        .await?
        .ok_or_else(|| bad_code("invalid_code", "this enrollment code is not valid"))?;
    let hash = record.secret_hash.clone();
    let ok = tokio::task::spawn_blocking(move || crate::auth::verify_secret(&secret, &hash))
        .await
        .unwrap_or(false);
    if !ok {
        return Err(bad_code(
            "invalid_code",
            "this enrollment code is not valid",
        ));
    }
    if record.used {
        return Err(bad_code(
            "code_used",
            "this enrollment code was already used; ask for a new one",
        ));
    }
    let now = now_ms();
    if record.expires_ms <= now as i64 {
        return Err(bad_code(
            "code_expired",
            "this enrollment code has expired; ask for a new one",
        ));
    }
    let (token, token_hash) = crate::auth::mint_token();
    let device = NewDevice {
        device_id: req.device_id,
        name: req.device_name,
        app_version: req.app_version,
        token_hash,
    };
    match state.db.enroll_device(&code_id, device, now as i64).await? {
        Ok(auth) => Ok(Json(EnrollResponse {
            device_id: auth.device_id,
            token,
            account_id: auth.account_id,
            role: auth.role.as_str().to_string(),
            scopes: auth.read_scopes,
            server_time_ms: now_ms(),
        })),
        Err(EnrollRefusal::CodeUsed) => Err(bad_code(
            "code_used",
            "this enrollment code was already used; ask for a new one",
        )),
        Err(EnrollRefusal::DeviceExists) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "device_exists",
            "this device id is already enrolled",
        )),
    }
}
