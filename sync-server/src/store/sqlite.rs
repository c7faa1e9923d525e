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

use super::sql;
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
    (
        11,
        include_str!("../../migrations/sqlite/0011_quarantine_bytes.sql"),
    ),
    (
        12,
        include_str!("../../migrations/sqlite/0012_console_area_summary.sql"),
    ),
    (
        20,
        include_str!("../../migrations/sqlite/0020_discovery.sql"),
    ),
    (
        30,
        include_str!("../../migrations/sqlite/0030_console_doorstep.sql"),
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
    pub(super) async fn write<T: Send + 'static>(
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
    pub(super) async fn read<T: Send + 'static>(
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

/// What an account reads, loaded ([`AccountReach`]; the rule is [`Role::reads`]).
fn principal_of(
    conn: &Connection,
    account_id: i64,
    role: &str,
    place: Option<&str>,
) -> Result<Principal, StoreError> {
    let role = Role::parse(role).ok_or_else(|| StoreError::Corrupt("unknown role".into()))?;
    let assigned = conn
        .prepare_cached(sql::ASSIGNED_VILLAGES)?
        .query_map([account_id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let under_place = conn
        .prepare_cached(sql::VILLAGES_UNDER)?
        .query_map([place], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(AccountReach {
        account_id,
        role,
        assigned,
        under_place,
    }
    .principal())
}

fn device_auth(
    conn: &Connection,
    device_id: Uuid,
    account_id: i64,
    role: &str,
    place: Option<String>,
    revoked: bool,
) -> Result<DeviceAuth, StoreError> {
    Ok(DeviceAuth {
        device_id,
        revoked,
        principal: principal_of(conn, account_id, role, place.as_deref())?,
    })
}

/// The single writer's connection as ingest's transaction ([`ingest::IngestTx`]):
/// every primitive is a plain call inside the current group commit (its future is
/// ready at once; [`ingest::run_now`] drives it).
struct SqliteTx<'c> {
    conn: &'c Connection,
}

impl ingest::IngestTx for SqliteTx<'_> {
    async fn begin(
        &mut self,
        device_id: Uuid,
        keys: &ingest::Keys,
    ) -> Result<ingest::Started, StoreError> {
        // The feed's order is the single writer itself: nothing to take.
        let conn = self.conn;
        let dev = device_id.as_bytes().as_slice();
        let mut loaded = load(conn, keys)?;
        loaded.max_device_seq = conn
            .prepare_cached(sql::DEVICE_MAX_SEQ)?
            .query_row([dev], |r| r.get::<_, i64>(0))? as u64;
        loaded.held_ahead = conn
            .prepare_cached(sql::HELD_AHEAD)?
            .query_map([dev], |r| r.get::<_, i64>(0))?
            .map(|s| s.map(|s| s as u64))
            .collect::<Result<_, _>>()?;
        let mut parked = Vec::new();
        let mut st = conn.prepare_cached(sql::PARKED)?;
        for text in st.query_map([dev], |r| r.get::<_, String>(0))? {
            parked.push(
                serde_json::from_str(&text?)
                    .map_err(|e| StoreError::Corrupt(format!("parked change: {e}")))?,
            );
        }
        Ok(ingest::Started { loaded, parked })
    }

    async fn load(&mut self, keys: &ingest::Keys) -> Result<Loaded, StoreError> {
        load(self.conn, keys)
    }

    async fn rejections(
        &mut self,
        device_id: Uuid,
        op_ids: &[Uuid],
    ) -> Result<HashMap<Uuid, ingest::StoredRejection>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT device_seq, code, message FROM rejections WHERE device_id=?1 AND op_id=?2",
        )?;
        let mut out = HashMap::new();
        for op in op_ids {
            if let Some(r) = st
                .query_row(
                    params![device_id.as_bytes().as_slice(), op.as_bytes().as_slice()],
                    |r| {
                        Ok(ingest::StoredRejection {
                            device_seq: r.get::<_, i64>(0)? as u64,
                            code: r.get(1)?,
                            message: r.get(2)?,
                        })
                    },
                )
                .optional()?
            {
                out.insert(*op, r);
            }
        }
        Ok(out)
    }

    async fn write(&mut self, w: &ingest::Writes<'_>) -> Result<(), StoreError> {
        write_push(self.conn, w)
    }
}

