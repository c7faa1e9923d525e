//! Work for a village director: check a minor found on the 低保 or disability list
//! (主动发现), make a new child's first visit, the winter-holiday visit, or anything else
//! a supervisor assigns. A task lives in a village (its own `village_code`).

use crate::codes::TaskKind;
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
    #[serde(default)]
    /// Soft delete; the record and its history stay.
    pub deleted: bool,
}

impl Task {
    /// The task's fields as the schema names them.
    pub fn to_fields(&self) -> Fields {
        record::to_fields(&TASK, self)
    }

    /// Reads a task from a row's fields (schema checks only).
    pub fn from_fields(fields: &Fields) -> Result<Task, DomainError> {
        record::from_fields(&TASK, fields, |_| Ok(()))
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
        Ok(())
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
            deleted: false,
        }
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
