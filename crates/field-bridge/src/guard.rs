//! Only the bridge's own page may use the bridge: another web page open in the same
//! browser (a site the director visits, an ad) must not read a child's file, drive a
//! command, or show the app inside a frame of its own.
//!
//! Every request, before any route:
//! - its `Host` must be the bridge's own address (`127.0.0.1:<port>`, `localhost:<port>`,
//!   `[::1]:<port>`): a site whose name the attacker points at 127.0.0.1 (DNS
//!   rebinding) sends its own name, and another local port is another site;
//! - an `Origin`, when the browser sends one, must be the bridge's own origin (or one
//!   given with `--allow-origin`);
//! - a browser's `Sec-Fetch-Site` must say `same-origin`, or `none` (typed in the
//!   address bar, a bookmark): `cross-site` and `same-site` (another port of
//!   localhost) are refused, which keeps `<img src>` and `<script src>` of other pages
//!   away from `/api/image` and friends.
//!
//! Every answer carries `Content-Security-Policy: frame-ancestors 'none'` and
//! `X-Frame-Options: DENY` (no page can frame the app to trick a tap),
//! `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer` and
//! `Cross-Origin-Resource-Policy: same-origin`.
//!
//! A command (`POST /api/<command>`) must also come as `Content-Type:
//! application/json` or with an `X-Tonghu` header ([`command_marker`]): neither can be
//! sent by another site without a CORS preflight, which the bridge never grants.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use field_app::UserError;
use std::net::SocketAddr;
use std::sync::Arc;

/// The bridge's own addresses and origins.
#[derive(Clone, Debug)]
pub struct Own(Arc<OwnInner>);

#[derive(Debug)]
struct OwnInner {
    /// `host:port` values a request may name.
    hosts: Vec<String>,
    /// `scheme://host:port` values an `Origin` may be.
    origins: Vec<String>,
}

impl Own {
    /// The bridge listening at `addr`, and origins also allowed (development).
    pub fn new(addr: SocketAddr, allowed: &[String]) -> anyhow::Result<Own> {
        let port = addr.port();
        let mut hosts = vec![
            format!("127.0.0.1:{port}"),
            format!("localhost:{port}"),
            format!("[::1]:{port}"),
        ];
        if !hosts.contains(&addr.to_string()) {
            hosts.push(addr.to_string());
        }
        let mut origins: Vec<String> = hosts.iter().map(|h| format!("http://{h}")).collect();
        for o in allowed {
            let o = o.trim_end_matches('/').to_ascii_lowercase();
            let host = o
                .strip_prefix("http://")
                .or_else(|| o.strip_prefix("https://"))
                .ok_or_else(|| anyhow::anyhow!("--allow-origin {o:?}: give http://host:port"))?;
            hosts.push(host.to_string());
            origins.push(o.clone());
        }
        Ok(Own(Arc::new(OwnInner { hosts, origins })))
    }

    fn host_ok(&self, headers: &HeaderMap) -> bool {
        headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(|h| h.trim().to_ascii_lowercase())
            .is_some_and(|h| self.0.hosts.contains(&h))
    }

    fn origin_ok(&self, headers: &HeaderMap) -> bool {
        match headers.get(header::ORIGIN).map(|o| o.to_str()) {
            None => true,
            Some(Ok(o)) => self
                .0
                .origins
                .contains(&o.trim().trim_end_matches('/').to_ascii_lowercase()),
            Some(Err(_)) => false,
        }
    }
}

/// `Sec-Fetch-Site`, when a browser sends it, names the bridge's own page (or none).
fn fetch_site_ok(headers: &HeaderMap) -> bool {
    match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        None => true,
        Some(site) => matches!(site.trim(), "same-origin" | "none"),
    }
}

fn forbidden(zh: &str, en: &str) -> Response {
    let e = UserError::new(field_app::error::Code::Forbidden, zh, en);
    (StatusCode::FORBIDDEN, axum::Json(e)).into_response()
}

/// The middleware: refuses what does not come from the bridge's own page, and marks
/// every answer as not to be framed, sniffed or embedded by another site.
pub async fn guard(State(own): State<Own>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    let mut resp = if !own.host_ok(headers) {
        forbidden(
            "只能通过本机的应用地址使用（地址不对）",
            "refused: the Host is not this bridge's own address",
        )
    } else if !own.origin_ok(headers) || !fetch_site_ok(headers) {
        forbidden(
            "只能从本机的应用页面使用，其他网页不能使用",
            "refused: the request comes from another site's page",
        )
    } else {
        next.run(req).await
    };
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("frame-ancestors 'none'"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    resp
}

/// A command comes as JSON or with the `X-Tonghu` header.
pub fn command_marker(headers: &HeaderMap) -> Result<(), Response> {
    let json_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"));
    if json_body || headers.contains_key("x-tonghu") {
        Ok(())
    } else {
        Err(forbidden(
            "只能从本机的应用页面使用",
            "only the app's own page on this machine may call the bridge",
        ))
    }
}
