//! Storage: one [`Database`] trait, one implementation per backend ([`sqlite`] for the
//! embedded default, [`postgres`] for scale). Handlers and the admin CLI talk only to
//! the trait; all SQL lives in the backend modules; the rules of ingest (validation,
//! merge, re-scoping) live once in [`crate::ingest`] and both backends call it.
//!
//! Migrations are plain SQL files per backend (`migrations/<backend>/NNNN_*.sql`),
//! embedded at build time and applied at start.

pub mod discovery;
pub mod postgres;
mod postgres_discovery;
mod sql;
pub mod sqlite;
mod sqlite_discovery;

use crate::error::StoreError;
use crate::roster::Roster;
use async_trait::async_trait;
use std::collections::BTreeMap;
use sync_core::wire::{Heartbeat, PulledChange};
use sync_core::{Change, Scope, ScopeChecksum};
use uuid::Uuid;

pub use crate::ingest::{PushBatch, PushOutcome};
pub use crate::model::{Account, DeviceAuth, Principal, Role};

/// A stored one-time enrollment code (the secret part only as an argon2 hash).
#[derive(Clone, Debug)]
pub struct EnrollCodeRecord {
    pub code_id: String,
    pub account_id: i64,
    pub secret_hash: String,
    pub expires_ms: i64,
    pub used: bool,
    /// The device the code enrolled, once used.
    pub used_by: Option<Uuid>,
}

/// A device being enrolled.
#[derive(Clone)]
pub struct NewDevice {
    pub device_id: Uuid,
    pub name: String,
    pub app_version: String,
    /// SHA-256 of the bearer token; the token itself is never stored.
    pub token_hash: [u8; 32],
}

impl std::fmt::Debug for NewDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewDevice")
            .field("device_id", &self.device_id)
            .field("token_hash", &"<redacted>")
            .finish()
    }
}

/// Why an enrollment did not complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnrollRefusal {
    CodeUsed,
    DeviceExists,
}

/// A device row as enrollment reads it.
#[derive(Clone, PartialEq, Eq)]
pub struct EnrolledDevice {
    pub account_id: i64,
    pub revoked: bool,
    /// Whether its token was ever presented on a request.
    pub token_used: bool,
    /// SHA-256 of its current token.
    pub token_hash: [u8; 32],
}

impl std::fmt::Debug for EnrolledDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrolledDevice")
            .field("account_id", &self.account_id)
            .field("revoked", &self.revoked)
            .field("token_used", &self.token_used)
            .finish_non_exhaustive()
    }
}

/// What an enrollment starts from: the code and the device id as stored
/// (`crate::enrollment` decides with them).
#[derive(Clone, Debug, Default)]
pub struct EnrollmentState {
    pub code: Option<EnrollCodeRecord>,
    pub device: Option<EnrolledDevice>,
}

/// What an account reads, as the roster gives it: its role, the villages assigned to
/// it and the villages under its place. [`Role::reads`] picks; this only loads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountReach {
    pub account_id: i64,
    pub role: Role,
    /// Villages assigned to the account (a director's).
    pub assigned: Vec<String>,
    /// Every village under the account's place (its township, county or city).
    pub under_place: Vec<String>,
}

impl AccountReach {
    /// The account's principal.
    pub fn principal(self) -> Principal {
        Principal::new(
            self.account_id,
            self.role,
            self.role.reads(self.assigned, self.under_place),
        )
    }
}

/// A child's winning ID number as stored, with the child's tombstone
/// (`crate::one_file` decides with them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredIdNumber {
    pub child_id: Uuid,
    pub village: String,
    /// Canonical JSON of the winning `id_number`.
    pub id_number: String,
    /// Canonical JSON of the child's winning tombstone field, if it has one.
    pub tombstone: Option<String>,
}

/// A device as listed by `admin devices`.
#[derive(Clone, Debug)]
pub struct DeviceInfo {
    pub device_id: Uuid,
    pub account_login: String,
    pub name: String,
    pub app_version: String,
    pub enrolled_ms: i64,
    pub revoked_ms: Option<i64>,
    pub last_seen_ms: Option<i64>,
    pub max_device_seq: i64,
    pub heartbeat: Option<Heartbeat>,
    /// The device's `max_device_seq` when that heartbeat came (before its push's
    /// changes were held); older rows: none.
    pub heartbeat_seq: Option<i64>,
    /// Blobs the device finished uploading since that heartbeat.
    pub blobs_since_heartbeat: i64,
}

