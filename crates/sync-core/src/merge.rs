//! The merge rule: per field, the value with the larger [`Stamp`] `(hlc, device_id)`
//! wins. Applying the same change twice, or changes in any order, gives the same
//! result — tested by the property tests below and in `tests/convergence.rs`.
//!
//! The losing value is not thrown away by the caller: [`MergeOutcome`] names it so the
//! device can keep it in history ("changed by someone else").

use crate::change::{canonical_json, Change, FieldKey, Stamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The current winner of one field.
#[derive(Clone, PartialEq, Serialize, Deserialize, Debug)]
pub struct FieldState {
    pub stamp: Stamp,
    pub value: serde_json::Value,
}

/// What happened when a change met the field's current state.
#[derive(Clone, PartialEq, Debug)]
pub enum MergeOutcome {
    /// The field was empty; the change is now its value.
    Inserted,
    /// The change won; `previous` lost and belongs in history.
    Replaced { previous: FieldState },
    /// The change lost against the current value and belongs in history.
    Lost,
    /// The same version was already there (a duplicate delivery): nothing changes.
    Duplicate,
}

impl MergeOutcome {
    /// Whether the field's stored value changed.
    pub fn changed(&self) -> bool {
        matches!(self, MergeOutcome::Inserted | MergeOutcome::Replaced { .. })
    }
}

/// Orders two versions of a field: the larger stamp wins; if two different values carry
/// the same stamp (which a correct device never produces) the larger canonical value
/// wins so that replicas still converge.
pub fn wins(
    candidate: (&Stamp, &serde_json::Value),
    current: (&Stamp, &serde_json::Value),
) -> std::cmp::Ordering {
    candidate
        .0
        .cmp(current.0)
        .then_with(|| canonical_json(candidate.1).cmp(&canonical_json(current.1)))
}

/// Applies the merge rule to one field. Returns the outcome; `current` is updated in
/// place when the incoming version wins.
pub fn merge_field(
    current: &mut Option<FieldState>,
    stamp: Stamp,
    value: &serde_json::Value,
) -> MergeOutcome {
    match current {
        None => {
            *current = Some(FieldState {
                stamp,
                value: value.clone(),
            });
            MergeOutcome::Inserted
        }
        Some(cur) => match wins((&stamp, value), (&cur.stamp, &cur.value)) {
            std::cmp::Ordering::Greater => {
                let previous = std::mem::replace(
                    cur,
                    FieldState {
                        stamp,
                        value: value.clone(),
                    },
                );
                MergeOutcome::Replaced { previous }
            }
            std::cmp::Ordering::Equal => MergeOutcome::Duplicate,
            std::cmp::Ordering::Less => MergeOutcome::Lost,
        },
    }
}

/// An in-memory replica: the reference implementation of the model. The device store
/// and the server implement the same rule over SQL; tests compare them against this.
#[derive(Clone, Default, Debug, PartialEq)]
pub struct Replica {
    pub fields: BTreeMap<FieldKey, FieldState>,
}

impl Replica {
    /// Merges one change; returns what happened.
    pub fn apply(&mut self, change: &Change) -> MergeOutcome {
        let key = change.key();
        let mut slot = self.fields.remove(&key);
        let outcome = merge_field(&mut slot, change.stamp(), &change.value);
        if let Some(s) = slot {
            self.fields.insert(key, s);
        }
        outcome
    }

    /// Canonical text of the whole state, for byte-for-byte comparison.
    pub fn canonical(&self) -> String {
        let mut out = String::new();
        for (k, v) in &self.fields {
            out.push_str(&format!(
                "{}|{}|{}|{}|{}|{}\n",
                k.table,
                k.row_id,
                k.field,
                v.stamp.hlc,
                v.stamp.device_id,
                canonical_json(&v.value)
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hlc::Hlc;
    use crate::Scope;
    use proptest::prelude::*;
    use serde_json::json;
    use uuid::Uuid;

    fn change(dev: u128, hlc: u64, row: u128, field: &str, value: serde_json::Value) -> Change {
        Change {
            op_id: Uuid::from_u128(hlc as u128 * 1000 + dev),
            device_id: Uuid::from_u128(dev),
            device_seq: hlc,
            table: "child".into(),
            row_id: Uuid::from_u128(row),
            field: field.into(),
            value,
            hlc: Hlc::new(hlc, 0),
            scope: Scope::new("v1"),
        }
    }

    #[test]
    fn later_write_wins_and_the_loser_is_reported() {
        let mut r = Replica::default();
        assert_eq!(
            r.apply(&change(1, 10, 1, "name", json!("李小花"))),
            MergeOutcome::Inserted
        );
        let out = r.apply(&change(2, 20, 1, "name", json!("李晓花")));
        assert!(
            matches!(out, MergeOutcome::Replaced { ref previous } if previous.value == json!("李小花"))
        );
        assert_eq!(
            r.apply(&change(3, 15, 1, "name", json!("x"))),
            MergeOutcome::Lost
        );
        assert_eq!(
            r.apply(&change(2, 20, 1, "name", json!("李晓花"))),
            MergeOutcome::Duplicate
        );
    }

    #[test]
    fn equal_clocks_are_broken_by_device_id() {
        let mut a = Replica::default();
        let mut b = Replica::default();
        let c1 = change(1, 10, 1, "name", json!("a"));
        let c2 = change(2, 10, 1, "name", json!("b"));
        a.apply(&c1);
        a.apply(&c2);
        b.apply(&c2);
        b.apply(&c1);
        assert_eq!(a, b);
        assert_eq!(a.fields.values().next().unwrap().value, json!("b"));
    }

    fn arb_change() -> impl Strategy<Value = Change> {
        (
            1u128..4,
            1u64..30,
            1u128..4,
            prop_oneof![Just("a"), Just("b")],
            0i64..5,
        )
            .prop_map(|(d, h, r, f, v)| change(d, h, r, f, json!(v)))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        #[test]
        fn merge_is_commutative(a in arb_change(), b in arb_change()) {
            let mut x = Replica::default(); x.apply(&a); x.apply(&b);
            let mut y = Replica::default(); y.apply(&b); y.apply(&a);
            prop_assert_eq!(x.canonical(), y.canonical());
        }

        #[test]
        fn merge_is_associative_over_batches(
            a in proptest::collection::vec(arb_change(), 0..8),
            b in proptest::collection::vec(arb_change(), 0..8),
            c in proptest::collection::vec(arb_change(), 0..8),
        ) {
            // (a ∪ b) ∪ c == a ∪ (b ∪ c), merging replica states field by field.
            let build = |xs: &[&Vec<Change>]| { let mut r = Replica::default(); for v in xs { for ch in v.iter() { r.apply(ch); } } r };
            let ab = build(&[&a, &b]);
            let left = { let mut r = ab.clone(); for ch in &c { r.apply(ch); } r };
            let bc = build(&[&b, &c]);
            let right = { let mut r = build(&[&a]); for (k, v) in bc.fields { let mut ch = change(0, 0, 0, "", v.value.clone()); ch.table = k.table; ch.row_id = k.row_id; ch.field = k.field; ch.hlc = v.stamp.hlc; ch.device_id = v.stamp.device_id; r.apply(&ch); } r };
            prop_assert_eq!(left.canonical(), right.canonical());
        }

        #[test]
        fn merge_is_idempotent(xs in proptest::collection::vec(arb_change(), 0..20)) {
            let mut once = Replica::default();
            for c in &xs { once.apply(c); }
            let mut twice = once.clone();
            for c in &xs { prop_assert!(!twice.apply(c).changed()); }
            prop_assert_eq!(once.canonical(), twice.canonical());
        }
    }
}
