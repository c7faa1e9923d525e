//! The console's figures, computed once for the HTML pages, the JSON API and the
//! exports: who is behind, which children are overdue (not visited, or visited on the
//! phone and not yet synced), at risk, without a care agreement, and which referrals
//! and mandatory reports are past their feedback date. Pure: the store's rows and
//! "today" go in, plain data comes out, worst first.

use crate::model::Role;
use crate::roster::PlaceKind;
use crate::store::{AccountRow, AreaCounts, ChildFacts, DeviceInfo, PlaceRow, ReferralFact};
use chrono::{Datelike, NaiveDate};
use domain::{Category, ChildStatus, DueFacts, DueStatus, RiskColour, VisitPolicy};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use utoipa::ToSchema;
use uuid::Uuid;

/// A device is stale after this long without a successful sync…
pub const STALE_AFTER_MS: i64 = 3 * 86_400_000;
/// …and silent after this long (or if it never synced).
pub const SILENT_AFTER_MS: i64 = 14 * 86_400_000;
/// Agreements ending within this many days are "expiring".
pub const EXPIRING_DAYS: i64 = 30;
/// Weeks in the visits-per-week chart.
pub const CHART_WEEKS: usize = 12;

/// A place, named.
#[derive(Clone, Debug, Serialize, ToSchema, PartialEq, Eq)]
pub struct PlaceRef {
    pub code: String,
    pub name: String,
    /// `city`, `county`, `township` or `village`.
    pub kind: String,
}

/// The place tree, for naming and rolling villages up.
#[derive(Clone, Debug, Default)]
pub struct Places {
    by_code: HashMap<String, PlaceRow>,
    children: HashMap<String, Vec<String>>,
}

impl Places {
    pub fn new(rows: Vec<PlaceRow>) -> Places {
        let mut p = Places::default();
        for r in rows {
            if let Some(parent) = &r.parent {
                p.children
                    .entry(parent.clone())
                    .or_default()
                    .push(r.code.clone());
            }
            p.by_code.insert(r.code.clone(), r);
        }
        for v in p.children.values_mut() {
            v.sort();
        }
        p
    }
    pub fn get(&self, code: &str) -> Option<&PlaceRow> {
        self.by_code.get(code)
    }
    pub fn name(&self, code: &str) -> String {
        self.get(code)
            .map(|p| p.name.clone())
            .unwrap_or_else(|| code.to_string())
    }
    pub fn place_ref(&self, code: &str) -> PlaceRef {
        PlaceRef {
            code: code.to_string(),
            name: self.name(code),
            kind: self
                .get(code)
                .map(|p| p.kind.as_str())
                .unwrap_or("village")
                .to_string(),
        }
    }
    /// The place above `code`, named.
    pub fn parent_ref(&self, code: &str) -> Option<PlaceRef> {
        let parent = self.get(code)?.parent.as_deref()?;
        Some(self.place_ref(parent))
    }
    /// Direct sub-places of `code`.
    pub fn children_of(&self, code: &str) -> &[String] {
        self.children.get(code).map(Vec::as_slice).unwrap_or(&[])
    }
    /// Every village at or under `code`.
    pub fn villages_under(&self, code: &str) -> Vec<String> {
        self.under(code, PlaceKind::Village)
    }
    /// Every township at or under `code`.
    pub fn townships_under(&self, code: &str) -> Vec<String> {
        self.under(code, PlaceKind::Township)
    }
    /// Every place of `kind` at or under `code`, sorted.
    fn under(&self, code: &str, kind: PlaceKind) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![code.to_string()];
        while let Some(c) = stack.pop() {
            match self.get(&c).map(|p| p.kind) {
                Some(k) if k == kind => out.push(c),
                Some(PlaceKind::Village) | None => {}
                Some(_) => stack.extend(self.children_of(&c).iter().cloned()),
            }
        }
        out.sort();
        out
    }
    /// The ancestor of `village` of kind `kind` (the village itself for `Village`).
    pub fn ancestor(&self, village: &str, kind: PlaceKind) -> Option<&str> {
        let mut p = self.get(village)?;
        for _ in 0..5 {
            if p.kind == kind {
                return Some(p.code.as_str());
            }
            p = self.get(p.parent.as_deref()?)?;
        }
        None
    }
    /// The top of the tree (the city), if any.
    pub fn city(&self) -> Option<String> {
        self.by_code
            .values()
            .filter(|p| p.kind == PlaceKind::City)
            .map(|p| p.code.clone())
            .min()
    }
}