impl DeviceInfo {
    /// What the phone has not sent yet as of now, as far as the server knows: its last
    /// heartbeat's counts (taken before that push) less the changes held and the blobs
    /// received from it since. A phone that sent everything in its last round shows
    /// nothing pending, not the count it had before it sent.
    pub fn pending_now(&self) -> (u64, u64) {
        let Some(hb) = &self.heartbeat else {
            return (0, 0);
        };
        let sent = self
            .heartbeat_seq
            .map_or(0, |base| (self.max_device_seq - base).max(0) as u64);
        (
            hb.pending_changes.saturating_sub(sent),
            hb.pending_blobs
                .saturating_sub(self.blobs_since_heartbeat.max(0) as u64),
        )
    }
}

/// One line of a row's audit trail.
#[derive(Clone, Debug)]
pub struct AuditEntry {
    pub received_ms: i64,
    pub account_login: String,
    pub device_id: Uuid,
    pub table: String,
    pub field: String,
    pub hlc: sync_core::Hlc,
    pub op_id: Uuid,
}

/// One access-log row: a supervisor or admin read records of a village.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessLogEntry {
    pub account_id: i64,
    pub device_id: Uuid,
    pub scope: String,
    pub record_count: i64,
    pub at_ms: i64,
}

/// One page of the scope feed.
#[derive(Clone, Debug, Default)]
pub struct PullPage {
    pub changes: Vec<PulledChange>,
    pub next_cursor: u64,
    pub has_more: bool,
}

/// A feed entry a pull scanned: the change as handed out (its scope is the entry's
/// village) and whether the entry is a re-feed (the row moved into that village).
#[derive(Clone, Debug)]
pub struct ScannedEntry {
    pub pulled: PulledChange,
    pub refeed: bool,
}

/// Makes a pull page of the feed entries a backend scanned after the cursor, in
/// `server_seq` order, at most `limit + 1` of them: one rule for every backend.
///
/// Without `include_own`, the puller's own changes are left out where they entered the
/// feed when ingested (it holds them); re-fed entries are always sent (a device evicts
/// rows that leave its villages, so a row moving back may be missing on it). The
/// cursor comes from what was scanned, not from what is sent: a page of only the
/// puller's own changes still moves it on.
pub fn pull_page(
    mut scanned: Vec<ScannedEntry>,
    cursor: u64,
    limit: u32,
    puller: Uuid,
    include_own: bool,
) -> PullPage {
    let has_more = scanned.len() > limit as usize;
    scanned.truncate(limit as usize);
    let next_cursor = scanned
        .last()
        .map(|e| e.pulled.server_seq)
        .unwrap_or(cursor);
    let changes = scanned
        .into_iter()
        .filter(|e| include_own || e.refeed || e.pulled.change.device_id != puller)
        .map(|e| e.pulled)
        .collect();
    PullPage {
        changes,
        next_cursor,
        has_more,
    }
}

/// Access-log rows for a supervisor's or admin's pull page: one per village read.
/// Directors' pulls are not logged (they read their own villages).
pub fn access_entries(device: &DeviceAuth, page: &PullPage, now_ms: i64) -> Vec<AccessLogEntry> {
    if device.role == Role::Director {
        return Vec::new();
    }
    let mut counts: BTreeMap<&str, i64> = BTreeMap::new();
    for c in &page.changes {
        *counts.entry(c.change.scope.as_str()).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|(scope, n)| AccessLogEntry {
            account_id: device.account_id,
            device_id: device.device_id,
            scope: scope.to_string(),
            record_count: n,
            at_ms: now_ms,
        })
        .collect()
}

/// How much of a blob the server holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct BlobState {
    pub held_bytes: u64,
    /// The total size announced by the first chunk (None before any upload).
    pub total: Option<u64>,
    pub complete: bool,
}

impl BlobState {
    /// Every byte of the upload is held but the blob is not complete: its last chunk
    /// just arrived, or writing it to the blob store failed (a retry finishes it).
    pub fn held_in_full(&self) -> bool {
        !self.complete && self.held_bytes > 0 && self.total == Some(self.held_bytes)
    }
}

/// What appending a chunk did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppendOutcome {
    /// Stored; the upload continues.
    Appended { held_bytes: u64 },
    /// The offset did not match what the server holds (or `total` changed).
    Conflict { held_bytes: u64 },
    /// The server holds every byte ([`BlobState::held_in_full`]): verify them
    /// ([`Database::blob_held`]) and move them to the blob store. The chunks stay until
    /// [`Database::blob_finish`], so a failed store write can be retried.
    HeldInFull,
    /// The blob was already complete.
    AlreadyComplete { size: u64 },
}

