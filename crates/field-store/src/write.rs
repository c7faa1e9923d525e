//! Local writes with change capture: the row, its field clocks and its outbox entry in
//! one transaction, with `device_seq` minted there, once.
//!
//! This is the only path by which the device changes synced data. Everything a
//! director does — add a child, record a visit, sign an agreement — ends up here after
//! the domain has validated it (see `fieldwork.rs`).

use crate::error::{Result, StoreError};
use crate::record::{load_record, save_record, StoredRecord};
use crate::store::{clock_of, read_device, Store};
use domain::schema::{self, SCOPE_FIELD};
use domain::DomainError;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{Map, Value};
use sync_core::Stamp;
use uuid::Uuid;

/// One write to one row: a new row (`row_id` `None`, or an id minted by the caller) or
/// changes to some fields of an existing row.
#[derive(Clone, Debug)]
pub struct RowWrite {
    pub table: String,
    pub row_id: Option<Uuid>,
    pub fields: Map<String, Value>,
}

impl RowWrite {
    pub fn new(table: &str, row_id: Option<Uuid>, fields: Map<String, Value>) -> RowWrite {
        RowWrite {
            table: table.to_string(),
            row_id,
            fields,
        }
    }
}

/// A blob written together with the rows that name it.
#[derive(Clone, Copy, Debug)]
pub struct NewBlob<'a> {
    pub sha256: &'a str,
    pub kind: crate::blobs::BlobKind,
    pub bytes: &'a [u8],
}

/// What a write produced.
#[derive(Clone, Debug, PartialEq)]
pub struct WriteOutcome {
    pub row_id: Uuid,
    /// Fields actually changed (a field set to its current value is not a change).
    pub changed: usize,
    pub first_seq: Option<u64>,
}

/// A check the caller runs inside the write transaction, on the row as it will be
/// after the write (domain rules, references to other rows).
pub type RecordCheck<'a> =
    &'a dyn Fn(&Connection, &StoredRecord, Option<&StoredRecord>) -> Result<()>;

impl Store {
    /// Writes one row in one transaction. See [`Store::write_rows`].
    pub(crate) fn write_row(
        &mut self,
        w: RowWrite,
        check: RecordCheck<'_>,
    ) -> Result<WriteOutcome> {
        Ok(self.write_rows(vec![w], check)?.remove(0))
    }

    /// Writes several rows (a visit and its photos, an agreement version and its
    /// signatures) in ONE transaction: all of them or none.
    pub(crate) fn write_rows(
        &mut self,
        writes: Vec<RowWrite>,
        check: RecordCheck<'_>,
    ) -> Result<Vec<WriteOutcome>> {
        self.write_rows_with_blobs(writes, &[], check)
    }

