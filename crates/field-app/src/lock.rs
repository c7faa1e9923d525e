//! The PIN and the key that encrypts the phone's data.
//!
//! The database is always encrypted (SQLCipher) with a random 256-bit **data key**. The
//! data key is never written to disk as it is: `keys.json` holds it wrapped
//! (XChaCha20-Poly1305) by a key derived from the director's PIN with Argon2id. A PIN
//! change re-wraps the same data key; the database is not touched.
//!
//! Wrong PINs are counted in `lock.json` BEFORE each try is checked (killing the app in
//! the middle of a try does not undo it), with growing waits measured on the boot's
//! monotonic clock (`field_store::clock`), so setting the phone's clock forward does
//! not skip one; after a reboot the wait starts again (the phone cannot know how long
//! it was off), and where there is no monotonic clock the wall clock is used; after
//! [`WIPE_AFTER_ATTEMPTS`] in a row the phone's data is erased. What was synced stays on
//! the server; `summary.json` keeps the counts of what is not (no personal data), so the
//! unlock screen can say what a wipe would lose before it happens.
//!
//! On a phone the wrapped key should additionally be bound to the platform keystore
//! (Android Keystore / iOS Keychain): a six-digit PIN alone cannot resist an attacker who
//! copies `keys.json` and guesses offline; it does stop anyone who only has the phone.

use crate::error::UserError;
use crate::types::UnsyncedSummary;
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use field_store::clock::{DeviceClock, MonotonicReading};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// After this many wrong PINs in a row the data on the phone is erased.
pub const WIPE_AFTER_ATTEMPTS: u32 = 10;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const AAD: &[u8] = b"tonghu data key v1";

/// The wait before the next PIN may be tried after `failed` wrong PINs in a row.
pub fn wait_after(failed: u32) -> u64 {
    match failed {
        0..=4 => 0,
        5 => 30,
        6 => 60,
        7 => 5 * 60,
        8 => 15 * 60,
        _ => 60 * 60,
    }
}

/// Argon2id cost. The default was measured on the project's 2-core machine (see
/// BENCHMARKS.md, "PIN unlock"): 0.55 s median for derivation + unwrap + open with
/// the machine loaded by other builds (the limit is 1 s). A phone's core may be
/// 2-3x slower: measure on the target phones before lowering or raising `m_kib`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Passes.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

impl Default for KdfParams {
    fn default() -> Self {
        KdfParams {
            m_kib: 64 * 1024,
            t: 3,
            p: 1,
        }
    }
}

impl KdfParams {
    /// Cheap parameters for tests (never for real data).
    pub fn for_tests() -> KdfParams {
        KdfParams {
            m_kib: 256,
            t: 1,
            p: 1,
        }
    }
}

/// The database's data key, held in memory only while the app is unlocked and erased
/// from memory when dropped.
pub struct DataKey(Zeroizing<[u8; 32]>);

impl DataKey {
    /// A new random key (kept only once [`Keys::keep`] wrapped it).
    pub fn new_random() -> DataKey {
        DataKey::random()
    }

    fn random() -> DataKey {
        let mut k = Zeroizing::new([0u8; 32]);
        rand::rng().fill_bytes(k.as_mut());
        DataKey(k)
    }

    /// The key as SQLCipher takes a raw key (`x'…'`: no second key derivation).
    pub fn sqlcipher_key(&self) -> Zeroizing<String> {
        Zeroizing::new(format!("x'{}'", hex::encode(self.0.as_ref())))
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(…)")
    }
}

#[derive(Serialize, Deserialize)]
struct KeyFile {
    version: u32,
    kdf: KdfParams,
    salt: String,
    nonce: String,
    wrapped: String,
}

/// The time a PIN try happens at: the wall clock, and the boot's monotonic clock
/// when the platform has one.
#[derive(Clone, Debug)]
pub struct Now {
    /// Wall clock, ms since the epoch.
    pub wall_ms: u64,
    /// The monotonic clock of this boot.
    pub mono: Option<MonotonicReading>,
}

