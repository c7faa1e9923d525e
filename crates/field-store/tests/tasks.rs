//! Tasks on the phone as a director meets them: the server's task arrives with its
//! finding and age; she closes it as registered (the child and the closing in one
//! transaction), linked, not eligible or not found — each checked by the domain's rules,
//! nothing written when refused; what only the server writes is refused on the phone;
//! a newer release's fields are kept and never block her; the child's file shows the
//! county's confirmation state.

use domain::codes::{FindingKind, Sex};
use domain::discovery::{Finding, ListedPerson};
use field_store::tasks::child_fields_from_finding;
use field_store::Store;
use serde_json::{json, Map, Value};
use sync_core::{Change, Hlc, Scope};
use uuid::Uuid;

const SERVER: Uuid = Uuid::from_u128(0x5e_5e);
const DAY_MS: u64 = 86_400_000;

fn fields(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

/// What the county's list found: a girl in a 低保 household, not on the roster.
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
        id_number: "370602201403021229".into(),
        sex: Some(Sex::Female),
        birth_date: chrono::NaiveDate::from_ymd_opt(2014, 3, 2),
        address: Some("一村东街3号".into()),
        relationship_to_head: Some("孙女".into()),
        disability_grade: None,
        list_category: Some("A类".into()),
    });
    f
}

/// The server's replica writes a row (as a pull brings it), stamped `at_ms`.
fn from_server(s: &mut Store, table: &str, row: Uuid, village: &str, at_ms: u64, f: Value) {
    let changes: Vec<Change> = fields(f)
        .into_iter()
        .enumerate()
        .map(|(i, (field, value))| Change {
            op_id: Uuid::now_v7(),
            device_id: SERVER,
            device_seq: i as u64 + 1,
            table: table.into(),
            row_id: row,
            field,
            value,
            hlc: Hlc::new(at_ms, i as u16),
            scope: Scope::new(village),
        })
        .collect();
    s.apply_changes(&changes, None).unwrap();
}

fn server_task(s: &mut Store, village: &str, days_ago: u64, finding: &Finding) -> Uuid {
    let id = Uuid::now_v7();
    let at = s.now_ms() - days_ago * DAY_MS;
    from_server(
        s,
        "task",
        id,
        village,
        at,
        json!({
            "kind": finding.task_kind().code(), "village_code": village,
            "title": finding.title_zh(None), "details": finding.to_details(),
            "due_on": "2099-06-30",
        }),
    );
    id
}

fn device(villages: &[&str]) -> Store {
    let mut s = Store::open_in_memory().unwrap();
    s.set_scopes(&villages.iter().map(|v| v.to_string()).collect::<Vec<_>>())
        .unwrap();
    s
}

fn completed(mut f: Map<String, Value>, s: &Store) -> Map<String, Value> {
    for (k, v) in [
        ("categories", json!(["difficulty"])),
        ("risk_colour", json!("yellow")),
        ("household_registered", json!(true)),
        ("status", json!("active")),
        ("added_on", json!(s.today().to_string())),
    ] {
        f.insert(k.into(), v);
    }
    f
}

fn outbox_fields(s: &Store) -> Vec<(String, String)> {
    s.pending_changes(usize::MAX)
        .unwrap()
        .into_iter()
        .map(|c| (c.table, c.field))
        .collect()
}

fn closing(
    outcome: domain::TaskOutcome,
    note: Option<&str>,
    child: Option<Uuid>,
) -> domain::TaskClosing {
    domain::TaskClosing {
        outcome,
        note: note.map(str::to_string),
        child_id: child,
    }
}

#[test]
fn a_server_task_is_listed_open_with_its_age_and_the_finding_behind_it() {
    let mut s = device(&["v1"]);
    let id = server_task(&mut s, "v1", 3, &finding());
    let open = s.tasks(true).unwrap();
    assert_eq!(open.len(), 1);
    let t = &open[0];
    assert_eq!(
        (t.id, t.village.as_str(), t.open, t.unsent),
        (id, "v1", true, false)
    );
    assert_eq!(t.age_days(s.today()), Some(3), "written three days ago");
    let task = t.task.as_ref().expect("this release reads it");
    assert_eq!(task.finding(), Some(finding()));
    assert!(t.title.contains("李小红"), "{}", t.title);
    // Nothing of it is the phone's to send.
    assert!(outbox_fields(&s).is_empty());
}

