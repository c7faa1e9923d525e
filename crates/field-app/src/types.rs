//! The device API's words: every command's input and answer as plain, serialisable
//! data (ids, dates as text, codes), so any shell — the Tauri app, the HTTP bridge,
//! `fieldctl`, a test — can sit on top. TypeScript declarations are generated from
//! these types (see `commands.rs`), never retyped by hand.
//!
//! Codes are typed as the domain's code enums for the UI (`#[ts(as = …)]`) but read as
//! text here, so a wrong code gets the domain's own Chinese sentence instead of a
//! parser's English one. Views mask ID numbers here, never in the UI.

use domain::{
    AgreementTerms, Assistance, Category, Checklist, ChildStatus, ExitReason, GpsFix, GuardianRole,
    GuardianshipRating, ReferralKind, RiskColour, Sex, SignerRole, VisitAction, VisitMode,
    Whereabouts,
};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use ts_rs::TS;
use uuid::Uuid;

use crate::error::UserError;

/// A command without arguments.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, TS)]
pub struct Empty {}

/// Reads a present field as `Some(value)` (with `null` as `Some(None)`) and an absent
/// one as `None`: a patch tells "leave it" from "clear it".
fn some<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

// ───────────────────────────── lifecycle ─────────────────────────────

/// Where the app is in its life on this phone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Nothing here yet: enter the server address and the one-time code.
    NeedsEnrollment,
    /// Enrolled (or data from an older app found): choose a PIN.
    NeedsPin,
    /// Data here, locked: enter the PIN.
    Locked,
    /// Unlocked and working.
    Unlocked,
}

/// The interface language.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    #[default]
    Zh,
    En,
}

/// What is on the phone and not yet on the server (counts only, readable while locked,
/// so a person can be told what a wipe would lose).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct UnsyncedSummary {
    /// Records (rows) saved on the phone and not yet sent.
    pub records: u64,
    /// Photos and signature images not yet uploaded.
    pub photos: u64,
    /// When these counts were taken (RFC 3339), if ever.
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<String>,
}

/// The app's state as the first screen needs it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct AppState {
    pub phase: Phase,
    /// Whether this phone holds an enrollment (a token for a server).
    pub enrolled: bool,
    #[ts(optional)]
    pub device_id: Option<String>,
    /// The server this phone is enrolled with; while it needs enrollment, the address
    /// typed last time (the Enroll screen starts with it).
    #[ts(optional)]
    pub server_url: Option<String>,
    #[ts(optional)]
    pub account_id: Option<String>,
    #[ts(optional)]
    pub role: Option<String>,
    pub villages: Vec<String>,
    /// Village code → name, for the villages whose names the server gave (show the
    /// code where a name is missing).
    pub village_names: std::collections::BTreeMap<String, String>,
    pub language: Language,
    pub auto_lock_secs: u32,
    /// Wrong PINs since the last successful unlock.
    pub failed_pin_attempts: u32,
    /// Seconds to wait before the next PIN may be tried (0 = now).
    pub wait_secs: u32,
    /// After this many wrong PINs in a row the phone's data is erased.
    pub wipe_after_attempts: u32,
    /// Data from an older, unencrypted app found: setting a PIN encrypts it.
    pub migrating_plain_data: bool,
    pub unsynced: UnsyncedSummary,
    pub app_version: String,
}

/// `enroll`: the server address and the one-time code the admin gave.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct EnrollInput {
    pub server_url: String,
    pub code: String,
    #[serde(default)]
    #[ts(optional)]
    pub device_name: Option<String>,
}

/// `set_pin`, `unlock`.
#[derive(Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct PinInput {
    pub pin: String,
}

impl std::fmt::Debug for PinInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PinInput(…)")
    }
}

/// `change_pin`.
#[derive(Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ChangePinInput {
    pub old_pin: String,
    pub new_pin: String,
}

impl std::fmt::Debug for ChangePinInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChangePinInput(…)")
    }
}

/// The settings screen.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct SettingsView {
    pub language: Language,
    pub auto_lock_secs: u32,
    /// The delays the settings screen offers, seconds.
    pub auto_lock_choices: Vec<u32>,
    #[ts(optional)]
    pub device_id: Option<String>,
    #[ts(optional)]
    pub server_url: Option<String>,
    #[ts(optional)]
    pub account_id: Option<String>,
    pub villages: Vec<String>,
    /// Village code → name (see [`AppState::village_names`]).
    pub village_names: std::collections::BTreeMap<String, String>,
    pub app_version: String,
    /// Free space where the data lives, bytes.
    #[ts(optional)]
    pub free_storage_bytes: Option<u64>,
    pub data_encrypted: bool,
}

/// `update_settings`: only what is given changes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct SettingsChange {
    #[serde(default)]
    #[ts(optional)]
    pub language: Option<Language>,
    #[serde(default)]
    #[ts(optional)]
    pub auto_lock_secs: Option<u32>,
}

/// One code of a code list with its names.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct Term {
    pub code: String,
    pub zh: String,
    pub en: String,
}