impl Now {
    /// Reads both clocks of `clock` (the wall clock off by `skew_ms`, for tests).
    pub fn read(clock: &dyn DeviceClock, skew_ms: i64) -> Now {
        Now {
            wall_ms: clock.wall_ms().saturating_add(skew_ms).max(0) as u64,
            mono: clock.monotonic(),
        }
    }

    /// A time with a wall clock only (a platform without a monotonic clock).
    pub fn wall(wall_ms: u64) -> Now {
        Now {
            wall_ms,
            mono: None,
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct LockFile {
    failed: u32,
    /// The end of the wait on the wall clock (a platform without a monotonic clock).
    next_try_at_ms: u64,
    /// The wait's length, ms.
    #[serde(default)]
    wait_ms: u64,
    /// The boot the wait is measured in, and its end on that boot's monotonic clock.
    #[serde(default)]
    boot_id: Option<String>,
    #[serde(default)]
    until_mono_ms: u64,
}

impl LockFile {
    /// A wait of `wait_ms` starting `now`.
    fn wait_from(&mut self, now: &Now, wait_ms: u64) {
        self.wait_ms = wait_ms;
        self.next_try_at_ms = now.wall_ms.saturating_add(wait_ms);
        self.boot_id = now.mono.as_ref().map(|m| m.boot_id.clone());
        self.until_mono_ms = now
            .mono
            .as_ref()
            .map_or(0, |m| m.ms.saturating_add(wait_ms));
    }

    /// What is left of the wait at `now`: on the monotonic clock within the boot it
    /// started in (a wall clock moved forward changes nothing); all of it again in
    /// another boot ([`LockFile::reanchor`]); on the wall clock without a monotonic one.
    fn remaining_ms(&self, now: &Now) -> u64 {
        match (&self.boot_id, &now.mono) {
            (Some(boot), Some(m)) if *boot == m.boot_id => self.until_mono_ms.saturating_sub(m.ms),
            (Some(_), Some(_)) => self.wait_ms,
            _ => self.next_try_at_ms.saturating_sub(now.wall_ms),
        }
    }

    /// A wait left in another boot starts again in this one. Answers whether the file
    /// changed.
    fn reanchor(&mut self, now: &Now) -> bool {
        match (&self.boot_id, &now.mono) {
            (Some(boot), Some(m)) if *boot != m.boot_id && self.wait_ms > 0 => {
                let wait = self.wait_ms;
                self.wait_from(now, wait);
                true
            }
            _ => false,
        }
    }
}

/// Why a PIN did not unlock.
#[derive(Debug)]
pub enum UnlockRefusal {
    /// Wrong PIN; this many tries are left before the wipe, and the wait before the next.
    WrongPin { left: u32, wait_secs: u64 },
    /// Too soon after the last wrong PIN.
    Wait { secs: u64 },
    /// Too many wrong PINs: the data on this phone was erased.
    Wiped,
    /// The key file is damaged or unreadable.
    Damaged(String),
}

impl From<UnlockRefusal> for UserError {
    fn from(r: UnlockRefusal) -> UserError {
        match r {
            UnlockRefusal::WrongPin { left, wait_secs } => {
                let wait_zh = if wait_secs > 0 {
                    format!("请等 {} 后再试。", duration_zh(wait_secs))
                } else {
                    String::new()
                };
                UserError::new(
                    "wrong_pin",
                    format!(
                        "PIN 码不对。{wait_zh}还可以再试 {left} 次；连续输错 {WIPE_AFTER_ATTEMPTS} 次，本机数据将被清除（已同步到服务器的数据不受影响）。"
                    ),
                    format!(
                        "Wrong PIN. {}{left} tries left; after {WIPE_AFTER_ATTEMPTS} wrong PINs in a row the data on this phone is erased (what was synced stays on the server).",
                        if wait_secs > 0 { format!("Wait {wait_secs} s before the next try. ") } else { String::new() }
                    ),
                )
                .on_field("pin")
            }
            UnlockRefusal::Wait { secs } => UserError::new(
                "pin_wait",
                format!("PIN 码输错次数太多，请等 {} 后再试", duration_zh(secs)),
                format!("too many wrong PINs; wait {secs} s before the next try"),
            ),
            UnlockRefusal::Wiped => UserError::new(
                "wiped",
                format!("PIN 码连续输错 {WIPE_AFTER_ATTEMPTS} 次，本机数据已清除。已同步的数据仍在服务器上，请向乡镇督导员要登记码，重新登记这台手机。"),
                format!("{WIPE_AFTER_ATTEMPTS} wrong PINs in a row: the data on this phone was erased. What was synced is still on the server; ask the township supervisor for a code to enroll this phone again."),
            ),
            UnlockRefusal::Damaged(e) => UserError::new(
                "key_damaged",
                "本机的密钥文件已损坏，无法解锁。已同步的数据仍在服务器上，请联系乡镇督导员。",
                format!("the key file is damaged: {e}"),
            ),
        }
    }
}

fn duration_zh(secs: u64) -> String {
    if secs >= 60 {
        format!("{} 分钟", secs.div_ceil(60))
    } else {
        format!("{secs} 秒")
    }
}

/// A PIN as typed, as the key is derived from it: surrounding spaces dropped and
/// full-width digits (from a Chinese keyboard) read as the same digits.
pub fn normalize_pin(pin: &str) -> Zeroizing<String> {
    Zeroizing::new(
        pin.trim()
            .chars()
            .map(|c| match c {
                '０'..='９' => char::from(b'0' + (c as u32 - '０' as u32) as u8),
                c => c,
            })
            .collect(),
    )
}

/// Checks a new PIN: 6 to 12 digits, not one digit repeated, not a plain run.
pub fn check_new_pin(pin: &str) -> Result<(), UserError> {
    let pin = normalize_pin(pin);
    let pin = pin.as_str();
    let digits: Vec<u32> = pin.chars().filter_map(|c| c.to_digit(10)).collect();
    let bad = |zh: &str, en: &str| Err(UserError::new("weak_pin", zh, en).on_field("pin"));
    if digits.len() != pin.chars().count() || !(6..=12).contains(&digits.len()) {
        return bad(
            "PIN 码请用 6 到 12 位数字",
            "the PIN must be 6 to 12 digits",
        );
    }
    if digits.windows(2).all(|w| w[0] == w[1]) {
        return bad(
            "PIN 码不能全是同一个数字，请换一个",
            "the PIN may not be one digit repeated",
        );
    }
    let run = |step: i64| {
        digits
            .windows(2)
            .all(|w| (w[1] as i64 - w[0] as i64).rem_euclid(10) == step.rem_euclid(10))
    };
    if run(1) || run(-1) {
        return bad(
            "PIN 码不能是连续的数字（如 123456），请换一个",
            "the PIN may not be a run of digits such as 123456",
        );
    }
    Ok(())
}

/// The key files of one data folder.
#[derive(Clone, Debug)]
pub struct Keys {
    dir: PathBuf,
    params: KdfParams,
}

impl Keys {
    pub fn new(dir: &Path, params: KdfParams) -> Keys {
        Keys {
            dir: dir.to_path_buf(),
            params,
        }
    }

    fn key_path(&self) -> PathBuf {
        self.dir.join("keys.json")
    }
    fn lock_path(&self) -> PathBuf {
        self.dir.join("lock.json")
    }
    fn summary_path(&self) -> PathBuf {
        self.dir.join("summary.json")
    }

    /// Whether a PIN has been set for this data folder.
    pub fn exist(&self) -> bool {
        self.key_path().exists()
    }

    fn kek(
        &self,
        params: &KdfParams,
        pin: &str,
        salt: &[u8],
    ) -> Result<Zeroizing<[u8; 32]>, String> {
        let p =
            Params::new(params.m_kib, params.t, params.p, Some(32)).map_err(|e| e.to_string())?;
        let mut out = Zeroizing::new([0u8; 32]);
        Argon2::new(Algorithm::Argon2id, Version::V0x13, p)
            .hash_password_into(pin.as_bytes(), salt, out.as_mut())
            .map_err(|e| e.to_string())?;
        Ok(out)
    }

    fn write_wrapped(&self, key: &DataKey, pin: &str) -> Result<(), UserError> {
        let mut salt = [0u8; 16];
        let mut nonce = [0u8; 24];
        rand::rng().fill_bytes(&mut salt);
        rand::rng().fill_bytes(&mut nonce);
        let kek = self
            .kek(&self.params, &normalize_pin(pin), &salt)
            .map_err(storage)?;
        let cipher = XChaCha20Poly1305::new(kek.as_ref().into());
        let wrapped = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: key.0.as_ref(),
                    aad: AAD,
                },
            )
            .map_err(|e| storage(e.to_string()))?;
        let file = KeyFile {
            version: 1,
            kdf: self.params,
            salt: B64.encode(salt),
            nonce: B64.encode(nonce),
            wrapped: B64.encode(wrapped),
        };
        write_atomically(
            &self.key_path(),
            &serde_json::to_vec_pretty(&file).map_err(storage)?,
        )
        .map_err(storage)
    }

    /// Makes a new data key, wrapped by `pin`. The key file is in place (durably) when
    /// this returns.
    pub fn create(&self, pin: &str) -> Result<DataKey, UserError> {
        let key = DataKey::random();
        self.keep(&key, pin)?;
        Ok(key)
    }

    /// Keeps `key` wrapped by `pin` (a new PIN: no wrong tries yet). The key file is in
    /// place (durably) when this returns.
    pub fn keep(&self, key: &DataKey, pin: &str) -> Result<(), UserError> {
        check_new_pin(pin)?;
        self.write_wrapped(key, pin)?;
        self.write_lock(LockFile::default())
    }

    /// Wraps the same data key with a new PIN.
    pub fn rewrap(&self, key: &DataKey, new_pin: &str) -> Result<(), UserError> {
        check_new_pin(new_pin)?;
        self.write_wrapped(key, new_pin)
    }

    fn read_lock(&self) -> LockFile {
        std::fs::read(self.lock_path())
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    fn write_lock(&self, l: LockFile) -> Result<(), UserError> {
        write_atomically(&self.lock_path(), &serde_json::to_vec(&l).map_err(storage)?)
            .map_err(storage)
    }

    /// Wrong PINs so far and the seconds to wait before the next try.
    pub fn attempts(&self, now: &Now) -> (u32, u64) {
        let mut l = self.read_lock();
        if l.reanchor(now) {
            let _ = self.write_lock(l.clone());
        }
        (l.failed, l.remaining_ms(now).div_ceil(1000))
    }

    fn unwrap_key(&self, pin: &str) -> Result<Option<DataKey>, String> {
        let raw = std::fs::read(self.key_path()).map_err(|e| e.to_string())?;
        let file: KeyFile = serde_json::from_slice(&raw).map_err(|e| e.to_string())?;
        let salt = B64.decode(&file.salt).map_err(|e| e.to_string())?;
        let nonce = B64.decode(&file.nonce).map_err(|e| e.to_string())?;
        let wrapped = B64.decode(&file.wrapped).map_err(|e| e.to_string())?;
        if nonce.len() != 24 {
            return Err("bad nonce".into());
        }
        let kek = self.kek(&file.kdf, &normalize_pin(pin), &salt)?;
        let cipher = XChaCha20Poly1305::new(kek.as_ref().into());
        match cipher.decrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: &wrapped,
                aad: AAD,
            },
        ) {
            Ok(plain) => {
                let plain = Zeroizing::new(plain);
                let mut k = Zeroizing::new([0u8; 32]);
                if plain.len() != 32 {
                    return Err("bad key length".into());
                }
                k.copy_from_slice(&plain);
                Ok(Some(DataKey(k)))
            }
            Err(_) => Ok(None),
        }
    }

