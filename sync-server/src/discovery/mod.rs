//! 主动发现 (active discovery), the server core the console pages and the admin CLI
//! both call: read a month's list ([`list_file`]), match it against the roster
//! ([`matching`], pure), preview, and commit — the findings become `task` rows written
//! by the server as a replica of its own ([`Discovery::write_rows`]: its own device
//! identity and clock, through the same [`SyncStore::push`](crate::store::SyncStore::push)
//! and so the same ingest rules and feed as a phone), so they merge with the
//! directors' edits like any row and reach exactly their village's phones. The
//! county's confirmations (`county_decision` rows, [`domain::care`]) go the same way.
//!
//! **Idempotent.** A finding's id — and its task's — is derived from what it is about
//! (list kind, finding kind, the person, the village; the month for a review finding)
//! with a keyed hash (the key is made once per deployment and kept in the database, so
//! an id does not reveal the ID number it came from). A finding whose task exists is
//! not written again: the same file twice, or next month's list holding the same
//! child, writes nothing, and nothing a director closed is reopened. The server writes
//! a task only when it creates it, and only fields a director may not change.
//!
//! **Replica identities per process.** Each server process (and each CLI run) that
//! writes registers devices of its own under the server's account on first write
//! (up to four, used together for a large write) and writes through each under its
//! own lock, so every identity's `device_seq` stays dense without any lock between
//! processes; several processes importing at once each write with their own.
//!
//! **The file is never kept**: it is read in memory; a console preview waits in this
//! process's memory (at most [`PENDING_MAX`], for [`PENDING_TTL_MS`]) for its commit.

pub mod confirmation;
pub mod export;
pub mod list_file;
pub mod matching;

use crate::console::people::Viewer;
use crate::console::ConsoleError;
use crate::model::{DeviceAuth, Principal, Role};
use crate::roster::PlaceKind;
use crate::store::discovery::{FindingRecord, ImportRecord};
use crate::store::{Database, PushBatch};
use list_file::{ColumnMap, RowProblem, Sheet};
use matching::{ListKind, MatchContext, MatchReport, Roster, VillagePlace, VillageResolver};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use sync_core::hlc::HlcClock;
use sync_core::{Change, Scope};
use uuid::Uuid;

type Result<T> = std::result::Result<T, ConsoleError>;

/// The server replica's account: its login and display name (in `model`, which the
/// store also reads).
pub use crate::model::{SERVER_LOGIN, SERVER_NAME};
/// Replicas (devices) a server process writes through at once.
const REPLICAS: usize = 4;
/// Most changes per push of the replica (the push limit is 5000).
const CHANGES_PER_PUSH: usize = 4000;
/// Console previews kept in memory at once, and for how long.
pub const PENDING_MAX: usize = 8;
pub const PENDING_TTL_MS: i64 = 30 * 60 * 1000;

/// The server's replica in this process: its device and clock.
struct Replica {
    device_id: Uuid,
    account_id: i64,
    clock: HlcClock,
}

/// One row the server writes: its table, id, village and fields.
#[derive(Clone, Debug)]
pub struct ServerRow {
    pub table: &'static str,
    pub row_id: Uuid,
    pub scope: String,
    pub fields: Vec<(&'static str, Value)>,
}

/// A list read and matched, waiting to be committed.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub kind: ListKind,
    pub month: String,
    pub area: String,
    pub villages: Vec<String>,
    pub report: MatchReport,
    pub invalid: Vec<RowProblem>,
    pub empty_rows: usize,
    /// Per finding of `report.findings`: its id, its task's id (None while queued),
    /// and whether it is new (its task, or its queue entry, does not exist yet).
    pub ids: Vec<(Uuid, Option<Uuid>, bool)>,
    /// The previous month of this list compared with, if any.
    pub previous_month: Option<String>,
}

/// The preview's figures.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Figures {
    pub rows_read: usize,
    pub minors: usize,
    pub on_roster: usize,
    pub findings: usize,
    pub new_tasks: usize,
    pub new_queued: usize,
    pub invalid_rows: usize,
    pub no_village: usize,
    pub duplicates: usize,
}

impl Prepared {
    pub fn figures(&self) -> Figures {
        let new_tasks = self
            .ids
            .iter()
            .filter(|(_, task, new)| *new && task.is_some())
            .count();
        let new_queued = self
            .ids
            .iter()
            .filter(|(_, task, new)| *new && task.is_none())
            .count();
        Figures {
            rows_read: self.report.rows_read + self.invalid.len(),
            minors: self.report.minors,
            on_roster: self.report.on_roster,
            findings: self.report.findings.len(),
            new_tasks,
            new_queued,
            invalid_rows: self.invalid.len(),
            no_village: self.report.no_village.len(),
            duplicates: self.report.duplicates.len(),
        }
    }

