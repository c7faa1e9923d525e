//! The director's roster: every child of the device's villages with when the next visit
//! is due, ordered by urgency (overdue first, then due soon, red before green).
//!
//! `roster_entry` is derived from `record` inside the same transaction as every write
//! or pull that touches a child or a visit, so opening the roster is one indexed query
//! even with thousands of children. The due date itself comes from the domain's
//! visit-due policy; this module only stores and orders.

use crate::error::{Result, StoreError};
use crate::record::load_values;
use crate::store::Store;
use chrono::NaiveDate;
use domain::due::{DueFacts, DueStatus, VisitPolicy};
use domain::{Category, ChildStatus, RiskColour};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use uuid::Uuid;

/// One line of the roster.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RosterEntry {
    pub child_id: Uuid,
    pub name: String,
    pub village: String,
    pub categories: Vec<String>,
    pub risk_colour: String,
    pub last_visit_on: Option<String>,
    /// The last visit is recorded here but not yet on the server: "visited, not synced"
    /// is not the same as "not visited".
    pub last_visit_unsynced: bool,
    pub next_due_on: Option<String>,
    #[serde(skip)]
    pub due: Option<DueStatus>,
    /// `overdue`, `due_soon` or `not_due` (none for a child off the roster).
    pub due_state: Option<&'static str>,
    /// Days overdue, or days until due.
    pub due_days: Option<i64>,
}

/// Which children to list.
#[derive(Clone, Debug, Default)]
pub struct RosterFilter {
    pub category: Option<String>,
    pub risk_colour: Option<String>,
    pub overdue_only: bool,
    /// A piece of the name, pinyin initials or syllables of any reading, or a mix
    /// ("lxh", "LX", "xh", "lixh", "李xh" find 李小花; "lcj" and "lzj" find 李长江).
    /// Matched as typed: `%` and `_` find only names that contain them.
    pub search: Option<String>,
    /// Include children who have left the roster (exited).
    pub include_exited: bool,
}

/// The policy in force on this device (configurable data; the domain default if unset).
pub(crate) fn policy(conn: &Connection) -> Result<VisitPolicy> {
    let raw: Option<String> = conn
        .prepare_cached("SELECT visit_policy FROM device WHERE id = 1")?
        .query_row([], |r| r.get(0))
        .optional()?
        .flatten();
    match raw {
        Some(json) => serde_json::from_str(&json)
            .map_err(|e| StoreError::Corrupt(format!("visit policy: {e}"))),
        None => Ok(VisitPolicy::default()),
    }
}

/// The name of the SQL function that matches a roster line's search key against a
/// normalised query (see [`register_search`]).
const SEARCH_FN: &str = "tonghu_name_search";

/// Registers the search function on a connection: `tonghu_name_search(key, query)` is
/// [`domain::pinyin::key_matches`], with the query split into characters once per
/// statement, not once per row.
pub(crate) fn register_search(conn: &Connection) -> Result<()> {
    use rusqlite::functions::FunctionFlags;
    conn.create_scalar_function(
        SEARCH_FN,
        2,
        FunctionFlags::SQLITE_UTF8
            | FunctionFlags::SQLITE_DETERMINISTIC
            | FunctionFlags::SQLITE_INNOCUOUS,
        |ctx| {
            let query = ctx.get_or_create_aux(1, |v| -> std::result::Result<_, StoreError> {
                Ok(v.as_str()
                    .unwrap_or_default()
                    .chars()
                    .collect::<Vec<char>>())
            })?;
            let key = ctx.get_raw(0).as_str().unwrap_or_default();
            Ok(domain::pinyin::key_matches_chars(key, &query))
        },
    )?;
    Ok(())
}

/// Recomputes every roster line (after a migration that changed what a line holds).
pub(crate) fn rebuild(conn: &mut Connection) -> Result<()> {
    let tx = conn.transaction()?;
    let policy = policy(&tx)?;
    let ids: Vec<String> = {
        let mut stmt = tx.prepare("SELECT row_id FROM record WHERE tbl = 'child'")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for id in ids {
        let id = Uuid::parse_str(&id).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        refresh(&tx, id, &policy)?;
    }
    tx.commit()?;
    Ok(())
}

/// Recomputes the roster lines of the children a transaction touched (each once).
pub(crate) fn refresh_all(conn: &Connection, mut children: Vec<Uuid>) -> Result<()> {
    if children.is_empty() {
        return Ok(());
    }
    let policy = policy(conn)?;
    children.sort();
    children.dedup();
    for child in children {
        refresh(conn, child, &policy)?;
    }
    Ok(())
}

/// Recomputes one child's roster line from its records.
pub(crate) fn refresh(conn: &Connection, child_id: Uuid, policy: &VisitPolicy) -> Result<()> {
    let id = child_id.to_string();
    let Some(child) = load_values(conn, "child", child_id)? else {
        conn.prepare_cached("DELETE FROM roster_entry WHERE child_id = ?1")?
            .execute([&id])?;
        return Ok(());
    };
    if child.is_deleted() {
        conn.prepare_cached("DELETE FROM roster_entry WHERE child_id = ?1")?
            .execute([&id])?;
        return Ok(());
    }
    let name = child.text("name").unwrap_or_default().to_string();
    let categories: Vec<String> = child
        .doc
        .get("categories")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    let risk = child.text("risk_colour").unwrap_or("green").to_string();
    let active = child.text("status") != Some("exited");
    let added_on = child.text("added_on").and_then(parse_date);

    // The latest visit that was not voided (an index on the visit time keeps this a
    // short walk however many visits the child has).
    let last: Option<(String, Option<NaiveDate>, Option<i64>)> = conn
        .prepare_cached(
            "SELECT ts, json_extract(doc, '$.next_due_on'), local_seq
             FROM record
             WHERE child_id = ?1 AND tbl = 'visit'
               AND (json_extract(doc, '$.voided') IS NULL)
             ORDER BY ts DESC LIMIT 1",
        )?
        .query_row([&id], |r| {
            Ok((
                r.get::<_, Option<String>>(0)?.unwrap_or_default(),
                r.get::<_, Option<String>>(1)?,
                r.get::<_, Option<i64>>(2)?,
            ))
        })
        .optional()?
        .map(|(at, next, seq)| (at, next.as_deref().and_then(parse_date), seq));
    let last_visit_on = last.as_ref().and_then(|(at, _, _)| parse_date(at));
    let risk_colour = RiskColour::from_code(&risk).unwrap_or(RiskColour::Green);
    let next_due = match added_on {
        Some(added_on) => policy.next_due_on(&DueFacts {
            categories: categories
                .iter()
                .filter_map(|c| Category::from_code(c))
                .collect(),
            risk_colour,
            status: if active {
                ChildStatus::Active
            } else {
                ChildStatus::Exited
            },
            added_on,
            last_visit_on,
            next_due_on: last.as_ref().and_then(|(_, d, _)| *d),
        }),
        None => None,
    };
    conn.prepare_cached(
        "INSERT OR REPLACE INTO roster_entry (child_id, scope, name, initials, categories, risk_rank, risk_colour,
             active, last_visit_on, last_visit_seq, next_due_on)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        id,
        child.scope,
        name,
        domain::pinyin::search_key(&name),
        serde_json::to_string(&categories).unwrap_or_else(|_| "[]".into()),
        domain::due::urgency_rank(risk_colour),
        risk,
        active,
        last_visit_on.map(|d| d.to_string()),
        last.as_ref().and_then(|(_, _, seq)| *seq),
        next_due.map(|d| d.to_string()),
    ])?;
    Ok(())
}

