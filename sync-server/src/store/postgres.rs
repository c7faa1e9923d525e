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
//!
//! ## Group commit, as on SQLite
//!
//! Holding the lock through each push's own commit made every push wait for the
//! previous one's WAL flush. Pushes therefore go to ONE ingest task per server process
//! (as SQLite's go to its one writer thread): it takes the first push waiting and every
//! other one queued behind it (up to [`MAX_GROUP`] pushes, [`MAX_GROUP_CHANGES`]
//! changes), runs each in its own savepoint inside one transaction — the first takes
//! the counter lock, the others find it held by their own transaction — commits once,
//! and only then answers each push. A push that fails rolls back to its savepoint and
//! is answered with its error; the others commit. The guarantee above is unchanged:
//! seqs are still handed out under the lock, in the order they commit.

use super::sql;
use super::*;
use crate::ingest::{self, FeedItem, Loaded, RowState, StoredOp, Winner};
use deadpool_postgres::{
    GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod, Transaction,
};
use std::collections::{HashMap, HashSet};
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
    (
        11,
        include_str!("../../migrations/postgres/0011_quarantine_bytes.sql"),
    ),
    (
        12,
        include_str!("../../migrations/postgres/0012_console_area_summary.sql"),
    ),
    (
        20,
        include_str!("../../migrations/postgres/0020_discovery.sql"),
    ),
    (
        30,
        include_str!("../../migrations/postgres/0030_console_doorstep.sql"),
    ),
];

/// Most pushes one group commit takes.
pub const MAX_GROUP: usize = 64;
/// Most changes one group commit takes (a push beyond it waits for the next group).
pub const MAX_GROUP_CHANGES: usize = 20_000;

/// A push waiting for the ingest task.
struct PushJob {
    device: DeviceAuth,
    batch: PushBatch,
    prepared: ingest::Prepared,
    answer: tokio::sync::oneshot::Sender<Result<PushOutcome, StoreError>>,
}

