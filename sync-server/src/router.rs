//! The HTTP surface: routes, body limits, compression (gzip request bodies accepted,
//! responses compressed when the client asks), and a middleware that times every
//! request and stamps every answer with `X-Server-Time-Ms` so devices learn their
//! clock offset from any response, errors included. Every error answer carries an
//! [`ErrorBody`](sync_core::wire::ErrorBody): the handlers' own, and — through
//! [`error_bodies`] — those made by layers and by axum itself (415 for an unsupported
//! `Content-Encoding`, 405, 413, a panic caught as 500, …).

use crate::blobs::MAX_CHUNK_BYTES;
use crate::error::ApiError;
use crate::handlers::{self, AppState};
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use sync_core::wire::{codes, paths};
use tower_http::compression::CompressionLayer;
use tower_http::decompression::RequestDecompressionLayer;

/// Largest JSON body (after decompression).
pub const MAX_JSON_BODY: usize = 16 * 1024 * 1024;

/// The server's routes over `state`.
pub fn router(state: AppState) -> Router {
    let blob_routes = Router::new()
        .route(
            paths::BLOB,
            get(handlers::blobs::fetch).put(handlers::blobs::put_chunk),
        )
        .route(paths::BLOB_STATUS, get(handlers::blobs::status))
        .layer(DefaultBodyLimit::max(MAX_CHUNK_BYTES));
    Router::new()
        .route(paths::ENROLL, post(handlers::enroll::enroll))
        .route(paths::PUSH, post(handlers::sync::push))
        .route(paths::PULL, post(handlers::sync::pull))
        .route(paths::VERIFY, post(handlers::sync::verify))
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
        .merge(blob_routes)
        .merge(console_routes())
        .merge(discovery_routes())
        .route("/healthz", get(handlers::health::healthz))
        .route("/metrics", get(handlers::health::metrics))
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                codes::METHOD_NOT_ALLOWED,
                "this endpoint does not take that method",
            )
        })
        .route("/api/openapi.json", get(handlers::openapi::openapi))
        .route(
            "/api/v1/console/shared-id-numbers",
            get(handlers::shared_ids::shared_id_numbers),
        )
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panicked))
        .layer(CompressionLayer::new())
        .layer(RequestDecompressionLayer::new())
        .layer(middleware::from_fn(error_bodies))
        .layer(middleware::from_fn(observe))
        .with_state(state)
}

/// The supervisor console: pages under `/console`, JSON under `/api/v1/console`.
fn console_routes() -> Router<AppState> {
    use handlers::console::{admin, api, pages};
    Router::new()
        .route("/console", get(pages::home))
        .route("/console/login", get(pages::login_form).post(pages::login))
        .route(
            "/console/first-login",
            get(pages::first_login_form).post(pages::first_login),
        )
        .route("/console/logout", post(pages::logout))
        .route("/console/lang", post(pages::set_lang))
        .route("/console/static/console.css", get(pages::style))
        .route("/console/static/console.js", get(pages::script))
        .route("/console/overview", get(pages::overview))
        .route("/console/directors/{login}", get(pages::director))
        .route("/console/children/{id}", get(pages::child))
        .route("/console/children/{id}/photos/{photo}", get(pages::photo))
        .route(
            "/console/children/{id}/photos/{photo}/thumb",
            get(pages::photo_thumb),
        )
        .route(
            "/console/children/{id}/agreements/{agreement}",
            get(pages::agreement),
        )
        .route("/console/export/{file}", get(pages::export))
        .route("/console/admin", get(admin::page))
        .route("/console/admin/roster", post(admin::roster))
        .route("/console/admin/enroll-code", post(admin::enroll_code))
        .route("/console/admin/login-code", post(admin::login_code))
        .route("/console/admin/accounts/name", post(admin::rename))
        .route(
            "/console/admin/devices/{id}/revoke",
            get(admin::revoke_form).post(admin::revoke),
        )
        .route(
            "/console/admin/devices/{id}/quarantine",
            get(admin::quarantine),
        )
        .route(
            "/console/admin/devices/{id}/quarantine/accept",
            post(admin::accept_quarantine),
        )
        .route("/console/admin/access-log", get(admin::access_log))
        .route("/api/v1/console/overview", get(api::overview))
        .route("/api/v1/console/directors/{login}", get(api::director))
        .route("/api/v1/console/children/{child_id}", get(api::child))
        .layer(DefaultBodyLimit::max(2 * 1024 * 1024))
        .layer(middleware::from_fn(handlers::console::guard))
}

