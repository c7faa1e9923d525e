//! When a child must next be visited: the visit-due policy. No national number exists,
//! so the policy is data ([`VisitPolicy`], serde) that a city sets; its `Default` is the
//! suggestion of DOMAIN.md: monthly for orphans, de-facto unsupported children, key
//! children in difficulty and every red or yellow child; quarterly for everyone else
//! (blue or green left-behind children, other children in difficulty); the first visit
//! within 5 working days of a child being added.
//!
//! "Overdue" here is computed from the visits this replica holds. Telling "not visited"
//! from "visited but not yet synced" is for the caller that knows what is still in a
//! device's outbox.

use crate::child::Child;
use crate::codes::{Category, ChildStatus, RiskColour};
use chrono::{Datelike, Days, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

/// The visit-due policy, as data. Missing fields in a stored policy take the defaults.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct VisitPolicy {
    /// Days between visits for children who need them monthly.
    pub monthly_days: u32,
    /// Categories visited monthly whatever their risk colour.
    pub monthly_categories: Vec<Category>,
    /// Risk colours visited monthly whatever the category.
    pub monthly_risks: Vec<RiskColour>,
    /// Days between visits for every other child (quarterly).
    pub regular_days: u32,
    /// Working days after being added within which a child gets the first visit.
    pub first_visit_working_days: u32,
    /// Public holidays falling on weekdays (not working days).
    pub holidays: Vec<NaiveDate>,
    /// Weekend days that are working days (调休 make-up days).
    pub extra_working_days: Vec<NaiveDate>,
    /// How many days ahead a due visit shows as "due soon".
    pub soon_days: i64,
}

impl Default for VisitPolicy {
    fn default() -> VisitPolicy {
        VisitPolicy {
            monthly_days: 30,
            monthly_categories: vec![
                Category::InstitutionOrphan,
                Category::CommunityOrphan,
                Category::DeFactoUnsupported,
                Category::KeyDifficulty,
            ],
            monthly_risks: vec![RiskColour::Red, RiskColour::Yellow],
            regular_days: 90,
            first_visit_working_days: 5,
            holidays: Vec::new(),
            extra_working_days: Vec::new(),
            soon_days: 7,
        }
    }
}

/// What the policy needs to know about a child.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DueFacts {
    /// The child's categories.
    pub categories: Vec<Category>,
    /// The child's current risk colour.
    pub risk_colour: RiskColour,
    /// On the roster or exited (exited children have no due date).
    pub status: ChildStatus,
    /// The day the child was added to the roster.
    pub added_on: NaiveDate,
    /// The day of the last (not voided) visit, if any.
    pub last_visit_on: Option<NaiveDate>,
    /// The next due date the director set on the last visit, if any.
    pub next_due_on: Option<NaiveDate>,
}

impl DueFacts {
    /// The facts of `child`, with the day of its last visit and the next due date set
    /// on that visit.
    pub fn for_child(
        child: &Child,
        last_visit_on: Option<NaiveDate>,
        next_due_on: Option<NaiveDate>,
    ) -> DueFacts {
        DueFacts {
            categories: child.categories.clone(),
            risk_colour: child.risk_colour,
            status: child.status,
            added_on: child.added_on,
            last_visit_on,
            next_due_on,
        }
    }
}

/// Where a child stands against its due date, in whole days.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DueStatus {
    /// The due date passed `days` days ago (at least 1).
    Overdue {
        /// Whole days.
        days: i64,
    },
    /// Due in `days` days (0 = today), within the "soon" window.
    DueSoon {
        /// Whole days.
        days: i64,
    },
    /// Due in `days` days, beyond the "soon" window.
    NotDue {
        /// Whole days.
        days: i64,
    },
}

/// The longest interval or first-visit allowance the policy applies, whatever the data
/// says: a typo in a policy file must not push a child's visit years away.
const MAX_POLICY_DAYS: u32 = 366;

impl VisitPolicy {
    /// Days between visits for a child with these categories and risk colour: monthly
    /// when a category or the colour says so, otherwise regular (quarterly).
    pub fn interval_days(&self, categories: &[Category], risk: RiskColour) -> u32 {
        let monthly = self.monthly_risks.contains(&risk)
            || categories
                .iter()
                .any(|c| self.monthly_categories.contains(c));
        let days = if monthly {
            self.monthly_days
        } else {
            self.regular_days
        };
        days.clamp(1, MAX_POLICY_DAYS)
    }

