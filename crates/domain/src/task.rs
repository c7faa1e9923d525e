//! Work for a village director: check a minor found on the 低保 or disability list
//! (主动发现), make a new child's first visit, the winter-holiday visit, or anything else
//! a supervisor assigns. A task lives in a village (its own `village_code`).
//!
//! Tasks are written by the server; the director's phone writes only how a task was
//! closed ([`TaskClosing`] → [`Task::closing_fields`]): the day, the outcome
//! (registered as a new child, linked to a child on file, not eligible, not found or
//! moved), its note and the child concerned. The rules of a closing live here, once.

use crate::codes::{TaskKind, TaskOutcome};
use crate::error::DomainError;
use crate::record::{self, not_in_future, required_text, Fields};
use crate::schema::TASK;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// One task (table `task`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Task {
    /// What kind of work.
    pub kind: TaskKind,
    /// The village the task belongs to: the record's scope.
    pub village_code: String,
    /// The child concerned; none for a listed minor not yet on the roster.
    pub child_id: Option<Uuid>,
    /// A one-line description shown in the work list.
    pub title: String,
    /// Kind-specific details (for a listed minor: which list, name, birth date, …).
    pub details: Option<Value>,
    /// The day the work should be done by.
    pub due_on: NaiveDate,
    /// The day the work was done.
    pub done_on: Option<NaiveDate>,
    /// How an active-discovery task was closed.
    #[serde(default)]
    pub outcome: Option<TaskOutcome>,
    /// The reason (not eligible) or what was found (not found / moved away).
    #[serde(default)]
    pub outcome_note: Option<String>,
    /// The child registered from the finding, or the child on file it was linked to.
    #[serde(default)]
    pub outcome_child_id: Option<Uuid>,
    #[serde(default)]
    /// Soft delete; the record and its history stay.
    pub deleted: bool,
}

/// How a director closes a task: what they found at the doorstep.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TaskClosing {
    /// Registered, linked, not eligible, not found or moved.
    pub outcome: TaskOutcome,
    /// The reason or the note (required for not eligible and not found / moved).
    #[serde(default)]
    pub note: Option<String>,
    /// The child's file (required for registered and linked).
    #[serde(default)]
    pub child_id: Option<Uuid>,
}

/// The fields a director's phone may write on a task: its closing.
pub const CLOSING_FIELDS: &[&str] = &["done_on", "outcome", "outcome_note", "outcome_child_id"];

impl Task {
    /// The task's fields as the schema names them.
    pub fn to_fields(&self) -> Fields {
        record::to_fields(&TASK, self)
    }

    /// Reads a task from a row's fields (schema checks only).
    pub fn from_fields(fields: &Fields) -> Result<Task, DomainError> {
        record::from_fields(&TASK, fields, |_| Ok(()))
    }

    /// The active-discovery finding this task was made for, if it is one (its
    /// `details` hold a [`crate::discovery::Finding`]).
    pub fn finding(&self) -> Option<crate::discovery::Finding> {
        crate::discovery::Finding::from_details(self.details.as_ref()?)
    }

    /// Whether the task is closed (a done date).
    pub fn is_closed(&self) -> bool {
        self.done_on.is_some()
    }