    /// Every reported line, in line order: invalid, duplicate, without a village.
    pub fn problems(&self) -> Vec<&RowProblem> {
        let mut all: Vec<&RowProblem> = self
            .invalid
            .iter()
            .chain(&self.report.duplicates)
            .chain(&self.report.no_village)
            .collect();
        all.sort_by_key(|p| p.line);
        all
    }
}

/// What reading a file gave: a list to preview, or columns to map first.
#[derive(Clone, Debug)]
pub enum Read {
    Ready(Box<Prepared>),
    /// The header row's texts and what was recognised; the person maps the rest.
    NeedsMapping {
        headers: Vec<String>,
        map: ColumnMap,
        missing: Vec<list_file::Column>,
    },
}

/// A file read in memory, waiting for its column mapping (console).
#[derive(Clone, Debug)]
pub struct PendingSheet {
    pub sheet: Arc<Sheet>,
    pub header_index: usize,
    pub kind: String,
    pub month: String,
}

enum Pending {
    Sheet(PendingSheet),
    Prepared(Box<Prepared>),
}

/// Active discovery's service: one per process (see the module documentation).
pub struct Discovery {
    /// This process's replicas (see [`Discovery::write_rows`]).
    replicas: Vec<tokio::sync::Mutex<Option<Replica>>>,
    pending: std::sync::Mutex<HashMap<String, (i64, i64, Pending)>>,
    max_ahead_ms: u64,
}

impl Default for Discovery {
    fn default() -> Self {
        Discovery::new(600_000)
    }
}

/// The keyed id of a finding (and of its task) from what it is about.
pub fn derived_id(key: &[u8], what: &str) -> Uuid {
    let digest = Sha256::new()
        .chain_update(key)
        .chain_update([0u8])
        .chain_update(what.as_bytes())
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

fn bad(code: &'static str, zh: impl Into<String>, en: impl Into<String>) -> ConsoleError {
    ConsoleError::bad(code, zh, en)
}

fn now_ms() -> i64 {
    crate::model::clock::now_ms() as i64
}

/// A county or city admin acting from the command line (no session): what a console
/// login would give them.
pub async fn acting_admin(
    db: &dyn Database,
    login: &str,
) -> std::result::Result<Option<Viewer>, crate::error::StoreError> {
    let Some(p) = db.person(login).await? else {
        return Ok(None);
    };
    if !p.role.administers() {
        return Ok(None);
    }
    let Some(principal) = db.principal(p.account_id).await? else {
        return Ok(None);
    };
    Ok(Some(Viewer {
        account_id: p.account_id,
        login: p.login,
        name: p.name,
        role: p.role,
        place: p.place,
        principal,
        csrf: String::new(),
        session_hash: [0; 32],
    }))
}

/// The importing person's area: a county or city admin's place.
fn area_of(viewer: &Viewer) -> Result<String> {
    match (viewer.role, &viewer.place) {
        (Role::CountyAdmin | Role::CityAdmin, Some(p)) => Ok(p.clone()),
        _ => Err(ConsoleError::Forbidden),
    }
}

/// The villages of `area` (county or city) with their township names.
async fn area_villages(db: &dyn Database, viewer: &Viewer) -> Result<Vec<VillagePlace>> {
    let places = db.places().await?;
    let names: HashMap<&str, &str> = places
        .iter()
        .map(|p| (p.code.as_str(), p.name.as_str()))
        .collect();
    Ok(places
        .iter()
        .filter(|p| p.kind == PlaceKind::Village && viewer.can_read(&p.code))
        .map(|p| VillagePlace {
            code: p.code.clone(),
            name: p.name.clone(),
            township_name: p
                .parent
                .as_deref()
                .and_then(|t| names.get(t))
                .unwrap_or(&"")
                .to_string(),
        })
        .collect())
}

/// A list kind the viewer may import (every county's, or their county's own).
pub async fn list_kind(db: &dyn Database, viewer: &Viewer, code: &str) -> Result<ListKind> {
    let kinds = list_kinds(db, viewer).await?;
    kinds.into_iter().find(|k| k.code == code).ok_or_else(|| {
        bad(
            "unknown_list_kind",
            format!(
                "没有“{}”这种名单",
                code.chars().take(40).collect::<String>()
            ),
            "no such list kind",
        )
    })
}

/// The list kinds the viewer sees: every county's, and their own county's.
pub async fn list_kinds(db: &dyn Database, viewer: &Viewer) -> Result<Vec<ListKind>> {
    Ok(db
        .list_kinds()
        .await?
        .into_iter()
        .filter(|k| match &k.county {
            None => true,
            Some(c) => {
                viewer.place.as_deref() == Some(c.as_str()) || viewer.role == Role::CityAdmin
            }
        })
        .collect())
}

/// Adds a county's own list kind (a county admin: for their county; a city admin: for
/// every county).
pub async fn add_list_kind(
    db: &dyn Database,
    viewer: &Viewer,
    code: &str,
    name: &str,
    meaning: &str,
    due_days: i64,
) -> Result<ListKind> {
    let area = area_of(viewer)?;
    let code = code.trim().to_ascii_lowercase();
    if code.is_empty()
        || code.len() > 40
        || !code.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(bad(
            "bad_list_kind_code",
            "名单代码只能用英文字母、数字和下划线（例如 edu_dropout）",
            "a list kind code is letters, digits and underscores (e.g. edu_dropout)",
        ));
    }
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 40 {
        return Err(bad(
            "bad_list_kind_name",
            "请填写名单名称（不超过40个字）",
            "a list kind needs a name (at most 40 characters)",
        ));
    }
    let meaning = meaning.trim();
    if meaning.is_empty() {
        return Err(bad(
            "bad_list_kind_meaning",
            "请写明名单上的人意味着什么、儿童主任要核查什么",
            "say what a match on the list means and what the director checks",
        ));
    }
    if !(1..=180).contains(&due_days) {
        return Err(bad(
            "bad_due_days",
            "核查期限应为 1 到 180 天",
            "the time to check is 1 to 180 days",
        ));
    }
    let kind = ListKind {
        code,
        name: name.to_string(),
        meaning: meaning.chars().take(300).collect(),
        due_days,
        county: (viewer.role == Role::CountyAdmin).then_some(area),
    };
    if !db.add_list_kind(kind.clone(), now_ms()).await? {
        return Err(bad(
            "list_kind_exists",
            "这个名单代码已经存在",
            "this list kind code exists already",
        ));
    }
    crate::console::log(db, viewer, "discovery_add_list_kind", &kind.code).await?;
    Ok(kind)
}

