//! The embedded default backend: one SQLite file (WAL) in the data folder.
//!
//! Writes go through ONE writer thread with group commit: every write is a job on a
//! channel; the writer takes the first job, drains whatever else is queued (up to
//! [`MAX_GROUP`]), runs them all inside one transaction (each in its own savepoint, so
//! one failing job does not undo the others), commits once, and only then answers each
//! job. Many concurrent pushes thus share one fsync.
//!
//! `server_seq` is the feed table's rowid: with a single writer, rowids are handed out
//! in commit order and are dense, so a puller can never see seq N+1 before seq N.
//! Reads use a small pool of read-only connections that see committed data only.

use super::*;
use crate::ingest::{self, FeedItem, Loaded, RowState, StoredOp, Winner};
use crate::roster::Roster;
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};
use sync_core::change::canonical_json;
use sync_core::{FieldKey, Hlc, Stamp};
use tokio::sync::oneshot;

/// Most jobs one group commit takes.
pub const MAX_GROUP: usize = 512;

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/sqlite/0001_init.sql")),
    (
        2,
        include_str!("../../migrations/sqlite/0002_quarantine.sql"),
    ),
    (
        3,
        include_str!("../../migrations/sqlite/0003_held_ahead.sql"),
    ),
    (
        4,
        include_str!("../../migrations/sqlite/0004_row_created.sql"),
    ),
    (
        5,
        include_str!("../../migrations/sqlite/0005_feed_refeed.sql"),
    ),
    (6, include_str!("../../migrations/sqlite/0006_console.sql")),
    (
        7,
        include_str!("../../migrations/sqlite/0007_console_due.sql"),
    ),
    (8, include_str!("../../migrations/sqlite/0008_parked.sql")),
    (
        9,
        include_str!("../../migrations/sqlite/0009_blob_possession.sql"),
    ),
    (
        10,
        include_str!("../../migrations/sqlite/0010_token_used.sql"),
    ),
];

type Finisher = Box<dyn FnOnce(Option<&str>) + Send>;
type Job = Box<dyn FnOnce(&Connection) -> Finisher + Send>;

/// The SQLite backend.
pub struct SqliteDatabase {
    jobs: mpsc::Sender<Job>,
    readers: Arc<Mutex<Vec<Connection>>>,
    path: PathBuf,
    /// Dropping it stops the checkpointer thread.
    _checkpointer: mpsc::Sender<()>,
}

/// WAL pages after which the writer checkpoints by itself — only a safety net: the
/// checkpointer thread normally keeps the WAL short, off the writer's path.
const WRITER_AUTOCHECKPOINT_PAGES: i64 = 16384;

/// How often the checkpointer copies the WAL into the database file.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

/// Runs passive checkpoints on its own connection until `stop` disconnects, so the
/// single writer does not pay for them inside its group commits.
fn checkpointer_loop(conn: Connection, stop: mpsc::Receiver<()>) {
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(CHECKPOINT_EVERY) {
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %e, "sqlite checkpoint failed");
        }
    }
}

fn open_conn(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    // The writer uses ~30 distinct statements (ingest, multi-row inserts, the rest of
    // the API); the default cache of 16 made it re-prepare some on every push.
    conn.set_prepared_statement_cache_capacity(128);
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA temp_store=MEMORY; PRAGMA cache_size=-65536;",
    )?;
    Ok(conn)
}

fn migrate(conn: &Connection) -> Result<(), StoreError> {
    migrate_with(conn, MIGRATIONS)
}

/// Applies the migrations not yet recorded, each in ONE transaction with the row that
/// records it: a migration is applied and recorded together, or not at all (a crash or
/// a failure in between can no longer leave a schema change without its record, which
/// the next start would try to apply again).
fn migrate_with(conn: &Connection, migrations: &[(i64, &str)]) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_ms INTEGER NOT NULL)",
    )?;
    for (version, sql) in migrations {
        let done: Option<i64> = conn
            .query_row(
                "SELECT version FROM schema_migrations WHERE version=?",
                [version],
                |r| r.get(0),
            )
            .optional()?;
        if done.is_none() {
            conn.execute_batch("BEGIN IMMEDIATE")?;
            let applied = conn.execute_batch(sql).and_then(|()| {
                conn.execute(
                    "INSERT INTO schema_migrations(version, applied_ms) VALUES (?, ?)",
                    params![version, now_ms()],
                )
            });
            match applied.and_then(|_| conn.execute_batch("COMMIT")) {
                Ok(()) => {}
                Err(e) => {
                    let _ = conn.execute_batch("ROLLBACK");
                    return Err(e.into());
                }
            }
        }
    }
    Ok(())
}

fn now_ms() -> i64 {
    crate::model::clock::now_ms() as i64
}

fn uuid_of(bytes: Vec<u8>) -> Result<Uuid, rusqlite::Error> {
    Uuid::from_slice(&bytes).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Blob, Box::new(e))
    })
}

fn json_of(text: &str) -> Result<serde_json::Value, rusqlite::Error> {
    serde_json::from_str(text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn writer_loop(conn: Connection, rx: mpsc::Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        crate::metrics::group_commit(jobs.len());
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            tracing::error!(error = %e, "sqlite writer could not begin a transaction");
            continue; // dropping the jobs answers their callers with WriterGone
        }
        let finishers: Vec<Finisher> = jobs.into_iter().map(|job| job(&conn)).collect();
        let commit = conn.execute_batch("COMMIT").map_err(|e| e.to_string());
        if commit.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        let err = commit.err();
        for f in finishers {
            f(err.as_deref());
        }
    }
}

impl SqliteDatabase {
    /// Opens (creating if needed) the database file, migrates it and starts the writer.
    pub fn open(path: &Path) -> Result<SqliteDatabase, StoreError> {
        let conn = open_conn(path)?;
        migrate(&conn)?;
        conn.execute_batch(&format!(
            "PRAGMA wal_autocheckpoint={WRITER_AUTOCHECKPOINT_PAGES}"
        ))?;
        let checkpoint_conn = open_conn(path)?;
        let (stop, stopped) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || checkpointer_loop(checkpoint_conn, stopped))?;
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer_loop(conn, rx))?;
        Ok(SqliteDatabase {
            jobs: tx,
            readers: Arc::new(Mutex::new(Vec::new())),
            path: path.to_path_buf(),
            _checkpointer: stop,
        })
    }

    /// Runs `f` on the writer, inside the current group's transaction (in a savepoint),
    /// and answers once the group has committed.
    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |conn: &Connection| {
            let result = match conn.execute_batch("SAVEPOINT job") {
                Err(e) => Err(StoreError::from(e)),
                Ok(()) => {
                    let r = f(conn);
                    let end = if r.is_ok() {
                        "RELEASE job"
                    } else {
                        "ROLLBACK TO job; RELEASE job"
                    };
                    match conn.execute_batch(end) {
                        Ok(()) => r,
                        Err(e) => Err(StoreError::from(e)),
                    }
                }
            };
            Box::new(move |commit_err: Option<&str>| {
                let _ = tx.send(match commit_err {
                    Some(e) => Err(StoreError::Commit(e.to_string())),
                    None => result,
                });
            })
        });
        self.jobs.send(job).map_err(|_| StoreError::WriterGone)?;
        rx.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Runs `f` on a pooled read connection on the blocking pool.
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let readers = self.readers.clone();
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let conn = match readers.lock().expect("reader pool").pop() {
                Some(c) => c,
                None => open_conn(&path)?,
            };
            let r = f(&conn);
            let mut pool = readers.lock().expect("reader pool");
            if pool.len() < 8 {
                pool.push(conn);
            }
            r
        })
        .await
        .map_err(|e| StoreError::Invalid(format!("reader task failed: {e}")))?
    }
}

fn scopes_for(
    conn: &Connection,
    account_id: i64,
    role: Role,
    place: Option<&str>,
) -> Result<Vec<String>, StoreError> {
    let mut out = Vec::new();
    match role {
        Role::Director => {
            let mut st = conn.prepare_cached(
                "SELECT village FROM account_villages WHERE account_id=? ORDER BY village",
            )?;
            for r in st.query_map([account_id], |r| r.get(0))? {
                out.push(r?);
            }
        }
        Role::Supervisor => {
            let mut st = conn.prepare_cached(
                "SELECT code FROM places WHERE kind='village' AND parent=? ORDER BY code",
            )?;
            for r in st.query_map([place], |r| r.get(0))? {
                out.push(r?);
            }
        }
        Role::CountyAdmin => {
            let mut st = conn.prepare_cached(
                "SELECT v.code FROM places v JOIN places t ON v.parent=t.code WHERE v.kind='village' AND t.parent=? ORDER BY v.code",
            )?;
            for r in st.query_map([place], |r| r.get(0))? {
                out.push(r?);
            }
        }
        Role::CityAdmin => {
            let mut st = conn.prepare_cached(
                "SELECT v.code FROM places v JOIN places t ON v.parent=t.code JOIN places k ON t.parent=k.code WHERE v.kind='village' AND k.parent=? ORDER BY v.code",
            )?;
            for r in st.query_map([place], |r| r.get(0))? {
                out.push(r?);
            }
        }
    }
    Ok(out)
}

fn device_auth(
    conn: &Connection,
    device_id: Uuid,
    account_id: i64,
    role: &str,
    place: Option<String>,
    revoked: bool,
) -> Result<DeviceAuth, StoreError> {
    let role = Role::parse(role).ok_or_else(|| StoreError::Corrupt("unknown role".into()))?;
    let villages = scopes_for(conn, account_id, role, place.as_deref())?;
    Ok(DeviceAuth {
        device_id,
        revoked,
        principal: Principal::new(account_id, role, villages),
    })
}

/// What a push needs that does not depend on stored state, computed on the caller's
/// thread before the job reaches the single writer.
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

