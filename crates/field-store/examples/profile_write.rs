//! Records N visits for one child in a file store, for `perf`/`strace` of the write
//! path without a benchmark harness around it. Not a benchmark: see benches/store.rs.
//!
//! `cargo run --release -p field-store --example profile_write -- 20000 [normal]`
use field_store::{OpenOptions, Store};
use serde_json::{json, Map, Value};

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let relaxed = args.next().as_deref() == Some("normal");
    let dir = tempfile::tempdir().unwrap();
    let opts = OpenOptions {
        relaxed_durability: relaxed,
        ..Default::default()
    };
    let mut s = Store::open(dir.path().join("d.db"), &opts).unwrap();
    let today = s.today().to_string();
    let child = s
        .add_child(obj(json!({
            "name": "儿童00001", "sex": "male", "birth_date": "2014-05-01", "village_code": "v1",
            "categories": ["left_behind"], "risk_colour": "green", "household_registered": true,
            "status": "active", "added_on": today,
        })))
        .unwrap();
    let fields = obj(json!({
        "visited_at": "2026-11-02T10:00:00+08:00", "mode": "home", "visitor": "王主任",
        "checklist": {"living": {"status": "normal"}, "guardianship": {"status": "normal"},
            "education": {"status": "normal"}, "health": {"status": "watch", "note": "感冒"},
            "safety": {"status": "normal"}, "mood": {"status": "normal"}},
        "risk_colour": "green", "emergency": false, "actions": [], "narrative": "孩子状态良好，奶奶照顾周到。",
    }));
    let t = std::time::Instant::now();
    for _ in 0..n {
        s.record_visit(child, fields.clone(), &[]).unwrap();
    }
    let per = t.elapsed() / n as u32;
    let plain = rusqlite::Connection::open(dir.path().join("plain.db")).unwrap();
    plain.pragma_update(None, "journal_mode", "WAL").unwrap();
    plain
        .pragma_update(None, "synchronous", if relaxed { "NORMAL" } else { "FULL" })
        .unwrap();
    plain
        .execute_batch("CREATE TABLE visit (id TEXT PRIMARY KEY, child_id TEXT, doc TEXT)")
        .unwrap();
    let doc = Value::Object(fields).to_string();
    let t = std::time::Instant::now();
    for _ in 0..n {
        plain
            .execute(
                "INSERT INTO visit VALUES (?1, ?2, ?3)",
                rusqlite::params![uuid::Uuid::now_v7().to_string(), child.to_string(), doc],
            )
            .unwrap();
    }
    let base = t.elapsed() / n as u32;
    eprintln!(
        "{n} visits: {per:?} each; plain INSERT {base:?}; ratio {:.2}",
        per.as_secs_f64() / base.as_secs_f64()
    );
}
