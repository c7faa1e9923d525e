//! The synced state as canonical JSON, and per-scope checksums.
//!
//! Two replicas that hold the same changes produce byte-identical exports: rows sorted
//! by (table, row id), fields by name, each with its value and version. Local-only
//! bookkeeping (outbox, history, roster) is left out.

use crate::error::{Result, StoreError};
use crate::record::{decode_record, row_to_record, RECORD_COLUMNS};
use crate::store::Store;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use sync_core::{FieldKey, Scope, ScopeChecksum};

impl Store {
    /// Calls `f` for every synced row, in (table, row id) order.
    pub fn for_each_record(
        &self,
        mut f: impl FnMut(crate::record::StoredRecord) -> Result<()>,
    ) -> Result<()> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {RECORD_COLUMNS} FROM record ORDER BY tbl, row_id"
        ))?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            f(decode_record(row_to_record(r)?)?)?;
        }
        Ok(())
    }

    /// The whole synced state as canonical JSON text.
    pub fn export_canonical(&self) -> Result<String> {
        let mut rows = Vec::new();
        self.for_each_record(|rec| {
            let mut fields = Map::new();
            for (name, stamp) in &rec.clocks {
                fields.insert(
                    name.clone(),
                    json!({
                        "value": rec.doc.get(name).cloned().unwrap_or(Value::Null),
                        "hlc": stamp.hlc,
                        "device_id": stamp.device_id,
                    }),
                );
            }
            rows.push(json!({
                "table": rec.table,
                "row_id": rec.row_id,
                "scope": rec.scope,
                "fields": fields,
            }));
            Ok(())
        })?;
        serde_json::to_string_pretty(&Value::Array(rows))
            .map_err(|e| StoreError::Corrupt(e.to_string()))
    }

    /// One checksum per scope over the winning version of every field held.
    pub fn scope_checksums(&self) -> Result<BTreeMap<Scope, ScopeChecksum>> {
        let mut out: BTreeMap<Scope, ScopeChecksum> = BTreeMap::new();
        self.for_each_record(|rec| {
            let sum = out.entry(Scope::new(rec.scope.clone())).or_default();
            for (field, stamp) in &rec.clocks {
                let key = FieldKey {
                    table: rec.table.clone(),
                    row_id: rec.row_id,
                    field: field.clone(),
                };
                let value = rec.doc.get(field).cloned().unwrap_or(Value::Null);
                sum.add(ScopeChecksum::field_hash(&key, stamp, &value));
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// Removes rows outside this device's villages that have nothing left to send (a
    /// child who moved away). Returns the children removed.
    pub fn evict_out_of_scope(&mut self) -> Result<Vec<crate::apply::LeftChild>> {
        let scopes = self.device_state()?.scopes;
        if scopes.is_empty() {
            return Ok(vec![]);
        }
        let tx = self.begin()?;
        let n = crate::apply::evict_out_of_scope(&tx, &scopes)?;
        tx.commit()?;
        Ok(n)
    }

    /// Forgets the records of villages whose copy disagrees with the server's and
    /// rewinds the pull cursor, in one transaction, so the next pull fetches them
    /// afresh. A crash right after cannot leave a village forgotten behind a cursor
    /// that would never fetch it again. Returns how many records were forgotten.
    pub fn forget_scopes_for_refetch(&mut self, scopes: &[&str]) -> Result<usize> {
        let tx = self.begin()?;
        let mut n = 0;
        for scope in scopes {
            n += tx.execute("DELETE FROM record WHERE scope = ?1", [scope])?;
            tx.execute("DELETE FROM roster_entry WHERE scope = ?1", [scope])?;
        }
        tx.execute("UPDATE device SET pull_cursor = 0", [])?;
        tx.commit()?;
        Ok(n)
    }
}
