//! What the screens show of a task (home, the child's file, `tasks`, `task`): its line
//! with the finding behind it, the order tasks are listed in, and the full ID number a
//! masked one on the register form stands for. Every ID number shown is masked. The
//! commands that use these are in `tasks.rs`.

use crate::error::UserError;
use crate::types::*;
use domain::id_number::mask_id_number;
use field_store::tasks::TaskEntry;
use field_store::Store;
use uuid::Uuid;

/// The name of a child held on this phone.
pub(crate) fn child_name(s: &Store, id: Uuid) -> Result<Option<String>, UserError> {
    Ok(
        field_store::record::load_values(s.connection(), "child", id)?
            .and_then(|c| c.text("name").map(str::to_string)),
    )
}

/// A task's line (home, the child's file, `tasks`).
pub(crate) fn task_view(
    s: &Store,
    e: &TaskEntry,
    today: chrono::NaiveDate,
) -> Result<TaskView, UserError> {
    let t = e.task.as_ref();
    let child_id = t.and_then(|t| t.child_id);
    let child_name = match child_id {
        Some(c) => child_name(s, c)?,
        None => None,
    };
    let rejected = s.task_rejections(e.id)?;
    let sync = match rejected.first() {
        Some(r) => {
            let t = crate::error::rejection_text(&r.code);
            RecordSyncState::Rejected {
                code: r.code.clone(),
                zh: t.zh.into(),
                en: t.en.into(),
                todo_zh: t.what_to_do_zh.into(),
                todo_en: t.what_to_do_en.into(),
            }
        }
        None if e.unsent => RecordSyncState::OnPhone,
        None => RecordSyncState::Sent,
    };
    Ok(TaskView {
        task_id: e.id,
        kind: e.kind.clone(),
        title: e.title.clone(),
        due_on: t.map(|t| t.due_on.to_string()),
        child_id,
        child_name,
        village: e.village.clone(),
        overdue: e.open && t.is_some_and(|t| t.due_on < today),
        issued_on: e.issued_on.map(|d| d.to_string()),
        age_days: e.age_days(today),
        open: e.open,
        is_finding: t.is_some_and(|t| t.finding().is_some()),
        finding: t
            .and_then(|t| t.finding())
            .map(|f| finding_view(s, &f, today))
            .transpose()?,
        outcome: t.and_then(|t| t.outcome).map(|o| o.code().to_string()),
        done_on: t.and_then(|t| t.done_on).map(|d| d.to_string()),
        readable: t.is_some(),
        sync,
    })
}

/// Open tasks first; among them the overdue, then the longest waiting.
pub(crate) fn sort_tasks(tasks: &mut [TaskView]) {
    tasks.sort_by(|a, b| {
        (
            !a.open,
            !a.overdue,
            std::cmp::Reverse(a.age_days),
            &a.due_on,
        )
            .cmp(&(
                !b.open,
                !b.overdue,
                std::cmp::Reverse(b.age_days),
                &b.due_on,
            ))
    });
}

pub(crate) fn finding_view(
    s: &Store,
    f: &domain::Finding,
    today: chrono::NaiveDate,
) -> Result<FindingView, UserError> {
    let person = f.person.as_ref().map(|p| ListedPersonView {
        name: p.name.clone(),
        id_number: (!p.id_number.is_empty()).then(|| mask_id_number(&p.id_number)),
        sex: p.sex.map(|x| x.code().to_string()),
        birth_date: p.birth_date.map(|d| d.to_string()),
        age: p.birth_date.map(|b| domain::age_on(b, today)),
        address: p.address.clone(),
        relationship_to_head: p.relationship_to_head.clone(),
        disability_grade: p.disability_grade,
        list_category: p.list_category.clone(),
    });
    let guardian_name = match f.guardian_id {
        Some(g) => field_store::record::load_values(s.connection(), "guardian", g)?
            .and_then(|r| r.text("name").map(str::to_string)),
        None => None,
    };
    Ok(FindingView {
        finding: f.finding.code().to_string(),
        list_name: f.list_name.clone(),
        list_month: f.list_month.clone(),
        meaning: f.meaning.clone(),
        person,
        adult: f.adult.clone(),
        guardian_name,
    })
}

/// The full ID number a task's finding lists, when `typed` is its masked form (the
/// register form shows it masked and sends it back unchanged).
pub(crate) fn unmask_listed_id(s: &Store, task_id: Uuid, typed: &str) -> Option<String> {
    let e = s.task(task_id).ok()?;
    let listed = e.task?.finding()?.person?.id_number;
    (!listed.is_empty() && typed.trim() == mask_id_number(&listed)).then_some(listed)
}