    /// Whether `day` is a working day: Monday to Friday unless a holiday, or a weekend
    /// day listed as a make-up working day.
    pub fn is_working_day(&self, day: NaiveDate) -> bool {
        if self.extra_working_days.contains(&day) {
            return true;
        }
        let weekend = matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
        !weekend && !self.holidays.contains(&day)
    }

    /// The `n`th working day after `from` (`from` itself does not count).
    pub fn add_working_days(&self, from: NaiveDate, n: u32) -> NaiveDate {
        let mut day = from;
        let mut left = n.min(MAX_POLICY_DAYS);
        while left > 0 {
            match day.succ_opt() {
                Some(next) => day = next,
                None => return NaiveDate::MAX,
            }
            if self.is_working_day(day) {
                left -= 1;
            }
        }
        day
    }

    /// The next visit a visit on `day` sets when the director sets none: the child's
    /// interval after it (monthly, quarterly), and for a red child no later than the
    /// rule allows ([`crate::visit::red_next_visit_latest`]). The device fills it, for
    /// every colour alike; the director may change it.
    pub fn next_visit_after(
        &self,
        day: NaiveDate,
        categories: &[Category],
        risk: RiskColour,
    ) -> NaiveDate {
        let by_interval = day
            .checked_add_days(Days::new(u64::from(self.interval_days(categories, risk))))
            .unwrap_or(NaiveDate::MAX);
        if risk == RiskColour::Red {
            by_interval.min(crate::visit::red_next_visit_latest(day))
        } else {
            by_interval
        }
    }

    /// The date the child's next visit is due, or `None` for a child no longer on the
    /// roster. Before the first visit: the first-visit deadline. After it: the last
    /// visit plus the child's interval, or the date the director set on that visit if
    /// it is earlier.
    pub fn next_due_on(&self, facts: &DueFacts) -> Option<NaiveDate> {
        if facts.status == ChildStatus::Exited {
            return None;
        }
        let policy_date = match facts.last_visit_on {
            None => self.add_working_days(facts.added_on, self.first_visit_working_days),
            Some(last) => {
                let days = self.interval_days(&facts.categories, facts.risk_colour);
                last.checked_add_days(Days::new(u64::from(days)))
                    .unwrap_or(NaiveDate::MAX)
            }
        };
        Some(match facts.next_due_on {
            Some(set) => set.min(policy_date),
            None => policy_date,
        })
    }
}

/// Where a child stands on `today` against `next_due_on`, with `soon_days` as the
/// "due soon" window (e.g. [`VisitPolicy::soon_days`]).
pub fn due_status(next_due_on: NaiveDate, today: NaiveDate, soon_days: i64) -> DueStatus {
    let days = (next_due_on - today).num_days();
    if days < 0 {
        DueStatus::Overdue { days: -days }
    } else if days <= soon_days {
        DueStatus::DueSoon { days }
    } else {
        DueStatus::NotDue { days }
    }
}

