//! The console's active-discovery pages (thin: read the request, call
//! [`crate::discovery`], render): import (upload → mapping if needed → preview →
//! commit → report), history with the loop's figures, open tasks per village, the
//! county's queue, the confirmation queue, the table of monthly standards, and the
//! month's XLSX export. One language at a time, the console's way
//! ([`crate::console::l`]): `l: Lang` on every page, its words in `l::MESSAGES`.

use super::{check_csrf, render, Lang, Nav, PageError, PageViewer};
use crate::console::people::Viewer;
use crate::console::ConsoleError;
use crate::discovery::confirmation::{self, Decision};
use crate::discovery::list_file::{column_letter, Column, ColumnMap, RowProblem};
use crate::discovery::{self as core, Figures, LoopFigures, Prepared, Read};
use crate::handlers::AppState;
use crate::model::Role;
use askama::Template;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

fn today() -> chrono::NaiveDate {
    crate::model::clock::today()
}

fn now() -> i64 {
    crate::model::clock::now_ms() as i64
}

async fn place_names(state: &AppState) -> Result<HashMap<String, String>, PageError> {
    Ok(state
        .db
        .places()
        .await?
        .into_iter()
        .map(|p| (p.code, p.name))
        .collect())
}

// ---------------------------------------------------------------- home and history

#[derive(Template)]
#[template(path = "discovery/home.html")]
struct HomePage {
    nav: Nav,
    l: Lang,
    can_import: bool,
    kinds: Vec<(String, String)>,
    month: String,
    history: Vec<LoopFigures>,
    error: Option<String>,
    notice: Option<String>,
}

async fn home_page(
    state: &AppState,
    v: &Viewer,
    l: Lang,
    error: Option<String>,
    notice: Option<String>,
) -> Result<Response, PageError> {
    let db = state.db.as_ref();
    let kinds = core::list_kinds(db, v).await.map_err(PageError::from)?;
    let rows = core::recent_findings_with_state(db, v, today())
        .await
        .map_err(PageError::from)?;
    let imports = db
        .imports(&v.place.iter().cloned().collect::<Vec<_>>())
        .await?;
    let history = core::loop_figures(&kinds, &rows, &imports, now());
    crate::console::log(db, v, "discovery_history", v.place.as_deref().unwrap_or("")).await?;
    let t = today();
    Ok(render(&HomePage {
        nav: Nav::of(v),
        l,
        can_import: v.role.administers(),
        kinds: kinds.into_iter().map(|k| (k.code, k.name)).collect(),
        month: format!("{}", t.format("%Y-%m")),
        history,
        error,
        notice,
    }))
}

/// The import page and the history of imports with the loop's figures.
pub async fn home(
    State(state): State<AppState>,
    PageViewer(v): PageViewer,
    l: Lang,
) -> Result<Response, PageError> {
    home_page(&state, &v, l, None, None).await
}

// ---------------------------------------------------------------- upload and preview

#[derive(Template)]
#[template(path = "discovery/mapping.html")]
struct MappingPage {
    nav: Nav,
    l: Lang,
    token: String,
    headers: Vec<(usize, String, String)>,
    fields: Vec<(String, String, Option<usize>, bool)>,
}

#[derive(Template)]
#[template(path = "discovery/preview.html")]
struct PreviewPage {
    nav: Nav,
    l: Lang,
    token: String,
    list_name: String,
    month: String,
    previous_month: Option<String>,
    f: Figures,
    problems: Vec<(usize, String)>,
    findings: Vec<FindingLine>,
    more: usize,
}

/// A finding as the preview and report list it (ID numbers masked).
pub struct FindingLine {
    pub kind: String,
    pub village: String,
    pub who: String,
    pub id_masked: String,
    pub new: bool,
}

const PREVIEW_LINES: usize = 200;