/// Every code list the forms offer, with Chinese and English names (the UI never
/// retypes a code list).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct Vocabulary {
    pub categories: Vec<Term>,
    pub sexes: Vec<Term>,
    pub risk_colours: Vec<Term>,
    pub guardianship_ratings: Vec<Term>,
    pub exit_reasons: Vec<Term>,
    pub assistance: Vec<Term>,
    pub guardian_roles: Vec<Term>,
    pub whereabouts: Vec<Term>,
    pub visit_modes: Vec<Term>,
    pub visit_actions: Vec<Term>,
    pub checklist_areas: Vec<Term>,
    pub item_statuses: Vec<Term>,
    pub signer_roles: Vec<Term>,
    pub principal_relations: Vec<Term>,
    pub renewals: Vec<Term>,
    pub referral_kinds: Vec<Term>,
    pub health_conditions: Vec<Term>,
    pub disability_types: Vec<Term>,
    pub school_stages: Vec<Term>,
    pub enrolments: Vec<Term>,
    pub task_kinds: Vec<Term>,
    /// How a director closes an active-discovery task.
    pub task_outcomes: Vec<Term>,
    /// What active discovery found (why a task was made).
    pub finding_kinds: Vec<Term>,
    /// 增员 / 变更 / 减员.
    pub confirmation_kinds: Vec<Term>,
}

// ───────────────────────────── roster and home ─────────────────────────────

/// `roster`: which children to list.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct RosterFilter {
    /// Chinese characters of the name, or pinyin initials (`lxh` finds 李小花).
    #[serde(default)]
    #[ts(optional)]
    pub search: Option<String>,
    #[serde(default)]
    #[ts(optional, as = "Option<Category>")]
    pub category: Option<String>,
    #[serde(default)]
    #[ts(optional, as = "Option<RiskColour>")]
    pub risk_colour: Option<String>,
    #[serde(default)]
    #[ts(optional, as = "Option<bool>")]
    pub overdue_only: bool,
    #[serde(default)]
    #[ts(optional, as = "Option<bool>")]
    pub include_exited: bool,
}

/// When a child's next visit is due.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum DueState {
    Overdue,
    DueSoon,
    NotDue,
}

/// One line of the roster.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct RosterItem {
    pub child_id: Uuid,
    pub name: String,
    pub village: String,
    #[ts(as = "Vec<Category>")]
    pub categories: Vec<String>,
    #[ts(as = "RiskColour")]
    pub risk_colour: String,
    #[ts(optional)]
    pub last_visit_on: Option<String>,
    /// The last visit is on this phone but not yet on the server: "visited, not
    /// synced" is not "not visited".
    pub last_visit_unsynced: bool,
    #[ts(optional)]
    pub next_due_on: Option<String>,
    #[ts(optional)]
    pub due_state: Option<DueState>,
    /// Days overdue, or days until due.
    #[ts(optional)]
    pub due_days: Option<i64>,
    /// The due status in words (`逾期 3 天`).
    pub due_zh: String,
    pub due_en: String,
}

/// A task (a first visit, a minor found on an allowance list to check, …).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct TaskView {
    pub task_id: Uuid,
    /// The kind's code (a kind a newer release added reads as itself; `readable` is
    /// then false).
    #[ts(as = "domain::TaskKind")]
    pub kind: String,
    /// The server's one-line description.
    pub title: String,
    #[ts(optional)]
    pub due_on: Option<String>,
    #[ts(optional)]
    pub child_id: Option<Uuid>,
    #[ts(optional)]
    pub child_name: Option<String>,
    pub village: String,
    pub overdue: bool,
    /// The day the county's server wrote the task.
    #[ts(optional)]
    pub issued_on: Option<String>,
    /// Days since then (0 on its first day): how long it has been waiting.
    #[ts(optional)]
    pub age_days: Option<i64>,
    /// Not yet closed (nor withdrawn by the county).
    pub open: bool,
    /// An active-discovery finding: opening the task shows why, and it is closed with
    /// an outcome.
    pub is_finding: bool,
    /// Why (an active-discovery task): which list, which month, who was matched.
    #[ts(optional)]
    pub finding: Option<FindingView>,
    /// How it was closed, once it is.
    #[ts(optional, as = "Option<domain::TaskOutcome>")]
    pub outcome: Option<String>,
    #[ts(optional)]
    pub done_on: Option<String>,
    /// This app can read the task; false for a kind a newer release added (the title
    /// says what to do, and updating the app lets the director act on it).
    pub readable: bool,
    /// Whether the server holds the director's closing yet, or refused it.
    pub sync: RecordSyncState,
}

/// `tasks`: which tasks to list.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct TaskFilter {
    /// Closed and withdrawn tasks too (default: open ones only).
    #[serde(default)]
    #[ts(optional, as = "Option<bool>")]
    pub include_closed: bool,
}

/// `task`, …: one task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct TaskRef {
    pub task_id: Uuid,
}

/// The minor a list names, as the task shows them (ID number masked).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct ListedPersonView {
    pub name: String,
    /// Masked (`3706**********1229`).
    #[ts(optional)]
    pub id_number: Option<String>,
    #[ts(optional, as = "Option<Sex>")]
    pub sex: Option<String>,
    #[ts(optional)]
    pub birth_date: Option<String>,
    /// Age in whole years today.
    #[ts(optional)]
    pub age: Option<i32>,
    /// 户籍地址 / 所在村 as the list writes it.
    #[ts(optional)]
    pub address: Option<String>,
    /// 与户主关系 as the list writes it.
    #[ts(optional)]
    pub relationship_to_head: Option<String>,
    /// 残疾等级 1–4.
    #[ts(optional)]
    pub disability_grade: Option<u8>,
    /// 类别 as the list writes it.
    #[ts(optional)]
    pub list_category: Option<String>,
}

/// Why a task was made: what the county's list matched, in data the screen puts into
/// words (`ui/src/lib/messages.ts`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct FindingView {
    #[ts(as = "domain::FindingKind")]
    pub finding: String,
    /// The list's name when it was imported (农村低保).
    pub list_name: String,
    /// `YYYY-MM`.
    pub list_month: String,
    /// What a match on this list means, in the county's words.
    pub meaning: String,
    /// The listed minor (to register), or the child on file as listed.
    #[ts(optional)]
    pub person: Option<ListedPersonView>,
    /// The listed adult whose listing points at the child (ID number masked).
    #[ts(optional)]
    pub adult: Option<domain::discovery::ListedAdult>,
    /// For a guardian on the list: the guardian's name on the child's file.
    #[ts(optional)]
    pub guardian_name: Option<String>,
}

