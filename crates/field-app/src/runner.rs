//! The sync runner: one thread with its own connection to the phone's database, so a
//! sync in flight never freezes the screen.
//!
//! It syncs by itself: when the network comes back (it probes the server with back-off
//! and jitter — an OS "connected" flag says nothing about whether the server can be
//! reached), a few seconds after a save when the server was reachable, now and then to
//! bring in other people's edits, and at once on "sync now". Every step is reported as
//! an event; the time of the last round that finished without error is what the app
//! shows as "last synced", never the last attempt.

use crate::app::{emit_to, EventSink};
use crate::error::UserError;
use crate::lock::Keys;
use crate::types::*;
use field_store::sync::{Backoff, SyncOptions, SyncPhase, SyncProgress, SyncReport};
use field_store::{OpenOptions, Store};
use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// When and how the runner syncs.
#[derive(Clone, Debug)]
pub struct RunnerConfig {
    /// First wait after the server could not be reached; doubles up to `probe_cap`.
    pub probe_base: Duration,
    pub probe_cap: Duration,
    /// How long a probe may take.
    pub probe_timeout: Duration,
    /// Sync this long after a save (several saves in a row make one round).
    pub after_save: Duration,
    /// Sync this often while the server is reachable, to bring in others' edits.
    pub periodic: Duration,
    pub sync: SyncOptions,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        RunnerConfig {
            probe_base: Duration::from_secs(5),
            probe_cap: Duration::from_secs(5 * 60),
            probe_timeout: Duration::from_secs(5),
            after_save: Duration::from_secs(3),
            periodic: Duration::from_secs(15 * 60),
            sync: SyncOptions::default(),
        }
    }
}

/// What the runner knows that the database does not.
#[derive(Clone, Debug, Default)]
pub(crate) struct RunnerShared {
    pub in_flight: bool,
    pub progress: Option<SyncProgressView>,
    pub last_attempt_at: Option<String>,
    pub last_error: Option<UserError>,
    pub online: Option<bool>,
    pub next_try_at: Option<Instant>,
}

type Reply = mpsc::Sender<Result<SyncSummary, UserError>>;

enum Msg {
    Open {
        path: PathBuf,
        key: Option<Zeroizing<String>>,
        clock_skew_ms: i64,
    },
    Close,
    Saved,
    SyncNow {
        reply: Option<Reply>,
        retries: u32,
    },
    Shutdown,
}

/// The handle the app keeps.
pub(crate) struct Runner {
    tx: mpsc::Sender<Msg>,
    pub shared: Arc<Mutex<RunnerShared>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Runner {
    pub fn start(cfg: RunnerConfig, sinks: Arc<Mutex<Vec<EventSink>>>, keys: Keys) -> Runner {
        let (tx, rx) = mpsc::channel();
        let shared: Arc<Mutex<RunnerShared>> = Arc::default();
        let thread = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("sync-runner".into())
                .spawn(move || {
                    Worker {
                        cfg,
                        shared,
                        sinks,
                        keys,
                        store: None,
                    }
                    .run(rx)
                })
                .ok()
        };
        Runner { tx, shared, thread }
    }

    pub fn open(&self, path: PathBuf, key: Option<Zeroizing<String>>, clock_skew_ms: i64) {
        let _ = self.tx.send(Msg::Open {
            path,
            key,
            clock_skew_ms,
        });
    }

    pub fn close(&self) {
        let _ = self.tx.send(Msg::Close);
    }

    pub fn saved(&self) {
        let _ = self.tx.send(Msg::Saved);
    }

    pub fn sync_now(&self, reply: Option<Reply>, retries: u32) {
        let _ = self.tx.send(Msg::SyncNow { reply, retries });
    }

    pub fn snapshot(&self) -> RunnerShared {
        lock(&self.shared).clone()
    }

