//! Opening the device database: encryption key, pragmas, forward-only migrations and
//! the device's identity (its id, the next `device_seq`, its clock).
//!
//! One [`Store`] owns one SQLite connection. Every write is one `BEGIN IMMEDIATE`
//! transaction; the device row is read inside that transaction, so `device_seq` and
//! the clock are minted exactly once even if the process dies right after.

use crate::error::{Result, StoreError};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::path::Path;
use sync_core::{Hlc, HlcClock};
use uuid::Uuid;

/// Forward-only migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_initial.sql"),
    include_str!("migrations/0002_sync.sql"),
    include_str!("migrations/0003_fewer_pages.sql"),
    include_str!("migrations/0005_local_state.sql"),
];

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
}

/// The device store.
pub struct Store {
    pub(crate) conn: Connection,
    pub(crate) device_id: Uuid,
    pub(crate) clock_skew_ms: i64,
    /// The folder holding the database file (`None` in memory).
    pub(crate) data_dir: Option<std::path::PathBuf>,
}

impl Store {
    /// Opens (creating if needed) the store at `path`.
    pub fn open(path: impl AsRef<Path>, opts: &OpenOptions) -> Result<Store> {
        let path = path.as_ref();
        let conn = Connection::open(path)?;
        let mut store = Self::from_connection(conn, opts)?;
        store.data_dir = path.parent().map(|p| {
            if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            }
            .to_path_buf()
        });
        Ok(store)
    }

    /// An in-memory store (tests and benchmarks).
    pub fn open_in_memory() -> Result<Store> {
        Self::from_connection(Connection::open_in_memory()?, &OpenOptions::default())
    }

    fn from_connection(mut conn: Connection, opts: &OpenOptions) -> Result<Store> {
        if let Some(key) = &opts.key {
            conn.pragma_update(None, "key", key)?;
        }
        // With a wrong key SQLCipher fails on the first read, not on `PRAGMA key`.
        if let Err(e) = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        }) {
            return Err(match e {
                rusqlite::Error::SqliteFailure(f, _)
                    if f.code == rusqlite::ErrorCode::NotADatabase =>
                {
                    StoreError::Locked
                }
                other => other.into(),
            });
        }
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(
            None,
            "synchronous",
            if opts.relaxed_durability {
                "NORMAL"
            } else {
                "FULL"
            },
        )?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // Every hot statement stays prepared (rusqlite keeps 16 by default; a visit
        // with its roster refresh uses more).
        conn.set_prepared_statement_cache_capacity(64);
        // Plans must not depend on bound values: otherwise SQLite re-prepares a cached
        // statement whenever a new child id is bound (measured: every roster refresh).
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )?;
        migrate(&mut conn)?;
        let device_id = ensure_device(&mut conn)?;
        Ok(Store {
            conn,
            device_id,
            clock_skew_ms: opts.clock_skew_ms,
            data_dir: None,
        })
    }

    /// This device's id (UUIDv7 minted when the store was created).
    pub fn device_id(&self) -> Uuid {
        self.device_id
    }

    /// The wall clock as this device sees it (including a test skew), ms since epoch.
    pub fn wall_ms(&self) -> u64 {
        let now = chrono::Utc::now().timestamp_millis();
        (now + self.clock_skew_ms).max(0) as u64
    }

    /// Now on the corrected clock, in China time (UTC+8; China has one time zone).
    fn china_now(&self) -> chrono::DateTime<chrono::FixedOffset> {
        let offset = self
            .conn
            .prepare_cached("SELECT clock_offset_ms FROM device WHERE id = 1")
            .and_then(|mut st| st.query_row([], |r| r.get::<_, i64>(0)))
            .unwrap_or(0);
        let china = chrono::FixedOffset::east_opt(8 * 3600).expect("valid offset");
        chrono::DateTime::from_timestamp_millis(self.wall_ms() as i64 + offset)
            .unwrap_or_default()
            .with_timezone(&china)
    }

    /// Today's date in China, on the corrected clock: the date a director means.
    pub fn today(&self) -> chrono::NaiveDate {
        self.china_now().date_naive()
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
        "SELECT device_id, {NEXT_SEQ}, {HLC_LAST}, clock_offset_ms, pull_cursor, acked_seq, scopes
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
        ))
    })
    .map_err(StoreError::from)
    .and_then(|(id, seq, hlc, off, cur, ack, scopes)| {
        Ok(DeviceState {
            device_id: Uuid::parse_str(&id).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            next_seq: seq as u64,
            hlc_last: Hlc::from_u64(hlc as u64),
            clock_offset_ms: off,
            pull_cursor: cur as u64,
            acked_seq: ack as u64,
            scopes: serde_json::from_str(&scopes)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        })
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

/// The device's clock as persisted, ready to mint stamps inside a transaction.
pub(crate) fn clock_of(state: &DeviceState) -> HlcClock {
    HlcClock::new(state.hlc_last).with_offset(state.clock_offset_ms)
}

fn migrate(conn: &mut Connection) -> Result<()> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(StoreError::TooNew {
            found: version,
            known,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

fn ensure_device(conn: &mut Connection) -> Result<Uuid> {
    let existing: Option<String> = conn
        .query_row("SELECT device_id FROM device WHERE id = 1", [], |r| {
            r.get(0)
        })
        .optional()?;
    if let Some(id) = existing {
        return Uuid::parse_str(&id).map_err(|e| StoreError::Corrupt(e.to_string()));
    }
    let id = Uuid::now_v7();
    conn.execute(
        "INSERT INTO device (id, device_id, next_seq, hlc_last, created_at) VALUES (1, ?1, 1, 0, ?2)",
        params![id.to_string(), chrono::Utc::now().to_rfc3339()],
    )?;
    Ok(id)
}
