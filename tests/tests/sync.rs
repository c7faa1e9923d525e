//! Sync that survives the field: devices (real field-store stores) and the real
//! sync-server over loopback, on SQLite and on PostgreSQL. Each test runs once per
//! backend (see `tonghu_tests::backends`).

use field_store::roster::RosterFilter;
use field_store::sync::{SyncError, SyncOptions};
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tonghu_tests::proxy::{FaultPlan, FaultProxy};
use tonghu_tests::*;

/// Syncs every device in turn until a full round changes nothing anywhere.
fn settle(devices: &mut [&mut Device]) {
    for _ in 0..3 {
        for d in devices.iter_mut() {
            d.sync().unwrap();
        }
    }
}

/// What a device sent and received over its rounds.
#[derive(Default, Debug)]
struct Tally {
    pushed: u64,
    pulled: u64,
}

/// One round, counted; no village needed a fresh copy (that would pull everything).
fn counted_sync(d: &mut Device, t: &mut Tally) {
    let r = d.sync().unwrap();
    assert!(r.mismatched_scopes.is_empty(), "{r:?}");
    t.pushed += r.pushed;
    t.pulled += r.pulled;
}

#[test]
fn directors_editing_the_same_children_offline_converge_and_keep_the_losing_values() {
    for backend in backends() {
        let server = TestServer::start(&backend);
        let mut a = server.device("d1");
        let mut b = server.device("d1b");
        let mut sup = server.device("s1");
        let (mut ta, mut tb, mut ts) = (Tally::default(), Tally::default(), Tally::default());
        let kids: Vec<_> = (0..5)
            .map(|i| a.add_child(&format!("儿童{i}"), "v1"))
            .collect();
        counted_sync(&mut a, &mut ta);
        assert_eq!(
            ta.pulled,
            0,
            "{}: a's own changes do not come back",
            backend.name()
        );
        counted_sync(&mut b, &mut tb);
        assert_eq!(tb.pulled, ta.pushed, "{}", backend.name());
        assert_eq!(
            a.export(),
            b.export(),
            "{}: b received a's children",
            backend.name()
        );

        // Both edit the same fields while offline, in different orders.
        let mut seed = 7u64;
        for round in 0..4 {
            for (i, k) in kids.iter().enumerate() {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let who = (seed >> 33) % 3;
                let addr = json!(format!("{round}-{i}-{who}"));
                if who != 1 {
                    a.store
                        .edit_record("child", *k, obj(json!({"current_address": addr})))
                        .unwrap();
                }
                if who != 0 {
                    b.store
                        .edit_record(
                            "child",
                            *k,
                            obj(json!({"current_address": addr, "notes": format!("b{round}")})),
                        )
                        .unwrap();
                }
            }
            if seed.is_multiple_of(2) {
                counted_sync(&mut a, &mut ta);
                counted_sync(&mut b, &mut tb);
            } else {
                counted_sync(&mut b, &mut tb);
                counted_sync(&mut a, &mut ta);
            }
        }
        for _ in 0..3 {
            counted_sync(&mut a, &mut ta);
            counted_sync(&mut b, &mut tb);
            counted_sync(&mut sup, &mut ts);
        }
        // Each director received exactly the other's changes, none of its own; the
        // supervisor (who writes nothing) all of them.
        assert_eq!(
            (ta.pulled, tb.pulled, ts.pulled),
            (tb.pushed, ta.pushed, ta.pushed + tb.pushed),
            "{}: {ta:?} {tb:?}",
            backend.name()
        );
        assert_eq!(
            a.export(),
            b.export(),
            "{}: the two directors converge",
            backend.name()
        );
        assert_eq!(
            a.export(),
            sup.export(),
            "{}: the supervisor sees the same township data",
            backend.name()
        );
        // The server agrees field by field (a verify round found nothing to heal).
        let r = a.sync().unwrap();
        assert!(r.mismatched_scopes.is_empty());
        let lost: usize = kids
            .iter()
            .map(|k| a.store.child_file(*k).unwrap().history.len())
            .sum();
        let lost_b: usize = kids
            .iter()
            .map(|k| b.store.child_file(*k).unwrap().history.len())
            .sum();
        assert!(
            lost > 0 && lost_b > 0,
            "{}: concurrent edits left their losers in history ({lost}, {lost_b})",
            backend.name()
        );
    }
}

