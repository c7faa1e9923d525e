//! One synced row as the device keeps it: current values and the clock of each field.

use crate::error::{Result, StoreError};
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use sync_core::{Hlc, Stamp};
use uuid::Uuid;

/// A row of any synced table.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredRecord {
    pub table: String,
    pub row_id: Uuid,
    pub scope: String,
    pub child_id: Option<Uuid>,
    pub doc: Map<String, Value>,
    pub clocks: BTreeMap<String, Stamp>,
}

impl StoredRecord {
    pub fn new(table: &str, row_id: Uuid) -> StoredRecord {
        StoredRecord {
            table: table.to_string(),
            row_id,
            scope: String::new(),
            child_id: None,
            doc: Map::new(),
            clocks: BTreeMap::new(),
        }
    }

    /// Whether a mutable row was soft-deleted.
    pub fn is_deleted(&self) -> bool {
        self.doc.get(domain::schema::TOMBSTONE_FIELD) == Some(&Value::Bool(true))
    }

    /// Whether an append-only row was voided.
    pub fn is_voided(&self) -> bool {
        self.doc
            .get(domain::schema::VOID_FIELD)
            .is_some_and(|v| !v.is_null())
    }

    /// A text field's value.
    pub fn text(&self, field: &str) -> Option<&str> {
        self.doc.get(field).and_then(Value::as_str)
    }

    /// The `child_id` field parsed.
    pub fn child_ref(&self) -> Option<Uuid> {
        self.text("child_id").and_then(|s| Uuid::parse_str(s).ok())
    }
}

type ClockEntry = (Hlc, Uuid);

pub(crate) fn encode_clocks(clocks: &BTreeMap<String, Stamp>) -> String {
    let m: BTreeMap<&str, ClockEntry> = clocks
        .iter()
        .map(|(k, s)| (k.as_str(), (s.hlc, s.device_id)))
        .collect();
    serde_json::to_string(&m).unwrap_or_else(|_| "{}".into())
}

fn decode_clocks(s: &str) -> Result<BTreeMap<String, Stamp>> {
    let m: BTreeMap<String, ClockEntry> =
        serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("clocks: {e}")))?;
    Ok(m.into_iter()
        .map(|(k, (hlc, device_id))| (k, Stamp { hlc, device_id }))
        .collect())
}

pub(crate) fn row_to_record(
    r: &rusqlite::Row<'_>,
) -> rusqlite::Result<(String, String, String, Option<String>, String, String)> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

pub(crate) fn decode_record(
    raw: (String, String, String, Option<String>, String, String),
) -> Result<StoredRecord> {
    let (table, row_id, scope, child_id, doc, clocks) = raw;
    let corrupt = |e: &dyn std::fmt::Display| StoreError::Corrupt(e.to_string());
    Ok(StoredRecord {
        table,
        row_id: Uuid::parse_str(&row_id).map_err(|e| corrupt(&e))?,
        scope,
        child_id: child_id
            .map(|c| Uuid::parse_str(&c))
            .transpose()
            .map_err(|e| corrupt(&e))?,
        doc: serde_json::from_str(&doc).map_err(|e| corrupt(&e))?,
        clocks: decode_clocks(&clocks)?,
    })
}

pub(crate) const RECORD_COLUMNS: &str = "tbl, row_id, scope, child_id, doc, clocks";

/// Loads one row.
pub fn load_record(conn: &Connection, table: &str, row_id: Uuid) -> Result<Option<StoredRecord>> {
    let raw = conn
        .prepare_cached(&format!(
            "SELECT {RECORD_COLUMNS} FROM record WHERE tbl = ?1 AND row_id = ?2"
        ))?
        .query_row(params![table, row_id.to_string()], row_to_record)
        .optional()?;
    raw.map(decode_record).transpose()
}

/// Loads one row's current values without its field clocks (empty `clocks`): for
/// readers that never merge, such as the roster.
pub fn load_values(conn: &Connection, table: &str, row_id: Uuid) -> Result<Option<StoredRecord>> {
    let raw = conn
        .prepare_cached("SELECT scope, child_id, doc FROM record WHERE tbl = ?1 AND row_id = ?2")?
        .query_row(params![table, row_id.to_string()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, String>(2)?,
            ))
        })
        .optional()?;
    let Some((scope, child_id, doc)) = raw else {
        return Ok(None);
    };
    let corrupt = |e: &dyn std::fmt::Display| StoreError::Corrupt(e.to_string());
    Ok(Some(StoredRecord {
        table: table.to_string(),
        row_id,
        scope,
        child_id: child_id
            .map(|c| Uuid::parse_str(&c))
            .transpose()
            .map_err(|e| corrupt(&e))?,
        doc: serde_json::from_str(&doc).map_err(|e| corrupt(&e))?,
        clocks: BTreeMap::new(),
    }))
}

/// Loads the rows of `table` that belong to a child, in row-id (creation) order.
pub fn records_of_child(
    conn: &Connection,
    table: &str,
    child_id: Uuid,
) -> Result<Vec<StoredRecord>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {RECORD_COLUMNS} FROM record WHERE child_id = ?1 AND tbl = ?2 ORDER BY row_id"
    ))?;
    let rows = stmt.query_map(params![child_id.to_string(), table], row_to_record)?;
    rows.map(|r| decode_record(r?)).collect()
}

/// Inserts or replaces one row.
pub(crate) fn save_record(conn: &Connection, rec: &StoredRecord) -> Result<()> {
    let doc = serde_json::to_string(&rec.doc).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    conn.prepare_cached(
        "INSERT INTO record (tbl, row_id, scope, child_id, doc, clocks) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (tbl, row_id) DO UPDATE SET scope = excluded.scope, child_id = excluded.child_id,
             doc = excluded.doc, clocks = excluded.clocks",
    )?
    .execute(params![
        rec.table,
        rec.row_id.to_string(),
        rec.scope,
        rec.child_id.map(|c| c.to_string()),
        doc,
        encode_clocks(&rec.clocks),
    ])?;
    Ok(())
}