/// What the console computes with, loaded for one view.
pub struct Inputs<'a> {
    pub places: &'a Places,
    pub accounts: &'a [AccountRow],
    pub devices: &'a [DeviceInfo],
    pub rejections: &'a BTreeMap<Uuid, i64>,
    pub children: &'a [ChildFacts],
    pub referrals: &'a [ReferralFact],
    /// (day, visits) of the villages loaded.
    pub visit_days: &'a [(String, i64)],
    pub today: NaiveDate,
    pub now_ms: i64,
    pub policy: &'a VisitPolicy,
    /// Changes in quarantine, per (revoked) device.
    pub quarantine: &'a BTreeMap<Uuid, i64>,
}

/// Counts of one area (a village, township, county or the city).
#[derive(Clone, Debug, Default, Serialize, ToSchema, PartialEq, Eq)]
pub struct AreaFigures {
    pub children: u64,
    pub red: u64,
    pub yellow: u64,
    pub blue: u64,
    pub green: u64,
    /// Overdue and not visited (as far as the server and the phones' heartbeats know).
    pub overdue_not_visited: u64,
    /// Overdue on the server, but a phone reports a visit not yet synced.
    pub overdue_visited_unsynced: u64,
    /// Left-behind children without a valid signed care agreement.
    pub agreements_missing: u64,
    /// Left-behind children whose agreement ends within 30 days.
    pub agreements_expiring: u64,
    /// Open referrals past their feedback date.
    pub referrals_late: u64,
    /// Open mandatory reports (强制报告) past their feedback date.
    pub reports_late: u64,
    pub directors: u64,
    pub devices: u64,
    /// Devices without a successful sync for 3 days.
    pub devices_stale: u64,
    /// Devices without a successful sync for 14 days, or never.
    pub devices_silent: u64,
}

impl AreaFigures {
    fn add(&mut self, o: &AreaFigures) {
        self.children += o.children;
        self.red += o.red;
        self.yellow += o.yellow;
        self.blue += o.blue;
        self.green += o.green;
        self.overdue_not_visited += o.overdue_not_visited;
        self.overdue_visited_unsynced += o.overdue_visited_unsynced;
        self.agreements_missing += o.agreements_missing;
        self.agreements_expiring += o.agreements_expiring;
        self.referrals_late += o.referrals_late;
        self.reports_late += o.reports_late;
        self.directors += o.directors;
        self.devices += o.devices;
        self.devices_stale += o.devices_stale;
        self.devices_silent += o.devices_silent;
    }
    /// How bad an area looks: what needs action now weighs most.
    pub fn badness(&self) -> (u64, u64, u64, u64) {
        (
            self.reports_late + self.overdue_not_visited,
            self.devices_silent + self.devices_stale,
            self.agreements_missing + self.referrals_late,
            self.red,
        )
    }
}

/// Children per category.
#[derive(Clone, Debug, Serialize, ToSchema, PartialEq, Eq)]
pub struct CategoryCount {
    pub code: String,
    pub label_zh: String,
    pub count: u64,
}

/// One device of a director, as the supervisor sees it.
#[derive(Clone, Debug, Serialize, ToSchema, PartialEq, Eq)]
pub struct DeviceStatus {
    pub device_id: Uuid,
    pub name: String,
    pub app_version: String,
    /// Last successful sync (server time), ms since the epoch.
    pub last_sync_ms: Option<i64>,
    pub last_sync_days: Option<i64>,
    /// Records the phone has not sent yet, as of now (`DeviceInfo::pending_now`).
    pub pending_changes: u64,
    /// Photo and signature files the phone has not sent yet, as of now.
    pub pending_blobs: u64,
    /// Age of the oldest unsent record, seconds.
    pub oldest_pending_secs: u64,
    /// Device clock minus server clock at its last push, ms.
    pub clock_skew_ms: Option<i64>,
    pub rejected: i64,
    pub free_storage_bytes: u64,
    pub revoked: bool,
    pub stale: bool,
    pub silent: bool,
}