/// Sort key for work lists: red 0, yellow 1, blue 2, green 3 (most urgent first).
pub fn urgency_rank(risk: RiskColour) -> u8 {
    match risk {
        RiskColour::Red => 0,
        RiskColour::Yellow => 1,
        RiskColour::Blue => 2,
        RiskColour::Green => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::child::tests::d;

    fn facts(categories: &[Category], risk: RiskColour, last: Option<&str>) -> DueFacts {
        DueFacts {
            categories: categories.to_vec(),
            risk_colour: risk,
            status: ChildStatus::Active,
            added_on: d("2025-01-06"),
            last_visit_on: last.map(d),
            next_due_on: None,
        }
    }

    #[test]
    fn an_orphan_is_visited_monthly() {
        let p = VisitPolicy::default();
        let f = facts(
            &[Category::CommunityOrphan],
            RiskColour::Green,
            Some("2026-04-10"),
        );
        assert_eq!(p.next_due_on(&f), Some(d("2026-05-10")));
    }

    #[test]
    fn a_green_left_behind_child_is_visited_quarterly() {
        let p = VisitPolicy::default();
        let f = facts(
            &[Category::LeftBehind],
            RiskColour::Green,
            Some("2026-04-10"),
        );
        assert_eq!(p.next_due_on(&f), Some(d("2026-07-09")));
        let f = facts(
            &[Category::LeftBehind],
            RiskColour::Blue,
            Some("2026-04-10"),
        );
        assert_eq!(p.next_due_on(&f), Some(d("2026-07-09")));
    }

    #[test]
    fn red_or_yellow_makes_any_child_monthly() {
        let p = VisitPolicy::default();
        for risk in [RiskColour::Red, RiskColour::Yellow] {
            let f = facts(&[Category::LeftBehind], risk, Some("2026-04-10"));
            assert_eq!(p.next_due_on(&f), Some(d("2026-05-10")), "{risk}");
        }
    }

    #[test]
    fn the_earlier_of_the_directors_date_and_the_policy_date_wins() {
        let p = VisitPolicy::default();
        let mut f = facts(
            &[Category::LeftBehind],
            RiskColour::Green,
            Some("2026-04-10"),
        );
        f.next_due_on = Some(d("2026-04-24"));
        assert_eq!(p.next_due_on(&f), Some(d("2026-04-24")));
        f.next_due_on = Some(d("2026-12-31"));
        assert_eq!(p.next_due_on(&f), Some(d("2026-07-09")));
    }

    #[test]
    fn the_first_visit_is_due_within_five_working_days_skipping_the_weekend() {
        let p = VisitPolicy::default();
        let mut f = facts(&[Category::CommunityOrphan], RiskColour::Green, None);
        // Added Thursday 14 May 2026: Fri, Mon, Tue, Wed, Thu.
        f.added_on = d("2026-05-14");
        assert_eq!(p.next_due_on(&f), Some(d("2026-05-21")));
        // Added on a Saturday: the whole next week.
        f.added_on = d("2026-05-16");
        assert_eq!(p.next_due_on(&f), Some(d("2026-05-22")));
    }

    #[test]
    fn holidays_and_make_up_days_from_the_policy_data_count() {
        let p = VisitPolicy {
            // 端午节 2026 falls on Friday 19 June.
            holidays: vec![d("2026-06-19")],
            ..VisitPolicy::default()
        };
        let mut f = facts(&[Category::LeftBehind], RiskColour::Green, None);
        f.added_on = d("2026-06-15");
        assert_eq!(p.next_due_on(&f), Some(d("2026-06-23")));
        let p = VisitPolicy {
            extra_working_days: vec![d("2026-06-20")],
            ..p
        };
        assert_eq!(p.next_due_on(&f), Some(d("2026-06-22")));
    }

    #[test]
    fn an_exited_child_has_no_due_date() {
        let mut f = facts(&[Category::LeftBehind], RiskColour::Red, Some("2026-04-10"));
        f.status = ChildStatus::Exited;
        assert_eq!(VisitPolicy::default().next_due_on(&f), None);
    }

    #[test]
    fn the_policy_is_data_and_partial_data_keeps_the_defaults() {
        let p: VisitPolicy =
            serde_json::from_str(r#"{"monthly_days": 28, "holidays": ["2026-10-01"]}"#).unwrap();
        assert_eq!(p.monthly_days, 28);
        assert_eq!(p.regular_days, 90);
        assert_eq!(p.holidays, vec![d("2026-10-01")]);
        let json = serde_json::to_string(&VisitPolicy::default()).unwrap();
        assert!(json.contains(r#""monthly_categories":["institution_orphan","community_orphan","de_facto_unsupported","key_difficulty"]"#));
        assert_eq!(
            serde_json::from_str::<VisitPolicy>(&json).unwrap(),
            VisitPolicy::default()
        );
    }

    #[test]
    fn an_absurd_interval_in_the_data_is_capped_at_a_year() {
        let p = VisitPolicy {
            regular_days: 100_000,
            first_visit_working_days: u32::MAX,
            ..VisitPolicy::default()
        };
        assert_eq!(
            p.interval_days(&[Category::LeftBehind], RiskColour::Green),
            366
        );
        assert!(p.add_working_days(d("2026-01-01"), u32::MAX) < d("2028-01-01"));
    }

    #[test]
    fn due_status_tells_overdue_from_due_soon_and_not_due() {
        let today = d("2026-05-20");
        assert_eq!(
            due_status(d("2026-05-17"), today, 7),
            DueStatus::Overdue { days: 3 }
        );
        assert_eq!(
            due_status(d("2026-05-20"), today, 7),
            DueStatus::DueSoon { days: 0 }
        );
        assert_eq!(
            due_status(d("2026-05-27"), today, 7),
            DueStatus::DueSoon { days: 7 }
        );
        assert_eq!(
            due_status(d("2026-05-28"), today, 7),
            DueStatus::NotDue { days: 8 }
        );
    }

    #[test]
    fn red_children_come_first() {
        let mut risks = RiskColour::ALL.to_vec();
        risks.reverse();
        risks.sort_by_key(|r| urgency_rank(*r));
        assert_eq!(
            risks,
            vec![
                RiskColour::Red,
                RiskColour::Yellow,
                RiskColour::Blue,
                RiskColour::Green
            ]
        );
    }
}
