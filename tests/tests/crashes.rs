//! Crashes in the middle of sync: the server SIGKILLed during a burst of pushes, a
//! device SIGKILLed during a pull, and two server processes over one PostgreSQL with
//! devices alternating between them. Afterwards everything converges, nothing lost.

use std::process::{Command, Stdio};
use std::time::Duration;
use tonghu_tests::*;

#[test]
fn the_server_killed_in_the_middle_of_a_push_burst_loses_nothing_accepted() {
    for backend in backends() {
        let mut server = TestServer::start(&backend);
        let mut devices: Vec<Device> = ["d1", "d1b", "d1", "d1b"]
            .iter()
            .map(|a| server.device(a))
            .collect();
        for (i, d) in devices.iter_mut().enumerate() {
            let k = d.add_child(&format!("儿童{i}"), "v1");
            for j in 0..150 {
                d.visit(k, &format!("{i}-{j}"), &[]);
            }
        }
        let minted: u64 = devices
            .iter()
            .map(|d| d.store.status().unwrap().last_device_seq)
            .sum();
        let opts = field_store::sync::SyncOptions {
            push_batch: 25,
            fetch_thumbnails: false,
            ..Default::default()
        };
        let handles: Vec<_> = devices
            .into_iter()
            .map(|mut d| {
                let opts = opts.clone();
                std::thread::spawn(move || {
                    let _ = d.sync_with(&opts); // cut short by the kill
                    d
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(300));
        server.kill();
        let mut devices: Vec<Device> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let partly = devices
            .iter()
            .filter(|d| d.store.status().unwrap().outbox_changes > 0)
            .count();
        server.restart();
        for d in &mut devices {
            d.use_server(&server.url);
        }
        for _ in 0..2 {
            for d in &mut devices {
                d.sync_until_ok(&opts, 5);
            }
        }
        let first = devices[0].export();
        assert!(
            devices.iter().all(|d| d.export() == first),
            "{}: converged",
            backend.name()
        );
        let mut fresh = server.device("d1");
        assert_eq!(
            fresh.sync().unwrap().pulled,
            minted,
            "{}: every change exactly once",
            backend.name()
        );
        eprintln!(
            "{}: {partly} device(s) were cut off mid-push",
            backend.name()
        );
    }
}

#[test]
fn a_device_killed_in_the_middle_of_a_pull_converges_after_restart() {
    let fieldctl = workspace_bin("fieldctl");
    for backend in backends() {
        let server = TestServer::start(&backend);
        let mut source = server.device("d2");
        for i in 0..30 {
            let k = source.add_child(&format!("孩子{i}"), "v2");
            for j in 0..20 {
                source.visit(k, &format!("{i}/{j}"), &[]);
            }
        }
        source.sync().unwrap();

        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().to_str().unwrap();
        let code = server.enroll_code("d2");
        let ok = Command::new(&fieldctl)
            .args([
                "--data",
                data,
                "enroll",
                "--server",
                &server.url,
                "--code",
                &code,
            ])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(ok.success());
        let mut kills = 0;
        for trial in 0..12u64 {
            let mut p = Command::new(&fieldctl)
                .args(["--data", data, "sync", "--batch", "50", "--page", "100"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(Duration::from_millis(40 + trial * 37 % 200));
            if p.try_wait().unwrap().is_none() {
                kills += 1;
            }
            p.kill().ok(); // SIGKILL
            p.wait().unwrap();
        }
        let out = Command::new(&fieldctl)
            .args(["--data", data, "--json", "sync"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        let export = Command::new(&fieldctl)
            .args(["--data", data, "export"])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8(export.stdout).unwrap().trim(),
            source.export().trim(),
            "{}",
            backend.name()
        );
        eprintln!(
            "{}: {kills} sync process(es) killed mid-run",
            backend.name()
        );
        assert!(kills > 0);
    }
}

#[test]
fn two_server_processes_over_one_postgres_miss_no_change() {
    let Some(pg) = backends()
        .into_iter()
        .find(|b| matches!(b, Backend::Postgres(_)))
    else {
        eprintln!("PostgreSQL not configured; this test needs it (CI always has it)");
        return;
    };
    let one = TestServer::start(&pg);
    let two = one.another_process();
    let mut devices: Vec<Device> = ["d3", "d3", "d3"].iter().map(|a| one.device(a)).collect();
    let kids: Vec<_> = devices
        .iter_mut()
        .enumerate()
        .map(|(i, d)| d.add_child(&format!("子{i}"), "v3"))
        .collect();
    let urls = [one.url.clone(), two.url.clone()];
    let handles: Vec<_> = devices
        .into_iter()
        .enumerate()
        .map(|(i, mut d)| {
            let urls = urls.clone();
            let kids = kids.clone();
            std::thread::spawn(move || {
                for round in 0..25 {
                    d.visit(kids[i], &format!("{i}:{round}"), &[]);
                    d.store
                        .edit_record(
                            "child",
                            kids[(i + round) % kids.len()],
                            obj(serde_json::json!({"notes": format!("{i}:{round}")})),
                        )
                        .ok();
                    d.use_server(&urls[(i + round) % 2]);
                    d.sync().unwrap();
                }
                d
            })
        })
        .collect();
    let mut devices: Vec<Device> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    for _ in 0..2 {
        for (i, d) in devices.iter_mut().enumerate() {
            d.use_server(&urls[i % 2]);
            d.sync().unwrap();
        }
    }
    let first = devices[0].export();
    assert!(
        devices.iter().all(|d| d.export() == first),
        "converged across two server processes"
    );
    let minted: u64 = devices
        .iter()
        .map(|d| d.store.status().unwrap().last_device_seq)
        .sum();
    let mut fresh = two.device("d3");
    assert_eq!(
        fresh.sync().unwrap().pulled,
        minted,
        "no change missed or doubled"
    );
    assert_eq!(fresh.export(), first);
}
