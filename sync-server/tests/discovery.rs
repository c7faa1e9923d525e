//! Active discovery over real storage (SQLite and PostgreSQL) and a real server on
//! loopback: a month's list becomes exactly the expected tasks in the expected
//! villages, written by the server's own replica through the same push as a phone's;
//! the same file again writes nothing; next month adds only what is new and reopens
//! nothing a director closed; each village's phone receives its own tasks only; a
//! director closing a task while the list is imported again keeps the outcome; the
//! household and guardian matches; a phone cannot write what only the server writes;
//! the county confirms a child into care with the standard of the day.

mod common;

use common::{Backend, Device, TestServer};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use sync_server::discovery::{acting_admin, Read};
use uuid::Uuid;

/// A valid ID number for a birth date and sequence.
fn id(birth: &str, seq: u32) -> String {
    let first17 = format!("370602{birth}{seq:03}");
    let c = domain::id_number::check_digit(&first17).unwrap();
    format!("{first17}{c}")
}

struct Family {
    child_a: Uuid,
    child_b: Uuid,
    mother_a: String,
    father_b: String,
}

/// The roster the directors registered on their phones: a child in 甲村 with its
/// mother, a child in 乙村 with its father.
async fn register(s: &TestServer, a: &Device, b: &Device) -> Family {
    let mother_a = id("19880101", 12);
    let father_b = id("19800101", 71);
    let (child_a, mut ca) = a.new_child("A", "甲童");
    ca.push(a.change(
        "child",
        child_a,
        "id_number",
        json!(id("20140302", 11)),
        "A",
    ));
    let g = Uuid::now_v7();
    ca.extend(a.write(
        "guardian",
        g,
        [
            ("child_id", json!(child_a.to_string())),
            ("role", json!("mother")),
            ("name", json!("甲母")),
            ("id_number", json!(mother_a.clone())),
        ],
        "A",
    ));
    assert!(a.push(&ca).await.rejected.is_empty());
    let (child_b, mut cb) = b.new_child("B", "乙童");
    cb.push(b.change(
        "child",
        child_b,
        "id_number",
        json!(id("20150101", 21)),
        "B",
    ));
    let g = Uuid::now_v7();
    cb.extend(b.write(
        "guardian",
        g,
        [
            ("child_id", json!(child_b.to_string())),
            ("role", json!("father")),
            ("name", json!("乙父")),
            ("id_number", json!(father_b.clone())),
        ],
        "B",
    ));
    assert!(b.push(&cb).await.rejected.is_empty());
    let _ = s;
    Family {
        child_a,
        child_b,
        mother_a,
        father_b,
    }
}

/// May's 重度残疾人护理补贴 list, as a county office would save it: a title row, the
/// header, people, a bad line and trailing empty lines.
fn may_list(f: &Family) -> String {
    let lines = [
        "2026年5月重度残疾人护理补贴发放名单,,,,,,".to_string(),
        "序号,姓名,身份证号码,所在村（社区）,户主身份证号,与户主关系,残疾等级".to_string(),
        format!("1,新童甲,{},甲村,,,二级", id("20180505", 82)),
        format!("2,新童丙,{},丙村,,,一级", id("20190101", 13)),
        format!("3,甲母,{},甲村,,本人,一级", f.mother_a),
        format!(
            "4,乙祖母,{},乙村,{},母亲,二级",
            id("19550101", 92),
            f.father_b
        ),
        format!("5,路人,{},乙村,,本人,三级", id("19700101", 33)),
        format!("6,无村童,{},远方村,,,四级", id("20170101", 43)),
        "7,坏号,3.70602E+17,甲村,,,一级".to_string(),
        ",,,,,,".to_string(),
        ",,,,,,".to_string(),
    ];
    lines.join("\r\n") + "\r\n"
}

