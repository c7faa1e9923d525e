//! The console's core over real storage (SQLite and PostgreSQL): its read model follows
//! the feed (a child moving village moves in the console too), the JSON API is scoped
//! like the pages and refuses what is not the reader's, directors' tokens read nothing,
//! and the OpenAPI file is fuzzed by schemathesis (a property-based tester nobody here
//! wrote): no 5xx, every error a `{code, message}` body.

mod common;

use common::{Backend, TestServer};
use serde_json::{json, Value};
use uuid::Uuid;

fn token_of(p: &sync_server::enrollment::Provisioned) -> String {
    p.enrollment.token.clone()
}

async fn provision(s: &TestServer, login: &str) -> String {
    let p = sync_server::enrollment::provision_device(
        s.state.db.as_ref(),
        login,
        "test",
        common::now_ms() as i64,
    )
    .await
    .unwrap();
    token_of(&p)
}

async fn get(s: &TestServer, token: &str, path: &str) -> (u16, Value) {
    let r = s
        .http
        .get(s.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn the_read_model_follows_the_feed_and_the_api_is_scoped(b: Backend) {
    let s = TestServer::start(b).await;
    let dir_a = s.device("dir-a").await;
    let (child, mut changes) = dir_a.new_child("A", "王小明");
    let (_visit, v) = dir_a.new_visit("A", child);
    changes.extend(v);
    assert!(dir_a.push(&changes).await.rejected.is_empty());
    let sup1 = provision(&s, "sup-1").await;
    let sup2 = provision(&s, "sup-2").await;
    let admin = provision(&s, "admin").await;

    let (status, o) = get(&s, &sup1, "/api/v1/console/overview").await;
    assert_eq!(status, 200, "{o}");
    assert_eq!(o["level"], "township");
    assert_eq!(o["figures"]["children"], 1);
    let (status, f) = get(&s, &sup1, &format!("/api/v1/console/children/{child}")).await;
    assert_eq!(status, 200, "{f}");
    assert_eq!(f["name"], "王小明");

    // Another township's supervisor: refused, with an error body.
    let (status, e) = get(&s, &sup2, &format!("/api/v1/console/children/{child}")).await;
    assert_eq!((status, e["code"].as_str()), (403, Some("out_of_scope")));
    let (status, _) = get(&s, &sup2, "/api/v1/console/overview?place=990101").await;
    assert_eq!(status, 403);
    // A director's token reads no supervisor figures; no token is a 401.
    let (status, e) = get(&s, &dir_a.token, "/api/v1/console/overview").await;
    assert_eq!((status, e["code"].as_str()), (403, Some("out_of_scope")));
    let r = s
        .http
        .get(s.url("/api/v1/console/overview"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);

    // The county admin sees both townships, the child in the first.
    let (_, o) = get(&s, &admin, "/api/v1/console/overview").await;
    assert_eq!(o["level"], "county");
    let rows: Vec<(String, u64)> = o["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["place"]["code"].as_str().unwrap().to_string(),
                r["figures"]["children"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(
        rows.contains(&("990101".into(), 1)) && rows.contains(&("990102".into(), 0)),
        "{rows:?}"
    );

    // The child moves to village C (another township): the read model follows.
    let mv = dir_a.change("child", child, "village_code", json!("C"), "C");
    assert!(dir_a.push(&[mv]).await.rejected.is_empty());
    let (_, o) = get(&s, &sup1, "/api/v1/console/overview").await;
    assert_eq!(o["figures"]["children"], 0, "gone from the first township");
    let (_, o) = get(&s, &sup2, "/api/v1/console/overview").await;
    assert_eq!(o["figures"]["children"], 1, "arrived in the second");
    let (status, _) = get(&s, &sup1, &format!("/api/v1/console/children/{child}")).await;
    assert_eq!(
        status, 403,
        "the old supervisor may no longer read the file"
    );

    // Every view above is in the access log, by account, without names.
    let log = s.state.db.console_log(None, 100).await.unwrap();
    assert!(log
        .iter()
        .any(|e| e.login == "sup-1" && e.action == "view_child" && e.subject == child.to_string()));
    assert!(log.iter().all(|e| !e.subject.contains("王小明")));
}

async fn schemathesis_finds_no_5xx_and_only_error_bodies(b: Backend) {
    let Some(st) = which("schemathesis") else {
        common::service_missing("schemathesis", "scripts/install-deps.sh --test installs it");
    };
    let s = TestServer::start(b).await;
    let dir_a = s.device("dir-a").await;
    let (child, changes) = dir_a.new_child("A", "王小明");
    assert!(dir_a.push(&changes).await.rejected.is_empty());
    let sup = provision(&s, "sup-1").await;
    let schema = s.url("/api/openapi.json");
    let base = s.base.clone();
    let scratch = tempfile::tempdir().unwrap();
    let scratch_path = scratch.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        let scratch = scratch_path;
        let run = |auth: Option<&str>| {
            let mut cmd = std::process::Command::new(&st);
            cmd.args([
                "run",
                &schema,
                "--url",
                &base,
                "--checks",
                "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
                "--workers",
                "1",
                "--max-examples",
                "40",
                "--seed",
                "4242",
                "--phases",
                "examples,coverage,fuzzing",
            ]);
            if let Some(t) = auth {
                cmd.args(["-H", &format!("Authorization: Bearer {t}")]);
            }
            // Its cache (.schemathesis/) goes to a scratch directory, not the source tree.
            cmd.current_dir(&scratch)
                .env("SCHEMATHESIS_HOOKS", "")
                .env("NO_COLOR", "1")
                .output()
                .expect("run schemathesis")
        };
        vec![run(Some(&sup)), run(None)]
    })
    .await
    .unwrap();
    for o in out {
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(o.status.success(), "schemathesis found problems:\n{text}");
    }
    let _ = child;
}

fn which(cmd: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(cmd))
            .find(|f| f.is_file())
    })
}

