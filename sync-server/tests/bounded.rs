//! Unbounded storage by any device: what the server keeps of a refused change, of a
//! heartbeat, of a change parked behind a gap and of a lost phone's quarantine has a
//! ceiling in bytes whatever a device sends, on SQLite and PostgreSQL.

mod common;

use common::{now_ms, Backend, TestServer};
use serde_json::json;
use sync_core::wire::{Heartbeat, PushRequest, PROTOCOL_VERSION};

backend_tests!(
    a_refused_change_and_a_heartbeat_are_kept_bounded,
    a_change_waiting_behind_a_gap_is_kept_only_within_bounds_of_bytes,
    a_lost_phones_quarantine_is_bounded_in_changes_and_bytes,
);

/// Lengths of the stored refused changes, read past the server.
async fn stored_rejection_lengths(s: &TestServer) -> Vec<i64> {
    stored_lengths(s, "length(change) + length(message)", "rejections").await
}

/// `expr` of every row of `table`, read past the server (`length()` of text counts
/// characters on both engines).
async fn stored_lengths(s: &TestServer, expr: &str, table: &str) -> Vec<i64> {
    match &s.backend {
        Backend::Sqlite => {
            let conn = rusqlite::Connection::open(s.dir.path().join("tonghu.sqlite3")).unwrap();
            let mut st = conn
                .prepare(&format!("SELECT {expr} FROM {table}"))
                .unwrap();
            st.query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        }
        Backend::Postgres(url) => {
            let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(conn);
            client
                .query(&format!("SELECT ({expr})::int8 FROM {table}"), &[])
                .await
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect()
        }
    }
}

async fn a_refused_change_and_a_heartbeat_are_kept_bounded(backend: Backend) {
    let s = TestServer::start(backend).await;
    let d = s.device("dir-a").await;
    let row = uuid::Uuid::now_v7();
    // A 6 MB note in a field that does not exist, and a 1 MB table name: both refused.
    let note = "备注".repeat(1_000_000);
    let mut changes = vec![d.change("child", row, "secret_notes", json!(note), "A")];
    let mut odd = d.change("child", row, "name", json!("x"), "A");
    odd.table = "t".repeat(1_000_000);
    changes.push(odd);
    // A 1 MB village code: refused as out of scope, the sentence quoting it cut short.
    changes.push(d.change("child", row, "name", json!("x"), &"村".repeat(1_000_000)));
    let req = PushRequest {
        protocol: PROTOCOL_VERSION,
        device_id: d.device_id,
        changes,
        heartbeat: Heartbeat {
            app_version: "9".repeat(2_000_000),
            unsent_visit_children: (0..20_000u128).map(uuid::Uuid::from_u128).collect(),
            device_clock_ms: now_ms(),
            ..Heartbeat::default()
        },
    };
    let (st, body) = d
        .post("/v1/push", &serde_json::to_value(req).unwrap())
        .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["max_device_seq"], json!(3), "the refusals are held");
    assert!(
        body["rejected"][2]["message"]
            .as_str()
            .unwrap()
            .chars()
            .count()
            <= sync_server::ingest::MAX_MESSAGE_CHARS,
        "the answer's sentence is bounded too"
    );
    let lengths = stored_rejection_lengths(&s).await;
    assert_eq!(lengths.len(), 3);
    assert!(
        lengths.iter().all(|n| *n < 4096),
        "refused changes kept bounded: {lengths:?}"
    );
    let devices = s.state.db.devices(Some("dir-a")).await.unwrap();
    let hb = devices[0].heartbeat.clone().unwrap();
    assert_eq!(hb.app_version.len(), 32);
    assert_eq!(
        hb.unsent_visit_children.len(),
        sync_core::wire::MAX_UNSENT_VISIT_CHILDREN
    );
}