    /// Tries a PIN. The try is counted before it is checked; a right PIN clears the
    /// count. The last allowed wrong PIN erases the data folder (see [`Keys::wipe`]).
    pub fn unlock(&self, pin: &str, now: &Now) -> Result<DataKey, UnlockRefusal> {
        let mut l = self.read_lock();
        if l.reanchor(now) {
            self.write_lock(l.clone())
                .map_err(|e| UnlockRefusal::Damaged(e.en))?;
        }
        let left = l.remaining_ms(now);
        if left > 0 {
            return Err(UnlockRefusal::Wait {
                secs: left.div_ceil(1000),
            });
        }
        l.failed = l.failed.saturating_add(1);
        l.wait_from(now, wait_after(l.failed) * 1000);
        self.write_lock(l.clone())
            .map_err(|e| UnlockRefusal::Damaged(e.en))?;
        match self.unwrap_key(pin) {
            Ok(Some(key)) => {
                let _ = self.write_lock(LockFile::default());
                Ok(key)
            }
            Ok(None) if l.failed >= WIPE_AFTER_ATTEMPTS => {
                self.wipe()
                    .map_err(|e| UnlockRefusal::Damaged(e.to_string()))?;
                Err(UnlockRefusal::Wiped)
            }
            Ok(None) => Err(UnlockRefusal::WrongPin {
                left: WIPE_AFTER_ATTEMPTS - l.failed,
                wait_secs: wait_after(l.failed),
            }),
            Err(e) => Err(UnlockRefusal::Damaged(e)),
        }
    }