async fn a_city_of_many_villages_is_read_in_one_scan(b: Backend) {
    // More villages than the per-village index ranges are used for (the city view).
    let s = TestServer::start(b).await;
    let mut csv = String::from(
        "kind,code,name,parent\ncity,M,大市,\ncounty,M1,大区,M\ntownship,M11,大镇,M1\n",
    );
    for v in 0..260 {
        csv.push_str(&format!(
            "village,MV{v},村{v},M11\ndirector,mdir{v},主任{v},MV{v}\n"
        ));
    }
    csv.push_str("supervisor,msup,督导,M11\ncity_admin,madmin,市管理员,M\n");
    s.state
        .db
        .import_roster(&sync_server::roster::Roster::parse(&csv).unwrap())
        .await
        .unwrap();
    for v in [0, 130, 259] {
        let d = s.device(&format!("mdir{v}")).await;
        let (_, changes) = d.new_child(&format!("MV{v}"), "李四");
        assert!(d.push(&changes).await.rejected.is_empty());
    }
    for login in ["msup", "madmin"] {
        let t = provision(&s, login).await;
        let (status, o) = get(&s, &t, "/api/v1/console/overview").await;
        assert_eq!(status, 200, "{o}");
        let f = if o["level"] == "township" {
            &o["figures"]
        } else {
            &o["totals"]
        };
        assert_eq!(f["children"], 3, "{login}: {o}");
        assert_eq!(f["directors"], 260, "{login}");
    }
}

