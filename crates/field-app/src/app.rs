//! [`DeviceApp`]: one phone's data folder, its lock, its store and its sync runner.
//!
//! A shell opens one `DeviceApp` per data folder and calls [`DeviceApp::call`] (or
//! [`DeviceApp::dispatch`]) for every command. The app is locked until a PIN unwraps the
//! data key; while locked no command touches the data. The store the commands use and
//! the store the sync runner uses are two connections to the same encrypted file, so
//! the screen never waits for the network.

use crate::enrolling::Enrolling;
use crate::error::{Code, UserError};
use crate::events::{emit_to, AppEvent, EventSink};
use crate::lock::{DataKey, KdfParams, Keys, UnlockRefusal, WIPE_AFTER_ATTEMPTS};
use crate::runner::{Runner, RunnerConfig};
use crate::settings::Settings;
use crate::types::*;
use field_store::clock::SharedClock;
use field_store::sync::SyncError;
use field_store::{OpenOptions, Store};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};
use sync_core::wire::codes;
use zeroize::Zeroizing;

/// The app version shown in settings and sent in heartbeats.
pub const APP_VERSION: &str = field_store::sync::APP_VERSION;

/// How a [`DeviceApp`] runs.
#[derive(Clone, Debug)]
pub struct AppConfig {
    /// Added to the wall clock (testing a phone whose clock is wrong).
    pub clock_skew_ms: i64,
    /// Cost of deriving the key from the PIN.
    pub kdf: KdfParams,
    /// Sync in the background (the app); `None` syncs only on `sync_now` with `wait`
    /// (`fieldctl`, scripts).
    pub background_sync: Option<RunnerConfig>,
    /// Lock after this much time without a touch, unless the settings say otherwise.
    pub watch_idle: bool,
    /// The CJK font printed agreements are set in (the app ships one as a resource);
    /// `None` looks for the system's (`agreement_pdf::find_system_font`).
    pub font_path: Option<PathBuf>,
    /// Where every time the device reads comes from: the wall clock and the monotonic
    /// clock of the boot (`field_store::clock`). A test replaces it to move the
    /// phone's clock.
    pub clock: SharedClock,
}

impl Default for AppConfig {
    fn default() -> Self {
        AppConfig {
            clock_skew_ms: 0,
            kdf: KdfParams::default(),
            background_sync: Some(RunnerConfig::default()),
            watch_idle: true,
            font_path: None,
            clock: std::sync::Arc::new(field_store::clock::SystemClock),
        }
    }
}

pub(crate) struct Session {
    pub store: Option<Store>,
    pub key: Option<DataKey>,
    /// Enrolled, PIN not chosen yet: the answer is kept in memory only, so nothing
    /// about the enrollment (the token) is on disk unencrypted. Lost if the app is
    /// killed before the PIN: enrolling again with the same code then works, because
    /// the device id it enrolled with is kept ([`crate::enrolling`]).
    pub pending_enrollment: Option<(String, field_store::sync::GrantedEnrollment)>,
    pub last_activity: Instant,
    /// Opened without encryption (`fieldctl` on a folder that never had a PIN).
    pub plain: bool,
}

/// One phone's data folder and everything the app does with it.
pub struct DeviceApp {
    pub(crate) dir: PathBuf,
    pub(crate) config: AppConfig,
    pub(crate) keys: Keys,
    pub(crate) session: Mutex<Session>,
    pub(crate) sinks: Arc<Mutex<Vec<EventSink>>>,
    pub(crate) runner: Option<Runner>,
    /// The font for printed copies, loaded the first time one is made.
    pub(crate) font: std::sync::OnceLock<Result<agreement_pdf::AgreementFont, UserError>>,
    /// Without a background runner (`fieldctl`, scripts): what the rounds run by
    /// `sync_now` with `wait` did, for `sync_state`.
    pub(crate) script_round: Mutex<crate::round::RunnerShared>,
}