impl Discovery {
    pub fn new(max_ahead_ms: u64) -> Discovery {
        Discovery {
            replicas: (0..REPLICAS)
                .map(|_| tokio::sync::Mutex::new(None))
                .collect(),
            pending: std::sync::Mutex::new(HashMap::new()),
            max_ahead_ms,
        }
    }

    /// Reads a file (bytes in memory only) for `viewer`'s area. With `mapping`, the
    /// columns are the person's choice; without, they are guessed from the header
    /// (and [`Read::NeedsMapping`] says what could not be found).
    pub async fn read(
        &self,
        db: &dyn Database,
        viewer: &Viewer,
        file_name: &str,
        bytes: &[u8],
        kind: &str,
        month: &str,
    ) -> Result<(Read, Option<PendingSheet>)> {
        area_of(viewer)?;
        let month =
            domain::discovery::parse_list_month(month).map_err(|e| bad(e.code, e.zh, e.en))?;
        let kind_code = list_kind(db, viewer, kind).await?.code;
        let sheet = list_file::read_sheet(file_name, bytes).map_err(|p| bad(p.code, p.zh, p.en))?;
        let guess = list_file::guess_header(&sheet);
        let pending = PendingSheet {
            sheet: Arc::new(sheet),
            header_index: guess.header_index,
            kind: kind_code,
            month,
        };
        if !guess.missing.is_empty() {
            return Ok((
                Read::NeedsMapping {
                    headers: guess.headers,
                    map: guess.map,
                    missing: guess.missing,
                },
                Some(pending),
            ));
        }
        let prepared = self.prepare(db, viewer, &pending, &guess.map).await?;
        Ok((Read::Ready(Box::new(prepared)), None))
    }

