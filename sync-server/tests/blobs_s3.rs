//! Blobs in S3-compatible object storage (moto, with signatures checked): server
//! instances over one database and one bucket share blobs.
//!
//! On PostgreSQL two instances run, each with its own (empty) data folder, so nothing
//! can pass between them on disk; on SQLite one instance (one SQLite file is one
//! process), still with blobs only in the bucket. Without moto the tests skip, except
//! with `CI=true`, where they fail.

mod common;

use common::moto::Moto;
use common::{Backend, Device, TestServer};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sync_server::blobs::BlobStore;
use sync_server::settings::{BlobSettings, Settings};

backend_tests!(
    an_upload_cut_on_one_instance_resumes_and_is_fetched_on_another,
    a_hash_mismatch_is_refused_and_nothing_is_stored,
    blobs_outside_the_scope_are_refused
);

/// Moto, a bucket, and instance A and B over it (B is A on SQLite).
struct Cluster {
    moto: Moto,
    bucket: String,
    a: TestServer,
    b: Option<TestServer>,
}

impl Cluster {
    async fn start(backend: Backend) -> Option<Cluster> {
        let moto = Moto::start().await?;
        let blobs = moto.bucket().await;
        let BlobSettings::S3 { bucket, .. } = &blobs else {
            unreachable!("moto gives s3 settings")
        };
        let bucket = bucket.clone();
        let a = TestServer::start_with_blobs(backend.clone(), blobs.clone()).await;
        let b = match backend {
            Backend::Postgres(_) => Some(TestServer::start_with(backend, blobs, None).await),
            Backend::Sqlite => None,
        };
        Some(Cluster { moto, bucket, a, b })
    }

    fn b(&self) -> &TestServer {
        self.b.as_ref().unwrap_or(&self.a)
    }

    /// The blob as the bucket holds it (read past the servers).
    async fn in_bucket(&self, sha: &str) -> Option<Vec<u8>> {
        self.moto.store(&self.bucket).get(sha).await.unwrap()
    }

    /// No instance wrote a blob to its data folder.
    fn nothing_on_disk(&self) {
        for s in [&self.a, self.b()] {
            let blobs = s.dir.path().join("blobs");
            assert!(
                !blobs.exists() || std::fs::read_dir(&blobs).unwrap().next().is_none(),
                "{} holds blobs on disk",
                blobs.display()
            );
        }
    }
}

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

async fn fetch(d: &Device, sha: &str) -> (u16, Vec<u8>) {
    let res = d
        .auth(d.http.get(format!("{}/v1/blobs/{sha}", d.base)))
        .send()
        .await
        .unwrap();
    let st = res.status().as_u16();
    (st, res.bytes().await.unwrap().to_vec())
}

