//! Waiting before trying again: a jittered exponential backoff, the one
//! rule for every retry secdesk makes (IMAP reconnects, SMTP resends).
//! Jitter spreads retries out so that many clients — or one daemon's tasks
//! — do not hammer a recovering server in lockstep.

use std::time::Duration;

/// The wait before retry number `attempt` (0 = the first): `start`
/// doubled per attempt, capped at `max`, scaled by a random factor in
/// [0.5, 1.5).
pub fn nth(start: Duration, max: Duration, attempt: u32) -> Duration {
    let base = start.saturating_mul(1u32 << attempt.min(16)).min(max);
    base.mul_f64(0.5 + rand::random::<f64>())
}

/// A backoff that counts its own attempts (a reconnect loop).
#[derive(Debug, Clone)]
pub struct Backoff {
    start: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    pub fn new(start: Duration, max: Duration) -> Self {
        Backoff {
            start,
            max,
            attempt: 0,
        }
    }

    /// The next wait, and one more attempt counted.
    pub fn next_wait(&mut self) -> Duration {
        let d = nth(self.start, self.max, self.attempt);
        self.attempt = self.attempt.saturating_add(1);
        d
    }

    /// Success: the next failure waits the shortest time again.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_with_jitter_and_caps() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(8));
        let bases = [1, 2, 4, 8, 8, 8];
        for base in bases {
            let w = b.next_wait();
            let base = Duration::from_secs(base);
            assert!(
                w >= base.mul_f64(0.5) && w < base.mul_f64(1.5),
                "{w:?} vs {base:?}"
            );
        }
        b.reset();
        assert!(b.next_wait() < Duration::from_millis(1500));
        for (attempt, base) in [(0u32, 2u64), (1, 4), (3, 16), (20, 900)] {
            let d = nth(Duration::from_secs(2), Duration::from_secs(900), attempt);
            let b = Duration::from_secs(base);
            assert!(
                d >= b.mul_f64(0.5) && d < b.mul_f64(1.5),
                "{attempt}: {d:?}"
            );
        }
    }
}