impl DeviceApp {
    /// Opens the data folder `dir` (created if missing). The app starts locked (or
    /// waiting for enrollment, or for a PIN); nothing is decrypted until [`unlock`].
    ///
    /// [`unlock`]: DeviceApp::unlock
    pub fn open(dir: impl AsRef<Path>, config: AppConfig) -> Result<Arc<DeviceApp>, UserError> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|e| {
            UserError::new(
                "storage",
                "无法创建数据文件夹，请检查手机存储空间",
                format!("cannot create the data folder {}: {e}", dir.display()),
            )
        })?;
        let keys = Keys::new(&dir, config.kdf);
        set_aside_unreadable_database(&dir, &keys, config.clock.wall_ms());
        let sinks: Arc<Mutex<Vec<EventSink>>> = Arc::default();
        let runner = config
            .background_sync
            .clone()
            .map(|rc| Runner::start(rc, sinks.clone(), keys.clone()));
        let app = Arc::new(DeviceApp {
            dir,
            config: config.clone(),
            keys,
            session: Mutex::new(Session {
                store: None,
                key: None,
                pending_enrollment: None,
                last_activity: Instant::now(),
                plain: false,
            }),
            sinks,
            runner,
            font: std::sync::OnceLock::new(),
            script_round: Mutex::default(),
        });
        if config.watch_idle {
            start_idle_watch(Arc::downgrade(&app));
        }
        Ok(app)
    }

    /// Opens a data folder for a script or `fieldctl`: unlocked with `pin` if the folder
    /// has one, otherwise its plain (unencrypted) store is opened as it is.
    pub fn open_for_script(
        dir: impl AsRef<Path>,
        config: AppConfig,
        pin: Option<&str>,
    ) -> Result<Arc<DeviceApp>, UserError> {
        let app = DeviceApp::open(dir, config)?;
        if app.keys.exist() {
            let pin = pin.ok_or_else(|| {
                UserError::new(
                    "pin_required",
                    "这部手机的数据有 PIN 码保护，请用 --pin 输入 PIN 码",
                    "this data folder is protected by a PIN; give it with --pin",
                )
            })?;
            app.unlock(PinInput { pin: pin.into() })?;
        } else {
            let store = app.open_store(None)?;
            let mut s = app.session();
            s.store = Some(store);
            s.plain = true;
        }
        Ok(app)
    }

    /// Adds a listener for events.
    pub fn subscribe(&self, sink: EventSink) {
        if let Ok(mut s) = self.sinks.lock() {
            s.push(sink);
        }
    }

    pub(crate) fn emit(&self, event: AppEvent) {
        emit_to(&self.sinks, &event);
    }

    pub(crate) fn session(&self) -> MutexGuard<'_, Session> {
        // A panic while holding the lock must not make the app unusable: the data is
        // in SQLite transactions, never half-written in memory.
        self.session.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn script_round(&self) -> MutexGuard<'_, crate::round::RunnerShared> {
        self.script_round.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn db_path(&self) -> PathBuf {
        self.dir.join("device.db")
    }

    /// The data folder.
    pub fn data_dir(&self) -> &Path {
        &self.dir
    }

    fn open_store(&self, key: Option<&str>) -> Result<Store, UserError> {
        let opts = OpenOptions {
            key: key.map(str::to_string),
            clock_skew_ms: self.config.clock_skew_ms,
            relaxed_durability: false,
        };
        let mut store = Store::open(self.db_path(), &opts)?;
        store.set_device_clock(self.config.clock.clone());
        Ok(store)
    }

    /// The wall clock (with the configured skew), ms since the epoch: what the PIN
    /// waits are measured against when no monotonic reading is at hand.
    pub(crate) fn wall_now(&self) -> crate::lock::Now {
        crate::lock::Now::read(&*self.config.clock, self.config.clock_skew_ms)
    }

    /// Runs `f` on the unlocked store. Counts as a touch for the auto-lock.
    pub(crate) fn with_store<T>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, UserError>,
    ) -> Result<T, UserError> {
        let mut s = self.session();
        s.last_activity = Instant::now();
        let store = s.store.as_mut().ok_or_else(UserError::locked)?;
        f(store)
    }

    /// After a write: the runner syncs soon if the network is there, and (on its own
    /// thread, off the command's path) publishes the new sync state and refreshes the
    /// counts readable while locked.
    pub(crate) fn after_write(&self) {
        if let Some(r) = &self.runner {
            r.saved();
        }
    }

    // ─────────────────────────── lifecycle commands ───────────────────────────

    /// Where the app is: enroll, choose a PIN, unlock, or working.
    pub fn app_state(&self, _: Empty) -> Result<AppState, UserError> {
        let s = self.session();
        Ok(self.state_of(&s))
    }

    pub(crate) fn state_of(&self, s: &Session) -> AppState {
        let settings = Settings::load(&self.dir);
        let (failed, wait) = self.keys.attempts(&self.wall_now());
        let db_exists = self.db_path().exists();
        let phase = if s.store.is_some() {
            Phase::Unlocked
        } else if self.keys.exist() {
            Phase::Locked
        } else if s.pending_enrollment.is_some() || db_exists {
            Phase::NeedsPin
        } else {
            Phase::NeedsEnrollment
        };
        let mut st = AppState {
            phase,
            enrolled: false,
            device_id: None,
            server_url: None,
            account_id: None,
            role: None,
            villages: vec![],
            village_names: Default::default(),
            language: settings.language,
            auto_lock_secs: settings.auto_lock_secs,
            failed_pin_attempts: failed,
            wait_secs: wait.min(u32::MAX as u64) as u32,
            wipe_after_attempts: WIPE_AFTER_ATTEMPTS,
            migrating_plain_data: !self.keys.exist()
                && db_exists
                && field_store::encryption::is_plain_database(&self.db_path()),
            unsynced: self.keys.summary(),
            app_version: APP_VERSION.to_string(),
        };
        if let Some(store) = &s.store {
            if let Ok(d) = store.device_state() {
                st.device_id = Some(d.device_id.to_string());
                st.villages = d.scopes;
            }
            st.village_names = store.village_names().unwrap_or_default();
            if let Ok(Some((url, _))) = store.enrollment() {
                st.enrolled = true;
                st.server_url = Some(url);
            }
            let (acc, role) = account_of(store);
            st.account_id = acc;
            st.role = role;
        } else if let Some((url, g)) = &s.pending_enrollment {
            let e = &g.enrollment;
            st.enrolled = true;
            st.server_url = Some(url.clone());
            st.device_id = Some(e.device_id.to_string());
            st.account_id = Some(e.account_id.clone());
            st.role = Some(e.role.clone());
            st.villages = e.scopes.clone();
            st.village_names = e.village_names.clone();
        } else if st.phase == Phase::NeedsEnrollment {
            // The address typed last time, for the Enroll screen to start with.
            st.server_url = Enrolling::load(&self.dir).server_url;
        }
        st
    }

    fn emit_state(&self, s: &Session) {
        self.emit(AppEvent::AppState(self.state_of(s)));
    }

    /// Enrolls this phone with the server address and one-time code from the admin.
    pub fn enroll(&self, input: EnrollInput) -> Result<AppState, UserError> {
        let url = check_server_url(&input.server_url)?;
        let code: String = input.code.chars().filter(|c| !c.is_whitespace()).collect();
        if code.is_empty() {
            return Err(UserError::new(
                "code_required",
                "请输入乡镇督导员给的登记码",
                "enter the enrollment code from the township supervisor",
            )
            .on_field("code"));
        }
        let name = input
            .device_name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .unwrap_or("童护手机")
            .chars()
            .take(60)
            .collect::<String>();
        let mut s = self.session();
        if let Some(store) = s.store.as_mut() {
            if store.enrollment()?.is_some() {
                return Err(UserError::new(
                    "already_enrolled",
                    "这部手机已经登记过了",
                    "this phone is already enrolled",
                ));
            }
            Enrolling::remember_server(&self.dir, &url);
            field_store::sync::enroll(store, &url, &code, &name).map_err(enroll_error)?;
            if let Some(r) = &self.runner {
                r.sync_now(None, 0);
            }
        } else if self.keys.exist() {
            return Err(UserError::locked());
        } else {
            // The id is kept before the request leaves: if the answer is lost (a cut
            // connection, the app killed before the PIN), the same code enrolls the
            // same device again (the server redeems it while the token is unused).
            let id = Enrolling::device_id_for(&self.dir, &url).map_err(storage_error)?;
            let e = match field_store::sync::request_enrollment(&url, &code, id, &name) {
                Err(SyncError::Refused { code: c, .. }) if c == codes::DEVICE_EXISTS => {
                    // Another code enrolled this id (the director was given a new code
                    // while the server still held the first enrollment, or that phone
                    // was revoked): nothing was ever written under it here, so the phone
                    // takes a new id. The server checks the id before the code, so the
                    // code is still unused.
                    let id = Enrolling::new_device_id(&self.dir).map_err(storage_error)?;
                    field_store::sync::request_enrollment(&url, &code, id, &name)
                }
                other => other,
            }
            .map_err(enroll_error)?;
            s.pending_enrollment = Some((url, e));
        }
        self.emit_state(&s);
        Ok(self.state_of(&s))
    }

    /// Chooses the PIN: makes the data key, creates (or encrypts an older, plain) store
    /// with it, and keeps the enrollment in it. Unlocks the app.
    pub fn set_pin(&self, input: PinInput) -> Result<AppState, UserError> {
        let mut s = self.session();
        if s.store.is_some() || self.keys.exist() {
            return Err(UserError::new(
                "pin_already_set",
                "PIN 码已经设置过了；要修改请到“设置”里修改 PIN 码",
                "a PIN is already set; change it in settings",
            ));
        }
        crate::lock::check_new_pin(&input.pin)?;
        let db_exists = self.db_path().exists();
        if s.pending_enrollment.is_none() && !db_exists {
            return Err(UserError::not_enrolled());
        }
        let (store, key) = match &s.pending_enrollment {
            Some((url, g)) if !db_exists => self.create_enrolled_store(url, g, &input.pin)?,
            _ => {
                // Data of an older, plain app: the key file is written first, so the
                // data it encrypts is never without its key.
                let key = self.keys.create(&input.pin)?;
                let mut store = self.open_encrypted(&key)?;
                if let Some((url, g)) = &s.pending_enrollment {
                    field_store::sync::complete_enrollment(&mut store, url, g)
                        .map_err(UserError::from)?;
                }
                (store, key)
            }
        };
        s.pending_enrollment = None;
        Enrolling::enrolled(&self.dir);
        self.start_session(&mut s, store, key);
        Ok(self.state_of(&s))
    }

    /// A new encrypted store holding the enrollment, and its key. The key file is
    /// written last: killed before it, the next start finds an encrypted file without a
    /// key, sets it aside (it holds only the token) and asks for enrollment again — the
    /// same code enrolls the same device again. So no kill leaves a phone with a PIN
    /// but without its enrollment.
    fn create_enrolled_store(
        &self,
        url: &str,
        g: &field_store::sync::GrantedEnrollment,
        pin: &str,
    ) -> Result<(Store, DataKey), UserError> {
        let key = DataKey::new_random();
        let made = self.open_encrypted(&key).and_then(|mut store| {
            field_store::sync::complete_enrollment(&mut store, url, g)?;
            self.keys.keep(&key, pin)?;
            Ok(store)
        });
        match made {
            Ok(store) => Ok((store, key)),
            Err(e) => {
                // Nothing of the director's is in it yet: out of the way, so the next
                // try (the answer is still in memory) starts again from scratch.
                set_aside_unreadable_database(&self.dir, &self.keys, self.config.clock.wall_ms());
                Err(e)
            }
        }
    }

    /// Unlocks the app with the PIN.
    pub fn unlock(&self, input: PinInput) -> Result<AppState, UserError> {
        let mut s = self.session();
        if s.store.is_some() {
            return Ok(self.state_of(&s));
        }
        if !self.keys.exist() {
            return Err(UserError::new(
                "no_pin",
                "还没有设置 PIN 码",
                "no PIN has been set yet",
            ));
        }
        let key = match self.keys.unlock(&input.pin, &self.wall_now()) {
            Ok(k) => k,
            Err(r) => {
                let wiped = matches!(r, UnlockRefusal::Wiped);
                let e = UserError::from(r);
                if wiped {
                    self.emit_state(&s);
                }
                return Err(e);
            }
        };
        let store = self.open_encrypted(&key)?;
        self.start_session(&mut s, store, key);
        Ok(self.state_of(&s))
    }

    /// The store under `key`. A plain store left by an older app (or by an interrupted
    /// encryption) is encrypted first: copied, checked, and only then swapped in.
    fn open_encrypted(&self, key: &DataKey) -> Result<Store, UserError> {
        let db = self.db_path();
        let sql_key = key.sqlcipher_key();
        if db.exists() && field_store::encryption::is_plain_database(&db) {
            let enc = self.dir.join("device.db.enc");
            field_store::encryption::export_encrypted(&db, &enc, &sql_key)?;
            for side in ["device.db-wal", "device.db-shm"] {
                let _ = std::fs::remove_file(self.dir.join(side));
            }
            std::fs::rename(&enc, &db)
                .map_err(|e| UserError::from(field_store::StoreError::Io(e)))?;
        }
        match self.open_store(Some(&sql_key)) {
            Err(e) if e.code == Code::Locked => {
                Err(UnlockRefusal::Damaged("the key does not open the database".into()).into())
            }
            other => other,
        }
    }

    fn start_session(&self, s: &mut Session, store: Store, key: DataKey) {
        if let Some(r) = &self.runner {
            r.open(
                self.db_path(),
                Some(key.sqlcipher_key()),
                self.config.clock_skew_ms,
                self.config.clock.clone(),
            );
        }
        s.store = Some(store);
        s.key = Some(key);
        s.plain = false;
        s.last_activity = Instant::now();
        self.emit_state(s);
    }

    /// Locks now: the store is closed and the key erased from memory.
    pub fn lock(&self, _: Empty) -> Result<AppState, UserError> {
        let mut s = self.session();
        self.lock_session(&mut s);
        Ok(self.state_of(&s))
    }

    fn lock_session(&self, s: &mut Session) {
        if s.plain {
            return; // nothing to lock a plain store with
        }
        if s.store.is_some() {
            if let Some(r) = &self.runner {
                r.close();
            }
            s.store = None;
            s.key = None;
            self.emit_state(s);
        }
    }

    /// Changes the PIN (the data key stays; it is wrapped anew).
    pub fn change_pin(&self, input: ChangePinInput) -> Result<AppState, UserError> {
        let s = self.session();
        let key = s.key.as_ref().ok_or_else(UserError::locked)?;
        // The old PIN is checked like any unlock (counted, with waits).
        let check = self
            .keys
            .unlock(&input.old_pin, &self.wall_now())
            .map_err(UserError::from)?;
        if check.sqlcipher_key().as_str() != key.sqlcipher_key().as_str() {
            return Err(UnlockRefusal::Damaged("the key file changed".into()).into());
        }
        self.keys.rewrap(key, &input.new_pin)?;
        Ok(self.state_of(&s))
    }

    /// A touch on the screen: keeps the app unlocked.
    pub fn keep_alive(&self, _: Empty) -> Result<Empty, UserError> {
        self.session().last_activity = Instant::now();
        Ok(Empty {})
    }

    /// The settings screen.
    pub fn settings(&self, _: Empty) -> Result<SettingsView, UserError> {
        let st = Settings::load(&self.dir);
        let s = self.session();
        let app = self.state_of(&s);
        let free = s.store.as_ref().and_then(|st| st.free_storage_bytes());
        Ok(SettingsView {
            language: st.language,
            auto_lock_secs: st.auto_lock_secs,
            auto_lock_choices: crate::settings::AUTO_LOCK_CHOICES.to_vec(),
            device_id: app.device_id,
            server_url: app.server_url,
            account_id: app.account_id,
            villages: app.villages,
            village_names: app.village_names,
            app_version: APP_VERSION.to_string(),
            free_storage_bytes: free,
            data_encrypted: !s.plain && self.keys.exist(),
        })
    }

    /// Changes the language or the auto-lock delay.
    pub fn update_settings(&self, change: SettingsChange) -> Result<SettingsView, UserError> {
        let mut st = Settings::load(&self.dir);
        if let Some(l) = change.language {
            st.language = l;
        }
        if let Some(secs) = change.auto_lock_secs {
            if !crate::settings::AUTO_LOCK_CHOICES.contains(&secs) {
                return Err(UserError::new(
                    "bad_auto_lock",
                    "请选择列表中的自动锁定时间",
                    format!(
                        "auto-lock must be one of {:?} seconds",
                        crate::settings::AUTO_LOCK_CHOICES
                    ),
                )
                .on_field("auto_lock_secs"));
            }
            st.auto_lock_secs = secs;
        }
        st.save(&self.dir)
            .map_err(|e| UserError::from(field_store::StoreError::Io(e)))?;
        {
            let s = self.session();
            self.emit_state(&s);
        }
        self.settings(Empty {})
    }

    /// Locks if nothing touched the app for the auto-lock delay.
    fn lock_if_idle(&self) {
        let limit = Duration::from_secs(Settings::load(&self.dir).auto_lock_secs as u64);
        let mut s = self.session();
        if s.store.is_some() && !s.plain && s.last_activity.elapsed() >= limit {
            self.lock_session(&mut s);
        }
    }
}

