//! `loadgen`: simulates a city's child directors syncing after a day's work.
//!
//! It starts the real `sync-server` (SQLite by default, PostgreSQL with
//! `--database-url`), imports a roster of N villages and directors, provisions one
//! device per director, gives every device its children (setup, not timed), lets each
//! director do a day's work offline — a few visits, one with a photo, edits to a
//! couple of children — and then times the morning burst: all devices syncing at once
//! through a pool of workers. Prints a progress bar and writes a JSON report: changes
//! and bytes per second, p50/p99 request latency, errors, server peak memory, and the
//! bytes on the wire per visit beside a naive whole-record sync.
//!
//! `cargo run --release -p tonghu-tests --bin loadgen -- --devices 6735`

use anyhow::{bail, Context, Result};
use clap::Parser;
use field_store::photo::{process_photo, PhotoLimits, ProcessedPhoto};
use field_store::sync::{Enrollment, SyncOptions};
use field_store::{OpenOptions, Store};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tonghu_tests::{checklist, obj, workspace_bin};

#[derive(Parser, Clone)]
#[command(about = "Tonghu load generator: N devices syncing in a morning burst")]
struct Args {
    /// Number of devices (directors), one village each.
    #[arg(long, default_value_t = 6735)]
    devices: usize,
    /// Children per village.
    #[arg(long, default_value_t = 5)]
    children: usize,
    /// Visits per device in the day's work (the first one has a photo).
    #[arg(long, default_value_t = 3)]
    visits: usize,
    /// Concurrent syncing devices.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// PostgreSQL instead of the embedded SQLite default.
    #[arg(long)]
    database_url: Option<String>,
    /// Work folder (device databases, server data). Default: a temporary folder.
    #[arg(long)]
    workdir: Option<PathBuf>,
    /// Where to write the JSON report.
    #[arg(long, default_value = "loadgen-report.json")]
    report: PathBuf,
    /// Sensor-noise amplitude of the generated photo: higher = larger JPEG (28 gives
    /// about 260 KB for photo + thumbnail, like a real 1600 px phone photo).
    #[arg(long, default_value_t = 28)]
    photo_noise: u32,
    /// Hide the progress bars.
    #[arg(long)]
    quiet: bool,
    /// Use servers already running behind this address (a load balancer in front of
    /// several processes, `scripts/bench-scale-out.sh`) instead of starting one; the
    /// roster and devices go into `--database-url` with `sync-server admin`.
    #[arg(long)]
    server_url: Option<String>,
    /// The server's `--data` folder when `--server-url` is a server on SQLite (for
    /// `sync-server admin`).
    #[arg(long, requires = "server_url")]
    server_data: Option<PathBuf>,
    /// Before the burst, write this file and wait until it is removed: a script takes
    /// its "before" figures (stored rows, CPU) there, then starts the burst by removing
    /// it (and may kill a server mid-burst).
    #[arg(long)]
    pause_before_burst: Option<PathBuf>,
    /// The same after the burst (before `--check-all`): the "after" figures.
    #[arg(long)]
    pause_after_burst: Option<PathBuf>,
    /// A device's failed sync is tried again under a short back-off (1 s up to 8 s,
    /// 10 tries), as the app's runner does: a server killed mid-burst costs retries,
    /// not errors. Failed tries are counted in the report.
    #[arg(long)]
    retry: bool,
    /// After the burst, every device syncs once more and compares its villages'
    /// checksums with the server (verify): a mismatch or anything left unsent counts
    /// as an error.
    #[arg(long)]
    check_all: bool,
}

struct Server {
    /// None: servers started by someone else (`--server-url`).
    child: Option<Child>,
    url: String,
    data: PathBuf,
    database_url: Option<String>,
}

