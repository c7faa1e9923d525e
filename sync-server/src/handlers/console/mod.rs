//! The console's HTTP surface: server-rendered pages for people (`pages`, `admin`),
//! the same figures as JSON (`api`, documented by the OpenAPI file it serves), and
//! what they share here: the session cookie, the viewer extractors, the language of the
//! page ([`Lang`], from the `tonghu_lang` cookie), CSRF checks, the [`guard`] every
//! console request passes (cross-site refusals, security headers) and the error page.
//! Handlers stay thin: they read the request, call [`crate::console`] and render.

pub mod admin;
pub mod api;
pub mod charts;
pub mod discovery;
pub mod pages;

use super::AppState;
pub use crate::console::lang::{Lang, Said, LANG_COOKIE};
use crate::console::people::{self, Viewer};
use crate::console::ConsoleError;
use askama::Template;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "tonghu_session";
/// The pre-login CSRF cookie (its token is also signed by the server, see
/// [`people::login_token`]).
pub const LOGIN_CSRF_COOKIE: &str = "tonghu_login_csrf";

/// What every console page and export may load: its own style sheet and script, its own
/// images; nothing inline, nothing from elsewhere, never inside a frame.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

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

impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Lang::from_cookie(cookie(&parts.headers, LANG_COOKIE)))
    }
}

/// Whether a state-changing request comes from the console's own pages: its `Origin`
/// names this server (the `Host` it was sent to, `X-Forwarded-Host` behind a proxy, with
/// `https` when `X-Forwarded-Proto` says so), or — without an `Origin` — its
/// `Sec-Fetch-Site` is `same-origin`. A request with neither (a script, an old
/// browser) is judged by its CSRF token alone.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let text = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    if let Some(origin) = text("origin") {
        let host = text("x-forwarded-host")
            .or_else(|| text("host"))
            .map(|h| h.split(',').next().unwrap_or("").trim());
        let scheme = if behind_tls(headers) { "https" } else { "http" };
        return host.is_some_and(|h| {
            !h.is_empty() && origin.eq_ignore_ascii_case(&format!("{scheme}://{h}"))
        });
    }
    match text("sec-fetch-site") {
        Some(site) => site == "same-origin" || site == "none",
        None => true,
    }
}

/// Every console request passes here: the page's language is read from its cookie; a
/// state-changing request from another site is refused (403) before any handler runs;
/// an error page is shown in the reader's language; every answer gets the security
/// headers (CSP without inline code, no framing, no sniffing, no caching of pages
/// with children's data, no referrer to other sites).
pub async fn guard(req: Request, next: Next) -> Response {
    let lang = Lang::from_cookie(cookie(req.headers(), LANG_COOKIE));
    let mut res = if !req.method().is_safe() && !same_origin(req.headers()) {
        PageError::cross_site().render(lang)
    } else {
        let mut res = next.run(req).await;
        if let Some(e) = res.extensions_mut().remove::<PageError>() {
            if lang != Lang::Zh {
                res = e.render(lang);
            }
        }
        res
    };
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
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

/// The error page: a status, a code and a sentence in Chinese and in English, shown in
/// the reader's language. A 403 renders nothing of what was asked for.
#[derive(Clone, Debug)]
pub struct PageError {
    pub status: StatusCode,
    pub code: &'static str,
    pub said: Said,
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
            said: Said::new(zh, en),
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
    /// A state-changing request sent from another site's page.
    pub fn cross_site() -> PageError {
        PageError::new(
            StatusCode::FORBIDDEN,
            "cross_site",
            "这个请求来自其他网站，已拒绝。请在督导台自己的页面上操作。",
            "This request came from another site and was refused. Use the console's own pages.",
        )
    }
    pub fn bad_form() -> PageError {
        PageError::new(
            StatusCode::BAD_REQUEST,
            "bad_form",
            "表单内容不完整或格式不对。",
            "The form is incomplete or malformed.",
        )
    }
    /// The error page in `l`.
    pub fn render(&self, l: Lang) -> Response {
        crate::metrics::error_answered(self.code);
        let body = ErrorPage {
            l,
            status: self.status.as_u16(),
            code: self.code,
            text: self.said.in_(&l),
        }
        .render()
        .unwrap_or_else(|_| self.said.in_(&l).to_string());
        (self.status, Html(body)).into_response()
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
    l: Lang,
    status: u16,
    code: &'a str,
    text: &'a str,
}

/// Rendered in Chinese; [`guard`] shows it again in the reader's language when that is
/// another (the error travels in the answer's extensions).
impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let mut res = self.render(Lang::Zh);
        res.extensions_mut().insert(self);
        res
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

/// The navigation every page shows.
pub struct Nav {
    pub name: String,
    pub role: crate::model::Role,
    pub admin: bool,
    pub csrf: String,
}

impl Nav {
    pub fn of(v: &Viewer) -> Nav {
        Nav {
            name: v.name.clone(),
            role: v.role,
            admin: v.role.administers(),
            csrf: v.csrf.clone(),
        }
    }
    /// The viewer's role, named in `l`.
    pub fn role_name(&self, l: &Lang) -> &'static str {
        l.pick(self.role.label_zh(), self.role.label_en())
    }
}