fn finding_lines(p: &Prepared, names: &HashMap<String, String>, l: Lang) -> Vec<FindingLine> {
    p.report
        .findings
        .iter()
        .zip(&p.ids)
        .take(PREVIEW_LINES)
        .map(|(f, (_, _, new))| {
            let person = f.finding.person.as_ref();
            let adult = f.finding.adult.as_ref();
            FindingLine {
                kind: l.code(f.kind().code()),
                village: f
                    .village
                    .as_ref()
                    .map(|v| names.get(v).cloned().unwrap_or_else(|| v.clone()))
                    .unwrap_or_else(|| l.t("disc.to_be_assigned").to_string()),
                who: f
                    .title
                    .split('。')
                    .next()
                    .unwrap_or("")
                    .trim_start_matches("核查：")
                    .trim_start_matches("复核：")
                    .to_string(),
                id_masked: person
                    .map(|p| domain::mask_id_number(&p.id_number))
                    .or_else(|| adult.map(|a| a.id_number_masked.clone()))
                    .unwrap_or_default(),
                new: *new,
            }
        })
        .collect()
}

fn preview_page(
    state: &AppState,
    v: &Viewer,
    l: Lang,
    p: Prepared,
    names: &HashMap<String, String>,
) -> Response {
    let f = p.figures();
    let problems = p
        .problems()
        .into_iter()
        .map(|r: &RowProblem| {
            (
                r.line,
                if l.is_en() {
                    r.en.clone()
                } else {
                    r.zh.clone()
                },
            )
        })
        .collect();
    let findings = finding_lines(&p, names, l);
    let more = p.report.findings.len().saturating_sub(PREVIEW_LINES);
    let page = PreviewPage {
        nav: Nav::of(v),
        l,
        token: String::new(),
        list_name: p.kind.name.clone(),
        month: p.month.clone(),
        previous_month: p.previous_month.clone(),
        f,
        problems,
        findings,
        more,
    };
    let token = state.discovery.keep_prepared(v, p);
    render(&PreviewPage { token, ..page })
}

fn mapping_page(
    state: &AppState,
    v: &Viewer,
    l: Lang,
    sheet: core::PendingSheet,
    headers: Vec<String>,
    map: ColumnMap,
    missing: Vec<Column>,
) -> Response {
    let token = state.discovery.keep_sheet(v, sheet);
    render(&MappingPage {
        nav: Nav::of(v),
        l,
        token,
        headers: headers
            .into_iter()
            .enumerate()
            .map(|(i, h)| (i, column_letter(i), h))
            .collect(),
        fields: Column::ALL
            .into_iter()
            .map(|c| {
                (
                    c.code().to_string(),
                    l.pick(c.label_zh(), c.label_en()).to_string(),
                    map.get(&c).copied(),
                    missing.contains(&c),
                )
            })
            .collect(),
    })
}

/// Upload: read the file in memory, then the mapping page or the preview.
pub async fn preview(
    State(state): State<AppState>,
    PageViewer(v): PageViewer,
    l: Lang,
    mut form: Multipart,
) -> Result<Response, PageError> {
    let (mut csrf, mut kind, mut month, mut name) =
        (String::new(), String::new(), String::new(), String::new());
    let mut file: Option<bytes::Bytes> = None;
    while let Some(field) = form.next_field().await.map_err(|_| PageError::bad_form())? {
        match field.name() {
            Some("csrf") => csrf = field.text().await.map_err(|_| PageError::bad_form())?,
            Some("kind") => kind = field.text().await.map_err(|_| PageError::bad_form())?,
            Some("month") => month = field.text().await.map_err(|_| PageError::bad_form())?,
            Some("file") => {
                name = field.file_name().unwrap_or("").to_string();
                file = Some(field.bytes().await.map_err(|_| PageError::bad_form())?);
            }
            _ => {}
        }
    }
    check_csrf(&v, &csrf)?;
    let Some(bytes) = file.filter(|b| !b.is_empty()) else {
        return home_page(
            &state,
            &v,
            l,
            Some(l.t("disc.choose_the_list_file_to_import_xlsx").to_string()),
            None,
        )
        .await;
    };
    let db = state.db.as_ref();
    let read = state
        .discovery
        .read(db, &v, &name, &bytes, &kind, &month)
        .await;
    drop(bytes);
    match read {
        Err(ConsoleError::BadInput { zh, en, .. }) => {
            home_page(&state, &v, l, Some(if l.is_en() { en } else { zh }), None).await
        }
        Err(e) => Err(PageError::from(e)),
        Ok((Read::Ready(p), _)) => {
            let names = place_names(&state).await?;
            Ok(preview_page(&state, &v, l, *p, &names))
        }
        Ok((
            Read::NeedsMapping {
                headers,
                map,
                missing,
            },
            Some(sheet),
        )) => Ok(mapping_page(&state, &v, l, sheet, headers, map, missing)),
        Ok((Read::NeedsMapping { .. }, None)) => Err(PageError::bad_form()),
    }
}

