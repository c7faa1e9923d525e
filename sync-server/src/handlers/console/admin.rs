//! Accounts and devices, for county and city admins: import the roster by upload,
//! issue enrollment codes (phones) and one-time login codes (people), list devices,
//! revoke a lost phone, review and accept its quarantine, read the access log.
//! Everything the admin CLI does for a person; every action is scoped to the admin's
//! area and every form carries the session's CSRF token.

use super::{check_csrf, fmt_time, render, Nav, PageError, PageViewer};
use crate::console::figures::Places;
use crate::console::people::{self, Viewer};
use crate::console::{self as core, ConsoleError};
use crate::handlers::AppState;
use crate::model::Role;
use crate::roster::{PlaceKind, Roster};
use crate::store::{AccountRow, DeviceInfo};
use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use serde::Deserialize;
use uuid::Uuid;

fn now() -> i64 {
    crate::model::clock::now_ms() as i64
}

fn admin_only(v: &Viewer) -> Result<(), PageError> {
    if v.role.administers() {
        Ok(())
    } else {
        Err(ConsoleError::Forbidden.into())
    }
}

/// Whether an account lies inside the admin's area.
fn in_area(v: &Viewer, places: &Places, a: &AccountRow) -> bool {
    match a.role {
        Role::Director => !a.villages.is_empty() && a.villages.iter().all(|x| v.can_read(x)),
        _ => {
            let Some(p) = &a.place else { return false };
            let vs = places.villages_under(p);
            !vs.is_empty()
                && vs.iter().all(|x| v.can_read(x))
                && (a.role != Role::CityAdmin || v.role == Role::CityAdmin)
        }
    }
}

/// An account line on the page.
pub struct AccountLine {
    pub login: String,
    pub name: String,
    pub role_zh: &'static str,
    pub place: String,
    pub console: bool,
}

/// A device line on the page.
pub struct DeviceLine {
    pub device_id: Uuid,
    pub login: String,
    pub name: String,
    pub app_version: String,
    pub enrolled: String,
    pub last_seen: String,
    pub revoked: Option<String>,
    pub quarantined: usize,
}

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminPage {
    nav: Nav,
    notice: Option<(String, String)>,
    secret: Option<(String, String)>,
    error: Option<(String, String)>,
    accounts: Vec<AccountLine>,
    devices: Vec<DeviceLine>,
}

struct Outcome {
    notice: Option<(String, String)>,
    secret: Option<(String, String)>,
    error: Option<(String, String)>,
    status: StatusCode,
}

impl Outcome {
    fn none() -> Outcome {
        Outcome {
            notice: None,
            secret: None,
            error: None,
            status: StatusCode::OK,
        }
    }
    fn notice(zh: String, en: String) -> Outcome {
        Outcome {
            notice: Some((zh, en)),
            ..Outcome::none()
        }
    }
    fn error(zh: String, en: String) -> Outcome {
        Outcome {
            error: Some((zh, en)),
            status: StatusCode::BAD_REQUEST,
            ..Outcome::none()
        }
    }
}

