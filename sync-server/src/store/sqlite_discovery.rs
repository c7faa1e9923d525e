//! [`DiscoveryStore`] on SQLite: SQL only, no decisions (see `store/discovery.rs`).

use super::discovery::{DiscoveryStore, FindingRecord, ImportRecord, StandardLine, TaskState};
use super::discovery::{ListKind, RosterChild, RosterGuardian};
use super::sqlite::SqliteDatabase;
use crate::error::StoreError;
use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

fn uuid(bytes: Vec<u8>) -> Result<Uuid, StoreError> {
    Uuid::from_slice(&bytes).map_err(|e| StoreError::Corrupt(format!("uuid: {e}")))
}

fn opt_uuid(bytes: Option<Vec<u8>>) -> Result<Option<Uuid>, StoreError> {
    bytes.map(uuid).transpose()
}

/// A field winner's stored JSON text as a string (None for null or not text).
fn json_text(value: &str) -> Option<String> {
    match serde_json::from_str::<serde_json::Value>(value) {
        Ok(serde_json::Value::String(s)) => Some(s),
        _ => None,
    }
}

const IMPORT_COLUMNS: &str = "import_id, list_kind, list_month, area, account_id, rows_read, minors, on_roster, findings, new_tasks, queued, invalid_rows, no_village, duplicates, replica_device, at_ms";

fn import_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Vec<u8>, ImportRecord, Option<Vec<u8>>)> {
    Ok((
        r.get(0)?,
        ImportRecord {
            import_id: Uuid::nil(),
            list_kind: r.get(1)?,
            list_month: r.get(2)?,
            area: r.get(3)?,
            account_id: r.get(4)?,
            rows_read: r.get(5)?,
            minors: r.get(6)?,
            on_roster: r.get(7)?,
            findings: r.get(8)?,
            new_tasks: r.get(9)?,
            queued: r.get(10)?,
            invalid_rows: r.get(11)?,
            no_village: r.get(12)?,
            duplicates: r.get(13)?,
            replica_device: None,
            at_ms: r.get(15)?,
        },
        r.get(14)?,
    ))
}

const FINDING_COLUMNS: &str = "finding_id, task_id, list_kind, list_month, last_month, finding, county, village, child_id, import_id, details, place_text, created_ms";

type RawFinding = (
    Vec<u8>,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Vec<u8>,
    FindingRecord,
);

fn finding_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawFinding> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(8)?,
        r.get(9)?,
        FindingRecord {
            finding_id: Uuid::nil(),
            task_id: None,
            list_kind: r.get(2)?,
            list_month: r.get(3)?,
            last_month: r.get(4)?,
            finding: r.get(5)?,
            county: r.get(6)?,
            village: r.get(7)?,
            child_id: None,
            import_id: Uuid::nil(),
            details: r.get(10)?,
            place_text: r.get(11)?,
            created_ms: r.get(12)?,
        },
    ))
}

fn finish_finding(raw: RawFinding) -> Result<FindingRecord, StoreError> {
    let (id, task, child, import, mut f) = raw;
    f.finding_id = uuid(id)?;
    f.task_id = opt_uuid(task)?;
    f.child_id = opt_uuid(child)?;
    f.import_id = uuid(import)?;
    Ok(f)
}

fn in_list(n: usize) -> String {
    vec!["?"; n].join(",")
}

