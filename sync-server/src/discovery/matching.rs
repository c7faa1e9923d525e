//! Matching a month's list against the roster: the one place that decides what a
//! list means for the children (issue 15 §2). Pure: the rows read from the file, the
//! roster (children and guardians by ID number), the villages of the importing
//! admin's area and last month's listed children go in; findings and the report come
//! out. Nothing here reads a clock, a file or the database.
//!
//! - A **minor** (under 18 on the list month's first day, from the ID number's birth
//!   date) whose ID number no child's file carries → [`FindingKind::UnlistedMinor`] in
//!   the village read from the row (or the area's queue when none can be read).
//! - A listed **adult** who is a parent or guardian on a roster child's file
//!   (guardian rows' ID numbers) → [`FindingKind::GuardianListed`] on that child.
//! - A roster child sharing a household (户主身份证号 or 户编号) with a listed adult →
//!   [`FindingKind::HouseholdListed`] on that child (one per child and list). A child
//!   in the household: listed there itself, or its own or a guardian's ID number is the
//!   household head's.
//!   Neither is made for a child that is on the list itself: its family's listing is
//!   known already, and a change shows as joining or leaving the list.
//! - A roster child whose family (itself, a guardian or its household) was on the
//!   previous month's list and is not now → [`FindingKind::LeftList`]; is now and was
//!   not → [`FindingKind::JoinedList`] (unless another finding already names the
//!   child). Only when a previous month of the list was imported.
//! - Duplicates (the same ID number on two lines), invalid rows and rows without a
//!   usable village are reported with their line; an adult who matches nothing is
//!   not kept.

use super::list_file::{header_key, ListRow, RowProblem};
use domain::discovery::{minor_in_month, Finding, ListedAdult, ListedPerson};
use domain::{mask_id_number, FindingKind, TaskKind};
use std::collections::{BTreeMap, HashMap, HashSet};
use uuid::Uuid;

pub use crate::store::discovery::{ListKind, RosterChild, RosterGuardian};

/// The roster, indexed by ID number. Children of every village (a minor on file
/// anywhere is not "not on the roster"); findings are made only in the area's.
#[derive(Clone, Debug, Default)]
pub struct Roster {
    pub children: Vec<RosterChild>,
    child_by_id_number: HashMap<String, usize>,
    child_by_uuid: HashMap<Uuid, usize>,
    guardians_by_id_number: HashMap<String, Vec<RosterGuardian>>,
    guardian_ids_of_child: HashMap<Uuid, Vec<String>>,
}

impl Roster {
    pub fn new(children: Vec<RosterChild>, guardians: Vec<RosterGuardian>) -> Roster {
        let mut r = Roster {
            children,
            ..Roster::default()
        };
        for (i, c) in r.children.iter().enumerate() {
            r.child_by_uuid.insert(c.child_id, i);
            if let Some(id) = &c.id_number {
                r.child_by_id_number.insert(id.clone(), i);
            }
        }
        for g in guardians {
            if !r.child_by_uuid.contains_key(&g.child_id) {
                continue;
            }
            r.guardian_ids_of_child
                .entry(g.child_id)
                .or_default()
                .push(g.id_number.clone());
            r.guardians_by_id_number
                .entry(g.id_number.clone())
                .or_default()
                .push(g);
        }
        r
    }

    fn child(&self, id: Uuid) -> Option<&RosterChild> {
        self.child_by_uuid.get(&id).map(|&i| &self.children[i])
    }
}

/// A village of the importing admin's area, with its township.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VillagePlace {
    pub code: String,
    pub name: String,
    pub township_name: String,
}

/// Finds a row's village among the area's villages: by code (the village column holds
/// a 12-digit code the roster has), else by name — the village column, then names
/// found in the address before 村 / 社区 / 居 — compared without the words 村民委员会,
/// 居民委员会, 村委会, 居委会 and a final 村/社区. A name two townships share is told
/// apart by the township column or a township name in the address; otherwise it is
/// ambiguous and the finding waits in the county's queue.
#[derive(Clone, Debug, Default)]
pub struct VillageResolver {
    villages: Vec<VillagePlace>,
    by_code: HashMap<String, usize>,
    by_name: HashMap<String, Vec<usize>>,
    /// Longest name variant in chars (bounds the address scan).
    longest: usize,
}

/// What [`VillageResolver::resolve`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolution {
    Found(String),
    /// Several villages of that name, which the row does not tell apart.
    Ambiguous(Vec<String>),
    NotFound,
}

