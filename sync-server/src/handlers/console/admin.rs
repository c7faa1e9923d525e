//! Accounts and phones, for county and city admins: import the roster by upload,
//! rename a person, issue enrollment codes (phones) and one-time login codes (people),
//! see each person with their phones, revoke a lost phone (after a page that says what
//! its unsent records and photos become), review its quarantine in readable values
//! and accept it, read the access log in names. Everything the admin CLI does for a
//! person; every action is scoped to the admin's area and every form carries the
//! session's CSRF token.

use super::{check_csrf, render, Lang, Nav, PageError, PageViewer, Said};
use crate::console::figures::Places;
use crate::console::people::{self, Viewer};
use crate::console::{self as core, readable, ConsoleError};
use crate::handlers::AppState;
use crate::model::Role;
use crate::roster::{PlaceKind, Roster};
use crate::store::{AccountRow, DeviceInfo, VillageSet};
use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Form;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
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
    let under = a
        .place
        .as_deref()
        .map(|p| places.villages_under(p))
        .unwrap_or_default();
    let vs = a.role.reads(a.villages.clone(), under);
    !vs.is_empty()
        && vs.iter().all(|x| v.can_read(x))
        && (a.role != Role::CityAdmin || v.role == Role::CityAdmin)
}

/// A person on the page, with their phones.
pub struct AccountLine {
    pub login: String,
    pub name: String,
    pub role_name: &'static str,
    pub place: String,
    pub console: bool,
    pub phones: Vec<DeviceLine>,
}

/// A phone on the page.
pub struct DeviceLine {
    pub device_id: Uuid,
    pub name: String,
    pub app_version: String,
    pub enrolled: String,
    pub last_seen: String,
    pub revoked: Option<String>,
    /// Unsent records and files as of now (`DeviceInfo::pending_now`).
    pub pending_changes: u64,
    pub pending_blobs: u64,
    pub quarantined: i64,
}

impl DeviceLine {
    fn of(d: &DeviceInfo, quarantined: i64) -> DeviceLine {
        let (pending_changes, pending_blobs) = d.pending_now();
        DeviceLine {
            device_id: d.device_id,
            name: d.name.clone(),
            app_version: app_version(d),
            enrolled: crate::console::lang::time(d.enrolled_ms),
            last_seen: d
                .last_seen_ms
                .map(crate::console::lang::time)
                .unwrap_or_else(|| "-".into()),
            revoked: d.revoked_ms.map(crate::console::lang::time),
            pending_changes,
            pending_blobs,
            quarantined,
        }
    }
}

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminPage {
    l: Lang,
    nav: Nav,
    notice: Option<Said>,
    secret: Option<(Said, String)>,
    error: Option<Said>,
    accounts: Vec<AccountLine>,
}

struct Outcome {
    notice: Option<Said>,
    secret: Option<(Said, String)>,
    error: Option<Said>,
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
            notice: Some(Said::new(zh, en)),
            ..Outcome::none()
        }
    }
    fn secret(zh: String, en: String, code: String) -> Outcome {
        Outcome {
            secret: Some((Said::new(zh, en), code)),
            ..Outcome::none()
        }
    }
    fn error(zh: String, en: String) -> Outcome {
        Outcome {
            error: Some(Said::new(zh, en)),
            status: StatusCode::BAD_REQUEST,
            ..Outcome::none()
        }
    }
}

