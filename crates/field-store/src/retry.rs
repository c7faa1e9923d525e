//! The device's one retry policy: how long to wait before trying again after a
//! failure that a later try may not meet (no network, a timeout, a busy server), and
//! when to give up. The sync client, the app's background runner, the CLI and the
//! tests all retry through [`retry`] with a [`RetryPolicy`], so that 6,735 phones
//! regaining signal at once spread their retries (exponential back-off with jitter)
//! instead of hitting the server in the same second, and a failure that retrying
//! cannot fix is reported at once.

use std::time::Duration;

/// When and how often to try again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait after the first failure (before jitter).
    pub base: Duration,
    /// The longest wait between two tries (before jitter).
    pub cap: Duration,
    /// Tries in all, the first included (at least 1).
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    /// 2 s, 4 s, 8 s, … up to 5 minutes between tries, 8 tries (about 10 minutes).
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_secs(2),
            cap: Duration::from_secs(300),
            max_attempts: 8,
        }
    }
}

impl RetryPolicy {
    /// While a person watches the screen (enrollment): a few quick tries — 1 s, then
    /// 2 s between them (before jitter), 3 tries in all — then the failure is shown
    /// and the person may try again.
    pub fn while_a_person_waits() -> RetryPolicy {
        RetryPolicy {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(4),
            max_attempts: 3,
        }
    }

    /// Retries at once, `max_attempts` tries in all (tests).
    pub fn immediate(max_attempts: u32) -> RetryPolicy {
        RetryPolicy {
            base: Duration::ZERO,
            cap: Duration::ZERO,
            max_attempts,
        }
    }

    /// The back-off sequence of this policy, with a random seed.
    pub fn backoff(&self) -> Backoff {
        Backoff::new(self.base, self.cap)
    }
}

/// Exponential back-off with jitter: base·2ⁿ capped, times a random factor in
/// [0.5, 1.5), so that retries of many devices spread out.
#[derive(Clone, Debug)]
pub struct Backoff {
    attempt: u32,
    base: Duration,
    cap: Duration,
    seed: u64,
}

impl Backoff {
    /// A back-off from `base` up to `cap`, seeded at random.
    pub fn new(base: Duration, cap: Duration) -> Backoff {
        let seed = uuid::Uuid::now_v7().as_u128() as u64;
        Backoff::with_seed(base, cap, seed)
    }

    /// The same, with a given seed (a test's, for a repeatable sequence).
    pub fn with_seed(base: Duration, cap: Duration, seed: u64) -> Backoff {
        Backoff {
            attempt: 0,
            base,
            cap,
            seed: seed | 1,
        }
    }

    /// The wait before the next attempt: base·2ⁿ capped, times a random factor in
    /// [0.5, 1.5).
    pub fn next_delay(&mut self) -> Duration {
        let exp = self.base.saturating_mul(1u32 << self.attempt.min(16));
        self.attempt = self.attempt.saturating_add(1);
        let d = exp.min(self.cap);
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        let factor = 0.5 + (self.seed % 1000) as f64 / 1000.0;
        d.mul_f64(factor)
    }

    /// After a success.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// Runs `op` until it succeeds, fails with an error `retryable` says retrying will not
/// fix, or `policy.max_attempts` tries have failed (then the last error is returned).
/// Between tries it calls `on_retry(attempt, &error, wait)` (to tell the director)
/// and `sleep(wait)` (`std::thread::sleep` in the app; tests pass their own).
pub fn retry<T, E>(
    policy: &RetryPolicy,
    mut backoff: Backoff,
    retryable: impl Fn(&E) -> bool,
    mut on_retry: impl FnMut(u32, &E, Duration),
    mut sleep: impl FnMut(Duration),
    mut op: impl FnMut() -> Result<T, E>,
) -> Result<T, E> {
    let mut attempt = 1;
    loop {
        match op() {
            Ok(v) => return Ok(v),
            Err(e) if retryable(&e) && attempt < policy.max_attempts.max(1) => {
                let wait = backoff.next_delay();
                on_retry(attempt, &e, wait);
                sleep(wait);
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_cap_with_jitter_around_each() {
        let (base, cap) = (Duration::from_secs(1), Duration::from_secs(60));
        let mut b = Backoff::with_seed(base, cap, 42);
        for n in 0..12u32 {
            let nominal = base.saturating_mul(1 << n).min(cap);
            let d = b.next_delay();
            assert!(
                d >= nominal.mul_f64(0.5) && d < nominal.mul_f64(1.5),
                "try {n}: {d:?} not within jitter of {nominal:?}"
            );
        }
        b.reset();
        assert!(b.next_delay() < Duration::from_millis(1500));
    }

    #[test]
    fn two_phones_do_not_wait_the_same() {
        let (base, cap) = (Duration::from_secs(10), Duration::from_secs(600));
        let a: Vec<_> = {
            let mut b = Backoff::with_seed(base, cap, 1);
            (0..5).map(|_| b.next_delay()).collect()
        };
        let c: Vec<_> = {
            let mut b = Backoff::with_seed(base, cap, 2);
            (0..5).map(|_| b.next_delay()).collect()
        };
        assert_ne!(a, c);
    }

    #[derive(Debug, PartialEq)]
    enum Failure {
        Network,
        Refused,
    }

    #[test]
    fn retries_what_may_pass_later_and_gives_up_after_the_last_try() {
        let policy = RetryPolicy {
            base: Duration::from_secs(2),
            cap: Duration::from_secs(5),
            max_attempts: 4,
        };
        let (mut tries, mut waits, mut told) = (0, Vec::new(), 0);
        let r: Result<(), Failure> = retry(
            &policy,
            Backoff::with_seed(policy.base, policy.cap, 7),
            |e| *e == Failure::Network,
            |_, _, _| told += 1,
            |d| waits.push(d),
            || {
                tries += 1;
                Err(Failure::Network)
            },
        );
        assert_eq!(r, Err(Failure::Network));
        assert_eq!((tries, told, waits.len()), (4, 3, 3));
        assert!(
            waits.iter().all(|w| *w < Duration::from_millis(7500)),
            "{waits:?}"
        );

        let mut tries = 0;
        let r = retry(
            &policy,
            policy.backoff(),
            |e| *e == Failure::Network,
            |_, _, _| {},
            |_| {},
            || {
                tries += 1;
                if tries < 3 {
                    Err(Failure::Network)
                } else {
                    Ok(tries)
                }
            },
        );
        assert_eq!(r, Ok(3), "succeeds on the third try");
    }

    #[test]
    fn a_failure_retrying_cannot_fix_is_reported_at_once() {
        let mut tries = 0;
        let r: Result<(), Failure> = retry(
            &RetryPolicy::default(),
            RetryPolicy::default().backoff(),
            |e| *e == Failure::Network,
            |_, _, _| panic!("no retry"),
            |_| panic!("no wait"),
            || {
                tries += 1;
                Err(Failure::Refused)
            },
        );
        assert_eq!((r, tries), (Err(Failure::Refused), 1));
    }
}
