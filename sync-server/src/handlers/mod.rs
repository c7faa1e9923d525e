//! HTTP handlers, one file per area. Each reads a request, calls the [`Database`]
//! trait (or the blob service), and answers. Shared here: the app state, the JSON body
//! extractor that answers malformed input with an [`ErrorBody`](sync_core::wire::ErrorBody),
//! and the bearer-token extractor.

pub mod blobs;
pub mod console;
pub mod enroll;
pub mod health;
pub mod openapi;
pub mod shared_ids;
pub mod sync;

use crate::blobs::BlobStore;
use crate::error::ApiError;
use crate::model::DeviceAuth;
use crate::settings::Settings;
use crate::store::Database;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use bytes::Bytes;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use sync_core::wire::codes;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub db: Arc<dyn Database>,
    pub blobs: Arc<dyn BlobStore>,
    pub settings: Arc<Settings>,
    /// Active discovery: this process's server replica and pending previews.
    pub discovery: Arc<crate::discovery::Discovery>,
}

pub use crate::model::clock::now_ms;

/// The request body, bounded by the route's body limit, as raw bytes; an oversized or
/// unreadable body is answered with an error body.
pub struct Body(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Bytes::from_request(req, state).await {
            Ok(b) => Ok(Body(b)),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                codes::BODY_TOO_LARGE,
                "the request body is larger than this endpoint accepts",
            )),
            Err(e) => Err(ApiError::new(
                e.status(),
                codes::BAD_BODY,
                "the request body could not be read",
            )),
        }
    }
}

/// A path parameter; a malformed one is a 400 `bad_path` with an error body.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|_| ApiError::bad_request(codes::BAD_PATH, "a path parameter is malformed"))
    }
}

/// Query parameters; missing or malformed ones are a 400 `bad_query` with an error body.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|_| {
                ApiError::bad_request(
                    codes::BAD_QUERY,
                    "the query parameters are missing or malformed",
                )
            })
    }
}

/// A JSON body; malformed JSON or a wrong shape is a 400 `malformed_json`.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Body(bytes) = Body::from_request(req, state).await?;
        serde_json::from_slice(&bytes).map(ApiJson).map_err(|e| {
            // serde's message names the position and the expected shape, never values.
            ApiError::bad_request(
                codes::MALFORMED_JSON,
                format!(
                    "the body is not a valid request: {}",
                    sanitize(&e.to_string())
                ),
            )
        })
    }
}

fn sanitize(msg: &str) -> String {
    // Keep serde's structural message but drop quoted input fragments.
    let mut out = String::new();
    let mut in_quote = false;
    for ch in msg.chars() {
        if ch == '`' || ch == '"' {
            in_quote = !in_quote;
            if in_quote {
                out.push('…');
            }
            continue;
        }
        if !in_quote {
            out.push(ch);
        }
    }
    out.chars().take(200).collect()
}

/// The device behind the bearer token. Unknown token: 401 `unauthorized`; revoked
/// device: 401 `device_revoked` (the phone wipes itself).
pub struct Authenticated(pub DeviceAuth);

/// The device behind the bearer token, even a revoked one: only the push handler takes
/// this, to keep a lost phone's unsent changes in quarantine before it wipes itself.
pub struct AnyDevice(pub DeviceAuth);

/// 401 for a revoked device.
pub fn revoked() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        codes::DEVICE_REVOKED,
        "this device was revoked; its data must be wiped",
    )
}

async fn device_of(parts: &Parts, state: &AppState) -> Result<DeviceAuth, ApiError> {
    let token = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(|| ApiError::unauthorized("a bearer token is required"))?;
    state
        .db
        .authenticate(
            crate::auth::token_hash(token),
            crate::model::clock::now_ms() as i64,
        )
        .await?
        .ok_or_else(|| ApiError::unauthorized("unknown token"))
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let device = device_of(parts, state).await?;
        if device.revoked {
            return Err(revoked());
        }
        Ok(Authenticated(device))
    }
}

impl FromRequestParts<AppState> for AnyDevice {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(AnyDevice(device_of(parts, state).await?))
    }
}

/// 426 unless the request speaks this server's protocol version.
pub fn check_protocol(protocol: u32) -> Result<(), ApiError> {
    if protocol == sync_core::wire::PROTOCOL_VERSION {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UPGRADE_REQUIRED,
            codes::PROTOCOL_VERSION,
            format!(
                "this server speaks protocol version {}; update the app",
                sync_core::wire::PROTOCOL_VERSION
            ),
        ))
    }
}
