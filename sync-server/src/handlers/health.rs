//! `GET /healthz` and `GET /metrics`.

use axum::http::header;
use axum::response::IntoResponse;

/// Liveness: the process answers.
pub async fn healthz() -> impl IntoResponse {
    axum::Json(serde_json::json!({ "status": "ok", "server_time_ms": super::now_ms() }))
}

/// Prometheus text exposition.
pub async fn metrics() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::metrics::render(),
    )
}