async fn admin_page(state: &AppState, v: &Viewer, out: Outcome) -> Result<Response, PageError> {
    let places = Places::new(state.db.places().await?);
    let accounts: Vec<AccountRow> = state
        .db
        .accounts()
        .await?
        .into_iter()
        .filter(|a| in_area(v, &places, a))
        .collect();
    let logins: std::collections::HashSet<&str> =
        accounts.iter().map(|a| a.login.as_str()).collect();
    let quarantined = state.db.quarantined(None).await?;
    let devices: Vec<DeviceInfo> = state
        .db
        .devices(None)
        .await?
        .into_iter()
        .filter(|d| logins.contains(d.account_login.as_str()))
        .collect();
    let page = AdminPage {
        nav: Nav::of(v),
        notice: out.notice,
        secret: out.secret,
        error: out.error,
        accounts: accounts
            .iter()
            .map(|a| AccountLine {
                login: a.login.clone(),
                name: a.name.clone(),
                role_zh: a.role.label_zh(),
                place: match a.role {
                    Role::Director => a
                        .villages
                        .iter()
                        .map(|x| places.name(x))
                        .collect::<Vec<_>>()
                        .join("、"),
                    _ => a
                        .place
                        .as_deref()
                        .map(|p| places.name(p))
                        .unwrap_or_default(),
                },
                console: a.role.uses_console(),
            })
            .collect(),
        devices: devices
            .iter()
            .map(|d| DeviceLine {
                device_id: d.device_id,
                login: d.account_login.clone(),
                name: d.name.clone(),
                app_version: app_version(d),
                enrolled: fmt_time(d.enrolled_ms),
                last_seen: d.last_seen_ms.map(fmt_time).unwrap_or_else(|| "-".into()),
                revoked: d.revoked_ms.map(fmt_time),
                quarantined: quarantined
                    .iter()
                    .filter(|q| q.device_id == d.device_id)
                    .count(),
            })
            .collect(),
    };
    let mut res = render(&page);
    *res.status_mut() = out.status;
    Ok(res)
}

/// The app version the phone last reported (heartbeat), else the one it enrolled with.
fn app_version(d: &DeviceInfo) -> String {
    d.heartbeat
        .as_ref()
        .map(|h| h.app_version.clone())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| d.app_version.clone())
}

pub async fn page(
    State(state): State<AppState>,
    PageViewer(v): PageViewer,
) -> Result<Response, PageError> {
    admin_only(&v)?;
    core::log(
        state.db.as_ref(),
        &v,
        "view_accounts",
        v.place.as_deref().unwrap_or(""),
    )
    .await?;
    admin_page(&state, &v, Outcome::none()).await
}

fn bad_form() -> PageError {
    PageError::new(
        StatusCode::BAD_REQUEST,
        "bad_form",
        "表单内容不完整或格式不对。",
        "The form is incomplete or malformed.",
    )
}

#[derive(Deserialize)]
pub struct AccountForm {
    csrf: String,
    login: String,
}

async fn account_in_area(
    state: &AppState,
    v: &Viewer,
    login: &str,
) -> Result<AccountRow, PageError> {
    let places = Places::new(state.db.places().await?);
    let a = state
        .db
        .accounts()
        .await?
        .into_iter()
        .find(|a| a.login == login)
        .ok_or(ConsoleError::NotFound)?;
    if !in_area(v, &places, &a) {
        return Err(ConsoleError::Forbidden.into());
    }
    Ok(a)
}

/// Issues a phone enrollment code for a director (or any account in the area).
pub async fn enroll_code(
    State(state): State<AppState>,
    PageViewer(v): PageViewer,
    form: Result<Form<AccountForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(f) = form.map_err(|_| bad_form())?;
    check_csrf(&v, &f.csrf)?;
    admin_only(&v)?;
    let a = account_in_area(&state, &v, &f.login).await?;
    let issued = crate::enrollment::issue_code(state.db.as_ref(), &a.login, 72, now())
        .await
        .map_err(|e| PageError::from(crate::error::StoreError::from(e)))?;
    core::log(state.db.as_ref(), &v, "issue_enroll_code", &a.login).await?;
    let out = Outcome {
        secret: Some((
            format!("{} 的手机登记码（72 小时内有效，只显示一次）", a.login),
            issued.code,
        )),
        ..Outcome::notice(
            String::new(),
            format!(
                "Phone enrollment code for {} (valid 72 h, shown once)",
                a.login
            ),
        )
    };
    admin_page(&state, &v, out).await
}