#[test]
fn a_village_that_disagrees_with_the_server_is_fetched_again_with_the_device_s_own_records() {
    for backend in backends() {
        let server = TestServer::start(&backend);
        let mut a = server.device("d1");
        let mut b = server.device("d1b");
        let mine = a.add_child("冯十", "v1");
        b.add_child("陈十一", "v1");
        b.sync().unwrap();
        a.sync().unwrap();
        b.sync().unwrap();
        assert_eq!(a.export(), b.export(), "{}", backend.name());
        // A's copy loses one of its own records (a bug, a backup restored badly).
        a.store
            .connection()
            .execute(
                "DELETE FROM record WHERE tbl = 'child' AND row_id = ?1",
                [mine.to_string()],
            )
            .unwrap();
        assert_ne!(a.export(), b.export());
        // Verify finds the village different and fetches it afresh: a normal pull leaves
        // a's own changes out, the fresh copy must not.
        let r = a.sync().unwrap();
        assert_eq!(
            r.mismatched_scopes,
            vec!["v1".to_string()],
            "{}",
            backend.name()
        );
        assert_eq!(a.export(), b.export(), "{}", backend.name());
        assert!(a.sync().unwrap().mismatched_scopes.is_empty());
    }
}

#[test]
fn a_device_offline_for_30_days_with_hundreds_of_visits_and_photos_syncs_completely() {
    for backend in backends() {
        let server = TestServer::start(&backend);
        let mut phone = server.device("d2");
        let kids: Vec<_> = (0..20)
            .map(|i| phone.add_child(&format!("孩子{i}"), "v2"))
            .collect();
        let photos: Vec<Vec<u8>> = (0..4).map(|i| test_photo(900, 600, i)).collect();
        for day in 0..30 {
            for (i, k) in kids.iter().enumerate().filter(|(i, _)| (i + day) % 3 == 0) {
                let with = if (i + day) % 4 == 0 {
                    std::slice::from_ref(&photos[(i + day) % 4])
                } else {
                    &[]
                };
                phone.visit(*k, &format!("第{day}天"), with);
            }
        }
        let before = phone.store.status().unwrap();
        assert!(before.outbox_changes > 1500 && before.pending_blobs > 0);
        let mut last = None;
        let report = field_store::sync::sync_once(
            &mut phone.store,
            &SyncOptions {
                push_batch: 300,
                ..Default::default()
            },
            &mut |p| last = Some(p.clone()),
        )
        .unwrap();
        assert!(last.is_some(), "progress was reported");
        let after = phone.store.status().unwrap();
        assert_eq!(
            (
                after.outbox_changes,
                after.pending_blobs,
                after.rejected_changes
            ),
            (0, 0, 0),
            "{}",
            backend.name()
        );
        assert_eq!(report.pushed, before.outbox_changes);

        // A second phone of the same village receives every visit and every thumbnail.
        let mut other = server.device("d2");
        other.sync().unwrap();
        assert_eq!(other.export(), phone.export(), "{}", backend.name());
        let visits = other.store.child_file(kids[0]).unwrap();
        for p in &visits.photos {
            assert!(other
                .store
                .has_blob(p.fields["thumb_sha256"].as_str().unwrap())
                .unwrap());
        }
    }
}

#[test]
fn a_child_who_moves_village_reaches_the_new_village_whole_and_leaves_the_old_one() {
    for backend in backends() {
        let server = TestServer::start(&backend);
        let mut old = server.device("d1");
        let mut new = server.device("d2");
        let child = old.add_child("周小五", "v1");
        old.visit(child, "入户走访", &[test_photo(400, 300, 1)]);
        old.visit(child, "电话回访", &[]);
        old.sync().unwrap();
        new.sync().unwrap();
        assert!(
            new.store.child_file(child).is_err(),
            "{}: not v2's child yet",
            backend.name()
        );

        old.store
            .edit_record("child", child, obj(json!({"village_code": "v2"})))
            .unwrap();
        let report = old.sync().unwrap();
        assert_eq!(
            report
                .children_left
                .iter()
                .map(|c| (c.name.as_str(), c.village.as_str()))
                .collect::<Vec<_>>(),
            vec![("周小五", "v2")],
            "{}: the move is told by name, with the new village",
            backend.name()
        );
        assert!(
            old.store.child_file(child).is_err(),
            "{}: the old device no longer holds the child",
            backend.name()
        );
        new.sync().unwrap();
        let file = new.store.child_file(child).unwrap();
        assert_eq!(file.village, "v2");
        assert_eq!(
            file.visits.len(),
            2,
            "{}: the visits came along",
            backend.name()
        );
        assert_eq!(file.photos.len(), 1);
        assert!(new
            .store
            .has_blob(file.photos[0].fields["thumb_sha256"].as_str().unwrap())
            .unwrap());

        // Later edits in v2 do not reach v1.
        new.store
            .edit_record("child", child, obj(json!({"notes": "已转入二村"})))
            .unwrap();
        new.sync().unwrap();
        old.sync().unwrap();
        assert!(old.store.child_file(child).is_err());
        assert!(old
            .store
            .roster(&RosterFilter::default())
            .unwrap()
            .is_empty());
    }
}

