//! Push, pull, verify, exactly-once, rejections, re-scoping, access log, audit and the
//! late-commit race, on SQLite and (when configured) PostgreSQL.

mod common;

use common::{Backend, TestServer};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use sync_core::wire::{PulledChange, VerifyRequest, VerifyResponse, PROTOCOL_VERSION};
use sync_core::{Hlc, Replica, Scope, ScopeChecksum};
use sync_server::store::VillageSet;

backend_tests!(
    a_village_s_devices_receive_what_its_director_pushed,
    the_same_batch_pushed_three_times_is_stored_once,
    rejected_changes_are_reported_recorded_and_count_as_held,
    verify_agrees_with_a_replica_built_from_pulled_changes,
    a_child_moving_village_reaches_the_new_village_whole,
    supervisor_reads_are_written_to_the_access_log,
    the_audit_trail_names_account_and_device,
    late_commits_are_never_skipped_by_a_racing_puller,
    an_append_only_row_takes_its_creating_write_in_pieces_then_only_a_void,
    a_pull_leaves_out_the_puller_s_own_changes_and_still_moves_its_cursor,
    own_changes_re_fed_into_a_village_reach_their_author,
    a_gap_holds_later_changes_back_and_a_reused_seq_is_refused,
    a_push_that_fails_takes_none_of_the_pushes_committed_with_it_down,
);

async fn a_village_s_devices_receive_what_its_director_pushed(backend: Backend) {
    let s = TestServer::start(backend).await;
    let phone = s.device("dir-a").await;
    let tablet = s.device("dir-a").await;
    let other = s.device("dir-b").await;
    assert_eq!(phone.scopes, vec!["A"]);
    let (_child, changes) = phone.new_child("A", "王小花");
    let out = phone.push(&changes).await;
    assert_eq!(
        (out.accepted, out.max_device_seq, out.rejected.len()),
        (9, 9, 0)
    );
    assert!(out.server_time_ms > 0);
    let (pulled, cursor) = tablet.pull_all(0).await;
    assert_eq!(pulled.len(), 9);
    assert!(pulled.iter().all(|p| p.change.scope.as_str() == "A"));
    assert_eq!(
        pulled.iter().map(|p| p.change.op_id).collect::<Vec<_>>(),
        changes.iter().map(|c| c.op_id).collect::<Vec<_>>()
    );
    assert_eq!(tablet.pull_all(cursor).await.0.len(), 0);
    assert_eq!(
        other.pull_all(0).await.0.len(),
        0,
        "village B's device sees nothing of village A"
    );
    // Paging.
    let first = tablet.pull_page(0, 4).await;
    assert_eq!(first.changes.len(), 4);
    assert!(first.has_more);
}

async fn the_same_batch_pushed_three_times_is_stored_once(backend: Backend) {
    let s = TestServer::start(backend).await;
    let phone = s.device("dir-a").await;
    let reader = s.device("dir-a").await;
    let (child, mut batch) = phone.new_child("A", "李明");
    batch.extend(phone.new_visit("A", child).1);
    let n = batch.len() as u64;
    for _ in 0..3 {
        let out = phone.push(&batch).await;
        assert_eq!((out.accepted, out.max_device_seq), (n, n));
        assert!(out.rejected.is_empty());
    }
    // Interleaved duplicates inside one push, in another order.
    let mut messy: Vec<_> = batch.iter().rev().cloned().collect();
    messy.extend(batch.iter().step_by(2).cloned());
    let out = phone.push(&messy).await;
    assert!(out.rejected.is_empty());
    assert_eq!(out.max_device_seq, n);
    let (pulled, _) = reader.pull_all(0).await;
    assert_eq!(pulled.len() as u64, n, "each change once in the feed");
    let ids: HashSet<_> = pulled.iter().map(|p| p.change.op_id).collect();
    assert_eq!(ids.len() as u64, n);
}

