//! The console's pages for everyone who logs in: login, first login, logout, the
//! overview of their area (township, county or city), a director, a child's file, a
//! signed agreement (printable), and the exports.

use super::{
    charts, check_csrf, cookie, render, set_cookie, Nav, PageError, PageViewer, LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
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

fn bad_form() -> PageError {
    PageError::new(
        StatusCode::BAD_REQUEST,
        "bad_form",
        "表单内容不完整或格式不对。",
        "The form is incomplete or malformed.",
    )
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    csrf: String,
    first: bool,
    login: String,
    error_zh: String,
    error_en: String,
}

fn login_page(
    headers: &HeaderMap,
    first: bool,
    login: &str,
    err: Option<&LoginRefusal>,
    status: StatusCode,
) -> Response {
    // A fresh pre-login CSRF token unless the browser has one (double submit).
    let existing = cookie(headers, LOGIN_CSRF_COOKIE)
        .filter(|c| c.len() == 64)
        .map(str::to_string);
    let csrf = existing
        .clone()
        .unwrap_or_else(|| crate::auth::mint_token().0);
    let page = LoginPage {
        csrf: csrf.clone(),
        first,
        login: login.chars().take(40).collect(),
        error_zh: err.map(|e| e.zh()).unwrap_or_default(),
        error_en: err.map(|e| e.en()).unwrap_or_default(),
    };
    let mut res = render(&page);
    *res.status_mut() = status;
    if existing.is_none() {
        res.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(LOGIN_CSRF_COOKIE, &csrf, 3600, super::behind_tls(headers)),
        );
    }
    res
}

pub async fn login_form(headers: HeaderMap) -> Response {
    login_page(&headers, false, "", None, StatusCode::OK)
}

pub async fn first_login_form(headers: HeaderMap) -> Response {
    login_page(&headers, true, "", None, StatusCode::OK)
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

fn login_csrf_ok(headers: &HeaderMap, submitted: &str) -> bool {
    cookie(headers, LOGIN_CSRF_COOKIE).is_some_and(|c| c.len() == 64 && c == submitted)
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

fn refused(headers: &HeaderMap, first: bool, login: &str, r: LoginRefusal) -> Response {
    let status = match r {
        LoginRefusal::Locked { .. } => StatusCode::TOO_MANY_REQUESTS,
        LoginRefusal::BadNewPassword => StatusCode::BAD_REQUEST,
        _ => StatusCode::UNAUTHORIZED,
    };
    crate::metrics::error_answered(r.code());
    login_page(headers, first, login, Some(&r), status)
}

pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(f) = form.map_err(|_| bad_form())?;
    if !login_csrf_ok(&headers, &f.csrf) {
        return Err(PageError::csrf());
    }
    match people::login(state.db.as_ref(), &f.login, &f.password, now()).await? {
        Ok(s) => Ok(logged_in(&headers, s)),
        Err(r) => Ok(refused(&headers, false, &f.login, r)),
    }
}

pub async fn first_login(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(f) = form.map_err(|_| bad_form())?;
    if !login_csrf_ok(&headers, &f.csrf) {
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
        Err(r) => Ok(refused(&headers, true, &f.login, r)),
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
    let Form(f) = form.map_err(|_| bad_form())?;
    check_csrf(&v, &f.csrf)?;
    state.db.end_session(v.session_hash).await?;
    let mut res = Redirect::to("/console/login").into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, "", 0, super::behind_tls(&headers)),
    );
    Ok(res)
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
    nav: Nav,
    o: TownshipOverview,
    visits_chart: String,
    freshness_chart: String,
    back: Option<(String, String)>,
}

#[derive(Template)]
#[template(path = "area.html")]
struct AreaPage {
    nav: Nav,
    o: AreaOverview,
    level_zh: &'static str,
    level_en: &'static str,
    sub_zh: &'static str,
    sub_en: &'static str,
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
    Query(q): Query<PlaceQuery>,
) -> Result<Response, PageError> {
    let o = core::overview(state.db.as_ref(), &v, q.place.as_deref()).await?;
    Ok(match o {
        Overview::Township(o) => {
            let back = back_link(&v, &o.township.code, &o.parent);
            render(&TownshipPage {
                nav: Nav::of(&v),
                visits_chart: charts::bars(
                    "每周走访 visits per week",
                    &o.visits_per_week,
                    "#2f6fb0",
                ),
                freshness_chart: charts::bars("最近同步 last sync", &o.sync_freshness, "#4a9a5b"),
                back,
                o,
            })
        }
        Overview::County(o) | Overview::City(o) => {
            let county = o.area.kind == "county";
            let back = back_link(&v, &o.area.code, &o.parent);
            render(&AreaPage {
                nav: Nav::of(&v),
                level_zh: if county { "区市" } else { "全市" },
                level_en: if county { "County" } else { "City" },
                sub_zh: if county { "镇街" } else { "区市" },
                sub_en: if county { "township" } else { "county" },
                visits_chart: charts::bars(
                    "每周走访 visits per week",
                    &o.visits_per_week,
                    "#2f6fb0",
                ),
                freshness_chart: charts::bars("最近同步 last sync", &o.sync_freshness, "#4a9a5b"),
                back,
                o,
            })
        }
    })
}

#[derive(Template)]
#[template(path = "director.html")]
struct DirectorPage {
    nav: Nav,
    f: DirectorFile,
}

pub async fn director(
    State(state): State<AppState>,
    PageViewer(v): PageViewer,
    Path(login): Path<String>,
) -> Result<Response, PageError> {
    let f = core::director(state.db.as_ref(), &v, &login).await?;
    Ok(render(&DirectorPage {
        nav: Nav::of(&v),
        f,
    }))
}

#[derive(Template)]
#[template(path = "child.html")]
struct ChildPage {
    nav: Nav,
    c: ChildFile,
}

fn parse_id(s: &str) -> Result<Uuid, PageError> {
    Uuid::parse_str(s).map_err(|_| PageError::from(ConsoleError::NotFound))
}

pub async fn child(
    State(state): State<AppState>,
    PageViewer(v): PageViewer,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let c = core::child_file(state.db.as_ref(), &v, parse_id(&id)?).await?;
    Ok(render(&ChildPage {
        nav: Nav::of(&v),
        c,
    }))
}

#[derive(Template)]
#[template(path = "agreement.html")]
struct AgreementPage {
    nav: Nav,
    a: AgreementView,
}

pub async fn agreement(
    State(state): State<AppState>,
    PageViewer(v): PageViewer,
    Path((id, aid)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let a = core::agreement(state.db.as_ref(), &v, parse_id(&id)?, parse_id(&aid)?).await?;
    Ok(render(&AgreementPage {
        nav: Nav::of(&v),
        a,
    }))
}

/// `GET /console/export/{sheet}.{csv|xlsx}?place=TOWNSHIP`: the overdue list or the
/// township overview, logged as an export.
pub async fn export(
    State(state): State<AppState>,
    PageViewer(v): PageViewer,
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
    let name = format!("{}-{}.{fmt}", sheet.as_str(), o.township.code);
    core::log(state.db.as_ref(), &v, "export", &name).await?;
    let (ctype, body) = if fmt == "csv" {
        ("text/csv; charset=utf-8", export::csv(&o, sheet))
    } else {
        (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            export::xlsx(&o, sheet).map_err(|_| {
                PageError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "export_failed",
                    "导出失败。",
                    "The export failed.",
                )
            })?,
        )
    };
    Ok((
        [
            (header::CONTENT_TYPE, ctype.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        body,
    )
        .into_response())
}
