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
//! Sequence (the dense rule, decided once here for every backend, see
//! [`plan_with_values`]): a device's changes are applied in `device_seq` order only. A
//! change after a gap is parked — kept, neither applied nor fed to other devices, not
//! counted in the `max_device_seq` answered — until the missing changes arrive; a seq
//! already held by another op_id is refused `device_seq_reused`; a re-push of a stored
//! `op_id` is a no-op (different content: `op_id_conflict`), of a refused one the same
//! refusal, so exactly-once holds under any retry.
//!
//! Validation per change: the device in the change is the token's device; `device_seq`
//! is positive; the hlc is not too far ahead of the server clock (`clock_ahead`);
//! the schema in `domain` (table, field, value type, write-once: see below); a field the
//! schema marks server-only (a task's finding, the county's decision) only from the
//! server's own replica (`server_only`); scope: the writer may
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

mod run;

pub use run::{
    prepare, quarantine, run, run_now, IngestTx, KeptRejection, ParkedRow, Prepared, QuarantineTx,
    QuarantinedRow, Started, Writes, MAX_QUARANTINED_BYTES, MAX_QUARANTINED_CHANGES,
};

use crate::model::{DeviceAuth, Role};
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

/// Most bytes of a refused change's value kept with its refusal as it is; a longer
/// value is kept as its first [`KEPT_VALUE_PREFIX_CHARS`] characters, its size and its
/// SHA-256 (a device must not be able to store megabytes per refusal).
pub const KEPT_VALUE_BYTES: usize = 2048;
/// Characters of an oversized refused value kept.
pub const KEPT_VALUE_PREFIX_CHARS: usize = 256;
/// Characters of a refused change's table, field and scope names kept.
pub const KEPT_NAME_CHARS: usize = 64;
/// Most characters of a refusal's sentence (answered and kept): a sentence may quote
/// what the device sent (a village code), never at its full length.
pub const MAX_MESSAGE_CHARS: usize = 300;

fn cut(text: &str, chars: usize) -> String {
    text.chars().take(chars).collect()
}

/// The record of a refused change the server keeps (`rejections.change`): the change
/// as JSON with its names cut to [`KEPT_NAME_CHARS`] and an oversized value replaced by
/// `value_prefix`, `value_bytes` and `value_sha256` (see [`KEPT_VALUE_BYTES`]). At most
/// a few KB whatever was pushed.
pub fn kept_change(c: &Change, value: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut kept = serde_json::json!({
        "op_id": c.op_id,
        "device_id": c.device_id,
        "device_seq": c.device_seq,
        "table": cut(&c.table, KEPT_NAME_CHARS),
        "row_id": c.row_id,
        "field": cut(&c.field, KEPT_NAME_CHARS),
        "hlc": c.hlc,
        "scope": cut(c.scope.as_str(), KEPT_NAME_CHARS),
    });
    if value.len() <= KEPT_VALUE_BYTES {
        kept["value"] = c.value.clone();
    } else {
        kept["value_prefix"] = cut(value, KEPT_VALUE_PREFIX_CHARS).into();
        kept["value_bytes"] = value.len().into();
        kept["value_sha256"] = hex::encode(Sha256::digest(value.as_bytes())).into();
    }
    kept.to_string()
}

/// Most characters of a heartbeat's `app_version` (and of the device name and app
/// version given at enrollment) the server keeps.
pub const MAX_APP_VERSION_CHARS: usize = 32;

