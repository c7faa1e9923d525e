//! Enrollment is safe to retry: the phone whose answer was lost (a killed app, a cut
//! connection after the server used the code) trades the same code again with the same
//! device id and gets a new token; every other reuse of a code is still refused. Real
//! server on loopback, real SQLite and PostgreSQL.

mod common;

use common::{now_ms, Backend, TestServer};
use serde_json::{json, Value};
use sync_core::wire::PROTOCOL_VERSION;
use uuid::Uuid;

backend_tests!(
    a_lost_answer_is_redeemed_again_with_a_new_token_and_the_same_device,
    a_used_code_is_refused_to_another_device,
    a_code_is_spent_for_good_once_its_token_was_used,
    an_expired_code_is_not_redeemed_again,
    a_revoked_device_cannot_redeem_its_code_again,
    another_code_for_a_known_device_id_is_refused_and_stays_unused,
    concurrent_tries_of_one_enrollment_leave_one_device_and_one_working_token,
);

/// `POST /v1/enroll` with `code` as device `device_id`: the status and the body.
async fn enroll(s: &TestServer, code: &str, device_id: Uuid) -> (u16, Value) {
    let res = s
        .http
        .post(s.url("/v1/enroll"))
        .json(&json!({"code": code, "device_id": device_id, "device_name": "童护手机", "app_version": "0.1.0"}))
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

async fn enrolled(s: &TestServer, code: &str, device_id: Uuid) -> Value {
    let (status, body) = enroll(s, code, device_id).await;
    assert_eq!(status, 200, "enroll: {body}");
    body
}

/// A pull with `token`: 200 if the token works.
async fn pull_with(s: &TestServer, token: &str) -> (u16, Value) {
    let res = s
        .http
        .post(s.url("/v1/pull"))
        .bearer_auth(token)
        .json(&json!({"protocol": PROTOCOL_VERSION, "cursor": 0, "limit": 10}))
        .send()
        .await
        .unwrap();
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

async fn devices_of(s: &TestServer, login: &str) -> Vec<sync_server::store::DeviceInfo> {
    s.state.db.devices(Some(login)).await.unwrap()
}

async fn a_lost_answer_is_redeemed_again_with_a_new_token_and_the_same_device(backend: Backend) {
    let s = TestServer::start(backend).await;
    let code = s.code("dir-a").await;
    let device = Uuid::now_v7();
    let first = enrolled(&s, &code, device).await;
    // The answer never reached the phone; it tries again with the same code and id.
    let again = enrolled(&s, &code, device).await;
    let (old, new) = (
        first["token"].as_str().unwrap(),
        again["token"].as_str().unwrap(),
    );
    assert_ne!(old, new, "a new token");
    for field in ["device_id", "account_id", "role", "scopes", "village_names"] {
        assert_eq!(
            first[field], again[field],
            "{field} answered like the first time"
        );
    }
    assert_eq!(again["device_id"], json!(device));
    assert_eq!(again["scopes"], json!(["A"]));
    assert_eq!(devices_of(&s, "dir-a").await.len(), 1, "one device row");
    let (status, body) = pull_with(&s, old).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("unauthorized")),
        "the old token stops working"
    );
    assert_eq!(pull_with(&s, new).await.0, 200, "the new token works");
    // A third try, now that the new token was used, is refused — and changes nothing.
    let (status, body) = enroll(&s, &code, device).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("code_used")));
    assert_eq!(pull_with(&s, new).await.0, 200);
    assert_eq!(devices_of(&s, "dir-a").await.len(), 1);
}

async fn a_used_code_is_refused_to_another_device(backend: Backend) {
    let s = TestServer::start(backend).await;
    let code = s.code("dir-a").await;
    let device = Uuid::now_v7();
    let first = enrolled(&s, &code, device).await;
    let (status, body) = enroll(&s, &code, Uuid::now_v7()).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("code_used")));
    assert_eq!(devices_of(&s, "dir-a").await.len(), 1, "no second device");
    // The refusal took nothing from the device the code enrolled.
    assert_eq!(pull_with(&s, first["token"].as_str().unwrap()).await.0, 200);
}

async fn a_code_is_spent_for_good_once_its_token_was_used(backend: Backend) {
    let s = TestServer::start(backend).await;
    // However the phone first used its token — a pull, or a push with its heartbeat —
    // the phone evidently had the answer: the code is not redeemable any more.
    for how in ["pull", "push"] {
        let code = s.code("dir-a").await;
        let device = Uuid::now_v7();
        let answer = enrolled(&s, &code, device).await;
        let token = answer["token"].as_str().unwrap();
        let res = match how {
            "pull" => pull_with(&s, token).await,
            _ => {
                let r = s
                    .http
                    .post(s.url("/v1/push"))
                    .bearer_auth(token)
                    .json(&sync_core::wire::PushRequest {
                        protocol: PROTOCOL_VERSION,
                        device_id: device,
                        changes: vec![],
                        heartbeat: sync_core::wire::Heartbeat {
                            app_version: "0.1.0".into(),
                            device_clock_ms: now_ms(),
                            ..Default::default()
                        },
                    })
                    .send()
                    .await
                    .unwrap();
                (r.status().as_u16(), r.json().await.unwrap())
            }
        };
        assert_eq!(res.0, 200, "{how}: {}", res.1);
        let (status, body) = enroll(&s, &code, device).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (401, Some("code_used")),
            "after a {how}"
        );
        assert_eq!(
            pull_with(&s, token).await.0,
            200,
            "the token in use keeps working"
        );
    }
    assert_eq!(devices_of(&s, "dir-a").await.len(), 2);
}

