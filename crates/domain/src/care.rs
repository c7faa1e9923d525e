//! 纳入保障: the county civil-affairs office confirms a child into care (增员), a change
//! of category (变更) and an exit (减员), or sends it back with a reason. The decision
//! is a row of its own (`county_decision`, written only by the server); whether a
//! child is **awaiting** confirmation is never stored but derived here, once, by
//! [`confirmation_state`], for the phone and the console alike:
//!
//! - registered (active) and never confirmed → awaiting 增员;
//! - categories differ from the confirmed snapshot → awaiting 变更;
//! - exited while the confirmed snapshot is active → awaiting 减员;
//! - sent back, and the child is still as it was when sent back → the reason shows
//!   (a director who corrects the file makes it awaiting again).
//!
//! A confirmed child carries the day it was brought into care and its monthly
//! standard, read from a dated table of standards ([`MonthlyRate`], data the county
//! edits; [`monthly_standard`]), never from a constant.

use crate::codes::{Category, ChildStatus, ConfirmationKind, ExitReason};
use crate::error::DomainError;
use crate::record::{self, json_field, Fields};
use crate::schema::COUNTY_DECISION;
use crate::Child;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Most characters of a sending-back reason.
pub const REASON_MAX_CHARS: usize = 500;
/// Most characters of the name of who decided.
pub const BY_MAX_CHARS: usize = 40;

/// What the county decided on: the child's categories and status at that moment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CareSnapshot {
    /// Sorted, each once.
    pub categories: Vec<Category>,
    /// Active or exited.
    pub status: ChildStatus,
    /// Why the child left, for an exit.
    #[serde(default)]
    pub exit_reason: Option<ExitReason>,
}

impl CareSnapshot {
    /// The child's file as the county decides on it.
    pub fn of(child: &Child) -> CareSnapshot {
        let mut categories = child.categories.clone();
        categories.sort();
        categories.dedup();
        CareSnapshot {
            categories,
            status: child.status,
            exit_reason: if child.status == ChildStatus::Exited {
                child.exit_reason
            } else {
                None
            },
        }
    }
}

/// The county's last confirmation of a child.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Confirmed {
    /// 增员, 变更 or 减员.
    pub kind: ConfirmationKind,
    /// The child as confirmed.
    pub snapshot: CareSnapshot,
    /// The day the child was brought into care (kept through later changes).
    pub in_care_since: NaiveDate,
    /// The monthly living allowance in yuan from the standards in force on the day of
    /// the decision; none for a child whose categories carry no standard, or after an
    /// exit.
    #[serde(default)]
    pub monthly_standard_yuan: Option<u32>,
    /// Who decided: a person's display name, never an account id.
    pub by: String,
    /// When (RFC 3339, China time).
    pub at: String,
}

/// The county's last sending back of a child's addition, change or exit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SentBack {
    /// What was sent back.
    pub kind: ConfirmationKind,
    /// The child as it was when sent back.
    pub snapshot: CareSnapshot,
    /// Why, in the county's words, for the director.
    pub reason: String,
    /// Who decided: a display name.
    pub by: String,
    /// When (RFC 3339).
    pub at: String,
}

/// One `county_decision` row: the county's last decisions on one child.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CountyDecision {
    /// The child (its file decides the row's village).
    pub child_id: Uuid,
    /// The last confirmation.
    #[serde(default)]
    pub confirmed: Option<Confirmed>,
    /// The last sending back.
    #[serde(default)]
    pub sent_back: Option<SentBack>,
}

impl CountyDecision {
    /// The row's fields as the schema names them.
    pub fn to_fields(&self) -> Fields {
        record::to_fields(&COUNTY_DECISION, self)
    }

    /// Reads a decision from a row's fields (schema types and JSON shapes).
    pub fn from_fields(fields: &Fields) -> Result<CountyDecision, DomainError> {
        record::from_fields(&COUNTY_DECISION, fields, |f| {
            json_field::<Confirmed>(f, "confirmed")?;
            json_field::<SentBack>(f, "sent_back")?;
            Ok(())
        })
    }
}

/// The id of a child's `county_decision` row: derived from the child's id, so every
/// server process writing a decision on the child writes the same row.
pub fn decision_row_id(child_id: Uuid) -> Uuid {
    let digest = Sha256::new()
        .chain_update(b"tonghu county_decision\0")
        .chain_update(child_id.as_bytes())
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// Where a child stands with the county.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ConfirmationState {
    /// Nothing to confirm: a deleted file, or a child that left before it was ever
    /// confirmed.
    NotInCare,
    /// Confirmed as the file stands.
    Confirmed {
        /// The last confirmation.
        confirmed: Confirmed,
    },
    /// Waiting for the county to confirm an addition, a change or an exit.
    Awaiting {
        /// 增员, 变更 or 减员.
        kind: ConfirmationKind,
        /// The last confirmation, if any (a change or an exit is measured from it).
        previous: Option<Confirmed>,
    },
    /// The county sent it back; the file is still as it was then.
    SentBack {
        /// What the county sent back and why.
        sent_back: SentBack,
    },
}

