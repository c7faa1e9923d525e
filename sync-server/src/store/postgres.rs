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
use std::collections::HashSet;
use std::str::FromStr;
use sync_core::change::canonical_json;
use sync_core::{FieldKey, Hlc, Stamp};
use tokio_postgres::{NoTls, Statement};

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/postgres/0001_init.sql")),
    (
        2,
        include_str!("../../migrations/postgres/0002_quarantine.sql"),
    ),
    (
        3,
        include_str!("../../migrations/postgres/0003_held_ahead.sql"),
    ),
    (
        4,
        include_str!("../../migrations/postgres/0004_row_created.sql"),
    ),
    (
        5,
        include_str!("../../migrations/postgres/0005_feed_refeed.sql"),
    ),
    (
        6,
        include_str!("../../migrations/postgres/0006_console.sql"),
    ),
    (
        7,
        include_str!("../../migrations/postgres/0007_console_due.sql"),
    ),
    (8, include_str!("../../migrations/postgres/0008_parked.sql")),
    (
        9,
        include_str!("../../migrations/postgres/0009_blob_possession.sql"),
    ),
    (
        10,
        include_str!("../../migrations/postgres/0010_token_used.sql"),
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
    crate::model::clock::now_ms() as i64
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
        Role::CityAdmin => {
            c.query("SELECT v.code FROM places v JOIN places t ON v.parent=t.code JOIN places k ON t.parent=k.code WHERE v.kind='village' AND k.parent=$1 ORDER BY v.code", &[&place])
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
    let villages = scopes_for(c, account_id, role, place.as_deref()).await?;
    Ok(DeviceAuth {
        device_id,
        revoked,
        principal: Principal::new(account_id, role, villages),
    })
}

/// The ingest statements, prepared once per connection (cached by deadpool), so that
/// a push costs no Parse round trips.
struct Statements {
    lock: Statement,
    ops: Statement,
    rows: Statement,
    fields: Statement,
    villages: Statement,
    device: Statement,
    changes: Statement,
    insert_fields: Statement,
    upsert_fields: Statement,
    insert_rows: Statement,
    upsert_rows: Statement,
    blob_refs: Statement,
    rejections: Statement,
    feed: Statement,
    counter: Statement,
    ahead_clear: Statement,
    device_update: Statement,
    parked: Statement,
    park: Statement,
    unpark: Statement,
    rejected: Statement,
}

const SQL_LOCK: &str = "SELECT next_seq FROM feed_counter WHERE id=1 FOR UPDATE";
const SQL_OPS: &str = "SELECT op_id, device_id, device_seq, table_name, row_id, field, value, hlc, scope FROM changes WHERE op_id = ANY($1)";
const SQL_ROWS: &str = "SELECT r.table_name, r.row_id, r.scope, r.child_id, r.created_hlc, r.created_device FROM rows r JOIN unnest($1::text[], $2::uuid[]) AS k(t, id) ON r.table_name=k.t AND r.row_id=k.id";
const SQL_FIELDS: &str = "SELECT x.table_name, x.row_id, x.field, x.hlc, x.device_id, x.value, x.op_id FROM fields x
     JOIN unnest($1::text[], $2::uuid[], $3::text[]) AS k(t, id, f) ON x.table_name=k.t AND x.row_id=k.id AND x.field=k.f";
const SQL_VILLAGES: &str = "SELECT code FROM places WHERE kind='village' AND code = ANY($1)";
const SQL_DEVICE: &str = "SELECT max_device_seq, ARRAY(SELECT device_seq FROM held_ahead WHERE device_id=$1) FROM devices WHERE device_id=$1";
const SQL_CHANGES: &str = "INSERT INTO changes (op_id, device_id, device_seq, account_id, table_name, row_id, field, value, hlc, scope, received_ms)
     SELECT op, $2, seq, $3, t, r, f, v, h, s, $4 FROM unnest($1::uuid[], $5::int8[], $6::text[], $7::uuid[], $8::text[], $9::text[], $10::int8[], $11::text[]) AS x(op, seq, t, r, f, v, h, s)";
const SQL_UPSERT_FIELDS: &str = "INSERT INTO fields (table_name, row_id, field, hlc, device_id, value, op_id)
     SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::int8[], $5::uuid[], $6::text[], $7::uuid[])
     ON CONFLICT (table_name, row_id, field) DO UPDATE SET hlc=excluded.hlc, device_id=excluded.device_id, value=excluded.value, op_id=excluded.op_id";
const SQL_INSERT_FIELDS: &str = "INSERT INTO fields (table_name, row_id, field, hlc, device_id, value, op_id)
     SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::int8[], $5::uuid[], $6::text[], $7::uuid[])";
const SQL_INSERT_ROWS: &str = "INSERT INTO rows (table_name, row_id, scope, child_id, created_hlc, created_device) SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::uuid[], $5::int8[], $6::uuid[])";
// The creation stamp is written once, with the row.
const SQL_UPSERT_ROWS: &str = "INSERT INTO rows (table_name, row_id, scope, child_id, created_hlc, created_device) SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::uuid[], $5::int8[], $6::uuid[])
     ON CONFLICT (table_name, row_id) DO UPDATE SET scope=excluded.scope, child_id=excluded.child_id";
const SQL_BLOB_REFS: &str = "INSERT INTO blob_refs (sha256, table_name, row_id) SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[]) ON CONFLICT DO NOTHING";
const SQL_REJECTIONS: &str = "INSERT INTO rejections (device_id, op_id, device_seq, code, message, change, at_ms)
     SELECT $1, op, seq, c, m, ch, $2 FROM unnest($3::uuid[], $4::int8[], $5::text[], $6::text[], $7::text[]) AS x(op, seq, c, m, ch)
     ON CONFLICT (device_id, op_id) DO UPDATE SET device_seq=excluded.device_seq, code=excluded.code, message=excluded.message, change=excluded.change, at_ms=excluded.at_ms";
const SQL_FEED: &str = "INSERT INTO feed (server_seq, scope, op_id) SELECT * FROM unnest($1::int8[], $2::text[], $3::uuid[])";
const SQL_COUNTER: &str = "UPDATE feed_counter SET next_seq=$1 WHERE id=1";
const SQL_AHEAD_CLEAR: &str = "DELETE FROM held_ahead WHERE device_id=$1 AND device_seq<=$2";
const SQL_PARKED: &str = "SELECT change FROM parked WHERE device_id=$1 ORDER BY device_seq";
const SQL_PARK: &str = "INSERT INTO parked (device_id, device_seq, op_id, change) SELECT $1, s, o, c FROM unnest($2::int8[], $3::uuid[], $4::text[]) AS x(s, o, c)
     ON CONFLICT (device_id, device_seq) DO UPDATE SET op_id=excluded.op_id, change=excluded.change";
const SQL_UNPARK: &str = "DELETE FROM parked WHERE device_id=$1 AND device_seq = ANY($2)";
const SQL_REJECTED: &str =
    "SELECT op_id, device_seq, code, message FROM rejections WHERE device_id=$1 AND op_id = ANY($2)";
const SQL_DEVICE_UPDATE: &str =
    "UPDATE devices SET max_device_seq=$1, last_seen_ms=$2, heartbeat=$3 WHERE device_id=$4";

