//! The device store, as a child director meets it: writes capture changes atomically,
//! bad input changes nothing, pulled changes merge and keep the loser, the roster is
//! ordered by urgency, a moved child leaves with its file, data at rest is encrypted.

use field_store::roster::RosterFilter;
use field_store::{OpenOptions, Store};
use serde_json::{json, Map, Value};
use uuid::Uuid;

fn fields(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

fn child(
    name: &str,
    village: &str,
    categories: &[&str],
    risk: &str,
    added_on: &str,
) -> Map<String, Value> {
    fields(json!({
        "name": name, "sex": "female", "birth_date": "2016-03-08", "village_code": village,
        "categories": categories, "risk_colour": risk, "household_registered": true,
        "status": "active", "added_on": added_on,
    }))
}

fn checklist() -> Value {
    json!({
        "living": {"status": "normal"}, "guardianship": {"status": "normal"},
        "education": {"status": "normal"}, "health": {"status": "normal"},
        "safety": {"status": "normal"}, "mood": {"status": "normal"},
    })
}

fn visit(at: &str, risk: &str) -> Map<String, Value> {
    fields(json!({
        "visited_at": at, "mode": "home", "visitor": "王主任", "checklist": checklist(),
        "risk_colour": risk, "emergency": false, "actions": [],
    }))
}

/// Moves every pending change of `from` into `to` (as a pull would).
fn exchange(from: &Store, to: &mut Store) {
    let changes = from.pending_changes(usize::MAX).unwrap();
    to.apply_changes(&changes, None).unwrap();
}

fn today(s: &Store) -> String {
    s.today().to_string()
}

#[test]
fn a_local_write_captures_one_change_per_field_with_dense_sequence_numbers() {
    let mut s = Store::open_in_memory().unwrap();
    let t = today(&s);
    let id = s
        .add_child(child("李小花", "v1", &["left_behind"], "green", &t))
        .unwrap();
    let pending = s.pending_changes(usize::MAX).unwrap();
    assert_eq!(pending.len(), 9, "one change per field written");
    let seqs: Vec<u64> = pending.iter().map(|c| c.device_seq).collect();
    assert_eq!(seqs, (1..=9).collect::<Vec<_>>());
    assert!(pending
        .iter()
        .all(|c| c.row_id == id && c.scope.as_str() == "v1"));

    let n = s
        .edit_record(
            "child",
            id,
            fields(json!({"risk_colour": "yellow", "name": "李小花"})),
        )
        .unwrap();
    assert_eq!(n, 1, "setting a field to its current value is not a change");
    let pending = s.pending_changes(usize::MAX).unwrap();
    assert_eq!(pending.last().unwrap().device_seq, 10);
    assert_eq!(pending.last().unwrap().field, "risk_colour");
    assert!(pending.last().unwrap().hlc > pending[0].hlc);
}

#[test]
fn bad_input_gets_a_clear_error_and_changes_nothing() {
    let mut s = Store::open_in_memory().unwrap();
    let t = today(&s);
    let id = s
        .add_child(child("张三", "v1", &["left_behind"], "green", &t))
        .unwrap();
    let before = (s.export_canonical().unwrap(), s.status().unwrap());

    let mut bad_id = child("李四", "v1", &["left_behind"], "green", &t);
    bad_id.insert("id_number".into(), json!("370602201603081235"));
    let e = s.add_child(bad_id).unwrap_err();
    assert_eq!(e.code(), "invalid_id_number", "{e}");
    assert!(e.zh().contains("身份证"), "{}", e.zh());

    let e = s
        .add_child(child("李四", "v1", &["space_cadet"], "green", &t))
        .unwrap_err();
    assert!(
        e.code() == "bad_value" || e.code() == "unknown_category",
        "{}",
        e.code()
    );

    let e = s
        .record_visit(
            Uuid::now_v7(),
            visit("2026-11-01T10:00:00+08:00", "green"),
            &[],
        )
        .unwrap_err();
    assert_eq!(e.code(), "child_not_found");

    let e = s
        .record_visit(
            id,
            visit("2026-11-01T10:00:00+08:00", "green"),
            &[b"not an image".to_vec()],
        )
        .unwrap_err();
    assert!(!e.zh().is_empty());
    let huge = vec![0xFFu8; 100 * 1024 * 1024];
    let e = s
        .record_visit(id, visit("2026-11-01T10:00:00+08:00", "green"), &[huge])
        .unwrap_err();
    assert_eq!(e.code(), "too_large");

    let e = s
        .edit_record("child", Uuid::now_v7(), fields(json!({"name": "x"})))
        .unwrap_err();
    assert_eq!(e.code(), "not_found");

    assert_eq!(
        before,
        (s.export_canonical().unwrap(), s.status().unwrap()),
        "nothing changed"
    );
}

#[test]
fn the_risk_colour_judged_on_the_latest_visit_becomes_the_child_s() {
    let mut s = Store::open_in_memory().unwrap();
    let t = today(&s);
    let id = s
        .add_child(child("张三", "v1", &["left_behind"], "yellow", &t))
        .unwrap();
    let risk = |s: &Store| {
        let r = s.roster(&RosterFilter::default()).unwrap();
        r.iter()
            .find(|e| e.child_id == id)
            .unwrap()
            .risk_colour
            .clone()
    };
    let before = s.pending_changes(usize::MAX).unwrap().len();
    s.record_visit(id, visit("2026-11-20T10:00:00+08:00", "blue"), &[])
        .unwrap();
    assert_eq!(risk(&s), "blue", "the roster shows the colour of the visit");
    assert_eq!(
        s.child_file(id).unwrap().child.fields["risk_colour"],
        "blue"
    );
    let sent: Vec<_> = s.pending_changes(usize::MAX).unwrap()[before..]
        .iter()
        .filter(|c| c.table == "child")
        .map(|c| c.field.clone())
        .collect();
    assert_eq!(
        sent,
        ["risk_colour"],
        "the child's new colour is synced too"
    );
    // A visit entered late for an earlier day does not undo the later judgement.
    s.record_visit(id, visit("2026-11-02T10:00:00+08:00", "green"), &[])
        .unwrap();
    assert_eq!(risk(&s), "blue");
    // The same colour again changes nothing on the child.
    let n = s.pending_changes(usize::MAX).unwrap().len();
    s.record_visit(id, visit("2026-11-25T10:00:00+08:00", "blue"), &[])
        .unwrap();
    assert!(s.pending_changes(usize::MAX).unwrap()[n..]
        .iter()
        .all(|c| c.table != "child"));
    s.record_visit(id, visit("2026-11-26T10:00:00+08:00", "green"), &[])
        .unwrap();
    assert_eq!(risk(&s), "green");
}

#[test]
fn a_visit_is_write_once_and_can_only_be_voided() {
    let mut s = Store::open_in_memory().unwrap();
    let t = today(&s);
    let id = s
        .add_child(child("张三", "v1", &["left_behind"], "green", &t))
        .unwrap();
    let v = s
        .record_visit(id, visit("2026-11-01T10:00:00+08:00", "green"), &[])
        .unwrap();
    let e = s
        .edit_record("visit", v.visit_id, fields(json!({"risk_colour": "red"})))
        .unwrap_err();
    assert_eq!(e.code(), "write_once");
    s.void_record("visit", v.visit_id, "录错了儿童", "王主任")
        .unwrap();
    let file = s.child_file(id).unwrap();
    assert_eq!(file.visits.len(), 1, "a voided visit stays in the file");
    assert_eq!(file.visits[0].fields["voided"]["reason"], "录错了儿童");
}

#[test]
fn pulled_changes_merge_idempotently_and_the_loser_is_kept_in_history() {
    let mut a = Store::open_in_memory().unwrap();
    let mut b = Store::open_in_memory().unwrap();
    let t = today(&a);
    let id = a
        .add_child(child("李小花", "v1", &["left_behind"], "green", &t))
        .unwrap();
    exchange(&a, &mut b);
    assert_eq!(a.export_canonical().unwrap(), b.export_canonical().unwrap());

    // Both directors edit the same field offline.
    a.edit_record("child", id, fields(json!({"current_address": "东街 1 号"})))
        .unwrap();
    b.edit_record("child", id, fields(json!({"current_address": "西街 2 号"})))
        .unwrap();
    let from_a = a.pending_changes(usize::MAX).unwrap();
    let from_b = b.pending_changes(usize::MAX).unwrap();
    a.apply_changes(&from_b, Some(7)).unwrap();
    b.apply_changes(&from_a, None).unwrap();
    let again = b.apply_changes(&from_a, None).unwrap();
    assert_eq!(again.applied, 0, "re-applying a page changes nothing");
    assert_eq!(a.export_canonical().unwrap(), b.export_canonical().unwrap());
    assert_eq!(
        a.device_state().unwrap().pull_cursor,
        7,
        "cursor stored with the page"
    );

    let winner = a.child_file(id).unwrap().child.fields["current_address"].clone();
    for s in [&a, &b] {
        let h = s.child_file(id).unwrap().history;
        let lost: Vec<_> = h.iter().filter(|e| e.field == "current_address").collect();
        assert_eq!(
            lost.len(),
            1,
            "the losing value is kept once on each device"
        );
        assert_ne!(lost[0].value, winner);
    }
}

#[test]
fn a_value_replaced_by_another_phone_is_told_on_both_sides_and_restored_by_a_new_edit() {
    let mut a = Store::open_in_memory().unwrap();
    let mut b = Store::open_in_memory().unwrap();
    let t = today(&a);
    let id = a
        .add_child(child("李小花", "v1", &["left_behind"], "green", &t))
        .unwrap();
    exchange(&a, &mut b);
    // Both directors change the address offline; b's edit is the later one.
    a.edit_record("child", id, fields(json!({"current_address": "东街 1 号"})))
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(5));
    b.edit_record("child", id, fields(json!({"current_address": "西街 2 号"})))
        .unwrap();
    let from_a = a.pending_changes(usize::MAX).unwrap();
    let from_b = b.pending_changes(usize::MAX).unwrap();
    a.apply_changes(&from_b, None).unwrap();
    b.apply_changes(&from_a, None).unwrap();

    // On a: its value was replaced, b's kept.
    let on_a = a.replaced_values(10).unwrap();
    assert_eq!(on_a.len(), 1, "{on_a:?}");
    let r = &on_a[0];
    assert_eq!(
        (r.replaced.clone(), r.kept.clone()),
        (json!("东街 1 号"), json!("西街 2 号"))
    );
    assert!(r.replaced_here && !r.kept_here && !r.changed_since);
    assert_eq!(r.child_id, Some(id));
    assert_eq!(r.child_name.as_deref(), Some("李小花"));
    // On b: its value was kept over a's.
    let on_b = b.replaced_values(10).unwrap();
    assert_eq!(on_b.len(), 1);
    assert_eq!(
        (on_b[0].replaced.clone(), on_b[0].kept.clone()),
        (json!("东街 1 号"), json!("西街 2 号"))
    );
    assert!(on_b[0].kept_here && !on_b[0].replaced_here);

    // a restores its value in one step: a new edit in the change log, which wins.
    let before = a.pending_changes(usize::MAX).unwrap().len();
    let (row, n) = a.restore_replaced_value(r.id).unwrap();
    assert_eq!((row, n), (id, 1));
    let queued = a.pending_changes(usize::MAX).unwrap();
    assert_eq!(queued.len(), before + 1, "the restore is one new change");
    assert_eq!(queued.last().unwrap().value, json!("东街 1 号"));
    assert_eq!(
        a.child_file(id).unwrap().child.fields["current_address"],
        "东街 1 号"
    );
    assert!(
        a.replaced_values(10).unwrap().is_empty(),
        "acted on: no longer shown"
    );
    b.apply_changes(&queued[before..], None).unwrap();
    assert_eq!(
        b.child_file(id).unwrap().child.fields["current_address"],
        "东街 1 号"
    );

    // b keeps what is there now: the one it was told about is settled.
    for r in b.replaced_values(10).unwrap() {
        b.keep_current_value(r.id).unwrap();
    }
    assert!(b.replaced_values(10).unwrap().is_empty());
    assert_eq!(
        b.child_file(id).unwrap().history.len(),
        2,
        "the file still lists both"
    );
    assert_eq!(a.keep_current_value(9999).unwrap_err().code(), "not_found");
}