/// How a task was closed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct TaskClosingView {
    #[ts(as = "domain::TaskOutcome")]
    pub outcome: String,
    pub done_on: String,
    #[ts(optional)]
    pub note: Option<String>,
    /// The child registered or linked.
    #[ts(optional)]
    pub child_id: Option<Uuid>,
    #[ts(optional)]
    pub child_name: Option<String>,
}

/// A child's file already on this phone with the ID number a finding lists: link the
/// task to it rather than register the child again (一人一档).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct FileOnPhone {
    pub child_id: Uuid,
    pub name: String,
    pub village: String,
    /// The child has left the roster.
    pub exited: bool,
}

/// `task`: one task with the finding behind it and how it stands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct TaskDetail {
    pub task: TaskView,
    /// How it was closed (on this phone or another).
    #[ts(optional)]
    pub closing: Option<TaskClosingView>,
    /// Withdrawn by the county: nothing to do.
    pub withdrawn: bool,
    /// The finding's child already has a file here.
    #[ts(optional)]
    pub file_on_phone: Option<FileOnPhone>,
    /// The register form, pre-filled from the finding (`add_child`'s arguments with
    /// this task's id; the ID number masked — sent back unchanged, it is kept), when
    /// the task can be closed by registering a new child.
    #[ts(optional)]
    pub register: Option<NewChild>,
    /// The outcomes the director may close it with, in the order to offer them.
    #[ts(as = "Vec<domain::TaskOutcome>")]
    pub outcomes: Vec<String>,
    /// Refusals of the server not yet settled, newest first: shown until settled.
    pub rejected: Vec<RejectedView>,
}

/// `close_task`: what the director found at the doorstep (registering a new child is
/// `add_child` with `task_id`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct CloseTask {
    pub task_id: Uuid,
    /// `linked`, `not_eligible` or `not_found_or_moved`.
    #[ts(as = "domain::TaskOutcome")]
    pub outcome: String,
    /// The reason (not eligible) or what was found (not found / moved away).
    #[serde(default)]
    #[ts(optional)]
    pub note: Option<String>,
    /// The child's file it is linked to.
    #[serde(default)]
    #[ts(optional)]
    pub child_id: Option<Uuid>,
}

/// A form left unfinished, offered to continue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct DraftView {
    pub kind: String,
    pub key: String,
    pub data: Value,
    pub updated_at: String,
    /// The child the form is for, when it is about one.
    #[ts(optional)]
    pub child_name: Option<String>,
}

/// Today's work.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct Home {
    /// Children whose visit is overdue: longest overdue first, red before green.
    pub overdue: Vec<RosterItem>,
    /// Children due soon, red before green.
    pub due_soon: Vec<RosterItem>,
    /// Open tasks, earliest due first.
    pub tasks: Vec<TaskView>,
    /// Forms left unfinished.
    pub drafts: Vec<DraftView>,
    /// Values another phone's edit replaced (or this phone's kept over another's),
    /// newest first, until the director restores one or keeps what is there.
    pub replaced: Vec<ReplacedView>,
    pub children: u64,
    pub sync: SyncState,
}

/// "Changed by someone else": which value a merge kept and which it replaced, in
/// words a person reads (codes named, ID numbers masked), and whether the replaced
/// one can be put back (`restore_replaced_value`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct ReplacedView {
    /// What `restore_replaced_value` and `keep_current_value` name.
    pub history_id: i64,
    pub child_id: Option<Uuid>,
    pub child_name: Option<String>,
    /// What changed: the record and the field ("监护人 张秀英 · 联系电话").
    pub what_zh: String,
    pub what_en: String,
    /// What the record holds now.
    pub kept_zh: String,
    pub kept_en: String,
    /// The value that was replaced.
    pub replaced_zh: String,
    pub replaced_en: String,
    /// The value kept was written on this phone (another phone's lost to it).
    pub kept_here: bool,
    /// The replaced value was written on this phone.
    pub replaced_here: bool,
    /// The field was changed again after the merge (what it holds now is newer).
    pub changed_since: bool,
    /// When this phone noticed (RFC 3339).
    pub noted_at: String,
}

/// `restore_replaced_value`, `keep_current_value`: one noted replacement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct ReplacedRef {
    pub history_id: i64,
}

// ───────────────────────────── the child's file ─────────────────────────────

/// Where one record stands between the phone and the server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum RecordSyncState {
    /// 已保存在手机上: saved here, not yet on the server.
    OnPhone,
    /// 已上传: the server holds it.
    Sent,
    /// 被退回: the server refused a change of it.
    Rejected {
        code: String,
        zh: String,
        en: String,
        todo_zh: String,
        todo_en: String,
    },
}

/// The child's own record, with the ID number masked.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct ChildView {
    pub child_id: Uuid,
    #[serde(flatten)]
    pub child: domain::Child,
    /// Age in whole years today.
    pub age: i32,
    pub sync: RecordSyncState,
}

/// A parent, grandparent or the entrusted caregiver, ID number masked.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct GuardianView {
    pub guardian_id: Uuid,
    #[serde(flatten)]
    pub guardian: domain::Guardian,
    pub sync: RecordSyncState,
}

