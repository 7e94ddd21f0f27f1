//! The 48-hour response window: deadlines as plain arithmetic on `now`.

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use std::time::Duration;

/// `received_at + window`, saturating far in the future on overflow.
pub fn response_due_at(received_at: DateTime<Utc>, window: Duration) -> DateTime<Utc> {
    ChronoDuration::from_std(window)
        .ok()
        .and_then(|w| received_at.checked_add_signed(w))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Time left until `due` (negative once overdue), in whole seconds.
pub fn time_left(due: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    (due - now).num_seconds()
}

/// A short human duration: `47h 59m`, `12m`, `3d 4h`, `-2h 5m` when past.
pub fn human_duration(secs: i64) -> String {
    let sign = if secs < 0 { "-" } else { "" };
    let s = secs.unsigned_abs();
    let (d, h, m) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60);
    // Up to three days, hours read better against a 48-hour window.
    let body = if d >= 3 {
        format!("{d}d {h}h")
    } else if d > 0 {
        format!("{}h {m}m", d * 24 + h)
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m")
    } else {
        format!("{}s", s % 60)
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn due_is_received_plus_window() {
        let r = Utc.with_ymd_and_hms(2026, 11, 23, 9, 12, 44).unwrap();
        let due = response_due_at(r, Duration::from_secs(48 * 3600));
        assert_eq!(due, Utc.with_ymd_and_hms(2026, 11, 25, 9, 12, 44).unwrap());
        assert_eq!(time_left(due, r), 48 * 3600);
        assert_eq!(
            response_due_at(r, Duration::from_secs(u64::MAX)),
            DateTime::<Utc>::MAX_UTC
        );
    }

    #[test]
    fn human_durations() {
        assert_eq!(human_duration(48 * 3600), "48h 0m");
        assert_eq!(human_duration(4 * 86_400 + 3600), "4d 1h");
        assert_eq!(human_duration(47 * 3600 + 59 * 60), "47h 59m");
        assert_eq!(human_duration(125), "2m");
        assert_eq!(human_duration(5), "5s");
        assert_eq!(human_duration(-(2 * 3600 + 5 * 60)), "-2h 5m");
    }
}
