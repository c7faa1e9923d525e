//! 转介: a problem handed to the body that can solve it (civil affairs, the school, the
//! police household office, the police), tracked from the day it was referred to its
//! feedback due date and closed with an outcome.

use crate::codes::ReferralKind;
use crate::error::DomainError;
use crate::record::{self, not_before, not_in_future, required_text, Fields};
use crate::schema::REFERRAL;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One referral (table `referral`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Referral {
    /// The child the problem concerns.
    pub child_id: Uuid,
    /// The visit that found the problem, if any.
    pub visit_id: Option<Uuid>,
    /// What kind of problem, which decides the receiving body.
    pub kind: ReferralKind,
    /// The body the problem went to (e.g. 区民政局, 某某小学, 派出所户籍室).
    pub receiving_body: String,
    /// The day the problem was handed over.
    pub referred_on: NaiveDate,
    /// When the receiving body should have answered.
    pub feedback_due_on: NaiveDate,
    /// What the receiving body did.
    pub outcome: Option<String>,
    /// The day the referral was closed (needs an outcome).
    pub closed_on: Option<NaiveDate>,
    #[serde(default)]
    /// Soft delete; the record and its history stay.
    pub deleted: bool,
}

impl Referral {
    /// What a new referral holds where the form left a field out: referred today.
    pub fn defaults(today: NaiveDate) -> Fields {
        let mut f = Fields::new();
        f.insert(
            "referred_on".into(),
            serde_json::Value::from(today.to_string()),
        );
        f
    }

    /// What closing a referral holds where the form left a field out: closed today.
    pub fn closing_defaults(today: NaiveDate) -> Fields {
        let mut f = Fields::new();
        f.insert(
            "closed_on".into(),
            serde_json::Value::from(today.to_string()),
        );
        f
    }

    /// The referral's fields as the schema names them.
    pub fn to_fields(&self) -> Fields {
        record::to_fields(&REFERRAL, self)
    }

    /// Reads a referral from a row's fields (schema checks only).
    pub fn from_fields(fields: &Fields) -> Result<Referral, DomainError> {
        record::from_fields(&REFERRAL, fields, |_| Ok(()))
    }

    /// Whether feedback is late on `today`: still open after its feedback due date.
    pub fn feedback_overdue(&self, today: NaiveDate) -> bool {
        self.closed_on.is_none() && today > self.feedback_due_on
    }

    /// Checks the referral before it is saved: schema types, a receiving body, dates in
    /// order (feedback due and closing not before referral, nothing done in the future)
    /// and an outcome for a closed referral.
    pub fn validate(&self, today: NaiveDate) -> Result<(), DomainError> {
        record::check_schema(&REFERRAL, &self.to_fields())?;
        self.check_rules(today)
    }

    /// The rules beyond the schema's field types: what [`Self::validate`] checks after
    /// the schema. For a record read with `from_fields`, whose fields were just
    /// type-checked, this is all that is left to check.
    pub fn check_rules(&self, today: NaiveDate) -> Result<(), DomainError> {
        required_text("receiving_body", &self.receiving_body)?;
        not_in_future("referred_on", self.referred_on, today)?;
        not_before(
            "feedback_due_on",
            self.feedback_due_on,
            "referred_on",
            self.referred_on,
        )?;
        if let Some(closed) = self.closed_on {
            not_before("closed_on", closed, "referred_on", self.referred_on)?;
            not_in_future("closed_on", closed, today)?;
            if self.outcome.as_deref().is_none_or(|o| o.trim().is_empty()) {
                return Err(DomainError::new(
                    "outcome_required",
                    "办结转介时请写明处理结果",
                    "a closed referral needs its outcome",
                )
                .on_field("outcome"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::child::tests::{d, today};

    fn out_of_school() -> Referral {
        Referral {
            child_id: Uuid::now_v7(),
            visit_id: None,
            kind: ReferralKind::OutOfSchool,
            receiving_body: "芝罘区教育局".into(),
            referred_on: d("2026-05-10"),
            feedback_due_on: d("2026-05-25"),
            outcome: None,
            closed_on: None,
            deleted: false,
        }
    }

    #[test]
    fn an_open_referral_is_valid_and_round_trips() {
        let r = out_of_school();
        assert_eq!(r.validate(today()), Ok(()));
        assert_eq!(Referral::from_fields(&r.to_fields()), Ok(r));
    }

    #[test]
    fn feedback_cannot_be_due_before_the_referral() {
        let mut r = out_of_school();
        r.feedback_due_on = d("2026-05-09");
        let e = r.validate(today()).unwrap_err();
        assert_eq!(
            (e.code, e.field.as_deref()),
            ("date_order", Some("feedback_due_on"))
        );
        assert!(e.zh.contains("反馈期限"));
    }

    #[test]
    fn closing_needs_an_outcome() {
        let mut r = out_of_school();
        r.closed_on = Some(d("2026-05-19"));
        assert_eq!(r.validate(today()).unwrap_err().code, "outcome_required");
        r.outcome = Some("已复学".into());
        assert_eq!(r.validate(today()), Ok(()));
    }

    #[test]
    fn feedback_is_overdue_only_while_open_after_its_due_date() {
        let mut r = out_of_school();
        assert!(!r.feedback_overdue(d("2026-05-25")));
        assert!(r.feedback_overdue(d("2026-05-26")));
        r.closed_on = Some(d("2026-05-26"));
        assert!(!r.feedback_overdue(d("2026-05-27")));
    }
}