impl ConfirmationState {
    /// What is awaiting the county, if anything (sent back counts: it is the
    /// director's turn, but the child is not confirmed).
    pub fn awaiting(&self) -> Option<ConfirmationKind> {
        match self {
            ConfirmationState::Awaiting { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// The state in one short Chinese phrase (待县级确认（增员）, 已确认, 县级退回：…).
    pub fn label_zh(&self) -> String {
        match self {
            ConfirmationState::NotInCare => "无需确认".into(),
            ConfirmationState::Confirmed { .. } => "已确认".into(),
            ConfirmationState::Awaiting { kind, .. } => {
                format!("待县级确认（{}）", kind.label_zh())
            }
            ConfirmationState::SentBack { sent_back } => {
                format!(
                    "县级退回（{}）：{}",
                    sent_back.kind.label_zh(),
                    sent_back.reason
                )
            }
        }
    }

    /// The same in English.
    pub fn label_en(&self) -> String {
        match self {
            ConfirmationState::NotInCare => "nothing to confirm".into(),
            ConfirmationState::Confirmed { .. } => "confirmed".into(),
            ConfirmationState::Awaiting { kind, .. } => format!(
                "awaiting county confirmation ({})",
                crate::labels::code_label_en(kind.code())
            ),
            ConfirmationState::SentBack { sent_back } => format!(
                "sent back by the county ({}): {}",
                crate::labels::code_label_en(sent_back.kind.code()),
                sent_back.reason
            ),
        }
    }
}

/// Where `child` stands with the county, given its `county_decision` row (see the
/// module documentation). Pure; the one place this is decided.
pub fn confirmation_state(child: &Child, decision: Option<&CountyDecision>) -> ConfirmationState {
    if child.deleted {
        return ConfirmationState::NotInCare;
    }
    let now = CareSnapshot::of(child);
    let confirmed = decision.and_then(|d| d.confirmed.clone());
    let pending = match &confirmed {
        None if now.status == ChildStatus::Exited => return ConfirmationState::NotInCare,
        None => ConfirmationKind::Addition,
        Some(c) if c.snapshot == now => {
            return ConfirmationState::Confirmed {
                confirmed: c.clone(),
            }
        }
        Some(c) => match (c.snapshot.status, now.status) {
            (ChildStatus::Active, ChildStatus::Exited) => ConfirmationKind::Exit,
            (ChildStatus::Exited, ChildStatus::Active) => ConfirmationKind::Addition,
            (ChildStatus::Exited, ChildStatus::Exited) => ConfirmationKind::Exit,
            (ChildStatus::Active, ChildStatus::Active) => ConfirmationKind::Change,
        },
    };
    if let Some(sb) = decision.and_then(|d| d.sent_back.as_ref()) {
        if sb.snapshot == now && sb.kind == pending {
            return ConfirmationState::SentBack {
                sent_back: sb.clone(),
            };
        }
    }
    ConfirmationState::Awaiting {
        kind: pending,
        previous: confirmed,
    }
}

/// One line of the table of monthly standards: the allowance for children of
/// `category` from `effective_from` on (until a later line for the category).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MonthlyRate {
    /// The category the standard is paid for.
    pub category: Category,
    /// Yuan per month.
    pub yuan: u32,
    /// The first day it applies.
    pub effective_from: NaiveDate,
}

/// The standard a child of `categories` receives on `on`: for each category the line
/// in force that day (the latest `effective_from` not after it), and of those the
/// highest (a child is paid once, at the best standard it qualifies for). None when no
/// category of the child carries a standard.
pub fn monthly_standard<'a>(
    categories: &[Category],
    rates: &'a [MonthlyRate],
    on: NaiveDate,
) -> Option<&'a MonthlyRate> {
    categories
        .iter()
        .filter_map(|c| {
            rates
                .iter()
                .filter(|r| r.category == *c && r.effective_from <= on)
                .max_by_key(|r| r.effective_from)
        })
        .max_by_key(|r| r.yuan)
}