/// The mapping form: the chosen column of each field.
pub async fn mapping(
    State(state): State<AppState>,
    PageViewer(v): PageViewer,
    l: Lang,
    Form(form): Form<BTreeMap<String, String>>,
) -> Result<Response, PageError> {
    check_csrf(&v, form.get("csrf").map(String::as_str).unwrap_or(""))?;
    let token = form.get("token").cloned().unwrap_or_default();
    let sheet = state
        .discovery
        .take_sheet(&v, &token)
        .map_err(PageError::from)?;
    let mut map = ColumnMap::new();
    for c in Column::ALL {
        if let Some(i) = form
            .get(&format!("col_{}", c.code()))
            .and_then(|s| s.parse::<usize>().ok())
        {
            map.insert(c, i);
        }
    }
    let missing = crate::discovery::list_file::missing_columns(&map);
    if !missing.is_empty() {
        let guess = crate::discovery::list_file::guess_header(&sheet.sheet);
        return Ok(mapping_page(
            &state,
            &v,
            l,
            sheet,
            guess.headers,
            map,
            missing,
        ));
    }
    let p = state
        .discovery
        .prepare(state.db.as_ref(), &v, &sheet, &map)
        .await
        .map_err(PageError::from)?;
    let names = place_names(&state).await?;
    Ok(preview_page(&state, &v, l, p, &names))
}

#[derive(Template)]
#[template(path = "discovery/report.html")]
struct ReportPage {
    nav: Nav,
    l: Lang,
    list_name: String,
    month: String,
    f: Figures,
    new_tasks: i64,
    queued: i64,
    problems: Vec<(usize, String)>,
    findings: Vec<FindingLine>,
    more: usize,
}

#[derive(serde::Deserialize)]
pub struct TokenForm {
    csrf: String,
    token: String,
}

/// Commit: the findings become tasks (through the server's replica), then the report.
pub async fn commit(
    State(state): State<AppState>,
    PageViewer(v): PageViewer,
    l: Lang,
    Form(form): Form<TokenForm>,
) -> Result<Response, PageError> {
    check_csrf(&v, &form.csrf)?;
    let p = state
        .discovery
        .take_prepared(&v, &form.token)
        .map_err(PageError::from)?;
    let record = state
        .discovery
        .commit(state.db.as_ref(), &v, &p, today(), &|_, _| {})
        .await
        .map_err(PageError::from)?;
    let names = place_names(&state).await?;
    let problems = p
        .problems()
        .into_iter()
        .map(|r| {
            (
                r.line,
                if l.is_en() {
                    r.en.clone()
                } else {
                    r.zh.clone()
                },
            )
        })
        .collect();
    Ok(render(&ReportPage {
        nav: Nav::of(&v),
        l,
        list_name: p.kind.name.clone(),
        month: p.month.clone(),
        f: p.figures(),
        new_tasks: record.new_tasks,
        queued: record.queued,
        problems,
        findings: finding_lines(&p, &names, l),
        more: p.report.findings.len().saturating_sub(PREVIEW_LINES),
    }))
}

#[derive(serde::Deserialize)]
pub struct KindForm {
    csrf: String,
    code: String,
    name: String,
    meaning: String,
    due_days: String,
}

/// A county adds its own list kind.
pub async fn add_kind(
    State(state): State<AppState>,
    PageViewer(v): PageViewer,
    l: Lang,
    Form(f): Form<KindForm>,
) -> Result<Response, PageError> {
    check_csrf(&v, &f.csrf)?;
    let days = f.due_days.trim().parse::<i64>().unwrap_or(0);
    match core::add_list_kind(state.db.as_ref(), &v, &f.code, &f.name, &f.meaning, days).await {
        Ok(k) => {
            home_page(
                &state,
                &v,
                l,
                None,
                Some(format!("{} {}", l.t("disc.list_kind_added"), k.name)),
            )
            .await
        }
        Err(ConsoleError::BadInput { zh, en, .. }) => {
            home_page(&state, &v, l, Some(if l.is_en() { en } else { zh }), None).await
        }
        Err(e) => Err(PageError::from(e)),
    }
}