/// Issues a one-time console login code for a supervisor or admin.
pub async fn login_code(
    State(state): State<AppState>,
    PageViewer(v): PageViewer,
    form: Result<Form<AccountForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(f) = form.map_err(|_| bad_form())?;
    check_csrf(&v, &f.csrf)?;
    admin_only(&v)?;
    let a = account_in_area(&state, &v, &f.login).await?;
    let Some(code) = people::issue_login_code(state.db.as_ref(), &a.login, now()).await? else {
        return admin_page(
            &state,
            &v,
            Outcome::error(
                "儿童主任使用手机，不登录督导台。".into(),
                "Child directors use their phones, not the console.".into(),
            ),
        )
        .await;
    };
    core::log(state.db.as_ref(), &v, "issue_login_code", &a.login).await?;
    let out = Outcome {
        secret: Some((
            format!("{} 的一次性登录码（72 小时内有效，只显示一次）", a.login),
            code,
        )),
        ..Outcome::notice(
            String::new(),
            format!(
                "One-time console login code for {} (valid 72 h, shown once)",
                a.login
            ),
        )
    };
    admin_page(&state, &v, out).await
}

/// Checks that a roster stays inside the admin's area.
fn roster_in_area(v: &Viewer, places: &Places, r: &Roster) -> Result<(), (String, String)> {
    if v.role == Role::CityAdmin {
        let city = v.place.clone().unwrap_or_default();
        for p in &r.places {
            if p.kind == PlaceKind::City && p.code != city {
                return Err((
                    format!("名册中的市 {} 不是您的市。", p.code),
                    format!("City {} in the roster is not yours.", p.code),
                ));
            }
        }
        return Ok(());
    }
    let county = v.place.clone().unwrap_or_default();
    let mut mine: std::collections::HashSet<String> =
        places.villages_under(&county).into_iter().collect();
    mine.insert(county.clone());
    for p in &r.places {
        match p.kind {
            PlaceKind::City => {
                if places.get(&county).and_then(|c| c.parent.clone()) != Some(p.code.clone()) {
                    return Err((
                        format!("名册中的市 {} 不是您所在的市。", p.code),
                        format!("City {} is not your county's city.", p.code),
                    ));
                }
            }
            PlaceKind::County => {
                if p.code != county {
                    return Err((
                        format!("名册中的区市 {} 不归您管理。", p.code),
                        format!("County {} is not yours to administer.", p.code),
                    ));
                }
            }
            PlaceKind::Township | PlaceKind::Village => {
                if !p.parent.as_ref().is_some_and(|x| mine.contains(x)) {
                    return Err((
                        format!("{} 不在您管理的区市内。", p.code),
                        format!("{} is outside your county.", p.code),
                    ));
                }
                mine.insert(p.code.clone());
            }
        }
    }
    for a in &r.accounts {
        let ok = match a.role {
            Role::Director | Role::Supervisor => a.places.iter().all(|x| mine.contains(x)),
            Role::CountyAdmin => a.places.iter().all(|x| *x == county),
            Role::CityAdmin => false,
        };
        if !ok {
            return Err((
                format!("账号 {} 不在您管理的区市内。", a.login),
                format!("Account {} is outside your county.", a.login),
            ));
        }
    }
    Ok(())
}

