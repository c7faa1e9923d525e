//! The rules of ingest, once for every backend: what the server does with a pushed
//! batch of changes, given the server state the batch touches.
//!
//! A backend ingests a batch in one transaction in three steps:
//! 1. [`keys`] names the state the batch touches (op ids, rows, fields, villages, the
//!    children that rows name); the backend loads it into a [`Loaded`].
//! 2. [`plan`] validates every change and merges the accepted ones, purely in memory,
//!    change by change in `device_seq` order, so that a later change in the batch sees
//!    the earlier ones (a visit's fields see the visit row, a guardian sees its child).
//! 3. The backend writes the [`Plan`]: new change-log rows, field winners, row scopes,
//!    blob references, rejections, and the feed entries in order (assigning
//!    `server_seq`s in commit order; see the backends' docs).
//!
//! Validation per change: the device in the change is the token's device; `device_seq`
//! is positive; a re-push of a stored `op_id` is a no-op (different content:
//! `op_id_conflict`); the hlc is not too far ahead of the server clock (`clock_ahead`);
//! the schema in `domain` (table, field, value type, write-once: see below); scope: the writer may
//! write the change's village, and an existing row's change carries the row's current
//! village — except a move (`child.village_code` / `task.village_code` changed), for
//! which the writer must be allowed the row's current (old) village and the new village
//! must exist.
//!
//! Write-once: a row of an append-only table (a visit, a photo, a signed agreement
//! version, a signature) is created by ONE device write — the changes that carry the
//! stamp `(hlc, device_id)` of the first change the server accepted for the row (kept
//! as [`RowState::created`]). Those changes may arrive over several pushes (a device
//! write is split over batches); every one of them is accepted. Any other change of
//! the row may only write a field the schema allows after creation (`voided`);
//! anything else, including filling a field the creating write left empty, is refused
//! `write_once`.
//!
//! Server state: per field the winning version under sync-core's merge rule; per row its
//! current scope (for `child`/`task` their `village_code`; other rows follow the child
//! named by `child_id`) and the stamp of its creating write. A move that wins re-scopes
//! the child and every row naming it, and asks the backend to re-feed their winning
//! fields into the new village.

use crate::model::DeviceAuth;
use domain::schema::{table, SCOPE_FIELD};
use std::collections::{BTreeMap, HashMap, HashSet};
use sync_core::change::canonical_json;
use sync_core::wire::{codes, Heartbeat, Rejection};
use sync_core::{Change, FieldKey, Hlc, Stamp};
use uuid::Uuid;

/// A push batch as a backend ingests it.
#[derive(Clone, Debug)]
pub struct PushBatch {
    pub changes: Vec<Change>,
    pub heartbeat: Heartbeat,
    pub now_ms: u64,
    pub max_ahead_ms: u64,
}

/// The answer to a push ([`Plan::outcome`]).
#[derive(Clone, Debug, Default)]
pub struct PushOutcome {
    pub max_device_seq: u64,
    /// Changes stored now or already stored before (duplicates).
    pub accepted: u64,
    pub rejected: Vec<Rejection>,
}

/// Whether a `device_seq` can be held at all (stored, counted towards the device's
/// contiguous maximum): positive and within 63 bits.
pub fn holdable_seq(seq: u64) -> bool {
    seq >= 1 && seq <= i64::MAX as u64
}

/// A row's identity: table and row id.
pub type RowKey = (String, Uuid);

/// Fields whose value names a blob (content hash): they make the blob fetchable by
/// devices that hold the row.
pub const BLOB_FIELDS: &[(&str, &str)] = &[
    ("photo", "blob_sha256"),
    ("photo", "thumb_sha256"),
    ("signature", "image_sha256"),
    ("consent", "image_sha256"),
];

/// The field that ties a row to its child (and so to the child's village).
pub const CHILD_REF_FIELD: &str = "child_id";

/// A row's current server scope and, for rows that follow a child, that child.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowState {
    pub scope: String,
    pub child_id: Option<Uuid>,
    /// The stamp of the device write that created the row: the stamp of the first
    /// change the server accepted for it. Never changes once stored. `None` only for a
    /// row stored before creation stamps were kept that has no change in the log (the
    /// migration fills it from the log): every change of such a row counts as later.
    pub created: Option<Stamp>,
}