#[test]
fn the_roster_puts_overdue_first_and_red_before_green_and_finds_pinyin_initials() {
    let mut s = Store::open_in_memory().unwrap();
    let today = s.today();
    let long_ago = (today - chrono::Duration::days(200)).to_string();
    let recent = today.to_string();
    let green_overdue = s
        .add_child(child("赵一", "v1", &["left_behind"], "green", &long_ago))
        .unwrap();
    let red_overdue = s
        .add_child(child("钱二", "v1", &["community_orphan"], "red", &long_ago))
        .unwrap();
    let fresh = s
        .add_child(child("孙三", "v1", &["left_behind"], "green", &recent))
        .unwrap();
    let visited = s
        .add_child(child("李小花", "v1", &["left_behind"], "green", &long_ago))
        .unwrap();
    let at = format!("{}T09:00:00+08:00", today);
    s.record_visit(visited, visit(&at, "green"), &[]).unwrap();

    let r = s.roster(&RosterFilter::default()).unwrap();
    let order: Vec<Uuid> = r.iter().map(|e| e.child_id).collect();
    assert_eq!(
        order[..2],
        [red_overdue, green_overdue],
        "overdue first, red before green"
    );
    assert!(order.contains(&fresh) && order.contains(&visited));
    let v = r.iter().find(|e| e.child_id == visited).unwrap();
    assert!(
        v.last_visit_unsynced,
        "visited but not yet synced is told apart"
    );
    assert!(v.next_due_on.as_deref().unwrap() > today.to_string().as_str());

    let found = s
        .roster(&RosterFilter {
            search: Some("lxh".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        found.iter().map(|e| e.child_id).collect::<Vec<_>>(),
        vec![visited]
    );
    let found = s
        .roster(&RosterFilter {
            search: Some("小花".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(found.len(), 1);
    let overdue = s
        .roster(&RosterFilter {
            overdue_only: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(overdue.len(), 2);
    let orphans = s
        .roster(&RosterFilter {
            category: Some("community_orphan".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        orphans.iter().map(|e| e.child_id).collect::<Vec<_>>(),
        vec![red_overdue]
    );
}

#[test]
fn a_child_who_moves_village_takes_the_file_along_and_leaves_the_old_device() {
    let mut old = Store::open_in_memory().unwrap();
    old.set_scopes(&["v1".into()]).unwrap();
    let t = today(&old);
    let id = old
        .add_child(child("周五", "v1", &["left_behind"], "green", &t))
        .unwrap();
    old.record_visit(id, visit("2026-11-01T10:00:00+08:00", "green"), &[])
        .unwrap();
    let mut other = Store::open_in_memory().unwrap();
    exchange(&old, &mut other);
    other
        .edit_record("child", id, fields(json!({"village_code": "v2"})))
        .unwrap();
    let file = other.child_file(id).unwrap();
    assert_eq!(file.village, "v2");
    let sums = other.scope_checksums().unwrap();
    assert!(
        sums.keys().all(|s| s.as_str() == "v2"),
        "the visit moved with the child: {sums:?}"
    );

    // The old device's own changes reached the server; then it learns of the move and
    // no longer holds the child.
    let sent = old.pending_changes(usize::MAX).unwrap();
    let ack = sync_core::wire::PushResponse {
        max_device_seq: sent.last().unwrap().device_seq,
        accepted: sent.len() as u64,
        rejected: vec![],
        server_time_ms: 0,
    };
    old.record_push_result(&sent, &ack).unwrap();
    let moved = other.pending_changes(usize::MAX).unwrap();
    let report = old.apply_changes(&moved, None).unwrap();
    assert_eq!(report.evicted_children, 1);
    assert!(old.child_file(id).is_err());
    assert!(old.roster(&RosterFilter::default()).unwrap().is_empty());
}

#[test]
fn data_at_rest_is_encrypted_and_needs_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.db");
    let opts = OpenOptions {
        key: Some("1234-pin-derived".into()),
        ..Default::default()
    };
    {
        let mut s = Store::open(&path, &opts).unwrap();
        let t = today(&s);
        s.add_child(child("李小花", "v1", &["left_behind"], "green", &t))
            .unwrap();
    }
    let raw = std::fs::read(&path).unwrap();
    assert!(
        !raw.windows("李小花".len())
            .any(|w| w == "李小花".as_bytes()),
        "names are not in the file in clear"
    );
    assert!(!raw.starts_with(b"SQLite format 3"));
    assert_eq!(
        Store::open(&path, &OpenOptions::default())
            .err()
            .unwrap()
            .code(),
        "locked"
    );
    let wrong = OpenOptions {
        key: Some("0000".into()),
        ..Default::default()
    };
    assert_eq!(Store::open(&path, &wrong).err().unwrap().code(), "locked");
    let s = Store::open(&path, &opts).unwrap();
    assert_eq!(s.status().unwrap().children, 1);
    assert!(
        s.status().unwrap().free_storage_bytes.unwrap() > 0,
        "the heartbeat can tell a full phone"
    );
    assert_eq!(Store::open_in_memory().unwrap().free_storage_bytes(), None);
}

/// Set in the child process of the test below: the database to open with a wrong key.
const WRONG_KEY_CHILD: &str = "TONGHU_TEST_WRONG_KEY_DB";

#[test]
fn a_wrong_key_is_reported_as_locked_and_the_cipher_library_prints_nothing_of_its_own() {
    if let Ok(path) = std::env::var(WRONG_KEY_CHILD) {
        // The child: what a phone (or fieldctl) does when the PIN is wrong.
        let wrong = OpenOptions {
            key: Some("0000".into()),
            ..Default::default()
        };
        let e = Store::open(&path, &wrong).err().unwrap();
        println!("error code: {}", e.code());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.db");
    let opts = OpenOptions {
        key: Some("1234-pin-derived".into()),
        ..Default::default()
    };
    Store::open(&path, &opts).unwrap();
    // SQLCipher's log goes to the process's stderr, so look at a fresh process's.
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "a_wrong_key_is_reported_as_locked_and_the_cipher_library_prints_nothing_of_its_own",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(WRONG_KEY_CHILD, &path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("error code: locked"), "{stdout}");
    for line in stdout.lines().chain(stderr.lines()) {
        assert!(
            !line.contains("ERROR")
                && !line.contains("sqlcipher")
                && !line.contains("hmac")
                && !line.contains("Codec"),
            "SQLCipher's own log leaked: {line}"
        );
    }
}

#[test]
fn unsent_changes_are_restamped_after_the_server_refuses_a_far_future_clock() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.db");
    let year_ms = 365 * 24 * 3600 * 1000;
    let fast = OpenOptions {
        clock_skew_ms: year_ms,
        ..Default::default()
    };
    let (ops, hlcs) = {
        let mut s = Store::open(&path, &fast).unwrap();
        let t = today(&s);
        s.add_child(child("吴六", "v1", &["left_behind"], "green", &t))
            .unwrap();
        let p = s.pending_changes(usize::MAX).unwrap();
        (p.iter().map(|c| c.op_id).collect::<Vec<_>>(), p[0].hlc)
    };
    let mut s = Store::open(&path, &fast).unwrap();
    s.set_clock_offset(-year_ms).unwrap(); // learned from the server
    assert_eq!(s.restamp_pending().unwrap(), ops.len());
    let p = s.pending_changes(usize::MAX).unwrap();
    assert_eq!(
        p.iter().map(|c| c.op_id).collect::<Vec<_>>(),
        ops,
        "same op_ids: a retry is recognised"
    );
    let now = chrono::Utc::now().timestamp_millis() as u64;
    assert!(p[0].hlc < hlcs);
    assert!(
        p[0].hlc.millis().abs_diff(now) < 60_000,
        "restamped to true time"
    );
    let exported = s.export_canonical().unwrap();
    assert!(
        exported.contains(&p[0].hlc.to_string()),
        "the row's clocks follow the outbox"
    );
}

/// The server's answer that it holds everything pending (as a push would get).
fn ack_all(s: &mut Store) {
    let sent = s.pending_changes(usize::MAX).unwrap();
    let max = sent.last().map(|c| c.device_seq).unwrap_or(0);
    let resp = sync_core::wire::PushResponse {
        max_device_seq: max,
        accepted: sent.len() as u64,
        rejected: vec![],
        server_time_ms: 0,
    };
    s.record_push_result(&sent, &resp).unwrap();
}

#[test]
fn sequence_numbers_and_the_clock_continue_after_the_outbox_empties_and_the_store_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.db");
    let (first, last_hlc) = {
        let mut s = Store::open(&path, &OpenOptions::default()).unwrap();
        let t = today(&s);
        s.add_child(child("李小花", "v1", &["left_behind"], "green", &t))
            .unwrap();
        let pending = s.pending_changes(usize::MAX).unwrap();
        ack_all(&mut s);
        assert_eq!(s.pending_changes(usize::MAX).unwrap().len(), 0);
        (pending, s.device_state().unwrap().hlc_last)
    };
    assert_eq!(first.last().unwrap().device_seq, 9);
    assert_eq!(last_hlc, first.last().unwrap().hlc);

    let mut s = Store::open(&path, &OpenOptions::default()).unwrap();
    let st = s.device_state().unwrap();
    assert_eq!(
        st.next_seq, 10,
        "the emptied outbox left its counter behind"
    );
    assert_eq!(st.hlc_last, last_hlc);
    let t = today(&s);
    s.add_child(child("王小明", "v1", &["left_behind"], "green", &t))
        .unwrap();
    let second = s.pending_changes(usize::MAX).unwrap();
    assert_eq!(
        second.first().unwrap().device_seq,
        10,
        "no device_seq twice"
    );
    assert!(
        second.iter().all(|c| c.hlc > last_hlc),
        "the clock never goes back"
    );
    let ops: std::collections::HashSet<Uuid> =
        first.iter().chain(&second).map(|c| c.op_id).collect();
    assert_eq!(ops.len(), 18, "every change has its own op_id");
    assert!(ops.iter().all(|o| o.get_version_num() == 7));

    // A wiped (lost, then recovered) phone keeps its identity and its counters.
    s.wipe().unwrap();
    s.add_child(child("赵一", "v1", &["left_behind"], "green", &t))
        .unwrap();
    let third = s.pending_changes(usize::MAX).unwrap();
    assert_eq!(third.first().unwrap().device_seq, 19);
}

#[test]
fn visited_but_not_synced_clears_once_the_server_holds_the_visit() {
    let mut s = Store::open_in_memory().unwrap();
    let t = s.today();
    let id = s
        .add_child(child(
            "李小花",
            "v1",
            &["left_behind"],
            "green",
            &t.to_string(),
        ))
        .unwrap();
    s.record_visit(id, visit(&format!("{t}T09:00:00+08:00"), "green"), &[])
        .unwrap();
    let line = |s: &Store| {
        s.roster(&RosterFilter::default())
            .unwrap()
            .into_iter()
            .find(|e| e.child_id == id)
            .unwrap()
    };
    assert!(line(&s).last_visit_unsynced);
    assert_eq!(line(&s).last_visit_on, Some(t.to_string()));
    ack_all(&mut s);
    let after = line(&s);
    assert!(!after.last_visit_unsynced, "the server holds it now");
    assert_eq!(after.last_visit_on, Some(t.to_string()));
}

#[test]
fn a_store_written_by_the_previous_schema_opens_migrates_and_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let (id, device) = (Uuid::now_v7(), Uuid::now_v7());
    {
        // The schema as of migration 2, with rows as that version wrote them (JSON
        // field clocks, counters in the device row, the unsynced flag in the roster).
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(include_str!("../src/migrations/0001_initial.sql"))
            .unwrap();
        c.execute_batch(include_str!("../src/migrations/0002_sync.sql"))
            .unwrap();
        c.pragma_update(None, "user_version", 2).unwrap();
        c.execute(
            "INSERT INTO device (id, device_id, next_seq, hlc_last, created_at) VALUES (1, ?1, 12, ?2, '2026-11-01T00:00:00Z')",
            rusqlite::params![device.to_string(), (1_700_000_000_000i64 << 16) + 3],
        )
        .unwrap();
        let t = "2026-11-01";
        let doc =
            serde_json::to_string(&child("李小花", "v1", &["left_behind"], "green", t)).unwrap();
        let hlc = format!("{:016x}", (1_700_000_000_000u64 << 16) + 1);
        let clocks: Map<String, Value> = child("李小花", "v1", &["left_behind"], "green", t)
            .keys()
            .map(|k| (k.clone(), json!([hlc, device])))
            .collect();
        c.execute(
            "INSERT INTO record (tbl, row_id, scope, child_id, doc, clocks) VALUES ('child', ?1, 'v1', NULL, ?2, ?3)",
            rusqlite::params![id.to_string(), doc, Value::Object(clocks).to_string()],
        )
        .unwrap();
        // One unsent change in the old outbox format (an op_id and stamp per change).
        let op =
            json!([{"op_id": Uuid::from_u128(7), "field": "name", "value": "李小花", "hlc": hlc}]);
        c.execute(
            "INSERT INTO outbox (first_seq, n, tbl, row_id, scope, changes, written_at) VALUES (11, 1, 'child', ?1, 'v1', ?2, 0)",
            rusqlite::params![id.to_string(), op.to_string()],
        )
        .unwrap();
        c.execute(
            "INSERT INTO roster_entry (child_id, scope, name, initials, categories, risk_rank, risk_colour, active, last_visit_on, last_visit_unsynced, next_due_on)
             VALUES (?1, 'v1', '李小花', 'lxh', '[\"left_behind\"]', 3, 'green', 1, NULL, 0, '2026-11-08')",
            [id.to_string()],
        )
        .unwrap();
    }
    let mut s = Store::open(&path, &OpenOptions::default()).unwrap();
    let st = s.device_state().unwrap();
    assert_eq!(st.next_seq, 12, "the device row's counter still rules");
    assert_eq!(st.hlc_last.as_u64(), (1_700_000_000_000u64 << 16) + 3);
    let r = s.roster(&RosterFilter::default()).unwrap();
    assert_eq!(r.len(), 1);
    assert!(!r[0].last_visit_unsynced);
    // The roster's search keys were rebuilt by the migration: the given name's
    // initials find the child (an old "lxh" string would not).
    let by_given_name = RosterFilter {
        search: Some("xh".into()),
        ..Default::default()
    };
    assert_eq!(s.roster(&by_given_name).unwrap().len(), 1);
    let before = s.export_canonical().unwrap();
    assert!(
        before.contains("李小花"),
        "the JSON field clocks still read"
    );
    // An edit merges against the old clocks and rewrites them in the new encoding.
    assert_eq!(
        s.edit_record("child", id, fields(json!({"risk_colour": "yellow"})))
            .unwrap(),
        1
    );
    let pending = s.pending_changes(usize::MAX).unwrap();
    assert_eq!(pending.len(), 2);
    assert_eq!(
        (
            pending[0].device_seq,
            pending[0].op_id,
            pending[0].field.as_str()
        ),
        (11, Uuid::from_u128(7), "name"),
        "the old outbox row still reads"
    );
    assert_eq!(pending[0].value, json!("李小花"));
    assert_eq!(pending[1].device_seq, 12, "no sequence number reused");
    assert_eq!(pending[1].value, json!("yellow"));
    // Re-stamping (after a far-future refusal) handles both formats.
    assert_eq!(s.restamp_pending().unwrap(), 2);
    let again = s.pending_changes(usize::MAX).unwrap();
    assert_eq!(again[0].op_id, pending[0].op_id);
    assert_eq!(again[1].op_id, pending[1].op_id);
    assert!(again[0].hlc > pending[0].hlc && again[1].hlc > again[0].hlc);
    let kind: String = s
        .connection()
        .query_row(
            "SELECT typeof(clocks) FROM record WHERE row_id = ?1",
            [id.to_string()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(kind, "blob");
    let after = s.export_canonical().unwrap();
    assert!(after.contains("yellow") && after.contains("李小花"));
}
