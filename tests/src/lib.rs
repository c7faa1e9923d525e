//! Test harness for Tonghu's end-to-end tests: the real `sync-server` binary on a
//! random loopback port (SQLite in a temp folder, or a fresh PostgreSQL database),
//! devices that are real field-store stores enrolled through the real API, a small
//! demo city, a fault-injecting TCP proxy, and the phone of the previous release built
//! from git ([`previous_release`]).

pub mod county;
pub mod phone;
pub mod previous_release;
pub mod proxy;

use field_store::sync::{SyncError, SyncOptions, SyncReport};
use field_store::{OpenOptions, Store};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// A binary of this workspace, built by `cargo build`/`nextest` next to the tests.
pub fn workspace_bin(name: &str) -> PathBuf {
    let mut dir = std::env::current_exe().expect("test executable path");
    dir.pop();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let p = dir.join(name);
    assert!(
        p.exists(),
        "{} is not built; run the tests with `cargo nextest run --workspace` (or build it first)",
        p.display()
    );
    p
}

/// Which storage the server runs on.
#[derive(Clone, Debug)]
pub enum Backend {
    Sqlite,
    /// The admin URL of a PostgreSQL server; each test gets its own database.
    Postgres(String),
}

impl Backend {
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }
}

/// SQLite and PostgreSQL (`TONGHU_TEST_DATABASE_URL`). Without PostgreSQL the test
/// fails, on CI or not: it never passes having run on one backend only.
pub fn backends() -> Vec<Backend> {
    let mut v = vec![Backend::Sqlite];
    match std::env::var("TONGHU_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => v.push(Backend::Postgres(url)),
        // A test that runs on both never passes on one: without PostgreSQL it fails
        // (`cargo nextest run --profile no-services` leaves these tests out, counted
        // as skipped).
        _ => panic!(
            "PostgreSQL is missing (TONGHU_TEST_DATABASE_URL is unset): eval \"$(scripts/postgres.sh)\" first. Tests that need it fail without it, never pass: `cargo nextest run --profile no-services` leaves them out and counts them as skipped."
        ),
    }
    v
}

/// Creates a fresh database on the PostgreSQL server and returns its URL.
pub fn fresh_postgres_database(admin_url: &str) -> String {
    let name = format!("tonghu_e2e_{}", Uuid::now_v7().simple());
    let out = Command::new("psql")
        .args([
            admin_url,
            "-v",
            "ON_ERROR_STOP=1",
            "-qc",
            &format!("CREATE DATABASE {name}"),
        ])
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "create database: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    match admin_url.rsplit_once('/') {
        Some((base, _db)) => format!("{base}/{name}"),
        None => panic!("bad admin url"),
    }
}

/// The small city every test uses: county c1; township t1 with villages v1, v2;
/// township t2 with village v3. Directors d1 (v1), d1b (v1, a second director of the
/// same village), d2 (v2), d3 (v3); supervisor s1 (t1); county admin a1.
pub const CITY_CSV: &str = "kind,code,name,parent
city,c0,测试市,
county,c1,测试区,c0
township,t1,东镇,c1
township,t2,西镇,c1
village,v1,一村,t1
village,v2,二村,t1
village,v3,三村,t2
director,d1,王主任,v1
director,d1b,赵主任,v1
director,d2,李主任,v2
director,d3,张主任,v3
supervisor,s1,刘督导,t1
county_admin,a1,陈科长,c1
";

