//! Hybrid logical clock: 48 bits of milliseconds since the Unix epoch and a 16-bit
//! counter, packed in one `u64` so that integer order is clock order.
//!
//! The physical part is the phone's clock plus an offset the server reports, so a
//! phone whose clock is wrong still stamps close to true time once it has talked to the
//! server. The clock never goes backwards: when the wall clock jumps back the counter
//! advances instead, and when the counter overflows the millisecond part moves on.

use serde::{Deserialize, Serialize};
use std::fmt;

const COUNTER_BITS: u32 = 16;
const COUNTER_MAX: u64 = (1 << COUNTER_BITS) - 1;
/// Largest millisecond value a 48-bit field holds (year 10889).
pub const MAX_MILLIS: u64 = (1 << 48) - 1;

/// Default bound on how far ahead of the local (corrected) clock a received stamp may
/// be: anything later is refused rather than allowed to dominate every future edit.
pub const DEFAULT_MAX_AHEAD_MS: u64 = 10 * 60 * 1000;

/// A hybrid logical clock value. Ordered first by milliseconds, then by counter.
///
/// On the wire it is a 16-digit lowercase hex string, so that it sorts as text and
/// survives JavaScript (whose numbers cannot hold 64 bits).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hlc(u64);

impl Hlc {
    /// The zero clock: earlier than any stamp a device mints.
    pub const ZERO: Hlc = Hlc(0);

    /// Builds a clock value; `millis` is truncated to 48 bits.
    pub fn new(millis: u64, counter: u16) -> Hlc {
        Hlc(((millis & MAX_MILLIS) << COUNTER_BITS) | counter as u64)
    }

    /// Milliseconds since the Unix epoch (the physical part).
    pub fn millis(self) -> u64 {
        self.0 >> COUNTER_BITS
    }

    /// The logical counter within one millisecond.
    pub fn counter(self) -> u16 {
        (self.0 & COUNTER_MAX) as u16
    }

    /// The packed form, suitable for an SQL `INTEGER` column (it fits in `i64` until
    /// the year 6429).
    pub fn as_u64(self) -> u64 {
        self.0
    }

    /// Inverse of [`Hlc::as_u64`].
    pub fn from_u64(v: u64) -> Hlc {
        Hlc(v)
    }

    /// The next value after this one.
    pub fn successor(self) -> Hlc {
        if self.counter() as u64 == COUNTER_MAX {
            Hlc::new(self.millis() + 1, 0)
        } else {
            Hlc(self.0 + 1)
        }
    }

    /// Parses the 16-digit hex wire form.
    pub fn parse(s: &str) -> Result<Hlc, ClockError> {
        if s.len() != 16 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ClockError::Malformed(s.chars().take(40).collect()));
        }
        u64::from_str_radix(s, 16)
            .map(Hlc)
            .map_err(|_| ClockError::Malformed(s.to_string()))
    }
}

impl fmt::Display for Hlc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::Debug for Hlc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hlc({}.{})", self.millis(), self.counter())
    }
}

impl Serialize for Hlc {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Hlc {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Hlc::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Why a clock value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClockError {
    /// A received stamp lies further in the future than the bound allows; accepting
    /// it would let one wrong clock win every later conflict.
    #[error("clock value {got_ms} ms is {ahead_ms} ms ahead of local time (limit {limit_ms} ms)")]
    TooFarAhead {
        got_ms: u64,
        ahead_ms: u64,
        limit_ms: u64,
    },
    /// Not a 16-digit hex clock value.
    #[error("malformed clock value {0:?}")]
    Malformed(String),
}

/// A device's (or the server's) clock. Holds the last value handed out, so that every
/// call to [`HlcClock::now`] returns a strictly larger value than the one before,
/// whatever the wall clock does.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct HlcClock {
    last: Hlc,
    /// Milliseconds to add to the wall clock: the correction learned from the server.
    offset_ms: i64,
    /// How far ahead a received stamp may be before [`HlcClock::observe`] refuses it.
    max_ahead_ms: u64,
}

impl Default for HlcClock {
    fn default() -> Self {
        HlcClock::new(Hlc::ZERO)
    }
}

impl HlcClock {
    /// A clock that will never hand out a value at or below `last` (persist `last`
    /// across restarts to keep that promise).
    pub fn new(last: Hlc) -> HlcClock {
        HlcClock {
            last,
            offset_ms: 0,
            max_ahead_ms: DEFAULT_MAX_AHEAD_MS,
        }
    }

    /// Sets the correction added to the wall clock.
    pub fn with_offset(mut self, offset_ms: i64) -> HlcClock {
        self.offset_ms = offset_ms;
        self
    }

    /// Sets the bound used by [`HlcClock::observe`].
    pub fn with_max_ahead(mut self, max_ahead_ms: u64) -> HlcClock {
        self.max_ahead_ms = max_ahead_ms;
        self
    }

