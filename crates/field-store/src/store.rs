//! The device store and its identity (its id, the next `device_seq`, its clock), kept
//! in the one `device` row; opening it is [`crate::open`].
//!
//! One [`Store`] owns one SQLite connection. Every write is one `BEGIN IMMEDIATE`
//! transaction; the device row is read inside that transaction, so `device_seq` and
//! the clock are minted exactly once even if the process dies right after.

use crate::error::{Result, StoreError};
use rusqlite::{params, Connection, TransactionBehavior};
use sync_core::{Hlc, HlcClock};
use uuid::Uuid;

/// How to open a store.
#[derive(Clone, Debug, Default)]
pub struct OpenOptions {
    /// SQLCipher key (derived from the director's PIN by the app). `None` = unencrypted
    /// (tests, benchmarks).
    pub key: Option<String>,
    /// Added to the wall clock: lets a test run a device whose clock is wrong
    /// (`fieldctl --clock-skew-ms`, or `TONGHU_CLOCK_SKEW_MS`).
    pub clock_skew_ms: i64,
    /// `synchronous=FULL` (default, survives power loss) or `NORMAL` (survives a crash
    /// of the app, not of the phone).
    pub relaxed_durability: bool,
}

/// The device's state kept in its one `device` row.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceState {
    pub device_id: Uuid,
    pub next_seq: u64,
    pub hlc_last: Hlc,
    pub clock_offset_ms: i64,
    pub pull_cursor: u64,
    pub acked_seq: u64,
    pub scopes: Vec<String>,
    /// The clock anchor of the last contact with the server (see [`crate::clock`]).
    pub anchor: Option<crate::clock::ClockAnchor>,
}

/// The device store.
pub struct Store {
    pub(crate) conn: Connection,
    pub(crate) device_id: Uuid,
    pub(crate) clock_skew_ms: i64,
    pub(crate) clock: crate::clock::SharedClock,
    /// The folder holding the database file (`None` in memory).
    pub(crate) data_dir: Option<std::path::PathBuf>,
}

impl Store {
    /// This device's id (UUIDv7 minted when the store was created).
    pub fn device_id(&self) -> Uuid {
        self.device_id
    }

    /// The wall clock as this device sees it (including a test skew), ms since epoch.
    pub fn wall_ms(&self) -> u64 {
        self.clock
            .wall_ms()
            .saturating_add(self.clock_skew_ms)
            .max(0) as u64
    }

    /// Reads time from `clock` from now on instead of the machine's clocks
    /// ([`crate::clock::SystemClock`]): tests inject wall and monotonic readings so.
    pub fn set_device_clock(&mut self, clock: crate::clock::SharedClock) {
        self.clock = clock;
    }

    /// Sets the test skew of the wall clock (see [`OpenOptions::clock_skew_ms`]): a
    /// phone whose owner moves its clock while the app runs.
    pub fn set_clock_skew_ms(&mut self, skew_ms: i64) {
        self.clock_skew_ms = skew_ms;
    }

    /// Now on the corrected clock, ms since the epoch: the clock anchor plus the
    /// monotonic time elapsed within the same boot, else the wall clock plus the
    /// offset learned from the server (see [`crate::clock`]). What stamps, visit times
    /// and "today" are made from.
    pub fn now_ms(&self) -> u64 {
        let (offset, anchor) = self
            .conn
            .prepare_cached(
                "SELECT clock_offset_ms, anchor_server_ms, anchor_mono_ms, anchor_boot_id FROM device WHERE id = 1",
            )
            .and_then(|mut st| {
                st.query_row([], |r| {
                    Ok((r.get::<_, i64>(0)?, anchor_of(r.get(1)?, r.get(2)?, r.get(3)?)))
                })
            })
            .unwrap_or((0, None));
        crate::clock::physical_now_ms(&*self.clock, self.clock_skew_ms, offset, anchor.as_ref())
    }

