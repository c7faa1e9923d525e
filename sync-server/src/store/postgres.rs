//! The PostgreSQL backend, for scale: several stateless server processes over one
//! database.
//!
//! ## Why a pull never skips a late commit
//!
//! `server_seq` comes from the single row of `feed_counter`. Every ingest transaction
//! FIRST locks that row (`SELECT … FOR UPDATE`), then loads the state its batch touches,
//! plans, inserts its feed rows with the next seqs, advances the counter and commits.
//! The row lock is held until commit, and PostgreSQL releases a transaction's locks only
//! after the commit is visible to new snapshots. So:
//!
//! * transactions that assign seqs are serialised: seqs are handed out in commit order
//!   and are dense (a rolled-back transaction also rolls back its counter update);
//! * when seq N+1 is visible to a puller's snapshot, the transaction holding N has
//!   already committed and is visible to that snapshot too.
//!
//! A puller reading `server_seq > cursor` in one statement therefore never sees a later
//! seq before an earlier one, and never skips a change that commits late — across any
//! number of server processes. `tests/sync.rs::late_commits_are_never_skipped_by_a_racing_puller`
//! races pushers through two server instances against a puller to prove it.
//!
//! The same lock also makes each batch's read-plan-write consistent (the merge state
//! a plan read cannot change under it). The cost is one ingest transaction at a time
//! per database; batches are ingested with set-based statements (`unnest`) so one
//! transaction carries thousands of changes. Sharding the counter (per county, with a
//! cursor per shard) is the way out if one database ever needs more.

use super::*;
use crate::ingest::{self, FeedItem, Loaded, RowState, StoredOp, Winner};
use deadpool_postgres::{
    GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod, Transaction,
};
use std::str::FromStr;
use sync_core::change::canonical_json;
use sync_core::{FieldKey, Hlc, Stamp};
use tokio_postgres::NoTls;

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/postgres/0001_init.sql")),
    (
        2,
        include_str!("../../migrations/postgres/0002_quarantine.sql"),
    ),
];

/// The PostgreSQL backend.
pub struct PostgresDatabase {
    pool: Pool,
}

fn corrupt<E: std::fmt::Display>(e: E) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