async fn rejected_changes_are_reported_recorded_and_count_as_held(backend: Backend) {
    let s = TestServer::start(backend).await;
    let phone = s.device("dir-a").await;
    let row = uuid::Uuid::now_v7();
    let good1 = phone.change("child", row, "name", json!("张三"), "A");
    let unknown = phone.change("child", row, "favourite_colour", json!("red"), "A");
    let bad = phone.change("child", row, "sex", json!("unknown"), "A");
    let foreign = phone.change("child", uuid::Uuid::now_v7(), "name", json!("x"), "B");
    let mut ahead = phone.change("child", row, "notes", json!("n"), "A");
    ahead.hlc = Hlc::new(common::now_ms() + 3_600_000, 0);
    let table = phone.change("secret_table", row, "name", json!("x"), "A");
    let good2 = phone.change("child", row, "risk_colour", json!("red"), "A");
    // Seqs: good1 1, unknown 2, bad 3, foreign 4, ahead 5, table 6, good2 7; the far-ahead
    // change goes last: a clock_ahead refusal is not held and stops the batch (the
    // device re-stamps it and everything after it).
    let batch = vec![
        good1,
        unknown.clone(),
        bad,
        foreign,
        table.clone(),
        good2.clone(),
        ahead.clone(),
    ];
    let out = phone.push(&batch).await;
    // This batch is out of order: seqs 6 and 7 come before 5 in it, and 5 is refused
    // `clock_ahead` (not held), so 6 and 7 wait behind the gap at 5 (parked).
    assert_eq!(out.accepted, 1, "{:?}", out.rejected);
    assert_eq!(
        out.max_device_seq, 4,
        "rejected changes are held too, up to the unheld clock_ahead (seq 5)"
    );
    let codes: BTreeMap<u64, String> = out
        .rejected
        .iter()
        .map(|r| (r.device_seq, r.code.clone()))
        .collect();
    assert_eq!(
        codes,
        BTreeMap::from([
            (2, "unknown_field".to_string()),
            (3, "bad_value".into()),
            (4, "out_of_scope".into()),
            (5, "clock_ahead".into()),
        ])
    );
    assert!(out.rejected.iter().all(|r| !r.message.is_empty()));
    // Re-pushing the same rejected change is refused again, the same way.
    let again = phone.push(&[unknown]).await;
    assert_eq!(again.rejected[0].code, "unknown_field");
    assert_eq!(again.max_device_seq, 4);
    // The same op_id with other content is a conflict.
    let mut forged = batch[0].clone();
    forged.value = json!("李四");
    let out = phone.push(&[forged]).await;
    assert_eq!(out.rejected[0].code, "op_id_conflict");
    let (pulled, _) = s.device("dir-a").await.pull_all(0).await;
    assert_eq!(pulled.len(), 1, "nothing after the gap is fed: {pulled:?}");
    assert_eq!(pulled[0].change.value, json!("张三"));
    // Gaps: seq 9 arrives before 8, and 5 is still missing; once 5 arrives, 9 is held.
    let c8 = phone.change("child", row, "status", json!("active"), "A");
    let c9 = phone.change("child", row, "added_on", json!("2025-01-01"), "A");
    assert_eq!(
        phone.push(std::slice::from_ref(&c9)).await.max_device_seq,
        4
    );
    assert_eq!(
        phone.push(std::slice::from_ref(&c8)).await.max_device_seq,
        4
    );
    // The device corrects its clock, re-stamps the refused change (same op_id) and sends
    // its outbox again from there on, as it does after every push that left a gap. (The
    // change that could never be applied — seq 6, an unknown table — was not kept
    // while it waited: it is refused now, in sequence.)
    let mut restamped = ahead;
    restamped.hlc = Hlc::new(common::now_ms(), 0);
    let out = phone.push(&[restamped, table, good2, c8, c9]).await;
    let codes: Vec<(u64, &str)> = out
        .rejected
        .iter()
        .map(|r| (r.device_seq, r.code.as_str()))
        .collect();
    assert_eq!(codes, vec![(6, "unknown_table")], "refused in sequence now");
    assert_eq!((out.accepted, out.max_device_seq), (4, 9));
    let (pulled, _) = s.device("dir-a").await.pull_all(0).await;
    assert_eq!(pulled.len(), 5, "{pulled:?}");
    assert_eq!(
        pulled
            .iter()
            .map(|p| p.change.device_seq)
            .collect::<Vec<_>>(),
        vec![1, 5, 7, 8, 9],
        "fed in device_seq order"
    );
}