fn task_states(conn: &Connection, ids: &[Uuid]) -> Result<HashMap<Uuid, TaskState>, StoreError> {
    let mut out: HashMap<Uuid, TaskState> = HashMap::new();
    for chunk in ids.chunks(500) {
        let sql = format!(
            "SELECT row_id, field, value FROM fields WHERE table_name='task' AND field IN ('village_code','done_on','outcome','due_on','title') AND row_id IN ({})",
            in_list(chunk.len())
        );
        let mut st = conn.prepare_cached(&sql)?;
        let keys: Vec<Vec<u8>> = chunk.iter().map(|u| u.as_bytes().to_vec()).collect();
        let rows = st.query_map(rusqlite::params_from_iter(keys.iter()), |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        for row in rows {
            let (id, field, value) = row?;
            let s = out.entry(uuid(id)?).or_default();
            let v = json_text(&value);
            match field.as_str() {
                "village_code" => s.village = v,
                "done_on" => s.done_on = v,
                "outcome" => s.outcome = v,
                "due_on" => s.due_on = v,
                "title" => s.title = v,
                _ => {}
            }
        }
    }
    Ok(out)
}

#[async_trait]
impl DiscoveryStore for SqliteDatabase {
    async fn list_kinds(&self) -> Result<Vec<ListKind>, StoreError> {
        self.read(|conn| {
            let mut st = conn.prepare_cached(
                "SELECT code, name, meaning, due_days, county FROM discovery_list_kinds ORDER BY created_ms, code",
            )?;
            let rows = st.query_map([], |r| {
                Ok(ListKind {
                    code: r.get(0)?,
                    name: r.get(1)?,
                    meaning: r.get(2)?,
                    due_days: r.get(3)?,
                    county: r.get(4)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn add_list_kind(&self, kind: ListKind, now_ms: i64) -> Result<bool, StoreError> {
        self.write(move |conn| {
            let n = conn.execute(
                "INSERT INTO discovery_list_kinds (code, name, meaning, due_days, county, created_ms) VALUES (?,?,?,?,?,?) ON CONFLICT (code) DO NOTHING",
                params![kind.code, kind.name, kind.meaning, kind.due_days, kind.county, now_ms],
            )?;
            Ok(n == 1)
        })
        .await
    }

    async fn discovery_key(&self, fresh: [u8; 32]) -> Result<Vec<u8>, StoreError> {
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO discovery_secret (id, key) VALUES (1, ?) ON CONFLICT (id) DO NOTHING",
                [fresh.as_slice()],
            )?;
            Ok(
                conn.query_row("SELECT key FROM discovery_secret WHERE id=1", [], |r| {
                    r.get(0)
                })?,
            )
        })
        .await
    }

    async fn roster_for_matching(
        &self,
    ) -> Result<(Vec<RosterChild>, Vec<RosterGuardian>), StoreError> {
        self.read(|conn| {
            let mut st = conn.prepare(
                "SELECT r.table_name, r.row_id, r.scope, f.field, f.value FROM rows r
                 JOIN fields f ON f.table_name=r.table_name AND f.row_id=r.row_id
                 WHERE r.table_name IN ('child','guardian')
                   AND f.field IN ('name','id_number','status','deleted','role','child_id')",
            )?;
            let mut children: HashMap<Uuid, (RosterChild, bool)> = HashMap::new();
            let mut guardians: HashMap<
                Uuid,
                (Option<String>, Option<String>, Option<String>, bool),
            > = HashMap::new();
            let rows = st.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                ))
            })?;
            for row in rows {
                let (table, id, scope, field, value) = row?;
                let id = uuid(id)?;
                if table == "child" {
                    let (c, deleted) = children.entry(id).or_insert_with(|| {
                        (
                            RosterChild {
                                child_id: id,
                                village: scope.clone(),
                                name: String::new(),
                                id_number: None,
                                active: true,
                            },
                            false,
                        )
                    });
                    match field.as_str() {
                        "name" => c.name = json_text(&value).unwrap_or_default(),
                        "id_number" => c.id_number = json_text(&value).filter(|s| !s.is_empty()),
                        "status" => c.active = json_text(&value).as_deref() != Some("exited"),
                        "deleted" => *deleted = value == "true",
                        _ => {}
                    }
                } else {
                    let g = guardians.entry(id).or_default();
                    match field.as_str() {
                        "child_id" => g.0 = json_text(&value),
                        "id_number" => g.1 = json_text(&value).filter(|s| !s.is_empty()),
                        "role" => g.2 = json_text(&value),
                        "deleted" => g.3 = value == "true",
                        _ => {}
                    }
                }
            }
            let children: Vec<RosterChild> = children
                .into_values()
                .filter(|(_, deleted)| !deleted)
                .map(|(c, _)| c)
                .collect();
            let guardians = guardians
                .into_iter()
                .filter_map(|(id, (child, number, role, deleted))| {
                    Some(RosterGuardian {
                        guardian_id: id,
                        child_id: Uuid::parse_str(&child?).ok()?,
                        id_number: number?,
                        role: role.unwrap_or_default(),
                    })
                    .filter(|_| !deleted)
                })
                .collect();
            Ok((children, guardians))
        })
        .await
    }

    async fn previous_listed(
        &self,
        list_kind: &str,
        area: &str,
        month: &str,
    ) -> Result<Option<(String, HashSet<Uuid>)>, StoreError> {
        let (kind, area, month) = (list_kind.to_string(), area.to_string(), month.to_string());
        self.read(move |conn| {
            let prev: Option<String> = conn
                .query_row(
                    "SELECT max(list_month) FROM discovery_imports WHERE list_kind=? AND area=? AND list_month<?",
                    params![kind, area, month],
                    |r| r.get(0),
                )
                .optional()?
                .flatten();
            let Some(prev) = prev else { return Ok(None) };
            let mut st = conn.prepare_cached(
                "SELECT child_id FROM discovery_listed_children WHERE list_kind=? AND list_month=?",
            )?;
            let ids = st
                .query_map(params![kind, prev], |r| r.get::<_, Vec<u8>>(0))?
                .map(|b| uuid(b?))
                .collect::<Result<HashSet<_>, _>>()?;
            Ok(Some((prev, ids)))
        })
        .await
    }

    async fn known_findings(&self, finding_ids: &[Uuid]) -> Result<HashSet<Uuid>, StoreError> {
        let ids = finding_ids.to_vec();
        self.read(move |conn| {
            let mut out = HashSet::new();
            let mut st =
                conn.prepare_cached("SELECT 1 FROM discovery_findings WHERE finding_id=?")?;
            for id in ids {
                if st.exists([id.as_bytes().as_slice()])? {
                    out.insert(id);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn existing_tasks(&self, task_ids: &[Uuid]) -> Result<HashSet<Uuid>, StoreError> {
        let ids = task_ids.to_vec();
        self.read(move |conn| {
            let mut out = HashSet::new();
            let mut st =
                conn.prepare_cached("SELECT 1 FROM rows WHERE table_name='task' AND row_id=?")?;
            for id in ids {
                if st.exists([id.as_bytes().as_slice()])? {
                    out.insert(id);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn record_import(
        &self,
        import: ImportRecord,
        findings: Vec<FindingRecord>,
        listed_children: Vec<Uuid>,
    ) -> Result<(), StoreError> {
        self.write(move |conn| {
            conn.execute(
                &format!("INSERT INTO discovery_imports ({IMPORT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"),
                params![
                    import.import_id.as_bytes().as_slice(),
                    import.list_kind,
                    import.list_month,
                    import.area,
                    import.account_id,
                    import.rows_read,
                    import.minors,
                    import.on_roster,
                    import.findings,
                    import.new_tasks,
                    import.queued,
                    import.invalid_rows,
                    import.no_village,
                    import.duplicates,
                    import.replica_device.as_ref().map(|d| d.as_bytes().to_vec()),
                    import.at_ms
                ],
            )?;
            let mut st = conn.prepare_cached(&format!(
                "INSERT INTO discovery_findings ({FINDING_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)
                 ON CONFLICT (finding_id) DO UPDATE SET last_month = max(last_month, excluded.last_month)"
            ))?;
            for f in &findings {
                st.execute(params![
                    f.finding_id.as_bytes().as_slice(),
                    f.task_id.as_ref().map(|t| t.as_bytes().to_vec()),
                    f.list_kind,
                    f.list_month,
                    f.last_month,
                    f.finding,
                    f.county,
                    f.village,
                    f.child_id.as_ref().map(|c| c.as_bytes().to_vec()),
                    f.import_id.as_bytes().as_slice(),
                    f.details,
                    f.place_text,
                    f.created_ms
                ])?;
            }
            let mut st = conn.prepare_cached(
                "INSERT INTO discovery_listed_children (list_kind, list_month, child_id) VALUES (?,?,?) ON CONFLICT DO NOTHING",
            )?;
            for c in &listed_children {
                st.execute(params![import.list_kind, import.list_month, c.as_bytes().as_slice()])?;
            }
            Ok(())
        })
        .await
    }

    async fn imports(&self, areas: &[String]) -> Result<Vec<ImportRecord>, StoreError> {
        let areas = areas.to_vec();
        self.read(move |conn| {
            let sql = format!(
                "SELECT {IMPORT_COLUMNS} FROM discovery_imports WHERE area IN ({}) ORDER BY at_ms DESC",
                in_list(areas.len().max(1))
            );
            let mut st = conn.prepare(&sql)?;
            let areas = if areas.is_empty() { vec![String::new()] } else { areas };
            let rows = st.query_map(rusqlite::params_from_iter(areas.iter()), import_of)?;
            let mut out = Vec::new();
            for r in rows {
                let (id, mut rec, device) = r?;
                rec.import_id = uuid(id)?;
                rec.replica_device = opt_uuid(device)?;
                out.push(rec);
            }
            Ok(out)
        })
        .await
    }

    async fn findings(
        &self,
        areas: &[String],
        month: Option<&str>,
    ) -> Result<Vec<FindingRecord>, StoreError> {
        let areas = areas.to_vec();
        let month = month.map(str::to_string);
        self.read(move |conn| {
            let sql = format!(
                "SELECT {FINDING_COLUMNS} FROM discovery_findings WHERE county IN ({}) AND (?1 IS NULL OR list_month=?1 OR last_month=?1) ORDER BY created_ms, finding_id",
                (0..areas.len().max(1)).map(|i| format!("?{}", i + 2)).collect::<Vec<_>>().join(",")
            );
            let mut st = conn.prepare(&sql)?;
            let mut values: Vec<rusqlite::types::Value> = vec![month.clone().into()];
            if areas.is_empty() {
                values.push(String::new().into());
            }
            values.extend(areas.iter().map(|a| a.clone().into()));
            let rows = st.query_map(rusqlite::params_from_iter(values.iter()), finding_of)?;
            rows.map(|r| finish_finding(r?)).collect()
        })
        .await
    }

    async fn findings_since(
        &self,
        areas: &[String],
        since_month: &str,
    ) -> Result<Vec<FindingRecord>, StoreError> {
        let areas = areas.to_vec();
        let since = since_month.to_string();
        self.read(move |conn| {
            let sql = format!(
                "SELECT {FINDING_COLUMNS} FROM discovery_findings WHERE county IN ({}) AND list_month >= ?1 ORDER BY created_ms, finding_id",
                (0..areas.len().max(1)).map(|i| format!("?{}", i + 2)).collect::<Vec<_>>().join(",")
            );
            let mut st = conn.prepare(&sql)?;
            let mut values: Vec<rusqlite::types::Value> = vec![since.clone().into()];
            if areas.is_empty() {
                values.push(String::new().into());
            }
            values.extend(areas.iter().map(|a| a.clone().into()));
            let rows = st.query_map(rusqlite::params_from_iter(values.iter()), finding_of)?;
            rows.map(|r| finish_finding(r?)).collect()
        })
        .await
    }

    async fn finding(&self, finding_id: Uuid) -> Result<Option<FindingRecord>, StoreError> {
        self.read(move |conn| {
            let raw = conn
                .query_row(
                    &format!("SELECT {FINDING_COLUMNS} FROM discovery_findings WHERE finding_id=?"),
                    [finding_id.as_bytes().as_slice()],
                    finding_of,
                )
                .optional()?;
            raw.map(finish_finding).transpose()
        })
        .await
    }

    async fn assign_finding(
        &self,
        finding_id: Uuid,
        village: &str,
        task_id: Uuid,
    ) -> Result<bool, StoreError> {
        let village = village.to_string();
        self.write(move |conn| {
            let n = conn.execute(
                "UPDATE discovery_findings SET village=?, task_id=?, details=NULL WHERE finding_id=? AND village IS NULL",
                params![village, task_id.as_bytes().as_slice(), finding_id.as_bytes().as_slice()],
            )?;
            Ok(n == 1)
        })
        .await
    }

    async fn release_finding(
        &self,
        finding_id: Uuid,
        task_id: Uuid,
        details: String,
    ) -> Result<(), StoreError> {
        self.write(move |conn| {
            conn.execute(
                "UPDATE discovery_findings SET village=NULL, task_id=NULL, details=? WHERE finding_id=? AND task_id=?",
                params![details, finding_id.as_bytes().as_slice(), task_id.as_bytes().as_slice()],
            )?;
            Ok(())
        })
        .await
    }

    async fn task_states(&self, task_ids: &[Uuid]) -> Result<HashMap<Uuid, TaskState>, StoreError> {
        let ids = task_ids.to_vec();
        self.read(move |conn| task_states(conn, &ids)).await
    }

    async fn server_account(&self) -> Result<i64, StoreError> {
        self.write(|conn| {
            conn.execute(
                "INSERT INTO accounts (login, name, role, place) VALUES (?, ?, 'server', NULL) ON CONFLICT (login) DO NOTHING",
                params![crate::model::SERVER_LOGIN, crate::model::SERVER_NAME],
            )?;
            Ok(conn.query_row(
                "SELECT id FROM accounts WHERE login=? AND role='server'",
                [crate::model::SERVER_LOGIN],
                |r| r.get(0),
            )?)
        })
        .await
    }

    async fn add_replica_device(
        &self,
        device_id: Uuid,
        account_id: i64,
        name: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let name = name.to_string();
        // The token hash is random: no token anyone holds reaches this device.
        let token_hash: [u8; 32] = rand::random();
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO devices (device_id, account_id, name, app_version, token_hash, enrolled_ms) VALUES (?,?,?,?,?,?) ON CONFLICT (device_id) DO NOTHING",
                params![device_id.as_bytes().as_slice(), account_id, name, "server", token_hash.as_slice(), now_ms],
            )?;
            Ok(())
        })
        .await
    }

    async fn replica_seq(&self, device_id: Uuid) -> Result<u64, StoreError> {
        self.read(move |conn| {
            let n: Option<i64> = conn
                .query_row(
                    "SELECT max_device_seq FROM devices WHERE device_id=?",
                    [device_id.as_bytes().as_slice()],
                    |r| r.get(0),
                )
                .optional()?;
            Ok(n.unwrap_or(0) as u64)
        })
        .await
    }

    async fn care_standards(&self) -> Result<Vec<StandardLine>, StoreError> {
        self.read(|conn| {
            let mut st = conn.prepare_cached(
                "SELECT id, category, yuan, effective_from, created_ms FROM care_standards ORDER BY effective_from, category",
            )?;
            let rows = st.query_map([], |r| {
                Ok(StandardLine {
                    id: r.get(0)?,
                    category: r.get(1)?,
                    yuan: r.get(2)?,
                    effective_from: r.get(3)?,
                    created_ms: r.get(4)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn set_care_standard(
        &self,
        category: &str,
        yuan: i64,
        effective_from: &str,
        account_id: i64,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let (category, from) = (category.to_string(), effective_from.to_string());
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO care_standards (category, yuan, effective_from, account_id, created_ms) VALUES (?,?,?,?,?)
                 ON CONFLICT (category, effective_from) DO UPDATE SET yuan=excluded.yuan, account_id=excluded.account_id, created_ms=excluded.created_ms",
                params![category, yuan, from, account_id, now_ms],
            )?;
            Ok(())
        })
        .await
    }
}
