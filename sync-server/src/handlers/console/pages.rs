//! The console's pages for everyone who logs in: login, first login, logout, the
//! language switch, the overview of their area (township, county or city), a director,
//! a child's file with its photos, a signed agreement (printable), and the exports.

use super::{
    charts, check_csrf, cookie, render, set_cookie, Lang, Nav, PageError, PageViewer, Said,
    LANG_COOKIE, LOGIN_CSRF_COOKIE, SESSION_COOKIE,
};
use crate::console::export::{self, Sheet};
use crate::console::figures::{AreaOverview, TownshipOverview};
use crate::console::people::{self, LoginRefusal, NewSession};
use crate::console::{
    self as core, AgreementView, ChildFile, ConsoleError, DirectorFile, Overview,
};
use crate::handlers::AppState;
use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use uuid::Uuid;

fn now() -> i64 {
    crate::model::clock::now_ms() as i64
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    l: Lang,
    csrf: String,
    first: bool,
    login: String,
    error: Option<Said>,
}

/// The login form's CSRF token: the browser's own if it is still one this server
/// signed, else a new one (sent as a cookie too: double submit, and signed by the
/// server so a token a page elsewhere planted in the cookie is worth nothing).
async fn login_token(state: &AppState, headers: &HeaderMap) -> Result<(String, bool), PageError> {
    let key = state.db.console_secret().await?;
    let now = now();
    Ok(match cookie(headers, LOGIN_CSRF_COOKIE) {
        Some(c) if people::login_token_ok(&key, c, now) => (c.to_string(), false),
        _ => (people::login_token(&key, now), true),
    })
}

async fn login_page(
    state: &AppState,
    headers: &HeaderMap,
    l: Lang,
    first: bool,
    login: &str,
    err: Option<&LoginRefusal>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let (csrf, fresh) = login_token(state, headers).await?;
    let page = LoginPage {
        l,
        csrf: csrf.clone(),
        first,
        login: login.chars().take(40).collect(),
        error: err.map(|e| Said::new(e.zh(), e.en())),
    };
    let mut res = render(&page);
    *res.status_mut() = status;
    if fresh {
        res.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(LOGIN_CSRF_COOKIE, &csrf, 3600, super::behind_tls(headers)),
        );
    }
    Ok(res)
}

pub async fn login_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    l: Lang,
) -> Result<Response, PageError> {
    login_page(&state, &headers, l, false, "", None, StatusCode::OK).await
}

pub async fn first_login_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    l: Lang,
) -> Result<Response, PageError> {
    login_page(&state, &headers, l, true, "", None, StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct LoginForm {
    login: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    repeat: String,
    csrf: String,
}

/// The submitted token is the cookie's and this server signed it within the hour.
async fn login_csrf_ok(
    state: &AppState,
    headers: &HeaderMap,
    submitted: &str,
) -> Result<bool, PageError> {
    let key = state.db.console_secret().await?;
    Ok(
        cookie(headers, LOGIN_CSRF_COOKIE).is_some_and(|c| c == submitted)
            && people::login_token_ok(&key, submitted, now()),
    )
}

fn logged_in(headers: &HeaderMap, s: NewSession) -> Response {
    let mut res = Redirect::to("/console/overview").into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(
            SESSION_COOKIE,
            &s.token,
            people::SESSION_MS / 1000,
            super::behind_tls(headers),
        ),
    );
    res.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(LOGIN_CSRF_COOKIE, "", 0, super::behind_tls(headers)),
    );
    res
}

async fn refused(
    state: &AppState,
    headers: &HeaderMap,
    l: Lang,
    first: bool,
    login: &str,
    r: LoginRefusal,
) -> Result<Response, PageError> {
    let status = match r {
        LoginRefusal::Locked { .. } => StatusCode::TOO_MANY_REQUESTS,
        LoginRefusal::BadNewPassword => StatusCode::BAD_REQUEST,
        _ => StatusCode::UNAUTHORIZED,
    };
    crate::metrics::error_answered(r.code());
    login_page(state, headers, l, first, login, Some(&r), status).await
}

pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    l: Lang,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(f) = form.map_err(|_| PageError::bad_form())?;
    if !login_csrf_ok(&state, &headers, &f.csrf).await? {
        return Err(PageError::csrf());
    }
    match people::login(state.db.as_ref(), &f.login, &f.password, now()).await? {
        Ok(s) => Ok(logged_in(&headers, s)),
        Err(r) => refused(&state, &headers, l, false, &f.login, r).await,
    }
}

pub async fn first_login(
    State(state): State<AppState>,
    headers: HeaderMap,
    l: Lang,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(f) = form.map_err(|_| PageError::bad_form())?;
    if !login_csrf_ok(&state, &headers, &f.csrf).await? {
        return Err(PageError::csrf());
    }
    match people::first_login(
        state.db.as_ref(),
        &f.login,
        &f.code,
        &f.new_password,
        &f.repeat,
        now(),
    )
    .await?
    {
        Ok(s) => Ok(logged_in(&headers, s)),
        Err(r) => refused(&state, &headers, l, true, &f.login, r).await,
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    PageViewer(v): PageViewer,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(f) = form.map_err(|_| PageError::bad_form())?;
    check_csrf(&v, &f.csrf)?;
    state.db.end_session(v.session_hash).await?;
    let mut res = Redirect::to("/console/login").into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, "", 0, super::behind_tls(&headers)),
    );
    Ok(res)
}