async fn statements(client: &deadpool_postgres::Client) -> Result<Statements, StoreError> {
    let all = [
        SQL_LOCK,
        SQL_OPS,
        SQL_ROWS,
        SQL_FIELDS,
        SQL_VILLAGES,
        SQL_DEVICE,
        SQL_CHANGES,
        SQL_INSERT_FIELDS,
        SQL_UPSERT_FIELDS,
        SQL_INSERT_ROWS,
        SQL_UPSERT_ROWS,
        SQL_BLOB_REFS,
        SQL_REJECTIONS,
        SQL_FEED,
        SQL_COUNTER,
        SQL_AHEAD_CLEAR,
        SQL_DEVICE_UPDATE,
        SQL_PARKED,
        SQL_PARK,
        SQL_UNPARK,
        SQL_REJECTED,
    ];
    let mut st =
        futures_util::future::try_join_all(all.iter().map(|sql| client.prepare_cached(sql)))
            .await?
            .into_iter();
    let mut next = || st.next().expect("one statement per query");
    Ok(Statements {
        lock: next(),
        ops: next(),
        rows: next(),
        fields: next(),
        villages: next(),
        device: next(),
        changes: next(),
        insert_fields: next(),
        upsert_fields: next(),
        insert_rows: next(),
        upsert_rows: next(),
        blob_refs: next(),
        rejections: next(),
        feed: next(),
        counter: next(),
        ahead_clear: next(),
        device_update: next(),
        parked: next(),
        park: next(),
        unpark: next(),
        rejected: next(),
    })
}

/// What a push needs that does not depend on stored state, computed before the
/// transaction takes the feed-counter lock.
struct Prepared {
    keys: ingest::Keys,
    /// Canonical JSON text of every change's value, by index.
    values: Vec<String>,
    heartbeat: String,
}

fn prepare(batch: &PushBatch) -> Prepared {
    Prepared {
        keys: ingest::keys(&batch.changes),
        values: ingest::canonical_values(&batch.changes),
        heartbeat: ingest::stored_heartbeat(&batch.heartbeat),
    }
}

/// The state a batch touches, plus the feed counter and the device's held seqs.
struct Locked {
    next_seq: i64,
    loaded: Loaded,
    /// The device's changes parked behind a gap.
    parked: Vec<Change>,
}

/// Loads the state `keys` name (ops, rows, fields, villages), pipelined.
async fn load_keys(
    tx: &Transaction<'_>,
    st: &Statements,
    keys: &ingest::Keys,
) -> Result<Loaded, StoreError> {
    let (rt, rid): (Vec<&str>, Vec<Uuid>) =
        keys.rows.iter().map(|(t, id)| (t.as_str(), *id)).unzip();
    let ft: Vec<&str> = keys.fields.iter().map(|k| k.table.as_str()).collect();
    let fid: Vec<Uuid> = keys.fields.iter().map(|k| k.row_id).collect();
    let ff: Vec<&str> = keys.fields.iter().map(|k| k.field.as_str()).collect();
    let (ops, rows, fields, villages) = futures_util::future::try_join4(
        tx.query(&st.ops, &[&keys.op_ids]),
        tx.query(&st.rows, &[&rt, &rid]),
        tx.query(&st.fields, &[&ft, &fid, &ff]),
        tx.query(&st.villages, &[&keys.villages]),
    )
    .await?;
    let mut loaded = Loaded::default();
    for r in ops {
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
    for r in rows {
        loaded.rows.insert(
            (r.get(0), r.get(1)),
            RowState {
                scope: r.get(2),
                child_id: r.get(3),
                created: r
                    .get::<_, Option<i64>>(4)
                    .zip(r.get::<_, Option<Uuid>>(5))
                    .map(|(h, d)| Stamp {
                        hlc: Hlc::from_u64(h as u64),
                        device_id: d,
                    }),
            },
        );
    }
    for r in fields {
        loaded.fields.insert(
            FieldKey {
                table: r.get(0),
                row_id: r.get(1),
                field: r.get(2),
            },
            Winner {
                stamp: Stamp {
                    hlc: Hlc::from_u64(r.get::<_, i64>(3) as u64),
                    device_id: r.get(4),
                },
                value: r.get(5),
                op_id: r.get(6),
            },
        );
    }
    for r in villages {
        loaded.villages.insert(r.get(0));
    }
    Ok(loaded)
}

/// Takes the feed-counter lock and loads the batch's state, in ONE round trip: the
/// lock statement is sent first and the loads are pipelined behind it on the same
/// connection. PostgreSQL runs a connection's statements in order, so each load starts
/// — and, in READ COMMITTED, takes its snapshot — only once the lock is held: it sees
/// everything the previous holder committed.
async fn lock_and_load(
    tx: &Transaction<'_>,
    st: &Statements,
    device_id: Uuid,
    keys: &ingest::Keys,
) -> Result<Locked, StoreError> {
    // `try_join` polls its first future first: the lock request is queued before the
    // loads.
    let (lock, (mut loaded, device, parked)) = futures_util::future::try_join(
        async { Ok::<_, StoreError>(tx.query_one(&st.lock, &[]).await?) },
        futures_util::future::try_join3(
            load_keys(tx, st, keys),
            async { Ok(tx.query_one(&st.device, &[&device_id]).await?) },
            async { Ok(tx.query(&st.parked, &[&device_id]).await?) },
        ),
    )
    .await?;
    loaded.max_device_seq = device.get::<_, i64>(0) as u64;
    loaded.held_ahead = device
        .get::<_, Vec<i64>>(1)
        .into_iter()
        .map(|s| s as u64)
        .collect();
    let parked = parked
        .iter()
        .map(|r| serde_json::from_str::<Change>(r.get(0)).map_err(corrupt))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Locked {
        next_seq: lock.get(0),
        loaded,
        parked,
    })
}

/// Writes feed items that re-feed moved rows (their seqs depend on how many fields the
/// rows have, so they run one statement after the other). Rare: only moves.
async fn write_feed_with_refeeds(
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
            tx.execute(SQL_FEED, &[&*seqs, &*scopes, &*ops]).await?;
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
                        "INSERT INTO feed (server_seq, scope, op_id, refeed)
                         SELECT $1 + row_number() OVER (ORDER BY field) - 1, $2, op_id, true FROM fields WHERE table_name=$3 AND row_id=$4",
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
                            "INSERT INTO feed (server_seq, scope, op_id, refeed)
                             SELECT $1 + row_number() OVER (ORDER BY f.table_name, f.row_id, f.field) - 1, $2, f.op_id, true
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

type Param<'a> = &'a (dyn tokio_postgres::types::ToSql + Sync);

/// Column arrays of field winners, for `unnest`.
#[derive(Default)]
struct FieldArrays<'a> {
    t: Vec<&'a str>,
    r: Vec<Uuid>,
    f: Vec<&'a str>,
    h: Vec<i64>,
    d: Vec<Uuid>,
    v: Vec<&'a str>,
    o: Vec<Uuid>,
}

impl<'a> FieldArrays<'a> {
    fn of(winners: &[(&'a FieldKey, &'a Winner)]) -> FieldArrays<'a> {
        let mut a = FieldArrays::default();
        for (k, w) in winners {
            a.t.push(k.table.as_str());
            a.r.push(k.row_id);
            a.f.push(k.field.as_str());
            a.h.push(w.stamp.hlc.as_u64() as i64);
            a.d.push(w.stamp.device_id);
            a.v.push(w.value.as_str());
            a.o.push(w.op_id);
        }
        a
    }
    fn params(&self) -> [Param<'_>; 7] {
        [
            &self.t, &self.r, &self.f, &self.h, &self.d, &self.v, &self.o,
        ]
    }
}

/// Column arrays of row states, for `unnest`.
#[derive(Default)]
struct RowArrays<'a> {
    t: Vec<&'a str>,
    r: Vec<Uuid>,
    s: Vec<&'a str>,
    c: Vec<Option<Uuid>>,
    ch: Vec<Option<i64>>,
    cd: Vec<Option<Uuid>>,
}

impl<'a> RowArrays<'a> {
    fn of(rows: &[(&'a ingest::RowKey, &'a RowState)]) -> RowArrays<'a> {
        let mut a = RowArrays::default();
        for (k, r) in rows {
            a.t.push(k.0.as_str());
            a.r.push(k.1);
            a.s.push(r.scope.as_str());
            a.c.push(r.child_id);
            a.ch.push(r.created.map(|s| s.hlc.as_u64() as i64));
            a.cd.push(r.created.map(|s| s.device_id));
        }
        a
    }
    fn params(&self) -> [Param<'_>; 6] {
        [&self.t, &self.r, &self.s, &self.c, &self.ch, &self.cd]
    }
}

