//! The ingest of one push, orchestrated once for every backend: what is loaded when,
//! how the device's parked changes join the batch, what is planned, and what is
//! written. A backend provides a transaction with four primitives ([`IngestTx`]) and
//! runs [`run`] inside it; it decides nothing.
//!
//! The path is async because PostgreSQL's primitives are round trips. SQLite's are
//! plain calls on the single writer's connection, inside its group commit: their
//! futures are ready at once, and [`run_now`] drives the same [`run`] there without a
//! runtime — so the embedded default keeps its one writer thread and its group commit
//! (BENCHMARKS.md: the ingest path did not slow down on SQLite).

use super::{
    canonical_values, could_apply, keys, plan_with_values, repushed_op_ids, stored_bytes,
    stored_heartbeat, FeedItem, Keys, Loaded, RowKey, RowState, StoredRejection, Winner,
};
use crate::error::StoreError;
use crate::ingest::{PushBatch, PushOutcome};
use crate::model::DeviceAuth;
use futures_util::FutureExt;
use std::collections::{HashMap, HashSet};
use sync_core::{Change, FieldKey};
use uuid::Uuid;

/// What a push needs that does not depend on stored state: computed before the
/// backend's critical section (the single writer, the feed lock).
#[derive(Clone, Debug)]
pub struct Prepared {
    pub keys: Keys,
    /// Canonical JSON text of every change's value, by index.
    pub values: Vec<String>,
    /// The heartbeat as stored (bounded).
    pub heartbeat: String,
}

/// Prepares a batch ([`Prepared`]).
pub fn prepare(batch: &PushBatch) -> Prepared {
    Prepared {
        keys: keys(&batch.changes),
        values: canonical_values(&batch.changes),
        heartbeat: stored_heartbeat(&batch.heartbeat),
    }
}

/// A refused change as kept with its refusal (see [`super::kept_change`]).
#[derive(Clone, Debug)]
pub struct KeptRejection<'a> {
    pub op_id: Uuid,
    pub device_seq: u64,
    pub code: &'a str,
    pub message: &'a str,
    /// The bounded record of the change ([`super::kept_change`]).
    pub change: String,
}

/// A change parked behind a gap, as stored.
#[derive(Clone, Debug)]
pub struct ParkedRow {
    pub device_seq: u64,
    pub op_id: Uuid,
    /// The change as JSON (bounded: see [`super::could_apply`], [`super::MAX_PARKED_BYTES`]).
    pub change: String,
}

/// Everything a backend writes for one push, decided by [`run`]. Written in one
/// transaction, in this order: the change log, field winners, row states, blob
/// references, kept refusals, the feed (in order, assigning `server_seq`s), parked
/// changes, the device row.
#[derive(Debug)]
pub struct Writes<'a> {
    pub device: &'a DeviceAuth,
    pub now_ms: i64,
    /// Changes added to the change log, with their canonical value text, in
    /// `device_seq` order.
    pub changes: Vec<(&'a Change, &'a str)>,
    /// Field winners of fields that had none: plain inserts.
    pub new_fields: Vec<(&'a FieldKey, &'a Winner)>,
    /// Field winners replacing a stored one.
    pub stored_fields: Vec<(&'a FieldKey, &'a Winner)>,
    /// Rows stored for the first time (with their creation stamp, written once).
    pub new_rows: Vec<(&'a RowKey, &'a RowState)>,
    /// Stored rows whose scope or child changed.
    pub stored_rows: Vec<(&'a RowKey, &'a RowState)>,
    /// Blob hash → a row naming it (kept once).
    pub blob_refs: &'a [(String, RowKey)],
    /// Refusals kept (replacing an earlier one of the same op id).
    pub rejections: Vec<KeptRejection<'a>>,
    /// Feed items in order.
    pub feed: &'a [FeedItem],
    /// Changes to park (replacing a parked one of the same `device_seq`).
    pub park: Vec<ParkedRow>,
    /// Parked changes taken now: delete them.
    pub unpark: &'a [u64],
    /// Forget the seqs older servers held above the maximum up to this one.
    pub clear_held_ahead_to: Option<u64>,
    /// The device row: its contiguous maximum, last seen, heartbeat, and the maximum
    /// before this push (what the heartbeat's counts were taken at).
    pub max_device_seq: u64,
    pub max_device_seq_before: u64,
    pub heartbeat: &'a str,
}

