//! The field app's device API end to end: a real sync server on loopback, the
//! encrypted store on disk, the background sync runner, through the same dispatcher the
//! Tauri app and the bridge call.

use field_app::lock::KdfParams;
use field_app::{AppConfig, AppEvent, DeviceApp, RunnerConfig};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tonghu_tests::{backends, test_photo, Backend, TestServer};

const PIN: &str = "260518";

fn config() -> AppConfig {
    AppConfig {
        kdf: KdfParams::for_tests(),
        background_sync: Some(RunnerConfig {
            probe_base: Duration::from_millis(200),
            probe_cap: Duration::from_millis(800),
            probe_timeout: Duration::from_secs(2),
            after_save: Duration::from_millis(100),
            periodic: Duration::from_secs(3600),
            ..RunnerConfig::default()
        }),
        watch_idle: false,
        ..AppConfig::default()
    }
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

/// A phone enrolled for `account` with the PIN set.
fn enrolled_app(server: &TestServer, dir: &std::path::Path, account: &str) -> Arc<DeviceApp> {
    enrolled_app_with(server, dir, account, config())
}

fn enrolled_app_with(
    server: &TestServer,
    dir: &std::path::Path,
    account: &str,
    config: AppConfig,
) -> Arc<DeviceApp> {
    let app = DeviceApp::open(dir, config).unwrap();
    let st = call(&app, "app_state", json!({}));
    assert_eq!(st["phase"], "needs_enrollment");
    let code = server.enroll_code(account);
    let st = call(
        &app,
        "enroll",
        json!({"server_url": server.url, "code": code}),
    );
    assert_eq!(st["phase"], "needs_pin", "enrolled, PIN not chosen yet");
    assert_names_every_village(&st);
    let st = call(&app, "set_pin", json!({"pin": PIN}));
    assert_eq!(st["phase"], "unlocked");
    assert_eq!(st["enrolled"], true);
    assert_names_every_village(&st);
    // The names are kept in the (encrypted) store: still there after a lock.
    call(&app, "lock", json!({}));
    let st = call(&app, "unlock", json!({"pin": PIN}));
    assert_names_every_village(&st);
    let settings = call(&app, "settings", json!({}));
    assert_eq!(settings["village_names"], st["village_names"]);
    app
}

/// The roster's name of every village the phone holds came with the enrollment (the
/// test city names v1 一村, v2 二村, v3 三村).
fn assert_names_every_village(st: &serde_json::Value) {
    let villages = st["villages"].as_array().unwrap();
    assert!(!villages.is_empty(), "{st}");
    for v in villages {
        let want = match v.as_str().unwrap() {
            "v1" => "一村",
            "v2" => "二村",
            "v3" => "三村",
            other => panic!("unexpected village {other}"),
        };
        assert_eq!(st["village_names"][v.as_str().unwrap()], want, "{st}");
    }
}

fn wait_until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn new_child(name: &str, village: &str) -> Value {
    json!({
        "name": name, "sex": "female", "birth_date": "2016-03-08", "village_code": village,
        "categories": ["left_behind"], "risk_colour": "yellow", "id_number": "110105201603080024",
    })
}

fn visit_args(child: &Value, photos: Vec<Value>) -> Value {
    json!({
        "child_id": child, "mode": "home", "risk_colour": "green",
        "checklist": tonghu_tests::checklist(), "actions": [], "photo_ids": photos,
        "narrative": "孩子精神好",
    })
}

fn photo_b64(seed: u32) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(test_photo(800, 600, seed))
}

