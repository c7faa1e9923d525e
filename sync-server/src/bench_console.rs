//! `sync-server bench-console`: the console's township and city overviews on a seeded
//! city (13 counties, 158 townships, 6,735 villages with a director each, 60,000
//! children, a year of visits), each beside a baseline from the same run: the plain
//! SELECT of the same read-model rows. The records are pushed through the real ingest
//! path by server-side devices, then folded into the console's read model (timed as
//! the catch-up). Overview time is the console core's (loads, figures, access log),
//! without HTTP.

use crate::console::people::Viewer;
use crate::error::StoreError;
use crate::roster::Roster;
use crate::settings::Settings;
use crate::store::{BenchDatabase, Database, PushBatch};
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;
use sync_core::wire::Heartbeat;
use sync_core::{Change, Hlc, Scope};
use uuid::Uuid;

/// The big township: 50 villages of 40 children (the issue's 50 directors, 2,000 children).
const BIG_VILLAGES: usize = 50;
const BIG_CHILDREN_PER_VILLAGE: usize = 40;

/// The seeded city's shape.
pub struct Shape {
    pub counties: usize,
    pub townships: usize,
    pub villages: usize,
    pub children: usize,
}

impl Default for Shape {
    fn default() -> Shape {
        Shape {
            counties: 13,
            townships: 158,
            villages: 6735,
            children: 60_000,
        }
    }
}

fn roster(shape: &Shape) -> (String, Vec<(String, String, usize)>) {
    let mut csv = String::from("kind,code,name,parent\ncity,B,基准市,\n");
    for c in 0..shape.counties {
        csv.push_str(&format!("county,B{c:02},区{c},B\n"));
    }
    // Township 0 is the big one; the other villages are spread over the rest.
    let rest_villages = shape.villages - BIG_VILLAGES;
    let rest_children = shape.children - BIG_VILLAGES * BIG_CHILDREN_PER_VILLAGE;
    let mut villages = Vec::new();
    let mut v = 0;
    for t in 0..shape.townships {
        let county = t % shape.counties;
        let code = format!("B{county:02}T{t:03}");
        csv.push_str(&format!("township,{code},镇{t},B{county:02}\n"));
        let n = if t == 0 {
            BIG_VILLAGES
        } else {
            rest_villages / (shape.townships - 1)
                + usize::from(t - 1 < rest_villages % (shape.townships - 1))
        };
        for _ in 0..n {
            let vcode = format!("{code}V{v:04}");
            csv.push_str(&format!("village,{vcode},村{v},{code}\n"));
            let kids = if t == 0 {
                BIG_CHILDREN_PER_VILLAGE
            } else {
                rest_children / rest_villages
                    + usize::from((v - BIG_VILLAGES) < rest_children % rest_villages)
            };
            villages.push((vcode, code.clone(), kids));
            v += 1;
        }
        csv.push_str(&format!("supervisor,sup-{code},督导{t},{code}\n"));
    }
    for (vcode, _, _) in &villages {
        csv.push_str(&format!("director,dir-{vcode},主任,{vcode}\n"));
    }
    csv.push_str("city_admin,admin-B,市管理员,B\n");
    (csv, villages)
}

fn day(today: chrono::NaiveDate, ago: i64) -> String {
    (today - chrono::Duration::days(ago)).to_string()
}