    /// Reads the rows of a sheet with `map` and matches them (the preview).
    pub async fn prepare(
        &self,
        db: &dyn Database,
        viewer: &Viewer,
        sheet: &PendingSheet,
        map: &ColumnMap,
    ) -> Result<Prepared> {
        let area = area_of(viewer)?;
        let missing = list_file::missing_columns(map);
        if let Some(c) = missing.first() {
            return Err(bad(
                "column_missing",
                format!("还没有指定“{}”在哪一列", c.label_zh()),
                format!("choose the column of the {}", c.label_en()),
            ));
        }
        let kind = list_kind(db, viewer, &sheet.kind).await?;
        let read = list_file::read_rows(&sheet.sheet, sheet.header_index, map, &sheet.month);
        let (children, guardians) = db.roster_for_matching().await?;
        let roster = Roster::new(children, guardians);
        let places = area_villages(db, viewer).await?;
        let villages: Vec<String> = places.iter().map(|p| p.code.clone()).collect();
        let resolver = VillageResolver::new(places);
        let previous = db.previous_listed(&kind.code, &area, &sheet.month).await?;
        let report = matching::match_list(
            &read.rows,
            &MatchContext {
                kind: &kind,
                month: &sheet.month,
                area: &area,
                roster: &roster,
                villages: &resolver,
                previous: previous.as_ref().map(|(_, set)| set),
            },
        );
        let key = db.discovery_key(rand::random()).await?;
        let mut ids: Vec<(Uuid, Option<Uuid>)> = Vec::with_capacity(report.findings.len());
        for f in &report.findings {
            let id = derived_id(&key, &f.key);
            ids.push((id, f.village.as_ref().map(|_| id)));
        }
        let task_ids: Vec<Uuid> = ids.iter().filter_map(|(_, t)| *t).collect();
        let existing = db.existing_tasks(&task_ids).await?;
        let queued_ids: Vec<Uuid> = ids
            .iter()
            .filter(|(_, t)| t.is_none())
            .map(|(f, _)| *f)
            .collect();
        let known = db.known_findings(&queued_ids).await?;
        let ids = ids
            .into_iter()
            .map(|(f, t)| {
                let new = match t {
                    Some(t) => !existing.contains(&t),
                    None => !known.contains(&f),
                };
                (f, t, new)
            })
            .collect();
        crate::console::log(
            db,
            viewer,
            "discovery_preview",
            &format!("{} {} {}", area, kind.code, sheet.month),
        )
        .await?;
        Ok(Prepared {
            kind,
            month: sheet.month.clone(),
            area,
            villages,
            report,
            invalid: read.problems,
            empty_rows: read.empty,
            ids,
            previous_month: previous.map(|(m, _)| m),
        })
    }

    /// Keeps a sheet waiting for its mapping, or a preview waiting for its commit, in
    /// this process's memory for `viewer`; returns its token.
    pub fn keep_sheet(&self, viewer: &Viewer, sheet: PendingSheet) -> String {
        self.keep(viewer, Pending::Sheet(sheet))
    }

    pub fn keep_prepared(&self, viewer: &Viewer, prepared: Prepared) -> String {
        self.keep(viewer, Pending::Prepared(Box::new(prepared)))
    }