/// A running sync server (killed when dropped).
pub struct TestServer {
    child: Option<Child>,
    pub url: String,
    pub addr: std::net::SocketAddr,
    pub data: PathBuf,
    pub database_url: Option<String>,
    _tmp: Option<tempfile::TempDir>,
    extra_env: Vec<(String, String)>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl TestServer {
    /// A fresh server with the test city imported.
    pub fn start(backend: &Backend) -> TestServer {
        Self::start_with(backend, &[])
    }

    /// Same, with extra environment for the server (e.g. `TONGHU_MAX_AHEAD_MS`).
    pub fn start_with(backend: &Backend, env: &[(&str, &str)]) -> TestServer {
        let tmp = tempfile::tempdir().unwrap();
        let database_url = match backend {
            Backend::Sqlite => None,
            Backend::Postgres(admin) => Some(fresh_postgres_database(admin)),
        };
        let mut s = TestServer {
            child: None,
            url: String::new(),
            addr: "127.0.0.1:0".parse().unwrap(),
            data: tmp.path().to_path_buf(),
            database_url,
            _tmp: Some(tmp),
            extra_env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        let csv = s.data.join("city.csv");
        std::fs::write(&csv, CITY_CSV).unwrap();
        s.admin(&["import", "--file", csv.to_str().unwrap()]);
        s.spawn();
        s
    }

    /// A second server process over the same storage (PostgreSQL: several stateless
    /// processes; SQLite: only after this one stopped).
    pub fn another_process(&self) -> TestServer {
        let mut s = TestServer {
            child: None,
            url: String::new(),
            addr: self.addr,
            data: self.data.clone(),
            database_url: self.database_url.clone(),
            _tmp: None,
            extra_env: self.extra_env.clone(),
        };
        s.spawn();
        s
    }

    fn storage_args(&self) -> Vec<String> {
        let mut a = vec![
            "--data".to_string(),
            self.data.to_str().unwrap().to_string(),
        ];
        if let Some(u) = &self.database_url {
            a.push("--database-url".into());
            a.push(u.clone());
        }
        a
    }

    fn spawn(&mut self) {
        self.spawn_on(free_port());
    }

    fn spawn_on(&mut self, port: u16) {
        let mut cmd = Command::new(workspace_bin("sync-server"));
        cmd.arg("serve")
            .args(self.storage_args())
            .args(["--listen", &format!("127.0.0.1:{port}")]);
        for (k, v) in &self.extra_env {
            cmd.env(k, v);
        }
        cmd.env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        self.child = Some(cmd.spawn().expect("start sync-server"));
        self.addr = format!("127.0.0.1:{port}").parse().unwrap();
        self.url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = reqwest::blocking::Client::new();
        loop {
            if let Ok(r) = client.get(format!("{}/healthz", self.url)).send() {
                if r.status().is_success() {
                    return;
                }
            }
            if let Some(st) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("sync-server exited at start: {st}");
            }
            assert!(
                Instant::now() < deadline,
                "sync-server did not become healthy"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILLs the server process.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the server again on the same storage (a new port).
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Starts a killed server again on the same storage and the same address (the
    /// network coming back for a phone that knows the server's address).
    pub fn resume(&mut self) {
        self.kill();
        self.spawn_on(self.addr.port());
    }

    /// Runs `sync-server admin …` on this server's storage; returns stdout.
    pub fn admin(&self, args: &[&str]) -> String {
        let out = Command::new(workspace_bin("sync-server"))
            .arg("admin")
            .args(self.storage_args())
            .args(args)
            .output()
            .expect("run sync-server admin");
        assert!(
            out.status.success(),
            "sync-server admin {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// A one-time enrollment code for an account.
    pub fn enroll_code(&self, account: &str) -> String {
        let out = self.admin(&["enroll-code", "--account", account]);
        out.split_whitespace().last().expect("a code").to_string()
    }

    /// A new device enrolled for `account`.
    pub fn device(&self, account: &str) -> Device {
        Device::enrolled(self, account, 0)
    }

    /// A new device enrolled for `account` whose wall clock is off by `skew_ms`.
    pub fn device_with_skew(&self, account: &str, skew_ms: i64) -> Device {
        Device::enrolled(self, account, skew_ms)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A device: a real field-store on disk, enrolled with the server.
pub struct Device {
    pub store: Store,
    pub account: String,
    dir: tempfile::TempDir,
    /// The phone's clocks: the real monotonic clock, a wall clock its owner may move.
    clock: std::sync::Arc<field_store::clock::TestClock>,
}

impl Device {
    fn enrolled(server: &TestServer, account: &str, skew_ms: i64) -> Device {
        let dir = tempfile::tempdir().unwrap();
        let opts = OpenOptions {
            relaxed_durability: true,
            ..Default::default()
        };
        let clock = field_store::clock::TestClock::new(skew_ms);
        let mut store = Store::open(dir.path().join("device.db"), &opts).unwrap();
        store.set_device_clock(clock.clone());
        let code = server.enroll_code(account);
        field_store::sync::enroll(&mut store, &server.url, &code, account).expect("enroll");
        Device {
            store,
            account: account.to_string(),
            dir,
            clock,
        }
    }

    /// The owner sets the phone's wall clock `skew_ms` off real time, while the app
    /// runs (the monotonic clock does not move).
    pub fn set_wall_skew(&mut self, skew_ms: i64) {
        self.clock.set_skew_ms(skew_ms);
    }

    /// The phone restarts: its monotonic clock belongs to another boot, so the clock
    /// anchor of its last sync no longer applies until the next one.
    pub fn reboot(&mut self) {
        self.clock.reboot();
    }

    /// Where the device's database lives.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Reopens the store from disk (after a simulated crash).
    pub fn reopen(&mut self) {
        let opts = OpenOptions {
            relaxed_durability: true,
            ..Default::default()
        };
        self.store = Store::open(self.dir.path().join("device.db"), &opts).unwrap();
        self.store.set_device_clock(self.clock.clone());
    }

    /// Points the device at another address (a proxy, another server process).
    pub fn use_server(&mut self, url: &str) {
        self.store.set_server_url(url).unwrap();
    }

    pub fn sync(&mut self) -> Result<SyncReport, SyncError> {
        self.sync_with(&SyncOptions::default())
    }

    pub fn sync_with(&mut self, opts: &SyncOptions) -> Result<SyncReport, SyncError> {
        field_store::sync::sync_once(&mut self.store, opts, &mut |_| {})
    }

    /// Syncs until a round succeeds (network faults are retried at once, under the
    /// device's retry policy), at most `tries`.
    pub fn sync_until_ok(&mut self, opts: &SyncOptions, tries: usize) -> SyncReport {
        let policy = field_store::retry::RetryPolicy::immediate(tries as u32);
        match field_store::sync::sync_with_retry(
            &mut self.store,
            opts,
            &policy,
            &mut |_| {},
            |_, _, _| {},
        ) {
            Ok(r) => r,
            Err(e) if e.is_retryable() => panic!("sync did not succeed in {tries} tries: {e}"),
            Err(e) => panic!("sync failed for good: {e} ({})", e.code()),
        }
    }

    pub fn export(&self) -> String {
        self.store.export_canonical().unwrap()
    }

    /// Registers a child in `village` with sensible defaults; returns its id.
    pub fn add_child(&mut self, name: &str, village: &str) -> Uuid {
        let today = self.store.today().to_string();
        self.store
            .add_child(obj(json!({
                "name": name, "sex": "female", "birth_date": "2016-03-08", "village_code": village,
                "categories": ["left_behind"], "risk_colour": "green", "household_registered": true,
                "status": "active", "added_on": today,
            })))
            .unwrap()
    }

    /// Records a home visit (with photos given as encoded images).
    pub fn visit(&mut self, child: Uuid, narrative: &str, photos: &[Vec<u8>]) -> Uuid {
        let at = self.store.now_china_rfc3339();
        self.store
            .record_visit(
                child,
                obj(json!({
                    "visited_at": at, "mode": "home", "visitor": self.account, "checklist": checklist(),
                    "risk_colour": "green", "emergency": false, "actions": [], "narrative": narrative,
                })),
                photos,
            )
            .unwrap()
            .visit_id
    }
}

/// A JSON object literal as a field map.
pub fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

/// An all-normal six-area checklist.
pub fn checklist() -> Value {
    json!({
        "living": {"status": "normal"}, "guardianship": {"status": "normal"},
        "education": {"status": "normal"}, "health": {"status": "normal"},
        "safety": {"status": "normal"}, "mood": {"status": "normal"},
    })
}

/// A camera-like JPEG: smooth shapes and light sensor noise, so that it compresses the
/// way a real photo of a room does (a few hundred KB at 1600 px).
pub fn camera_photo(width: u32, height: u32, seed: u32, noise: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761) | 1;
    let img = image::RgbImage::from_fn(width, height, |i, j| {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let n = (x % noise.max(1)) as u8;
        let fx = i as f32 / width as f32;
        let fy = j as f32 / height as f32;
        let wall = ((fx * 9.0).sin() * 20.0 + 150.0) as u8;
        let floor = (fy * 120.0) as u8;
        let window = if (0.6..0.8).contains(&fx) && (0.2..0.45).contains(&fy) {
            80
        } else {
            0
        };
        image::Rgb([
            wall.wrapping_add(n).saturating_add(window),
            (wall / 2 + floor / 2).wrapping_add(n),
            (90 + floor / 3).wrapping_add(n),
        ])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 92)
        .encode_image(&img)
        .unwrap();
    out
}

/// A photo-like JPEG (gradients and noise) of the given size.
pub fn test_photo(width: u32, height: u32, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761) | 1;
    let img = image::RgbImage::from_fn(width, height, |i, j| {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let n = (x % 24) as u8;
        image::Rgb([
            ((i * 255 / width.max(1)) as u8).wrapping_add(n),
            ((j * 255 / height.max(1)) as u8).wrapping_add(n),
            (((i + j) * 127 / (width + height).max(1)) as u8).wrapping_add(seed as u8),
        ])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .encode_image(&img)
        .unwrap();
    out
}
