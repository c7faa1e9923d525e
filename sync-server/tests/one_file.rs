//! 一人一档 across villages: an ID number in two villages' child files is flagged for
//! the supervisor (masked), on SQLite and PostgreSQL.

mod common;

use common::{Backend, Device, TestServer};
use serde_json::{json, Value};

backend_tests!(an_id_number_in_two_villages_files_is_flagged_for_the_supervisor);

async fn get(d: &Device, path: &str) -> (u16, Value) {
    let res = d
        .auth(d.http.get(format!("{}{path}", d.base)))
        .send()
        .await
        .unwrap();
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

async fn child_with_id(d: &Device, village: &str, id: &str) -> uuid::Uuid {
    let (child, mut changes) = d.new_child(village, "王小明");
    changes.push(d.change("child", child, "id_number", json!(id), village));
    let out = d.push(&changes).await;
    assert!(out.rejected.is_empty(), "{:?}", out.rejected);
    child
}

async fn an_id_number_in_two_villages_files_is_flagged_for_the_supervisor(backend: Backend) {
    let s = TestServer::start(backend).await;
    let (a, b, c) = (
        s.device("dir-a").await,
        s.device("dir-b").await,
        s.device("dir-c").await,
    );
    let moved = "11010519491231002X";
    // Registered in A, moved to C (another township) and registered again there.
    let in_a = child_with_id(&a, "A", moved).await;
    let in_c = child_with_id(&c, "C", moved).await;
    // Other children: a different number, and no number at all.
    child_with_id(&b, "B", "110105194912310037").await;
    let (_, plain) = b.new_child("B", "李四");
    b.push(&plain).await;

    let path = "/api/v1/console/shared-id-numbers";
    let sup1 = s.device("sup-1").await;
    let (st, body) = get(&sup1, path).await;
    assert_eq!(st, 200, "{body}");
    let list = body.as_array().unwrap();
    assert_eq!(list.len(), 1, "{body}");
    let masked = list[0]["id_number_masked"].as_str().unwrap();
    assert!(!masked.contains("19491231"), "masked: {masked}");
    let files: Vec<(String, String, bool)> = list[0]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["child_id"].as_str().unwrap().to_string(),
                f["village"].as_str().unwrap().to_string(),
                f["in_area"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        files,
        vec![
            (in_a.to_string(), "A".into(), true),
            (in_c.to_string(), "C".into(), false)
        ]
    );
    // The other township's supervisor sees it from their side.
    let (st, body) = get(&s.device("sup-2").await, path).await;
    assert_eq!(st, 200);
    assert_eq!(body[0]["files"][1]["in_area"], json!(true));
    // Directors read no supervisor figures; the whole number never appears.
    let (st, body) = get(&a, path).await;
    assert_eq!((st, body["code"].as_str()), (403, Some("out_of_scope")));
    // Once the old file is deleted, nothing is flagged.
    a.push(&[a.change("child", in_a, "deleted", json!(true), "A")])
        .await;
    let (_, body) = get(&sup1, path).await;
    assert_eq!(body, json!([]));
    // The view is in the console's access log, without the number.
    let log = s.state.db.console_log(None, 50).await.unwrap();
    assert!(log.iter().any(|e| e.action == "view_shared_id_numbers"));
    assert!(log.iter().all(|e| !e.subject.contains(moved)));
}