impl PostgresDatabase {
    /// Connects and applies migrations (under an advisory lock, so several processes
    /// may start at once).
    pub async fn open(url: &str) -> Result<PostgresDatabase, StoreError> {
        let cfg = tokio_postgres::Config::from_str(url)
            .map_err(|e| StoreError::Invalid(format!("bad database url: {e}")))?;
        let mgr = Manager::from_config(
            cfg,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(mgr)
            .max_size(16)
            .build()
            .map_err(|e| StoreError::Pool(e.to_string()))?;
        let db = PostgresDatabase { pool };
        db.migrate().await?;
        Ok(db)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.pool.get().await?;
        client
            .batch_execute("SELECT pg_advisory_lock(74686) ")
            .await?;
        let result = async {
            client
                .batch_execute("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_ms BIGINT NOT NULL)")
                .await?;
            for (version, sql) in MIGRATIONS {
                let done = client.query_opt("SELECT 1 FROM schema_migrations WHERE version=$1", &[version]).await?;
                if done.is_none() {
                    let tx = client.transaction().await?;
                    tx.batch_execute(sql).await?;
                    tx.execute("INSERT INTO schema_migrations (version, applied_ms) VALUES ($1, $2)", &[version, &now_ms()]).await?;
                    tx.commit().await?;
                }
            }
            Ok::<_, StoreError>(())
        }
        .await;
        client
            .batch_execute("SELECT pg_advisory_unlock(74686)")
            .await?;
        result
    }
}

fn now_ms() -> i64 {
    crate::handlers::now_ms() as i64
}

async fn scopes_for(
    c: &impl GenericClient,
    account_id: i64,
    role: Role,
    place: Option<&str>,
) -> Result<Vec<String>, StoreError> {
    let rows = match role {
        Role::Director => c.query("SELECT village FROM account_villages WHERE account_id=$1 ORDER BY village", &[&account_id]).await?,
        Role::Supervisor => c.query("SELECT code FROM places WHERE kind='village' AND parent=$1 ORDER BY code", &[&place]).await?,
        Role::CountyAdmin => {
            c.query("SELECT v.code FROM places v JOIN places t ON v.parent=t.code WHERE v.kind='village' AND t.parent=$1 ORDER BY v.code", &[&place])
                .await?
        }
    };
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

async fn device_auth(
    c: &impl GenericClient,
    device_id: Uuid,
    account_id: i64,
    role: &str,
    place: Option<String>,
    revoked: bool,
) -> Result<DeviceAuth, StoreError> {
    let role = Role::parse(role).ok_or_else(|| corrupt("unknown role"))?;
    let read_scopes = scopes_for(c, account_id, role, place.as_deref()).await?;
    let write_scopes = if role == Role::Director {
        read_scopes.clone()
    } else {
        Vec::new()
    };
    Ok(DeviceAuth {
        device_id,
        account_id,
        role,
        revoked,
        write_scopes,
        read_scopes,
    })
}

async fn load(tx: &Transaction<'_>, keys: &ingest::Keys) -> Result<Loaded, StoreError> {
    let mut loaded = Loaded::default();
    for r in tx
        .query(
            "SELECT op_id, device_id, device_seq, table_name, row_id, field, value, hlc, scope FROM changes WHERE op_id = ANY($1)",
            &[&keys.op_ids],
        )
        .await?
    {
        loaded.ops.insert(
            r.get(0),
            StoredOp {
                device_id: r.get(1),
                device_seq: r.get::<_, i64>(2) as u64,
                table: r.get(3),
                row_id: r.get(4),
                field: r.get(5),
                value: r.get(6),
                hlc: Hlc::from_u64(r.get::<_, i64>(7) as u64),
                scope: r.get(8),
            },
        );
    }
    let (t, id): (Vec<String>, Vec<Uuid>) = keys.rows.iter().cloned().unzip();
    for r in tx
        .query(
            "SELECT r.table_name, r.row_id, r.scope, r.child_id FROM rows r JOIN unnest($1::text[], $2::uuid[]) AS k(t, id) ON r.table_name=k.t AND r.row_id=k.id",
            &[&t, &id],
        )
        .await?
    {
        loaded.rows.insert((r.get(0), r.get(1)), RowState { scope: r.get(2), child_id: r.get(3) });
    }
    let t: Vec<&str> = keys.fields.iter().map(|k| k.table.as_str()).collect();
    let id: Vec<Uuid> = keys.fields.iter().map(|k| k.row_id).collect();
    let f: Vec<&str> = keys.fields.iter().map(|k| k.field.as_str()).collect();
    for r in tx
        .query(
            "SELECT x.table_name, x.row_id, x.field, x.hlc, x.device_id, x.value, x.op_id FROM fields x
             JOIN unnest($1::text[], $2::uuid[], $3::text[]) AS k(t, id, f) ON x.table_name=k.t AND x.row_id=k.id AND x.field=k.f",
            &[&t, &id, &f],
        )
        .await?
    {
        let value: String = r.get(5);
        loaded.fields.insert(
            FieldKey { table: r.get(0), row_id: r.get(1), field: r.get(2) },
            Winner {
                stamp: Stamp { hlc: Hlc::from_u64(r.get::<_, i64>(3) as u64), device_id: r.get(4) },
                value: serde_json::from_str(&value).map_err(corrupt)?,
                op_id: r.get(6),
            },
        );
    }
    for r in tx
        .query(
            "SELECT code FROM places WHERE kind='village' AND code = ANY($1)",
            &[&keys.villages],
        )
        .await?
    {
        loaded.villages.insert(r.get(0));
    }
    Ok(loaded)
}

async fn write_feed(
    tx: &Transaction<'_>,
    feed: &[FeedItem],
    mut next: i64,
) -> Result<i64, StoreError> {
    let mut seqs: Vec<i64> = Vec::new();
    let mut scopes: Vec<&str> = Vec::new();
    let mut ops: Vec<Uuid> = Vec::new();
    async fn flush(
        tx: &Transaction<'_>,
        seqs: &mut Vec<i64>,
        scopes: &mut Vec<&str>,
        ops: &mut Vec<Uuid>,
    ) -> Result<(), StoreError> {
        if !seqs.is_empty() {
            tx.execute("INSERT INTO feed (server_seq, scope, op_id) SELECT * FROM unnest($1::int8[], $2::text[], $3::uuid[])", &[&*seqs, &*scopes, &*ops])
                .await?;
            seqs.clear();
            scopes.clear();
            ops.clear();
        }
        Ok(())
    }
    for item in feed {
        match item {
            FeedItem::Entry { scope, op_id } => {
                seqs.push(next);
                scopes.push(scope);
                ops.push(*op_id);
                next += 1;
            }
            FeedItem::Refeed { row, scope } => {
                flush(tx, &mut seqs, &mut scopes, &mut ops).await?;
                tx.execute(
                    "UPDATE rows SET scope=$1 WHERE table_name=$2 AND row_id=$3",
                    &[scope, &row.0, &row.1],
                )
                .await?;
                let n = tx
                    .execute(
                        "INSERT INTO feed (server_seq, scope, op_id)
                         SELECT $1 + row_number() OVER (ORDER BY field) - 1, $2, op_id FROM fields WHERE table_name=$3 AND row_id=$4",
                        &[&next, scope, &row.0, &row.1],
                    )
                    .await?;
                next += n as i64;
                if row.0 == "child" {
                    tx.execute(
                        "UPDATE rows SET scope=$1 WHERE child_id=$2",
                        &[scope, &row.1],
                    )
                    .await?;
                    let n = tx
                        .execute(
                            "INSERT INTO feed (server_seq, scope, op_id)
                             SELECT $1 + row_number() OVER (ORDER BY f.table_name, f.row_id, f.field) - 1, $2, f.op_id
                             FROM rows r JOIN fields f ON f.table_name=r.table_name AND f.row_id=r.row_id WHERE r.child_id=$3",
                            &[&next, scope, &row.1],
                        )
                        .await?;
                    next += n as i64;
                }
            }
        }
    }
    flush(tx, &mut seqs, &mut scopes, &mut ops).await?;
    Ok(next)
}

async fn ingest_batch(
    tx: &Transaction<'_>,
    device: &DeviceAuth,
    batch: &PushBatch,
) -> Result<PushOutcome, StoreError> {
    // The serialisation point: see the module doc.
    let next: i64 = tx
        .query_one(
            "SELECT next_seq FROM feed_counter WHERE id=1 FOR UPDATE",
            &[],
        )
        .await?
        .get(0);
    let keys = ingest::keys(&batch.changes);
    let loaded = load(tx, &keys).await?;
    let plan = ingest::plan(
        device,
        &batch.changes,
        loaded,
        batch.now_ms,
        batch.max_ahead_ms,
    );
    let now = batch.now_ms as i64;

    let acc: Vec<&Change> = plan.accepted.iter().map(|&i| &batch.changes[i]).collect();
    if !acc.is_empty() {
        let op: Vec<Uuid> = acc.iter().map(|c| c.op_id).collect();
        let seq: Vec<i64> = acc.iter().map(|c| c.device_seq as i64).collect();
        let table: Vec<&str> = acc.iter().map(|c| c.table.as_str()).collect();
        let row: Vec<Uuid> = acc.iter().map(|c| c.row_id).collect();
        let field: Vec<&str> = acc.iter().map(|c| c.field.as_str()).collect();
        let value: Vec<String> = acc.iter().map(|c| canonical_json(&c.value)).collect();
        let hlc: Vec<i64> = acc.iter().map(|c| c.hlc.as_u64() as i64).collect();
        let scope: Vec<&str> = acc.iter().map(|c| c.scope.as_str()).collect();
        tx.execute(
            "INSERT INTO changes (op_id, device_id, device_seq, account_id, table_name, row_id, field, value, hlc, scope, received_ms)
             SELECT op, $2, seq, $3, t, r, f, v, h, s, $4 FROM unnest($1::uuid[], $5::int8[], $6::text[], $7::uuid[], $8::text[], $9::text[], $10::int8[], $11::text[]) AS x(op, seq, t, r, f, v, h, s)",
            &[&op, &device.device_id, &device.account_id, &now, &seq, &table, &row, &field, &value, &hlc, &scope],
        )
        .await?;
    }
    if !plan.fields.is_empty() {
        let mut t = Vec::new();
        let mut r = Vec::new();
        let mut f = Vec::new();
        let mut h = Vec::new();
        let mut d = Vec::new();
        let mut v = Vec::new();
        let mut o = Vec::new();
        for (k, w) in &plan.fields {
            t.push(k.table.as_str());
            r.push(k.row_id);
            f.push(k.field.as_str());
            h.push(w.stamp.hlc.as_u64() as i64);
            d.push(w.stamp.device_id);
            v.push(canonical_json(&w.value));
            o.push(w.op_id);
        }
        tx.execute(
            "INSERT INTO fields (table_name, row_id, field, hlc, device_id, value, op_id)
             SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::int8[], $5::uuid[], $6::text[], $7::uuid[])
             ON CONFLICT (table_name, row_id, field) DO UPDATE SET hlc=excluded.hlc, device_id=excluded.device_id, value=excluded.value, op_id=excluded.op_id",
            &[&t, &r, &f, &h, &d, &v, &o],
        )
        .await?;
    }
    if !plan.rows.is_empty() {
        let t: Vec<&str> = plan.rows.keys().map(|k| k.0.as_str()).collect();
        let r: Vec<Uuid> = plan.rows.keys().map(|k| k.1).collect();
        let s: Vec<&str> = plan.rows.values().map(|v| v.scope.as_str()).collect();
        let c: Vec<Option<Uuid>> = plan.rows.values().map(|v| v.child_id).collect();
        tx.execute(
            "INSERT INTO rows (table_name, row_id, scope, child_id) SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::uuid[])
             ON CONFLICT (table_name, row_id) DO UPDATE SET scope=excluded.scope, child_id=excluded.child_id",
            &[&t, &r, &s, &c],
        )
        .await?;
    }
    if !plan.blob_refs.is_empty() {
        let h: Vec<&str> = plan.blob_refs.iter().map(|b| b.0.as_str()).collect();
        let t: Vec<&str> = plan.blob_refs.iter().map(|b| b.1 .0.as_str()).collect();
        let r: Vec<Uuid> = plan.blob_refs.iter().map(|b| b.1 .1).collect();
        tx.execute(
            "INSERT INTO blob_refs (sha256, table_name, row_id) SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[]) ON CONFLICT DO NOTHING",
            &[&h, &t, &r],
        )
        .await?;
    }
    let held: Vec<_> = plan
        .rejections
        .iter()
        .filter(|r| {
            // A clock_ahead refusal is not held: the device re-stamps and re-sends.
            let s = batch.changes[r.index].device_seq;
            s >= 1 && s <= i64::MAX as u64 && r.code != sync_core::wire::codes::CLOCK_AHEAD
        })
        .collect();
    if !held.is_empty() {
        // The last rejection of an op_id within the batch wins.
        let mut by_op: BTreeMap<Uuid, &ingest::PlannedRejection> = BTreeMap::new();
        for r in held {
            by_op.insert(batch.changes[r.index].op_id, r);
        }
        let op: Vec<Uuid> = by_op.keys().copied().collect();
        let seq: Vec<i64> = by_op
            .values()
            .map(|r| batch.changes[r.index].device_seq as i64)
            .collect();
        let code: Vec<&str> = by_op.values().map(|r| r.code).collect();
        let msg: Vec<&str> = by_op.values().map(|r| r.message.as_str()).collect();
        let change: Vec<String> = by_op
            .values()
            .map(|r| serde_json::to_string(&batch.changes[r.index]).unwrap_or_default())
            .collect();
        tx.execute(
            "INSERT INTO rejections (device_id, op_id, device_seq, code, message, change, at_ms)
             SELECT $1, op, seq, c, m, ch, $2 FROM unnest($3::uuid[], $4::int8[], $5::text[], $6::text[], $7::text[]) AS x(op, seq, c, m, ch)
             ON CONFLICT (device_id, op_id) DO UPDATE SET device_seq=excluded.device_seq, code=excluded.code, message=excluded.message, change=excluded.change, at_ms=excluded.at_ms",
            &[&device.device_id, &now, &op, &seq, &code, &msg, &change],
        )
        .await?;
    }
    let after = write_feed(tx, &plan.feed, next).await?;
    if after != next {
        tx.execute("UPDATE feed_counter SET next_seq=$1 WHERE id=1", &[&after])
            .await?;
    }

    let before: i64 = tx
        .query_one(
            "SELECT max_device_seq FROM devices WHERE device_id=$1",
            &[&device.device_id],
        )
        .await?
        .get(0);
    let mut max = ingest::advance_contiguous(before as u64, plan.held_seqs.iter().copied());
    let later = tx
        .query(
            "SELECT device_seq FROM changes WHERE device_id=$1 AND device_seq>$2 UNION SELECT device_seq FROM rejections WHERE device_id=$1 AND device_seq>$2 ORDER BY 1 LIMIT 10000",
            &[&device.device_id, &(max as i64)],
        )
        .await?;
    max = ingest::advance_contiguous(max, later.iter().map(|r| r.get::<_, i64>(0) as u64));
    tx.execute(
        "UPDATE devices SET max_device_seq=$1, last_seen_ms=$2, heartbeat=$3 WHERE device_id=$4",
        &[
            &(max as i64),
            &now,
            &serde_json::to_string(&batch.heartbeat).unwrap_or_default(),
            &device.device_id,
        ],
    )
    .await?;
    crate::metrics::ingested(plan.accepted.len(), &plan.rejections);
    Ok(PushOutcome {
        max_device_seq: max,
        accepted: plan.accepted.len() as u64 + plan.duplicates,
        rejected: plan
            .rejections
            .iter()
            .map(|r| Rejection {
                op_id: batch.changes[r.index].op_id,
                device_seq: batch.changes[r.index].device_seq,
                code: r.code.to_string(),
                message: r.message.clone(),
            })
            .collect(),
    })
}

async fn blob_state(c: &impl GenericClient, sha: &str) -> Result<BlobState, StoreError> {
    if let Some(r) = c
        .query_opt("SELECT size FROM blobs WHERE sha256=$1", &[&sha])
        .await?
    {
        let size: i64 = r.get(0);
        return Ok(BlobState {
            held_bytes: size as u64,
            total: Some(size as u64),
            complete: true,
        });
    }
    let r = c.query_one("SELECT COALESCE(SUM(length(data)), 0)::int8, MAX(total) FROM blob_chunks WHERE sha256=$1", &[&sha]).await?;
    Ok(BlobState {
        held_bytes: r.get::<_, i64>(0) as u64,
        total: r.get::<_, Option<i64>>(1).map(|t| t as u64),
        complete: false,
    })
}

#[async_trait]
impl Database for PostgresDatabase {
    async fn import_roster(&self, roster: &Roster) -> Result<ImportSummary, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        for p in &roster.places {
            tx.execute(
                "INSERT INTO places (code, kind, name, parent) VALUES ($1,$2,$3,$4) ON CONFLICT (code) DO UPDATE SET kind=excluded.kind, name=excluded.name, parent=excluded.parent",
                &[&p.code, &p.kind.as_str(), &p.name, &p.parent],
            )
            .await?;
        }
        for a in &roster.accounts {
            let place = if a.role == Role::Director {
                None
            } else {
                a.places.first().cloned()
            };
            let id: i64 = tx
                .query_one(
                    "INSERT INTO accounts (login, name, role, place) VALUES ($1,$2,$3,$4) ON CONFLICT (login) DO UPDATE SET name=excluded.name, role=excluded.role, place=excluded.place RETURNING id",
                    &[&a.login, &a.name, &a.role.as_str(), &place],
                )
                .await?
                .get(0);
            tx.execute("DELETE FROM account_villages WHERE account_id=$1", &[&id])
                .await?;
            if a.role == Role::Director {
                for v in &a.places {
                    tx.execute("INSERT INTO account_villages (account_id, village) VALUES ($1,$2) ON CONFLICT DO NOTHING", &[&id, v]).await?;
                }
            }
        }
        tx.commit().await?;
        Ok(ImportSummary {
            places: roster.places.len(),
            accounts: roster.accounts.len(),
        })
    }