    /// [`Store::now_ms`] from a device row already read (inside a transaction).
    pub(crate) fn now_ms_of(
        clock: &dyn crate::clock::DeviceClock,
        skew_ms: i64,
        state: &DeviceState,
    ) -> u64 {
        crate::clock::physical_now_ms(clock, skew_ms, state.clock_offset_ms, state.anchor.as_ref())
    }

    /// Now on the corrected clock, in China time (UTC+8; China has one time zone).
    fn china_now(&self) -> chrono::DateTime<chrono::FixedOffset> {
        let china = chrono::FixedOffset::east_opt(8 * 3600).expect("valid offset");
        chrono::DateTime::from_timestamp_millis(self.now_ms() as i64)
            .unwrap_or_default()
            .with_timezone(&china)
    }

    /// Today's date in China, on the corrected clock: the date a director means.
    pub fn today(&self) -> chrono::NaiveDate {
        self.china_now().date_naive()
    }

    /// Now on the corrected clock as RFC 3339 in UTC: the device's own bookkeeping
    /// (when a draft, a staged photo, a refusal, a loser of a merge was noted), which
    /// is compared as text and so is written in one zone.
    pub fn now_utc_rfc3339(&self) -> String {
        chrono::DateTime::from_timestamp_millis(self.now_ms() as i64)
            .unwrap_or_default()
            .to_rfc3339()
    }

    /// Now as RFC 3339 to the second (`2026-11-28T09:30:00+08:00`): how visit and
    /// signing times are written.
    pub fn now_china_rfc3339(&self) -> String {
        self.china_now()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
    }

    /// Points this device at another server address (same enrollment).
    pub fn set_server_url(&mut self, url: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE device SET server_url = ?1",
            [url.trim_end_matches('/')],
        )?;
        Ok(())
    }

    /// The device row.
    pub fn device_state(&self) -> Result<DeviceState> {
        read_device(&self.conn)
    }

    /// Sets the villages this device holds (from enrollment).
    pub fn set_scopes(&mut self, scopes: &[String]) -> Result<()> {
        let json = serde_json::to_string(scopes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.conn.execute("UPDATE device SET scopes = ?1", [json])?;
        Ok(())
    }

    /// Records the clock correction the server reported.
    pub fn set_clock_offset(&mut self, offset_ms: i64) -> Result<()> {
        self.conn
            .execute("UPDATE device SET clock_offset_ms = ?1", [offset_ms])?;
        Ok(())
    }

    /// Takes note of the server's clock, `server_ms`, read in an answer that took
    /// `round_trip` to arrive: learns the wall clock's offset (differences under a
    /// second are network noise and ignored) and anchors the corrected time to the
    /// monotonic clock (see [`crate::clock`]). Writes the device row only when the
    /// offset or the anchor's prediction is off by a second or more, or the boot
    /// changed. Returns the offset in force.
    pub fn record_server_time(
        &mut self,
        server_ms: u64,
        round_trip: std::time::Duration,
    ) -> Result<i64> {
        let half = (round_trip.as_millis().min(60_000) / 2) as u64;
        let now_true = server_ms.saturating_add(half);
        let wall = self.wall_ms();
        let offset = i64::try_from(i128::from(now_true) - i128::from(wall)).unwrap_or(0);
        let new = if offset.abs() < 1000 { 0 } else { offset };
        let st = self.device_state()?;
        if (new - st.clock_offset_ms).abs() >= 1000 || (new == 0 && st.clock_offset_ms != 0) {
            self.set_clock_offset(new)?;
        }
        if let Some(mono) = self.clock.monotonic() {
            let predicted = st.anchor.as_ref().and_then(|a| a.now_ms(&mono));
            let off = predicted.is_none_or(|p| p.abs_diff(now_true) >= 1000);
            if off {
                self.conn.execute(
                    "UPDATE device SET anchor_server_ms = ?1, anchor_mono_ms = ?2, anchor_boot_id = ?3 WHERE id = 1",
                    params![now_true as i64, mono.ms as i64, mono.boot_id],
                )?;
            }
        }
        Ok(new)
    }

    /// Starts a write transaction (`BEGIN IMMEDIATE`: the write lock is taken at once).
    pub(crate) fn begin(&mut self) -> Result<rusqlite::Transaction<'_>> {
        Ok(self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?)
    }

    /// Free space on the file system holding the data, bytes (`None` in memory or if
    /// the system cannot tell). Sent in every heartbeat: a full phone stops recording.
    pub fn free_storage_bytes(&self) -> Option<u64> {
        let dir = self.data_dir.as_ref()?;
        let c = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).ok()?;
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        // SAFETY: `c` is a valid NUL-terminated path and `st` a writable statvfs.
        if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
            return None;
        }
        Some(st.f_bavail as u64 * st.f_frsize as u64)
    }

    /// Raw connection, for read-only queries of sibling modules and tests.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}

