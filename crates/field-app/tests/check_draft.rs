//! A form's problems before anything is saved or signed (`check_draft`): every one at
//! once, blocking or a warning, from the domain's rules and this phone's; and what the
//! device fills in (the next visit by the rule, sex and birth date from the ID number,
//! the agreement's witness). The save commands apply the same rules and fills.

use field_app::{AppConfig, DeviceApp};
use serde_json::{json, Value};
use std::sync::Arc;

fn app(dir: &std::path::Path) -> Arc<DeviceApp> {
    let app = DeviceApp::open_for_script(
        dir,
        AppConfig {
            background_sync: None,
            watch_idle: false,
            ..AppConfig::default()
        },
        None,
    )
    .unwrap();
    app.call("init", json!({"villages": ["v1"]})).unwrap();
    app
}

fn check(app: &DeviceApp, kind: &str, draft: Value) -> Value {
    app.call("check_draft", json!({"kind": kind, "draft": draft}))
        .unwrap()
}

/// (code, field, blocks) of every problem.
fn problems(c: &Value) -> Vec<(String, String, bool)> {
    c["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["code"].as_str().unwrap().to_string(),
                p["field"].as_str().unwrap_or("").to_string(),
                p["blocks"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn has(c: &Value, code: &str, field: &str, blocks: bool) -> bool {
    problems(c)
        .iter()
        .any(|(c, f, b)| c == code && f == field && *b == blocks)
}

fn child(app: &DeviceApp, name: &str, id_number: Option<&str>) -> String {
    let mut args = json!({"name": name, "village_code": "v1", "categories": ["left_behind"],
                          "sex": "female", "birth_date": "2016-03-08"});
    if let Some(id) = id_number {
        args["id_number"] = json!(id);
        args.as_object_mut().unwrap().remove("sex");
        args.as_object_mut().unwrap().remove("birth_date");
    }
    app.call("add_child", args).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn all_normal() -> Value {
    json!({"living": {"status": "normal"}, "guardianship": {"status": "normal"},
           "education": {"status": "normal"}, "health": {"status": "normal"},
           "safety": {"status": "normal"}, "mood": {"status": "normal"}})
}

#[test]
fn a_visit_form_gets_every_problem_at_once_and_a_warning_is_not_a_refusal() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    let id = child(&app, "李小花", None);

    // Half filled: two areas answered (one abnormal without a note), no risk colour,
    // an emergency without the mandatory report.
    let c = check(
        &app,
        "visit",
        json!({"child_id": id, "mode": "home", "emergency": true, "actions": [],
               "checklist": {"living": {"status": "abnormal"}, "health": {"status": "normal"}}}),
    );
    assert_eq!(c["ready"], false);
    assert!(
        has(&c, "abnormal_needs_note", "checklist.living", true),
        "{c}"
    );
    for area in ["guardianship", "education", "safety", "mood"] {
        assert!(
            has(
                &c,
                "checklist_area_missing",
                &format!("checklist.{area}"),
                true
            ),
            "{area}: {c}"
        );
    }
    assert!(
        problems(&c)
            .iter()
            .any(|(_, f, b)| f == "risk_colour" && *b),
        "no risk colour yet: {c}"
    );
    assert!(
        problems(&c).iter().all(|(code, ..)| code != "bad_request"),
        "{c}"
    );

    // Complete but abnormal on a green visit: a warning, the visit may be saved.
    let mut list = all_normal();
    list["health"] = json!({"status": "abnormal", "note": "发烧三天"});
    let c = check(
        &app,
        "visit",
        json!({"child_id": id, "mode": "home", "risk_colour": "green", "checklist": list}),
    );
    assert!(has(&c, "abnormal_but_green", "risk_colour", false), "{c}");
    assert_eq!(c["ready"], true, "{c}");
    assert!(
        c["problems"][0]["zh"].as_str().unwrap().contains("健康"),
        "{c}"
    );

    // An emergency must be reported and red: both said.
    let c = check(
        &app,
        "visit",
        json!({"child_id": id, "mode": "home", "risk_colour": "yellow", "emergency": true,
               "checklist": all_normal()}),
    );
    assert!(has(&c, "emergency_needs_report", "actions", true), "{c}");
    assert!(has(&c, "emergency_must_be_red", "risk_colour", true), "{c}");

    // A child not on this phone.
    let c = check(
        &app,
        "visit",
        json!({"child_id": "0190a3c4-0000-7000-8000-000000000001", "mode": "home",
               "risk_colour": "green", "checklist": all_normal()}),
    );
    assert!(has(&c, "child_not_found", "child_id", true), "{c}");
}

#[test]
fn a_red_child_s_next_visit_is_filled_by_the_rule_like_every_colour_and_the_save_agrees() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    let id = child(&app, "王小明", None);
    let visit = json!({"child_id": id, "mode": "home", "risk_colour": "red",
                       "visited_at": "2026-05-04T10:00:00+08:00", "checklist": all_normal()});
    let c = check(&app, "visit", visit.clone());
    assert_eq!(c["ready"], true, "{c}");
    let next = c["filled"]["next_due_on"].as_str().unwrap().to_string();
    let next = chrono::NaiveDate::parse_from_str(&next, "%Y-%m-%d").unwrap();
    let day = chrono::NaiveDate::from_ymd_opt(2026, 5, 4).unwrap();
    assert!(next > day && (next - day).num_days() <= 31, "{next}");
    // The save fills the same date: no refusal for the date the form left empty.
    let saved = app.call("record_visit", visit).unwrap();
    let file = app.call("child_file", json!({"child_id": id})).unwrap();
    assert_eq!(file["visits"][0]["visit_id"], saved["visit_id"]);
    assert_eq!(file["visits"][0]["next_due_on"], next.to_string());
    // Green too: filled by the child's interval (left-behind: monthly or quarterly).
    let c = check(
        &app,
        "visit",
        json!({"child_id": id, "mode": "home", "risk_colour": "green",
               "visited_at": "2026-05-04T10:00:00+08:00", "checklist": all_normal()}),
    );
    assert!(
        c["filled"]["next_due_on"].as_str().unwrap() > "2026-05-04",
        "{c}"
    );
    // A date the director set is hers.
    let c = check(
        &app,
        "visit",
        json!({"child_id": id, "mode": "home", "risk_colour": "green", "next_due_on": "2026-05-10",
               "visited_at": "2026-05-04T10:00:00+08:00", "checklist": all_normal()}),
    );
    assert!(c["filled"].get("next_due_on").is_none(), "{c}");
}

#[test]
fn a_registration_is_checked_before_the_notice_is_signed() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    // A wrong check digit, no name, no category, a village not held: all at once.
    let c = check(
        &app,
        "child",
        json!({"name": "", "id_number": "110105201603080021", "village_code": "v9",
               "categories": []}),
    );
    assert_eq!(c["ready"], false);
    let codes: Vec<String> = problems(&c).into_iter().map(|(c, ..)| c).collect();
    assert!(
        problems(&c).iter().any(|(_, f, b)| f == "id_number" && *b),
        "the check digit, before any signature: {c}"
    );
    assert!(
        codes.contains(&"village_not_held".to_string())
            || problems(&c).iter().any(|(_, f, _)| f == "village_code"),
        "{c}"
    );
    assert!(problems(&c).len() >= 3, "{c}");

    // A right number: sex and birth date are read from it.
    let c = check(
        &app,
        "child",
        json!({"name": "李小花", "id_number": "110105201603080024", "village_code": "v1",
               "categories": ["left_behind"]}),
    );
    assert_eq!(c["ready"], true, "{c}");
    assert_eq!(c["filled"]["sex"], "female");
    assert_eq!(c["filled"]["birth_date"], "2016-03-08");
    // The registration itself reads them the same way.
    let id = child(&app, "李小花", Some("110105201603080024"));
    let file = app.call("child_file", json!({"child_id": id})).unwrap();
    assert_eq!(file["child"]["sex"], "female");
    assert_eq!(file["child"]["birth_date"], "2016-03-08");
    // 一人一档: the same number again names the file that has it.
    let c = check(
        &app,
        "child",
        json!({"name": "李花", "id_number": "110105201603080024", "village_code": "v1",
               "categories": ["left_behind"]}),
    );
    assert!(has(&c, "duplicate_id_number", "id_number", true), "{c}");
    assert!(c["problems"].to_string().contains("李小花"), "{c}");
}

#[test]
fn the_person_who_signs_the_notice_is_kept_as_a_guardian() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    let png = signature_png();
    let r = app
        .call(
            "add_child",
            json!({"name": "赵小雨", "sex": "female", "birth_date": "2017-01-02",
                   "village_code": "v1", "categories": ["left_behind"],
                   "consent": {"signer_name": "赵奶奶", "signer_role": "grandparent",
                               "signature": {"image_base64": png}}}),
        )
        .unwrap();
    let file = app
        .call("child_file", json!({"child_id": r["id"]}))
        .unwrap();
    let guardians = file["guardians"].as_array().unwrap();
    assert_eq!(guardians.len(), 1, "{file}");
    assert_eq!(guardians[0]["name"], "赵奶奶");
    assert_eq!(guardians[0]["role"], "grandparent");
    assert_eq!(file["consent_signed"], true);
    // Signing again later does not add her twice.
    app.call(
        "sign_consent",
        json!({"child_id": r["id"], "consent": {"signer_name": "赵奶奶", "signer_role": "grandparent",
                                                 "signature": {"image_base64": png}}}),
    )
    .unwrap();
    let file = app
        .call("child_file", json!({"child_id": r["id"]}))
        .unwrap();
    assert_eq!(file["guardians"].as_array().unwrap().len(), 1, "{file}");
    // An entrusted caregiver is a guardian with her relationship to the child: given,
    // she is kept; not given, the registration and its signature still stand, and the
    // draft's check said what to add before the signing step.
    let c = check(
        &app,
        "child",
        json!({"name": "周小安", "sex": "male", "birth_date": "2015-02-03", "village_code": "v1",
               "categories": ["left_behind"],
               "consent": {"signer_name": "张秀英", "signer_role": "entrusted_caregiver"}}),
    );
    assert!(
        has(&c, "required", "consent.signer_relationship", false),
        "{c}"
    );
    assert_eq!(c["ready"], true, "a warning: {c}");
    for (relationship, kept) in [(None, 0), (Some("姑姑"), 1)] {
        let mut consent = json!({"signer_name": "张秀英", "signer_role": "entrusted_caregiver",
                                 "signature": {"image_base64": png}});
        if let Some(r) = relationship {
            consent["signer_relationship"] = json!(r);
        }
        let r = app
            .call(
                "add_child",
                json!({"name": "周小安", "sex": "male", "birth_date": "2015-02-03",
                       "village_code": "v1", "categories": ["left_behind"], "consent": consent}),
            )
            .unwrap();
        let file = app
            .call("child_file", json!({"child_id": r["id"]}))
            .unwrap();
        assert_eq!(
            file["consent_signed"], true,
            "the signature is kept: {file}"
        );
        assert_eq!(file["guardians"].as_array().unwrap().len(), kept, "{file}");
    }
}