#[test]
fn a_director_given_another_village_receives_it_and_one_taken_away_leaves_the_phone() {
    // The county reassigns villages (a colleague left, villages merged): the phone must
    // follow the roster at its next sync, without a new enrollment.
    for backend in backends() {
        let server = TestServer::start(&backend);
        let mut d1 = server.device("d1");
        let mut d2 = server.device("d2");
        let mine = d1.add_child("吴一", "v1");
        let theirs = d2.add_child("郑二", "v2");
        d2.visit(theirs, "入户走访", &[]);
        d1.sync().unwrap();
        d2.sync().unwrap();
        d1.sync().unwrap();
        assert!(
            d1.store.child_file(theirs).is_err(),
            "{}: not d1's yet",
            backend.name()
        );

        // d1 now also covers v2.
        let both =
            tonghu_tests::CITY_CSV.replace("director,d1,王主任,v1", "director,d1,王主任,v1;v2");
        let path = server.data.join("both.csv");
        std::fs::write(&path, both).unwrap();
        server.admin(&["import", "--file", path.to_str().unwrap()]);
        d1.sync().unwrap();
        let mut held = d1.store.device_state().unwrap().scopes;
        held.sort();
        assert_eq!(held, vec!["v1", "v2"], "{}", backend.name());
        let names = d1.store.village_names().unwrap();
        assert_eq!(
            names.get("v2").map(String::as_str),
            Some("二村"),
            "{}: the new village by its name",
            backend.name()
        );
        let file = d1.store.child_file(theirs).unwrap();
        assert_eq!(
            file.visits.len(),
            1,
            "{}: v2's history came whole",
            backend.name()
        );
        assert!(d1.store.child_file(mine).is_ok());
        // d1 may now write in v2, and the server takes it.
        d1.store
            .edit_record("child", theirs, obj(json!({"notes": "王主任接手"})))
            .unwrap();
        d1.sync().unwrap();
        assert_eq!(
            d1.store.status().unwrap().rejected_changes,
            0,
            "{}",
            backend.name()
        );

        // Then v1 goes to another director: its children leave d1's phone (nothing of
        // theirs is unsent), v2's stay.
        let only_v2 =
            tonghu_tests::CITY_CSV.replace("director,d1,王主任,v1", "director,d1,王主任,v2");
        std::fs::write(&path, only_v2).unwrap();
        server.admin(&["import", "--file", path.to_str().unwrap()]);
        let report = d1.sync().unwrap();
        assert_eq!(d1.store.device_state().unwrap().scopes, vec!["v2"]);
        let left: Vec<(&str, &str)> = report
            .children_left
            .iter()
            .map(|c| (c.name.as_str(), c.village.as_str()))
            .collect();
        assert_eq!(
            left,
            vec![("吴一", "v1")],
            "{}: the round says who left the phone, by name",
            backend.name()
        );
        assert_eq!(report.children_left[0].child_id, mine);
        assert!(
            d1.store.child_file(mine).is_err(),
            "{}: v1 left the phone",
            backend.name()
        );
        assert!(d1.store.child_file(theirs).is_ok());
        let roster = d1.store.roster(&RosterFilter::default()).unwrap();
        assert_eq!(roster.len(), 1, "{}", backend.name());
        d2.sync().unwrap();
        assert_eq!(
            d1.export(),
            d2.export(),
            "{}: the two phones of v2 agree",
            backend.name()
        );
    }
}