impl RowState {
    /// Whether a change stamped `stamp` belongs to the write that created this row.
    pub fn created_by(&self, stamp: Stamp) -> bool {
        self.created == Some(stamp)
    }
}

/// The winning version of one field.
#[derive(Clone, Debug, PartialEq)]
pub struct Winner {
    pub stamp: Stamp,
    /// Canonical JSON text of the value (as stored; compared as text on a stamp tie,
    /// exactly like sync-core's merge rule, so it is never parsed on ingest).
    pub value: String,
    pub op_id: Uuid,
}

/// A change as stored in the change log, for duplicate detection.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredOp {
    pub device_id: Uuid,
    pub device_seq: u64,
    pub table: String,
    pub row_id: Uuid,
    pub field: String,
    /// Canonical JSON text of the value.
    pub value: String,
    pub hlc: Hlc,
    pub scope: String,
}

impl StoredOp {
    /// Whether `c` (whose canonical value text is `value`) is this stored change.
    pub fn is(&self, c: &Change, value: &str) -> bool {
        self.device_id == c.device_id
            && self.device_seq == c.device_seq
            && self.table == c.table
            && self.row_id == c.row_id
            && self.field == c.field
            && self.value == value
            && self.hlc == c.hlc
            && self.scope == c.scope.0
    }

    pub fn of(c: &Change) -> StoredOp {
        StoredOp {
            device_id: c.device_id,
            device_seq: c.device_seq,
            table: c.table.clone(),
            row_id: c.row_id,
            field: c.field.clone(),
            value: canonical_json(&c.value),
            hlc: c.hlc,
            scope: c.scope.0.clone(),
        }
    }
}

/// The state keys a batch touches.
#[derive(Clone, Debug, Default)]
pub struct Keys {
    pub op_ids: Vec<Uuid>,
    /// The batch's rows plus the `child` rows named by `child_id` values.
    pub rows: Vec<RowKey>,
    pub fields: Vec<FieldKey>,
    /// Villages named by `village_code` values.
    pub villages: Vec<String>,
}

/// The canonical JSON text of every change's value, by index (computed once per batch;
/// backends may compute it before they enter their critical section).
pub fn canonical_values(changes: &[Change]) -> Vec<String> {
    changes.iter().map(|c| canonical_json(&c.value)).collect()
}

/// Names the state a batch touches (deduplicated).
pub fn keys(changes: &[Change]) -> Keys {
    let mut ops = HashSet::new();
    let mut rows = HashSet::new();
    let mut fields = HashSet::new();
    let mut villages = HashSet::new();
    for c in changes {
        ops.insert(c.op_id);
        rows.insert((c.table.clone(), c.row_id));
        fields.insert(c.key());
        if c.field == CHILD_REF_FIELD {
            if let Some(id) = c.value.as_str().and_then(|s| Uuid::parse_str(s).ok()) {
                rows.insert(("child".to_string(), id));
            }
        }
        if c.field == SCOPE_FIELD {
            if let Some(v) = c.value.as_str() {
                villages.insert(v.to_string());
            }
        }
    }
    Keys {
        op_ids: ops.into_iter().collect(),
        rows: rows.into_iter().collect(),
        fields: fields.into_iter().collect(),
        villages: villages.into_iter().collect(),
    }
}

/// The server state for a batch's [`Keys`], as loaded by a backend.
#[derive(Clone, Debug, Default)]
pub struct Loaded {
    /// Stored changes by op id (absent: never accepted).
    pub ops: HashMap<Uuid, StoredOp>,
    pub rows: HashMap<RowKey, RowState>,
    pub fields: HashMap<FieldKey, Winner>,
    /// Which of the named villages exist.
    pub villages: HashSet<String>,
}

/// One feed instruction, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum FeedItem {
    /// The change `op_id` becomes visible to devices of `scope`.
    Entry { scope: String, op_id: Uuid },
    /// A row moved to `scope`: re-scope it (and, for a child, every row naming it) and
    /// feed every current winning field of those rows into `scope`.
    Refeed { row: RowKey, scope: String },
}

/// A refused change: its index in the batch, a stable code and a sentence.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedRejection {
    pub index: usize,
    pub code: &'static str,
    pub message: String,
}

