//! Tasks as commands: the open tasks with their age (home), one task with the finding
//! behind it (which list, which month, who was matched), and closing it — linked to a
//! child on file, not eligible, not found or moved away (`close_task`), or registered
//! as a new child (`add_child` with the task's id: both in one transaction). The rules
//! of a closing are the domain's (`domain::Task::closing_fields`); the store writes it
//! like any record (`field_store::tasks`). Views mask every ID number.

use crate::app::DeviceApp;
use crate::error::UserError;
use crate::task_views::{child_name, sort_tasks, task_view};
use crate::types::*;
use crate::views;
use domain::codes::TaskOutcome;
use domain::id_number::mask_id_number;
use serde_json::Value;

impl DeviceApp {
    /// The tasks held here: open ones (or all), overdue and longest waiting first.
    pub fn tasks(&self, filter: TaskFilter) -> Result<Vec<TaskView>, UserError> {
        self.with_store(|s| {
            let today = s.today();
            let mut out = s
                .tasks(!filter.include_closed)?
                .iter()
                .map(|e| task_view(s, e, today))
                .collect::<Result<Vec<_>, _>>()?;
            sort_tasks(&mut out);
            Ok(out)
        })
    }

    /// One task: why it was made, how it stands, and how it may be closed.
    pub fn task(&self, r: TaskRef) -> Result<TaskDetail, UserError> {
        self.with_store(|s| {
            let today = s.today();
            let e = s.task(r.task_id)?;
            let view = task_view(s, &e, today)?;
            let task = e.task.as_ref();
            let finding = task.and_then(|t| t.finding());
            let closing = match task.filter(|t| t.is_closed()) {
                Some(t) => Some(TaskClosingView {
                    outcome: t.outcome.map(|o| o.code().to_string()).unwrap_or_default(),
                    done_on: t.done_on.map(|d| d.to_string()).unwrap_or_default(),
                    note: t.outcome_note.clone(),
                    child_id: t.outcome_child_id,
                    child_name: match t.outcome_child_id {
                        Some(c) => child_name(s, c)?,
                        None => None,
                    },
                }),
                None => None,
            };
            let withdrawn = task.is_some_and(|t| t.deleted);
            let listed = finding
                .as_ref()
                .and_then(|f| f.person.as_ref())
                .filter(|p| !p.id_number.is_empty());
            let file_on_phone = match listed {
                Some(p) => s.child_with_id_number(&p.id_number)?.map(|c| FileOnPhone {
                    child_id: c.child_id,
                    name: c.name,
                    village: c.village,
                    exited: c.exited,
                }),
                None => None,
            };
            let on_child = task.is_some_and(|t| t.child_id.is_some());
            let closable = view.readable && e.open && finding.is_some();
            // A minor not on the roster is registered (or, when a file turns out to
            // hold them, linked); a finding on a child on file is handled on the file.
            let register = if closable && !on_child {
                finding.as_ref()
            } else {
                None
            }
            .map(|f| {
                let form = field_store::tasks::child_fields_from_finding(f, &e.village);
                let text = |k: &str| form.get(k).and_then(Value::as_str).map(str::to_string);
                NewChild {
                    name: text("name").unwrap_or_default(),
                    sex: text("sex"),
                    birth_date: text("birth_date"),
                    id_number: text("id_number").map(|id| mask_id_number(&id)),
                    village_code: e.village.clone(),
                    categories: Vec::new(),
                    risk_colour: None,
                    ethnicity: None,
                    household_registered: None,
                    registered_address: text("registered_address"),
                    current_address: None,
                    guardianship_rating: None,
                    assistance: None,
                    health: None,
                    school: None,
                    added_on: None,
                    notes: None,
                    consent: None,
                    task_id: Some(e.id),
                }
            });
            let outcomes: Vec<String> = if !closable {
                Vec::new()
            } else if on_child {
                vec![TaskOutcome::Linked, TaskOutcome::NotEligible]
                    .into_iter()
                    .map(|o| o.code().to_string())
                    .collect()
            } else {
                TaskOutcome::ALL
                    .iter()
                    .map(|o| o.code().to_string())
                    .collect()
            };
            let rejected = views::rejected_views(s)?
                .into_iter()
                .filter(|r| r.table == "task" && r.row_id == e.id)
                .collect();
            Ok(TaskDetail {
                task: view,
                closing,
                withdrawn,
                file_on_phone,
                register,
                outcomes,
                rejected,
            })
        })
    }

    /// Closes a task as linked, not eligible, or not found / moved away (registering a
    /// new child is `add_child` with `task_id`).
    pub fn close_task(&self, c: CloseTask) -> Result<Saved, UserError> {
        let outcome = TaskOutcome::from_code(c.outcome.trim()).ok_or_else(|| {
            UserError::from(
                domain::DomainError::new(
                    "unknown_code",
                    "请选择核查结果：已关联已有儿童档案、不符合条件或查无此人/已迁出",
                    format!(
                        "not an outcome: {:?}",
                        c.outcome.chars().take(40).collect::<String>()
                    ),
                )
                .on_field("outcome"),
            )
        })?;
        if outcome == TaskOutcome::Registered {
            return Err(UserError::from(
                domain::DomainError::new(
                    "register_with_the_form",
                    "登记新儿童请填写登记表（从任务进入“登记为新儿童”），保存后任务自动办结",
                    "to register a new child fill in the register form from the task; saving it closes the task",
                )
                .on_field("outcome"),
            ));
        }
        let out = self.with_store(|s| {
            s.close_task(
                c.task_id,
                &domain::TaskClosing {
                    outcome,
                    note: c.note.clone(),
                    child_id: c.child_id,
                },
            )?;
            Ok(Saved {
                id: c.task_id,
                changed: 1,
                saved_at: s.now_china_rfc3339(),
            })
        })?;
        self.after_write();
        Ok(out)
    }
}