type Exec<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<u64, tokio_postgres::Error>> + Send + 'a>,
>;

/// One push in one transaction, inside the feed-counter lock (see the module doc): one
/// round trip takes the lock and loads the state, the plan is made in memory, one
/// pipelined round trip writes everything (the commit is the third).
async fn ingest_batch(
    tx: &Transaction<'_>,
    st: &Statements,
    device: &DeviceAuth,
    batch: &PushBatch,
    prepared: &Prepared,
) -> Result<PushOutcome, StoreError> {
    // The serialisation point: see the module doc.
    let Locked {
        next_seq: next,
        mut loaded,
        parked,
    } = lock_and_load(tx, st, device.device_id, &prepared.keys).await?;
    // Parked changes (rare: only after a gap) join the batch, with the state they
    // touch (one more round trip, under the lock).
    let all: Vec<Change>;
    let mut all_values: Vec<String>;
    let (changes, values): (&[Change], &[String]) = if parked.is_empty() {
        (&batch.changes, &prepared.values)
    } else {
        let more = load_keys(tx, st, &ingest::keys(&parked)).await?;
        loaded.ops.extend(more.ops);
        loaded.rows.extend(more.rows);
        loaded.fields.extend(more.fields);
        loaded.villages.extend(more.villages);
        all_values = prepared.values.clone();
        all_values.extend(ingest::canonical_values(&parked));
        all = batch.changes.iter().cloned().chain(parked).collect();
        (&all, &all_values)
    };
    let max_before = loaded.max_device_seq;
    let had_ahead = !loaded.held_ahead.is_empty();
    let repushed =
        ingest::repushed_op_ids(&batch.changes, &loaded.ops, max_before, &loaded.held_ahead);
    if !repushed.is_empty() {
        for r in tx
            .query(&st.rejected, &[&device.device_id, &repushed])
            .await?
        {
            loaded.rejections.insert(
                r.get(0),
                ingest::StoredRejection {
                    device_seq: r.get::<_, i64>(1) as u64,
                    code: r.get(2),
                    message: r.get(3),
                },
            );
        }
    }
    let had_fields: HashSet<FieldKey> = loaded.fields.keys().cloned().collect();
    let had_rows: HashSet<ingest::RowKey> = loaded.rows.keys().cloned().collect();
    let plan = ingest::plan_with_values(
        device,
        changes,
        values,
        batch.changes.len(),
        loaded,
        batch.now_ms,
        batch.max_ahead_ms,
    );
    let now = batch.now_ms as i64;
    let max = plan.max_device_seq;
    let max_i = max as i64;

    // Column arrays of everything to write.
    let acc: Vec<&Change> = plan.accepted.iter().map(|&i| &changes[i]).collect();
    let c_op: Vec<Uuid> = acc.iter().map(|c| c.op_id).collect();
    let c_seq: Vec<i64> = acc.iter().map(|c| c.device_seq as i64).collect();
    let c_table: Vec<&str> = acc.iter().map(|c| c.table.as_str()).collect();
    let c_row: Vec<Uuid> = acc.iter().map(|c| c.row_id).collect();
    let c_field: Vec<&str> = acc.iter().map(|c| c.field.as_str()).collect();
    let c_value: Vec<&str> = plan.accepted.iter().map(|&i| values[i].as_str()).collect();
    let c_hlc: Vec<i64> = acc.iter().map(|c| c.hlc.as_u64() as i64).collect();
    let c_scope: Vec<&str> = acc.iter().map(|c| c.scope.as_str()).collect();

    // Winners and row states split into new keys (a plain INSERT: under the lock no one
    // else can insert them) and stored ones (an upsert, which costs PostgreSQL about
    // twice as much per row).
    let (new_fields, old_fields): (Vec<_>, Vec<_>) = plan
        .fields
        .iter()
        .partition(|(k, _)| !had_fields.contains(*k));
    let nf = FieldArrays::of(&new_fields);
    let of = FieldArrays::of(&old_fields);
    let (new_rows, old_rows): (Vec<_>, Vec<_>) =
        plan.rows.iter().partition(|(k, _)| !had_rows.contains(*k));
    let nr = RowArrays::of(&new_rows);
    let or = RowArrays::of(&old_rows);

    let b_h: Vec<&str> = plan.blob_refs.iter().map(|b| b.0.as_str()).collect();
    let b_t: Vec<&str> = plan.blob_refs.iter().map(|b| b.1 .0.as_str()).collect();
    let b_r: Vec<Uuid> = plan.blob_refs.iter().map(|b| b.1 .1).collect();

    // Held rejections (the rule is ingest's: see `Plan::held_rejections`).
    let held = plan.held_rejections(changes);
    let j_op: Vec<Uuid> = held.iter().map(|r| changes[r.index].op_id).collect();
    let j_seq: Vec<i64> = held
        .iter()
        .map(|r| changes[r.index].device_seq as i64)
        .collect();
    let j_code: Vec<&str> = held.iter().map(|r| r.code).collect();
    let j_msg: Vec<&str> = held.iter().map(|r| r.message.as_str()).collect();
    let j_change: Vec<String> = held
        .iter()
        .map(|r| ingest::kept_change(&changes[r.index], &values[r.index]))
        .collect();
    // The dense rule's bookkeeping (ingest decided it).
    let p_seq: Vec<i64> = plan
        .park
        .iter()
        .map(|&i| changes[i].device_seq as i64)
        .collect();
    let p_op: Vec<Uuid> = plan.park.iter().map(|&i| changes[i].op_id).collect();
    let p_change: Vec<String> = plan
        .park
        .iter()
        .map(|&i| serde_json::to_string(&changes[i]).unwrap_or_default())
        .collect();
    let u_seq: Vec<i64> = plan.unpark.iter().map(|s| *s as i64).collect();

    // Feed: without a move, every entry's seq is known now.
    let refeed = plan.has_refeed();
    let mut e_seq: Vec<i64> = Vec::new();
    let mut e_scope: Vec<&str> = Vec::new();
    let mut e_op: Vec<Uuid> = Vec::new();
    if !refeed {
        for item in &plan.feed {
            if let FeedItem::Entry { scope, op_id } = item {
                e_seq.push(next + e_seq.len() as i64);
                e_scope.push(scope);
                e_op.push(*op_id);
            }
        }
    }
    let after_known = next + e_seq.len() as i64;

    // One pipelined round trip for all the writes.
    type P<'a> = &'a (dyn tokio_postgres::types::ToSql + Sync);
    let p_changes: [P<'_>; 11] = [
        &c_op,
        &device.device_id,
        &device.account_id,
        &now,
        &c_seq,
        &c_table,
        &c_row,
        &c_field,
        &c_value,
        &c_hlc,
        &c_scope,
    ];
    let p_new_fields = nf.params();
    let p_old_fields = of.params();
    let p_new_rows = nr.params();
    let p_old_rows = or.params();
    let p_blobs: [P<'_>; 3] = [&b_h, &b_t, &b_r];
    let p_rejections: [P<'_>; 7] = [
        &device.device_id,
        &now,
        &j_op,
        &j_seq,
        &j_code,
        &j_msg,
        &j_change,
    ];
    let p_feed: [P<'_>; 3] = [&e_seq, &e_scope, &e_op];
    let p_counter: [P<'_>; 1] = [&after_known];
    let p_ahead_clear: [P<'_>; 2] = [&device.device_id, &max_i];
    let p_park: [P<'_>; 4] = [&device.device_id, &p_seq, &p_op, &p_change];
    let p_unpark: [P<'_>; 2] = [&device.device_id, &u_seq];
    let p_device: [P<'_>; 4] = [&max_i, &now, &prepared.heartbeat, &device.device_id];
    let mut writes: Vec<Exec<'_>> = Vec::new();
    if !c_op.is_empty() {
        writes.push(Box::pin(tx.execute(&st.changes, &p_changes)));
    }
    if !nf.t.is_empty() {
        writes.push(Box::pin(tx.execute(&st.insert_fields, &p_new_fields)));
    }
    if !of.t.is_empty() {
        writes.push(Box::pin(tx.execute(&st.upsert_fields, &p_old_fields)));
    }
    if !nr.t.is_empty() {
        writes.push(Box::pin(tx.execute(&st.insert_rows, &p_new_rows)));
    }
    if !or.t.is_empty() {
        writes.push(Box::pin(tx.execute(&st.upsert_rows, &p_old_rows)));
    }
    if !b_h.is_empty() {
        writes.push(Box::pin(tx.execute(&st.blob_refs, &p_blobs)));
    }
    if !j_op.is_empty() {
        writes.push(Box::pin(tx.execute(&st.rejections, &p_rejections)));
    }
    if !e_seq.is_empty() {
        writes.push(Box::pin(tx.execute(&st.feed, &p_feed)));
    }
    if !refeed && after_known != next {
        writes.push(Box::pin(tx.execute(&st.counter, &p_counter)));
    }
    if had_ahead && max > max_before {
        writes.push(Box::pin(tx.execute(&st.ahead_clear, &p_ahead_clear)));
    }
    if !u_seq.is_empty() {
        writes.push(Box::pin(tx.execute(&st.unpark, &p_unpark)));
    }
    if !p_seq.is_empty() {
        writes.push(Box::pin(tx.execute(&st.park, &p_park)));
    }
    writes.push(Box::pin(tx.execute(&st.device_update, &p_device)));
    futures_util::future::try_join_all(writes).await?;
    if refeed {
        let after = write_feed_with_refeeds(tx, &plan.feed, next).await?;
        if after != next {
            tx.execute(&st.counter, &[&after]).await?;
        }
    }

    crate::metrics::ingested(plan.accepted.len(), &plan.rejections);
    Ok(plan.outcome(changes))
}

/// `uploader`'s upload of a blob; complete when the blob is complete and proven in
/// `uploader.scopes`.
async fn blob_state(
    c: &impl GenericClient,
    sha: &str,
    uploader: Uploader<'_>,
) -> Result<BlobState, StoreError> {
    if let Some(r) = c
        .query_opt("SELECT size FROM blobs WHERE sha256=$1", &[&sha])
        .await?
    {
        if blob_access(c, sha, uploader.scopes).await?.proven {
            let size: i64 = r.get(0);
            return Ok(BlobState {
                held_bytes: size as u64,
                total: Some(size as u64),
                complete: true,
            });
        }
    }
    let r = c.query_one("SELECT COALESCE(SUM(length(data)), 0)::int8, MAX(total) FROM blob_chunks WHERE sha256=$1 AND device_id=$2", &[&sha, &uploader.device_id]).await?;
    Ok(BlobState {
        held_bytes: r.get::<_, i64>(0) as u64,
        total: r.get::<_, Option<i64>>(1).map(|t| t as u64),
        complete: false,
    })
}

#[async_trait]
impl AccountStore for PostgresDatabase {
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
            .query_opt("SELECT code_id, account_id, secret_hash, expires_ms, used_ms IS NOT NULL, device_id FROM enroll_codes WHERE code_id=$1", &[&code_id])
            .await?;
        Ok(r.map(|r| EnrollCodeRecord {
            code_id: r.get(0),
            account_id: r.get(1),
            secret_hash: r.get(2),
            expires_ms: r.get(3),
            used: r.get(4),
            used_by: r.get(5),
        }))
    }

    async fn enroll_device(
        &self,
        code_id: &str,
        device: NewDevice,
        now_ms: i64,
    ) -> Result<Result<DeviceAuth, EnrollRefusal>, StoreError> {
        let mut client = self.pool.get().await?;
        // One transaction. Two tries of one enrollment at once (a phone retrying while
        // its first request is still being answered) serialise on the code's row (the
        // fresh path) or the device's row (a retry); a statement that waited reads what
        // the other committed (READ COMMITTED), so the later try redeems the code again.
        let tx = client.transaction().await?;
        let exists = tx
            .query_opt(
                "SELECT 1 FROM devices WHERE device_id=$1",
                &[&device.device_id],
            )
            .await?
            .is_some();
        let mut account = None;
        if !exists {
            if let Some(r) = tx
                .query_opt(
                    "UPDATE enroll_codes SET used_ms=$1, device_id=$2 WHERE code_id=$3 AND used_ms IS NULL RETURNING account_id",
                    &[&now_ms, &device.device_id, &code_id],
                )
                .await?
            {
                let account_id: i64 = r.get(0);
                tx.execute(
                    "INSERT INTO devices (device_id, account_id, name, app_version, token_hash, enrolled_ms) VALUES ($1,$2,$3,$4,$5,$6)",
                    &[&device.device_id, &account_id, &device.name, &device.app_version, &device.token_hash.as_slice(), &now_ms],
                )
                .await?;
                account = Some(account_id);
            }
        }
        if account.is_none() {
            // The code is used: by this device, whose answer may have been lost?
            account = tx
                .query_opt(
                    "UPDATE devices SET token_hash=$1 WHERE device_id=$2 AND revoked_ms IS NULL AND token_used_ms IS NULL
                       AND account_id = (SELECT account_id FROM enroll_codes WHERE code_id=$3 AND device_id=$2 AND used_ms IS NOT NULL AND expires_ms>$4)
                     RETURNING account_id",
                    &[&device.token_hash.as_slice(), &device.device_id, &code_id, &now_ms],
                )
                .await?
                .map(|r| r.get::<_, i64>(0));
        }
        let Some(account_id) = account else {
            let enrolled_by_it = tx
                .query_opt(
                    "SELECT 1 FROM enroll_codes WHERE code_id=$1 AND device_id=$2",
                    &[&code_id, &device.device_id],
                )
                .await?
                .is_some();
            return Ok(Err(if exists && !enrolled_by_it {
                EnrollRefusal::DeviceExists
            } else {
                EnrollRefusal::CodeUsed
            }));
        };
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

    async fn authenticate(
        &self,
        token_hash: [u8; 32],
        now_ms: i64,
    ) -> Result<Option<DeviceAuth>, StoreError> {
        let client = self.pool.get().await?;
        let Some(r) = client
            .query_opt(
                "SELECT d.device_id, d.account_id, a.role, a.place, d.revoked_ms IS NOT NULL, d.token_used_ms IS NULL FROM devices d JOIN accounts a ON a.id=d.account_id WHERE d.token_hash=$1",
                &[&token_hash.as_slice()],
            )
            .await?
        else {
            return Ok(None);
        };
        if r.get::<_, bool>(5) {
            // Once per token: the phone holds it, so its code is spent for good.
            client
                .execute(
                    "UPDATE devices SET token_used_ms=$1 WHERE token_hash=$2 AND token_used_ms IS NULL",
                    &[&now_ms, &token_hash.as_slice()],
                )
                .await?;
        }
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
                        .map_err(|e| corrupt(format!("quarantine: {e}")))?,
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
}

#[async_trait]
impl SyncStore for PostgresDatabase {
    async fn push(&self, device: &DeviceAuth, batch: PushBatch) -> Result<PushOutcome, StoreError> {
        let prepared = prepare(&batch);
        let mut client = self.pool.get().await?;
        let st = statements(&client).await?;
        let tx = client.transaction().await?;
        let out = ingest_batch(&tx, &st, device, &batch, &prepared).await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn pull(
        &self,
        device: &DeviceAuth,
        cursor: u64,
        limit: u32,
        include_own: bool,
        now_ms: i64,
    ) -> Result<PullPage, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let rows = tx
            .query(
                "SELECT f.server_seq, f.scope, c.op_id, c.device_id, c.device_seq, c.table_name, c.row_id, c.field, c.value, c.hlc, f.refeed
                 FROM feed f JOIN changes c ON c.op_id=f.op_id
                 WHERE f.server_seq > $1 AND f.scope = ANY($2) ORDER BY f.server_seq LIMIT $3",
                &[&(cursor as i64), &device.read_scopes, &(limit as i64 + 1)],
            )
            .await?;
        let mut scanned = Vec::with_capacity(rows.len());
        for r in &rows {
            let value: &str = r.get(8);
            scanned.push(ScannedEntry {
                pulled: PulledChange {
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
                },
                refeed: r.get(10),
            });
        }
        let page = pull_page(scanned, cursor, limit, device.device_id, include_own);
        {
            for e in access_entries(device, &page, now_ms) {
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

    async fn child_id_numbers(&self) -> Result<Vec<crate::one_file::IdNumberFile>, StoreError> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "SELECT r.row_id, r.scope, f.value FROM fields f
                 JOIN rows r ON r.table_name=f.table_name AND r.row_id=f.row_id
                 WHERE f.table_name='child' AND f.field='id_number' AND f.value <> 'null'
                 AND NOT EXISTS (SELECT 1 FROM fields d WHERE d.table_name='child' AND d.row_id=f.row_id AND d.field='deleted' AND d.value='true')",
                &[],
            )
            .await?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                let value: &str = r.get(2);
                serde_json::from_str::<Option<String>>(value)
                    .ok()
                    .flatten()
                    .map(|id_number| crate::one_file::IdNumberFile {
                        child_id: r.get(0),
                        village: r.get(1),
                        id_number,
                    })
            })
            .collect())
    }
}

#[async_trait]
impl BlobUploads for PostgresDatabase {
    async fn blob_state(
        &self,
        sha256: &str,
        uploader: Uploader<'_>,
    ) -> Result<BlobState, StoreError> {
        let client = self.pool.get().await?;
        blob_state(&client, sha256, uploader).await
    }

    async fn blob_append(
        &self,
        sha256: &str,
        uploader: Uploader<'_>,
        offset: u64,
        total: u64,
        chunk: Vec<u8>,
    ) -> Result<AppendOutcome, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        // One upload step at a time per blob and device, across all server processes.
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext($1 || $2))",
            &[&sha256, &uploader.device_id.to_string()],
        )
        .await?;
        let state = blob_state(&tx, sha256, uploader).await?;
        let held = match chunk_step(&state, offset, total, chunk.len() as u64) {
            ChunkStep::Answer(a) => return Ok(a),
            ChunkStep::Store { held_bytes } => held_bytes,
        };
        tx.execute(
            "INSERT INTO blob_chunks (sha256, device_id, \"offset\", total, data) VALUES ($1,$2,$3,$4,$5)",
            &[&sha256, &uploader.device_id, &(offset as i64), &(total as i64), &chunk],
        )
        .await?;
        tx.commit().await?;
        Ok(if held < total {
            AppendOutcome::Appended { held_bytes: held }
        } else {
            AppendOutcome::HeldInFull
        })
    }

    async fn blob_held(
        &self,
        sha256: &str,
        uploader: Uploader<'_>,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let mut client = self.pool.get().await?;
        // One snapshot for the state and the chunks.
        let tx = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let state = blob_state(&tx, sha256, uploader).await?;
        if !state.held_in_full() {
            return Ok(None);
        }
        let mut bytes = Vec::with_capacity(state.held_bytes as usize);
        for r in tx
            .query(
                "SELECT data FROM blob_chunks WHERE sha256=$1 AND device_id=$2 ORDER BY \"offset\"",
                &[&sha256, &uploader.device_id],
            )
            .await?
        {
            bytes.extend_from_slice(r.get::<_, &[u8]>(0));
        }
        tx.commit().await?;
        Ok(Some(bytes))
    }

    async fn blob_finish(
        &self,
        sha256: &str,
        uploader: Uploader<'_>,
        complete_size: Option<u64>,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        if let Some(size) = complete_size {
            tx.execute("INSERT INTO blobs (sha256, size, completed_ms) VALUES ($1,$2,$3) ON CONFLICT DO NOTHING", &[&sha256, &(size as i64), &now_ms]).await?;
            // Proof of possession: this device sent every byte, verified.
            tx.execute(
                "UPDATE blob_refs b SET proven=true FROM rows r
                 WHERE b.sha256=$1 AND NOT b.proven AND r.table_name=b.table_name AND r.row_id=b.row_id AND r.scope = ANY($2)",
                &[&sha256, &uploader.scopes],
            )
            .await?;
        }
        tx.execute(
            "DELETE FROM blob_chunks WHERE sha256=$1 AND device_id=$2",
            &[&sha256, &uploader.device_id],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn blob_access(&self, sha256: &str, scopes: &[String]) -> Result<BlobAccess, StoreError> {
        let client = self.pool.get().await?;
        blob_access(&client, sha256, scopes).await
    }
}

async fn blob_access(
    c: &impl GenericClient,
    sha: &str,
    scopes: &[String],
) -> Result<BlobAccess, StoreError> {
    let r = c
        .query_one(
            "SELECT bool_or(b.proven) AND EXISTS (SELECT 1 FROM blobs WHERE sha256=$1), count(*) > 0
             FROM blob_refs b JOIN rows r ON r.table_name=b.table_name AND r.row_id=b.row_id
             WHERE b.sha256=$1 AND r.scope = ANY($2)",
            &[&sha, &scopes],
        )
        .await?;
    Ok(BlobAccess {
        proven: r.get::<_, Option<bool>>(0).unwrap_or(false),
        named: r.get(1),
    })
}

#[async_trait]
impl BenchStore for PostgresDatabase {
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

    async fn bench_console_rows(&self, villages: &[String]) -> Result<usize, StoreError> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "SELECT child_id, village, name, risk_colour, categories, active, added_on, last_visit_on, next_due_on, agreement_until, due_on, left_behind FROM console_children WHERE village = ANY($1)",
                &[&villages],
            )
            .await?;
        for r in &rows {
            std::hint::black_box(child_facts(r));
        }
        Ok(rows.len())
    }
}

const PERSON_SQL: &str = "SELECT a.id, a.login, a.name, a.role, a.place, p.password_hash, p.login_code_hash, p.login_code_expires_ms, p.failed_logins, p.locked_until_ms
     FROM accounts a LEFT JOIN people p ON p.account_id=a.id";

fn person_of(r: Option<tokio_postgres::Row>) -> Result<Option<PersonRecord>, StoreError> {
    let Some(r) = r else { return Ok(None) };
    Ok(Some(PersonRecord {
        account_id: r.get(0),
        login: r.get(1),
        name: r.get(2),
        role: Role::parse(r.get::<_, &str>(3)).ok_or_else(|| corrupt("unknown role"))?,
        place: r.get(4),
        password_hash: r.get(5),
        login_code_hash: r.get(6),
        login_code_expires_ms: r.get(7),
        failed_logins: r.get::<_, Option<i64>>(8).unwrap_or(0),
        locked_until_ms: r.get(9),
    }))
}

/// The test of `col` for `villages` as `$1` (a `text[]`), and the array to bind:
/// none for [`VillageSet::All`] (the array, empty, is still bound and typed).
fn village_filter(villages: VillageSet<'_>, col: &str) -> (String, Vec<String>) {
    match villages {
        VillageSet::All => ("$1::text[] IS NOT NULL".into(), Vec::new()),
        VillageSet::Only(v) => (format!("{col} = ANY($1)"), v.to_vec()),
    }
}

fn child_facts(r: &tokio_postgres::Row) -> ChildFacts {
    ChildFacts {
        child_id: r.get(0),
        village: r.get(1),
        name: r.get(2),
        risk_colour: r.get(3),
        categories: serde_json::from_str(r.get::<_, &str>(4)).unwrap_or_default(),
        active: r.get(5),
        added_on: r.get(6),
        last_visit_on: r.get(7),
        next_due_on: r.get(8),
        agreement_until: r.get(9),
        due_on: r.get(10),
        left_behind: r.get(11),
    }
}

#[async_trait]
impl ConsoleStore for PostgresDatabase {
    async fn person(&self, login: &str) -> Result<Option<PersonRecord>, StoreError> {
        let client = self.pool.get().await?;
        person_of(
            client
                .query_opt(&format!("{PERSON_SQL} WHERE a.login=$1"), &[&login])
                .await?,
        )
    }

    async fn person_by_id(&self, account_id: i64) -> Result<Option<PersonRecord>, StoreError> {
        let client = self.pool.get().await?;
        person_of(
            client
                .query_opt(&format!("{PERSON_SQL} WHERE a.id=$1"), &[&account_id])
                .await?,
        )
    }

    async fn set_login_code(
        &self,
        account_id: i64,
        code_hash: String,
        expires_ms: i64,
    ) -> Result<(), StoreError> {
        let client = self.pool.get().await?;
        client
            .execute(
                "INSERT INTO people (account_id, login_code_hash, login_code_expires_ms, failed_logins, locked_until_ms) VALUES ($1,$2,$3,0,NULL)
                 ON CONFLICT (account_id) DO UPDATE SET login_code_hash=$2, login_code_expires_ms=$3, failed_logins=0, locked_until_ms=NULL",
                &[&account_id, &code_hash, &expires_ms],
            )
            .await?;
        Ok(())
    }

    async fn set_password(&self, account_id: i64, password_hash: String) -> Result<(), StoreError> {
        let client = self.pool.get().await?;
        client
            .execute(
                "INSERT INTO people (account_id, password_hash) VALUES ($1,$2)
                 ON CONFLICT (account_id) DO UPDATE SET password_hash=$2, login_code_hash=NULL, login_code_expires_ms=NULL, failed_logins=0, locked_until_ms=NULL",
                &[&account_id, &password_hash],
            )
            .await?;
        Ok(())
    }

    async fn login_failed(
        &self,
        account_id: i64,
        now_ms: i64,
        lock_after: i64,
        lock_ms: i64,
    ) -> Result<i64, StoreError> {
        let client = self.pool.get().await?;
        let until = now_ms + lock_ms;
        let r = client
            .query_one(
                "INSERT INTO people (account_id, failed_logins) VALUES ($1, 1)
                 ON CONFLICT (account_id) DO UPDATE SET failed_logins=people.failed_logins+1,
                    locked_until_ms=CASE WHEN people.failed_logins+1 >= $2 THEN $3 ELSE people.locked_until_ms END
                 RETURNING failed_logins",
                &[&account_id, &lock_after, &until],
            )
            .await?;
        let n: i64 = r.get(0);
        if n >= lock_after {
            client
                .execute(
                    "UPDATE people SET locked_until_ms=$2 WHERE account_id=$1",
                    &[&account_id, &until],
                )
                .await?;
        }
        Ok(n)
    }

    async fn login_succeeded(&self, account_id: i64) -> Result<(), StoreError> {
        let client = self.pool.get().await?;
        client
            .execute(
                "UPDATE people SET failed_logins=0, locked_until_ms=NULL WHERE account_id=$1",
                &[&account_id],
            )
            .await?;
        Ok(())
    }

    async fn add_session(&self, session: SessionRecord) -> Result<(), StoreError> {
        let client = self.pool.get().await?;
        client
            .execute(
                "DELETE FROM sessions WHERE expires_ms < $1",
                &[&session.created_ms],
            )
            .await?;
        client
            .execute(
                "INSERT INTO sessions (token_hash, account_id, csrf, created_ms, expires_ms) VALUES ($1,$2,$3,$4,$5)",
                &[&session.token_hash.as_slice(), &session.account_id, &session.csrf, &session.created_ms, &session.expires_ms],
            )
            .await?;
        Ok(())
    }

    async fn session(
        &self,
        token_hash: [u8; 32],
        now_ms: i64,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let client = self.pool.get().await?;
        Ok(client
            .query_opt(
                "SELECT account_id, csrf, created_ms, expires_ms FROM sessions WHERE token_hash=$1 AND expires_ms > $2",
                &[&token_hash.as_slice(), &now_ms],
            )
            .await?
            .map(|r| SessionRecord {
                token_hash,
                account_id: r.get(0),
                csrf: r.get(1),
                created_ms: r.get(2),
                expires_ms: r.get(3),
            }))
    }

    async fn end_session(&self, token_hash: [u8; 32]) -> Result<(), StoreError> {
        let client = self.pool.get().await?;
        client
            .execute(
                "DELETE FROM sessions WHERE token_hash=$1",
                &[&token_hash.as_slice()],
            )
            .await?;
        Ok(())
    }

    async fn principal(&self, account_id: i64) -> Result<Option<Principal>, StoreError> {
        let client = self.pool.get().await?;
        let Some(r) = client
            .query_opt(
                "SELECT role, place FROM accounts WHERE id=$1",
                &[&account_id],
            )
            .await?
        else {
            return Ok(None);
        };
        let role = Role::parse(r.get::<_, &str>(0)).ok_or_else(|| corrupt("unknown role"))?;
        let place: Option<String> = r.get(1);
        let villages = scopes_for(&client, account_id, role, place.as_deref()).await?;
        Ok(Some(Principal::new(account_id, role, villages)))
    }

    async fn log_console(&self, entry: ConsoleLogEntry) -> Result<(), StoreError> {
        let client = self.pool.get().await?;
        client
            .execute(
                "INSERT INTO console_log (account_id, action, subject, at_ms) VALUES ($1,$2,$3,$4)",
                &[
                    &entry.account_id,
                    &entry.action,
                    &entry.subject,
                    &entry.at_ms,
                ],
            )
            .await?;
        Ok(())
    }

    async fn console_log(&self, limit: i64) -> Result<Vec<ConsoleLogEntry>, StoreError> {
        let client = self.pool.get().await?;
        Ok(client
            .query(
                "SELECT l.account_id, COALESCE(a.login, ''), l.action, l.subject, l.at_ms FROM console_log l
                 LEFT JOIN accounts a ON a.id=l.account_id ORDER BY l.id DESC LIMIT $1",
                &[&limit],
            )
            .await?
            .iter()
            .map(|r| ConsoleLogEntry {
                account_id: r.get(0),
                login: r.get(1),
                action: r.get(2),
                subject: r.get(3),
                at_ms: r.get(4),
            })
            .collect())
    }

    async fn place_names(&self, codes: &[String]) -> Result<BTreeMap<String, String>, StoreError> {
        let client = self.pool.get().await?;
        Ok(client
            .query(
                "SELECT code, name FROM places WHERE code = ANY($1)",
                &[&codes],
            )
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    async fn places(&self) -> Result<Vec<PlaceRow>, StoreError> {
        let client = self.pool.get().await?;
        client
            .query(
                "SELECT code, kind, name, parent FROM places ORDER BY code",
                &[],
            )
            .await?
            .iter()
            .map(|r| {
                Ok(PlaceRow {
                    code: r.get(0),
                    kind: crate::roster::PlaceKind::parse(r.get::<_, &str>(1))
                        .ok_or_else(|| corrupt("unknown place kind"))?,
                    name: r.get(2),
                    parent: r.get(3),
                })
            })
            .collect()
    }

    async fn places_around(&self, code: &str) -> Result<(Vec<PlaceRow>, usize), StoreError> {
        let client = self.pool.get().await?;
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&code];
        // The top of the tree is all of it: one plain read instead of the walk.
        let root = client
            .query_opt("SELECT parent IS NULL FROM places WHERE code = $1", &params)
            .await?
            .is_some_and(|r| r.get::<_, bool>(0));
        let sql = if root {
            "SELECT code, kind, name, parent FROM places WHERE $1::text IS NOT NULL ORDER BY code"
        } else {
            "WITH RECURSIVE down(code) AS (SELECT $1::text UNION SELECT p.code FROM places p JOIN down d ON p.parent = d.code),
    up(code, parent) AS (SELECT code, parent FROM places WHERE code = $1::text UNION SELECT p.code, p.parent FROM places p JOIN up u ON p.code = u.parent)
    SELECT code, kind, name, parent FROM places WHERE code IN (SELECT code FROM down) OR code IN (SELECT code FROM up) ORDER BY code"
        };
        let rows = client.query(sql, &params);
        let count = client.query_one("SELECT count(*) FROM places WHERE kind = 'village'", &[]);
        let (rows, count) = futures_util::future::try_join(rows, count).await?;
        let places = rows
            .iter()
            .map(|r| {
                Ok(PlaceRow {
                    code: r.get(0),
                    kind: crate::roster::PlaceKind::parse(r.get::<_, &str>(1))
                        .ok_or_else(|| corrupt("unknown place kind"))?,
                    name: r.get(2),
                    parent: r.get(3),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok((places, count.get::<_, i64>(0) as usize))
    }

    async fn accounts(&self) -> Result<Vec<AccountRow>, StoreError> {
        let client = self.pool.get().await?;
        let mut villages: BTreeMap<i64, Vec<String>> = BTreeMap::new();
        for r in client
            .query(
                "SELECT account_id, village FROM account_villages ORDER BY account_id, village",
                &[],
            )
            .await?
        {
            villages.entry(r.get(0)).or_default().push(r.get(1));
        }
        client
            .query(
                "SELECT id, login, name, role, place FROM accounts ORDER BY login",
                &[],
            )
            .await?
            .iter()
            .map(|r| {
                let id: i64 = r.get(0);
                Ok(AccountRow {
                    id,
                    login: r.get(1),
                    name: r.get(2),
                    role: Role::parse(r.get::<_, &str>(3))
                        .ok_or_else(|| corrupt("unknown role"))?,
                    place: r.get(4),
                    villages: villages.remove(&id).unwrap_or_default(),
                })
            })
            .collect()
    }

    async fn directors_in(&self, villages: VillageSet<'_>) -> Result<Vec<AccountRow>, StoreError> {
        let client = self.pool.get().await?;
        let (filter, list) = village_filter(villages, "village");
        let rows = client
            .query(
                &format!(
                    "SELECT a.id, a.login, a.name, a.place, array_agg(av2.village ORDER BY av2.village)
                     FROM accounts a JOIN account_villages av2 ON av2.account_id=a.id
                     WHERE a.role='director' AND a.id IN (SELECT account_id FROM account_villages WHERE {filter})
                     GROUP BY a.id, a.login, a.name, a.place ORDER BY a.login"
                ),
                &[&list],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| AccountRow {
                id: r.get(0),
                login: r.get(1),
                name: r.get(2),
                role: Role::Director,
                place: r.get(3),
                villages: r.get(4),
            })
            .collect())
    }

    async fn rejection_counts(&self) -> Result<BTreeMap<Uuid, i64>, StoreError> {
        let client = self.pool.get().await?;
        Ok(client
            .query(
                "SELECT device_id, count(*) FROM rejections GROUP BY device_id",
                &[],
            )
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    async fn director_devices(
        &self,
        villages: VillageSet<'_>,
    ) -> Result<Vec<DeviceInfo>, StoreError> {
        let client = self.pool.get().await?;
        let (filter, list) = village_filter(villages, "village");
        let rows = client
            .query(
                &format!(
                    "SELECT d.device_id, a.login, d.name, d.app_version, d.enrolled_ms, d.revoked_ms, d.last_seen_ms, d.max_device_seq, d.heartbeat
                     FROM devices d JOIN accounts a ON a.id = d.account_id
                     WHERE a.role = 'director' AND d.account_id IN (SELECT account_id FROM account_villages WHERE {filter})
                     ORDER BY a.login, d.enrolled_ms"
                ),
                &[&list],
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

    async fn console_cursor(&self) -> Result<u64, StoreError> {
        let client = self.pool.get().await?;
        let r = client
            .query_one("SELECT seq FROM console_cursor WHERE id=1", &[])
            .await?;
        Ok(r.get::<_, i64>(0) as u64)
    }

    async fn console_touched(&self, after_seq: u64, limit: i64) -> Result<Touched, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let after = after_seq as i64;
        let last: Option<i64> = tx
            .query_one(
                "SELECT max(server_seq) FROM (SELECT server_seq FROM feed WHERE server_seq > $1 ORDER BY server_seq LIMIT $2) s",
                &[&after, &limit],
            )
            .await?
            .get(0);
        let Some(last) = last else {
            return Ok(Touched {
                child_ids: Vec::new(),
                last_seq: after_seq,
                more: false,
            });
        };
        let ids = tx
            .query(
                "SELECT DISTINCT CASE WHEN c.table_name='child' THEN c.row_id ELSE r.child_id END
                 FROM feed f JOIN changes c ON c.op_id=f.op_id
                 LEFT JOIN rows r ON r.table_name=c.table_name AND r.row_id=c.row_id
                 WHERE f.server_seq > $1 AND f.server_seq <= $2",
                &[&after, &last],
            )
            .await?
            .iter()
            .filter_map(|r| r.get::<_, Option<Uuid>>(0))
            .collect();
        let more = tx
            .query_opt("SELECT 1 FROM feed WHERE server_seq > $1 LIMIT 1", &[&last])
            .await?
            .is_some();
        tx.commit().await?;
        Ok(Touched {
            child_ids: ids,
            last_seq: last as u64,
            more,
        })
    }

    async fn child_records(&self, child_ids: &[Uuid]) -> Result<Vec<RecordRow>, StoreError> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "SELECT r.table_name, r.row_id, r.scope, r.child_id, f.field, f.value
                 FROM rows r JOIN fields f ON f.table_name=r.table_name AND f.row_id=r.row_id
                 WHERE (r.table_name='child' AND r.row_id = ANY($1)) OR r.child_id = ANY($1)
                 ORDER BY r.table_name, r.row_id",
                &[&child_ids],
            )
            .await?;
        let mut out: Vec<RecordRow> = Vec::new();
        for r in rows {
            let table: String = r.get(0);
            let row_id: Uuid = r.get(1);
            let field: String = r.get(4);
            let value: serde_json::Value = serde_json::from_str(r.get(5)).map_err(corrupt)?;
            match out.last_mut() {
                Some(last) if last.row_id == row_id && last.table == table => {
                    last.fields.insert(field, value);
                }
                _ => {
                    let mut fields = serde_json::Map::new();
                    fields.insert(field, value);
                    out.push(RecordRow {
                        table,
                        row_id,
                        scope: r.get(2),
                        child_id: r.get(3),
                        fields,
                    });
                }
            }
        }
        Ok(out)
    }

    async fn console_apply(
        &self,
        from_seq: u64,
        to_seq: u64,
        update: ProjectionUpdate,
    ) -> Result<bool, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let now: i64 = tx
            .query_one("SELECT seq FROM console_cursor WHERE id=1 FOR UPDATE", &[])
            .await?
            .get(0);
        if now as u64 != from_seq {
            return Ok(false);
        }
        let ids = &update.child_ids;
        tx.execute(
            "DELETE FROM console_children WHERE child_id = ANY($1)",
            &[ids],
        )
        .await?;
        tx.execute(
            "DELETE FROM console_visits WHERE child_id = ANY($1)",
            &[ids],
        )
        .await?;
        tx.execute(
            "DELETE FROM console_referrals WHERE child_id = ANY($1)",
            &[ids],
        )
        .await?;
        let c = &update.children;
        let c_id: Vec<Uuid> = c.iter().map(|c| c.child_id).collect();
        let c_v: Vec<&str> = c.iter().map(|c| c.village.as_str()).collect();
        let c_n: Vec<&str> = c.iter().map(|c| c.name.as_str()).collect();
        let c_r: Vec<&str> = c.iter().map(|c| c.risk_colour.as_str()).collect();
        let c_c: Vec<String> = c
            .iter()
            .map(|c| serde_json::to_string(&c.categories).unwrap_or_default())
            .collect();
        let c_a: Vec<bool> = c.iter().map(|c| c.active).collect();
        let c_add: Vec<&str> = c.iter().map(|c| c.added_on.as_str()).collect();
        let c_last: Vec<Option<&str>> = c.iter().map(|c| c.last_visit_on.as_deref()).collect();
        let c_next: Vec<Option<&str>> = c.iter().map(|c| c.next_due_on.as_deref()).collect();
        let c_ag: Vec<Option<&str>> = c.iter().map(|c| c.agreement_until.as_deref()).collect();
        let c_due: Vec<Option<&str>> = c.iter().map(|c| c.due_on.as_deref()).collect();
        let c_lb: Vec<bool> = c.iter().map(|c| c.left_behind).collect();
        tx.execute(
            "INSERT INTO console_children (child_id, village, name, risk_colour, categories, active, added_on, last_visit_on, next_due_on, agreement_until, due_on, left_behind)
             SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bool[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::bool[])",
            &[&c_id, &c_v, &c_n, &c_r, &c_c, &c_a, &c_add, &c_last, &c_next, &c_ag, &c_due, &c_lb],
        )
        .await?;
        let v = &update.visits;
        let v_id: Vec<Uuid> = v.iter().map(|v| v.visit_id).collect();
        let v_c: Vec<Uuid> = v.iter().map(|v| v.child_id).collect();
        let v_v: Vec<&str> = v.iter().map(|v| v.village.as_str()).collect();
        let v_d: Vec<&str> = v.iter().map(|v| v.visited_on.as_str()).collect();
        tx.execute(
            "INSERT INTO console_visits (visit_id, child_id, village, visited_on) SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[])",
            &[&v_id, &v_c, &v_v, &v_d],
        )
        .await?;
        let r = &update.referrals;
        let r_id: Vec<Uuid> = r.iter().map(|r| r.referral_id).collect();
        let r_c: Vec<Uuid> = r.iter().map(|r| r.child_id).collect();
        let r_v: Vec<&str> = r.iter().map(|r| r.village.as_str()).collect();
        let r_rep: Vec<bool> = r.iter().map(|r| r.report).collect();
        let r_d: Vec<&str> = r.iter().map(|r| r.feedback_due_on.as_str()).collect();
        let r_o: Vec<bool> = r.iter().map(|r| r.open).collect();
        tx.execute(
            "INSERT INTO console_referrals (referral_id, child_id, village, report, feedback_due_on, open) SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::bool[], $5::text[], $6::bool[])",
            &[&r_id, &r_c, &r_v, &r_rep, &r_d, &r_o],
        )
        .await?;
        tx.execute(
            "UPDATE console_cursor SET seq=$1 WHERE id=1",
            &[&(to_seq as i64)],
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn console_children(&self, villages: &[String]) -> Result<Vec<ChildFacts>, StoreError> {
        let client = self.pool.get().await?;
        Ok(client
            .query(
                "SELECT child_id, village, name, risk_colour, categories, active, added_on, last_visit_on, next_due_on, agreement_until, due_on, left_behind
                 FROM console_children WHERE village = ANY($1)",
                &[&villages],
            )
            .await?
            .iter()
            .map(child_facts)
            .collect())
    }

    async fn console_visits_per_day(
        &self,
        villages: VillageSet<'_>,
        since: &str,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let client = self.pool.get().await?;
        let (filter, list) = village_filter(villages, "village");
        Ok(client
            .query(
                &format!("SELECT visited_on, count(*) FROM console_visits WHERE {filter} AND visited_on >= $2 GROUP BY visited_on ORDER BY visited_on"),
                &[&list, &since],
            )
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    async fn console_village_counts(
        &self,
        villages: VillageSet<'_>,
        today: &str,
        expiring_by: &str,
    ) -> Result<Vec<VillageCounts>, StoreError> {
        let client = self.pool.get().await?;
        let (filter, list) = village_filter(villages, "village");
        let (late_filter, _) = village_filter(villages, "r.village");
        let child_params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] =
            [&list, &today, &expiring_by];
        let late_params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&list, &today];
        let child_sql = format!(
            "SELECT village, count(*),
                count(*) FILTER (WHERE risk_colour = 'red'),
                count(*) FILTER (WHERE risk_colour = 'yellow'),
                count(*) FILTER (WHERE risk_colour = 'blue'),
                count(*) FILTER (WHERE due_on < $2),
                count(*) FILTER (WHERE left_behind AND (agreement_until IS NULL OR agreement_until < $2)),
                count(*) FILTER (WHERE left_behind AND agreement_until >= $2 AND agreement_until <= $3)
             FROM console_children WHERE {filter} AND active GROUP BY village"
        );
        let late_sql = format!(
            "SELECT r.village, count(*) FILTER (WHERE r.report), count(*) FILTER (WHERE NOT r.report)
             FROM console_referrals r JOIN console_children c ON c.child_id = r.child_id AND c.active
             WHERE {late_filter} AND r.open AND r.feedback_due_on < $2 GROUP BY r.village"
        );
        let children = client.query(&child_sql, &child_params);
        let late = client.query(&late_sql, &late_params);
        let (children, late) = futures_util::future::try_join(children, late).await?;
        let mut counts: BTreeMap<String, VillageCounts> = children
            .iter()
            .map(|r| {
                let c = VillageCounts {
                    village: r.get(0),
                    children: r.get(1),
                    red: r.get(2),
                    yellow: r.get(3),
                    blue: r.get(4),
                    overdue: r.get(5),
                    agreements_missing: r.get(6),
                    agreements_expiring: r.get(7),
                    ..Default::default()
                };
                (c.village.clone(), c)
            })
            .collect();
        for r in &late {
            if let Some(c) = counts.get_mut(r.get::<_, &str>(0)) {
                c.reports_late = r.get(1);
                c.referrals_late = r.get(2);
            }
        }
        Ok(counts.into_values().collect())
    }

    async fn console_overdue_of(
        &self,
        child_ids: &[Uuid],
        today: &str,
    ) -> Result<Vec<(Uuid, String)>, StoreError> {
        let client = self.pool.get().await?;
        Ok(client
            .query(
                "SELECT child_id, village FROM console_children WHERE child_id = ANY($1) AND active AND due_on < $2",
                &[&child_ids, &today],
            )
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    async fn console_open_referrals(
        &self,
        villages: &[String],
    ) -> Result<Vec<ReferralFact>, StoreError> {
        let client = self.pool.get().await?;
        Ok(client
            .query(
                "SELECT referral_id, child_id, village, report, feedback_due_on, open FROM console_referrals WHERE village = ANY($1) AND open",
                &[&villages],
            )
            .await?
            .iter()
            .map(|r| ReferralFact {
                referral_id: r.get(0),
                child_id: r.get(1),
                village: r.get(2),
                report: r.get(3),
                feedback_due_on: r.get(4),
                open: r.get(5),
            })
            .collect())
    }
}
