//! The outbox: local changes waiting for the server, in `device_seq` order, and what
//! happens to them when the server answers. A change leaves the outbox only when the
//! server says it holds it; a change the server refused moves to `rejected_change`
//! with the reason, where the director (and status) can see it.

use crate::error::{Result, StoreError};
use crate::store::Store;
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use sync_core::wire::PushResponse;
use sync_core::{Change, Hlc, Scope};
use uuid::Uuid;

/// One change as an outbox row written before migration 0003 stored it (each with its
/// own op_id and stamp). Rows written since store `[[field, value], …]` with the write's
/// first op_id in `op_base` and its stamp in `hlc` (see `write.rs`).
#[derive(Deserialize, Serialize)]
struct OutboxOp {
    op_id: Uuid,
    field: String,
    value: serde_json::Value,
    hlc: Hlc,
}

/// The changes of one outbox row, whichever way it was stored.
fn decode_ops(changes: &str, op_base: Option<&[u8]>, hlc: i64) -> Result<Vec<OutboxOp>> {
    let corrupt = |e: &dyn std::fmt::Display| StoreError::Corrupt(format!("outbox: {e}"));
    match op_base {
        None => serde_json::from_str(changes).map_err(|e| corrupt(&e)),
        Some(base) => {
            let base = Uuid::from_slice(base).map_err(|e| corrupt(&e))?.as_u128();
            let pairs: Vec<(String, serde_json::Value)> =
                serde_json::from_str(changes).map_err(|e| corrupt(&e))?;
            Ok(pairs
                .into_iter()
                .enumerate()
                .map(|(i, (field, value))| OutboxOp {
                    op_id: Uuid::from_u128(base + i as u128),
                    field,
                    value,
                    hlc: Hlc::from_u64(hlc as u64),
                })
                .collect())
        }
    }
}

/// A change the server refused, as shown on the device: kept, with what it means in
/// plain Chinese and what to do, until the director acknowledges it or a later change
/// to the same field is accepted (then it is settled, and kept for the record).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RejectedChange {
    pub change: Change,
    /// The server's stable code (see [`domain::rejection::explain`]).
    pub code: String,
    /// The server's own sentence (English), for support.
    pub message: String,
    pub rejected_at: String,
    /// What happened, in Chinese, naming the record and field (“儿童档案的“所在村居”：…”).
    pub reason_zh: String,
    /// What the director should do, in Chinese.
    pub what_to_do_zh: String,
    /// What happened, in English.
    pub reason_en: String,
    /// What to do, in English.
    pub what_to_do_en: String,
    /// The child whose file the refused change belongs to (when known).
    pub child_id: Option<Uuid>,
    /// Settled: acknowledged by the director, or fixed by a later accepted change.
    pub acknowledged: bool,
    /// `acknowledged` or `fixed` once settled.
    pub settled_by: Option<String>,
}

impl RejectedChange {
    fn new(
        change: Change,
        code: String,
        message: String,
        rejected_at: String,
        child_id: Option<Uuid>,
        settled_by: Option<String>,
    ) -> RejectedChange {
        let t = domain::rejection::explain(&code);
        let table = domain::labels::table_label_zh(&change.table);
        let field = domain::labels::field_label_zh(&change.field);
        RejectedChange {
            reason_zh: format!("{table}的“{field}”：{}", t.zh),
            what_to_do_zh: t.what_to_do_zh.to_string(),
            reason_en: format!("{}.{}: {}", change.table, change.field, t.en),
            what_to_do_en: t.what_to_do_en.to_string(),
            acknowledged: settled_by.is_some(),
            change,
            code,
            message,
            rejected_at,
            child_id,
            settled_by,
        }
    }
}

