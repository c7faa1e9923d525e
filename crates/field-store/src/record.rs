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

/// Version byte of the binary clock encoding.
const CLOCKS_V1: u8 = 1;

/// Field clocks as a compact BLOB (most fields of a row share the stamp of the write
/// that made them, so stamps are listed once and fields point at them):
///
/// `[1][n stamps: u8] n × ([hlc: u64 LE][device: 16 bytes]) then per field
/// ([name length: u8][name: UTF-8][stamp index: u8])`.
///
/// About 50 + 12 bytes per field instead of ~65 per field as JSON, so a typical row
/// stays on its B-tree page (a WITHOUT ROWID row over ~1 KB spills to an overflow
/// page, one more page written per write), and decoding needs no JSON, hex or UUID
/// text parsing.
pub(crate) fn encode_clocks(clocks: &BTreeMap<String, Stamp>) -> Vec<u8> {
    let mut stamps: Vec<Stamp> = Vec::new();
    let mut fields: Vec<u8> = Vec::with_capacity(clocks.len() * 12);
    for (name, stamp) in clocks {
        let idx = match stamps.iter().position(|s| s == stamp) {
            Some(i) => i,
            None => {
                stamps.push(*stamp);
                stamps.len() - 1
            }
        };
        // Field names are schema names (short ASCII); stamps are at most one per field.
        // A longer name is cut at a character boundary, never inside a character.
        let cut: String;
        let name: &[u8] = if name.len() <= 255 {
            name.as_bytes()
        } else {
            cut = name
                .char_indices()
                .take_while(|(i, c)| i + c.len_utf8() <= 255)
                .map(|(_, c)| c)
                .collect();
            cut.as_bytes()
        };
        fields.push(name.len() as u8);
        fields.extend_from_slice(name);
        fields.push(idx.min(255) as u8);
    }
    let mut out = Vec::with_capacity(2 + stamps.len() * 24 + fields.len());
    out.push(CLOCKS_V1);
    out.push(stamps.len().min(255) as u8);
    for s in &stamps {
        out.extend_from_slice(&s.hlc.as_u64().to_le_bytes());
        out.extend_from_slice(s.device_id.as_bytes());
    }
    out.extend_from_slice(&fields);
    out
}

fn decode_clocks_binary(b: &[u8]) -> Result<BTreeMap<String, Stamp>> {
    let bad = || StoreError::Corrupt("clocks: truncated or unknown encoding".into());
    if b.first() != Some(&CLOCKS_V1) {
        return Err(bad());
    }
    let n = *b.get(1).ok_or_else(bad)? as usize;
    let mut at = 2;
    let mut stamps = Vec::with_capacity(n);
    for _ in 0..n {
        let chunk = b.get(at..at + 24).ok_or_else(bad)?;
        let (hlc, device) = chunk.split_at(8);
        let hlc = u64::from_le_bytes(hlc.try_into().map_err(|_| bad())?);
        let device_id = Uuid::from_slice(device).map_err(|_| bad())?;
        stamps.push(Stamp {
            hlc: Hlc::from_u64(hlc),
            device_id,
        });
        at += 24;
    }
    let mut out = BTreeMap::new();
    while at < b.len() {
        let len = b[at] as usize;
        let name = b.get(at + 1..at + 1 + len).ok_or_else(bad)?;
        let idx = *b.get(at + 1 + len).ok_or_else(bad)? as usize;
        let name = std::str::from_utf8(name).map_err(|_| bad())?;
        out.insert(name.to_string(), *stamps.get(idx).ok_or_else(bad)?);
        at += len + 2;
    }
    Ok(out)
}

/// Clocks as stored: the binary encoding, or JSON text written before migration 0003
/// (`{"field": ["hlc hex", "device uuid"]}`), which is read as is and rewritten in
/// binary the next time the row changes.
fn decode_clocks(raw: &rusqlite::types::Value) -> Result<BTreeMap<String, Stamp>> {
    match raw {
        rusqlite::types::Value::Blob(b) => decode_clocks_binary(b),
        rusqlite::types::Value::Text(s) => {
            let m: BTreeMap<String, ClockEntry> =
                serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("clocks: {e}")))?;
            Ok(m.into_iter()
                .map(|(k, (hlc, device_id))| (k, Stamp { hlc, device_id }))
                .collect())
        }
        _ => Err(StoreError::Corrupt("clocks: not a blob".into())),
    }
}

/// A record row as read from SQLite, before decoding.
pub(crate) type RawRecord = (
    String,
    String,
    String,
    Option<String>,
    String,
    rusqlite::types::Value,
);

