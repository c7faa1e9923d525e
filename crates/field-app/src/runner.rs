//! The sync runner: one thread with its own connection to the phone's database, so a
//! sync in flight never freezes the screen.
//!
//! It syncs by itself: when the network comes back (it probes the server with back-off
//! and jitter — an OS "connected" flag says nothing about whether the server can be
//! reached), a few seconds after a save when the server was reachable, now and then to
//! bring in other people's edits, and at once on "sync now". Every step is reported as
//! an event; the time of the last round that finished without error is what the app
//! shows as "last synced", never the last attempt.

use crate::error::{Code, UserError};
use crate::events::{emit_to, AppEvent, EventSink};
use crate::lock::Keys;
use crate::round::{progress_view, retry_view, script_policy, summary, RunnerShared};
use crate::types::*;
use field_store::clock::SharedClock;
use field_store::sync::{Backoff, SyncOptions, SyncProgress};
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

type Reply = mpsc::Sender<Result<SyncSummary, UserError>>;

enum Msg {
    Open {
        path: PathBuf,
        key: Option<Zeroizing<String>>,
        clock_skew_ms: i64,
        clock: SharedClock,
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

    pub fn open(
        &self,
        path: PathBuf,
        key: Option<Zeroizing<String>>,
        clock_skew_ms: i64,
        clock: SharedClock,
    ) {
        let _ = self.tx.send(Msg::Open {
            path,
            key,
            clock_skew_ms,
            clock,
        });
    }

    pub fn close(&self) {
        let _ = self.tx.send(Msg::Close);
    }

    pub fn saved(&self) {
        let _ = self.tx.send(Msg::Saved);
    }

    pub fn sync_now(&self, reply: Option<Reply>, retries: u32) {
        lock(&self.shared).sync_requested = true;
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
                    clock,
                }) => {
                    let opts = OpenOptions {
                        key: key.as_ref().map(|k| k.to_string()),
                        clock_skew_ms,
                        relaxed_durability: false,
                    };
                    self.store = match Store::open(path, &opts) {
                        Ok(mut s) => {
                            s.set_device_clock(clock);
                            Some(s)
                        }
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
                        lock(&self.shared).next_try_at = next;
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
                            sh.last_attempt_at = self.store.as_ref().map(Store::now_china_rfc3339);
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
            Err(e) if e.code == Code::Network => backoff.next_delay(),
            Err(e) if e.code == Code::NotEnrolled || e.code == Code::Locked => return None,
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
        let policy = script_policy(retries);
        let sinks = self.sinks.clone();
        field_store::retry::retry(
            &policy,
            backoff.clone(),
            |e: &UserError| e.code == Code::Network,
            |attempt, _, wait| emit_to(&sinks, &AppEvent::SyncProgress(retry_view(attempt, wait))),
            std::thread::sleep,
            || self.round(),
        )
    }

    /// One sync round on the runner's own connection.
    fn round(&mut self) -> Result<SyncSummary, UserError> {
        if self.store.is_none() {
            lock(&self.shared).sync_requested = false;
            return Err(UserError::locked());
        }
        {
            let mut sh = lock(&self.shared);
            sh.in_flight = true;
            sh.sync_requested = false;
            sh.progress = None;
            sh.last_attempt_at = self.store.as_ref().map(Store::now_china_rfc3339);
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
        lock(&self.shared).finished(&result);
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
                as_of: Some(store.now_china_rfc3339()),
            });
            emit_to(&self.sinks, &AppEvent::SyncState(state));
        }
    }
}