/// What a backend does with a chunk, given what it holds: one rule for every backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChunkStep {
    /// Answer this, without storing the chunk.
    Answer(AppendOutcome),
    /// Store the chunk; the upload then holds `held_bytes`.
    Store { held_bytes: u64 },
}

/// The rule of a resumable upload: a chunk must start at the bytes held and keep the
/// announced total. An upload already held in full (its blob-store write failed) is
/// finished by ANY chunk of it — the last one sent again, or the whole from offset 0 —
/// without storing the chunk again.
pub fn chunk_step(state: &BlobState, offset: u64, total: u64, len: u64) -> ChunkStep {
    if state.complete {
        return ChunkStep::Answer(AppendOutcome::AlreadyComplete {
            size: state.held_bytes,
        });
    }
    if state.held_in_full() && state.total == Some(total) {
        return ChunkStep::Answer(AppendOutcome::HeldInFull);
    }
    if offset != state.held_bytes || state.total.is_some_and(|t| t != total) || offset + len > total
    {
        return ChunkStep::Answer(AppendOutcome::Conflict {
            held_bytes: state.held_bytes,
        });
    }
    ChunkStep::Store {
        held_bytes: offset + len,
    }
}

/// Counts after a roster import.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub places: usize,
    pub accounts: usize,
}

/// A change a revoked device handed over, kept aside.
#[derive(Clone, Debug, PartialEq)]
pub struct QuarantinedChange {
    pub device_id: Uuid,
    pub change: Change,
    pub received_ms: i64,
}

/// A place of the hierarchy as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlaceRow {
    pub code: String,
    pub kind: crate::roster::PlaceKind,
    pub name: String,
    pub parent: Option<String>,
}

/// An account as the console's admin pages list it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountRow {
    pub id: i64,
    pub login: String,
    pub name: String,
    pub role: Role,
    /// The township / county / city of a supervisor / admin.
    pub place: Option<String>,
    /// A director's villages.
    pub villages: Vec<String>,
}

/// A person's console login as stored (secrets only as Argon2id hashes).
#[derive(Clone, PartialEq, Eq)]
pub struct PersonRecord {
    pub account_id: i64,
    pub login: String,
    pub name: String,
    pub role: Role,
    pub place: Option<String>,
    pub password_hash: Option<String>,
    pub login_code_hash: Option<String>,
    pub login_code_expires_ms: Option<i64>,
    pub failed_logins: i64,
    pub locked_until_ms: Option<i64>,
}

impl std::fmt::Debug for PersonRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersonRecord")
            .field("account_id", &self.account_id)
            .field("role", &self.role)
            .field("failed_logins", &self.failed_logins)
            .finish_non_exhaustive()
    }
}

/// Whose failed console logins are counted: an account's, or those under a name that
/// is no console account (the SHA-256 of the lower-cased name, never the name), so that
/// such a login locks like a real one and no answer tells which logins exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginKey {
    Account(i64),
    Unknown([u8; 32]),
}

/// A console session as stored (the cookie only as its SHA-256).
#[derive(Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub token_hash: [u8; 32],
    pub account_id: i64,
    /// The CSRF token every form of this session carries.
    pub csrf: String,
    pub created_ms: i64,
    pub expires_ms: i64,
}

impl std::fmt::Debug for SessionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionRecord")
            .field("account_id", &self.account_id)
            .field("expires_ms", &self.expires_ms)
            .finish_non_exhaustive()
    }
}

/// One line of the console's access log: who viewed or exported what, when. The
/// subject is a place code, a child id or a file name, never a person's name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsoleLogEntry {
    pub account_id: i64,
    pub login: String,
    pub action: String,
    pub subject: String,
    pub at_ms: i64,
}

/// One synced row as the console reads it: its winning field values.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordRow {
    pub table: String,
    pub row_id: Uuid,
    /// The village the row is in now.
    pub scope: String,
    /// The child a non-child row follows.
    pub child_id: Option<Uuid>,
    pub fields: serde_json::Map<String, serde_json::Value>,
}

