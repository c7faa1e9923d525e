//! The device's sense of time. A phone's wall clock is whatever its owner (or a flat
//! battery) set it to, and it can move at any moment, also while the phone is offline.
//! Stamps must follow real time anyway, or an edit made later loses to an earlier one.
//!
//! So the device keeps a **clock anchor**: the server-corrected time of its last
//! contact with the server together with the reading, at that moment, of a monotonic
//! clock that wall-clock changes do not move — `CLOCK_BOOTTIME` on Linux, which is
//! Android's `SystemClock.elapsedRealtime()` (it counts deep sleep too) — and the boot
//! it belongs to (`/proc/sys/kernel/random/boot_id`). Within the same boot, physical
//! time is the anchor plus the monotonic time elapsed since. After a reboot (another
//! boot id, or no monotonic clock at all) it falls back to the wall clock plus the
//! offset learned from the server, as before the anchor existed.
//!
//! The readings come from a [`DeviceClock`], so that a test can inject both.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A monotonic clock reading and the boot it belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MonotonicReading {
    /// Identifies the boot: readings of different boots cannot be compared.
    pub boot_id: String,
    /// Milliseconds since the boot, including time asleep.
    pub ms: u64,
}

/// Where the device reads time from.
pub trait DeviceClock: Send + Sync + std::fmt::Debug {
    /// The wall clock, ms since the Unix epoch (as the phone's settings say).
    fn wall_ms(&self) -> i64;
    /// The monotonic clock, if the platform has one this code can read.
    fn monotonic(&self) -> Option<MonotonicReading>;
}

/// A shared clock, as held by a store.
pub type SharedClock = Arc<dyn DeviceClock>;

/// The real clocks of the machine: the system wall clock, and on Linux and Android
/// `CLOCK_BOOTTIME` with the kernel's boot id.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl DeviceClock for SystemClock {
    fn wall_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis()
    }

    fn monotonic(&self) -> Option<MonotonicReading> {
        boottime_reading()
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn boottime_reading() -> Option<MonotonicReading> {
    static BOOT_ID: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let boot_id = BOOT_ID
        .get_or_init(|| {
            std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
                .ok()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        })
        .clone()?;
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_BOOTTIME exists on Linux ≥ 2.6.39.
    if unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) } != 0 {
        return None;
    }
    let ms = u64::try_from(ts.tv_sec).ok()? * 1000 + u64::try_from(ts.tv_nsec).ok()? / 1_000_000;
    Some(MonotonicReading { boot_id, ms })
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn boottime_reading() -> Option<MonotonicReading> {
    None
}

/// The system clock with a wall clock that can be set wrong while the process runs,
/// and reboots that can be played: for end-to-end tests and demos of a phone whose
/// owner changes its time (the monotonic clock is the real one).
#[derive(Debug, Default)]
pub struct TestClock {
    skew_ms: AtomicI64,
    boots: AtomicU64,
}

impl TestClock {
    /// A clock `skew_ms` off the real wall clock.
    pub fn new(skew_ms: i64) -> Arc<TestClock> {
        let c = TestClock::default();
        c.skew_ms.store(skew_ms, Ordering::SeqCst);
        Arc::new(c)
    }

    /// Sets the wall clock `skew_ms` off real time (the owner changed the time).
    pub fn set_skew_ms(&self, skew_ms: i64) {
        self.skew_ms.store(skew_ms, Ordering::SeqCst);
    }

    /// Plays a reboot: monotonic readings from now on belong to another boot.
    pub fn reboot(&self) {
        self.boots.fetch_add(1, Ordering::SeqCst);
    }
}

impl DeviceClock for TestClock {
    fn wall_ms(&self) -> i64 {
        SystemClock.wall_ms() + self.skew_ms.load(Ordering::SeqCst)
    }

    fn monotonic(&self) -> Option<MonotonicReading> {
        let mut r = SystemClock.monotonic()?;
        let boots = self.boots.load(Ordering::SeqCst);
        if boots > 0 {
            r.boot_id = format!("{}+reboot{boots}", r.boot_id);
        }
        Some(r)
    }
}

/// A clock whose every reading a test sets (unit tests of the anchor).
#[derive(Debug)]
pub struct ManualClock {
    wall_ms: AtomicI64,
    mono_ms: AtomicU64,
    boot_id: Mutex<Option<String>>,
}

impl ManualClock {
    /// A clock at wall time `wall_ms`, monotonic time 0 in boot `boot-1`.
    pub fn new(wall_ms: i64) -> Arc<ManualClock> {
        Arc::new(ManualClock {
            wall_ms: AtomicI64::new(wall_ms),
            mono_ms: AtomicU64::new(0),
            boot_id: Mutex::new(Some("boot-1".into())),
        })
    }

    /// Real time passes: both clocks move on.
    pub fn advance(&self, ms: u64) {
        self.wall_ms.fetch_add(ms as i64, Ordering::SeqCst);
        self.mono_ms.fetch_add(ms, Ordering::SeqCst);
    }

    /// The owner sets the wall clock; the monotonic clock does not notice.
    pub fn set_wall(&self, wall_ms: i64) {
        self.wall_ms.store(wall_ms, Ordering::SeqCst);
    }

    /// A reboot into boot `boot_id` (`None`: a platform without a monotonic clock).
    pub fn reboot(&self, boot_id: Option<&str>) {
        self.mono_ms.store(0, Ordering::SeqCst);
        if let Ok(mut b) = self.boot_id.lock() {
            *b = boot_id.map(String::from);
        }
    }
}

impl DeviceClock for ManualClock {
    fn wall_ms(&self) -> i64 {
        self.wall_ms.load(Ordering::SeqCst)
    }

    fn monotonic(&self) -> Option<MonotonicReading> {
        let boot_id = self.boot_id.lock().ok()?.clone()?;
        Some(MonotonicReading {
            boot_id,
            ms: self.mono_ms.load(Ordering::SeqCst),
        })
    }
}

/// The server-corrected time of the last contact and the monotonic reading then.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClockAnchor {
    /// Server-corrected time at the anchor, ms since the epoch.
    pub server_ms: u64,
    /// The monotonic reading at the same moment.
    pub mono_ms: u64,
    /// The boot the monotonic reading belongs to.
    pub boot_id: String,
}

impl ClockAnchor {
    /// Physical time now from this anchor, if `now` is of the same boot (and not
    /// before the anchor, which a monotonic clock cannot be).
    pub fn now_ms(&self, now: &MonotonicReading) -> Option<u64> {
        (now.boot_id == self.boot_id && now.ms >= self.mono_ms)
            .then(|| self.server_ms.saturating_add(now.ms - self.mono_ms))
    }
}

/// Physical time as the device should stamp it: from the anchor within its boot, else
/// the wall clock (with a test skew) plus the offset learned from the server.
pub(crate) fn physical_now_ms(
    clock: &dyn DeviceClock,
    skew_ms: i64,
    offset_ms: i64,
    anchor: Option<&ClockAnchor>,
) -> u64 {
    if let (Some(a), Some(now)) = (anchor, clock.monotonic()) {
        if let Some(ms) = a.now_ms(&now) {
            return ms;
        }
    }
    let wall = clock.wall_ms().saturating_add(skew_ms);
    (i128::from(wall) + i128::from(offset_ms)).clamp(0, i128::from(sync_core::hlc::MAX_MILLIS))
        as u64
}