impl Drop for DeviceApp {
    fn drop(&mut self) {
        if let Some(r) = self.runner.as_mut() {
            r.shutdown();
        }
    }
}

fn start_idle_watch(app: Weak<DeviceApp>) {
    let _ = std::thread::Builder::new()
        .name("auto-lock".into())
        .spawn(move || loop {
            std::thread::sleep(Duration::from_secs(1));
            match app.upgrade() {
                Some(app) => app.lock_if_idle(),
                None => return,
            }
        });
}

/// A database file with no key file that does not open as plain SQLite was encrypted
/// by a PIN setup that did not finish, or is damaged: this app cannot read it, but it
/// is never deleted — it is moved aside (`device.db.unreadable-<time>`) for support.
fn set_aside_unreadable_database(dir: &Path, keys: &Keys, wall_ms: i64) {
    let db = dir.join("device.db");
    if !keys.exist() && db.exists() && !field_store::encryption::is_plain_database(&db) {
        let stamp = chrono::DateTime::from_timestamp_millis(wall_ms)
            .unwrap_or_default()
            .format("%Y%m%dT%H%M%SZ");
        for side in ["", "-wal", "-shm"] {
            let from = dir.join(format!("device.db{side}"));
            if from.exists() {
                let _ = std::fs::rename(
                    &from,
                    dir.join(format!("device.db.unreadable-{stamp}{side}")),
                );
            }
        }
    }
    let enc = dir.join("device.db.enc");
    if enc.exists() {
        // An encryption interrupted before its copy took the plain file's place: the
        // plain file is still whole and is encrypted again at the next unlock.
        let _ = std::fs::remove_file(enc);
    }
}

