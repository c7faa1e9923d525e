//! Opening the device database: the encryption key, pragmas, the SQL functions the
//! roster's search uses, forward-only migrations, the device row, and the roster
//! rebuilt once after a migration that changed what a line holds. Below the store
//! ([`crate::store`]) and the roster, so neither needs the other to open.

use crate::error::{Result, StoreError};
use crate::store::{OpenOptions, Store};
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;
use uuid::Uuid;

/// Forward-only migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_initial.sql"),
    include_str!("migrations/0002_sync.sql"),
    include_str!("migrations/0003_fewer_pages.sql"),
    include_str!("migrations/0004_hardening.sql"),
    include_str!("migrations/0005_local_state.sql"),
    include_str!("migrations/0006_village_names.sql"),
    include_str!("migrations/0007_app_release.sql"),
    include_str!("migrations/0008_replaced_settled.sql"),
];

/// The first schema version whose roster keeps search keys (migration 0004): a store
/// migrated across it has its roster rebuilt once.
const SEARCH_KEY_VERSION: i64 = 4;

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
        silence_cipher_log(&conn);
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
        crate::roster::register_search(&conn)?;
        let from_version = migrate(&mut conn)?;
        let clock: crate::clock::SharedClock = std::sync::Arc::new(crate::clock::SystemClock);
        let device_id = ensure_device(&mut conn, &*clock)?;
        if from_version > 0 && from_version < SEARCH_KEY_VERSION {
            crate::roster::rebuild(&mut conn)?;
        }
        Ok(Store {
            conn,
            device_id,
            clock_skew_ms: opts.clock_skew_ms,
            clock,
            data_dir: None,
        })
    }
}

/// SQLCipher logs to the process's stderr by default (on Android to logcat): a wrong
/// PIN printed three `ERROR CORE … hmac check failed` lines onto the terminal, before
/// our own `locked` error said the same thing properly. Its log is turned off (level
/// and target are process-wide settings, set on every open so no connection runs
/// without). Harmless where SQLCipher is built without logging: the pragmas then do
/// nothing.
fn silence_cipher_log(conn: &Connection) {
    for pragma in ["PRAGMA cipher_log_level = NONE", "PRAGMA cipher_log = off"] {
        if let Ok(mut st) = conn.prepare(pragma) {
            let _ = st.query([]).map(|mut rows| rows.next().map(|_| ()));
        }
    }
}

/// Runs the migrations not yet applied; returns the version the store had before.
fn migrate(conn: &mut Connection) -> Result<i64> {
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
    Ok(version)
}

fn ensure_device(conn: &mut Connection, clock: &dyn crate::clock::DeviceClock) -> Result<Uuid> {
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
        params![
            id.to_string(),
            chrono::DateTime::from_timestamp_millis(clock.wall_ms())
                .unwrap_or_default()
                .to_rfc3339()
        ],
    )?;
    Ok(id)
}