/// The county's confirmation of what `child` is awaiting: the new `confirmed` value.
/// `in_care_since` is the day the county gives for an addition (refused after
/// `today`); a change or an exit keeps the earlier day. The standard is the one in
/// force `today` (none after an exit). Refused when nothing is awaiting.
pub fn confirm(
    child: &Child,
    decision: Option<&CountyDecision>,
    in_care_since: Option<NaiveDate>,
    rates: &[MonthlyRate],
    by: &str,
    at: &str,
    today: NaiveDate,
) -> Result<Confirmed, DomainError> {
    let state = confirmation_state(child, decision);
    let (kind, previous) = match state {
        ConfirmationState::Awaiting { kind, previous } => (kind, previous),
        ConfirmationState::SentBack { sent_back } => {
            (sent_back.kind, decision.and_then(|d| d.confirmed.clone()))
        }
        _ => return Err(nothing_to_decide()),
    };
    let since = match (kind, previous.as_ref().map(|p| p.in_care_since)) {
        (ConfirmationKind::Addition, _) | (_, None) => in_care_since.unwrap_or(today),
        (_, Some(kept)) => kept,
    };
    if since > today {
        return Err(DomainError::new(
            "date_in_future",
            "纳入保障日期不能晚于今天",
            "the day brought into care cannot be after today",
        )
        .on_field("in_care_since"));
    }
    let snapshot = CareSnapshot::of(child);
    let standard = if snapshot.status == ChildStatus::Active {
        monthly_standard(&snapshot.categories, rates, today).map(|r| r.yuan)
    } else {
        None
    };
    Ok(Confirmed {
        kind,
        snapshot,
        in_care_since: since,
        monthly_standard_yuan: standard,
        by: by.chars().take(BY_MAX_CHARS).collect(),
        at: at.to_string(),
    })
}

/// The county's sending back of what `child` is awaiting, with the reason the
/// director reads: the new `sent_back` value. Refused without a reason, or when
/// nothing is awaiting.
pub fn send_back(
    child: &Child,
    decision: Option<&CountyDecision>,
    reason: &str,
    by: &str,
    at: &str,
) -> Result<SentBack, DomainError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(DomainError::new(
            "reason_required",
            "退回时请写明原因，儿童主任会在手机上看到",
            "sending back needs a reason; the director reads it on the phone",
        )
        .on_field("reason"));
    }
    let Some(kind) = confirmation_state(child, decision).awaiting() else {
        return Err(nothing_to_decide());
    };
    Ok(SentBack {
        kind,
        snapshot: CareSnapshot::of(child),
        reason: reason.chars().take(REASON_MAX_CHARS).collect(),
        by: by.chars().take(BY_MAX_CHARS).collect(),
        at: at.to_string(),
    })
}