    async fn account_by_login(&self, login: &str) -> Result<Option<Account>, StoreError> {
        let client = self.pool.get().await?;
        let r = client
            .query_opt(
                "SELECT id, login, role FROM accounts WHERE login=$1",
                &[&login],
            )
            .await?;
        Ok(r.and_then(|r| {
            Role::parse(r.get::<_, &str>(2)).map(|role| Account {
                id: r.get(0),
                login: r.get(1),
                role,
            })
        }))
    }

    async fn add_enroll_code(&self, code: EnrollCodeRecord, now_ms: i64) -> Result<(), StoreError> {
        let client = self.pool.get().await?;
        client
            .execute(
                "INSERT INTO enroll_codes (code_id, account_id, secret_hash, created_ms, expires_ms) VALUES ($1,$2,$3,$4,$5)",
                &[&code.code_id, &code.account_id, &code.secret_hash, &now_ms, &code.expires_ms],
            )
            .await?;
        Ok(())
    }

    async fn enroll_code(&self, code_id: &str) -> Result<Option<EnrollCodeRecord>, StoreError> {
        let client = self.pool.get().await?;
        let r = client
            .query_opt("SELECT code_id, account_id, secret_hash, expires_ms, used_ms IS NOT NULL FROM enroll_codes WHERE code_id=$1", &[&code_id])
            .await?;
        Ok(r.map(|r| EnrollCodeRecord {
            code_id: r.get(0),
            account_id: r.get(1),
            secret_hash: r.get(2),
            expires_ms: r.get(3),
            used: r.get(4),
        }))
    }