/// A child as the console's read model holds it (`console/projection.rs`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChildFacts {
    pub child_id: Uuid,
    pub village: String,
    pub name: String,
    pub risk_colour: String,
    /// Category codes.
    pub categories: Vec<String>,
    pub active: bool,
    pub added_on: String,
    pub last_visit_on: Option<String>,
    pub next_due_on: Option<String>,
    /// Last day of the latest signed (not voided) care agreement.
    pub agreement_until: Option<String>,
    /// When the next visit is due under the visit policy (None: exited).
    pub due_on: Option<String>,
    /// Left behind: needs a care agreement.
    pub left_behind: bool,
}

/// Which villages a console read covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VillageSet<'a> {
    /// Every village (the whole city: the store reads without a village filter, and
    /// per-village answers are kept by the caller).
    All,
    /// These villages.
    Only(&'a [String]),
}

/// One township's counts of the read model on a day (county and city views): what the
/// township view works out child by child, kept per township by the read model
/// (`console_area_counts`, see `console::area`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AreaCounts {
    pub township: String,
    /// Active children.
    pub children: i64,
    pub red: i64,
    pub yellow: i64,
    pub blue: i64,
    /// Active children whose visit was due before the day.
    pub overdue: i64,
    /// Left-behind children without an agreement valid on the day.
    pub agreements_missing: i64,
    /// Left-behind children whose agreement ends within the window.
    pub agreements_expiring: i64,
    /// Open referrals (not mandatory reports) of active children past their feedback date.
    pub referrals_late: i64,
    /// Open mandatory reports of active children past their feedback date.
    pub reports_late: i64,
}

/// A (not voided) visit in the read model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VisitFact {
    pub visit_id: Uuid,
    pub child_id: Uuid,
    pub village: String,
    pub visited_on: String,
}

/// A referral (or, `report`, a mandatory report) in the read model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReferralFact {
    pub referral_id: Uuid,
    pub child_id: Uuid,
    pub village: String,
    pub report: bool,
    pub feedback_due_on: String,
    pub open: bool,
}

/// The read model of some children, recomputed: replaces everything stored of them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProjectionUpdate {
    /// Every child recomputed (those without a child row are removed).
    pub child_ids: Vec<Uuid>,
    pub children: Vec<ChildFacts>,
    pub visits: Vec<VisitFact>,
    pub referrals: Vec<ReferralFact>,
}

/// Children whose records changed after a feed position.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Touched {
    pub child_ids: Vec<Uuid>,
    /// The last `server_seq` scanned (the cursor once these are folded in).
    pub last_seq: u64,
    pub more: bool,
}