    /// Writes rows and the blobs they name (photos, signature images) in ONE
    /// transaction, so a record never names a blob the device does not hold.
    pub(crate) fn write_rows_with_blobs(
        &mut self,
        writes: Vec<RowWrite>,
        blobs: &[NewBlob<'_>],
        check: RecordCheck<'_>,
    ) -> Result<Vec<WriteOutcome>> {
        self.write_rows_finishing(writes, blobs, check, &|_| Ok(()))
    }

    /// [`Store::write_rows_with_blobs`], running `finish` inside the same transaction
    /// before it commits (device-local bookkeeping that must happen exactly when the
    /// rows are written, such as dropping the draft of the form just saved).
    pub(crate) fn write_rows_finishing(
        &mut self,
        writes: Vec<RowWrite>,
        blobs: &[NewBlob<'_>],
        check: RecordCheck<'_>,
        finish: &dyn Fn(&Connection) -> Result<()>,
    ) -> Result<Vec<WriteOutcome>> {
        let (device_clock, skew) = (self.clock.clone(), self.clock_skew_ms);
        let tx = self.begin()?;
        let mut state = read_device(&tx)?;
        // Corrected physical time (anchor or offset applied), for the stamp and for
        // "oldest pending".
        let wall = Store::now_ms_of(&*device_clock, skew, &state);
        let mut clock = clock_of(&state);
        let mut outcomes = Vec::with_capacity(writes.len());
        let mut touched_children = Vec::new();
        for w in writes {
            let outcome = write_one(
                &tx,
                &mut state.next_seq,
                &mut clock,
                wall,
                (state.device_id, &state.scopes),
                w,
                check,
                &mut touched_children,
            )?;
            outcomes.push(outcome);
        }
        for b in blobs {
            let at = chrono::DateTime::from_timestamp_millis(wall as i64)
                .unwrap_or_default()
                .to_rfc3339();
            crate::blobs::put_blob(&tx, b.sha256, b.kind, b.bytes, &at)?;
        }
        // No device-row update: the outbox rows just written carry the next
        // device_seq and the clock (see store::read_device).
        crate::roster::refresh_all(&tx, touched_children)?;
        finish(&tx)?;
        tx.commit()?;
        Ok(outcomes)
    }
}

#[allow(clippy::too_many_arguments)]
fn write_one(
    tx: &Connection,
    next_seq: &mut u64,
    clock: &mut sync_core::HlcClock,
    wall: u64,
    (device_id, held): (Uuid, &[String]),
    w: RowWrite,
    check: RecordCheck<'_>,
    touched_children: &mut Vec<Uuid>,
) -> Result<WriteOutcome> {
    let spec = schema::table(&w.table)
        .ok_or_else(|| DomainError::from(sync_core::SchemaError::UnknownTable(w.table.clone())))?;
    let row_id = w.row_id.unwrap_or_else(Uuid::now_v7);
    let existing = load_record(tx, &w.table, row_id)?;
    if w.row_id.is_some()
        && existing.is_none()
        && required_fields(spec).any(|f| !w.fields.contains_key(f))
    {
        // An edit of a row this device does not hold.
        return Err(StoreError::NotFound {
            what: spec.name,
            id: row_id.to_string(),
        });
    }
    let mut rec = existing
        .clone()
        .unwrap_or_else(|| StoredRecord::new(spec.name, row_id));
    let hlc = clock.now(wall);
    let stamp = Stamp { hlc, device_id };
    // The fields this write changes, in order (their values are in `rec.doc`).
    let mut changed: Vec<String> = Vec::new();
    for (field, mut value) in w.fields {
        // What people type (full-width digits, spaces, `2015/1/1`, …) in the form the
        // rules check and the server stores.
        domain::normalize::normalize_in(spec, &field, &mut value);
        if rec.doc.get(&field) == Some(&value) {
            continue;
        }
        if spec.field(&field).is_some_and(|f| f.server_only) {
            // A task's finding, the county's decision: the server would refuse it;
            // say so now, while nothing is written.
            return Err(schema::server_only_refusal(spec.name, &field).into());
        }
        spec.validate_field(&field, &value, existing.is_some())
            .map_err(DomainError::from)?;
        rec.clocks.insert(field.clone(), stamp);
        changed.push(field.clone());
        rec.doc.insert(field, value);
    }
    if existing.is_none() {
        if let Some(missing) = required_fields(spec).find(|f| !rec.doc.contains_key(*f)) {
            return Err(DomainError::new(
                "missing_field",
                format!("请填写“{}”", domain::labels::field_label_zh(missing)),
                format!("{}.{missing} is required", spec.name),
            )
            .on_field(missing)
            .into());
        }
    }
    if changed.is_empty() {
        return Ok(WriteOutcome {
            row_id,
            changed: 0,
            first_seq: None,
        });
    }
    rec.child_id = rec.child_ref();
    rec.scope = scope_of_local_row(tx, &rec)?;
    check_village_held(held, &rec, existing.as_ref())?;
    if spec.name == "child" {
        check_one_file(tx, &rec, existing.as_ref())?;
    }
    check(tx, &rec, existing.as_ref())?;
    save_record(tx, &rec, Some(*next_seq))?;
    if spec.name == "child" {
        if let Some(old) = &existing {
            if old.scope != rec.scope {
                // The child moved village: the whole file moves with it.
                tx.prepare_cached("UPDATE record SET scope = ?1 WHERE child_id = ?2")?
                    .execute(params![rec.scope, row_id.to_string()])?;
            }
        }
        touched_children.push(row_id);
    } else if let Some(c) = rec.child_id {
        if spec.name == "visit" {
            touched_children.push(c);
        }
    }
    let first_seq = *next_seq;
    let base = op_id_base();
    // [[field, value], …]: the op_ids are base + index and the stamp is the row's one
    // `hlc` column, so neither is repeated per change.
    let ops: Vec<(&str, &Value)> = changed
        .iter()
        .map(|f| (f.as_str(), rec.doc.get(f).unwrap_or(&Value::Null)))
        .collect();
    let n = ops.len() as u64;
    let ops = serde_json::to_string(&ops).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    tx.prepare_cached(
        "INSERT INTO outbox (first_seq, n, tbl, row_id, scope, changes, written_at, hlc, op_base)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        first_seq as i64,
        n as i64,
        spec.name,
        row_id.to_string(),
        rec.scope,
        ops,
        wall as i64,
        hlc.as_u64() as i64,
        &Uuid::from_u128(base).as_bytes()[..]
    ])?;
    *next_seq += n;
    Ok(WriteOutcome {
        row_id,
        changed: changed.len(),
        first_seq: Some(first_seq),
    })
}

/// The op_ids of one write are consecutive UUIDv7s: one fresh UUIDv7 with its lowest
/// 16 bits cleared, plus the change's index. They stay unique (58 random bits remain
/// per write) and cost one clock read and one random draw per write, not per field.
fn op_id_base() -> u128 {
    Uuid::now_v7().as_u128() & !0xFFFF
}

/// Fields a new row must have: not nullable, and not the tombstone / void markers.
fn required_fields(spec: &'static sync_core::TableSpec) -> impl Iterator<Item = &'static str> {
    spec.fields
        .iter()
        .filter(|f| {
            !f.nullable && f.name != schema::TOMBSTONE_FIELD && f.name != schema::VOID_FIELD
        })
        .map(|f| f.name)
}

/// A record for a village this device does not hold would be refused by the server at
/// the next sync and then leave the device: refuse it now, while the director can
/// still correct it. Allowed: a row of a held village, and a row that leaves a held
/// village (a child moving away is recorded by the old village's director). A device
/// not enrolled yet holds no villages and has nothing to compare against: it writes
/// what it is given, and whatever the server then refuses stays visible on it.
fn check_village_held(
    held: &[String],
    rec: &StoredRecord,
    existing: Option<&StoredRecord>,
) -> Result<()> {
    let holds = |v: &str| held.iter().any(|h| h == v);
    if held.is_empty() || holds(&rec.scope) || existing.is_some_and(|e| holds(&e.scope)) {
        return Ok(());
    }
    Err(domain::village_not_held(&rec.scope, held).into())
}

/// 一人一档: a child's ID number may have one file on this device. Refuses a new file,
/// or an edit, that gives a number another file already has (deleted files do not
/// count; exited ones do). A file whose number does not change is never blocked, even
/// if the server brought a duplicate from elsewhere (the server flags those).
fn check_one_file(
    tx: &Connection,
    rec: &StoredRecord,
    existing: Option<&StoredRecord>,
) -> Result<()> {
    let Some(id) = rec.text("id_number").filter(|s| !s.is_empty()) else {
        return Ok(());
    };
    if rec.is_deleted() {
        return Ok(());
    }
    let unchanged = existing.is_some_and(|e| !e.is_deleted() && e.text("id_number") == Some(id));
    if unchanged {
        return Ok(());
    }
    match crate::child_file::find_child_by_id_number(tx, id, Some(rec.row_id))? {
        Some(other) => {
            Err(domain::duplicate_id_number(&other.name, &other.village, id, other.exited).into())
        }
        None => Ok(()),
    }
}

/// The scope (village) of a row written on this device: a child's or task's own
/// `village_code`, otherwise the village of the child it names, which must exist here.
fn scope_of_local_row(conn: &Connection, rec: &StoredRecord) -> Result<String> {
    if let Some(v) = rec.text(SCOPE_FIELD) {
        return Ok(v.to_string());
    }
    let child_id = rec
        .child_id
        .ok_or_else(|| StoreError::Corrupt(format!("{} row without child", rec.table)))?;
    let scope = conn
        .prepare_cached("SELECT scope FROM record WHERE tbl = 'child' AND row_id = ?1")?
        .query_row([child_id.to_string()], |r| r.get::<_, String>(0))
        .optional()?;
    scope.ok_or_else(|| {
        StoreError::Domain(
            DomainError::new(
                "child_not_found",
                "找不到这名儿童的档案，请先登记儿童",
                format!("child {child_id} is not on this device"),
            )
            .on_field("child_id"),
        )
    })
}
