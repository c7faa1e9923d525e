//! Active discovery's storage role: list kinds (data), the key task ids are derived
//! with, one line per import, the findings (tasks written and the county's queue),
//! which roster children's families were on each month's list, the server replica's
//! account and devices, and the dated table of monthly standards. SQL lives in
//! `sqlite_discovery.rs` and `postgres_discovery.rs`; no decision is taken here or
//! there — what to write is decided in [`crate::discovery`].
//!
//! Tasks and county decisions themselves are NOT stored here: they are synced rows,
//! written by the server's replica through [`super::SyncStore::push`] like any phone's.

use crate::error::StoreError;
use async_trait::async_trait;
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// A kind of list (data: a county may add one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListKind {
    pub code: String,
    pub name: String,
    /// What a match on this list means, for the director.
    pub meaning: String,
    /// Days the director has to check a finding.
    pub due_days: i64,
    /// The county that added it; None for every county's.
    pub county: Option<String>,
}

/// A child's file as matching needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RosterChild {
    pub child_id: Uuid,
    pub village: String,
    pub name: String,
    pub id_number: Option<String>,
    pub active: bool,
}

/// A guardian row as matching needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RosterGuardian {
    pub guardian_id: Uuid,
    pub child_id: Uuid,
    pub id_number: String,
    /// The guardian's role code (`mother`, …).
    pub role: String,
}

/// One committed import (never its rows).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportRecord {
    pub import_id: Uuid,
    pub list_kind: String,
    pub list_month: String,
    /// The importing admin's county or city.
    pub area: String,
    pub account_id: i64,
    pub rows_read: i64,
    pub minors: i64,
    pub on_roster: i64,
    /// Findings of the file (new or seen before).
    pub findings: i64,
    /// Tasks written now (findings not seen before, with a village).
    pub new_tasks: i64,
    /// Findings put in the county's queue now.
    pub queued: i64,
    pub invalid_rows: i64,
    pub no_village: i64,
    pub duplicates: i64,
    pub replica_device: Option<Uuid>,
    pub at_ms: i64,
}

/// A finding as kept: its task (once it has a village) or its place in the queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FindingRecord {
    pub finding_id: Uuid,
    /// The task written for it; None while it waits in the queue.
    pub task_id: Option<Uuid>,
    pub list_kind: String,
    /// The month it was first found.
    pub list_month: String,
    /// The latest month whose list still had it.
    pub last_month: String,
    /// The finding kind's code.
    pub finding: String,
    /// The importing area (the queue's owner).
    pub county: String,
    pub village: Option<String>,
    pub child_id: Option<Uuid>,
    pub import_id: Uuid,
    /// Queued findings only: the finding (JSON) the task will carry.
    pub details: Option<String>,
    /// Queued findings only: the file's village / address text.
    pub place_text: Option<String>,
    pub created_ms: i64,
}

/// A task's state as the director left it (field winners of the `task` row).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TaskState {
    pub village: Option<String>,
    pub done_on: Option<String>,
    pub outcome: Option<String>,
    pub due_on: Option<String>,
    /// The sentence the task says (names the person; for the county's export).
    pub title: Option<String>,
}

/// One line of the table of monthly standards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StandardLine {
    pub id: i64,
    pub category: String,
    pub yuan: i64,
    pub effective_from: String,
    pub created_ms: i64,
}

/// Active discovery's storage (see the module documentation).
#[async_trait]
pub trait DiscoveryStore: Send + Sync + 'static {
    /// Every list kind.
    async fn list_kinds(&self) -> Result<Vec<ListKind>, StoreError>;
    /// Adds a list kind; false when the code exists.
    async fn add_list_kind(&self, kind: ListKind, now_ms: i64) -> Result<bool, StoreError>;
    /// The key task ids are derived with, made once (random) on first use.
    async fn discovery_key(&self, fresh: [u8; 32]) -> Result<Vec<u8>, StoreError>;
    /// Every child's file and guardian with an ID number, from the field winners (not
    /// deleted).
    async fn roster_for_matching(
        &self,
    ) -> Result<(Vec<RosterChild>, Vec<RosterGuardian>), StoreError>;
    /// The latest month before `month` of which `area` imported `list_kind`, with the
    /// roster children whose family was on that month's list.
    async fn previous_listed(
        &self,
        list_kind: &str,
        area: &str,
        month: &str,
    ) -> Result<Option<(String, HashSet<Uuid>)>, StoreError>;
    /// Which of `finding_ids` are known.
    async fn known_findings(&self, finding_ids: &[Uuid]) -> Result<HashSet<Uuid>, StoreError>;
    /// Which of `task_ids` exist as synced rows.
    async fn existing_tasks(&self, task_ids: &[Uuid]) -> Result<HashSet<Uuid>, StoreError>;
    /// Records an import, its findings (a known finding keeps its first month and
    /// task, and its last month moves on) and the month's listed children, in one
    /// transaction.
    async fn record_import(
        &self,
        import: ImportRecord,
        findings: Vec<FindingRecord>,
        listed_children: Vec<Uuid>,
    ) -> Result<(), StoreError>;
    /// Imports of `areas`, newest first.
    async fn imports(&self, areas: &[String]) -> Result<Vec<ImportRecord>, StoreError>;
    /// Findings of `areas` (all months, or one).
    async fn findings(
        &self,
        areas: &[String],
        month: Option<&str>,
    ) -> Result<Vec<FindingRecord>, StoreError>;
    /// Findings of `areas` first found in `since_month` or later (the history's
    /// months).
    async fn findings_since(
        &self,
        areas: &[String],
        since_month: &str,
    ) -> Result<Vec<FindingRecord>, StoreError>;
    /// One finding.
    async fn finding(&self, finding_id: Uuid) -> Result<Option<FindingRecord>, StoreError>;
    /// A queued finding gets its village and task (only while it is still queued;
    /// returns whether it was).
    async fn assign_finding(
        &self,
        finding_id: Uuid,
        village: &str,
        task_id: Uuid,
    ) -> Result<bool, StoreError>;
    /// Gives a claimed finding back to the queue (its task could not be written).
    async fn release_finding(
        &self,
        finding_id: Uuid,
        task_id: Uuid,
        details: String,
    ) -> Result<(), StoreError>;
    /// The director's side of `task_ids`: village, done, outcome (field winners).
    async fn task_states(&self, task_ids: &[Uuid]) -> Result<HashMap<Uuid, TaskState>, StoreError>;
    /// The server replica's account id, made on first use (role `server`).
    async fn server_account(&self) -> Result<i64, StoreError>;
    /// Registers a device of the server's replica (no token anyone holds).
    async fn add_replica_device(
        &self,
        device_id: Uuid,
        account_id: i64,
        name: &str,
        now_ms: i64,
    ) -> Result<(), StoreError>;
    /// The contiguous `device_seq` maximum the server holds for a device.
    async fn replica_seq(&self, device_id: Uuid) -> Result<u64, StoreError>;
    /// The table of monthly standards, oldest first.
    async fn care_standards(&self) -> Result<Vec<StandardLine>, StoreError>;
    /// Adds (or replaces, same category and day) a line of the table.
    async fn set_care_standard(
        &self,
        category: &str,
        yuan: i64,
        effective_from: &str,
        account_id: i64,
        now_ms: i64,
    ) -> Result<(), StoreError>;
}
