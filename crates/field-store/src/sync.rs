//! The sync client: what happens when the phone sees a network.
//!
//! One round ([`sync_once`]) is: push the outbox in order and in batches (with a
//! heartbeat) → upload the blobs those records name, resumably → pull pages after the
//! cursor (without this device's own changes), each applied with its cursor in one
//! transaction → compare per-scope checksums and re-fetch a scope that disagrees (own
//! changes included) → fetch missing thumbnails.
//!
//! Every step is safe to cut at any byte and to repeat: pushes are deduplicated by
//! op_id on the server, a page is applied with its cursor atomically, a blob upload
//! resumes from the last byte the server holds. The clock is corrected from every
//! response; a far-future stamp the server refuses is re-stamped and sent again. A
//! revoked device (a lost phone) hands its unsent changes over for quarantine and then
//! wipes its data.

use crate::blobs::BlobKind;
use crate::error::StoreError;
use crate::store::Store;
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::time::Duration;
use sync_core::wire::{
    codes, paths, EnrollRequest, ErrorBody, Heartbeat, PullRequest, PullResponse, PushRequest,
    PushResponse, VerifyRequest, VerifyResponse, PROTOCOL_VERSION,
};
use uuid::Uuid;

/// The app version sent in heartbeats.
pub const APP_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Tuning of one sync round.
#[derive(Clone, Debug)]
pub struct SyncOptions {
    /// Changes per push request.
    pub push_batch: usize,
    /// Changes per pull page.
    pub pull_page: u32,
    /// Bytes per blob chunk.
    pub chunk_bytes: usize,
    /// Fetch thumbnails of photos in the device's villages.
    pub fetch_thumbnails: bool,
    /// Upload photos and signature images in this round (a phone may keep them for
    /// Wi-Fi; records always go).
    pub upload_blobs: bool,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Counts every blob byte put on the wire, including chunks whose request failed
    /// (tests use it to prove an interrupted upload resumes instead of restarting).
    pub blob_meter: Option<std::sync::Arc<std::sync::atomic::AtomicU64>>,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            push_batch: 500,
            pull_page: 1000,
            chunk_bytes: 64 * 1024,
            fetch_thumbnails: true,
            upload_blobs: true,
            timeout: Duration::from_secs(30),
            blob_meter: None,
        }
    }
}

/// Which step a round is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncPhase {
    Push,
    Blobs,
    Pull,
    Verify,
    Thumbnails,
}

impl SyncPhase {
    /// The phase as a director reads it.
    pub fn label_zh(self) -> &'static str {
        match self {
            SyncPhase::Push => "上传记录",
            SyncPhase::Blobs => "上传照片",
            SyncPhase::Pull => "下载更新",
            SyncPhase::Verify => "核对数据",
            SyncPhase::Thumbnails => "下载缩略图",
        }
    }
}

/// Progress of a round, reported after every request.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SyncProgress {
    pub phase: Option<SyncPhase>,
    pub records_done: u64,
    pub records_total: u64,
    pub bytes_done: u64,
    pub bytes_total: u64,
}

/// What a round did.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SyncReport {
    pub pushed: u64,
    pub rejected: u64,
    pub restamped: u64,
    pub pulled: u64,
    pub applied: u64,
    pub evicted_children: u64,
    /// The children whose files left the phone this round, by name (their village
    /// was taken from the director, or they moved away).
    pub children_left: Vec<crate::apply::LeftChild>,
    pub blobs_uploaded: u64,
    pub blob_bytes_sent: u64,
    pub thumbnails_fetched: u64,
    pub mismatched_scopes: Vec<String>,
    /// The account's villages changed on the server and this device followed.
    pub villages_changed: bool,
    pub clock_offset_ms: i64,
    /// Bytes of request and response bodies on the wire (compressed), both ways.
    pub wire_bytes_up: u64,
    pub wire_bytes_down: u64,
    /// Compressed bytes of push request bodies alone.
    pub push_bytes_up: u64,
    /// Number of HTTP requests made.
    pub requests: u64,
    /// Wall time of every request, ms (for latency percentiles in load tests).
    #[serde(skip)]
    pub request_ms: Vec<u32>,
}