/// A director and their phones.
#[derive(Clone, Debug, Serialize, ToSchema, PartialEq, Eq)]
pub struct DirectorStatus {
    pub login: String,
    pub name: String,
    pub villages: Vec<PlaceRef>,
    pub devices: Vec<DeviceStatus>,
    pub children: u64,
    pub overdue_not_visited: u64,
    pub overdue_visited_unsynced: u64,
    /// No device, or every device stale / silent.
    pub stale: bool,
    pub silent: bool,
    /// How the director stands, worst reason first: `no_phone`, `silent`, `stale`,
    /// `mostly_overdue` (more than half of their children overdue and not visited),
    /// or `ok`.
    pub state: String,
}

impl DirectorStatus {
    /// The state's rule (see `state`): phones first, then the children.
    pub fn state_of(&self) -> &'static str {
        if self.devices.iter().all(|d| d.revoked) {
            "no_phone"
        } else if self.silent {
            "silent"
        } else if self.stale {
            "stale"
        } else if self.children > 0 && self.overdue_not_visited * 2 > self.children {
            "mostly_overdue"
        } else {
            "ok"
        }
    }
}

/// A revoked phone of the area whose unsent records wait in the quarantine: the
/// supervisor is told, the county admin decides.
#[derive(Clone, Debug, Serialize, ToSchema, PartialEq, Eq)]
pub struct QuarantineNote {
    pub device_id: Uuid,
    pub device_name: String,
    pub director: String,
    pub changes: u64,
}

impl QuarantineNote {
    /// The note in `l`.
    pub fn said(&self, l: &super::lang::Lang) -> String {
        match l {
            super::lang::Lang::Zh => format!(
                "已停用的手机“{}”（{}）交出了 {} 条未上传的记录，正在隔离区等待区市民政管理员核对。",
                self.device_name, self.director, self.changes
            ),
            super::lang::Lang::En => format!(
                "The revoked phone \"{}\" ({}) handed over {} unsent record field(s); they wait in the quarantine for the county admin's review.",
                self.device_name, self.director, self.changes
            ),
        }
    }
}

/// An overdue child.
#[derive(Clone, Debug, Serialize, ToSchema, PartialEq, Eq)]
pub struct OverdueChild {
    pub child_id: Uuid,
    pub name: String,
    pub village: PlaceRef,
    pub risk_colour: String,
    pub categories: Vec<String>,
    pub last_visit_on: Option<String>,
    pub due_on: String,
    pub days_overdue: i64,
    /// A phone reports a visit to this child that has not reached the server.
    pub visited_unsynced: bool,
    /// The names of the child directors of the child's village.
    pub directors: Vec<String>,
}

/// A left-behind child whose care agreement is missing or ending.
#[derive(Clone, Debug, Serialize, ToSchema, PartialEq, Eq)]
pub struct AgreementIssue {
    pub child_id: Uuid,
    pub name: String,
    pub village: PlaceRef,
    /// Last day of the latest signed agreement (none: missing).
    pub valid_until: Option<String>,
    /// `missing`, `expired` or `expiring`.
    pub issue: String,
}

/// A referral or mandatory report past its feedback date.
#[derive(Clone, Debug, Serialize, ToSchema, PartialEq, Eq)]
pub struct LateReferral {
    pub referral_id: Uuid,
    pub child_id: Uuid,
    pub child_name: String,
    pub village: PlaceRef,
    pub report: bool,
    pub feedback_due_on: String,
    pub days_late: i64,
}

/// One bar of a chart.
#[derive(Clone, Debug, Serialize, ToSchema, PartialEq, Eq)]
pub struct Bar {
    pub label: String,
    pub value: u64,
}

/// A township: its directors worst first, and the children who need something.
#[derive(Clone, Debug, Serialize, ToSchema, PartialEq, Eq)]
pub struct TownshipOverview {
    pub township: PlaceRef,
    /// The place above (its county), for going up.
    pub parent: Option<PlaceRef>,
    pub today: String,
    pub figures: AreaFigures,
    pub categories: Vec<CategoryCount>,
    pub directors: Vec<DirectorStatus>,
    pub overdue: Vec<OverdueChild>,
    pub agreements: Vec<AgreementIssue>,
    pub late_referrals: Vec<LateReferral>,
    pub visits_per_week: Vec<Bar>,
    pub sync_freshness: Vec<Bar>,
    /// Revoked phones of the township's directors with records in the quarantine.
    pub quarantine: Vec<QuarantineNote>,
}

