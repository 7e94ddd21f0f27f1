//! The time the daemon's loops go by. Production reads the system clock;
//! tests run the loops under `tokio::time::pause()` with a clock that
//! advances with tokio's paused time, so a 48-hour window, a retry backoff
//! or a cron tick can be tested in milliseconds. The pure core never reads
//! a clock at all: it is handed `now`.

use chrono::{DateTime, Utc};

/// Where `now` comes from.
#[derive(Debug, Clone, Copy)]
pub enum Clock {
    /// The system's wall clock (UTC).
    System,
    /// Starts at `at` when tokio's clock reads `since`, and moves as tokio's
    /// clock moves (paused and advanced in tests).
    Tokio {
        at: DateTime<Utc>,
        since: tokio::time::Instant,
    },
}

impl Clock {
    /// A clock that reads `at` now and follows tokio's time from here.
    pub fn starting_at(at: DateTime<Utc>) -> Clock {
        Clock::Tokio {
            at,
            since: tokio::time::Instant::now(),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Tokio { at, since } => {
                let elapsed = tokio::time::Instant::now().saturating_duration_since(*since);
                *at + chrono::Duration::from_std(elapsed).unwrap_or_default()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[tokio::test(start_paused = true)]
    async fn the_tokio_clock_follows_paused_time() {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
        let c = Clock::starting_at(t0);
        assert_eq!(c.now(), t0);
        tokio::time::advance(std::time::Duration::from_secs(48 * 3600)).await;
        assert_eq!(c.now(), t0 + chrono::Duration::hours(48));
    }
}