#[test]
fn a_phone_a_year_fast_or_slow_loses_nothing_and_does_not_win_every_conflict() {
    const YEAR: i64 = 365 * 24 * 3600 * 1000;
    for backend in backends() {
        let server = TestServer::start(&backend);
        let mut fast = server.device_with_skew("d1", YEAR);
        let mut honest = server.device("d1b");
        let mut slow = server.device_with_skew("d1b", -YEAR);
        // Enrollment taught the fast and slow phones the offset; forget it, and restart
        // them (so the clock anchor of enrollment no longer applies), to play a phone
        // whose clock jumped after enrollment. (Without the restart the anchor keeps
        // them on time: see the next test.)
        fast.store.set_clock_offset(0).unwrap();
        slow.store.set_clock_offset(0).unwrap();
        fast.reboot();
        slow.reboot();

        let child = fast.add_child("钱七", "v1");
        fast.visit(child, "快钟走访", &[]);
        let report = fast.sync().unwrap();
        assert!(
            report.restamped > 0,
            "{}: the far-future stamps were re-stamped",
            backend.name()
        );
        assert_eq!(fast.store.status().unwrap().outbox_changes, 0);
        assert_eq!(
            fast.store.status().unwrap().rejected_changes,
            0,
            "nothing lost to the clock"
        );
        honest.sync().unwrap();
        assert_eq!(honest.store.child_file(child).unwrap().visits.len(), 1);

        // Later, the honest director's edit is the later one and must win.
        fast.store
            .edit_record("child", child, obj(json!({"notes": "fast"})))
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        honest
            .store
            .edit_record("child", child, obj(json!({"notes": "honest"})))
            .unwrap();
        fast.sync().unwrap();
        honest.sync().unwrap();
        fast.sync().unwrap();
        assert_eq!(
            fast.store.child_file(child).unwrap().child.fields["notes"],
            "honest",
            "{}",
            backend.name()
        );

        // A slow phone's work arrives whole too.
        slow.sync().unwrap();
        slow.visit(child, "慢钟走访", &[]);
        slow.sync().unwrap();
        honest.sync().unwrap();
        assert_eq!(
            honest.store.child_file(child).unwrap().visits.len(),
            2,
            "{}",
            backend.name()
        );
        settle(&mut [&mut fast, &mut honest, &mut slow]);
        assert_eq!(fast.export(), slow.export());
    }
}

#[test]
fn a_phone_whose_clock_goes_back_a_year_after_its_last_sync_still_wins_with_its_later_edit() {
    const YEAR: i64 = 365 * 24 * 3600 * 1000;
    for backend in backends() {
        let server = TestServer::start(&backend);
        let mut skewed = server.device("d1");
        let mut other = server.device("d1b");
        let child = other.add_child("孙小燕", "v1");
        other.sync().unwrap();
        skewed.sync().unwrap();
        assert!(skewed.store.child_file(child).is_ok());

        // Offline now, the phone's owner sets its clock back a year (same boot).
        skewed.set_wall_skew(-YEAR);
        other
            .store
            .edit_record("child", child, obj(json!({"notes": "另一台手机先改"})))
            .unwrap();
        std::thread::sleep(std::time::Duration::from_secs(1));
        skewed
            .store
            .edit_record("child", child, obj(json!({"notes": "一秒后这台手机再改"})))
            .unwrap();

        skewed.sync().unwrap();
        other.sync().unwrap();
        skewed.sync().unwrap();
        for d in [&skewed, &other] {
            let file = d.store.child_file(child).unwrap();
            assert_eq!(
                file.child.fields["notes"],
                "一秒后这台手机再改",
                "{}: the later edit wins on {}",
                backend.name(),
                d.account
            );
        }
        for d in [&skewed, &other] {
            let history = d.store.child_file(child).unwrap().history;
            assert!(
                history.iter().any(|h| h.value == "另一台手机先改"),
                "{}: the earlier edit is in {}'s history: {history:?}",
                backend.name(),
                d.account
            );
        }
        assert_eq!(skewed.export(), other.export(), "{}", backend.name());
    }
}

