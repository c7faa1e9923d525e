//! Every error answer of the sync API carries an ErrorBody `{code, message}` — the
//! handlers' own, and those made by layers and by axum itself (an unsupported
//! Content-Encoding, a wrong method, missing query parameters, an oversized body…).
//! Checked as a class over every route, on SQLite and PostgreSQL.

mod common;

use common::{Backend, TestServer};
use reqwest::Method;
use serde_json::{json, Value};

backend_tests!(
    every_error_of_the_sync_api_has_a_code_and_a_message,
    a_pull_cursor_above_i64_max_is_refused_not_read_as_negative,
);

async fn a_pull_cursor_above_i64_max_is_refused_not_read_as_negative(backend: Backend) {
    let s = TestServer::start(backend).await;
    let d = s.device("dir-a").await;
    let (_, changes) = d.new_child("A", "王小花");
    d.push(&changes).await;
    for cursor in [i64::MAX as u64 + 1, u64::MAX] {
        let (st, body) = d
            .post(
                "/v1/pull",
                &json!({"protocol": 1, "cursor": cursor, "limit": 100, "include_own": true}),
            )
            .await;
        assert_eq!(
            (st, body["code"].as_str()),
            (400, Some("bad_cursor")),
            "{body}"
        );
        assert!(body["changes"].is_null(), "no feed handed out: {body}");
    }
    // The largest cursor that can be held is fine (and empty).
    let (st, body) = d
        .post(
            "/v1/pull",
            &json!({"protocol": 1, "cursor": i64::MAX as u64, "limit": 100}),
        )
        .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["changes"], json!([]));
}