/// Accounts, enrollment and devices: what the admin (CLI or console) and enrollment
/// need. Every method is one transaction.
#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    /// Creates or updates places and accounts from a roster (idempotent).
    async fn import_roster(&self, roster: &Roster) -> Result<ImportSummary, StoreError>;
    /// Finds an account by login.
    async fn account_by_login(&self, login: &str) -> Result<Option<Account>, StoreError>;
    /// Stores a new one-time enrollment code.
    async fn add_enroll_code(&self, code: EnrollCodeRecord, now_ms: i64) -> Result<(), StoreError>;
    /// Looks up an enrollment code by its public id.
    async fn enroll_code(&self, code_id: &str) -> Result<Option<EnrollCodeRecord>, StoreError>;
    /// The code `code_id` and the device `device_id` as stored (what
    /// [`crate::enrollment`] decides an enrollment with).
    async fn enrollment_state(
        &self,
        code_id: &str,
        device_id: Uuid,
    ) -> Result<EnrollmentState, StoreError>;
    /// Marks the code used by `device` and creates the device row, in one transaction —
    /// if the code is still unused and the device id still unknown; false (nothing
    /// written) if either changed since it was read.
    async fn enroll_new_device(
        &self,
        code_id: &str,
        device: NewDevice,
        now_ms: i64,
    ) -> Result<bool, StoreError>;
    /// Replaces a device's token hash — if the device row is still as read: holding
    /// `expected`, never presented, not revoked; false (nothing written) otherwise.
    async fn replace_device_token(
        &self,
        device_id: Uuid,
        expected: [u8; 32],
        token_hash: [u8; 32],
    ) -> Result<bool, StoreError>;
    /// What an account reads ([`AccountReach::principal`]).
    async fn principal(&self, account_id: i64) -> Result<Option<Principal>, StoreError>;
    /// The device holding a token (by the token's SHA-256), revoked or not. The first
    /// time a token is presented is recorded (`token_used_ms`): from then on the code
    /// that gave it cannot be redeemed again.
    async fn authenticate(
        &self,
        token_hash: [u8; 32],
        now_ms: i64,
    ) -> Result<Option<DeviceAuth>, StoreError>;
    /// A device by its id, revoked or not.
    async fn device_by_id(&self, device_id: Uuid) -> Result<Option<DeviceAuth>, StoreError>;
    /// Devices, optionally of one account.
    async fn devices(&self, account_login: Option<&str>) -> Result<Vec<DeviceInfo>, StoreError>;
    /// The devices `ids` (those that exist).
    async fn devices_by_id(&self, ids: &[Uuid]) -> Result<Vec<DeviceInfo>, StoreError>;
    /// Revokes a device; false if unknown.
    async fn revoke_device(&self, device_id: Uuid, now_ms: i64) -> Result<bool, StoreError>;
    /// Sets aside the unsent changes a revoked (lost) phone handed over, unapplied, for a
    /// person to review (idempotent per op_id). Returns how many the device has there.
    async fn quarantine(
        &self,
        device_id: Uuid,
        changes: Vec<Change>,
        now_ms: i64,
    ) -> Result<u64, StoreError>;
    /// Quarantined changes of one device, or of all, in device_seq order.
    async fn quarantined(
        &self,
        device_id: Option<Uuid>,
    ) -> Result<Vec<QuarantinedChange>, StoreError>;
    /// How many changes each revoked device has in the quarantine (devices with none
    /// are left out).
    async fn quarantine_counts(&self) -> Result<BTreeMap<Uuid, i64>, StoreError>;
    /// Forgets quarantined changes a person has decided on.
    async fn clear_quarantine(&self, device_id: Uuid, op_ids: Vec<Uuid>)
        -> Result<u64, StoreError>;
    /// The access log of supervisors' and admins' device pulls, newest first: at most
    /// `limit` lines, of `villages`, by `accounts` (all when None).
    async fn access_log(
        &self,
        villages: VillageSet<'_>,
        accounts: Option<&[i64]>,
        limit: i64,
    ) -> Result<Vec<AccessLogEntry>, StoreError>;
    /// Whether the store holds no places yet (used by `serve --seed-demo`).
    async fn is_empty(&self) -> Result<bool, StoreError>;
    /// Village codes that exist.
    async fn villages(&self) -> Result<Vec<String>, StoreError>;
}

/// The sync protocol's storage: push (through [`crate::ingest`]), pull, verify, audit.
#[async_trait]
pub trait SyncStore: Send + Sync + 'static {
    /// Validates and stores a batch of changes exactly once (see [`crate::ingest`]).
    async fn push(&self, device: &DeviceAuth, batch: PushBatch) -> Result<PushOutcome, StoreError>;
    /// A page of the feed of the device's read scopes after `cursor` (see
    /// [`pull_page`] for `include_own`). Supervisor and admin reads are written to the
    /// access log ([`access_entries`]).
    async fn pull(
        &self,
        device: &DeviceAuth,
        cursor: u64,
        limit: u32,
        include_own: bool,
        now_ms: i64,
    ) -> Result<PullPage, StoreError>;
    /// Per-scope checksums over the winning field versions of rows currently in scope.
    async fn checksums(
        &self,
        scopes: &[String],
    ) -> Result<BTreeMap<Scope, ScopeChecksum>, StoreError>;
    /// Who changed which field of a row, when (oldest first).
    async fn audit_row(&self, row_id: Uuid) -> Result<Vec<AuditEntry>, StoreError>;
    /// The winning `id_number` of every child file that has one, with its village and
    /// its tombstone, in every village (for [`crate::one_file`]: one child, one file
    /// across villages).
    async fn child_id_numbers(&self) -> Result<Vec<StoredIdNumber>, StoreError>;
}

/// Whom a blob upload or status is for: the device (chunks are kept per uploading
/// device) and the villages whose proof counts — the device's write villages for an
/// upload, its read villages for a status.
#[derive(Clone, Copy, Debug)]
pub struct Uploader<'a> {
    pub device_id: Uuid,
    pub scopes: &'a [String],
}

/// What a set of villages may do with a blob.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlobAccess {
    /// A row in the villages names the blob (so a device of theirs may upload it).
    pub named: bool,
    /// The blob is complete and a row in the villages names it whose village proved
    /// possession — a device that may write the row uploaded the bytes itself, verified
    /// against the hash — so it may be read there.
    pub proven: bool,
}