#[test]
fn the_data_file_is_unreadable_without_the_pin_and_the_lock_refuses_every_command() {
    let server = TestServer::start(&Backend::Sqlite);
    let dir = tempfile::tempdir().unwrap();
    let app = enrolled_app(&server, dir.path(), "d1");
    let child = call(&app, "add_child", new_child("李小花", "v1"))["id"].clone();
    call(&app, "record_visit", visit_args(&child, vec![]));

    let st = call(&app, "lock", json!({}));
    assert_eq!(st["phase"], "locked");
    for (cmd, args) in [
        ("roster", json!({})),
        ("child_file", json!({"child_id": child})),
        ("home", json!({})),
        ("sync_state", json!({})),
    ] {
        assert_eq!(
            call_err(&app, cmd, args).code,
            "locked",
            "{cmd} while locked"
        );
    }

    // The file on disk: no SQLite header, no name, and no way in without the key.
    let bytes = std::fs::read(dir.path().join("device.db")).unwrap();
    assert!(
        !bytes.starts_with(b"SQLite format 3"),
        "the database is encrypted"
    );
    let name = "李小花".as_bytes();
    assert!(
        !bytes.windows(name.len()).any(|w| w == name),
        "no child's name in the file's bytes"
    );
    let raw = rusqlite_open_plain(&dir.path().join("device.db"));
    assert!(raw.is_err(), "opening the file without the key fails");

    let e = call_err(&app, "unlock", json!({"pin": "999990"}));
    assert_eq!(e.code, "wrong_pin");
    assert!(e.zh.contains("还可以再试 9 次"), "{}", e.zh);
    assert_eq!(call(&app, "app_state", json!({}))["failed_pin_attempts"], 1);
    let st = call(&app, "unlock", json!({"pin": PIN}));
    assert_eq!(st["phase"], "unlocked");
    assert_eq!(st["failed_pin_attempts"], 0);
    let roster = call(&app, "roster", json!({"search": "lxh"}));
    assert_eq!(roster[0]["name"], "李小花");

    // Opened again (the app started anew): locked until the PIN.
    drop(app);
    let app = DeviceApp::open(dir.path(), config()).unwrap();
    assert_eq!(call(&app, "app_state", json!({}))["phase"], "locked");
    call(&app, "unlock", json!({"pin": PIN}));
    let file = call(&app, "child_file", json!({"child_id": child}));
    assert_eq!(
        file["child"]["id_number"], "1101**********0024",
        "masked in the view"
    );
    assert_eq!(file["visits"].as_array().unwrap().len(), 1);
}

fn rusqlite_open_plain(path: &std::path::Path) -> Result<i64, String> {
    // field-store's is_plain_database opens the file with no key, as an attacker would.
    if field_store::encryption::is_plain_database(path) {
        Ok(1)
    } else {
        Err("not a database without the key".into())
    }
}

#[test]
fn data_from_an_older_unencrypted_app_is_encrypted_when_the_pin_is_chosen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let script = AppConfig {
            background_sync: None,
            watch_idle: false,
            kdf: KdfParams::for_tests(),
            ..AppConfig::default()
        };
        let old = DeviceApp::open_for_script(dir.path(), script, None).unwrap();
        call(&old, "init", json!({"villages": ["v1"]}));
        call(&old, "add_child", new_child("周小雨", "v1"));
    }
    let db = dir.path().join("device.db");
    assert!(field_store::encryption::is_plain_database(&db));
    let app = DeviceApp::open(dir.path(), config()).unwrap();
    let st = call(&app, "app_state", json!({}));
    assert_eq!(st["phase"], "needs_pin");
    assert_eq!(st["migrating_plain_data"], true);
    assert_eq!(
        call_err(&app, "set_pin", json!({"pin": "123456"})).code,
        "weak_pin"
    );
    call(&app, "set_pin", json!({"pin": PIN}));
    assert!(
        !field_store::encryption::is_plain_database(&db),
        "now encrypted"
    );
    let bytes = std::fs::read(&db).unwrap();
    let name = "周小雨".as_bytes();
    assert!(!bytes.windows(name.len()).any(|w| w == name));
    let roster = call(&app, "roster", json!({}));
    assert_eq!(roster[0]["name"], "周小雨", "nothing was lost on the way");
    assert!(!dir.path().join("device.db.enc").exists());
}

