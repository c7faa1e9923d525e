//! Store benchmarks, each beside its baseline measured in the same run:
//! - a local write with change capture vs the same row inserted into plain SQLite;
//! - applying pulled changes vs plain `INSERT OR REPLACE` of the same data, and vs the
//!   automerge crate applying the same field updates;
//! - the roster query over 5,000 children vs a plain ordered SELECT.
//!
//! `cargo bench -p field-store --bench store`

use automerge::transaction::Transactable;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use field_store::roster::RosterFilter;
use field_store::{OpenOptions, Store};
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Map, Value};
use std::time::Duration;
use sync_core::Change;

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

fn child_fields(i: usize, today: &str) -> Map<String, Value> {
    let risks = ["red", "yellow", "blue", "green"];
    obj(json!({
        "name": format!("儿童{i:05}"), "sex": if i.is_multiple_of(2) {"male"} else {"female"},
        "birth_date": "2014-05-01", "village_code": format!("v{}", i % 10),
        "categories": if i.is_multiple_of(5) { json!(["community_orphan"]) } else { json!(["left_behind"]) },
        "risk_colour": risks[i % 4], "household_registered": true, "status": "active",
        "added_on": today, "current_address": format!("幸福村{}组{}号", i % 9, i),
    }))
}

fn visit_fields(i: usize) -> Map<String, Value> {
    obj(json!({
        "visited_at": format!("2026-11-{:02}T10:00:00+08:00", 1 + i % 27), "mode": "home", "visitor": "王主任",
        "checklist": {"living": {"status": "normal"}, "guardianship": {"status": "normal"},
            "education": {"status": "normal"}, "health": {"status": "watch", "note": "感冒"},
            "safety": {"status": "normal"}, "mood": {"status": "normal"}},
        "risk_colour": "green", "emergency": false, "actions": [], "narrative": "孩子状态良好，奶奶照顾周到。",
    }))
}

fn plain_visit_table(conn: &Connection) {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS visit (id TEXT PRIMARY KEY, child_id TEXT, visited_at TEXT, mode TEXT,
            visitor TEXT, checklist TEXT, risk_colour TEXT, emergency INTEGER, actions TEXT, narrative TEXT)",
    )
    .unwrap();
}

const INSERT_PLAIN_VISIT: &str =
    "INSERT INTO visit VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";

/// The visit as one row of the plain baseline table.
fn insert_plain_visit(
    st: &mut rusqlite::Statement<'_>,
    id: &str,
    child: uuid::Uuid,
    f: &Map<String, Value>,
) -> usize {
    st.execute(params![
        id,
        child.to_string(),
        f["visited_at"].as_str(),
        f["mode"].as_str(),
        f["visitor"].as_str(),
        f["checklist"].to_string(),
        f["risk_colour"].as_str(),
        false,
        f["actions"].to_string(),
        f["narrative"].as_str()
    ])
    .unwrap()
}

fn open_plain(path: &std::path::Path, relaxed: bool) -> Connection {
    let c = Connection::open(path).unwrap();
    c.pragma_update(None, "journal_mode", "WAL").unwrap();
    c.pragma_update(None, "synchronous", if relaxed { "NORMAL" } else { "FULL" })
        .unwrap();
    c
}