/// Resumable blob uploads: each device's chunks, complete blobs, which rows name a
/// blob and which of those references are proven (the bytes of complete blobs live in a
/// [`crate::blobs::BlobStore`]).
///
/// Proof of possession: naming a hash in a row grants nothing by itself. A reference
/// becomes proven when a device that may write the row uploads every byte of the blob
/// itself and they hash to the name; a blob is readable only through a proven
/// reference in the reader's villages (a proven reference moves with its row).
#[async_trait]
pub trait BlobUploads: Send + Sync + 'static {
    /// How much of a blob `uploader` holds: complete (`held_bytes` = size) when the
    /// blob is complete and proven in `uploader.scopes`, else that device's own chunks.
    async fn blob_state(
        &self,
        sha256: &str,
        uploader: Uploader<'_>,
    ) -> Result<BlobState, StoreError>;
    /// Appends a chunk of `uploader`'s upload at `offset` (see [`chunk_step`]).
    async fn blob_append(
        &self,
        sha256: &str,
        uploader: Uploader<'_>,
        offset: u64,
        total: u64,
        chunk: Vec<u8>,
    ) -> Result<AppendOutcome, StoreError>;
    /// The bytes of `device_id`'s upload held in full and not yet finished
    /// ([`BlobState::held_in_full`]), in order; None otherwise.
    async fn blob_held(
        &self,
        sha256: &str,
        uploader: Uploader<'_>,
    ) -> Result<Option<Vec<u8>>, StoreError>;
    /// Ends `uploader`'s upload: with `complete_size`, after its bytes were verified and
    /// reached the blob store, marks the blob complete and the references to it in
    /// `uploader.scopes` proven; without, discards the chunks (hash mismatch).
    async fn blob_finish(
        &self,
        sha256: &str,
        uploader: Uploader<'_>,
        complete_size: Option<u64>,
        now_ms: i64,
    ) -> Result<(), StoreError>;
    /// What `scopes` may do with this blob.
    async fn blob_access(&self, sha256: &str, scopes: &[String]) -> Result<BlobAccess, StoreError>;
}

