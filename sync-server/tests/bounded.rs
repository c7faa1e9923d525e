//! Unbounded storage by any device: what the server keeps of a refused change and of a
//! heartbeat has a ceiling whatever a device sends, on SQLite and PostgreSQL.

mod common;

use common::{now_ms, Backend, TestServer};
use serde_json::json;
use sync_core::wire::{Heartbeat, PushRequest, PROTOCOL_VERSION};

backend_tests!(a_refused_change_and_a_heartbeat_are_kept_bounded);

/// Lengths of the stored refused changes, read past the server.
async fn stored_rejection_lengths(s: &TestServer) -> Vec<i64> {
    match &s.backend {
        Backend::Sqlite => {
            let conn = rusqlite::Connection::open(s.dir.path().join("tonghu.sqlite3")).unwrap();
            let mut st = conn
                .prepare("SELECT length(change) + length(message) FROM rejections")
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
                .query(
                    "SELECT (length(change) + length(message))::int8 FROM rejections",
                    &[],
                )
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
    assert_eq!(body["max_device_seq"], json!(2), "both refusals are held");
    let lengths = stored_rejection_lengths(&s).await;
    assert_eq!(lengths.len(), 2);
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
