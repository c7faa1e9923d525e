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
