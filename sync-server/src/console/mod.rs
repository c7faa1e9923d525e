//! The supervisor console's core: one set of operations that the HTML pages
//! (`handlers::console`), the JSON API (`handlers::console_api`) and the exports all
//! call. Every read is scoped by the viewer's [`Principal`](crate::model::Principal)
//! (a supervisor their township, a county admin their county, a city admin the city)
//! and every view of records and every export is written to the console's access log
//! (ids and place codes, never names).

pub mod export;
pub mod figures;
pub mod lang;
pub mod people;
pub mod projection;
pub mod readable;

use crate::error::StoreError;
use crate::model::Role;
use crate::roster::PlaceKind;
use crate::store::{ConsoleLogEntry, Database, RecordRow, VillageSet};
use figures::{AreaOverview, Inputs, Places, TownshipOverview};
use lang::Lang;
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
    let ((accounts, devices, rejections, quarantine), (children, referrals, visit_days)) =
        futures_util::future::try_join(
            futures_util::future::try_join4(
                db.directors_in(only),
                db.director_devices(only),
                db.rejection_counts(),
                db.quarantine_counts(),
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
        quarantine: &quarantine,
    };
    let out = f(&inp);
    lap("figures");
    Ok(out)
}

/// A county's or the city's figures: the directors' phones as for a township, the
/// children's figures and the visits per day from the read model's township summaries
/// (a city is 60,000 children; reading them one by one is what a township view can
/// afford, a city view cannot — and even counting them per village took most of a
/// city view on PostgreSQL). A summary is kept by the fold: a fold that changes a
/// child marks its township's counts stale and keeps its visits per day; a stale
/// summary, one of an earlier day or a missing one is counted again here, once.
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
    let townships = places.townships_under(code);
    let summaries = async {
        let mut counts = db.console_area_counts(&townships, &day).await?;
        let fresh: std::collections::HashSet<&str> =
            counts.iter().map(|c| c.township.as_str()).collect();
        let stale: Vec<String> = townships
            .iter()
            .filter(|t| !fresh.contains(t.as_str()))
            .cloned()
            .collect();
        if !stale.is_empty() {
            counts.extend(db.console_refresh_areas(&stale, &day, &expiring_by).await?);
        }
        let visit_days = db.console_area_visits_per_day(&townships, &since).await?;
        Ok::<_, StoreError>((counts, visit_days))
    };
    let (accounts, devices, (counts, visit_days)) = futures_util::future::try_join3(
        db.directors_in(which),
        db.director_devices(which),
        summaries,
    )
    .await?;
    lap("reads");
    let policy = domain::VisitPolicy::default();
    let rejections = std::collections::BTreeMap::new();
    let quarantine = std::collections::BTreeMap::new();
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
        quarantine: &quarantine,
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

/// One labelled value of a record, in the reader's language.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct FieldLine {
    /// The field's name in the schema (for tools; pages show `label`).
    pub field: String,
    pub label: String,
    pub value: String,
}

/// A record (a guardian, a visit, a referral) of a child's file.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct FileRecord {
    pub table: String,
    pub label: String,
    pub row_id: Uuid,
    pub fields: Vec<FieldLine>,
}

/// A photo of a child's file (its thumbnail and full image are served by the console,
/// each fetch logged as a view).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PhotoLine {
    pub photo_id: Uuid,
    /// When it was taken, in the deployment's zone.
    pub taken_at: String,
    /// The visit it belongs to: its time, in the deployment's zone.
    pub visit: Option<String>,
}

/// 一人一档 as a supervisor reads it: ID numbers masked, values in the reader's
/// language, no ids of other rows and no hashes.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ChildFile {
    pub child_id: Uuid,
    pub name: String,
    pub village: figures::PlaceRef,
    pub fields: Vec<FieldLine>,
    pub records: Vec<FileRecord>,
    /// Signed agreement versions.
    pub agreements: Vec<AgreementLine>,
    /// The visits' photos, newest first.
    pub photos: Vec<PhotoLine>,
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