/// A store whose read model was folded before migration 7 (no due dates, nobody left
/// behind) is folded again after it: the child counts as overdue and without an
/// agreement. The version-6 state is made by dropping what 7 adds (SQLite).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_read_model_folded_before_migration_7_is_folded_again() {
    let s = TestServer::start(Backend::Sqlite).await;
    let dir_a = s.device("dir-a").await;
    let (_, changes) = dir_a.new_child("A", "王小明");
    assert!(dir_a.push(&changes).await.rejected.is_empty());
    let sup = provision(&s, "sup-1").await;
    let (_, o) = get(&s, &sup, "/api/v1/console/overview").await;
    assert_eq!(o["figures"]["agreements_missing"], 1, "{o}");
    let db = rusqlite::Connection::open(s.dir.path().join("tonghu.sqlite3")).unwrap();
    db.execute_batch(
        "DROP INDEX devices_account; DROP INDEX account_villages_village; DROP INDEX console_visits_day;
         DROP INDEX console_children_counts; CREATE INDEX console_children_village ON console_children(village);
         ALTER TABLE console_children DROP COLUMN due_on;
         ALTER TABLE console_children DROP COLUMN left_behind;
         DELETE FROM schema_migrations WHERE version = 7;",
    )
    .unwrap();
    let seq: i64 = db
        .query_row("SELECT seq FROM console_cursor", [], |r| r.get(0))
        .unwrap();
    assert!(seq > 0, "folded up to the feed's end");
    drop(db);
    // A server of this version opens it: migration 7 runs, the next read folds again.
    let s2 = s.another_instance().await;
    let (status, o) = get(&s2, &sup, "/api/v1/console/overview").await;
    assert_eq!(status, 200, "{o}");
    let f = &o["figures"];
    assert_eq!(
        (
            f["children"].as_u64(),
            f["agreements_missing"].as_u64(),
            f["overdue_not_visited"].as_u64()
        ),
        (Some(1), Some(1), Some(1)),
        "{o}"
    );
}