#[test]
fn hundreds_of_cut_delayed_and_repeated_connections_lose_and_duplicate_nothing() {
    let trials: usize = std::env::var("TONGHU_FAULT_TRIALS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    for backend in backends() {
        let server = TestServer::start(&backend);
        let proxy = FaultProxy::start(
            server.addr,
            FaultPlan {
                cut_probability: 0.35,
                cut_within: 1500,
                max_delay_ms: 2,
                repeat_probability: 0.2,
                seed: 42,
                ..Default::default()
            },
        );
        let mut a = server.device("d3");
        let mut b = server.device("d3");
        a.use_server(&proxy.url());
        b.use_server(&proxy.url());
        let opts = SyncOptions {
            push_batch: 20,
            fetch_thumbnails: false,
            timeout: std::time::Duration::from_secs(5),
            ..Default::default()
        };
        let ka = a.add_child("甲", "v3");
        let kb = b.add_child("乙", "v3");
        let mut failures = 0;
        for t in 0..trials {
            let (dev, kid) = if t % 2 == 0 {
                (&mut a, ka)
            } else {
                (&mut b, kb)
            };
            dev.visit(kid, &format!("trial {t}"), &[]);
            if t % 3 == 0 {
                dev.store
                    .edit_record("child", kid, obj(json!({"notes": format!("t{t}")})))
                    .unwrap();
            }
            if let Err(e) = dev.sync_with(&opts) {
                assert!(
                    e.is_retryable(),
                    "only network failures are expected, got {e}"
                );
                failures += 1;
            }
        }
        assert!(
            failures > trials / 10,
            "{}: the proxy really broke connections ({failures})",
            backend.name()
        );
        assert!(
            proxy.stats.replays.load(Ordering::Relaxed) > 0
                && proxy.stats.cuts.load(Ordering::Relaxed) > 0
        );
        let minted =
            a.store.status().unwrap().last_device_seq + b.store.status().unwrap().last_device_seq;
        for d in [&mut a, &mut b] {
            d.use_server(&server.url);
        }
        settle(&mut [&mut a, &mut b]);
        assert_eq!(a.export(), b.export(), "{}", backend.name());
        assert_eq!(
            a.store.child_file(ka).unwrap().visits.len(),
            trials.div_ceil(2),
            "no visit lost"
        );
        // A fresh device pulls exactly one copy of every change ever made.
        let mut fresh = server.device("d3");
        let r = fresh.sync().unwrap();
        assert_eq!(
            r.pulled,
            minted,
            "{}: nothing duplicated, nothing missing",
            backend.name()
        );
        assert_eq!(fresh.export(), a.export());
    }
}

#[test]
fn a_photo_upload_cut_in_the_middle_resumes_without_resending_more_than_one_chunk() {
    for backend in backends() {
        let server = TestServer::start(&backend);
        let mut phone = server.device("d1");
        let child = phone.add_child("孙八", "v1");
        phone.visit(child, "带照片", &[test_photo(1600, 1200, 9)]);
        // Records first (as on a phone set to upload photos on Wi-Fi only).
        phone
            .sync_with(&SyncOptions {
                upload_blobs: false,
                ..Default::default()
            })
            .unwrap();
        let pending = phone.store.pending_blobs().unwrap();
        let total: u64 = pending.iter().map(|b| b.size).sum();
        assert!(
            total > 100_000,
            "photo and thumbnail wait for upload ({total} bytes)"
        );
        let chunk = 16 * 1024;
        // A proxy that cuts the connection once half of the bytes have gone up.
        let proxy = FaultProxy::start(
            server.addr,
            FaultPlan {
                cut_up_at: Some(total / 2),
                ..Default::default()
            },
        );
        let meter = Arc::new(AtomicU64::new(0));
        let opts = SyncOptions {
            chunk_bytes: chunk,
            fetch_thumbnails: false,
            blob_meter: Some(meter.clone()),
            ..Default::default()
        };
        phone.use_server(&proxy.url());
        let first = phone.sync_with(&opts);
        assert!(
            matches!(first, Err(SyncError::Network(_))),
            "{}: the upload was interrupted",
            backend.name()
        );
        phone.use_server(&server.url);
        phone.sync_with(&opts).unwrap();
        assert_eq!(phone.store.pending_blobs().unwrap().len(), 0);
        let sent = meter.load(Ordering::Relaxed);
        assert!(
            sent <= total + chunk as u64,
            "{}: {sent} bytes sent for {total} bytes of blobs",
            backend.name()
        );
    }
}