/// A county or the city: the same figures by township or county, worst first.
#[derive(Clone, Debug, Serialize, ToSchema, PartialEq, Eq)]
pub struct AreaOverview {
    pub area: PlaceRef,
    /// The place above (a county's city), for going up.
    pub parent: Option<PlaceRef>,
    pub today: String,
    pub totals: AreaFigures,
    pub rows: Vec<AreaRow>,
    pub visits_per_week: Vec<Bar>,
    pub sync_freshness: Vec<Bar>,
}

/// One sub-area's figures.
#[derive(Clone, Debug, Serialize, ToSchema, PartialEq, Eq)]
pub struct AreaRow {
    pub place: PlaceRef,
    pub figures: AreaFigures,
}

/// `YYYY-MM-DD` (the first ten characters of a date or an RFC 3339 time) as a date.
/// Hand-rolled: chrono's format parser cost more than everything else of the city view.
fn parse_day(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |n, c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)
}

/// Where a child stands today.
pub struct ChildState<'a> {
    pub facts: &'a ChildFacts,
    pub due_on: Option<NaiveDate>,
    pub overdue_days: Option<i64>,
    pub left_behind: bool,
}

/// When `c`'s next visit is due under `policy` (None for a child who left the roster):
/// folded into the read model once per change of the child's records.
pub fn due_on(c: &ChildFacts, policy: &VisitPolicy) -> Option<NaiveDate> {
    let categories: Vec<Category> = c
        .categories
        .iter()
        .filter_map(|s| Category::from_code(s))
        .collect();
    let added_on = parse_day(&c.added_on)?;
    policy.next_due_on(&DueFacts {
        categories,
        risk_colour: RiskColour::from_code(&c.risk_colour).unwrap_or(RiskColour::Green),
        status: if c.active {
            ChildStatus::Active
        } else {
            ChildStatus::Exited
        },
        added_on,
        last_visit_on: c.last_visit_on.as_deref().and_then(parse_day),
        next_due_on: c.next_due_on.as_deref().and_then(parse_day),
    })
}

/// Whether a child with these category codes is left behind (needs a care agreement).
pub fn is_left_behind(categories: &[String]) -> bool {
    categories.iter().any(|c| c == Category::LeftBehind.code())
}

pub fn child_state<'a>(
    c: &'a ChildFacts,
    today: NaiveDate,
    policy: &VisitPolicy,
) -> ChildState<'a> {
    let due_on = c.due_on.as_deref().and_then(parse_day);
    let overdue_days = due_on.and_then(|d| match domain::due_status(d, today, policy.soon_days) {
        DueStatus::Overdue { days } => Some(days),
        _ => None,
    });
    ChildState {
        facts: c,
        due_on,
        overdue_days,
        left_behind: c.left_behind,
    }
}

fn device_status(d: &DeviceInfo, rejections: &BTreeMap<Uuid, i64>, now_ms: i64) -> DeviceStatus {
    let none = sync_core::wire::Heartbeat::default();
    let hb = d.heartbeat.as_ref().unwrap_or(&none);
    let age = d.last_seen_ms.map(|t| now_ms - t);
    DeviceStatus {
        device_id: d.device_id,
        name: d.name.clone(),
        app_version: if hb.app_version.is_empty() {
            d.app_version.clone()
        } else {
            hb.app_version.clone()
        },
        last_sync_ms: d.last_seen_ms,
        last_sync_days: age.map(|a| a / 86_400_000),
        pending_changes: d.pending_now().0,
        pending_blobs: d.pending_now().1,
        oldest_pending_secs: if d.pending_now().0 == 0 {
            0
        } else {
            hb.oldest_pending_secs
        },
        clock_skew_ms: d
            .last_seen_ms
            .filter(|_| hb.device_clock_ms > 0)
            .map(|seen| hb.device_clock_ms as i64 - seen),
        rejected: rejections.get(&d.device_id).copied().unwrap_or(0),
        free_storage_bytes: hb.free_storage_bytes,
        revoked: d.revoked_ms.is_some(),
        stale: d.revoked_ms.is_none()
            && age.is_some_and(|a| a > STALE_AFTER_MS)
            && !age.is_some_and(|a| a > SILENT_AFTER_MS),
        silent: d.revoked_ms.is_none() && age.is_none_or(|a| a > SILENT_AFTER_MS),
    }
}

fn monday(d: NaiveDate) -> NaiveDate {
    d - chrono::Duration::days(d.weekday().num_days_from_monday() as i64)
}

