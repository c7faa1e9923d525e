//! The supervisor console's core: one set of operations that the HTML pages
//! (`handlers::console`), the JSON API (`handlers::console_api`) and the exports all
//! call. Every read is scoped by the viewer's [`Principal`](crate::model::Principal)
//! (a supervisor their township, a county admin their county, a city admin the city)
//! and every view of records and every export is written to the console's access log
//! (ids and place codes, never names).

pub mod export;
pub mod figures;
pub mod people;
pub mod projection;

use crate::error::StoreError;
use crate::model::Role;
use crate::roster::PlaceKind;
use crate::store::{ConsoleLogEntry, Database, RecordRow, VillageSet};
use figures::{AreaOverview, Inputs, Places, TownshipOverview};
use people::Viewer;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// Why a console operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// Outside the viewer's area (HTTP 403; nothing is shown).
    #[error("outside your area")]
    Forbidden,
    #[error("not found")]
    NotFound,
    /// Bad input, with the sentence in Chinese and English.
    #[error("{en}")]
    BadInput {
        code: &'static str,
        zh: String,
        en: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ConsoleError {
    pub fn bad(code: &'static str, zh: impl Into<String>, en: impl Into<String>) -> ConsoleError {
        ConsoleError::BadInput {
            code,
            zh: zh.into(),
            en: en.into(),
        }
    }
}

type Result<T> = std::result::Result<T, ConsoleError>;

/// What an overview shows: a township's detail, or a county's / the city's rows.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(tag = "level", rename_all = "snake_case")]
pub enum Overview {
    Township(TownshipOverview),
    County(AreaOverview),
    City(AreaOverview),
}

/// Writes one line of the access log.
pub async fn log(db: &dyn Database, viewer: &Viewer, action: &str, subject: &str) -> Result<()> {
    db.log_console(ConsoleLogEntry {
        account_id: viewer.account_id,
        login: viewer.login.clone(),
        action: action.to_string(),
        subject: subject.chars().take(200).collect(),
        at_ms: crate::model::clock::now_ms() as i64,
    })
    .await?;
    Ok(())
}

/// The viewer's own area: their township, county or city.
pub fn home(viewer: &Viewer) -> Option<String> {
    viewer.place.clone()
}

/// Checks that every village under `code` is the viewer's to read (and that it exists).
fn check_area(places: &Places, viewer: &Viewer, code: &str) -> Result<Vec<String>> {
    let p = places.get(code).ok_or(ConsoleError::NotFound)?;
    if p.kind == PlaceKind::Village {
        return Err(ConsoleError::NotFound);
    }
    let villages = places.villages_under(code);
    if !villages.iter().all(|v| viewer.can_read(v))
        || (villages.is_empty()
            && viewer.role == Role::Supervisor
            && viewer.place.as_deref() != Some(code))
    {
        return Err(ConsoleError::Forbidden);
    }
    Ok(villages)
}

/// Loads what the figures of `villages` need and computes them with `f`.
async fn with_inputs<T>(
    db: &dyn Database,
    places: &Places,
    villages: &[String],
    f: impl FnOnce(&Inputs<'_>) -> T,
) -> Result<T> {
    let t = std::time::Instant::now();
    let lap = |what: &str| {
        tracing::debug!(
            what,
            ms = t.elapsed().as_secs_f64() * 1000.0,
            "console inputs"
        )
    };
    projection::refresh(db).await?;
    lap("refresh");
    let today = crate::model::clock::today();
    let since = figures::chart_since(today).to_string();
    // Independent reads, side by side (PostgreSQL: one connection each).
    let only = VillageSet::Only(villages);
    let ((accounts, devices, rejections), (children, referrals, visit_days)) =
        futures_util::future::try_join(
            futures_util::future::try_join3(
                db.directors_in(only),
                db.director_devices(only),
                db.rejection_counts(),
            ),
            futures_util::future::try_join3(
                db.console_children(villages),
                db.console_open_referrals(villages),
                db.console_visits_per_day(only, &since),
            ),
        )
        .await?;
    lap("reads");
    let policy = domain::VisitPolicy::default();
    let inp = Inputs {
        places,
        accounts: &accounts,
        devices: &devices,
        rejections: &rejections,
        children: &children,
        referrals: &referrals,
        visit_days: &visit_days,
        today,
        now_ms: crate::model::clock::now_ms() as i64,
        policy: &policy,
    };
    let out = f(&inp);
    lap("figures");
    Ok(out)
}

/// A county's or the city's figures: the directors' phones as for a township, the
/// children counted per village by the database (a city is 60,000 children; reading
/// them one by one is what a township view can afford, a city view cannot).
async fn area(
    db: &dyn Database,
    places: &Places,
    villages: &[String],
    village_total: usize,
    code: &str,
) -> Result<AreaOverview> {
    let t = std::time::Instant::now();
    let lap = |what: &str| {
        tracing::debug!(
            what,
            ms = t.elapsed().as_secs_f64() * 1000.0,
            "console area inputs"
        )
    };
    projection::refresh(db).await?;
    lap("refresh");
    // The city: every village there is; read without a village filter (figures::area
    // keeps the per-village answers of these villages only).
    let which = if villages.len() == village_total {
        VillageSet::All
    } else {
        VillageSet::Only(villages)
    };
    let today = crate::model::clock::today();
    let (day, expiring_by) = (
        today.to_string(),
        (today + chrono::Duration::days(figures::EXPIRING_DAYS)).to_string(),
    );
    let since = figures::chart_since(today).to_string();
    let (accounts, devices, counts, visit_days) = futures_util::future::try_join4(
        db.directors_in(which),
        db.director_devices(which),
        db.console_village_counts(which, &day, &expiring_by),
        db.console_visits_per_day(which, &since),
    )
    .await?;
    lap("reads");
    let policy = domain::VisitPolicy::default();
    let rejections = std::collections::BTreeMap::new();
    let inp = Inputs {
        places,
        accounts: &accounts,
        devices: &devices,
        rejections: &rejections,
        children: &[],
        referrals: &[],
        visit_days: &visit_days,
        today,
        now_ms: crate::model::clock::now_ms() as i64,
        policy: &policy,
    };
    let set: std::collections::HashSet<&str> = villages.iter().map(String::as_str).collect();
    let unsent: Vec<Uuid> = figures::unsent_children(&inp, &set).into_iter().collect();
    let overdue_unsent = if unsent.is_empty() {
        Vec::new()
    } else {
        db.console_overdue_of(&unsent, &day).await?
    };
    lap("overdue_unsent");
    let out = figures::area(&inp, code, &counts, &overdue_unsent);
    lap("figures");
    Ok(out)
}

/// The overview of `code` (default: the viewer's own area), logged as a view.
pub async fn overview(db: &dyn Database, viewer: &Viewer, code: Option<&str>) -> Result<Overview> {
    let code = match code {
        Some(c) => c.to_string(),
        None => home(viewer).ok_or(ConsoleError::NotFound)?,
    };
    let t = std::time::Instant::now();
    // The view's part of the place tree only: a township is 50 villages of 6,735.
    let (rows, village_total) = db.places_around(&code).await?;
    let places = Places::new(rows);
    let villages = check_area(&places, viewer, &code)?;
    tracing::debug!(ms = t.elapsed().as_secs_f64() * 1000.0, "console places");
    let out = match places.get(&code).map(|p| p.kind) {
        Some(PlaceKind::Township) => {
            let o = with_inputs(db, &places, &villages, |inp| figures::township(inp, &code));
            Overview::Township(o.await?)
        }
        Some(PlaceKind::County) => {
            Overview::County(area(db, &places, &villages, village_total, &code).await?)
        }
        _ => Overview::City(area(db, &places, &villages, village_total, &code).await?),
    };
    log(db, viewer, "view_overview", &code).await?;
    Ok(out)
}

/// One director's page: their phones and their overdue children.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct DirectorFile {
    pub township: figures::PlaceRef,
    pub director: figures::DirectorStatus,
    pub overdue: Vec<figures::OverdueChild>,
    pub children: Vec<ChildLine>,
}

/// A child in a list.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ChildLine {
    pub child_id: Uuid,
    pub name: String,
    pub village: figures::PlaceRef,
    pub risk_colour: String,
    pub categories: Vec<String>,
    pub last_visit_on: Option<String>,
    pub due_on: Option<String>,
}