#[derive(Deserialize)]
pub struct LangForm {
    lang: String,
}

/// `POST /console/lang`: the language switch. Sets the `tonghu_lang` cookie (a year)
/// and goes back to the page it was pressed on (the `Referer` of this site's own
/// pages; a page that answered a form goes to its list).
pub async fn set_lang(
    headers: HeaderMap,
    form: Result<Form<LangForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(f) = form.map_err(|_| PageError::bad_form())?;
    let l = Lang::from_cookie(Some(f.lang.as_str()));
    let back = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(back_to)
        .unwrap_or_else(|| "/console/overview".into());
    let mut res = Redirect::to(&back).into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(
            LANG_COOKIE,
            l.as_str(),
            365 * 86_400,
            super::behind_tls(&headers),
        ),
    );
    Ok(res)
}

/// Where the language switch returns to: the console page the referrer names (its
/// path and query; never another site), or the page a form's answer belongs to.
fn back_to(referer: &str) -> Option<String> {
    let path = referer
        .split_once("://")
        .map(|(_, rest)| rest.find('/').map(|i| &rest[i..]).unwrap_or("/"))
        .unwrap_or(referer);
    if !path.starts_with("/console") || path.contains("//") || path.contains('\\') {
        return None;
    }
    let bare = path.split('?').next().unwrap_or(path);
    let page = if bare.ends_with("/quarantine/accept") {
        bare.trim_end_matches("/accept").to_string()
    } else if bare.ends_with("/revoke") {
        bare.to_string()
    } else if bare.starts_with("/console/admin/")
        && !bare.ends_with("/quarantine")
        && bare != "/console/admin/access-log"
    {
        "/console/admin".to_string()
    } else if bare == "/console/lang" || bare == "/console/logout" {
        "/console/overview".to_string()
    } else {
        path.to_string()
    };
    Some(page)
}

/// `GET /console/static/console.css`: the console's one style sheet (CSP: no inline
/// styles).
pub async fn style() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../../templates/console.css"),
    )
        .into_response()
}

/// `GET /console/static/console.js`: the console's one script (print buttons).
pub async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../../templates/console.js"),
    )
        .into_response()
}

pub async fn home() -> Redirect {
    Redirect::to("/console/overview")
}

#[derive(Deserialize)]
pub struct PlaceQuery {
    place: Option<String>,
}

#[derive(Template)]
#[template(path = "township.html")]
struct TownshipPage {
    l: Lang,
    nav: Nav,
    o: TownshipOverview,
    visits_chart: String,
    freshness_chart: String,
    back: Option<(String, String)>,
}

#[derive(Template)]
#[template(path = "area.html")]
struct AreaPage {
    l: Lang,
    nav: Nav,
    o: AreaOverview,
    county: bool,
    visits_chart: String,
    freshness_chart: String,
    back: Option<(String, String)>,
}

/// The link up from `code` to the place above, when the viewer reads that too: `code`
/// is inside the viewer's area (checked), so the place above is theirs unless `code` is
/// their own area.
fn back_link(
    viewer: &crate::console::people::Viewer,
    code: &str,
    parent: &Option<crate::console::figures::PlaceRef>,
) -> Option<(String, String)> {
    let p = parent.as_ref()?;
    (viewer.place.as_deref() != Some(code)).then(|| (p.code.clone(), p.name.clone()))
}

pub async fn overview(
    State(state): State<AppState>,
    PageViewer(v): PageViewer,
    l: Lang,
    Query(q): Query<PlaceQuery>,
) -> Result<Response, PageError> {
    let o = core::overview(state.db.as_ref(), &v, q.place.as_deref()).await?;
    Ok(match o {
        Overview::Township(o) => {
            let back = back_link(&v, &o.township.code, &o.parent);
            render(&TownshipPage {
                nav: Nav::of(&v),
                visits_chart: charts::bars(
                    l.t("chart.visits_per_week"),
                    &o.visits_per_week,
                    "#2f6fb0",
                ),
                freshness_chart: charts::bars(
                    l.t("chart.last_sync"),
                    &charts::freshness_in(l, &o.sync_freshness),
                    "#4a9a5b",
                ),
                back,
                o,
                l,
            })
        }
        Overview::County(o) | Overview::City(o) => {
            let county = o.area.kind == "county";
            let back = back_link(&v, &o.area.code, &o.parent);
            render(&AreaPage {
                nav: Nav::of(&v),
                county,
                visits_chart: charts::bars(
                    l.t("chart.visits_per_week"),
                    &o.visits_per_week,
                    "#2f6fb0",
                ),
                freshness_chart: charts::bars(
                    l.t("chart.last_sync"),
                    &charts::freshness_in(l, &o.sync_freshness),
                    "#4a9a5b",
                ),
                back,
                o,
                l,
            })
        }
    })
}