impl Store {
    /// Up to `limit` unsent changes in `device_seq` order (whole writes only, so a batch
    /// may hold a little more than `limit` when one write has many fields).
    pub fn pending_changes(&self, limit: usize) -> Result<Vec<Change>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT first_seq, tbl, row_id, scope, changes, op_base, hlc FROM outbox ORDER BY first_seq",
        )?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            if out.len() >= limit {
                break;
            }
            let first: i64 = r.get(0)?;
            let table: String = r.get(1)?;
            let row_id: String = r.get(2)?;
            let scope: String = r.get(3)?;
            let ops = decode_ops(
                &r.get::<_, String>(4)?,
                r.get::<_, Option<Vec<u8>>>(5)?.as_deref(),
                r.get(6)?,
            )?;
            let row_id =
                Uuid::parse_str(&row_id).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            for (i, op) in ops.into_iter().enumerate() {
                out.push(Change {
                    op_id: op.op_id,
                    device_id: self.device_id,
                    device_seq: first as u64 + i as u64,
                    table: table.clone(),
                    row_id,
                    field: op.field,
                    value: op.value,
                    hlc: op.hlc,
                    scope: Scope::new(scope.clone()),
                });
            }
        }
        Ok(out)
    }

    /// Villages whose copy on the phone is expected to differ from the server's, so
    /// a checksum mismatch there is not divergence: changes still in the outbox, and
    /// refusals the director has not yet acted on (the refused value stays on the phone,
    /// in view, until then; fetching the village afresh would make it vanish).
    pub fn scopes_held_back_from_verify(&self) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT scope FROM outbox
             UNION
             SELECT r.scope FROM rejected_change j JOIN record r ON r.tbl = j.tbl AND r.row_id = j.row_id
              WHERE j.settled_at IS NULL",
        )?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Number of unsent changes and the wall-clock ms of the oldest.
    pub fn outbox_depth(&self) -> Result<(u64, Option<u64>)> {
        Ok(self.conn.query_row(
            "SELECT coalesce(sum(n), 0), min(written_at) FROM outbox",
            [],
            |r| {
                Ok((
                    r.get::<_, i64>(0)? as u64,
                    r.get::<_, Option<i64>>(1)?.map(|v| v as u64),
                ))
            },
        )?)
    }

    /// Takes the server's answer to a push: everything up to `max_device_seq` leaves the
    /// outbox; refused changes are kept in `rejected_change` with the reason.
    pub fn record_push_result(&mut self, sent: &[Change], resp: &PushResponse) -> Result<()> {
        let at = self.now_utc_rfc3339();
        let tx = self.begin()?;
        let mut refused = std::collections::HashSet::new();
        for rej in resp.rejected.iter().filter(|r| !r.is_retryable()) {
            let Some(change) = sent.iter().find(|c| c.op_id == rej.op_id) else {
                continue;
            };
            refused.insert(change.op_id);
            let json =
                serde_json::to_string(change).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let child_id = if change.table == "child" {
                Some(change.row_id.to_string())
            } else {
                tx.prepare_cached("SELECT child_id FROM record WHERE tbl = ?1 AND row_id = ?2")?
                    .query_row(params![change.table, change.row_id.to_string()], |r| {
                        r.get::<_, Option<String>>(0)
                    })
                    .optional()?
                    .flatten()
            };
            // The server's message is kept for support, bounded: a refusal must not
            // make the device keep whatever a server sends.
            let message: String = rej.message.chars().take(500).collect();
            let code: String = rej.code.chars().take(64).collect();
            tx.prepare_cached(
                "INSERT OR REPLACE INTO rejected_change
                     (device_seq, op_id, change, code, message, rejected_at, tbl, row_id, field, child_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?
            .execute(params![
                change.device_seq as i64,
                change.op_id.to_string(),
                json,
                code,
                message,
                at,
                change.table,
                change.row_id.to_string(),
                change.field,
                child_id
            ])?;
        }
        // A refusal is settled once a later change to the same field is held and not
        // refused: the director fixed it.
        let open: bool = tx
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM rejected_change WHERE settled_at IS NULL)",
            )?
            .query_row([], |r| r.get(0))?;
        if open {
            for c in sent
                .iter()
                .filter(|c| c.device_seq <= resp.max_device_seq && !refused.contains(&c.op_id))
            {
                tx.prepare_cached(
                    "UPDATE rejected_change SET settled_at = ?1, settled_by = 'fixed'
                     WHERE settled_at IS NULL AND tbl = ?2 AND row_id = ?3 AND field = ?4 AND device_seq < ?5",
                )?
                .execute(params![
                    at,
                    c.table,
                    c.row_id.to_string(),
                    c.field,
                    c.device_seq as i64
                ])?;
            }
        }
        crate::store::fold_outbox_counters(&tx)?;
        tx.prepare_cached("DELETE FROM outbox WHERE first_seq + n - 1 <= ?1")?
            .execute([resp.max_device_seq as i64])?;
        tx.prepare_cached("UPDATE device SET acked_seq = max(acked_seq, ?1) WHERE id = 1")?
            .execute([resp.max_device_seq as i64])?;
        tx.commit()?;
        Ok(())
    }

    /// Changes the server refused, newest first, each with its Chinese reason and what
    /// to do (settled ones included, marked `acknowledged`).
    pub fn rejected_changes(&self) -> Result<Vec<RejectedChange>> {
        self.read_rejections("", &[])
    }

    /// The refused changes of one child's file, unsettled first, newest first.
    pub fn rejected_changes_of_child(&self, child_id: Uuid) -> Result<Vec<RejectedChange>> {
        let mut v = self.read_rejections("WHERE child_id = ?1", &[&child_id.to_string()])?;
        v.sort_by_key(|r| r.acknowledged);
        Ok(v)
    }

    fn read_rejections(
        &self,
        filter: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<RejectedChange>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT change, code, message, rejected_at, child_id, settled_by
             FROM rejected_change {filter} ORDER BY device_seq DESC"
        ))?;
        let rows = stmt.query_map(args, |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, Option<String>>(5)?,
            ))
        })?;
        rows.map(|r| {
            let (c, code, message, rejected_at, child, settled_by) = r?;
            let change: Change =
                serde_json::from_str(&c).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let child_id = child.as_deref().and_then(|c| Uuid::parse_str(c).ok());
            Ok(RejectedChange::new(
                change,
                code,
                message,
                rejected_at,
                child_id,
                settled_by,
            ))
        })
        .collect()
    }

    /// The director has read a refusal and acts on it otherwise (or not at all): it is
    /// settled, kept for the record, and no longer holds its record on the device
    /// (a record of a village the device does not hold may then leave it).
    pub fn acknowledge_rejection(&mut self, device_seq: u64) -> Result<()> {
        let n = self.conn.execute(
            "UPDATE rejected_change SET settled_at = ?1, settled_by = 'acknowledged'
             WHERE device_seq = ?2 AND settled_at IS NULL",
            params![self.now_utc_rfc3339(), device_seq as i64],
        )?;
        if n == 0 {
            let exists: bool = self.conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM rejected_change WHERE device_seq = ?1)",
                [device_seq as i64],
                |r| r.get(0),
            )?;
            if !exists {
                return Err(StoreError::NotFound {
                    what: "rejected_change",
                    id: device_seq.to_string(),
                });
            }
        }
        Ok(())
    }

    /// Re-stamps every unsent change from the corrected clock (after the server refused
    /// a far-future stamp): new clock values, same op_ids and device_seqs, so a retry
    /// is still recognised as the same change. The rows' field clocks follow.
    pub fn restamp_pending(&mut self) -> Result<usize> {
        let me = self.device_id;
        let (device_clock, skew) = (self.clock.clone(), self.clock_skew_ms);
        let tx = self.begin()?;
        let state = crate::store::read_device(&tx)?;
        let wall = Store::now_ms_of(&*device_clock, skew, &state);
        let mut clock = crate::store::clock_of(&state);
        clock.reset_after_rejection(wall);
        let mut groups = Vec::new();
        {
            let mut stmt = tx
                .prepare("SELECT first_seq, tbl, row_id, changes, op_base, hlc FROM outbox ORDER BY first_seq")?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Option<Vec<u8>>>(4)?,
                    r.get::<_, i64>(5)?,
                ))
            })?;
            for row in rows {
                groups.push(row?);
            }
        }
        let mut restamped = 0;
        for (first, table, row_id, changes, op_base, stored_hlc) in groups {
            let mut ops = decode_ops(&changes, op_base.as_deref(), stored_hlc)?;
            let hlc = clock.now(wall);
            let rid = Uuid::parse_str(&row_id).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let mut rec = crate::record::load_record(&tx, &table, rid)?;
            for op in &mut ops {
                if let Some(rec) = rec.as_mut() {
                    if let Some(st) = rec.clocks.get_mut(&op.field) {
                        if st.device_id == me && st.hlc == op.hlc {
                            st.hlc = hlc;
                        }
                    }
                }
                op.hlc = hlc;
                restamped += 1;
            }
            if let Some(rec) = rec {
                crate::record::save_record(&tx, &rec, None)?;
            }
            if op_base.is_some() {
                // One stamp per write, kept in its own column.
                tx.execute(
                    "UPDATE outbox SET hlc = ?1 WHERE first_seq = ?2",
                    params![hlc.as_u64() as i64, first],
                )?;
            } else {
                let json =
                    serde_json::to_string(&ops).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                tx.execute(
                    "UPDATE outbox SET changes = ?1, hlc = ?2 WHERE first_seq = ?3",
                    params![json, hlc.as_u64() as i64, first],
                )?;
            }
        }
        tx.execute(
            "UPDATE device SET hlc_last = ?1 WHERE id = 1",
            [clock.last().as_u64() as i64],
        )?;
        tx.commit()?;
        Ok(restamped)
    }
}