/// A director's page, logged as a view.
pub async fn director(db: &dyn Database, viewer: &Viewer, login: &str) -> Result<DirectorFile> {
    let account = db
        .accounts()
        .await?
        .into_iter()
        .find(|a| a.login == login && a.role == Role::Director)
        .ok_or(ConsoleError::NotFound)?;
    if account.villages.is_empty() || !account.villages.iter().all(|v| viewer.can_read(v)) {
        return Err(ConsoleError::Forbidden);
    }
    let places = Places::new(db.places().await?);
    let township = places
        .ancestor(&account.villages[0], PlaceKind::Township)
        .map(str::to_string)
        .ok_or(ConsoleError::NotFound)?;
    let villages = account.villages.clone();
    let file = with_inputs(db, &places, &villages, |inp| {
        let t = figures::township(inp, &township);
        let director = t.directors.into_iter().find(|d| d.login == login);
        let children = inp
            .children
            .iter()
            .filter(|c| c.active)
            .map(|c| {
                let st = figures::child_state(c, inp.today, inp.policy);
                ChildLine {
                    child_id: c.child_id,
                    name: c.name.clone(),
                    village: inp.places.place_ref(&c.village),
                    risk_colour: c.risk_colour.clone(),
                    categories: c.categories.clone(),
                    last_visit_on: c.last_visit_on.clone(),
                    due_on: st.due_on.map(|d| d.to_string()),
                }
            })
            .collect::<Vec<_>>();
        (t.township, director, t.overdue, children)
    })
    .await?;
    let (township, director, overdue, mut children) = file;
    children.sort_by(|a, b| a.due_on.cmp(&b.due_on).then_with(|| a.name.cmp(&b.name)));
    log(db, viewer, "view_director", login).await?;
    Ok(DirectorFile {
        township,
        director: director.ok_or(ConsoleError::NotFound)?,
        overdue,
        children,
    })
}

