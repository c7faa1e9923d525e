//! `POST /v1/enroll`: a device trades a one-time code for a bearer token (the rules are
//! [`crate::enrollment`]'s).

use super::{ApiJson, AppState};
use crate::enrollment::{enroll_with_code, EnrollError};
use crate::error::ApiError;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use sync_core::wire::{EnrollRequest, EnrollResponse};

pub async fn enroll(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<EnrollRequest>,
) -> Result<Json<EnrollResponse>, ApiError> {
    let now = crate::model::clock::now_ms() as i64;
    enroll_with_code(state.db.as_ref(), req, now)
        .await
        .map(Json)
        .map_err(ApiError::from)
}

impl From<EnrollError> for ApiError {
    fn from(e: EnrollError) -> ApiError {
        let status = match &e {
            EnrollError::InvalidCode | EnrollError::CodeUsed | EnrollError::CodeExpired => {
                StatusCode::UNAUTHORIZED
            }
            EnrollError::DeviceExists => StatusCode::CONFLICT,
            EnrollError::TooLong => StatusCode::BAD_REQUEST,
            EnrollError::NoAccount(_) => StatusCode::NOT_FOUND,
            EnrollError::Store(_) => {
                let EnrollError::Store(s) = e else {
                    unreachable!()
                };
                return ApiError::from(s);
            }
        };
        ApiError::new(status, e.code(), e.to_string())
    }
}
