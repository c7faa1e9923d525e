//! Replicas that edit the same rows and exchange changes through an unreliable network
//! — reordered, duplicated, partly lost and then retried — end byte-identical.

use proptest::prelude::*;
use serde_json::json;
use sync_core::{Change, HlcClock, Replica, Scope};
use uuid::Uuid;

/// One step of a scenario.
#[derive(Clone, Debug)]
enum Step {
    /// Replica `r` edits `field` of `row` at wall time `wall` (clocks may jump).
    Edit {
        r: usize,
        row: u8,
        field: u8,
        value: u8,
        wall: u64,
    },
    /// Deliver the change at `idx` (mod the log length) to replica `to`.
    Deliver { to: usize, idx: usize },
    /// Deliver the change and then the same change again.
    Duplicate { to: usize, idx: usize },
}

fn step(n: usize) -> impl Strategy<Value = Step> {
    prop_oneof![
        (0..n, 0u8..4, 0u8..3, any::<u8>(), 0u64..5_000).prop_map(
            |(r, row, field, value, wall)| Step::Edit {
                r,
                row,
                field,
                value,
                wall
            }
        ),
        (0..n, any::<usize>()).prop_map(|(to, idx)| Step::Deliver { to, idx }),
        (0..n, any::<usize>()).prop_map(|(to, idx)| Step::Duplicate { to, idx }),
    ]
}

fn scenario() -> impl Strategy<Value = (usize, Vec<Step>, u64)> {
    (3usize..=5).prop_flat_map(|n| {
        (
            Just(n),
            proptest::collection::vec(step(n), 1..120),
            any::<u64>(),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn replicas_converge_under_reorder_duplication_and_loss((n, steps, seed) in scenario()) {
        let devices: Vec<Uuid> = (0..n).map(|i| Uuid::from_u128(i as u128 + 1)).collect();
        let mut clocks: Vec<HlcClock> = vec![HlcClock::default(); n];
        let mut seqs = vec![0u64; n];
        let mut replicas: Vec<Replica> = vec![Replica::default(); n];
        let mut log: Vec<Change> = Vec::new();

        for s in &steps {
            match *s {
                Step::Edit { r, row, field, value, wall } => {
                    seqs[r] += 1;
                    let c = Change {
                        op_id: Uuid::now_v7(),
                        device_id: devices[r],
                        device_seq: seqs[r],
                        table: "child".into(),
                        row_id: Uuid::from_u128(row as u128),
                        field: format!("f{field}"),
                        value: json!(value),
                        hlc: clocks[r].now(1_700_000_000_000 + wall),
                        scope: Scope::new("370602001"),
                    };
                    replicas[r].apply(&c);
                    log.push(c);
                }
                Step::Deliver { to, idx } if !log.is_empty() => {
                    let c = &log[idx % log.len()];
                    let _ = clocks[to].observe(c.hlc, 1_700_000_000_000 + 5_000);
                    replicas[to].apply(c);
                }
                Step::Duplicate { to, idx } if !log.is_empty() => {
                    let c = &log[idx % log.len()];
                    replicas[to].apply(c);
                    replicas[to].apply(c);
                }
                _ => {}
            }
        }

        // Whatever was lost is retried: every replica finally receives the whole log,
        // each in its own shuffled order.
        for (i, r) in replicas.iter_mut().enumerate() {
            let mut order: Vec<usize> = (0..log.len()).collect();
            let mut x = seed ^ (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            for k in (1..order.len()).rev() {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                order.swap(k, (x % (k as u64 + 1)) as usize);
            }
            for k in order { r.apply(&log[k]); }
        }
        let first = replicas[0].canonical();
        for r in &replicas[1..] {
            prop_assert_eq!(&r.canonical(), &first);
        }
        // And the winner of every field is the largest (hlc, device) written to it.
        for (key, state) in &replicas[0].fields {
            let best = log.iter().filter(|c| c.key() == *key).map(|c| c.stamp()).max().unwrap();
            prop_assert_eq!(state.stamp, best);
        }
    }
}