async fn import(
    s: &TestServer,
    bytes: &[u8],
    name: &str,
    month: &str,
) -> (
    sync_server::discovery::Figures,
    sync_server::store::discovery::ImportRecord,
) {
    let db = s.state.db.as_ref();
    let admin = acting_admin(db, "admin").await.unwrap().unwrap();
    let (read, _) = s
        .state
        .discovery
        .read(db, &admin, name, bytes, "disability_care", month)
        .await
        .unwrap();
    let Read::Ready(p) = read else {
        panic!("the header is recognised")
    };
    let figures = p.figures();
    let today = chrono::NaiveDate::parse_from_str(&format!("{month}-20"), "%Y-%m-%d").unwrap();
    let record = s
        .state
        .discovery
        .commit(db, &admin, &p, today, &|_, _| {})
        .await
        .unwrap();
    (figures, record)
}

/// Task rows a device pulls: id → fields.
async fn tasks_of(d: &Device) -> std::collections::BTreeMap<Uuid, serde_json::Map<String, Value>> {
    let (changes, _) = d.pull_all(0).await;
    let mut out: std::collections::BTreeMap<Uuid, serde_json::Map<String, Value>> =
        Default::default();
    for c in changes.into_iter().filter(|c| c.change.table == "task") {
        out.entry(c.change.row_id)
            .or_default()
            .insert(c.change.field.clone(), c.change.value.clone());
    }
    out
}