    async fn enroll_device(
        &self,
        code_id: &str,
        device: NewDevice,
        now_ms: i64,
    ) -> Result<Result<DeviceAuth, EnrollRefusal>, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        if tx
            .query_opt(
                "SELECT 1 FROM devices WHERE device_id=$1",
                &[&device.device_id],
            )
            .await?
            .is_some()
        {
            return Ok(Err(EnrollRefusal::DeviceExists));
        }
        let Some(r) = tx
            .query_opt(
                "UPDATE enroll_codes SET used_ms=$1, device_id=$2 WHERE code_id=$3 AND used_ms IS NULL RETURNING account_id",
                &[&now_ms, &device.device_id, &code_id],
            )
            .await?
        else {
            return Ok(Err(EnrollRefusal::CodeUsed));
        };
        let account_id: i64 = r.get(0);
        tx.execute(
            "INSERT INTO devices (device_id, account_id, name, app_version, token_hash, enrolled_ms) VALUES ($1,$2,$3,$4,$5,$6)",
            &[&device.device_id, &account_id, &device.name, &device.app_version, &device.token_hash.as_slice(), &now_ms],
        )
        .await?;
        let a = tx
            .query_one(
                "SELECT role, place FROM accounts WHERE id=$1",
                &[&account_id],
            )
            .await?;
        let auth =
            device_auth(&tx, device.device_id, account_id, a.get(0), a.get(1), false).await?;
        tx.commit().await?;
        Ok(Ok(auth))
    }

    async fn authenticate(&self, token_hash: [u8; 32]) -> Result<Option<DeviceAuth>, StoreError> {
        let client = self.pool.get().await?;
        let Some(r) = client
            .query_opt(
                "SELECT d.device_id, d.account_id, a.role, a.place, d.revoked_ms IS NOT NULL FROM devices d JOIN accounts a ON a.id=d.account_id WHERE d.token_hash=$1",
                &[&token_hash.as_slice()],
            )
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(
            device_auth(&client, r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)).await?,
        ))
    }

    async fn device_by_id(&self, device_id: Uuid) -> Result<Option<DeviceAuth>, StoreError> {
        let client = self.pool.get().await?;
        let Some(r) = client
            .query_opt(
                "SELECT d.account_id, a.role, a.place, d.revoked_ms IS NOT NULL FROM devices d JOIN accounts a ON a.id=d.account_id WHERE d.device_id=$1",
                &[&device_id],
            )
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(
            device_auth(&client, device_id, r.get(0), r.get(1), r.get(2), r.get(3)).await?,
        ))
    }

    async fn quarantine(
        &self,
        device_id: Uuid,
        changes: Vec<Change>,
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        let client = self.pool.get().await?;
        let op: Vec<Uuid> = changes.iter().map(|c| c.op_id).collect();
        let seq: Vec<i64> = changes
            .iter()
            .map(|c| c.device_seq.min(i64::MAX as u64) as i64)
            .collect();
        let body: Vec<String> = changes
            .iter()
            .map(|c| serde_json::to_string(c).unwrap_or_default())
            .collect();
        client
            .execute(
                "INSERT INTO quarantine (device_id, op_id, device_seq, change, received_ms)
                 SELECT $1, op, seq, ch, $2 FROM unnest($3::uuid[], $4::int8[], $5::text[]) AS x(op, seq, ch)
                 ON CONFLICT DO NOTHING",
                &[&device_id, &now_ms, &op, &seq, &body],
            )
            .await?;
        let n: i64 = client
            .query_one(
                "SELECT count(*) FROM quarantine WHERE device_id=$1",
                &[&device_id],
            )
            .await?
            .get(0);
        Ok(n as u64)
    }

    async fn quarantined(
        &self,
        device_id: Option<Uuid>,
    ) -> Result<Vec<QuarantinedChange>, StoreError> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "SELECT device_id, change, received_ms FROM quarantine WHERE $1::uuid IS NULL OR device_id=$1 ORDER BY device_id, device_seq",
                &[&device_id],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(QuarantinedChange {
                    device_id: r.get(0),
                    change: serde_json::from_str(r.get::<_, &str>(1))
                        .map_err(|e| corrupt(&format!("quarantine: {e}")))?,
                    received_ms: r.get(2),
                })
            })
            .collect()
    }

    async fn clear_quarantine(
        &self,
        device_id: Uuid,
        op_ids: Vec<Uuid>,
    ) -> Result<u64, StoreError> {
        let client = self.pool.get().await?;
        Ok(client
            .execute(
                "DELETE FROM quarantine WHERE device_id=$1 AND op_id = ANY($2)",
                &[&device_id, &op_ids],
            )
            .await?)
    }

    async fn push(&self, device: &DeviceAuth, batch: PushBatch) -> Result<PushOutcome, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let out = ingest_batch(&tx, device, &batch).await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn pull(
        &self,
        device: &DeviceAuth,
        cursor: u64,
        limit: u32,
        now_ms: i64,
    ) -> Result<PullPage, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let rows = tx
            .query(
                "SELECT f.server_seq, f.scope, c.op_id, c.device_id, c.device_seq, c.table_name, c.row_id, c.field, c.value, c.hlc
                 FROM feed f JOIN changes c ON c.op_id=f.op_id
                 WHERE f.server_seq > $1 AND f.scope = ANY($2) ORDER BY f.server_seq LIMIT $3",
                &[&(cursor as i64), &device.read_scopes, &(limit as i64 + 1)],
            )
            .await?;
        let mut changes = Vec::with_capacity(rows.len());
        for r in &rows {
            let value: &str = r.get(8);
            changes.push(PulledChange {
                server_seq: r.get::<_, i64>(0) as u64,
                change: Change {
                    scope: Scope(r.get(1)),
                    op_id: r.get(2),
                    device_id: r.get(3),
                    device_seq: r.get::<_, i64>(4) as u64,
                    table: r.get(5),
                    row_id: r.get(6),
                    field: r.get(7),
                    value: serde_json::from_str(value).map_err(corrupt)?,
                    hlc: Hlc::from_u64(r.get::<_, i64>(9) as u64),
                },
            });
        }
        let has_more = changes.len() > limit as usize;
        changes.truncate(limit as usize);
        let next_cursor = changes.last().map(|c| c.server_seq).unwrap_or(cursor);
        let page = PullPage {
            changes,
            next_cursor,
            has_more,
        };
        if device.role != Role::Director {
            for e in super::sqlite::access_entries(device, &page, now_ms) {
                tx.execute(
                    "INSERT INTO access_log (account_id, device_id, scope, record_count, at_ms) VALUES ($1,$2,$3,$4,$5)",
                    &[&e.account_id, &e.device_id, &e.scope, &e.record_count, &e.at_ms],
                )
                .await?;
            }
        }
        tx.commit().await?;
        Ok(page)
    }

    async fn checksums(
        &self,
        scopes: &[String],
    ) -> Result<BTreeMap<Scope, ScopeChecksum>, StoreError> {
        let client = self.pool.get().await?;
        let mut out: BTreeMap<Scope, ScopeChecksum> = scopes
            .iter()
            .map(|s| (Scope(s.clone()), ScopeChecksum::default()))
            .collect();
        let rows = client
            .query(
                "SELECT r.scope, f.table_name, f.row_id, f.field, f.hlc, f.device_id, f.value
                 FROM rows r JOIN fields f ON f.table_name=r.table_name AND f.row_id=r.row_id WHERE r.scope = ANY($1)",
                &[&scopes],
            )
            .await?;
        for r in rows {
            let key = FieldKey {
                table: r.get(1),
                row_id: r.get(2),
                field: r.get(3),
            };
            let stamp = Stamp {
                hlc: Hlc::from_u64(r.get::<_, i64>(4) as u64),
                device_id: r.get(5),
            };
            let value: serde_json::Value = serde_json::from_str(r.get(6)).map_err(corrupt)?;
            out.entry(Scope(r.get(0)))
                .or_default()
                .add(ScopeChecksum::field_hash(&key, &stamp, &value));
        }
        Ok(out)
    }

    async fn blob_state(&self, sha256: &str) -> Result<BlobState, StoreError> {
        let client = self.pool.get().await?;
        blob_state(&client, sha256).await
    }

    async fn blob_append(
        &self,
        sha256: &str,
        offset: u64,
        total: u64,
        chunk: Vec<u8>,
    ) -> Result<AppendOutcome, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        // One upload step at a time per blob, across all server processes.
        tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&sha256])
            .await?;
        let state = blob_state(&tx, sha256).await?;
        if state.complete {
            return Ok(AppendOutcome::AlreadyComplete {
                size: state.held_bytes,
            });
        }
        if offset != state.held_bytes
            || state.total.is_some_and(|t| t != total)
            || offset + chunk.len() as u64 > total
        {
            return Ok(AppendOutcome::Conflict {
                held_bytes: state.held_bytes,
            });
        }
        let held = offset + chunk.len() as u64;
        tx.execute(
            "INSERT INTO blob_chunks (sha256, \"offset\", total, data) VALUES ($1,$2,$3,$4)",
            &[&sha256, &(offset as i64), &(total as i64), &chunk],
        )
        .await?;
        let out = if held < total {
            AppendOutcome::Appended { held_bytes: held }
        } else {
            let mut bytes = Vec::with_capacity(total as usize);
            for r in tx
                .query(
                    "SELECT data FROM blob_chunks WHERE sha256=$1 ORDER BY \"offset\"",
                    &[&sha256],
                )
                .await?
            {
                bytes.extend_from_slice(r.get::<_, &[u8]>(0));
            }
            AppendOutcome::Full { bytes }
        };
        tx.commit().await?;
        Ok(out)
    }

    async fn blob_finish(
        &self,
        sha256: &str,
        complete_size: Option<u64>,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        if let Some(size) = complete_size {
            tx.execute("INSERT INTO blobs (sha256, size, completed_ms) VALUES ($1,$2,$3) ON CONFLICT DO NOTHING", &[&sha256, &(size as i64), &now_ms]).await?;
        }
        tx.execute("DELETE FROM blob_chunks WHERE sha256=$1", &[&sha256])
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn blob_named_in(&self, sha256: &str, scopes: &[String]) -> Result<bool, StoreError> {
        let client = self.pool.get().await?;
        Ok(client
            .query_opt(
                "SELECT 1 FROM blob_refs b JOIN rows r ON r.table_name=b.table_name AND r.row_id=b.row_id WHERE b.sha256=$1 AND r.scope = ANY($2) LIMIT 1",
                &[&sha256, &scopes],
            )
            .await?
            .is_some())
    }

    async fn devices(&self, account_login: Option<&str>) -> Result<Vec<DeviceInfo>, StoreError> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "SELECT d.device_id, a.login, d.name, d.app_version, d.enrolled_ms, d.revoked_ms, d.last_seen_ms, d.max_device_seq, d.heartbeat
                 FROM devices d JOIN accounts a ON a.id=d.account_id WHERE $1::text IS NULL OR a.login=$1 ORDER BY a.login, d.enrolled_ms",
                &[&account_login],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| DeviceInfo {
                device_id: r.get(0),
                account_login: r.get(1),
                name: r.get(2),
                app_version: r.get(3),
                enrolled_ms: r.get(4),
                revoked_ms: r.get(5),
                last_seen_ms: r.get(6),
                max_device_seq: r.get(7),
                heartbeat: r
                    .get::<_, Option<&str>>(8)
                    .and_then(|h| serde_json::from_str(h).ok()),
            })
            .collect())
    }

    async fn revoke_device(&self, device_id: Uuid, now_ms: i64) -> Result<bool, StoreError> {
        let client = self.pool.get().await?;
        Ok(client
            .execute(
                "UPDATE devices SET revoked_ms=COALESCE(revoked_ms, $1) WHERE device_id=$2",
                &[&now_ms, &device_id],
            )
            .await?
            > 0)
    }

    async fn audit_row(&self, row_id: Uuid) -> Result<Vec<AuditEntry>, StoreError> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "SELECT c.received_ms, a.login, c.device_id, c.table_name, c.field, c.hlc, c.op_id
                 FROM changes c JOIN accounts a ON a.id=c.account_id WHERE c.row_id=$1 ORDER BY c.hlc, c.device_id",
                &[&row_id],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| AuditEntry {
                received_ms: r.get(0),
                account_login: r.get(1),
                device_id: r.get(2),
                table: r.get(3),
                field: r.get(4),
                hlc: Hlc::from_u64(r.get::<_, i64>(5) as u64),
                op_id: r.get(6),
            })
            .collect())
    }

    async fn access_log(&self) -> Result<Vec<AccessLogEntry>, StoreError> {
        let client = self.pool.get().await?;
        let rows = client.query("SELECT account_id, device_id, scope, record_count, at_ms FROM access_log ORDER BY id", &[]).await?;
        Ok(rows
            .iter()
            .map(|r| AccessLogEntry {
                account_id: r.get(0),
                device_id: r.get(1),
                scope: r.get(2),
                record_count: r.get(3),
                at_ms: r.get(4),
            })
            .collect())
    }

    async fn is_empty(&self) -> Result<bool, StoreError> {
        let client = self.pool.get().await?;
        Ok(client
            .query_opt("SELECT 1 FROM places LIMIT 1", &[])
            .await?
            .is_none())
    }

    async fn villages(&self) -> Result<Vec<String>, StoreError> {
        let client = self.pool.get().await?;
        Ok(client
            .query(
                "SELECT code FROM places WHERE kind='village' ORDER BY code",
                &[],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect())
    }

    async fn bench_plain_insert(&self, changes: &[Change]) -> Result<(), StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let op: Vec<Uuid> = changes.iter().map(|c| c.op_id).collect();
        let dev: Vec<Uuid> = changes.iter().map(|c| c.device_id).collect();
        let seq: Vec<i64> = changes.iter().map(|c| c.device_seq as i64).collect();
        let table: Vec<&str> = changes.iter().map(|c| c.table.as_str()).collect();
        let row: Vec<Uuid> = changes.iter().map(|c| c.row_id).collect();
        let field: Vec<&str> = changes.iter().map(|c| c.field.as_str()).collect();
        let value: Vec<String> = changes.iter().map(|c| canonical_json(&c.value)).collect();
        let hlc: Vec<i64> = changes.iter().map(|c| c.hlc.as_u64() as i64).collect();
        let scope: Vec<&str> = changes.iter().map(|c| c.scope.as_str()).collect();
        tx.execute(
            "INSERT INTO bench_plain (op_id, device_id, device_seq, account_id, table_name, row_id, field, value, hlc, scope, received_ms)
             SELECT op, d, seq, 0, t, r, f, v, h, s, 0 FROM unnest($1::uuid[], $2::uuid[], $3::int8[], $4::text[], $5::uuid[], $6::text[], $7::text[], $8::int8[], $9::text[]) AS x(op, d, seq, t, r, f, v, h, s)",
            &[&op, &dev, &seq, &table, &row, &field, &value, &hlc, &scope],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
