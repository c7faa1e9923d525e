//! What the device can say about itself: outbox depth, last change, rejected changes,
//! pending blobs, cursor — for the status screen, `fieldctl status` and the heartbeat.

use crate::error::Result;
use crate::store::Store;
use serde::Serialize;

/// A snapshot of the device's sync state.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Status {
    pub device_id: String,
    pub villages: Vec<String>,
    pub children: u64,
    pub records: u64,
    /// Changes waiting to be sent.
    pub outbox_changes: u64,
    /// Age of the oldest unsent change, seconds.
    pub oldest_pending_secs: Option<u64>,
    /// Changes the server refused that the director has not acted on yet (kept,
    /// visible; settled ones are kept too but not counted).
    pub rejected_changes: u64,
    pub pending_blobs: u64,
    pub pending_blob_bytes: u64,
    /// Last device_seq minted (0 if none).
    pub last_device_seq: u64,
    /// Highest device_seq the server confirmed.
    pub acked_seq: u64,
    pub pull_cursor: u64,
    pub clock_offset_ms: i64,
    /// Clock value of the last local or observed change.
    pub last_hlc: String,
    /// Free space where the data lives, bytes.
    pub free_storage_bytes: Option<u64>,
}

impl Store {
    pub fn status(&self) -> Result<Status> {
        let st = self.device_state()?;
        let (outbox, oldest) = self.outbox_depth()?;
        let count = |sql: &str| -> Result<u64> {
            Ok(self.conn.query_row(sql, [], |r| r.get::<_, i64>(0))? as u64)
        };
        let (pending_blobs, pending_blob_bytes) = self.conn.query_row(
            "SELECT count(*), coalesce(sum(size), 0) FROM blob WHERE uploaded = 0",
            [],
            |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
        )?;
        let now = self.now_ms();
        Ok(Status {
            device_id: st.device_id.to_string(),
            villages: st.scopes.clone(),
            children: count("SELECT count(*) FROM record WHERE tbl = 'child'")?,
            records: count("SELECT count(*) FROM record")?,
            outbox_changes: outbox,
            oldest_pending_secs: oldest.map(|t| now.saturating_sub(t) / 1000),
            rejected_changes: count(
                "SELECT count(*) FROM rejected_change WHERE settled_at IS NULL",
            )?,
            pending_blobs,
            pending_blob_bytes,
            last_device_seq: st.next_seq - 1,
            acked_seq: st.acked_seq,
            pull_cursor: st.pull_cursor,
            clock_offset_ms: st.clock_offset_ms,
            last_hlc: st.hlc_last.to_string(),
            free_storage_bytes: self.free_storage_bytes(),
        })
    }
}

/// Where one record stands between this phone and the server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordSync {
    /// Saved on the phone, not yet on the server.
    OnPhone,
    /// The server holds it (sent from here, or received from the server).
    Sent,
    /// The server refused a change of it; the reason is in `rejected_changes`.
    Rejected,
}

impl Store {
    /// The sync state of every record of one child's file (the child itself included),
    /// keyed by `(table, row_id)`. A refused change the director has not acknowledged
    /// marks its record `Rejected` until then, whatever happened to it since.
    pub fn record_sync_states(
        &self,
        child_id: uuid::Uuid,
    ) -> Result<std::collections::HashMap<(String, uuid::Uuid), RecordSync>> {
        use std::collections::HashMap;
        let acked = self.device_state()?.acked_seq as i64;
        let id = child_id.to_string();
        let mut out = HashMap::new();
        let mut stmt = self.conn.prepare_cached(
            "SELECT tbl, row_id, local_seq FROM record
             WHERE child_id = ?1 OR (tbl = 'child' AND row_id = ?1)",
        )?;
        let rows = stmt.query_map([&id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<i64>>(2)?,
            ))
        })?;
        for row in rows {
            let (tbl, row_id, local_seq) = row?;
            let Ok(row_id) = uuid::Uuid::parse_str(&row_id) else {
                continue;
            };
            let state = match local_seq {
                Some(seq) if seq > acked => RecordSync::OnPhone,
                _ => RecordSync::Sent,
            };
            out.insert((tbl, row_id), state);
        }
        let mut stmt = self
            .conn
            .prepare_cached("SELECT change FROM rejected_change WHERE settled_at IS NULL")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        for c in rows {
            let Ok(change) = serde_json::from_str::<sync_core::Change>(&c?) else {
                continue;
            };
            let key = (change.table, change.row_id);
            if let Some(state) = out.get_mut(&key) {
                *state = RecordSync::Rejected;
            }
        }
        Ok(out)
    }
}

impl Store {
    /// When this device last finished a sync round without error (RFC 3339, UTC), if
    /// ever: what the app shows as "last synced" — never the last attempt.
    pub fn last_sync_at(&self) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT last_sync_at FROM device WHERE id = 1", [], |r| {
                r.get::<_, Option<String>>(0)
            })?)
    }
}

impl Store {
    /// Records (rows) with at least one change not yet on the server: what a director
    /// counts as "not synced" (one visit with its photos is a few records, not dozens
    /// of field changes).
    pub fn pending_record_count(&self) -> Result<u64> {
        Ok(self.conn.query_row(
            "SELECT count(*) FROM (SELECT DISTINCT tbl, row_id FROM outbox)",
            [],
            |r| r.get::<_, i64>(0),
        )? as u64)
    }
}