impl Writes<'_> {
    /// Whether the feed holds a re-feed (a move), whose seqs depend on stored rows.
    pub fn has_refeed(&self) -> bool {
        self.feed
            .iter()
            .any(|f| matches!(f, FeedItem::Refeed { .. }))
    }
}

/// The state a push starts from: what [`IngestTx::begin`] loads.
#[derive(Debug, Default)]
pub struct Started {
    /// The state the batch's keys name, with the device's `max_device_seq` and
    /// `held_ahead`.
    pub loaded: Loaded,
    /// The device's changes parked behind a gap, in `device_seq` order.
    pub parked: Vec<Change>,
}

/// A backend's write transaction, as ingest uses it. Every method runs inside the one
/// transaction of the push. (Native async methods: [`run`] is generic over the
/// transaction, so PostgreSQL's future is `Send` and SQLite's — which borrows a
/// connection of its writer thread — need not be.)
#[allow(async_fn_in_trait)]
pub trait IngestTx {
    /// Takes the feed's order (the backend's guarantee that `server_seq`s become
    /// visible in order: SQLite's single writer, PostgreSQL's counter-row lock) and
    /// loads the device's sequence state and parked changes and the state `keys` name.
    async fn begin(&mut self, device_id: Uuid, keys: &Keys) -> Result<Started, StoreError>;
    /// Loads the state `keys` name (ops, rows, field winners of stored rows, villages).
    async fn load(&mut self, keys: &Keys) -> Result<Loaded, StoreError>;
    /// The kept refusals of `op_ids` of the device.
    async fn rejections(
        &mut self,
        device_id: Uuid,
        op_ids: &[Uuid],
    ) -> Result<HashMap<Uuid, StoredRejection>, StoreError>;
    /// Writes what the push decided.
    async fn write(&mut self, writes: &Writes<'_>) -> Result<(), StoreError>;
}

/// Ingests one push inside `tx`: loads, joins the parked changes, plans
/// ([`plan_with_values`]: every rule), writes, and answers.
pub async fn run<T: IngestTx>(
    tx: &mut T,
    device: &DeviceAuth,
    batch: &PushBatch,
    prepared: &Prepared,
) -> Result<PushOutcome, StoreError> {
    let Started { mut loaded, parked } = tx.begin(device.device_id, &prepared.keys).await?;
    // Parked changes (rare: only after a gap) join the batch, with the state they touch.
    let all: Vec<Change>;
    let all_values: Vec<String>;
    let (changes, values): (&[Change], &[String]) = if parked.is_empty() {
        (&batch.changes, &prepared.values)
    } else {
        let more = tx.load(&keys(&parked)).await?;
        loaded.ops.extend(more.ops);
        loaded.rows.extend(more.rows);
        loaded.fields.extend(more.fields);
        loaded.villages.extend(more.villages);
        all_values = prepared
            .values
            .iter()
            .cloned()
            .chain(canonical_values(&parked))
            .collect();
        all = batch.changes.iter().cloned().chain(parked).collect();
        (&all, &all_values)
    };
    let max_before = loaded.max_device_seq;
    let had_ahead = !loaded.held_ahead.is_empty();
    let repushed = repushed_op_ids(&batch.changes, &loaded.ops, max_before, &loaded.held_ahead);
    if !repushed.is_empty() {
        loaded.rejections = tx.rejections(device.device_id, &repushed).await?;
    }
    let had_fields: HashSet<FieldKey> = loaded.fields.keys().cloned().collect();
    let had_rows: HashSet<RowKey> = loaded.rows.keys().cloned().collect();
    let plan = plan_with_values(
        device,
        changes,
        values,
        batch.changes.len(),
        loaded,
        batch.now_ms,
        batch.max_ahead_ms,
    );
    let (new_fields, stored_fields): (Vec<_>, Vec<_>) = plan
        .fields
        .iter()
        .partition(|(k, _)| !had_fields.contains(*k));
    let (new_rows, stored_rows): (Vec<_>, Vec<_>) =
        plan.rows.iter().partition(|(k, _)| !had_rows.contains(*k));
    let writes = Writes {
        device,
        now_ms: batch.now_ms as i64,
        changes: plan
            .accepted
            .iter()
            .map(|&i| (&changes[i], values[i].as_str()))
            .collect(),
        new_fields,
        stored_fields,
        new_rows,
        stored_rows,
        blob_refs: &plan.blob_refs,
        rejections: plan
            .held_rejections(changes)
            .into_iter()
            .map(|r| KeptRejection {
                op_id: changes[r.index].op_id,
                device_seq: changes[r.index].device_seq,
                code: r.code,
                message: &r.message,
                change: super::kept_change(&changes[r.index], &values[r.index]),
            })
            .collect(),
        feed: &plan.feed,
        park: plan
            .park
            .iter()
            .map(|&i| ParkedRow {
                device_seq: changes[i].device_seq,
                op_id: changes[i].op_id,
                change: serde_json::to_string(&changes[i]).unwrap_or_default(),
            })
            .collect(),
        unpark: &plan.unpark,
        clear_held_ahead_to: (had_ahead && plan.max_device_seq > max_before)
            .then_some(plan.max_device_seq),
        max_device_seq: plan.max_device_seq,
        max_device_seq_before: max_before,
        heartbeat: &prepared.heartbeat,
    };
    tx.write(&writes).await?;
    crate::metrics::ingested(plan.accepted.len(), plan.rejections.iter().map(|r| r.code));
    Ok(plan.outcome(changes))
}

/// Drives `work` — [`run`] or [`quarantine`] over a transaction whose primitives never
/// wait (SQLite's, on its writer thread) — to its end on the calling thread.
pub fn run_now<T>(
    work: impl std::future::Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    work.now_or_never().unwrap_or_else(|| {
        Err(StoreError::Invalid(
            "a synchronous ingest transaction waited".into(),
        ))
    })
}

/// Most changes of a lost phone kept in quarantine for a person to review.
pub const MAX_QUARANTINED_CHANGES: u64 = 5000;
/// Most bytes of a lost phone's quarantined changes, counted as [`stored_bytes`].
pub const MAX_QUARANTINED_BYTES: u64 = 4 * 1024 * 1024;

/// A quarantined change as stored.
#[derive(Clone, Debug)]
pub struct QuarantinedRow {
    pub op_id: Uuid,
    pub device_seq: u64,
    /// The change as JSON.
    pub change: String,
    /// Its [`stored_bytes`].
    pub bytes: u64,
}

/// A backend's write transaction for a lost phone's quarantine.
#[allow(async_fn_in_trait)]
pub trait QuarantineTx {
    /// How many changes (and [`stored_bytes`]) the device has in quarantine, and which of
    /// `op_ids` are among them; from here to the end of the transaction no other
    /// quarantine write of this device runs.
    async fn held(
        &mut self,
        device_id: Uuid,
        op_ids: &[Uuid],
    ) -> Result<(u64, u64, HashSet<Uuid>), StoreError>;
    /// Adds changes to the device's quarantine.
    async fn add(
        &mut self,
        device_id: Uuid,
        rows: &[QuarantinedRow],
        now_ms: i64,
    ) -> Result<(), StoreError>;
}

/// Sets aside what a revoked phone handed over, within the bounds: changes that could
/// ever be applied ([`could_apply`]), not kept already, while the device's quarantine
/// holds at most [`MAX_QUARANTINED_CHANGES`] and [`MAX_QUARANTINED_BYTES`]. Returns how
/// many the device has there.
pub async fn quarantine<T: QuarantineTx>(
    tx: &mut T,
    device_id: Uuid,
    changes: &[Change],
    now_ms: i64,
) -> Result<u64, StoreError> {
    let ops: Vec<Uuid> = changes.iter().map(|c| c.op_id).collect();
    let (mut count, mut bytes, mut known) = tx.held(device_id, &ops).await?;
    let mut rows = Vec::new();
    for c in changes {
        if c.device_id != device_id || known.contains(&c.op_id) || !could_apply(c) {
            continue;
        }
        let value = sync_core::change::canonical_json(&c.value);
        let size = stored_bytes(c, &value) as u64;
        if count + 1 > MAX_QUARANTINED_CHANGES || bytes + size > MAX_QUARANTINED_BYTES {
            continue;
        }
        known.insert(c.op_id);
        count += 1;
        bytes += size;
        rows.push(QuarantinedRow {
            op_id: c.op_id,
            device_seq: c.device_seq.min(i64::MAX as u64),
            change: serde_json::to_string(c).unwrap_or_default(),
            bytes: size,
        });
    }
    if !rows.is_empty() {
        tx.add(device_id, &rows, now_ms).await?;
    }
    Ok(count)
}
