//! One child's whole file (一人一档): the child, guardians, visits with their photos,
//! care agreements with versions and signatures, referrals, tasks, and the values that
//! lost a merge ("changed by someone else").

use crate::error::{Result, StoreError};
use crate::record::{load_record, records_of_child, StoredRecord};
use crate::store::Store;
use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

/// The file a child's ID number already has on this device (see
/// [`Store::child_with_id_number`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExistingChild {
    pub child_id: Uuid,
    pub name: String,
    pub village: String,
    /// The child has left the roster (the file can be taken back on).
    pub exited: bool,
}

/// The child file (not deleted) whose ID number is `id_number` (stored form), other
/// than `except`. A child's number appears in its row's JSON as typed, so a substring
/// test finds the candidates without parsing every file; each is then read properly.
pub(crate) fn find_child_by_id_number(
    conn: &rusqlite::Connection,
    id_number: &str,
    except: Option<Uuid>,
) -> Result<Option<ExistingChild>> {
    let mut stmt = conn.prepare_cached(
        "SELECT row_id, scope, doc FROM record WHERE tbl = 'child' AND instr(doc, ?1) > 0",
    )?;
    let mut rows = stmt.query([id_number])?;
    while let Some(r) = rows.next()? {
        let (row_id, village, doc): (String, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
        let row_id = Uuid::parse_str(&row_id).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        if Some(row_id) == except {
            continue;
        }
        let doc: Map<String, Value> =
            serde_json::from_str(&doc).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let same = doc.get("id_number").and_then(Value::as_str) == Some(id_number);
        let deleted = doc.get(domain::schema::TOMBSTONE_FIELD) == Some(&Value::Bool(true));
        if same && !deleted {
            return Ok(Some(ExistingChild {
                child_id: row_id,
                name: doc
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                village,
                exited: doc.get("status").and_then(Value::as_str) == Some("exited"),
            }));
        }
    }
    Ok(None)
}

/// One row as shown in a file.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FileRow {
    pub id: Uuid,
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

/// A value another device's write replaced (or that lost to a value held here).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HistoryEntry {
    pub table: String,
    pub row_id: Uuid,
    pub field: String,
    pub value: Value,
    pub device_id: String,
    pub winner_device: String,
    pub noted_at: String,
}

/// 一人一档.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChildFile {
    pub child: FileRow,
    pub village: String,
    pub guardians: Vec<FileRow>,
    pub visits: Vec<FileRow>,
    pub photos: Vec<FileRow>,
    pub agreement_drafts: Vec<FileRow>,
    pub agreement_versions: Vec<FileRow>,
    pub signatures: Vec<FileRow>,
    pub referrals: Vec<FileRow>,
    pub tasks: Vec<FileRow>,
    pub history: Vec<HistoryEntry>,
    /// Changes to this file the server refused, unsettled ones first: shown with their
    /// Chinese reason until the director acknowledges or fixes them.
    pub rejected: Vec<crate::outbox::RejectedChange>,
}

fn row(rec: StoredRecord) -> FileRow {
    FileRow {
        id: rec.row_id,
        fields: rec.doc,
    }
}

impl Store {
    /// The file that already has this ID number (as typed: it is normalised first), if
    /// any: 一人一档, for the app to open it instead of registering the child again.
    pub fn child_with_id_number(&self, typed: &str) -> Result<Option<ExistingChild>> {
        let id = domain::normalize_id_number(typed);
        if id.is_empty() {
            return Ok(None);
        }
        find_child_by_id_number(&self.conn, &id, None)
    }

    /// The whole file of one child. Soft-deleted rows are left out; voided visits stay
    /// (with their `voided` reason), since legal records are never hidden.
    pub fn child_file(&self, child_id: Uuid) -> Result<ChildFile> {
        let child = load_record(&self.conn, "child", child_id)?
            .filter(|c| !c.is_deleted())
            .ok_or_else(|| StoreError::NotFound {
                what: "child",
                id: child_id.to_string(),
            })?;
        let rows = |table: &str| -> Result<Vec<FileRow>> {
            Ok(records_of_child(&self.conn, table, child_id)?
                .into_iter()
                .filter(|r| !r.is_deleted())
                .map(row)
                .collect())
        };
        let mut visits = rows("visit")?;
        visits.sort_by(|a, b| {
            let at = |r: &FileRow| {
                r.fields
                    .get("visited_at")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string()
            };
            at(b).cmp(&at(a))
        });
        let mut stmt = self.conn.prepare(
            "SELECT h.tbl, h.row_id, h.field, h.value, h.device_id, h.winner_device, h.noted_at
             FROM field_history h
             WHERE (h.tbl = 'child' AND h.row_id = ?1)
                OR EXISTS (SELECT 1 FROM record r WHERE r.tbl = h.tbl AND r.row_id = h.row_id AND r.child_id = ?1)
             ORDER BY h.id DESC",
        )?;
        let history = stmt
            .query_map([child_id.to_string()], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                ))
            })?
            .map(|r| {
                let (table, row_id, field, value, device_id, winner_device, noted_at) = r?;
                Ok(HistoryEntry {
                    table,
                    row_id: Uuid::parse_str(&row_id)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    field,
                    value: serde_json::from_str(&value).unwrap_or(Value::Null),
                    device_id,
                    winner_device,
                    noted_at,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let rejected = self.rejected_changes_of_child(child_id)?;
        Ok(ChildFile {
            rejected,
            village: child.scope.clone(),
            child: row(child),
            guardians: rows("guardian")?,
            visits,
            photos: rows("photo")?,
            agreement_drafts: rows("agreement_draft")?,
            agreement_versions: rows("agreement_version")?,
            signatures: rows("signature")?,
            referrals: rows("referral")?,
            tasks: rows("task")?,
            history,
        })
    }
}