/// Why a round stopped.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// No network, a timeout, a cut connection or a 5xx: try again later.
    #[error("network problem: {0}")]
    Network(String),
    /// This device was revoked (a lost phone); its data has been wiped.
    #[error("this device was revoked; local data was wiped")]
    Revoked,
    /// The device is not enrolled, or its token is not accepted.
    #[error("not enrolled or not authorised: {0}")]
    Unauthorized(String),
    /// The server refused a request for a reason that retrying will not fix.
    #[error("server refused the request ({code}): {message}")]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SyncError {
    /// Whether a later retry (with back-off) may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, SyncError::Network(_))
    }

    pub fn code(&self) -> &str {
        match self {
            SyncError::Network(_) => "network",
            SyncError::Revoked => codes::DEVICE_REVOKED,
            SyncError::Unauthorized(_) => "unauthorized",
            SyncError::Refused { code, .. } => code,
            SyncError::Store(e) => e.code(),
        }
    }

    /// The sentence a director sees.
    pub fn zh(&self) -> String {
        match self {
            SyncError::Network(_) => "网络不通，数据已安全保存在手机上，有信号时会自动同步".into(),
            SyncError::Revoked => "此手机已被停用，本机数据已清除。请联系乡镇督导员".into(),
            SyncError::Unauthorized(_) => "手机尚未登记或登记已失效，请重新输入登记码".into(),
            SyncError::Refused { code, .. } => {
                let t = domain::rejection::explain(code);
                format!("{}{}", t.zh, t.what_to_do_zh)
            }
            SyncError::Store(e) => e.zh(),
        }
    }
}

type SyncResult<T> = Result<T, SyncError>;

/// What enrollment gave this device.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Enrollment {
    pub device_id: Uuid,
    pub token: String,
    /// The account's id (the server may send a number or a string).
    #[serde(deserialize_with = "string_or_number")]
    pub account_id: String,
    pub role: String,
    pub scopes: Vec<String>,
    pub server_time_ms: u64,
    /// Village code → name, as the roster names them (absent from older servers).
    #[serde(default)]
    pub village_names: std::collections::BTreeMap<String, String>,
}

fn string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Ok(s),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!(
            "unexpected account id {other}"
        ))),
    }
}

/// Blob upload status as the server reports it.
#[derive(Clone, Debug, Deserialize)]
struct BlobStatus {
    held_bytes: u64,
    complete: bool,
}

/// The device's back-off (see [`crate::retry`]); here too for callers of before.
pub use crate::retry::Backoff;

fn http(opts: &SyncOptions) -> SyncResult<reqwest::blocking::Client> {
    reqwest::blocking::Client::builder()
        .timeout(opts.timeout)
        .connect_timeout(Duration::from_secs(10))
        .gzip(true)
        .build()
        .map_err(|e| SyncError::Network(e.to_string()))
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = enc.write_all(bytes);
    enc.finish().unwrap_or_default()
}

/// Turns a non-2xx response into an error (reading the server's ErrorBody).
fn refusal(resp: reqwest::blocking::Response) -> SyncError {
    let status = resp.status().as_u16();
    let body: Option<ErrorBody> = resp.json().ok();
    let (code, message) = body
        .map(|b| (b.code, b.message))
        .unwrap_or_else(|| ("http".into(), format!("HTTP {status}")));
    match status {
        401 if code == codes::DEVICE_REVOKED => SyncError::Revoked,
        401 => SyncError::Unauthorized(message),
        500..=599 | 408 | 429 => SyncError::Network(format!("HTTP {status}: {message}")),
        _ => SyncError::Refused {
            status,
            code,
            message,
        },
    }
}

fn net(e: reqwest::Error) -> SyncError {
    SyncError::Network(e.to_string())
}

impl Store {
    /// Saves what enrollment returned (server, token, villages).
    pub fn save_enrollment(&mut self, server_url: &str, e: &Enrollment) -> crate::Result<()> {
        if e.device_id != self.device_id {
            // A device provisioned by an admin gets its identity from the server; a
            // store may take it only while it has written nothing under its own.
            let st = self.device_state()?;
            if st.next_seq != 1 {
                return Err(StoreError::Corrupt(format!(
                    "enrollment is for device {}, but this store already wrote as {}",
                    e.device_id, self.device_id
                )));
            }
            self.conn.execute(
                "UPDATE device SET device_id = ?1",
                [e.device_id.to_string()],
            )?;
            self.device_id = e.device_id;
        }
        let scopes =
            serde_json::to_string(&e.scopes).map_err(|x| StoreError::Corrupt(x.to_string()))?;
        self.conn.execute(
            "UPDATE device SET server_url = ?1, token = ?2, account_id = ?3, role = ?4, scopes = ?5 WHERE id = 1",
            params![server_url, e.token, e.account_id, e.role, scopes],
        )?;
        self.set_village_names(&e.village_names)?;
        Ok(())
    }

