//! The console's figures as JSON, for the phone app's supervisor view and for tools:
//! the same operations as the pages ([`crate::console`]), the same scoping and access
//! log. Authorised by a console session cookie or by a supervisor's or admin's device
//! token (`Authorization: Bearer …`). Documented by the OpenAPI file served at
//! `/api/openapi.json`, generated from these handlers' types (utoipa). Every error is
//! an `ErrorBody` `{code, message}`.

use super::{cookie, SESSION_COOKIE};
use crate::console::figures::{
    AgreementIssue, AreaFigures, AreaOverview, AreaRow, Bar, CategoryCount, DeviceStatus,
    DirectorStatus, LateReferral, OverdueChild, PlaceRef, QuarantineNote, TownshipOverview,
};
use crate::console::people::{self, Viewer};
use crate::console::{
    self as core, AgreementLine, ChildFile, ChildLine, ConsoleError, DirectorFile, FieldLine,
    FileRecord, Overview, PhotoLine,
};
use crate::error::ApiError;
use crate::handlers::AppState;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use utoipa::{IntoParams, OpenApi, ToSchema};
use uuid::Uuid;

/// The error body of every non-2xx answer (`sync_core::wire::ErrorBody`).
#[derive(ToSchema)]
#[schema(as = ErrorBody)]
#[allow(dead_code)]
pub struct ErrorBodySchema {
    /// Stable code, e.g. `unauthorized`, `out_of_scope`, `not_found`.
    code: String,
    /// A sentence (Chinese first, then English).
    message: String,
}

/// Who reads the API: a console session, or a supervisor's/admin's device.
pub struct ApiReader(pub Viewer);

impl FromRequestParts<AppState> for ApiReader {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let now = crate::model::clock::now_ms() as i64;
        if let Some(token) = cookie(&parts.headers, SESSION_COOKIE) {
            if let Some(v) = people::viewer(state.db.as_ref(), token, now).await? {
                return Ok(ApiReader(v));
            }
        }
        let bearer = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let Some(token) = bearer else {
            return Err(ApiError::unauthorized(
                "需要登录或设备令牌 · a console session or a device token is required",
            ));
        };
        let Some(device) = state
            .db
            .authenticate(
                crate::auth::token_hash(token),
                crate::model::clock::now_ms() as i64,
            )
            .await?
        else {
            return Err(ApiError::unauthorized("令牌无效 · unknown token"));
        };
        if device.revoked {
            return Err(crate::handlers::revoked());
        }
        let person = state
            .db
            .person_by_id(device.account_id)
            .await?
            .ok_or_else(|| ApiError::unauthorized("unknown account"))?;
        if !person.role.uses_console() {
            return Err(ApiError::forbidden(
                "out_of_scope",
                "儿童主任不能查看督导数据 · child directors do not read supervisor figures",
            ));
        }
        Ok(ApiReader(Viewer {
            account_id: person.account_id,
            login: person.login,
            name: person.name,
            role: person.role,
            place: person.place,
            principal: device.principal.clone(),
            csrf: String::new(),
            session_hash: [0; 32],
        }))
    }
}

impl From<ConsoleError> for ApiError {
    fn from(e: ConsoleError) -> ApiError {
        match e {
            ConsoleError::Forbidden => {
                ApiError::forbidden("out_of_scope", "您无权查看此区域的数据 · outside your area")
            }
            ConsoleError::NotFound => ApiError::not_found("没有找到 · not found"),
            ConsoleError::BadInput { code, zh, en } => {
                ApiError::new(StatusCode::BAD_REQUEST, code, format!("{zh} · {en}"))
            }
            ConsoleError::Store(s) => ApiError::from(s),
        }
    }
}

fn bad_query() -> ApiError {
    ApiError::bad_request("bad_query", "查询参数格式不对 · malformed query parameters")
}

fn bad_path() -> ApiError {
    ApiError::bad_request("bad_path", "路径参数格式不对 · malformed path parameter")
}

