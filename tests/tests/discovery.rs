//! Active discovery end to end: real phones (field-store on disk) and the real
//! sync-server binary over loopback, on SQLite and PostgreSQL. The county imports a
//! month's list with the admin CLI (`sync-server admin import-list`); each village's
//! phone receives its own tasks and no other's; a director closes one and the closing
//! syncs back; the same list imported again writes nothing and the closed task stays
//! closed; a phone's attempt to rewrite a finding is refused on the phone with its
//! reason.

use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use tonghu_tests::{backends, obj, Device, TestServer};
use uuid::Uuid;

fn id(birth: &str, seq: u32) -> String {
    let first17 = format!("370602{birth}{seq:03}");
    let c = domain::id_number::check_digit(&first17).unwrap();
    format!("{first17}{c}")
}

/// The task rows a phone holds: id → fields.
fn tasks(d: &Device) -> BTreeMap<Uuid, Map<String, Value>> {
    let mut out = BTreeMap::new();
    d.store
        .for_each_record(|r| {
            if r.table == "task" {
                out.insert(r.row_id, r.doc.clone());
            }
            Ok(())
        })
        .unwrap();
    out
}

fn kind(t: &Map<String, Value>) -> &str {
    t["details"]["finding"].as_str().unwrap_or("")
}

#[test]
fn a_county_s_list_reaches_exactly_its_villages_phones_and_a_closing_comes_back() {
    for backend in backends() {
        let server = TestServer::start(&backend);
        let (mut d1, mut d2, mut d3) = (
            server.device("d1"),
            server.device("d2"),
            server.device("d3"),
        );
        // 一村's child and its mother, registered on the phone.
        let child = d1.add_child("周小五", "v1");
        d1.store
            .edit_record(
                "child",
                child,
                obj(json!({"id_number": id("20160308", 12)})),
            )
            .unwrap();
        let mother = id("19880101", 22);
        d1.store
            .add_record(
                "guardian",
                obj(json!({"child_id": child.to_string(), "role": "mother", "name": "周母", "id_number": mother})),
            )
            .unwrap();
        d1.sync().unwrap();

        let list = format!(
            "姓名,身份证号,所在村,残疾等级\r\n新童一,{},一村,二级\r\n新童三,{},三村,一级\r\n周母,{mother},一村,一级\r\n",
            id("20180505", 82),
            id("20190101", 13)
        );
        let file = server.data.join("list.csv");
        std::fs::write(&file, list).unwrap();
        let args = [
            "import-list",
            "--account",
            "a1",
            "--kind",
            "disability_care",
            "--month",
            "2026-05",
            "--file",
            file.to_str().unwrap(),
        ];
        let out = server.admin(&args);
        assert!(out.contains("3 new tasks"), "{}: {out}", backend.name());

        for d in [&mut d1, &mut d2, &mut d3] {
            d.sync().unwrap();
        }
        let (t1, t2, t3) = (tasks(&d1), tasks(&d2), tasks(&d3));
        let mut k1: Vec<&str> = t1.values().map(kind).collect();
        k1.sort();
        assert_eq!(
            k1,
            ["guardian_listed", "unlisted_minor"],
            "{}",
            backend.name()
        );
        assert!(t2.is_empty(), "二村's phone holds no other village's task");
        assert_eq!(t3.len(), 1);
        let (&task3, t) = t3.iter().next().unwrap();
        assert_eq!(t["details"]["person"]["name"], "新童三");
        let guardian = t1.values().find(|t| kind(t) == "guardian_listed").unwrap();
        assert_eq!(guardian["child_id"], json!(child.to_string()));
        // The phone reads every task with the domain's task type.
        for t in t1.values().chain(t3.values()) {
            assert!(domain::Task::from_fields(t).unwrap().finding().is_some());
        }

        // 三村's director closes the task: not found, moved away.
        d3.store
            .edit_record(
                "task",
                task3,
                obj(json!({"done_on": d3.store.today().to_string(), "outcome": "not_found_or_moved", "outcome_note": "已随父母迁往外省"})),
            )
            .unwrap();
        let report = d3.sync().unwrap();
        assert!(
            d3.store.rejected_changes().unwrap().is_empty(),
            "{report:?}"
        );

        // The same list again: nothing new; the closed task stays closed everywhere.
        let out = server.admin(&args);
        assert!(out.contains("0 new tasks"), "{out}");
        let mut other = server.device("d3");
        other.sync().unwrap();
        let t = &tasks(&other)[&task3];
        assert_eq!(t["outcome"], "not_found_or_moved");
        assert_eq!(t["outcome_note"], "已随父母迁往外省");

        // A phone rewriting a finding is refused on the phone itself, saying why, and
        // nothing is queued (the server's own refusal of such a push, from a phone
        // that would send it anyway, is tested in sync-server/tests/discovery.rs).
        let (&task1, _) = t1.iter().next().unwrap();
        let e = d1
            .store
            .edit_record("task", task1, obj(json!({"title": "改过的标题"})))
            .unwrap_err();
        assert_eq!(e.code(), "server_only", "{}", backend.name());
        assert!(e.zh().contains("任务"), "{}", e.zh());
        assert!(d1.store.pending_changes(usize::MAX).unwrap().is_empty());
        d1.sync().unwrap();
        let mut fresh = server.device("d1");
        fresh.sync().unwrap();
        assert_ne!(tasks(&fresh)[&task1]["title"], "改过的标题");
    }
}