/// A photo of a visit (the image is fetched with `photo`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct PhotoView {
    pub photo_id: Uuid,
    pub blob_sha256: String,
    pub thumb_sha256: String,
    pub width: u32,
    pub height: u32,
    /// Whether the full image is on this phone (a thumbnail may be all there is).
    pub full_here: bool,
    pub thumb_here: bool,
    pub voided: bool,
    pub sync: RecordSyncState,
}

/// A visit in the timeline, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct VisitView {
    pub visit_id: Uuid,
    #[serde(flatten)]
    pub visit: domain::Visit,
    pub photos: Vec<PhotoView>,
    pub sync: RecordSyncState,
}

/// A signature on a signed agreement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct SignatureView {
    pub signature_id: Uuid,
    #[ts(as = "SignerRole")]
    pub signer_role: String,
    pub signer_name: String,
    pub image_sha256: String,
    pub signed_at: String,
    pub bound_to_text: bool,
    pub sync: RecordSyncState,
}

/// A signed, locked agreement version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct AgreementVersionView {
    pub version_id: Uuid,
    pub draft_id: Uuid,
    pub version: u32,
    pub text_sha256: String,
    pub valid_from: String,
    pub valid_until: String,
    pub signed_at: String,
    /// Expires within 30 days, or has expired.
    pub expiring: bool,
    pub expired: bool,
    #[ts(optional)]
    pub voided: Option<domain::Void>,
    pub signatures: Vec<SignatureView>,
    pub sync: RecordSyncState,
}

/// A care agreement draft (editable until signed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct AgreementDraftView {
    pub draft_id: Uuid,
    #[ts(as = "domain::AgreementStatus")]
    pub status: String,
    /// The terms, ID numbers masked (send them back unchanged to keep them).
    pub terms: AgreementTerms,
    pub sync: RecordSyncState,
}

/// A referral to the body that can solve a problem.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct ReferralView {
    pub referral_id: Uuid,
    #[serde(flatten)]
    pub referral: domain::Referral,
    /// Feedback is due and the referral is still open.
    pub feedback_overdue: bool,
    pub sync: RecordSyncState,
}

/// A guardian's signed acknowledgement of the registration notice.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct ConsentView {
    pub consent_id: Uuid,
    pub signer_name: String,
    #[ts(as = "GuardianRole")]
    pub signer_role: String,
    pub notice_version: u32,
    pub signed_at: String,
    pub sync: RecordSyncState,
}

/// A value another device's edit replaced: "changed by someone else".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct HistoryView {
    pub table: String,
    pub table_zh: String,
    pub field: String,
    pub field_zh: String,
    /// The value that lost, masked if it is an ID number.
    pub value: Value,
    /// The value that lost, as a person reads it (codes named, ID numbers masked).
    pub value_zh: String,
    pub value_en: String,
    /// The value that lost was written on this phone.
    pub replaced_here: bool,
    /// The value that won was written on this phone (another phone's lost to it).
    pub kept_here: bool,
    pub by_device: String,
    pub replaced_by_device: String,
    pub noted_at: String,
}

/// 一人一档: the child's whole file, as the phone holds it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct ChildFileView {
    pub child: ChildView,
    pub guardians: Vec<GuardianView>,
    pub visits: Vec<VisitView>,
    /// Photos of the child that belong to no visit on this phone (taken on their own,
    /// or their visit not held here): shown with the file, never hidden.
    pub photos: Vec<PhotoView>,
    pub agreement_drafts: Vec<AgreementDraftView>,
    pub agreements: Vec<AgreementVersionView>,
    pub referrals: Vec<ReferralView>,
    pub tasks: Vec<TaskView>,
    pub consents: Vec<ConsentView>,
    pub history: Vec<HistoryView>,
    /// Whether a left-behind child lacks a valid signed care agreement.
    pub needs_agreement: bool,
    /// Whether the registration notice has been acknowledged.
    pub consent_signed: bool,
    /// Where the child stands with the county (awaiting 增员 / 变更 / 减员, sent back
    /// with its reason, confirmed with the day and the monthly standard), derived by
    /// `domain::care::confirmation_state` from the county's decision on file.
    pub county: domain::ConfirmationState,
}

/// `child_file`, `discard…`: one id.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct ChildRef {
    pub child_id: Uuid,
}

// ───────────────────────────── registering and editing ─────────────────────────────

/// A signature drawn with a finger: the image and the strokes it was drawn with.
#[derive(Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct DrawnSignature {
    /// PNG (or JPEG) of the signature, base64.
    pub image_base64: String,
    /// The pen strokes as captured (`{"w", "h", "strokes": [[[x, y, t], …], …]}`).
    #[serde(default)]
    #[ts(optional)]
    pub strokes: Option<Value>,
}

impl std::fmt::Debug for DrawnSignature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "DrawnSignature({} base64 chars)",
            self.image_base64.len()
        )
    }
}

/// The guardian's acknowledgement of the registration notice, given at registration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct ConsentInput {
    pub signer_name: String,
    #[ts(as = "GuardianRole")]
    pub signer_role: String,
    /// The signer's relationship to the child (an entrusted caregiver needs one to be
    /// kept as the child's guardian).
    #[serde(default)]
    #[ts(optional)]
    pub signer_relationship: Option<String>,
    pub signature: DrawnSignature,
}