#[test]
fn a_visit_recorded_while_the_server_is_down_syncs_by_itself_when_it_returns() {
    for backend in backends() {
        let mut server = TestServer::start(&backend);
        let dir = tempfile::tempdir().unwrap();
        let app = enrolled_app(&server, dir.path(), "d1");
        let events: Arc<Mutex<Vec<AppEvent>>> = Arc::default();
        {
            let events = events.clone();
            app.subscribe(Arc::new(move |e: &AppEvent| {
                events.lock().unwrap().push(e.clone())
            }));
        }
        let child = call(&app, "add_child", new_child("李小花", "v1"))["id"].clone();
        wait_until("the first sync", 30, || {
            let s = call(&app, "sync_state", json!({}));
            s["pending_records"] == 0 && s["last_success_at"].is_string()
        });
        // The round after the save may come after the first; wait until the runner is at
        // rest (nothing planned before its periodic round) so the success it reports last
        // is the one the failures below must not move.
        let at_rest = |s: &Value| {
            s["in_flight"] == false && s["next_try_secs"].as_u64().is_some_and(|n| n > 600)
        };
        let first_success = loop {
            wait_until("the runner at rest", 30, || {
                at_rest(&call(&app, "sync_state", json!({})))
            });
            let before = call(&app, "sync_state", json!({}))["last_success_at"].clone();
            std::thread::sleep(Duration::from_millis(400));
            let s = call(&app, "sync_state", json!({}));
            if at_rest(&s) && s["last_success_at"] == before {
                break before;
            }
        };
        assert!(first_success.is_string());
        server.kill();
        let attempt_before = call(&app, "sync_state", json!({}))["last_attempt_at"].clone();
        let photo = call(&app, "stage_photo", json!({"image_base64": photo_b64(7)}));
        assert!(photo["thumb_base64"].as_str().unwrap().len() > 100);
        call(
            &app,
            "record_visit",
            visit_args(&child, vec![photo["photo_id"].clone()]),
        );
        let st = call(&app, "sync_state", json!({}));
        assert_eq!(
            st["pending_records"], 3,
            "the visit, its photo and the child's new risk colour wait: {st}"
        );
        assert_eq!(st["pending_photos"], 2, "photo and thumbnail");
        wait_until("a failed attempt after the save", 30, || {
            let s = call(&app, "sync_state", json!({}));
            s["online"] == false
                && s["in_flight"] == false
                && s["last_attempt_at"] != attempt_before
        });
        let st = call(&app, "sync_state", json!({}));
        assert_eq!(
            st["last_success_at"], first_success,
            "a failed attempt is not a sync"
        );
        assert_eq!(st["last_error"]["code"], "network");
        assert!(st["last_error"]["zh"]
            .as_str()
            .unwrap()
            .contains("保存在手机上"));
        let roster = call(&app, "roster", json!({}));
        assert_eq!(
            roster[0]["last_visit_unsynced"], true,
            "visited, not synced"
        );

        server.resume();
        wait_until("the runner syncing by itself", 60, || {
            let s = call(&app, "sync_state", json!({}));
            s["pending_records"] == 0
                && s["pending_photos"] == 0
                && s["last_success_at"] != first_success
        });
        let st = call(&app, "sync_state", json!({}));
        assert!(st["last_error"].is_null());
        assert_eq!(st["online"], true);
        assert_eq!(
            call(&app, "roster", json!({}))[0]["last_visit_unsynced"],
            false
        );
        {
            let ev = events.lock().unwrap();
            assert!(
                ev.iter()
                    .any(|e| matches!(e, AppEvent::SyncProgress(p) if p.bytes_total > 0)),
                "photo upload progress was reported"
            );
            assert!(ev
                .iter()
                .any(|e| matches!(e, AppEvent::SyncState(s) if s.in_flight)));
        }
        // Another phone of the same village receives the visit and its photo's record.
        let mut other = server.device("d1b");
        other.sync().unwrap();
        let export = other.export();
        assert!(export.contains("孩子精神好"), "{}", backend.name());
    }
}