/// The first day the visits-per-week chart covers.
pub fn chart_since(today: NaiveDate) -> NaiveDate {
    monday(today) - chrono::Duration::weeks(CHART_WEEKS as i64 - 1)
}

fn visits_per_week(inp: &Inputs<'_>) -> Vec<Bar> {
    let first = chart_since(inp.today);
    let mut weeks = vec![0u64; CHART_WEEKS];
    for (day, n) in inp.visit_days {
        if let Some(d) = parse_day(day) {
            let w = (monday(d) - first).num_weeks();
            if (0..CHART_WEEKS as i64).contains(&w) && d <= inp.today {
                weeks[w as usize] += *n as u64;
            }
        }
    }
    weeks
        .into_iter()
        .enumerate()
        .map(|(i, value)| Bar {
            label: (first + chrono::Duration::weeks(i as i64))
                .format("%m-%d")
                .to_string(),
            value,
        })
        .collect()
}

/// The buckets of the "last successful sync" chart, as codes.
pub const FRESHNESS: [&str; 5] = ["today", "1_2_days", "3_13_days", "14_plus_days", "never"];

fn freshness<'a>(devices: impl Iterator<Item = &'a DeviceStatus>) -> Vec<Bar> {
    let mut b = [0u64; 5];
    for d in devices.filter(|d| !d.revoked) {
        let i = match d.last_sync_days {
            None => 4,
            Some(0) => 0,
            Some(1..=2) => 1,
            Some(3..=13) => 2,
            Some(_) => 3,
        };
        b[i] += 1;
    }
    // Codes; the pages name them in the reader's language (`charts::freshness_in`).
    FRESHNESS
        .iter()
        .zip(b)
        .map(|(l, v)| Bar {
            label: l.to_string(),
            value: v,
        })
        .collect()
}

/// Children a phone of a director of `villages` reports as visited but not yet synced
/// (live phones only, at most [`sync_core::wire::MAX_UNSENT_VISIT_CHILDREN`] each).
pub fn unsent_children(inp: &Inputs<'_>, villages: &HashSet<&str>) -> HashSet<Uuid> {
    let directors: HashSet<&str> = inp
        .accounts
        .iter()
        .filter(|a| {
            a.role == Role::Director && a.villages.iter().any(|v| villages.contains(v.as_str()))
        })
        .map(|a| a.login.as_str())
        .collect();
    let mut unsent = HashSet::new();
    for d in inp.devices {
        if d.revoked_ms.is_some() || !directors.contains(d.account_login.as_str()) {
            continue;
        }
        if let Some(hb) = &d.heartbeat {
            unsent.extend(
                hb.unsent_visit_children
                    .iter()
                    .take(sync_core::wire::MAX_UNSENT_VISIT_CHILDREN),
            );
        }
    }
    unsent
}

/// Per-village working set: computed once, rolled up by any level.
struct Rolled<'a> {
    by_village: HashMap<&'a str, AreaFigures>,
    directors: Vec<DirectorStatus>,
    overdue: Vec<OverdueChild>,
    agreements: Vec<AgreementIssue>,
    late: Vec<LateReferral>,
    categories: BTreeMap<String, u64>,
    devices: Vec<DeviceStatus>,
    quarantine: Vec<QuarantineNote>,
}