/// `add_child`: registering a child.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct NewChild {
    pub name: String,
    /// Read from the ID number when left out.
    #[serde(default)]
    #[ts(optional, as = "Option<Sex>")]
    pub sex: Option<String>,
    /// `YYYY-MM-DD`; read from the ID number when left out.
    #[serde(default)]
    #[ts(optional)]
    pub birth_date: Option<String>,
    #[serde(default)]
    #[ts(optional)]
    pub id_number: Option<String>,
    pub village_code: String,
    #[ts(as = "Vec<Category>")]
    pub categories: Vec<String>,
    #[serde(default)]
    #[ts(optional, as = "Option<RiskColour>")]
    pub risk_colour: Option<String>,
    #[serde(default)]
    #[ts(optional)]
    pub ethnicity: Option<String>,
    #[serde(default)]
    #[ts(optional)]
    pub household_registered: Option<bool>,
    #[serde(default)]
    #[ts(optional)]
    pub registered_address: Option<String>,
    #[serde(default)]
    #[ts(optional)]
    pub current_address: Option<String>,
    #[serde(default)]
    #[ts(optional, as = "Option<GuardianshipRating>")]
    pub guardianship_rating: Option<String>,
    #[serde(default)]
    #[ts(optional, as = "Option<Vec<Assistance>>")]
    pub assistance: Option<Vec<String>>,
    #[serde(default)]
    #[ts(optional)]
    pub health: Option<Value>,
    #[serde(default)]
    #[ts(optional)]
    pub school: Option<Value>,
    /// The day the child joined the roster (default today).
    #[serde(default)]
    #[ts(optional)]
    pub added_on: Option<String>,
    #[serde(default)]
    #[ts(optional)]
    pub notes: Option<String>,
    /// The guardian's signed acknowledgement of the registration notice.
    #[serde(default)]
    #[ts(optional)]
    pub consent: Option<ConsentInput>,
    /// The task whose finding this child is: closed as registered, naming the new
    /// file, in the same transaction as the registration.
    #[serde(default)]
    #[ts(optional)]
    pub task_id: Option<Uuid>,
}

/// `edit_child`: the fields given change; `null` clears an optional field.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct ChildPatch {
    #[serde(default)]
    #[ts(optional)]
    pub name: Option<String>,
    #[serde(default)]
    #[ts(optional, as = "Option<Sex>")]
    pub sex: Option<String>,
    #[serde(default)]
    #[ts(optional)]
    pub birth_date: Option<String>,
    #[serde(default, deserialize_with = "some")]
    #[ts(optional, as = "Option<Option<String>>")]
    pub id_number: Option<Option<String>>,
    #[serde(default)]
    #[ts(optional)]
    pub village_code: Option<String>,
    #[serde(default)]
    #[ts(optional, as = "Option<Vec<Category>>")]
    pub categories: Option<Vec<String>>,
    #[serde(default)]
    #[ts(optional, as = "Option<RiskColour>")]
    pub risk_colour: Option<String>,
    #[serde(default, deserialize_with = "some")]
    #[ts(optional, as = "Option<Option<String>>")]
    pub ethnicity: Option<Option<String>>,
    #[serde(default)]
    #[ts(optional)]
    pub household_registered: Option<bool>,
    #[serde(default, deserialize_with = "some")]
    #[ts(optional, as = "Option<Option<String>>")]
    pub registered_address: Option<Option<String>>,
    #[serde(default, deserialize_with = "some")]
    #[ts(optional, as = "Option<Option<String>>")]
    pub current_address: Option<Option<String>>,
    #[serde(default, deserialize_with = "some")]
    #[ts(optional, as = "Option<Option<GuardianshipRating>>")]
    pub guardianship_rating: Option<Option<String>>,
    #[serde(default, deserialize_with = "some")]
    #[ts(optional, as = "Option<Option<Vec<Assistance>>>")]
    pub assistance: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "some")]
    #[ts(optional, as = "Option<Option<Value>>")]
    pub health: Option<Option<Value>>,
    #[serde(default, deserialize_with = "some")]
    #[ts(optional, as = "Option<Option<Value>>")]
    pub school: Option<Option<Value>>,
    #[serde(default)]
    #[ts(optional, as = "Option<ChildStatus>")]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "some")]
    #[ts(optional, as = "Option<Option<ExitReason>>")]
    pub exit_reason: Option<Option<String>>,
    #[serde(default, deserialize_with = "some")]
    #[ts(optional, as = "Option<Option<String>>")]
    pub exit_date: Option<Option<String>>,
    #[serde(default, deserialize_with = "some")]
    #[ts(optional, as = "Option<Option<String>>")]
    pub notes: Option<Option<String>>,
}

/// `edit_child`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct EditChild {
    pub child_id: Uuid,
    pub changes: ChildPatch,
}

/// `add_guardian`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct NewGuardian {
    pub child_id: Uuid,
    #[ts(as = "GuardianRole")]
    pub role: String,
    pub name: String,
    #[serde(default)]
    #[ts(optional)]
    pub id_number: Option<String>,
    #[serde(default)]
    #[ts(optional)]
    pub relationship: Option<String>,
    #[serde(default)]
    #[ts(optional)]
    pub phone: Option<String>,
    #[serde(default)]
    #[ts(optional, as = "Option<Whereabouts>")]
    pub whereabouts: Option<String>,
    #[serde(default)]
    #[ts(optional)]
    pub work_location: Option<String>,
    #[serde(default)]
    #[ts(optional)]
    pub health: Option<String>,
    #[serde(default)]
    #[ts(optional)]
    pub address: Option<String>,
}