/// "Sync now" answers with the sync under way — never with the state from before the
/// tap, which a person (or the sync screen's button) would read as "done" — and what
/// was saved before the tap is on the server once the phone says the sync is over.
#[test]
fn sync_now_answers_with_the_sync_under_way_and_ends_with_everything_sent() {
    let backend = Backend::Sqlite;
    let server = TestServer::start(&backend);
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config();
    if let Some(r) = cfg.background_sync.as_mut() {
        // Only the taps sync here.
        r.after_save = Duration::from_secs(3600);
        r.probe_base = Duration::from_secs(3600);
        r.probe_cap = Duration::from_secs(3600);
    }
    let app = enrolled_app_with(&server, dir.path(), "d1", cfg);
    wait_until_synced(&app);
    wait_until("the first round over", 30, || {
        call(&app, "sync_state", json!({}))["in_flight"] == false
    });
    for round in 0..3 {
        let mut child = new_child(&format!("李小花{round}"), "v1");
        child["id_number"] = json!(id(&format!("11010520160308{:03}", 2 * round + 2)));
        call(&app, "add_child", child);
        let st = call(&app, "sync_state", json!({}));
        assert!(st["pending_records"].as_u64().unwrap() > 0, "{st}");
        // Two taps in a row: the second comes while the first round may be running.
        let answer = call(&app, "sync_now", json!({"wait": false}));
        assert_eq!(answer["in_flight"], true, "the answer to the tap: {answer}");
        call(&app, "sync_now", json!({"wait": false}));
        wait_until("the taps' rounds over", 30, || {
            call(&app, "sync_state", json!({}))["in_flight"] == false
        });
        let st = call(&app, "sync_state", json!({}));
        assert_eq!(st["pending_records"], 0, "everything saved before the taps is sent: {st}");
        assert!(st["last_error"].is_null(), "{st}");
    }
}

#[test]
fn a_visit_form_is_kept_as_a_draft_until_the_visit_is_saved() {
    let server = TestServer::start(&Backend::Sqlite);
    let dir = tempfile::tempdir().unwrap();
    let child;
    {
        let app = enrolled_app(&server, dir.path(), "d1");
        child = call(&app, "add_child", new_child("李小花", "v1"))["id"].clone();
        let photo = call(&app, "stage_photo", json!({"image_base64": photo_b64(3)}));
        let data = json!({"mode": "phone", "checklist": {"health": {"status": "watch", "note": "咳嗽"}}, "photo_ids": [photo["photo_id"]]});
        call(
            &app,
            "save_draft",
            json!({"kind": "visit", "key": child, "data": data}),
        );
    }
    // The app is gone (killed); opened again, the form is there with its photo.
    let app = DeviceApp::open(dir.path(), config()).unwrap();
    call(&app, "unlock", json!({"pin": PIN}));
    let home = call(&app, "home", json!({}));
    assert_eq!(home["drafts"][0]["kind"], "visit");
    assert_eq!(home["drafts"][0]["child_name"], "李小花");
    let draft = call(&app, "get_draft", json!({"kind": "visit", "key": child}));
    assert_eq!(draft["data"]["checklist"]["health"]["note"], "咳嗽");
    let photo_id = draft["data"]["photo_ids"][0].clone();
    let saved = call(&app, "record_visit", visit_args(&child, vec![photo_id]));
    assert_eq!(saved["photo_ids"].as_array().unwrap().len(), 1);
    assert!(
        call(&app, "get_draft", json!({"kind": "visit", "key": child})).is_null(),
        "saved: the draft is gone"
    );
    let file = call(&app, "child_file", json!({"child_id": child}));
    let photos = &file["visits"][0]["photos"];
    assert_eq!(photos[0]["full_here"], true);
    assert_eq!(file["visits"][0]["sync"]["state"], "on_phone");
}

/// A valid 身份证号 from its first 17 digits.
fn id(first17: &str) -> String {
    format!(
        "{first17}{}",
        domain::id_number::check_digit(first17).unwrap()
    )
}

fn terms() -> Value {
    let today = chrono::Utc::now().date_naive();
    json!({
        "principal": {"name": "李建国", "relation": "father", "id_number": id("11010519850101001"), "phone": "13800000001", "work_location": "广东省东莞市"},
        "caregiver": {"name": "王秀英", "id_number": id("11010519560101002"), "relationship": "外祖母", "health": "良好", "address": "一村3号", "phone": "13800000002"},
        "witness": {"village_committee": "一村村民委员会", "child_director": "王主任"},
        "child": {"name": "李小花", "birth_date": "2016-03-08", "school": "一村小学", "special_needs": "无"},
        "reason": "父母外出务工",
        "period_start": today.to_string(),
        "period_end": (today + chrono::Duration::days(365)).to_string(),
        "renewal": "new_agreement",
        "emergency_contacts": [{"name": "李叔叔", "relationship": "叔叔", "phone": "13800000003"}],
        "medical_authority": true, "weekly_contact_promise": true, "caregiver_declaration": true,
        "child_view": "愿意和外婆一起生活",
    })
}