#[test]
fn closing_as_not_eligible_writes_only_the_closing_and_a_closed_task_is_not_closed_again() {
    let mut s = device(&["v1"]);
    let id = server_task(&mut s, "v1", 1, &finding());
    use domain::TaskOutcome::*;

    // Refused without the reason: nothing written, still open.
    let e = s
        .close_task(id, &closing(NotEligible, Some("  "), None))
        .unwrap_err();
    assert_eq!(e.code(), "task_outcome_needs_reason");
    assert!(e.zh().contains("原因"), "{}", e.zh());
    assert!(outbox_fields(&s).is_empty());
    assert!(s.task(id).unwrap().open);

    s.close_task(
        id,
        &closing(NotEligible, Some("家庭人均收入已超过标准"), None),
    )
    .unwrap();
    let mut sent: Vec<String> = outbox_fields(&s).into_iter().map(|(_, f)| f).collect();
    sent.sort();
    assert_eq!(
        sent,
        ["done_on", "outcome", "outcome_child_id", "outcome_note"]
    );
    let t = s.task(id).unwrap();
    assert!(!t.open && t.unsent);
    let task = t.task.unwrap();
    assert_eq!(task.outcome, Some(NotEligible));
    assert_eq!(task.outcome_note.as_deref(), Some("家庭人均收入已超过标准"));
    assert_eq!(task.done_on, Some(s.today()));
    assert!(s.tasks(true).unwrap().is_empty(), "no longer open");

    let before = outbox_fields(&s);
    let e = s
        .close_task(id, &closing(NotFoundOrMoved, Some("已迁走"), None))
        .unwrap_err();
    assert_eq!(e.code(), "task_already_closed");
    assert_eq!(outbox_fields(&s), before, "nothing written");

    let e = s
        .close_task(Uuid::now_v7(), &closing(NotEligible, Some("x"), None))
        .unwrap_err();
    assert_eq!(e.code(), "not_found");
    assert_eq!(e.zh(), "在本机找不到这条任务记录");
}

#[test]
fn registering_the_found_child_closes_the_task_in_the_same_transaction() {
    let mut s = device(&["v1"]);
    let f = finding();
    let id = server_task(&mut s, "v1", 2, &f);
    let prefilled = child_fields_from_finding(&f, "v1");
    assert_eq!(prefilled["name"], "李小红");
    assert_eq!(prefilled["id_number"], "370602201403021229");
    assert_eq!(prefilled["sex"], "female");
    assert_eq!(prefilled["birth_date"], "2014-03-02");

    // A form the rules refuse (no category): neither the child nor the closing.
    let mut bad = completed(prefilled.clone(), &s);
    bad.insert("categories".into(), json!([]));
    assert!(s.register_child_from_task(id, bad, None, None).is_err());
    assert!(outbox_fields(&s).is_empty());
    assert!(s.task(id).unwrap().open);
    assert!(s
        .child_with_id_number("370602201403021229")
        .unwrap()
        .is_none());

    let (child, _) = s
        .register_child_from_task(id, completed(prefilled.clone(), &s), None, None)
        .unwrap();
    let task = s.task(id).unwrap().task.unwrap();
    assert_eq!(task.outcome, Some(domain::TaskOutcome::Registered));
    assert_eq!(task.outcome_child_id, Some(child));
    let file = s.child_file(child).unwrap();
    assert_eq!(file.child.fields["name"], "李小红");
    // One write each, in one transaction: the child's changes come first.
    let sent = s.pending_changes(usize::MAX).unwrap();
    let tables: Vec<&str> = sent.iter().map(|c| c.table.as_str()).collect();
    let first_task = tables.iter().position(|t| *t == "task").unwrap();
    assert!(tables[..first_task].iter().all(|t| *t == "child"));
    assert!(tables[first_task..].iter().all(|t| *t == "task"));

    // Registering again from the same (closed) task refuses before anything is written.
    let before = outbox_fields(&s);
    let mut again = completed(prefilled, &s);
    again.insert("id_number".into(), json!("370602201503021226"));
    let e = s
        .register_child_from_task(id, again, None, None)
        .unwrap_err();
    assert_eq!(e.code(), "task_already_closed");
    assert_eq!(outbox_fields(&s), before);
}

