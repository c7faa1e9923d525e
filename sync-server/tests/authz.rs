//! The authorization matrix: who may read and write what, and how bad input is
//! refused (4xx with a reason, nothing changed).

mod common;

use common::{Backend, TestServer};
use serde_json::{json, Value};
use sync_core::wire::PROTOCOL_VERSION;

backend_tests!(
    a_director_of_village_a_cannot_write_or_read_village_b,
    a_supervisor_reads_their_township_only_and_writes_nothing,
    revoked_devices_expired_codes_and_foreign_tokens_are_refused,
    bad_input_gets_a_4xx_with_a_reason_and_changes_nothing,
);

async fn feed_len(s: &TestServer) -> usize {
    s.device("admin").await.pull_all(0).await.0.len()
}

async fn a_director_of_village_a_cannot_write_or_read_village_b(backend: Backend) {
    let s = TestServer::start(backend).await;
    let a = s.device("dir-a").await;
    let b = s.device("dir-b").await;
    let (child_b, cb) = b.new_child("B", "乙童");
    b.push(&cb).await;
    // Writing into B: refused per change.
    let (_, ca) = a.new_child("B", "冒名");
    let out = a.push(&ca).await;
    assert_eq!(out.accepted, 0);
    assert!(out.rejected.iter().all(|r| r.code == "out_of_scope"));
    // Editing B's child while claiming village A: refused.
    let out = a
        .push(&[a.change("child", child_b, "name", json!("改名"), "A")])
        .await;
    assert_eq!(out.rejected[0].code, "out_of_scope");
    // Moving B's child into A: refused (A's director may not write B).
    let out = a
        .push(&[a.change("child", child_b, "village_code", json!("A"), "A")])
        .await;
    assert_eq!(out.rejected[0].code, "out_of_scope");
    // A visit for B's child filed under A: refused.
    let out = a.push(&a.new_visit("A", child_b).1).await;
    assert!(
        out.rejected.iter().any(|r| r.code == "scope_mismatch"),
        "{:?}",
        out.rejected
    );
    // Reading: A's device sees nothing of B, and verify of B is refused.
    assert!(a
        .pull_all(0)
        .await
        .0
        .iter()
        .all(|p| p.change.scope.as_str() == "A"));
    assert_eq!(b.pull_all(0).await.0.len(), 9, "B's data unchanged");
}

async fn a_supervisor_reads_their_township_only_and_writes_nothing(backend: Backend) {
    let s = TestServer::start(backend).await;
    let c = s.device("dir-c").await;
    c.push(&c.new_child("C", "丙童").1).await;
    let sup1 = s.device("sup-1").await;
    assert!(
        sup1.pull_all(0).await.0.is_empty(),
        "township 1's supervisor does not see village C"
    );
    let sup2 = s.device("sup-2").await;
    assert_eq!(sup2.pull_all(0).await.0.len(), 9);
    let out = sup2.push(&sup2.new_child("C", "督导写").1).await;
    assert_eq!(out.accepted, 0);
    assert!(out.rejected.iter().all(|r| r.code == "out_of_scope"));
    assert_eq!(sup2.pull_all(0).await.0.len(), 9, "nothing written");
}