    pub fn shutdown(&mut self) {
        let _ = self.tx.send(Msg::Shutdown);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn lock(m: &Mutex<RunnerShared>) -> std::sync::MutexGuard<'_, RunnerShared> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

struct Worker {
    cfg: RunnerConfig,
    shared: Arc<Mutex<RunnerShared>>,
    sinks: Arc<Mutex<Vec<EventSink>>>,
    keys: Keys,
    store: Option<Store>,
}

impl Worker {
    fn run(mut self, rx: mpsc::Receiver<Msg>) {
        let mut backoff = Backoff::new(self.cfg.probe_base, self.cfg.probe_cap);
        let mut next: Option<Instant> = None;
        loop {
            let msg = match next {
                Some(t) => rx.recv_timeout(t.saturating_duration_since(Instant::now())),
                None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            };
            match msg {
                Ok(Msg::Open {
                    path,
                    key,
                    clock_skew_ms,
                }) => {
                    let opts = OpenOptions {
                        key: key.as_ref().map(|k| k.to_string()),
                        clock_skew_ms,
                        relaxed_durability: false,
                    };
                    self.store = match Store::open(path, &opts) {
                        Ok(s) => Some(s),
                        Err(e) => {
                            // Without its own connection the runner cannot sync; the
                            // screen says so instead of waiting forever.
                            lock(&self.shared).last_error = Some(e.into());
                            None
                        }
                    };
                    backoff.reset();
                    next = Some(Instant::now());
                }
                Ok(Msg::Close) => {
                    self.store = None;
                    next = None;
                    lock(&self.shared).next_try_at = None;
                }
                Ok(Msg::Saved) => {
                    let online = lock(&self.shared).online;
                    if self.store.is_some() && online != Some(false) {
                        let soon = Instant::now() + self.cfg.after_save;
                        next = Some(next.map_or(soon, |n| n.min(soon)));
                    }
                    self.publish_state();
                }
                Ok(Msg::SyncNow { reply, retries }) => {
                    let result = self.round_with_retries(retries, &mut backoff);
                    next = self.schedule(&result, &mut backoff);
                    if let Some(r) = reply {
                        let _ = r.send(result);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    if self.store.is_none() {
                        next = None;
                        continue;
                    }
                    if !self.enrolled() {
                        next = None;
                        continue;
                    }
                    if self.probe() {
                        let result = self.round();
                        next = self.schedule(&result, &mut backoff);
                    } else {
                        let wait = backoff.next_delay();
                        {
                            let mut sh = lock(&self.shared);
                            sh.online = Some(false);
                            sh.next_try_at = Some(Instant::now() + wait);
                            sh.last_attempt_at = Some(chrono::Utc::now().to_rfc3339());
                            sh.last_error = Some(
                                field_store::sync::SyncError::Network(
                                    "the server did not answer".into(),
                                )
                                .into(),
                            );
                        }
                        next = Some(Instant::now() + wait);
                        self.publish_state();
                    }
                }
                Ok(Msg::Shutdown) | Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    fn enrolled(&self) -> bool {
        self.store
            .as_ref()
            .and_then(|s| s.enrollment().ok().flatten())
            .is_some()
    }

    /// When to try next after a round that ended with `result`.
    fn schedule(
        &self,
        result: &Result<SyncSummary, UserError>,
        backoff: &mut Backoff,
    ) -> Option<Instant> {
        let wait = match result {
            Ok(_) => {
                backoff.reset();
                self.cfg.periodic
            }
            Err(e) if e.code == "network" => backoff.next_delay(),
            Err(e) if e.code == "not_enrolled" || e.code == "locked" => return None,
            Err(_) => self.cfg.periodic,
        };
        let at = Instant::now() + wait;
        lock(&self.shared).next_try_at = Some(at);
        self.publish_state();
        Some(at)
    }

    /// Whether the server answers at all (a cheap request before a round).
    fn probe(&self) -> bool {
        let Some(Ok(Some((base, _)))) = self.store.as_ref().map(|s| s.enrollment()) else {
            return false;
        };
        let Ok(client) = reqwest::blocking::Client::builder()
            .timeout(self.cfg.probe_timeout)
            .build()
        else {
            return false;
        };
        client
            .get(format!("{base}/healthz"))
            .send()
            .map(|r| r.status().is_success())
            .unwrap_or(false)
    }

    fn round_with_retries(
        &mut self,
        retries: u32,
        backoff: &mut Backoff,
    ) -> Result<SyncSummary, UserError> {
        let mut attempt = 0;
        loop {
            match self.round() {
                Err(e) if e.code == "network" && attempt < retries => {
                    attempt += 1;
                    std::thread::sleep(backoff.next_delay());
                }
                other => return other,
            }
        }
    }

    /// One sync round on the runner's own connection.
    fn round(&mut self) -> Result<SyncSummary, UserError> {
        if self.store.is_none() {
            return Err(UserError::locked());
        }
        {
            let mut sh = lock(&self.shared);
            sh.in_flight = true;
            sh.progress = None;
            sh.last_attempt_at = Some(chrono::Utc::now().to_rfc3339());
        }
        self.publish_state();
        let sinks = self.sinks.clone();
        let shared = self.shared.clone();
        let store = self.store.as_mut().ok_or_else(UserError::locked)?;
        let mut on_progress = |p: &SyncProgress| {
            let view = progress_view(p);
            lock(&shared).progress = Some(view.clone());
            emit_to(&sinks, &AppEvent::SyncProgress(view));
        };
        let result = field_store::sync::sync_once(store, &self.cfg.sync, &mut on_progress)
            .map(summary)
            .map_err(UserError::from);
        {
            let mut sh = lock(&self.shared);
            sh.in_flight = false;
            sh.progress = None;
            match &result {
                Ok(_) => {
                    sh.last_error = None;
                    sh.online = Some(true);
                }
                Err(e) => {
                    sh.online = Some(e.code != "network");
                    sh.last_error = Some(e.clone());
                }
            }
        }
        self.publish_state();
        result
    }

    fn publish_state(&self) {
        let Some(store) = self.store.as_ref() else {
            return;
        };
        let shared = lock(&self.shared).clone();
        if let Ok(state) = crate::views::sync_state(store, &shared) {
            self.keys.save_summary(&UnsyncedSummary {
                records: state.pending_records,
                photos: state.pending_photos,
                as_of: Some(chrono::Utc::now().to_rfc3339()),
            });
            emit_to(&self.sinks, &AppEvent::SyncState(state));
        }
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
    }
}