#[test]
fn a_found_child_already_on_file_is_linked_not_registered_twice() {
    let mut s = device(&["v1"]);
    let f = finding();
    let id = server_task(&mut s, "v1", 0, &f);
    // The child is already on the roster (registered by hand last year).
    let on_file = s
        .add_child(completed(child_fields_from_finding(&f, "v1"), &s))
        .unwrap();
    let e = s
        .register_child_from_task(
            id,
            completed(child_fields_from_finding(&f, "v1"), &s),
            None,
            None,
        )
        .unwrap_err();
    assert_eq!(e.code(), "duplicate_id_number");
    assert!(e.zh().contains("李小红"), "names the file: {}", e.zh());
    assert!(s.task(id).unwrap().open, "the task stays open");

    use domain::TaskOutcome::Linked;
    let e = s
        .close_task(id, &closing(Linked, None, Some(Uuid::now_v7())))
        .unwrap_err();
    assert_eq!(e.code(), "child_not_found");
    let e = s.close_task(id, &closing(Linked, None, None)).unwrap_err();
    assert_eq!(e.code(), "task_outcome_needs_child");
    s.close_task(id, &closing(Linked, None, Some(on_file)))
        .unwrap();
    assert_eq!(
        s.task(id).unwrap().task.unwrap().outcome_child_id,
        Some(on_file)
    );
}

#[test]
fn a_deleted_file_cannot_be_the_one_a_task_is_linked_to() {
    let mut s = device(&["v1"]);
    let id = server_task(&mut s, "v1", 0, &finding());
    let c = s
        .add_child(completed(child_fields_from_finding(&finding(), "v1"), &s))
        .unwrap();
    s.delete_record("child", c).unwrap();
    let e = s
        .close_task(id, &closing(domain::TaskOutcome::Linked, None, Some(c)))
        .unwrap_err();
    assert_eq!(e.code(), "child_not_found");
}

#[test]
fn what_only_the_server_writes_is_refused_on_the_phone() {
    let mut s = device(&["v1"]);
    let id = server_task(&mut s, "v1", 0, &finding());
    let e = s
        .add_record(
            "task",
            fields(json!({"kind": "other", "village_code": "v1", "title": "自建任务", "due_on": "2099-01-01"})),
        )
        .unwrap_err();
    assert_eq!(e.code(), "server_only");
    let e = s
        .edit_record("task", id, fields(json!({"title": "改过的标题"})))
        .unwrap_err();
    assert_eq!(e.code(), "server_only");
    assert!(e.zh().contains("手机不能修改"), "{}", e.zh());
    let c = s
        .add_child(completed(child_fields_from_finding(&finding(), "v1"), &s))
        .unwrap();
    let e = s
        .add_record(
            "county_decision",
            fields(json!({"child_id": c, "confirmed": {"kind": "addition"}})),
        )
        .unwrap_err();
    assert_eq!(e.code(), "server_only");
    let sent: Vec<String> = outbox_fields(&s).into_iter().map(|(t, _)| t).collect();
    assert!(sent.iter().all(|t| t == "child"), "{sent:?}");
}