/// A record's shown fields, in the schema's order.
fn lines(l: Lang, places: &Places, r: &RecordRow) -> Vec<FieldLine> {
    let spec = domain::schema::table(&r.table);
    let order: Vec<&str> = spec
        .map(|t| t.fields.iter().map(|f| f.name).collect())
        .unwrap_or_default();
    let mut out: Vec<FieldLine> = r
        .fields
        .iter()
        .filter_map(|(k, v)| {
            let value = if k == domain::schema::SCOPE_FIELD {
                places.name(v.as_str().unwrap_or(""))
            } else {
                readable::value(l, &r.table, k, v)?
            };
            Some(FieldLine {
                field: k.clone(),
                label: l.field(k),
                value,
            })
        })
        .collect();
    out.sort_by_key(|x| {
        order
            .iter()
            .position(|f| *f == x.field)
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
pub async fn child_file(
    db: &dyn Database,
    viewer: &Viewer,
    child_id: Uuid,
    l: Lang,
) -> Result<ChildFile> {
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
    let mut photos = Vec::new();
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
        if r.table == "photo" {
            if r.fields
                .get(domain::schema::VOID_FIELD)
                .is_some_and(|v| !v.is_null())
            {
                continue;
            }
            let text = |f: &str| r.fields.get(f).and_then(|v| v.as_str()).unwrap_or("");
            let visit = records
                .iter()
                .find(|v| v.table == "visit" && v.row_id.to_string() == text("visit_id"))
                .and_then(|v| v.fields.get("visited_at").and_then(|t| t.as_str()))
                .map(readable::time_in_zone);
            photos.push(PhotoLine {
                photo_id: r.row_id,
                taken_at: readable::time_in_zone(text("taken_at")),
                visit,
            });
            continue;
        }
        if matches!(
            r.table.as_str(),
            "signature" | "agreement_draft" | "consent"
        ) {
            continue;
        }
        rest.push(FileRecord {
            table: r.table.clone(),
            label: l.table(&r.table),
            row_id: r.row_id,
            fields: lines(l, &places, r),
        });
    }
    rest.sort_by(|a, b| a.table.cmp(&b.table).then_with(|| b.row_id.cmp(&a.row_id)));
    photos.sort_by(|a, b| b.taken_at.cmp(&a.taken_at));
    let fields = lines(l, &places, child);
    log(db, viewer, "view_child", &child_id.to_string()).await?;
    Ok(ChildFile {
        child_id,
        name,
        village: places.place_ref(&child.scope),
        fields,
        records: rest,
        agreements,
        photos,
    })
}

/// A photo of a child's file (`thumb`: its thumbnail), logged as a view: the photo row
/// must be the child's, the child in the viewer's area, and the image uploaded by a
/// phone of the child's village (proof of possession, as for any reader).
pub async fn photo(
    db: &dyn Database,
    blobs: &dyn crate::blobs::BlobStore,
    viewer: &Viewer,
    child_id: Uuid,
    photo_id: Uuid,
    thumb: bool,
) -> Result<Vec<u8>> {
    let (_places, records) = records_of(db, viewer, child_id).await?;
    let child = records
        .iter()
        .find(|r| r.table == "child" && r.row_id == child_id)
        .ok_or(ConsoleError::NotFound)?;
    let photo = records
        .iter()
        .find(|r| r.table == "photo" && r.row_id == photo_id)
        .ok_or(ConsoleError::NotFound)?;
    let field = if thumb { "thumb_sha256" } else { "blob_sha256" };
    let sha = photo
        .fields
        .get(field)
        .and_then(|v| v.as_str())
        .filter(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or(ConsoleError::NotFound)?;
    if !db
        .blob_access(sha, std::slice::from_ref(&child.scope))
        .await?
        .proven
    {
        return Err(ConsoleError::NotFound);
    }
    let bytes = blobs.get(sha).await?.ok_or(ConsoleError::NotFound)?;
    log(db, viewer, "view_photo", &format!("{child_id}/{photo_id}")).await?;
    Ok(bytes)
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
    l: Lang,
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
            Some(format!("{} {name}", l.code(role)))
        })
        .collect();
    log(
        db,
        viewer,
        "view_agreement",
        &format!("{child_id}/{agreement_id}"),
    )
    .await?;
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
        signed_at: readable::time_in_zone(&t("signed_at")),
        text_intact: domain::text_sha256(&text) == sha,
        text: mask_ids_in_text(&text),
        text_sha256: sha,
        signers,
        voided: a.fields.get("voided").is_some_and(|v| !v.is_null()),
    })
}

/// Masks every 身份证号-looking run in a text: the domain's one rule
/// (`domain::id_number::mask_id_numbers_in_text`).
pub use domain::id_number::mask_id_numbers_in_text as mask_ids_in_text;

#[cfg(test)]
mod tests {
    #[test]
    fn id_numbers_in_an_agreement_text_are_masked() {
        let t = super::mask_ids_in_text("甲方身份证号：37060219800101123X，电话 13800000000。");
        assert!(t.contains("3706**********123X"), "{t}");
        assert!(t.contains("13800000000"), "phone numbers (11 digits) stay");
    }
}
