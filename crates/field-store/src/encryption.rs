//! Turning a store written without encryption (by an older app, or by `fieldctl`
//! without a key) into an encrypted one, without losing a byte of it.
//!
//! SQLCipher's `sqlcipher_export` copies every table, index and row into an attached
//! encrypted database; the copy is checked and only then takes the old file's place.
//! The caller decides the order of the surrounding steps (see field-app's `lock.rs`):
//! the plain file is replaced only once the key that opens the copy is safely kept.

use crate::error::{Result, StoreError};
use rusqlite::Connection;
use std::path::Path;

/// Whether the database file at `path` opens without a key (a plain SQLite file).
pub fn is_plain_database(path: &Path) -> bool {
    let Ok(conn) = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return false;
    };
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    })
    .is_ok()
}

/// Writes an encrypted copy of the plain database `plain` to `encrypted` (which must
/// not exist), keyed with `key` (as given to `PRAGMA key`). The copy is opened with
/// the key and its row counts compared with the original before this returns.
pub fn export_encrypted(plain: &Path, encrypted: &Path, key: &str) -> Result<()> {
    if encrypted.exists() {
        std::fs::remove_file(encrypted)?;
    }
    let conn = Connection::open(plain)?;
    // Everything in the WAL into the main file first, so the copy sees it all.
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let target = encrypted
        .to_str()
        .ok_or_else(|| StoreError::Corrupt("data folder path is not UTF-8".into()))?;
    conn.execute("ATTACH DATABASE ?1 AS encrypted KEY ?2", [target, key])?;
    conn.query_row("SELECT sqlcipher_export('encrypted')", [], |_| Ok(()))?;
    conn.execute_batch(&format!("PRAGMA encrypted.user_version = {version}"))?;
    conn.execute_batch("DETACH DATABASE encrypted")?;
    let before = table_counts(&conn)?;
    drop(conn);

    let copy = Connection::open(encrypted)?;
    copy.pragma_update(None, "key", key)?;
    let after = table_counts(&copy)?;
    if before != after {
        return Err(StoreError::Corrupt(format!(
            "encrypted copy differs from the original: {before:?} vs {after:?}"
        )));
    }
    Ok(())
}

fn table_counts(conn: &Connection) -> Result<Vec<(String, i64)>> {
    let tables: Vec<String> = {
        let mut stmt = conn.prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    tables
        .into_iter()
        .map(|t| {
            let n = conn.query_row(&format!("SELECT count(*) FROM \"{t}\""), [], |r| r.get(0))?;
            Ok((t, n))
        })
        .collect()
}