    fn keep(&self, viewer: &Viewer, item: Pending) -> String {
        let token = hex::encode(rand::random::<[u8; 16]>());
        let now = now_ms();
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.retain(|_, (_, at, _)| now - *at < PENDING_TTL_MS);
        while pending.len() >= PENDING_MAX {
            let oldest = pending
                .iter()
                .min_by_key(|(_, (_, at, _))| *at)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => pending.remove(&k),
                None => break,
            };
        }
        pending.insert(token.clone(), (viewer.account_id, now, item));
        token
    }

    fn take(&self, viewer: &Viewer, token: &str) -> Result<Pending> {
        let now = now_ms();
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        match pending.remove(token) {
            Some((account, at, item)) if account == viewer.account_id && now - at < PENDING_TTL_MS => Ok(item),
            _ => Err(bad(
                "preview_expired",
                "这次上传的预览已过期（超过30分钟，或服务器已重启），请重新上传文件",
                "this upload's preview has expired (over 30 minutes, or the server restarted); upload the file again",
            )),
        }
    }

    /// The sheet waiting for its mapping (taken out of memory).
    pub fn take_sheet(&self, viewer: &Viewer, token: &str) -> Result<PendingSheet> {
        match self.take(viewer, token)? {
            Pending::Sheet(s) => Ok(s),
            Pending::Prepared(_) => Err(bad(
                "preview_expired",
                "请重新上传文件",
                "upload the file again",
            )),
        }
    }

    /// The preview waiting for its commit (taken out of memory).
    pub fn take_prepared(&self, viewer: &Viewer, token: &str) -> Result<Prepared> {
        match self.take(viewer, token)? {
            Pending::Prepared(p) => Ok(*p),
            Pending::Sheet(_) => Err(bad(
                "preview_expired",
                "请重新上传文件",
                "upload the file again",
            )),
        }
    }

    /// Writes the preview: new findings' tasks through the replica, the queue's new
    /// entries, the import's line and the month's listed children. `progress(done,
    /// total)` is called after each push.
    pub async fn commit(
        &self,
        db: &dyn Database,
        viewer: &Viewer,
        prepared: &Prepared,
        today: chrono::NaiveDate,
        progress: &(dyn Fn(usize, usize) + Send + Sync),
    ) -> Result<ImportRecord> {
        if area_of(viewer)? != prepared.area {
            return Err(ConsoleError::Forbidden);
        }
        let import_id = Uuid::now_v7();
        let due_on = today + chrono::Duration::days(prepared.kind.due_days);
        let now = now_ms();
        let mut rows = Vec::new();
        let mut records = Vec::with_capacity(prepared.report.findings.len());
        for (f, (finding_id, task_id, new)) in prepared.report.findings.iter().zip(&prepared.ids) {
            if let (Some(task), Some(village), true) = (task_id, &f.village, *new) {
                rows.push(task_row(
                    *task, village, f.child_id, &f.finding, &f.title, due_on,
                ));
            }
            records.push(FindingRecord {
                finding_id: *finding_id,
                task_id: *task_id,
                list_kind: prepared.kind.code.clone(),
                list_month: prepared.month.clone(),
                last_month: prepared.month.clone(),
                finding: f.kind().code().to_string(),
                county: prepared.area.clone(),
                village: f.village.clone(),
                child_id: f.child_id,
                import_id,
                details: f
                    .village
                    .is_none()
                    .then(|| f.finding.to_details().to_string()),
                place_text: f.place_text.clone(),
                created_ms: now,
            });
        }
        let figures = prepared.figures();
        // Someone may have committed the same findings since this preview (another
        // admin, another process): a task that exists now is not written again.
        let ids: Vec<Uuid> = rows.iter().map(|r| r.row_id).collect();
        let existing = db.existing_tasks(&ids).await?;
        rows.retain(|r| !existing.contains(&r.row_id));
        let written = rows.len() as i64;
        let device = self
            .write_rows(db, &prepared.villages, rows, progress)
            .await?;
        let record = ImportRecord {
            import_id,
            list_kind: prepared.kind.code.clone(),
            list_month: prepared.month.clone(),
            area: prepared.area.clone(),
            account_id: viewer.account_id,
            rows_read: figures.rows_read as i64,
            minors: figures.minors as i64,
            on_roster: figures.on_roster as i64,
            findings: figures.findings as i64,
            new_tasks: written,
            queued: figures.new_queued as i64,
            invalid_rows: figures.invalid_rows as i64,
            no_village: figures.no_village as i64,
            duplicates: figures.duplicates as i64,
            replica_device: device,
            at_ms: now,
        };
        let mut listed: Vec<Uuid> = prepared.report.listed_children.iter().copied().collect();
        listed.sort();
        db.record_import(record.clone(), records, listed).await?;
        crate::console::log(
            db,
            viewer,
            "discovery_import",
            &format!(
                "{} {} {} {}",
                prepared.area, prepared.kind.code, prepared.month, import_id
            ),
        )
        .await?;
        Ok(record)
    }

    /// Writes `rows` as the server's replica, for `villages` (those of the admin who
    /// asked), through the same push as a phone's. Returns the replica's device (None
    /// when there was nothing to write). Any refusal is an error: the server writes
    /// only what ingest accepts.
    pub async fn write_rows(
        &self,
        db: &dyn Database,
        villages: &[String],
        rows: Vec<ServerRow>,
        progress: &(dyn Fn(usize, usize) + Send + Sync),
    ) -> Result<Option<Uuid>> {
        if rows.is_empty() {
            return Ok(None);
        }
        // A large write goes through several of this process's replicas at once (each
        // its own device and lock, so each one's device_seq stays dense): the store's
        // group commit then takes their pushes together.
        let total: usize = rows.iter().map(|r| r.fields.len()).sum();
        let shards = if total >= 4 * CHANGES_PER_PUSH {
            self.replicas.len()
        } else {
            1
        };
        let per = rows.len().div_ceil(shards);
        let mut parts: Vec<Vec<ServerRow>> = Vec::with_capacity(shards);
        let mut rows = rows.into_iter();
        for _ in 0..shards {
            parts.push(rows.by_ref().take(per).collect());
        }
        let done = std::sync::atomic::AtomicUsize::new(0);
        let writes = parts
            .into_iter()
            .enumerate()
            .filter(|(_, p)| !p.is_empty())
            .map(|(i, part)| self.write_with(i, db, villages, part, &done, total, progress));
        let devices = futures_util::future::try_join_all(writes).await?;
        Ok(devices.into_iter().next())
    }

    /// [`Discovery::write_rows`] through replica `slot`, in order, under its lock.
    #[allow(clippy::too_many_arguments)]
    async fn write_with(
        &self,
        slot: usize,
        db: &dyn Database,
        villages: &[String],
        rows: Vec<ServerRow>,
        done: &std::sync::atomic::AtomicUsize,
        total: usize,
        progress: &(dyn Fn(usize, usize) + Send + Sync),
    ) -> Result<Uuid> {
        let mut guard = self.replicas[slot].lock().await;
        if guard.is_none() {
            let account_id = db.server_account().await?;
            let device_id = Uuid::now_v7();
            let name = format!(
                "服务器副本 pid {} #{slot} {}",
                std::process::id(),
                crate::console::lang::time(now_ms())
            );
            db.add_replica_device(device_id, account_id, &name, now_ms())
                .await?;
            *guard = Some(Replica {
                device_id,
                account_id,
                clock: HlcClock::default(),
            });
        }
        let replica = guard.as_mut().expect("set above");
        let auth = DeviceAuth {
            device_id: replica.device_id,
            revoked: false,
            principal: Principal::server_replica(replica.account_id, villages.to_vec()),
        };
        let mut seq = db.replica_seq(replica.device_id).await?;
        let mut batch: Vec<Change> = Vec::new();
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            batch.clear();
            while let Some(r) = rows.peek() {
                if !batch.is_empty() && batch.len() + r.fields.len() > CHANGES_PER_PUSH {
                    break;
                }
                let r = rows.next().expect("peeked");
                let hlc = replica.clock.now(now_ms() as u64);
                for (field, value) in r.fields {
                    seq += 1;
                    batch.push(Change {
                        op_id: Uuid::now_v7(),
                        device_id: replica.device_id,
                        device_seq: seq,
                        table: r.table.to_string(),
                        row_id: r.row_id,
                        field: field.to_string(),
                        value,
                        hlc,
                        scope: Scope::new(r.scope.clone()),
                    });
                }
            }
            let outcome = db
                .push(
                    &auth,
                    PushBatch {
                        changes: std::mem::take(&mut batch),
                        heartbeat: sync_core::wire::Heartbeat {
                            app_version: "server".into(),
                            ..Default::default()
                        },
                        now_ms: now_ms() as u64,
                        max_ahead_ms: self.max_ahead_ms,
                    },
                )
                .await?;
            if let Some(r) = outcome.rejected.first() {
                tracing::error!(code = %r.code, "the server's own write was refused by ingest");
                return Err(bad(
                    "server_write_refused",
                    format!(
                        "服务器写入任务时被拒绝（{}），已写入的部分保留；请联系系统管理员",
                        r.code
                    ),
                    format!(
                        "the server's own write was refused ({}: {}); what was written stays",
                        r.code, r.message
                    ),
                ));
            }
            let accepted = outcome.accepted as usize;
            seq = outcome.max_device_seq;
            let now = done.fetch_add(accepted, std::sync::atomic::Ordering::Relaxed) + accepted;
            progress(now.min(total), total);
        }
        Ok(replica.device_id)
    }
}