/// The county and city views count children in the database, per village; a township
/// view works the same figures out child by child. Their rows must agree, for a part of
/// the city (a county: filtered reads) and for the whole city (unfiltered reads).
async fn area_rows_equal_their_townships(b: Backend) {
    let s = TestServer::start(b).await;
    let more = "kind,code,name,parent\ncity,99,测试市,\ncounty,9902,二县,99\ntownship,990201,三镇,9902\nvillage,D,丁村,990201\ndirector,dir-d,丁主任,D\ncity_admin,cadmin,市管理员,99\n";
    s.state
        .db
        .import_roster(&sync_server::roster::Roster::parse(more).unwrap())
        .await
        .unwrap();
    let today = sync_server::model::clock::today();
    let day = |ago: i64| (today - chrono::Duration::days(ago)).to_string();
    let visit = |d: &common::Device, v: &str, child: Uuid, ago: i64| {
        d.write(
            "visit",
            Uuid::now_v7(),
            [
                ("child_id", json!(child.to_string())),
                ("visited_at", json!(format!("{}T10:00:00+08:00", day(ago)))),
                ("mode", json!("home")),
                ("visitor", json!("主任")),
                ("checklist", json!({"living": {"status": "normal"}})),
                ("risk_colour", json!("green")),
                ("emergency", json!(false)),
                ("actions", json!([])),
            ],
            v,
        )
    };
    let referral = |d: &common::Device, v: &str, child: Uuid, kind: &str, due_ago: i64| {
        d.write(
            "referral",
            Uuid::now_v7(),
            [
                ("child_id", json!(child.to_string())),
                ("kind", json!(kind)),
                ("receiving_body", json!("派出所")),
                ("referred_on", json!(day(40))),
                ("feedback_due_on", json!(day(due_ago))),
            ],
            v,
        )
    };
    // Every child of new_child is left behind, blue, on the roster since 2025.
    let dir_a = s.device("dir-a").await;
    let mut c = Vec::new();
    let (_a1, x) = dir_a.new_child("A", "甲一"); // never visited, no agreement
    c.extend(x);
    let (a2, x) = dir_a.new_child("A", "甲二"); // red, visited yesterday, a late referral
    c.extend(x);
    c.push(dir_a.change("child", a2, "risk_colour", json!("red"), "A"));
    c.extend(visit(&dir_a, "A", a2, 1));
    c.extend(referral(&dir_a, "A", a2, "out_of_school", 10));
    let (a3, x) = dir_a.new_child("A", "甲三"); // agreement ending in 10 days, a late report
    c.extend(x);
    c.extend(visit(&dir_a, "A", a3, 2));
    c.extend(referral(&dir_a, "A", a3, "harm_or_abuse", 3));
    let text = "委托照护协议（测试）";
    c.extend(dir_a.write(
        "agreement_version",
        Uuid::now_v7(),
        [
            ("child_id", json!(a3.to_string())),
            ("draft_id", json!(Uuid::now_v7().to_string())),
            ("version", json!(1)),
            ("text_sha256", json!(domain::text_sha256(text))),
            ("canonical_text", json!(text)),
            ("valid_from", json!(day(60))),
            ("valid_until", json!(day(-10))),
            ("signed_at", json!(format!("{}T15:00:00+08:00", day(60)))),
        ],
        "A",
    ));
    assert!(dir_a.push(&c).await.rejected.is_empty());
    // B1 is overdue on the server, but dir-b's phone reports a visit not yet sent.
    let dir_b = s.device("dir-b").await;
    let (b1, x) = dir_b.new_child("B", "乙一");
    assert!(dir_b.push(&x).await.rejected.is_empty());
    let hb = json!({"protocol": sync_core::wire::PROTOCOL_VERSION, "device_id": dir_b.device_id, "changes": [],
        "heartbeat": {"pending_changes": 9, "oldest_pending_secs": 60, "app_version": "0.1.0", "device_clock_ms": common::now_ms(),
                      "free_storage_bytes": 1, "unsent_visit_children": [b1]}});
    assert_eq!(dir_b.post("/v1/push", &hb).await.0, 200);
    // C1 left the roster; C2 is yellow and overdue. D1 (the other county) is overdue.
    let dir_c = s.device("dir-c").await;
    let (c1, mut x) = dir_c.new_child("C", "丙一");
    x.push(dir_c.change("child", c1, "status", json!("exited"), "C"));
    let (c2, y) = dir_c.new_child("C", "丙二");
    x.extend(y);
    x.push(dir_c.change("child", c2, "risk_colour", json!("yellow"), "C"));
    assert!(dir_c.push(&x).await.rejected.is_empty());
    let dir_d = s.device("dir-d").await;
    let (d1, x) = dir_d.new_child("D", "丁一");
    assert!(dir_d.push(&x).await.rejected.is_empty());

    let county_admin = provision(&s, "admin").await;
    let city_admin = provision(&s, "cadmin").await;
    let (status, county) = get(&s, &county_admin, "/api/v1/console/overview").await;
    assert_eq!(
        (status, county["level"].as_str()),
        (200, Some("county")),
        "{county}"
    );
    let t = &county["totals"];
    let pick = |f: &Value, k: &str| f[k].as_u64().unwrap_or(u64::MAX);
    let keys = [
        "children",
        "red",
        "yellow",
        "blue",
        "green",
        "overdue_not_visited",
        "overdue_visited_unsynced",
        "agreements_missing",
        "agreements_expiring",
        "referrals_late",
        "reports_late",
        "directors",
        "devices",
    ];
    let got: Vec<u64> = keys.iter().map(|k| pick(t, k)).collect();
    assert_eq!(got, vec![5, 1, 1, 3, 0, 2, 1, 4, 1, 1, 1, 3, 3], "{t}");
    let city = areas_equal_their_parts(&s, &county_admin, &county, &city_admin).await;
    let (_, d) = get(&s, &city_admin, "/api/v1/console/overview?place=990201").await;
    assert_eq!(pick(&d["figures"], "overdue_not_visited"), 1);
    assert_eq!(pick(&city["totals"], "children"), 6);
    assert_eq!(
        city["visits_per_week"], county["visits_per_week"],
        "D has no visits"
    );
    let visits: u64 = city["visits_per_week"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["value"].as_u64().unwrap())
        .sum();
    assert_eq!(visits, 2);

    // The summaries follow the read model: a visit in D, a child moving from A to C
    // (township 990101 to 990102), a village moved to another township by a roster
    // import; each area row still equals its township's view.
    let x = visit(&dir_d, "D", d1, 3);
    assert!(dir_d.push(&x).await.rejected.is_empty());
    let mv = dir_a.change("child", a2, "village_code", json!("C"), "C");
    assert!(dir_a.push(&[mv]).await.rejected.is_empty());
    let (_, county) = get(&s, &county_admin, "/api/v1/console/overview").await;
    let city = areas_equal_their_parts(&s, &county_admin, &county, &city_admin).await;
    let visits_in = |o: &Value| -> u64 {
        o["visits_per_week"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["value"].as_u64().unwrap())
            .sum()
    };
    assert_eq!(visits_in(&city), 3, "{city}");
    let row = |o: &Value, code: &str| {
        o["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["place"]["code"] == code)
            .map(|r| r["figures"].clone())
            .unwrap()
    };
    assert_eq!(
        (
            row(&county, "990101")["red"].as_u64(),
            row(&county, "990102")["red"].as_u64()
        ),
        (Some(0), Some(1)),
        "the red child moved township: {county}"
    );
    let moved = "kind,code,name,parent\ncity,99,测试市,\ncounty,9901,测试县,99\ntownship,990102,二镇,9901\nvillage,B,乙村,990102\n";
    s.state
        .db
        .import_roster(&sync_server::roster::Roster::parse(moved).unwrap())
        .await
        .unwrap();
    let (_, county) = get(&s, &county_admin, "/api/v1/console/overview").await;
    assert_eq!(
        row(&county, "990101")["children"].as_u64(),
        Some(2),
        "A's two children are left in 990101: {county}"
    );
    areas_equal_their_parts(&s, &county_admin, &county, &city_admin).await;

    // A summary of another day is not used: counted for a day far ahead, every
    // active child of 990101 is overdue there; today's view counts it again.
    let t = ["990101".to_string()];
    let ahead = s
        .state
        .db
        .console_refresh_areas(&t, "2099-01-01", "2099-01-31")
        .await
        .unwrap();
    assert_eq!((ahead[0].children, ahead[0].overdue), (2, 2), "{ahead:?}");
    let fresh = s.state.db.console_area_counts(&t, &day(0)).await.unwrap();
    assert!(fresh.is_empty(), "2099's summary is not today's: {fresh:?}");
    let (_, county) = get(&s, &county_admin, "/api/v1/console/overview").await;
    areas_equal_their_parts(&s, &county_admin, &county, &city_admin).await;
    let fresh = s.state.db.console_area_counts(&t, &day(0)).await.unwrap();
    assert_eq!(fresh.len(), 1, "counted again for today");
}

/// Every row of a county view equals its township's view, and every row of the city
/// view its county's totals; returns the city view.
async fn areas_equal_their_parts(
    s: &TestServer,
    county_admin: &str,
    county: &Value,
    city_admin: &str,
) -> Value {
    for row in county["rows"].as_array().unwrap() {
        let code = row["place"]["code"].as_str().unwrap();
        let (_, town) = get(
            s,
            county_admin,
            &format!("/api/v1/console/overview?place={code}"),
        )
        .await;
        assert_eq!(town["level"], "township");
        assert_eq!(
            row["figures"], town["figures"],
            "county row {code} vs its township"
        );
    }
    let (status, city) = get(s, city_admin, "/api/v1/console/overview").await;
    assert_eq!(
        (status, city["level"].as_str()),
        (200, Some("city")),
        "{city}"
    );
    let rows = city["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let mut weeks = Vec::new();
    for row in rows {
        let code = row["place"]["code"].as_str().unwrap();
        let (_, part) = get(
            s,
            city_admin,
            &format!("/api/v1/console/overview?place={code}"),
        )
        .await;
        assert_eq!(
            row["figures"], part["totals"],
            "city row {code} vs its county"
        );
        weeks.push(part["visits_per_week"].clone());
    }
    // The city's chart is its counties' charts added up.
    let sum: Vec<u64> = (0..city["visits_per_week"].as_array().unwrap().len())
        .map(|i| weeks.iter().map(|w| w[i]["value"].as_u64().unwrap()).sum())
        .collect();
    let city_weeks: Vec<u64> = city["visits_per_week"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["value"].as_u64().unwrap())
        .collect();
    assert_eq!(city_weeks, sum, "{city}");
    city
}

backend_tests!(
    area_rows_equal_their_townships,
    a_city_of_many_villages_is_read_in_one_scan,
    the_read_model_follows_the_feed_and_the_api_is_scoped,
    schemathesis_finds_no_5xx_and_only_error_bodies
);