async fn an_expired_code_is_not_redeemed_again(backend: Backend) {
    let s = TestServer::start(backend).await;
    let issued =
        sync_server::enrollment::issue_code(s.state.db.as_ref(), "dir-a", 1, now_ms() as i64)
            .await
            .unwrap();
    let device = Uuid::now_v7();
    let first = enrolled(&s, &issued.code, device).await;
    // The phone comes back after the code's hour is over: the same service the handler
    // calls, at that later time.
    let req = |device_id| sync_core::wire::EnrollRequest {
        code: issued.code.clone(),
        device_id,
        device_name: "童护手机".into(),
        app_version: "0.1.0".into(),
    };
    let later = issued.expires_ms + 1;
    let e = sync_server::enrollment::enroll_with_code(s.state.db.as_ref(), req(device), later)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "code_expired");
    let e =
        sync_server::enrollment::enroll_with_code(s.state.db.as_ref(), req(Uuid::now_v7()), later)
            .await
            .unwrap_err();
    assert_eq!(
        e.code(),
        "code_used",
        "another phone is told the code was used"
    );
    assert_eq!(pull_with(&s, first["token"].as_str().unwrap()).await.0, 200);
    // And over HTTP: a code that expired before its first use.
    let stale = sync_server::enrollment::issue_code(
        s.state.db.as_ref(),
        "dir-a",
        1,
        now_ms() as i64 - 2 * 3_600_000,
    )
    .await
    .unwrap();
    let (status, body) = enroll(&s, &stale.code, device).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("code_expired")));
    assert_eq!(devices_of(&s, "dir-a").await.len(), 1);
}

async fn a_revoked_device_cannot_redeem_its_code_again(backend: Backend) {
    let s = TestServer::start(backend).await;
    let code = s.code("dir-a").await;
    let device = Uuid::now_v7();
    let first = enrolled(&s, &code, device).await;
    // Revoked before it ever synced (an admin saw a phone they did not hand out).
    assert!(s
        .state
        .db
        .revoke_device(device, now_ms() as i64)
        .await
        .unwrap());
    let (status, body) = enroll(&s, &code, device).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("code_used")));
    let (status, body) = pull_with(&s, first["token"].as_str().unwrap()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("device_revoked"))
    );
    let devices = devices_of(&s, "dir-a").await;
    assert_eq!(devices.len(), 1);
    assert!(devices[0].revoked_ms.is_some(), "still revoked");
}

async fn another_code_for_a_known_device_id_is_refused_and_stays_unused(backend: Backend) {
    let s = TestServer::start(backend).await;
    let device = Uuid::now_v7();
    enrolled(&s, &s.code("dir-a").await, device).await;
    // A second code typed on the same phone (its id is registered already).
    let second = s.code("dir-a").await;
    let (status, body) = enroll(&s, &second, device).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("device_exists"))
    );
    // The code was not spent: a phone with a fresh id enrolls with it.
    enrolled(&s, &second, Uuid::now_v7()).await;
    assert_eq!(devices_of(&s, "dir-a").await.len(), 2);
}

async fn concurrent_tries_of_one_enrollment_leave_one_device_and_one_working_token(
    backend: Backend,
) {
    let s = TestServer::start(backend).await;
    let code = s.code("dir-a").await;
    let device = Uuid::now_v7();
    // A phone retrying while its earlier tries are still being answered.
    let tries = futures_join(&s, &code, device, 4).await;
    let mut tokens = Vec::new();
    for (status, body) in &tries {
        assert_eq!(*status, 200, "every try is answered: {body}");
        tokens.push(body["token"].as_str().unwrap().to_string());
    }
    let mut working = 0;
    for t in &tokens {
        if pull_with(&s, t).await.0 == 200 {
            working += 1;
        }
    }
    assert_eq!(
        working, 1,
        "the last answer's token works, the others do not"
    );
    assert_eq!(devices_of(&s, "dir-a").await.len(), 1);
}

async fn futures_join(s: &TestServer, code: &str, device: Uuid, n: usize) -> Vec<(u16, Value)> {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let (http, url, code) = (s.http.clone(), s.url("/v1/enroll"), code.to_string());
        set.spawn(async move {
            let res = http
                .post(url)
                .json(&json!({"code": code, "device_id": device, "device_name": "童护手机", "app_version": "0.1.0"}))
                .send()
                .await
                .unwrap();
            (res.status().as_u16(), res.json::<Value>().await.unwrap())
        });
    }
    set.join_all().await
}