fn name_variants(name: &str) -> Vec<String> {
    let key = header_key(name);
    let mut out = vec![key.clone()];
    let mut stripped = key.clone();
    for suffix in [
        "村民委员会",
        "居民委员会",
        "社区居委会",
        "村委会",
        "居委会",
        "委员会",
    ] {
        if let Some(s) = stripped.strip_suffix(suffix) {
            stripped = s.to_string();
            break;
        }
    }
    if stripped != key && stripped.chars().count() >= 1 {
        out.push(stripped.clone());
    }
    for suffix in ["社区", "村", "居"] {
        if let Some(s) = stripped.strip_suffix(suffix) {
            if s.chars().count() >= 1 {
                out.push(s.to_string());
            }
            break;
        }
    }
    out.dedup();
    out
}

impl VillageResolver {
    pub fn new(villages: Vec<VillagePlace>) -> VillageResolver {
        let mut r = VillageResolver {
            villages,
            ..VillageResolver::default()
        };
        for (i, v) in r.villages.iter().enumerate() {
            r.by_code.insert(v.code.clone(), i);
            for n in name_variants(&v.name) {
                r.longest = r.longest.max(n.chars().count());
                let list = r.by_name.entry(n).or_default();
                if !list.contains(&i) {
                    list.push(i);
                }
            }
        }
        r
    }

    pub fn contains(&self, code: &str) -> bool {
        self.by_code.contains_key(code)
    }

    /// The row's village (see the type's documentation).
    pub fn resolve(
        &self,
        village: Option<&str>,
        township: Option<&str>,
        address: Option<&str>,
    ) -> Resolution {
        let mut candidates: Vec<usize> = Vec::new();
        if let Some(v) = village {
            let key = header_key(v);
            if let Some(&i) = self.by_code.get(&key) {
                return Resolution::Found(self.villages[i].code.clone());
            }
            for n in name_variants(v) {
                if let Some(list) = self.by_name.get(&n) {
                    candidates = list.clone();
                    break;
                }
            }
        }
        if candidates.is_empty() {
            if let Some(a) = address {
                candidates = self.names_in_address(a);
            }
        }
        if candidates.len() > 1 {
            let hint = [township, address]
                .into_iter()
                .flatten()
                .map(header_key)
                .collect::<Vec<_>>()
                .join("|");
            let narrowed: Vec<usize> = candidates
                .iter()
                .copied()
                .filter(|&i| {
                    let t = &self.villages[i].township_name;
                    name_variants(t)
                        .iter()
                        .any(|n| n.chars().count() >= 2 && hint.contains(n.as_str()))
                })
                .collect();
            if !narrowed.is_empty() {
                candidates = narrowed;
            }
        }
        match candidates.as_slice() {
            [] => Resolution::NotFound,
            [i] => Resolution::Found(self.villages[*i].code.clone()),
            many => Resolution::Ambiguous(
                many.iter()
                    .map(|&i| {
                        format!(
                            "{}{}",
                            self.villages[i].township_name, self.villages[i].name
                        )
                    })
                    .collect(),
            ),
        }
    }

    /// Villages whose name ends at a 村 / 社区 / 居 (委员会 …) in the address.
    fn names_in_address(&self, address: &str) -> Vec<usize> {
        let chars: Vec<char> = header_key(address).chars().collect();
        let mut found: Vec<(usize, usize)> = Vec::new(); // (name length, village)
        for (end, c) in chars.iter().enumerate() {
            if !matches!(c, '村' | '区' | '居' | '会') {
                continue;
            }
            for len in 2..=self.longest.min(end + 1) {
                let start = end + 1 - len;
                let name: String = chars[start..=end].iter().collect();
                if let Some(list) = self.by_name.get(&name) {
                    for &i in list {
                        found.push((len, i));
                    }
                }
            }
        }
        // The longest name wins (东村 inside 小东村 is not another village).
        let Some(best) = found.iter().map(|(l, _)| *l).max() else {
            return Vec::new();
        };
        let mut out: Vec<usize> = found
            .into_iter()
            .filter(|(l, _)| *l == best)
            .map(|(_, i)| i)
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// A finding to write: a task in its village, or an entry in the area's queue.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedFinding {
    /// What the finding's id is derived from (list kind, kind, person, village or
    /// queue, month for reviews): the same finding next month derives the same id.
    pub key: String,
    pub village: Option<String>,
    pub child_id: Option<Uuid>,
    pub finding: Finding,
    pub title: String,
    pub task_kind: TaskKind,
    /// The file's village or address text, for the queue (None for a task).
    pub place_text: Option<String>,
    /// The list line it came from (none for a child that left the list).
    pub line: Option<usize>,
}

impl PlannedFinding {
    pub fn kind(&self) -> FindingKind {
        self.finding.finding
    }
}

/// The preview's figures and everything reported about rows.
#[derive(Clone, Debug, Default)]
pub struct MatchReport {
    pub rows_read: usize,
    pub minors: usize,
    /// Listed minors on a child's file, plus listed adults who are a guardian on one.
    pub on_roster: usize,
    pub findings: Vec<PlannedFinding>,
    /// Lines repeating an ID number of an earlier line (reported, matched once).
    pub duplicates: Vec<RowProblem>,
    /// Lines of minors not on the roster whose village could not be read (their
    /// findings wait in the county's queue).
    pub no_village: Vec<RowProblem>,
    /// Roster children whose family is on this list (for next month's reviews).
    pub listed_children: HashSet<Uuid>,
}

impl MatchReport {
    /// Findings that become tasks now (a village is known).
    pub fn tasks(&self) -> impl Iterator<Item = &PlannedFinding> {
        self.findings.iter().filter(|f| f.village.is_some())
    }