    /// Erases the phone's data: the database (and its WAL), the staged state, the key
    /// files. Settings (language) stay.
    pub fn wipe(&self) -> std::io::Result<()> {
        for name in [
            "device.db",
            "device.db-wal",
            "device.db-shm",
            "device.db.enc",
            "keys.json",
            "lock.json",
            "summary.json",
        ] {
            match std::fs::remove_file(self.dir.join(name)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }

    /// What is not yet on the server, as last counted.
    pub fn summary(&self) -> UnsyncedSummary {
        std::fs::read(self.summary_path())
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Keeps the counts of what is not yet on the server (no personal data).
    pub fn save_summary(&self, s: &UnsyncedSummary) {
        if self.summary() != *s {
            if let Ok(bytes) = serde_json::to_vec(s) {
                let _ = write_atomically(&self.summary_path(), &bytes);
            }
        }
    }
}

fn storage(e: impl std::fmt::Display) -> UserError {
    UserError::new(
        "storage",
        "保存失败（存储出错），已保存的数据不受影响，请重试",
        format!("storage error: {e}"),
    )
}

/// Writes a file so that it is either the old or the new content after a crash: a
/// temporary file, synced, renamed over the old one, and the folder synced.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_pins_are_refused_with_a_reason() {
        for pin in [
            "12345",
            "1234567890123",
            "111111",
            "123456",
            "987654",
            "890123",
            "12a456",
            "１１１１１１",
        ] {
            let e = check_new_pin(pin).unwrap_err();
            assert_eq!(e.code, "weak_pin", "{pin}");
            assert!(!e.zh.is_empty());
        }
        for pin in ["260518", "482913", "10293847"] {
            assert_eq!(check_new_pin(pin), Ok(()), "{pin}");
        }
    }

    #[test]
    fn the_right_pin_unwraps_the_same_key_and_a_wrong_one_is_counted() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keys::new(dir.path(), KdfParams::for_tests());
        let key = keys.create("260518").unwrap();
        let again = keys.unlock("260518", &Now::wall(0)).unwrap();
        assert_eq!(key.sqlcipher_key().as_str(), again.sqlcipher_key().as_str());
        match keys.unlock("000001", &Now::wall(0)) {
            Err(UnlockRefusal::WrongPin { left, wait_secs }) => {
                assert_eq!(left, WIPE_AFTER_ATTEMPTS - 1);
                assert_eq!(wait_secs, 0);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(keys.attempts(&Now::wall(0)).0, 1);
        keys.unlock("260518", &Now::wall(0)).unwrap();
        assert_eq!(
            keys.attempts(&Now::wall(0)).0,
            0,
            "a right PIN clears the count"
        );
        keys.unlock(" ２６０５１８ ", &Now::wall(0))
            .expect("full-width digits are the same PIN");
        // The key file never holds the raw key.
        let file = std::fs::read_to_string(dir.path().join("keys.json")).unwrap();
        assert!(!file.contains(&hex::encode(key.0.as_ref())));
    }

    #[test]
    fn wrong_pins_wait_longer_and_the_last_one_wipes_the_data() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("device.db"), b"data").unwrap();
        let keys = Keys::new(dir.path(), KdfParams::for_tests());
        keys.create("260518").unwrap();
        let mut now = 1_000_000u64;
        for i in 1..WIPE_AFTER_ATTEMPTS {
            let r = keys.unlock("999990", &Now::wall(now));
            match r {
                Err(UnlockRefusal::WrongPin { left, wait_secs }) => {
                    assert_eq!(left, WIPE_AFTER_ATTEMPTS - i);
                    assert_eq!(wait_secs, wait_after(i));
                    if wait_secs > 0 {
                        // Too soon: refused without counting.
                        assert!(matches!(
                            keys.unlock("260518", &Now::wall(now)),
                            Err(UnlockRefusal::Wait { .. })
                        ));
                        assert_eq!(keys.attempts(&Now::wall(now)).0, i);
                    }
                    now += wait_secs * 1000;
                }
                other => panic!("try {i}: {other:?}"),
            }
        }
        assert!(matches!(
            keys.unlock("999990", &Now::wall(now)),
            Err(UnlockRefusal::Wiped)
        ));
        assert!(!dir.path().join("device.db").exists());
        assert!(!keys.exist());
    }