/// A heartbeat bounded for storage: `app_version` cut to [`MAX_APP_VERSION_CHARS`],
/// `unsent_visit_children` to [`sync_core::wire::MAX_UNSENT_VISIT_CHILDREN`] distinct
/// ids. Numbers are fixed-size already. Every field of [`Heartbeat`] is bounded here,
/// so what a device stores per heartbeat has a ceiling.
pub fn bounded_heartbeat(hb: &Heartbeat) -> Heartbeat {
    let mut seen = HashSet::new();
    let Heartbeat {
        pending_changes,
        oldest_pending_secs,
        pending_blobs,
        app_version,
        device_clock_ms,
        free_storage_bytes,
        unsent_visit_children,
    } = hb;
    Heartbeat {
        pending_changes: *pending_changes,
        oldest_pending_secs: *oldest_pending_secs,
        pending_blobs: *pending_blobs,
        app_version: cut(app_version, MAX_APP_VERSION_CHARS),
        device_clock_ms: *device_clock_ms,
        free_storage_bytes: *free_storage_bytes,
        unsent_visit_children: unsent_visit_children
            .iter()
            .filter(|id| seen.insert(**id))
            .take(sync_core::wire::MAX_UNSENT_VISIT_CHILDREN)
            .copied()
            .collect(),
    }
}

/// The heartbeat as the server stores it (JSON of [`bounded_heartbeat`]).
pub fn stored_heartbeat(hb: &Heartbeat) -> String {
    serde_json::to_string(&bounded_heartbeat(hb)).unwrap_or_default()
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

/// A held rejection as stored, for answering a re-push of the same op_id the same way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRejection {
    pub device_seq: u64,
    pub code: String,
    pub message: String,
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
    /// The device's highest contiguous held `device_seq`.
    pub max_device_seq: u64,
    /// Seqs above `max_device_seq` that servers before the dense rule applied beyond a
    /// gap (`held_ahead`): held, by an op this plan does not know.
    pub held_ahead: HashSet<u64>,
    /// Held rejections of op ids of the batch that re-push a held seq
    /// ([`repushed_op_ids`]); a backend may leave it empty when there are none.
    pub rejections: HashMap<Uuid, StoredRejection>,
}

/// The op ids of a batch whose `device_seq` is already held (at or below
/// `max_device_seq`, or in `held_ahead`) and that are not in the change log: re-pushes
/// of a refused change (or reuses of the seq). A backend loads their stored
/// rejections ([`Loaded::rejections`]) — normally there are none, so nothing is read.
pub fn repushed_op_ids(
    changes: &[Change],
    loaded_ops: &HashMap<Uuid, StoredOp>,
    max_device_seq: u64,
    held_ahead: &HashSet<u64>,
) -> Vec<Uuid> {
    let mut out: Vec<Uuid> = changes
        .iter()
        .filter(|c| c.device_seq <= max_device_seq || held_ahead.contains(&c.device_seq))
        .filter(|c| !loaded_ops.contains_key(&c.op_id))
        .map(|c| c.op_id)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Most changes a device may have parked behind a gap; beyond it a change after a gap
/// is not kept at all (the device sends it again with the missing ones).
pub const MAX_PARKED_CHANGES: usize = 5000;
/// Most bytes a device may have parked behind a gap, counted as [`stored_bytes`]:
/// every stored piece (names, scope, value, ids), not only values.
pub const MAX_PARKED_BYTES: usize = 4 * 1024 * 1024;

/// What one stored change (parked, or quarantined) costs in bytes, whatever it holds:
/// its value's canonical text, its table, field and scope names, and a fixed allowance
/// for the ids, stamp and JSON keys around them. An upper bound of the stored JSON.
pub fn stored_bytes(c: &Change, value: &str) -> usize {
    /// The three UUIDs, the stamp, the seq and the JSON keys and quotes of a stored
    /// change (about 230 bytes), rounded up.
    const FIXED: usize = 256;
    // JSON may escape a character of a name as \uXXXX: six bytes each at worst.
    FIXED + value.len() + 6 * (c.table.len() + c.field.len() + c.scope.as_str().len())
}

/// Whether a change could ever be applied, judged without server state: a table and a
/// field of the schema, a value of the field's type, a scope no longer than a village
/// code. A change that cannot is not kept while it waits (behind a gap, or in a lost
/// phone's quarantine): when its turn comes it is sent again and refused then, in
/// sequence. So whatever a device sends, what waits is bounded by the schema.
pub fn could_apply(c: &Change) -> bool {
    c.scope.as_str().chars().count() <= crate::model::MAX_CODE_CHARS
        && table(&c.table).is_some_and(|t| t.validate_field(&c.field, &c.value, false).is_ok())
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
    /// Whether the refusal holds the change's `device_seq` and is recorded (it was
    /// refused in sequence). Refusals of changes that claim no seq — a bad or reused
    /// seq, a conflicting op id, another device's change, a far-ahead clock, the answer
    /// repeated for a re-pushed refused change — are not recorded again.
    pub held: bool,
}

/// What a backend must write for a batch.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// Indexes of changes to add to the change log, in `device_seq` order.
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
    /// The device's highest contiguous held `device_seq` after this batch.
    pub max_device_seq: u64,
    /// Indexes of batch changes to park behind a gap (stored by `(device, seq)`,
    /// replacing a parked change of the same op id re-stamped by the device).
    pub park: Vec<usize>,
    /// Seqs of parked changes taken now (applied or refused in sequence): delete them.
    pub unpark: Vec<u64>,
}