/// A village's records: children with a year of visits (monthly for every third child,
/// quarterly for the others), one device write per row.
fn village_changes(
    device: Uuid,
    village: &str,
    kids: usize,
    seed: usize,
    today: chrono::NaiveDate,
) -> (Vec<Change>, Vec<Uuid>) {
    let mut out = Vec::new();
    let mut ids = Vec::new();
    let base = crate::model::clock::now_ms();
    let mut seq = 0u64;
    let mut stamp = 0u16;
    let mut row =
        |table: &str, id: Uuid, fields: Vec<(&str, serde_json::Value)>, out: &mut Vec<Change>| {
            stamp = stamp.wrapping_add(1);
            for (f, v) in fields {
                seq += 1;
                out.push(Change {
                    op_id: Uuid::now_v7(),
                    device_id: device,
                    device_seq: seq,
                    table: table.into(),
                    row_id: id,
                    field: f.into(),
                    value: v,
                    hlc: Hlc::new(base, stamp),
                    scope: Scope::new(village),
                });
            }
        };
    for i in 0..kids {
        let k = seed + i;
        let child = Uuid::now_v7();
        ids.push(child);
        let monthly = k % 3 == 0;
        let cats = match k % 3 {
            0 => json!(["de_facto_unsupported"]),
            1 => json!(["left_behind"]),
            _ => json!(["difficulty"]),
        };
        row(
            "child",
            child,
            vec![
                ("name", json!(format!("儿童{k}"))),
                ("sex", json!("female")),
                ("birth_date", json!("2014-05-01")),
                ("household_registered", json!(true)),
                ("village_code", json!(village)),
                ("categories", cats),
                (
                    "risk_colour",
                    json!(["green", "blue", "yellow", "red"][k % 4]),
                ),
                ("status", json!("active")),
                ("added_on", json!(day(today, 400))),
            ],
            &mut out,
        );
        let (every, n) = if monthly { (30, 12) } else { (90, 4) };
        for j in 0..n {
            // Some children are a little late: their last visit is older than their interval.
            let ago = (j * every + (k % 7) * 6 + 1) as i64;
            row(
                "visit",
                Uuid::now_v7(),
                vec![
                    ("child_id", json!(child.to_string())),
                    (
                        "visited_at",
                        json!(format!("{}T10:00:00+08:00", day(today, ago))),
                    ),
                    ("mode", json!("home")),
                    ("visitor", json!("儿童主任")),
                    (
                        "checklist",
                        json!({"living": {"status": "normal"}, "guardianship": {"status": "normal"}, "education": {"status": "normal"}, "health": {"status": "normal"}, "safety": {"status": "normal"}, "mood": {"status": "normal"}}),
                    ),
                    ("risk_colour", json!("green")),
                    ("emergency", json!(false)),
                    ("actions", json!([])),
                ],
                &mut out,
            );
        }
    }
    (out, ids)
}

/// What a phone reports with its push: every tenth village's phone holds unsent visits
/// of its first three children (so the overviews split overdue children both ways).
fn heartbeat(i: usize, children: &[Uuid]) -> Heartbeat {
    let unsent: Vec<Uuid> = if i % 10 == 0 {
        children.iter().take(3).copied().collect()
    } else {
        Vec::new()
    };
    Heartbeat {
        pending_changes: unsent.len() as u64 * 9,
        oldest_pending_secs: if unsent.is_empty() { 0 } else { 3_600 },
        pending_blobs: unsent.len() as u64,
        app_version: "0.1.0".into(),
        device_clock_ms: crate::model::clock::now_ms(),
        free_storage_bytes: 3_000_000_000,
        unsent_visit_children: unsent,
    }
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs[xs.len() / 2]
}

async fn viewer(db: &dyn Database, login: &str) -> Result<Viewer, StoreError> {
    let p = db
        .person(login)
        .await?
        .ok_or_else(|| StoreError::Invalid(format!("no {login}")))?;
    let principal = db
        .principal(p.account_id)
        .await?
        .ok_or_else(|| StoreError::Invalid("no principal".into()))?;
    Ok(Viewer {
        account_id: p.account_id,
        login: p.login,
        name: p.name,
        role: p.role,
        place: p.place,
        principal,
        csrf: String::new(),
        session_hash: [0; 32],
    })
}

