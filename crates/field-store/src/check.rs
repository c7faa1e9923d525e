//! A form's problems before anything is saved or signed: the domain's rules for the
//! row as it would be written ([`domain::row_problems`], every problem at once, a
//! warning told from a refusal), and the rules only this phone can judge — the same
//! the write path refuses with: a child's village held here, 一人一档 (an ID number
//! another file already has), the child a record names being on this phone. Nothing
//! is written.

use crate::child_file::find_child_by_id_number;
use crate::error::Result;
use crate::record::load_record;
use crate::store::Store;
use chrono::NaiveDate;
use domain::{DomainError, Fields, Problems};
use serde_json::Value;
use uuid::Uuid;

impl Store {
    /// Every problem of a new row of `table` with `fields` as a form holds them
    /// (normalised as the write path would), at once.
    pub fn draft_problems(&self, table: &str, fields: &Fields) -> Result<Problems> {
        let mut fields = fields.clone();
        if let Some(spec) = domain::schema::table(table) {
            for (field, value) in fields.iter_mut() {
                domain::normalize::normalize_in(spec, field, value);
            }
        }
        let mut p = domain::row_problems(table, &fields, self.today());
        let held = self.device_state()?.scopes;
        if table == "child" || table == "task" {
            if let Some(v) = fields
                .get(domain::schema::SCOPE_FIELD)
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
            {
                if !held.is_empty() && !held.iter().any(|h| h == v) {
                    p.block(domain::village_not_held(v, &held));
                }
            }
        }
        if table == "child" {
            if let Some(id) = fields
                .get("id_number")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
            {
                if let Some(other) = find_child_by_id_number(&self.conn, id, None)? {
                    p.block(domain::duplicate_id_number(
                        &other.name,
                        &other.village,
                        id,
                        other.exited,
                    ));
                }
            }
        } else if let Some(child) = fields
            .get("child_id")
            .and_then(Value::as_str)
            .and_then(|c| Uuid::parse_str(c).ok())
        {
            if load_record(&self.conn, "child", child)?.is_none_or(|c| c.is_deleted()) {
                p.block(
                    DomainError::new(
                        "child_not_found",
                        "找不到这名儿童的档案，请先登记儿童",
                        format!("child {child} is not on this device"),
                    )
                    .on_field("child_id"),
                );
            }
        }
        Ok(p)
    }

    /// The visit-due policy this phone holds (the server's, or the default).
    pub fn visit_policy(&self) -> Result<domain::VisitPolicy> {
        crate::roster::policy(&self.conn)
    }

    /// The day a visit on `visit_day` of `child_id` sets as the next visit when the
    /// director sets none: the child's interval by the policy (within the 31 days a
    /// red child allows). `None` when the child is not on this phone.
    pub fn next_visit_by_rule(
        &self,
        child_id: Uuid,
        visit_day: NaiveDate,
        risk: domain::RiskColour,
    ) -> Result<Option<NaiveDate>> {
        let Some(rec) = load_record(&self.conn, "child", child_id)? else {
            return Ok(None);
        };
        let categories: Vec<domain::Category> = rec
            .doc
            .get("categories")
            .and_then(|c| serde_json::from_value(c.clone()).ok())
            .unwrap_or_default();
        Ok(Some(self.visit_policy()?.next_visit_after(
            visit_day,
            &categories,
            risk,
        )))
    }
}

/// The rules a write to a task must keep beyond the domain's (run inside the write's
/// transaction by `fieldwork::domain_rules`): a closing that names a child names one
/// held on this phone and not deleted.
pub(crate) fn check_task_write(
    conn: &rusqlite::Connection,
    rec: &crate::record::StoredRecord,
    before: Option<&crate::record::StoredRecord>,
) -> Result<()> {
    if rec.table != "task" {
        return Ok(());
    }
    let named = rec.text("outcome_child_id");
    if named.is_none() || named == before.and_then(|b| b.text("outcome_child_id")) {
        return Ok(());
    }
    let child = named
        .and_then(|c| Uuid::parse_str(c).ok())
        .map(|c| load_record(conn, "child", c))
        .transpose()?
        .flatten()
        .filter(|c| !c.is_deleted());
    if child.is_none() {
        return Err(DomainError::new(
            "child_not_found",
            "找不到要关联的儿童档案（可能已被删除），请重新选择",
            "the child's file to link is not on this phone (it may have been deleted)",
        )
        .on_field("outcome_child_id")
        .into());
    }
    Ok(())
}
