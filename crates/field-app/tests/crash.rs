//! Crash safety: a device writing visits is SIGKILLed at random moments, hundreds of
//! times. Every visit whose write returned success is intact afterwards, nothing
//! half-written is visible, and the outbox matches the rows.

use field_store::{OpenOptions, Store};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

const FIELDCTL: &str = env!("CARGO_BIN_EXE_fieldctl");

fn trials() -> usize {
    std::env::var("TONGHU_CRASH_TRIALS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200)
}

#[test]
fn visits_that_returned_success_survive_sigkill_and_the_outbox_matches_the_rows() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_string();
    let out = Command::new(FIELDCTL)
        .args([
            "--data",
            &data,
            "--json",
            "child",
            "add",
            "--name",
            "测试儿童",
            "--sex",
            "male",
        ])
        .args([
            "--birth-date",
            "2015-06-01",
            "--village",
            "v1",
            "--category",
            "left_behind",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let child: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let child = child["child_id"].as_str().unwrap().to_string();

    let mut acknowledged: Vec<String> = Vec::new();
    let mut seed = 0x2545_F491_4F6C_DD1Du64 ^ std::process::id() as u64;
    let mut killed_mid_run = 0;
    // The kill comes 5-65 ms after the start plus `slack`, which grows while trials end
    // before a single write is acknowledged (a loaded machine starts the writer slowly);
    // trials go on until enough writes were acknowledged, up to ten times the count.
    let mut slack = Duration::ZERO;
    let mut ran = 0;
    while ran < trials() || (acknowledged.len() <= 100 && ran < trials() * 10) {
        ran += 1;
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay = Duration::from_micros(5_000 + seed % 60_000) + slack;
        let mut proc = Command::new(FIELDCTL)
            .args([
                "--data",
                &data,
                "debug",
                "write-visits",
                &child,
                "--count",
                "100000",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = proc.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .collect::<Vec<_>>()
        });
        std::thread::sleep(delay);
        proc.kill().unwrap(); // SIGKILL
        let status = proc.wait().unwrap();
        if !status.success() {
            killed_mid_run += 1;
        }
        // Only ids printed after their commit count as acknowledged; a partially
        // printed last line is not a whole UUID and is dropped.
        let before = acknowledged.len();
        acknowledged.extend(reader.join().unwrap().into_iter().filter(|l| l.len() == 36));
        if acknowledged.len() == before {
            slack += Duration::from_millis(5);
        }
    }
    assert!(
        killed_mid_run > ran / 2,
        "the writer must really be killed mid-run"
    );

    let store = Store::open(dir.path().join("device.db"), &OpenOptions::default()).unwrap();
    let mut visits = std::collections::BTreeMap::new();
    store
        .for_each_record(|r| {
            if r.table == "visit" {
                visits.insert(r.row_id.to_string(), r);
            }
            Ok(())
        })
        .unwrap();
    for id in &acknowledged {
        let v = visits
            .get(id)
            .unwrap_or_else(|| panic!("acknowledged visit {id} lost"));
        for f in [
            "child_id",
            "visited_at",
            "mode",
            "visitor",
            "checklist",
            "risk_colour",
            "emergency",
            "actions",
            "narrative",
        ] {
            assert!(
                v.doc.contains_key(f) && v.clocks.contains_key(f),
                "visit {id} half-written: {f} missing"
            );
        }
    }
    // The outbox matches the rows: a dense run of device_seq from 1, one entry per
    // captured field of every row, nothing more.
    let pending = store.pending_changes(usize::MAX).unwrap();
    let seqs: Vec<u64> = pending.iter().map(|c| c.device_seq).collect();
    assert_eq!(
        seqs,
        (1..=pending.len() as u64).collect::<Vec<_>>(),
        "device_seq dense"
    );
    assert_eq!(
        store.device_state().unwrap().next_seq,
        pending.len() as u64 + 1
    );
    let captured: usize = {
        let mut n = 0;
        store
            .for_each_record(|r| {
                n += r.clocks.len();
                Ok(())
            })
            .unwrap();
        n
    };
    assert_eq!(
        pending.len(),
        captured,
        "one outbox change per stored field"
    );
    for c in &pending {
        if c.table == "visit" {
            assert!(
                visits.contains_key(&c.row_id.to_string()),
                "outbox names a visit that is not stored"
            );
        }
    }
    assert!(
        acknowledged.len() > 100,
        "enough writes succeeded to mean something: {}",
        acknowledged.len()
    );
    eprintln!(
        "{} trials, {} acknowledged visits, {} stored",
        trials(),
        acknowledged.len(),
        visits.len()
    );
}
