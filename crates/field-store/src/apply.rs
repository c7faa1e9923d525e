//! Applying changes pulled from the server: a page of changes and the cursor that
//! follows it in one transaction, so a crash leaves either the whole page or none of
//! it, and re-applying a page changes nothing (the merge rule is idempotent).
//!
//! Changes are grouped by row so that each row is read and written once per page.
//! A value that loses a merge against another device's value is kept in
//! `field_history`.

use crate::error::{Result, StoreError};
use crate::record::{load_record, save_record, StoredRecord};
use crate::store::{read_device, Store};
use domain::schema::SCOPE_FIELD;
use rusqlite::{params, Connection};
use serde_json::Value;
use std::collections::HashMap;
use sync_core::{merge_field, Change, FieldState, MergeOutcome};
use uuid::Uuid;

/// A child whose file left this phone because its village is no longer one the phone
/// holds (the village was taken from the director, or the child moved away): told to
/// the director by name, never removed in silence.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LeftChild {
    pub child_id: Uuid,
    pub name: String,
    /// The village the child's file is in now.
    pub village: String,
}

/// What applying a page did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ApplyReport {
    /// Fields whose stored value changed.
    pub applied: usize,
    /// Changes already held (own changes coming back, re-sent pages).
    pub duplicates: usize,
    /// Incoming values that lost against a newer value held here.
    pub lost: usize,
    /// Children (with their files) removed because they left this device's villages.
    pub evicted_children: usize,
    /// Who they are.
    pub children_left: Vec<LeftChild>,
    /// The account was given a village this device did not hold: the page was not
    /// applied and the cursor went back to the start, to fetch that village whole.
    pub refetch_from_start: bool,
    /// The page changed the villages this device holds (added or taken away).
    pub scopes_changed: bool,
}