async fn a_gap_holds_later_changes_back_and_a_reused_seq_is_refused(backend: Backend) {
    let s = TestServer::start(backend).await;
    let phone = s.device("dir-a").await;
    let tablet = s.device("dir-a").await;
    let (child, changes) = phone.new_child("A", "王小花");
    // Seqs 1..=9; the phone's first push loses seqs 1 and 2 (a device that skips).
    let out = phone.push(&changes[2..]).await;
    assert_eq!((out.accepted, out.max_device_seq), (0, 0));
    assert!(out.rejected.is_empty(), "{:?}", out.rejected);
    assert!(
        tablet.pull_all(0).await.0.is_empty(),
        "changes after a gap are not fed to other devices"
    );
    // A retry of the same push changes nothing.
    let out = phone.push(&changes[2..]).await;
    assert_eq!((out.accepted, out.max_device_seq), (0, 0));
    // Another op_id with a parked seq is refused, and not held.
    let mut reuse = phone.change("child", child, "notes", json!("x"), "A");
    reuse.device_seq = 5;
    let out = phone.push(&[reuse.clone()]).await;
    assert_eq!(out.rejected.len(), 1);
    assert_eq!(out.rejected[0].code, "device_seq_reused");
    // The missing changes arrive: everything is applied, in order, once.
    let out = phone.push(&changes[..2]).await;
    assert_eq!(
        (out.accepted, out.max_device_seq),
        (9, 9),
        "{:?}",
        out.rejected
    );
    let (pulled, _) = tablet.pull_all(0).await;
    assert_eq!(
        pulled.iter().map(|p| p.change.op_id).collect::<Vec<_>>(),
        changes.iter().map(|c| c.op_id).collect::<Vec<_>>()
    );
    // The whole outbox again (a retry after a lost answer): nothing new.
    let out = phone.push(&changes).await;
    assert_eq!((out.accepted, out.max_device_seq), (9, 9));
    assert!(out.rejected.is_empty());
    assert_eq!(tablet.pull_all(0).await.0.len(), 9);
    // A held seq reused with a new op_id is refused and changes nothing.
    let mut reuse = phone.change("child", child, "name", json!("冒名"), "A");
    reuse.device_seq = 3;
    let out = phone.push(&[reuse]).await;
    assert_eq!(out.rejected[0].code, "device_seq_reused");
    assert_eq!(out.max_device_seq, 9);
    let (pulled, _) = tablet.pull_all(0).await;
    assert_eq!(pulled.len(), 9);
    assert!(pulled.iter().all(|p| p.change.value != json!("冒名")));
}