/// What the supervisor console reads and keeps: people's logins and sessions, its
/// access log, the place tree, accounts, and its read model of the children.
#[async_trait]
pub trait ConsoleStore: Send + Sync + 'static {
    /// A person (supervisor or admin) by login, with their login secrets.
    async fn person(&self, login: &str) -> Result<Option<PersonRecord>, StoreError>;
    /// A person by account id.
    async fn person_by_id(&self, account_id: i64) -> Result<Option<PersonRecord>, StoreError>;
    /// Sets a one-time login code (Argon2id hash) for a person; failures reset.
    async fn set_login_code(
        &self,
        account_id: i64,
        code_hash: String,
        expires_ms: i64,
    ) -> Result<(), StoreError>;
    /// Sets a person's password (Argon2id hash), using up the one-time code.
    async fn set_password(&self, account_id: i64, password_hash: String) -> Result<(), StoreError>;
    /// Counts a failed login of `who` (atomically); returns the failures counted so far.
    async fn count_failed_login(&self, who: LoginKey) -> Result<i64, StoreError>;
    /// Locks `who`'s login until `until_ms`.
    async fn lock_login(&self, who: LoginKey, until_ms: i64) -> Result<(), StoreError>;
    /// Until when a name that is no console account is locked (after failed logins).
    async fn unknown_login_locked(&self, key: [u8; 32]) -> Result<Option<i64>, StoreError>;
    /// The deployment's secret for signing login-form tokens (made at first use; every
    /// server process gets the same).
    async fn console_secret(&self) -> Result<[u8; 32], StoreError>;
    /// Sets an account's display name (the admin's edit in the console).
    async fn rename_account(&self, login: &str, name: &str) -> Result<bool, StoreError>;
    /// Clears the failure count after a good login.
    async fn login_succeeded(&self, account_id: i64) -> Result<(), StoreError>;
    /// Stores a new session.
    async fn add_session(&self, session: SessionRecord) -> Result<(), StoreError>;
    /// The session behind a cookie's hash, if it has not expired.
    async fn session(
        &self,
        token_hash: [u8; 32],
        now_ms: i64,
    ) -> Result<Option<SessionRecord>, StoreError>;
    /// Ends a session (logout).
    async fn end_session(&self, token_hash: [u8; 32]) -> Result<(), StoreError>;
    /// Writes a line of the console's access log.
    async fn log_console(&self, entry: ConsoleLogEntry) -> Result<(), StoreError>;
    /// The console's access log, newest first, at most `limit` lines, of `accounts`
    /// (all when None).
    async fn console_log(
        &self,
        accounts: Option<&[i64]>,
        limit: i64,
    ) -> Result<Vec<ConsoleLogEntry>, StoreError>;
    /// Every place.
    async fn places(&self) -> Result<Vec<PlaceRow>, StoreError>;
    /// The names of the places `codes` (a code the roster does not have is left out).
    async fn place_names(&self, codes: &[String]) -> Result<BTreeMap<String, String>, StoreError>;
    /// `code`, every place under it and every place above it (a view's part of the
    /// tree), and how many villages there are in all.
    async fn places_around(&self, code: &str) -> Result<(Vec<PlaceRow>, usize), StoreError>;
    /// Every account with its place or villages.
    async fn accounts(&self) -> Result<Vec<AccountRow>, StoreError>;
    /// The directors of any of `villages`, each with all their villages.
    async fn directors_in(&self, villages: VillageSet<'_>) -> Result<Vec<AccountRow>, StoreError>;
    /// Held rejections per device.
    async fn rejection_counts(&self) -> Result<BTreeMap<Uuid, i64>, StoreError>;
    /// The devices of the directors of any of `villages`, by login then enrolment.
    async fn director_devices(
        &self,
        villages: VillageSet<'_>,
    ) -> Result<Vec<DeviceInfo>, StoreError>;
    /// The read model's cursor (last `server_seq` folded in).
    async fn console_cursor(&self) -> Result<u64, StoreError>;
    /// Children whose records have feed entries after `after_seq` (at most `limit`
    /// entries scanned).
    async fn console_touched(&self, after_seq: u64, limit: i64) -> Result<Touched, StoreError>;
    /// The child rows `child_ids` and every row that follows them.
    async fn child_records(&self, child_ids: &[Uuid]) -> Result<Vec<RecordRow>, StoreError>;
    /// Replaces the read model of `update.child_ids` and moves the cursor from
    /// `from_seq` to `to_seq` — only if the cursor is still `from_seq` (another refresher
    /// may have gone further); returns whether it was applied.
    async fn console_apply(
        &self,
        from_seq: u64,
        to_seq: u64,
        update: ProjectionUpdate,
    ) -> Result<bool, StoreError>;
    /// The names of the children `ids` the read model knows (for pages that name the
    /// children a log or a quarantine refers to by id).
    async fn console_child_names(&self, ids: &[Uuid]) -> Result<Vec<(Uuid, String)>, StoreError>;
    /// The read model's children of `villages`.
    async fn console_children(&self, villages: &[String]) -> Result<Vec<ChildFacts>, StoreError>;
    /// Visits per day to children of `villages` on or after `since` (YYYY-MM-DD):
    /// (day, visits), counted by the database.
    async fn console_visits_per_day(
        &self,
        villages: VillageSet<'_>,
        since: &str,
    ) -> Result<Vec<(String, i64)>, StoreError>;
    /// The township summaries of `townships` that are up to date for `today` (county
    /// and city views). A township left out has no summary yet, or one a fold or an
    /// earlier day made stale: [`ConsoleStore::console_refresh_areas`] makes it.
    async fn console_area_counts(
        &self,
        townships: &[String],
        today: &str,
    ) -> Result<Vec<AreaCounts>, StoreError>;
    /// Recomputes the summaries of `townships` for `today` from the read model
    /// (agreements ending on or before `expiring_by` count as expiring) and returns
    /// them; a township that had no summary gets its visits per day counted too. Runs
    /// under the read model's cursor lock, so no fold commits in between.
    async fn console_refresh_areas(
        &self,
        townships: &[String],
        today: &str,
        expiring_by: &str,
    ) -> Result<Vec<AreaCounts>, StoreError>;
    /// Visits per day in `townships` on or after `since`, from the township summaries
    /// (every township of the list must have one: see `console_refresh_areas`).
    async fn console_area_visits_per_day(
        &self,
        townships: &[String],
        since: &str,
    ) -> Result<Vec<(String, i64)>, StoreError>;
    /// Which of `child_ids` are active children overdue on `today`: (child, village).
    async fn console_overdue_of(
        &self,
        child_ids: &[Uuid],
        today: &str,
    ) -> Result<Vec<(Uuid, String)>, StoreError>;
    /// Open referrals and reports of `villages`.
    async fn console_open_referrals(
        &self,
        villages: &[String],
    ) -> Result<Vec<ReferralFact>, StoreError>;
}