/// The calendar date a stored date or time stamp begins with (`2026-05-18…`).
fn parse_date(s: &str) -> Option<NaiveDate> {
    let day: String = s.chars().take(10).collect();
    NaiveDate::parse_from_str(&day, "%Y-%m-%d").ok()
}

impl Store {
    /// The roster, most urgent first: overdue (longest overdue first), then due soon,
    /// then the rest; within each band red before yellow before blue before green.
    pub fn roster(&self, filter: &RosterFilter) -> Result<Vec<RosterEntry>> {
        let today = self.today();
        let today_s = today.to_string();
        let soon_days = policy(&self.conn)?.soon_days;
        let soon_s = today
            .checked_add_signed(chrono::Duration::days(soon_days.clamp(0, 3660)))
            .unwrap_or(today)
            .to_string();
        let search = filter
            .search
            .as_deref()
            .map(domain::pinyin::search_query)
            .filter(|s| !s.is_empty());
        let mut stmt = self.conn.prepare_cached(
            "SELECT child_id, name, scope, categories, risk_colour, last_visit_on,
                    coalesce(last_visit_seq > (SELECT acked_seq FROM device WHERE id = 1), 0), next_due_on
             FROM roster_entry
             WHERE (active = 1 OR ?1)
               AND (?2 IS NULL OR EXISTS (SELECT 1 FROM json_each(categories) WHERE value = ?2))
               AND (?3 IS NULL OR risk_colour = ?3)
               AND (NOT ?4 OR next_due_on < ?5)
               AND (?6 IS NULL OR instr(lower(name), ?6) > 0 OR tonghu_name_search(initials, ?6))
             ORDER BY CASE WHEN next_due_on IS NULL THEN 3
                           WHEN next_due_on < ?5 THEN 0
                           WHEN next_due_on <= ?7 THEN 1 ELSE 2 END,
                      risk_rank, next_due_on, name, child_id",
        )?;
        let rows = stmt.query_map(
            params![
                filter.include_exited,
                filter.category,
                filter.risk_colour,
                filter.overdue_only,
                today_s,
                search,
                soon_s
            ],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, bool>(6)?,
                    r.get::<_, Option<String>>(7)?,
                ))
            },
        )?;
        let mut out = Vec::new();
        for row in rows {
            let (id, name, village, cats, risk, last, unsynced, next) = row?;
            let due = next
                .as_deref()
                .and_then(parse_date)
                .map(|d| domain::due::due_status(d, today, soon_days));
            out.push(RosterEntry {
                child_id: Uuid::parse_str(&id).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                name,
                village,
                categories: serde_json::from_str(&cats).unwrap_or_default(),
                risk_colour: risk,
                last_visit_on: last,
                last_visit_unsynced: unsynced,
                next_due_on: next,
                due_state: due.map(|d| match d {
                    DueStatus::Overdue { .. } => "overdue",
                    DueStatus::DueSoon { .. } => "due_soon",
                    DueStatus::NotDue { .. } => "not_due",
                }),
                due_days: due.map(|d| match d {
                    DueStatus::Overdue { days }
                    | DueStatus::DueSoon { days }
                    | DueStatus::NotDue { days } => days,
                }),
                due,
            });
        }
        Ok(out)
    }

    /// Replaces the visit-due policy (configurable data) and recomputes the roster.
    pub fn set_visit_policy(&mut self, policy: &VisitPolicy) -> Result<()> {
        let json = serde_json::to_string(policy).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let tx = self.begin()?;
        tx.execute("UPDATE device SET visit_policy = ?1 WHERE id = 1", [json])?;
        let ids: Vec<String> = {
            let mut stmt = tx.prepare("SELECT row_id FROM record WHERE tbl = 'child'")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        for id in ids {
            let id = Uuid::parse_str(&id).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            refresh(&tx, id, policy)?;
        }
        tx.commit()?;
        Ok(())
    }
}