impl Server {
    fn admin(&self, args: &[&str]) -> Result<String> {
        let mut cmd = Command::new(workspace_bin("sync-server"));
        cmd.arg("admin")
            .args(["--data", self.data.to_str().unwrap()]);
        if let Some(u) = &self.database_url {
            cmd.args(["--database-url", u]);
        }
        let out = cmd.args(args).output()?;
        if !out.status.success() {
            bail!(
                "sync-server admin {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8(out.stdout)?)
    }

    /// Resident memory of the server process (current, peak), bytes.
    fn memory(&self) -> (u64, u64) {
        let Some(pid) = self.pid() else {
            return (0, 0);
        };
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let kb = |key: &str| {
            status
                .lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
                * 1024
        };
        (kb("VmRSS:"), kb("VmHWM:"))
    }
}

impl Server {
    fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// CPU seconds (user + system) a process has used so far.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may contain spaces) start after ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn roster_csv(devices: usize) -> String {
    let mut s = String::from("kind,code,name,parent\ncity,370600,烟台市,\n");
    let counties = 13;
    let townships = 158;
    for c in 0..counties {
        s.push_str(&format!("county,c{c:02},区县{c},370600\n"));
    }
    for t in 0..townships {
        s.push_str(&format!("township,t{t:03},镇街{t},c{:02}\n", t % counties));
    }
    for v in 0..devices {
        s.push_str(&format!("village,v{v:05},村{v},t{:03}\n", v % townships));
    }
    for v in 0..devices {
        s.push_str(&format!("director,d{v:05},主任{v},v{v:05}\n"));
    }
    s
}

fn start_server(args: &Args, work: &Path) -> Result<Server> {
    let data = work.join("server");
    std::fs::create_dir_all(&data)?;
    if let Some(url) = &args.server_url {
        if args.database_url.is_none() && args.server_data.is_none() {
            bail!("--server-url needs the servers' storage: --database-url or --server-data");
        }
        return Ok(Server {
            child: None,
            url: url.trim_end_matches('/').to_string(),
            data: args.server_data.clone().unwrap_or(data),
            database_url: args.database_url.clone(),
        });
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut cmd = Command::new(workspace_bin("sync-server"));
    cmd.arg("serve").args([
        "--data",
        data.to_str().unwrap(),
        "--listen",
        &format!("127.0.0.1:{port}"),
    ]);
    if let Some(u) = &args.database_url {
        cmd.args(["--database-url", u]);
    }
    let child = cmd
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()?;
    let server = Server {
        child: Some(child),
        url: format!("http://127.0.0.1:{port}"),
        data,
        database_url: args.database_url.clone(),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let http = reqwest::blocking::Client::new();
    while http
        .get(format!("{}/healthz", server.url))
        .send()
        .map(|r| r.status().is_success())
        .ok()
        != Some(true)
    {
        if Instant::now() > deadline {
            bail!("the server did not start");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(server)
}

fn bar(quiet: bool, len: u64, msg: &'static str) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::new(len);
    b.set_style(
        ProgressStyle::with_template("{msg:12} [{bar:40}] {pos}/{len} {per_sec} eta {eta}")
            .unwrap()
            .progress_chars("=> "),
    );
    b.set_message(msg);
    b
}

/// Runs `f` for every index in 0..n on `workers` threads.
fn pool(n: usize, workers: usize, f: impl Fn(usize) + Sync) {
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..workers.max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                f(i);
            });
        }
    });
}

fn open_device(work: &Path, i: usize) -> Result<Store> {
    let opts = OpenOptions {
        relaxed_durability: true,
        ..Default::default()
    };
    Ok(Store::open(work.join(format!("devices/{i:05}.db")), &opts)?)
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn gz_len(bytes: &[u8]) -> usize {
    let mut e = flate2_like_gzip(bytes);
    e.shrink_to_fit();
    e.len()
}

/// gzip as the sync client sends bodies (fast level).
fn flate2_like_gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn main() -> Result<()> {
    let args = Args::parse();
    let tmp;
    let work = match &args.workdir {
        Some(w) => w.clone(),
        None => {
            tmp = tempfile::tempdir()?;
            tmp.path().to_path_buf()
        }
    };
    std::fs::create_dir_all(work.join("devices"))?;
    eprintln!(
        "loadgen: {} devices, work folder {}",
        args.devices,
        work.display()
    );

    // --- setup (not timed) -------------------------------------------------------
    let server = start_server(&args, &work)?;
    let csv = work.join("roster.csv");
    std::fs::write(&csv, roster_csv(args.devices))?;
    server.admin(&["import", "--file", csv.to_str().unwrap()])?;
    let devices_file = work.join("devices.jsonl");
    server.admin(&[
        "provision",
        "--roster",
        csv.to_str().unwrap(),
        "--role",
        "director",
        "--out",
        devices_file.to_str().unwrap(),
    ])?;
    let mut enrollments: Vec<(String, Enrollment)> = std::fs::read_to_string(&devices_file)?
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l)?;
            let login = v["login"].as_str().context("login")?.to_string();
            Ok((login, serde_json::from_value(v)?))
        })
        .collect::<Result<_>>()?;
    enrollments.sort_by(|a, b| a.0.cmp(&b.0));
    if enrollments.len() != args.devices {
        bail!(
            "provisioned {} devices, expected {}",
            enrollments.len(),
            args.devices
        );
    }

    let base_photo = process_photo(
        &tonghu_tests::camera_photo(2400, 1800, 7, args.photo_noise),
        &PhotoLimits::default(),
    )?;
    let errors = AtomicU64::new(0);
    let setup_started = Instant::now();
    let setup = bar(args.quiet, args.devices as u64, "setup");
    pool(args.devices, 2, |i| {
        let r = (|| -> Result<()> {
            let mut store = open_device(&work, i)?;
            store.save_enrollment(&server.url, &enrollments[i].1)?;
            let today = store.today();
            let village = &enrollments[i].1.scopes[0];
            for c in 0..args.children {
                let risk = ["red", "yellow", "blue", "green"][c % 4];
                store.add_child(obj(json!({
                    "name": format!("儿童{i}-{c}"), "sex": if c % 2 == 0 {"male"} else {"female"},
                    "birth_date": "2015-04-01", "village_code": village,
                    "categories": [if c == 0 { "community_orphan" } else { "left_behind" }],
                    "risk_colour": risk, "household_registered": true,
                    "status": "active", "added_on": (today - chrono::Duration::days(40)).to_string(),
                    "current_address": format!("{village}村{c}号"),
                })))?;
            }
            field_store::sync::sync_once(
                &mut store,
                &SyncOptions {
                    fetch_thumbnails: false,
                    ..Default::default()
                },
                &mut |_| {},
            )?;
            Ok(())
        })();
        if let Err(e) = r {
            if errors.fetch_add(1, Ordering::Relaxed) < 5 {
                eprintln!("setup device {i}: {e:#}");
            }
        }
        setup.inc(1);
    });
    setup.finish();
    let setup_seconds = setup_started.elapsed().as_secs_f64();
    let setup_errors = errors.swap(0, Ordering::Relaxed);

    // --- a day's work, offline (not timed) ----------------------------------------
    let day = bar(args.quiet, args.devices as u64, "day's work");
    let visits_made = AtomicU64::new(0);
    pool(args.devices, 2, |i| {
        let r = (|| -> Result<()> {
            let mut store = open_device(&work, i)?;
            let kids: Vec<uuid::Uuid> = store
                .roster(&Default::default())?
                .iter()
                .map(|e| e.child_id)
                .collect();
            for v in 0..args.visits {
                let photos = if v == 0 {
                    // A unique photo per device (content addressing would merge copies).
                    let mut p: ProcessedPhoto = base_photo.clone();
                    p.full.extend_from_slice(format!("device-{i}").as_bytes());
                    p.full_sha256 = field_store::photo::sha256_hex(&p.full);
                    p.thumb.extend_from_slice(format!("device-{i}").as_bytes());
                    p.thumb_sha256 = field_store::photo::sha256_hex(&p.thumb);
                    vec![p]
                } else {
                    vec![]
                };
                let at = store.now_china_rfc3339();
                store.record_visit_processed(
                    kids[v % kids.len()],
                    obj(json!({
                        "visited_at": at, "mode": "home", "visitor": format!("主任{i}"), "checklist": checklist(),
                        "risk_colour": "green", "emergency": false, "actions": [],
                        "narrative": "孩子在家，奶奶照顾，学习正常。",
                    })),
                    &photos,
                )?;
                visits_made.fetch_add(1, Ordering::Relaxed);
            }
            for k in kids.iter().take(2) {
                store.edit_record(
                    "child",
                    *k,
                    obj(json!({"current_address": format!("新地址{i}"), "notes": "电话已更新"})),
                )?;
            }
            Ok(())
        })();
        if let Err(e) = r {
            if errors.fetch_add(1, Ordering::Relaxed) < 5 {
                eprintln!("day's work device {i}: {e:#}");
            }
        }
        day.inc(1);
    });
    day.finish();

    // --- the morning burst (timed) --------------------------------------------------
    let latencies = Mutex::new(Vec::<u32>::new());
    let totals = Mutex::new((0u64, 0u64, 0u64, 0u64)); // changes pushed, pulled, bytes up, bytes down
    let peak_rss = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let (peak, stop) = (peak_rss.clone(), stop.clone());
        let pid = server.pid().unwrap_or(0);
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let status =
                    std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
                if let Some(kb) = status
                    .lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                {
                    peak.fetch_max(kb.parse::<u64>().unwrap_or(0) * 1024, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let (rss_before, _) = server.memory();
    let burst = bar(args.quiet, args.devices as u64, "burst");
    let server_cpu_before = server.pid().map_or(0.0, cpu_seconds);
    let own_cpu_before = cpu_seconds(std::process::id());
    if let Some(f) = &args.pause_before_burst {
        std::fs::write(f, b"")?;
        eprintln!("loadgen: waiting for {} to be removed", f.display());
        while f.exists() {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let started = Instant::now();
    let failed_tries = AtomicU64::new(0);
    let policy = field_store::retry::RetryPolicy {
        base: Duration::from_secs(1),
        cap: Duration::from_secs(8),
        max_attempts: 10,
    };
    pool(args.devices, args.concurrency, |i| {
        let r = (|| -> Result<()> {
            let mut store = open_device(&work, i)?;
            let rep = if args.retry {
                field_store::sync::sync_with_retry(
                    &mut store,
                    &SyncOptions::default(),
                    &policy,
                    &mut |_| {},
                    |_, _, _| {
                        failed_tries.fetch_add(1, Ordering::Relaxed);
                    },
                )?
            } else {
                field_store::sync::sync_once(&mut store, &SyncOptions::default(), &mut |_| {})?
            };
            latencies.lock().unwrap().extend_from_slice(&rep.request_ms);
            let mut t = totals.lock().unwrap();
            t.0 += rep.pushed;
            t.1 += rep.pulled;
            t.2 += rep.wire_bytes_up;
            t.3 += rep.wire_bytes_down;
            let st = store.status()?;
            if st.outbox_changes > 0 || st.pending_blobs > 0 || st.rejected_changes > 0 {
                bail!("device {i} not fully synced: {st:?}");
            }
            Ok(())
        })();
        if let Err(e) = r {
            if errors.fetch_add(1, Ordering::Relaxed) < 5 {
                eprintln!("burst device {i}: {e:#}");
            }
        }
        burst.inc(1);
    });
    let elapsed = started.elapsed();
    let server_cpu = server.pid().map_or(0.0, cpu_seconds) - server_cpu_before;
    let own_cpu = cpu_seconds(std::process::id()) - own_cpu_before;
    burst.finish();
    stop.store(true, Ordering::Relaxed);
    sampler.join().ok();
    let (_, hwm) = server.memory();

    if let Some(f) = &args.pause_after_burst {
        std::fs::write(f, format!("{}", elapsed.as_secs_f64()))?;
        while f.exists() {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    // --- every device against the server (after the burst, not timed) -------------
    let mismatched = AtomicU64::new(0);
    if args.check_all {
        let check = bar(args.quiet, args.devices as u64, "check");
        pool(args.devices, args.concurrency.min(16), |i| {
            let r = (|| -> Result<()> {
                let mut store = open_device(&work, i)?;
                let rep = field_store::sync::sync_with_retry(
                    &mut store,
                    &SyncOptions::default(),
                    &policy,
                    &mut |_| {},
                    |_, _, _| {},
                )?;
                let st = store.status()?;
                if !rep.mismatched_scopes.is_empty() || rep.pushed > 0 || st.outbox_changes > 0 {
                    mismatched.fetch_add(1, Ordering::Relaxed);
                    bail!(
                        "device {i} differs from the server: villages {:?}, {} changes sent late",
                        rep.mismatched_scopes,
                        rep.pushed
                    );
                }
                Ok(())
            })();
            if let Err(e) = r {
                if errors.fetch_add(1, Ordering::Relaxed) < 5 {
                    eprintln!("check device {i}: {e:#}");
                }
            }
            check.inc(1);
        });
        check.finish();
    }

    // --- bytes on the wire per visit, beside a naive whole-record sync ------------
    let (per_visit, naive_file, naive_row) = {
        let mut store = open_device(&work, 0)?;
        let kid = store.roster(&Default::default())?[0].child_id;
        let before = store.pending_changes(usize::MAX)?.len();
        let n = 20;
        for _ in 0..n {
            let at = store.now_china_rfc3339();
            store.record_visit(kid, obj(json!({
                "visited_at": at, "mode": "home", "visitor": "主任0", "checklist": checklist(),
                "risk_colour": "green", "emergency": false, "actions": [], "narrative": "孩子在家，奶奶照顾，学习正常。",
            })), &[])?;
        }
        assert_eq!(before, 0);
        let rep = field_store::sync::sync_once(
            &mut store,
            &SyncOptions {
                push_batch: 100_000,
                ..Default::default()
            },
            &mut |_| {},
        )?;
        let per_visit = rep.push_bytes_up as f64 / n as f64;
        // Naive: send the child's whole file as JSON after every visit, gzip'd the same way.
        let file = serde_json::to_vec(&store.child_file(kid)?)?;
        let row = serde_json::to_vec(&store.child_file(kid)?.visits[0])?;
        (per_visit, gz_len(&file) as f64, gz_len(&row) as f64)
    };

    let mut lat = latencies.into_inner().unwrap();
    lat.sort_unstable();
    let (pushed, pulled, up, down) = *totals.lock().unwrap();
    let secs = elapsed.as_secs_f64();
    let report = json!({
        "devices": args.devices,
        "backend": if args.database_url.is_some() { "postgres" } else { "sqlite" },
        "concurrency": args.concurrency,
        "visits_per_device": args.visits,
        "visits_made": visits_made.load(Ordering::Relaxed),
        "burst_seconds": secs,
        "changes_pushed": pushed,
        "changes_pulled": pulled,
        "changes_per_second": (pushed + pulled) as f64 / secs,
        "bytes_up": up, "bytes_down": down,
        "bytes_per_second": (up + down) as f64 / secs,
        "requests": lat.len(),
        "latency_ms_p50": percentile(&lat, 0.50),
        "latency_ms_p99": percentile(&lat, 0.99),
        "latency_ms_max": lat.last().copied().unwrap_or(0),
        "errors": errors.load(Ordering::Relaxed),
        "failed_tries_retried": failed_tries.load(Ordering::Relaxed),
        "checked_against_server": args.check_all,
        "devices_differing_from_server": mismatched.load(Ordering::Relaxed),
        "setup_seconds_first_sync_no_photos": setup_seconds,
        "server_cpu_seconds_burst": server_cpu,
        "loadgen_cpu_seconds_burst": own_cpu,
        "photo_bytes": base_photo.full.len() + base_photo.thumb.len(),
        "setup_errors": setup_errors,
        "server_rss_before_burst_mb": rss_before as f64 / 1048576.0,
        "server_peak_rss_burst_mb": peak_rss.load(Ordering::Relaxed) as f64 / 1048576.0,
        "server_peak_rss_lifetime_mb": hwm as f64 / 1048576.0,
        "push_bytes_per_visit": per_visit,
        "naive_whole_file_json_gz_bytes_per_visit": naive_file,
        "naive_visit_row_json_gz_bytes": naive_row,
    });
    let text = serde_json::to_string_pretty(&report)?;
    std::fs::File::create(&args.report)?.write_all(text.as_bytes())?;
    println!("{text}");
    if errors.load(Ordering::Relaxed) > 0 || setup_errors > 0 {
        bail!("there were errors");
    }
    Ok(())
}