fn finding_kind(fields: &serde_json::Map<String, Value>) -> String {
    fields["details"]["finding"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

async fn a_list_becomes_exactly_the_expected_tasks_and_again_writes_nothing(b: Backend) {
    let s = TestServer::start(b).await;
    let (a, bb, c) = (
        s.device("dir-a").await,
        s.device("dir-b").await,
        s.device("dir-c").await,
    );
    let fam = register(&s, &a, &bb).await;
    let (f, record) = import(&s, may_list(&fam).as_bytes(), "may.csv", "2026-05").await;
    assert_eq!(
        (
            f.rows_read,
            f.minors,
            f.on_roster,
            f.findings,
            f.new_tasks,
            f.new_queued,
            f.invalid_rows,
            f.no_village
        ),
        (7, 3, 1, 5, 4, 1, 1, 1),
        "{f:?}"
    );
    assert_eq!(record.new_tasks, 4);

    // Each phone receives its village's tasks, and no other's.
    let ta = tasks_of(&a).await;
    let kinds_a: BTreeSet<String> = ta.values().map(finding_kind).collect();
    assert_eq!(
        kinds_a,
        ["guardian_listed", "unlisted_minor"]
            .map(String::from)
            .into()
    );
    assert!(ta.values().all(|t| t["village_code"] == "A"));
    let guardian = ta
        .values()
        .find(|t| finding_kind(t) == "guardian_listed")
        .unwrap();
    assert_eq!(guardian["child_id"], json!(fam.child_a.to_string()));
    assert_eq!(
        guardian["kind"], "other",
        "a kind every released phone knows"
    );
    assert!(
        guardian["title"]
            .as_str()
            .unwrap()
            .contains("甲童的母亲甲母"),
        "{}",
        guardian["title"]
    );
    assert!(
        guardian.get("outcome").is_none(),
        "the server writes no closing field"
    );
    let tb = tasks_of(&bb).await;
    assert_eq!(tb.len(), 1);
    let household = tb.values().next().unwrap();
    assert_eq!(finding_kind(household), "household_listed");
    assert_eq!(household["child_id"], json!(fam.child_b.to_string()));
    let tc = tasks_of(&c).await;
    assert_eq!(tc.len(), 1);
    let minor = tc.values().next().unwrap();
    assert_eq!(minor["kind"], "check_listed_minor");
    assert_eq!(minor["details"]["person"]["name"], "新童丙");
    assert_eq!(
        minor["details"]["person"]["id_number"],
        json!(id("20190101", 13))
    );
    // Nobody who matched nothing is stored anywhere.
    let all = format!("{ta:?}{tb:?}{tc:?}");
    assert!(!all.contains("路人"));
    // A phone on the release before discovery parses a task with the TASK fields of
    // its time and refuses any other (its Task::from_fields): the server writes only
    // those, so the task shows there (git show 4751fcb:crates/domain/src/schema.rs).
    const PREVIOUS_RELEASE_TASK_FIELDS: [&str; 8] = [
        "kind",
        "village_code",
        "child_id",
        "title",
        "details",
        "due_on",
        "done_on",
        "deleted",
    ];
    for t in ta.values().chain(tb.values()).chain(tc.values()) {
        for field in t.keys() {
            assert!(
                PREVIOUS_RELEASE_TASK_FIELDS.contains(&field.as_str()),
                "{field}"
            );
        }
        assert!(["check_listed_minor", "other"].contains(&t["kind"].as_str().unwrap()));
    }
    // Every task passes the device's own rules as a task (what a phone will check).
    for t in ta.values().chain(tb.values()).chain(tc.values()) {
        let task = domain::Task::from_fields(t).unwrap();
        assert!(task.finding().is_some());
    }

    // The same file again: nothing new, nothing written.
    let (_, cursor) = c.pull_all(0).await;
    let (f, record) = import(&s, may_list(&fam).as_bytes(), "may.csv", "2026-05").await;
    assert_eq!(
        (f.new_tasks, f.new_queued, record.new_tasks),
        (0, 0, 0),
        "{f:?}"
    );
    let (again, _) = c.pull_all(cursor).await;
    assert!(again.is_empty(), "no change fed: {again:?}");
    let (_, cursor_a) = a.pull_all(0).await;
    let (again, _) = a.pull_all(cursor_a).await;
    assert!(again.is_empty());
}

async fn next_month_adds_only_the_new_and_reopens_nothing_a_director_closed(b: Backend) {
    let s = TestServer::start(b).await;
    let (a, bb, c) = (
        s.device("dir-a").await,
        s.device("dir-b").await,
        s.device("dir-c").await,
    );
    let fam = register(&s, &a, &bb).await;
    import(&s, may_list(&fam).as_bytes(), "may.csv", "2026-05").await;
    // The director of 丙村 closes the minor's task: not found, moved away.
    let tc = tasks_of(&c).await;
    let (&task, _) = tc.iter().next().unwrap();
    let closing = c.write(
        "task",
        task,
        [
            ("done_on", json!("2026-05-22")),
            ("outcome", json!("not_found_or_moved")),
            ("outcome_note", json!("已随父母迁往外省")),
        ],
        "C",
    );
    assert!(c.push(&closing).await.rejected.is_empty());

    // June: the same people, one more minor in 乙村, and the grandmother gone.
    let june = may_list(&fam).replace("2026年5月", "2026年6月").replace(
        &format!(
            "4,乙祖母,{},乙村,{},母亲,二级",
            id("19550101", 92),
            fam.father_b
        ),
        "",
    ) + &format!("8,新童乙,{},乙村,,,二级\r\n", id("20200303", 54));
    let (f, record) = import(&s, june.as_bytes(), "june.csv", "2026-06").await;
    // New: 新童乙's task, and 乙童's family leaving the list (a review).
    assert_eq!((f.new_tasks, record.new_tasks), (2, 2), "{f:?}");
    let tb = tasks_of(&bb).await;
    let kinds: BTreeSet<String> = tb.values().map(finding_kind).collect();
    assert_eq!(
        kinds,
        ["household_listed", "left_list", "unlisted_minor"]
            .map(String::from)
            .into()
    );
    // 丙村's closed task is still closed as the director left it.
    let tc = tasks_of(&c).await;
    assert_eq!(tc.len(), 1);
    assert_eq!(tc[&task]["outcome"], "not_found_or_moved");
    assert_eq!(tc[&task]["done_on"], "2026-05-22");
    assert_eq!(tc[&task]["outcome_note"], "已随父母迁往外省");
}

async fn a_director_closing_while_the_list_is_imported_again_keeps_the_outcome(b: Backend) {
    let s = TestServer::start(b).await;
    let (a, bb) = (s.device("dir-a").await, s.device("dir-b").await);
    let fam = register(&s, &a, &bb).await;
    import(&s, may_list(&fam).as_bytes(), "may.csv", "2026-05").await;
    let ta = tasks_of(&a).await;
    let task = *ta
        .iter()
        .find(|(_, t)| finding_kind(t) == "unlisted_minor")
        .unwrap()
        .0;
    let child = Uuid::now_v7();
    let closing = a.write(
        "task",
        task,
        [
            ("done_on", json!("2026-05-21")),
            ("outcome", json!("registered")),
            ("outcome_child_id", json!(child.to_string())),
        ],
        "A",
    );
    // The import and the director's push at the same moment.
    let list = may_list(&fam);
    let (imported, pushed) = tokio::join!(
        import(&s, list.as_bytes(), "may.csv", "2026-05"),
        a.push(&closing)
    );
    assert!(pushed.rejected.is_empty());
    assert_eq!(imported.0.new_tasks, 0);
    let ta = tasks_of(&a).await;
    assert_eq!(ta[&task]["outcome"], "registered");
    assert_eq!(ta[&task]["outcome_child_id"], json!(child.to_string()));
    // And the server's history of the task: its creation by the replica, then the
    // director's closing — nothing of the server after.
    let audit = s.state.db.audit_row(task).await.unwrap();
    let last_server = audit
        .iter()
        .rposition(|e| e.account_login == "tonghu-server")
        .unwrap();
    let first_director = audit
        .iter()
        .position(|e| e.account_login == "dir-a")
        .unwrap();
    assert!(last_server < first_director, "{audit:?}");
}

async fn a_phone_cannot_write_a_finding_or_a_county_decision(b: Backend) {
    let s = TestServer::start(b).await;
    let (a, bb) = (s.device("dir-a").await, s.device("dir-b").await);
    let fam = register(&s, &a, &bb).await;
    import(&s, may_list(&fam).as_bytes(), "may.csv", "2026-05").await;
    let ta = tasks_of(&a).await;
    let (&task, _) = ta.iter().next().unwrap();
    let forged = vec![
        a.change(
            "task",
            task,
            "details",
            json!({"source": "active_discovery"}),
            "A",
        ),
        a.change("task", task, "due_on", json!("2030-01-01"), "A"),
        a.change(
            "county_decision",
            domain::care::decision_row_id(fam.child_a),
            "confirmed",
            json!({"kind": "addition"}),
            "A",
        ),
    ];
    let r = a.push(&forged).await;
    let codes: Vec<&str> = r.rejected.iter().map(|x| x.code.as_str()).collect();
    assert_eq!(codes, vec!["server_only"; 3], "{r:?}");
    // Creating a task of one's own is refused too: tasks are the server's.
    let own = a.write(
        "task",
        Uuid::now_v7(),
        [
            ("kind", json!("other")),
            ("village_code", json!("A")),
            ("title", json!("x")),
            ("due_on", json!("2026-06-01")),
        ],
        "A",
    );
    assert!(a
        .push(&own)
        .await
        .rejected
        .iter()
        .all(|x| x.code == "server_only"));
    let ta2 = tasks_of(&a).await;
    assert_eq!(ta2[&task]["details"], ta[&task]["details"], "unchanged");
}

async fn the_county_confirms_a_child_into_care_with_the_standard_of_the_day(b: Backend) {
    let s = TestServer::start(b).await;
    let (a, bb) = (s.device("dir-a").await, s.device("dir-b").await);
    let fam = register(&s, &a, &bb).await;
    let db = s.state.db.as_ref();
    let admin = acting_admin(db, "admin").await.unwrap().unwrap();
    // Both children await 增员.
    let q = sync_server::discovery::confirmation::queue(db, &admin)
        .await
        .unwrap();
    let waiting: BTreeSet<Uuid> = q.iter().map(|i| i.child_id).collect();
    assert_eq!(waiting, [fam.child_a, fam.child_b].into());
    assert!(q
        .iter()
        .all(|i| i.state.awaiting() == Some(domain::ConfirmationKind::Addition)));

    // 甲童 becomes a de-facto unsupported child: confirmed at 2,002 a month.
    assert!(a
        .push(&[a.change(
            "child",
            fam.child_a,
            "categories",
            json!(["de_facto_unsupported"]),
            "A"
        )])
        .await
        .rejected
        .is_empty());
    let today = chrono::NaiveDate::from_ymd_opt(2026, 5, 20).unwrap();
    let since = chrono::NaiveDate::from_ymd_opt(2026, 5, 3).unwrap();
    let state = s
        .state
        .discovery
        .decide(
            db,
            &admin,
            fam.child_a,
            sync_server::discovery::confirmation::Decision::Confirm {
                in_care_since: Some(since),
            },
            today,
        )
        .await
        .unwrap();
    let domain::ConfirmationState::Confirmed { confirmed } = state else {
        panic!("{state:?}")
    };
    assert_eq!(
        (confirmed.monthly_standard_yuan, confirmed.in_care_since),
        (Some(2002), since)
    );
    assert_eq!(confirmed.by, "县管理员");
    // 乙童 is sent back with a reason.
    s.state
        .discovery
        .decide(
            db,
            &admin,
            fam.child_b,
            sync_server::discovery::confirmation::Decision::SendBack {
                reason: "缺少户籍证明".into(),
            },
            today,
        )
        .await
        .unwrap();

    // The decisions reach the villages' phones as `county_decision` rows, and the
    // domain rule gives the same state there.
    let (changes, _) = a.pull_all(0).await;
    let decision: serde_json::Map<String, Value> = changes
        .iter()
        .filter(|c| c.change.table == "county_decision")
        .map(|c| (c.change.field.clone(), c.change.value.clone()))
        .collect();
    let decision = domain::CountyDecision::from_fields(&decision).unwrap();
    assert_eq!(decision.child_id, fam.child_a);
    assert_eq!(
        decision.confirmed.unwrap().monthly_standard_yuan,
        Some(2002)
    );
    let q = sync_server::discovery::confirmation::queue(db, &admin)
        .await
        .unwrap();
    assert_eq!(q.len(), 1);
    assert!(q[0].state.label_zh().contains("缺少户籍证明"));

    // A new standard from June: a later confirmation reads it (data, not code).
    db.set_care_standard(
        "de_facto_unsupported",
        2100,
        "2026-06-01",
        admin.account_id,
        0,
    )
    .await
    .unwrap();
    assert!(a
        .push(&[a.change(
            "child",
            fam.child_a,
            "categories",
            json!(["de_facto_unsupported", "difficulty"]),
            "A"
        )])
        .await
        .rejected
        .is_empty());
    let june = chrono::NaiveDate::from_ymd_opt(2026, 6, 2).unwrap();
    let state = s
        .state
        .discovery
        .decide(
            db,
            &admin,
            fam.child_a,
            sync_server::discovery::confirmation::Decision::Confirm {
                in_care_since: None,
            },
            june,
        )
        .await
        .unwrap();
    let domain::ConfirmationState::Confirmed { confirmed } = state else {
        panic!("{state:?}")
    };
    assert_eq!(confirmed.kind, domain::ConfirmationKind::Change);
    assert_eq!(
        (confirmed.monthly_standard_yuan, confirmed.in_care_since),
        (Some(2100), since)
    );
}

async fn gb18030_bom_and_xlsx_files_read_the_same_as_utf8(b: Backend) {
    let s = TestServer::start(b).await;
    let (a, bb) = (s.device("dir-a").await, s.device("dir-b").await);
    let fam = register(&s, &a, &bb).await;
    let db = s.state.db.as_ref();
    let admin = acting_admin(db, "admin").await.unwrap().unwrap();
    let text = may_list(&fam);
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(text.as_bytes());
    let (gbk, _, _) = encoding_rs::GB18030.encode(&text);
    // The same list written by a real spreadsheet library, IDs as text cells, the
    // bad one as a number.
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (r, line) in text.lines().enumerate().skip(1) {
        for (c, cell) in line.split(',').enumerate() {
            if cell == "3.70602E+17" {
                sheet
                    .write_number(r as u32, c as u16, 370602201403021229.0)
                    .unwrap();
            } else if !cell.is_empty() {
                sheet.write_string(r as u32, c as u16, cell).unwrap();
            }
        }
    }
    sheet
        .merge_range(
            0,
            0,
            0,
            6,
            "2026年5月重度残疾人护理补贴发放名单",
            &rust_xlsxwriter::Format::new(),
        )
        .unwrap();
    let xlsx = book.save_to_buffer().unwrap();
    let mut seen = Vec::new();
    for (name, bytes) in [
        ("a.csv", text.as_bytes().to_vec()),
        ("b.csv", bom),
        ("c.csv", gbk.into_owned()),
        ("d.xlsx", xlsx),
    ] {
        let (read, _) = s
            .state
            .discovery
            .read(db, &admin, name, &bytes, "disability_care", "2026-05")
            .await
            .unwrap();
        let Read::Ready(p) = read else {
            panic!("{name}: header")
        };
        let problems: Vec<(usize, &str)> = p.problems().iter().map(|r| (r.line, r.code)).collect();
        seen.push((name, p.figures(), format!("{problems:?}"), p.ids.clone()));
    }
    for w in seen.windows(2) {
        assert_eq!(
            (&w[0].1, &w[0].2, &w[0].3),
            (&w[1].1, &w[1].2, &w[1].3),
            "{} vs {}",
            w[0].0,
            w[1].0
        );
    }
    assert!(
        seen[0].2.contains("(9, \"id_number_as_number\")"),
        "{}",
        seen[0].2
    );
}

async fn two_server_processes_importing_at_once_each_write_with_their_own_replica(b: Backend) {
    let s = TestServer::start(b).await;
    let s2 = s.another_instance().await;
    let (a, bb) = (s.device("dir-a").await, s.device("dir-b").await);
    let fam = register(&s, &a, &bb).await;
    let db1 = s.state.db.as_ref();
    let db2 = s2.state.db.as_ref();
    let admin = acting_admin(db1, "admin").await.unwrap().unwrap();
    let list = may_list(&fam);
    let today = chrono::NaiveDate::from_ymd_opt(2026, 5, 20).unwrap();
    let prepare = |srv: &TestServer, db, kind: &'static str| {
        let (list, admin) = (list.clone(), admin.clone());
        let d = srv.state.discovery.clone();
        async move {
            let (read, _) = d
                .read(db, &admin, "x.csv", list.as_bytes(), kind, "2026-05")
                .await
                .unwrap();
            let Read::Ready(p) = read else { panic!() };
            d.commit(db, &admin, &p, today, &|_, _| {}).await.unwrap()
        }
    };
    // Two lists of different kinds, committed at the same moment by two processes.
    let (r1, r2) = tokio::join!(
        prepare(&s, db1, "disability_care"),
        prepare(&s2, db2, "disability_living")
    );
    assert_eq!((r1.new_tasks, r2.new_tasks), (4, 4));
    let (d1, d2) = (r1.replica_device.unwrap(), r2.replica_device.unwrap());
    assert_ne!(d1, d2, "one replica identity per process");
    // Each identity's device_seq is dense: its contiguous maximum is every change it wrote.
    for (d, n) in [(d1, 4 * 5 + 2), (d2, 4 * 5 + 2)] {
        assert_eq!(
            db1.replica_seq(d).await.unwrap(),
            n,
            "guardian and household tasks carry child_id"
        );
    }
    let ta = tasks_of(&a).await;
    assert_eq!(ta.len(), 4, "two lists, two findings each in 甲村");
}

async fn two_previews_of_the_same_file_committed_one_after_the_other_write_once(b: Backend) {
    let s = TestServer::start(b).await;
    let (a, bb) = (s.device("dir-a").await, s.device("dir-b").await);
    let fam = register(&s, &a, &bb).await;
    let db = s.state.db.as_ref();
    let admin = acting_admin(db, "admin").await.unwrap().unwrap();
    let list = may_list(&fam);
    let today = chrono::NaiveDate::from_ymd_opt(2026, 5, 20).unwrap();
    let mut previews = Vec::new();
    for _ in 0..2 {
        let (read, _) = s
            .state
            .discovery
            .read(
                db,
                &admin,
                "x.csv",
                list.as_bytes(),
                "disability_care",
                "2026-05",
            )
            .await
            .unwrap();
        let Read::Ready(p) = read else { panic!() };
        assert_eq!(p.figures().new_tasks, 4, "both previews see four new tasks");
        previews.push(p);
    }
    let first = s
        .state
        .discovery
        .commit(db, &admin, &previews[0], today, &|_, _| {})
        .await
        .unwrap();
    let (_, cursor) = a.pull_all(0).await;
    let second = s
        .state
        .discovery
        .commit(db, &admin, &previews[1], today, &|_, _| {})
        .await
        .unwrap();
    assert_eq!((first.new_tasks, second.new_tasks), (4, 0));
    let (again, _) = a.pull_all(cursor).await;
    assert!(again.is_empty(), "the second commit fed nothing: {again:?}");
}

async fn a_finding_without_a_village_waits_in_the_queue_until_an_admin_assigns_it(b: Backend) {
    let s = TestServer::start(b).await;
    let (a, bb) = (s.device("dir-a").await, s.device("dir-b").await);
    let fam = register(&s, &a, &bb).await;
    import(&s, may_list(&fam).as_bytes(), "may.csv", "2026-05").await;
    let db = s.state.db.as_ref();
    let admin = acting_admin(db, "admin").await.unwrap().unwrap();
    let q = sync_server::discovery::queue(db, &admin).await.unwrap();
    assert_eq!(q.len(), 1);
    let person = q[0].finding.as_ref().unwrap().person.as_ref().unwrap();
    assert_eq!(person.name, "无村童");
    assert_eq!(q[0].record.place_text.as_deref(), Some("远方村"));
    let before = tasks_of(&bb).await.len();
    let today = chrono::NaiveDate::from_ymd_opt(2026, 5, 21).unwrap();
    // A village outside the admin's area is refused.
    let e = s
        .state
        .discovery
        .assign(db, &admin, q[0].record.finding_id, "ZZ", today)
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            sync_server::console::ConsoleError::BadInput {
                code: "unknown_village",
                ..
            }
        ),
        "{e:?}"
    );
    let task = s
        .state
        .discovery
        .assign(db, &admin, q[0].record.finding_id, "B", today)
        .await
        .unwrap();
    let tb = tasks_of(&bb).await;
    assert_eq!(tb.len(), before + 1);
    assert_eq!(tb[&task]["details"]["person"]["name"], "无村童");
    assert_eq!(tb[&task]["village_code"], "B");
    // Assigned once: the queue is empty and a second assignment is refused.
    assert!(sync_server::discovery::queue(db, &admin)
        .await
        .unwrap()
        .is_empty());
    let e = s
        .state
        .discovery
        .assign(db, &admin, q[0].record.finding_id, "A", today)
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            sync_server::console::ConsoleError::BadInput {
                code: "already_assigned",
                ..
            }
        ),
        "{e:?}"
    );
    // Next month the same person without a village does not come back to the queue.
    let (f, _) = import(
        &s,
        may_list(&fam).replace("2026年5月", "2026年6月").as_bytes(),
        "june.csv",
        "2026-06",
    )
    .await;
    assert_eq!(f.new_queued, 0, "{f:?}");
}

