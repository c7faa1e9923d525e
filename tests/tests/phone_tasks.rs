//! Active discovery on the phone, end to end: the real sync-server binary over
//! loopback (SQLite and PostgreSQL), the county's list imported with the server's own
//! CLI, phones of this release through their device API (encrypted store, the one
//! dispatcher). The director registers the listed child from the pre-filled form (the
//! task closes in the same save), the closing reaches the village's other phone, the
//! county sends it back and then confirms it in the console, and the phone's file says
//! so; two directors closing the same task converge; a closing the server refuses
//! stays visible with its reason; the server's newest version reaches the phone.

use serde_json::{json, Value};
use tonghu_tests::county::{id_number, import_list, CountyConsole};
use tonghu_tests::phone::Phone;
use tonghu_tests::{backends, TestServer};

const MONTH: &str = "2026-05";

/// 一村's list: one minor not on the roster.
fn one_minor(name: &str, id: &str) -> String {
    format!("姓名,身份证号,所在村\r\n{name},{id},一村\r\n")
}

fn only_task(p: &Phone) -> Value {
    let home = p.call("home", json!({}));
    let tasks = home["tasks"].as_array().unwrap().clone();
    assert_eq!(tasks.len(), 1, "{home}");
    tasks[0].clone()
}

#[test]
fn a_listed_child_is_registered_on_the_phone_and_the_county_confirms_it() {
    for backend in backends() {
        let server = TestServer::start(&backend);
        let p1 = Phone::enrolled(&server, "d1");
        let p1b = Phone::enrolled(&server, "d1b");
        let listed = id_number("20150505", 81);
        let out = import_list(
            &server,
            "a1",
            "dibao_rural",
            MONTH,
            &one_minor("新童一", &listed),
        );
        assert!(out.contains("1 new tasks"), "{}: {out}", backend.name());

        p1.sync();
        let t = only_task(&p1);
        assert_eq!(t["age_days"], 0, "written today");
        assert_eq!(t["finding"]["person"]["name"], "新童一");
        assert_eq!(t["finding"]["list_month"], MONTH);
        let task = t["task_id"].clone();
        let d = p1.call("task", json!({"task_id": task}));
        assert!(!d.to_string().contains(&listed), "masked everywhere: {d}");
        let mut form = d["register"].clone();
        form["categories"] = json!(["key_difficulty"]);
        let child = p1.call("add_child", form)["id"].clone();
        let st = p1.sync();
        assert_eq!(st["rejected"], json!([]), "{}: {st}", backend.name());
        assert_eq!(st["pending_records"], 0);

        // The village's other phone: the task closed as registered, naming the file.
        p1b.sync();
        assert_eq!(p1b.call("home", json!({}))["tasks"], json!([]));
        let d = p1b.call("task", json!({"task_id": task}));
        assert_eq!(d["closing"]["outcome"], "registered", "{d}");
        assert_eq!(d["closing"]["child_id"], child);
        assert_eq!(d["closing"]["child_name"], "新童一");
        let file = p1b.call("child_file", json!({"child_id": child}));
        assert_eq!(file["county"]["state"], "awaiting");
        assert_eq!(file["county"]["kind"], "addition");

        // The county sends it back; the phone shows the reason.
        let mut county = CountyConsole::first_login(&server, "a1");
        county.send_back(child.as_str().unwrap().parse().unwrap(), "请补充户籍证明");
        p1.sync();
        let file = p1.call("child_file", json!({"child_id": child}));
        assert_eq!(file["county"]["state"], "sent_back", "{}", backend.name());
        assert_eq!(file["county"]["sent_back"]["reason"], "请补充户籍证明");
        // The director corrects the file: it awaits the county again.
        p1.call(
            "edit_child",
            json!({"child_id": child, "changes": {"categories": ["key_difficulty", "difficulty"]}}),
        );
        let file = p1.call("child_file", json!({"child_id": child}));
        assert_eq!(file["county"]["state"], "awaiting");
        p1.sync();

        // Confirmed: the day brought into care and the monthly standard (the dated
        // table's 1,785 yuan for a key child in difficulty).
        county.confirm(child.as_str().unwrap().parse().unwrap(), Some("2026-05-20"));
        p1.sync();
        let file = p1.call("child_file", json!({"child_id": child}));
        assert_eq!(
            file["county"]["state"],
            "confirmed",
            "{}: {file}",
            backend.name()
        );
        let c = &file["county"]["confirmed"];
        assert_eq!(c["in_care_since"], "2026-05-20");
        assert_eq!(c["monthly_standard_yuan"], 1785);
        assert_eq!(c["kind"], "addition");
        // The task shows on the file it made.
        assert_eq!(file["tasks"][0]["outcome"], "registered");
    }
}