fn account_of(store: &Store) -> (Option<String>, Option<String>) {
    store
        .connection()
        .query_row(
            "SELECT account_id, role FROM device WHERE id = 1",
            [],
            |r| {
                Ok((
                    r.get::<_, Option<String>>(0)?,
                    r.get::<_, Option<String>>(1)?,
                ))
            },
        )
        .unwrap_or((None, None))
}

/// A server address as typed: `http(s)://host[:port][/path]`, no spaces, no query.
pub fn check_server_url(raw: &str) -> Result<String, UserError> {
    let typed = raw.trim();
    let bad = |why_zh: &str, why_en: &str| {
        Err(UserError::new(
            "bad_server_url",
            format!("服务器地址不对：{why_zh}。请按乡镇督导员给的地址填写，例如 https://tonghu.example.cn"),
            format!("the server address is not valid: {why_en}; e.g. https://tonghu.example.cn"),
        )
        .on_field("server_url"))
    };
    if typed.is_empty() {
        return bad("还没有填写", "it is empty");
    }
    let with_scheme = if typed.contains("://") {
        typed.to_string()
    } else {
        format!("http://{typed}")
    };
    let Ok(url) = url::Url::parse(&with_scheme) else {
        return bad("格式不对", "it cannot be read as an address");
    };
    if !matches!(url.scheme(), "http" | "https") {
        return bad(
            "应以 http:// 或 https:// 开头",
            "it must start with http:// or https://",
        );
    }
    if url.host_str().is_none_or(str::is_empty) {
        return bad("缺少主机名", "it has no host name");
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return bad(
            "不应包含 ?、# 或用户名",
            "it may not contain ?, # or a user name",
        );
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// What a refused or failed enrollment says. The code's refusals name the code field;
/// every other failure is said as any sync failure is ([`UserError`]'s `From`).
fn enroll_error(e: SyncError) -> UserError {
    let about_the_code = |code: &str, zh: &str, msg: &str| {
        UserError::new(code, zh, format!("enrollment refused: {msg}")).on_field("code")
    };
    match &e {
        SyncError::Refused { code, message, .. } => match code.as_str() {
            // not_found: the code's account is gone, which to the director is a code
            // that does not work.
            codes::INVALID_CODE | codes::NOT_FOUND => {
                about_the_code(codes::INVALID_CODE, "登记码不对，请核对后重新输入", message)
            }
            codes::CODE_USED => about_the_code(
                codes::CODE_USED,
                "这个登记码已经用过了，请向乡镇督导员要一个新的",
                message,
            ),
            codes::CODE_EXPIRED => about_the_code(
                codes::CODE_EXPIRED,
                "这个登记码已过期，请向乡镇督导员要一个新的",
                message,
            ),
            _ => e.into(),
        },
        SyncError::Unauthorized(message) => {
            about_the_code(codes::INVALID_CODE, "登记码不对，请核对后重新输入", message)
        }
        SyncError::Network(_) => UserError::new(
            "network",
            "连不上服务器。请检查网络和服务器地址，有信号后再试",
            e.to_string(),
        ),
        _ => e.into(),
    }
}

fn storage_error(e: std::io::Error) -> UserError {
    UserError::from(field_store::StoreError::Io(e))
}

/// The key as SQLCipher takes it, for tests that open the file themselves.
#[doc(hidden)]
pub fn test_only_sqlcipher_key(key: &DataKey) -> Zeroizing<String> {
    key.sqlcipher_key()
}
