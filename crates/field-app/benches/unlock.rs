//! PIN unlock: the Argon2id derivation of the key-wrapping key from the PIN, the
//! unwrap, and opening the encrypted store — what a director waits for after typing the
//! PIN. Baselines from the same run: opening the same store without encryption, and
//! opening the encrypted store with the raw key already in hand (no derivation).
//!
//! `cargo bench -p field-app --bench unlock`

use criterion::{criterion_group, criterion_main, Criterion};
use field_app::lock::{KdfParams, Keys};
use field_store::{OpenOptions, Store};
use serde_json::{json, Map, Value};

fn child(i: usize) -> Map<String, Value> {
    let v = json!({
        "name": format!("儿童{i}"), "sex": "female", "birth_date": "2016-03-08", "village_code": "v1",
        "categories": ["left_behind"], "risk_colour": "green", "household_registered": true,
        "status": "active", "added_on": "2026-01-05",
    });
    v.as_object().unwrap().clone()
}

fn fill(path: &std::path::Path, key: Option<String>) {
    let mut s = Store::open(
        path,
        &OpenOptions {
            key,
            ..Default::default()
        },
    )
    .unwrap();
    s.set_scopes(&["v1".to_string()]).unwrap();
    for i in 0..500 {
        s.add_child(child(i)).unwrap();
    }
}

fn unlock(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys::new(dir.path(), KdfParams::default());
    let key = keys.create("260518").unwrap();
    let raw = key.sqlcipher_key().to_string();
    let enc = dir.path().join("device.db");
    fill(&enc, Some(raw.clone()));
    let plain_dir = tempfile::tempdir().unwrap();
    let plain = plain_dir.path().join("device.db");
    fill(&plain, None);

    let mut g = c.benchmark_group("unlock");
    g.sample_size(20);
    g.bench_function("pin: argon2id + unwrap + open encrypted store", |b| {
        b.iter(|| {
            let k = keys
                .unlock("260518", &field_app::lock::Now::wall(0))
                .unwrap();
            let s = Store::open(
                &enc,
                &OpenOptions {
                    key: Some(k.sqlcipher_key().to_string()),
                    ..Default::default()
                },
            )
            .unwrap();
            std::hint::black_box(s.device_id());
        })
    });
    g.bench_function("baseline: open encrypted store with the raw key", |b| {
        b.iter(|| {
            let s = Store::open(
                &enc,
                &OpenOptions {
                    key: Some(raw.clone()),
                    ..Default::default()
                },
            )
            .unwrap();
            std::hint::black_box(s.device_id());
        })
    });
    g.bench_function("baseline: open the same store unencrypted", |b| {
        b.iter(|| {
            let s = Store::open(&plain, &OpenOptions::default()).unwrap();
            std::hint::black_box(s.device_id());
        })
    });
    g.finish();
}

criterion_group!(benches, unlock);
criterion_main!(benches);