/// The PostgreSQL backend.
pub struct PostgresDatabase {
    pub(super) pool: Pool,
    /// The ingest task's queue (see the module doc); the task ends when it is dropped.
    pushes: tokio::sync::mpsc::UnboundedSender<PushJob>,
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
        let (pushes, queue) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(ingest_task(pool.clone(), queue));
        let db = PostgresDatabase { pool, pushes };
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

/// What an account reads, loaded ([`AccountReach`]; the rule is [`Role::reads`]): the
/// two lists in one pipelined round trip.
async fn principal_of(
    c: &impl GenericClient,
    account_id: i64,
    role: &str,
    place: Option<&str>,
) -> Result<Principal, StoreError> {
    let role = Role::parse(role).ok_or_else(|| corrupt("unknown role"))?;
    let (assigned, under) = futures_util::future::try_join(
        c.query(sql::ASSIGNED_VILLAGES, &[&account_id]),
        c.query(sql::VILLAGES_UNDER, &[&place]),
    )
    .await?;
    Ok(AccountReach {
        account_id,
        role,
        assigned: assigned.iter().map(|r| r.get(0)).collect(),
        under_place: under.iter().map(|r| r.get(0)).collect(),
    }
    .principal())
}

async fn device_auth(
    c: &impl GenericClient,
    device_id: Uuid,
    account_id: i64,
    role: &str,
    place: Option<String>,
    revoked: bool,
) -> Result<DeviceAuth, StoreError> {
    Ok(DeviceAuth {
        device_id,
        revoked,
        principal: principal_of(c, account_id, role, place.as_deref()).await?,
    })
}

/// A device row as [`sql::DEVICES`] / [`sql::DEVICE_INFO`] select it.
fn device_info(r: &tokio_postgres::Row) -> DeviceInfo {
    DeviceInfo {
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
        heartbeat_seq: r.get(9),
        blobs_since_heartbeat: r.get(10),
    }
}

fn enroll_code_of(r: &tokio_postgres::Row) -> EnrollCodeRecord {
    EnrollCodeRecord {
        code_id: r.get(0),
        account_id: r.get(1),
        secret_hash: r.get(2),
        expires_ms: r.get(3),
        used: r.get(4),
        used_by: r.get(5),
    }
}

/// The ingest statements, prepared once per connection (cached by deadpool), so that
/// a push costs no Parse round trips.
struct Statements {
    lock: Statement,
    ops: Statement,
    rows: Statement,
    fields: Statement,
    villages: Statement,
    device_max: Statement,
    held_ahead: Statement,
    parked: Statement,
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
/// The unnest of the change log's columns (after [`sql::INSERT_CHANGES`]).
const SQL_CHANGES_UNNEST: &str = "SELECT op, $2, seq, $3, t, r, f, v, h, s, $4 FROM unnest($1::uuid[], $5::int8[], $6::text[], $7::uuid[], $8::text[], $9::text[], $10::int8[], $11::text[]) AS x(op, seq, t, r, f, v, h, s)";
const SQL_FIELDS_UNNEST: &str = "SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::int8[], $5::uuid[], $6::text[], $7::uuid[])";
const SQL_ROWS_UNNEST: &str =
    "SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::uuid[], $5::int8[], $6::uuid[])";
const SQL_BLOB_REFS: &str = "INSERT INTO blob_refs (sha256, table_name, row_id) SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[]) ON CONFLICT DO NOTHING";
const SQL_REJECTIONS_UNNEST: &str = "SELECT $1, op, seq, c, m, ch, $2 FROM unnest($3::uuid[], $4::int8[], $5::text[], $6::text[], $7::text[]) AS x(op, seq, c, m, ch)";
const SQL_FEED: &str = "INSERT INTO feed (server_seq, scope, op_id) SELECT * FROM unnest($1::int8[], $2::text[], $3::uuid[])";
const SQL_COUNTER: &str = "UPDATE feed_counter SET next_seq=$1 WHERE id=1";
const SQL_PARK_UNNEST: &str =
    "SELECT $1, s, o, c FROM unnest($2::int8[], $3::uuid[], $4::text[]) AS x(s, o, c)";
const SQL_UNPARK: &str = "DELETE FROM parked WHERE device_id=$1 AND device_seq = ANY($2)";
const SQL_REJECTED: &str =
    "SELECT op_id, device_seq, code, message FROM rejections WHERE device_id=$1 AND op_id = ANY($2)";

async fn statements(client: &deadpool_postgres::Client) -> Result<Statements, StoreError> {
    let changes = format!("{} {SQL_CHANGES_UNNEST}", sql::INSERT_CHANGES);
    let insert_fields = format!("{} {SQL_FIELDS_UNNEST}", sql::INSERT_FIELDS);
    let upsert_fields = format!("{insert_fields} {}", sql::UPSERT_FIELDS_TAIL);
    let insert_rows = format!("{} {SQL_ROWS_UNNEST}", sql::INSERT_ROWS);
    let upsert_rows = format!("{insert_rows} {}", sql::UPSERT_ROWS_TAIL);
    let rejections = format!(
        "{} {SQL_REJECTIONS_UNNEST} {}",
        sql::INSERT_REJECTIONS,
        sql::UPSERT_REJECTIONS_TAIL
    );
    let park = format!(
        "{} {SQL_PARK_UNNEST} {}",
        sql::INSERT_PARKED,
        sql::UPSERT_PARKED_TAIL
    );
    let all: [&str; 22] = [
        SQL_LOCK,
        SQL_OPS,
        SQL_ROWS,
        SQL_FIELDS,
        SQL_VILLAGES,
        sql::DEVICE_MAX_SEQ,
        sql::HELD_AHEAD,
        sql::PARKED,
        &changes,
        &insert_fields,
        &upsert_fields,
        &insert_rows,
        &upsert_rows,
        SQL_BLOB_REFS,
        &rejections,
        SQL_FEED,
        SQL_COUNTER,
        sql::CLEAR_HELD_AHEAD,
        sql::UPDATE_DEVICE_AFTER_PUSH,
        &park,
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
        device_max: next(),
        held_ahead: next(),
        parked: next(),
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
        park: next(),
        unpark: next(),
        rejected: next(),
    })
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
                tx.execute(sql::MOVE_ROW, &[scope, &row.0, &row.1]).await?;
                let n = tx
                    .execute(
                        "INSERT INTO feed (server_seq, scope, op_id, refeed)
                         SELECT $1 + row_number() OVER (ORDER BY field) - 1, $2, op_id, true FROM fields WHERE table_name=$3 AND row_id=$4",
                        &[&next, scope, &row.0, &row.1],
                    )
                    .await?;
                next += n as i64;
                if row.0 == "child" {
                    tx.execute(sql::MOVE_CHILDS_ROWS, &[scope, &row.1]).await?;
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

/// A PostgreSQL transaction as ingest's ([`ingest::IngestTx`]): [`ingest::IngestTx::begin`]
/// takes the feed-counter lock (see the module doc), the writes are one pipelined
/// round trip.
struct PgTx<'a, 'c> {
    tx: &'a Transaction<'c>,
    st: &'a Statements,
    /// The feed counter read under the lock.
    next_seq: i64,
}

impl ingest::IngestTx for PgTx<'_, '_> {
    /// Takes the feed-counter lock and loads the batch's state, in ONE round trip: the
    /// lock statement is sent first and the loads are pipelined behind it on the same
    /// connection. PostgreSQL runs a connection's statements in order, so each load
    /// starts — and, in READ COMMITTED, takes its snapshot — only once the lock is
    /// held: it sees everything the previous holder committed.
    async fn begin(
        &mut self,
        device_id: Uuid,
        keys: &ingest::Keys,
    ) -> Result<ingest::Started, StoreError> {
        let (tx, st) = (self.tx, self.st);
        // `try_join` polls its first future first: the lock request is queued before
        // the loads.
        let (lock, (mut loaded, max, ahead, parked)) = futures_util::future::try_join(
            async { Ok::<_, StoreError>(tx.query_one(&st.lock, &[]).await?) },
            futures_util::future::try_join4(
                load_keys(tx, st, keys),
                async { Ok(tx.query_one(&st.device_max, &[&device_id]).await?) },
                async { Ok(tx.query(&st.held_ahead, &[&device_id]).await?) },
                async { Ok(tx.query(&st.parked, &[&device_id]).await?) },
            ),
        )
        .await?;
        self.next_seq = lock.get(0);
        loaded.max_device_seq = max.get::<_, i64>(0) as u64;
        loaded.held_ahead = ahead.iter().map(|r| r.get::<_, i64>(0) as u64).collect();
        let parked = parked
            .iter()
            .map(|r| serde_json::from_str::<Change>(r.get(0)).map_err(corrupt))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ingest::Started { loaded, parked })
    }

    async fn load(&mut self, keys: &ingest::Keys) -> Result<Loaded, StoreError> {
        load_keys(self.tx, self.st, keys).await
    }

    async fn rejections(
        &mut self,
        device_id: Uuid,
        op_ids: &[Uuid],
    ) -> Result<HashMap<Uuid, ingest::StoredRejection>, StoreError> {
        Ok(self
            .tx
            .query(&self.st.rejected, &[&device_id, &op_ids])
            .await?
            .iter()
            .map(|r| {
                (
                    r.get(0),
                    ingest::StoredRejection {
                        device_seq: r.get::<_, i64>(1) as u64,
                        code: r.get(2),
                        message: r.get(3),
                    },
                )
            })
            .collect())
    }

    /// One pipelined round trip for all the writes (a move's re-feed follows, its
    /// seqs depending on stored rows).
    async fn write(&mut self, w: &ingest::Writes<'_>) -> Result<(), StoreError> {
        let (tx, st, next) = (self.tx, self.st, self.next_seq);
        let device = w.device;
        let now = w.now_ms;
        let max_i = w.max_device_seq as i64;
        let acc = &w.changes;
        let c_op: Vec<Uuid> = acc.iter().map(|(c, _)| c.op_id).collect();
        let c_seq: Vec<i64> = acc.iter().map(|(c, _)| c.device_seq as i64).collect();
        let c_table: Vec<&str> = acc.iter().map(|(c, _)| c.table.as_str()).collect();
        let c_row: Vec<Uuid> = acc.iter().map(|(c, _)| c.row_id).collect();
        let c_field: Vec<&str> = acc.iter().map(|(c, _)| c.field.as_str()).collect();
        let c_value: Vec<&str> = acc.iter().map(|(_, v)| *v).collect();
        let c_hlc: Vec<i64> = acc.iter().map(|(c, _)| c.hlc.as_u64() as i64).collect();
        let c_scope: Vec<&str> = acc.iter().map(|(c, _)| c.scope.as_str()).collect();
        // New keys are plain INSERTs (under the lock no one else can insert them),
        // stored ones upserts (about twice the cost per row).
        let nf = FieldArrays::of(&w.new_fields);
        let of = FieldArrays::of(&w.stored_fields);
        let nr = RowArrays::of(&w.new_rows);
        let or = RowArrays::of(&w.stored_rows);
        let b_h: Vec<&str> = w.blob_refs.iter().map(|b| b.0.as_str()).collect();
        let b_t: Vec<&str> = w.blob_refs.iter().map(|b| b.1 .0.as_str()).collect();
        let b_r: Vec<Uuid> = w.blob_refs.iter().map(|b| b.1 .1).collect();
        let j_op: Vec<Uuid> = w.rejections.iter().map(|r| r.op_id).collect();
        let j_seq: Vec<i64> = w.rejections.iter().map(|r| r.device_seq as i64).collect();
        let j_code: Vec<&str> = w.rejections.iter().map(|r| r.code).collect();
        let j_msg: Vec<&str> = w.rejections.iter().map(|r| r.message).collect();
        let j_change: Vec<&str> = w.rejections.iter().map(|r| r.change.as_str()).collect();
        let p_seq: Vec<i64> = w.park.iter().map(|p| p.device_seq as i64).collect();
        let p_op: Vec<Uuid> = w.park.iter().map(|p| p.op_id).collect();
        let p_change: Vec<&str> = w.park.iter().map(|p| p.change.as_str()).collect();
        let u_seq: Vec<i64> = w.unpark.iter().map(|s| *s as i64).collect();
        let clear_to = w.clear_held_ahead_to.map(|m| m as i64);

        // Feed: without a move, every entry's seq is known now.
        let refeed = w.has_refeed();
        let mut e_seq: Vec<i64> = Vec::new();
        let mut e_scope: Vec<&str> = Vec::new();
        let mut e_op: Vec<Uuid> = Vec::new();
        if !refeed {
            for item in w.feed {
                if let FeedItem::Entry { scope, op_id } = item {
                    e_seq.push(next + e_seq.len() as i64);
                    e_scope.push(scope);
                    e_op.push(*op_id);
                }
            }
        }
        let after_known = next + e_seq.len() as i64;

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
        let p_ahead_clear: [P<'_>; 2] = [&device.device_id, &clear_to];
        let p_park: [P<'_>; 4] = [&device.device_id, &p_seq, &p_op, &p_change];
        let p_unpark: [P<'_>; 2] = [&device.device_id, &u_seq];
        let max_before_i = w.max_device_seq_before as i64;
        let p_device: [P<'_>; 5] = [&max_i, &now, &w.heartbeat, &max_before_i, &device.device_id];
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
        if clear_to.is_some() {
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
            let after = write_feed_with_refeeds(tx, w.feed, next).await?;
            if after != next {
                tx.execute(&st.counter, &[&after]).await?;
            }
            self.next_seq = after;
        } else {
            self.next_seq = after_known;
        }
        Ok(())
    }
}

/// The ingest task (see the module doc): group commits until the queue closes.
async fn ingest_task(pool: Pool, mut queue: tokio::sync::mpsc::UnboundedReceiver<PushJob>) {
    while let Some(first) = queue.recv().await {
        let mut changes = first.batch.changes.len();
        let mut jobs = vec![first];
        while jobs.len() < MAX_GROUP && changes < MAX_GROUP_CHANGES {
            match queue.try_recv() {
                Ok(j) => {
                    changes += j.batch.changes.len();
                    jobs.push(j);
                }
                Err(_) => break,
            }
        }
        crate::metrics::group_commit(jobs.len());
        match ingest_group(&pool, &jobs).await {
            Ok(outcomes) => {
                for (job, out) in jobs.into_iter().zip(outcomes) {
                    let _ = job.answer.send(out);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, pushes = jobs.len(), "postgres group commit failed");
                let e = e.to_string();
                for job in jobs {
                    let _ = job.answer.send(Err(StoreError::Commit(e.clone())));
                }
            }
        }
    }
}

/// One group commit: every push in its savepoint, one commit. The outer error is the
/// group's (no push of it committed); an inner one a push's own (rolled back alone).
async fn ingest_group(
    pool: &Pool,
    jobs: &[PushJob],
) -> Result<Vec<Result<PushOutcome, StoreError>>, StoreError> {
    let mut client = pool.get().await?;
    let st = statements(&client).await?;
    let tx = client.transaction().await?;
    let mut outcomes = Vec::with_capacity(jobs.len());
    let alone = jobs.len() == 1;
    for job in jobs {
        if !alone {
            tx.batch_execute("SAVEPOINT push").await?;
        }
        let out = ingest::run(
            &mut PgTx {
                tx: &tx,
                st: &st,
                next_seq: 0,
            },
            &job.device,
            &job.batch,
            &job.prepared,
        )
        .await;
        if !alone {
            tx.batch_execute(if out.is_ok() {
                "RELEASE SAVEPOINT push"
            } else {
                "ROLLBACK TO SAVEPOINT push; RELEASE SAVEPOINT push"
            })
            .await?;
        }
        outcomes.push(out);
    }
    if alone && outcomes[0].is_err() {
        // Dropping the transaction rolls it back.
        return Ok(outcomes);
    }
    tx.commit().await?;
    Ok(outcomes)
}

/// A PostgreSQL transaction as the quarantine's ([`ingest::QuarantineTx`]).
struct PgQuarantine<'a, 'c> {
    tx: &'a Transaction<'c>,
}

impl ingest::QuarantineTx for PgQuarantine<'_, '_> {
    async fn held(
        &mut self,
        device_id: Uuid,
        op_ids: &[Uuid],
    ) -> Result<(u64, u64, HashSet<Uuid>), StoreError> {
        // One quarantine write per device at a time, across server processes.
        self.tx
            .execute(
                "SELECT 1 FROM devices WHERE device_id=$1 FOR UPDATE",
                &[&device_id],
            )
            .await?;
        let held = self
            .tx
            .query_one(sql::QUARANTINE_HELD, &[&device_id])
            .await?;
        let known = self
            .tx
            .query(
                "SELECT op_id FROM quarantine WHERE device_id=$1 AND op_id = ANY($2)",
                &[&device_id, &op_ids],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        Ok((
            held.get::<_, i64>(0) as u64,
            held.get::<_, i64>(1) as u64,
            known,
        ))
    }

    async fn add(
        &mut self,
        device_id: Uuid,
        rows: &[ingest::QuarantinedRow],
        now_ms: i64,
    ) -> Result<(), StoreError> {
        // A lost phone's last contact: rare, one row at a time.
        let st = self.tx.prepare(sql::QUARANTINE_ADD).await?;
        for r in rows {
            let (seq, bytes) = (r.device_seq as i64, r.bytes as i64);
            self.tx
                .execute(
                    &st,
                    &[&device_id, &r.op_id, &seq, &r.change, &now_ms, &bytes],
                )
                .await?;
        }
        Ok(())
    }
}

/// `uploader`'s upload of a blob; complete when the blob is complete and proven in
/// `uploader.scopes`.
async fn blob_state(
    c: &impl GenericClient,
    sha: &str,
    uploader: Uploader<'_>,
) -> Result<BlobState, StoreError> {
    if let Some(r) = c.query_opt(sql::BLOB_SIZE, &[&sha]).await? {
        if blob_access(c, sha, uploader.scopes).await?.proven {
            let size: i64 = r.get(0);
            return Ok(BlobState {
                held_bytes: size as u64,
                total: Some(size as u64),
                complete: true,
            });
        }
    }
    let r = c
        .query_one(sql::UPLOAD_HELD, &[&sha, &uploader.device_id])
        .await?;
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
        // The read model's lock: no fold or summary refresh reads the place tree
        // between the forgetting below and this import's commit.
        tx.query_one("SELECT seq FROM console_cursor WHERE id=1 FOR UPDATE", &[])
            .await?;
        for p in &roster.places {
            if let (crate::roster::PlaceKind::Village, Some(parent)) = (p.kind, &p.parent) {
                // A village moving township: both townships' summaries are made again
                // at their next view.
                tx.execute(sql::FORGET_MOVED_AREA_COUNTS, &[&p.code, parent])
                    .await?;
                tx.execute(sql::FORGET_MOVED_AREA_VISITS, &[&p.code, parent])
                    .await?;
            }
            tx.execute(
                sql::IMPORT_PLACE,
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
                    sql::IMPORT_ACCOUNT,
                    &[&a.login, &a.name, &a.role.as_str(), &place],
                )
                .await?
                .get(0);
            tx.execute(sql::CLEAR_ACCOUNT_VILLAGES, &[&id]).await?;
            if a.role == Role::Director {
                for v in &a.places {
                    tx.execute(sql::ASSIGN_VILLAGE, &[&id, v]).await?;
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
        let r = client.query_opt(sql::ACCOUNT_BY_LOGIN, &[&login]).await?;
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
                sql::ADD_ENROLL_CODE,
                &[
                    &code.code_id,
                    &code.account_id,
                    &code.secret_hash,
                    &now_ms,
                    &code.expires_ms,
                ],
            )
            .await?;
        Ok(())
    }

    async fn enroll_code(&self, code_id: &str) -> Result<Option<EnrollCodeRecord>, StoreError> {
        let client = self.pool.get().await?;
        Ok(client
            .query_opt(sql::ENROLL_CODE, &[&code_id])
            .await?
            .as_ref()
            .map(enroll_code_of))
    }

    async fn enrollment_state(
        &self,
        code_id: &str,
        device_id: Uuid,
    ) -> Result<EnrollmentState, StoreError> {
        let mut client = self.pool.get().await?;
        // One snapshot for both rows: read apart, a concurrent try of the same
        // enrollment could commit between them, and the code would read unused while
        // the device it registered already exists (a false `device_exists`).
        let tx = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let code = tx.query_opt(sql::ENROLL_CODE, &[&code_id]).await?;
        let device = tx.query_opt(sql::ENROLLED_DEVICE, &[&device_id]).await?;
        tx.commit().await?;
        Ok(EnrollmentState {
            code: code.as_ref().map(enroll_code_of),
            device: device.map(|r| EnrolledDevice {
                account_id: r.get(0),
                revoked: r.get(1),
                token_used: r.get(2),
                token_hash: r.get::<_, &[u8]>(3).try_into().unwrap_or([0; 32]),
            }),
        })
    }

    async fn enroll_new_device(
        &self,
        code_id: &str,
        device: NewDevice,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let mut client = self.pool.get().await?;
        // One transaction: two tries at once serialise on the code's row; the later
        // one finds it used (READ COMMITTED re-reads it) and writes nothing.
        let tx = client.transaction().await?;
        let Some(r) = tx
            .query_opt(sql::MARK_CODE_USED, &[&now_ms, &device.device_id, &code_id])
            .await?
        else {
            return Ok(false);
        };
        let account_id: i64 = r.get(0);
        let added = tx
            .execute(
                sql::INSERT_DEVICE,
                &[
                    &device.device_id,
                    &account_id,
                    &device.name,
                    &device.app_version,
                    &device.token_hash.as_slice(),
                    &now_ms,
                ],
            )
            .await?;
        if added == 0 {
            // The id was taken meanwhile: dropping the transaction undoes the code's use.
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn replace_device_token(
        &self,
        device_id: Uuid,
        expected: [u8; 32],
        token_hash: [u8; 32],
    ) -> Result<bool, StoreError> {
        let client = self.pool.get().await?;
        Ok(client
            .execute(
                sql::REPLACE_TOKEN,
                &[&token_hash.as_slice(), &device_id, &expected.as_slice()],
            )
            .await?
            > 0)
    }

    async fn principal(&self, account_id: i64) -> Result<Option<Principal>, StoreError> {
        let client = self.pool.get().await?;
        let Some(r) = client.query_opt(sql::ACCOUNT_ROLE, &[&account_id]).await? else {
            return Ok(None);
        };
        let place: Option<String> = r.get(1);
        Ok(Some(
            principal_of(&client, account_id, r.get(0), place.as_deref()).await?,
        ))
    }

    async fn authenticate(
        &self,
        token_hash: [u8; 32],
        now_ms: i64,
    ) -> Result<Option<DeviceAuth>, StoreError> {
        let client = self.pool.get().await?;
        let Some(r) = client
            .query_opt(sql::AUTHENTICATE, &[&token_hash.as_slice()])
            .await?
        else {
            return Ok(None);
        };
        if r.get::<_, bool>(5) {
            // Once per token: the phone holds it, so its code is spent for good.
            client
                .execute(sql::MARK_TOKEN_USED, &[&now_ms, &token_hash.as_slice()])
                .await?;
        }
        Ok(Some(
            device_auth(&client, r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)).await?,
        ))
    }

    async fn device_by_id(&self, device_id: Uuid) -> Result<Option<DeviceAuth>, StoreError> {
        let client = self.pool.get().await?;
        let Some(r) = client.query_opt(sql::DEVICE_BY_ID, &[&device_id]).await? else {
            return Ok(None);
        };
        Ok(Some(
            device_auth(&client, device_id, r.get(0), r.get(1), r.get(2), r.get(3)).await?,
        ))
    }

    async fn devices(&self, account_login: Option<&str>) -> Result<Vec<DeviceInfo>, StoreError> {
        let client = self.pool.get().await?;
        let rows = client.query(sql::DEVICES, &[&account_login]).await?;
        Ok(rows.iter().map(device_info).collect())
    }

    async fn devices_by_id(&self, ids: &[Uuid]) -> Result<Vec<DeviceInfo>, StoreError> {
        let client = self.pool.get().await?;
        let mut out = Vec::new();
        for id in ids {
            if let Some(r) = client.query_opt(sql::DEVICE_INFO, &[id]).await? {
                out.push(device_info(&r));
            }
        }
        Ok(out)
    }

    async fn revoke_device(&self, device_id: Uuid, now_ms: i64) -> Result<bool, StoreError> {
        let client = self.pool.get().await?;
        Ok(client
            .execute(sql::REVOKE_DEVICE, &[&now_ms, &device_id])
            .await?
            > 0)
    }

    async fn quarantine(
        &self,
        device_id: Uuid,
        changes: Vec<Change>,
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let n =
            ingest::quarantine(&mut PgQuarantine { tx: &tx }, device_id, &changes, now_ms).await?;
        tx.commit().await?;
        Ok(n)
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

    async fn quarantine_counts(&self) -> Result<BTreeMap<Uuid, i64>, StoreError> {
        let client = self.pool.get().await?;
        let rows = client.query(sql::QUARANTINE_COUNTS, &[]).await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
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

    async fn access_log(
        &self,
        villages: VillageSet<'_>,
        accounts: Option<&[i64]>,
        limit: i64,
    ) -> Result<Vec<AccessLogEntry>, StoreError> {
        let client = self.pool.get().await?;
        let (filter, list) = village_filter(villages, "scope");
        // Newest first down the primary key, keeping the lines of these villages and
        // accounts until `limit` are found.
        let rows = client
            .query(
                &format!(
                    "SELECT account_id, device_id, scope, record_count, at_ms FROM access_log
                     WHERE {filter} AND ($2::int8[] IS NULL OR account_id = ANY($2))
                     ORDER BY id DESC LIMIT $3"
                ),
                &[&list, &accounts, &limit],
            )
            .await?;
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
        Ok(client.query_opt(sql::ANY_PLACE, &[]).await?.is_none())
    }

    async fn villages(&self) -> Result<Vec<String>, StoreError> {
        let client = self.pool.get().await?;
        Ok(client
            .query(sql::VILLAGES, &[])
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect())
    }
}

#[async_trait]
impl SyncStore for PostgresDatabase {
    async fn push(&self, device: &DeviceAuth, batch: PushBatch) -> Result<PushOutcome, StoreError> {
        // Keys, canonical values: off the ingest task, on the caller's task.
        let prepared = ingest::prepare(&batch);
        let (answer, answered) = tokio::sync::oneshot::channel();
        self.pushes
            .send(PushJob {
                device: device.clone(),
                batch,
                prepared,
                answer,
            })
            .map_err(|_| StoreError::WriterGone)?;
        answered.await.map_err(|_| StoreError::WriterGone)?
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
                    sql::LOG_PULL,
                    &[
                        &e.account_id,
                        &e.device_id,
                        &e.scope,
                        &e.record_count,
                        &e.at_ms,
                    ],
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
        let rows = client.query(sql::AUDIT_ROW, &[&row_id]).await?;
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

    async fn child_id_numbers(&self) -> Result<Vec<StoredIdNumber>, StoreError> {
        let client = self.pool.get().await?;
        Ok(client
            .query(
                sql::CHILD_ID_NUMBERS,
                &[&domain::schema::TOMBSTONE_FIELD, &"id_number"],
            )
            .await?
            .iter()
            .map(|r| StoredIdNumber {
                child_id: r.get(0),
                village: r.get(1),
                id_number: r.get(2),
                tombstone: r.get(3),
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
            sql::ADD_CHUNK,
            &[
                &sha256,
                &uploader.device_id,
                &(offset as i64),
                &(total as i64),
                &chunk,
            ],
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
            .query(sql::CHUNKS, &[&sha256, &uploader.device_id])
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
            tx.execute(sql::ADD_BLOB, &[&sha256, &(size as i64), &now_ms])
                .await?;
            // Proof of possession: this device sent every byte, verified.
            tx.execute(
                "UPDATE blob_refs b SET proven=true FROM rows r
                 WHERE b.sha256=$1 AND NOT b.proven AND r.table_name=b.table_name AND r.row_id=b.row_id AND r.scope = ANY($2)",
                &[&sha256, &uploader.scopes],
            )
            .await?;
            // One file fewer waiting on the phone (the console's pending count).
            tx.execute(sql::BLOB_RECEIVED, &[&uploader.device_id])
                .await?;
        }
        tx.execute(sql::DROP_CHUNKS, &[&sha256, &uploader.device_id])
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

fn area_counts(r: &tokio_postgres::Row) -> AreaCounts {
    AreaCounts {
        township: r.get(0),
        children: r.get(1),
        red: r.get(2),
        yellow: r.get(3),
        blue: r.get(4),
        overdue: r.get(5),
        agreements_missing: r.get(6),
        agreements_expiring: r.get(7),
        referrals_late: r.get(8),
        reports_late: r.get(9),
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
        person_of(client.query_opt(sql::PERSON_BY_LOGIN, &[&login]).await?)
    }

    async fn person_by_id(&self, account_id: i64) -> Result<Option<PersonRecord>, StoreError> {
        let client = self.pool.get().await?;
        person_of(client.query_opt(sql::PERSON_BY_ID, &[&account_id]).await?)
    }

    async fn set_login_code(
        &self,
        account_id: i64,
        code_hash: String,
        expires_ms: i64,
    ) -> Result<(), StoreError> {
        let client = self.pool.get().await?;
        client
            .execute(sql::SET_LOGIN_CODE, &[&account_id, &code_hash, &expires_ms])
            .await?;
        Ok(())
    }

    async fn set_password(&self, account_id: i64, password_hash: String) -> Result<(), StoreError> {
        let client = self.pool.get().await?;
        client
            .execute(sql::SET_PASSWORD, &[&account_id, &password_hash])
            .await?;
        Ok(())
    }

    async fn count_failed_login(&self, who: LoginKey) -> Result<i64, StoreError> {
        let client = self.pool.get().await?;
        let r = match who {
            LoginKey::Account(id) => client.query_one(sql::COUNT_FAILED_LOGIN, &[&id]).await?,
            LoginKey::Unknown(key) => {
                client
                    .query_one(sql::COUNT_FAILED_UNKNOWN_LOGIN, &[&key.as_slice()])
                    .await?
            }
        };
        Ok(r.get(0))
    }

    async fn lock_login(&self, who: LoginKey, until_ms: i64) -> Result<(), StoreError> {
        let client = self.pool.get().await?;
        match who {
            LoginKey::Account(id) => client.execute(sql::LOCK_LOGIN, &[&until_ms, &id]).await?,
            LoginKey::Unknown(key) => {
                client
                    .execute(sql::LOCK_UNKNOWN_LOGIN, &[&until_ms, &key.as_slice()])
                    .await?
            }
        };
        Ok(())
    }

    async fn unknown_login_locked(&self, key: [u8; 32]) -> Result<Option<i64>, StoreError> {
        let client = self.pool.get().await?;
        let row = client
            .query_opt(sql::UNKNOWN_LOGIN_LOCKED, &[&key.as_slice()])
            .await?;
        Ok(row.and_then(|r| r.get::<_, Option<i64>>(0)))
    }

    async fn console_secret(&self) -> Result<[u8; 32], StoreError> {
        let client = self.pool.get().await?;
        let fresh: [u8; 32] = rand::random();
        client
            .execute(sql::MAKE_CONSOLE_SECRET, &[&fresh.as_slice()])
            .await?;
        let r = client.query_one(sql::CONSOLE_SECRET, &[]).await?;
        r.get::<_, Vec<u8>>(0)
            .try_into()
            .map_err(|_| corrupt("console_secret is not 32 bytes"))
    }

    async fn rename_account(&self, login: &str, name: &str) -> Result<bool, StoreError> {
        let client = self.pool.get().await?;
        Ok(client
            .execute(sql::RENAME_ACCOUNT, &[&name, &login])
            .await?
            == 1)
    }

    async fn login_succeeded(&self, account_id: i64) -> Result<(), StoreError> {
        let client = self.pool.get().await?;
        client.execute(sql::LOGIN_SUCCEEDED, &[&account_id]).await?;
        Ok(())
    }

    async fn add_session(&self, session: SessionRecord) -> Result<(), StoreError> {
        let client = self.pool.get().await?;
        client
            .execute(sql::DROP_EXPIRED_SESSIONS, &[&session.created_ms])
            .await?;
        client
            .execute(
                sql::ADD_SESSION,
                &[
                    &session.token_hash.as_slice(),
                    &session.account_id,
                    &session.csrf,
                    &session.created_ms,
                    &session.expires_ms,
                ],
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
            .query_opt(sql::SESSION, &[&token_hash.as_slice(), &now_ms])
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
            .execute(sql::END_SESSION, &[&token_hash.as_slice()])
            .await?;
        Ok(())
    }

    async fn log_console(&self, entry: ConsoleLogEntry) -> Result<(), StoreError> {
        let client = self.pool.get().await?;
        client
            .execute(
                sql::LOG_CONSOLE,
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

    async fn console_log(
        &self,
        accounts: Option<&[i64]>,
        limit: i64,
    ) -> Result<Vec<ConsoleLogEntry>, StoreError> {
        let client = self.pool.get().await?;
        Ok(client
            .query(
                "SELECT l.account_id, COALESCE(a.login, ''), l.action, l.subject, l.at_ms FROM console_log l
                 LEFT JOIN accounts a ON a.id=l.account_id
                 WHERE $1::int8[] IS NULL OR l.account_id = ANY($1)
                 ORDER BY l.id DESC LIMIT $2",
                &[&accounts, &limit],
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
            .query(sql::PLACES, &[])
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
            .query_opt(sql::IS_ROOT, &params)
            .await?
            .is_some_and(|r| r.get::<_, bool>(0));
        let sql = if root {
            sql::PLACES_ALL_OF
        } else {
            sql::PLACES_AROUND
        };
        let rows = client.query(sql, &params);
        let count = client.query_one(sql::VILLAGE_COUNT, &[]);
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
        for r in client.query(sql::ALL_ASSIGNED_VILLAGES, &[]).await? {
            villages.entry(r.get(0)).or_default().push(r.get(1));
        }
        client
            .query(sql::ACCOUNTS, &[])
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
            .query(sql::REJECTION_COUNTS, &[])
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
                    "SELECT d.device_id, a.login, d.name, d.app_version, d.enrolled_ms, d.revoked_ms, d.last_seen_ms, d.max_device_seq, d.heartbeat, d.heartbeat_seq, d.blobs_since_heartbeat
                     FROM devices d JOIN accounts a ON a.id = d.account_id
                     WHERE a.role = 'director' AND d.account_id IN (SELECT account_id FROM account_villages WHERE {filter})
                     ORDER BY a.login, d.enrolled_ms"
                ),
                &[&list],
            )
            .await?;
        Ok(rows.iter().map(device_info).collect())
    }

    async fn console_cursor(&self) -> Result<u64, StoreError> {
        let client = self.pool.get().await?;
        let r = client.query_one(sql::CONSOLE_CURSOR, &[]).await?;
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
            .query_one(sql::FEED_WINDOW_END, &[&after, &limit])
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
            .query(sql::TOUCHED_CHILDREN, &[&after, &last])
            .await?
            .iter()
            .filter_map(|r| r.get::<_, Option<Uuid>>(0))
            .collect();
        let more = tx.query_opt(sql::FEED_AFTER, &[&last]).await?.is_some();
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
        // The township summaries: those of the children's townships before and after
        // are stale (a view recomputes them); the visits per day lose the replaced
        // visits here and gain the new ones below.
        let villages: Vec<&str> = update.children.iter().map(|c| c.village.as_str()).collect();
        tx.execute(
            "UPDATE console_area_counts SET as_of = '' WHERE township IN (
                SELECT p.parent FROM console_children c JOIN places p ON p.code = c.village WHERE c.child_id = ANY($1)
                UNION SELECT parent FROM places WHERE code = ANY($2))",
            &[ids, &villages],
        )
        .await?;
        tx.execute(
            "UPDATE console_area_visits a SET n = a.n - d.n FROM (
                SELECT p.parent AS township, v.visited_on, count(*) AS n
                FROM console_visits v JOIN places p ON p.code = v.village
                WHERE v.child_id = ANY($1) GROUP BY 1, 2) d
             WHERE a.township = d.township AND a.visited_on = d.visited_on",
            &[ids],
        )
        .await?;
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
        tx.execute(
            "INSERT INTO console_area_visits (township, visited_on, n)
             SELECT p.parent, v.visited_on, count(*) FROM console_visits v JOIN places p ON p.code = v.village
             WHERE v.child_id = ANY($1) AND p.parent IN (SELECT township FROM console_area_counts)
             GROUP BY 1, 2
             ON CONFLICT (township, visited_on) DO UPDATE SET n = console_area_visits.n + excluded.n",
            &[ids],
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
        tx.execute(sql::SET_CONSOLE_CURSOR, &[&(to_seq as i64)])
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn console_child_names(&self, ids: &[Uuid]) -> Result<Vec<(Uuid, String)>, StoreError> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "SELECT child_id, name FROM console_children WHERE child_id = ANY($1)",
                &[&ids],
            )
            .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
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

    async fn console_area_counts(
        &self,
        townships: &[String],
        today: &str,
    ) -> Result<Vec<AreaCounts>, StoreError> {
        let client = self.pool.get().await?;
        Ok(client
            .query(
                "SELECT township, children, red, yellow, blue, overdue, agreements_missing, agreements_expiring, referrals_late, reports_late
                 FROM console_area_counts WHERE township = ANY($1) AND as_of = $2",
                &[&townships, &today],
            )
            .await?
            .iter()
            .map(area_counts)
            .collect())
    }

    async fn console_refresh_areas(
        &self,
        townships: &[String],
        today: &str,
        expiring_by: &str,
    ) -> Result<Vec<AreaCounts>, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        // The read model's lock, as a fold takes it: no fold commits while the
        // summaries are counted, so none is counted from a read model a fold has
        // already changed and marked stale.
        tx.query_one("SELECT seq FROM console_cursor WHERE id=1 FOR UPDATE", &[])
            .await?;
        let known: HashSet<String> = tx
            .query(
                "SELECT township FROM console_area_counts WHERE township = ANY($1)",
                &[&townships],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let (forget, count, refresh) = (
            tx.prepare(sql::FORGET_AREA_VISITS).await?,
            tx.prepare(sql::COUNT_AREA_VISITS).await?,
            tx.prepare(sql::REFRESH_AREA_COUNTS).await?,
        );
        // Pipelined: one round trip's wait for all of them.
        let work = townships.iter().map(|t| {
            let (tx, forget, count, refresh) = (&tx, &forget, &count, &refresh);
            let new = !known.contains(t);
            async move {
                if new {
                    tx.execute(forget, &[t]).await?;
                    tx.execute(count, &[t]).await?;
                }
                tx.execute(refresh, &[t, &today, &expiring_by]).await?;
                Ok::<_, tokio_postgres::Error>(())
            }
        });
        futures_util::future::try_join_all(work).await?;
        let out: Vec<AreaCounts> = tx
            .query(
                "SELECT township, children, red, yellow, blue, overdue, agreements_missing, agreements_expiring, referrals_late, reports_late
                 FROM console_area_counts WHERE township = ANY($1)",
                &[&townships],
            )
            .await?
            .iter()
            .map(area_counts)
            .collect();
        tx.commit().await?;
        Ok(out)
    }

    async fn console_area_visits_per_day(
        &self,
        townships: &[String],
        since: &str,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let client = self.pool.get().await?;
        Ok(client
            .query(
                "SELECT visited_on, sum(n)::bigint FROM console_area_visits
                 WHERE township = ANY($1) AND visited_on >= $2 GROUP BY visited_on HAVING sum(n) > 0 ORDER BY visited_on",
                &[&townships, &since],
            )
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
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
