//! `fieldctl` as a script or a person uses it: a day's work from the command line, and a
//! clear error in Chinese and English (exit 1, nothing changed) on bad input.

use std::process::Command;

const FIELDCTL: &str = env!("CARGO_BIN_EXE_fieldctl");

fn run(data: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(FIELDCTL)
        .args(["--data", data])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json(data: &str, args: &[&str]) -> serde_json::Value {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    let (ok, out, err) = run(data, &a);
    assert!(ok, "fieldctl {args:?} failed: {out}{err}");
    serde_json::from_str(&out).unwrap()
}

#[test]
fn a_day_of_field_work_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    json(d, &["init", "--village", "v1"]);
    let child = json(
        d,
        &[
            "child",
            "add",
            "--name",
            "李小花",
            "--sex",
            "female",
            "--birth-date",
            "2016-03-08",
            "--village",
            "v1",
            "--category",
            "left_behind",
            "--category",
            "difficulty",
            "--risk",
            "yellow",
            "--id-number",
            "110105201603080024",
        ],
    );
    let id = child["child_id"].as_str().unwrap().to_string();
    // Two guardians.
    json(
        d,
        &[
            "guardian",
            &id,
            "--role",
            "grandparent",
            "--name",
            "李奶奶",
            "--set",
            "phone=13800000000",
        ],
    );
    // A visit with a watch item and a photo.
    let img = image::RgbImage::from_fn(640, 480, |x, y| {
        image::Rgb([(x % 255) as u8, (y % 255) as u8, 90])
    });
    let photo = dir.path().join("home.jpg");
    img.save(&photo).unwrap();
    let v = json(
        d,
        &[
            "visit",
            "add",
            &id,
            "--mode",
            "home",
            "--item",
            "health=watch:感冒两天",
            "--risk",
            "yellow",
            "--photo",
            photo.to_str().unwrap(),
        ],
    );
    assert_eq!(v["photo_ids"].as_array().unwrap().len(), 1);

    let roster = json(d, &["roster", "--search", "lxh"]);
    assert_eq!(roster[0]["name"], "李小花");
    assert_eq!(roster[0]["last_visit_unsynced"], true);
    let file = json(d, &["child", "show", &id]);
    assert_eq!(file["visits"][0]["checklist"]["health"]["note"], "感冒两天");
    assert_eq!(file["guardians"].as_array().unwrap().len(), 1);
    let (ok, human, _) = run(d, &["child", "show", &id]);
    assert!(
        ok && human.contains("1101**********0024"),
        "the ID number is masked on screen: {human}"
    );
    assert!(!human.contains("110105201603080024"));

    let status = json(d, &["status"]);
    assert!(status["outbox_changes"].as_u64().unwrap() > 20);
    assert_eq!(
        status["pending_blobs"], 2,
        "photo and thumbnail wait for upload"
    );
    let (ok, export, _) = run(d, &["export"]);
    assert!(ok && export.contains("\"table\": \"visit\""));
}

#[test]
fn bad_input_prints_chinese_and_english_exits_1_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let before = json(d, &["status"]);
    let (ok, _, err) = run(
        d,
        &[
            "child",
            "add",
            "--name",
            "张三",
            "--sex",
            "male",
            "--birth-date",
            "2016-03-08",
            "--village",
            "v1",
            "--category",
            "left_behind",
            "--id-number",
            "110105201603080021",
        ],
    );
    assert!(!ok);
    assert!(err.contains("身份证号") && err.contains("error:"), "{err}");
    let (ok, out, _) = run(
        d,
        &[
            "--json",
            "child",
            "add",
            "--name",
            "张三",
            "--sex",
            "male",
            "--birth-date",
            "2016-03-08",
            "--village",
            "v1",
            "--category",
            "space_cadet",
        ],
    );
    assert!(!ok);
    let e: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(e["error"]["zh"].as_str().unwrap().contains("类别"), "{e}");
    assert!(!e["error"]["en"].as_str().unwrap().is_empty());
    let bogus = dir.path().join("not-a-photo.jpg");
    std::fs::write(&bogus, b"this is not a jpeg").unwrap();
    let (ok, _, err) = run(
        d,
        &[
            "visit",
            "add",
            "0192f0e4-0000-7000-8000-000000000000",
            "--mode",
            "home",
            "--risk",
            "green",
            "--photo",
            bogus.to_str().unwrap(),
        ],
    );
    assert!(!ok && err.contains("错误"), "{err}");
    // Free disk space moves with everything else on the machine; the rest must not.
    let without_disk = |mut v: serde_json::Value| {
        v.as_object_mut().unwrap().remove("free_storage_bytes");
        v
    };
    assert_eq!(
        without_disk(json(d, &["status"])),
        without_disk(before),
        "nothing changed"
    );
}

