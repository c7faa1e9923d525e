//! [`DiscoveryStore`] on PostgreSQL: SQL only, no decisions (see `store/discovery.rs`).

use super::discovery::{DiscoveryStore, FindingRecord, ImportRecord, StandardLine, TaskState};
use super::discovery::{ListKind, RosterChild, RosterGuardian};
use super::postgres::PostgresDatabase;
use crate::error::StoreError;
use async_trait::async_trait;
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

fn json_text(value: &str) -> Option<String> {
    match serde_json::from_str::<serde_json::Value>(value) {
        Ok(serde_json::Value::String(s)) => Some(s),
        _ => None,
    }
}

const IMPORT_COLUMNS: &str = "import_id, list_kind, list_month, area, account_id, rows_read, minors, on_roster, findings, new_tasks, queued, invalid_rows, no_village, duplicates, replica_device, at_ms";

fn import_of(r: &tokio_postgres::Row) -> ImportRecord {
    ImportRecord {
        import_id: r.get(0),
        list_kind: r.get(1),
        list_month: r.get(2),
        area: r.get(3),
        account_id: r.get(4),
        rows_read: r.get(5),
        minors: r.get(6),
        on_roster: r.get(7),
        findings: r.get(8),
        new_tasks: r.get(9),
        queued: r.get(10),
        invalid_rows: r.get(11),
        no_village: r.get(12),
        duplicates: r.get(13),
        replica_device: r.get(14),
        at_ms: r.get(15),
    }
}

/// Findings written by one statement of [`DiscoveryStore::record_import`].
const FINDINGS_PER_STATEMENT: usize = 4_000;
const FINDING_COLUMNS: &str = "finding_id, task_id, list_kind, list_month, last_month, finding, county, village, child_id, import_id, details, place_text, created_ms";

fn finding_of(r: &tokio_postgres::Row) -> FindingRecord {
    FindingRecord {
        finding_id: r.get(0),
        task_id: r.get(1),
        list_kind: r.get(2),
        list_month: r.get(3),
        last_month: r.get(4),
        finding: r.get(5),
        county: r.get(6),
        village: r.get(7),
        child_id: r.get(8),
        import_id: r.get(9),
        details: r.get(10),
        place_text: r.get(11),
        created_ms: r.get(12),
    }
}