/// The server's storage: every role's trait. Handlers and the admin CLI hold an
/// `Arc<dyn Database>` and call the role they need; each backend implements the roles.
pub trait Database:
    AccountStore + SyncStore + BlobUploads + ConsoleStore + discovery::DiscoveryStore
{
}

impl<T: AccountStore + SyncStore + BlobUploads + ConsoleStore + discovery::DiscoveryStore> Database
    for T
{
}

/// Benchmark helpers, kept out of the production traits: baselines measured beside
/// the real path in the same run (`sync-server bench-ingest`).
#[async_trait]
pub trait BenchStore: Send + Sync + 'static {
    /// Plain INSERTs of the same changes into a scratch table with the same columns as
    /// the change log, in one transaction.
    async fn bench_plain_insert(&self, changes: &[Change]) -> Result<(), StoreError>;
    /// Baseline of the console benchmark: the plain SELECT of the read model's child
    /// rows of `villages` (every column, decoded, nothing computed). Returns the rows.
    async fn bench_console_rows(&self, villages: &[String]) -> Result<usize, StoreError>;
}

/// A store that can also run the benchmark baselines.
pub trait BenchDatabase: Database + BenchStore {}

impl<T: Database + BenchStore> BenchDatabase for T {}

/// Opens the backend named by the settings and applies its migrations.
pub async fn open(
    database_url: Option<&str>,
    data_dir: &std::path::Path,
) -> Result<std::sync::Arc<dyn Database>, StoreError> {
    let db: std::sync::Arc<dyn Database> = open_bench(database_url, data_dir).await?;
    Ok(db)
}

/// [`open`], with the benchmark baselines reachable.
pub async fn open_bench(
    database_url: Option<&str>,
    data_dir: &std::path::Path,
) -> Result<std::sync::Arc<dyn BenchDatabase>, StoreError> {
    match database_url {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => Ok(
            std::sync::Arc::new(postgres::PostgresDatabase::open(url).await?),
        ),
        Some(other) => Err(StoreError::Invalid(format!(
            "unsupported database url scheme (expected postgres://): {}",
            other.split(':').next().unwrap_or("")
        ))),
        None => {
            std::fs::create_dir_all(data_dir)?;
            Ok(std::sync::Arc::new(sqlite::SqliteDatabase::open(
                &data_dir.join("tonghu.sqlite3"),
            )?))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sync_core::{Hlc, Scope};

    fn entry(seq: u64, device: Uuid, refeed: bool) -> ScannedEntry {
        ScannedEntry {
            pulled: PulledChange {
                server_seq: seq,
                change: Change {
                    op_id: Uuid::now_v7(),
                    device_id: device,
                    device_seq: seq,
                    table: "child".into(),
                    row_id: Uuid::nil(),
                    field: "name".into(),
                    value: serde_json::json!("x"),
                    hlc: Hlc::new(1, 0),
                    scope: Scope::new("A"),
                },
            },
            refeed,
        }
    }

    #[test]
    fn own_changes_are_skipped_but_the_cursor_follows_the_scan() {
        let (me, other) = (Uuid::now_v7(), Uuid::now_v7());
        let seqs = |p: &PullPage| p.changes.iter().map(|c| c.server_seq).collect::<Vec<_>>();
        // A page of only own changes: nothing sent, the cursor moves past them.
        let scanned = vec![
            entry(3, me, false),
            entry(4, me, false),
            entry(7, other, false),
        ];
        let p = pull_page(scanned.clone(), 2, 2, me, false);
        assert_eq!((seqs(&p), p.next_cursor, p.has_more), (vec![], 4, true));
        let p = pull_page(scanned.clone(), 2, 5, me, false);
        assert_eq!((seqs(&p), p.next_cursor, p.has_more), (vec![7], 7, false));
        let p = pull_page(scanned, 2, 5, me, true);
        assert_eq!(seqs(&p), vec![3, 4, 7]);
        // Re-fed entries are sent even when they are the puller's own.
        let p = pull_page(vec![entry(9, me, true)], 8, 5, me, false);
        assert_eq!(seqs(&p), vec![9]);
        // Nothing scanned: the cursor stays.
        let p = pull_page(vec![], 8, 5, me, false);
        assert_eq!((seqs(&p), p.next_cursor, p.has_more), (vec![], 8, false));
    }
}