#[test]
fn an_agreement_lists_everything_missing_at_once_and_its_witness_is_filled() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    let id = child(&app, "钱小军", None);
    let c = check(&app, "agreement", json!({"child_id": id, "terms": {}}));
    assert_eq!(c["ready"], false);
    let fields: Vec<String> = problems(&c).into_iter().map(|(_, f, _)| f).collect();
    for f in [
        "principal.name",
        "principal.phone",
        "caregiver.name",
        "caregiver.phone",
        "reason",
        "period",
        "emergency_contacts",
        "weekly_contact_promise",
        "caregiver_declaration",
    ] {
        let f = format!("terms.{f}");
        assert!(fields.contains(&f), "{f} missing from {fields:?}");
    }
    assert!(
        !fields.iter().any(|x| x == "terms.witness"),
        "the witness is filled, not asked for: {c}"
    );
    assert_eq!(
        c["filled"]["terms.witness.village_committee"],
        "v1村民委员会"
    );
    assert!(c["filled"]["terms.witness.child_director"]
        .as_str()
        .unwrap()
        .contains("儿童主任"));
    // A new draft keeps the filled witness; its preview lists the same gaps at once.
    let d = app
        .call("save_agreement_draft", json!({"child_id": id, "terms": {}}))
        .unwrap();
    let p = app
        .call("agreement_preview", json!({"draft_id": d["id"]}))
        .unwrap();
    assert!(p["problems"].as_array().unwrap().len() >= 9, "{p}");
    assert!(p["text"].as_str().unwrap().contains("v1村民委员会"));
}