    /// Findings for the county's queue.
    pub fn queued(&self) -> impl Iterator<Item = &PlannedFinding> {
        self.findings.iter().filter(|f| f.village.is_none())
    }
}

/// What matching needs besides the rows.
pub struct MatchContext<'a> {
    pub kind: &'a ListKind,
    /// `YYYY-MM`.
    pub month: &'a str,
    /// The importing admin's area (a county or city code): the queue's owner.
    pub area: &'a str,
    pub roster: &'a Roster,
    /// The villages of the area.
    pub villages: &'a VillageResolver,
    /// Roster children whose family was on the previous imported month of this list;
    /// None when no earlier month was imported (no review findings then).
    pub previous: Option<&'a HashSet<Uuid>>,
}

fn adult_of(row: &ListRow, relationship: Option<String>) -> ListedAdult {
    ListedAdult {
        name: row.name.clone(),
        id_number_masked: mask_id_number(&row.id_number),
        relationship: relationship.or_else(|| row.relationship.clone()),
        disability_grade: row.disability_grade,
        list_category: row.category.clone(),
    }
}

fn person_of(row: &ListRow) -> ListedPerson {
    ListedPerson {
        name: row.name.clone(),
        id_number: row.id_number.clone(),
        sex: Some(row.sex),
        birth_date: Some(row.birth_date),
        address: row.address.clone().or_else(|| row.village.clone()),
        relationship_to_head: row.relationship.clone(),
        disability_grade: row.disability_grade,
        list_category: row.category.clone(),
    }
}

/// The more telling of two listed adults: a disability grade (the lower, the more
/// severe) first, then the household head.
fn more_telling(a: &ListRow, b: &ListRow) -> bool {
    let grade = |r: &ListRow| r.disability_grade.unwrap_or(9);
    let head = |r: &ListRow| {
        r.relationship
            .as_deref()
            .is_some_and(|s| s.contains("户主") || s == "本人")
    };
    (grade(a), !head(a), a.line) < (grade(b), !head(b), b.line)
}