/// The demo city's own lists (`sync-server admin demo-list`, imported by `scripts/run.sh`)
/// show each kind of finding on the seeded demo: two unlisted children of one household
/// and one more in other villages, a grandmother on file pointing at her grandchild, a
/// child already on the roster (no task), a wrong ID number, a village not in the city.
async fn the_demo_city_s_lists_show_every_kind_of_finding(b: Backend) {
    let s = TestServer::start_with(b, sync_server::settings::BlobSettings::Disk, None).await;
    let db = s.state.db.as_ref();
    sync_server::demo::seed_demo(db).await.unwrap();
    let roster = sync_server::roster::Roster::parse(&sync_server::demo::demo_roster_csv()).unwrap();
    let village = |name: &str| {
        roster
            .places
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.code.clone())
            .unwrap()
    };
    let admin = acting_admin(db, "admin-370602").await.unwrap().unwrap();
    let month = "2026-12";
    let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
    let mut figures = Vec::new();
    for kind in ["dibao_rural", "disability_care"] {
        let csv = sync_server::demo::demo_allowance_list(kind, month).unwrap();
        let (read, _) = s
            .state
            .discovery
            .read(
                db,
                &admin,
                &format!("{kind}.csv"),
                csv.as_bytes(),
                kind,
                month,
            )
            .await
            .unwrap();
        let Read::Ready(p) = read else {
            panic!("the demo list's header is recognised without mapping")
        };
        figures.push(p.figures());
        s.state
            .discovery
            .commit(db, &admin, &p, today, &|_, _| {})
            .await
            .unwrap();
    }
    assert!(sync_server::demo::demo_allowance_list("tekun", month).is_none());
    let f = &figures[0];
    assert_eq!(
        (
            f.rows_read,
            f.on_roster,
            f.new_tasks,
            f.new_queued,
            f.invalid_rows,
            f.no_village
        ),
        (8, 2, 4, 1, 1, 1),
        "{f:?}"
    );
    let f = &figures[1];
    assert_eq!(
        (f.rows_read, f.new_tasks, f.invalid_rows),
        (2, 2, 0),
        "{f:?}"
    );

    let tasks_in = |name: &str| {
        let code = village(name);
        let s = &s;
        async move {
            let d = s.device(&format!("dir-{code}")).await;
            let t = tasks_of(&d).await;
            assert!(t.values().all(|t| t["village_code"] == json!(code)));
            t
        }
    };
    let v1 = tasks_in("演示村1").await;
    let listed: BTreeSet<String> = v1
        .values()
        .filter(|t| finding_kind(t) == "unlisted_minor")
        .map(|t| t["details"]["person"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed, ["郑小雨", "郑小川"].map(String::from).into());
    let guardian: Vec<_> = v1
        .values()
        .filter(|t| finding_kind(t) == "guardian_listed")
        .collect();
    assert_eq!(guardian.len(), 1, "{v1:?}");
    assert!(guardian[0]["child_id"].is_string());
    assert_eq!(v1.len(), 3, "{v1:?}");
    let v5 = tasks_in("演示村5").await;
    assert_eq!(
        v5.values()
            .map(|t| t["details"]["person"]["name"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["钱思琪"]
    );
    // The disability list: a grandmother on file (演示村2), a disabled minor (演示村6).
    let v2 = tasks_in("演示村2").await;
    assert_eq!(
        v2.values().map(finding_kind).collect::<Vec<_>>(),
        ["guardian_listed"],
        "the child already on the roster in 演示村2 has no task: {v2:?}"
    );
    let v6 = tasks_in("演示村6").await;
    assert_eq!(v6.len(), 1);
    assert_eq!(finding_kind(v6.values().next().unwrap()), "unlisted_minor");
    // Nothing for the wrong ID number or the village outside the city on any phone.
    let all = format!("{v1:?}{v2:?}{v5:?}{v6:?}");
    assert!(!all.contains("孙小军") && !all.contains("冯小玲"));
}

backend_tests!(
    the_demo_city_s_lists_show_every_kind_of_finding,
    a_finding_without_a_village_waits_in_the_queue_until_an_admin_assigns_it,
    two_previews_of_the_same_file_committed_one_after_the_other_write_once,
    two_server_processes_importing_at_once_each_write_with_their_own_replica,
    a_list_becomes_exactly_the_expected_tasks_and_again_writes_nothing,
    next_month_adds_only_the_new_and_reopens_nothing_a_director_closed,
    a_director_closing_while_the_list_is_imported_again_keeps_the_outcome,
    a_phone_cannot_write_a_finding_or_a_county_decision,
    the_county_confirms_a_child_into_care_with_the_standard_of_the_day,
    gb18030_bom_and_xlsx_files_read_the_same_as_utf8,
);