impl Store {
    /// Applies a page of pulled changes and, in the same transaction, stores
    /// `next_cursor` (when given) as the pull cursor.
    pub fn apply_changes(
        &mut self,
        changes: &[Change],
        next_cursor: Option<u64>,
    ) -> Result<ApplyReport> {
        let (device_clock, skew) = (self.clock.clone(), self.clock_skew_ms);
        let tx = self.begin()?;
        let state = read_device(&tx)?;
        let wall = Store::now_ms_of(&*device_clock, skew, &state);
        let mut report = ApplyReport::default();

        // Group by row, keeping first-seen order.
        let mut order: Vec<(&str, Uuid)> = Vec::new();
        let mut groups: HashMap<(&str, Uuid), Vec<&Change>> = HashMap::new();
        for c in changes {
            let key = (c.table.as_str(), c.row_id);
            groups.entry(key).or_insert_with(|| {
                order.push(key);
                Vec::new()
            });
            groups.get_mut(&key).expect("inserted").push(c);
        }

        let mut max_hlc = state.hlc_last;
        let mut touched_children: Vec<Uuid> = Vec::new();
        let noted_at = chrono::DateTime::from_timestamp_millis(wall as i64)
            .unwrap_or_default()
            .to_rfc3339();
        for key in order {
            let group = &groups[&key];
            let existing = load_record(&tx, key.0, key.1)?;
            let old_scope = existing.as_ref().map(|r| r.scope.clone());
            let mut rec = existing.unwrap_or_else(|| StoredRecord::new(key.0, key.1));
            let mut changed = false;
            for c in group {
                max_hlc = max_hlc.max(c.hlc);
                let mut slot = rec.clocks.get(&c.field).map(|stamp| FieldState {
                    stamp: *stamp,
                    value: rec.doc.get(&c.field).cloned().unwrap_or(Value::Null),
                });
                match merge_field(&mut slot, c.stamp(), &c.value) {
                    MergeOutcome::Inserted => report.applied += 1,
                    MergeOutcome::Replaced { previous } => {
                        report.applied += 1;
                        if previous.stamp.device_id != c.device_id {
                            note_loser(&tx, &rec, &c.field, &previous, c, &noted_at)?;
                        }
                    }
                    MergeOutcome::Lost => {
                        report.lost += 1;
                        let cur = slot.as_ref().expect("a loser has a winner");
                        if cur.stamp.device_id != c.device_id {
                            let loser = FieldState {
                                stamp: c.stamp(),
                                value: c.value.clone(),
                            };
                            note_loser_against(&tx, &rec, &c.field, &loser, cur, &noted_at)?;
                        }
                        continue;
                    }
                    MergeOutcome::Duplicate => {
                        report.duplicates += 1;
                        continue;
                    }
                }
                let won = slot.expect("merged");
                rec.doc.insert(c.field.clone(), won.value);
                rec.clocks.insert(c.field.clone(), won.stamp);
                changed = true;
            }
            // The scope the server files this row under (the last change of the page
            // is the freshest word), unless the row says its own village.
            let feed_scope = group.last().map(|c| c.scope.0.clone()).unwrap_or_default();
            let new_scope = rec
                .text(SCOPE_FIELD)
                .map(str::to_string)
                .unwrap_or(feed_scope);
            let scope_changed = old_scope.as_deref() != Some(new_scope.as_str());
            if !changed && !scope_changed {
                continue;
            }
            rec.scope = new_scope;
            rec.child_id = rec.child_ref();
            save_record(&tx, &rec, None)?;
            if rec.table == "child" {
                if scope_changed && old_scope.is_some() {
                    tx.prepare_cached("UPDATE record SET scope = ?1 WHERE child_id = ?2")?
                        .execute(params![rec.scope, rec.row_id.to_string()])?;
                }
                touched_children.push(rec.row_id);
            } else if rec.table == "visit" {
                if let Some(c) = rec.child_id {
                    touched_children.push(c);
                }
            }
        }

        crate::roster::refresh_all(&tx, touched_children)?;
        let may_leave = changes
            .iter()
            .any(|c| c.field == SCOPE_FIELD || !state.scopes.contains(&c.scope.0));
        if !state.scopes.is_empty() && may_leave {
            report.children_left = evict_out_of_scope(&tx, &state.scopes)?;
            report.evicted_children = report.children_left.len();
        }

        // Later local stamps must order after everything seen. A far-future stamp (which
        // the server should never pass on) is not allowed to drag the clock along.
        let mut clock = crate::store::clock_of(&state);
        let _ = clock.observe(max_hlc, wall);
        tx.prepare_cached("UPDATE device SET hlc_last = ?1 WHERE id = 1")?
            .execute([clock.last().as_u64() as i64])?;
        if let Some(cursor) = next_cursor {
            tx.prepare_cached("UPDATE device SET pull_cursor = max(pull_cursor, ?1) WHERE id = 1")?
                .execute([cursor as i64])?;
        }
        tx.commit()?;
        Ok(report)
    }

    /// Applies one page from the server (changes + cursor), see [`Store::apply_changes`].
    ///
    /// The page also says which villages the account holds today. When that differs
    /// from what this device holds, the device follows the roster first, in one
    /// transaction: it holds the new list (and its names); the children of a village
    /// taken away leave the phone (except what is unsent or refused, as always); and if
    /// a village was added, the cursor goes back to 0 and this page is not applied,
    /// because that village's history lies before the cursor (`refetch_from_start`).
    pub fn apply_pull_page(&mut self, page: &sync_core::wire::PullResponse) -> Result<ApplyReport> {
        let mut evicted = Vec::new();
        let mut rescoped = false;
        if let Some(now) = page.scopes.as_ref().filter(|s| !s.is_empty()) {
            let mut now = now.clone();
            now.sort();
            now.dedup();
            let mut held = self.device_state()?.scopes;
            held.sort();
            if now != held {
                let added = now.iter().any(|v| !held.contains(v));
                let json =
                    serde_json::to_string(&now).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let tx = self.begin()?;
                tx.execute("UPDATE device SET scopes = ?1 WHERE id = 1", [&json])?;
                if !page.village_names.is_empty() {
                    tx.execute("DELETE FROM village_name", [])?;
                    for (code, name) in &page.village_names {
                        tx.execute(
                            "INSERT INTO village_name (code, name) VALUES (?1, ?2)",
                            params![code, name],
                        )?;
                    }
                }
                evicted = evict_out_of_scope(&tx, &now)?;
                if added {
                    tx.execute("UPDATE device SET pull_cursor = 0 WHERE id = 1", [])?;
                }
                tx.commit()?;
                if added {
                    return Ok(ApplyReport {
                        evicted_children: evicted.len(),
                        children_left: evicted,
                        refetch_from_start: true,
                        scopes_changed: true,
                        ..Default::default()
                    });
                }
                rescoped = true;
            }
        }
        let changes: Vec<Change> = page.changes.iter().map(|p| p.change.clone()).collect();
        let mut report = self.apply_changes(&changes, Some(page.next_cursor))?;
        report.evicted_children += evicted.len();
        report.children_left.splice(0..0, evicted);
        report.scopes_changed = rescoped;
        Ok(report)
    }
}