fn local_write(c: &mut Criterion) {
    for relaxed in [false, true] {
        let label = if relaxed {
            "synchronous=NORMAL"
        } else {
            "synchronous=FULL"
        };
        let mut g = c.benchmark_group(format!("local_write/{label}"));
        g.measurement_time(Duration::from_secs(8));
        g.throughput(Throughput::Elements(1));
        let dir = tempfile::tempdir().unwrap();
        let opts = OpenOptions {
            relaxed_durability: relaxed,
            ..Default::default()
        };
        let mut store = Store::open(dir.path().join("device.db"), &opts).unwrap();
        let today = store.today().to_string();
        let child = store.add_child(child_fields(1, &today)).unwrap();
        let fields = visit_fields(1);
        g.bench_function("record_visit (row + clocks + outbox)", |b| {
            b.iter(|| store.record_visit(child, fields.clone(), &[]).unwrap())
        });
        let conn = open_plain(&dir.path().join("plain.db"), relaxed);
        plain_visit_table(&conn);
        g.bench_function("baseline: plain INSERT of the same visit", |b| {
            b.iter(|| {
                // `prepare` each time, as `Connection::execute` does.
                let mut st = conn.prepare(INSERT_PLAIN_VISIT).unwrap();
                insert_plain_visit(&mut st, &uuid::Uuid::now_v7().to_string(), child, &fields)
            })
        });
        // The same rows an app without change capture would write for a visit, in
        // plain SQLite: the visit row (with an index by child, for the child's file)
        // and the child's roster line, in one transaction. What is left between this
        // and ours is the cost of change capture (field clocks, outbox).
        let conn2 = open_plain(&dir.path().join("plain-same.db"), relaxed);
        plain_visit_table(&conn2);
        conn2
            .execute_batch(
                "CREATE INDEX visit_by_child ON visit (child_id, visited_at);
                 CREATE TABLE roster (child_id TEXT PRIMARY KEY, name TEXT, risk_colour TEXT,
                     last_visit_on TEXT, last_visit_id TEXT, next_due_on TEXT) WITHOUT ROWID;",
            )
            .unwrap();
        let mut conn2 = conn2;
        g.bench_function("baseline: plain SQLite, the same rows (visit + child index + roster line), one transaction", |b| {
            b.iter(|| {
                let f = &fields;
                let id = uuid::Uuid::now_v7().to_string();
                let tx = conn2.transaction().unwrap();
                insert_plain_visit(
                    &mut tx.prepare_cached(INSERT_PLAIN_VISIT).unwrap(),
                    &id,
                    child,
                    f,
                );
                tx.prepare_cached("INSERT OR REPLACE INTO roster VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
                    .unwrap()
                    .execute(params![
                        child.to_string(),
                        "儿童00001",
                        "green",
                        &f["visited_at"].as_str().unwrap()[..10],
                        id,
                        "2026-12-02"
                    ])
                    .unwrap();
                tx.commit().unwrap();
            })
        });
        g.finish();
    }
}

/// Changes as a server page would carry them: 1,000 children and 1,000 visits.
fn pulled_changes() -> Vec<Change> {
    let mut src = Store::open_in_memory().unwrap();
    let today = src.today().to_string();
    for i in 0..1000 {
        let id = src.add_child(child_fields(i, &today)).unwrap();
        src.record_visit(id, visit_fields(i), &[]).unwrap();
    }
    src.pending_changes(usize::MAX).unwrap()
}

fn apply(c: &mut Criterion) {
    let changes = pulled_changes();
    let pages: Vec<&[Change]> = changes.chunks(1000).collect();
    let mut g = c.benchmark_group("apply_pulled_changes");
    g.throughput(Throughput::Elements(changes.len() as u64));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));
    g.bench_function("field-store apply (merge, history, roster)", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().unwrap();
                let opts = OpenOptions {
                    relaxed_durability: true,
                    ..Default::default()
                };
                let s = Store::open(dir.path().join("d.db"), &opts).unwrap();
                (dir, s)
            },
            |(_dir, mut s)| {
                for (i, p) in pages.iter().enumerate() {
                    s.apply_changes(p, Some(i as u64)).unwrap();
                }
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("baseline: plain INSERT OR REPLACE per field", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().unwrap();
                let c = open_plain(&dir.path().join("p.db"), true);
                c.execute_batch(
                    "CREATE TABLE kv (tbl TEXT, row_id TEXT, field TEXT, value TEXT, PRIMARY KEY (tbl, row_id, field)) WITHOUT ROWID",
                )
                .unwrap();
                (dir, c)
            },
            |(_dir, mut c)| {
                for p in &pages {
                    let tx = c.transaction().unwrap();
                    {
                        let mut st = tx.prepare_cached("INSERT OR REPLACE INTO kv VALUES (?1, ?2, ?3, ?4)").unwrap();
                        for ch in p.iter() {
                            st.execute(params![ch.table, ch.row_id.to_string(), ch.field, ch.value.to_string()]).unwrap();
                        }
                    }
                    tx.commit().unwrap();
                }
            },
            BatchSize::PerIteration,
        )
    });
    // automerge: the same field updates made on a source document (one commit per
    // record), then applied as remote changes into a fresh document.
    let mut src = automerge::AutoCommit::new();
    let mut objs = std::collections::HashMap::new();
    let mut last_row = None;
    for ch in &changes {
        if last_row != Some(ch.row_id) {
            src.commit();
            last_row = Some(ch.row_id);
        }
        let obj = objs
            .entry(ch.row_id)
            .or_insert_with(|| {
                src.put_object(
                    automerge::ROOT,
                    ch.row_id.to_string(),
                    automerge::ObjType::Map,
                )
                .unwrap()
            })
            .clone();
        src.put(&obj, ch.field.as_str(), ch.value.to_string())
            .unwrap();
    }
    src.commit();
    let am_changes = src.get_changes(&[]);
    g.bench_function(
        "baseline: automerge apply_changes (in memory, not stored)",
        |b| {
            b.iter_batched(
                automerge::Automerge::new,
                |mut doc| doc.apply_changes(am_changes.iter().cloned()).unwrap(),
                BatchSize::PerIteration,
            )
        },
    );
    // The same, stored as an automerge app stores a document (automerge-repo's way):
    // each page of changes applied, then the incremental save since the previous heads
    // appended to SQLite in one transaction, with the same durability as ours.
    let am_pages: Vec<Vec<automerge::Change>> = am_changes
        .chunks(am_changes.len().div_ceil(pages.len()))
        .map(|c| c.to_vec())
        .collect();
    g.bench_function(
        "baseline: automerge, one document, each page applied and stored",
        |b| {
            b.iter_batched(
                || {
                    let dir = tempfile::tempdir().unwrap();
                    let c = open_plain(&dir.path().join("am.db"), true);
                    c.execute_batch(
                        "CREATE TABLE chunk (id INTEGER PRIMARY KEY, bytes BLOB NOT NULL)",
                    )
                    .unwrap();
                    (dir, c, automerge::Automerge::new())
                },
                |(_dir, mut c, mut doc)| {
                    for page in &am_pages {
                        let heads = doc.get_heads();
                        doc.apply_changes(page.iter().cloned()).unwrap();
                        let tx = c.transaction().unwrap();
                        tx.execute(
                            "INSERT INTO chunk (bytes) VALUES (?1)",
                            [doc.save_after(&heads)],
                        )
                        .unwrap();
                        tx.commit().unwrap();
                    }
                },
                BatchSize::PerIteration,
            )
        },
    );
    // One automerge document per record (a child, a visit), the granularity an app
    // would sync and load: per row, load the stored document (or start one), apply
    // its changes, save it back; one transaction per page.
    let mut per_record: Vec<(String, Vec<automerge::Change>)> = Vec::new();
    {
        let mut docs: Vec<(uuid::Uuid, automerge::AutoCommit)> = Vec::new();
        for ch in &changes {
            if docs.last().map(|(id, _)| *id) != Some(ch.row_id) {
                docs.push((ch.row_id, automerge::AutoCommit::new()));
            }
            let doc = &mut docs.last_mut().unwrap().1;
            doc.put(automerge::ROOT, ch.field.as_str(), ch.value.to_string())
                .unwrap();
        }
        for (id, mut doc) in docs {
            doc.commit();
            per_record.push((id.to_string(), doc.get_changes(&[])));
        }
    }
    let rec_pages: Vec<&[(String, Vec<automerge::Change>)]> = per_record
        .chunks(per_record.len().div_ceil(pages.len()))
        .collect();
    g.bench_function(
        "baseline: automerge, one document per record, stored",
        |b| {
            b.iter_batched(
                || {
                    let dir = tempfile::tempdir().unwrap();
                    let c = open_plain(&dir.path().join("am.db"), true);
                    c.execute_batch(
                        "CREATE TABLE doc (id TEXT PRIMARY KEY, bytes BLOB NOT NULL) WITHOUT ROWID",
                    )
                    .unwrap();
                    (dir, c)
                },
                |(_dir, mut c)| {
                    for page in &rec_pages {
                        let tx = c.transaction().unwrap();
                        for (id, chs) in page.iter() {
                            let stored: Option<Vec<u8>> = tx
                                .prepare_cached("SELECT bytes FROM doc WHERE id = ?1")
                                .unwrap()
                                .query_row([id], |r| r.get(0))
                                .optional()
                                .unwrap();
                            let mut doc = match stored {
                                Some(b) => automerge::Automerge::load(&b).unwrap(),
                                None => automerge::Automerge::new(),
                            };
                            doc.apply_changes(chs.iter().cloned()).unwrap();
                            tx.prepare_cached("INSERT OR REPLACE INTO doc VALUES (?1, ?2)")
                                .unwrap()
                                .execute(params![id, doc.save()])
                                .unwrap();
                        }
                        tx.commit().unwrap();
                    }
                },
                BatchSize::PerIteration,
            )
        },
    );
    g.finish();
}