// ---------------------------------------------------------------- open tasks

#[derive(Template)]
#[template(path = "discovery/tasks.html")]
struct TasksPage {
    nav: Nav,
    l: Lang,
    villages: Vec<(String, Vec<TaskLine>)>,
}

struct TaskLine {
    kind: String,
    list: String,
    month: String,
    age_days: i64,
    due_on: String,
}

/// Open tasks per village with their age (a supervisor: their township's only).
pub async fn tasks(
    State(state): State<AppState>,
    PageViewer(v): PageViewer,
    l: Lang,
) -> Result<Response, PageError> {
    let db = state.db.as_ref();
    let rows = core::findings_with_state(db, &v, None)
        .await
        .map_err(PageError::from)?;
    let kinds: HashMap<String, String> = db
        .list_kinds()
        .await?
        .into_iter()
        .map(|k| (k.code, k.name))
        .collect();
    let names = place_names(&state).await?;
    let mut by: BTreeMap<String, Vec<TaskLine>> = BTreeMap::new();
    for t in core::open_tasks(&rows, now()) {
        by.entry(names.get(&t.village).cloned().unwrap_or(t.village.clone()))
            .or_default()
            .push(TaskLine {
                kind: l.code(&t.finding),
                list: kinds
                    .get(&t.list_kind)
                    .cloned()
                    .unwrap_or(t.list_kind.clone()),
                month: t.month,
                age_days: t.age_days,
                due_on: t.due_on.unwrap_or_default(),
            });
    }
    crate::console::log(db, &v, "discovery_tasks", v.place.as_deref().unwrap_or("")).await?;
    Ok(render(&TasksPage {
        nav: Nav::of(&v),
        l,
        villages: by.into_iter().collect(),
    }))
}

// ---------------------------------------------------------------- the county's queue

#[derive(Template)]
#[template(path = "discovery/queue.html")]
struct QueuePage {
    nav: Nav,
    l: Lang,
    items: Vec<QueueLine>,
    villages: Vec<(String, String)>,
    notice: Option<String>,
}

struct QueueLine {
    id: Uuid,
    kind: String,
    who: String,
    id_masked: String,
    place_text: String,
    month: String,
}

async fn queue_page(
    state: &AppState,
    v: &Viewer,
    l: Lang,
    notice: Option<String>,
) -> Result<Response, PageError> {
    let db = state.db.as_ref();
    let items = core::queue(db, v).await.map_err(PageError::from)?;
    // Each village with its township (two townships may have a village of one name).
    let places = state.db.places().await?;
    let by_code: HashMap<&str, &crate::store::PlaceRow> =
        places.iter().map(|p| (p.code.as_str(), p)).collect();
    let mut villages: Vec<(String, String)> = v
        .principal
        .read_scopes
        .iter()
        .map(|c| {
            let p = by_code.get(c.as_str());
            let township = p
                .and_then(|p| p.parent.as_deref())
                .and_then(|t| by_code.get(t))
                .map(|t| t.name.as_str())
                .unwrap_or("");
            let name = p.map(|p| p.name.as_str()).unwrap_or(c);
            (c.clone(), format!("{township} · {name}"))
        })
        .collect();
    villages.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(render(&QueuePage {
        nav: Nav::of(v),
        l,
        items: items
            .into_iter()
            .map(|q| {
                let person = q.finding.as_ref().and_then(|f| f.person.clone());
                QueueLine {
                    id: q.record.finding_id,
                    kind: l.code(&q.record.finding),
                    who: person.as_ref().map(|p| p.name.clone()).unwrap_or_default(),
                    id_masked: person
                        .map(|p| domain::mask_id_number(&p.id_number))
                        .unwrap_or_default(),
                    place_text: q.record.place_text.unwrap_or_default(),
                    month: q.record.list_month,
                }
            })
            .collect(),
        villages,
        notice,
    }))
}

/// The county's queue: findings without a village.
pub async fn queue(
    State(state): State<AppState>,
    PageViewer(v): PageViewer,
    l: Lang,
) -> Result<Response, PageError> {
    queue_page(&state, &v, l, None).await
}

#[derive(serde::Deserialize)]
pub struct AssignForm {
    csrf: String,
    village: String,
}