/// Matches `rows` (one list, one month) against the roster (see the module docs).
pub fn match_list(rows: &[ListRow], cx: &MatchContext<'_>) -> MatchReport {
    let kind = cx.kind;
    let new_finding =
        |k: FindingKind| Finding::new(k, &kind.code, &kind.name, cx.month, &kind.meaning);
    let mut report = MatchReport {
        rows_read: rows.len(),
        ..MatchReport::default()
    };

    // Duplicates: the first line of an ID number counts, later ones are reported.
    let mut first_line: HashMap<&str, usize> = HashMap::new();
    let mut people: Vec<&ListRow> = Vec::with_capacity(rows.len());
    for r in rows {
        match first_line.get(r.id_number.as_str()) {
            Some(&line) => report.duplicates.push(RowProblem {
                line: r.line,
                code: "duplicate",
                zh: format!(
                    "第 {} 行与第 {line} 行是同一人（身份证号相同），只计一次",
                    r.line
                ),
                en: format!(
                    "line {} repeats the person of line {line} (same ID number); counted once",
                    r.line
                ),
            }),
            None => {
                first_line.insert(&r.id_number, r.line);
                people.push(r);
            }
        }
    }

    // Households: who is listed in each, and the listed adults.
    let mut households: HashMap<&str, Vec<&ListRow>> = HashMap::new();
    for r in &people {
        if let Some(h) = &r.household {
            households.entry(h.as_str()).or_default().push(r);
        }
    }
    let is_minor = |r: &ListRow| minor_in_month(r.birth_date, cx.month);
    let in_area = |c: &RosterChild| c.active && cx.villages.contains(&c.village);

    // Per roster child: listed itself? which listed guardians? which household adults?
    let mut child_listed: HashSet<Uuid> = HashSet::new();
    let mut guardian_hits: BTreeMap<Uuid, Vec<(&ListRow, &RosterGuardian)>> = BTreeMap::new();
    let mut household_hits: BTreeMap<Uuid, Vec<&ListRow>> = BTreeMap::new();

    for r in &people {
        if let Some(&i) = cx.roster.child_by_id_number.get(&r.id_number) {
            child_listed.insert(cx.roster.children[i].child_id);
        }
    }

    for r in &people {
        let minor = is_minor(r);
        if minor {
            report.minors += 1;
            if cx.roster.child_by_id_number.contains_key(&r.id_number) {
                report.on_roster += 1;
                continue;
            }
            // A minor not on the roster: a task in its village, or the queue.
            let mut f = new_finding(FindingKind::UnlistedMinor);
            f.person = Some(person_of(r));
            if let Some(h) = &r.household {
                let adults = households.get(h.as_str()).into_iter().flatten();
                let best = adults
                    .filter(|a| !is_minor(a))
                    .fold(None::<&ListRow>, |best, a| match best {
                        Some(b) if !more_telling(a, b) => Some(b),
                        _ => Some(a),
                    });
                f.adult = best.map(|a| adult_of(a, None));
            }
            let resolution = cx.villages.resolve(
                r.village.as_deref(),
                r.township.as_deref(),
                r.address.as_deref(),
            );
            let village = match &resolution {
                Resolution::Found(v) => Some(v.clone()),
                _ => None,
            };
            let place_text = [
                r.township.as_deref(),
                r.village.as_deref(),
                r.address.as_deref(),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
            if village.is_none() {
                let (zh, en) = match &resolution {
                    Resolution::Ambiguous(names) => (
                        format!(
                            "第 {} 行：村居“{}”有重名（{}），无法确定是哪一个，已放入本区市待分配队列",
                            r.line,
                            place_text.chars().take(40).collect::<String>(),
                            names.join("、")
                        ),
                        format!("line {}: the village is ambiguous ({} candidates); queued for the county to assign", r.line, names.len()),
                    ),
                    _ => (
                        format!(
                            "第 {} 行：未能从“{}”确定所在村居（不在本区市的村居名单中），已放入本区市待分配队列",
                            r.line,
                            if place_text.is_empty() { "（空）".to_string() } else { place_text.chars().take(40).collect() }
                        ),
                        format!("line {}: no village of the area could be read from the row; queued for the county to assign", r.line),
                    ),
                };
                report.no_village.push(RowProblem {
                    line: r.line,
                    code: "no_village",
                    zh,
                    en,
                });
            }
            let key = format!(
                "unlisted|{}|{}|{}",
                kind.code,
                r.id_number,
                village
                    .clone()
                    .unwrap_or_else(|| format!("queue:{}", cx.area))
            );
            report.findings.push(PlannedFinding {
                key,
                title: f.title_zh(None),
                task_kind: f.task_kind(),
                child_id: None,
                place_text: village
                    .is_none()
                    .then(|| place_text.chars().take(200).collect()),
                village,
                finding: f,
                line: Some(r.line),
            });
            continue;
        }
        // An adult: a guardian on a child's file?
        let mut matched = false;
        if let Some(gs) = cx.roster.guardians_by_id_number.get(&r.id_number) {
            for g in gs {
                if cx.roster.child(g.child_id).is_some_and(in_area) {
                    guardian_hits.entry(g.child_id).or_default().push((r, g));
                }
                matched = true;
            }
        }
        if matched {
            report.on_roster += 1;
        }
    }

    // Households with a listed adult: the roster children in them.
    for members in households.values() {
        let adults: Vec<&ListRow> = members.iter().copied().filter(|r| !is_minor(r)).collect();
        if adults.is_empty() {
            continue;
        }
        let head_id = members
            .first()
            .and_then(|r| r.household.as_deref())
            .and_then(|h| h.strip_prefix("id:"));
        let mut children: HashSet<Uuid> = HashSet::new();
        for m in members {
            if let Some(&i) = cx.roster.child_by_id_number.get(&m.id_number) {
                children.insert(cx.roster.children[i].child_id);
            }
        }
        if let Some(head) = head_id {
            if let Some(&i) = cx.roster.child_by_id_number.get(head) {
                children.insert(cx.roster.children[i].child_id);
            }
            for g in cx
                .roster
                .guardians_by_id_number
                .get(head)
                .into_iter()
                .flatten()
            {
                children.insert(g.child_id);
            }
        }
        for c in children {
            if !cx.roster.child(c).is_some_and(in_area) {
                continue;
            }
            let own: HashSet<&str> = cx
                .roster
                .guardian_ids_of_child
                .get(&c)
                .into_iter()
                .flatten()
                .map(String::as_str)
                .collect();
            let child_id_number = cx.roster.child(c).and_then(|x| x.id_number.as_deref());
            for a in &adults {
                if !own.contains(a.id_number.as_str())
                    && Some(a.id_number.as_str()) != child_id_number
                {
                    household_hits.entry(c).or_default().push(a);
                }
            }
        }
    }

    // The family on the list: for next month, and for this month's reviews.
    let mut family_listed: HashSet<Uuid> = child_listed.clone();
    family_listed.extend(guardian_hits.keys().copied());
    family_listed.extend(household_hits.keys().copied());
    for members in households.values() {
        for m in members {
            if let Some(&i) = cx.roster.child_by_id_number.get(&m.id_number) {
                family_listed.insert(cx.roster.children[i].child_id);
            }
        }
    }
    report.listed_children = family_listed
        .iter()
        .copied()
        .filter(|c| cx.roster.child(*c).is_some_and(in_area))
        .collect();

    let mut named: HashSet<Uuid> = HashSet::new();
    for (child_id, hits) in &guardian_hits {
        if child_listed.contains(child_id) {
            continue;
        }
        let Some(child) = cx.roster.child(*child_id) else {
            continue;
        };
        let mut seen: HashSet<&str> = HashSet::new();
        for (row, g) in hits {
            if !seen.insert(row.id_number.as_str()) {
                continue;
            }
            let mut f = new_finding(FindingKind::GuardianListed);
            f.adult = Some(adult_of(
                row,
                Some(domain::labels::code_label_zh(&g.role).to_string()),
            ));
            f.guardian_id = Some(g.guardian_id);
            named.insert(*child_id);
            report.findings.push(PlannedFinding {
                key: format!(
                    "guardian|{}|{}|{}|{}",
                    kind.code, row.id_number, child_id, child.village
                ),
                title: f.title_zh(Some(&child.name)),
                task_kind: f.task_kind(),
                village: Some(child.village.clone()),
                child_id: Some(*child_id),
                place_text: None,
                finding: f,
                line: Some(row.line),
            });
        }
    }
    for (child_id, adults) in &household_hits {
        if child_listed.contains(child_id) || named.contains(child_id) {
            continue;
        }
        let Some(child) = cx.roster.child(*child_id) else {
            continue;
        };
        let best = adults
            .iter()
            .copied()
            .fold(None::<&ListRow>, |best, a| match best {
                Some(b) if !more_telling(a, b) => Some(b),
                _ => Some(a),
            });
        let Some(adult) = best else { continue };
        let mut f = new_finding(FindingKind::HouseholdListed);
        f.adult = Some(adult_of(adult, None));
        named.insert(*child_id);
        report.findings.push(PlannedFinding {
            key: format!("household|{}|{}|{}", kind.code, child_id, child.village),
            title: f.title_zh(Some(&child.name)),
            task_kind: f.task_kind(),
            village: Some(child.village.clone()),
            child_id: Some(*child_id),
            place_text: None,
            finding: f,
            line: Some(adult.line),
        });
    }

    // Reviews against the previous imported month.
    if let Some(previous) = cx.previous {
        let review = |child_id: Uuid, k: FindingKind, report: &mut MatchReport| {
            let Some(child) = cx.roster.child(child_id).filter(|c| in_area(c)) else {
                return;
            };
            let f = new_finding(k);
            report.findings.push(PlannedFinding {
                key: format!("{}|{}|{}|{}", k.code(), kind.code, child_id, cx.month),
                title: f.title_zh(Some(&child.name)),
                task_kind: f.task_kind(),
                village: Some(child.village.clone()),
                child_id: Some(child_id),
                place_text: None,
                finding: f,
                line: None,
            });
        };
        let mut joined: Vec<Uuid> = report
            .listed_children
            .iter()
            .copied()
            .filter(|c| !previous.contains(c) && !named.contains(c))
            .collect();
        joined.sort();
        for c in joined {
            review(c, FindingKind::JoinedList, &mut report);
        }
        let mut left: Vec<Uuid> = previous
            .iter()
            .copied()
            .filter(|c| !report.listed_children.contains(c))
            .collect();
        left.sort();
        for c in left {
            review(c, FindingKind::LeftList, &mut report);
        }
    }
    report
}