fn note_loser(
    tx: &Connection,
    rec: &StoredRecord,
    field: &str,
    loser: &FieldState,
    winner: &Change,
    at: &str,
) -> Result<()> {
    let w = FieldState {
        stamp: winner.stamp(),
        value: winner.value.clone(),
    };
    note_loser_against(tx, rec, field, loser, &w, at)
}

fn note_loser_against(
    tx: &Connection,
    rec: &StoredRecord,
    field: &str,
    loser: &FieldState,
    winner: &FieldState,
    at: &str,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT OR IGNORE INTO field_history (tbl, row_id, field, value, hlc, device_id, winner_hlc, winner_device, noted_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        rec.table,
        rec.row_id.to_string(),
        field,
        loser.value.to_string(),
        loser.stamp.hlc.as_u64() as i64,
        loser.stamp.device_id.to_string(),
        winner.stamp.hlc.as_u64() as i64,
        winner.stamp.device_id.to_string(),
        at
    ])?;
    Ok(())
}

/// Removes every row whose village is no longer one this device holds — a child who
/// moved away, with the whole file, is no longer the old director's to see. Rows with
/// unsent local changes stay until the server has them; rows the server refused stay
/// (with their child's file) until the director settles the refusal.
pub(crate) fn evict_out_of_scope(tx: &Connection, scopes: &[String]) -> Result<Vec<LeftChild>> {
    let scopes = serde_json::to_string(scopes).unwrap_or_else(|_| "[]".into());
    // Kept: rows with unsent changes (until the server has them), and rows a refusal
    // of the server names, with their child and its file, until the director settles
    // it — nothing the server refuses disappears from the director's view.
    const FOREIGN: &str = "scope NOT IN (SELECT value FROM json_each(?1))
        AND (tbl, row_id) NOT IN (SELECT tbl, row_id FROM outbox)
        AND (tbl, row_id) NOT IN
            (SELECT tbl, row_id FROM rejected_change WHERE settled_at IS NULL AND row_id IS NOT NULL)
        AND coalesce(CASE WHEN tbl = 'child' THEN row_id ELSE child_id END, '') NOT IN
            (SELECT child_id FROM rejected_change WHERE settled_at IS NULL AND child_id IS NOT NULL)";
    let mut left = Vec::new();
    {
        let mut q = tx.prepare(&format!(
            "SELECT row_id, json_extract(doc, '$.name'), scope FROM record WHERE tbl = 'child' AND {FOREIGN}"
        ))?;
        let mut rows = q.query([&scopes])?;
        while let Some(r) = rows.next()? {
            let id: String = r.get(0)?;
            left.push(LeftChild {
                child_id: Uuid::parse_str(&id).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                name: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                village: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
            });
        }
    }
    left.sort_by(|a, b| (&a.village, &a.name).cmp(&(&b.village, &b.name)));
    tx.execute(
        &format!("DELETE FROM record WHERE tbl = 'child' AND {FOREIGN}"),
        [&scopes],
    )?;
    tx.execute(&format!("DELETE FROM record WHERE {FOREIGN}"), [&scopes])?;
    tx.execute(
        "DELETE FROM roster_entry WHERE scope NOT IN (SELECT value FROM json_each(?1))
           AND NOT EXISTS (SELECT 1 FROM record r WHERE r.tbl = 'child' AND r.row_id = roster_entry.child_id)",
        [&scopes],
    )?;
    Ok(left)
}