async fn revoked_devices_expired_codes_and_foreign_tokens_are_refused(backend: Backend) {
    let s = TestServer::start(backend).await;
    let a = s.device("dir-a").await;
    a.push(&a.new_child("A", "甲童").1).await;
    assert!(s
        .state
        .db
        .revoke_device(a.device_id, common::now_ms() as i64)
        .await
        .unwrap());
    let (status, body) = a.push_raw(&a.new_child("A", "被盗手机").1).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("device_revoked"))
    );
    let (status, body) = a
        .post(
            "/v1/pull",
            &json!({"protocol": PROTOCOL_VERSION, "cursor": 0, "limit": 10}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("device_revoked"))
    );
    // Unknown token.
    let mut stranger = s.device("dir-b").await;
    stranger.token = "00".repeat(32);
    let (status, body) = stranger
        .post(
            "/v1/pull",
            &json!({"protocol": PROTOCOL_VERSION, "cursor": 0, "limit": 10}),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthorized")));
    // Another device's token with this device's id in the body.
    let b = s.device("dir-b").await;
    let mut forged = b.clone();
    forged.device_id = s.device("dir-b").await.device_id;
    let (status, body) = forged.push_raw(&[]).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("wrong_device")));
    // A change naming another device inside a valid push.
    let mut c = b.change("child", uuid::Uuid::now_v7(), "name", json!("x"), "B");
    c.device_id = a.device_id;
    assert_eq!(b.push(&[c]).await.rejected[0].code, "wrong_device");
    // Expired and reused codes.
    let code = sync_server::enrollment::issue_code(
        s.state.db.as_ref(),
        "dir-a",
        0,
        sync_server::model::clock::now_ms() as i64,
    )
    .await
    .unwrap()
    .code;
    let enroll = |code: String| {
        let s = &s;
        async move {
            let res = s.http.post(s.url("/v1/enroll")).json(&json!({"code": code, "device_id": uuid::Uuid::now_v7(), "device_name": "p", "app_version": "1"})).send().await.unwrap();
            (res.status().as_u16(), res.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = enroll(code).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("code_expired")));
    let code = s.code("dir-a").await;
    assert_eq!(enroll(code.clone()).await.0, 200);
    let (status, body) = enroll(code).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("code_used")));
    let (status, body) = enroll("AAAAAA-BBBBBBBBBB".into()).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("invalid_code")));
    assert_eq!(feed_len(&s).await, 9, "nothing changed");
}

async fn bad_input_gets_a_4xx_with_a_reason_and_changes_nothing(backend: Backend) {
    let s = TestServer::start(backend).await;
    let a = s.device("dir-a").await;
    let push_url = s.url("/v1/push");
    let send = |body: Vec<u8>| {
        let a = a.clone();
        let url = push_url.clone();
        async move {
            let res = a
                .auth(a.http.post(url))
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (status, body) = send(b"{not json".to_vec()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("malformed_json"))
    );
    let (status, body) = send(br#"{"protocol":1,"device_id":"x"}"#.to_vec()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("malformed_json"))
    );
    // The server answers an oversized body before reading it all and closes that
    // connection; a separate client keeps the shared pool's connections clean.
    let (status, body) = {
        let res = a
            .auth(reqwest::Client::new().post(push_url.clone()))
            .header("content-type", "application/json")
            .body(vec![b' '; 17 * 1024 * 1024])
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json::<Value>().await.unwrap_or(Value::Null))
    };
    assert_eq!(
        (status, body["code"].as_str()),
        (413, Some("body_too_large"))
    );
    let (status, body) = a
        .post(
            "/v1/pull",
            &json!({"protocol": 99, "cursor": 0, "limit": 10}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (426, Some("protocol_version"))
    );
    let row = uuid::Uuid::now_v7();
    let out = a
        .push(&[
            a.change("child", row, "no_such_field", json!(1), "A"),
            a.change("no_such_table", row, "name", json!(1), "A"),
        ])
        .await;
    assert_eq!(
        out.rejected
            .iter()
            .map(|r| r.code.as_str())
            .collect::<Vec<_>>(),
        vec!["unknown_field", "unknown_table"]
    );
    // Blob names that are not hashes, including path traversal.
    for name in [
        "..%2F..%2Fetc%2Fpasswd",
        "ABCDEF",
        &"g".repeat(64),
        "..",
        &format!("{}%2F..", "a".repeat(64)),
    ] {
        let res = a
            .auth(a.http.get(s.url(&format!("/v1/blobs/{name}/status"))))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        assert!((400..500).contains(&status), "{name}: {status}");
        if status == 400 {
            let body: Value = res.json().await.unwrap();
            assert_eq!(body["code"], "bad_blob_name");
        }
    }
    let res = s.http.get(s.url("/v1/nowhere")).send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "not_found");
    assert_eq!(feed_len(&s).await, 0, "nothing changed");
}