/// `edit_guardian`: the fields given change; `null` clears an optional field.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct GuardianPatch {
    #[serde(default)]
    #[ts(optional, as = "Option<GuardianRole>")]
    pub role: Option<String>,
    #[serde(default)]
    #[ts(optional)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "some")]
    #[ts(optional, as = "Option<Option<String>>")]
    pub id_number: Option<Option<String>>,
    #[serde(default, deserialize_with = "some")]
    #[ts(optional, as = "Option<Option<String>>")]
    pub relationship: Option<Option<String>>,
    #[serde(default, deserialize_with = "some")]
    #[ts(optional, as = "Option<Option<String>>")]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "some")]
    #[ts(optional, as = "Option<Option<Whereabouts>>")]
    pub whereabouts: Option<Option<String>>,
    #[serde(default, deserialize_with = "some")]
    #[ts(optional, as = "Option<Option<String>>")]
    pub work_location: Option<Option<String>>,
    #[serde(default, deserialize_with = "some")]
    #[ts(optional, as = "Option<Option<String>>")]
    pub health: Option<Option<String>>,
    #[serde(default, deserialize_with = "some")]
    #[ts(optional, as = "Option<Option<String>>")]
    pub address: Option<Option<String>>,
}

/// `edit_guardian`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct EditGuardian {
    pub guardian_id: Uuid,
    pub changes: GuardianPatch,
}

/// `add_record` / `edit_record`: any synced table by its schema field names (scripts
/// and `fieldctl`; the app's screens use the typed commands).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct RecordInput {
    pub table: String,
    #[serde(default)]
    #[ts(optional)]
    pub row_id: Option<Uuid>,
    pub fields: serde_json::Map<String, Value>,
}

/// A saved row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct Saved {
    pub id: Uuid,
    /// Fields that actually changed (an edit to the same value changes nothing).
    pub changed: usize,
    /// When it was saved, on the phone's corrected clock.
    pub saved_at: String,
}

// ───────────────────────────── visits and photos ─────────────────────────────

/// `stage_photo`: a photo from the camera or a file.
#[derive(Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct PhotoInput {
    /// The image file's bytes, base64 (JPEG, PNG or WebP).
    pub image_base64: String,
}

impl std::fmt::Debug for PhotoInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PhotoInput({} base64 chars)", self.image_base64.len())
    }
}

/// A photo through the pipeline (upright, resized, metadata stripped), held on the
/// phone until its visit is saved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct StagedPhotoView {
    pub photo_id: Uuid,
    /// JPEG thumbnail, base64.
    pub thumb_base64: String,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
}

/// `discard_photo`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct PhotoRef {
    pub photo_id: Uuid,
}

/// `photo`: one image the phone holds, by hash.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct BlobRef {
    pub sha256: String,
}

/// An image's bytes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct ImageData {
    pub mime: String,
    pub base64: String,
}

/// A referral made on a visit (or on its own with `add_referral`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct NewReferral {
    #[serde(default)]
    #[ts(optional)]
    pub child_id: Option<Uuid>,
    #[serde(default)]
    #[ts(optional)]
    pub visit_id: Option<Uuid>,
    #[ts(as = "ReferralKind")]
    pub kind: String,
    pub receiving_body: String,
    /// Default today.
    #[serde(default)]
    #[ts(optional)]
    pub referred_on: Option<String>,
    pub feedback_due_on: String,
}

/// `close_referral`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct CloseReferral {
    pub referral_id: Uuid,
    pub outcome: String,
    #[serde(default)]
    #[ts(optional)]
    pub closed_on: Option<String>,
}

/// `record_visit`: one visit, in under a minute.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct NewVisit {
    pub child_id: Uuid,
    #[ts(as = "VisitMode")]
    pub mode: String,
    /// When the visit happened (RFC 3339; default now).
    #[serde(default)]
    #[ts(optional)]
    pub visited_at: Option<String>,
    #[serde(default)]
    #[ts(optional)]
    pub people_present: Option<String>,
    /// The director's name as visitor (default: the enrolled account).
    #[serde(default)]
    #[ts(optional)]
    pub visitor: Option<String>,
    #[serde(default)]
    #[ts(optional)]
    pub gps: Option<GpsFix>,
    pub checklist: Checklist,
    #[ts(as = "RiskColour")]
    pub risk_colour: String,
    #[serde(default)]
    pub emergency: bool,
    #[serde(default)]
    #[ts(optional)]
    pub problems: Option<String>,
    #[serde(default)]
    #[ts(as = "Vec<VisitAction>")]
    pub actions: Vec<String>,
    /// A referral made on this visit (needs the `referral` action).
    #[serde(default)]
    #[ts(optional)]
    pub referral: Option<NewReferral>,
    #[serde(default)]
    #[ts(optional)]
    pub next_due_on: Option<String>,
    #[serde(default)]
    #[ts(optional)]
    pub narrative: Option<String>,
    /// Photos staged with `stage_photo` for this visit.
    #[serde(default)]
    #[ts(optional, as = "Option<Vec<Uuid>>")]
    pub photo_ids: Vec<Uuid>,
    /// Photos given with the visit itself (scripts, `fieldctl visit add --photo`): put
    /// through the same pipeline and saved with the visit, or not at all.
    #[serde(default)]
    #[ts(optional, as = "Option<Vec<PhotoInput>>")]
    pub photos: Vec<PhotoInput>,
    /// The draft this form was saved under (dropped when the visit is saved).
    #[serde(default)]
    #[ts(optional)]
    pub draft_key: Option<String>,
}

/// A recorded visit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct VisitSaved {
    pub visit_id: Uuid,
    pub photo_ids: Vec<Uuid>,
    #[ts(optional)]
    pub referral_id: Option<Uuid>,
    pub saved_at: String,
}

/// `void_visit`: a visit recorded by mistake is voided with a reason, never erased.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct VoidVisit {
    pub visit_id: Uuid,
    pub reason: String,
}

// ───────────────────────────── drafts ─────────────────────────────