#[test]
fn two_directors_closing_the_same_task_converge_on_every_phone() {
    for backend in backends() {
        let server = TestServer::start(&backend);
        let p1 = Phone::enrolled(&server, "d1");
        let p1b = Phone::enrolled(&server, "d1b");
        import_list(
            &server,
            "a1",
            "dibao_rural",
            MONTH,
            &one_minor("新童二", &id_number("20160606", 82)),
        );
        p1.sync();
        p1b.sync();
        let task = only_task(&p1)["task_id"].clone();
        // Both visit the family the same day, neither has signal.
        p1.call(
            "close_task",
            json!({"task_id": task, "outcome": "not_eligible", "note": "父母均在本地务工，收入已超标准"}),
        );
        p1b.call(
            "close_task",
            json!({"task_id": task, "outcome": "not_found_or_moved", "note": "已随父母迁往烟台市区"}),
        );
        p1.sync();
        p1b.sync();
        p1.sync();
        let a = p1.call("task", json!({"task_id": task}))["closing"].clone();
        let b = p1b.call("task", json!({"task_id": task}))["closing"].clone();
        assert_eq!(a, b, "{}: one closing on both phones", backend.name());
        assert!(
            ["not_eligible", "not_found_or_moved"].contains(&a["outcome"].as_str().unwrap()),
            "{a}"
        );
        // Outcome and note are one director's, never a mix of the two.
        let note = a["note"].as_str().unwrap();
        match a["outcome"].as_str().unwrap() {
            "not_eligible" => assert!(note.contains("收入"), "{a}"),
            _ => assert!(note.contains("迁往"), "{a}"),
        }
        let rows = |p: &Phone| -> Vec<Value> {
            p.export()
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["table"] == "task")
                .cloned()
                .collect()
        };
        assert_eq!(rows(&p1), rows(&p1b), "{}", backend.name());
    }
}

#[test]
fn a_closing_the_server_refuses_stays_on_the_phone_with_its_reason() {
    for backend in backends() {
        let server = TestServer::start(&backend);
        let p1 = Phone::enrolled(&server, "d1");
        import_list(
            &server,
            "a1",
            "dibao_rural",
            MONTH,
            &one_minor("新童三", &id_number("20170707", 83)),
        );
        p1.sync();
        let task = only_task(&p1)["task_id"].clone();
        p1.call(
            "close_task",
            json!({"task_id": task, "outcome": "not_eligible", "note": "不符合困境儿童条件"}),
        );
        // Before the phone syncs, the county gives the director another village.
        let csv = tonghu_tests::CITY_CSV.replace("director,d1,王主任,v1", "director,d1,王主任,v2");
        let file = server.data.join("moved.csv");
        std::fs::write(&file, csv).unwrap();
        server.admin(&["import", "--file", file.to_str().unwrap()]);
        let st = p1.sync();
        let refused: Vec<&Value> = st["rejected"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["table"] == "task")
            .collect();
        assert!(!refused.is_empty(), "{}: {st}", backend.name());
        assert!(refused[0]["zh"]
            .as_str()
            .unwrap()
            .chars()
            .any(|c| c > '\u{2e80}'));
        // The task is still on the phone, saying why its closing did not count.
        let d = p1.call("task", json!({"task_id": task}));
        assert_eq!(d["task"]["sync"]["state"], "rejected", "{d}");
        assert!(!d["rejected"].as_array().unwrap().is_empty());
        assert_eq!(d["closing"]["outcome"], "not_eligible");
    }
}

#[test]
fn a_phone_is_told_when_the_server_offers_a_newer_app() {
    for backend in backends() {
        let server = TestServer::start_with(&backend, &[("TONGHU_LATEST_APP_VERSION", "99.1.0")]);
        let p = Phone::enrolled(&server, "d2");
        let st = p.sync();
        assert_eq!(st["update_available"], "99.1.0", "{}: {st}", backend.name());
        assert_eq!(st["app_version"], field_app::APP_VERSION);
        let server = TestServer::start(&backend);
        let p = Phone::enrolled(&server, "d2");
        assert!(p.sync()["update_available"].is_null());
    }
}