/// Which area.
#[derive(Deserialize, IntoParams)]
pub struct PlaceParam {
    /// A township, county or city code inside your area; default: your own area.
    place: Option<String>,
}

/// The overview of an area: a township in detail, or a county / the city by sub-area,
/// worst first. Logged as a view.
#[utoipa::path(get, path = "/api/v1/console/overview", params(PlaceParam),
    responses(
        (status = 200, description = "The overview", body = Overview),
        (status = 400, description = "Malformed query", body = ErrorBodySchema),
        (status = 401, description = "No session or token", body = ErrorBodySchema),
        (status = 403, description = "Outside your area", body = ErrorBodySchema),
        (status = 404, description = "No such place", body = ErrorBodySchema),
    ))]
pub async fn overview(
    State(state): State<AppState>,
    ApiReader(v): ApiReader,
    q: Result<Query<PlaceParam>, QueryRejection>,
) -> Result<Json<Overview>, ApiError> {
    let Query(q) = q.map_err(|_| bad_query())?;
    if q.place
        .as_ref()
        .is_some_and(|p| p.is_empty() || p.len() > 40)
    {
        return Err(ApiError::not_found("没有这个地区 · no such place"));
    }
    Ok(Json(
        core::overview(state.db.as_ref(), &v, q.place.as_deref()).await?,
    ))
}

/// One director: their phones and children. Logged as a view.
#[utoipa::path(get, path = "/api/v1/console/directors/{login}", params(("login" = String, Path, description = "The director's login")),
    responses(
        (status = 200, description = "The director", body = DirectorFile),
        (status = 400, description = "Malformed path", body = ErrorBodySchema),
        (status = 401, description = "No session or token", body = ErrorBodySchema),
        (status = 403, description = "Outside your area", body = ErrorBodySchema),
        (status = 404, description = "No such director", body = ErrorBodySchema),
    ))]
pub async fn director(
    State(state): State<AppState>,
    ApiReader(v): ApiReader,
    login: Result<Path<String>, PathRejection>,
) -> Result<Json<DirectorFile>, ApiError> {
    let Path(login) = login.map_err(|_| bad_path())?;
    Ok(Json(core::director(state.db.as_ref(), &v, &login).await?))
}

/// One child's file (ID numbers masked). Logged as a view.
#[utoipa::path(get, path = "/api/v1/console/children/{child_id}", params(("child_id" = Uuid, Path, description = "The child's id")),
    responses(
        (status = 200, description = "The child's file", body = ChildFile),
        (status = 400, description = "Malformed id", body = ErrorBodySchema),
        (status = 401, description = "No session or token", body = ErrorBodySchema),
        (status = 403, description = "Outside your area", body = ErrorBodySchema),
        (status = 404, description = "No such child", body = ErrorBodySchema),
    ))]
pub async fn child(
    State(state): State<AppState>,
    ApiReader(v): ApiReader,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<ChildFile>, ApiError> {
    let Path(id) = id.map_err(|_| bad_path())?;
    let id = Uuid::parse_str(&id).map_err(|_| bad_path())?;
    Ok(Json(
        core::child_file(state.db.as_ref(), &v, id, crate::console::lang::Lang::Zh).await?,
    ))
}

/// The OpenAPI description of the console API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tonghu console API",
        description = "The supervisor console's figures as JSON (童护 督导台)."
    ),
    paths(overview, director, child),
    components(schemas(
        Overview,
        TownshipOverview,
        AreaOverview,
        AreaRow,
        AreaFigures,
        PlaceRef,
        CategoryCount,
        DeviceStatus,
        DirectorStatus,
        OverdueChild,
        AgreementIssue,
        LateReferral,
        Bar,
        DirectorFile,
        ChildLine,
        ChildFile,
        FieldLine,
        FileRecord,
        AgreementLine,
        PhotoLine,
        QuarantineNote,
        ErrorBodySchema
    ))
)]
pub struct ConsoleApi;

/// `GET /api/openapi.json`.
pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ConsoleApi::openapi())
}