fn nothing_to_decide() -> DomainError {
    DomainError::new(
        "nothing_to_confirm",
        "这名儿童没有待确认的增员、变更或减员（可能已被其他人处理），请刷新页面",
        "nothing of this child awaits confirmation (someone may have decided already); reload the page",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::child::tests::{d, today, xiaoming as valid_child};

    fn rates() -> Vec<MonthlyRate> {
        let r = |category, yuan, from: &str| MonthlyRate {
            category,
            yuan,
            effective_from: d(from),
        };
        vec![
            r(Category::InstitutionOrphan, 2400, "2024-01-01"),
            r(Category::InstitutionOrphan, 2503, "2025-07-01"),
            r(Category::CommunityOrphan, 2002, "2025-07-01"),
            r(Category::DeFactoUnsupported, 2002, "2025-07-01"),
            r(Category::KeyDifficulty, 1785, "2025-07-01"),
        ]
    }

    fn decided(confirmed: Option<Confirmed>, sent_back: Option<SentBack>) -> CountyDecision {
        CountyDecision {
            child_id: Uuid::from_u128(1),
            confirmed,
            sent_back,
        }
    }

    #[test]
    fn a_registered_child_awaits_addition_until_confirmed() {
        let child = valid_child();
        assert_eq!(
            confirmation_state(&child, None).awaiting(),
            Some(ConfirmationKind::Addition)
        );
        let c = confirm(
            &child,
            None,
            Some(d("2026-05-03")),
            &rates(),
            "王科长",
            "t",
            today(),
        )
        .unwrap();
        assert_eq!(c.kind, ConfirmationKind::Addition);
        assert_eq!(c.in_care_since, d("2026-05-03"));
        let row = decided(Some(c.clone()), None);
        assert_eq!(
            confirmation_state(&child, Some(&row)),
            ConfirmationState::Confirmed { confirmed: c }
        );
        assert_eq!(
            confirm(&child, Some(&row), None, &rates(), "x", "t", today())
                .unwrap_err()
                .code,
            "nothing_to_confirm"
        );
    }

    #[test]
    fn a_category_change_and_an_exit_await_the_county_again() {
        let mut child = valid_child();
        child.categories = vec![Category::KeyDifficulty];
        let first = confirm(
            &child,
            None,
            Some(d("2026-01-05")),
            &rates(),
            "王科长",
            "t",
            today(),
        )
        .unwrap();
        assert_eq!(first.monthly_standard_yuan, Some(1785));
        let row = decided(Some(first.clone()), None);

        let mut changed = child.clone();
        changed.categories = vec![Category::DeFactoUnsupported, Category::KeyDifficulty];
        assert_eq!(
            confirmation_state(&changed, Some(&row)).awaiting(),
            Some(ConfirmationKind::Change)
        );
        let c = confirm(
            &changed,
            Some(&row),
            Some(d("2026-05-01")),
            &rates(),
            "王科长",
            "t",
            today(),
        )
        .unwrap();
        assert_eq!(c.in_care_since, d("2026-01-05"), "a change keeps the day");
        assert_eq!(c.monthly_standard_yuan, Some(2002), "the higher standard");

        let mut exited = child.clone();
        exited.status = ChildStatus::Exited;
        exited.exit_reason = Some(ExitReason::Turned18);
        assert_eq!(
            confirmation_state(&exited, Some(&row)).awaiting(),
            Some(ConfirmationKind::Exit)
        );
        let e = confirm(&exited, Some(&row), None, &rates(), "王科长", "t", today()).unwrap();
        assert_eq!(
            (e.kind, e.monthly_standard_yuan),
            (ConfirmationKind::Exit, None)
        );
        // A child who leaves before it was ever confirmed has nothing to confirm.
        assert_eq!(
            confirmation_state(&exited, None),
            ConfirmationState::NotInCare
        );
        // Neither has a deleted file.
        let mut deleted = child.clone();
        deleted.deleted = true;
        assert_eq!(
            confirmation_state(&deleted, None),
            ConfirmationState::NotInCare
        );
    }

    #[test]
    fn sent_back_shows_the_reason_until_the_director_corrects_the_file() {
        let child = valid_child();
        assert_eq!(
            send_back(&child, None, "  ", "王科长", "t")
                .unwrap_err()
                .code,
            "reason_required"
        );
        let sb = send_back(&child, None, "缺少户籍证明", "王科长", "t").unwrap();
        let row = decided(None, Some(sb.clone()));
        let state = confirmation_state(&child, Some(&row));
        assert_eq!(state, ConfirmationState::SentBack { sent_back: sb });
        assert!(
            state.label_zh().contains("缺少户籍证明"),
            "{}",
            state.label_zh()
        );
        assert!(state.label_en().contains("sent back"));
        // The director changes the file: it awaits the county again.
        let mut corrected = child.clone();
        corrected.categories.push(Category::Difficulty);
        assert_eq!(
            confirmation_state(&corrected, Some(&row)).awaiting(),
            Some(ConfirmationKind::Addition)
        );
        // The county may still confirm what it sent back.
        assert!(confirm(&child, Some(&row), None, &rates(), "王科长", "t", today()).is_ok());
    }

    #[test]
    fn the_standard_is_the_line_in_force_on_the_day_and_the_best_of_the_child_s() {
        let r = rates();
        let s = |cats: &[Category], on: &str| monthly_standard(cats, &r, d(on)).map(|r| r.yuan);
        assert_eq!(s(&[Category::InstitutionOrphan], "2025-06-30"), Some(2400));
        assert_eq!(s(&[Category::InstitutionOrphan], "2025-07-01"), Some(2503));
        assert_eq!(
            s(
                &[Category::KeyDifficulty, Category::CommunityOrphan],
                "2026-01-01"
            ),
            Some(2002)
        );
        assert_eq!(s(&[Category::LeftBehind], "2026-01-01"), None);
        assert_eq!(
            s(&[Category::KeyDifficulty], "2024-01-01"),
            None,
            "not yet in force"
        );
    }

    #[test]
    fn a_decision_row_round_trips_and_its_id_follows_the_child() {
        let child = valid_child();
        let c = confirm(
            &child,
            None,
            None,
            &rates(),
            "王科长",
            "2026-05-20T10:00:00+08:00",
            today(),
        )
        .unwrap();
        let row = CountyDecision {
            child_id: Uuid::now_v7(),
            confirmed: Some(c),
            sent_back: None,
        };
        let fields = row.to_fields();
        assert_eq!(CountyDecision::from_fields(&fields), Ok(row.clone()));
        let spec = &COUNTY_DECISION;
        for (name, v) in &fields {
            assert_eq!(spec.field(name).unwrap().check_value(v), Ok(()), "{name}");
        }
        assert_eq!(decision_row_id(row.child_id), decision_row_id(row.child_id));
        assert_ne!(
            decision_row_id(row.child_id),
            decision_row_id(Uuid::now_v7())
        );
        let mut bad = fields.clone();
        bad.insert("confirmed".into(), serde_json::json!({"kind": "nope"}));
        assert_eq!(
            CountyDecision::from_fields(&bad).unwrap_err().code,
            "bad_value"
        );
    }
}
