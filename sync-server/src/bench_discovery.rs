//! `sync-server bench-discovery`: a city-sized list (200,000 rows by default, XLSX or
//! CSV) previewed and committed against a seeded city (13 counties, 158 townships,
//! 6,735 villages; 20,000 children on file with a guardian each), beside the baseline
//! of parsing the same file alone, in the same run. Preview = read + match + the id
//! lookups; commit = the new findings written as tasks by the server's replica through
//! the real ingest path. Peak memory is the process's resident high-water mark of each
//! phase (`VmHWM`, reset before the phase through `/proc/self/clear_refs`).

use crate::discovery::{acting_admin, list_file, Discovery, Read};
use crate::error::StoreError;
use crate::roster::Roster;
use crate::settings::Settings;
use crate::store::{Database, PushBatch};
use serde_json::json;
use std::time::Instant;
use sync_core::{Change, Hlc, Scope};
use uuid::Uuid;

/// The list's file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
}

const COUNTIES: usize = 13;
const TOWNSHIPS: usize = 158;
const VILLAGES: usize = 6735;
/// Villages with children on file, and children per village.
const SEEDED_VILLAGES: usize = 500;
const CHILDREN_PER_VILLAGE: usize = 40;

/// A valid ID number (the check digit computed) for a birth date and a serial.
fn id_number(birth: &str, serial: u64) -> String {
    let first17 = format!("3706{:02}{birth}{:03}", serial % 100, (serial / 100) % 1000);
    let c = domain::id_number::check_digit(&first17).unwrap_or('0');
    format!("{first17}{c}")
}

fn birth(year: u32, serial: u64) -> String {
    format!("{year}{:02}{:02}", serial % 12 + 1, (serial / 12) % 28 + 1)
}

fn village_code(v: usize) -> String {
    format!(
        "D{:02}T{:03}V{v:04}",
        (v % TOWNSHIPS) % COUNTIES,
        v % TOWNSHIPS
    )
}

fn roster() -> String {
    let mut csv = String::from("kind,code,name,parent\ncity,D,基准市,\n");
    for c in 0..COUNTIES {
        csv.push_str(&format!("county,D{c:02},区{c},D\n"));
    }
    for t in 0..TOWNSHIPS {
        csv.push_str(&format!(
            "township,D{:02}T{t:03},镇{t},D{:02}\n",
            t % COUNTIES,
            t % COUNTIES
        ));
    }
    for v in 0..VILLAGES {
        let code = village_code(v);
        csv.push_str(&format!("village,{code},第{v}村,{}\n", &code[..7]));
    }
    for v in 0..SEEDED_VILLAGES {
        let code = village_code(v);
        csv.push_str(&format!("director,dir-{code},主任,{code}\n"));
    }
    csv.push_str("city_admin,admin-D,市管理员,D\n");
    csv
}

/// The roster's children (and their mothers) of village `v`, one device write per row.
fn village_changes(device: Uuid, v: usize) -> Vec<Change> {
    let village = village_code(v);
    let mut out = Vec::new();
    let mut seq = 0u64;
    let base = crate::model::clock::now_ms();
    let mut stamp = 0u16;
    let mut row =
        |table: &str, id: Uuid, fields: Vec<(&str, serde_json::Value)>, out: &mut Vec<Change>| {
            stamp = stamp.wrapping_add(1);
            for (f, value) in fields {
                seq += 1;
                out.push(Change {
                    op_id: Uuid::now_v7(),
                    device_id: device,
                    device_seq: seq,
                    table: table.into(),
                    row_id: id,
                    field: f.into(),
                    value,
                    hlc: Hlc::new(base, stamp),
                    scope: Scope::new(village.clone()),
                });
            }
        };
    for i in 0..CHILDREN_PER_VILLAGE {
        let k = (v * CHILDREN_PER_VILLAGE + i) as u64;
        let child = Uuid::now_v7();
        row(
            "child",
            child,
            vec![
                ("name", json!(format!("儿童{k}"))),
                ("sex", json!("female")),
                ("birth_date", json!("2014-05-01")),
                ("id_number", json!(id_number(&birth(2014, k), k))),
                ("household_registered", json!(true)),
                ("village_code", json!(village)),
                ("categories", json!(["difficulty"])),
                ("risk_colour", json!("green")),
                ("status", json!("active")),
                ("added_on", json!("2025-01-02")),
            ],
            &mut out,
        );
        row(
            "guardian",
            Uuid::now_v7(),
            vec![
                ("child_id", json!(child.to_string())),
                ("role", json!("mother")),
                ("name", json!(format!("母亲{k}"))),
                ("id_number", json!(id_number(&birth(1985, k), k))),
            ],
            &mut out,
        );
    }
    out
}