impl Plan {
    /// The rejections the server keeps: those made in sequence ([`PlannedRejection::held`]),
    /// so the device may drop the change from its outbox and shows it as refused. Sorted
    /// by op_id.
    pub fn held_rejections(&self, changes: &[Change]) -> Vec<&PlannedRejection> {
        let mut by_op: BTreeMap<Uuid, &PlannedRejection> = BTreeMap::new();
        for r in &self.rejections {
            if r.held {
                by_op.insert(changes[r.index].op_id, r);
            }
        }
        by_op.into_values().collect()
    }

    /// The answer to the push.
    pub fn outcome(&self, changes: &[Change]) -> PushOutcome {
        PushOutcome {
            max_device_seq: self.max_device_seq,
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

    fn refuse(&mut self, index: usize, (code, message): Refusal, held: bool) {
        let message = if message.chars().count() > MAX_MESSAGE_CHARS {
            cut(&message, MAX_MESSAGE_CHARS)
        } else {
            message
        };
        self.rejections.push(PlannedRejection {
            index,
            code,
            message,
            held,
        });
    }
}

/// Whether a table's rows carry their own village (`child`, `task`) rather than
/// following their child.
pub fn has_own_scope(table_name: &str) -> bool {
    table(table_name).is_some_and(|t| t.field(SCOPE_FIELD).is_some())
}

/// Validates and merges a batch against `loaded` (no parked changes). Pure.
pub fn plan(
    device: &DeviceAuth,
    changes: &[Change],
    loaded: Loaded,
    now_ms: u64,
    max_ahead_ms: u64,
) -> Plan {
    let values = canonical_values(changes);
    plan_with_values(
        device,
        changes,
        &values,
        changes.len(),
        loaded,
        now_ms,
        max_ahead_ms,
    )
}

/// Who holds a `device_seq` above the device's contiguous maximum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Claim {
    /// A change of this plan's input (the batch, or a parked change).
    Change(usize),
    /// Held by a server before the dense rule (already applied).
    Legacy,
}

/// [`plan`] with the changes' canonical value texts already computed
/// ([`canonical_values`]). `changes[..parked_from]` is the pushed batch;
/// `changes[parked_from..]` are the device's changes parked behind a gap by earlier
/// pushes (loaded by the backend, with their values).
///
/// The dense rule, decided here once: a device's changes are applied in `device_seq`
/// order only. First every pushed change is received (in batch order): a bad seq, a
/// conflicting op id or another device's change is refused without holding anything;
/// a re-push of a stored change is a duplicate, of a refused one the same refusal; a
/// far-ahead clock stops the batch (not held); a seq held already by another op id is
/// refused `device_seq_reused`; anything else claims its seq. Then the claims are
/// applied (validated, merged, fed) from `max_device_seq + 1` upwards while they are
/// contiguous; each refusal there is held. What is left above a gap is parked: kept,
/// not applied, not fed, not counted in `max_device_seq`, until the missing changes
/// arrive (within [`MAX_PARKED_CHANGES`] and [`MAX_PARKED_BYTES`]; beyond, a change is
/// not kept and the device sends it again).
pub fn plan_with_values(
    device: &DeviceAuth,
    changes: &[Change],
    values: &[String],
    parked_from: usize,
    mut loaded: Loaded,
    now_ms: u64,
    max_ahead_ms: u64,
) -> Plan {
    assert_eq!(
        changes.len(),
        values.len(),
        "one canonical value per change"
    );
    assert!(parked_from <= changes.len());
    let max = loaded.max_device_seq;
    let mut plan = Plan {
        max_device_seq: max,
        ..Plan::default()
    };
    let mut claims: HashMap<u64, Claim> = HashMap::new();
    let mut parked_ops: HashMap<Uuid, usize> = HashMap::new();
    let mut parked_bytes = 0usize;
    for (i, c) in changes.iter().enumerate().skip(parked_from) {
        if c.device_seq > max && holdable_seq(c.device_seq) {
            claims.insert(c.device_seq, Claim::Change(i));
            parked_ops.insert(c.op_id, i);
            parked_bytes += stored_bytes(c, &values[i]);
        } else {
            // Stale (its seq is held by now): drop it.
            plan.unpark.push(c.device_seq);
        }
    }
    for s in &loaded.held_ahead {
        if *s > max {
            claims.insert(*s, Claim::Legacy);
        }
    }
    let parked_before = parked_ops.len();
    // Op ids received in this batch (claiming a seq, or replacing a parked change).
    let mut batch_ops: HashMap<Uuid, usize> = HashMap::new();
    let same = |a: usize, b: usize| -> bool {
        let (x, y) = (&changes[a], &changes[b]);
        x.device_id == y.device_id
            && x.device_seq == y.device_seq
            && x.table == y.table
            && x.row_id == y.row_id
            && x.field == y.field
            && values[a] == values[b]
            && x.hlc == y.hlc
            && x.scope == y.scope
    };
    let conflict = || -> Refusal {
        (
            codes::OP_ID_CONFLICT,
            "this op_id is already stored with different content".into(),
        )
    };

    // 1. Receive.
    for (index, c) in changes[..parked_from].iter().enumerate() {
        let value = values[index].as_str();
        if c.device_id != device.device_id {
            plan.refuse(
                index,
                (
                    codes::WRONG_DEVICE,
                    "the change names another device than the one pushing it".into(),
                ),
                false,
            );
            continue;
        }
        if !holdable_seq(c.device_seq) {
            plan.refuse(
                index,
                (
                    codes::BAD_DEVICE_SEQ,
                    "device_seq must be a positive 63-bit number".into(),
                ),
                false,
            );
            continue;
        }
        if let Some(stored) = loaded.ops.get(&c.op_id) {
            if stored.is(c, value) {
                plan.duplicates += 1;
            } else {
                plan.refuse(index, conflict(), false);
            }
            continue;
        }
        if let Some(r) = loaded.rejections.get(&c.op_id) {
            if r.device_seq == c.device_seq {
                // Refused before, in sequence: the same answer, nothing recorded again.
                let code = codes::known(&r.code).unwrap_or(codes::OP_ID_CONFLICT);
                plan.refuse(index, (code, r.message.clone()), false);
            } else {
                plan.refuse(index, conflict(), false);
            }
            continue;
        }
        if let Some(&earlier) = batch_ops.get(&c.op_id) {
            if same(earlier, index) {
                plan.duplicates += 1;
            } else {
                plan.refuse(index, conflict(), false);
            }
            continue;
        }
        let replaces = match parked_ops.get(&c.op_id) {
            Some(&p) if same(p, index) => {
                // Parked already, unchanged: nothing to do until the gap fills.
                continue;
            }
            Some(&p) if changes[p].device_seq == c.device_seq => true,
            Some(_) => {
                plan.refuse(index, conflict(), false);
                continue;
            }
            None => false,
        };
        if let Err(e) = sync_core::hlc::check_not_too_far_ahead(c.hlc, now_ms, max_ahead_ms) {
            // Not held: the device corrects its clock, re-stamps this and every later
            // change (same op_ids) and sends them again, so nothing after it in the
            // batch is read either.
            plan.refuse(index, (codes::CLOCK_AHEAD, e.to_string()), false);
            break;
        }
        if !replaces && (c.device_seq <= max || claims.contains_key(&c.device_seq)) {
            plan.refuse(
                index,
                (
                    codes::DEVICE_SEQ_REUSED,
                    format!(
                        "device_seq {} is already held with another op_id",
                        c.device_seq
                    ),
                ),
                false,
            );
            continue;
        }
        // A parked change re-pushed re-stamped (same op id, same seq) replaces it.
        claims.insert(c.device_seq, Claim::Change(index));
        batch_ops.insert(c.op_id, index);
    }

    // 2. Apply the claims in sequence while they are contiguous.
    let mut next = max + 1;
    while let Some(claim) = claims.remove(&next) {
        if let Claim::Change(index) = claim {
            if index >= parked_from {
                plan.unpark.push(next);
            } else if parked_ops.contains_key(&changes[index].op_id) {
                // The re-stamped copy of a parked change: the parked row goes.
                plan.unpark.push(next);
            }
            let c = &changes[index];
            match apply_one(device, c, values[index].as_str(), &mut loaded, &mut plan) {
                Ok(()) => plan.accepted.push(index),
                Err(refusal) => plan.refuse(index, refusal, true),
            }
        }
        plan.max_device_seq = next;
        if next == i64::MAX as u64 {
            break;
        }
        next += 1;
    }

    // 3. Park what waits behind the gap, within the bounds.
    let mut left: Vec<(u64, usize)> = claims
        .into_iter()
        .filter_map(|(seq, c)| match c {
            Claim::Change(i) if i < parked_from => Some((seq, i)),
            _ => None,
        })
        .collect();
    left.sort_unstable();
    let mut count = parked_before;
    for (_, index) in left {
        if !could_apply(&changes[index]) {
            // Refused when its turn comes (the device sends it again): never kept.
            continue;
        }
        let replaced = parked_ops.get(&changes[index].op_id).copied();
        let new_count = count + usize::from(replaced.is_none());
        let new_bytes = parked_bytes
            - replaced.map_or(0, |p| stored_bytes(&changes[p], &values[p]))
            + stored_bytes(&changes[index], &values[index]);
        if new_count > MAX_PARKED_CHANGES || new_bytes > MAX_PARKED_BYTES {
            continue;
        }
        count = new_count;
        parked_bytes = new_bytes;
        plan.park.push(index);
    }
    plan
}

type Refusal = (&'static str, String);

/// Validates and merges one change taken in sequence: schema, write-once, scope, the
/// merge rule and its feed entries.
fn apply_one(
    device: &DeviceAuth,
    c: &Change,
    value: &str,
    loaded: &mut Loaded,
    plan: &mut Plan,
) -> Result<(), Refusal> {
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
    if domain::schema::server_only(&c.table, &c.field) && device.role != Role::Server {
        // A task's finding, the county's decision: only the server's own replica writes
        // them, so a phone cannot forge a confirmation.
        return Err((
            codes::SERVER_ONLY,
            domain::schema::server_only_refusal(&c.table, &c.field).en,
        ));
    }
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
    let moved_from = existing
        .as_ref()
        .filter(|r| is_scope_field && r.scope != scope)
        .map(|r| &r.scope);
    let is_move = moved_from.is_some();
    if let Some(old) = moved_from {
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
                format!(
                    "this device may not write village {}",
                    cut(scope, KEPT_NAME_CHARS)
                ),
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
                format!("village {} does not exist", cut(scope, KEPT_NAME_CHARS)),
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Principal, Role};
    use serde_json::json;
    use sync_core::Scope;

    fn device() -> DeviceAuth {
        DeviceAuth {
            device_id: Uuid::from_u128(1),
            revoked: false,
            principal: Principal::new(1, Role::Director, vec!["A".into()]),
        }
    }

    const NOW: u64 = 1_760_000_000_000;

    fn change(seq: u64, field: &str, value: serde_json::Value) -> Change {
        Change {
            op_id: Uuid::now_v7(),
            device_id: Uuid::from_u128(1),
            device_seq: seq,
            table: "child".into(),
            row_id: Uuid::from_u128(7),
            field: field.into(),
            value,
            hlc: Hlc::new(NOW - 1000, seq as u16),
            scope: Scope::new("A"),
        }
    }

    fn run(changes: &[Change], parked: &[Change], loaded: Loaded) -> Plan {
        let all: Vec<Change> = changes.iter().chain(parked).cloned().collect();
        let values = canonical_values(&all);
        plan_with_values(
            &device(),
            &all,
            &values,
            changes.len(),
            loaded,
            NOW,
            600_000,
        )
    }

    fn seqs(all: &[Change], idx: &[usize]) -> Vec<u64> {
        idx.iter().map(|&i| all[i].device_seq).collect()
    }

    #[test]
    fn a_change_after_a_gap_is_parked_not_applied_until_the_gap_fills() {
        let c1 = change(1, "name", json!("甲"));
        let c3 = change(3, "sex", json!("male"));
        let p = run(&[c1.clone(), c3.clone()], &[], Loaded::default());
        assert_eq!(p.max_device_seq, 1);
        assert_eq!(seqs(&[c1.clone(), c3.clone()], &p.accepted), vec![1]);
        assert_eq!(p.park, vec![1], "seq 3 waits");
        assert!(
            p.feed
                .iter()
                .all(|f| !matches!(f, FeedItem::Entry { op_id, .. } if *op_id == c3.op_id)),
            "nothing after the gap is fed"
        );
        // Seq 2 arrives; the parked 3 is applied with it, in order.
        let c2 = change(2, "status", json!("active"));
        let loaded = Loaded {
            max_device_seq: 1,
            ..Loaded::default()
        };
        let p = run(std::slice::from_ref(&c2), std::slice::from_ref(&c3), loaded);
        let all = [c2.clone(), c3.clone()];
        assert_eq!(seqs(&all, &p.accepted), vec![2, 3]);
        assert_eq!((p.max_device_seq, p.unpark.clone()), (3, vec![3]));
        assert!(p.park.is_empty());
    }

    #[test]
    fn a_held_seq_reused_with_a_new_op_id_is_refused_and_not_held() {
        let c1 = change(1, "name", json!("甲"));
        let loaded = Loaded {
            max_device_seq: 1,
            ..Loaded::default()
        };
        let reuse = change(1, "name", json!("乙"));
        let p = run(std::slice::from_ref(&reuse), &[], loaded);
        assert!(p.accepted.is_empty());
        assert_eq!(p.rejections[0].code, codes::DEVICE_SEQ_REUSED);
        assert!(!p.rejections[0].held);
        // A parked seq is held too.
        let parked = change(5, "name", json!("丙"));
        let loaded = Loaded {
            max_device_seq: 1,
            ..Loaded::default()
        };
        let p = run(&[change(5, "sex", json!("male"))], &[parked], loaded);
        assert_eq!(p.rejections[0].code, codes::DEVICE_SEQ_REUSED);
        assert!(p.park.is_empty());
        // Two op ids with one seq in one batch: the first claims it.
        let (a, b) = (
            change(1, "name", json!("甲")),
            change(1, "sex", json!("male")),
        );
        let p = run(&[a, b], &[], Loaded::default());
        assert_eq!((p.accepted.clone(), p.max_device_seq), (vec![0], 1));
        assert_eq!(p.rejections[0].code, codes::DEVICE_SEQ_REUSED);
        let _ = c1;
    }

    #[test]
    fn retries_stay_exactly_once_with_parked_and_refused_changes() {
        let c2 = change(2, "name", json!("甲"));
        let c3 = change(3, "sex", json!("unknown"));
        // The same gap pushed twice: parked once, then nothing to do. (c3 could never
        // be applied — "unknown" is no sex code — so it is not kept while it waits.)
        let p = run(&[c2.clone(), c3.clone()], &[], Loaded::default());
        assert_eq!((p.park.clone(), p.max_device_seq), (vec![0], 0));
        let p = run(
            &[c2.clone(), c3.clone()],
            std::slice::from_ref(&c2),
            Loaded::default(),
        );
        assert!(p.park.is_empty() && p.accepted.is_empty() && p.rejections.is_empty());
        // A refused change pushed again gets the same refusal, recorded once.
        let loaded = Loaded {
            max_device_seq: 3,
            rejections: HashMap::from([(
                c3.op_id,
                StoredRejection {
                    device_seq: 3,
                    code: "bad_value".into(),
                    message: "child.sex".into(),
                },
            )]),
            ..Loaded::default()
        };
        let p = run(std::slice::from_ref(&c3), &[], loaded);
        assert_eq!(p.rejections[0].code, "bad_value");
        assert!(!p.rejections[0].held, "not recorded again");
        assert_eq!(p.max_device_seq, 3);
    }

    #[test]
    fn a_parked_change_re_stamped_by_the_device_replaces_it() {
        let parked = change(2, "name", json!("甲"));
        let mut again = parked.clone();
        again.hlc = Hlc::new(NOW - 10, 0);
        let p = run(
            std::slice::from_ref(&again),
            std::slice::from_ref(&parked),
            Loaded::default(),
        );
        assert_eq!(p.park, vec![0]);
        assert!(p.rejections.is_empty());
        // With another seq it is a conflict.
        let mut other = parked.clone();
        other.device_seq = 9;
        let p = run(&[other], &[parked], Loaded::default());
        assert_eq!(p.rejections[0].code, codes::OP_ID_CONFLICT);
    }

    #[test]
    fn only_the_server_s_replica_writes_a_task_s_finding_or_a_county_decision() {
        let task = Uuid::from_u128(9);
        let on = |seq: u64, table: &str, row: Uuid, field: &str, value: serde_json::Value| Change {
            table: table.into(),
            row_id: row,
            ..change(seq, field, value)
        };
        let server = DeviceAuth {
            device_id: Uuid::from_u128(1),
            revoked: false,
            principal: Principal::server_replica(2, vec!["A".into()]),
        };
        let create = [
            on(1, "task", task, "kind", json!("check_listed_minor")),
            on(2, "task", task, "village_code", json!("A")),
            on(3, "task", task, "title", json!("核查")),
            on(
                4,
                "task",
                task,
                "details",
                json!({"source": "active_discovery"}),
            ),
            on(5, "task", task, "due_on", json!("2026-06-30")),
        ];
        let values = canonical_values(&create);
        let loaded = Loaded {
            villages: HashSet::from(["A".to_string()]),
            ..Loaded::default()
        };
        let p = plan_with_values(&server, &create, &values, 5, loaded.clone(), NOW, 600_000);
        assert_eq!(p.accepted.len(), 5, "{:?}", p.rejections);

        // A director's phone: the same fields are refused, its closing is taken.
        let forged = [
            on(
                1,
                "task",
                task,
                "details",
                json!({"source": "active_discovery"}),
            ),
            on(
                2,
                "county_decision",
                Uuid::from_u128(10),
                "confirmed",
                json!({"kind": "addition"}),
            ),
            on(3, "task", task, "done_on", json!("2026-05-20")),
            on(4, "task", task, "outcome", json!("not_eligible")),
        ];
        let p = run(&forged, &[], loaded);
        let refused: Vec<(usize, &str, bool)> = p
            .rejections
            .iter()
            .map(|r| (r.index, r.code, r.held))
            .collect();
        assert_eq!(
            refused,
            vec![(0, codes::SERVER_ONLY, true), (1, codes::SERVER_ONLY, true)]
        );
        assert_eq!(p.accepted, vec![2, 3]);
        assert!(
            p.rejections[0].message.contains("county office"),
            "{}",
            p.rejections[0].message
        );
    }

    #[test]
    fn parking_is_bounded_in_changes_and_in_bytes_of_every_stored_piece() {
        // Notes of 2,000 three-byte characters (the schema's most): about 6 KB each.
        let note = "备".repeat(2000);
        let changes: Vec<Change> = (2..2000).map(|s| change(s, "notes", json!(note))).collect();
        let p = run(&changes, &[], Loaded::default());
        let values = canonical_values(&changes);
        let bytes: usize = p
            .park
            .iter()
            .map(|&i| stored_bytes(&changes[i], &values[i]))
            .sum();
        assert!(
            !p.park.is_empty() && p.park.len() < changes.len(),
            "{}",
            p.park.len()
        );
        assert!(bytes <= MAX_PARKED_BYTES, "{bytes}");
        assert!(bytes + stored_bytes(&changes[0], &values[0]) > MAX_PARKED_BYTES);
        // Megabytes in a name, the field, the scope or a value: never kept at all.
        let huge = "名".repeat(1_000_000);
        let mut table = change(2, "name", json!("甲"));
        table.table = huge.clone();
        let mut field = change(3, "name", json!("甲"));
        field.field = huge.clone();
        let mut scope = change(4, "name", json!("甲"));
        scope.scope = Scope::new(&huge);
        let value = change(5, "name", json!(huge));
        let fine = change(6, "name", json!("甲"));
        let p = run(&[table, field, scope, value, fine], &[], Loaded::default());
        assert_eq!(
            p.park,
            vec![4],
            "only the change that could be applied waits"
        );
    }

    #[test]
    fn an_oversized_refused_value_is_kept_as_prefix_size_and_hash() {
        let huge = "备注".repeat(400_000);
        let mut c = change(1, "notes", json!(huge));
        c.table = "t".repeat(100_000);
        let value = canonical_json(&c.value);
        let kept = kept_change(&c, &value);
        assert!(kept.len() < 4096, "{}", kept.len());
        let v: serde_json::Value = serde_json::from_str(&kept).unwrap();
        assert_eq!(v["value_bytes"], json!(value.len()));
        assert_eq!(
            v["table"].as_str().unwrap().chars().count(),
            KEPT_NAME_CHARS
        );
        assert_eq!(v["value_sha256"].as_str().unwrap().len(), 64);
        let small = change(1, "name", json!("甲"));
        let v: serde_json::Value =
            serde_json::from_str(&kept_change(&small, &canonical_json(&small.value))).unwrap();
        assert_eq!(v["value"], json!("甲"));
    }

    #[test]
    fn every_heartbeat_field_is_bounded() {
        let hb = Heartbeat {
            app_version: "9".repeat(1_000_000),
            unsent_visit_children: (0..100_000u128).map(Uuid::from_u128).collect(),
            ..Heartbeat::default()
        };
        let b = bounded_heartbeat(&hb);
        assert_eq!(b.app_version.chars().count(), MAX_APP_VERSION_CHARS);
        assert_eq!(
            b.unsent_visit_children.len(),
            sync_core::wire::MAX_UNSENT_VISIT_CHILDREN
        );
        assert!(stored_heartbeat(&hb).len() < 200_000);
    }
}