fn load(conn: &Connection, keys: &ingest::Keys) -> Result<Loaded, StoreError> {
    let mut loaded = Loaded::default();
    let mut st = conn.prepare_cached(
        "SELECT device_id, device_seq, table_name, row_id, field, value, hlc, scope FROM changes WHERE op_id=?",
    )?;
    for op in &keys.op_ids {
        let found = st
            .query_row([op.as_bytes().as_slice()], |r| {
                Ok(StoredOp {
                    device_id: uuid_of(r.get(0)?)?,
                    device_seq: r.get::<_, i64>(1)? as u64,
                    table: r.get(2)?,
                    row_id: uuid_of(r.get(3)?)?,
                    field: r.get(4)?,
                    value: r.get(5)?,
                    hlc: Hlc::from_u64(r.get::<_, i64>(6)? as u64),
                    scope: r.get(7)?,
                })
            })
            .optional()?;
        if let Some(s) = found {
            loaded.ops.insert(*op, s);
        }
    }
    let mut st = conn.prepare_cached(
        "SELECT scope, child_id, created_hlc, created_device FROM rows WHERE table_name=? AND row_id=?",
    )?;
    for k in &keys.rows {
        let found = st
            .query_row(params![k.0, k.1.as_bytes().as_slice()], |r| {
                let hlc = r.get::<_, Option<i64>>(2)?;
                let device = r.get::<_, Option<Vec<u8>>>(3)?.map(uuid_of).transpose()?;
                Ok(RowState {
                    scope: r.get(0)?,
                    child_id: r.get::<_, Option<Vec<u8>>>(1)?.map(uuid_of).transpose()?,
                    created: hlc.zip(device).map(|(h, d)| Stamp {
                        hlc: Hlc::from_u64(h as u64),
                        device_id: d,
                    }),
                })
            })
            .optional()?;
        if let Some(s) = found {
            loaded.rows.insert(k.clone(), s);
        }
    }
    // A field has a winner only if its row is in `rows` (ingest writes the row with its
    // first accepted change and never deletes it), so fields of new rows — most of a
    // typical batch — need no lookup. Values stay canonical JSON text (never parsed).
    let mut st = conn.prepare_cached(
        "SELECT hlc, device_id, value, op_id FROM fields WHERE table_name=? AND row_id=? AND field=?",
    )?;
    for k in &keys.fields {
        if !loaded.rows.contains_key(&(k.table.clone(), k.row_id)) {
            continue;
        }
        let found = st
            .query_row(
                params![k.table, k.row_id.as_bytes().as_slice(), k.field],
                |r| {
                    Ok(Winner {
                        stamp: Stamp {
                            hlc: Hlc::from_u64(r.get::<_, i64>(0)? as u64),
                            device_id: uuid_of(r.get(1)?)?,
                        },
                        value: r.get(2)?,
                        op_id: uuid_of(r.get(3)?)?,
                    })
                },
            )
            .optional()?;
        if let Some(w) = found {
            loaded.fields.insert(k.clone(), w);
        }
    }
    let mut st = conn.prepare_cached("SELECT 1 FROM places WHERE code=? AND kind='village'")?;
    for v in &keys.villages {
        if st.exists([v])? {
            loaded.villages.insert(v.clone());
        }
    }
    Ok(loaded)
}

/// Rows per multi-row INSERT statement.
const ROWS_PER_INSERT: usize = 64;