async fn admin_page(
    state: &AppState,
    v: &Viewer,
    l: Lang,
    out: Outcome,
) -> Result<Response, PageError> {
    let places = Places::new(state.db.places().await?);
    let accounts: Vec<AccountRow> = state
        .db
        .accounts()
        .await?
        .into_iter()
        .filter(|a| in_area(v, &places, a))
        .collect();
    let quarantined = state.db.quarantine_counts().await?;
    let mut phones: HashMap<String, Vec<DeviceLine>> = HashMap::new();
    for d in state.db.devices(None).await? {
        let q = quarantined.get(&d.device_id).copied().unwrap_or(0);
        phones
            .entry(d.account_login.clone())
            .or_default()
            .push(DeviceLine::of(&d, q));
    }
    let page = AdminPage {
        l,
        nav: Nav::of(v),
        notice: out.notice,
        secret: out.secret,
        error: out.error,
        accounts: accounts
            .iter()
            .map(|a| AccountLine {
                login: a.login.clone(),
                name: a.name.clone(),
                role_name: l.pick(a.role.label_zh(), a.role.label_en()),
                place: match a.role {
                    Role::Director => a
                        .villages
                        .iter()
                        .map(|x| places.name(x))
                        .collect::<Vec<_>>()
                        .join(l.pick("、", ", ")),
                    _ => a
                        .place
                        .as_deref()
                        .map(|p| places.name(p))
                        .unwrap_or_default(),
                },
                console: a.role.uses_console(),
                phones: phones.remove(&a.login).unwrap_or_default(),
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
    l: Lang,
) -> Result<Response, PageError> {
    admin_only(&v)?;
    core::log(
        state.db.as_ref(),
        &v,
        "view_accounts",
        v.place.as_deref().unwrap_or(""),
    )
    .await?;
    admin_page(&state, &v, l, Outcome::none()).await
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
    l: Lang,
    form: Result<Form<AccountForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(f) = form.map_err(|_| PageError::bad_form())?;
    check_csrf(&v, &f.csrf)?;
    admin_only(&v)?;
    let a = account_in_area(&state, &v, &f.login).await?;
    let issued = crate::enrollment::issue_code(state.db.as_ref(), &a.login, 72, now())
        .await
        .map_err(|e| PageError::from(crate::error::StoreError::from(e)))?;
    core::log(state.db.as_ref(), &v, "issue_enroll_code", &a.login).await?;
    let out = Outcome::secret(
        format!("{} 的手机登记码（72 小时内有效，只显示一次）：", a.name),
        format!(
            "Phone enrollment code for {} (valid 72 hours, shown once):",
            a.name
        ),
        issued.code,
    );
    admin_page(&state, &v, l, out).await
}

/// Issues a one-time console login code for a supervisor or admin.
pub async fn login_code(
    State(state): State<AppState>,
    PageViewer(v): PageViewer,
    l: Lang,
    form: Result<Form<AccountForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(f) = form.map_err(|_| PageError::bad_form())?;
    check_csrf(&v, &f.csrf)?;
    admin_only(&v)?;
    let a = account_in_area(&state, &v, &f.login).await?;
    let Some(code) = people::issue_login_code(state.db.as_ref(), &a.login, now()).await? else {
        return admin_page(
            &state,
            &v,
            l,
            Outcome::error(
                "儿童主任使用手机，不登录督导台。".into(),
                "Child directors use their phones, not the console.".into(),
            ),
        )
        .await;
    };
    core::log(state.db.as_ref(), &v, "issue_login_code", &a.login).await?;
    let out = Outcome::secret(
        format!(
            "{} 的一次性登录码（72 小时内有效，只显示一次；登录账号：{}）：",
            a.name, a.login
        ),
        format!(
            "One-time console login code for {} (valid 72 hours, shown once; login: {}):",
            a.name, a.login
        ),
        code,
    );
    admin_page(&state, &v, l, out).await
}

#[derive(Deserialize)]
pub struct NameForm {
    csrf: String,
    login: String,
    name: String,
}

/// The longest display name.
pub const MAX_NAME_CHARS: usize = 40;

/// Renames a person (their display name on every page, export and phone list).
pub async fn rename(
    State(state): State<AppState>,
    PageViewer(v): PageViewer,
    l: Lang,
    form: Result<Form<NameForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(f) = form.map_err(|_| PageError::bad_form())?;
    check_csrf(&v, &f.csrf)?;
    admin_only(&v)?;
    let a = account_in_area(&state, &v, &f.login).await?;
    let name: String = f.name.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return admin_page(
            &state,
            &v,
            l,
            Outcome::error(
                format!("姓名不能为空，最多 {MAX_NAME_CHARS} 个字。“{}”的姓名没有修改。", a.name),
                format!(
                    "A name must not be empty and has at most {MAX_NAME_CHARS} characters. {}'s name was not changed.",
                    a.name
                ),
            ),
        )
        .await;
    }
    state.db.rename_account(&a.login, &name).await?;
    core::log(state.db.as_ref(), &v, "rename_account", &a.login).await?;
    admin_page(
        &state,
        &v,
        l,
        Outcome::notice(
            format!("已把“{}”改名为“{name}”。", a.name),
            format!("Renamed \"{}\" to \"{name}\".", a.name),
        ),
    )
    .await
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
            Role::CityAdmin | Role::Server => false,
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
    l: Lang,
    mut form: Multipart,
) -> Result<Response, PageError> {
    let mut csrf = String::new();
    let mut file: Option<Vec<u8>> = None;
    while let Some(field) = form.next_field().await.map_err(|_| PageError::bad_form())? {
        match field.name() {
            Some("csrf") => csrf = field.text().await.map_err(|_| PageError::bad_form())?,
            Some("file") => {
                file = Some(
                    field
                        .bytes()
                        .await
                        .map_err(|_| PageError::bad_form())?
                        .to_vec(),
                )
            }
            _ => {}
        }
    }
    check_csrf(&v, &csrf)?;
    admin_only(&v)?;
    let Some(bytes) = file.filter(|b| !b.is_empty()) else {
        return admin_page(
            &state,
            &v,
            l,
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
            l,
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
                l,
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
            l,
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
        &format!("places:{},accounts:{}", s.places, s.accounts),
    )
    .await?;
    admin_page(
        &state,
        &v,
        l,
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

/// A device of the admin's area, with its owner.
async fn device_in_area(
    state: &AppState,
    v: &Viewer,
    id: &str,
) -> Result<(DeviceInfo, AccountRow), PageError> {
    let id = Uuid::parse_str(id).map_err(|_| PageError::from(ConsoleError::NotFound))?;
    let d = state
        .db
        .devices(None)
        .await?
        .into_iter()
        .find(|d| d.device_id == id)
        .ok_or(ConsoleError::NotFound)?;
    let owner = account_in_area(state, v, &d.account_login).await?;
    Ok((d, owner))
}

#[derive(Template)]
#[template(path = "revoke.html")]
struct RevokePage {
    l: Lang,
    nav: Nav,
    device: DeviceLine,
    owner: String,
    consequences: Vec<Said>,
}

/// What revoking `d` does to what it has not sent, as the admin reads it before
/// deciding: the counts of its latest report and where they go.
pub fn revoke_consequences(d: &DeviceInfo) -> Vec<Said> {
    let (records, files) = d.pending_now();
    let seen = d
        .last_seen_ms
        .map(crate::console::lang::time)
        .unwrap_or_else(|| "-".into());
    let mut out = Vec::new();
    if d.heartbeat.is_none() {
        // A phone reports its counts only when it sends records.
        out.push(Said::new(
            "这部手机从未上传过记录，所以还没有报告过它有多少未上传的记录和照片。",
            "This phone has never sent records, so it has never reported how many unsent records and photos it holds.",
        ));
    } else if records == 0 && files == 0 {
        out.push(Said::new(
            format!("按它最近一次联系（{seen}）时的报告，这部手机没有未上传的记录和照片。"),
            format!("By its last report ({seen}), this phone has no unsent records or photos."),
        ));
    } else {
        out.push(Said::new(
            format!(
                "按它最近一次联系（{seen}）时的报告，这部手机还有 {records} 条未上传的记录、{files} 个未上传的照片或签名文件。"
            ),
            format!(
                "By its last report ({seen}), this phone still holds {records} unsent record(s) and {files} unsent photo or signature file(s)."
            ),
        ));
    }
    out.push(Said::new(
        "停用后，这部手机下次联网时会先把未上传的记录交到隔离区，然后清除手机上的全部数据。隔离区的记录不会自动入库：由您核对后接收。",
        "Once revoked, the phone hands its unsent records over to the quarantine at its next contact and then wipes all its data. Records in the quarantine do not go in by themselves: you review and accept them.",
    ));
    if files > 0 {
        out.push(Said::new(
            format!("{files} 个未上传的照片或签名文件无法交出，会随手机数据一起清除。"),
            format!("The {files} unsent photo or signature file(s) cannot be handed over and are wiped with the phone's data."),
        ));
    }
    out.push(Said::new(
        "如果这部手机再也不联网，未上传的记录就会丢失。手机若能找回，先让它联网同步一次再停用。",
        "If the phone never connects again, its unsent records are lost. If the phone can be found, let it sync once before you revoke it.",
    ));
    out
}

/// `GET …/devices/{id}/revoke`: what revoking this phone does, before the click.
pub async fn revoke_form(
    State(state): State<AppState>,
    PageViewer(v): PageViewer,
    l: Lang,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    admin_only(&v)?;
    let (d, owner) = device_in_area(&state, &v, &id).await?;
    if d.revoked_ms.is_some() {
        return Ok(axum::response::Redirect::to(&format!(
            "/console/admin/devices/{}/quarantine",
            d.device_id
        ))
        .into_response());
    }
    let q = state
        .db
        .quarantine_counts()
        .await?
        .get(&d.device_id)
        .copied()
        .unwrap_or(0);
    Ok(render(&RevokePage {
        l,
        nav: Nav::of(&v),
        consequences: revoke_consequences(&d),
        device: DeviceLine::of(&d, q),
        owner: owner.name,
    }))
}

/// Revokes a (lost) phone: its next contact hands its unsent changes to quarantine and
/// wipes it.
pub async fn revoke(
    State(state): State<AppState>,
    PageViewer(v): PageViewer,
    l: Lang,
    Path(id): Path<String>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(f) = form.map_err(|_| PageError::bad_form())?;
    check_csrf(&v, &f.csrf)?;
    admin_only(&v)?;
    let (d, owner) = device_in_area(&state, &v, &id).await?;
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
        l,
        Outcome::notice(
            format!(
                "已停用{}的手机“{}”。它下次联网时会把未上传的记录交到隔离区，然后清除本机数据。",
                owner.name, d.name
            ),
            format!(
                "Revoked {}'s phone \"{}\". At its next contact it hands its unsent records to the quarantine and wipes itself.",
                owner.name, d.name
            ),
        ),
    )
    .await
}

/// A record handed over by a revoked phone, as the admin reads it.
pub struct QuarantineRecord {
    pub row_id: Uuid,
    /// The child's name (or "-" when the phone did not say and the server does not
    /// know the child).
    pub child: String,
    /// What kind of record (a visit, a child's file…).
    pub kind: String,
    pub fields: Vec<core::FieldLine>,
    pub received: String,
}

#[derive(Template)]
#[template(path = "quarantine.html")]
struct QuarantinePage {
    l: Lang,
    nav: Nav,
    device: DeviceLine,
    owner: String,
    records: Vec<QuarantineRecord>,
    notice: Option<Said>,
}

pub async fn quarantine(
    State(state): State<AppState>,
    PageViewer(v): PageViewer,
    l: Lang,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    admin_only(&v)?;
    let (d, owner) = device_in_area(&state, &v, &id).await?;
    quarantine_page(&state, &v, l, d, owner, None).await
}

/// The quarantined changes of a device grouped by record, each named by its child and
/// shown in readable values (the same rules as the child's file).
async fn quarantine_records(
    state: &AppState,
    l: Lang,
    device_id: Uuid,
) -> Result<Vec<QuarantineRecord>, PageError> {
    let q = state.db.quarantined(Some(device_id)).await?;
    let mut rows: BTreeMap<(String, Uuid), Vec<&crate::store::QuarantinedChange>> = BTreeMap::new();
    for c in &q {
        rows.entry((c.change.table.clone(), c.change.row_id))
            .or_default()
            .push(c);
    }
    // The children named: by the rows themselves, else by the server's read model.
    let mut child_of: HashMap<Uuid, Uuid> = HashMap::new();
    let mut names: HashMap<Uuid, String> = HashMap::new();
    for ((table, row), changes) in &rows {
        for c in changes {
            let v = &c.change.value;
            match (table.as_str(), c.change.field.as_str()) {
                ("child", "name") => {
                    names.insert(*row, v.as_str().unwrap_or("").to_string());
                }
                (_, "child_id") => {
                    if let Some(id) = v.as_str().and_then(|s| Uuid::parse_str(s).ok()) {
                        child_of.insert(*row, id);
                    }
                }
                _ => {}
            }
        }
        if table == "child" {
            child_of.insert(*row, *row);
        }
    }
    let unknown: Vec<Uuid> = child_of
        .values()
        .filter(|c| !names.contains_key(c))
        .copied()
        .collect();
    if !unknown.is_empty() {
        names.extend(state.db.console_child_names(&unknown).await?);
    }
    let mut out: Vec<QuarantineRecord> = rows
        .into_iter()
        .map(|((table, row_id), changes)| {
            let mut fields: Vec<core::FieldLine> = changes
                .iter()
                .filter_map(|c| {
                    let value = if c.change.field == domain::schema::SCOPE_FIELD {
                        c.change.value.as_str().unwrap_or("").to_string()
                    } else {
                        readable::value(l, &table, &c.change.field, &c.change.value)?
                    };
                    Some(core::FieldLine {
                        field: c.change.field.chars().take(40).collect(),
                        label: l.field(&c.change.field),
                        value,
                    })
                })
                .collect();
            let order: Vec<&str> = domain::schema::table(&table)
                .map(|t| t.fields.iter().map(|f| f.name).collect())
                .unwrap_or_default();
            fields.sort_by_key(|f| order.iter().position(|x| *x == f.field));
            QuarantineRecord {
                row_id,
                child: child_of
                    .get(&row_id)
                    .and_then(|c| names.get(c))
                    .filter(|n| !n.is_empty())
                    .cloned()
                    .unwrap_or_else(|| "-".into()),
                kind: l.table(&table),
                fields,
                received: crate::console::lang::time(
                    changes.iter().map(|c| c.received_ms).max().unwrap_or(0),
                ),
            }
        })
        .collect();
    out.sort_by(|a, b| (&a.child, &a.kind).cmp(&(&b.child, &b.kind)));
    Ok(out)
}

async fn quarantine_page(
    state: &AppState,
    v: &Viewer,
    l: Lang,
    d: DeviceInfo,
    owner: AccountRow,
    notice: Option<Said>,
) -> Result<Response, PageError> {
    let records = quarantine_records(state, l, d.device_id).await?;
    core::log(
        state.db.as_ref(),
        v,
        "view_quarantine",
        &d.device_id.to_string(),
    )
    .await?;
    let q = state
        .db
        .quarantine_counts()
        .await?
        .get(&d.device_id)
        .copied()
        .unwrap_or(0);
    Ok(render(&QuarantinePage {
        l,
        nav: Nav::of(v),
        records,
        device: DeviceLine::of(&d, q),
        owner: owner.name,
        notice,
    }))
}

/// Applies a revoked phone's quarantined changes after review (same ingest rules).
pub async fn accept_quarantine(
    State(state): State<AppState>,
    PageViewer(v): PageViewer,
    l: Lang,
    Path(id): Path<String>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(f) = form.map_err(|_| PageError::bad_form())?;
    check_csrf(&v, &f.csrf)?;
    admin_only(&v)?;
    let (d, owner) = device_in_area(&state, &v, &id).await?;
    let out = crate::provision::accept_quarantine(state.db.as_ref(), d.device_id).await?;
    core::log(
        state.db.as_ref(),
        &v,
        "accept_quarantine",
        &d.device_id.to_string(),
    )
    .await?;
    let notice = Said::new(
        format!(
            "已接收 {} 项，{} 项被拒绝。",
            out.accepted,
            out.rejected.len()
        ),
        format!(
            "Accepted {} value(s); {} refused.",
            out.accepted,
            out.rejected.len()
        ),
    );
    quarantine_page(&state, &v, l, d, owner, Some(notice)).await
}

/// An access-log line as shown: names and readable words, never codes or ids.
pub struct LogLine {
    pub at: String,
    pub who: String,
    pub action_code: String,
    pub action: String,
    pub subject: String,
}

#[derive(Template)]
#[template(path = "access_log.html")]
struct AccessLogPage {
    l: Lang,
    nav: Nav,
    people: Vec<LogLine>,
    devices: Vec<LogLine>,
}

/// Lines of each log the access-log page shows.
const LOG_LINES: i64 = 500;

/// What a log line's subject names, for a person: the log keeps ids and codes only
/// (never names); the page resolves them.
struct Names<'a> {
    l: Lang,
    places: &'a Places,
    people: HashMap<&'a str, &'a str>,
    devices: HashMap<Uuid, (String, String)>,
    children: HashMap<Uuid, String>,
}

impl Names<'_> {
    fn child(&self, id: &str) -> String {
        let first = id.split('/').next().unwrap_or(id);
        Uuid::parse_str(first)
            .ok()
            .and_then(|u| self.children.get(&u).cloned())
            .unwrap_or_else(|| {
                self.l
                    .pick(
                        "（已不在名册中的儿童）",
                        "(a child no longer on the roster)",
                    )
                    .into()
            })
    }
    fn person(&self, login: &str) -> String {
        self.people
            .get(login)
            .map(|n| n.to_string())
            .unwrap_or_else(|| login.to_string())
    }
    fn device(&self, id: &str) -> String {
        Uuid::parse_str(id)
            .ok()
            .and_then(|u| self.devices.get(&u))
            .map(|(name, owner)| match self.l {
                Lang::Zh => format!("{owner}的手机“{name}”"),
                Lang::En => format!("{owner}'s phone \"{name}\""),
            })
            .unwrap_or_else(|| self.l.pick("（一部手机）", "(a phone)").into())
    }
    fn export(&self, file: &str) -> String {
        let (stem, ext) = file.rsplit_once('.').unwrap_or((file, ""));
        let (sheet, place) = stem.split_once('-').unwrap_or((stem, ""));
        let title = crate::console::export::Sheet::parse(sheet)
            .map(|s| s.title(self.l))
            .unwrap_or(sheet);
        format!(
            "{title} · {} ({})",
            self.places.name(place),
            ext.to_uppercase()
        )
    }
    fn roster(&self, subject: &str) -> String {
        let n = |k: &str| {
            subject
                .split(',')
                .find_map(|kv| kv.strip_prefix(k))
                .unwrap_or("?")
                .to_string()
        };
        if !subject.starts_with("places:") {
            return subject.to_string();
        }
        let (p, a) = (n("places:"), n("accounts:"));
        match self.l {
            Lang::Zh => format!("{p} 个地点、{a} 个账号"),
            Lang::En => format!("{p} places, {a} accounts"),
        }
    }
    fn subject(&self, action: &str, subject: &str) -> String {
        match action {
            "view_child" | "view_agreement" | "view_photo" | "confirmation_decide" => {
                self.child(subject)
            }
            "view_director" | "issue_enroll_code" | "issue_login_code" | "rename_account" => {
                self.person(subject)
            }
            "revoke_device" | "view_quarantine" | "accept_quarantine" => self.device(subject),
            "export" => self.export(subject),
            "import_roster" => self.roster(subject),
            // "AREA LIST_KIND MONTH [IMPORT]": the area by name, the rest as it is.
            a if a.starts_with("discovery_") => {
                let mut parts = subject.splitn(2, ' ');
                let area = self.places.name(parts.next().unwrap_or(""));
                match parts.next() {
                    Some(rest) => format!("{area} {rest}"),
                    None => area,
                }
            }
            _ => self.places.name(subject),
        }
    }
}

/// The access log: people's console views and exports, and supervisor/admin device
/// pulls, in names.
pub async fn access_log(
    State(state): State<AppState>,
    PageViewer(v): PageViewer,
    l: Lang,
) -> Result<Response, PageError> {
    admin_only(&v)?;
    let places = Places::new(state.db.places().await?);
    let accounts: Vec<AccountRow> = state.db.accounts().await?;
    let mine: HashMap<i64, &AccountRow> = accounts
        .iter()
        .filter(|a| in_area(&v, &places, a))
        .map(|a| (a.id, a))
        .collect();
    // Both logs are read newest first and bounded, filtered by the database: the
    // lines of this admin's area only, at most LOG_LINES of each.
    let ids: Vec<i64> = mine.keys().copied().collect();
    let everyone = v.role == Role::CityAdmin && ids.len() == accounts.len();
    let ids = (!everyone).then_some(ids.as_slice());
    let entries: Vec<_> = state
        .db
        .console_log(ids, LOG_LINES)
        .await?
        .into_iter()
        .collect();
    let child_ids: Vec<Uuid> = entries
        .iter()
        .filter(|e| e.action.starts_with("view_") && e.action != "view_director")
        .filter_map(|e| Uuid::parse_str(e.subject.split('/').next().unwrap_or("")).ok())
        .collect();
    let names = Names {
        l,
        places: &places,
        people: accounts
            .iter()
            .map(|a| (a.login.as_str(), a.name.as_str()))
            .collect(),
        devices: {
            let owner: HashMap<&str, &str> = accounts
                .iter()
                .map(|a| (a.login.as_str(), a.name.as_str()))
                .collect();
            // Only the phones the lines name.
            let named: Vec<Uuid> = entries
                .iter()
                .filter_map(|e| Uuid::parse_str(&e.subject).ok())
                .collect();
            state
                .db
                .devices_by_id(&named)
                .await?
                .into_iter()
                .map(|d| {
                    let o = owner.get(d.account_login.as_str()).copied().unwrap_or("");
                    (d.device_id, (d.name, o.to_string()))
                })
                .collect()
        },
        children: state
            .db
            .console_child_names(&child_ids)
            .await?
            .into_iter()
            .collect(),
    };
    let people = entries
        .iter()
        .map(|e| LogLine {
            at: crate::console::lang::time(e.at_ms),
            who: mine
                .get(&e.account_id)
                .map(|a| a.name.clone())
                .unwrap_or_default(),
            action_code: e.action.clone(),
            action: action_name(l, &e.action),
            subject: names.subject(&e.action, &e.subject),
        })
        .collect();
    let villages = if everyone {
        VillageSet::All
    } else {
        VillageSet::Only(&v.principal.read_scopes)
    };
    let devices: Vec<LogLine> = state
        .db
        .access_log(villages, ids, LOG_LINES)
        .await?
        .into_iter()
        .map(|e| LogLine {
            at: crate::console::lang::time(e.at_ms),
            who: mine
                .get(&e.account_id)
                .map(|a| a.name.clone())
                .unwrap_or_default(),
            action_code: "pull".into(),
            action: match l {
                Lang::Zh => format!("手机同步 {} 条记录", e.record_count),
                Lang::En => format!("phone sync of {} record(s)", e.record_count),
            },
            subject: places.name(&e.scope),
        })
        .collect();
    core::log(
        state.db.as_ref(),
        &v,
        "view_access_log",
        v.place.as_deref().unwrap_or(""),
    )
    .await?;
    Ok(render(&AccessLogPage {
        l,
        nav: Nav::of(&v),
        people,
        devices,
    }))
}

/// A logged action's name (its code only when it is one this version does not know).
pub fn action_name(l: Lang, action: &str) -> String {
    let key = format!("action.{action}");
    if crate::console::lang::MESSAGES
        .binary_search_by(|(k, _, _)| (*k).cmp(key.as_str()))
        .is_ok()
    {
        l.t(&key).to_string()
    } else {
        action.replace('_', " ")
    }
}
