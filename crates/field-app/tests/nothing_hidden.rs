//! Nothing a device holds is invisible to its user: a photo of a child that belongs to
//! no visit (taken on its own, or its visit not held here) is shown with the child's
//! file. (The children who leave the phone are named in the sync report:
//! `tests/tests/sync.rs`.)

use field_app::{AppConfig, DeviceApp};
use serde_json::json;

#[test]
fn a_photo_without_a_visit_is_shown_in_the_child_s_file() {
    let dir = tempfile::tempdir().unwrap();
    let app = DeviceApp::open_for_script(
        dir.path(),
        AppConfig {
            background_sync: None,
            watch_idle: false,
            ..AppConfig::default()
        },
        None,
    )
    .unwrap();
    app.call("init", json!({"villages": ["v1"]})).unwrap();
    let child = app
        .call(
            "add_child",
            json!({"name": "孙小乐", "sex": "male", "birth_date": "2015-01-01",
                   "village_code": "v1", "categories": ["left_behind"]}),
        )
        .unwrap()["id"]
        .clone();
    let photo = app
        .call(
            "add_record",
            json!({"table": "photo", "fields": {
                "child_id": child, "blob_sha256": "ab".repeat(32), "thumb_sha256": "cd".repeat(32),
                "width": 800, "height": 600, "bytes": 120000,
                "taken_at": "2026-05-04T10:00:00+08:00"}}),
        )
        .unwrap()["id"]
        .clone();
    let file = app.call("child_file", json!({"child_id": child})).unwrap();
    let photos = file["photos"].as_array().unwrap();
    assert_eq!(photos.len(), 1, "{file}");
    assert_eq!(photos[0]["photo_id"], photo);
    assert_eq!(
        photos[0]["full_here"], false,
        "the image is not on this phone"
    );
    assert_eq!(photos[0]["sync"]["state"], "on_phone");
    assert!(file["visits"].as_array().unwrap().is_empty());
}