/// One labelled value of a record.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct FieldLine {
    pub field: String,
    pub label_zh: String,
    pub value: String,
}

/// A record (a guardian, a visit, an agreement, a referral) of a child's file.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct FileRecord {
    pub table: String,
    pub label_zh: String,
    pub row_id: Uuid,
    pub fields: Vec<FieldLine>,
}

/// 一人一档 as a supervisor reads it: ID numbers masked.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ChildFile {
    pub child_id: Uuid,
    pub name: String,
    pub village: figures::PlaceRef,
    pub fields: Vec<FieldLine>,
    pub records: Vec<FileRecord>,
    /// Signed agreement versions: (row id, version, valid until).
    pub agreements: Vec<AgreementLine>,
}

/// A signed agreement version in a child's file.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AgreementLine {
    pub agreement_id: Uuid,
    pub version: i64,
    pub valid_from: String,
    pub valid_until: String,
    pub voided: bool,
}

/// Fields never shown in the console (free text may name people; the checklist is
/// shown summarised): none of these leaves the server through the console.
const MASKED_FIELDS: &[&str] = &["id_number"];

/// A visit checklist as a line: each area with its state (and note).
fn checklist_line(v: &serde_json::Map<String, serde_json::Value>) -> String {
    const AREAS: [(&str, &str); 6] = [
        ("living", "生活"),
        ("guardianship", "监护"),
        ("education", "教育"),
        ("health", "健康"),
        ("safety", "安全"),
        ("mood", "心理"),
    ];
    AREAS
        .iter()
        .filter_map(|(k, zh)| {
            let item = v.get(*k)?;
            let status = item.get("status").and_then(|s| s.as_str()).unwrap_or("");
            let note = item.get("note").and_then(|s| s.as_str()).unwrap_or("");
            let st = domain::labels::code_label_zh(status);
            Some(if note.is_empty() {
                format!("{zh}：{st}")
            } else {
                format!("{zh}：{st}（{note}）")
            })
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

/// A value as the console shows it: labelled, the ID number field masked, and any
/// ID-number-looking run in free text (a note, a name field misused) masked too.
fn show_value(field: &str, v: &serde_json::Value) -> String {
    mask_ids_in_text(&show_unmasked(field, v))
}

fn show_unmasked(field: &str, v: &serde_json::Value) -> String {
    if let (serde_json::Value::Object(m), "checklist") = (v, field) {
        return checklist_line(m);
    }
    let raw = match v {
        serde_json::Value::Null => return String::new(),
        serde_json::Value::String(s) if field.ends_with("_at") => {
            // A time as the phone wrote it (RFC 3339, its own offset): read as written.
            match chrono::DateTime::parse_from_rfc3339(s) {
                Ok(t) => t.format("%Y-%m-%d %H:%M").to_string(),
                Err(_) => s.clone(),
            }
        }
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Bool(b) => {
            if *b {
                "是 yes".into()
            } else {
                "否 no".into()
            }
        }
        serde_json::Value::Array(a) if a.is_empty() => "无 none".into(),
        serde_json::Value::Array(a) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(|s| domain::labels::code_label_zh(s).to_string())
                    .unwrap_or_else(|| x.to_string())
            })
            .collect::<Vec<_>>()
            .join("、"),
        other => other.to_string(),
    };
    if MASKED_FIELDS.contains(&field) || field.ends_with("id_number") {
        return domain::mask_id_number(&raw);
    }
    if let serde_json::Value::String(s) = v {
        let l = domain::labels::code_label_zh(s);
        if l != s.as_str() {
            return l.to_string();
        }
    }
    raw
}

fn lines(r: &RecordRow) -> Vec<FieldLine> {
    let spec = domain::schema::table(&r.table);
    let order: Vec<&str> = spec
        .map(|t| t.fields.iter().map(|f| f.name).collect())
        .unwrap_or_default();
    let mut out: Vec<FieldLine> = r
        .fields
        .iter()
        .filter(|(k, v)| !v.is_null() && k.as_str() != "child_id" && k.as_str() != "canonical_text")
        .map(|(k, v)| FieldLine {
            field: k.clone(),
            label_zh: domain::labels::field_label_zh(k).to_string(),
            value: show_value(k, v),
        })
        .collect();
    out.sort_by_key(|l| {
        order
            .iter()
            .position(|f| *f == l.field)
            .unwrap_or(usize::MAX)
    });
    out
}

async fn records_of(
    db: &dyn Database,
    viewer: &Viewer,
    child_id: Uuid,
) -> Result<(Places, Vec<RecordRow>)> {
    let records = db.child_records(&[child_id]).await?;
    let child = records
        .iter()
        .find(|r| r.table == "child" && r.row_id == child_id)
        .ok_or(ConsoleError::NotFound)?;
    if !viewer.can_read(&child.scope) {
        return Err(ConsoleError::Forbidden);
    }
    Ok((Places::new(db.places().await?), records))
}

/// A child's file, logged as a view.
pub async fn child_file(db: &dyn Database, viewer: &Viewer, child_id: Uuid) -> Result<ChildFile> {
    let (places, records) = records_of(db, viewer, child_id).await?;
    let child = records
        .iter()
        .find(|r| r.table == "child")
        .ok_or(ConsoleError::NotFound)?;
    let name = child
        .fields
        .get("name")
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .to_string();
    let mut agreements = Vec::new();
    let mut rest = Vec::new();
    for r in records.iter().filter(|r| r.table != "child") {
        if r.table == "agreement_version" {
            let t = |f: &str| {
                r.fields
                    .get(f)
                    .and_then(|v| v.as_str())
                    .unwrap_or("")
                    .to_string()
            };
            agreements.push(AgreementLine {
                agreement_id: r.row_id,
                version: r
                    .fields
                    .get("version")
                    .and_then(|v| v.as_i64())
                    .unwrap_or(1),
                valid_from: t("valid_from"),
                valid_until: t("valid_until"),
                voided: r.fields.get("voided").is_some_and(|v| !v.is_null()),
            });
            continue;
        }
        if matches!(r.table.as_str(), "signature" | "photo" | "agreement_draft") {
            continue;
        }
        rest.push(FileRecord {
            table: r.table.clone(),
            label_zh: domain::labels::table_label_zh(&r.table).to_string(),
            row_id: r.row_id,
            fields: lines(r),
        });
    }
    rest.sort_by(|a, b| a.table.cmp(&b.table).then_with(|| b.row_id.cmp(&a.row_id)));
    let mut fields = lines(child);
    for f in fields
        .iter_mut()
        .filter(|f| f.field == domain::schema::SCOPE_FIELD)
    {
        f.value = format!("{} ({})", places.name(&child.scope), child.scope);
    }
    log(db, viewer, "view_child", &child_id.to_string()).await?;
    Ok(ChildFile {
        child_id,
        name,
        village: places.place_ref(&child.scope),
        fields,
        records: rest,
        agreements,
    })
}

/// A signed agreement with its printable text.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AgreementView {
    pub child_id: Uuid,
    pub child_name: String,
    pub agreement_id: Uuid,
    pub version: i64,
    pub valid_from: String,
    pub valid_until: String,
    pub signed_at: String,
    pub text_sha256: String,
    /// Whether the text still hashes to the signed hash.
    pub text_intact: bool,
    /// The canonical text, ID numbers masked.
    pub text: String,
    /// Who signed: role and name.
    pub signers: Vec<String>,
    pub voided: bool,
}