async fn an_upload_cut_on_one_instance_resumes_and_is_fetched_on_another(backend: Backend) {
    let Some(c) = Cluster::start(backend).await else {
        return;
    };
    let on_a = c.a.device("dir-a").await;
    let on_b = on_a.via(c.b());
    let photo: Vec<u8> = (0..600_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let sha = hex::encode(Sha256::digest(&photo));
    photo_row(&on_a, "A", &sha).await;

    // One chunk through A, then the network drops.
    let chunk = 200_000;
    assert_eq!(
        put(&on_a, &sha, 0, photo.len(), &photo[..chunk]).await.0,
        200
    );
    assert_eq!(c.in_bucket(&sha).await, None, "nothing in the bucket yet");
    // The phone comes back through B, which knows where the upload stands.
    let (st, body) = status(&on_b, &sha).await;
    assert_eq!(
        (st, body["held_bytes"].as_u64(), body["complete"].as_bool()),
        (200, Some(chunk as u64), Some(false))
    );
    let (st, body) = put(&on_b, &sha, 0, photo.len(), &photo[..chunk]).await;
    assert_eq!((st, body["held_bytes"].as_u64()), (409, Some(chunk as u64)));
    assert_eq!(
        put(&on_b, &sha, chunk, photo.len(), &photo[chunk..2 * chunk])
            .await
            .0,
        200
    );
    let (st, body) = put(&on_b, &sha, 2 * chunk, photo.len(), &photo[2 * chunk..]).await;
    assert_eq!(
        (st, body["complete"].as_bool()),
        (200, Some(true)),
        "{body}\n{}",
        c.moto.log()
    );

    // B serves it, A serves it, and it lives in the bucket only.
    assert_eq!(fetch(&on_b, &sha).await, (200, photo.clone()));
    assert_eq!(fetch(&on_a, &sha).await, (200, photo.clone()));
    assert_eq!(c.in_bucket(&sha).await.as_deref(), Some(photo.as_slice()));
    c.nothing_on_disk();
    // Another device of the director, enrolled on B, fetches it too.
    let reader = c.b().device("dir-a").await;
    assert_eq!(fetch(&reader, &sha).await, (200, photo.clone()));
    // Uploading a complete blob again changes nothing.
    let (st, body) = put(&on_a, &sha, 0, photo.len(), &photo[..chunk]).await;
    assert_eq!((st, body["complete"].as_bool()), (200, Some(true)));
    assert_eq!(fetch(&on_b, &sha).await, (200, photo));
}

async fn a_hash_mismatch_is_refused_and_nothing_is_stored(backend: Backend) {
    let Some(c) = Cluster::start(backend).await else {
        return;
    };
    let on_a = c.a.device("dir-a").await;
    let on_b = on_a.via(c.b());
    let liar: Vec<u8> = vec![1u8; 300_000];
    let claimed = hex::encode(Sha256::digest(b"something else"));
    photo_row(&on_a, "A", &claimed).await;
    assert_eq!(
        put(&on_a, &claimed, 0, liar.len(), &liar[..200_000])
            .await
            .0,
        200
    );
    let (st, body) = put(&on_b, &claimed, 200_000, liar.len(), &liar[200_000..]).await;
    assert_eq!((st, body["code"].as_str()), (422, Some("hash_mismatch")));
    for d in [&on_a, &on_b] {
        let (_, body) = status(d, &claimed).await;
        assert_eq!(
            (body["held_bytes"].as_u64(), body["complete"].as_bool()),
            (Some(0), Some(false))
        );
        assert_eq!(fetch(d, &claimed).await.0, 404);
    }
    assert_eq!(c.in_bucket(&claimed).await, None);
    c.nothing_on_disk();
}

async fn blobs_outside_the_scope_are_refused(backend: Backend) {
    let Some(c) = Cluster::start(backend).await else {
        return;
    };
    let a = c.a.device("dir-a").await;
    let b = c.b().device("dir-b").await;
    let bytes = b"signature strokes".to_vec();
    let sha = hex::encode(Sha256::digest(&bytes));
    photo_row(&a, "A", &sha).await;
    assert_eq!(put(&a, &sha, 0, bytes.len(), &bytes).await.0, 200);
    assert_eq!(c.in_bucket(&sha).await, Some(bytes.clone()));
    // Village B's director sees nothing of village A's blob, on either instance.
    for d in [b.clone(), b.via(&c.a)] {
        let (st, body) = status(&d, &sha).await;
        assert_eq!((st, body["code"].as_str()), (403, Some("out_of_scope")));
        assert_eq!(fetch(&d, &sha).await.0, 403);
        assert_eq!(put(&d, &sha, 0, bytes.len(), &bytes).await.0, 403);
    }
    // A blob no row names is refused, and never reaches the bucket.
    let stray = hex::encode(Sha256::digest(b"stray"));
    assert_eq!(put(&a.via(c.b()), &stray, 0, 5, b"stray").await.0, 403);
    assert_eq!(c.in_bucket(&stray).await, None);
    // The township's supervisor reads it through B; cannot upload.
    let sup = c.b().device("sup-1").await;
    assert_eq!(fetch(&sup, &sha).await, (200, bytes.clone()));
    assert_eq!(put(&sup, &sha, 0, bytes.len(), &bytes).await.0, 403);
    // The other township's supervisor cannot read it.
    let sup2 = c.b().device("sup-2").await;
    assert_eq!(fetch(&sup2, &sha).await.0, 403);
}

/// Settings on a fresh SQLite folder with `blobs`.
fn settings(dir: &tempfile::TempDir, blobs: BlobSettings) -> Settings {
    Settings {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.path().to_path_buf(),
        blobs,
        ..Settings::default()
    }
}

/// A server does not start on a bucket it cannot use, and says why (no panic, no secret).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bucket_is_checked_at_start_with_a_clear_error() {
    let Some(moto) = Moto::start().await else {
        return;
    };
    let good = moto.bucket().await;
    let BlobSettings::S3 { bucket, .. } = &good else {
        unreachable!()
    };
    let dir = tempfile::tempdir().unwrap();
    assert!(
        sync_server::server::build_state(settings(&dir, good.clone()))
            .await
            .is_ok()
    );

    let with = |f: &dyn Fn(&mut BlobSettings)| {
        let mut s = good.clone();
        f(&mut s);
        s
    };
    let cases = [
        (
            "wrong secret",
            with(&|s| {
                if let BlobSettings::S3 { secret_key, .. } = s {
                    *secret_key = "not-the-secret-0123456789".into();
                }
            }),
            "refused access key",
        ),
        (
            "unknown access key",
            with(&|s| {
                if let BlobSettings::S3 { access_key, .. } = s {
                    *access_key = "AKIANOSUCHKEY0000000".into();
                }
            }),
            "refused access key AKIANOSUCHKEY0000000",
        ),
        (
            "missing bucket",
            moto.settings(&format!("{bucket}-missing")),
            "does not exist",
        ),
        (
            "unreachable endpoint",
            with(&|s| {
                if let BlobSettings::S3 { endpoint, .. } = s {
                    let port = std::net::TcpListener::bind("127.0.0.1:0")
                        .unwrap()
                        .local_addr()
                        .unwrap()
                        .port();
                    *endpoint = format!("http://127.0.0.1:{port}");
                }
            }),
            "cannot reach the object store",
        ),
    ];
    for (name, blobs, want) in cases {
        let dir = tempfile::tempdir().unwrap();
        let err = match sync_server::server::build_state(settings(&dir, blobs)).await {
            Ok(_) => panic!("{name}: the server started"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains(want), "{name}: {err}");
        assert!(
            !err.contains(&moto.secret_key) && !err.contains("not-the-secret"),
            "{name}: {err}"
        );
    }
}

/// The store itself: idempotent puts, verified names, `None` for a missing blob.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_puts_idempotently_and_checks_names() {
    let Some(moto) = Moto::start().await else {
        return;
    };
    let BlobSettings::S3 { bucket, .. } = moto.bucket().await else {
        unreachable!()
    };
    let store = moto.store(&bucket);
    let bytes = b"a signature image".to_vec();
    let sha = hex::encode(Sha256::digest(&bytes));
    assert_eq!(store.get(&sha).await.unwrap(), None);
    store.put(&sha, bytes.clone()).await.unwrap();
    store.put(&sha, bytes.clone()).await.unwrap();
    assert_eq!(store.get(&sha).await.unwrap(), Some(bytes.clone()));
    // Bytes that are not the name's are never stored under it.
    let other = hex::encode(Sha256::digest(b"other"));
    assert!(store.put(&other, bytes.clone()).await.is_err());
    assert_eq!(store.get(&other).await.unwrap(), None);
    // Names must be sha256 hex.
    assert!(store.put("../../etc/passwd", bytes.clone()).await.is_err());
    assert!(store.get(&sha.to_uppercase()).await.is_err());
    // A damaged object is reported, not served: other bytes written under a blob's key
    // past the store (by boto3, which moto brings).
    let damaged = hex::encode(Sha256::digest(b"damaged"));
    assert!(corrupt(&moto, &bucket, &damaged, b"not what the name says"));
    let err = store.get(&damaged).await.unwrap_err().to_string();
    assert!(err.contains("does not hash to its name"), "{err}");
}

/// Writes `bytes` under the key of `sha` with boto3 (a dependency of moto), bypassing
/// the store's check; whether it worked.
fn corrupt(moto: &Moto, bucket: &str, sha: &str, bytes: &[u8]) -> bool {
    let script = format!(
        r#"
import boto3, sys
from botocore.config import Config
c = boto3.client("s3", endpoint_url="{endpoint}", region_name="us-east-1",
    aws_access_key_id="{ak}", aws_secret_access_key=sys.stdin.readline().strip(),
    config=Config(s3={{"addressing_style": "path"}}))
c.put_object(Bucket="{bucket}", Key="blobs/{prefix}/{sha}", Body=bytes.fromhex("{hex}"))
"#,
        endpoint = moto.endpoint,
        ak = moto.access_key,
        prefix = &sha[..2],
        hex = hex::encode(bytes),
    );
    use std::io::Write;
    let mut child = std::process::Command::new(common::moto::python())
        .args(["-c", &script])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{}\n", moto.secret_key).as_bytes())
        .unwrap();
    child.wait().unwrap().success()
}