/// The `task` row of a finding: only fields the release before discovery knows (see
/// [`domain::discovery`]), none a director may change.
pub fn task_row(
    task_id: Uuid,
    village: &str,
    child_id: Option<Uuid>,
    finding: &domain::Finding,
    title: &str,
    due_on: chrono::NaiveDate,
) -> ServerRow {
    let mut fields = vec![
        ("kind", json!(finding.task_kind().code())),
        (domain::schema::SCOPE_FIELD, json!(village)),
        ("title", json!(title)),
        ("details", finding.to_details()),
        ("due_on", json!(due_on.to_string())),
    ];
    if let Some(c) = child_id {
        fields.push(("child_id", json!(c.to_string())));
    }
    ServerRow {
        table: "task",
        row_id: task_id,
        scope: village.to_string(),
        fields,
    }
}

/// A finding waiting in the queue, for the console.
#[derive(Clone, Debug)]
pub struct QueuedFinding {
    pub record: FindingRecord,
    pub finding: Option<domain::Finding>,
}

/// The queue of `viewer`'s area: findings without a village.
pub async fn queue(db: &dyn Database, viewer: &Viewer) -> Result<Vec<QueuedFinding>> {
    let area = area_of(viewer)?;
    let all = db.findings(std::slice::from_ref(&area), None).await?;
    crate::console::log(db, viewer, "discovery_queue", &area).await?;
    Ok(all
        .into_iter()
        .filter(|f| f.village.is_none())
        .map(|record| QueuedFinding {
            finding: record
                .details
                .as_deref()
                .and_then(|d| serde_json::from_str::<Value>(d).ok())
                .and_then(|v| domain::Finding::from_details(&v)),
            record,
        })
        .collect())
}