#[test]
fn a_newer_release_s_fields_are_kept_and_never_block_the_director() {
    let mut s = device(&["v1"]);
    let f = finding();
    let id = server_task(&mut s, "v1", 0, &f);
    // A later release's server adds a field to the task and to the child.
    let at = s.now_ms();
    from_server(
        &mut s,
        "task",
        id,
        "v1",
        at,
        json!({"priority_from_a_later_release": 2}),
    );
    let child = s
        .add_child(completed(child_fields_from_finding(&f, "v1"), &s))
        .unwrap();
    let later = s.now_ms();
    from_server(
        &mut s,
        "child",
        child,
        "v1",
        later,
        json!({"school_code_2027": "X1"}),
    );
    // And a kind of task this release has no word for.
    let odd = Uuid::now_v7();
    from_server(
        &mut s,
        "task",
        odd,
        "v1",
        at,
        json!({"kind": "check_dropout_2027", "village_code": "v1", "title": "核查辍学名单：王某。请升级应用后办理", "due_on": "2099-01-01"}),
    );

    let open = s.tasks(true).unwrap();
    assert_eq!(open.len(), 2, "neither task is hidden");
    let newer = open.iter().find(|t| t.id == odd).unwrap();
    assert!(newer.task.is_none() && newer.title.contains("升级应用"));
    assert!(open.iter().find(|t| t.id == id).unwrap().task.is_some());

    // Her edits of the fields she knows go through, and send only those.
    s.edit_record("child", child, fields(json!({"notes": "已入户核查"})))
        .unwrap();
    s.close_task(id, &closing(domain::TaskOutcome::Linked, None, Some(child)))
        .unwrap();
    for (_, field) in outbox_fields(&s) {
        assert!(
            !field.contains("2027") && !field.contains("later_release"),
            "{field}"
        );
    }
    let export = s.export_canonical().unwrap();
    assert!(export.contains("priority_from_a_later_release"));
    assert!(export.contains("school_code_2027"));
    assert!(s.county_standing(child).is_ok(), "the file still reads");
}

#[test]
fn the_child_s_file_shows_where_the_county_stands() {
    use domain::care::{CareSnapshot, ConfirmationState, Confirmed, SentBack};
    use domain::ConfirmationKind;
    let mut s = device(&["v1"]);
    let f = finding();
    let task = server_task(&mut s, "v1", 0, &f);
    let (child, _) = s
        .register_child_from_task(
            task,
            completed(child_fields_from_finding(&f, "v1"), &s),
            None,
            None,
        )
        .unwrap();
    let standing = s.county_standing(child).unwrap();
    assert_eq!(standing.state.awaiting(), Some(ConfirmationKind::Addition));
    assert!(standing.decision.is_none());

    let file = s.child_file(child).unwrap();
    let now =
        domain::Child::from_fields(&domain::schema::known_fields("child", &file.child.fields))
            .unwrap();
    let decision_row = domain::care::decision_row_id(child);
    let sent_back = SentBack {
        kind: ConfirmationKind::Addition,
        snapshot: CareSnapshot::of(&now),
        reason: "请补充户籍证明".into(),
        by: "陈科长".into(),
        at: "2026-05-21T10:00:00+08:00".into(),
    };
    let at = s.now_ms();
    from_server(
        &mut s,
        "county_decision",
        decision_row,
        "v1",
        at,
        json!({"child_id": child, "sent_back": sent_back}),
    );
    match s.county_standing(child).unwrap().state {
        ConfirmationState::SentBack { sent_back } => {
            assert_eq!(sent_back.reason, "请补充户籍证明")
        }
        other => panic!("{other:?}"),
    }

    let confirmed = Confirmed {
        kind: ConfirmationKind::Addition,
        snapshot: CareSnapshot::of(&now),
        in_care_since: chrono::NaiveDate::from_ymd_opt(2026, 5, 22).unwrap(),
        monthly_standard_yuan: Some(1785),
        by: "陈科长".into(),
        at: "2026-05-22T10:00:00+08:00".into(),
    };
    from_server(
        &mut s,
        "county_decision",
        decision_row,
        "v1",
        at + 1000,
        json!({"confirmed": confirmed, "sent_back": null}),
    );
    match s.county_standing(child).unwrap().state {
        ConfirmationState::Confirmed { confirmed } => {
            assert_eq!(confirmed.monthly_standard_yuan, Some(1785));
            assert_eq!(confirmed.in_care_since.to_string(), "2026-05-22");
        }
        other => panic!("{other:?}"),
    }
    // The director changes the child's categories: a change awaits the county.
    s.edit_record(
        "child",
        child,
        fields(json!({"categories": ["de_facto_unsupported"]})),
    )
    .unwrap();
    assert_eq!(
        s.county_standing(child).unwrap().state.awaiting(),
        Some(ConfirmationKind::Change)
    );
}