/// `save_draft`: a form's fields as the UI keeps them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct DraftInput {
    /// `visit`, `child`, `agreement`, …
    pub kind: String,
    /// What the form is for: a child id, or `new`.
    pub key: String,
    pub data: Value,
}

/// `get_draft`, `discard_draft`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct DraftRef {
    pub kind: String,
    pub key: String,
}

/// A saved draft.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct DraftSaved {
    pub saved_at: String,
}

// ───────────────────────────── agreements ─────────────────────────────

/// `save_agreement_draft`: create (no `draft_id`) or edit a draft. ID numbers sent back
/// exactly as masked in the view keep their stored value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct AgreementDraftInput {
    pub child_id: Uuid,
    #[serde(default)]
    #[ts(optional)]
    pub draft_id: Option<Uuid>,
    pub terms: AgreementTerms,
}

/// `agreement_preview`, `agreement_pdf`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct DraftId {
    pub draft_id: Uuid,
}

/// The full canonical text a draft would be signed with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct AgreementPreview {
    pub draft_id: Uuid,
    pub version: u32,
    /// The text to read aloud and sign, ID numbers masked for the screen (the signed
    /// text and its printed copy carry them in full).
    pub text: String,
    /// SHA-256 of the full text the signatures will be bound to.
    pub sha256: String,
    /// What must be filled in before it can be signed (empty = ready).
    pub problems: Vec<UserError>,
    /// Who must sign (`principal`, `caregiver`; `witness` if there is one).
    #[ts(as = "Vec<SignerRole>")]
    pub signers: Vec<String>,
}

/// One signer's signature on an agreement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct SignerInput {
    #[ts(as = "SignerRole")]
    pub role: String,
    pub name: String,
    pub signature: DrawnSignature,
}

/// `sign_agreement`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct SignAgreement {
    pub draft_id: Uuid,
    /// The hash shown with the text the signers read: signing fails if the draft
    /// changed since.
    pub sha256: String,
    pub signers: Vec<SignerInput>,
}

/// A signed agreement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct AgreementSigned {
    pub version_id: Uuid,
    pub version: u32,
    pub text_sha256: String,
    pub signature_ids: Vec<Uuid>,
}

/// `agreement`, `agreement_pdf`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct VersionRef {
    pub version_id: Uuid,
}

/// A signed agreement's full locked text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct AgreementTextView {
    pub version: AgreementVersionView,
    /// The signed text, ID numbers masked for the screen.
    pub text: String,
    pub child_name: String,
}

/// The printable copy for the family.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct PdfFile {
    pub file_name: String,
    pub pdf_base64: String,
}

/// `save_agreement_pdf` (the app shell): the printable copy and where the shell saved
/// it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct SavedPdf {
    pub file_name: String,
    pub pdf_base64: String,
    /// The saved file (shown to nobody; the page names the agreement).
    pub path: String,
}

/// The registration notice to read to the guardian.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct ConsentNotice {
    pub version: u32,
    pub zh: String,
    pub en: String,
    pub sha256: String,
}

// ───────────────────────────── checking a draft ─────────────────────────────

/// Which form a draft is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum DraftKind {
    /// A visit (`record_visit`'s arguments).
    Visit,
    /// A child's registration (`add_child`'s).
    Child,
    /// A care agreement draft (`save_agreement_draft`'s).
    Agreement,
    /// A new PIN as it is typed (`{"pin": …}`; `set_pin`'s and `change_pin`'s rules),
    /// answered before the app is unlocked too.
    Pin,
}

/// `check_draft`: a form as it is now — the arguments of the command that will save
/// it, any of them still missing or half typed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct CheckDraft {
    pub kind: DraftKind,
    pub draft: Value,
}

/// One problem of a draft: what, where (`field`), and whether it stops the save or
/// is a warning to read before saving.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct DraftProblem {
    #[serde(flatten)]
    pub error: UserError,
    pub blocks: bool,
}

/// Everything the device finds in a draft, at once, before anything is saved or
/// signed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct DraftCheck {
    /// Every problem, in the form's order; empty when all is well.
    pub problems: Vec<DraftProblem>,
    /// Nothing blocks: it can be saved (or signed).
    pub ready: bool,
    /// What the device fills in where the form left a field empty, by field (the next
    /// visit by the rule; sex and birth date read from the ID number; the agreement's
    /// witness): show them, editable.
    pub filled: serde_json::Map<String, Value>,
}

// ───────────────────────────── sync ─────────────────────────────

/// Which step a sync round is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum SyncStep {
    Push,
    Photos,
    Pull,
    Verify,
    Thumbnails,
}

/// Progress of the round in flight.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct SyncProgressView {
    #[ts(optional)]
    pub step: Option<SyncStep>,
    pub step_zh: String,
    pub step_en: String,
    pub records_done: u64,
    pub records_total: u64,
    pub bytes_done: u64,
    pub bytes_total: u64,
}

/// A change the server refused, shown until the director acts on it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct RejectedView {
    pub device_seq: u64,
    pub table: String,
    pub table_zh: String,
    pub table_en: String,
    pub row_id: Uuid,
    #[ts(optional)]
    pub child_id: Option<Uuid>,
    #[ts(optional)]
    pub child_name: Option<String>,
    pub field: String,
    pub field_zh: String,
    pub code: String,
    /// Why, in plain Chinese.
    pub zh: String,
    pub en: String,
    /// What to do about it.
    pub todo_zh: String,
    pub todo_en: String,
    /// The server's own words (English), for a supervisor.
    pub server_message: String,
    pub rejected_at: String,
}

/// The phone's clock is off.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct ClockWarning {
    /// How far the phone's clock is from the server's (positive = phone slow).
    pub offset_secs: i64,
    pub zh: String,
    pub en: String,
}