/// Largest list file the console takes (a city's 200,000 rows as CSV are ~25 MB).
pub const MAX_LIST_FILE: usize = 64 * 1024 * 1024;

/// Active discovery's console pages (`handlers::console::discovery`).
fn discovery_routes() -> Router<AppState> {
    use handlers::console::discovery as d;
    Router::new()
        .route("/console/discovery/preview", post(d::preview))
        .layer(DefaultBodyLimit::max(MAX_LIST_FILE))
        .merge(
            Router::new()
                .route("/console/discovery", get(d::home))
                .route("/console/discovery/mapping", post(d::mapping))
                .route("/console/discovery/commit", post(d::commit))
                .route("/console/discovery/list-kinds", post(d::add_kind))
                .route("/console/discovery/tasks", get(d::tasks))
                .route("/console/discovery/queue", get(d::queue))
                .route("/console/discovery/queue/{id}/assign", post(d::assign))
                .route("/console/discovery/confirmations", get(d::confirmations))
                .route(
                    "/console/discovery/confirmations/{child_id}",
                    post(d::decide),
                )
                .route(
                    "/console/discovery/standards",
                    get(d::standards).post(d::set_standard),
                )
                .route("/console/discovery/export.xlsx", get(d::export))
                .layer(DefaultBodyLimit::max(2 * 1024 * 1024)),
        )
        // The console's guard (cross-site refusal, CSP and the other headers, error
        // pages in the reader's language) on every discovery page too.
        .layer(middleware::from_fn(handlers::console::guard))
}

async fn observe(req: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().as_str().to_string();
    let mut res = next.run(req).await;
    crate::metrics::request_done(&route, &method, started.elapsed().as_secs_f64());
    if let Ok(v) = HeaderValue::from_str(&crate::model::clock::now_ms().to_string()) {
        res.headers_mut().insert("x-server-time-ms", v);
    }
    // Nothing this server answers is to be framed or sniffed (the console's own pages
    // get their full policy from `handlers::console::guard`).
    let h = res.headers_mut();
    h.entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    h.entry(header::X_FRAME_OPTIONS)
        .or_insert(HeaderValue::from_static("DENY"));
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(
            "default-src 'none'; frame-ancestors 'none'",
        ));
    res
}

/// A handler that panicked (a bug) answers 500 with an error body; the server goes on.
fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        codes::INTERNAL,
        "the server failed on this request; try again later",
    )
    .into_response()
}

/// The code and sentence of an error answer made without a body, by status.
fn generic_error(status: StatusCode) -> (&'static str, &'static str) {
    match status {
        StatusCode::BAD_REQUEST => (codes::BAD_BODY, "the request could not be read"),
        StatusCode::UNAUTHORIZED => (codes::UNAUTHORIZED, "a valid token is required"),
        StatusCode::FORBIDDEN => (codes::OUT_OF_SCOPE, "this is not allowed for this device"),
        StatusCode::NOT_FOUND => (codes::NOT_FOUND, "no such endpoint"),
        StatusCode::METHOD_NOT_ALLOWED => (
            codes::METHOD_NOT_ALLOWED,
            "this endpoint does not take that method",
        ),
        StatusCode::REQUEST_TIMEOUT | StatusCode::GATEWAY_TIMEOUT => {
            (codes::TIMEOUT, "the request took too long; try again")
        }
        StatusCode::PAYLOAD_TOO_LARGE => (
            codes::BODY_TOO_LARGE,
            "the request body is larger than this endpoint accepts",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            codes::UNSUPPORTED_MEDIA_TYPE,
            "unsupported Content-Encoding or content type; send identity or gzip JSON",
        ),
        StatusCode::SERVICE_UNAVAILABLE => (
            codes::STORAGE_UNAVAILABLE,
            "the server cannot serve this now; try again later",
        ),
        s if s.is_server_error() => (
            codes::INTERNAL,
            "the server failed on this request; try again later",
        ),
        _ => (codes::BAD_BODY, "the request was refused"),
    }
}

/// Gives an [`ErrorBody`](sync_core::wire::ErrorBody) to every error answer that has
/// none (see the module doc). JSON answers (the handlers' errors) and the console's
/// HTML pages are left as they are; the status and other headers are kept.
async fn error_bodies(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let typed = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json") || t.starts_with("text/html"));
    if typed {
        return res;
    }
    let (code, message) = generic_error(status);
    let mut out = ApiError::new(status, code, message).into_response();
    for (name, value) in res.headers() {
        if name != header::CONTENT_TYPE
            && name != header::CONTENT_LENGTH
            && name != header::CONTENT_ENCODING
        {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
}