fn roster(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let opts = OpenOptions {
        relaxed_durability: true,
        ..Default::default()
    };
    let mut store = Store::open(dir.path().join("d.db"), &opts).unwrap();
    let today = store.today();
    let conn = open_plain(&dir.path().join("plain.db"), true);
    conn.execute_batch(
        "CREATE TABLE child (id TEXT PRIMARY KEY, name TEXT, categories TEXT, risk_rank INTEGER, risk TEXT, next_due_on TEXT);
         CREATE INDEX child_due ON child (next_due_on, risk_rank);",
    )
    .unwrap();
    for i in 0..5000 {
        let added = (today - chrono::Duration::days((i % 120) as i64)).to_string();
        let id = store.add_child(child_fields(i, &added)).unwrap();
        if i % 3 == 0 {
            store.record_visit(id, visit_fields(i), &[]).unwrap();
        }
        conn.execute(
            "INSERT INTO child VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                id.to_string(),
                format!("儿童{i:05}"),
                "[\"left_behind\"]",
                (i % 4) as i64,
                "green",
                added
            ],
        )
        .unwrap();
    }
    let mut g = c.benchmark_group("roster_5000_children");
    g.bench_function("field-store roster (urgency order)", |b| {
        b.iter(|| assert_eq!(store.roster(&RosterFilter::default()).unwrap().len(), 5000))
    });
    g.bench_function("field-store roster search by pinyin initials", |b| {
        b.iter(|| {
            store
                .roster(&RosterFilter {
                    search: Some("er".into()),
                    ..Default::default()
                })
                .unwrap()
        })
    });
    g.bench_function("baseline: plain SELECT … ORDER BY", |b| {
        b.iter(|| {
            let mut st = conn
                .prepare_cached("SELECT id, name, categories, risk, next_due_on FROM child ORDER BY next_due_on < date('now') DESC, risk_rank, next_due_on, name")
                .unwrap();
            let rows: Vec<(String, String, String, String, String)> = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            assert_eq!(rows.len(), 5000);
        })
    });
    g.finish();
}

criterion_group!(benches, local_write, apply, roster);
criterion_main!(benches);
