//! Tasks on the phone and the county's word on a child.
//!
//! A task is work the server wrote into a village (主动发现: a minor on the 低保 or
//! disability list to check at home; a first visit; …). The phone lists the open ones
//! with their age, shows one with its finding, and writes only how the director closed
//! it: registered as a new child (the child and the closing in ONE transaction, so a
//! crash leaves both or neither), linked to a child already on file, not eligible (with
//! the reason), not found or moved away (with a note). The rules of a closing are
//! `domain::Task::closing_fields` — this module loads the rows they need and writes
//! through `write.rs` like every other record, so a closing syncs, merges and is
//! refused visibly like any change.
//!
//! The county's confirmation of a child (增员 / 变更 / 减员) is a `county_decision` row
//! the server writes; what the child's file shows is derived from it and the child by
//! `domain::care::confirmation_state`, never stored.
//!
//! Everything here reads a row through `domain::schema::known_fields`: a field a newer
//! release added is kept and passed on, never a reason to hide a task or refuse an edit.

use crate::error::{Result, StoreError};
use crate::fieldwork::SignatureInput;
use crate::record::RECORD_COLUMNS;
use crate::record::{decode_record, load_record, records_of_child, row_to_record, StoredRecord};
use crate::store::Store;
use crate::write::RowWrite;
use chrono::NaiveDate;
use domain::care::{confirmation_state, ConfirmationState, CountyDecision};
use domain::schema::known_fields;
use domain::{Child, Task, TaskClosing, TaskOutcome};
use serde::Serialize;
use serde_json::{json, Map, Value};
use uuid::Uuid;

/// One task as the phone holds it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TaskEntry {
    pub id: Uuid,
    /// The village the task is in (its scope).
    pub village: String,
    /// The task read by this release's rules, from the fields it knows; `None` when
    /// even those do not read (say a kind of task a newer release added): the task is
    /// still listed, by its title.
    pub task: Option<Task>,
    /// The kind's code as stored (also one this release has no word for).
    pub kind: String,
    /// The one-line description (also when `task` is `None`).
    pub title: String,
    /// The day the server wrote the task (China time), from its creating stamp: the
    /// task's age is counted from it.
    pub issued_on: Option<NaiveDate>,
    /// Closed (a done date), or withdrawn by the county (deleted).
    pub open: bool,
    /// Some of the task's fields are still on this phone only.
    pub unsent: bool,
}

impl TaskEntry {
    fn of(rec: &StoredRecord, unsent: bool) -> TaskEntry {
        let fields = known_fields("task", &rec.doc);
        let task = Task::from_fields(&fields).ok();
        let deleted = rec.is_deleted();
        let done = rec.doc.get("done_on").is_some_and(|v| !v.is_null());
        // The creating write's stamp: the earliest clock of the fields the server writes
        // once (kind, title), which no phone changes.
        let created = ["kind", "title", "village_code"]
            .iter()
            .filter_map(|f| rec.clocks.get(*f))
            .map(|s| s.hlc.millis())
            .min();
        TaskEntry {
            id: rec.row_id,
            village: rec.scope.clone(),
            title: rec.text("title").unwrap_or_default().to_string(),
            kind: rec.text("kind").unwrap_or_default().to_string(),
            task,
            issued_on: created.and_then(china_date),
            open: !deleted && !done,
            unsent,
        }
    }

    /// Days since the task was written (0 on its first day), counted to `today`.
    pub fn age_days(&self, today: NaiveDate) -> Option<i64> {
        self.issued_on.map(|d| (today - d).num_days().max(0))
    }
}

fn china_date(ms: u64) -> Option<NaiveDate> {
    let china = chrono::FixedOffset::east_opt(8 * 3600)?;
    Some(
        chrono::DateTime::from_timestamp_millis(i64::try_from(ms).ok()?)?
            .with_timezone(&china)
            .date_naive(),
    )
}

/// The county's decision on a child and where the child stands with the county.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CountyStanding {
    /// The `county_decision` row as the server wrote it, if any.
    pub decision: Option<CountyDecision>,
    /// Derived by `domain::care::confirmation_state`.
    pub state: ConfirmationState,
}