#[test]
fn a_photo_whose_server_store_write_failed_is_finished_at_the_next_sync() {
    for backend in backends() {
        let server = TestServer::start(&backend);
        let mut phone = server.device("d1");
        let child = phone.add_child("周九", "v1");
        phone.visit(child, "带照片", &[test_photo(1600, 1200, 5)]);
        let pending = phone.store.pending_blobs().unwrap();
        assert_eq!(pending.len(), 2, "photo and thumbnail");
        // The server's disk blob store cannot write them: a plain file where their
        // directory must go. Every byte reaches the server; the final write fails.
        let blockers: Vec<std::path::PathBuf> = pending
            .iter()
            .map(|b| {
                let parent = server.data.join("blobs").join(&b.sha256[..2]);
                std::fs::create_dir_all(&parent).unwrap();
                let blocker = parent.join(&b.sha256[2..4]);
                std::fs::write(&blocker, b"x").unwrap();
                blocker
            })
            .collect();
        let first = phone.sync();
        assert!(
            matches!(&first, Err(SyncError::Network(m)) if m.contains("503")),
            "{}: {first:?}",
            backend.name()
        );
        for b in &blockers {
            let _ = std::fs::remove_file(b);
        }
        // The next round finishes the held upload instead of taking "every byte held"
        // for "done".
        phone.sync().unwrap();
        assert_eq!(phone.store.pending_blobs().unwrap().len(), 0);
        let (base, token) = phone.store.enrollment().unwrap().unwrap();
        let http = reqwest::blocking::Client::new();
        for b in &pending {
            let resp = http
                .get(format!("{base}/v1/blobs/{}", b.sha256))
                .bearer_auth(&token)
                .send()
                .unwrap();
            assert_eq!(resp.status(), 200, "{}: {}", backend.name(), b.kind);
            assert_eq!(
                resp.bytes().unwrap().as_ref(),
                phone.store.blob(&b.sha256).unwrap().as_slice(),
                "{}",
                backend.name()
            );
        }
    }
}

#[test]
fn a_lost_phone_is_revoked_hands_its_unsent_work_to_quarantine_and_wipes_itself() {
    for backend in backends() {
        let server = TestServer::start(&backend);
        let mut lost = server.device("d2");
        let mut colleague = server.device("d2");
        let child = lost.add_child("郑九", "v2");
        lost.sync().unwrap();
        // Offline work the server has not seen yet, then the phone is reported lost.
        lost.visit(child, "丢失前的走访", &[]);
        lost.store
            .edit_record("child", child, obj(json!({"notes": "丢失前写的"})))
            .unwrap();
        let unsent = lost.store.status().unwrap().outbox_changes;
        let device_id = lost.store.device_id().to_string();
        server.admin(&["revoke", "--device", &device_id]);

        let e = lost.sync().unwrap_err();
        assert!(matches!(e, SyncError::Revoked), "{}: {e}", backend.name());
        assert!(e.zh().contains("停用"));
        let st = lost.store.status().unwrap();
        assert_eq!(
            (st.children, st.records, st.outbox_changes),
            (0, 0, 0),
            "{}: wiped",
            backend.name()
        );
        assert!(!lost.export().contains("郑九"));

        // The server kept the unsent changes aside, unapplied.
        let listed = server.admin(&["quarantine", "--device", &device_id]);
        assert_eq!(
            listed.lines().count() as u64 - 1,
            unsent,
            "{}: {listed}",
            backend.name()
        );
        colleague.sync().unwrap();
        assert_eq!(
            colleague.store.child_file(child).unwrap().visits.len(),
            0,
            "not applied before review"
        );
        // A supervisor accepts them; then they reach the village.
        let out = server.admin(&["accept-quarantine", "--device", &device_id]);
        assert!(out.contains(&format!("accepted {unsent}")), "{out}");
        colleague.sync().unwrap();
        let file = colleague.store.child_file(child).unwrap();
        assert_eq!(file.visits.len(), 1, "{}", backend.name());
        assert_eq!(file.child.fields["notes"], "丢失前写的");
        assert_eq!(
            server
                .admin(&["quarantine", "--device", &device_id])
                .lines()
                .count(),
            1,
            "quarantine emptied"
        );
    }
}