pub(crate) fn row_to_record(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawRecord> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

pub(crate) fn decode_record(raw: RawRecord) -> Result<StoredRecord> {
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
/// readers that never merge, such as the roster. The clocks column is replaced by the
/// encoding of no clocks (`X'0100'`: version 1, no stamps), so nothing is parsed.
pub fn load_values(conn: &Connection, table: &str, row_id: Uuid) -> Result<Option<StoredRecord>> {
    let raw = conn
        .prepare_cached(
            "SELECT tbl, row_id, scope, child_id, doc, X'0100' FROM record WHERE tbl = ?1 AND row_id = ?2",
        )?
        .query_row(params![table, row_id.to_string()], row_to_record)
        .optional()?;
    raw.map(decode_record).transpose()
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

/// The `ts` column: a visit's time, by which a child's latest visit is found.
fn time_key(rec: &StoredRecord) -> Option<&str> {
    (rec.table == "visit")
        .then(|| rec.text("visited_at"))
        .flatten()
}

/// Inserts or replaces one row. `local_seq` is the device_seq of a local write of
/// it (None for a pulled change or a re-stamp, which keep the row's previous one).
pub(crate) fn save_record(
    conn: &Connection,
    rec: &StoredRecord,
    local_seq: Option<u64>,
) -> Result<()> {
    let doc = serde_json::to_string(&rec.doc).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    conn.prepare_cached(
        "INSERT INTO record (tbl, row_id, scope, child_id, doc, clocks, local_seq, ts) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (tbl, row_id) DO UPDATE SET scope = excluded.scope, child_id = excluded.child_id,
             doc = excluded.doc, clocks = excluded.clocks, ts = excluded.ts,
             local_seq = coalesce(excluded.local_seq, record.local_seq)",
    )?
    .execute(params![
        rec.table,
        rec.row_id.to_string(),
        rec.scope,
        rec.child_id.map(|c| c.to_string()),
        doc,
        encode_clocks(&rec.clocks),
        local_seq.map(|s| s as i64),
        time_key(rec),
    ])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn stamp(hlc: u64, dev: u128) -> Stamp {
        Stamp {
            hlc: Hlc::from_u64(hlc),
            device_id: Uuid::from_u128(dev),
        }
    }

    proptest! {
        #[test]
        fn binary_clocks_round_trip(
            fields in proptest::collection::btree_map("[a-z_]{1,24}", (any::<u64>(), 0u128..4), 0..30)
        ) {
            let clocks: BTreeMap<String, Stamp> =
                fields.into_iter().map(|(k, (h, d))| (k, stamp(h, d))).collect();
            let bytes = encode_clocks(&clocks);
            prop_assert_eq!(decode_clocks(&rusqlite::types::Value::Blob(bytes)).unwrap(), clocks);
        }

        #[test]
        fn truncated_clocks_are_an_error_not_a_panic(cut in 0usize..60) {
            let clocks: BTreeMap<String, Stamp> =
                [("name".to_string(), stamp(7, 1)), ("risk_colour".to_string(), stamp(9, 2))].into();
            let bytes = encode_clocks(&clocks);
            let cut = cut.min(bytes.len() - 1);
            // Any strict prefix either fails cleanly or (at a field boundary) decodes
            // to fewer fields; it never panics and never invents a stamp.
            if let Ok(m) = decode_clocks(&rusqlite::types::Value::Blob(bytes[..cut].to_vec())) {
                prop_assert!(m.len() < clocks.len());
                for (k, v) in m { prop_assert_eq!(clocks.get(&k), Some(&v)); }
            }
        }
    }

    #[test]
    fn one_shared_stamp_is_stored_once() {
        let clocks: BTreeMap<String, Stamp> = (0..11)
            .map(|i| (format!("field_{i:02}"), stamp(42, 1)))
            .collect();
        let bytes = encode_clocks(&clocks);
        assert_eq!(bytes.len(), 2 + 24 + 11 * (8 + 2));
        // `load_values` selects this literal in place of the clocks column.
        assert_eq!(encode_clocks(&BTreeMap::new()), [0x01, 0x00]);
    }

    #[test]
    fn clocks_written_as_json_before_migration_3_still_read() {
        let json = r#"{"name":["018c2f3a1b2c0001","01890a5d-ac96-774b-bcce-b302099a8057"]}"#;
        let m = decode_clocks(&rusqlite::types::Value::Text(json.into())).unwrap();
        assert_eq!(
            m["name"].device_id,
            Uuid::parse_str("01890a5d-ac96-774b-bcce-b302099a8057").unwrap()
        );
        assert_eq!(m["name"].hlc, Hlc::parse("018c2f3a1b2c0001").unwrap());
    }
}