fn roll<'a>(inp: &Inputs<'a>, villages: &HashSet<&str>, detail: bool) -> Rolled<'a> {
    let mut by_village: HashMap<&'a str, AreaFigures> = HashMap::new();
    // Directors of these villages and their devices.
    let mut devices_of: HashMap<&str, Vec<&DeviceInfo>> = HashMap::new();
    for d in inp.devices {
        devices_of
            .entry(d.account_login.as_str())
            .or_default()
            .push(d);
    }
    // Only the children's loop below needs them (a county or the city counts in SQL).
    let unsent = if inp.children.is_empty() {
        HashSet::new()
    } else {
        unsent_children(inp, villages)
    };
    let mut directors = Vec::new();
    let mut all_devices = Vec::new();
    let mut quarantine = Vec::new();
    let mut names_of_village: HashMap<&str, Vec<String>> = HashMap::new();
    let accounts: &'a [AccountRow] = inp.accounts;
    for a in accounts.iter().filter(|a| a.role == Role::Director) {
        let mine: Vec<&'a String> = a
            .villages
            .iter()
            .filter(|v| villages.contains(v.as_str()))
            .collect();
        let Some(first) = mine.first() else { continue };
        for v in &mine {
            names_of_village
                .entry(v.as_str())
                .or_default()
                .push(a.name.clone());
        }
        for d in devices_of.get(a.login.as_str()).into_iter().flatten() {
            if let Some(n) = inp.quarantine.get(&d.device_id).filter(|n| **n > 0) {
                quarantine.push(QuarantineNote {
                    device_id: d.device_id,
                    device_name: d.name.clone(),
                    director: a.name.clone(),
                    changes: *n as u64,
                });
            }
        }
        let devs: Vec<DeviceStatus> = devices_of
            .get(a.login.as_str())
            .map(|ds| {
                ds.iter()
                    .map(|d| device_status(d, inp.rejections, inp.now_ms))
                    .collect()
            })
            .unwrap_or_default();
        let f = by_village.entry(first.as_str()).or_default();
        f.directors += 1;
        let live: Vec<&DeviceStatus> = devs.iter().filter(|d| !d.revoked).collect();
        f.devices += live.len() as u64;
        f.devices_stale += live.iter().filter(|d| d.stale).count() as u64;
        f.devices_silent += live.iter().filter(|d| d.silent).count() as u64;
        let silent = live.is_empty() || live.iter().all(|d| d.silent);
        let stale = !silent && live.iter().all(|d| d.stale || d.silent);
        if detail {
            all_devices.extend(devs.iter().cloned());
        } else {
            all_devices.extend(devs);
            continue;
        }
        {
            directors.push(DirectorStatus {
                login: a.login.clone(),
                name: a.name.clone(),
                villages: mine.iter().map(|v| inp.places.place_ref(v)).collect(),
                devices: devs,
                children: 0,
                overdue_not_visited: 0,
                overdue_visited_unsynced: 0,
                stale,
                silent,
                state: String::new(),
            });
        }
    }
    let mut overdue = Vec::new();
    let mut agreements = Vec::new();
    let mut categories: BTreeMap<String, u64> = BTreeMap::new();
    let mut names: HashMap<Uuid, &ChildFacts> = HashMap::new();
    let expiring = inp.today + chrono::Duration::days(EXPIRING_DAYS);
    let children: &'a [ChildFacts] = inp.children;
    for c in children
        .iter()
        .filter(|c| c.active && villages.contains(c.village.as_str()))
    {
        let f = by_village.entry(c.village.as_str()).or_default();
        f.children += 1;
        match c.risk_colour.as_str() {
            "red" => f.red += 1,
            "yellow" => f.yellow += 1,
            "blue" => f.blue += 1,
            _ => f.green += 1,
        }
        for cat in &c.categories {
            *categories.entry(cat.clone()).or_default() += 1;
        }
        let st = child_state(c, inp.today, inp.policy);
        if let Some(days) = st.overdue_days {
            let visited_unsynced = unsent.contains(&c.child_id);
            if visited_unsynced {
                f.overdue_visited_unsynced += 1;
            } else {
                f.overdue_not_visited += 1;
            }
            if detail {
                overdue.push(OverdueChild {
                    child_id: c.child_id,
                    name: c.name.clone(),
                    village: inp.places.place_ref(&c.village),
                    risk_colour: c.risk_colour.clone(),
                    categories: c.categories.clone(),
                    last_visit_on: c.last_visit_on.clone(),
                    due_on: st.due_on.map(|d| d.to_string()).unwrap_or_default(),
                    days_overdue: days,
                    visited_unsynced,
                    directors: names_of_village
                        .get(c.village.as_str())
                        .cloned()
                        .unwrap_or_default(),
                });
            }
        }
        if st.left_behind {
            let until = c.agreement_until.as_deref().and_then(parse_day);
            let issue = match until {
                None => Some("missing"),
                Some(u) if u < inp.today => Some("expired"),
                Some(u) if u <= expiring => Some("expiring"),
                Some(_) => None,
            };
            match issue {
                Some("expiring") => f.agreements_expiring += 1,
                Some(_) => f.agreements_missing += 1,
                None => {}
            }
            if let (Some(issue), true) = (issue, detail) {
                agreements.push(AgreementIssue {
                    child_id: c.child_id,
                    name: c.name.clone(),
                    village: inp.places.place_ref(&c.village),
                    valid_until: c.agreement_until.clone(),
                    issue: issue.to_string(),
                });
            }
        }
        names.insert(c.child_id, c);
    }
    let mut late = Vec::new();
    for r in inp
        .referrals
        .iter()
        .filter(|r| r.open && villages.contains(r.village.as_str()))
    {
        let Some(due) = parse_day(&r.feedback_due_on) else {
            continue;
        };
        if due >= inp.today || !names.contains_key(&r.child_id) {
            continue;
        }
        let f = by_village.entry(r.village.as_str()).or_default();
        if r.report {
            f.reports_late += 1;
        } else {
            f.referrals_late += 1;
        }
        if detail {
            late.push(LateReferral {
                referral_id: r.referral_id,
                child_id: r.child_id,
                child_name: names
                    .get(&r.child_id)
                    .map(|c| c.name.clone())
                    .unwrap_or_default(),
                village: inp.places.place_ref(&r.village),
                report: r.report,
                feedback_due_on: r.feedback_due_on.clone(),
                days_late: (inp.today - due).num_days(),
            });
        }
    }
    Rolled {
        by_village,
        directors,
        overdue,
        agreements,
        late,
        categories,
        devices: all_devices,
        quarantine,
    }
}