    /// The fields a director's phone writes to close this task on `today`: exactly
    /// [`CLOSING_FIELDS`], checked by the task's rules first (a reason for not
    /// eligible, a note for not found or moved, a child for registered and linked).
    /// The note is trimmed; an empty one counts as none.
    pub fn closing_fields(
        &self,
        closing: &TaskClosing,
        today: NaiveDate,
    ) -> Result<Fields, DomainError> {
        if self.deleted {
            return Err(DomainError::new(
                "task_withdrawn",
                "这项任务已被县（区）民政部门撤回，无需办理",
                "the county withdrew this task; there is nothing to do",
            ));
        }
        if let (Some(done), Some(outcome)) = (self.done_on, self.outcome) {
            // A closing is what the county counts and confirms: it is not rewritten on
            // a phone. (A finding task an older app closed without an outcome may still
            // be given one.)
            return Err(DomainError::new(
                "task_already_closed",
                format!(
                    "这项任务已于{}办结（{}），不能再次办结",
                    done.format("%Y年%-m月%-d日"),
                    outcome.label_zh()
                ),
                format!(
                    "this task was closed on {done} ({}); it cannot be closed again",
                    crate::labels::code_label_en(outcome.code())
                ),
            ));
        }
        if self.is_closed() && self.finding().is_none() {
            return Err(DomainError::new(
                "task_already_closed",
                format!(
                    "这项任务已于{}完成，不能再次办结",
                    self.done_on.unwrap_or(today).format("%Y年%-m月%-d日")
                ),
                "this task is done already",
            ));
        }
        let mut closed = self.clone();
        closed.done_on = Some(today);
        closed.outcome = Some(closing.outcome);
        closed.outcome_note = closing
            .note
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string);
        closed.outcome_child_id = closing.child_id;
        closed.validate(today)?;
        let all = closed.to_fields();
        Ok(CLOSING_FIELDS
            .iter()
            .map(|f| (f.to_string(), all.get(*f).cloned().unwrap_or(Value::Null)))
            .collect())
    }

    /// Checks the task before it is saved: schema types, a title and village, a child
    /// for visit tasks, and a done date that is not in the future.
    pub fn validate(&self, today: NaiveDate) -> Result<(), DomainError> {
        record::check_schema(&TASK, &self.to_fields())?;
        self.check_rules(today)
    }

    /// The rules beyond the schema's field types: what [`Self::validate`] checks after
    /// the schema. For a record read with `from_fields`, whose fields were just
    /// type-checked, this is all that is left to check.
    pub fn check_rules(&self, today: NaiveDate) -> Result<(), DomainError> {
        required_text("title", &self.title)?;
        required_text("village_code", &self.village_code)?;
        if matches!(self.kind, TaskKind::FirstVisit | TaskKind::WinterVisit)
            && self.child_id.is_none()
        {
            return Err(DomainError::new(
                "task_needs_child",
                format!("“{}”任务须指明是哪个儿童", self.kind.label_zh()),
                format!("a {} task names its child", self.kind),
            )
            .on_field("child_id"));
        }
        if let Some(done) = self.done_on {
            not_in_future("done_on", done, today)?;
        }
        self.check_closing()
    }

    fn check_closing(&self) -> Result<(), DomainError> {
        let note = self.outcome_note.as_deref().map(str::trim).unwrap_or("");
        let Some(outcome) = self.outcome else {
            if self.done_on.is_some() && self.finding().is_some() {
                return Err(DomainError::new(
                    "task_outcome_required",
                    "办结核查任务时请选择核查结果：已登记、已关联已有档案、不符合条件或查无此人/已迁出",
                    "closing a check task needs its outcome: registered, linked, not eligible, or not found / moved",
                )
                .on_field("outcome"));
            }
            return Ok(());
        };
        if self.done_on.is_none() {
            return Err(DomainError::new(
                "task_outcome_needs_date",
                "填写了核查结果的任务须有完成日期",
                "a task with an outcome needs the day it was done",
            )
            .on_field("done_on"));
        }
        match outcome {
            TaskOutcome::Registered if self.child_id.is_some() => Err(DomainError::new(
                "task_child_on_file",
                "这项任务针对的是已在台账上的儿童，不能登记为新儿童；核查后请选择“已关联已有儿童档案”",
                "this task is about a child already on the roster: close it as linked to that file, not as a new child",
            )
            .on_field("outcome")),
            TaskOutcome::Registered | TaskOutcome::Linked if self.outcome_child_id.is_none() => {
                Err(DomainError::new(
                    "task_outcome_needs_child",
                    if outcome == TaskOutcome::Registered {
                        "请先登记这名儿童，再办结任务"
                    } else {
                        "请选择对应的已有儿童档案"
                    },
                    "a registered or linked outcome names the child's file",
                )
                .on_field("outcome_child_id"))
            }
            TaskOutcome::NotEligible if note.is_empty() => Err(DomainError::new(
                "task_outcome_needs_reason",
                "请写明不符合条件的原因",
                "a not-eligible outcome needs the reason",
            )
            .on_field("outcome_note")),
            TaskOutcome::NotFoundOrMoved if note.is_empty() => Err(DomainError::new(
                "task_outcome_needs_note",
                "请写明核查情况，例如迁往何处、向谁了解的情况",
                "a not-found or moved-away outcome needs a note of what was found",
            )
            .on_field("outcome_note")),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::child::tests::{d, today};
    use serde_json::json;

    fn listed_minor() -> Task {
        Task {
            kind: TaskKind::CheckListedMinor,
            village_code: "370602001001".into(),
            child_id: None,
            title: "核查低保名单中的未成年人：李某".into(),
            details: Some(json!({"list": "dibao", "name": "李某", "birth_date": "2014-03-02"})),
            due_on: d("2026-05-31"),
            done_on: None,
            outcome: None,
            outcome_note: None,
            outcome_child_id: None,
            deleted: false,
        }
    }

    fn finding_task() -> Task {
        let finding = crate::discovery::tests::unlisted_minor();
        let mut t = listed_minor();
        t.title = finding.title_zh(None);
        t.details = Some(finding.to_details());
        t
    }

    #[test]
    fn closing_writes_only_the_closing_fields_and_checks_each_outcome() {
        let t = finding_task();
        let close = |outcome, note: Option<&str>, child: Option<Uuid>| {
            t.closing_fields(
                &TaskClosing {
                    outcome,
                    note: note.map(str::to_string),
                    child_id: child,
                },
                today(),
            )
        };
        let child = Uuid::now_v7();
        let f = close(TaskOutcome::Registered, None, Some(child)).unwrap();
        let names: Vec<&str> = f.keys().map(String::as_str).collect();
        let mut expected = CLOSING_FIELDS.to_vec();
        expected.sort();
        assert_eq!(names, expected);
        assert_eq!(f["done_on"], json!("2026-05-20"));
        assert_eq!(f["outcome"], json!("registered"));
        assert_eq!(f["outcome_child_id"], json!(child.to_string()));
        assert_eq!(f["outcome_note"], Value::Null);
        for name in f.keys() {
            assert!(!crate::schema::server_only("task", name), "{name}");
        }
        let code = |r: Result<Fields, DomainError>| r.unwrap_err().code;
        assert_eq!(
            code(close(TaskOutcome::Registered, None, None)),
            "task_outcome_needs_child"
        );
        assert_eq!(
            code(close(TaskOutcome::Linked, Some("x"), None)),
            "task_outcome_needs_child"
        );
        assert_eq!(
            code(close(TaskOutcome::NotEligible, Some("  "), None)),
            "task_outcome_needs_reason"
        );
        assert_eq!(
            code(close(TaskOutcome::NotFoundOrMoved, None, None)),
            "task_outcome_needs_note"
        );
        let f = close(TaskOutcome::NotEligible, Some(" 家庭收入已超标 "), None).unwrap();
        assert_eq!(f["outcome_note"], json!("家庭收入已超标"));
        assert!(close(TaskOutcome::NotFoundOrMoved, Some("已迁往烟台市区"), None).is_ok());
        assert!(close(TaskOutcome::Linked, None, Some(child)).is_ok());
    }

    #[test]
    fn a_finding_task_done_without_an_outcome_is_refused_and_an_outcome_needs_a_date() {
        let mut t = finding_task();
        assert_eq!(t.validate(today()), Ok(()));
        t.done_on = Some(today());
        assert_eq!(
            t.validate(today()).unwrap_err().code,
            "task_outcome_required"
        );
        // Other tasks are closed by their date alone, as before.
        let mut plain = listed_minor();
        plain.done_on = Some(today());
        assert_eq!(plain.validate(today()), Ok(()));
        plain.done_on = None;
        plain.outcome = Some(TaskOutcome::NotEligible);
        plain.outcome_note = Some("x".into());
        assert_eq!(
            plain.validate(today()).unwrap_err().code,
            "task_outcome_needs_date"
        );
    }

    #[test]
    fn a_closed_task_is_not_closed_again_and_a_withdrawn_one_not_at_all() {
        let t = finding_task();
        let closing = TaskClosing {
            outcome: TaskOutcome::NotEligible,
            note: Some("家庭收入已超标".into()),
            child_id: None,
        };
        let fields = t.closing_fields(&closing, today()).unwrap();
        let mut all = t.to_fields();
        all.extend(fields);
        let closed = Task::from_fields(&all).unwrap();
        let e = closed.closing_fields(&closing, today()).unwrap_err();
        assert_eq!(e.code, "task_already_closed");
        assert!(
            e.zh.contains("2026年5月20日") && e.zh.contains("不符合条件"),
            "{}",
            e.zh
        );

        // An older app closed the finding with a date only: the outcome may follow.
        let mut dated = t.clone();
        dated.done_on = Some(d("2026-05-18"));
        assert!(dated.closing_fields(&closing, today()).is_ok());
        // A plain task done is done.
        let mut plain = listed_minor();
        plain.done_on = Some(d("2026-05-18"));
        assert_eq!(
            plain.closing_fields(&closing, today()).unwrap_err().code,
            "task_already_closed"
        );

        let mut withdrawn = t.clone();
        withdrawn.deleted = true;
        assert_eq!(
            withdrawn
                .closing_fields(&closing, today())
                .unwrap_err()
                .code,
            "task_withdrawn"
        );
    }

    #[test]
    fn a_finding_on_a_child_on_file_is_linked_not_registered_again() {
        let mut t = finding_task();
        let on_file = Uuid::now_v7();
        t.child_id = Some(on_file);
        let close = |outcome| {
            t.closing_fields(
                &TaskClosing {
                    outcome,
                    note: None,
                    child_id: Some(on_file),
                },
                today(),
            )
        };
        assert_eq!(
            close(TaskOutcome::Registered).unwrap_err().code,
            "task_child_on_file"
        );
        assert!(close(TaskOutcome::Linked).is_ok());
    }

    #[test]
    fn a_task_without_the_new_fields_reads_as_before() {
        // What the release before discovery stored: no outcome fields at all.
        let mut fields = listed_minor().to_fields();
        for f in ["outcome", "outcome_note", "outcome_child_id"] {
            fields.remove(f);
        }
        let t = Task::from_fields(&fields).unwrap();
        assert_eq!((t.outcome, t.outcome_child_id), (None, None));
    }

    #[test]
    fn a_listed_minor_task_needs_no_child_and_round_trips() {
        let t = listed_minor();
        assert_eq!(t.validate(today()), Ok(()));
        assert_eq!(Task::from_fields(&t.to_fields()), Ok(t));
    }

    #[test]
    fn a_first_visit_task_names_its_child() {
        let mut t = listed_minor();
        t.kind = TaskKind::FirstVisit;
        assert_eq!(t.validate(today()).unwrap_err().code, "task_needs_child");
        t.child_id = Some(Uuid::now_v7());
        assert_eq!(t.validate(today()), Ok(()));
    }

    #[test]
    fn a_task_cannot_be_done_tomorrow() {
        let mut t = listed_minor();
        t.done_on = Some(d("2026-05-21"));
        assert_eq!(t.validate(today()).unwrap_err().code, "date_in_future");
    }

    #[test]
    fn details_must_be_an_object_or_list() {
        let mut t = listed_minor();
        t.details = Some(json!("just text"));
        assert_eq!(t.validate(today()).unwrap_err().code, "bad_value");
    }
}