#[test]
fn every_mistake_on_the_command_line_is_named_in_chinese_and_english() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    json(d, &["init", "--village", "v1"]);
    let child = json(
        d,
        &[
            "child",
            "add",
            "--name",
            "李小花",
            "--sex",
            "female",
            "--birth-date",
            "2016-03-08",
            "--village",
            "v1",
            "--category",
            "left_behind",
        ],
    )["child_id"]
        .as_str()
        .unwrap()
        .to_string();
    let not_json = dir.path().join("fields.txt");
    std::fs::write(&not_json, "name=王五").unwrap();
    let missing = dir.path().join("no-such-photo.jpg");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "visit".into(),
                "add".into(),
                child.clone(),
                "--photo".into(),
                missing.display().to_string(),
            ],
            "找不到照片",
        ),
        (
            vec![
                "visit".into(),
                "add".into(),
                child.clone(),
                "--photo".into(),
                d.to_string(),
            ],
            "文件夹",
        ),
        (
            vec![
                "visit".into(),
                "add".into(),
                child.clone(),
                "--item".into(),
                "health-watch".into(),
            ],
            "--item",
        ),
        (
            vec![
                "child".into(),
                "edit".into(),
                child.clone(),
                "--fields".into(),
                not_json.display().to_string(),
            ],
            "JSON",
        ),
        (
            vec![
                "child".into(),
                "edit".into(),
                child.clone(),
                "--set".into(),
                "notes".into(),
            ],
            "--set",
        ),
        (
            vec!["child".into(), "show".into(), "not-a-uuid".into()],
            "编号格式不对",
        ),
        (
            vec![
                "enroll".into(),
                "--server".into(),
                "htp:/bad host".into(),
                "--code".into(),
                "x".into(),
            ],
            "服务器地址",
        ),
        (
            vec![
                "agreement".into(),
                "sign".into(),
                child.clone(),
                "--signature".into(),
                "principal-only".into(),
            ],
            "--signature",
        ),
        (
            vec![
                "child".into(),
                "add".into(),
                "--name".into(),
                "张三".into(),
                "--sex".into(),
                "male".into(),
                "--birth-date".into(),
                "1890-01-01".into(),
                "--village".into(),
                "v1".into(),
                "--category".into(),
                "left_behind".into(),
            ],
            "出生日期",
        ),
    ];
    for (args, needle) in cases {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let (ok, _out, err) = run(d, &a);
        assert!(!ok, "{a:?} should fail");
        assert!(
            err.contains("错误：") && err.contains("error:"),
            "{a:?}: {err}"
        );
        assert!(
            err.contains(needle),
            "{a:?} names the problem ({needle}): {err}"
        );
        assert!(
            !err.contains("命令出错") && !err.contains("panicked"),
            "{a:?}: {err}"
        );
    }
}

#[test]
fn a_typed_argument_outside_its_list_is_refused_by_name_not_as_a_bad_request() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    json(d, &["init", "--village", "v1"]);
    let child = json(
        d,
        &[
            "child",
            "add",
            "--name",
            "李小花",
            "--sex",
            "female",
            "--birth-date",
            "2016-03-08",
            "--village",
            "v1",
            "--category",
            "left_behind",
        ],
    )["child_id"]
        .as_str()
        .unwrap()
        .to_string();
    // The device's defaults, not fieldctl's: risk green, on the roster, registered.
    let file = json(d, &["child", "show", &child]);
    assert_eq!(file["child"]["risk_colour"], "green");
    assert_eq!(file["child"]["status"], "active");
    assert_eq!(file["child"]["household_registered"], true);
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["child", "edit", &child, "--set", "nickname=小花"],
            &["nickname", "姓名"],
        ),
        (
            &[
                "child",
                "edit",
                &child,
                "--set",
                "household_registered=maybe",
            ],
            &["是否有户籍", "“是”或“否”", "maybe"],
        ),
        (
            &[
                "visit",
                "add",
                &child,
                "--mode",
                "home",
                "--risk",
                "green",
                "--item",
                "health=fine",
            ],
            &["“fine”", "正常"],
        ),
        (
            &[
                "visit",
                "add",
                &child,
                "--mode",
                "home",
                "--risk",
                "green",
                "--item",
                "food=watch",
            ],
            &["“food”"],
        ),
        (&["visit", "add", &child, "--risk", "green"], &["请填写"]),
        (
            &["visit", "add", &child, "--mode", "home", "--risk", "purple"],
            &["“purple”"],
        ),
    ];
    for (args, needles) in cases {
        let (ok, _, err) = run(d, args);
        assert!(!ok, "{args:?} should be refused");
        assert!(!err.contains("请求内容有误"), "{args:?}: {err}");
        for n in *needles {
            assert!(err.contains(n), "{args:?} names {n}: {err}");
        }
    }
}