    /// The server URL and token, if enrolled.
    pub fn enrollment(&self) -> crate::Result<Option<(String, String)>> {
        Ok(self
            .conn
            .query_row(
                "SELECT server_url, token FROM device WHERE id = 1 AND token IS NOT NULL",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    /// Erases every record, blob and pending change, and the token: what a revoked
    /// (lost) phone does at its next contact. Freed pages are overwritten.
    pub fn wipe(&mut self) -> crate::Result<()> {
        let tx = self.begin()?;
        // The device keeps its identity: its sequence numbers must never be reused.
        crate::store::fold_outbox_counters(&tx)?;
        for t in [
            "record",
            "outbox",
            "rejected_change",
            "field_history",
            "blob",
            "roster_entry",
        ] {
            tx.execute(&format!("DELETE FROM {t}"), [])?;
        }
        tx.execute(
            "UPDATE device SET token = NULL, server_url = NULL, account_id = NULL, role = NULL, scopes = '[]', pull_cursor = 0",
            [],
        )?;
        tx.commit()?;
        self.conn.pragma_update(None, "secure_delete", "ON")?;
        self.conn.execute_batch("VACUUM")?;
        Ok(())
    }
}

/// Enrolls this device with a one-time code from the admin.
pub fn enroll(
    store: &mut Store,
    server_url: &str,
    code: &str,
    device_name: &str,
) -> SyncResult<Enrollment> {
    let g = request_enrollment(server_url, code, store.device_id(), device_name)?;
    complete_enrollment(store, server_url, &g)?;
    Ok(g.enrollment)
}

/// Trades a one-time code for this device's token, before any store exists (the app
/// enrolls first and creates its encrypted store once a PIN is chosen). Nothing is
/// saved: give the answer to [`complete_enrollment`].
///
/// Safe to retry, and retried under the device's one retry policy
/// ([`RetryPolicy::while_a_person_waits`](crate::retry::RetryPolicy::while_a_person_waits)):
/// the server redeems a code again for the device id it enrolled as long as that
/// device's token was never used, so an answer lost on the way back (a timeout, a
/// reset connection) costs a retry, not the code. The same holds for a later call
/// with the same `device_id` (the app killed before its PIN was chosen).
pub fn request_enrollment(
    server_url: &str,
    code: &str,
    device_id: Uuid,
    device_name: &str,
) -> SyncResult<GrantedEnrollment> {
    request_enrollment_with(
        server_url,
        code,
        device_id,
        device_name,
        &SyncOptions::default(),
        &crate::retry::RetryPolicy::while_a_person_waits(),
    )
}

/// [`request_enrollment`] with its timeouts and retry policy given (tests, scripts).
pub fn request_enrollment_with(
    server_url: &str,
    code: &str,
    device_id: Uuid,
    device_name: &str,
    opts: &SyncOptions,
    policy: &crate::retry::RetryPolicy,
) -> SyncResult<GrantedEnrollment> {
    let client = http(opts)?;
    let url = format!("{}{}", server_url.trim_end_matches('/'), paths::ENROLL);
    let req = EnrollRequest {
        code: code.to_string(),
        device_id,
        device_name: device_name.to_string(),
        app_version: APP_VERSION.to_string(),
    };
    crate::retry::retry(
        policy,
        policy.backoff(),
        SyncError::is_retryable,
        |_, _, _| {},
        std::thread::sleep,
        || {
            let started = std::time::Instant::now();
            let resp = client.post(&url).json(&req).send().map_err(net)?;
            if !resp.status().is_success() {
                return Err(enrollment_refusal(resp));
            }
            Ok(GrantedEnrollment {
                enrollment: resp.json().map_err(net)?,
                round_trip: started.elapsed(),
                received: std::time::Instant::now(),
            })
        },
    )
}

/// A refused enrollment keeps the server's code: `invalid_code`, `code_used` and
/// `code_expired` come as 401, which elsewhere reads as an unknown token. A busy or
/// failing server is a network problem, tried again.
fn enrollment_refusal(resp: reqwest::blocking::Response) -> SyncError {
    let status = resp.status().as_u16();
    if matches!(status, 500..=599 | 408 | 429) {
        return refusal(resp);
    }
    let body: Option<ErrorBody> = resp.json().ok();
    let (code, message) = body
        .map(|b| (b.code, b.message))
        .unwrap_or_else(|| ("http".into(), format!("HTTP {status}")));
    SyncError::Refused {
        status,
        code,
        message,
    }
}

/// What the server granted, with when it arrived: the clock is learned from it later,
/// when the store that keeps it exists (the app keeps the grant until a PIN is set).
#[derive(Debug, Clone)]
pub struct GrantedEnrollment {
    pub enrollment: Enrollment,
    /// How long the request took (half of it is added to the server's time).
    pub round_trip: std::time::Duration,
    /// When the answer arrived (the server's time plus what has elapsed since).
    pub received: std::time::Instant,
}

/// Saves an enrollment the server granted (server, token, villages, identity) and
/// learns the clock offset and anchor from the server time it carried, moved on by
/// the monotonic time elapsed since it arrived.
pub fn complete_enrollment(
    store: &mut Store,
    server_url: &str,
    g: &GrantedEnrollment,
) -> SyncResult<()> {
    store.save_enrollment(server_url.trim_end_matches('/'), &g.enrollment)?;
    let since = g.received.elapsed().as_millis().min(u64::MAX as u128) as u64;
    store.record_server_time(
        g.enrollment.server_time_ms.saturating_add(since),
        g.round_trip,
    )?;
    Ok(())
}

/// One connection to the server for one round.
struct Session<'a> {
    client: reqwest::blocking::Client,
    base: String,
    token: String,
    progress: &'a mut dyn FnMut(&SyncProgress),
    report: SyncReport,
}

impl Session<'_> {
    fn note_request(&mut self, started: std::time::Instant) {
        self.report.requests += 1;
        self.report
            .request_ms
            .push(started.elapsed().as_millis().min(u32::MAX as u128) as u32);
    }

    /// POSTs a JSON body (gzip-compressed) and decodes the JSON answer, learning the
    /// clock offset from it.
    fn post<Q: Serialize, A: for<'de> Deserialize<'de> + HasServerTime>(
        &mut self,
        store: &mut Store,
        path: &str,
        body: &Q,
    ) -> SyncResult<A> {
        let raw = serde_json::to_vec(body).map_err(|e| SyncError::Network(e.to_string()))?;
        let packed = gzip(&raw);
        self.report.wire_bytes_up += packed.len() as u64;
        if path == "/v1/push" {
            self.report.push_bytes_up += packed.len() as u64;
        }
        let started = std::time::Instant::now();
        let resp = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("content-type", "application/json")
            .header("content-encoding", "gzip")
            .body(packed)
            .send()
            .map_err(net)?;
        if !resp.status().is_success() {
            return Err(refusal(resp));
        }
        let bytes = resp.bytes().map_err(net)?;
        self.note_request(started);
        self.report.wire_bytes_down += bytes.len() as u64;
        let answer: A = serde_json::from_slice(&bytes)
            .map_err(|e| SyncError::Network(format!("bad response: {e}")))?;
        // The server's clock, anchored to the monotonic clock (see crate::clock).
        self.report.clock_offset_ms =
            store.record_server_time(answer.server_time_ms(), started.elapsed())?;
        Ok(answer)
    }
}

trait HasServerTime {
    fn server_time_ms(&self) -> u64;
}
impl HasServerTime for PushResponse {
    fn server_time_ms(&self) -> u64 {
        self.server_time_ms
    }
}
impl HasServerTime for PullResponse {
    fn server_time_ms(&self) -> u64 {
        self.server_time_ms
    }
}
impl HasServerTime for VerifyResponse {
    fn server_time_ms(&self) -> u64 {
        self.server_time_ms
    }
}

/// Sync rounds until one succeeds, under the device's one retry policy
/// ([`crate::retry`]): a network failure (no signal, a timeout, a busy server) is
/// tried again after a jittered, growing wait, told to `on_retry(attempt, error,
/// wait)` first; any other failure is returned at once. What the app's background
/// sync and the CLI call.
pub fn sync_with_retry(
    store: &mut Store,
    opts: &SyncOptions,
    policy: &crate::retry::RetryPolicy,
    progress: &mut dyn FnMut(&SyncProgress),
    on_retry: impl FnMut(u32, &SyncError, Duration),
) -> SyncResult<SyncReport> {
    crate::retry::retry(
        policy,
        policy.backoff(),
        SyncError::is_retryable,
        on_retry,
        std::thread::sleep,
        || sync_once(store, opts, progress),
    )
}

/// One sync round. See the module documentation for the steps.
pub fn sync_once(
    store: &mut Store,
    opts: &SyncOptions,
    progress: &mut dyn FnMut(&SyncProgress),
) -> SyncResult<SyncReport> {
    let (base, token) = store
        .enrollment()?
        .ok_or_else(|| SyncError::Unauthorized("this device is not enrolled".into()))?;
    let mut s = Session {
        client: http(opts)?,
        base,
        token,
        progress,
        report: SyncReport::default(),
    };
    match run_round(store, opts, &mut s) {
        Err(SyncError::Revoked) => {
            hand_over_for_quarantine(store, opts, &mut s);
            store.wipe()?;
            Err(SyncError::Revoked)
        }
        Err(e) => Err(e),
        Ok(()) => {
            store
                .connection()
                .execute(
                    "UPDATE device SET last_sync_at = ?1",
                    [store.now_utc_rfc3339()],
                )
                .map_err(StoreError::from)?;
            Ok(s.report)
        }
    }
}

/// A revoked phone's last act: send every unsent change so the server keeps it in
/// quarantine (a supervisor decides on it), before the phone wipes itself. Best effort:
/// the answers are 401 by design, and a network failure here must not keep the data
/// of a lost phone alive.
fn hand_over_for_quarantine(store: &mut Store, opts: &SyncOptions, s: &mut Session<'_>) {
    let Ok(pending) = store.pending_changes(usize::MAX) else {
        return;
    };
    for batch in pending.chunks(opts.push_batch.max(1)) {
        let Ok(heartbeat) = heartbeat(store) else {
            return;
        };
        let req = PushRequest {
            protocol: PROTOCOL_VERSION,
            device_id: store.device_id(),
            changes: batch.to_vec(),
            heartbeat,
        };
        match s.post::<_, PushResponse>(store, "/v1/push", &req) {
            Err(SyncError::Revoked) | Ok(_) => {}
            Err(_) => return,
        }
    }
}

fn run_round(store: &mut Store, opts: &SyncOptions, s: &mut Session<'_>) -> SyncResult<()> {
    push(store, opts, s)?;
    if opts.upload_blobs {
        upload_blobs(store, opts, s)?;
    }
    pull(store, opts, s, false)?;
    verify(store, opts, s)?;
    if opts.fetch_thumbnails {
        fetch_thumbnails(store, s)?;
    }
    Ok(())
}

fn heartbeat(store: &Store) -> SyncResult<Heartbeat> {
    let st = store.status()?;
    // Children whose latest visit the server has not acknowledged yet (ids only): the
    // supervisor sees "visited, not yet synced" instead of "not visited". The same
    // rule as the roster's `last_visit_unsynced`.
    let mut unsent = store
        .connection()
        .prepare_cached(
            "SELECT child_id FROM roster_entry
             WHERE last_visit_seq > (SELECT acked_seq FROM device WHERE id = 1)
             ORDER BY child_id LIMIT ?1",
        )
        .map_err(StoreError::from)?;
    let unsent_visit_children = unsent
        .query_map([sync_core::wire::MAX_UNSENT_VISIT_CHILDREN as i64], |r| {
            r.get::<_, String>(0)
        })
        .map_err(StoreError::from)?
        .filter_map(|id| id.ok().and_then(|id| Uuid::parse_str(&id).ok()))
        .collect();
    Ok(Heartbeat {
        pending_changes: st.outbox_changes,
        oldest_pending_secs: st.oldest_pending_secs.unwrap_or(0),
        pending_blobs: st.pending_blobs,
        app_version: APP_VERSION.to_string(),
        device_clock_ms: store.wall_ms(),
        free_storage_bytes: store.free_storage_bytes().unwrap_or(0),
        unsent_visit_children,
    })
}

fn push(store: &mut Store, opts: &SyncOptions, s: &mut Session<'_>) -> SyncResult<()> {
    let total = store.outbox_depth()?.0;
    let mut done = 0;
    let mut restamps = 0;
    loop {
        let batch = store.pending_changes(opts.push_batch)?;
        if batch.is_empty() {
            return Ok(());
        }
        let req = PushRequest {
            protocol: PROTOCOL_VERSION,
            device_id: store.device_id(),
            changes: batch.clone(),
            heartbeat: heartbeat(store)?,
        };
        let resp: PushResponse = s.post(store, "/v1/push", &req)?;
        let before = store.outbox_depth()?.0;
        store.record_push_result(&batch, &resp)?;
        let after = store.outbox_depth()?.0;
        s.report.pushed += resp.accepted;
        s.report.rejected += resp.rejected.iter().filter(|r| !r.is_retryable()).count() as u64;
        done += before - after;
        (s.progress)(&SyncProgress {
            phase: Some(SyncPhase::Push),
            records_done: done,
            records_total: total,
            ..Default::default()
        });
        if resp.rejected.iter().any(|r| r.is_retryable()) {
            // The server refused a far-future clock. The offset was learned from this
            // very response; re-stamp everything unsent and send again (a few times
            // at most: a clock that cannot be corrected must not loop forever).
            restamps += 1;
            if restamps > 3 {
                return Err(SyncError::Refused {
                    status: 200,
                    code: codes::CLOCK_AHEAD.into(),
                    message: "the device clock could not be corrected".into(),
                });
            }
            s.report.restamped += store.restamp_pending()? as u64;
            continue;
        }
        if before == after {
            // The server holds nothing more of ours than before: it is missing an
            // earlier change (e.g. it lost its database). Stop instead of looping.
            return Err(SyncError::Refused {
                status: 200,
                code: "push_stalled".into(),
                message: format!("server acknowledged up to {} only", resp.max_device_seq),
            });
        }
    }
}

fn upload_blobs(store: &mut Store, opts: &SyncOptions, s: &mut Session<'_>) -> SyncResult<()> {
    let pending = store.pending_blobs()?;
    let bytes_total: u64 = pending.iter().map(|b| b.size).sum();
    let mut bytes_done = 0;
    for (i, b) in pending.iter().enumerate() {
        let status_url = format!("{}/v1/blobs/{}/status", s.base, b.sha256);
        let started = std::time::Instant::now();
        let resp = s
            .client
            .get(&status_url)
            .bearer_auth(&s.token)
            .send()
            .map_err(net)?;
        s.note_request(started);
        if !resp.status().is_success() {
            return Err(refusal(resp));
        }
        let st: BlobStatus = resp.json().map_err(net)?;
        if !st.complete {
            let bytes = store.blob(&b.sha256)?;
            let mut offset = resume_offset(st.held_bytes, bytes.len(), opts.chunk_bytes);
            while offset < bytes.len() {
                let end = (offset + opts.chunk_bytes).min(bytes.len());
                let chunk = bytes[offset..end].to_vec();
                if let Some(m) = &opts.blob_meter {
                    m.fetch_add(chunk.len() as u64, std::sync::atomic::Ordering::Relaxed);
                }
                let url = format!(
                    "{}/v1/blobs/{}?offset={offset}&total={}",
                    s.base,
                    b.sha256,
                    bytes.len()
                );
                let started = std::time::Instant::now();
                let resp = s
                    .client
                    .put(url)
                    .bearer_auth(&s.token)
                    .header("content-type", "application/octet-stream")
                    .body(chunk)
                    .send()
                    .map_err(net)?;
                s.note_request(started);
                if resp.status().as_u16() == 409 {
                    // The server holds a different number of bytes than we thought
                    // (an earlier chunk did land): continue from there.
                    let held: BlobStatus = resp.json().map_err(net)?;
                    if held.complete {
                        break;
                    }
                    offset = resume_offset(held.held_bytes, bytes.len(), opts.chunk_bytes);
                    continue;
                }
                if !resp.status().is_success() {
                    return Err(refusal(resp));
                }
                s.report.blob_bytes_sent += (end - offset) as u64;
                s.report.wire_bytes_up += (end - offset) as u64;
                offset = end;
                (s.progress)(&SyncProgress {
                    phase: Some(SyncPhase::Blobs),
                    records_done: i as u64,
                    records_total: pending.len() as u64,
                    bytes_done: bytes_done + offset as u64,
                    bytes_total,
                });
            }
        }
        store.mark_blob_uploaded(&b.sha256)?;
        s.report.blobs_uploaded += 1;
        bytes_done += b.size;
        (s.progress)(&SyncProgress {
            phase: Some(SyncPhase::Blobs),
            records_done: i as u64 + 1,
            records_total: pending.len() as u64,
            bytes_done,
            bytes_total,
        });
    }
    Ok(())
}

/// Where to resume a blob upload the server holds `held` bytes of. All bytes held but
/// the blob not complete (its store write failed) means: send the last chunk again, which
/// makes the server verify and store it — never "nothing left to send", which would mark
/// the blob uploaded while the server does not have it.
fn resume_offset(held: u64, len: usize, chunk: usize) -> usize {
    let held = held.min(len as u64) as usize;
    if held >= len {
        len.saturating_sub(chunk.max(1))
    } else {
        held
    }
}

/// Pulls pages after the cursor until the server has no more. `include_own`: whether
/// the server sends this device's own changes too — not for a normal pull (they are
/// here already; the cursor still moves past them), but for a fresh copy of a village.
fn pull(
    store: &mut Store,
    opts: &SyncOptions,
    s: &mut Session<'_>,
    mut include_own: bool,
) -> SyncResult<()> {
    loop {
        let state = store.device_state()?;
        let cursor = state.pull_cursor;
        let mut held = state.scopes;
        held.sort();
        let req = PullRequest {
            protocol: PROTOCOL_VERSION,
            cursor,
            limit: opts.pull_page,
            include_own,
            held: Some(held),
        };
        let page: PullResponse = s.post(store, "/v1/pull", &req)?;
        store.note_latest_app_version(page.latest_app_version.as_deref())?;
        let r = store.apply_pull_page(&page)?;
        if r.refetch_from_start {
            // A village was added to the account: fetch the feed again from the start,
            // the phone's own changes included (it may have written there before).
            s.report.evicted_children += r.evicted_children as u64;
            s.report.children_left.extend(r.children_left);
            s.report.villages_changed = true;
            include_own = true;
            continue;
        }
        s.report.villages_changed |= r.scopes_changed;
        let n = page.changes.len() as u64;
        s.report.pulled += n;
        s.report.applied += r.applied as u64;
        s.report.evicted_children += r.evicted_children as u64;
        s.report.children_left.extend(r.children_left);
        (s.progress)(&SyncProgress {
            phase: Some(SyncPhase::Pull),
            records_done: s.report.pulled,
            records_total: s.report.pulled
                + if page.has_more {
                    opts.pull_page as u64
                } else {
                    0
                },
            ..Default::default()
        });
        if !page.has_more || page.next_cursor <= cursor {
            return Ok(());
        }
    }
}

fn verify(store: &mut Store, opts: &SyncOptions, s: &mut Session<'_>) -> SyncResult<()> {
    let left = store.evict_out_of_scope()?;
    s.report.evicted_children += left.len() as u64;
    s.report.children_left.extend(left);
    // Only the villages this device holds; one it holds nothing of counts as empty,
    // so a village the server has data for and the device lacks is found too. A village
    // with changes still in the outbox is left for a later round: a record saved on the
    // phone after this round's push (the app saves while its runner syncs) is not yet
    // on the server, and that is not divergence. Nor is a village with a refusal the
    // director has not acted on: its refused value stays in view until then.
    let unsent = store.scopes_held_back_from_verify()?;
    let scopes: Vec<String> = store
        .device_state()?
        .scopes
        .into_iter()
        .filter(|s| !unsent.contains(s))
        .collect();
    if scopes.is_empty() {
        return Ok(());
    }
    let mut checksums = store.scope_checksums()?;
    checksums.retain(|s, _| scopes.contains(&s.0));
    for s in &scopes {
        checksums
            .entry(sync_core::Scope::new(s.clone()))
            .or_default();
    }
    let req = VerifyRequest {
        protocol: PROTOCOL_VERSION,
        checksums,
    };
    let resp: VerifyResponse = s.post(store, "/v1/verify", &req)?;
    (s.progress)(&SyncProgress {
        phase: Some(SyncPhase::Verify),
        records_done: 1,
        records_total: 1,
        ..Default::default()
    });
    if resp.mismatched.is_empty() {
        return Ok(());
    }
    // Divergence heals itself: forget the disagreeing villages and fetch them again.
    let forget: Vec<&str> = resp.mismatched.iter().map(|s| s.as_str()).collect();
    store.forget_scopes_for_refetch(&forget)?;
    s.report
        .mismatched_scopes
        .extend(resp.mismatched.iter().map(|s| s.0.clone()));
    // A fresh copy: with this device's own changes, which it just dropped too.
    pull(store, opts, s, true)?;
    // Local unsent changes to a dropped scope are still in the outbox; re-apply them
    // so the fresh copy shows them.
    let mine = store.pending_changes(usize::MAX)?;
    store.apply_changes(&mine, None)?;
    Ok(())
}

/// Thumbnails fetched at once, each on its own connection. On a village's link a
/// thumbnail (about 8 KB) takes about as long on the wire as the round trip that asks
/// for it (300 ms), so one at a time spent half a first sync waiting (BENCHMARKS.md,
/// "The village link").
pub const THUMBNAILS_AT_ONCE: usize = 6;

/// Fetches the thumbnails of the photos this device holds rows for and not the
/// bytes: [`THUMBNAILS_AT_ONCE`] requests in flight, each thumbnail checked against
/// its hash and stored as it arrives (a cut connection loses only those in flight).
fn fetch_thumbnails(store: &mut Store, s: &mut Session<'_>) -> SyncResult<()> {
    let mut wanted = Vec::new();
    store.for_each_record(|r| {
        if r.table == "photo" {
            if let Some(h) = r.text("thumb_sha256") {
                wanted.push(h.to_string());
            }
        }
        Ok(())
    })?;
    let mut missing = Vec::new();
    for h in wanted {
        if !store.has_blob(&h)? {
            missing.push(h);
        }
    }
    missing.sort();
    missing.dedup();
    let total = missing.len() as u64;
    let next = std::sync::atomic::AtomicUsize::new(0);
    let (client, base, token) = (&s.client, s.base.as_str(), s.token.as_str());
    let (tx, rx) = std::sync::mpsc::channel::<(usize, SyncResult<Option<Vec<u8>>>, u32)>();
    let mut first_error = None;
    std::thread::scope(|scope| {
        for _ in 0..THUMBNAILS_AT_ONCE.min(missing.len()) {
            let (tx, next, missing) = (tx.clone(), &next, &missing);
            scope.spawn(move || loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(h) = missing.get(i) else { return };
                let started = std::time::Instant::now();
                let got = (|| {
                    let resp = client
                        .get(format!("{base}/v1/blobs/{h}"))
                        .bearer_auth(token)
                        .send()
                        .map_err(net)?;
                    if resp.status().as_u16() == 404 {
                        return Ok(None); // not uploaded yet by its author
                    }
                    if !resp.status().is_success() {
                        return Err(refusal(resp));
                    }
                    Ok(Some(resp.bytes().map_err(net)?.to_vec()))
                })();
                let failed = got.is_err();
                let ms = started.elapsed().as_millis().min(u32::MAX as u128) as u32;
                if tx.send((i, got, ms)).is_err() || failed {
                    // Stop taking more: the round fails and is tried again later.
                    next.store(usize::MAX / 2, std::sync::atomic::Ordering::Relaxed);
                    return;
                }
            });
        }
        drop(tx);
        let mut done = 0;
        for (i, got, ms) in rx {
            s.report.requests += 1;
            s.report.request_ms.push(ms);
            let bytes = match got {
                Ok(Some(b)) => b,
                Ok(None) => continue,
                Err(e) => {
                    first_error.get_or_insert(e);
                    continue;
                }
            };
            let h = &missing[i];
            s.report.wire_bytes_down += bytes.len() as u64;
            if crate::photo::sha256_hex(&bytes) != *h {
                first_error
                    .get_or_insert(SyncError::Network(format!("thumbnail {h} arrived damaged")));
                continue;
            }
            if let Err(e) = store.store_fetched_blob(h, BlobKind::Thumb, &bytes) {
                first_error.get_or_insert(e.into());
                continue;
            }
            s.report.thumbnails_fetched += 1;
            done += 1;
            (s.progress)(&SyncProgress {
                phase: Some(SyncPhase::Thumbnails),
                records_done: done,
                records_total: total,
                ..Default::default()
            });
        }
    });
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

#[cfg(test)]
mod resume_tests {
    use super::resume_offset;

    #[test]
    fn a_fully_held_but_incomplete_blob_sends_its_last_chunk_again() {
        assert_eq!(resume_offset(0, 1000, 256), 0);
        assert_eq!(resume_offset(512, 1000, 256), 512);
        assert_eq!(resume_offset(1000, 1000, 256), 744);
        assert_eq!(
            resume_offset(5000, 1000, 256),
            744,
            "more than we have: the end"
        );
        assert_eq!(
            resume_offset(1000, 100, 256),
            0,
            "a blob smaller than a chunk"
        );
    }
}
