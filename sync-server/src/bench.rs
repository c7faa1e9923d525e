//! `sync-server bench-ingest`: push-ingest throughput (changes/s through the same
//! store path a push takes: load, validate, merge, feed, device state, one
//! transaction per push) beside the plain-INSERT rate of the same changes into a table
//! with the change log's columns, in the same run and backend; then pull throughput
//! (a supervisor paging through everything, access log included). HTTP and JSON are
//! not included: this measures the storage layer.

use crate::error::StoreError;
use crate::roster::Roster;
use crate::settings::Settings;
use crate::store::{BenchDatabase, Database, DeviceAuth, PushBatch};
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;
use sync_core::{Change, Hlc, Scope};
use uuid::Uuid;

fn changes_for(device: &DeviceAuth, village: &str, n: usize, now: u64) -> Vec<Change> {
    let mut out = Vec::with_capacity(n);
    let mut row = Uuid::now_v7();
    let fields = [
        ("name", json!("测试儿童")),
        ("sex", json!("female")),
        ("birth_date", json!("2015-04-01")),
        ("household_registered", json!(true)),
        ("village_code", json!(village)),
        ("categories", json!(["left_behind"])),
        ("risk_colour", json!("blue")),
        ("status", json!("active")),
        ("added_on", json!("2025-01-02")),
    ];
    for i in 0..n {
        if i % fields.len() == 0 {
            row = Uuid::now_v7();
        }
        let (f, v) = &fields[i % fields.len()];
        out.push(Change {
            op_id: Uuid::now_v7(),
            device_id: device.device_id,
            device_seq: i as u64 + 1,
            table: "child".into(),
            row_id: row,
            field: (*f).into(),
            value: v.clone(),
            hlc: Hlc::new(now, (i % 60000) as u16).successor(),
            scope: Scope::new(village),
        });
    }
    out
}

/// Runs the benchmark on a fresh store and returns a Markdown report.
pub async fn run(
    settings: Settings,
    total: usize,
    batch: usize,
    devices: usize,
) -> Result<String, StoreError> {
    let db: Arc<dyn BenchDatabase> =
        crate::store::open_bench(settings.database_url.as_deref(), &settings.data_dir).await?;
    if !db.is_empty().await? {
        return Err(StoreError::Invalid(
            "bench-ingest needs an empty store (fresh --data folder or database)".into(),
        ));
    }
    let mut csv = String::from(
        "kind,code,name,parent\ncity,B,bench,\ncounty,B1,bench,B\ntownship,B11,bench,B1\n",
    );
    for d in 0..devices {
        csv.push_str(&format!("village,V{d},v,B11\ndirector,dir{d},d,V{d}\n"));
    }
    csv.push_str("supervisor,sup,s,B11\n");
    db.import_roster(&Roster::parse(&csv).map_err(|e| StoreError::Invalid(e.to_string()))?)
        .await?;
    let mut auths = Vec::new();
    for d in 0..devices {
        auths.push(enroll(db.as_ref(), &format!("dir{d}")).await?);
    }
    let now = crate::model::clock::now_ms();
    let per = total / devices;
    let work: Vec<(DeviceAuth, Vec<Change>)> = auths
        .iter()
        .enumerate()
        .map(|(d, a)| (a.clone(), changes_for(a, &format!("V{d}"), per, now)))
        .collect();
    let n = per * devices;

    // Plain INSERT baseline, same data, same concurrency and batch size.
    let t = Instant::now();
    let mut tasks = Vec::new();
    for (_, changes) in &work {
        let db = db.clone();
        let changes = changes.clone();
        tasks.push(tokio::spawn(async move {
            for chunk in changes.chunks(batch) {
                db.bench_plain_insert(chunk).await?;
            }
            Ok::<_, StoreError>(())
        }));
    }
    for t in tasks {
        t.await.map_err(|e| StoreError::Invalid(e.to_string()))??;
    }
    let plain = n as f64 / t.elapsed().as_secs_f64();

    let t = Instant::now();
    let mut tasks = Vec::new();
    for (auth, changes) in work {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            for chunk in changes.chunks(batch) {
                let out = db
                    .push(
                        &auth,
                        PushBatch {
                            changes: chunk.to_vec(),
                            heartbeat: Default::default(),
                            now_ms: crate::model::clock::now_ms(),
                            max_ahead_ms: 600_000,
                        },
                    )
                    .await?;
                if !out.rejected.is_empty() {
                    return Err(StoreError::Invalid(format!(
                        "bench change rejected: {:?}",
                        out.rejected[0]
                    )));
                }
            }
            Ok::<_, StoreError>(())
        }));
    }
    for t in tasks {
        t.await.map_err(|e| StoreError::Invalid(e.to_string()))??;
    }
    let ingest = n as f64 / t.elapsed().as_secs_f64();

    let sup = enroll(db.as_ref(), "sup").await?;
    let t = Instant::now();
    let mut cursor = 0;
    let mut pulled = 0;
    loop {
        let page = db.pull(&sup, cursor, 1000, false, now as i64).await?;
        pulled += page.changes.len();
        cursor = page.next_cursor;
        if !page.has_more {
            break;
        }
    }
    let pull = pulled as f64 / t.elapsed().as_secs_f64();
    let backend = if settings.database_url.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    Ok(format!(
        "| backend | changes | batch | concurrent devices | push ingest (changes/s) | plain INSERT (rows/s) | ingest / plain | pull (changes/s, pages of 1000) |\n|---|---|---|---|---|---|---|---|\n| {backend} | {n} | {batch} | {devices} | {ingest:.0} | {plain:.0} | {:.2} | {pull:.0} (pulled {pulled}) |",
        ingest / plain
    ))
}

async fn enroll(db: &dyn Database, login: &str) -> Result<DeviceAuth, StoreError> {
    Ok(crate::enrollment::server_side_device(
        db,
        login,
        "bench",
        crate::model::clock::now_ms() as i64,
    )
    .await?)
}