impl Store {
    /// Every task held here, open ones only when `open_only`; in row order.
    pub fn tasks(&self, open_only: bool) -> Result<Vec<TaskEntry>> {
        let unsent = self.unsent_task_rows()?;
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {RECORD_COLUMNS} FROM record WHERE tbl = 'task' ORDER BY row_id"
        ))?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let rec = decode_record(row_to_record(r)?)?;
            let e = TaskEntry::of(&rec, unsent.contains(&rec.row_id));
            if e.open || !open_only {
                out.push(e);
            }
        }
        Ok(out)
    }

    /// One task (deleted ones too: a withdrawn task still opens, and says so).
    pub fn task(&self, task_id: Uuid) -> Result<TaskEntry> {
        let rec = self.task_record(task_id)?;
        let unsent = self.unsent_task_rows()?.contains(&task_id);
        Ok(TaskEntry::of(&rec, unsent))
    }

    fn task_record(&self, task_id: Uuid) -> Result<StoredRecord> {
        load_record(&self.conn, "task", task_id)?.ok_or_else(|| StoreError::NotFound {
            what: "task",
            id: task_id.to_string(),
        })
    }

    fn unsent_task_rows(&self) -> Result<std::collections::HashSet<Uuid>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT DISTINCT row_id FROM outbox WHERE tbl = 'task'")?;
        let ids = stmt.query_map([], |r| r.get::<_, String>(0))?;
        let mut out = std::collections::HashSet::new();
        for id in ids {
            if let Ok(u) = Uuid::parse_str(&id?) {
                out.insert(u);
            }
        }
        Ok(out)
    }

    /// The task's changes the server refused and the director has not settled, newest
    /// first: shown on the task until settled.
    pub fn task_rejections(&self, task_id: Uuid) -> Result<Vec<crate::outbox::RejectedChange>> {
        Ok(self
            .rejected_changes()?
            .into_iter()
            .filter(|r| r.change.table == "task" && r.change.row_id == task_id && !r.acknowledged)
            .collect())
    }

    /// The write that closes `task_id` as `closing` says, checked by the domain's rules
    /// for a closing on today's date (the task as held now).
    fn closing_write(&self, task_id: Uuid, closing: &TaskClosing) -> Result<RowWrite> {
        let rec = self.task_record(task_id)?;
        let task = Task::from_fields(&known_fields("task", &rec.doc))?;
        let fields = task.closing_fields(closing, self.today())?;
        Ok(RowWrite::new("task", Some(task_id), fields))
    }

    /// Closes a task: linked to a child on file, not eligible, not found or moved away
    /// (a new child is registered with [`Store::register_child_from_task`]). Written like
    /// any record, so it syncs back; nothing is written when a rule refuses it.
    pub fn close_task(&mut self, task_id: Uuid, closing: &TaskClosing) -> Result<()> {
        let write = self.closing_write(task_id, closing)?;
        let check = crate::fieldwork::domain_rules(self.today());
        self.write_row(write, &check)?;
        Ok(())
    }

    /// Registers the child a task found (the form pre-filled from its finding, as the
    /// director corrected it) and closes the task as registered, naming the new file —
    /// in ONE transaction: both are written, or neither. The guardian's signed
    /// acknowledgement of the registration notice is kept as with any registration.
    pub fn register_child_from_task(
        &mut self,
        task_id: Uuid,
        fields: Map<String, Value>,
        consent: Option<&SignatureInput>,
        signer_relationship: Option<&str>,
    ) -> Result<(Uuid, Option<Uuid>)> {
        let child_id = Uuid::now_v7();
        let closing = TaskClosing {
            outcome: TaskOutcome::Registered,
            note: None,
            child_id: Some(child_id),
        };
        // Checked before anything is written: a task already closed refuses the whole
        // registration, so the director is not left with a child and an open task.
        let close = self.closing_write(task_id, &closing)?;
        self.register_child_as(child_id, fields, consent, signer_relationship, vec![close])
    }

    /// The county's last decision on a child (its `county_decision` row), if any.
    pub fn county_decision(&self, child_id: Uuid) -> Result<Option<CountyDecision>> {
        let own = domain::care::decision_row_id(child_id);
        let rows = records_of_child(&self.conn, "county_decision", child_id)?;
        // The row the server writes has the id derived from the child's; any other row
        // naming the child is read only when that one is missing.
        let row = rows
            .iter()
            .find(|r| r.row_id == own)
            .or_else(|| rows.first());
        row.map(|r| CountyDecision::from_fields(&known_fields("county_decision", &r.doc)))
            .transpose()
            .map_err(StoreError::from)
    }

    /// Where a child stands with the county (awaiting 增员 / 变更 / 减员, sent back with
    /// the reason, confirmed): `domain::care::confirmation_state` of the file and the
    /// county's decision.
    pub fn county_standing(&self, child_id: Uuid) -> Result<CountyStanding> {
        let rec =
            load_record(&self.conn, "child", child_id)?.ok_or_else(|| StoreError::NotFound {
                what: "child",
                id: child_id.to_string(),
            })?;
        let child = Child::from_fields(&known_fields("child", &rec.doc))?;
        let decision = self.county_decision(child_id)?;
        let state = confirmation_state(&child, decision.as_ref());
        Ok(CountyStanding { decision, state })
    }
}

/// The fields of a new child as a finding lists them (name, ID number, sex, birth
/// date, address): what the register form starts with. The director checks them at
/// the door and completes the rest.
pub fn child_fields_from_finding(finding: &domain::Finding, village: &str) -> Map<String, Value> {
    let mut f = Map::new();
    f.insert("village_code".into(), json!(village));
    if let Some(p) = &finding.person {
        f.insert("name".into(), json!(p.name));
        if !p.id_number.is_empty() {
            f.insert("id_number".into(), json!(p.id_number));
        }
        if let Some(sex) = p.sex {
            f.insert("sex".into(), json!(sex.code()));
        }
        if let Some(b) = p.birth_date {
            f.insert("birth_date".into(), json!(b.to_string()));
        }
        if let Some(a) = p.address.as_deref().filter(|a| !a.trim().is_empty()) {
            f.insert("registered_address".into(), json!(a));
        }
    }
    f
}