/// Pushes the city's records through ingest (8 devices at a time) and folds the read
/// model: (changes, seconds seeding, seconds of read-model catch-up).
async fn seed(
    db: Arc<dyn BenchDatabase>,
    villages: Arc<Vec<(String, String, usize)>>,
) -> Result<(usize, f64, f64), StoreError> {
    let today = crate::model::clock::today();
    let t = Instant::now();
    let mut changes_total = 0usize;
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (db, villages, next) = (db.clone(), villages.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0usize;
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some((v, _, kids)) = villages.get(i) else {
                    return Ok::<_, StoreError>(n);
                };
                let dev = crate::enrollment::server_side_device(
                    db.as_ref(),
                    &format!("dir-{v}"),
                    "bench",
                    crate::model::clock::now_ms() as i64,
                )
                .await?;
                let (changes, children) = village_changes(dev.device_id, v, *kids, i * 100, today);
                n += changes.len();
                let hb = heartbeat(i, &children);
                for chunk in changes.chunks(2000) {
                    let out = db
                        .push(
                            &dev,
                            PushBatch {
                                changes: chunk.to_vec(),
                                heartbeat: hb.clone(),
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
            }
        }));
    }
    for t in tasks {
        changes_total += t.await.map_err(|e| StoreError::Invalid(e.to_string()))??;
    }
    let seed_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    crate::console::projection::refresh(db.as_ref()).await?;
    let catchup_s = t.elapsed().as_secs_f64();

    Ok((changes_total, seed_s, catchup_s))
}

/// CPU time this process has used (user + system, all threads), ms; Linux
/// `/proc/self/stat` in clock ticks of 10 ms (summed over rounds, the ticks average
/// out). PostgreSQL's own processes are not in it.
fn cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<f64> = after
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    // Fields 14 and 15 of the line (utime, stime) are the 12th and 13th after ")".
    (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) * 10.0
}

/// A console session cookie for `login` (a fresh one-time code, then a password).
async fn session(db: &dyn Database, login: &str) -> Result<String, StoreError> {
    let now = crate::model::clock::now_ms() as i64;
    let code = crate::console::people::issue_login_code(db, login, now)
        .await?
        .ok_or_else(|| StoreError::Invalid(format!("no {login}")))?;
    let pw = "bench-password-1";
    let s = crate::console::people::first_login(db, login, &code, pw, pw, now)
        .await?
        .map_err(|e| StoreError::Invalid(format!("bench login refused: {}", e.en())))?;
    Ok(format!(
        "{}={}",
        crate::handlers::console::SESSION_COOKIE,
        s.token
    ))
}

/// GET `path` through the router with `cookie`; the body, which must be a 200.
async fn get_page(
    router: &axum::Router,
    path: &str,
    cookie: &str,
) -> Result<axum::body::Bytes, StoreError> {
    use tower::ServiceExt;
    let req = axum::http::Request::get(path)
        .header(axum::http::header::COOKIE, cookie)
        .body(axum::body::Body::empty())
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    let res = router
        .clone()
        .oneshot(req)
        .await
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    if res.status() != axum::http::StatusCode::OK {
        return Err(StoreError::Invalid(format!("{path}: {}", res.status())));
    }
    axum::body::to_bytes(res.into_body(), 64 << 20)
        .await
        .map_err(|e| StoreError::Invalid(e.to_string()))
}

