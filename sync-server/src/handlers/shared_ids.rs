//! `GET /api/v1/console/shared-id-numbers`: ID numbers found in the child files of two
//! or more villages ([`crate::one_file`]), those with a file in the reader's area, for
//! the supervisor to have the files merged or the old one closed. Read like the
//! console's JSON API (a console session, or a supervisor's/admin's device token) and
//! logged as a view; ID numbers masked.

use super::console::api::ApiReader;
use super::AppState;
use crate::error::ApiError;
use crate::one_file::{self, SharedIdNumber};
use axum::extract::State;
use axum::Json;

/// The flagged ID numbers in the reader's area.
#[utoipa::path(get, path = "/api/v1/console/shared-id-numbers", tag = "console",
    responses(
        (status = 200, description = "ID numbers in two or more villages' files", body = Vec<SharedIdNumber>),
        (status = 401, description = "No session or token", body = sync_core::wire::ErrorBody),
        (status = 403, description = "A director's token", body = sync_core::wire::ErrorBody),
    ))]
pub async fn shared_id_numbers(
    State(state): State<AppState>,
    ApiReader(v): ApiReader,
) -> Result<Json<Vec<SharedIdNumber>>, ApiError> {
    let found = one_file::for_principal(state.db.as_ref(), &v.principal).await?;
    crate::console::log(
        state.db.as_ref(),
        &v,
        "view_shared_id_numbers",
        v.place.as_deref().unwrap_or(""),
    )
    .await
    .map_err(ApiError::from)?;
    Ok(Json(found))
}