async fn an_append_only_row_takes_its_creating_write_in_pieces_then_only_a_void(backend: Backend) {
    let s = TestServer::start(backend).await;
    let phone = s.device("dir-a").await;
    let tablet = s.device("dir-a").await;
    let (child, c) = phone.new_child("A", "赵六");
    assert!(phone.push(&c).await.rejected.is_empty());
    // One device write creates the visit (one stamp), with a nullable field that only
    // its last changes carry; the phone's outbox sends it in two pushes.
    let (visit, mut creating) = phone.new_visit("A", child);
    let stamp = creating[0].hlc;
    creating.push(sync_core::Change {
        hlc: stamp,
        ..phone.change("visit", visit, "narrative", json!("院子里晒着被子"), "A")
    });
    let (first, rest) = creating.split_at(3);
    let out = phone.push(first).await;
    assert!(out.rejected.is_empty(), "{:?}", out.rejected);
    let out = phone.push(rest).await;
    assert!(
        out.rejected.is_empty(),
        "the rest of the creating write is accepted: {:?}",
        out.rejected
    );
    // A re-push of the whole creating write is a no-op, not a refusal.
    assert!(phone.push(&creating).await.rejected.is_empty());

    // Later writes may not fill a field the creating write left empty: from another
    // device of the village, from the creating device itself, or with the creating
    // write's hlc under another device.
    let late_other = tablet.write("visit", visit, [("problems", json!("补写的问题"))], "A");
    let late_same = phone.write("visit", visit, [("people_present", json!("奶奶"))], "A");
    let mut forged = tablet.write("visit", visit, [("next_due_on", json!("2025-07-01"))], "A");
    forged[0].hlc = stamp;
    // Nor change one it filled.
    let overwrite = tablet.write("visit", visit, [("risk_colour", json!("red"))], "A");
    for (d, late) in [
        (&tablet, &late_other),
        (&phone, &late_same),
        (&tablet, &forged),
        (&tablet, &overwrite),
    ] {
        let out = d.push(late).await;
        assert_eq!(out.accepted, 0);
        assert_eq!(
            out.rejected
                .iter()
                .map(|r| r.code.as_str())
                .collect::<Vec<_>>(),
            vec!["write_once"],
            "{}",
            late[0].field
        );
        assert_eq!(out.max_device_seq, late[0].device_seq, "a refusal is held");
    }
    // A second attempt is refused the same way.
    assert_eq!(
        tablet.push(&late_other).await.rejected[0].code,
        "write_once"
    );
    // The void is the one field written after creation.
    let void = tablet.write(
        "visit",
        visit,
        [("voided", json!({"reason": "重复录入", "by": "主任"}))],
        "A",
    );
    let out = tablet.push(&void).await;
    assert!(out.rejected.is_empty(), "{:?}", out.rejected);

    let (pulled, _) = s.device("dir-a").await.pull_all(0).await;
    let mut fields: Vec<&str> = pulled
        .iter()
        .filter(|p| p.change.row_id == visit)
        .map(|p| p.change.field.as_str())
        .collect();
    fields.sort_unstable();
    let mut expected: Vec<&str> = creating.iter().map(|c| c.field.as_str()).collect();
    expected.push("voided");
    expected.sort_unstable();
    assert_eq!(fields, expected);
}

fn op_ids(pulled: &[PulledChange]) -> Vec<uuid::Uuid> {
    pulled.iter().map(|p| p.change.op_id).collect()
}