impl Discovery {
    /// An admin gives a queued finding its village: its task is written there.
    pub async fn assign(
        &self,
        db: &dyn Database,
        viewer: &Viewer,
        finding_id: Uuid,
        village: &str,
        today: chrono::NaiveDate,
    ) -> Result<Uuid> {
        let area = area_of(viewer)?;
        let record = db
            .finding(finding_id)
            .await?
            .ok_or(ConsoleError::NotFound)?;
        if record.county != area {
            return Err(ConsoleError::Forbidden);
        }
        if record.village.is_some() {
            return Err(bad(
                "already_assigned",
                "这条发现已经分配过村居了",
                "this finding has a village already",
            ));
        }
        let villages = area_villages(db, viewer).await?;
        if !villages.iter().any(|v| v.code == village) {
            return Err(bad(
                "unknown_village",
                "请选择本区市的一个村居",
                "choose a village of your area",
            ));
        }
        let finding = record
            .details
            .as_deref()
            .and_then(|d| serde_json::from_str::<Value>(d).ok())
            .and_then(|v| domain::Finding::from_details(&v))
            .ok_or_else(|| {
                ConsoleError::Store(crate::error::StoreError::Corrupt("queued finding".into()))
            })?;
        let kind = db
            .list_kinds()
            .await?
            .into_iter()
            .find(|k| k.code == record.list_kind);
        let due_on = today + chrono::Duration::days(kind.map_or(30, |k| k.due_days));
        let key = db.discovery_key(rand::random()).await?;
        let task_id = derived_id(&key, &format!("assigned|{finding_id}|{village}"));
        let row = task_row(
            task_id,
            village,
            None,
            &finding,
            &finding.title_zh(None),
            due_on,
        );
        let codes: Vec<String> = villages.into_iter().map(|v| v.code).collect();
        // Claim the finding first (two admins assigning it at once: one wins), then
        // write its task; a failed write gives the claim back.
        if !db.assign_finding(finding_id, village, task_id).await? {
            return Err(bad(
                "already_assigned",
                "这条发现已经分配过村居了",
                "this finding has a village already",
            ));
        }
        if let Err(e) = self.write_rows(db, &codes, vec![row], &|_, _| {}).await {
            db.release_finding(
                finding_id,
                task_id,
                record.details.clone().unwrap_or_default(),
            )
            .await?;
            return Err(e);
        }
        crate::console::log(
            db,
            viewer,
            "discovery_assign",
            &format!("{finding_id} {village}"),
        )
        .await?;
        Ok(task_id)
    }
}

/// One import's loop, as the history shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct LoopFigures {
    pub list_kind: String,
    pub list_name: String,
    pub month: String,
    pub imports: usize,
    pub findings: usize,
    pub checked: usize,
    pub registered: usize,
    pub linked: usize,
    pub not_eligible: usize,
    pub not_found: usize,
    pub queued: usize,
    pub open: usize,
    /// Days since the oldest open finding was found.
    pub oldest_open_days: Option<i64>,
}

/// An open task of a village, with its age.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenTask {
    pub village: String,
    pub task_id: Uuid,
    pub finding: String,
    pub list_kind: String,
    pub month: String,
    pub age_days: i64,
    pub due_on: Option<String>,
}

/// Findings of `viewer`'s area with the state their task is in (for the history,
/// the open tasks and the export). A supervisor sees only their township's villages.
pub async fn findings_with_state(
    db: &dyn Database,
    viewer: &Viewer,
    month: Option<&str>,
) -> Result<Vec<(FindingRecord, Option<crate::store::discovery::TaskState>)>> {
    let areas = areas_of(db, viewer).await?;
    let all = db.findings(&areas, month).await?;
    with_state(db, viewer, all).await
}

/// Findings first found in the 12 months up to `today`'s, with their tasks' state
/// (the history: its months stay bounded however long the county has imported).
pub async fn recent_findings_with_state(
    db: &dyn Database,
    viewer: &Viewer,
    today: chrono::NaiveDate,
) -> Result<Vec<(FindingRecord, Option<crate::store::discovery::TaskState>)>> {
    let areas = areas_of(db, viewer).await?;
    let since = today
        .checked_sub_months(chrono::Months::new(11))
        .unwrap_or(today)
        .format("%Y-%m")
        .to_string();
    let all = db.findings_since(&areas, &since).await?;
    with_state(db, viewer, all).await
}