#[test]
fn a_record_saved_on_the_phone_while_a_sync_is_in_flight_does_not_make_its_village_be_fetched_again(
) {
    // The app saves through one connection while its sync runner syncs through another:
    // a child saved after the push and before the checksums are compared is on the phone
    // and not yet on the server. That is not divergence; dropping the village to fetch
    // it again would blank the director's roster in the middle of a round.
    for backend in backends() {
        let server = TestServer::start(&backend);
        let mut d = server.device("d1");
        d.add_child("李小花", "v1");
        let mut screen =
            field_store::Store::open(d.path().join("device.db"), &Default::default()).unwrap();
        let mut saved = None;
        let report = field_store::sync::sync_once(&mut d.store, &Default::default(), &mut |p| {
            if p.phase == Some(field_store::sync::SyncPhase::Pull) && saved.is_none() {
                let mut f = serde_json::Map::new();
                for (k, v) in [
                    ("name", json!("周小雨")),
                    ("sex", json!("female")),
                    ("birth_date", json!("2017-05-01")),
                    ("village_code", json!("v1")),
                    ("categories", json!(["left_behind"])),
                    ("risk_colour", json!("green")),
                    ("household_registered", json!(true)),
                    ("status", json!("active")),
                    (
                        "added_on",
                        json!(chrono::Utc::now().date_naive().to_string()),
                    ),
                ] {
                    f.insert(k.into(), v);
                }
                saved = Some(screen.add_child(f).unwrap());
            }
        })
        .unwrap();
        assert!(saved.is_some(), "the save happened during the round");
        assert!(
            report.mismatched_scopes.is_empty(),
            "{}: a save during the round is not a divergence: {report:?}",
            backend.name()
        );
        // The next round sends it and the village then agrees with the server.
        let next = d.sync().unwrap();
        assert!(next.mismatched_scopes.is_empty(), "{next:?}");
        assert_eq!(d.store.outbox_depth().unwrap().0, 0);
    }
}

#[test]
fn an_enrollment_answer_lost_on_the_way_back_is_retried_and_costs_no_code() {
    use field_store::retry::RetryPolicy;
    use field_store::sync::{complete_enrollment, request_enrollment_with, sync_once};
    for backend in backends() {
        let server = TestServer::start(&backend);
        let code = server.enroll_code("d1");
        let dir = tempfile::tempdir().unwrap();
        let mut store =
            field_store::Store::open(dir.path().join("device.db"), &Default::default()).unwrap();
        let device_id = store.device_id();
        // Every answer is lost: the server uses the code, the phone hears nothing, and
        // gives up after its tries (the director sees a network problem).
        let proxy = FaultProxy::start(
            server.addr,
            FaultPlan {
                lose_answers: 100,
                ..Default::default()
            },
        );
        let opts = SyncOptions::default();
        let gave_up = request_enrollment_with(
            &proxy.url(),
            &code,
            device_id,
            "童护手机",
            &opts,
            &RetryPolicy::immediate(2),
        );
        assert!(
            matches!(gave_up, Err(SyncError::Network(_))),
            "{}: {gave_up:?}",
            backend.name()
        );
        assert_eq!(
            proxy.stats.connections.load(Ordering::Relaxed),
            2,
            "two tries"
        );
        // One answer lost, then the network holds: the retry inside the same call gets
        // a token for the same device.
        proxy.set_plan(FaultPlan {
            lose_answers: 1,
            ..Default::default()
        });
        let granted = request_enrollment_with(
            &proxy.url(),
            &code,
            device_id,
            "童护手机",
            &opts,
            &RetryPolicy::immediate(3),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", backend.name()));
        assert_eq!(granted.enrollment.device_id, device_id);
        assert_eq!(proxy.stats.connections.load(Ordering::Relaxed), 4);
        complete_enrollment(&mut store, &server.url, &granted).unwrap();
        sync_once(&mut store, &opts, &mut |_| {}).unwrap();
        let devices = server.admin(&["devices", "--account", "d1"]);
        assert_eq!(
            devices.lines().count(),
            2,
            "{}: one device (and the header): {devices}",
            backend.name()
        );
        assert!(devices.contains(&device_id.to_string()));
        // Now that the phone has used its token, the code is spent.
        let again = request_enrollment_with(
            &server.url,
            &code,
            device_id,
            "童护手机",
            &opts,
            &RetryPolicy::immediate(3),
        );
        assert!(
            matches!(&again, Err(SyncError::Refused { code, .. }) if code == "code_used"),
            "{again:?}"
        );
    }
}