#[async_trait]
impl DiscoveryStore for PostgresDatabase {
    async fn list_kinds(&self) -> Result<Vec<ListKind>, StoreError> {
        let c = self.pool.get().await?;
        let rows = c
            .query(
                "SELECT code, name, meaning, due_days, county FROM discovery_list_kinds ORDER BY created_ms, code",
                &[],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| ListKind {
                code: r.get(0),
                name: r.get(1),
                meaning: r.get(2),
                due_days: r.get(3),
                county: r.get(4),
            })
            .collect())
    }

    async fn add_list_kind(&self, kind: ListKind, now_ms: i64) -> Result<bool, StoreError> {
        let c = self.pool.get().await?;
        let n = c
            .execute(
                "INSERT INTO discovery_list_kinds (code, name, meaning, due_days, county, created_ms) VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT (code) DO NOTHING",
                &[&kind.code, &kind.name, &kind.meaning, &kind.due_days, &kind.county, &now_ms],
            )
            .await?;
        Ok(n == 1)
    }

    async fn discovery_key(&self, fresh: [u8; 32]) -> Result<Vec<u8>, StoreError> {
        let c = self.pool.get().await?;
        c.execute(
            "INSERT INTO discovery_secret (id, key) VALUES (1, $1) ON CONFLICT (id) DO NOTHING",
            &[&fresh.as_slice()],
        )
        .await?;
        Ok(
            c.query_one("SELECT key FROM discovery_secret WHERE id=1", &[])
                .await?
                .get(0),
        )
    }

    async fn roster_for_matching(
        &self,
    ) -> Result<(Vec<RosterChild>, Vec<RosterGuardian>), StoreError> {
        let c = self.pool.get().await?;
        let rows = c
            .query(
                "SELECT r.table_name, r.row_id, r.scope, f.field, f.value FROM rows r
                 JOIN fields f ON f.table_name=r.table_name AND f.row_id=r.row_id
                 WHERE r.table_name IN ('child','guardian')
                   AND f.field IN ('name','id_number','status','deleted','role','child_id')",
                &[],
            )
            .await?;
        let mut children: HashMap<Uuid, (RosterChild, bool)> = HashMap::new();
        let mut guardians: HashMap<Uuid, (Option<String>, Option<String>, Option<String>, bool)> =
            HashMap::new();
        for r in &rows {
            let (table, id, scope, field, value): (&str, Uuid, &str, &str, &str) =
                (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4));
            if table == "child" {
                let (ch, deleted) = children.entry(id).or_insert_with(|| {
                    (
                        RosterChild {
                            child_id: id,
                            village: scope.to_string(),
                            name: String::new(),
                            id_number: None,
                            active: true,
                        },
                        false,
                    )
                });
                match field {
                    "name" => ch.name = json_text(value).unwrap_or_default(),
                    "id_number" => ch.id_number = json_text(value).filter(|s| !s.is_empty()),
                    "status" => ch.active = json_text(value).as_deref() != Some("exited"),
                    "deleted" => *deleted = value == "true",
                    _ => {}
                }
            } else {
                let g = guardians.entry(id).or_default();
                match field {
                    "child_id" => g.0 = json_text(value),
                    "id_number" => g.1 = json_text(value).filter(|s| !s.is_empty()),
                    "role" => g.2 = json_text(value),
                    "deleted" => g.3 = value == "true",
                    _ => {}
                }
            }
        }
        let children = children
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
    }

    async fn previous_listed(
        &self,
        list_kind: &str,
        area: &str,
        month: &str,
    ) -> Result<Option<(String, HashSet<Uuid>)>, StoreError> {
        let c = self.pool.get().await?;
        let prev: Option<String> = c
            .query_one(
                "SELECT max(list_month) FROM discovery_imports WHERE list_kind=$1 AND area=$2 AND list_month<$3",
                &[&list_kind, &area, &month],
            )
            .await?
            .get(0);
        let Some(prev) = prev else { return Ok(None) };
        let rows = c
            .query(
                "SELECT child_id FROM discovery_listed_children WHERE list_kind=$1 AND list_month=$2",
                &[&list_kind, &prev],
            )
            .await?;
        Ok(Some((prev, rows.iter().map(|r| r.get(0)).collect())))
    }

    async fn known_findings(&self, finding_ids: &[Uuid]) -> Result<HashSet<Uuid>, StoreError> {
        let c = self.pool.get().await?;
        let rows = c
            .query(
                "SELECT finding_id FROM discovery_findings WHERE finding_id = ANY($1)",
                &[&finding_ids],
            )
            .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn existing_tasks(&self, task_ids: &[Uuid]) -> Result<HashSet<Uuid>, StoreError> {
        let c = self.pool.get().await?;
        let rows = c
            .query(
                "SELECT row_id FROM rows WHERE table_name='task' AND row_id = ANY($1)",
                &[&task_ids],
            )
            .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn record_import(
        &self,
        import: ImportRecord,
        findings: Vec<FindingRecord>,
        listed_children: Vec<Uuid>,
    ) -> Result<(), StoreError> {
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        tx.execute(
            &format!("INSERT INTO discovery_imports ({IMPORT_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16)"),
            &[
                &import.import_id,
                &import.list_kind,
                &import.list_month,
                &import.area,
                &import.account_id,
                &import.rows_read,
                &import.minors,
                &import.on_roster,
                &import.findings,
                &import.new_tasks,
                &import.queued,
                &import.invalid_rows,
                &import.no_village,
                &import.duplicates,
                &import.replica_device,
                &import.at_ms,
            ],
        )
        .await?;
        // A city's first import holds tens of thousands of findings: written a few
        // thousand at a time as arrays (one round trip each), not one statement per
        // finding. A finding id appears once per statement (ON CONFLICT DO UPDATE may
        // not touch a row twice): its first record, as row by row kept it (the records
        // of one import all carry the same month).
        let mut seen = HashSet::with_capacity(findings.len());
        let findings: Vec<&FindingRecord> = findings
            .iter()
            .filter(|f| seen.insert(f.finding_id))
            .collect();
        let st = tx
            .prepare(&format!(
                "INSERT INTO discovery_findings ({FINDING_COLUMNS})
                 SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::uuid[], $10::uuid[], $11::text[], $12::text[], $13::bigint[])
                 ON CONFLICT (finding_id) DO UPDATE SET last_month = GREATEST(discovery_findings.last_month, excluded.last_month)"
            ))
            .await?;
        for chunk in findings.chunks(FINDINGS_PER_STATEMENT) {
            let finding_id: Vec<Uuid> = chunk.iter().map(|f| f.finding_id).collect();
            let task_id: Vec<Option<Uuid>> = chunk.iter().map(|f| f.task_id).collect();
            let list_kind: Vec<&str> = chunk.iter().map(|f| f.list_kind.as_str()).collect();
            let list_month: Vec<&str> = chunk.iter().map(|f| f.list_month.as_str()).collect();
            let last_month: Vec<&str> = chunk.iter().map(|f| f.last_month.as_str()).collect();
            let finding: Vec<&str> = chunk.iter().map(|f| f.finding.as_str()).collect();
            let county: Vec<&str> = chunk.iter().map(|f| f.county.as_str()).collect();
            let village: Vec<Option<&str>> = chunk.iter().map(|f| f.village.as_deref()).collect();
            let child_id: Vec<Option<Uuid>> = chunk.iter().map(|f| f.child_id).collect();
            let import_id: Vec<Uuid> = chunk.iter().map(|f| f.import_id).collect();
            let details: Vec<Option<&str>> = chunk.iter().map(|f| f.details.as_deref()).collect();
            let place_text: Vec<Option<&str>> =
                chunk.iter().map(|f| f.place_text.as_deref()).collect();
            let created_ms: Vec<i64> = chunk.iter().map(|f| f.created_ms).collect();
            tx.execute(
                &st,
                &[
                    &finding_id,
                    &task_id,
                    &list_kind,
                    &list_month,
                    &last_month,
                    &finding,
                    &county,
                    &village,
                    &child_id,
                    &import_id,
                    &details,
                    &place_text,
                    &created_ms,
                ],
            )
            .await?;
        }
        tx.execute(
            "INSERT INTO discovery_listed_children (list_kind, list_month, child_id)
             SELECT $1, $2, unnest($3::uuid[]) ON CONFLICT DO NOTHING",
            &[&import.list_kind, &import.list_month, &listed_children],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn imports(&self, areas: &[String]) -> Result<Vec<ImportRecord>, StoreError> {
        let c = self.pool.get().await?;
        let rows = c
            .query(
                &format!("SELECT {IMPORT_COLUMNS} FROM discovery_imports WHERE area = ANY($1) ORDER BY at_ms DESC"),
                &[&areas],
            )
            .await?;
        Ok(rows.iter().map(import_of).collect())
    }

    async fn findings(
        &self,
        areas: &[String],
        month: Option<&str>,
    ) -> Result<Vec<FindingRecord>, StoreError> {
        let c = self.pool.get().await?;
        let rows = c
            .query(
                &format!("SELECT {FINDING_COLUMNS} FROM discovery_findings WHERE county = ANY($1) AND ($2::text IS NULL OR list_month=$2 OR last_month=$2) ORDER BY created_ms, finding_id"),
                &[&areas, &month],
            )
            .await?;
        Ok(rows.iter().map(finding_of).collect())
    }

    async fn findings_since(
        &self,
        areas: &[String],
        since_month: &str,
    ) -> Result<Vec<FindingRecord>, StoreError> {
        let c = self.pool.get().await?;
        let rows = c
            .query(
                &format!("SELECT {FINDING_COLUMNS} FROM discovery_findings WHERE county = ANY($1) AND list_month >= $2 ORDER BY created_ms, finding_id"),
                &[&areas, &since_month],
            )
            .await?;
        Ok(rows.iter().map(finding_of).collect())
    }

    async fn finding(&self, finding_id: Uuid) -> Result<Option<FindingRecord>, StoreError> {
        let c = self.pool.get().await?;
        Ok(c.query_opt(
            &format!("SELECT {FINDING_COLUMNS} FROM discovery_findings WHERE finding_id=$1"),
            &[&finding_id],
        )
        .await?
        .as_ref()
        .map(finding_of))
    }

    async fn assign_finding(
        &self,
        finding_id: Uuid,
        village: &str,
        task_id: Uuid,
    ) -> Result<bool, StoreError> {
        let c = self.pool.get().await?;
        let n = c
            .execute(
                "UPDATE discovery_findings SET village=$1, task_id=$2, details=NULL WHERE finding_id=$3 AND village IS NULL",
                &[&village, &task_id, &finding_id],
            )
            .await?;
        Ok(n == 1)
    }

    async fn release_finding(
        &self,
        finding_id: Uuid,
        task_id: Uuid,
        details: String,
    ) -> Result<(), StoreError> {
        let c = self.pool.get().await?;
        c.execute(
            "UPDATE discovery_findings SET village=NULL, task_id=NULL, details=$1 WHERE finding_id=$2 AND task_id=$3",
            &[&details, &finding_id, &task_id],
        )
        .await?;
        Ok(())
    }

    async fn task_states(&self, task_ids: &[Uuid]) -> Result<HashMap<Uuid, TaskState>, StoreError> {
        let c = self.pool.get().await?;
        let rows = c
            .query(
                "SELECT row_id, field, value FROM fields WHERE table_name='task' AND field IN ('village_code','done_on','outcome','due_on','title') AND row_id = ANY($1)",
                &[&task_ids],
            )
            .await?;
        let mut out: HashMap<Uuid, TaskState> = HashMap::new();
        for r in &rows {
            let (id, field, value): (Uuid, &str, &str) = (r.get(0), r.get(1), r.get(2));
            let s = out.entry(id).or_default();
            let v = json_text(value);
            match field {
                "village_code" => s.village = v,
                "done_on" => s.done_on = v,
                "outcome" => s.outcome = v,
                "due_on" => s.due_on = v,
                "title" => s.title = v,
                _ => {}
            }
        }
        Ok(out)
    }

    async fn server_account(&self) -> Result<i64, StoreError> {
        let c = self.pool.get().await?;
        c.execute(
            "INSERT INTO accounts (login, name, role, place) VALUES ($1, $2, 'server', NULL) ON CONFLICT (login) DO NOTHING",
            &[&crate::model::SERVER_LOGIN, &crate::model::SERVER_NAME],
        )
        .await?;
        Ok(c.query_one(
            "SELECT id FROM accounts WHERE login=$1 AND role='server'",
            &[&crate::model::SERVER_LOGIN],
        )
        .await?
        .get(0))
    }

    async fn add_replica_device(
        &self,
        device_id: Uuid,
        account_id: i64,
        name: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let token_hash: [u8; 32] = rand::random();
        let c = self.pool.get().await?;
        c.execute(
            "INSERT INTO devices (device_id, account_id, name, app_version, token_hash, enrolled_ms) VALUES ($1,$2,$3,'server',$4,$5) ON CONFLICT (device_id) DO NOTHING",
            &[&device_id, &account_id, &name, &token_hash.as_slice(), &now_ms],
        )
        .await?;
        Ok(())
    }

    async fn replica_seq(&self, device_id: Uuid) -> Result<u64, StoreError> {
        let c = self.pool.get().await?;
        let n: Option<i64> = c
            .query_opt(
                "SELECT max_device_seq FROM devices WHERE device_id=$1",
                &[&device_id],
            )
            .await?
            .map(|r| r.get(0));
        Ok(n.unwrap_or(0) as u64)
    }

    async fn care_standards(&self) -> Result<Vec<StandardLine>, StoreError> {
        let c = self.pool.get().await?;
        let rows = c
            .query(
                "SELECT id, category, yuan, effective_from, created_ms FROM care_standards ORDER BY effective_from, category",
                &[],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| StandardLine {
                id: r.get(0),
                category: r.get(1),
                yuan: r.get(2),
                effective_from: r.get(3),
                created_ms: r.get(4),
            })
            .collect())
    }

    async fn set_care_standard(
        &self,
        category: &str,
        yuan: i64,
        effective_from: &str,
        account_id: i64,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let c = self.pool.get().await?;
        c.execute(
            "INSERT INTO care_standards (category, yuan, effective_from, account_id, created_ms) VALUES ($1,$2,$3,$4,$5)
             ON CONFLICT (category, effective_from) DO UPDATE SET yuan=excluded.yuan, account_id=excluded.account_id, created_ms=excluded.created_ms",
            &[&category, &yuan, &effective_from, &account_id, &now_ms],
        )
        .await?;
        Ok(())
    }
}
