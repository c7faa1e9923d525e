//! The console's read model of the children, kept by the console itself and off the
//! sync path: ingest writes nothing for it. Before the console reads, [`refresh`]
//! folds in every feed entry after its cursor: it finds the children those entries
//! touch, re-reads their whole file from the field winners and replaces what the read
//! model holds of them, moving the cursor in the same transaction (compare-and-set, so
//! two refreshers — two server processes — never fold the same range twice or move the
//! cursor back).

use crate::error::StoreError;
use crate::store::{
    ChildFacts, ConsoleStore, ProjectionUpdate, RecordRow, ReferralFact, VisitFact,
};
use domain::ReferralKind;
use serde_json::Value;
use std::collections::BTreeMap;
use uuid::Uuid;

/// Feed entries folded in per step.
const STEP_ENTRIES: i64 = 50_000;
/// Children re-read per query.
const CHILDREN_PER_READ: usize = 500;

/// Brings the read model up to the feed's end. Cheap when nothing is new (one query).
pub async fn refresh(db: &dyn ConsoleStore) -> Result<(), StoreError> {
    loop {
        let from = db.console_cursor().await?;
        let touched = db.console_touched(from, STEP_ENTRIES).await?;
        if touched.last_seq == from {
            return Ok(());
        }
        let mut update = ProjectionUpdate::default();
        for ids in touched.child_ids.chunks(CHILDREN_PER_READ) {
            let records = db.child_records(ids).await?;
            let part = summarise(ids, &records);
            update.child_ids.extend(part.child_ids);
            update.children.extend(part.children);
            update.visits.extend(part.visits);
            update.referrals.extend(part.referrals);
        }
        let applied = db.console_apply(from, touched.last_seq, update).await?;
        if applied && !touched.more {
            return Ok(());
        }
        // Not applied: another refresher moved the cursor; start again from there.
    }
}

fn text<'a>(r: &'a RecordRow, field: &str) -> Option<&'a str> {
    r.fields.get(field).and_then(Value::as_str)
}

fn truthy(r: &RecordRow, field: &str) -> bool {
    match r.fields.get(field) {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => true,
    }
}

/// The date part (`YYYY-MM-DD`) of a date or an RFC 3339 time as the device wrote it.
fn day(s: &str) -> Option<String> {
    let d = s.get(..10)?;
    chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()?;
    Some(d.to_string())
}