/// Inserts `n` rows with multi-row `INSERT … VALUES (…),(…)` statements of up to
/// [`ROWS_PER_INSERT`] rows: `head` is the statement up to `VALUES`, `tail` what follows
/// the value lists (e.g. an `ON CONFLICT` clause), `bind(st, row, first)` binds row
/// `row`'s `cols` values starting at parameter index `first`.
fn insert_rows(
    conn: &Connection,
    head: &str,
    tail: &str,
    cols: usize,
    n: usize,
    mut bind: impl FnMut(&mut rusqlite::CachedStatement<'_>, usize, usize) -> rusqlite::Result<()>,
) -> Result<(), StoreError> {
    let group = |rows: usize| -> String {
        let one = format!("({})", vec!["?"; cols].join(","));
        format!("{head} VALUES {} {tail}", vec![one; rows].join(","))
    };
    let mut done = 0;
    while done < n {
        let rows = (n - done).min(ROWS_PER_INSERT);
        // Full groups share one cached statement; the remainder row by row.
        let rows = if rows == ROWS_PER_INSERT { rows } else { 1 };
        let mut st = conn.prepare_cached(&group(rows))?;
        for r in 0..rows {
            bind(&mut st, done + r, r * cols + 1)?;
        }
        st.raw_execute()?;
        done += rows;
    }
    Ok(())
}

/// The device's contiguous held maximum, the seqs older servers held above it, and its
/// parked changes (with their canonical values).
fn device_seqs(
    conn: &Connection,
    dev: &[u8],
) -> Result<(u64, HashSet<u64>, Vec<Change>), StoreError> {
    let max: i64 = conn
        .prepare_cached("SELECT max_device_seq FROM devices WHERE device_id=?")?
        .query_row([dev], |r| r.get(0))?;
    let ahead = conn
        .prepare_cached("SELECT device_seq FROM held_ahead WHERE device_id=?")?
        .query_map([dev], |r| r.get::<_, i64>(0))?
        .map(|s| s.map(|s| s as u64))
        .collect::<Result<_, _>>()?;
    let mut parked = Vec::new();
    let mut st =
        conn.prepare_cached("SELECT change FROM parked WHERE device_id=? ORDER BY device_seq")?;
    for text in st.query_map([dev], |r| r.get::<_, String>(0))? {
        parked.push(
            serde_json::from_str(&text?)
                .map_err(|e| StoreError::Corrupt(format!("parked change: {e}")))?,
        );
    }
    Ok((max as u64, ahead, parked))
}

fn load_rejections(
    conn: &Connection,
    dev: &[u8],
    op_ids: &[Uuid],
) -> Result<HashMap<Uuid, ingest::StoredRejection>, StoreError> {
    let mut st = conn.prepare_cached(
        "SELECT device_seq, code, message FROM rejections WHERE device_id=? AND op_id=?",
    )?;
    let mut out = HashMap::new();
    for op in op_ids {
        if let Some(r) = st
            .query_row(params![dev, op.as_bytes().as_slice()], |r| {
                Ok(ingest::StoredRejection {
                    device_seq: r.get::<_, i64>(0)? as u64,
                    code: r.get(1)?,
                    message: r.get(2)?,
                })
            })
            .optional()?
        {
            out.insert(*op, r);
        }
    }
    Ok(out)
}

fn ingest_batch(
    conn: &Connection,
    device: &DeviceAuth,
    batch: &PushBatch,
    prepared: &Prepared,
) -> Result<PushOutcome, StoreError> {
    let dev = device.device_id.as_bytes().as_slice();
    let (max_before, held_ahead, parked) = device_seqs(conn, dev)?;
    let mut loaded = load(conn, &prepared.keys)?;
    // Parked changes (rare: only after a gap) join the batch, with the state they touch.
    let all: Vec<Change>;
    let mut all_values: Vec<String>;
    let (changes, values): (&[Change], &[String]) = if parked.is_empty() {
        (&batch.changes, &prepared.values)
    } else {
        let more = load(conn, &ingest::keys(&parked))?;
        loaded.ops.extend(more.ops);
        loaded.rows.extend(more.rows);
        loaded.fields.extend(more.fields);
        loaded.villages.extend(more.villages);
        all_values = prepared.values.clone();
        all_values.extend(ingest::canonical_values(&parked));
        all = batch.changes.iter().cloned().chain(parked).collect();
        (&all, &all_values)
    };
    let repushed = ingest::repushed_op_ids(&batch.changes, &loaded.ops, max_before, &held_ahead);
    if !repushed.is_empty() {
        loaded.rejections = load_rejections(conn, dev, &repushed)?;
    }
    let had_ahead = !held_ahead.is_empty();
    loaded.max_device_seq = max_before;
    loaded.held_ahead = held_ahead;
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
    insert_rows(
        conn,
        "INSERT INTO changes (op_id, device_id, device_seq, account_id, table_name, row_id, field, value, hlc, scope, received_ms)",
        "",
        11,
        plan.accepted.len(),
        |st, i, p| {
            let c = &changes[plan.accepted[i]];
            st.raw_bind_parameter(p, c.op_id.as_bytes().as_slice())?;
            st.raw_bind_parameter(p + 1, dev)?;
            st.raw_bind_parameter(p + 2, c.device_seq as i64)?;
            st.raw_bind_parameter(p + 3, device.account_id)?;
            st.raw_bind_parameter(p + 4, c.table.as_str())?;
            st.raw_bind_parameter(p + 5, c.row_id.as_bytes().as_slice())?;
            st.raw_bind_parameter(p + 6, c.field.as_str())?;
            st.raw_bind_parameter(p + 7, values[plan.accepted[i]].as_str())?;
            st.raw_bind_parameter(p + 8, c.hlc.as_u64() as i64)?;
            st.raw_bind_parameter(p + 9, c.scope.as_str())?;
            st.raw_bind_parameter(p + 10, now)
        },
    )?;
    let fields: Vec<(&FieldKey, &Winner)> = plan.fields.iter().collect();
    insert_rows(
        conn,
        "INSERT INTO fields (table_name, row_id, field, hlc, device_id, value, op_id)",
        "ON CONFLICT (table_name, row_id, field) DO UPDATE SET hlc=excluded.hlc, device_id=excluded.device_id, value=excluded.value, op_id=excluded.op_id",
        7,
        fields.len(),
        |st, i, p| {
            let (k, w) = fields[i];
            st.raw_bind_parameter(p, k.table.as_str())?;
            st.raw_bind_parameter(p + 1, k.row_id.as_bytes().as_slice())?;
            st.raw_bind_parameter(p + 2, k.field.as_str())?;
            st.raw_bind_parameter(p + 3, w.stamp.hlc.as_u64() as i64)?;
            st.raw_bind_parameter(p + 4, w.stamp.device_id.as_bytes().as_slice())?;
            st.raw_bind_parameter(p + 5, w.value.as_str())?;
            st.raw_bind_parameter(p + 6, w.op_id.as_bytes().as_slice())
        },
    )?;
    let rows: Vec<(&ingest::RowKey, &RowState)> = plan.rows.iter().collect();
    insert_rows(
        conn,
        "INSERT INTO rows (table_name, row_id, scope, child_id, created_hlc, created_device)",
        // The creation stamp is written once, with the row.
        "ON CONFLICT (table_name, row_id) DO UPDATE SET scope=excluded.scope, child_id=excluded.child_id",
        6,
        rows.len(),
        |st, i, p| {
            let (k, r) = rows[i];
            st.raw_bind_parameter(p, k.0.as_str())?;
            st.raw_bind_parameter(p + 1, k.1.as_bytes().as_slice())?;
            st.raw_bind_parameter(p + 2, r.scope.as_str())?;
            st.raw_bind_parameter(p + 3, r.child_id.as_ref().map(|c| c.as_bytes().as_slice()))?;
            st.raw_bind_parameter(p + 4, r.created.map(|s| s.hlc.as_u64() as i64))?;
            st.raw_bind_parameter(
                p + 5,
                r.created.as_ref().map(|s| s.device_id.as_bytes().as_slice()),
            )
        },
    )?;
    {
        let mut st = conn.prepare_cached(
            "INSERT OR IGNORE INTO blob_refs (sha256, table_name, row_id) VALUES (?,?,?)",
        )?;
        for (sha, k) in &plan.blob_refs {
            st.execute(params![sha, k.0, k.1.as_bytes().as_slice()])?;
        }
        let mut st = conn.prepare_cached(
            "INSERT INTO rejections (device_id, op_id, device_seq, code, message, change, at_ms) VALUES (?,?,?,?,?,?,?)
             ON CONFLICT (device_id, op_id) DO UPDATE SET device_seq=excluded.device_seq, code=excluded.code, message=excluded.message, change=excluded.change, at_ms=excluded.at_ms",
        )?;
        for r in plan.held_rejections(changes) {
            let c = &changes[r.index];
            st.execute(params![
                dev,
                c.op_id.as_bytes().as_slice(),
                c.device_seq as i64,
                r.code,
                r.message,
                ingest::kept_change(c, &values[r.index]),
                now
            ])?;
        }
    }
    write_feed(conn, &plan.feed)?;

    // The dense rule's bookkeeping (ingest decided it): parked changes, the seqs older
    // servers held above the maximum, the maximum.
    if !plan.unpark.is_empty() {
        let mut st =
            conn.prepare_cached("DELETE FROM parked WHERE device_id=? AND device_seq=?")?;
        for seq in &plan.unpark {
            st.execute(params![dev, *seq as i64])?;
        }
    }
    if !plan.park.is_empty() {
        let mut st = conn.prepare_cached(
            "INSERT OR REPLACE INTO parked (device_id, device_seq, op_id, change) VALUES (?,?,?,?)",
        )?;
        for &i in &plan.park {
            let c = &changes[i];
            st.execute(params![
                dev,
                c.device_seq as i64,
                c.op_id.as_bytes().as_slice(),
                serde_json::to_string(c).unwrap_or_default()
            ])?;
        }
    }
    let max = plan.max_device_seq;
    if had_ahead && max > max_before {
        conn.prepare_cached("DELETE FROM held_ahead WHERE device_id=? AND device_seq<=?")?
            .execute(params![dev, max as i64])?;
    }
    conn.prepare_cached(
        "UPDATE devices SET max_device_seq=?, last_seen_ms=?, heartbeat=? WHERE device_id=?",
    )?
    .execute(params![max as i64, now, prepared.heartbeat, dev])?;
    crate::metrics::ingested(plan.accepted.len(), &plan.rejections);
    Ok(plan.outcome(changes))
}

/// Inserts feed entries in order (multi-row INSERTs: rowids follow the VALUES order).
fn write_entries(conn: &Connection, entries: &mut Vec<(&str, &Uuid)>) -> Result<(), StoreError> {
    insert_rows(
        conn,
        "INSERT INTO feed (scope, op_id)",
        "",
        2,
        entries.len(),
        |st, i, p| {
            st.raw_bind_parameter(p, entries[i].0)?;
            st.raw_bind_parameter(p + 1, entries[i].1.as_bytes().as_slice())
        },
    )?;
    entries.clear();
    Ok(())
}

fn write_feed(conn: &Connection, feed: &[FeedItem]) -> Result<(), StoreError> {
    let mut entries: Vec<(&str, &Uuid)> = Vec::with_capacity(feed.len());
    for item in feed {
        match item {
            FeedItem::Entry { scope, op_id } => {
                entries.push((scope.as_str(), op_id));
            }
            FeedItem::Refeed { row, scope } => {
                write_entries(conn, &mut entries)?;
                let id = row.1.as_bytes().as_slice();
                conn.prepare_cached("UPDATE rows SET scope=?1 WHERE table_name=?2 AND row_id=?3")?
                    .execute(params![scope, row.0, id])?;
                conn.prepare_cached(
                    "INSERT INTO feed (scope, op_id, refeed) SELECT ?1, op_id, 1 FROM fields WHERE table_name=?2 AND row_id=?3 ORDER BY field",
                )?
                .execute(params![scope, row.0, id])?;
                if row.0 == "child" {
                    conn.prepare_cached("UPDATE rows SET scope=?1 WHERE child_id=?2")?
                        .execute(params![scope, id])?;
                    conn.prepare_cached(
                        "INSERT INTO feed (scope, op_id, refeed) SELECT ?1, f.op_id, 1 FROM rows r JOIN fields f ON f.table_name=r.table_name AND f.row_id=r.row_id
                         WHERE r.child_id=?2 ORDER BY f.table_name, f.row_id, f.field",
                    )?
                    .execute(params![scope, id])?;
                }
            }
        }
    }
    write_entries(conn, &mut entries)
}

fn scopes_json(scopes: &[String]) -> String {
    serde_json::to_string(scopes).unwrap_or_else(|_| "[]".into())
}

#[async_trait]
impl AccountStore for SqliteDatabase {
    async fn import_roster(&self, roster: &Roster) -> Result<ImportSummary, StoreError> {
        let roster = roster.clone();
        self.write(move |conn| {
            let mut place = conn.prepare_cached(
                "INSERT INTO places (code, kind, name, parent) VALUES (?,?,?,?) ON CONFLICT (code) DO UPDATE SET kind=excluded.kind, name=excluded.name, parent=excluded.parent",
            )?;
            for p in &roster.places {
                place.execute(params![p.code, p.kind.as_str(), p.name, p.parent])?;
            }
            let mut acc = conn.prepare_cached(
                "INSERT INTO accounts (login, name, role, place) VALUES (?,?,?,?) ON CONFLICT (login) DO UPDATE SET name=excluded.name, role=excluded.role, place=excluded.place RETURNING id",
            )?;
            for a in &roster.accounts {
                let place = if a.role == Role::Director { None } else { a.places.first().cloned() };
                let id: i64 = acc.query_row(params![a.login, a.name, a.role.as_str(), place], |r| r.get(0))?;
                conn.execute("DELETE FROM account_villages WHERE account_id=?", [id])?;
                if a.role == Role::Director {
                    for v in &a.places {
                        conn.execute("INSERT OR IGNORE INTO account_villages (account_id, village) VALUES (?,?)", params![id, v])?;
                    }
                }
            }
            Ok(ImportSummary { places: roster.places.len(), accounts: roster.accounts.len() })
        })
        .await
    }

    async fn account_by_login(&self, login: &str) -> Result<Option<Account>, StoreError> {
        let login = login.to_string();
        self.read(move |conn| {
            let r = conn
                .query_row(
                    "SELECT id, login, role FROM accounts WHERE login=?",
                    [&login],
                    |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                        ))
                    },
                )
                .optional()?;
            Ok(r.and_then(|(id, login, role)| {
                Role::parse(&role).map(|role| Account { id, login, role })
            }))
        })
        .await
    }

    async fn add_enroll_code(&self, code: EnrollCodeRecord, now_ms: i64) -> Result<(), StoreError> {
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO enroll_codes (code_id, account_id, secret_hash, created_ms, expires_ms) VALUES (?,?,?,?,?)",
                params![code.code_id, code.account_id, code.secret_hash, now_ms, code.expires_ms],
            )?;
            Ok(())
        })
        .await
    }

    async fn enroll_code(&self, code_id: &str) -> Result<Option<EnrollCodeRecord>, StoreError> {
        let code_id = code_id.to_string();
        self.read(move |conn| {
            Ok(conn
                .query_row(
                    "SELECT code_id, account_id, secret_hash, expires_ms, used_ms IS NOT NULL, device_id FROM enroll_codes WHERE code_id=?",
                    [&code_id],
                    |r| {
                        let used_by = match r.get::<_, Option<Vec<u8>>>(5)? {
                            Some(b) => Some(uuid_of(b)?),
                            None => None,
                        };
                        Ok(EnrollCodeRecord { code_id: r.get(0)?, account_id: r.get(1)?, secret_hash: r.get(2)?, expires_ms: r.get(3)?, used: r.get(4)?, used_by })
                    },
                )
                .optional()?)
        })
        .await
    }

    async fn enroll_device(
        &self,
        code_id: &str,
        device: NewDevice,
        now_ms: i64,
    ) -> Result<Result<DeviceAuth, EnrollRefusal>, StoreError> {
        let code_id = code_id.to_string();
        // One job of the single writer: the checks and the writes are one transaction.
        self.write(move |conn| {
            let dev = device.device_id.as_bytes().as_slice();
            let auth = |account_id: i64| -> Result<DeviceAuth, StoreError> {
                let (role, place): (String, Option<String>) =
                    conn.query_row("SELECT role, place FROM accounts WHERE id=?", [account_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
                device_auth(conn, device.device_id, account_id, &role, place, false)
            };
            let exists = conn.prepare_cached("SELECT 1 FROM devices WHERE device_id=?")?.exists([dev])?;
            if !exists {
                let account: Option<i64> = conn
                    .query_row(
                        "UPDATE enroll_codes SET used_ms=?, device_id=? WHERE code_id=? AND used_ms IS NULL RETURNING account_id",
                        params![now_ms, dev, code_id],
                        |r| r.get(0),
                    )
                    .optional()?;
                if let Some(account_id) = account {
                    conn.execute(
                        "INSERT INTO devices (device_id, account_id, name, app_version, token_hash, enrolled_ms) VALUES (?,?,?,?,?,?)",
                        params![dev, account_id, device.name, device.app_version, device.token_hash.as_slice(), now_ms],
                    )?;
                    return Ok(Ok(auth(account_id)?));
                }
            }
            // The code is used: by this device, whose answer may have been lost?
            let again: Option<i64> = conn
                .query_row(
                    "UPDATE devices SET token_hash=?1 WHERE device_id=?2 AND revoked_ms IS NULL AND token_used_ms IS NULL
                       AND account_id = (SELECT account_id FROM enroll_codes WHERE code_id=?3 AND device_id=?2 AND used_ms IS NOT NULL AND expires_ms>?4)
                     RETURNING account_id",
                    params![device.token_hash.as_slice(), dev, code_id, now_ms],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(account_id) = again {
                return Ok(Ok(auth(account_id)?));
            }
            let enrolled_by_it = conn
                .prepare_cached("SELECT 1 FROM enroll_codes WHERE code_id=? AND device_id=?")?
                .exists(params![code_id, dev])?;
            Ok(Err(if exists && !enrolled_by_it { EnrollRefusal::DeviceExists } else { EnrollRefusal::CodeUsed }))
        })
        .await
    }

    async fn authenticate(
        &self,
        token_hash: [u8; 32],
        now_ms: i64,
    ) -> Result<Option<DeviceAuth>, StoreError> {
        let found = self.read(move |conn| {
            let found = conn
                .prepare_cached(
                    "SELECT d.device_id, d.account_id, a.role, a.place, d.revoked_ms IS NOT NULL, d.token_used_ms IS NULL FROM devices d JOIN accounts a ON a.id=d.account_id WHERE d.token_hash=?",
                )?
                .query_row([token_hash.as_slice()], |r| {
                    Ok((uuid_of(r.get(0)?)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?, r.get::<_, Option<String>>(3)?, r.get::<_, bool>(4)?, r.get::<_, bool>(5)?))
                })
                .optional()?;
            match found {
                None => Ok(None),
                Some((d, a, role, place, revoked, first_use)) => Ok(Some((device_auth(conn, d, a, &role, place, revoked)?, first_use))),
            }
        })
        .await?;
        let Some((auth, first_use)) = found else {
            return Ok(None);
        };
        if first_use {
            // Once per token: the phone holds it, so its code is spent for good.
            self.write(move |conn| {
                conn.execute(
                    "UPDATE devices SET token_used_ms=? WHERE token_hash=? AND token_used_ms IS NULL",
                    params![now_ms, token_hash.as_slice()],
                )?;
                Ok(())
            })
            .await?;
        }
        Ok(Some(auth))
    }

    async fn device_by_id(&self, device_id: Uuid) -> Result<Option<DeviceAuth>, StoreError> {
        self.read(move |conn| {
            let found = conn
                .prepare_cached(
                    "SELECT d.account_id, a.role, a.place, d.revoked_ms IS NOT NULL FROM devices d JOIN accounts a ON a.id=d.account_id WHERE d.device_id=?",
                )?
                .query_row([device_id.as_bytes().as_slice()], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, Option<String>>(2)?, r.get::<_, bool>(3)?))
                })
                .optional()?;
            match found {
                None => Ok(None),
                Some((a, role, place, revoked)) => Ok(Some(device_auth(conn, device_id, a, &role, place, revoked)?)),
            }
        })
        .await
    }

    async fn devices(&self, account_login: Option<&str>) -> Result<Vec<DeviceInfo>, StoreError> {
        let login = account_login.map(str::to_string);
        self.read(move |conn| {
            let mut st = conn.prepare(
                "SELECT d.device_id, a.login, d.name, d.app_version, d.enrolled_ms, d.revoked_ms, d.last_seen_ms, d.max_device_seq, d.heartbeat
                 FROM devices d JOIN accounts a ON a.id=d.account_id WHERE ?1 IS NULL OR a.login=?1 ORDER BY a.login, d.enrolled_ms",
            )?;
            let rows = st.query_map([login], |r| {
                Ok(DeviceInfo {
                    device_id: uuid_of(r.get(0)?)?,
                    account_login: r.get(1)?,
                    name: r.get(2)?,
                    app_version: r.get(3)?,
                    enrolled_ms: r.get(4)?,
                    revoked_ms: r.get(5)?,
                    last_seen_ms: r.get(6)?,
                    max_device_seq: r.get(7)?,
                    heartbeat: r.get::<_, Option<String>>(8)?.and_then(|h| serde_json::from_str(&h).ok()),
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn revoke_device(&self, device_id: Uuid, now_ms: i64) -> Result<bool, StoreError> {
        self.write(move |conn| {
            Ok(conn.execute(
                "UPDATE devices SET revoked_ms=COALESCE(revoked_ms, ?) WHERE device_id=?",
                params![now_ms, device_id.as_bytes().as_slice()],
            )? > 0)
        })
        .await
    }

    async fn quarantine(
        &self,
        device_id: Uuid,
        changes: Vec<Change>,
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        self.write(move |conn| {
            let dev = device_id.as_bytes().as_slice();
            let mut st = conn.prepare_cached(
                "INSERT OR IGNORE INTO quarantine (device_id, op_id, device_seq, change, received_ms) VALUES (?,?,?,?,?)",
            )?;
            for c in &changes {
                st.execute(params![
                    dev,
                    c.op_id.as_bytes().as_slice(),
                    c.device_seq.min(i64::MAX as u64) as i64,
                    serde_json::to_string(c).unwrap_or_default(),
                    now_ms
                ])?;
            }
            Ok(conn.query_row("SELECT count(*) FROM quarantine WHERE device_id=?", [dev], |r| r.get::<_, i64>(0))? as u64)
        })
        .await
    }

    async fn quarantined(
        &self,
        device_id: Option<Uuid>,
    ) -> Result<Vec<QuarantinedChange>, StoreError> {
        self.read(move |conn| {
            let mut st = conn.prepare(
                "SELECT device_id, change, received_ms FROM quarantine WHERE ?1 IS NULL OR device_id=?1 ORDER BY device_id, device_seq",
            )?;
            let dev = device_id.map(|d| d.as_bytes().to_vec());
            let rows = st.query_map([dev], |r| Ok((uuid_of(r.get(0)?)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?)))?;
            let mut out = Vec::new();
            for row in rows {
                let (device_id, change, received_ms) = row?;
                let change = serde_json::from_str(&change).map_err(|e| StoreError::Corrupt(format!("quarantine: {e}")))?;
                out.push(QuarantinedChange { device_id, change, received_ms });
            }
            Ok(out)
        })
        .await
    }

    async fn clear_quarantine(
        &self,
        device_id: Uuid,
        op_ids: Vec<Uuid>,
    ) -> Result<u64, StoreError> {
        self.write(move |conn| {
            let mut st =
                conn.prepare_cached("DELETE FROM quarantine WHERE device_id=? AND op_id=?")?;
            let mut n = 0;
            for op in &op_ids {
                n += st.execute(params![
                    device_id.as_bytes().as_slice(),
                    op.as_bytes().as_slice()
                ])? as u64;
            }
            Ok(n)
        })
        .await
    }

    async fn access_log(&self) -> Result<Vec<AccessLogEntry>, StoreError> {
        self.read(|conn| {
            let mut st = conn.prepare("SELECT account_id, device_id, scope, record_count, at_ms FROM access_log ORDER BY id")?;
            let rows = st.query_map([], |r| {
                Ok(AccessLogEntry { account_id: r.get(0)?, device_id: uuid_of(r.get(1)?)?, scope: r.get(2)?, record_count: r.get(3)?, at_ms: r.get(4)? })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn is_empty(&self) -> Result<bool, StoreError> {
        self.read(|conn| Ok(!conn.prepare("SELECT 1 FROM places LIMIT 1")?.exists([])?))
            .await
    }

    async fn villages(&self) -> Result<Vec<String>, StoreError> {
        self.read(|conn| {
            let mut st =
                conn.prepare("SELECT code FROM places WHERE kind='village' ORDER BY code")?;
            let rows = st.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }
}

#[async_trait]
impl SyncStore for SqliteDatabase {
    async fn push(&self, device: &DeviceAuth, batch: PushBatch) -> Result<PushOutcome, StoreError> {
        let device = device.clone();
        // Keys, canonical values: off the single writer, on the caller's thread.
        let prepared = prepare(&batch);
        self.write(move |conn| ingest_batch(conn, &device, &batch, &prepared))
            .await
    }

    async fn pull(
        &self,
        device: &DeviceAuth,
        cursor: u64,
        limit: u32,
        include_own: bool,
        now_ms: i64,
    ) -> Result<PullPage, StoreError> {
        let scopes = scopes_json(&device.read_scopes);
        let read_scopes = device.read_scopes.clone();
        let puller = device.device_id;
        let page = self
            .read(move |conn| {
                // A few villages (a director, a supervisor): one ordered index range per
                // village, merged — cost follows what the device receives, not the
                // size of the feed. Many villages (a county admin): walk the feed in
                // server_seq order, where the device's villages are dense. One read
                // transaction, so every range sees the same commits.
                const SELECT: &str = "SELECT f.server_seq, f.scope, c.op_id, c.device_id, c.device_seq, c.table_name, c.row_id, c.field, c.value, c.hlc, f.refeed
                     FROM feed f JOIN changes c ON c.op_id=f.op_id";
                let row = |r: &rusqlite::Row<'_>| -> rusqlite::Result<ScannedEntry> {
                    Ok(ScannedEntry {
                        pulled: PulledChange {
                            server_seq: r.get::<_, i64>(0)? as u64,
                            change: Change {
                                scope: Scope(r.get(1)?),
                                op_id: uuid_of(r.get(2)?)?,
                                device_id: uuid_of(r.get(3)?)?,
                                device_seq: r.get::<_, i64>(4)? as u64,
                                table: r.get(5)?,
                                row_id: uuid_of(r.get(6)?)?,
                                field: r.get(7)?,
                                value: json_of(&r.get::<_, String>(8)?)?,
                                hlc: Hlc::from_u64(r.get::<_, i64>(9)? as u64),
                            },
                        },
                        refeed: r.get(10)?,
                    })
                };
                let tx = conn.unchecked_transaction()?;
                let mut scanned: Vec<ScannedEntry> = Vec::new();
                if read_scopes.len() <= 64 {
                    let mut st = tx.prepare_cached(&format!(
                        "{SELECT} WHERE f.scope = ?1 AND f.server_seq > ?2 ORDER BY f.server_seq LIMIT ?3"
                    ))?;
                    for scope in &read_scopes {
                        let rows = st.query_map(params![scope, cursor as i64, limit as i64 + 1], row)?;
                        for r in rows {
                            scanned.push(r?);
                        }
                    }
                    scanned.sort_by_key(|e| e.pulled.server_seq);
                    scanned.truncate(limit as usize + 1);
                } else {
                    let mut st = tx.prepare_cached(&format!(
                        "{SELECT} WHERE f.server_seq > ?1 AND f.scope IN (SELECT value FROM json_each(?2))
                         ORDER BY f.server_seq LIMIT ?3"
                    ))?;
                    let rows = st.query_map(params![cursor as i64, scopes, limit as i64 + 1], row)?;
                    for r in rows {
                        scanned.push(r?);
                    }
                }
                tx.commit()?;
                Ok(pull_page(scanned, cursor, limit, puller, include_own))
            })
            .await?;
        let entries = access_entries(device, &page, now_ms);
        if !entries.is_empty() {
            self.write(move |conn| {
                let mut st = conn.prepare_cached(
                    "INSERT INTO access_log (account_id, device_id, scope, record_count, at_ms) VALUES (?,?,?,?,?)",
                )?;
                for e in entries {
                    st.execute(params![e.account_id, e.device_id.as_bytes().as_slice(), e.scope, e.record_count, e.at_ms])?;
                }
                Ok(())
            })
            .await?;
        }
        Ok(page)
    }

    async fn checksums(
        &self,
        scopes: &[String],
    ) -> Result<BTreeMap<Scope, ScopeChecksum>, StoreError> {
        let scopes_list = scopes.to_vec();
        self.read(move |conn| {
            let mut out: BTreeMap<Scope, ScopeChecksum> = scopes_list
                .iter()
                .map(|s| (Scope(s.clone()), ScopeChecksum::default()))
                .collect();
            let mut st = conn.prepare_cached(
                "SELECT r.scope, f.table_name, f.row_id, f.field, f.hlc, f.device_id, f.value
                 FROM rows r JOIN fields f ON f.table_name=r.table_name AND f.row_id=r.row_id
                 WHERE r.scope IN (SELECT value FROM json_each(?1))",
            )?;
            let mut rows = st.query([scopes_json(&scopes_list)])?;
            while let Some(r) = rows.next()? {
                let key = FieldKey {
                    table: r.get(1)?,
                    row_id: uuid_of(r.get(2)?)?,
                    field: r.get(3)?,
                };
                let stamp = Stamp {
                    hlc: Hlc::from_u64(r.get::<_, i64>(4)? as u64),
                    device_id: uuid_of(r.get(5)?)?,
                };
                let value = json_of(&r.get::<_, String>(6)?)?;
                let h = ScopeChecksum::field_hash(&key, &stamp, &value);
                out.entry(Scope(r.get(0)?)).or_default().add(h);
            }
            Ok(out)
        })
        .await
    }

    async fn audit_row(&self, row_id: Uuid) -> Result<Vec<AuditEntry>, StoreError> {
        self.read(move |conn| {
            let mut st = conn.prepare(
                "SELECT c.received_ms, a.login, c.device_id, c.table_name, c.field, c.hlc, c.op_id
                 FROM changes c JOIN accounts a ON a.id=c.account_id WHERE c.row_id=? ORDER BY c.hlc, c.device_id",
            )?;
            let rows = st.query_map([row_id.as_bytes().as_slice()], |r| {
                Ok(AuditEntry {
                    received_ms: r.get(0)?,
                    account_login: r.get(1)?,
                    device_id: uuid_of(r.get(2)?)?,
                    table: r.get(3)?,
                    field: r.get(4)?,
                    hlc: Hlc::from_u64(r.get::<_, i64>(5)? as u64),
                    op_id: uuid_of(r.get(6)?)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn child_id_numbers(&self) -> Result<Vec<crate::one_file::IdNumberFile>, StoreError> {
        self.read(|conn| {
            let mut st = conn.prepare_cached(
                "SELECT r.row_id, r.scope, f.value FROM fields f
                 JOIN rows r ON r.table_name=f.table_name AND r.row_id=f.row_id
                 WHERE f.table_name='child' AND f.field='id_number' AND f.value <> 'null'
                 AND NOT EXISTS (SELECT 1 FROM fields d WHERE d.table_name='child' AND d.row_id=f.row_id AND d.field='deleted' AND d.value='true')",
            )?;
            let rows = st.query_map([], |r| {
                Ok((uuid_of(r.get(0)?)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (child_id, village, value) = row?;
                if let Ok(Some(id_number)) = serde_json::from_str::<Option<String>>(&value) {
                    out.push(crate::one_file::IdNumberFile { child_id, village, id_number });
                }
            }
            Ok(out)
        })
        .await
    }
}

#[async_trait]
impl BlobUploads for SqliteDatabase {
    async fn blob_state(
        &self,
        sha256: &str,
        uploader: Uploader<'_>,
    ) -> Result<BlobState, StoreError> {
        let sha = sha256.to_string();
        let dev = uploader.device_id;
        let scopes = scopes_json(uploader.scopes);
        self.read(move |conn| blob_state(conn, &sha, dev, &scopes))
            .await
    }

    async fn blob_append(
        &self,
        sha256: &str,
        uploader: Uploader<'_>,
        offset: u64,
        total: u64,
        chunk: Vec<u8>,
    ) -> Result<AppendOutcome, StoreError> {
        let sha = sha256.to_string();
        let dev = uploader.device_id;
        let scopes = scopes_json(uploader.scopes);
        self.write(move |conn| {
            let state = blob_state(conn, &sha, dev, &scopes)?;
            let held = match chunk_step(&state, offset, total, chunk.len() as u64) {
                ChunkStep::Answer(a) => return Ok(a),
                ChunkStep::Store { held_bytes } => held_bytes,
            };
            conn.execute(
                "INSERT INTO blob_chunks (sha256, device_id, \"offset\", total, data) VALUES (?,?,?,?,?)",
                params![sha, dev.as_bytes().as_slice(), offset as i64, total as i64, chunk],
            )?;
            Ok(if held < total {
                AppendOutcome::Appended { held_bytes: held }
            } else {
                AppendOutcome::HeldInFull
            })
        })
        .await
    }

    async fn blob_held(
        &self,
        sha256: &str,
        uploader: Uploader<'_>,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let sha = sha256.to_string();
        let dev = uploader.device_id;
        let scopes = scopes_json(uploader.scopes);
        self.read(move |conn| {
            // One snapshot for the state and the chunks.
            let tx = conn.unchecked_transaction()?;
            let state = blob_state(&tx, &sha, dev, &scopes)?;
            if !state.held_in_full() {
                return Ok(None);
            }
            let mut st = tx.prepare_cached(
                "SELECT data FROM blob_chunks WHERE sha256=? AND device_id=? ORDER BY \"offset\"",
            )?;
            let mut bytes = Vec::with_capacity(state.held_bytes as usize);
            for part in st.query_map(params![&sha, dev.as_bytes().as_slice()], |r| {
                r.get::<_, Vec<u8>>(0)
            })? {
                bytes.extend_from_slice(&part?);
            }
            drop(st);
            tx.commit()?;
            Ok(Some(bytes))
        })
        .await
    }

    async fn blob_finish(
        &self,
        sha256: &str,
        uploader: Uploader<'_>,
        complete_size: Option<u64>,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let sha = sha256.to_string();
        let dev = uploader.device_id;
        let scopes = scopes_json(uploader.scopes);
        self.write(move |conn| {
            if let Some(size) = complete_size {
                conn.execute(
                    "INSERT OR IGNORE INTO blobs (sha256, size, completed_ms) VALUES (?,?,?)",
                    params![sha, size as i64, now_ms],
                )?;
                // Proof of possession: this device sent every byte, verified.
                conn.execute(
                    "UPDATE blob_refs SET proven=1 WHERE sha256=?1 AND NOT proven AND EXISTS (
                         SELECT 1 FROM rows r WHERE r.table_name=blob_refs.table_name AND r.row_id=blob_refs.row_id
                         AND r.scope IN (SELECT value FROM json_each(?2)))",
                    params![sha, scopes],
                )?;
            }
            conn.execute(
                "DELETE FROM blob_chunks WHERE sha256=? AND device_id=?",
                params![&sha, dev.as_bytes().as_slice()],
            )?;
            Ok(())
        })
        .await
    }

    async fn blob_access(&self, sha256: &str, scopes: &[String]) -> Result<BlobAccess, StoreError> {
        let sha = sha256.to_string();
        let scopes = scopes_json(scopes);
        self.read(move |conn| blob_access(conn, &sha, &scopes))
            .await
    }
}

fn blob_access(conn: &Connection, sha: &str, scopes_json: &str) -> Result<BlobAccess, StoreError> {
    let found: Option<bool> = conn
        .prepare_cached(
            "SELECT max(b.proven) FROM blob_refs b JOIN rows r ON r.table_name=b.table_name AND r.row_id=b.row_id
             WHERE b.sha256=?1 AND r.scope IN (SELECT value FROM json_each(?2))",
        )?
        .query_row(params![sha, scopes_json], |r| r.get::<_, Option<bool>>(0))?;
    let proven = found == Some(true)
        && conn
            .prepare_cached("SELECT 1 FROM blobs WHERE sha256=?")?
            .exists([sha])?;
    Ok(BlobAccess {
        named: found.is_some(),
        proven,
    })
}

#[async_trait]
impl BenchStore for SqliteDatabase {
    async fn bench_plain_insert(&self, changes: &[Change]) -> Result<(), StoreError> {
        let changes = changes.to_vec();
        self.write(move |conn| {
            let mut st = conn.prepare_cached(
                "INSERT INTO bench_plain (op_id, device_id, device_seq, account_id, table_name, row_id, field, value, hlc, scope, received_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            )?;
            for c in &changes {
                st.execute(params![
                    c.op_id.as_bytes().as_slice(),
                    c.device_id.as_bytes().as_slice(),
                    c.device_seq as i64,
                    0i64,
                    c.table,
                    c.row_id.as_bytes().as_slice(),
                    c.field,
                    canonical_json(&c.value),
                    c.hlc.as_u64() as i64,
                    c.scope.as_str(),
                    0i64
                ])?;
            }
            Ok(())
        })
        .await
    }

    async fn bench_console_rows(&self, villages: &[String]) -> Result<usize, StoreError> {
        let villages = villages.to_vec();
        self.read(move |conn| {
            // The same access path as the console's read (`for_villages`), nothing computed.
            let rows = for_villages(
                conn,
                "SELECT child_id, village, name, risk_colour, categories, active, added_on, last_visit_on, next_due_on, agreement_until, due_on, left_behind
                 FROM console_children WHERE {V}",
                "village",
                &[],
                VillageSet::Only(&villages),
                |r| {
                    let row: (Vec<u8>, String, String, String, String, bool, String, Option<String>, Option<String>, Option<String>, Option<String>, bool) = (
                        r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?, r.get(10)?, r.get(11)?,
                    );
                    Ok(row)
                },
            )?;
            Ok(std::hint::black_box(rows).len())
        })
        .await
    }
}

/// `device`'s upload of a blob; complete when the blob is complete and proven in the
/// villages of `scopes_json`.
fn blob_state(
    conn: &Connection,
    sha: &str,
    device: Uuid,
    scopes_json: &str,
) -> Result<BlobState, StoreError> {
    if let Some(size) = conn
        .prepare_cached("SELECT size FROM blobs WHERE sha256=?")?
        .query_row([sha], |r| r.get::<_, i64>(0))
        .optional()?
    {
        if blob_access(conn, sha, scopes_json)?.proven {
            return Ok(BlobState {
                held_bytes: size as u64,
                total: Some(size as u64),
                complete: true,
            });
        }
    }
    let (held, total): (i64, Option<i64>) = conn
        .prepare_cached(
            "SELECT COALESCE(SUM(length(data)), 0), MAX(total) FROM blob_chunks WHERE sha256=? AND device_id=?",
        )?
        .query_row(params![sha, device.as_bytes().as_slice()], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    Ok(BlobState {
        held_bytes: held as u64,
        total: total.map(|t| t as u64),
        complete: false,
    })
}

fn person_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(PersonRecord, String)> {
    Ok((
        PersonRecord {
            account_id: r.get(0)?,
            login: r.get(1)?,
            name: r.get(2)?,
            role: Role::Director, // replaced below from the text
            place: r.get(4)?,
            password_hash: r.get(5)?,
            login_code_hash: r.get(6)?,
            login_code_expires_ms: r.get(7)?,
            failed_logins: r.get::<_, Option<i64>>(8)?.unwrap_or(0),
            locked_until_ms: r.get(9)?,
        },
        r.get(3)?,
    ))
}

const PERSON_SQL: &str = "SELECT a.id, a.login, a.name, a.role, a.place, p.password_hash, p.login_code_hash, p.login_code_expires_ms, p.failed_logins, p.locked_until_ms
     FROM accounts a LEFT JOIN people p ON p.account_id=a.id";

fn person_of(found: Option<(PersonRecord, String)>) -> Result<Option<PersonRecord>, StoreError> {
    match found {
        None => Ok(None),
        Some((mut p, role)) => {
            p.role =
                Role::parse(&role).ok_or_else(|| StoreError::Corrupt("unknown role".into()))?;
            Ok(Some(p))
        }
    }
}

/// Villages above which a read-model query scans the table once instead of one index
/// range per village (a county or the city reads most of the table anyway).
const VILLAGES_PER_RANGE_SCAN: usize = 200;

/// A place, the places under it and the places above it (`?1` its code).
const PLACES_AROUND_SQL: &str = "WITH RECURSIVE down(code) AS (SELECT ?1 UNION SELECT p.code FROM places p JOIN down d ON p.parent = d.code),
    up(code, parent) AS (SELECT code, parent FROM places WHERE code = ?1 UNION SELECT p.code, p.parent FROM places p JOIN up u ON p.code = u.parent)
    SELECT code, kind, name, parent FROM places WHERE code IN (SELECT code FROM down) OR code IN (SELECT code FROM up) ORDER BY code";

/// Per-village counts of active children (`?2` today, `?3` the last day an agreement
/// counts as expiring); the same rules as `console::figures` applies child by child.
const CHILD_COUNTS_SQL: &str = "SELECT village, count(*),
    count(*) FILTER (WHERE risk_colour = 'red'),
    count(*) FILTER (WHERE risk_colour = 'yellow'),
    count(*) FILTER (WHERE risk_colour = 'blue'),
    count(*) FILTER (WHERE due_on < ?2),
    count(*) FILTER (WHERE left_behind AND (agreement_until IS NULL OR agreement_until < ?2)),
    count(*) FILTER (WHERE left_behind AND agreement_until >= ?2 AND agreement_until <= ?3)
    FROM console_children WHERE {V} AND active GROUP BY village";

/// Per-village open mandatory reports and referrals of active children past their
/// feedback date (`?2` today).
const LATE_REFERRALS_SQL: &str =
    "SELECT r.village, count(*) FILTER (WHERE r.report), count(*) FILTER (WHERE NOT r.report)
    FROM console_referrals r JOIN console_children c ON c.child_id = r.child_id AND c.active
    WHERE {V} AND r.open AND r.feedback_due_on < ?2 GROUP BY r.village";

/// Runs `sql` for `villages`: `{V}` in it stands for the test of `village_col` (none
/// for [`VillageSet::All`]). For a
/// few villages the statement runs once per village on its index range
/// (`col = ?1`); for many, once, scanning the table and keeping the rows of the
/// villages through an ephemeral index of the list (`+col IN (json_each(?1))`). The
/// further parameters `extra` are `?2`, `?3`, ….
fn for_villages<T>(
    conn: &Connection,
    sql: &str,
    village_col: &str,
    extra: &[&dyn rusqlite::ToSql],
    villages: VillageSet<'_>,
    mut row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, StoreError> {
    let mut out = Vec::new();
    let mut run = |st: &mut rusqlite::CachedStatement<'_>, first: &dyn rusqlite::ToSql| {
        let mut params: Vec<&dyn rusqlite::ToSql> = vec![first];
        params.extend_from_slice(extra);
        let mut rows = st.query(params.as_slice())?;
        while let Some(r) = rows.next()? {
            out.push(row(r)?);
        }
        Ok::<_, StoreError>(())
    };
    let villages = match villages {
        VillageSet::All => {
            let mut st = conn.prepare_cached(&sql.replace("{V}", "?1 IS NOT NULL"))?;
            run(&mut st, &1i64)?;
            return Ok(out);
        }
        VillageSet::Only(v) => v,
    };
    if villages.len() <= VILLAGES_PER_RANGE_SCAN {
        let mut st = conn.prepare_cached(&sql.replace("{V}", &format!("{village_col} = ?1")))?;
        for v in villages {
            run(&mut st, v)?;
        }
    } else {
        let list = serde_json::to_string(villages).unwrap_or_default();
        let mut st = conn.prepare_cached(&sql.replace(
            "{V}",
            &format!("+{village_col} IN (SELECT value FROM json_each(?1))"),
        ))?;
        run(&mut st, &list)?;
    }
    Ok(out)
}

#[async_trait]
impl ConsoleStore for SqliteDatabase {
    async fn person(&self, login: &str) -> Result<Option<PersonRecord>, StoreError> {
        let login = login.to_string();
        self.read(move |conn| {
            let found = conn
                .prepare_cached(&format!("{PERSON_SQL} WHERE a.login=?"))?
                .query_row([&login], person_row)
                .optional()?;
            person_of(found)
        })
        .await
    }

    async fn person_by_id(&self, account_id: i64) -> Result<Option<PersonRecord>, StoreError> {
        self.read(move |conn| {
            let found = conn
                .prepare_cached(&format!("{PERSON_SQL} WHERE a.id=?"))?
                .query_row([account_id], person_row)
                .optional()?;
            person_of(found)
        })
        .await
    }

    async fn set_login_code(
        &self,
        account_id: i64,
        code_hash: String,
        expires_ms: i64,
    ) -> Result<(), StoreError> {
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO people (account_id, login_code_hash, login_code_expires_ms, failed_logins, locked_until_ms) VALUES (?1,?2,?3,0,NULL)
                 ON CONFLICT (account_id) DO UPDATE SET login_code_hash=?2, login_code_expires_ms=?3, failed_logins=0, locked_until_ms=NULL",
                params![account_id, code_hash, expires_ms],
            )?;
            Ok(())
        })
        .await
    }

    async fn set_password(&self, account_id: i64, password_hash: String) -> Result<(), StoreError> {
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO people (account_id, password_hash) VALUES (?1,?2)
                 ON CONFLICT (account_id) DO UPDATE SET password_hash=?2, login_code_hash=NULL, login_code_expires_ms=NULL, failed_logins=0, locked_until_ms=NULL",
                params![account_id, password_hash],
            )?;
            Ok(())
        })
        .await
    }

    async fn login_failed(
        &self,
        account_id: i64,
        now_ms: i64,
        lock_after: i64,
        lock_ms: i64,
    ) -> Result<i64, StoreError> {
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO people (account_id, failed_logins) VALUES (?1, 0) ON CONFLICT (account_id) DO NOTHING",
                [account_id],
            )?;
            Ok(conn.query_row(
                "UPDATE people SET failed_logins=failed_logins+1,
                    locked_until_ms=CASE WHEN failed_logins+1 >= ?2 THEN ?3 ELSE locked_until_ms END
                 WHERE account_id=?1 RETURNING failed_logins",
                params![account_id, lock_after, now_ms + lock_ms],
                |r| r.get(0),
            )?)
        })
        .await
    }

    async fn login_succeeded(&self, account_id: i64) -> Result<(), StoreError> {
        self.write(move |conn| {
            conn.execute(
                "UPDATE people SET failed_logins=0, locked_until_ms=NULL WHERE account_id=?",
                [account_id],
            )?;
            Ok(())
        })
        .await
    }

    async fn add_session(&self, session: SessionRecord) -> Result<(), StoreError> {
        self.write(move |conn| {
            conn.execute("DELETE FROM sessions WHERE expires_ms < ?", [session.created_ms])?;
            conn.execute(
                "INSERT INTO sessions (token_hash, account_id, csrf, created_ms, expires_ms) VALUES (?,?,?,?,?)",
                params![
                    session.token_hash.as_slice(),
                    session.account_id,
                    session.csrf,
                    session.created_ms,
                    session.expires_ms
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn session(
        &self,
        token_hash: [u8; 32],
        now_ms: i64,
    ) -> Result<Option<SessionRecord>, StoreError> {
        self.read(move |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT account_id, csrf, created_ms, expires_ms FROM sessions WHERE token_hash=? AND expires_ms > ?",
                )?
                .query_row(params![token_hash.as_slice(), now_ms], |r| {
                    Ok(SessionRecord {
                        token_hash,
                        account_id: r.get(0)?,
                        csrf: r.get(1)?,
                        created_ms: r.get(2)?,
                        expires_ms: r.get(3)?,
                    })
                })
                .optional()?)
        })
        .await
    }

    async fn end_session(&self, token_hash: [u8; 32]) -> Result<(), StoreError> {
        self.write(move |conn| {
            conn.execute(
                "DELETE FROM sessions WHERE token_hash=?",
                [token_hash.as_slice()],
            )?;
            Ok(())
        })
        .await
    }

    async fn principal(&self, account_id: i64) -> Result<Option<Principal>, StoreError> {
        self.read(move |conn| {
            let found: Option<(String, Option<String>)> = conn
                .query_row(
                    "SELECT role, place FROM accounts WHERE id=?",
                    [account_id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let Some((role, place)) = found else {
                return Ok(None);
            };
            let role =
                Role::parse(&role).ok_or_else(|| StoreError::Corrupt("unknown role".into()))?;
            let villages = scopes_for(conn, account_id, role, place.as_deref())?;
            Ok(Some(Principal::new(account_id, role, villages)))
        })
        .await
    }

    async fn log_console(&self, entry: ConsoleLogEntry) -> Result<(), StoreError> {
        self.write(move |conn| {
            conn.prepare_cached(
                "INSERT INTO console_log (account_id, action, subject, at_ms) VALUES (?,?,?,?)",
            )?
            .execute(params![
                entry.account_id,
                entry.action,
                entry.subject,
                entry.at_ms
            ])?;
            Ok(())
        })
        .await
    }

    async fn console_log(&self, limit: i64) -> Result<Vec<ConsoleLogEntry>, StoreError> {
        self.read(move |conn| {
            let mut st = conn.prepare_cached(
                "SELECT l.account_id, COALESCE(a.login, ''), l.action, l.subject, l.at_ms FROM console_log l
                 LEFT JOIN accounts a ON a.id=l.account_id ORDER BY l.id DESC LIMIT ?",
            )?;
            let rows = st.query_map([limit], |r| {
                Ok(ConsoleLogEntry {
                    account_id: r.get(0)?,
                    login: r.get(1)?,
                    action: r.get(2)?,
                    subject: r.get(3)?,
                    at_ms: r.get(4)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn place_names(&self, codes: &[String]) -> Result<BTreeMap<String, String>, StoreError> {
        let codes = scopes_json(codes);
        self.read(move |conn| {
            let mut st = conn.prepare_cached(
                "SELECT code, name FROM places WHERE code IN (SELECT value FROM json_each(?1))",
            )?;
            let rows = st.query_map([&codes], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .await
    }

    async fn places(&self) -> Result<Vec<PlaceRow>, StoreError> {
        self.read(|conn| {
            let mut st =
                conn.prepare_cached("SELECT code, kind, name, parent FROM places ORDER BY code")?;
            let rows = st.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (code, kind, name, parent) = row?;
                let kind = crate::roster::PlaceKind::parse(&kind)
                    .ok_or_else(|| StoreError::Corrupt("unknown place kind".into()))?;
                out.push(PlaceRow {
                    code,
                    kind,
                    name,
                    parent,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn places_around(&self, code: &str) -> Result<(Vec<PlaceRow>, usize), StoreError> {
        let code = code.to_string();
        self.read(move |conn| {
            // The top of the tree is all of it: one plain read instead of the walk.
            let root = conn
                .prepare_cached("SELECT parent IS NULL FROM places WHERE code = ?1")?
                .query_row([&code], |r| r.get::<_, bool>(0))
                .optional()?
                .unwrap_or(false);
            let mut st = conn.prepare_cached(if root {
                "SELECT code, kind, name, parent FROM places WHERE ?1 IS NOT NULL ORDER BY code"
            } else {
                PLACES_AROUND_SQL
            })?;
            let rows = st.query_map([&code], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (code, kind, name, parent) = row?;
                let kind = crate::roster::PlaceKind::parse(&kind)
                    .ok_or_else(|| StoreError::Corrupt("unknown place kind".into()))?;
                out.push(PlaceRow {
                    code,
                    kind,
                    name,
                    parent,
                });
            }
            let villages: i64 = conn
                .prepare_cached("SELECT count(*) FROM places WHERE kind = 'village'")?
                .query_row([], |r| r.get(0))?;
            Ok((out, villages as usize))
        })
        .await
    }

    async fn accounts(&self) -> Result<Vec<AccountRow>, StoreError> {
        self.read(|conn| {
            let mut villages: BTreeMap<i64, Vec<String>> = BTreeMap::new();
            let mut st = conn.prepare_cached(
                "SELECT account_id, village FROM account_villages ORDER BY account_id, village",
            )?;
            for r in st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))? {
                let (a, v) = r?;
                villages.entry(a).or_default().push(v);
            }
            let mut st = conn.prepare_cached(
                "SELECT id, login, name, role, place FROM accounts ORDER BY login",
            )?;
            let rows = st.query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Option<String>>(4)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (id, login, name, role, place) = row?;
                let role =
                    Role::parse(&role).ok_or_else(|| StoreError::Corrupt("unknown role".into()))?;
                out.push(AccountRow {
                    id,
                    login,
                    name,
                    role,
                    place,
                    villages: villages.remove(&id).unwrap_or_default(),
                });
            }
            Ok(out)
        })
        .await
    }

    async fn directors_in(&self, villages: VillageSet<'_>) -> Result<Vec<AccountRow>, StoreError> {
        let list = match villages {
            VillageSet::All => None,
            VillageSet::Only(v) => Some(v.to_vec()),
        };
        self.read(move |conn| {
            let villages = list.as_deref().map_or(VillageSet::All, VillageSet::Only);
            let pairs: Vec<(i64, String, String, Option<String>, String)> = for_villages(
                conn,
                "SELECT a.id, a.login, a.name, a.place, av2.village FROM account_villages av
                 JOIN accounts a ON a.id=av.account_id AND a.role='director'
                 JOIN account_villages av2 ON av2.account_id=a.id WHERE {V}",
                "av.village",
                &[],
                villages,
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )?;
            let mut by_id: BTreeMap<i64, AccountRow> = BTreeMap::new();
            for (id, login, name, place, village) in pairs {
                let a = by_id.entry(id).or_insert_with(|| AccountRow {
                    id,
                    login,
                    name,
                    role: Role::Director,
                    place,
                    villages: Vec::new(),
                });
                if !a.villages.contains(&village) {
                    a.villages.push(village);
                }
            }
            let mut out: Vec<AccountRow> = by_id.into_values().collect();
            for a in &mut out {
                a.villages.sort();
            }
            out.sort_by(|a, b| a.login.cmp(&b.login));
            Ok(out)
        })
        .await
    }

    async fn rejection_counts(&self) -> Result<BTreeMap<Uuid, i64>, StoreError> {
        self.read(|conn| {
            let mut st = conn
                .prepare_cached("SELECT device_id, count(*) FROM rejections GROUP BY device_id")?;
            let rows = st.query_map([], |r| Ok((uuid_of(r.get(0)?)?, r.get::<_, i64>(1)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn director_devices(
        &self,
        villages: VillageSet<'_>,
    ) -> Result<Vec<DeviceInfo>, StoreError> {
        let list = match villages {
            VillageSet::All => None,
            VillageSet::Only(v) => Some(v.to_vec()),
        };
        self.read(move |conn| {
            let villages = list.as_deref().map_or(VillageSet::All, VillageSet::Only);
            let found = for_villages(
                conn,
                "SELECT d.device_id, a.login, d.name, d.app_version, d.enrolled_ms, d.revoked_ms, d.last_seen_ms, d.max_device_seq, d.heartbeat
                 FROM devices d JOIN accounts a ON a.id = d.account_id
                 WHERE a.role = 'director' AND d.account_id IN (SELECT account_id FROM account_villages WHERE {V})",
                "village",
                &[],
                villages,
                |r| {
                    Ok(DeviceInfo {
                        device_id: uuid_of(r.get(0)?)?,
                        account_login: r.get(1)?,
                        name: r.get(2)?,
                        app_version: r.get(3)?,
                        enrolled_ms: r.get(4)?,
                        revoked_ms: r.get(5)?,
                        last_seen_ms: r.get(6)?,
                        max_device_seq: r.get(7)?,
                        heartbeat: r
                            .get_ref(8)?
                            .as_str_or_null()?
                            .and_then(|h| serde_json::from_str(h).ok()),
                    })
                },
            )?;
            // A director of several of the villages is found once per village.
            let mut seen = std::collections::HashSet::new();
            let mut out: Vec<DeviceInfo> = found.into_iter().filter(|d| seen.insert(d.device_id)).collect();
            out.sort_by(|a, b| (&a.account_login, a.enrolled_ms).cmp(&(&b.account_login, b.enrolled_ms)));
            Ok(out)
        })
        .await
    }

    async fn console_cursor(&self) -> Result<u64, StoreError> {
        self.read(|conn| {
            Ok(
                conn.query_row("SELECT seq FROM console_cursor WHERE id=1", [], |r| {
                    r.get::<_, i64>(0)
                })? as u64,
            )
        })
        .await
    }

    async fn console_touched(&self, after_seq: u64, limit: i64) -> Result<Touched, StoreError> {
        self.read(move |conn| {
            let tx = conn.unchecked_transaction()?;
            let last: Option<i64> = tx.query_row(
                "SELECT max(server_seq) FROM (SELECT server_seq FROM feed WHERE server_seq > ? ORDER BY server_seq LIMIT ?)",
                params![after_seq as i64, limit],
                |r| r.get(0),
            )?;
            let Some(last) = last else {
                return Ok(Touched { child_ids: Vec::new(), last_seq: after_seq, more: false });
            };
            let mut st = tx.prepare_cached(
                "SELECT DISTINCT CASE WHEN c.table_name='child' THEN c.row_id ELSE r.child_id END
                 FROM feed f JOIN changes c ON c.op_id=f.op_id
                 LEFT JOIN rows r ON r.table_name=c.table_name AND r.row_id=c.row_id
                 WHERE f.server_seq > ? AND f.server_seq <= ?",
            )?;
            let mut ids = Vec::new();
            for r in st.query_map(params![after_seq as i64, last], |r| r.get::<_, Option<Vec<u8>>>(0))? {
                if let Some(b) = r? {
                    ids.push(uuid_of(b)?);
                }
            }
            let more = tx
                .prepare_cached("SELECT 1 FROM feed WHERE server_seq > ? LIMIT 1")?
                .exists([last])?;
            drop(st);
            tx.commit()?;
            Ok(Touched { child_ids: ids, last_seq: last as u64, more })
        })
        .await
    }

    async fn child_records(&self, child_ids: &[Uuid]) -> Result<Vec<RecordRow>, StoreError> {
        let ids = child_ids.to_vec();
        self.read(move |conn| {
            let tx = conn.unchecked_transaction()?;
            let mut out: Vec<RecordRow> = Vec::new();
            {
                const SELECT: &str =
                    "SELECT r.table_name, r.row_id, r.scope, r.child_id, f.field, f.value
                     FROM rows r JOIN fields f ON f.table_name=r.table_name AND f.row_id=r.row_id";
                let mut own = tx.prepare_cached(&format!(
                    "{SELECT} WHERE r.table_name='child' AND r.row_id=?1"
                ))?;
                let mut following = tx.prepare_cached(&format!(
                    "{SELECT} WHERE r.child_id=?1 ORDER BY r.table_name, r.row_id"
                ))?;
                for id in &ids {
                    for st in [&mut own, &mut following] {
                        let mut rows = st.query([id.as_bytes().as_slice()])?;
                        while let Some(r) = rows.next()? {
                            let table: String = r.get(0)?;
                            let row_id = uuid_of(r.get(1)?)?;
                            let field: String = r.get(4)?;
                            let value = json_of(&r.get::<_, String>(5)?)?;
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
                                        scope: r.get(2)?,
                                        child_id: r
                                            .get::<_, Option<Vec<u8>>>(3)?
                                            .map(uuid_of)
                                            .transpose()?,
                                        fields,
                                    });
                                }
                            }
                        }
                    }
                }
            }
            tx.commit()?;
            Ok(out)
        })
        .await
    }

    async fn console_apply(
        &self,
        from_seq: u64,
        to_seq: u64,
        update: ProjectionUpdate,
    ) -> Result<bool, StoreError> {
        self.write(move |conn| {
            let now: i64 = conn.query_row("SELECT seq FROM console_cursor WHERE id=1", [], |r| r.get(0))?;
            if now as u64 != from_seq {
                return Ok(false);
            }
            for id in &update.child_ids {
                let b = id.as_bytes().as_slice();
                conn.prepare_cached("DELETE FROM console_children WHERE child_id=?")?.execute([b])?;
                conn.prepare_cached("DELETE FROM console_visits WHERE child_id=?")?.execute([b])?;
                conn.prepare_cached("DELETE FROM console_referrals WHERE child_id=?")?.execute([b])?;
            }
            let mut st = conn.prepare_cached(
                "INSERT INTO console_children (child_id, village, name, risk_colour, categories, active, added_on, last_visit_on, next_due_on, agreement_until, due_on, left_behind) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            )?;
            for c in &update.children {
                st.execute(params![
                    c.child_id.as_bytes().as_slice(),
                    c.village,
                    c.name,
                    c.risk_colour,
                    serde_json::to_string(&c.categories).unwrap_or_default(),
                    c.active,
                    c.added_on,
                    c.last_visit_on,
                    c.next_due_on,
                    c.agreement_until,
                    c.due_on,
                    c.left_behind
                ])?;
            }
            let mut st = conn.prepare_cached(
                "INSERT INTO console_visits (visit_id, child_id, village, visited_on) VALUES (?,?,?,?)",
            )?;
            for v in &update.visits {
                st.execute(params![v.visit_id.as_bytes().as_slice(), v.child_id.as_bytes().as_slice(), v.village, v.visited_on])?;
            }
            let mut st = conn.prepare_cached(
                "INSERT INTO console_referrals (referral_id, child_id, village, report, feedback_due_on, open) VALUES (?,?,?,?,?,?)",
            )?;
            for r in &update.referrals {
                st.execute(params![r.referral_id.as_bytes().as_slice(), r.child_id.as_bytes().as_slice(), r.village, r.report, r.feedback_due_on, r.open])?;
            }
            conn.execute("UPDATE console_cursor SET seq=? WHERE id=1", [to_seq as i64])?;
            Ok(true)
        })
        .await
    }

    async fn console_children(&self, villages: &[String]) -> Result<Vec<ChildFacts>, StoreError> {
        let villages = villages.to_vec();
        self.read(move |conn| {
            for_villages(
                conn,
                "SELECT child_id, village, name, risk_colour, categories, active, added_on, last_visit_on, next_due_on, agreement_until, due_on, left_behind
                 FROM console_children WHERE {V}",
                "village",
                &[],
                VillageSet::Only(&villages),
                |r| {
                    let c = ChildFacts {
                        child_id: uuid_of(r.get(0)?)?,
                        village: r.get(1)?,
                        name: r.get(2)?,
                        risk_colour: r.get(3)?,
                        categories: serde_json::from_str(&r.get::<_, String>(4)?).unwrap_or_default(),
                        active: r.get(5)?,
                        added_on: r.get(6)?,
                        last_visit_on: r.get(7)?,
                        next_due_on: r.get(8)?,
                        agreement_until: r.get(9)?,
                        due_on: r.get(10)?,
                        left_behind: r.get(11)?,
                    };
                    Ok(c)
                },
            )
        })
        .await
    }

    async fn console_visits_per_day(
        &self,
        villages: VillageSet<'_>,
        since: &str,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let list = match villages {
            VillageSet::All => None,
            VillageSet::Only(v) => Some(v.to_vec()),
        };
        let since = since.to_string();
        self.read(move |conn| {
            let villages = list.as_deref().map_or(VillageSet::All, VillageSet::Only);
            let rows: Vec<(String, i64)> = for_villages(
                conn,
                "SELECT visited_on, count(*) FROM console_visits WHERE {V} AND visited_on >= ?2 GROUP BY visited_on",
                "village",
                &[&since],
                villages,
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            // One village at a time gives a day once per village: add them up.
            let mut days: BTreeMap<String, i64> = BTreeMap::new();
            for (day, n) in rows {
                *days.entry(day).or_default() += n;
            }
            Ok(days.into_iter().collect())
        })
        .await
    }

    async fn console_village_counts(
        &self,
        villages: VillageSet<'_>,
        today: &str,
        expiring_by: &str,
    ) -> Result<Vec<VillageCounts>, StoreError> {
        let list = match villages {
            VillageSet::All => None,
            VillageSet::Only(v) => Some(v.to_vec()),
        };
        let (today, expiring_by) = (today.to_string(), expiring_by.to_string());
        self.read(move |conn| {
            let villages = list.as_deref().map_or(VillageSet::All, VillageSet::Only);
            let mut counts: BTreeMap<String, VillageCounts> = BTreeMap::new();
            for c in for_villages(
                conn,
                CHILD_COUNTS_SQL,
                "village",
                &[&today, &expiring_by],
                villages,
                |r| {
                    Ok(VillageCounts {
                        village: r.get(0)?,
                        children: r.get(1)?,
                        red: r.get(2)?,
                        yellow: r.get(3)?,
                        blue: r.get(4)?,
                        overdue: r.get(5)?,
                        agreements_missing: r.get(6)?,
                        agreements_expiring: r.get(7)?,
                        ..Default::default()
                    })
                },
            )? {
                counts.insert(c.village.clone(), c);
            }
            let late: Vec<(String, i64, i64)> = for_villages(
                conn,
                LATE_REFERRALS_SQL,
                "r.village",
                &[&today],
                villages,
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?;
            for (village, reports, referrals) in late {
                if let Some(c) = counts.get_mut(&village) {
                    c.reports_late = reports;
                    c.referrals_late = referrals;
                }
            }
            Ok(counts.into_values().collect())
        })
        .await
    }

    async fn console_overdue_of(
        &self,
        child_ids: &[Uuid],
        today: &str,
    ) -> Result<Vec<(Uuid, String)>, StoreError> {
        let ids = child_ids.to_vec();
        let today = today.to_string();
        self.read(move |conn| {
            // One statement for all of them: the ids as a JSON list of hex strings.
            let list = serde_json::to_string(
                &ids.iter()
                    .map(|u| u.simple().to_string())
                    .collect::<Vec<_>>(),
            )
            .unwrap_or_default();
            let mut st = conn.prepare_cached(
                "SELECT c.child_id, c.village FROM json_each(?1) j
                 JOIN console_children c ON c.child_id = unhex(j.value)
                 WHERE c.active AND c.due_on < ?2",
            )?;
            let rows = st.query_map(params![list, today], |r| {
                Ok((uuid_of(r.get(0)?)?, r.get::<_, String>(1)?))
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn console_open_referrals(
        &self,
        villages: &[String],
    ) -> Result<Vec<ReferralFact>, StoreError> {
        let villages = villages.to_vec();
        self.read(move |conn| {
            for_villages(
                conn,
                "SELECT referral_id, child_id, village, report, feedback_due_on, open FROM console_referrals WHERE open AND {V}",
                "village",
                &[],
                VillageSet::Only(&villages),
                |r| {
                    let f = ReferralFact {
                        referral_id: uuid_of(r.get(0)?)?,
                        child_id: uuid_of(r.get(1)?)?,
                        village: r.get(2)?,
                        report: r.get(3)?,
                        feedback_due_on: r.get(4)?,
                        open: r.get(5)?,
                    };
                    Ok(f)
                },
            )
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_migration_is_recorded_in_its_own_transaction() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_ms INTEGER NOT NULL);
             CREATE TRIGGER refuse_2 BEFORE INSERT ON schema_migrations WHEN NEW.version = 2
             BEGIN SELECT RAISE(ABORT, 'recording failed'); END;",
        )
        .unwrap();
        let migrations: &[(i64, &str)] = &[
            (1, "CREATE TABLE one (x INTEGER)"),
            (
                2,
                "CREATE TABLE two (x INTEGER); INSERT INTO two VALUES (1)",
            ),
        ];
        assert!(migrate_with(&conn, migrations).is_err());
        let exists = |t: &str| -> bool {
            conn.prepare("SELECT 1 FROM sqlite_master WHERE name=?")
                .unwrap()
                .exists([t])
                .unwrap()
        };
        assert!(exists("one"), "migration 1 applied and recorded");
        assert!(
            !exists("two"),
            "migration 2 failed to be recorded, so it is not applied either"
        );
        // Recording works again: migration 2 is applied once, and a rerun is a no-op.
        conn.execute_batch("DROP TRIGGER refuse_2").unwrap();
        migrate_with(&conn, migrations).unwrap();
        migrate_with(&conn, migrations).unwrap();
        let n: i64 = conn
            .query_row("SELECT count(*) FROM two", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
    }
}