/// The next `device_seq`: the device row's, or one past the outbox's last change.
const NEXT_SEQ: &str = "max(next_seq, coalesce((SELECT first_seq + n FROM outbox ORDER BY first_seq DESC LIMIT 1), 0))";
/// The last clock value handed out: the device row's, or the outbox's last write's.
const HLC_LAST: &str =
    "max(hlc_last, coalesce((SELECT hlc FROM outbox ORDER BY first_seq DESC LIMIT 1), 0))";

/// The device's state. The next `device_seq` and the last clock value are the larger
/// of the device row and the outbox's last row: a local write appends to the outbox
/// only, and the device row takes the counters over before outbox rows are deleted
/// ([`fold_outbox_counters`]), so a sequence number is never minted twice.
pub(crate) fn read_device(conn: &Connection) -> Result<DeviceState> {
    conn.prepare_cached(&format!(
        "SELECT device_id, {NEXT_SEQ}, {HLC_LAST}, clock_offset_ms, pull_cursor, acked_seq, scopes,
                anchor_server_ms, anchor_mono_ms, anchor_boot_id
             FROM device WHERE id = 1"
    ))?
    .query_row([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, i64>(4)?,
            r.get::<_, i64>(5)?,
            r.get::<_, String>(6)?,
            anchor_of(r.get(7)?, r.get(8)?, r.get(9)?),
        ))
    })
    .map_err(StoreError::from)
    .and_then(|(id, seq, hlc, off, cur, ack, scopes, anchor)| {
        Ok(DeviceState {
            device_id: Uuid::parse_str(&id).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            next_seq: seq as u64,
            hlc_last: Hlc::from_u64(hlc as u64),
            clock_offset_ms: off,
            pull_cursor: cur as u64,
            acked_seq: ack as u64,
            scopes: serde_json::from_str(&scopes)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            anchor,
        })
    })
}

fn anchor_of(
    server_ms: Option<i64>,
    mono_ms: Option<i64>,
    boot_id: Option<String>,
) -> Option<crate::clock::ClockAnchor> {
    Some(crate::clock::ClockAnchor {
        server_ms: u64::try_from(server_ms?).ok()?,
        mono_ms: u64::try_from(mono_ms?).ok()?,
        boot_id: boot_id?,
    })
}

/// Moves the outbox's counters into the device row. Called inside every transaction
/// that deletes outbox rows, before it deletes them.
pub(crate) fn fold_outbox_counters(conn: &Connection) -> Result<()> {
    conn.prepare_cached(&format!(
        "UPDATE device SET next_seq = {NEXT_SEQ}, hlc_last = {HLC_LAST} WHERE id = 1"
    ))?
    .execute([])?;
    Ok(())
}

/// The device's clock as persisted, ready to mint stamps inside a transaction. Its
/// readings are corrected physical time ([`Store::now_ms_of`]): the offset and the
/// anchor are already applied, so the clock adds none of its own.
pub(crate) fn clock_of(state: &DeviceState) -> HlcClock {
    HlcClock::new(state.hlc_last)
}