/// Everything the sync screen and the sync badge show.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct SyncState {
    pub enrolled: bool,
    /// A round is running now.
    pub in_flight: bool,
    #[ts(optional)]
    pub progress: Option<SyncProgressView>,
    /// Now on the phone's corrected clock (RFC 3339): what every time here is
    /// measured against (a phone whose own clock is wrong shows ages right when the
    /// screen uses this rather than its own clock).
    pub now: String,
    /// The end of the last round that finished WITHOUT error (never an attempt).
    #[ts(optional)]
    pub last_success_at: Option<String>,
    /// The start of the last round, successful or not.
    #[ts(optional)]
    pub last_attempt_at: Option<String>,
    /// Why the last round failed, if it did.
    #[ts(optional)]
    pub last_error: Option<UserError>,
    /// Whether the server answered the last probe (`None`: not tried yet).
    #[ts(optional)]
    pub online: Option<bool>,
    /// Seconds until the next automatic try, when one is planned.
    #[ts(optional)]
    pub next_try_secs: Option<u64>,
    /// Records (rows) saved on the phone, not yet on the server.
    pub pending_records: u64,
    /// Field changes behind them.
    pub pending_changes: u64,
    pub pending_photos: u64,
    pub pending_bytes: u64,
    /// Age of the oldest unsent record, seconds.
    #[ts(optional)]
    pub oldest_pending_secs: Option<u64>,
    pub rejected: Vec<RejectedView>,
    #[ts(optional)]
    pub clock_warning: Option<ClockWarning>,
    /// The children whose files left the phone in the last round that moved any (a
    /// village taken from the director, a child moved away), by name: the sync screen
    /// says who, not only how many.
    pub children_left: Vec<ChildLeftView>,
    /// What the last round that finished did.
    #[ts(optional)]
    pub last_round: Option<SyncSummary>,
    /// The newer app version the server offers, while this phone runs an older one.
    #[ts(optional)]
    pub update_available: Option<String>,
    /// The version this phone runs.
    pub app_version: String,
}

/// `acknowledge_rejected`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct RejectedRef {
    pub device_seq: u64,
}

/// A child whose file left this phone in a sync round: its village is no longer one
/// of the director's (taken away, or the child moved).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct ChildLeftView {
    pub child_id: Uuid,
    pub name: String,
    /// The village the child's file is in now (code).
    pub village: String,
}

/// What a finished round did (`fieldctl sync`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, TS)]
pub struct SyncSummary {
    pub pushed: u64,
    pub rejected: u64,
    pub pulled: u64,
    pub applied: u64,
    pub photos_uploaded: u64,
    pub photo_bytes_sent: u64,
    pub thumbnails_fetched: u64,
    pub mismatched_villages: Vec<String>,
    pub clock_offset_ms: i64,
    /// Children whose files left the phone, by name.
    pub children_left: Vec<ChildLeftView>,
}

/// `sync_now`: start a round (the app), or run one and wait for it (scripts).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct SyncNowInput {
    /// Run the round here and wait for it (scripts); the app leaves it false and
    /// watches `sync_state` events.
    #[serde(default)]
    #[ts(optional, as = "Option<bool>")]
    pub wait: bool,
    /// Network failures to retry (under the device's retry policy) before giving up.
    #[serde(default)]
    #[ts(optional, as = "Option<u32>")]
    pub retries: u32,
    /// Changes per push request (scripts, tests; default 500).
    #[serde(default)]
    #[ts(optional)]
    pub push_batch: Option<u32>,
    /// Changes per pull page (default 1000).
    #[serde(default)]
    #[ts(optional)]
    pub pull_page: Option<u32>,
    /// Fetch the thumbnails of others' photos (default yes).
    #[serde(default)]
    #[ts(optional)]
    pub fetch_thumbnails: Option<bool>,
}

/// `init` (not enrolled: which villages this phone holds, for offline tests and demos).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, TS)]
pub struct InitInput {
    #[serde(default)]
    #[ts(optional, as = "Option<Vec<String>>")]
    pub villages: Vec<String>,
}

/// The device's raw sync counters (`fieldctl status`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct DeviceStatus {
    pub device_id: String,
    pub villages: Vec<String>,
    pub children: u64,
    pub records: u64,
    pub outbox_changes: u64,
    #[ts(optional)]
    pub oldest_pending_secs: Option<u64>,
    pub rejected_changes: u64,
    pub pending_blobs: u64,
    pub pending_blob_bytes: u64,
    pub last_device_seq: u64,
    pub acked_seq: u64,
    pub pull_cursor: u64,
    pub clock_offset_ms: i64,
    pub last_hlc: String,
    #[ts(optional)]
    pub free_storage_bytes: Option<u64>,
}

/// The code lists' types, kept referenced so their TypeScript names stay exported.
#[allow(dead_code)]
#[derive(TS)]
pub(crate) struct CodeLists {
    pub category: Category,
    pub sex: Sex,
    pub risk: RiskColour,
    pub rating: GuardianshipRating,
    pub status: ChildStatus,
    pub exit: ExitReason,
    pub assistance: Assistance,
    pub role: GuardianRole,
    pub whereabouts: Whereabouts,
    pub mode: VisitMode,
    pub action: VisitAction,
    pub signer: SignerRole,
    pub referral: ReferralKind,
    pub task: domain::TaskKind,
    pub agreement_status: domain::AgreementStatus,
}

/// `sign_consent`: the notice acknowledged after the child was registered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct SignConsent {
    pub child_id: Uuid,
    pub consent: ConsentInput,
}
