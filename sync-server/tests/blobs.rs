//! Resumable, hash-verified, scope-checked blob uploads.

mod common;

use common::{Backend, Device, TestServer};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

backend_tests!(
    an_interrupted_upload_continues_where_the_server_stopped,
    blobs_outside_the_scope_are_refused,
    a_blob_whose_store_write_failed_is_finished_by_a_retry,
    naming_another_village_s_photo_hash_does_not_make_it_readable,
);

async fn photo_row(d: &Device, village: &str, sha: &str) -> uuid::Uuid {
    let (child, c) = d.new_child(village, "拍照");
    d.push(&c).await;
    let id = uuid::Uuid::now_v7();
    let fields = [
        ("child_id", json!(child.to_string())),
        ("blob_sha256", json!(sha)),
        ("thumb_sha256", json!(sha)),
        ("width", json!(1600)),
        ("height", json!(1200)),
        ("bytes", json!(1000)),
        ("taken_at", json!("2025-06-01T10:00:00+08:00")),
    ];
    let out = d.push(&d.write("photo", id, fields, village)).await;
    assert!(out.rejected.is_empty(), "{:?}", out.rejected);
    id
}

async fn put(d: &Device, sha: &str, offset: usize, total: usize, bytes: &[u8]) -> (u16, Value) {
    let res = d
        .auth(d.http.put(format!(
            "{}/v1/blobs/{sha}?offset={offset}&total={total}",
            d.base
        )))
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

async fn status(d: &Device, sha: &str) -> (u16, Value) {
    let res = d
        .auth(d.http.get(format!("{}/v1/blobs/{sha}/status", d.base)))
        .send()
        .await
        .unwrap();
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

async fn an_interrupted_upload_continues_where_the_server_stopped(backend: Backend) {
    let s = TestServer::start(backend).await;
    let other_instance = s.another_instance().await;
    let a = s.device("dir-a").await;
    let photo: Vec<u8> = (0..600_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let sha = hex::encode(Sha256::digest(&photo));
    photo_row(&a, "A", &sha).await;
    let chunk = 200_000;
    assert_eq!(put(&a, &sha, 0, photo.len(), &photo[..chunk]).await.0, 200);
    // The network drops; the phone asks where to continue (another server process answers).
    let a2 = a.via(&other_instance);
    let (st, body) = status(&a2, &sha).await;
    assert_eq!(
        (st, body["held_bytes"].as_u64(), body["complete"].as_bool()),
        (200, Some(chunk as u64), Some(false))
    );
    // A wrong offset is refused with what the server holds.
    let (st, body) = put(&a2, &sha, 0, photo.len(), &photo[..chunk]).await;
    assert_eq!((st, body["held_bytes"].as_u64()), (409, Some(chunk as u64)));
    assert_eq!(
        put(&a2, &sha, chunk, photo.len(), &photo[chunk..2 * chunk])
            .await
            .0,
        200
    );
    let (st, body) = put(&a, &sha, 2 * chunk, photo.len(), &photo[2 * chunk..]).await;
    assert_eq!(
        (st, body["complete"].as_bool()),
        (200, Some(true)),
        "{body}"
    );
    let got = a
        .auth(a.http.get(format!("{}/v1/blobs/{sha}", a.base)))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(got.as_ref(), photo.as_slice());
    let reader = s.device("dir-a").await;
    assert_eq!(
        reader
            .auth(reader.http.get(format!("{}/v1/blobs/{sha}", s.base)))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // Bytes that do not hash to the name are discarded.
    let liar: Vec<u8> = vec![1u8; 1000];
    let claimed = hex::encode(Sha256::digest(b"something else"));
    photo_row(&a, "A", &claimed).await;
    let (st, body) = put(&a, &claimed, 0, liar.len(), &liar).await;
    assert_eq!((st, body["code"].as_str()), (422, Some("hash_mismatch")));
    let (_, body) = status(&a, &claimed).await;
    assert_eq!(
        (body["held_bytes"].as_u64(), body["complete"].as_bool()),
        (Some(0), Some(false))
    );
    // Oversized chunks and totals.
    let (st, _) = put(&a, &claimed, 0, 20_000_000, &liar).await;
    assert_eq!(st, 413);
    let (st, _) = put(&a, &claimed, 0, 400_000, &vec![0u8; 300_000]).await;
    assert_eq!(st, 413);
}

async fn blobs_outside_the_scope_are_refused(backend: Backend) {
    let s = TestServer::start(backend).await;
    let a = s.device("dir-a").await;
    let b = s.device("dir-b").await;
    let bytes = b"signature strokes".to_vec();
    let sha = hex::encode(Sha256::digest(&bytes));
    photo_row(&a, "A", &sha).await;
    assert_eq!(put(&a, &sha, 0, bytes.len(), &bytes).await.0, 200);
    let (st, body) = status(&b, &sha).await;
    assert_eq!((st, body["code"].as_str()), (403, Some("out_of_scope")));
    assert_eq!(
        b.auth(b.http.get(format!("{}/v1/blobs/{sha}", b.base)))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    // An upload of a blob no row names is refused too.
    let stray = hex::encode(Sha256::digest(b"stray"));
    assert_eq!(put(&a, &stray, 0, 5, b"stray").await.0, 403);
    // The supervisor of the township reads it; cannot upload.
    let sup = s.device("sup-1").await;
    assert_eq!(
        sup.auth(sup.http.get(format!("{}/v1/blobs/{sha}", sup.base)))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(put(&sup, &sha, 0, bytes.len(), &bytes).await.0, 403);
}

/// Makes the disk blob store unable to write `sha`: a plain file where its directory
/// must go (works as root too, unlike a read-only directory). Returns what to remove.
fn block_store(s: &TestServer, sha: &str) -> std::path::PathBuf {
    let parent = s.dir.path().join("blobs").join(&sha[..2]);
    std::fs::create_dir_all(&parent).unwrap();
    let blocker = parent.join(&sha[2..4]);
    std::fs::write(&blocker, b"not a directory").unwrap();
    blocker
}

async fn fetch(d: &Device, sha: &str) -> (u16, Vec<u8>) {
    let res = d
        .auth(d.http.get(format!("{}/v1/blobs/{sha}", d.base)))
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.bytes().await.unwrap().to_vec())
}

async fn a_blob_whose_store_write_failed_is_finished_by_a_retry(backend: Backend) {
    let s = TestServer::start(backend).await;
    let a = s.device("dir-a").await;
    let reader = s.device("dir-a").await;
    let blob = |seed: u32, n: u32| -> (Vec<u8>, String) {
        let b: Vec<u8> = (0..n).map(|i| (i * seed % 251) as u8).collect();
        let sha = hex::encode(Sha256::digest(&b));
        (b, sha)
    };

    // 1. The last chunk arrives, the blob-store write fails; the phone sends the last
    //    chunk again.
    let (photo, sha) = blob(7, 300_000);
    photo_row(&a, "A", &sha).await;
    let chunk = 200_000;
    assert_eq!(put(&a, &sha, 0, photo.len(), &photo[..chunk]).await.0, 200);
    let blocker = block_store(&s, &sha);
    let (st, body) = put(&a, &sha, chunk, photo.len(), &photo[chunk..]).await;
    assert_eq!(
        (st, body["code"].as_str()),
        (503, Some("storage_unavailable"))
    );
    assert_eq!(fetch(&reader, &sha).await.0, 404);
    // While the store still fails, a retry fails the same way and keeps the bytes.
    let (st, _) = put(&a, &sha, chunk, photo.len(), &photo[chunk..]).await;
    assert_eq!(st, 503);
    std::fs::remove_file(&blocker).unwrap();
    let (st, body) = put(&a, &sha, chunk, photo.len(), &photo[chunk..]).await;
    assert_eq!(
        (st, body["held_bytes"].as_u64(), body["complete"].as_bool()),
        (200, Some(photo.len() as u64), Some(true)),
        "{body}"
    );
    assert_eq!(fetch(&reader, &sha).await, (200, photo.clone()));

    // 2. A one-chunk blob; after the failure the phone sends the whole again.
    let (small, sha) = blob(11, 5_000);
    photo_row(&a, "A", &sha).await;
    let blocker = block_store(&s, &sha);
    assert_eq!(put(&a, &sha, 0, small.len(), &small).await.0, 503);
    std::fs::remove_file(&blocker).unwrap();
    let (st, body) = put(&a, &sha, 0, small.len(), &small).await;
    assert_eq!(
        (st, body["complete"].as_bool()),
        (200, Some(true)),
        "{body}"
    );
    assert_eq!(fetch(&reader, &sha).await, (200, small.clone()));

    // 3. After the failure the phone first asks where the upload stands (it would stop
    //    sending when every byte is held): the status finishes the blob.
    let (third, sha) = blob(13, 70_000);
    photo_row(&a, "A", &sha).await;
    let blocker = block_store(&s, &sha);
    assert_eq!(put(&a, &sha, 0, third.len(), &third).await.0, 503);
    assert_eq!(status(&a, &sha).await.0, 503, "the store still fails");
    std::fs::remove_file(&blocker).unwrap();
    let (st, body) = status(&a, &sha).await;
    assert_eq!(
        (st, body["held_bytes"].as_u64(), body["complete"].as_bool()),
        (200, Some(third.len() as u64), Some(true)),
        "{body}"
    );
    assert_eq!(fetch(&reader, &sha).await, (200, third.clone()));
    // A late retry of a finished blob is answered complete.
    let (st, body) = put(&a, &sha, 0, third.len(), &third).await;
    assert_eq!(
        (st, body["complete"].as_bool()),
        (200, Some(true)),
        "{body}"
    );
}

async fn naming_another_village_s_photo_hash_does_not_make_it_readable(backend: Backend) {
    let s = TestServer::start(backend).await;
    let a = s.device("dir-a").await;
    let a_tablet = s.device("dir-a").await;
    let photo: Vec<u8> = (0..300_000u32).map(|i| (i * 13 % 251) as u8).collect();
    let sha = hex::encode(Sha256::digest(&photo));
    photo_row(&a, "A", &sha).await;
    // The legitimate flow: the phone that took it uploads it (in two chunks); the
    // village's other devices and the township's supervisor read it.
    assert_eq!(
        put(&a, &sha, 0, photo.len(), &photo[..200_000]).await.0,
        200
    );
    let (st, body) = put(&a, &sha, 200_000, photo.len(), &photo[200_000..]).await;
    assert_eq!(
        (st, body["complete"].as_bool()),
        (200, Some(true)),
        "{body}"
    );
    assert_eq!(fetch(&a_tablet, &sha).await, (200, photo.clone()));
    let sup = s.device("sup-1").await;
    assert_eq!(fetch(&sup, &sha).await, (200, photo.clone()));

    // Directors of another village (same township, B; another township, C) learn the
    // hash and write rows of their own naming it.
    for (login, village) in [("dir-b", "B"), ("dir-c", "C")] {
        let thief = s.device(login).await;
        photo_row(&thief, village, &sha).await;
        let (st, body) = fetch(&thief, &sha).await;
        assert_ne!(st, 200, "{login} read village A's photo");
        assert!(!body.windows(photo.len().min(64)).any(|w| w == &photo[..64]));
        let (st, body) = status(&thief, &sha).await;
        assert_eq!(
            (st, body["complete"].as_bool(), body["held_bytes"].as_u64()),
            (200, Some(false), Some(0)),
            "{login}: the blob is not complete for a village that never uploaded it"
        );
        // Bytes that are not the photo prove nothing.
        let fake = vec![0u8; photo.len().min(200_000)];
        let (st, body) = put(&thief, &sha, 0, fake.len(), &fake).await;
        assert_eq!((st, body["code"].as_str()), (422, Some("hash_mismatch")));
        assert_ne!(fetch(&thief, &sha).await.0, 200);
        // The same device's other rows and its supervisor gain nothing either.
        let (st, body) = fetch(&s.device(login).await, &sha).await;
        assert_ne!(st, 200, "{body:?}");
    }
    let sup2 = s.device("sup-2").await;
    assert_ne!(fetch(&sup2, &sha).await.0, 200);

    // Proof is possession: a village that does hold the bytes (the family sent the
    // same picture to C's director) uploads them and then reads it.
    let c = s.device("dir-c").await;
    assert_eq!(
        put(&c, &sha, 0, photo.len(), &photo[..200_000]).await.0,
        200
    );
    let (st, body) = put(&c, &sha, 200_000, photo.len(), &photo[200_000..]).await;
    assert_eq!(
        (st, body["complete"].as_bool()),
        (200, Some(true)),
        "{body}"
    );
    assert_eq!(fetch(&c, &sha).await, (200, photo.clone()));
    assert_eq!(fetch(&sup2, &sha).await, (200, photo));
}
