//! Test harness: a real server on 127.0.0.1 and a random port, in-process, over a fresh
//! SQLite data folder or a fresh PostgreSQL database (`TONGHU_TEST_DATABASE_URL`; a
//! PostgreSQL test without it fails — [`service_missing`] — and the `no-services`
//! nextest profile leaves those tests out, counted as skipped).
//! Blobs on disk, or in a bucket of a local S3-compatible server ([`moto`]).
#![allow(dead_code)]

pub mod moto;

use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use sync_core::wire::{
    Heartbeat, PullRequest, PullResponse, PushRequest, PushResponse, PROTOCOL_VERSION,
};
use sync_core::{Change, Hlc, Scope};
use sync_server::handlers::AppState;
use sync_server::settings::{BlobSettings, Settings};
use uuid::Uuid;

/// Which storage a test runs on.
#[derive(Clone, Debug)]
pub enum Backend {
    Sqlite,
    /// URL of a fresh database for this test.
    Postgres(String),
}

impl Backend {
    /// A fresh PostgreSQL database. Fails the test when no server is configured.
    pub async fn postgres() -> Option<Backend> {
        let Some(url) = std::env::var("TONGHU_TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
        else {
            service_missing(
                "PostgreSQL (TONGHU_TEST_DATABASE_URL is unset)",
                "eval \"$(scripts/postgres.sh)\" first",
            );
        };
        let name = format!("tonghu_t_{}", Uuid::now_v7().simple());
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .expect("connect to the test PostgreSQL");
        tokio::spawn(conn);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create test database");
        let base = match url.rfind('/') {
            Some(i) if url[..i].contains("://") && i > url.find("://").unwrap() + 2 => {
                url[..i].to_string()
            }
            _ => url.clone(),
        };
        let query = url
            .find('?')
            .map(|i| url[i..].to_string())
            .unwrap_or_default();
        Some(Backend::Postgres(format!("{base}/{name}{query}")))
    }
}

/// A service a test needs is not there: the test fails, saying what to do. It never
/// passes without having run (`CI=true` or not); `cargo nextest run --profile
/// no-services` leaves every such test out by name and counts it as skipped.
pub fn service_missing(what: &str, how: &str) -> ! {
    panic!("{what} is missing: {how}. Tests that need it fail without it, never pass: `cargo nextest run --profile no-services` leaves them out and counts them as skipped.")
}

/// Runs one test body on SQLite and on PostgreSQL: `backend_tests!(name, …)` makes
/// `sqlite::name` and `postgres::name` calling `name(Backend)`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() { super::$name($crate::common::Backend::Sqlite).await } )*
        }
        mod postgres {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() { if let Some(b) = $crate::common::Backend::postgres().await { super::$name(b).await } } )*
        }
    };
}

/// The test roster: township T1 with villages A and B, township T2 with village C.
pub const ROSTER: &str = "kind,code,name,parent
city,99,测试市,
county,9901,测试县,99
township,990101,一镇,9901
township,990102,二镇,9901
village,A,甲村,990101
village,B,乙村,990101
village,C,丙村,990102
director,dir-a,甲主任,A
director,dir-b,乙主任,B
director,dir-c,丙主任,C
supervisor,sup-1,一督导,990101
supervisor,sup-2,二督导,990102
county_admin,admin,县管理员,9901
";

