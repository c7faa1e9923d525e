//! What broke when the device was tried by a new user and by an attacker (issue 10),
//! each as a class: typed text of any kind, a second file for one child, a record for
//! a village the device does not hold, a change the server refuses.

use field_store::roster::RosterFilter;
use field_store::Store;
use proptest::prelude::*;
use serde_json::{json, Map, Value};
use sync_core::wire::{PushResponse, Rejection};

fn fields(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

fn child(name: &str, village: &str, today: &str) -> Map<String, Value> {
    fields(json!({
        "name": name, "sex": "male", "birth_date": "2015-01-01", "village_code": village,
        "categories": ["left_behind"], "risk_colour": "green", "household_registered": true,
        "status": "active", "added_on": today,
    }))
}

fn today(s: &Store) -> String {
    s.today().to_string()
}

/// Everything a director could see or a sync could send, to prove nothing changed.
fn snapshot(s: &Store) -> (String, field_store::status::Status, usize) {
    (
        s.export_canonical().unwrap(),
        s.status().unwrap(),
        s.roster(&RosterFilter {
            include_exited: true,
            ..Default::default()
        })
        .unwrap()
        .len(),
    )
}

#[test]
fn what_people_type_is_normalised_on_the_way_in() {
    let mut s = Store::open_in_memory().unwrap();
    let t = today(&s);
    let mut f = child(" 王小明 ", "v1", &t);
    f.insert(
        "id_number".into(),
        json!("３７０６０２　２０１５０１０１ １２３５"),
    );
    f.insert("birth_date".into(), json!("2015/1/1"));
    f.insert("sex".into(), json!("Male"));
    f.insert("notes".into(), json!("   "));
    let id = s.add_child(f).unwrap();
    let file = s.child_file(id).unwrap();
    assert_eq!(file.child.fields["id_number"], "370602201501011235");
    assert_eq!(file.child.fields["birth_date"], "2015-01-01");
    assert_eq!(file.child.fields["name"], "王小明");
    assert_eq!(file.child.fields["sex"], "male");
    assert_eq!(file.child.fields["notes"], Value::Null);
    // What reaches the server is the normalised value.
    let sent = s.pending_changes(usize::MAX).unwrap();
    let id_change = sent.iter().find(|c| c.field == "id_number").unwrap();
    assert_eq!(id_change.value, "370602201501011235");
}

#[test]
fn an_id_number_with_a_chinese_character_is_refused_and_nothing_is_saved() {
    let mut s = Store::open_in_memory().unwrap();
    let t = today(&s);
    s.add_child(child("张三", "v1", &t)).unwrap();
    let before = snapshot(&s);
    for typed in [
        "3706022015010112二5",
        "３７０６０２２０１５０１０１１２３５５",
        "37060220150101123中",
    ] {
        let mut f = child("李四", "v1", &t);
        f.insert("id_number".into(), json!(typed));
        let e = s.add_child(f).unwrap_err();
        // Too long for the field (the schema's check) or not a valid number.
        assert!(
            matches!(e.code(), "invalid_id_number" | "bad_value"),
            "{typed}: {}",
            e.code()
        );
        assert!(e.zh().contains("身份证号"), "{}", e.zh());
        assert!(!e.zh().contains("longer"), "said in Chinese: {}", e.zh());
    }
    assert_eq!(before, snapshot(&s), "nothing changed");
}

#[test]
fn a_second_file_for_an_id_number_already_on_the_device_is_refused_naming_the_first() {
    let mut s = Store::open_in_memory().unwrap();
    let t = today(&s);
    let mut first = child("王小明", "370602001001", &t);
    first.insert("id_number".into(), json!("370602201501011235"));
    let first_id = s.add_child(first).unwrap();
    let before = snapshot(&s);

    // The same number typed another way is the same person.
    let mut again = child("王晓明", "370602001001", &t);
    again.insert(
        "id_number".into(),
        json!("３７０６０２２０１５０１０１１２３５"),
    );
    let e = s.add_child(again).unwrap_err();
    assert_eq!(e.code(), "duplicate_id_number");
    let zh = e.zh();
    assert!(zh.contains("王小明"), "names the existing file: {zh}");
    assert!(zh.contains("370602001001"), "and its village: {zh}");
    assert!(
        zh.contains("3706**********1235"),
        "with the number masked: {zh}"
    );
    assert!(
        !zh.contains("370602201501011235"),
        "never the whole number: {zh}"
    );
    assert!(e.to_string().contains("already has a file"), "{e}");
    assert_eq!(before, snapshot(&s), "nothing changed");
    // The app can open the existing file from the number.
    let existing = s
        .child_with_id_number("370602201501011235")
        .unwrap()
        .unwrap();
    assert_eq!(existing.child_id, first_id);
    assert_eq!(existing.name, "王小明");

    // Editing another child's number into a copy of it is refused too.
    let other = s.add_child(child("李四", "370602001001", &t)).unwrap();
    let e = s
        .edit_record(
            "child",
            other,
            fields(json!({"id_number": "370602201501011235"})),
        )
        .unwrap_err();
    assert_eq!(e.code(), "duplicate_id_number");
    // The file's own number may be written again, and an exited child still counts.
    s.edit_record(
        "child",
        first_id,
        fields(json!({"id_number": "370602201501011235", "notes": "核对过"})),
    )
    .unwrap();
    s.edit_record(
        "child",
        first_id,
        fields(json!({"status": "exited", "exit_reason": "moved_away", "exit_date": t})),
    )
    .unwrap();
    let mut third = child("王小明", "370602001001", &t);
    third.insert("id_number".into(), json!("370602201501011235"));
    assert_eq!(
        s.add_child(third.clone()).unwrap_err().code(),
        "duplicate_id_number"
    );
    // A deleted file does not block a new one.
    s.delete_record("child", first_id).unwrap();
    s.add_child(third).unwrap();
}

#[test]
fn a_child_for_a_village_the_device_does_not_hold_is_refused_at_once() {
    let mut s = Store::open_in_memory().unwrap();
    s.set_scopes(&["v1".into(), "v2".into()]).unwrap();
    let t = today(&s);
    let held = s.add_child(child("张三", "v1", &t)).unwrap();
    let before = snapshot(&s);
    let e = s.add_child(child("李四", "v3", &t)).unwrap_err();
    assert_eq!(e.code(), "village_not_held");
    assert!(e.zh().contains("v3") && e.zh().contains("v1"), "{}", e.zh());
    assert!(e.to_string().contains("does not hold"), "{e}");
    let e = s
        .add_record(
            "task",
            fields(json!({"kind": "other", "village_code": "v9", "title": "核查", "due_on": t})),
        )
        .unwrap_err();
    // A task is the server's to write (a phone only closes one): refused as such
    // before its village is looked at.
    assert_eq!(e.code(), "server_only");
    assert_eq!(before, snapshot(&s), "nothing changed");
    // Moving a child of a held village away is how a move is recorded: allowed.
    s.edit_record("child", held, fields(json!({"village_code": "v3"})))
        .unwrap();
}

#[test]
fn a_device_not_enrolled_yet_holds_every_village_it_writes() {
    // No villages yet (tests, the demo, a phone set up before enrollment): nothing to
    // compare against, so the write is kept; the server decides at the first sync and
    // whatever it refuses stays visible (see below).
    let mut s = Store::open_in_memory().unwrap();
    assert!(s.device_state().unwrap().scopes.is_empty());
    let t = today(&s);
    s.add_child(child("张三", "v3", &t)).unwrap();
}

fn refuse_all(s: &mut Store, code: &str, message: &str) {
    let sent = s.pending_changes(usize::MAX).unwrap();
    let resp = PushResponse {
        max_device_seq: sent.last().unwrap().device_seq,
        accepted: 0,
        rejected: sent
            .iter()
            .map(|c| Rejection {
                op_id: c.op_id,
                device_seq: c.device_seq,
                code: code.into(),
                message: message.into(),
            })
            .collect(),
        server_time_ms: 0,
    };
    s.record_push_result(&sent, &resp).unwrap();
}

#[test]
fn a_rejected_child_stays_on_the_roster_with_its_chinese_reason_until_the_director_acts() {
    let mut s = Store::open_in_memory().unwrap();
    let t = today(&s);
    // Written before enrollment, for a village the account turns out not to hold.
    let id = s.add_child(child("李四", "v3", &t)).unwrap();
    s.set_scopes(&["v1".into()]).unwrap();
    refuse_all(
        &mut s,
        "out_of_scope",
        "this device may not write village v3",
    );
    // A pull and the eviction pass that follows it must not take it away.
    s.apply_changes(&[], Some(1)).unwrap();
    s.evict_out_of_scope().unwrap();
    let roster = s.roster(&RosterFilter::default()).unwrap();
    assert_eq!(roster.len(), 1, "still on the roster");
    assert_eq!(roster[0].child_id, id);
    let file = s.child_file(id).unwrap();
    assert!(!file.rejected.is_empty(), "the file shows why");
    let rejected = s.rejected_changes().unwrap();
    assert!(!rejected.is_empty());
    for r in &rejected {
        assert!(r.reason_zh.contains("村"), "{}", r.reason_zh);
        assert!(!r.what_to_do_zh.is_empty());
        assert!(!r.acknowledged);
    }
    // The director reads it and acknowledges every refusal of this child: then, and
    // only then, the record may leave the device.
    for r in &rejected {
        s.acknowledge_rejection(r.change.device_seq).unwrap();
    }
    assert!(s.rejected_changes().unwrap().iter().all(|r| r.acknowledged));
    s.evict_out_of_scope().unwrap();
    assert!(s.roster(&RosterFilter::default()).unwrap().is_empty());
    assert!(
        !s.rejected_changes().unwrap().is_empty(),
        "the refusal itself is kept, for the record"
    );
}

#[test]
fn a_village_with_a_refusal_not_yet_acted_on_is_not_fetched_afresh_by_verify() {
    // A refusal in a village the phone holds (a newer server with a stricter rule): the
    // phone's copy differs from the server's on purpose. Verify must not take it for
    // divergence, forget the village and fetch it again: the refused child would vanish.
    let mut s = Store::open_in_memory().unwrap();
    s.set_scopes(&["v1".into(), "v2".into()]).unwrap();
    let t = today(&s);
    let id = s.add_child(child("李四", "v1", &t)).unwrap();
    assert_eq!(
        s.scopes_held_back_from_verify().unwrap(),
        vec!["v1".to_string()],
        "unsent"
    );
    refuse_all(
        &mut s,
        "bad_value",
        "child.name: not allowed by this server",
    );
    assert_eq!(s.status().unwrap().outbox_changes, 0);
    assert_eq!(
        s.scopes_held_back_from_verify().unwrap(),
        vec!["v1".to_string()],
        "held back while the refusal is unsettled"
    );
    for r in s.rejected_changes().unwrap() {
        s.acknowledge_rejection(r.change.device_seq).unwrap();
    }
    assert!(
        s.scopes_held_back_from_verify().unwrap().is_empty(),
        "once acknowledged, the server's copy may replace the phone's"
    );
    // Forgetting a village for a fresh copy rewinds the cursor in the same transaction.
    s.apply_changes(&[], Some(42)).unwrap();
    assert_eq!(s.device_state().unwrap().pull_cursor, 42);
    assert_eq!(s.forget_scopes_for_refetch(&["v1"]).unwrap(), 1);
    assert_eq!(s.device_state().unwrap().pull_cursor, 0);
    assert!(s.roster(&RosterFilter::default()).unwrap().is_empty());
    assert!(s.child_file(id).is_err());
}

#[test]
fn a_rejected_change_fixed_by_a_later_accepted_one_is_settled() {
    let mut s = Store::open_in_memory().unwrap();
    let t = today(&s);
    let id = s.add_child(child("李四", "v1", &t)).unwrap();
    let sent = s.pending_changes(usize::MAX).unwrap();
    s.record_push_result(
        &sent,
        &PushResponse {
            max_device_seq: sent.last().unwrap().device_seq,
            accepted: sent.len() as u64,
            rejected: vec![],
            server_time_ms: 0,
        },
    )
    .unwrap();
    s.edit_record("child", id, fields(json!({"notes": "第一次"})))
        .unwrap();
    refuse_all(
        &mut s,
        "bad_value",
        "child.notes: longer than 2000 characters",
    );
    assert_eq!(s.status().unwrap().rejected_changes, 1);
    s.edit_record("child", id, fields(json!({"notes": "第二次"})))
        .unwrap();
    let sent = s.pending_changes(usize::MAX).unwrap();
    s.record_push_result(
        &sent,
        &PushResponse {
            max_device_seq: sent.last().unwrap().device_seq,
            accepted: 1,
            rejected: vec![],
            server_time_ms: 0,
        },
    )
    .unwrap();
    let r = s.rejected_changes().unwrap();
    assert_eq!(r.len(), 1);
    assert!(
        r[0].acknowledged,
        "fixed by the later write the server took"
    );
    assert_eq!(
        s.status().unwrap().rejected_changes,
        0,
        "nothing left to act on"
    );
}

#[test]
fn every_rejection_code_the_server_sends_has_a_chinese_sentence_and_what_to_do() {
    // The codes of sync-server's ingest and of the schema check (sync-core), and the
    // request-level refusals of its handlers.
    for code in [
        "clock_ahead",
        "out_of_scope",
        "op_id_conflict",
        "wrong_device",
        "bad_device_seq",
        "scope_mismatch",
        "unknown_village",
        "unknown_table",
        "unknown_field",
        "bad_value",
        "write_once",
        "device_revoked",
        "unauthorized",
        "not_found",
        "storage_unavailable",
        "offset_mismatch",
        "hash_mismatch",
        "bad_blob_name",
        "blob_too_large",
        "bad_chunk",
        "device_exists",
        "invalid_code",
        "code_used",
        "code_expired",
        "protocol_version",
        "body_too_large",
        "bad_body",
        "malformed_json",
        "batch_too_large",
        "method_not_allowed",
    ] {
        let t = domain::rejection::explain(code);
        assert!(t.known, "{code} is not explained");
        assert!(
            t.zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
            "{code}: {}",
            t.zh
        );
        assert!(!t.what_to_do_zh.is_empty() && !t.what_to_do_en.is_empty() && !t.en.is_empty());
    }
    let unknown = domain::rejection::explain("a_code_from_a_newer_server");
    assert!(!unknown.known && !unknown.zh.is_empty() && !unknown.what_to_do_zh.is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any text in any field of a new child: saved (normalised) or refused with a
    /// sentence, never a panic, and a refusal leaves everything as it was.
    #[test]
    fn any_text_in_any_field_of_a_child_is_saved_or_refused_cleanly(
        field in prop::sample::select(
            domain::schema::CHILD.fields.iter().map(|f| f.name).collect::<Vec<_>>()
        ),
        text in prop_oneof![any::<String>(), "[0-9０-９xXｘ 　二中/年月日-]{0,22}"],
    ) {
        let mut s = Store::open_in_memory().unwrap();
        let t = today(&s);
        let mut f = child("王小明", "v1", &t);
        f.insert(field.to_string(), json!(text));
        let before = snapshot(&s);
        match s.add_child(f) {
            Ok(id) => prop_assert!(s.child_file(id).is_ok()),
            Err(e) => {
                prop_assert!(!e.zh().is_empty() && !e.to_string().is_empty());
                prop_assert_eq!(before, snapshot(&s));
            }
        }
        let _ = s.roster(&RosterFilter { search: Some(text), ..Default::default() }).unwrap();
    }
}

/// (name, syllables) of the real-world names in domain's test data.
fn real_names() -> Vec<(String, Vec<String>)> {
    include_str!("../../domain/tests/data/names.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split_once('\t'))
        .map(|(n, r)| {
            (
                n.to_string(),
                r.split_whitespace().map(String::from).collect(),
            )
        })
        .collect()
}

fn search(s: &Store, q: &str) -> Vec<uuid::Uuid> {
    s.roster(&RosterFilter {
        search: Some(q.into()),
        ..Default::default()
    })
    .unwrap()
    .into_iter()
    .map(|e| e.child_id)
    .collect()
}

#[test]
fn the_roster_finds_99_percent_of_real_names_by_the_initials_of_their_reading() {
    let mut s = Store::open_in_memory().unwrap();
    let t = today(&s);
    let list = real_names();
    let ids: Vec<_> = list
        .iter()
        .map(|(name, _)| s.add_child(child(name, "v1", &t)).unwrap())
        .collect();
    let mut missed = Vec::new();
    for ((name, reading), id) in list.iter().zip(&ids) {
        let initials: String = reading.iter().filter_map(|r| r.chars().next()).collect();
        let partial: String = initials.chars().take(2).collect();
        for q in [initials.clone(), initials.to_uppercase(), partial] {
            if !search(&s, &q).contains(id) {
                missed.push(format!("{name} by {q}"));
            }
        }
    }
    let names_missed: std::collections::BTreeSet<&str> =
        missed.iter().filter_map(|m| m.split(' ').next()).collect();
    let found = list.len() - names_missed.len();
    assert!(
        found * 100 >= list.len() * 99,
        "{found} of {} found: missed {missed:?}",
        list.len()
    );
}

#[test]
fn percent_and_underscore_in_a_search_match_only_themselves() {
    let mut s = Store::open_in_memory().unwrap();
    let t = today(&s);
    let li = s.add_child(child("李小花", "v1", &t)).unwrap();
    s.add_child(child("王芳", "v1", &t)).unwrap();
    for q in ["%", "_", "%%", "l%", "l_", "_x", "%xh"] {
        assert!(search(&s, q).is_empty(), "{q:?} found someone");
    }
    let odd = s.add_child(child("李_明", "v1", &t)).unwrap();
    assert_eq!(
        search(&s, "_"),
        vec![odd],
        "a name with an underscore is found by it"
    );
    // Uppercase, full-width and partial initials, and a piece of the name.
    for q in ["LXH", "ｌｘｈ", "lx", "xh", "小花", "li xiao", "李xh"] {
        assert_eq!(search(&s, q), vec![li], "{q:?}");
    }
}
