//! Tasks through the device API, as the screens and `fieldctl` reach them: the home
//! screen lists the county's task with its age; opening it shows why (list, month, the
//! listed child, ID number masked) and a register form pre-filled from the finding;
//! registering from that form closes the task in the same save; the other closings
//! are checked with plain Chinese errors; the child's file shows the county's state;
//! the sync state says when a newer app version is offered.

use domain::codes::{FindingKind, Sex};
use domain::discovery::{Finding, ListedAdult, ListedPerson};
use field_app::{AppConfig, DeviceApp};
use field_store::{OpenOptions, Store};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use sync_core::{Change, Hlc, Scope};
use uuid::Uuid;

const LISTED_ID: &str = "370602201403021229";
const DAY_MS: u64 = 86_400_000;

fn finding() -> Finding {
    let mut f = Finding::new(
        FindingKind::UnlistedMinor,
        "dibao_rural",
        "农村低保",
        "2026-05",
        "低保家庭中的未成年人：请入户核查是否符合困境儿童等保障条件",
    );
    f.person = Some(ListedPerson {
        name: "李小红".into(),
        id_number: LISTED_ID.into(),
        sex: Some(Sex::Female),
        birth_date: chrono::NaiveDate::from_ymd_opt(2014, 3, 2),
        address: Some("一村东街3号".into()),
        relationship_to_head: Some("孙女".into()),
        disability_grade: None,
        list_category: Some("A类".into()),
    });
    f.adult = Some(ListedAdult {
        name: "李大山".into(),
        id_number_masked: "3706**********1234".into(),
        relationship: Some("户主".into()),
        disability_grade: Some(1),
        list_category: None,
    });
    f
}

fn config() -> AppConfig {
    AppConfig {
        background_sync: None,
        watch_idle: false,
        ..AppConfig::default()
    }
}

fn open(dir: &Path) -> Arc<DeviceApp> {
    DeviceApp::open_for_script(dir, config(), None).unwrap()
}

fn call(app: &DeviceApp, cmd: &str, args: Value) -> Value {
    app.call(cmd, args)
        .unwrap_or_else(|e| panic!("{cmd} failed: {} / {}", e.code, e.en))
}

fn call_err(app: &DeviceApp, cmd: &str, args: Value) -> field_app::UserError {
    match app.call(cmd, args) {
        Ok(v) => panic!("{cmd} should have failed, answered {v}"),
        Err(e) => e,
    }
}

/// A phone of village v1 holding a task the county's server wrote `days_ago`.
fn phone_with_task(dir: &Path, days_ago: u64) -> Uuid {
    let app = open(dir);
    call(&app, "init", json!({"villages": ["v1"]}));
    drop(app);
    let mut s = Store::open(dir.join("device.db"), &OpenOptions::default()).unwrap();
    let task = Uuid::now_v7();
    let at = s.now_ms() - days_ago * DAY_MS;
    let f = finding();
    let fields = json!({
        "kind": f.task_kind().code(), "village_code": "v1", "title": f.title_zh(None),
        "details": f.to_details(), "due_on": "2099-06-30",
    });
    let server = Uuid::from_u128(0x5e);
    let changes: Vec<Change> = fields
        .as_object()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, (field, value))| Change {
            op_id: Uuid::now_v7(),
            device_id: server,
            device_seq: i as u64 + 1,
            table: "task".into(),
            row_id: task,
            field: field.clone(),
            value: value.clone(),
            hlc: Hlc::new(at, i as u16),
            scope: Scope::new("v1"),
        })
        .collect();
    s.apply_changes(&changes, None).unwrap();
    task
}