/// Runs the benchmark on a fresh store (or, with `reuse`, on one an earlier run seeded)
/// and returns a Markdown report.
pub async fn run(
    settings: Settings,
    shape: Shape,
    rounds: usize,
    reuse: bool,
) -> Result<String, StoreError> {
    let db: Arc<dyn BenchDatabase> =
        crate::store::open_bench(settings.database_url.as_deref(), &settings.data_dir).await?;
    let (csv, villages) = roster(&shape);
    let villages = Arc::new(villages);
    let seeded = if db.is_empty().await? {
        db.import_roster(&Roster::parse(&csv).map_err(|e| StoreError::Invalid(e.to_string()))?)
            .await?;
        Some(seed(db.clone(), villages.clone()).await?)
    } else if reuse && db.person("admin-B").await?.is_some() {
        None
    } else {
        return Err(StoreError::Invalid(
            "bench-console needs an empty store (or --reuse of one it seeded)".into(),
        ));
    };
    let big = villages[0].1.clone();
    let sup = viewer(db.as_ref(), &format!("sup-{big}")).await?;
    let city = viewer(db.as_ref(), "admin-B").await?;
    let all: Vec<String> = villages.iter().map(|v| v.0.clone()).collect();
    let mut report = String::new();
    let backend = if settings.database_url.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    match seeded {
        Some((changes, seed_s, catchup_s)) => report.push_str(&format!(
            "seeded {} villages, {} children, {changes} changes in {seed_s:.1} s; read-model catch-up {catchup_s:.1} s ({backend})\n\n",
            villages.len(),
            shape.children
        )),
        None => report.push_str(&format!(
            "reused the city an earlier run seeded ({} villages, {} children; {backend})\n\n",
            villages.len(),
            shape.children
        )),
    }
    // The HTML page as the server answers it (session, overview, template), through
    // the router in this process: what a request costs the server, without the network.
    let state = crate::server::build_state(settings.clone()).await?;
    let router = crate::router::router(state.clone());
    let sup_cookie = session(state.db.as_ref(), &sup.login).await?;
    let city_cookie = session(state.db.as_ref(), &city.login).await?;
    report.push_str(&format!(
        "| view | rows | overview, console core (median of {rounds}) | HTML page, served (median) | plain SELECT of the same rows | core / SELECT | page / SELECT | sync-server CPU per core / page / SELECT (mean) | goal (page) |\n|---|---|---|---|---|---|---|---|---|\n"
    ));
    for (name, viewer, cookie, vs, goal) in [
        (
            "township (50 directors, 2,000 children)",
            &sup,
            &sup_cookie,
            &all[..BIG_VILLAGES],
            50.0,
        ),
        (
            "city (6,735 directors, 60,000 children)",
            &city,
            &city_cookie,
            &all[..],
            300.0,
        ),
    ] {
        let (mut ov, mut page, mut base) = (Vec::new(), Vec::new(), Vec::new());
        let mut rows = 0;
        let (mut cpu_ov, mut cpu_page, mut cpu_base) = (0.0, 0.0, 0.0);
        for _ in 0..rounds {
            let (t, c) = (Instant::now(), cpu_ms());
            let o = crate::console::overview(db.as_ref(), viewer, None)
                .await
                .map_err(|e| StoreError::Invalid(e.to_string()))?;
            ov.push(t.elapsed().as_secs_f64() * 1000.0);
            cpu_ov += cpu_ms() - c;
            std::hint::black_box(&o);
            let (t, c) = (Instant::now(), cpu_ms());
            let bytes = get_page(&router, "/console/overview", cookie).await?;
            page.push(t.elapsed().as_secs_f64() * 1000.0);
            cpu_page += cpu_ms() - c;
            std::hint::black_box(bytes);
            let (t, c) = (Instant::now(), cpu_ms());
            rows = db.bench_console_rows(vs).await?;
            base.push(t.elapsed().as_secs_f64() * 1000.0);
            cpu_base += cpu_ms() - c;
        }
        let (o, p, b) = (median(ov), median(page), median(base));
        let n = rounds as f64;
        report.push_str(&format!(
            "| {name} | {rows} | {o:.1} ms | {p:.1} ms | {b:.1} ms | {:.1}× | {:.1}× | {:.0} / {:.0} / {:.0} ms | ≤ {goal:.0} ms {} |\n",
            o / b,
            p / b,
            cpu_ov / n,
            cpu_page / n,
            cpu_base / n,
            if p <= goal { "✅" } else { "❌" }
        ));
    }
    Ok(report)
}