/// A running server.
pub struct TestServer {
    pub base: String,
    pub state: AppState,
    pub http: reqwest::Client,
    pub backend: Backend,
    pub dir: Arc<tempfile::TempDir>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestServer {
    /// Starts a server on a fresh store with the test roster imported.
    pub async fn start(backend: Backend) -> TestServer {
        let s = TestServer::start_with(backend, BlobSettings::Disk, None).await;
        let roster = sync_server::roster::Roster::parse(ROSTER).unwrap();
        s.state.db.import_roster(&roster).await.unwrap();
        s
    }

    /// Starts a server on a fresh store with the test roster imported and blobs in
    /// `blobs` (for example a moto bucket, see [`moto::Moto::bucket`]).
    pub async fn start_with_blobs(backend: Backend, blobs: BlobSettings) -> TestServer {
        let s = TestServer::start_with(backend, blobs, None).await;
        let roster = sync_server::roster::Roster::parse(ROSTER).unwrap();
        s.state.db.import_roster(&roster).await.unwrap();
        s
    }

    /// Starts a server; `dir` shares a data folder with another instance.
    pub async fn start_with(
        backend: Backend,
        blobs: BlobSettings,
        dir: Option<Arc<tempfile::TempDir>>,
    ) -> TestServer {
        let dir = dir.unwrap_or_else(|| Arc::new(tempfile::tempdir().unwrap()));
        let settings = Settings {
            listen: "127.0.0.1:0".into(),
            data_dir: dir.path().to_path_buf(),
            database_url: match &backend {
                Backend::Sqlite => None,
                Backend::Postgres(u) => Some(u.clone()),
            },
            blobs,
            max_ahead_ms: sync_core::hlc::DEFAULT_MAX_AHEAD_MS,
            latest_app_version: None,
        };
        let state = sync_server::server::build_state(settings)
            .await
            .expect("server state");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let st = state.clone();
        let task = tokio::spawn(async move {
            let _ = sync_server::server::run(st, listener).await;
        });
        TestServer {
            base: format!("http://{addr}"),
            state,
            http: reqwest::Client::new(),
            backend,
            dir,
            task,
        }
    }

    /// A second server process over the same storage (PostgreSQL, or the same SQLite folder).
    pub async fn another_instance(&self) -> TestServer {
        TestServer::start_with(
            self.backend.clone(),
            BlobSettings::Disk,
            Some(self.dir.clone()),
        )
        .await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Issues a code for `login`.
    pub async fn code(&self, login: &str) -> String {
        sync_server::enrollment::issue_code(self.state.db.as_ref(), login, 1, now_ms() as i64)
            .await
            .unwrap()
            .code
    }

    /// Enrolls a new device of `login`.
    pub async fn device(&self, login: &str) -> Device {
        let code = self.code(login).await;
        let device_id = Uuid::now_v7();
        let res = self
            .http
            .post(self.url("/v1/enroll"))
            .json(&json!({"code": code, "device_id": device_id, "device_name": "test phone", "app_version": "0.1.0"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "enroll {login}");
        let body: Value = res.json().await.unwrap();
        Device {
            base: self.base.clone(),
            http: self.http.clone(),
            device_id,
            token: body["token"].as_str().unwrap().to_string(),
            account_id: body["account_id"].as_i64().unwrap(),
            scopes: serde_json::from_value(body["scopes"].clone()).unwrap(),
            seq: Arc::new(AtomicU64::new(0)),
            clock: Arc::new(AtomicU64::new(0)),
        }
    }
}

/// A device talking to a server.
#[derive(Clone)]
pub struct Device {
    pub base: String,
    pub http: reqwest::Client,
    pub device_id: Uuid,
    pub token: String,
    pub account_id: i64,
    pub scopes: Vec<String>,
    pub seq: Arc<AtomicU64>,
    pub clock: Arc<AtomicU64>,
}

pub fn now_ms() -> u64 {
    sync_server::model::clock::now_ms()
}

impl Device {
    /// The same device talking to another server instance.
    pub fn via(&self, server: &TestServer) -> Device {
        Device {
            base: server.base.clone(),
            ..self.clone()
        }
    }

    fn next_hlc(&self) -> Hlc {
        let now = Hlc::new(now_ms(), 0).as_u64();
        let prev = self.clock.fetch_max(now, Ordering::SeqCst).max(now);
        let v = self.clock.fetch_add(1, Ordering::SeqCst).max(prev) + 1;
        Hlc::from_u64(v)
    }

    /// A new change to one field (next device_seq, fresh hlc).
    pub fn change(&self, table: &str, row: Uuid, field: &str, value: Value, scope: &str) -> Change {
        Change {
            op_id: Uuid::now_v7(),
            device_id: self.device_id,
            device_seq: self.seq.fetch_add(1, Ordering::SeqCst) + 1,
            table: table.into(),
            row_id: row,
            field: field.into(),
            value,
            hlc: self.next_hlc(),
            scope: Scope::new(scope),
        }
    }

    /// The changes of a new child in `village`.
    pub fn new_child(&self, village: &str, name: &str) -> (Uuid, Vec<Change>) {
        let id = Uuid::now_v7();
        let fields = [
            ("name", json!(name)),
            ("sex", json!("female")),
            ("birth_date", json!("2015-04-01")),
            ("household_registered", json!(true)),
            ("village_code", json!(village)),
            ("categories", json!(["left_behind"])),
            ("risk_colour", json!("blue")),
            ("status", json!("active")),
            ("added_on", json!("2025-01-02")),
        ];
        (
            id,
            fields
                .into_iter()
                .map(|(f, v)| self.change("child", id, f, v, village))
                .collect(),
        )
    }

    /// One device write of several fields of a row: consecutive device_seqs, one hlc
    /// (the way field-store writes a row).
    pub fn write(
        &self,
        table: &str,
        row: Uuid,
        fields: impl IntoIterator<Item = (&'static str, Value)>,
        scope: &str,
    ) -> Vec<Change> {
        let hlc = self.next_hlc();
        fields
            .into_iter()
            .map(|(f, v)| Change {
                hlc,
                ..self.change(table, row, f, v, scope)
            })
            .collect()
    }

    /// The changes of a new visit to `child` in `village` (one device write).
    pub fn new_visit(&self, village: &str, child: Uuid) -> (Uuid, Vec<Change>) {
        let id = Uuid::now_v7();
        let fields = [
            ("child_id", json!(child.to_string())),
            ("visited_at", json!("2025-06-01T10:00:00+08:00")),
            ("mode", json!("home")),
            ("visitor", json!("主任")),
            ("checklist", json!({"living": "normal"})),
            ("risk_colour", json!("green")),
            ("emergency", json!(false)),
            ("actions", json!([])),
        ];
        (id, self.write("visit", id, fields, village))
    }

    pub fn auth(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        rb.bearer_auth(&self.token)
    }

    /// Pushes raw JSON; returns status and body.
    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let res = self
            .auth(self.http.post(format!("{}{}", self.base, path)))
            .json(body)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let body = res.json().await.unwrap_or(Value::Null);
        (status, body)
    }

    /// Pushes changes; panics unless 200.
    pub async fn push(&self, changes: &[Change]) -> PushResponse {
        let (status, body) = self.push_raw(changes).await;
        assert_eq!(status, 200, "push: {body}");
        serde_json::from_value(body).unwrap()
    }

    pub async fn push_raw(&self, changes: &[Change]) -> (u16, Value) {
        let req = PushRequest {
            protocol: PROTOCOL_VERSION,
            device_id: self.device_id,
            changes: changes.to_vec(),
            heartbeat: Heartbeat {
                pending_changes: changes.len() as u64,
                app_version: "0.1.0".into(),
                device_clock_ms: now_ms(),
                ..Default::default()
            },
        };
        self.post("/v1/push", &serde_json::to_value(req).unwrap())
            .await
    }

    /// A page of the feed, this device's own changes included.
    pub async fn pull_page(&self, cursor: u64, limit: u32) -> PullResponse {
        self.pull_page_with(cursor, limit, true).await
    }

    pub async fn pull_page_with(&self, cursor: u64, limit: u32, include_own: bool) -> PullResponse {
        let (status, body) = self
            .post(
                "/v1/pull",
                &serde_json::to_value(PullRequest {
                    protocol: PROTOCOL_VERSION,
                    cursor,
                    limit,
                    include_own,
                    held: None,
                })
                .unwrap(),
            )
            .await;
        assert_eq!(status, 200, "pull: {body}");
        serde_json::from_value(body).unwrap()
    }

    /// Pulls every page after `cursor` (own changes included); returns the changes and
    /// the new cursor.
    pub async fn pull_all(&self, cursor: u64) -> (Vec<sync_core::wire::PulledChange>, u64) {
        self.pull_all_with(cursor, 1000, true).await
    }

    /// Pulls every page after `cursor` the way a device does; returns the changes and the
    /// new cursor. Panics if a page promises more without moving the cursor.
    pub async fn pull_all_with(
        &self,
        mut cursor: u64,
        limit: u32,
        include_own: bool,
    ) -> (Vec<sync_core::wire::PulledChange>, u64) {
        let mut all = Vec::new();
        loop {
            let page = self.pull_page_with(cursor, limit, include_own).await;
            assert!(
                !page.has_more || page.next_cursor > cursor,
                "the cursor must advance"
            );
            all.extend(page.changes);
            cursor = page.next_cursor;
            if !page.has_more {
                return (all, cursor);
            }
        }
    }
}