#[test]
fn home_lists_the_county_s_task_with_its_age_and_opening_it_shows_why() {
    let dir = tempfile::tempdir().unwrap();
    let task = phone_with_task(dir.path(), 4);
    let app = open(dir.path());
    let home = call(&app, "home", json!({}));
    let t = &home["tasks"][0];
    assert_eq!(t["task_id"], json!(task));
    assert_eq!(t["age_days"], 4);
    assert_eq!(t["is_finding"], true);
    assert_eq!(t["open"], true);
    assert_eq!(t["readable"], true);
    assert!(t["title"].as_str().unwrap().contains("李小红"));

    let d = call(&app, "task", json!({"task_id": task}));
    let f = &d["task"]["finding"];
    assert_eq!(f["list_name"], "农村低保");
    assert_eq!(f["list_month"], "2026-05");
    assert_eq!(f["finding"], "unlisted_minor");
    assert_eq!(f["person"]["name"], "李小红");
    assert_eq!(f["person"]["sex"], "female");
    assert_eq!(f["person"]["birth_date"], "2014-03-02");
    assert_eq!(f["adult"]["relationship"], "户主");
    assert_eq!(f["adult"]["disability_grade"], 1);
    assert_eq!(
        f["person"]["id_number"],
        domain::mask_id_number(LISTED_ID),
        "masked on screen"
    );
    assert!(
        !d.to_string().contains(LISTED_ID),
        "no full ID number leaves the device API: {d}"
    );
    let form = &d["register"];
    assert_eq!(form["name"], "李小红");
    assert_eq!(form["task_id"], json!(task));
    assert_eq!(form["village_code"], "v1");
    assert_eq!(
        d["outcomes"],
        json!(["registered", "linked", "not_eligible", "not_found_or_moved"])
    );
    assert!(d["closing"].is_null() && d["file_on_phone"].is_null());
}

#[test]
fn registering_from_the_pre_filled_form_closes_the_task_in_the_same_save() {
    let dir = tempfile::tempdir().unwrap();
    let task = phone_with_task(dir.path(), 1);
    let app = open(dir.path());
    let d = call(&app, "task", json!({"task_id": task}));
    let mut form = d["register"].clone();
    form["categories"] = json!(["difficulty"]);

    // The form as the screen checks it while the director types: the masked number
    // sent back is the listed one, so nothing blocks.
    let check = call(&app, "check_draft", json!({"kind": "child", "draft": form}));
    assert_eq!(check["ready"], true, "{check}");
    assert_eq!(check["problems"], json!([]), "{check}");

    let saved = call(&app, "add_child", form);
    let child = saved["id"].clone();
    let d = call(&app, "task", json!({"task_id": task}));
    assert_eq!(d["task"]["open"], false);
    assert_eq!(d["task"]["sync"]["state"], "on_phone");
    assert_eq!(d["closing"]["outcome"], "registered");
    assert_eq!(d["closing"]["child_id"], child);
    assert_eq!(d["closing"]["child_name"], "李小红");
    assert!(d["register"].is_null() && d["outcomes"] == json!([]));
    assert_eq!(call(&app, "home", json!({}))["tasks"], json!([]));

    let file = call(&app, "child_file", json!({"child_id": child}));
    assert_eq!(
        file["child"]["id_number"],
        domain::mask_id_number(LISTED_ID)
    );
    assert_eq!(file["tasks"][0]["task_id"], json!(task));
    assert_eq!(file["county"]["state"], "awaiting");
    assert_eq!(file["county"]["kind"], "addition");
    // The whole number is what was kept.
    assert!(call(&app, "export", json!({}))
        .to_string()
        .contains(LISTED_ID));
}

#[test]
fn every_other_closing_is_checked_and_refused_in_plain_chinese() {
    let dir = tempfile::tempdir().unwrap();
    let task = phone_with_task(dir.path(), 0);
    let app = open(dir.path());
    let e = call_err(
        &app,
        "close_task",
        json!({"task_id": task, "outcome": "not_eligible", "note": " "}),
    );
    assert_eq!(e.code, "task_outcome_needs_reason");
    assert_eq!(e.field.as_deref(), Some("outcome_note"));
    assert!(e.zh.contains("原因"), "{}", e.zh);
    let e = call_err(
        &app,
        "close_task",
        json!({"task_id": task, "outcome": "registered"}),
    );
    assert_eq!(e.code, "register_with_the_form");
    let e = call_err(
        &app,
        "close_task",
        json!({"task_id": task, "outcome": "gone"}),
    );
    assert_eq!(e.code, "unknown_code");
    let e = call_err(
        &app,
        "close_task",
        json!({"task_id": task, "outcome": "linked", "child_id": Uuid::now_v7()}),
    );
    assert_eq!(e.code, "child_not_found");
    assert!(call(&app, "task", json!({"task_id": task}))["task"]["open"] == true);

    call(
        &app,
        "close_task",
        json!({"task_id": task, "outcome": "not_found_or_moved", "note": "邻居说一家已迁往烟台市区"}),
    );
    let d = call(&app, "task", json!({"task_id": task}));
    assert_eq!(d["closing"]["outcome"], "not_found_or_moved");
    assert_eq!(d["closing"]["note"], "邻居说一家已迁往烟台市区");
    let all = call(&app, "tasks", json!({"include_closed": true}));
    assert_eq!(all.as_array().unwrap().len(), 1);
    assert_eq!(call(&app, "tasks", json!({})), json!([]));
    let e = call_err(
        &app,
        "close_task",
        json!({"task_id": task, "outcome": "not_eligible", "note": "x"}),
    );
    assert_eq!(e.code, "task_already_closed");
    let e = call_err(&app, "task", json!({"task_id": Uuid::now_v7()}));
    assert_eq!(e.code, "not_found");
}

