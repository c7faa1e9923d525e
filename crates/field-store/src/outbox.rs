//! The outbox: local changes waiting for the server, in `device_seq` order, and what
//! happens to them when the server answers. A change leaves the outbox only when the
//! server says it holds it; a change the server refused moves to `rejected_change`
//! with the reason, where the director (and status) can see it.

use crate::error::{Result, StoreError};
use crate::store::Store;
use rusqlite::params;
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

/// A change the server refused, as shown on the device.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RejectedChange {
    pub change: Change,
    pub code: String,
    pub message: String,
    pub rejected_at: String,
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
        let tx = self.begin()?;
        let at = chrono::Utc::now().to_rfc3339();
        for rej in resp.rejected.iter().filter(|r| !r.is_retryable()) {
            let Some(change) = sent.iter().find(|c| c.op_id == rej.op_id) else {
                continue;
            };
            let json =
                serde_json::to_string(change).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            tx.prepare_cached(
                "INSERT OR REPLACE INTO rejected_change (device_seq, op_id, change, code, message, rejected_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![change.device_seq as i64, change.op_id.to_string(), json, rej.code, rej.message, at])?;
        }
        crate::store::fold_outbox_counters(&tx)?;
        tx.prepare_cached("DELETE FROM outbox WHERE first_seq + n - 1 <= ?1")?
            .execute([resp.max_device_seq as i64])?;
        tx.prepare_cached("UPDATE device SET acked_seq = max(acked_seq, ?1) WHERE id = 1")?
            .execute([resp.max_device_seq as i64])?;
        tx.commit()?;
        Ok(())
    }

    /// Changes the server refused, newest first.
    pub fn rejected_changes(&self) -> Result<Vec<RejectedChange>> {
        let mut stmt = self
            .conn
            .prepare("SELECT change, code, message, rejected_at FROM rejected_change ORDER BY device_seq DESC")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
            ))
        })?;
        rows.map(|r| {
            let (c, code, message, rejected_at) = r?;
            Ok(RejectedChange {
                change: serde_json::from_str(&c).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                code,
                message,
                rejected_at,
            })
        })
        .collect()
    }

    /// Re-stamps every unsent change from the corrected clock (after the server refused
    /// a far-future stamp): new clock values, same op_ids and device_seqs, so a retry
    /// is still recognised as the same change. The rows' field clocks follow.
    pub fn restamp_pending(&mut self) -> Result<usize> {
        let wall = self.wall_ms();
        let me = self.device_id;
        let tx = self.begin()?;
        let state = crate::store::read_device(&tx)?;
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