    #[test]
    fn a_wait_holds_when_the_phone_s_clock_is_moved_forward_and_restarts_after_a_reboot() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keys::new(dir.path(), KdfParams::for_tests());
        keys.create("260518").unwrap();
        let clock = field_store::clock::ManualClock::new(1_700_000_000_000);
        let now = || Now::read(&*clock, 0);
        for _ in 0..5 {
            let _ = keys.unlock("999990", &now());
        }
        assert_eq!(keys.attempts(&now()), (5, wait_after(5)));
        // The owner sets the clock a day forward: the wait is still all there.
        clock.set_wall(1_700_000_000_000 + 24 * 3600 * 1000);
        assert_eq!(keys.attempts(&now()).1, wait_after(5));
        assert!(matches!(
            keys.unlock("260518", &now()),
            Err(UnlockRefusal::Wait { secs }) if secs == wait_after(5)
        ));
        // Real time passes (10 s of 30): the rest is left, whatever the wall says.
        clock.advance(10_000);
        assert_eq!(keys.attempts(&now()).1, wait_after(5) - 10);
        // A reboot: the phone cannot know how long it was off; the wait starts again.
        clock.reboot(Some("boot-2"));
        assert_eq!(keys.attempts(&now()).1, wait_after(5));
        clock.advance(wait_after(5) * 1000);
        assert_eq!(keys.attempts(&now()).1, 0);
        keys.unlock("260518", &now()).expect("the wait is over");
        assert_eq!(keys.attempts(&now()), (0, 0));
    }
}