async fn every_error_of_the_sync_api_has_a_code_and_a_message(backend: Backend) {
    let s = TestServer::start(backend).await;
    let d = s.device("dir-a").await;
    let sha = "a".repeat(64);
    let http = reqwest::Client::new();
    let token = format!("Bearer {}", d.token);
    let push_body = json!({"protocol": 1, "device_id": d.device_id, "changes": [], "heartbeat": {
        "pending_changes": 0, "oldest_pending_secs": 0, "app_version": "1", "device_clock_ms": 0, "free_storage_bytes": 0}});
    struct Case {
        what: &'static str,
        method: Method,
        path: String,
        headers: Vec<(&'static str, String)>,
        body: Vec<u8>,
        status: u16,
        code: Option<&'static str>,
    }
    let case = |what, method: Method, path: &str, status: u16, code: Option<&'static str>| Case {
        what,
        method,
        path: path.to_string(),
        headers: vec![("authorization", token.clone())],
        body: Vec::new(),
        status,
        code,
    };
    let json_of = |v: &Value| serde_json::to_vec(v).unwrap();
    let mut cases = vec![
        Case {
            headers: vec![
                ("authorization", token.clone()),
                ("content-encoding", "br".into()),
                ("content-type", "application/json".into()),
            ],
            body: json_of(&push_body),
            ..case(
                "unsupported Content-Encoding",
                Method::POST,
                "/v1/push",
                415,
                Some("unsupported_media_type"),
            )
        },
        Case {
            headers: vec![
                ("authorization", token.clone()),
                ("content-encoding", "gzip".into()),
            ],
            body: b"not gzip at all".to_vec(),
            ..case(
                "a body that is not gzip",
                Method::POST,
                "/v1/pull",
                400,
                None,
            )
        },
        Case {
            body: b"{not json".to_vec(),
            ..case(
                "malformed JSON",
                Method::POST,
                "/v1/push",
                400,
                Some("malformed_json"),
            )
        },
        Case {
            headers: vec![],
            body: json_of(&push_body),
            ..case(
                "no token",
                Method::POST,
                "/v1/push",
                401,
                Some("unauthorized"),
            )
        },
        Case {
            headers: vec![("authorization", "Bearer nope".into())],
            body: json_of(&json!({"protocol": 1, "cursor": 0, "limit": 1})),
            ..case(
                "an unknown token",
                Method::POST,
                "/v1/pull",
                401,
                Some("unauthorized"),
            )
        },
        Case {
            body: json_of(&json!({"protocol": 99, "cursor": 0, "limit": 1})),
            ..case(
                "another protocol",
                Method::POST,
                "/v1/pull",
                426,
                Some("protocol_version"),
            )
        },
        Case {
            body: json_of(
                &json!({"protocol": 1, "checksums": {"C": {"fields": 0, "sum": "0".repeat(32)}}}),
            ),
            ..case(
                "verify of a village not held",
                Method::POST,
                "/v1/verify",
                403,
                Some("out_of_scope"),
            )
        },
        case(
            "a wrong method",
            Method::GET,
            "/v1/push",
            405,
            Some("method_not_allowed"),
        ),
        case(
            "a wrong method on a blob",
            Method::DELETE,
            &format!("/v1/blobs/{sha}"),
            405,
            Some("method_not_allowed"),
        ),
        case(
            "an unknown path",
            Method::GET,
            "/v1/nothing-here",
            404,
            Some("not_found"),
        ),
        case(
            "a bad blob name",
            Method::GET,
            "/v1/blobs/XYZ",
            400,
            Some("bad_blob_name"),
        ),
        case(
            "a blob no row names",
            Method::GET,
            &format!("/v1/blobs/{sha}"),
            403,
            Some("out_of_scope"),
        ),
        case(
            "a status no row names",
            Method::GET,
            &format!("/v1/blobs/{sha}/status"),
            403,
            Some("out_of_scope"),
        ),
        Case {
            body: b"x".to_vec(),
            ..case(
                "a chunk without its query",
                Method::PUT,
                &format!("/v1/blobs/{sha}"),
                400,
                Some("bad_query"),
            )
        },
        Case {
            body: b"x".to_vec(),
            ..case(
                "a chunk with a malformed query",
                Method::PUT,
                &format!("/v1/blobs/{sha}?offset=-1&total=x"),
                400,
                Some("bad_query"),
            )
        },
        Case {
            body: vec![0; 300 * 1024],
            ..case(
                "an oversized chunk",
                Method::PUT,
                &format!("/v1/blobs/{sha}?offset=0&total=400000"),
                413,
                None,
            )
        },
        Case {
            body: json_of(
                &json!({"code": "x", "device_id": uuid::Uuid::now_v7(), "device_name": "p", "app_version": "1"}),
            ),
            headers: vec![],
            ..case(
                "a wrong enrollment code",
                Method::POST,
                "/v1/enroll",
                401,
                Some("invalid_code"),
            )
        },
    ];
    // A chunk whose offset would overflow (named blob, so the range check is reached).
    let bytes = b"photo bytes".to_vec();
    let named = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&bytes))
    };
    let (child, c) = d.new_child("A", "拍照");
    d.push(&c).await;
    let photo = uuid::Uuid::now_v7();
    let fields = [
        ("child_id", json!(child.to_string())),
        ("blob_sha256", json!(named)),
        ("thumb_sha256", json!(named)),
        ("width", json!(10)),
        ("height", json!(10)),
        ("bytes", json!(11)),
        ("taken_at", json!("2025-06-01T10:00:00+08:00")),
    ];
    assert!(d
        .push(&d.write("photo", photo, fields, "A"))
        .await
        .rejected
        .is_empty());
    cases.push(Case {
        body: bytes.clone(),
        ..case(
            "a chunk offset that overflows",
            Method::PUT,
            &format!("/v1/blobs/{named}?offset={}&total=100", u64::MAX),
            400,
            Some("bad_chunk"),
        )
    });
    cases.push(Case {
        body: bytes.clone(),
        ..case(
            "a total too large",
            Method::PUT,
            &format!("/v1/blobs/{named}?offset=0&total=99999999999"),
            413,
            Some("blob_too_large"),
        )
    });

    for c in cases {
        let mut req = http
            .request(c.method.clone(), s.url(&c.path))
            .body(c.body.clone());
        for (k, v) in &c.headers {
            req = req.header(*k, v);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let ctype = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        assert!(res.headers().contains_key("x-server-time-ms"), "{}", c.what);
        let text = res.text().await.unwrap();
        assert_eq!(status, c.status, "{}: {text}", c.what);
        assert!(
            ctype.starts_with("application/json"),
            "{}: content-type {ctype:?}, body {text:?}",
            c.what
        );
        let body: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}: {text:?}", c.what));
        let code = body["code"]
            .as_str()
            .unwrap_or_else(|| panic!("{}: no code: {body}", c.what));
        assert!(
            !code.is_empty() && body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{}: {body}",
            c.what
        );
        if let Some(want) = c.code {
            assert_eq!(code, want, "{}: {body}", c.what);
        }
    }
}
