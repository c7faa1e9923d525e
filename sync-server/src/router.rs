//! The HTTP surface: routes, body limits, compression (gzip request bodies accepted,
//! responses compressed when the client asks), and a middleware that times every
//! request and stamps every answer with `X-Server-Time-Ms` so devices learn their
//! clock offset from any response, errors included.

use crate::blobs::MAX_CHUNK_BYTES;
use crate::error::ApiError;
use crate::handlers::{self, AppState};
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use sync_core::wire::paths;
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
        .route("/healthz", get(handlers::health::healthz))
        .route("/metrics", get(handlers::health::metrics))
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this endpoint does not take that method",
            )
        })
        .layer(middleware::from_fn(observe))
        .layer(CompressionLayer::new())
        .layer(RequestDecompressionLayer::new())
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
        .route("/console/overview", get(pages::overview))
        .route("/console/directors/{login}", get(pages::director))
        .route("/console/children/{id}", get(pages::child))
        .route(
            "/console/children/{id}/agreements/{agreement}",
            get(pages::agreement),
        )
        .route("/console/export/{file}", get(pages::export))
        .route("/console/admin", get(admin::page))
        .route("/console/admin/roster", post(admin::roster))
        .route("/console/admin/enroll-code", post(admin::enroll_code))
        .route("/console/admin/login-code", post(admin::login_code))
        .route("/console/admin/devices/{id}/revoke", post(admin::revoke))
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
        .route("/api/openapi.json", get(api::openapi))
        .layer(DefaultBodyLimit::max(2 * 1024 * 1024))
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
    res
}
