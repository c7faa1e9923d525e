//! What a sync round leaves behind that the database does not hold (in flight, the
//! last error, who left the phone, what it did) and how a round is told to the screen
//! (its progress, the wait before a retry): shared by the background runner, the
//! rounds `sync_now` runs for a script, and the sync screen's view.

use crate::error::{Code, UserError};
use crate::types::*;
use field_store::sync::{SyncPhase, SyncProgress, SyncReport};
use std::time::{Duration, Instant};

/// What the sync rounds left that the database does not hold: the background
/// runner's, or (without one) the rounds `sync_now` ran and waited for.
#[derive(Clone, Debug, Default)]
pub(crate) struct RunnerShared {
    pub in_flight: bool,
    /// "Sync now" was asked for and no round has started since: the screen shows the
    /// sync as under way from the tap on, so a person (or a script) never reads the
    /// state from before the tap as the answer to it.
    pub sync_requested: bool,
    pub progress: Option<SyncProgressView>,
    pub last_attempt_at: Option<String>,
    pub last_error: Option<UserError>,
    pub online: Option<bool>,
    pub next_try_at: Option<Instant>,
    /// Who left the phone in the last round that moved anyone.
    pub children_left: Vec<ChildLeftView>,
    /// What the last round that finished did.
    pub last_round: Option<SyncSummary>,
}

impl RunnerShared {
    /// Takes note of a round's end.
    pub fn finished(&mut self, result: &Result<SyncSummary, UserError>) {
        self.in_flight = false;
        self.progress = None;
        match result {
            Ok(summary) => {
                self.last_error = None;
                self.online = Some(true);
                if !summary.children_left.is_empty() {
                    self.children_left = summary.children_left.clone();
                }
                self.last_round = Some(summary.clone());
            }
            Err(e) => {
                self.online = Some(e.code != Code::Network);
                self.last_error = Some(e.clone());
            }
        }
    }
}

/// The retry policy of a sync someone waits for (`sync_now` with retries): the
/// device's policy for a person waiting, with the number of tries asked for.
pub(crate) fn script_policy(retries: u32) -> field_store::retry::RetryPolicy {
    field_store::retry::RetryPolicy {
        max_attempts: retries.saturating_add(1),
        ..field_store::retry::RetryPolicy::while_a_person_waits()
    }
}

/// "No network; trying again in N s", as a progress step (told before each wait).
pub(crate) fn retry_view(attempt: u32, wait: Duration) -> SyncProgressView {
    let secs = wait.as_secs_f64();
    SyncProgressView {
        step: None,
        step_zh: format!("网络不通，{secs:.1} 秒后第 {} 次重试", attempt),
        step_en: format!("no network; retry {attempt} in {secs:.1} s"),
        records_done: 0,
        records_total: 0,
        bytes_done: 0,
        bytes_total: 0,
    }
}

/// A sync round's progress as the screen shows it.
pub(crate) fn progress_view(p: &SyncProgress) -> SyncProgressView {
    let (step, zh, en) = match p.phase {
        Some(SyncPhase::Push) => (Some(SyncStep::Push), "上传记录", "sending records"),
        Some(SyncPhase::Blobs) => (Some(SyncStep::Photos), "上传照片", "sending photos"),
        Some(SyncPhase::Pull) => (Some(SyncStep::Pull), "下载更新", "receiving updates"),
        Some(SyncPhase::Verify) => (Some(SyncStep::Verify), "核对数据", "checking"),
        Some(SyncPhase::Thumbnails) => (
            Some(SyncStep::Thumbnails),
            "下载缩略图",
            "receiving thumbnails",
        ),
        None => (None, "同步中", "syncing"),
    };
    SyncProgressView {
        step,
        step_zh: zh.into(),
        step_en: en.into(),
        records_done: p.records_done,
        records_total: p.records_total,
        bytes_done: p.bytes_done,
        bytes_total: p.bytes_total,
    }
}

/// What a finished round did, as the device API says it.
pub(crate) fn summary(r: SyncReport) -> SyncSummary {
    SyncSummary {
        pushed: r.pushed,
        rejected: r.rejected,
        pulled: r.pulled,
        applied: r.applied,
        photos_uploaded: r.blobs_uploaded,
        photo_bytes_sent: r.blob_bytes_sent,
        thumbnails_fetched: r.thumbnails_fetched,
        mismatched_villages: r.mismatched_scopes,
        clock_offset_ms: r.clock_offset_ms,
        children_left: r
            .children_left
            .into_iter()
            .map(|c| ChildLeftView {
                child_id: c.child_id,
                name: c.name,
                village: c.village,
            })
            .collect(),
    }
}
