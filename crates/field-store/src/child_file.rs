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

/// A value one device's edit replaced on a row this phone holds, where this phone was
/// one side of it (its value replaced, or its value kept over another phone's), not yet
/// acted on: the director sees it where she looks, restores the replaced value in one
/// tap ([`Store::restore_replaced_value`]) or keeps what is there
/// ([`Store::keep_current_value`]).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReplacedValue {
    /// The noted replacement (`field_history.id`): what the two commands name.
    pub id: i64,
    pub table: String,
    pub row_id: Uuid,
    /// The row's own name (a guardian's), when it has one and is not the child.
    pub row_name: Option<String>,
    pub child_id: Option<Uuid>,
    pub child_name: Option<String>,
    pub field: String,
    /// The value that lost the merge.
    pub replaced: Value,
    /// The replaced value was written on this phone.
    pub replaced_here: bool,
    /// What the row holds now: the value that won, unless the field changed again
    /// since (`changed_since`).
    pub kept: Value,
    /// The value that won was written on this phone.
    pub kept_here: bool,
    /// The field was changed again after the merge: `kept` is the newer value.
    pub changed_since: bool,
    pub noted_at: String,
}

impl Store {
    /// Replacements not yet acted on where this phone was one side, newest first, at
    /// most `limit`. One whose field already holds the replaced value again (restored,
    /// or typed again) is left out: there is nothing to decide.
    pub fn replaced_values(&self, limit: usize) -> Result<Vec<ReplacedValue>> {
        let me = self.device_id().to_string();
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, tbl, row_id, field, value, device_id, winner_hlc, winner_device, noted_at
             FROM field_history
             WHERE settled_at IS NULL AND (device_id = ?1 OR winner_device = ?1)
             ORDER BY id DESC",
        )?;
        let mut rows = stmt.query([&me])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            if out.len() >= limit {
                break;
            }
            let (id, table, row_id, field): (i64, String, String, String) =
                (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
            let (value, device, winner_hlc, winner): (String, String, i64, String) =
                (r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?);
            let noted_at: String = r.get(8)?;
            let row_id =
                Uuid::parse_str(&row_id).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let Some(rec) = load_record(&self.conn, &table, row_id)?.filter(|r| !r.is_deleted())
            else {
                continue;
            };
            let replaced: Value = serde_json::from_str(&value).unwrap_or(Value::Null);
            let kept = rec.doc.get(&field).cloned().unwrap_or(Value::Null);
            if kept == replaced {
                continue;
            }
            let changed_since = rec.clocks.get(&field).is_none_or(|s| {
                s.hlc.as_u64() as i64 != winner_hlc || s.device_id.to_string() != winner
            });
            let child_id = if table == "child" {
                Some(row_id)
            } else {
                rec.child_id
            };
            let child_name = match child_id {
                Some(c) if c == row_id => rec.text("name").map(str::to_string),
                Some(c) => crate::record::load_values(&self.conn, "child", c)?
                    .and_then(|c| c.text("name").map(str::to_string)),
                None => None,
            };
            out.push(ReplacedValue {
                id,
                row_name: (table != "child")
                    .then(|| rec.text("name").map(str::to_string))
                    .flatten(),
                table,
                row_id,
                child_id,
                child_name,
                field,
                replaced,
                replaced_here: device == me,
                kept,
                kept_here: !changed_since && winner == me,
                changed_since,
                noted_at,
            });
        }
        Ok(out)
    }

    /// Puts the replaced value back: a new edit of the field, through the change log
    /// like any other (it syncs, and wins over the value it replaces by being later).
    /// The replacement is then settled.
    /// Returns the row and how many fields changed.
    pub fn restore_replaced_value(&mut self, id: i64) -> Result<(Uuid, usize)> {
        let (table, row_id, field, value) = self.replacement(id)?;
        let mut f = Map::new();
        f.insert(field, value);
        let n = self.edit_record(&table, row_id, f)?;
        self.keep_current_value(id)?;
        Ok((row_id, n))
    }

    /// The director keeps what the row holds now: the replacement is no longer shown
    /// to her (the child's file still lists it).
    pub fn keep_current_value(&mut self, id: i64) -> Result<()> {
        self.replacement(id)?;
        let now = self.now_utc_rfc3339();
        self.conn.execute(
            "UPDATE field_history SET settled_at = ?2 WHERE id = ?1 AND settled_at IS NULL",
            rusqlite::params![id, now],
        )?;
        Ok(())
    }

    fn replacement(&self, id: i64) -> Result<(String, Uuid, String, Value)> {
        use rusqlite::OptionalExtension;
        let found = self
            .conn
            .query_row(
                "SELECT tbl, row_id, field, value FROM field_history WHERE id = ?1",
                [id],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                    ))
                },
            )
            .optional()?;
        let (table, row_id, field, value) = found.ok_or_else(|| StoreError::NotFound {
            what: "replaced value",
            id: id.to_string(),
        })?;
        let row_id = Uuid::parse_str(&row_id).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok((
            table,
            row_id,
            field,
            serde_json::from_str(&value).unwrap_or(Value::Null),
        ))
    }
}