/// An admin gives a queued finding its village.
pub async fn assign(
    State(state): State<AppState>,
    PageViewer(v): PageViewer,
    l: Lang,
    Path(id): Path<Uuid>,
    Form(f): Form<AssignForm>,
) -> Result<Response, PageError> {
    check_csrf(&v, &f.csrf)?;
    state
        .discovery
        .assign(state.db.as_ref(), &v, id, &f.village, today())
        .await
        .map_err(PageError::from)?;
    queue_page(
        &state,
        &v,
        l,
        Some(l.t("disc.assigned_the_task_goes_to_that").to_string()),
    )
    .await
}

// ---------------------------------------------------------------- confirmations

#[derive(Template)]
#[template(path = "discovery/confirmations.html")]
struct ConfirmationsPage {
    nav: Nav,
    l: Lang,
    can_decide: bool,
    today: String,
    items: Vec<ConfirmLine>,
    notice: Option<String>,
    error: Option<String>,
}

struct ConfirmLine {
    child_id: Uuid,
    name: String,
    village: String,
    categories: String,
    status: String,
    state: String,
    sent_back: bool,
    added_on: String,
}

async fn confirmations_page(
    state: &AppState,
    v: &Viewer,
    l: Lang,
    notice: Option<String>,
    error: Option<String>,
) -> Result<Response, PageError> {
    let db = state.db.as_ref();
    let items = confirmation::queue(db, v).await.map_err(PageError::from)?;
    let names = place_names(state).await?;
    Ok(render(&ConfirmationsPage {
        nav: Nav::of(v),
        l,
        can_decide: v.role == Role::CountyAdmin,
        today: today().to_string(),
        items: items
            .into_iter()
            .map(|i| ConfirmLine {
                child_id: i.child_id,
                name: i.child.name.clone(),
                village: names.get(&i.village).cloned().unwrap_or(i.village.clone()),
                categories: i
                    .child
                    .categories
                    .iter()
                    .map(|c| l.code(c.code()))
                    .collect::<Vec<_>>()
                    .join(l.pick("、", ", ")),
                status: match i.child.exit_reason {
                    Some(r) if i.child.status == domain::ChildStatus::Exited => {
                        format!("{}（{}）", l.code("exited"), l.code(r.code()))
                    }
                    _ => l.code(i.child.status.code()),
                },
                state: if l.is_en() {
                    i.state.label_en()
                } else {
                    i.state.label_zh()
                },
                sent_back: matches!(i.state, domain::ConfirmationState::SentBack { .. }),
                added_on: i.child.added_on.to_string(),
            })
            .collect(),
        notice,
        error,
    }))
}

/// The confirmation queue (county and city admins; county admins decide).
pub async fn confirmations(
    State(state): State<AppState>,
    PageViewer(v): PageViewer,
    l: Lang,
) -> Result<Response, PageError> {
    confirmations_page(&state, &v, l, None, None).await
}

#[derive(serde::Deserialize)]
pub struct DecideForm {
    csrf: String,
    action: String,
    #[serde(default)]
    in_care_since: String,
    #[serde(default)]
    reason: String,
}

/// Confirm or send back.
pub async fn decide(
    State(state): State<AppState>,
    PageViewer(v): PageViewer,
    l: Lang,
    Path(child_id): Path<Uuid>,
    Form(f): Form<DecideForm>,
) -> Result<Response, PageError> {
    check_csrf(&v, &f.csrf)?;
    let decision = match f.action.as_str() {
        "confirm" => {
            let since = f.in_care_since.trim();
            let since = if since.is_empty() {
                None
            } else {
                match chrono::NaiveDate::parse_from_str(
                    &domain::normalize::normalize_date(since),
                    "%Y-%m-%d",
                ) {
                    Ok(d) => Some(d),
                    Err(_) => {
                        let msg = l.t("disc.the_date_brought_into_care_is_yyyy");
                        return confirmations_page(&state, &v, l, None, Some(msg.to_string()))
                            .await;
                    }
                }
            };
            Decision::Confirm {
                in_care_since: since,
            }
        }
        "send_back" => Decision::SendBack { reason: f.reason },
        _ => return Err(PageError::bad_form()),
    };
    match state
        .discovery
        .decide(state.db.as_ref(), &v, child_id, decision, today())
        .await
    {
        Ok(s) => {
            let msg = if l.is_en() {
                s.label_en()
            } else {
                s.label_zh()
            };
            confirmations_page(&state, &v, l, Some(msg), None).await
        }
        Err(ConsoleError::BadInput { zh, en, .. }) => {
            confirmations_page(&state, &v, l, None, Some(if l.is_en() { en } else { zh })).await
        }
        Err(e) => Err(PageError::from(e)),
    }
}

