//! The clock anchor: a phone whose wall clock is moved after its last contact with the
//! server keeps stamping real time within the same boot, and falls back to the wall
//! clock and the learned offset after a reboot. Wall and monotonic readings are
//! injected (`ManualClock`).

use field_store::clock::ManualClock;
use field_store::Store;
use serde_json::{json, Map, Value};
use std::time::Duration;

const T0: i64 = 1_780_000_000_000; // 2026-05-28
const YEAR: i64 = 365 * 24 * 3600 * 1000;

fn fields(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

fn device(clock: &std::sync::Arc<ManualClock>) -> Store {
    let mut s = Store::open_in_memory().unwrap();
    s.set_device_clock(clock.clone());
    s
}

fn child(s: &mut Store) -> uuid::Uuid {
    let today = s.today().to_string();
    s.add_child(fields(json!({
        "name": "王小明", "sex": "male", "birth_date": "2015-01-01", "village_code": "v1",
        "categories": ["left_behind"], "risk_colour": "green", "household_registered": true,
        "status": "active", "added_on": today,
    })))
    .unwrap()
}

fn last_stamp_ms(s: &Store) -> u64 {
    s.pending_changes(usize::MAX)
        .unwrap()
        .last()
        .unwrap()
        .hlc
        .millis()
}

#[test]
fn within_a_boot_time_follows_the_anchor_whatever_the_wall_clock_does() {
    let clock = ManualClock::new(T0);
    let mut s = device(&clock);
    s.record_server_time(T0 as u64, Duration::ZERO).unwrap();
    let id = child(&mut s);

    // Offline, ten seconds later, the owner sets the clock back a year.
    clock.advance(10_000);
    clock.set_wall(T0 - YEAR);
    assert_eq!(s.now_ms(), (T0 + 10_000) as u64);
    s.edit_record("child", id, fields(json!({"notes": "一年前？"})))
        .unwrap();
    assert_eq!(
        last_stamp_ms(&s),
        (T0 + 10_000) as u64,
        "stamped in real time"
    );
    assert_eq!(
        s.today().to_string(),
        "2026-05-29",
        "today is today (China time)"
    );

    // And a year forward: still real time.
    clock.advance(5_000);
    clock.set_wall(T0 + YEAR);
    assert_eq!(s.now_ms(), (T0 + 15_000) as u64);
}

#[test]
fn the_anchor_carries_the_server_s_correction_of_a_wrong_clock() {
    // The phone is an hour slow at its last sync; the anchor holds the server's time.
    let clock = ManualClock::new(T0 - 3_600_000);
    let mut s = device(&clock);
    s.record_server_time(T0 as u64, Duration::from_millis(400))
        .unwrap();
    assert_eq!(s.device_state().unwrap().clock_offset_ms, 3_600_000 + 200);
    clock.advance(1_000);
    assert_eq!(
        s.now_ms(),
        (T0 + 200 + 1_000) as u64,
        "half the round trip added"
    );
}

#[test]
fn after_a_reboot_the_wall_clock_and_the_learned_offset_are_used() {
    let clock = ManualClock::new(T0 - 60_000);
    let mut s = device(&clock);
    s.record_server_time(T0 as u64, Duration::ZERO).unwrap();
    clock.advance(1_000);
    clock.reboot(Some("boot-2"));
    clock.set_wall(T0 - 30_000);
    // Another boot: the anchor says nothing; wall + offset (60 s) it is.
    assert_eq!(s.now_ms(), (T0 + 30_000) as u64);
    // A platform without a monotonic clock behaves the same.
    clock.reboot(None);
    assert_eq!(s.now_ms(), (T0 + 30_000) as u64);
    // The next contact anchors the new boot.
    clock.reboot(Some("boot-3"));
    s.record_server_time((T0 + 40_000) as u64, Duration::ZERO)
        .unwrap();
    clock.set_wall(0);
    assert_eq!(s.now_ms(), (T0 + 40_000) as u64);
}

#[test]
fn before_any_contact_the_wall_clock_is_all_there_is() {
    let clock = ManualClock::new(T0);
    let s = device(&clock);
    assert_eq!(s.now_ms(), T0 as u64);
    clock.set_wall(T0 - YEAR);
    assert_eq!(s.now_ms(), (T0 - YEAR) as u64);
}

#[test]
fn a_consistent_server_time_does_not_rewrite_the_device_row() {
    let clock = ManualClock::new(T0);
    let mut s = device(&clock);
    s.record_server_time(T0 as u64, Duration::ZERO).unwrap();
    let first = s.device_state().unwrap().anchor.unwrap();
    clock.advance(30_000);
    s.record_server_time((T0 + 30_200) as u64, Duration::ZERO)
        .unwrap();
    assert_eq!(
        s.device_state().unwrap().anchor.unwrap(),
        first,
        "within a second"
    );
    clock.advance(1_000);
    s.record_server_time((T0 + 35_000) as u64, Duration::ZERO)
        .unwrap();
    assert_ne!(
        s.device_state().unwrap().anchor.unwrap(),
        first,
        "off by 4 s: anchored anew"
    );
}

#[test]
fn the_later_edit_wins_although_its_phone_s_clock_went_back_a_year() {
    // Two phones synced with the server at T0. Then one phone's clock goes back a year;
    // the other phone edits a field; a second later the first edits the same field.
    let (ca, cb) = (ManualClock::new(T0), ManualClock::new(T0));
    let (mut a, mut b) = (device(&ca), device(&cb));
    a.record_server_time(T0 as u64, Duration::ZERO).unwrap();
    b.record_server_time(T0 as u64, Duration::ZERO).unwrap();
    let id = child(&mut b);
    a.apply_changes(&b.pending_changes(usize::MAX).unwrap(), None)
        .unwrap();

    ca.advance(60_000);
    cb.advance(60_000);
    ca.set_wall(T0 - YEAR);
    b.edit_record("child", id, fields(json!({"notes": "b, earlier"})))
        .unwrap();
    ca.advance(1_000);
    cb.advance(1_000);
    a.edit_record("child", id, fields(json!({"notes": "a, a second later"})))
        .unwrap();

    let from_a: Vec<_> = a.pending_changes(usize::MAX).unwrap();
    let from_b: Vec<_> = b.pending_changes(usize::MAX).unwrap();
    a.apply_changes(&from_b, None).unwrap();
    b.apply_changes(&from_a, None).unwrap();
    for s in [&a, &b] {
        let file = s.child_file(id).unwrap();
        assert_eq!(file.child.fields["notes"], "a, a second later");
    }
    let history = b.child_file(id).unwrap().history;
    assert!(
        history.iter().any(|h| h.value == "b, earlier"),
        "the earlier edit is kept in history: {history:?}"
    );
}