/// The township overview, worst first.
pub fn township(inp: &Inputs<'_>, township: &str) -> TownshipOverview {
    let villages = inp.places.villages_under(township);
    let set: HashSet<&str> = villages.iter().map(String::as_str).collect();
    let mut r = roll(inp, &set, true);
    let mut figures = AreaFigures::default();
    for f in r.by_village.values() {
        figures.add(f);
    }
    // Per-director counts (a child counts for every director of its village).
    for d in &mut r.directors {
        let vs: BTreeSet<&str> = d.villages.iter().map(|v| v.code.as_str()).collect();
        d.children = inp
            .children
            .iter()
            .filter(|c| c.active && vs.contains(c.village.as_str()))
            .count() as u64;
        d.overdue_not_visited = r
            .overdue
            .iter()
            .filter(|o| !o.visited_unsynced && vs.contains(o.village.code.as_str()))
            .count() as u64;
        d.overdue_visited_unsynced = r
            .overdue
            .iter()
            .filter(|o| o.visited_unsynced && vs.contains(o.village.code.as_str()))
            .count() as u64;
        d.state = d.state_of().to_string();
    }
    r.directors.sort_by(|a, b| {
        (
            b.silent,
            b.stale,
            b.overdue_not_visited,
            b.overdue_visited_unsynced,
        )
            .cmp(&(
                a.silent,
                a.stale,
                a.overdue_not_visited,
                a.overdue_visited_unsynced,
            ))
            .then_with(|| a.login.cmp(&b.login))
    });
    let risk_rank = |c: &str| {
        RiskColour::from_code(c)
            .map(domain::urgency_rank)
            .unwrap_or(4)
    };
    r.overdue.sort_by(|a, b| {
        (
            a.visited_unsynced,
            risk_rank(&a.risk_colour),
            -a.days_overdue,
            &a.name,
            a.child_id,
        )
            .cmp(&(
                b.visited_unsynced,
                risk_rank(&b.risk_colour),
                -b.days_overdue,
                &b.name,
                b.child_id,
            ))
    });
    r.agreements.sort_by(|a, b| {
        (
            &a.issue != "missing",
            &a.issue != "expired",
            &a.valid_until,
            &a.name,
        )
            .cmp(&(
                &b.issue != "missing",
                &b.issue != "expired",
                &b.valid_until,
                &b.name,
            ))
    });
    r.late.sort_by(|a, b| {
        (!a.report, -a.days_late, a.referral_id).cmp(&(!b.report, -b.days_late, b.referral_id))
    });
    TownshipOverview {
        township: inp.places.place_ref(township),
        parent: inp.places.parent_ref(township),
        today: inp.today.to_string(),
        figures,
        categories: category_counts(&r.categories),
        directors: r.directors,
        overdue: r.overdue,
        agreements: r.agreements,
        late_referrals: r.late,
        visits_per_week: visits_per_week(inp),
        sync_freshness: freshness(r.devices.iter()),
        quarantine: r.quarantine,
    }
}

fn category_counts(c: &BTreeMap<String, u64>) -> Vec<CategoryCount> {
    let mut out: Vec<CategoryCount> = c
        .iter()
        .map(|(code, n)| CategoryCount {
            code: code.clone(),
            label_zh: Category::from_code(code)
                .map(|c| c.label_zh().to_string())
                .unwrap_or_else(|| code.clone()),
            count: *n,
        })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.code.cmp(&b.code)));
    out
}