impl ingest::QuarantineTx for SqliteTx<'_> {
    async fn held(
        &mut self,
        device_id: Uuid,
        op_ids: &[Uuid],
    ) -> Result<(u64, u64, HashSet<Uuid>), StoreError> {
        // The single writer: no other quarantine write runs until this job ends.
        let dev = device_id.as_bytes().as_slice();
        let (count, bytes): (i64, i64) = self
            .conn
            .prepare_cached(sql::QUARANTINE_HELD)?
            .query_row([dev], |r| Ok((r.get(0)?, r.get(1)?)))?;
        let mut known = HashSet::new();
        let mut st = self
            .conn
            .prepare_cached("SELECT 1 FROM quarantine WHERE device_id=?1 AND op_id=?2")?;
        for op in op_ids {
            if st.exists(params![dev, op.as_bytes().as_slice()])? {
                known.insert(*op);
            }
        }
        Ok((count as u64, bytes as u64, known))
    }

    async fn add(
        &mut self,
        device_id: Uuid,
        rows: &[ingest::QuarantinedRow],
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let mut st = self.conn.prepare_cached(sql::QUARANTINE_ADD)?;
        for r in rows {
            st.execute(params![
                device_id.as_bytes().as_slice(),
                r.op_id.as_bytes().as_slice(),
                r.device_seq as i64,
                r.change,
                now_ms,
                r.bytes as i64
            ])?;
        }
        Ok(())
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

/// Writes what ingest decided for one push ([`ingest::Writes`]).
fn write_push(conn: &Connection, w: &ingest::Writes<'_>) -> Result<(), StoreError> {
    let dev = w.device.device_id.as_bytes().as_slice();
    let now = w.now_ms;
    insert_rows(
        conn,
        sql::INSERT_CHANGES,
        "",
        11,
        w.changes.len(),
        |st, i, p| {
            let (c, value) = w.changes[i];
            st.raw_bind_parameter(p, c.op_id.as_bytes().as_slice())?;
            st.raw_bind_parameter(p + 1, dev)?;
            st.raw_bind_parameter(p + 2, c.device_seq as i64)?;
            st.raw_bind_parameter(p + 3, w.device.account_id)?;
            st.raw_bind_parameter(p + 4, c.table.as_str())?;
            st.raw_bind_parameter(p + 5, c.row_id.as_bytes().as_slice())?;
            st.raw_bind_parameter(p + 6, c.field.as_str())?;
            st.raw_bind_parameter(p + 7, value)?;
            st.raw_bind_parameter(p + 8, c.hlc.as_u64() as i64)?;
            st.raw_bind_parameter(p + 9, c.scope.as_str())?;
            st.raw_bind_parameter(p + 10, now)
        },
    )?;
    for (fields, tail) in [
        (&w.new_fields, ""),
        (&w.stored_fields, sql::UPSERT_FIELDS_TAIL),
    ] {
        insert_rows(
            conn,
            sql::INSERT_FIELDS,
            tail,
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
    }
    for (rows, tail) in [(&w.new_rows, ""), (&w.stored_rows, sql::UPSERT_ROWS_TAIL)] {
        insert_rows(conn, sql::INSERT_ROWS, tail, 6, rows.len(), |st, i, p| {
            let (k, r) = rows[i];
            st.raw_bind_parameter(p, k.0.as_str())?;
            st.raw_bind_parameter(p + 1, k.1.as_bytes().as_slice())?;
            st.raw_bind_parameter(p + 2, r.scope.as_str())?;
            st.raw_bind_parameter(p + 3, r.child_id.as_ref().map(|c| c.as_bytes().as_slice()))?;
            st.raw_bind_parameter(p + 4, r.created.map(|s| s.hlc.as_u64() as i64))?;
            st.raw_bind_parameter(
                p + 5,
                r.created
                    .as_ref()
                    .map(|s| s.device_id.as_bytes().as_slice()),
            )
        })?;
    }
    if !w.blob_refs.is_empty() {
        let mut st = conn.prepare_cached(sql::INSERT_BLOB_REF)?;
        for (sha, k) in w.blob_refs {
            st.execute(params![sha, k.0, k.1.as_bytes().as_slice()])?;
        }
    }
    if !w.rejections.is_empty() {
        let mut st = conn.prepare_cached(sql::KEEP_REJECTION)?;
        for r in &w.rejections {
            st.execute(params![
                dev,
                r.op_id.as_bytes().as_slice(),
                r.device_seq as i64,
                r.code,
                r.message,
                r.change,
                now
            ])?;
        }
    }
    write_feed(conn, w.feed)?;
    if !w.unpark.is_empty() {
        let mut st = conn.prepare_cached(sql::UNPARK_ONE)?;
        for seq in w.unpark {
            st.execute(params![dev, *seq as i64])?;
        }
    }
    if !w.park.is_empty() {
        let mut st = conn.prepare_cached(sql::PARK)?;
        for p in &w.park {
            st.execute(params![
                dev,
                p.device_seq as i64,
                p.op_id.as_bytes().as_slice(),
                p.change
            ])?;
        }
    }
    if let Some(max) = w.clear_held_ahead_to {
        conn.prepare_cached(sql::CLEAR_HELD_AHEAD)?
            .execute(params![dev, max as i64])?;
    }
    conn.prepare_cached(sql::UPDATE_DEVICE_AFTER_PUSH)?
        .execute(params![
            w.max_device_seq as i64,
            now,
            w.heartbeat,
            w.max_device_seq_before as i64,
            dev
        ])?;
    Ok(())
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
                conn.prepare_cached(sql::MOVE_ROW)?
                    .execute(params![scope, row.0, id])?;
                conn.prepare_cached(
                    "INSERT INTO feed (scope, op_id, refeed) SELECT ?1, op_id, 1 FROM fields WHERE table_name=?2 AND row_id=?3 ORDER BY field",
                )?
                .execute(params![scope, row.0, id])?;
                if row.0 == "child" {
                    conn.prepare_cached(sql::MOVE_CHILDS_ROWS)?
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

/// A device row as [`sql::DEVICES`] / [`sql::DEVICE_INFO`] select it.
fn device_info(r: &rusqlite::Row<'_>) -> rusqlite::Result<DeviceInfo> {
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
            .get::<_, Option<String>>(8)?
            .and_then(|h| serde_json::from_str(&h).ok()),
        heartbeat_seq: r.get(9)?,
        blobs_since_heartbeat: r.get(10)?,
    })
}

/// Why an enrollment's write undid itself (the device id was taken meanwhile).
const DEVICE_TAKEN: &str = "enrollment: the device id was taken meanwhile";

fn enroll_code(conn: &Connection, code_id: &str) -> Result<Option<EnrollCodeRecord>, StoreError> {
    Ok(conn
        .prepare_cached(sql::ENROLL_CODE)?
        .query_row([code_id], |r| {
            let used_by = match r.get::<_, Option<Vec<u8>>>(5)? {
                Some(b) => Some(uuid_of(b)?),
                None => None,
            };
            Ok(EnrollCodeRecord {
                code_id: r.get(0)?,
                account_id: r.get(1)?,
                secret_hash: r.get(2)?,
                expires_ms: r.get(3)?,
                used: r.get(4)?,
                used_by,
            })
        })
        .optional()?)
}

/// The township summaries of `townships` that are up to date for `today`.
fn area_counts(
    conn: &Connection,
    townships: &[String],
    today: &str,
) -> Result<Vec<AreaCounts>, StoreError> {
    let mut st = conn.prepare_cached(sql::AREA_COUNTS)?;
    let mut out = Vec::new();
    for t in townships {
        let row = st
            .query_row(params![t, today], |r| {
                Ok(AreaCounts {
                    township: r.get(0)?,
                    children: r.get(1)?,
                    red: r.get(2)?,
                    yellow: r.get(3)?,
                    blue: r.get(4)?,
                    overdue: r.get(5)?,
                    agreements_missing: r.get(6)?,
                    agreements_expiring: r.get(7)?,
                    referrals_late: r.get(8)?,
                    reports_late: r.get(9)?,
                })
            })
            .optional()?;
        out.extend(row);
    }
    Ok(out)
}

fn scopes_json(scopes: &[String]) -> String {
    serde_json::to_string(scopes).unwrap_or_else(|_| "[]".into())
}

#[async_trait]
impl AccountStore for SqliteDatabase {
    async fn import_roster(&self, roster: &Roster) -> Result<ImportSummary, StoreError> {
        let roster = roster.clone();
        self.write(move |conn| {
            let mut place = conn.prepare_cached(sql::IMPORT_PLACE)?;
            for p in &roster.places {
                if let (crate::roster::PlaceKind::Village, Some(parent)) = (p.kind, &p.parent) {
                    // A village moving township: both townships' summaries are made
                    // again at their next view.
                    conn.prepare_cached(sql::FORGET_MOVED_AREA_COUNTS)?
                        .execute(params![p.code, parent])?;
                    conn.prepare_cached(sql::FORGET_MOVED_AREA_VISITS)?
                        .execute(params![p.code, parent])?;
                }
                place.execute(params![p.code, p.kind.as_str(), p.name, p.parent])?;
            }
            let mut acc = conn.prepare_cached(sql::IMPORT_ACCOUNT)?;
            for a in &roster.accounts {
                let place = if a.role == Role::Director {
                    None
                } else {
                    a.places.first().cloned()
                };
                let id: i64 = acc
                    .query_row(params![a.login, a.name, a.role.as_str(), place], |r| {
                        r.get(0)
                    })?;
                conn.prepare_cached(sql::CLEAR_ACCOUNT_VILLAGES)?
                    .execute([id])?;
                if a.role == Role::Director {
                    for v in &a.places {
                        conn.prepare_cached(sql::ASSIGN_VILLAGE)?
                            .execute(params![id, v])?;
                    }
                }
            }
            Ok(ImportSummary {
                places: roster.places.len(),
                accounts: roster.accounts.len(),
            })
        })
        .await
    }

    async fn account_by_login(&self, login: &str) -> Result<Option<Account>, StoreError> {
        let login = login.to_string();
        self.read(move |conn| {
            let r = conn
                .prepare_cached(sql::ACCOUNT_BY_LOGIN)?
                .query_row([&login], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                })
                .optional()?;
            Ok(r.and_then(|(id, login, role)| {
                Role::parse(&role).map(|role| Account { id, login, role })
            }))
        })
        .await
    }

    async fn add_enroll_code(&self, code: EnrollCodeRecord, now_ms: i64) -> Result<(), StoreError> {
        self.write(move |conn| {
            conn.prepare_cached(sql::ADD_ENROLL_CODE)?.execute(params![
                code.code_id,
                code.account_id,
                code.secret_hash,
                now_ms,
                code.expires_ms
            ])?;
            Ok(())
        })
        .await
    }

    async fn enroll_code(&self, code_id: &str) -> Result<Option<EnrollCodeRecord>, StoreError> {
        let code_id = code_id.to_string();
        self.read(move |conn| enroll_code(conn, &code_id)).await
    }

    async fn enrollment_state(
        &self,
        code_id: &str,
        device_id: Uuid,
    ) -> Result<EnrollmentState, StoreError> {
        let code_id = code_id.to_string();
        self.read(move |conn| {
            let tx = conn.unchecked_transaction()?;
            let code = enroll_code(&tx, &code_id)?;
            let device = tx
                .prepare_cached(sql::ENROLLED_DEVICE)?
                .query_row([device_id.as_bytes().as_slice()], |r| {
                    let hash: Vec<u8> = r.get(3)?;
                    Ok(EnrolledDevice {
                        account_id: r.get(0)?,
                        revoked: r.get(1)?,
                        token_used: r.get(2)?,
                        token_hash: hash.try_into().unwrap_or([0; 32]),
                    })
                })
                .optional()?;
            tx.commit()?;
            Ok(EnrollmentState { code, device })
        })
        .await
    }

    async fn enroll_new_device(
        &self,
        code_id: &str,
        device: NewDevice,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let code_id = code_id.to_string();
        self.write(move |conn| {
            let dev = device.device_id.as_bytes().as_slice();
            let Some(account_id) = conn
                .prepare_cached(sql::MARK_CODE_USED)?
                .query_row(params![now_ms, dev, code_id], |r| r.get::<_, i64>(0))
                .optional()?
            else {
                return Ok(false);
            };
            let added = conn.prepare_cached(sql::INSERT_DEVICE)?.execute(params![
                dev,
                account_id,
                device.name,
                device.app_version,
                device.token_hash.as_slice(),
                now_ms
            ])?;
            if added == 0 {
                // The id was taken meanwhile: the job's savepoint undoes the code's use.
                return Err(StoreError::Invalid(DEVICE_TAKEN.into()));
            }
            Ok(true)
        })
        .await
        .or_else(|e| match e {
            StoreError::Invalid(m) if m == DEVICE_TAKEN => Ok(false),
            e => Err(e),
        })
    }

    async fn replace_device_token(
        &self,
        device_id: Uuid,
        expected: [u8; 32],
        token_hash: [u8; 32],
    ) -> Result<bool, StoreError> {
        self.write(move |conn| {
            Ok(conn.prepare_cached(sql::REPLACE_TOKEN)?.execute(params![
                token_hash.as_slice(),
                device_id.as_bytes().as_slice(),
                expected.as_slice()
            ])? > 0)
        })
        .await
    }

    async fn principal(&self, account_id: i64) -> Result<Option<Principal>, StoreError> {
        self.read(move |conn| {
            let found: Option<(String, Option<String>)> = conn
                .prepare_cached(sql::ACCOUNT_ROLE)?
                .query_row([account_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            found
                .map(|(role, place)| principal_of(conn, account_id, &role, place.as_deref()))
                .transpose()
        })
        .await
    }

    async fn authenticate(
        &self,
        token_hash: [u8; 32],
        now_ms: i64,
    ) -> Result<Option<DeviceAuth>, StoreError> {
        let found = self
            .read(move |conn| {
                let found = conn
                    .prepare_cached(sql::AUTHENTICATE)?
                    .query_row([token_hash.as_slice()], |r| {
                        Ok((
                            uuid_of(r.get(0)?)?,
                            r.get::<_, i64>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, Option<String>>(3)?,
                            r.get::<_, bool>(4)?,
                            r.get::<_, bool>(5)?,
                        ))
                    })
                    .optional()?;
                match found {
                    None => Ok(None),
                    Some((d, a, role, place, revoked, first_use)) => Ok(Some((
                        device_auth(conn, d, a, &role, place, revoked)?,
                        first_use,
                    ))),
                }
            })
            .await?;
        let Some((auth, first_use)) = found else {
            return Ok(None);
        };
        if first_use {
            // Once per token: the phone holds it, so its code is spent for good.
            self.write(move |conn| {
                conn.prepare_cached(sql::MARK_TOKEN_USED)?
                    .execute(params![now_ms, token_hash.as_slice()])?;
                Ok(())
            })
            .await?;
        }
        Ok(Some(auth))
    }

    async fn device_by_id(&self, device_id: Uuid) -> Result<Option<DeviceAuth>, StoreError> {
        self.read(move |conn| {
            let found = conn
                .prepare_cached(sql::DEVICE_BY_ID)?
                .query_row([device_id.as_bytes().as_slice()], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, bool>(3)?,
                    ))
                })
                .optional()?;
            match found {
                None => Ok(None),
                Some((a, role, place, revoked)) => Ok(Some(device_auth(
                    conn, device_id, a, &role, place, revoked,
                )?)),
            }
        })
        .await
    }

    async fn devices(&self, account_login: Option<&str>) -> Result<Vec<DeviceInfo>, StoreError> {
        let login = account_login.map(str::to_string);
        self.read(move |conn| {
            let mut st = conn.prepare_cached(sql::DEVICES)?;
            let rows = st.query_map([login], device_info)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn devices_by_id(&self, ids: &[Uuid]) -> Result<Vec<DeviceInfo>, StoreError> {
        let ids: Vec<Uuid> = ids.to_vec();
        self.read(move |conn| {
            let mut st = conn.prepare_cached(sql::DEVICE_INFO)?;
            let mut out = Vec::new();
            for id in ids {
                if let Some(d) = st
                    .query_row([id.as_bytes().as_slice()], device_info)
                    .optional()?
                {
                    out.push(d);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn revoke_device(&self, device_id: Uuid, now_ms: i64) -> Result<bool, StoreError> {
        self.write(move |conn| {
            Ok(conn
                .prepare_cached(sql::REVOKE_DEVICE)?
                .execute(params![now_ms, device_id.as_bytes().as_slice()])?
                > 0)
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
            ingest::run_now(ingest::quarantine(
                &mut SqliteTx { conn },
                device_id,
                &changes,
                now_ms,
            ))
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

    async fn quarantine_counts(&self) -> Result<BTreeMap<Uuid, i64>, StoreError> {
        self.read(move |conn| {
            let mut st = conn.prepare_cached(sql::QUARANTINE_COUNTS)?;
            let rows = st.query_map([], |r| Ok((uuid_of(r.get(0)?)?, r.get::<_, i64>(1)?)))?;
            let mut out = BTreeMap::new();
            for row in rows {
                let (d, n) = row?;
                out.insert(d, n);
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

    async fn access_log(
        &self,
        villages: VillageSet<'_>,
        accounts: Option<&[i64]>,
        limit: i64,
    ) -> Result<Vec<AccessLogEntry>, StoreError> {
        let villages = match villages {
            VillageSet::All => None,
            VillageSet::Only(v) => Some(scopes_json(v)),
        };
        let accounts = accounts.map(|a| serde_json::to_string(a).unwrap_or_default());
        self.read(move |conn| {
            // Newest first through the rowid, keeping the lines of these villages and
            // accounts until `limit` are found.
            let mut st = conn.prepare_cached(
                "SELECT account_id, device_id, scope, record_count, at_ms FROM access_log
                 WHERE (?1 IS NULL OR scope IN (SELECT value FROM json_each(?1)))
                   AND (?2 IS NULL OR account_id IN (SELECT value FROM json_each(?2)))
                 ORDER BY id DESC LIMIT ?3",
            )?;
            let rows = st.query_map(params![villages, accounts, limit], |r| {
                Ok(AccessLogEntry {
                    account_id: r.get(0)?,
                    device_id: uuid_of(r.get(1)?)?,
                    scope: r.get(2)?,
                    record_count: r.get(3)?,
                    at_ms: r.get(4)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn is_empty(&self) -> Result<bool, StoreError> {
        self.read(|conn| Ok(!conn.prepare_cached(sql::ANY_PLACE)?.exists([])?))
            .await
    }

    async fn villages(&self) -> Result<Vec<String>, StoreError> {
        self.read(|conn| {
            let mut st = conn.prepare_cached(sql::VILLAGES)?;
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
        let prepared = ingest::prepare(&batch);
        self.write(move |conn| {
            ingest::run_now(ingest::run(
                &mut SqliteTx { conn },
                &device,
                &batch,
                &prepared,
            ))
        })
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
                let mut st = conn.prepare_cached(sql::LOG_PULL)?;
                for e in entries {
                    st.execute(params![
                        e.account_id,
                        e.device_id.as_bytes().as_slice(),
                        e.scope,
                        e.record_count,
                        e.at_ms
                    ])?;
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
            let mut st = conn.prepare_cached(sql::AUDIT_ROW)?;
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

    async fn child_id_numbers(&self) -> Result<Vec<StoredIdNumber>, StoreError> {
        self.read(|conn| {
            let mut st = conn.prepare_cached(sql::CHILD_ID_NUMBERS)?;
            let rows =
                st.query_map(params![domain::schema::TOMBSTONE_FIELD, "id_number"], |r| {
                    Ok(StoredIdNumber {
                        child_id: uuid_of(r.get(0)?)?,
                        village: r.get(1)?,
                        id_number: r.get(2)?,
                        tombstone: r.get(3)?,
                    })
                })?;
            Ok(rows.collect::<Result<_, _>>()?)
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
            conn.prepare_cached(sql::ADD_CHUNK)?.execute(params![
                sha,
                dev.as_bytes().as_slice(),
                offset as i64,
                total as i64,
                chunk
            ])?;
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
            let mut st = tx.prepare_cached(sql::CHUNKS)?;
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
                conn.prepare_cached(sql::ADD_BLOB)?
                    .execute(params![sha, size as i64, now_ms])?;
                // Proof of possession: this device sent every byte, verified.
                conn.execute(
                    "UPDATE blob_refs SET proven=1 WHERE sha256=?1 AND NOT proven AND EXISTS (
                         SELECT 1 FROM rows r WHERE r.table_name=blob_refs.table_name AND r.row_id=blob_refs.row_id
                         AND r.scope IN (SELECT value FROM json_each(?2)))",
                    params![sha, scopes],
                )?;
                // One file fewer waiting on the phone (the console's pending count).
                conn.prepare_cached(sql::BLOB_RECEIVED)?
                    .execute([dev.as_bytes().as_slice()])?;
            }
            conn.prepare_cached(sql::DROP_CHUNKS)?
                .execute(params![&sha, dev.as_bytes().as_slice()])?;
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
    let proven = found == Some(true) && conn.prepare_cached(sql::BLOB_SIZE)?.exists([sha])?;
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
        .prepare_cached(sql::BLOB_SIZE)?
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
        .prepare_cached(sql::UPLOAD_HELD)?
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
                .prepare_cached(sql::PERSON_BY_LOGIN)?
                .query_row([&login], person_row)
                .optional()?;
            person_of(found)
        })
        .await
    }

    async fn person_by_id(&self, account_id: i64) -> Result<Option<PersonRecord>, StoreError> {
        self.read(move |conn| {
            let found = conn
                .prepare_cached(sql::PERSON_BY_ID)?
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
            conn.prepare_cached(sql::SET_LOGIN_CODE)?
                .execute(params![account_id, code_hash, expires_ms])?;
            Ok(())
        })
        .await
    }

    async fn set_password(&self, account_id: i64, password_hash: String) -> Result<(), StoreError> {
        self.write(move |conn| {
            conn.prepare_cached(sql::SET_PASSWORD)?
                .execute(params![account_id, password_hash])?;
            Ok(())
        })
        .await
    }

    async fn count_failed_login(&self, who: LoginKey) -> Result<i64, StoreError> {
        self.write(move |conn| {
            Ok(match who {
                LoginKey::Account(id) => conn
                    .prepare_cached(sql::COUNT_FAILED_LOGIN)?
                    .query_row([id], |r| r.get(0))?,
                LoginKey::Unknown(key) => conn
                    .prepare_cached(sql::COUNT_FAILED_UNKNOWN_LOGIN)?
                    .query_row([key.as_slice()], |r| r.get(0))?,
            })
        })
        .await
    }

    async fn lock_login(&self, who: LoginKey, until_ms: i64) -> Result<(), StoreError> {
        self.write(move |conn| {
            match who {
                LoginKey::Account(id) => conn
                    .prepare_cached(sql::LOCK_LOGIN)?
                    .execute(params![until_ms, id])?,
                LoginKey::Unknown(key) => conn
                    .prepare_cached(sql::LOCK_UNKNOWN_LOGIN)?
                    .execute(params![until_ms, key.as_slice()])?,
            };
            Ok(())
        })
        .await
    }

    async fn unknown_login_locked(&self, key: [u8; 32]) -> Result<Option<i64>, StoreError> {
        self.read(move |conn| {
            Ok(conn
                .prepare_cached(sql::UNKNOWN_LOGIN_LOCKED)?
                .query_row([key.as_slice()], |r| r.get::<_, Option<i64>>(0))
                .optional()?
                .flatten())
        })
        .await
    }

    async fn console_secret(&self) -> Result<[u8; 32], StoreError> {
        let fresh: [u8; 32] = rand::random();
        self.write(move |conn| {
            conn.prepare_cached(sql::MAKE_CONSOLE_SECRET)?
                .execute([fresh.as_slice()])?;
            let key: Vec<u8> = conn
                .prepare_cached(sql::CONSOLE_SECRET)?
                .query_row([], |r| r.get(0))?;
            key.try_into()
                .map_err(|_| StoreError::Corrupt("console_secret is not 32 bytes".into()))
        })
        .await
    }

    async fn rename_account(&self, login: &str, name: &str) -> Result<bool, StoreError> {
        let (login, name) = (login.to_string(), name.to_string());
        self.write(move |conn| {
            Ok(conn
                .prepare_cached(sql::RENAME_ACCOUNT)?
                .execute(params![name, login])?
                == 1)
        })
        .await
    }

    async fn login_succeeded(&self, account_id: i64) -> Result<(), StoreError> {
        self.write(move |conn| {
            conn.prepare_cached(sql::LOGIN_SUCCEEDED)?
                .execute([account_id])?;
            Ok(())
        })
        .await
    }

    async fn add_session(&self, session: SessionRecord) -> Result<(), StoreError> {
        self.write(move |conn| {
            conn.prepare_cached(sql::DROP_EXPIRED_SESSIONS)?
                .execute([session.created_ms])?;
            conn.prepare_cached(sql::ADD_SESSION)?.execute(params![
                session.token_hash.as_slice(),
                session.account_id,
                session.csrf,
                session.created_ms,
                session.expires_ms
            ])?;
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
                .prepare_cached(sql::SESSION)?
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
            conn.prepare_cached(sql::END_SESSION)?
                .execute([token_hash.as_slice()])?;
            Ok(())
        })
        .await
    }

    async fn log_console(&self, entry: ConsoleLogEntry) -> Result<(), StoreError> {
        self.write(move |conn| {
            conn.prepare_cached(sql::LOG_CONSOLE)?.execute(params![
                entry.account_id,
                entry.action,
                entry.subject,
                entry.at_ms
            ])?;
            Ok(())
        })
        .await
    }

    async fn console_log(
        &self,
        accounts: Option<&[i64]>,
        limit: i64,
    ) -> Result<Vec<ConsoleLogEntry>, StoreError> {
        let accounts = accounts.map(|a| serde_json::to_string(a).unwrap_or_default());
        self.read(move |conn| {
            let mut st = conn.prepare_cached(
                "SELECT l.account_id, COALESCE(a.login, ''), l.action, l.subject, l.at_ms FROM console_log l
                 LEFT JOIN accounts a ON a.id=l.account_id
                 WHERE ?1 IS NULL OR l.account_id IN (SELECT value FROM json_each(?1))
                 ORDER BY l.id DESC LIMIT ?2",
            )?;
            let rows = st.query_map(params![accounts, limit], |r| {
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
            let mut st = conn.prepare_cached(sql::PLACES)?;
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
                .prepare_cached(sql::IS_ROOT)?
                .query_row([&code], |r| r.get::<_, bool>(0))
                .optional()?
                .unwrap_or(false);
            let mut st = conn.prepare_cached(if root {
                sql::PLACES_ALL_OF
            } else {
                sql::PLACES_AROUND
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
                .prepare_cached(sql::VILLAGE_COUNT)?
                .query_row([], |r| r.get(0))?;
            Ok((out, villages as usize))
        })
        .await
    }

    async fn accounts(&self) -> Result<Vec<AccountRow>, StoreError> {
        self.read(|conn| {
            let mut villages: BTreeMap<i64, Vec<String>> = BTreeMap::new();
            let mut st = conn.prepare_cached(sql::ALL_ASSIGNED_VILLAGES)?;
            for r in st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))? {
                let (a, v) = r?;
                villages.entry(a).or_default().push(v);
            }
            let mut st = conn.prepare_cached(sql::ACCOUNTS)?;
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
            let mut st = conn.prepare_cached(sql::REJECTION_COUNTS)?;
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
                "SELECT d.device_id, a.login, d.name, d.app_version, d.enrolled_ms, d.revoked_ms, d.last_seen_ms, d.max_device_seq, d.heartbeat, d.heartbeat_seq, d.blobs_since_heartbeat
                 FROM devices d JOIN accounts a ON a.id = d.account_id
                 WHERE a.role = 'director' AND d.account_id IN (SELECT account_id FROM account_villages WHERE {V})",
                "village",
                &[],
                villages,
                device_info,
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
            Ok(conn
                .prepare_cached(sql::CONSOLE_CURSOR)?
                .query_row([], |r| r.get::<_, i64>(0))? as u64)
        })
        .await
    }

    async fn console_touched(&self, after_seq: u64, limit: i64) -> Result<Touched, StoreError> {
        self.read(move |conn| {
            let tx = conn.unchecked_transaction()?;
            let last: Option<i64> = tx
                .prepare_cached(sql::FEED_WINDOW_END)?
                .query_row(params![after_seq as i64, limit], |r| r.get(0))?;
            let Some(last) = last else {
                return Ok(Touched {
                    child_ids: Vec::new(),
                    last_seq: after_seq,
                    more: false,
                });
            };
            let mut st = tx.prepare_cached(sql::TOUCHED_CHILDREN)?;
            let mut ids = Vec::new();
            for r in st.query_map(params![after_seq as i64, last], |r| {
                r.get::<_, Option<Vec<u8>>>(0)
            })? {
                if let Some(b) = r? {
                    ids.push(uuid_of(b)?);
                }
            }
            let more = tx.prepare_cached(sql::FEED_AFTER)?.exists([last])?;
            drop(st);
            tx.commit()?;
            Ok(Touched {
                child_ids: ids,
                last_seq: last as u64,
                more,
            })
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
            let now: i64 = conn.prepare_cached(sql::CONSOLE_CURSOR)?.query_row([], |r| r.get(0))?;
            if now as u64 != from_seq {
                return Ok(false);
            }
            // The township summaries: those of the children's townships before and
            // after are stale (a view recomputes them); the visits per day lose the
            // replaced visits here and gain the new ones below.
            for c in &update.children {
                conn.prepare_cached(
                    "UPDATE console_area_counts SET as_of = '' WHERE township = (SELECT parent FROM places WHERE code = ?1)",
                )?
                .execute([&c.village])?;
            }
            for id in &update.child_ids {
                let b = id.as_bytes().as_slice();
                conn.prepare_cached(
                    "UPDATE console_area_counts SET as_of = '' WHERE township IN (
                        SELECT p.parent FROM console_children c JOIN places p ON p.code = c.village WHERE c.child_id = ?1)",
                )?
                .execute([b])?;
                conn.prepare_cached(
                    "UPDATE console_area_visits AS a SET n = a.n - d.n FROM (
                        SELECT p.parent AS township, v.visited_on AS visited_on, count(*) AS n
                        FROM console_visits v JOIN places p ON p.code = v.village
                        WHERE v.child_id = ?1 GROUP BY 1, 2) AS d
                     WHERE a.township = d.township AND a.visited_on = d.visited_on",
                )?
                .execute([b])?;
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
                "INSERT INTO console_area_visits (township, visited_on, n)
                 SELECT p.parent, v.visited_on, count(*) FROM console_visits v JOIN places p ON p.code = v.village
                 WHERE v.child_id = ?1 AND p.parent IN (SELECT township FROM console_area_counts)
                 GROUP BY 1, 2
                 ON CONFLICT (township, visited_on) DO UPDATE SET n = n + excluded.n",
            )?;
            for id in &update.child_ids {
                st.execute([id.as_bytes().as_slice()])?;
            }
            let mut st = conn.prepare_cached(
                "INSERT INTO console_referrals (referral_id, child_id, village, report, feedback_due_on, open) VALUES (?,?,?,?,?,?)",
            )?;
            for r in &update.referrals {
                st.execute(params![r.referral_id.as_bytes().as_slice(), r.child_id.as_bytes().as_slice(), r.village, r.report, r.feedback_due_on, r.open])?;
            }
            conn.prepare_cached(sql::SET_CONSOLE_CURSOR)?.execute([to_seq as i64])?;
            Ok(true)
        })
        .await
    }

    async fn console_child_names(&self, ids: &[Uuid]) -> Result<Vec<(Uuid, String)>, StoreError> {
        let ids: Vec<Vec<u8>> = ids.iter().map(|u| u.as_bytes().to_vec()).collect();
        self.read(move |conn| {
            let mut st =
                conn.prepare_cached("SELECT name FROM console_children WHERE child_id=?1")?;
            let mut out = Vec::new();
            for id in ids {
                if let Some(name) = st.query_row([&id], |r| r.get::<_, String>(0)).optional()? {
                    out.push((uuid_of(id)?, name));
                }
            }
            Ok(out)
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

    async fn console_area_counts(
        &self,
        townships: &[String],
        today: &str,
    ) -> Result<Vec<AreaCounts>, StoreError> {
        let (townships, today) = (townships.to_vec(), today.to_string());
        self.read(move |conn| area_counts(conn, &townships, &today))
            .await
    }

    async fn console_refresh_areas(
        &self,
        townships: &[String],
        today: &str,
        expiring_by: &str,
    ) -> Result<Vec<AreaCounts>, StoreError> {
        let (townships, today, expiring_by) = (
            townships.to_vec(),
            today.to_string(),
            expiring_by.to_string(),
        );
        // On the writer thread: no fold runs in between.
        self.write(move |conn| {
            for t in &townships {
                let known = conn
                    .prepare_cached(sql::AREA_KNOWN)?
                    .query_row([t], |_| Ok(()))
                    .optional()?
                    .is_some();
                if !known {
                    conn.prepare_cached(sql::FORGET_AREA_VISITS)?.execute([t])?;
                    conn.prepare_cached(sql::COUNT_AREA_VISITS)?.execute([t])?;
                }
                conn.prepare_cached(sql::REFRESH_AREA_COUNTS)?
                    .execute(params![t, today, expiring_by])?;
            }
            area_counts(conn, &townships, &today)
        })
        .await
    }

    async fn console_area_visits_per_day(
        &self,
        townships: &[String],
        since: &str,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let (list, since) = (scopes_json(townships), since.to_string());
        self.read(move |conn| {
            let mut st = conn.prepare_cached(
                "SELECT visited_on, sum(n) FROM console_area_visits
                 WHERE township IN (SELECT value FROM json_each(?1)) AND visited_on >= ?2
                 GROUP BY visited_on HAVING sum(n) > 0 ORDER BY visited_on",
            )?;
            let rows = st
                .query_map(params![list, since], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
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