    /// The last value handed out or observed.
    pub fn last(&self) -> Hlc {
        self.last
    }

    /// The correction currently added to the wall clock.
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms
    }

    /// Replaces the correction (learned from the server's reply).
    pub fn set_offset(&mut self, offset_ms: i64) {
        self.offset_ms = offset_ms;
    }

    /// The corrected physical time for a wall-clock reading.
    pub fn physical(&self, wall_ms: u64) -> u64 {
        (wall_ms as i128 + self.offset_ms as i128).clamp(0, MAX_MILLIS as i128) as u64
    }

    /// A new stamp, strictly larger than every value handed out or observed before.
    pub fn now(&mut self, wall_ms: u64) -> Hlc {
        let phys = self.physical(wall_ms);
        self.last = if phys > self.last.millis() {
            Hlc::new(phys, 0)
        } else {
            self.last.successor()
        };
        self.last
    }

    /// Takes note of a stamp received from elsewhere, so later local stamps order after
    /// it. Refuses a stamp too far ahead of the corrected local time.
    pub fn observe(&mut self, remote: Hlc, wall_ms: u64) -> Result<(), ClockError> {
        check_not_too_far_ahead(remote, self.physical(wall_ms), self.max_ahead_ms)?;
        if remote > self.last {
            self.last = remote;
        }
        Ok(())
    }

    /// Forgets a runaway past: after a clock that was far ahead has been corrected, the
    /// device re-stamps its unsent changes from the corrected time. This is the one
    /// deliberate break of monotonicity, allowed only because none of the far-future
    /// stamps were accepted by anyone.
    pub fn reset_after_rejection(&mut self, wall_ms: u64) {
        self.last = Hlc::new(self.physical(wall_ms), 0);
    }
}

/// The rule both device and server use to refuse a far-future stamp.
pub fn check_not_too_far_ahead(stamp: Hlc, now_ms: u64, limit_ms: u64) -> Result<(), ClockError> {
    let got = stamp.millis();
    if got > now_ms.saturating_add(limit_ms) {
        return Err(ClockError::TooFarAhead {
            got_ms: got,
            ahead_ms: got - now_ms,
            limit_ms,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn wire_form_round_trips_and_sorts_as_text() {
        let a = Hlc::new(1_700_000_000_000, 3);
        let b = Hlc::new(1_700_000_000_001, 0);
        assert_eq!(Hlc::parse(&a.to_string()).unwrap(), a);
        assert!(a.to_string() < b.to_string());
        assert_eq!(serde_json::to_string(&a).unwrap(), format!("\"{a}\""));
        assert!(Hlc::parse("xyz").is_err());
        assert!(Hlc::parse("00000000000000000").is_err());
    }

    #[test]
    fn counter_overflow_moves_to_next_millisecond() {
        let h = Hlc::new(5, u16::MAX);
        assert_eq!(h.successor(), Hlc::new(6, 0));
    }

    #[test]
    fn a_clock_a_year_ahead_is_refused() {
        let now = 1_760_000_000_000;
        let mut c = HlcClock::default();
        let year = 365 * 24 * 3600 * 1000;
        let err = c.observe(Hlc::new(now + year, 0), now).unwrap_err();
        assert!(matches!(err, ClockError::TooFarAhead { .. }));
        assert_eq!(
            c.last(),
            Hlc::ZERO,
            "a refused stamp must not move the clock"
        );
        c.observe(Hlc::new(now + 1000, 0), now).unwrap();
        assert!(c.now(now) > Hlc::new(now + 1000, 0));
    }

    #[test]
    fn offset_corrects_a_slow_phone() {
        let mut c = HlcClock::default().with_offset(60_000);
        assert_eq!(c.now(1_000_000).millis(), 1_060_000);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// Whatever the wall clock does (jumps back a year, forward, stalls) and
        /// whatever is observed, every stamp handed out is larger than the last.
        #[test]
        fn clock_stays_monotonic_under_clock_jumps(
            steps in proptest::collection::vec(
                (0u64..4_000_000_000_000u64, prop::option::of(0u64..4_000_000_000_000u64), -1_000_000i64..1_000_000),
                1..200)
        ) {
            let mut c = HlcClock::default();
            let mut prev = Hlc::ZERO;
            for (wall, remote, offset) in steps {
                c.set_offset(offset);
                if let Some(r) = remote {
                    let before = c.last();
                    if c.observe(Hlc::new(r, 7), wall).is_ok() {
                        prop_assert!(c.last() >= before);
                    } else {
                        prop_assert_eq!(c.last(), before);
                    }
                }
                let h = c.now(wall);
                prop_assert!(h > prev, "{:?} !> {:?}", h, prev);
                prop_assert!(h > c.last() || h == c.last());
                prev = h;
            }
        }
    }
}