/// A small PNG with a stroke on it (a signature that is not blank).
fn signature_png() -> String {
    use base64::Engine;
    let mut img = image::GrayImage::from_pixel(200, 80, image::Luma([255]));
    for x in 20..180 {
        for y in 38..42 {
            img.put_pixel(x, y, image::Luma([0]));
        }
    }
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    base64::engine::general_purpose::STANDARD.encode(png)
}

#[test]
fn a_new_pin_is_checked_as_it_is_typed_even_before_the_phone_has_a_pin() {
    let dir = tempfile::tempdir().unwrap();
    // A phone with no PIN and no store open yet: the rules are answered all the same.
    let app = DeviceApp::open(
        dir.path(),
        AppConfig {
            background_sync: None,
            watch_idle: false,
            ..AppConfig::default()
        },
    )
    .unwrap();
    let pin = |p: &str| check(&app, "pin", json!({ "pin": p }));
    for (typed, zh) in [
        ("1234", "6 到 12 位"),
        ("111111", "同一个数字"),
        ("345678", "连续"),
        ("987654", "连续"),
    ] {
        let c = pin(typed);
        assert_eq!(c["ready"], false, "{typed}");
        assert!(has(&c, "weak_pin", "pin", true), "{typed}: {c}");
        assert!(
            c["problems"][0]["zh"].as_str().unwrap().contains(zh),
            "{typed}: {c}"
        );
    }
    let c = pin("428613");
    assert_eq!(
        (c["ready"].clone(), c["problems"].clone()),
        (json!(true), json!([]))
    );
}