async fn a_change_waiting_behind_a_gap_is_kept_only_within_bounds_of_bytes(backend: Backend) {
    let s = TestServer::start(backend).await;
    let d = s.device("dir-a").await;
    let row = uuid::Uuid::now_v7();
    let first = d.change("child", row, "name", json!("甲"), "A"); // seq 1, held back
    let huge = "名".repeat(1_000_000);
    // Behind the gap: one good change, and changes that could never be applied with
    // megabytes in a name, the field, the scope or the value.
    let good = d.change("child", row, "sex", json!("female"), "A");
    let mut names = d.change("child", row, "status", json!("active"), "A");
    names.table = huge.clone();
    let mut field = d.change("child", row, "status", json!("active"), "A");
    field.field = huge.clone();
    let scope = d.change("child", row, "status", json!("active"), &huge);
    let value = d.change("child", row, "notes", json!(huge), "A");
    let waiting = vec![good.clone(), names, field, scope, value];
    let out = d.push(&waiting).await;
    assert_eq!(out.max_device_seq, 0, "nothing applied behind the gap");
    let parked = stored_lengths(&s, "length(change)", "parked").await;
    assert_eq!(
        parked.len(),
        1,
        "only the change that could be applied waits: {parked:?}"
    );
    assert!(parked[0] < 1024, "{parked:?}");
    // Every later push reloads only that.
    let again = d.push(&waiting).await;
    assert_eq!(again.max_device_seq, 0);
    // The gap fills: the parked change is applied; the others, sent again by the
    // device in sequence, are refused then (held), never stored whole.
    let out = d.push(&[&[first][..], &waiting[..]].concat()).await;
    assert_eq!(out.max_device_seq, 6, "{:?}", out.rejected);
    assert_eq!(out.rejected.len(), 4, "{:?}", out.rejected);
    assert!(stored_lengths(&s, "length(change)", "parked")
        .await
        .is_empty());
    let kept = stored_rejection_lengths(&s).await;
    assert!(kept.iter().all(|n| *n < 4096), "{kept:?}");
}

async fn a_lost_phones_quarantine_is_bounded_in_changes_and_bytes(backend: Backend) {
    use sync_server::ingest::{MAX_QUARANTINED_BYTES, MAX_QUARANTINED_CHANGES};
    let s = TestServer::start(backend).await;
    let d = s.device("dir-a").await;
    assert!(s
        .state
        .db
        .revoke_device(d.device_id, now_ms() as i64)
        .await
        .unwrap());
    let row = uuid::Uuid::now_v7();
    let note = "备注".repeat(600); // a 3.6 KB note, within the schema's 2,000 characters
    let mut total = 0;
    for _ in 0..4 {
        let mut changes: Vec<_> = (0..2_000)
            .map(|_| d.change("child", row, "notes", json!(note), "A"))
            .collect();
        // And what could never be applied, with megabytes in its names.
        let mut odd = d.change("child", row, "name", json!("x"), "A");
        odd.field = "f".repeat(3_000_000);
        changes.push(odd);
        total += changes.len();
        let (status, body) = d.push_raw(&changes).await;
        assert_eq!(status, 401, "{body}");
    }
    assert!(total as u64 > MAX_QUARANTINED_CHANGES);
    let held = s.state.db.quarantined(Some(d.device_id)).await.unwrap();
    assert!(!held.is_empty());
    assert!(
        held.len() as u64 <= MAX_QUARANTINED_CHANGES,
        "{}",
        held.len()
    );
    assert!(held.iter().all(|q| q.change.field == "notes"));
    let bytes: i64 = stored_lengths(&s, "length(change)", "quarantine")
        .await
        .iter()
        .sum();
    // Characters of the stored JSON; each of the note's is 3 bytes in UTF-8.
    assert!(
        (bytes as u64) <= MAX_QUARANTINED_BYTES,
        "{bytes} characters kept"
    );
    assert!(
        held.len() < 2_000,
        "the byte bound, not the count, stopped the 3.6 KB notes: {}",
        held.len()
    );
}