async fn with_state(
    db: &dyn Database,
    viewer: &Viewer,
    all: Vec<FindingRecord>,
) -> Result<Vec<(FindingRecord, Option<crate::store::discovery::TaskState>)>> {
    let visible: Vec<FindingRecord> = all
        .into_iter()
        .filter(|f| match &f.village {
            Some(v) => viewer.can_read(v),
            None => viewer.role.administers(),
        })
        .collect();
    let task_ids: Vec<Uuid> = visible.iter().filter_map(|f| f.task_id).collect();
    let mut states = db.task_states(&task_ids).await?;
    Ok(visible
        .into_iter()
        .map(|f| {
            let s = f.task_id.and_then(|t| states.remove(&t));
            (f, s)
        })
        .collect())
}

/// The areas whose findings a viewer reads: their county, the city and its counties,
/// or a supervisor's county (their villages filter it).
async fn areas_of(db: &dyn Database, viewer: &Viewer) -> Result<Vec<String>> {
    let places = db.places().await?;
    let parent: HashMap<&str, Option<&str>> = places
        .iter()
        .map(|p| (p.code.as_str(), p.parent.as_deref()))
        .collect();
    let mut out: HashSet<String> = HashSet::new();
    // Every ancestor of the viewer's villages (township, county, city) may own findings.
    for v in &viewer.principal.read_scopes {
        let mut at = parent.get(v.as_str()).copied().flatten();
        while let Some(p) = at {
            if !out.insert(p.to_string()) {
                break;
            }
            at = parent.get(p).copied().flatten();
        }
    }
    let mut out: Vec<String> = out.into_iter().collect();
    out.sort();
    Ok(out)
}

/// The loop's figures per month and list (newest month first).
pub fn loop_figures(
    kinds: &[ListKind],
    rows: &[(FindingRecord, Option<crate::store::discovery::TaskState>)],
    imports: &[ImportRecord],
    now_ms: i64,
) -> Vec<LoopFigures> {
    let mut by: BTreeMap<(String, String), LoopFigures> = BTreeMap::new();
    let name_of = |code: &str| {
        kinds
            .iter()
            .find(|k| k.code == code)
            .map(|k| k.name.clone())
            .unwrap_or_else(|| code.to_string())
    };
    for i in imports {
        let e = by
            .entry((i.list_month.clone(), i.list_kind.clone()))
            .or_insert_with(|| LoopFigures {
                list_kind: i.list_kind.clone(),
                list_name: name_of(&i.list_kind),
                month: i.list_month.clone(),
                ..LoopFigures::default()
            });
        e.imports += 1;
    }
    for (f, state) in rows {
        let e = by
            .entry((f.list_month.clone(), f.list_kind.clone()))
            .or_insert_with(|| LoopFigures {
                list_kind: f.list_kind.clone(),
                list_name: name_of(&f.list_kind),
                month: f.list_month.clone(),
                ..LoopFigures::default()
            });
        e.findings += 1;
        let done = state.as_ref().and_then(|s| s.done_on.as_ref()).is_some();
        if f.village.is_none() {
            e.queued += 1;
        } else if done {
            e.checked += 1;
            match state.as_ref().and_then(|s| s.outcome.as_deref()) {
                Some("registered") => e.registered += 1,
                Some("linked") => e.linked += 1,
                Some("not_eligible") => e.not_eligible += 1,
                Some("not_found_or_moved") => e.not_found += 1,
                _ => {}
            }
        } else {
            e.open += 1;
        }
        if !done {
            let age = (now_ms - f.created_ms).max(0) / 86_400_000;
            e.oldest_open_days = Some(e.oldest_open_days.map_or(age, |a| a.max(age)));
        }
    }
    let mut out: Vec<LoopFigures> = by.into_values().collect();
    out.sort_by(|a, b| b.month.cmp(&a.month).then(a.list_kind.cmp(&b.list_kind)));
    out
}

/// Open tasks per village with their age, oldest first.
pub fn open_tasks(
    rows: &[(FindingRecord, Option<crate::store::discovery::TaskState>)],
    now_ms: i64,
) -> Vec<OpenTask> {
    let mut out: Vec<OpenTask> = rows
        .iter()
        .filter_map(|(f, s)| {
            let task_id = f.task_id?;
            let village = s
                .as_ref()
                .and_then(|s| s.village.clone())
                .or_else(|| f.village.clone())?;
            if s.as_ref().and_then(|s| s.done_on.as_ref()).is_some() {
                return None;
            }
            Some(OpenTask {
                village,
                task_id,
                finding: f.finding.clone(),
                list_kind: f.list_kind.clone(),
                month: f.list_month.clone(),
                age_days: (now_ms - f.created_ms).max(0) / 86_400_000,
                due_on: s.as_ref().and_then(|s| s.due_on.clone()),
            })
        })
        .collect();
    out.sort_by(|a, b| a.village.cmp(&b.village).then(b.age_days.cmp(&a.age_days)));
    out
}

#[cfg(test)]
mod tests;