/// The list's rows: 20 % minors (one in ten of them a child on file), 80 % adults
/// (one in fifty a mother on file), households of three, one line in 200 with a
/// mistyped ID number; villages by name across the city.
fn list_rows(rows: usize) -> Vec<[String; 6]> {
    let on_file = (SEEDED_VILLAGES * CHILDREN_PER_VILLAGE) as u64;
    (0..rows as u64)
        .map(|i| {
            let village = format!("第{}村", (i * 7919) % VILLAGES as u64);
            let id = if i % 5 == 0 {
                if i % 50 == 0 {
                    let k = (i / 50) % on_file;
                    id_number(&birth(2014, k), k)
                } else {
                    id_number(&birth(2012, 100_000 + i), 100_000 + i)
                }
            } else if i % 250 == 1 {
                let k = (i / 250 + on_file / 2) % on_file;
                id_number(&birth(1985, k), k)
            } else {
                id_number(&birth(1970, 200_000 + i), 200_000 + i)
            };
            let id = if i % 200 == 3 {
                // A mistyped last digit.
                let mut s = id;
                let last = s.pop().unwrap_or('0');
                s.push(if last == '1' { '2' } else { '1' });
                s
            } else {
                id
            };
            [
                format!("姓名{i}"),
                id,
                village,
                format!("户{}", i / 3),
                if i % 3 == 0 {
                    "户主".into()
                } else {
                    "子女".into()
                },
                ["一级", "二级", "三级", "四级"][(i % 4) as usize].into(),
            ]
        })
        .collect()
}

const HEADER: [&str; 6] = [
    "姓名",
    "身份证号码",
    "所在村",
    "户编号",
    "与户主关系",
    "残疾等级",
];

fn csv_bytes(rows: &[[String; 6]]) -> Vec<u8> {
    let mut out = String::from("\u{feff}2026年5月名单\r\n");
    out.push_str(&HEADER.join(","));
    out.push_str("\r\n");
    for r in rows {
        out.push_str(&r.join(","));
        out.push_str("\r\n");
    }
    out.into_bytes()
}

fn xlsx_bytes(rows: &[[String; 6]]) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_string(0, 0, "2026年5月名单")?;
    for (c, h) in HEADER.iter().enumerate() {
        sheet.write_string(1, c as u16, *h)?;
    }
    for (i, r) in rows.iter().enumerate() {
        for (c, v) in r.iter().enumerate() {
            sheet.write_string(i as u32 + 2, c as u16, v)?;
        }
    }
    book.save_to_buffer()
}

/// The resident high-water mark since the last reset, MB (Linux).
fn peak_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Runs the benchmark on the fresh storage of `settings`; returns the report.
/// A phone's pull page (field-store's `SyncOptions::pull_page` default).
const PHONE_PULL_PAGE: u32 = 1000;

/// The village with a director (the seeded ones) with the most findings in `prepared`.
fn busiest_village(prepared: &crate::discovery::Prepared) -> String {
    let directed: std::collections::HashSet<String> =
        (0..SEEDED_VILLAGES).map(village_code).collect();
    let mut count: std::collections::HashMap<&str, usize> = Default::default();
    for f in &prepared.report.findings {
        if let Some(v) = f.village.as_ref().filter(|v| directed.contains(*v)) {
            *count.entry(v.as_str()).or_default() += 1;
        }
    }
    count
        .into_iter()
        .max_by_key(|(v, n)| (*n, std::cmp::Reverse(*v)))
        .map(|(v, _)| v.to_string())
        .unwrap_or_default()
}