/// What a backend must write for a batch.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// Indexes of changes to add to the change log.
    pub accepted: Vec<usize>,
    /// Changes already stored (re-pushes).
    pub duplicates: u64,
    pub rejections: Vec<PlannedRejection>,
    /// New field winners.
    pub fields: HashMap<FieldKey, Winner>,
    /// New or changed row states.
    pub rows: HashMap<RowKey, RowState>,
    /// Blob hash → row naming it.
    pub blob_refs: Vec<(String, RowKey)>,
    pub feed: Vec<FeedItem>,
    /// `device_seq`s this batch makes held (accepted, duplicate or recorded rejection).
    pub held_seqs: Vec<u64>,
}

impl Plan {
    /// The rejections the server keeps (held, so the device may drop them from its
    /// outbox and they show as rejected): all but `clock_ahead` (the device re-stamps
    /// and sends again) and those whose `device_seq` cannot be held. Of several
    /// rejections of one op_id in the batch the last wins. Sorted by op_id.
    pub fn held_rejections(&self, changes: &[Change]) -> Vec<&PlannedRejection> {
        let mut by_op: BTreeMap<Uuid, &PlannedRejection> = BTreeMap::new();
        for r in &self.rejections {
            let c = &changes[r.index];
            if r.code != codes::CLOCK_AHEAD && holdable_seq(c.device_seq) {
                by_op.insert(c.op_id, r);
            }
        }
        by_op.into_values().collect()
    }

    /// The answer to the push, once the backend advanced the device's contiguous held
    /// maximum to `max_device_seq` ([`advance_contiguous`]).
    pub fn outcome(&self, changes: &[Change], max_device_seq: u64) -> PushOutcome {
        PushOutcome {
            max_device_seq,
            accepted: self.accepted.len() as u64 + self.duplicates,
            rejected: self
                .rejections
                .iter()
                .map(|r| Rejection {
                    op_id: changes[r.index].op_id,
                    device_seq: changes[r.index].device_seq,
                    code: r.code.to_string(),
                    message: r.message.clone(),
                })
                .collect(),
        }
    }

    /// Whether the feed holds a re-feed (a move), whose seqs depend on stored rows.
    pub fn has_refeed(&self) -> bool {
        self.feed
            .iter()
            .any(|f| matches!(f, FeedItem::Refeed { .. }))
    }
}

/// Whether a table's rows carry their own village (`child`, `task`) rather than
/// following their child.
pub fn has_own_scope(table_name: &str) -> bool {
    table(table_name).is_some_and(|t| t.field(SCOPE_FIELD).is_some())
}

/// Validates and merges a batch against `loaded`. Pure.
pub fn plan(
    device: &DeviceAuth,
    changes: &[Change],
    loaded: Loaded,
    now_ms: u64,
    max_ahead_ms: u64,
) -> Plan {
    let values = canonical_values(changes);
    plan_with_values(device, changes, &values, loaded, now_ms, max_ahead_ms)
}

/// [`plan`] with the changes' canonical value texts already computed
/// ([`canonical_values`]).
pub fn plan_with_values(
    device: &DeviceAuth,
    changes: &[Change],
    values: &[String],
    mut loaded: Loaded,
    now_ms: u64,
    max_ahead_ms: u64,
) -> Plan {
    assert_eq!(
        changes.len(),
        values.len(),
        "one canonical value per change"
    );
    let mut plan = Plan::default();
    // Changes stored earlier in this batch, by op id (index into `changes`).
    let mut batch_ops: HashMap<Uuid, usize> = HashMap::new();
    for (index, c) in changes.iter().enumerate() {
        let value = values[index].as_str();
        let step = ingest_one(
            device,
            c,
            value,
            changes,
            values,
            &mut batch_ops,
            &mut loaded,
            &mut plan,
            now_ms,
            max_ahead_ms,
        );
        if matches!(step, Ok(Ingested::Stored)) {
            batch_ops.insert(c.op_id, index);
        }
        match step {
            Ok(Ingested::Stored) => {
                plan.accepted.push(index);
                plan.held_seqs.push(c.device_seq);
            }
            Ok(Ingested::Duplicate) => {
                plan.duplicates += 1;
                plan.held_seqs.push(c.device_seq);
            }
            Err((code, message)) if code == codes::CLOCK_AHEAD => {
                // Not held: the device corrects its clock, re-stamps this and every
                // later change (same op_ids) and sends them again, so nothing after
                // it in the batch is stored either.
                plan.rejections.push(PlannedRejection {
                    index,
                    code,
                    message,
                });
                break;
            }
            Err((code, message)) => {
                if holdable_seq(c.device_seq) {
                    plan.held_seqs.push(c.device_seq);
                }
                plan.rejections.push(PlannedRejection {
                    index,
                    code,
                    message,
                });
            }
        }
    }
    plan
}

