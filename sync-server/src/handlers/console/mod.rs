//! The console's HTTP surface: server-rendered pages for people (`pages`, `admin`),
//! the same figures as JSON (`api`, documented by the OpenAPI file it serves), and
//! what they share here: the session cookie, the viewer extractors, CSRF checks and
//! the error page. Handlers stay thin: they read the request, call
//! [`crate::console`] and render.

pub mod admin;
pub mod api;
pub mod charts;
pub mod pages;

use super::AppState;
use crate::console::people::{self, Viewer};
use crate::console::ConsoleError;
use askama::Template;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "tonghu_session";
/// The pre-login CSRF cookie (double submit on the login forms).
pub const LOGIN_CSRF_COOKIE: &str = "tonghu_login_csrf";

/// A cookie's value from the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Whether the request came over TLS (directly or through a proxy that says so).
pub fn behind_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, Path=/, Secure behind TLS.
pub fn set_cookie(name: &str, value: &str, max_age_s: i64, secure: bool) -> HeaderValue {
    let v = format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{}",
        if secure { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static("x=; Max-Age=0"))
}

/// The logged-in person of a console page. Without a live session the page answers
/// with a redirect to the login page.
pub struct PageViewer(pub Viewer);

impl FromRequestParts<AppState> for PageViewer {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let token = cookie(&parts.headers, SESSION_COOKIE).unwrap_or("");
        match people::viewer(
            state.db.as_ref(),
            token,
            crate::model::clock::now_ms() as i64,
        )
        .await
        {
            Ok(Some(v)) => Ok(PageViewer(v)),
            Ok(None) => Err(Redirect::to("/console/login").into_response()),
            Err(e) => Err(PageError::from(ConsoleError::Store(e)).into_response()),
        }
    }
}

/// The error page: a status, a code and a sentence in Chinese and in English. A 403
/// renders nothing of what was asked for.
#[derive(Debug)]
pub struct PageError {
    pub status: StatusCode,
    pub code: &'static str,
    pub zh: String,
    pub en: String,
}

impl PageError {
    pub fn new(
        status: StatusCode,
        code: &'static str,
        zh: impl Into<String>,
        en: impl Into<String>,
    ) -> PageError {
        PageError {
            status,
            code,
            zh: zh.into(),
            en: en.into(),
        }
    }
    pub fn csrf() -> PageError {
        PageError::new(
            StatusCode::FORBIDDEN,
            "csrf_mismatch",
            "页面已过期或请求来源不明，请刷新页面后重试。",
            "This form has expired or did not come from this site; reload the page and try again.",
        )
    }
}

impl From<ConsoleError> for PageError {
    fn from(e: ConsoleError) -> PageError {
        match e {
            ConsoleError::Forbidden => PageError::new(
                StatusCode::FORBIDDEN,
                "out_of_scope",
                "您无权查看此区域的数据。",
                "You may not see data of this area.",
            ),
            ConsoleError::NotFound => PageError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "没有找到该页面或记录。",
                "No such page or record.",
            ),
            ConsoleError::BadInput { code, zh, en } => {
                PageError::new(StatusCode::BAD_REQUEST, code, zh, en)
            }
            ConsoleError::Store(e) => {
                tracing::error!(error = %e, "console storage failure");
                PageError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage_unavailable",
                    "服务器暂时无法读取数据，请稍后再试。",
                    "The server cannot reach its storage right now; try again later.",
                )
            }
        }
    }
}

impl From<crate::error::StoreError> for PageError {
    fn from(e: crate::error::StoreError) -> PageError {
        PageError::from(ConsoleError::Store(e))
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    code: &'a str,
    zh: &'a str,
    en: &'a str,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        crate::metrics::error_answered(self.code);
        let body = ErrorPage {
            status: self.status.as_u16(),
            code: self.code,
            zh: &self.zh,
            en: &self.en,
        }
        .render()
        .unwrap_or_else(|_| format!("{} {}", self.zh, self.en));
        (self.status, Html(body)).into_response()
    }
}

/// Renders a template as a page (a render failure is a plain 500-free error page).
pub fn render<T: Template>(t: &T) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template render failed");
            PageError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "render_failed",
                "页面生成失败。",
                "The page could not be rendered.",
            )
            .into_response()
        }
    }
}

/// Checks a form's CSRF token against the session's.
pub fn check_csrf(viewer: &Viewer, submitted: &str) -> Result<(), PageError> {
    if people::csrf_ok(viewer, submitted) {
        Ok(())
    } else {
        Err(PageError::csrf())
    }
}

/// Milliseconds to a readable China time.
pub fn fmt_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| {
            t.with_timezone(&crate::model::clock::china())
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

/// The navigation every page shows.
pub struct Nav {
    pub name: String,
    pub role_zh: &'static str,
    pub role_en: &'static str,
    pub admin: bool,
    pub csrf: String,
}

impl Nav {
    pub fn of(v: &Viewer) -> Nav {
        Nav {
            name: v.name.clone(),
            role_zh: v.role.label_zh(),
            role_en: v.role.label_en(),
            admin: v.role.administers(),
            csrf: v.csrf.clone(),
        }
    }
}

/// A code's Chinese label, for templates.
pub fn zh(code: &str) -> String {
    domain::labels::code_label_zh(code).to_string()
}

/// Category codes as Chinese labels, for templates.
pub fn zh_list(codes: &[String]) -> String {
    codes.iter().map(|c| zh(c)).collect::<Vec<_>>().join("、")
}

/// Bytes as a short size (MB / GB), for templates.
pub fn size(bytes: &u64) -> String {
    let b = *bytes as f64;
    if b >= 1e9 {
        format!("{:.1} GB", b / 1e9)
    } else {
        format!("{:.0} MB", b / 1e6)
    }
}

/// Seconds as a short age (h / d), for templates.
pub fn age(secs: &u64) -> String {
    match *secs {
        0 => "-".into(),
        s if s < 3600 => format!("{} 分 min", s / 60),
        s if s < 86_400 => format!("{} 时 h", s / 3600),
        s => format!("{} 天 d", s / 86_400),
    }
}

/// A clock skew in ms as seconds / minutes, for templates.
pub fn skew(ms: &Option<i64>) -> String {
    match ms {
        None => "-".into(),
        Some(m) if m.abs() < 60_000 => format!("{} 秒 s", m / 1000),
        Some(m) if m.abs() < 86_400_000 => format!("{} 分 min", m / 60_000),
        Some(m) => format!("{} 天 d", m / 86_400_000),
    }
}