/// A signed agreement version, logged as a view.
pub async fn agreement(
    db: &dyn Database,
    viewer: &Viewer,
    child_id: Uuid,
    agreement_id: Uuid,
) -> Result<AgreementView> {
    let (_places, records) = records_of(db, viewer, child_id).await?;
    let child = records
        .iter()
        .find(|r| r.table == "child")
        .ok_or(ConsoleError::NotFound)?;
    let a = records
        .iter()
        .find(|r| r.table == "agreement_version" && r.row_id == agreement_id)
        .ok_or(ConsoleError::NotFound)?;
    let t = |f: &str| {
        a.fields
            .get(f)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    let text = t("canonical_text");
    let sha = t("text_sha256");
    let signers = records
        .iter()
        .filter(|r| {
            r.table == "signature"
                && r.fields
                    .get("agreement_version_id")
                    .and_then(|v| v.as_str())
                    == Some(&agreement_id.to_string())
        })
        .filter_map(|r| {
            let role = r.fields.get("signer_role").and_then(|v| v.as_str())?;
            let name = r
                .fields
                .get("signer_name")
                .and_then(|v| v.as_str())
                .unwrap_or("");
            Some(format!("{} {name}", domain::labels::code_label_zh(role)))
        })
        .collect();
    log(db, viewer, "view_agreement", &agreement_id.to_string()).await?;
    Ok(AgreementView {
        child_id,
        child_name: child
            .fields
            .get("name")
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string(),
        agreement_id,
        version: a
            .fields
            .get("version")
            .and_then(|v| v.as_i64())
            .unwrap_or(1),
        valid_from: t("valid_from"),
        valid_until: t("valid_until"),
        signed_at: t("signed_at"),
        text_intact: domain::text_sha256(&text) == sha,
        text: mask_ids_in_text(&text),
        text_sha256: sha,
        signers,
        voided: a.fields.get("voided").is_some_and(|v| !v.is_null()),
    })
}

/// Masks every 身份证号-looking run (15–18 digits, maybe ending in X) in a text.
pub fn mask_ids_in_text(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let mut j = i;
        while j < chars.len()
            && (chars[j].is_ascii_digit()
                || (j > i && j - i == 17 && matches!(chars[j], 'X' | 'x')))
        {
            j += 1;
        }
        if j - i >= 15 {
            let run: String = chars[i..j].iter().collect();
            out.push_str(&domain::mask_id_number(&run));
            i = j;
        } else if j > i {
            out.extend(&chars[i..j]);
            i = j;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn id_numbers_in_an_agreement_text_are_masked() {
        let t = super::mask_ids_in_text("甲方身份证号：37060219800101123X，电话 13800000000。");
        assert!(t.contains("3706**********123X"), "{t}");
        assert!(t.contains("13800000000"), "phone numbers (11 digits) stay");
    }

    #[test]
    fn id_numbers_are_masked_in_every_field_and_note() {
        use serde_json::json;
        let id = "37060219800101123X";
        assert_eq!(
            super::show_value("id_number", &json!(id)),
            "3706**********123X"
        );
        assert_eq!(
            super::show_value("guardian_id_number", &json!(id)),
            "3706**********123X"
        );
        let note = super::show_value("note", &json!(format!("奶奶身份证 {id} 已核对")));
        assert!(
            !note.contains(id) && note.contains("3706**********123X"),
            "{note}"
        );
        assert_eq!(
            super::show_value("visited_at", &json!("2026-09-08T10:00:00+08:00")),
            "2026-09-08 10:00"
        );
        assert_eq!(super::show_value("actions", &json!([])), "无 none");
        let checklist =
            json!({"guardianship": {"status": "concern", "note": format!("监护人 {id}")}});
        let line = super::show_value("checklist", &checklist);
        assert!(!line.contains(id), "{line}");
    }
}