async fn a_pull_leaves_out_the_puller_s_own_changes_and_still_moves_its_cursor(backend: Backend) {
    let s = TestServer::start(backend).await;
    let phone = s.device("dir-a").await;
    let tablet = s.device("dir-a").await;
    let (_, mine) = phone.new_child("A", "钱一");
    phone.push(&mine).await;
    let (_, theirs) = tablet.new_child("A", "孙二");
    tablet.push(&theirs).await;
    let (_, mine2) = phone.new_child("A", "李三");
    phone.push(&mine2).await;
    let theirs: Vec<_> = theirs.iter().map(|c| c.op_id).collect();
    let (everything, end) = tablet.pull_all(0).await;
    assert_eq!(everything.len(), 27);
    let seq = |i: usize| everything[i].server_seq;

    // A page of only the phone's own changes: nothing sent, the cursor moves past them.
    let page = phone.pull_page_with(0, 9, false).await;
    assert!(page.changes.is_empty());
    assert_eq!((page.next_cursor, page.has_more), (seq(8), true));
    let page = phone.pull_page_with(page.next_cursor, 9, false).await;
    assert_eq!(op_ids(&page.changes), theirs);
    assert_eq!((page.next_cursor, page.has_more), (seq(17), true));
    let page = phone.pull_page_with(page.next_cursor, 9, false).await;
    assert!(page.changes.is_empty());
    assert_eq!((page.next_cursor, page.has_more), (end, false));
    // Page by page the way a device loops: it ends, at the end of the feed.
    let (pulled, cursor) = phone.pull_all_with(0, 4, false).await;
    assert_eq!((op_ids(&pulled), cursor), (theirs.clone(), end));

    // Asked for (a fresh copy of the village): everything.
    assert_eq!(phone.pull_all_with(0, 10, true).await.0, everything);
    // A client that does not know the field gets what it always got.
    let (status, body) = phone
        .post(
            "/v1/pull",
            &json!({"protocol": PROTOCOL_VERSION, "cursor": 0, "limit": 1000}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["changes"].as_array().unwrap().len(), 27);
}

async fn own_changes_re_fed_into_a_village_reach_their_author(backend: Backend) {
    let s = TestServer::start(backend).await;
    let a = s.device("dir-a").await;
    let b = s.device("dir-b").await;
    // B's director registers a child in B, then moves it to A: B's phone evicts it.
    let (child, created) = b.new_child("B", "吴四");
    b.push(&created).await;
    let (_, cursor) = b.pull_all_with(0, 1000, false).await;
    let away = b.change("child", child, "village_code", json!("A"), "A");
    assert!(b.push(&[away]).await.rejected.is_empty());
    // A's director moves it back to B: its current fields are re-fed into B, B's own
    // original changes among them, and B's phone needs them to hold the child again.
    let mut back = a.change("child", child, "village_code", json!("B"), "B");
    back.hlc = Hlc::new(common::now_ms() + 60_000, 0);
    assert!(a.push(&[back.clone()]).await.rejected.is_empty());
    let (pulled, _) = b.pull_all_with(cursor, 1000, false).await;
    let mut got = op_ids(&pulled);
    got.sort();
    let mut expected: Vec<_> = created
        .iter()
        .filter(|c| c.field != "village_code")
        .map(|c| c.op_id)
        .chain([back.op_id])
        .collect();
    expected.sort();
    assert_eq!(got, expected);
}

fn checksums_of(pulled: &[PulledChange]) -> BTreeMap<Scope, ScopeChecksum> {
    // A device's view: every field's winner, in the scope its latest feed entry named.
    let mut replica = Replica::default();
    let mut row_scope = BTreeMap::new();
    for p in pulled {
        replica.apply(&p.change);
        row_scope.insert(
            (p.change.table.clone(), p.change.row_id),
            p.change.scope.clone(),
        );
    }
    let mut out: BTreeMap<Scope, ScopeChecksum> = BTreeMap::new();
    for (k, v) in &replica.fields {
        let scope = row_scope[&(k.table.clone(), k.row_id)].clone();
        out.entry(scope)
            .or_default()
            .add(ScopeChecksum::field_hash(k, &v.stamp, &v.value));
    }
    out
}

async fn verify(
    device: &common::Device,
    checksums: BTreeMap<Scope, ScopeChecksum>,
) -> VerifyResponse {
    let (status, body) = device
        .post(
            "/v1/verify",
            &serde_json::to_value(VerifyRequest {
                protocol: PROTOCOL_VERSION,
                checksums,
            })
            .unwrap(),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_value(body).unwrap()
}

async fn verify_agrees_with_a_replica_built_from_pulled_changes(backend: Backend) {
    let s = TestServer::start(backend).await;
    let a1 = s.device("dir-a").await;
    let a2 = s.device("dir-a").await;
    let (child, c) = a1.new_child("A", "陈晨");
    a1.push(&c).await;
    a2.push(&a2.new_visit("A", child).1).await;
    // Concurrent edits of one field: the larger (hlc, device) wins on both sides.
    let e1 = a1.change("child", child, "risk_colour", json!("red"), "A");
    let e2 = a2.change("child", child, "risk_colour", json!("yellow"), "A");
    a2.push(&[e2]).await;
    a1.push(&[e1]).await;
    let reader = s.device("dir-a").await;
    let (pulled, _) = reader.pull_all(0).await;
    let mine = checksums_of(&pulled);
    assert_eq!(mine[&Scope::new("A")].fields, 9 + 8);
    let v = verify(&reader, mine.clone()).await;
    assert!(v.mismatched.is_empty(), "{v:?}");
    let mut wrong = mine;
    wrong.get_mut(&Scope::new("A")).unwrap().sum ^= 1;
    assert_eq!(
        verify(&reader, wrong).await.mismatched,
        vec![Scope::new("A")]
    );
    let (status, body) = reader
        .post(
            "/v1/verify",
            &json!({"protocol": PROTOCOL_VERSION, "checksums": {"B": {"fields": 0, "sum": "0"}}}),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (403, Some("out_of_scope")));
}

async fn a_child_moving_village_reaches_the_new_village_whole(backend: Backend) {
    let s = TestServer::start(backend).await;
    let a = s.device("dir-a").await;
    let b = s.device("dir-b").await;
    let (child, c) = a.new_child("A", "赵小雨");
    a.push(&c).await;
    let (visit, v) = a.new_visit("A", child);
    a.push(&v).await;
    let guardian = uuid::Uuid::now_v7();
    a.push(&[
        a.change(
            "guardian",
            guardian,
            "child_id",
            json!(child.to_string()),
            "A",
        ),
        a.change("guardian", guardian, "name", json!("赵奶奶"), "A"),
        a.change("guardian", guardian, "role", json!("grandparent"), "A"),
    ])
    .await;
    let (_, a_cursor) = a.pull_all(0).await;
    let (before_b, b_cursor) = b.pull_all(0).await;
    assert!(before_b.is_empty());

    // The family moves to village B; A's director records it.
    let mv = a.change("child", child, "village_code", json!("B"), "B");
    let out = a.push(std::slice::from_ref(&mv)).await;
    assert!(out.rejected.is_empty(), "{:?}", out.rejected);

    // B's device receives the whole record, in scope B.
    let (got, b_cursor) = b.pull_all(b_cursor).await;
    assert!(got.iter().all(|p| p.change.scope.as_str() == "B"));
    let rows: BTreeSet<_> = got
        .iter()
        .map(|p| (p.change.table.clone(), p.change.row_id))
        .collect();
    assert_eq!(
        rows,
        BTreeSet::from([
            ("child".to_string(), child),
            ("visit".into(), visit),
            ("guardian".into(), guardian)
        ])
    );
    let mut replica = Replica::default();
    for p in &got {
        replica.apply(&p.change);
    }
    assert_eq!(
        replica.fields.len(),
        9 + 8 + 3,
        "every current field of the record"
    );
    let server = s
        .state
        .db
        .checksums(&["B".into(), "A".into()])
        .await
        .unwrap();
    assert_eq!(
        server[&Scope::new("B")],
        checksums_of(&got)[&Scope::new("B")]
    );
    assert_eq!(server[&Scope::new("A")].fields, 0);

    // A's device learns the child left (the move, in scope A), then nothing more.
    let (a_got, a_cursor) = a.pull_all(a_cursor).await;
    assert_eq!(a_got.len(), 1);
    assert_eq!(
        (a_got[0].change.op_id, a_got[0].change.scope.as_str()),
        (mv.op_id, "A")
    );
    b.push(&[b.change("child", child, "risk_colour", json!("red"), "B")])
        .await;
    assert!(
        a.pull_all(a_cursor).await.0.is_empty(),
        "A sees no later edits of the child"
    );
    assert_eq!(b.pull_all(b_cursor).await.0.len(), 1);
    // A may no longer write the child; B may.
    let late = a
        .push(&[a.change("child", child, "notes", json!("x"), "A")])
        .await;
    assert_eq!(late.rejected[0].code, "out_of_scope");
    // New rows for the child belong in B.
    let (_, v2) = b.new_visit("B", child);
    assert!(b.push(&v2).await.rejected.is_empty());
    // A move to a village that does not exist is refused.
    let bad = b
        .push(&[b.change("child", child, "village_code", json!("ZZ"), "ZZ")])
        .await;
    assert_eq!(bad.rejected[0].code, "unknown_village");
}

async fn supervisor_reads_are_written_to_the_access_log(backend: Backend) {
    let s = TestServer::start(backend).await;
    let a = s.device("dir-a").await;
    let c = s.device("dir-c").await;
    a.push(&a.new_child("A", "周一").1).await;
    c.push(&c.new_child("C", "周二").1).await;
    let sup = s.device("sup-1").await;
    assert_eq!(sup.scopes, vec!["A", "B"]);
    let (got, _) = sup.pull_all(0).await;
    assert_eq!(got.len(), 9, "only the supervisor's own township");
    assert!(got.iter().all(|p| p.change.scope.as_str() == "A"));
    let all = || s.state.db.access_log(VillageSet::All, None, 1000);
    let log = all().await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(
        (
            log[0].account_id,
            log[0].device_id,
            log[0].scope.as_str(),
            log[0].record_count
        ),
        (sup.account_id, sup.device_id, "A", 9)
    );
    // A director's own pulls are not logged.
    s.device("dir-a").await.pull_all(0).await;
    assert_eq!(all().await.unwrap().len(), 1);
    let admin = s.device("admin").await;
    assert_eq!(admin.pull_all(0).await.0.len(), 18);
    assert_eq!(all().await.unwrap().len(), 3);
    // The log is read newest first, bounded, and filtered by the database.
    let newest = s
        .state
        .db
        .access_log(VillageSet::All, None, 2)
        .await
        .unwrap();
    assert_eq!(newest.len(), 2);
    assert!(newest.iter().all(|e| e.account_id == admin.account_id));
    let c_only = ["C".to_string()];
    let of_c = s
        .state
        .db
        .access_log(VillageSet::Only(&c_only), None, 1000)
        .await
        .unwrap();
    assert_eq!((of_c.len(), of_c[0].scope.as_str()), (1, "C"));
    let by_sup = s
        .state
        .db
        .access_log(VillageSet::All, Some(&[sup.account_id]), 1000)
        .await
        .unwrap();
    assert_eq!((by_sup.len(), by_sup[0].device_id), (1, sup.device_id));
}

async fn the_audit_trail_names_account_and_device(backend: Backend) {
    let s = TestServer::start(backend).await;
    let a = s.device("dir-a").await;
    let (child, c) = a.new_child("A", "吴桐");
    a.push(&c).await;
    let a2 = s.device("dir-a").await;
    a2.push(&[a2.change("child", child, "risk_colour", json!("red"), "A")])
        .await;
    let trail = s.state.db.audit_row(child).await.unwrap();
    assert_eq!(trail.len(), 10);
    assert!(trail.iter().all(|e| e.account_login == "dir-a"));
    assert_eq!(trail.last().unwrap().device_id, a2.device_id);
    assert_eq!(trail.last().unwrap().field, "risk_colour");
}

/// Many devices push small batches concurrently through two server instances over the
/// same storage while a county admin pulls in a loop. Every accepted change must reach
/// the puller exactly once, whatever order the transactions committed in.
async fn late_commits_are_never_skipped_by_a_racing_puller(backend: Backend) {
    let s1 = TestServer::start(backend).await;
    let s2 = s1.another_instance().await;
    let mut pushers = Vec::new();
    for (i, login) in ["dir-a", "dir-a", "dir-b", "dir-b", "dir-c", "dir-c"]
        .iter()
        .enumerate()
    {
        let d = s1.device(login).await;
        let d = if i % 2 == 0 { d } else { d.via(&s2) };
        let village = &login[4..].to_uppercase();
        let village = village.clone();
        pushers.push(tokio::spawn(async move {
            let mut accepted = Vec::new();
            for round in 0..25 {
                // Batches of varying sizes, seqs dense (the server applies a device's
                // changes in seq order only).
                let (_, c) = d.new_child(&village, &format!("孩子{round}"));
                let (first, rest) = c.split_at(3 + round % 6);
                for part in [first, rest] {
                    let out = d.push(part).await;
                    assert!(out.rejected.is_empty(), "{:?}", out.rejected);
                    assert_eq!(out.max_device_seq, part.last().unwrap().device_seq);
                }
                accepted.extend(c.iter().map(|c| c.op_id));
            }
            accepted
        }));
    }
    let admin = s1.device("admin").await;
    let admin2 = admin.via(&s2);
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let puller = {
        let done = done.clone();
        tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut cursor = 0;
            let mut last_seq = 0;
            let mut turn = 0u32;
            loop {
                let finished = done.load(std::sync::atomic::Ordering::SeqCst);
                turn += 1;
                let d = if turn.is_multiple_of(2) {
                    &admin
                } else {
                    &admin2
                };
                let page = d.pull_page(cursor, 7).await;
                for p in &page.changes {
                    assert!(p.server_seq > last_seq, "server_seq strictly increases");
                    last_seq = p.server_seq;
                    seen.push(p.change.op_id);
                }
                cursor = page.next_cursor;
                if finished && !page.has_more {
                    return seen;
                }
            }
        })
    };
    let mut accepted = HashSet::new();
    for p in pushers {
        accepted.extend(p.await.unwrap());
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let seen = puller.await.unwrap();
    let seen_set: HashSet<_> = seen.iter().copied().collect();
    assert_eq!(seen.len(), seen_set.len(), "no change twice");
    assert_eq!(
        seen_set, accepted,
        "the racing puller's union is every accepted change"
    );
}

/// Both backends commit concurrent pushes together (group commit), each in its own
/// savepoint: a push that fails in storage is rolled back alone and answered with its
/// error; the pushes around it are stored, fed and answered as usual.
async fn a_push_that_fails_takes_none_of_the_pushes_committed_with_it_down(backend: Backend) {
    let s = TestServer::start(backend).await;
    let mut phones = Vec::new();
    for login in ["dir-a", "dir-a", "dir-b", "dir-b", "dir-c", "dir-c"] {
        phones.push(s.device(login).await);
    }
    // A device the store has no row for: its push fails inside the storage
    // transaction (the device row is read in it), after the pushes queued before it
    // started and before those queued after it.
    let ghost = sync_server::store::DeviceAuth {
        device_id: uuid::Uuid::now_v7(),
        revoked: false,
        principal: sync_server::model::Principal::new(
            phones[0].account_id,
            sync_server::model::Role::Director,
            vec!["A".into()],
        ),
    };
    // Makes the ghost's changes (its own seqs, so no real phone's are used up).
    let maker = s.device("dir-a").await;
    for round in 0..5 {
        let mut tasks = Vec::new();
        for (i, p) in phones.iter().enumerate() {
            let village = ["A", "A", "B", "B", "C", "C"][i];
            let batch = sync_server::store::PushBatch {
                changes: p.new_child(village, &format!("童{round}")).1,
                heartbeat: Default::default(),
                now_ms: common::now_ms(),
                max_ahead_ms: 600_000,
            };
            let (db, auth) = (s.state.db.clone(), s.state.db.device_by_id(p.device_id));
            let auth = auth.await.unwrap().unwrap();
            tasks.push(tokio::spawn(async move { db.push(&auth, batch).await }));
            if i == 2 {
                let (db, ghost) = (s.state.db.clone(), ghost.clone());
                let batch = sync_server::store::PushBatch {
                    changes: maker.new_child("A", "幽灵").1,
                    heartbeat: Default::default(),
                    now_ms: common::now_ms(),
                    max_ahead_ms: 600_000,
                };
                let ghost_push = tokio::spawn(async move { db.push(&ghost, batch).await });
                tasks.push(ghost_push);
            }
        }
        let mut failed = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(out) => assert!(out.rejected.is_empty(), "{:?}", out.rejected),
                Err(_) => failed += 1,
            }
        }
        assert_eq!(failed, 1, "only the ghost's push fails (round {round})");
    }
    // Every real push is stored and fed: 5 rounds × 9 fields per child.
    let sup = s.device("admin").await;
    let (pulled, _) = sup.pull_all(0).await;
    assert_eq!(pulled.len(), 6 * 5 * 9);
    assert!(pulled.iter().all(|p| p.change.value != json!("幽灵")));
}