// ---------------------------------------------------------------- standards

#[derive(Template)]
#[template(path = "discovery/standards.html")]
struct StandardsPage {
    nav: Nav,
    l: Lang,
    lines: Vec<(String, i64, String)>,
    categories: Vec<(String, String)>,
    error: Option<String>,
}

async fn standards_page(
    state: &AppState,
    v: &Viewer,
    l: Lang,
    error: Option<String>,
) -> Result<Response, PageError> {
    if !v.role.administers() {
        return Err(PageError::from(ConsoleError::Forbidden));
    }
    let lines = state
        .db
        .care_standards()
        .await?
        .into_iter()
        .map(|line| (l.code(&line.category), line.yuan, line.effective_from))
        .collect();
    Ok(render(&StandardsPage {
        nav: Nav::of(v),
        l,
        lines,
        categories: domain::Category::ALL
            .iter()
            .map(|c| (c.code().to_string(), l.code(c.code())))
            .collect(),
        error,
    }))
}

/// The dated table of monthly standards.
pub async fn standards(
    State(state): State<AppState>,
    PageViewer(v): PageViewer,
    l: Lang,
) -> Result<Response, PageError> {
    standards_page(&state, &v, l, None).await
}

#[derive(serde::Deserialize)]
pub struct StandardForm {
    csrf: String,
    category: String,
    yuan: String,
    effective_from: String,
}

/// Sets a line of the table.
pub async fn set_standard(
    State(state): State<AppState>,
    PageViewer(v): PageViewer,
    l: Lang,
    Form(f): Form<StandardForm>,
) -> Result<Response, PageError> {
    check_csrf(&v, &f.csrf)?;
    match confirmation::set_standard(
        state.db.as_ref(),
        &v,
        &f.category,
        &f.yuan,
        &f.effective_from,
    )
    .await
    {
        Ok(()) => standards_page(&state, &v, l, None).await,
        Err(ConsoleError::BadInput { zh, en, .. }) => {
            standards_page(&state, &v, l, Some(if l.is_en() { en } else { zh })).await
        }
        Err(e) => Err(PageError::from(e)),
    }
}

// ---------------------------------------------------------------- export

#[derive(serde::Deserialize)]
pub struct MonthQuery {
    month: String,
}

/// The month's findings and outcomes as XLSX (numbers and dates as real cells; a
/// Chinese file name with the area and the month). Logged.
pub async fn export(
    State(state): State<AppState>,
    PageViewer(v): PageViewer,
    l: Lang,
    Query(q): Query<MonthQuery>,
) -> Result<Response, PageError> {
    let month = domain::discovery::parse_list_month(&q.month)
        .map_err(|e| PageError::from(ConsoleError::bad(e.code, e.zh, e.en)))?;
    let db = state.db.as_ref();
    let rows = core::findings_with_state(db, &v, Some(&month))
        .await
        .map_err(PageError::from)?;
    let kinds: HashMap<String, String> = db
        .list_kinds()
        .await?
        .into_iter()
        .map(|k| (k.code, k.name))
        .collect();
    let names = place_names(&state).await?;
    let area = v.place.clone().unwrap_or_default();
    let area_name = names.get(&area).cloned().unwrap_or(area.clone());
    let body = crate::discovery::export::xlsx(l, &rows, &kinds, &names, now()).map_err(|_| {
        PageError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "export_failed",
            "导出失败。",
            "The export failed.",
        )
    })?;
    let file = format!(
        "{area_name}{}主动发现核查结果.xlsx",
        domain::discovery::month_zh(&month)
    );
    crate::console::log(db, &v, "discovery_export", &format!("{area} {month}")).await?;
    let encoded: String = file
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'.' || b == b'-' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"discovery-{month}.xlsx\"; filename*=UTF-8''{encoded}"
                ),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        body,
    )
        .into_response())
}