/// The read model of `child_ids` from their records (child rows and the rows that
/// follow them). Pure. A child without a (live) child row is left out: removed.
pub fn summarise(child_ids: &[Uuid], records: &[RecordRow]) -> ProjectionUpdate {
    let mut children: BTreeMap<Uuid, ChildFacts> = BTreeMap::new();
    for r in records.iter().filter(|r| r.table == "child") {
        if domain::schema::is_deleted(r.fields.get(domain::schema::TOMBSTONE_FIELD)) {
            continue;
        }
        let categories = r
            .fields
            .get("categories")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        children.insert(
            r.row_id,
            ChildFacts {
                child_id: r.row_id,
                village: r.scope.clone(),
                name: text(r, "name").unwrap_or("").to_string(),
                risk_colour: text(r, "risk_colour").unwrap_or("green").to_string(),
                categories,
                active: text(r, "status") != Some("exited"),
                added_on: text(r, "added_on").and_then(day).unwrap_or_default(),
                last_visit_on: None,
                next_due_on: None,
                agreement_until: None,
                due_on: None,
                left_behind: false,
            },
        );
    }
    let mut visits = Vec::new();
    let mut referrals = Vec::new();
    for r in records {
        let Some(child) = r.child_id.and_then(|c| children.get_mut(&c)) else {
            continue;
        };
        match r.table.as_str() {
            "visit" if !truthy(r, domain::schema::VOID_FIELD) => {
                let Some(on) = text(r, "visited_at").and_then(day) else {
                    continue;
                };
                if child
                    .last_visit_on
                    .as_deref()
                    .is_none_or(|l| on.as_str() >= l)
                {
                    child.next_due_on = text(r, "next_due_on").and_then(day);
                    child.last_visit_on = Some(on.clone());
                }
                visits.push(VisitFact {
                    visit_id: r.row_id,
                    child_id: child.child_id,
                    village: child.village.clone(),
                    visited_on: on,
                });
            }
            "agreement_version" if !truthy(r, domain::schema::VOID_FIELD) => {
                if let Some(until) = text(r, "valid_until").and_then(day) {
                    if child
                        .agreement_until
                        .as_deref()
                        .is_none_or(|u| until.as_str() > u)
                    {
                        child.agreement_until = Some(until);
                    }
                }
            }
            "referral"
                if !domain::schema::is_deleted(r.fields.get(domain::schema::TOMBSTONE_FIELD)) =>
            {
                let Some(due) = text(r, "feedback_due_on").and_then(day) else {
                    continue;
                };
                referrals.push(ReferralFact {
                    referral_id: r.row_id,
                    child_id: child.child_id,
                    village: child.village.clone(),
                    report: text(r, "kind") == Some(ReferralKind::HarmOrAbuse.code()),
                    feedback_due_on: due,
                    open: r.fields.get("closed_on").is_none_or(Value::is_null),
                });
            }
            _ => {}
        }
    }
    let policy = domain::VisitPolicy::default();
    for c in children.values_mut() {
        c.due_on = super::figures::due_on(c, &policy).map(|d| d.to_string());
        c.left_behind = super::figures::is_left_behind(&c.categories);
    }
    ProjectionUpdate {
        child_ids: child_ids.to_vec(),
        children: children.into_values().collect(),
        visits,
        referrals,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(table: &str, id: u128, child: Option<u128>, fields: Value) -> RecordRow {
        RecordRow {
            table: table.into(),
            row_id: Uuid::from_u128(id),
            scope: "V1".into(),
            child_id: child.map(Uuid::from_u128),
            fields: fields.as_object().unwrap().clone(),
        }
    }

    #[test]
    fn a_child_takes_its_latest_live_visit_agreement_and_open_referrals() {
        let records = vec![
            row(
                "child",
                1,
                None,
                json!({"name": "王小明", "risk_colour": "red", "categories": ["left_behind"], "status": "active", "added_on": "2026-01-02"}),
            ),
            row(
                "visit",
                10,
                Some(1),
                json!({"visited_at": "2026-03-01T10:00:00+08:00", "next_due_on": "2026-03-15"}),
            ),
            row(
                "visit",
                11,
                Some(1),
                json!({"visited_at": "2026-04-01T10:00:00+08:00"}),
            ),
            row(
                "visit",
                12,
                Some(1),
                json!({"visited_at": "2026-05-01T10:00:00+08:00", "voided": {"reason": "wrong child"}}),
            ),
            row(
                "agreement_version",
                20,
                Some(1),
                json!({"valid_until": "2026-12-31"}),
            ),
            row(
                "referral",
                30,
                Some(1),
                json!({"kind": "harm_or_abuse", "feedback_due_on": "2026-04-10"}),
            ),
            row(
                "referral",
                31,
                Some(1),
                json!({"kind": "out_of_school", "feedback_due_on": "2026-04-10", "closed_on": "2026-04-09"}),
            ),
            row(
                "child",
                2,
                None,
                json!({"name": "x", "risk_colour": "green", "categories": [], "status": "active", "added_on": "2026-01-02", "deleted": true}),
            ),
        ];
        let u = summarise(&[Uuid::from_u128(1), Uuid::from_u128(2)], &records);
        assert_eq!(
            u.child_ids.len(),
            2,
            "both are replaced; the deleted one removed"
        );
        assert_eq!(u.children.len(), 1);
        let c = &u.children[0];
        assert_eq!(c.last_visit_on.as_deref(), Some("2026-04-01"));
        assert_eq!(
            c.next_due_on, None,
            "the due date of the latest visit, not an older one"
        );
        assert_eq!(c.agreement_until.as_deref(), Some("2026-12-31"));
        assert_eq!(
            c.due_on.as_deref(),
            Some("2026-05-01"),
            "red: monthly after the last live visit"
        );
        assert!(c.left_behind);
        assert_eq!(u.visits.len(), 2, "the voided visit is not counted");
        assert_eq!(u.referrals.len(), 2);
        assert!(u.referrals.iter().any(|r| r.report && r.open));
        assert!(u.referrals.iter().any(|r| !r.report && !r.open));
    }
}