#[test]
fn a_file_already_holding_the_listed_number_is_offered_for_linking() {
    let dir = tempfile::tempdir().unwrap();
    let task = phone_with_task(dir.path(), 0);
    let app = open(dir.path());
    let on_file = call(
        &app,
        "add_child",
        json!({"name": "李小红", "id_number": LISTED_ID, "village_code": "v1", "categories": ["left_behind"]}),
    )["id"]
        .clone();
    let d = call(&app, "task", json!({"task_id": task}));
    assert_eq!(d["file_on_phone"]["child_id"], on_file);
    // Registering again is refused naming the file; linking closes the task.
    let mut form = d["register"].clone();
    form["categories"] = json!(["difficulty"]);
    let e = call_err(&app, "add_child", form);
    assert_eq!(e.code, "duplicate_id_number");
    call(
        &app,
        "close_task",
        json!({"task_id": task, "outcome": "linked", "child_id": on_file}),
    );
    let file = call(&app, "child_file", json!({"child_id": on_file}));
    assert_eq!(file["tasks"][0]["outcome"], "linked");
}

#[test]
fn the_sync_state_says_when_a_newer_app_is_offered() {
    let dir = tempfile::tempdir().unwrap();
    phone_with_task(dir.path(), 0);
    {
        let mut s = Store::open(dir.path().join("device.db"), &OpenOptions::default()).unwrap();
        s.note_latest_app_version(Some("99.0.0")).unwrap();
    }
    let app = open(dir.path());
    let st = call(&app, "sync_state", json!({}));
    assert_eq!(st["update_available"], "99.0.0");
    assert_eq!(st["app_version"], field_app::APP_VERSION);
    drop(app);
    {
        let mut s = Store::open(dir.path().join("device.db"), &OpenOptions::default()).unwrap();
        s.note_latest_app_version(Some(field_app::APP_VERSION))
            .unwrap();
    }
    let app = open(dir.path());
    assert!(call(&app, "sync_state", json!({}))["update_available"].is_null());
}

#[test]
fn fieldctl_lists_shows_and_closes_a_task_by_registering_the_child() {
    let dir = tempfile::tempdir().unwrap();
    let task = phone_with_task(dir.path(), 2).to_string();
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_fieldctl"))
            .arg("--data")
            .arg(dir.path())
            .args(args)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, out, _) = run(&["task", "list"]);
    assert!(ok && out.contains(&task) && out.contains("已2天"), "{out}");
    // The list says what was found, not the title written for older phones.
    assert!(
        out.contains("农村低保（2026-05）") && out.contains("李小红") && !out.contains("升级"),
        "{out}"
    );
    let (ok, out, _) = run(&["task", "show", &task]);
    assert!(ok, "{out}");
    assert!(
        out.contains("农村低保（2026-05）") && out.contains("李小红"),
        "{out}"
    );
    assert!(
        out.contains("3706") && !out.contains(LISTED_ID),
        "masked: {out}"
    );
    assert!(
        out.contains("户主 李大山") && out.contains("残疾1级"),
        "{out}"
    );
    let (ok, _, err) = run(&["task", "close", &task, "--outcome", "not_eligible"]);
    assert!(!ok && err.contains("请写明不符合条件的原因"), "{err}");
    let (ok, out, err) = run(&[
        "task",
        "close",
        &task,
        "--outcome",
        "registered",
        "--category",
        "difficulty",
    ]);
    assert!(ok, "{out}{err}");
    let (ok, out, _) = run(&["--json", "task", "list"]);
    assert!(ok);
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap(), json!([]));
    let (_, out, _) = run(&["--json", "roster"]);
    assert!(out.contains("李小红"), "{out}");
}