pub async fn run(settings: Settings, rows: usize, format: Format) -> Result<String, StoreError> {
    let db: std::sync::Arc<dyn Database> =
        crate::store::open(settings.database_url.as_deref(), &settings.data_dir).await?;
    if !db.is_empty().await? {
        return Err(StoreError::Invalid(
            "bench-discovery needs an empty store".into(),
        ));
    }
    let roster = Roster::parse(&roster()).map_err(|e| StoreError::Invalid(e.zh))?;
    db.import_roster(&roster).await?;
    let t = Instant::now();
    for v in 0..SEEDED_VILLAGES {
        let dev = crate::enrollment::server_side_device(
            db.as_ref(),
            &format!("dir-{}", village_code(v)),
            "bench",
            0,
        )
        .await?;
        let out = db
            .push(
                &dev,
                PushBatch {
                    changes: village_changes(dev.device_id, v),
                    heartbeat: Default::default(),
                    now_ms: crate::model::clock::now_ms(),
                    max_ahead_ms: 600_000,
                },
            )
            .await?;
        if !out.rejected.is_empty() {
            return Err(StoreError::Invalid(format!(
                "seed refused: {:?}",
                out.rejected[0]
            )));
        }
    }
    let seed_s = t.elapsed().as_secs_f64();

    let list = list_rows(rows);
    let (name, bytes) = match format {
        Format::Csv => ("list.csv", csv_bytes(&list)),
        Format::Xlsx => (
            "list.xlsx",
            xlsx_bytes(&list).map_err(|e| StoreError::Invalid(e.to_string()))?,
        ),
    };
    drop(list);
    let file_mb = bytes.len() as f64 / 1e6;

    // Baseline: parsing the same file alone.
    reset_peak();
    let t = Instant::now();
    let sheet = list_file::read_sheet(name, &bytes).map_err(|p| StoreError::Invalid(p.en))?;
    let guess = list_file::guess_header(&sheet);
    let read = list_file::read_rows(&sheet, guess.header_index, &guess.map, "2026-05");
    let parse_s = t.elapsed().as_secs_f64();
    let parse_mb = peak_mb();
    let parsed = read.rows.len();
    drop((sheet, read));

    let admin = acting_admin(db.as_ref(), "admin-D")
        .await?
        .ok_or_else(|| StoreError::Invalid("no admin".into()))?;
    let discovery = Discovery::new(settings.max_ahead_ms);
    reset_peak();
    let t = Instant::now();
    let (read, _) = discovery
        .read(db.as_ref(), &admin, name, &bytes, "dibao_rural", "2026-05")
        .await
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    let preview_s = t.elapsed().as_secs_f64();
    let preview_mb = peak_mb();
    let Read::Ready(prepared) = read else {
        return Err(StoreError::Invalid("the header was not recognised".into()));
    };
    let f = prepared.figures();
    // A village phone that synced before the import: where its next pull starts.
    let busiest = busiest_village(&prepared);
    let phone = crate::enrollment::server_side_device(
        db.as_ref(),
        &format!("dir-{busiest}"),
        "bench phone",
        0,
    )
    .await?;
    let mut cursor = 0;
    loop {
        let page = db
            .pull(
                &phone,
                cursor,
                PHONE_PULL_PAGE,
                true,
                crate::model::clock::now_ms() as i64,
            )
            .await?;
        cursor = page.next_cursor;
        if !page.has_more {
            break;
        }
    }
    reset_peak();
    let t = Instant::now();
    let record = discovery
        .commit(
            db.as_ref(),
            &admin,
            &prepared,
            crate::model::clock::today(),
            &|_, _| {},
        )
        .await
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    let commit_s = t.elapsed().as_secs_f64();
    let commit_mb = peak_mb();
    // The import reaching that phone: pulls of a phone's page size until nothing is left.
    let (mut pulls, mut task_changes, mut tasks) = (0, 0, std::collections::HashSet::new());
    loop {
        let page = db
            .pull(
                &phone,
                cursor,
                PHONE_PULL_PAGE,
                false,
                crate::model::clock::now_ms() as i64,
            )
            .await?;
        pulls += 1;
        for c in page.changes.iter().filter(|c| c.change.table == "task") {
            task_changes += 1;
            tasks.insert(c.change.row_id);
        }
        cursor = page.next_cursor;
        if !page.has_more {
            break;
        }
    }
    let backend = if settings.database_url.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    Ok(format!(
        "seeded {} children with a guardian each in {seed_s:.1} s\n\
         file: {format:?}, {rows} rows, {file_mb:.1} MB; read {parsed} people; {} minors, {} on file, {} findings, {} tasks written, {} queued, {} invalid\n\
         the busiest village ({busiest}) received its {} tasks ({task_changes} changes) in {pulls} pull(s) of up to {PHONE_PULL_PAGE} changes\n\n\
         | backend | format | rows | parse alone (baseline) | preview | commit (tasks through ingest) | preview + commit | ÷ baseline | peak RSS parse / preview / commit |\n\
         |---|---|---|---|---|---|---|---|---|\n\
         | {backend} | {format:?} | {rows} | {parse_s:.2} s | {preview_s:.2} s | {commit_s:.2} s ({} tasks) | **{:.2} s** | {:.1}× | {parse_mb:.0} / {preview_mb:.0} / {commit_mb:.0} MB |\n",
        SEEDED_VILLAGES * CHILDREN_PER_VILLAGE,
        f.minors,
        f.on_roster,
        f.findings,
        record.new_tasks,
        record.queued,
        f.invalid_rows,
        tasks.len(),
        record.new_tasks,
        preview_s + commit_s,
        (preview_s + commit_s) / parse_s.max(1e-9),
    ))
}