fn signature(ink: bool) -> Value {
    let img = image::GrayImage::from_fn(300, 120, |x, y| {
        let on = ink
            && ((y as i32 - 60).abs() < 3 || (x as i32 - 150).abs() < 3)
            && (40..260).contains(&x);
        image::Luma([if on { 0 } else { 255 }])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    use base64::Engine;
    json!({"image_base64": base64::engine::general_purpose::STANDARD.encode(out.into_inner()),
           "strokes": {"w": 300, "h": 120, "strokes": [[[40, 60, 0], [260, 60, 300]]]}})
}

#[test]
fn an_agreement_is_signed_on_the_text_read_and_then_locked() {
    let server = TestServer::start(&Backend::Sqlite);
    let dir = tempfile::tempdir().unwrap();
    let app = enrolled_app(&server, dir.path(), "d1");
    let child = call(&app, "add_child", new_child("李小花", "v1"))["id"].clone();
    let draft = call(
        &app,
        "save_agreement_draft",
        json!({"child_id": child, "terms": terms()}),
    )["id"]
        .clone();

    let preview = call(&app, "agreement_preview", json!({"draft_id": draft}));
    assert_eq!(preview["problems"], json!([]), "{preview}");
    let text = preview["text"].as_str().unwrap();
    assert!(text.contains("第二十二条") && text.contains("王秀英"));
    let caregiver_id = id("11010519560101002");
    assert!(
        !text.contains(&caregiver_id),
        "ID numbers are masked on screen"
    );
    assert!(text.contains(&domain::mask_id_number(&caregiver_id)));
    let sha = preview["sha256"].clone();

    // The view masks the ID numbers; sending them back as shown keeps the real ones.
    let file = call(&app, "child_file", json!({"child_id": child}));
    let shown = file["agreement_drafts"][0]["terms"].clone();
    assert_eq!(
        shown["caregiver"]["id_number"],
        domain::mask_id_number(&caregiver_id)
    );
    call(
        &app,
        "save_agreement_draft",
        json!({"child_id": child, "draft_id": draft, "terms": shown}),
    );
    assert_eq!(
        call(&app, "agreement_preview", json!({"draft_id": draft}))["sha256"],
        sha,
        "the stored ID numbers were kept"
    );

    let signers = |ink: bool| {
        json!([
            {"role": "principal", "name": "李建国", "signature": signature(true)},
            {"role": "caregiver", "name": "王秀英", "signature": signature(ink)},
            {"role": "witness", "name": "王主任", "signature": signature(true)},
        ])
    };
    let e = call_err(
        &app,
        "sign_agreement",
        json!({"draft_id": draft, "sha256": "00".repeat(32), "signers": signers(true)}),
    );
    assert_eq!(e.code, "agreement_changed");
    let e = call_err(
        &app,
        "sign_agreement",
        json!({"draft_id": draft, "sha256": sha, "signers": signers(false)}),
    );
    assert_eq!(e.code, "signature_empty", "an empty signature is refused");
    assert!(e.zh.contains("王秀英"), "{}", e.zh);
    assert!(
        call(&app, "child_file", json!({"child_id": child}))["agreements"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    let signed = call(
        &app,
        "sign_agreement",
        json!({"draft_id": draft, "sha256": sha, "signers": signers(true)}),
    );
    assert_eq!(signed["text_sha256"], sha);
    let file = call(&app, "child_file", json!({"child_id": child}));
    let a = &file["agreements"][0];
    assert_eq!(a["signatures"].as_array().unwrap().len(), 3);
    assert!(a["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["bound_to_text"] == true));
    assert_eq!(file["agreement_drafts"][0]["status"], "signed");
    assert_eq!(file["needs_agreement"], false);
    for changed in [terms(), {
        let mut t = terms();
        t["reason"] = json!("父亲外出务工，母亲生病");
        t
    }] {
        let e = call_err(
            &app,
            "save_agreement_draft",
            json!({"child_id": child, "draft_id": draft, "terms": changed}),
        );
        assert_eq!(
            e.code, "agreement_signed",
            "the signed version is locked: {}",
            e.zh
        );
    }
    let locked = call(
        &app,
        "agreement",
        json!({"version_id": signed["version_id"]}),
    );
    let principal_id = id("11010519850101001");
    assert!(locked["text"]
        .as_str()
        .unwrap()
        .contains(&domain::mask_id_number(&principal_id)));
    assert!(!locked["text"].as_str().unwrap().contains(&principal_id));
}

#[test]
fn registering_a_child_keeps_the_guardians_signed_acknowledgement_of_the_notice() {
    let server = TestServer::start(&Backend::Sqlite);
    let dir = tempfile::tempdir().unwrap();
    let app = enrolled_app(&server, dir.path(), "d1");
    let notice = call(&app, "consent_notice", json!({}));
    assert!(notice["zh"].as_str().unwrap().contains("身份证号"));
    let mut args = new_child("李小花", "v1");
    args["consent"] = json!({"signer_name": "王秀英", "signer_role": "grandparent", "signature": signature(false)});
    assert_eq!(
        call_err(&app, "add_child", args.clone()).code,
        "signature_empty"
    );
    assert!(
        call(&app, "roster", json!({}))
            .as_array()
            .unwrap()
            .is_empty(),
        "nothing saved"
    );
    args["consent"]["signature"] = signature(true);
    let child = call(&app, "add_child", args)["id"].clone();
    let file = call(&app, "child_file", json!({"child_id": child}));
    assert_eq!(file["consent_signed"], true);
    assert_eq!(file["consents"][0]["signer_name"], "王秀英");
    // The acknowledgement reaches the server with its image.
    call(&app, "sync_now", json!({"wait": true}));
    let st = call(&app, "sync_state", json!({}));
    assert_eq!(st["pending_records"], 0, "{st}");
    assert_eq!(st["pending_photos"], 0);
    assert_eq!(st["rejected"], json!([]));
}

#[test]
fn a_change_the_server_refuses_stays_in_view_with_its_reason_until_acknowledged() {
    let server = TestServer::start(&Backend::Sqlite);
    let dir = tempfile::tempdir().unwrap();
    let app = enrolled_app(&server, dir.path(), "d1");
    let child = call(&app, "add_child", new_child("李小花", "v1"))["id"].clone();
    call(&app, "sync_now", json!({"wait": true}));
    // The director is moved to another village by the county; this phone does not know
    // yet and edits the child of its old village.
    let csv = tonghu_tests::CITY_CSV.replace("director,d1,王主任,v1", "director,d1,王主任,v2");
    let path = server.data.join("moved.csv");
    std::fs::write(&path, csv).unwrap();
    server.admin(&["import", "--file", path.to_str().unwrap()]);
    call(
        &app,
        "edit_child",
        json!({"child_id": child, "changes": {"notes": "外婆生病住院"}}),
    );
    let _ = app.call("sync_now", json!({"wait": true}));
    let st = call(&app, "sync_state", json!({}));
    let rejected = st["rejected"].as_array().unwrap();
    assert!(!rejected.is_empty(), "the refusal is shown: {st}");
    let r = &rejected[0];
    assert_eq!(r["code"], "out_of_scope");
    assert_eq!(r["child_name"], "李小花");
    assert!(r["zh"].as_str().unwrap().contains("没有权限的村居"), "{r}");
    assert!(!r["todo_zh"].as_str().unwrap().is_empty());
    // The child of the village the phone no longer holds is still on it, with the
    // refusal on its file, until the director acts.
    let file = call(&app, "child_file", json!({"child_id": child}));
    assert_eq!(file["child"]["sync"]["state"], "rejected", "{file}");
    let st = call(
        &app,
        "acknowledge_rejected",
        json!({"device_seq": r["device_seq"]}),
    );
    assert_eq!(st["rejected"].as_array().unwrap().len(), rejected.len() - 1);
}

#[test]
fn the_dispatcher_answers_every_mistake_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let app = DeviceApp::open(dir.path(), config()).unwrap();
    assert_eq!(
        call_err(&app, "make_coffee", json!({})).code,
        "unknown_command"
    );
    // Arguments that do not fit are refused naming the field, in Chinese.
    let e = call_err(&app, "roster", json!({"overdue_only": "yes"}));
    assert_eq!(e.code, "bad_value");
    assert_eq!(e.field.as_deref(), Some("overdue_only"));
    let e = call_err(&app, "roster", json!({"serach": "x"}));
    assert_eq!(e.code, "unknown_field", "unknown fields are refused");
    assert!(e.zh.contains("serach"), "{}", e.zh);
    assert_eq!(call_err(&app, "roster", json!({})).code, "locked");
    assert_eq!(
        call(&app, "app_state", Value::Null)["phase"],
        "needs_enrollment"
    );
    for url in [
        "",
        "ftp://x",
        "http://",
        "not a url at all",
        "http://host/?q=1",
    ] {
        let e = call_err(&app, "enroll", json!({"server_url": url, "code": "x"}));
        assert_eq!(e.code, "bad_server_url", "{url:?}");
        assert!(e.zh.contains("服务器地址"));
    }
    let e = call_err(
        &app,
        "enroll",
        json!({"server_url": "http://127.0.0.1:9", "code": "abc"}),
    );
    assert_eq!(e.code, "network", "nothing listens there: {}", e.en);
    assert_eq!(
        call_err(&app, "set_pin", json!({"pin": PIN})).code,
        "not_enrolled"
    );
    for name in field_app::COMMANDS {
        // Every command answers (an error is fine) and never panics on empty arguments.
        let _ = app.call(name, json!({}));
    }
}

/// The devices the server lists for `account` (the admin CLI's lines, header left out).
fn server_devices(server: &TestServer, account: &str) -> Vec<String> {
    server
        .admin(&["devices", "--account", account])
        .lines()
        .skip(1)
        .map(str::to_string)
        .collect()
}

/// The files of a data folder, by name.
fn files_in(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Waits until everything the phone holds is on the server.
fn wait_until_synced(app: &DeviceApp) {
    wait_until("a sync", 30, || {
        let s = call(app, "sync_state", json!({}));
        s["pending_records"] == 0 && s["last_success_at"].is_string()
    });
}

#[test]
fn a_phone_killed_between_enrolling_and_choosing_its_pin_enrolls_again_with_the_same_code() {
    for backend in backends() {
        let server = TestServer::start(&backend);
        let dir = tempfile::tempdir().unwrap();
        let code = server.enroll_code("d1");
        let app = DeviceApp::open(dir.path(), config()).unwrap();
        let st = call(
            &app,
            "enroll",
            json!({"server_url": server.url, "code": code}),
        );
        assert_eq!(st["phase"], "needs_pin");
        let device_id = st["device_id"].clone();
        assert!(device_id.is_string());
        // Android kills the app (a call comes in) before the director chooses a PIN:
        // the answer, token included, was in memory only.
        drop(app);
        assert_eq!(
            files_in(dir.path()),
            ["enrolling.json"],
            "only the id and the address are on disk"
        );
        let kept: Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("enrolling.json")).unwrap())
                .unwrap();
        assert_eq!(
            kept,
            json!({"device_id": device_id, "server_url": server.url})
        );

        let app = DeviceApp::open(dir.path(), config()).unwrap();
        let st = call(&app, "app_state", json!({}));
        assert_eq!(st["phase"], "needs_enrollment");
        assert_eq!(st["enrolled"], false);
        assert_eq!(
            st["server_url"],
            json!(server.url),
            "the Enroll screen starts with the address typed"
        );
        // The same code again: the same device, a new token.
        let st = call(
            &app,
            "enroll",
            json!({"server_url": server.url, "code": code}),
        );
        assert_eq!(st["phase"], "needs_pin", "{}", backend.name());
        assert_eq!(st["device_id"], device_id, "the same device");
        assert_names_every_village(&st);
        let st = call(&app, "set_pin", json!({"pin": PIN}));
        assert_eq!(
            (st["phase"].as_str(), st["enrolled"].as_bool()),
            (Some("unlocked"), Some(true))
        );
        assert_eq!(st["device_id"], device_id);
        call(&app, "add_child", new_child("李小花", "v1"));
        wait_until_synced(&app);
        let devices = server_devices(&server, "d1");
        assert_eq!(
            devices.len(),
            1,
            "{}: one device: {devices:?}",
            backend.name()
        );
        assert!(devices[0].starts_with(device_id.as_str().unwrap()));
        // The store holds the id now; the address is still remembered.
        let kept: Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("enrolling.json")).unwrap())
                .unwrap();
        assert_eq!(kept, json!({"server_url": server.url}));
        // The phone has used its token: the code is spent for good.
        let mut other = server.device("d1b");
        other.sync().unwrap();
        assert!(other.export().contains("李小花"), "{}", backend.name());
    }
}

#[test]
fn a_phone_killed_while_its_pin_was_being_set_enrolls_again_with_the_same_code() {
    // No background sync: the phone is killed before the store it made is used.
    let quiet = AppConfig {
        background_sync: None,
        ..config()
    };
    for backend in backends() {
        let server = TestServer::start(&backend);
        let dir = tempfile::tempdir().unwrap();
        let code = server.enroll_code("d1");
        let app = DeviceApp::open(dir.path(), quiet.clone()).unwrap();
        let device_id = call(
            &app,
            "enroll",
            json!({"server_url": server.url, "code": code}),
        )["device_id"]
            .clone();
        let kept = std::fs::read(dir.path().join("enrolling.json")).unwrap();
        call(&app, "set_pin", json!({"pin": PIN}));
        drop(app);
        // Killed after the encrypted store took the enrollment, before the key file was
        // written (set_pin writes it last): the folder as that moment leaves it.
        for f in ["keys.json", "lock.json"] {
            std::fs::remove_file(dir.path().join(f)).unwrap();
        }
        std::fs::write(dir.path().join("enrolling.json"), kept).unwrap();

        let app = DeviceApp::open(dir.path(), config()).unwrap();
        let st = call(&app, "app_state", json!({}));
        assert_eq!(
            st["phase"], "needs_enrollment",
            "the keyless store is set aside"
        );
        assert!(files_in(dir.path())
            .iter()
            .any(|f| f.starts_with("device.db.unreadable-")));
        let st = call(
            &app,
            "enroll",
            json!({"server_url": server.url, "code": code}),
        );
        assert_eq!(st["device_id"], device_id, "{}", backend.name());
        call(&app, "set_pin", json!({"pin": PIN}));
        call(&app, "add_child", new_child("王小明", "v1"));
        wait_until_synced(&app);
        assert_eq!(server_devices(&server, "d1").len(), 1, "{}", backend.name());
    }
}

#[test]
fn a_new_code_typed_after_an_enrollment_was_lost_enrolls_the_phone_too() {
    for backend in backends() {
        let server = TestServer::start(&backend);
        let dir = tempfile::tempdir().unwrap();
        let app = DeviceApp::open(dir.path(), config()).unwrap();
        let first = server.enroll_code("d1");
        let lost = call(
            &app,
            "enroll",
            json!({"server_url": server.url, "code": first}),
        )["device_id"]
            .clone();
        drop(app);
        // The township supervisor, asked for help, gave the director a new code: the
        // server holds the lost enrollment under the phone's id, so the phone takes a
        // new id and the new code enrolls it.
        let app = DeviceApp::open(dir.path(), config()).unwrap();
        let second = server.enroll_code("d1");
        let st = call(
            &app,
            "enroll",
            json!({"server_url": server.url, "code": second}),
        );
        assert_eq!(st["phase"], "needs_pin", "{}", backend.name());
        assert_ne!(st["device_id"], lost);
        let device_id = st["device_id"].clone();
        call(&app, "set_pin", json!({"pin": PIN}));
        call(&app, "add_child", new_child("赵小红", "v1"));
        wait_until_synced(&app);
        let devices = server_devices(&server, "d1");
        assert!(
            devices
                .iter()
                .any(|d| d.starts_with(device_id.as_str().unwrap())),
            "{devices:?}"
        );
        // A code another phone used is still refused, in Chinese, on the code field.
        let dir2 = tempfile::tempdir().unwrap();
        let stranger = DeviceApp::open(dir2.path(), config()).unwrap();
        let e = call_err(
            &stranger,
            "enroll",
            json!({"server_url": server.url, "code": second}),
        );
        assert_eq!(
            (e.code.as_str(), e.field.as_deref()),
            ("code_used", Some("code"))
        );
        assert!(e.zh.contains("已经用过"), "{}", e.zh);
    }
}