#[derive(Template)]
#[template(path = "director.html")]
struct DirectorPage {
    l: Lang,
    nav: Nav,
    f: DirectorFile,
}

pub async fn director(
    State(state): State<AppState>,
    PageViewer(v): PageViewer,
    l: Lang,
    Path(login): Path<String>,
) -> Result<Response, PageError> {
    let f = core::director(state.db.as_ref(), &v, &login).await?;
    Ok(render(&DirectorPage {
        l,
        nav: Nav::of(&v),
        f,
    }))
}

#[derive(Template)]
#[template(path = "child.html")]
struct ChildPage {
    l: Lang,
    nav: Nav,
    c: ChildFile,
}

fn parse_id(s: &str) -> Result<Uuid, PageError> {
    Uuid::parse_str(s).map_err(|_| PageError::from(ConsoleError::NotFound))
}

pub async fn child(
    State(state): State<AppState>,
    PageViewer(v): PageViewer,
    l: Lang,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let c = core::child_file(state.db.as_ref(), &v, parse_id(&id)?, l).await?;
    Ok(render(&ChildPage {
        l,
        nav: Nav::of(&v),
        c,
    }))
}

/// `GET /console/children/{id}/photos/{photo}[/thumb]`: a photo of the child's file
/// (or its thumbnail), read from the blob store once a phone of the child's village
/// uploaded it; each fetch is written to the access log.
pub async fn photo(
    State(state): State<AppState>,
    PageViewer(v): PageViewer,
    Path(p): Path<(String, String)>,
) -> Result<Response, PageError> {
    photo_bytes(&state, &v, &p.0, &p.1, false).await
}

pub async fn photo_thumb(
    State(state): State<AppState>,
    PageViewer(v): PageViewer,
    Path(p): Path<(String, String)>,
) -> Result<Response, PageError> {
    photo_bytes(&state, &v, &p.0, &p.1, true).await
}

async fn photo_bytes(
    state: &AppState,
    v: &crate::console::people::Viewer,
    child: &str,
    photo: &str,
    thumb: bool,
) -> Result<Response, PageError> {
    let bytes = core::photo(
        state.db.as_ref(),
        state.blobs.as_ref(),
        v,
        parse_id(child)?,
        parse_id(photo)?,
        thumb,
    )
    .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/jpeg"),
            (header::CACHE_CONTROL, "private, no-store"),
        ],
        bytes,
    )
        .into_response())
}

#[derive(Template)]
#[template(path = "agreement.html")]
struct AgreementPage {
    l: Lang,
    nav: Nav,
    a: AgreementView,
}

pub async fn agreement(
    State(state): State<AppState>,
    PageViewer(v): PageViewer,
    l: Lang,
    Path((id, aid)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let a = core::agreement(state.db.as_ref(), &v, parse_id(&id)?, parse_id(&aid)?, l).await?;
    Ok(render(&AgreementPage {
        l,
        nav: Nav::of(&v),
        a,
    }))
}

/// `GET /console/export/{sheet}.{csv|xlsx}?place=TOWNSHIP`: the overdue list or the
/// township overview in the reader's language, named in Chinese (or English) with the
/// township and the day, logged as an export.
pub async fn export(
    State(state): State<AppState>,
    PageViewer(v): PageViewer,
    l: Lang,
    Path(file): Path<String>,
    Query(q): Query<PlaceQuery>,
) -> Result<Response, PageError> {
    let (sheet, fmt) = file
        .rsplit_once('.')
        .ok_or_else(|| PageError::from(ConsoleError::NotFound))?;
    let sheet = Sheet::parse(sheet).ok_or_else(|| PageError::from(ConsoleError::NotFound))?;
    if fmt != "csv" && fmt != "xlsx" {
        return Err(ConsoleError::NotFound.into());
    }
    let o = match core::overview(state.db.as_ref(), &v, q.place.as_deref()).await? {
        Overview::Township(o) => o,
        _ => {
            return Err(ConsoleError::bad(
                "export_needs_township",
                "导出需要选择一个镇街。",
                "An export is of one township.",
            )
            .into());
        }
    };
    let name = export::file_name(l, sheet, &o, fmt);
    core::log(
        state.db.as_ref(),
        &v,
        "export",
        &format!("{}-{}.{fmt}", sheet.as_str(), o.township.code),
    )
    .await?;
    let (ctype, body) = if fmt == "csv" {
        ("text/csv; charset=utf-8", export::csv(l, &o, sheet))
    } else {
        (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            export::xlsx(l, &o, sheet).map_err(|_| {
                PageError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "export_failed",
                    Lang::Zh.t("export.failed"),
                    Lang::En.t("export.failed"),
                )
            })?,
        )
    };
    Ok((
        [
            (header::CONTENT_TYPE, ctype.to_string()),
            (
                header::CONTENT_DISPOSITION,
                export::content_disposition(&name, fmt),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        body,
    )
        .into_response())
}