/// A county (by township) or the city (by county), worst first. The children's
/// figures come counted per township by the read model (`counts`, the same rules as
/// [`township`] applies child by child); `overdue_unsent` are the overdue children
/// among [`unsent_children`] (visited on a phone, not yet synced), with their village.
/// `inp.children` and `inp.referrals` are not read.
pub fn area<'a>(
    inp: &Inputs<'a>,
    code: &str,
    counts: &'a [AreaCounts],
    overdue_unsent: &[(Uuid, String)],
) -> AreaOverview {
    let villages = inp.places.villages_under(code);
    let set: HashSet<&str> = villages.iter().map(String::as_str).collect();
    let townships: HashSet<String> = inp.places.townships_under(code).into_iter().collect();
    // The directors' figures per village, the children's per township: both are rolled
    // up to the rows below by the place tree.
    let mut r = roll(inp, &set, false);
    let n = |x: i64| x.max(0) as u64;
    let mut by_township: HashMap<&str, AreaFigures> = HashMap::new();
    for c in counts.iter().filter(|c| townships.contains(&c.township)) {
        let f = by_township.entry(c.township.as_str()).or_default();
        f.children += n(c.children);
        f.red += n(c.red);
        f.yellow += n(c.yellow);
        f.blue += n(c.blue);
        f.green += n(c.children - c.red - c.yellow - c.blue);
        f.overdue_not_visited += n(c.overdue);
        f.agreements_missing += n(c.agreements_missing);
        f.agreements_expiring += n(c.agreements_expiring);
        f.referrals_late += n(c.referrals_late);
        f.reports_late += n(c.reports_late);
    }
    let mut seen = HashSet::new();
    for (child, village) in overdue_unsent {
        if !set.contains(village.as_str()) || !seen.insert(*child) {
            continue;
        }
        let township = inp.places.ancestor(village, PlaceKind::Township);
        if let Some(f) = township.and_then(|t| by_township.get_mut(t)) {
            if f.overdue_not_visited > 0 {
                f.overdue_not_visited -= 1;
                f.overdue_visited_unsynced += 1;
            }
        }
    }
    r.by_village.extend(by_township);
    let sub_kind = match inp.places.get(code).map(|p| p.kind) {
        Some(PlaceKind::City) => PlaceKind::County,
        Some(PlaceKind::County) => PlaceKind::Township,
        _ => PlaceKind::Village,
    };
    let mut rows: BTreeMap<String, AreaFigures> = inp
        .places
        .children_of(code)
        .iter()
        .map(|c| (c.clone(), AreaFigures::default()))
        .collect();
    let mut totals = AreaFigures::default();
    for (v, f) in &r.by_village {
        totals.add(f);
        if let Some(sub) = inp.places.ancestor(v, sub_kind) {
            rows.entry(sub.to_string()).or_default().add(f);
        }
    }
    let mut rows: Vec<AreaRow> = rows
        .into_iter()
        .map(|(c, figures)| AreaRow {
            place: inp.places.place_ref(&c),
            figures,
        })
        .collect();
    rows.sort_by(|a, b| {
        b.figures
            .badness()
            .cmp(&a.figures.badness())
            .then_with(|| a.place.code.cmp(&b.place.code))
    });
    AreaOverview {
        area: inp.places.place_ref(code),
        parent: inp.places.parent_ref(code),
        today: inp.today.to_string(),
        totals,
        rows,
        visits_per_week: visits_per_week(inp),
        sync_freshness: freshness(r.devices.iter()),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_day;
    use chrono::NaiveDate;

    #[test]
    fn days_parse_from_dates_and_times_and_nothing_else() {
        assert_eq!(parse_day("2026-03-01"), NaiveDate::from_ymd_opt(2026, 3, 1));
        assert_eq!(
            parse_day("2026-03-01T10:00:00+08:00"),
            NaiveDate::from_ymd_opt(2026, 3, 1)
        );
        for bad in [
            "",
            "2026-3-1",
            "2026-02-30",
            "abcd-ef-gh",
            "2026/03/01",
            "２０２６-03-01",
        ] {
            assert_eq!(parse_day(bad), None, "{bad}");
        }
    }
}