/// Imports a roster CSV uploaded in the browser.
pub async fn roster(
    State(state): State<AppState>,
    PageViewer(mut v): PageViewer,
    mut form: Multipart,
) -> Result<Response, PageError> {
    let mut csrf = String::new();
    let mut file: Option<Vec<u8>> = None;
    while let Some(field) = form.next_field().await.map_err(|_| bad_form())? {
        match field.name() {
            Some("csrf") => csrf = field.text().await.map_err(|_| bad_form())?,
            Some("file") => file = Some(field.bytes().await.map_err(|_| bad_form())?.to_vec()),
            _ => {}
        }
    }
    check_csrf(&v, &csrf)?;
    admin_only(&v)?;
    let Some(bytes) = file.filter(|b| !b.is_empty()) else {
        return admin_page(
            &state,
            &v,
            Outcome::error(
                "请选择名册文件（CSV）。".into(),
                "Choose a roster file (CSV).".into(),
            ),
        )
        .await;
    };
    let Ok(text) = String::from_utf8(bytes) else {
        return admin_page(
            &state,
            &v,
            Outcome::error(
                "名册须为 UTF-8 编码的 CSV 文件。".into(),
                "The roster must be a UTF-8 CSV file.".into(),
            ),
        )
        .await;
    };
    let roster = match Roster::parse(&text) {
        Ok(r) => r,
        Err(e) => {
            return admin_page(
                &state,
                &v,
                Outcome::error(
                    format!("名册第 {} 行有误：{}", e.line, e.zh),
                    format!("Roster line {}: {}", e.line, e.problem),
                ),
            )
            .await;
        }
    };
    let places = Places::new(state.db.places().await?);
    if let Err((zh, en)) = roster_in_area(&v, &places, &roster) {
        return admin_page(
            &state,
            &v,
            Outcome {
                status: StatusCode::FORBIDDEN,
                ..Outcome::error(zh, en)
            },
        )
        .await;
    }
    let s = state.db.import_roster(&roster).await?;
    // New villages of the admin's area are theirs from now on.
    if let Some(p) = state.db.principal(v.account_id).await? {
        v.principal = p;
    }
    core::log(
        state.db.as_ref(),
        &v,
        "import_roster",
        &format!("{} places, {} accounts", s.places, s.accounts),
    )
    .await?;
    admin_page(
        &state,
        &v,
        Outcome::notice(
            format!("已导入 {} 个地点、{} 个账号。", s.places, s.accounts),
            format!("Imported {} places and {} accounts.", s.places, s.accounts),
        ),
    )
    .await
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

async fn device_in_area(state: &AppState, v: &Viewer, id: &str) -> Result<DeviceInfo, PageError> {
    let id = Uuid::parse_str(id).map_err(|_| PageError::from(ConsoleError::NotFound))?;
    let d = state
        .db
        .devices(None)
        .await?
        .into_iter()
        .find(|d| d.device_id == id)
        .ok_or(ConsoleError::NotFound)?;
    account_in_area(state, v, &d.account_login).await?;
    Ok(d)
}

/// Revokes a (lost) phone: its next contact hands its unsent changes to quarantine and
/// wipes it.
pub async fn revoke(
    State(state): State<AppState>,
    PageViewer(v): PageViewer,
    Path(id): Path<String>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(f) = form.map_err(|_| bad_form())?;
    check_csrf(&v, &f.csrf)?;
    admin_only(&v)?;
    let d = device_in_area(&state, &v, &id).await?;
    state.db.revoke_device(d.device_id, now()).await?;
    core::log(
        state.db.as_ref(),
        &v,
        "revoke_device",
        &d.device_id.to_string(),
    )
    .await?;
    admin_page(
        &state,
        &v,
        Outcome::notice(
            format!(
                "已停用手机 {}（{}）。它下次联网时会清除本机数据。",
                d.name, d.account_login
            ),
            format!(
                "Revoked {} ({}); it wipes itself at its next contact.",
                d.name, d.account_login
            ),
        ),
    )
    .await
}

/// A quarantined change as listed (no values: they may be personal data).
pub struct QuarantineLine {
    pub device_seq: u64,
    pub table_zh: String,
    pub field_zh: String,
    pub table: String,
    pub field: String,
    pub row_id: Uuid,
    pub received: String,
}

#[derive(Template)]
#[template(path = "quarantine.html")]
struct QuarantinePage {
    nav: Nav,
    device: DeviceLine,
    lines: Vec<QuarantineLine>,
    notice: Option<(String, String)>,
}

pub async fn quarantine(
    State(state): State<AppState>,
    PageViewer(v): PageViewer,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    admin_only(&v)?;
    let d = device_in_area(&state, &v, &id).await?;
    quarantine_page(&state, &v, d, None).await
}

async fn quarantine_page(
    state: &AppState,
    v: &Viewer,
    d: DeviceInfo,
    notice: Option<(String, String)>,
) -> Result<Response, PageError> {
    let q = state.db.quarantined(Some(d.device_id)).await?;
    core::log(
        state.db.as_ref(),
        v,
        "view_quarantine",
        &d.device_id.to_string(),
    )
    .await?;
    Ok(render(&QuarantinePage {
        nav: Nav::of(v),
        lines: q
            .iter()
            .map(|q| QuarantineLine {
                device_seq: q.change.device_seq,
                table_zh: domain::labels::table_label_zh(&q.change.table).to_string(),
                field_zh: domain::labels::field_label_zh(&q.change.field).to_string(),
                table: q.change.table.chars().take(40).collect(),
                field: q.change.field.chars().take(40).collect(),
                row_id: q.change.row_id,
                received: fmt_time(q.received_ms),
            })
            .collect(),
        device: DeviceLine {
            device_id: d.device_id,
            login: d.account_login.clone(),
            name: d.name.clone(),
            app_version: app_version(&d),
            enrolled: fmt_time(d.enrolled_ms),
            last_seen: d.last_seen_ms.map(fmt_time).unwrap_or_else(|| "-".into()),
            revoked: d.revoked_ms.map(fmt_time),
            quarantined: q.len(),
        },
        notice,
    }))
}

/// Applies a revoked phone's quarantined changes after review (same ingest rules).
pub async fn accept_quarantine(
    State(state): State<AppState>,
    PageViewer(v): PageViewer,
    Path(id): Path<String>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(f) = form.map_err(|_| bad_form())?;
    check_csrf(&v, &f.csrf)?;
    admin_only(&v)?;
    let d = device_in_area(&state, &v, &id).await?;
    let out = crate::provision::accept_quarantine(state.db.as_ref(), d.device_id).await?;
    core::log(
        state.db.as_ref(),
        &v,
        "accept_quarantine",
        &d.device_id.to_string(),
    )
    .await?;
    let notice = (
        format!(
            "已接收 {} 条，拒绝 {} 条。",
            out.accepted,
            out.rejected.len()
        ),
        format!(
            "Accepted {} change(s), rejected {}.",
            out.accepted,
            out.rejected.len()
        ),
    );
    quarantine_page(&state, &v, d, Some(notice)).await
}

/// An access-log line as shown.
pub struct LogLine {
    pub at: String,
    pub login: String,
    pub action: String,
    pub subject: String,
}

#[derive(Template)]
#[template(path = "access_log.html")]
struct AccessLogPage {
    nav: Nav,
    people: Vec<LogLine>,
    devices: Vec<LogLine>,
}

/// The access log: people's console views and exports, and supervisor/admin device pulls.
pub async fn access_log(
    State(state): State<AppState>,
    PageViewer(v): PageViewer,
) -> Result<Response, PageError> {
    admin_only(&v)?;
    let places = Places::new(state.db.places().await?);
    let accounts: Vec<AccountRow> = state.db.accounts().await?;
    let mine: std::collections::HashMap<i64, &AccountRow> = accounts
        .iter()
        .filter(|a| in_area(&v, &places, a))
        .map(|a| (a.id, a))
        .collect();
    let people = state
        .db
        .console_log(500)
        .await?
        .into_iter()
        .filter(|e| mine.contains_key(&e.account_id))
        .map(|e| LogLine {
            at: fmt_time(e.at_ms),
            login: e.login,
            action: e.action,
            subject: e.subject,
        })
        .collect();
    let mut devices: Vec<LogLine> = state
        .db
        .access_log()
        .await?
        .into_iter()
        .filter(|e| mine.contains_key(&e.account_id) && v.can_read(&e.scope))
        .map(|e| LogLine {
            at: fmt_time(e.at_ms),
            login: mine
                .get(&e.account_id)
                .map(|a| a.login.clone())
                .unwrap_or_default(),
            action: format!("pull {} records", e.record_count),
            subject: e.scope,
        })
        .collect();
    devices.reverse();
    devices.truncate(500);
    core::log(
        state.db.as_ref(),
        &v,
        "view_access_log",
        v.place.as_deref().unwrap_or(""),
    )
    .await?;
    Ok(render(&AccessLogPage {
        nav: Nav::of(&v),
        people,
        devices,
    }))
}