enum Ingested {
    Stored,
    Duplicate,
}

type Refusal = (&'static str, String);

#[allow(clippy::too_many_arguments)]
fn ingest_one(
    device: &DeviceAuth,
    c: &Change,
    value: &str,
    changes: &[Change],
    values: &[String],
    batch_ops: &mut HashMap<Uuid, usize>,
    loaded: &mut Loaded,
    plan: &mut Plan,
    now_ms: u64,
    max_ahead_ms: u64,
) -> Result<Ingested, Refusal> {
    if c.device_id != device.device_id {
        return Err((
            codes::WRONG_DEVICE,
            "the change names another device than the one pushing it".into(),
        ));
    }
    if !holdable_seq(c.device_seq) {
        return Err((
            codes::BAD_DEVICE_SEQ,
            "device_seq must be a positive 63-bit number".into(),
        ));
    }
    if let Some(&earlier) = batch_ops.get(&c.op_id) {
        let e = &changes[earlier];
        let same = e.device_id == c.device_id
            && e.device_seq == c.device_seq
            && e.table == c.table
            && e.row_id == c.row_id
            && e.field == c.field
            && values[earlier] == value
            && e.hlc == c.hlc
            && e.scope == c.scope;
        return if same {
            Ok(Ingested::Duplicate)
        } else {
            Err((
                codes::OP_ID_CONFLICT,
                "this op_id is already stored with different content".into(),
            ))
        };
    }
    if let Some(stored) = loaded.ops.get(&c.op_id) {
        return if stored.is(c, value) {
            Ok(Ingested::Duplicate)
        } else {
            Err((
                codes::OP_ID_CONFLICT,
                "this op_id is already stored with different content".into(),
            ))
        };
    }
    if let Err(e) = sync_core::hlc::check_not_too_far_ahead(c.hlc, now_ms, max_ahead_ms) {
        return Err((codes::CLOCK_AHEAD, e.to_string()));
    }
    let key = c.key();
    let current = loaded.fields.get(&key);
    let row_key: RowKey = (c.table.clone(), c.row_id);
    let existing = loaded.rows.get(&row_key).cloned();
    // Write-once (see the module doc): after the row's creating write, only fields the
    // schema allows after creation. A field already written with another stamp counts
    // too (rows from before creation stamps were kept).
    let after_creation = existing.as_ref().is_some_and(|r| !r.created_by(c.stamp()))
        || current.is_some_and(|w| w.stamp != c.stamp());
    domain::schema::validate_change(c, after_creation).map_err(|e| (e.code(), e.to_string()))?;
    if BLOB_FIELDS.contains(&(c.table.as_str(), c.field.as_str()))
        && !c.value.as_str().is_some_and(sync_core::wire::is_blob_name)
    {
        return Err((
            codes::BAD_VALUE,
            format!("{}.{}: expected a lowercase hex SHA-256", c.table, c.field),
        ));
    }

    // Scope.
    let own = has_own_scope(&c.table);
    let scope = c.scope.as_str();
    let is_scope_field = own && c.field == SCOPE_FIELD;
    let is_move = is_scope_field && existing.as_ref().is_some_and(|r| r.scope != scope);
    if is_move {
        let old = &existing.as_ref().expect("move of an existing row").scope;
        if !device.can_write(old) {
            return Err((
                codes::OUT_OF_SCOPE,
                format!("this device may not write village {old}"),
            ));
        }
    } else {
        if !device.can_write(scope) {
            return Err((
                codes::OUT_OF_SCOPE,
                format!("this device may not write village {scope}"),
            ));
        }
        if let Some(r) = &existing {
            if r.scope != scope {
                return Err(if device.can_write(&r.scope) {
                    (
                        codes::SCOPE_MISMATCH,
                        format!("this record now belongs to village {}", r.scope),
                    )
                } else {
                    (
                        codes::OUT_OF_SCOPE,
                        "this record now belongs to a village this device may not write".into(),
                    )
                });
            }
        }
    }
    if is_scope_field {
        if c.value.as_str() != Some(scope) {
            return Err((
                codes::SCOPE_MISMATCH,
                "a village_code change must carry the new village as its scope".into(),
            ));
        }
        if !loaded.villages.contains(scope) {
            return Err((
                codes::UNKNOWN_VILLAGE,
                format!("village {scope} does not exist"),
            ));
        }
    }
    let mut named_child = None;
    if !own && c.field == CHILD_REF_FIELD {
        let child = c.value.as_str().and_then(|s| Uuid::parse_str(s).ok());
        named_child = child;
        if let Some(child_row) = child.and_then(|id| loaded.rows.get(&("child".to_string(), id))) {
            if child_row.scope != scope {
                return Err((
                    codes::SCOPE_MISMATCH,
                    "the child this record names belongs to another village".into(),
                ));
            }
        }
    }

    // Merge: sync-core's rule (larger stamp wins; on a tie the larger canonical JSON
    // text), on the stored canonical text.
    let wins = match current {
        None => true,
        Some(w) => {
            c.stamp()
                .cmp(&w.stamp)
                .then_with(|| value.cmp(w.value.as_str()))
                == std::cmp::Ordering::Greater
        }
    };
    let mut row = existing.clone().unwrap_or(RowState {
        scope: scope.to_string(),
        child_id: None,
        created: Some(c.stamp()),
    });
    let mut row_changed = existing.is_none();
    if wins {
        let winner = Winner {
            stamp: c.stamp(),
            value: value.to_string(),
            op_id: c.op_id,
        };
        loaded.fields.insert(key.clone(), winner.clone());
        plan.fields.insert(key, winner);
        if BLOB_FIELDS.contains(&(c.table.as_str(), c.field.as_str())) {
            if let Some(h) = c.value.as_str() {
                plan.blob_refs.push((h.to_string(), row_key.clone()));
            }
        }
        if named_child.is_some() && row.child_id != named_child {
            row.child_id = named_child;
            row_changed = true;
        }
    }
    if is_move && wins {
        let old = std::mem::replace(&mut row.scope, scope.to_string());
        row_changed = true;
        plan.feed.push(FeedItem::Entry {
            scope: old,
            op_id: c.op_id,
        });
        plan.feed.push(FeedItem::Refeed {
            row: row_key.clone(),
            scope: scope.to_string(),
        });
        if c.table == "child" {
            // Rows of this child already loaded follow it now (the backend's refeed
            // re-scopes the ones not loaded).
            for (k, r) in loaded.rows.iter_mut() {
                if r.child_id == Some(c.row_id) && !has_own_scope(&k.0) {
                    r.scope = scope.to_string();
                    plan.rows.insert(k.clone(), r.clone());
                }
            }
        }
    } else {
        plan.feed.push(FeedItem::Entry {
            scope: row.scope.clone(),
            op_id: c.op_id,
        });
    }
    if row_changed {
        loaded.rows.insert(row_key.clone(), row.clone());
        plan.rows.insert(row_key, row);
    }
    Ok(Ingested::Stored)
}

/// The highest contiguous held `device_seq`: starts from `held_before` and advances
/// through `held` (any order, duplicates allowed).
pub fn advance_contiguous(held_before: u64, held: impl IntoIterator<Item = u64>) -> u64 {
    let mut seqs: Vec<u64> = held.into_iter().filter(|s| *s > held_before).collect();
    seqs.sort_unstable();
    seqs.dedup();
    let mut max = held_before;
    for s in seqs {
        if s == max + 1 {
            max = s;
        } else {
            break;
        }
    }
    max
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn contiguous_seq_stops_at_a_gap() {
        assert_eq!(advance_contiguous(0, [1, 2, 3, 5]), 3);
        assert_eq!(advance_contiguous(3, [5, 4, 4]), 5);
        assert_eq!(advance_contiguous(7, [1, 2]), 7);
    }
}
