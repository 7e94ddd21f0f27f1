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

/// A duration as a sentence says it: `48 hours`, `1 hour`, `1 hour and 30
/// minutes`, `2 minutes`, `20 seconds` (for mail: "within 1 hours" reads
/// as a machine wrote it).
pub fn spoken_duration(d: std::time::Duration) -> String {
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    let unit = |n: u64, one: &str| {
        if n == 1 {
            format!("1 {one}")
        } else {
            format!("{n} {one}s")
        }
    };
    let mut parts = Vec::new();
    if h > 0 {
        parts.push(unit(h, "hour"));
    }
    if m > 0 {
        parts.push(unit(m, "minute"));
    }
    // Seconds only matter in windows under an hour (test and demo setups).
    if s > 0 && h == 0 {
        parts.push(unit(s, "second"));
    }
    match parts.as_slice() {
        [] => "0 minutes".into(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
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
    fn spoken_durations() {
        use std::time::Duration as D;
        assert_eq!(spoken_duration(D::from_secs(48 * 3600)), "48 hours");
        assert_eq!(spoken_duration(D::from_secs(3600)), "1 hour");
        assert_eq!(spoken_duration(D::from_secs(5400)), "1 hour and 30 minutes");
        assert_eq!(spoken_duration(D::from_secs(61)), "1 minute and 1 second");
        assert_eq!(spoken_duration(D::from_secs(120)), "2 minutes");
        assert_eq!(spoken_duration(D::from_secs(3601)), "1 hour");
        assert_eq!(spoken_duration(D::from_secs(0)), "0 minutes");
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

/// A point in the window at which the team is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Threshold {
    /// This long before the deadline: a reminder to the lead and assignee.
    Remind(Duration),
    /// The deadline passed: an escalation.
    Escalate,
}

impl Threshold {
    /// The key the store keeps, unique per case: `remind:43200s`, `escalate`.
    pub fn key(self) -> String {
        match self {
            Threshold::Remind(d) => format!("remind:{}s", d.as_secs()),
            Threshold::Escalate => "escalate".into(),
        }
    }
}

/// What a scan does for one case: the threshold to announce now, and the
/// earlier ones it makes moot (recorded, never sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Firing {
    pub fire: Threshold,
    pub skip: Vec<Threshold>,
}

/// Which threshold, if any, fires for a case due at `due` when scanned at
/// `now`, given the keys of thresholds already recorded for it.
///
/// Only the most urgent threshold that has passed fires: after downtime a
/// case that slept through its 12h and 4h reminders gets one 4h reminder,
/// not two, and a case past its deadline gets only the escalation.
pub fn firing(
    due: DateTime<Utc>,
    now: DateTime<Utc>,
    remind_before: &[Duration],
    already: &[String],
) -> Option<Firing> {
    let done = |t: Threshold| already.iter().any(|k| *k == t.key());
    let all: Vec<Threshold> = remind_before
        .iter()
        .map(|d| Threshold::Remind(*d))
        .chain(std::iter::once(Threshold::Escalate))
        .collect();
    let passed = |t: &Threshold| match t {
        Threshold::Escalate => now >= due,
        Threshold::Remind(d) => ChronoDuration::from_std(*d)
            .ok()
            .and_then(|d| due.checked_sub_signed(d))
            .is_some_and(|at| now >= at),
    };
    // The most urgent passed threshold: escalation, else the smallest offset.
    let most_urgent = all
        .iter()
        .filter(|t| passed(t))
        .min_by_key(|t| match t {
            Threshold::Escalate => Duration::ZERO,
            Threshold::Remind(d) => *d + Duration::from_nanos(1),
        })
        .copied()?;
    if done(most_urgent) {
        return None;
    }
    let skip = all
        .iter()
        .filter(|t| passed(t) && **t != most_urgent && !done(**t))
        .copied()
        .collect();
    Some(Firing {
        fire: most_urgent,
        skip,
    })
}

/// A deadline as people read it: `Fri 27 Nov 2026 10:12 CET (09:12 UTC)`.
pub fn local_and_utc(t: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
    let local = t.with_timezone(&tz);
    if tz == chrono_tz::UTC {
        return t.format("%a %d %b %Y %H:%M UTC").to_string();
    }
    format!(
        "{} ({} UTC)",
        local.format("%a %d %b %Y %H:%M %Z"),
        t.format("%H:%M")
    )
}

#[cfg(test)]
mod window_tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap() + ChronoDuration::hours(h)
    }
    const H: u64 = 3600;
    fn offsets() -> Vec<Duration> {
        vec![Duration::from_secs(12 * H), Duration::from_secs(4 * H)]
    }

    #[test]
    fn each_threshold_fires_once_in_order() {
        let due = t(48);
        let mut done: Vec<String> = Vec::new();
        let mut fired = Vec::new();
        for hour in 0..=60 {
            if let Some(f) = firing(due, t(hour), &offsets(), &done) {
                fired.push((hour, f.fire));
                done.push(f.fire.key());
                done.extend(f.skip.iter().map(|s| s.key()));
            }
        }
        assert_eq!(
            fired,
            vec![
                (36, Threshold::Remind(Duration::from_secs(12 * H))),
                (44, Threshold::Remind(Duration::from_secs(4 * H))),
                (48, Threshold::Escalate),
            ]
        );
    }

    #[test]
    fn nothing_before_the_first_threshold() {
        assert_eq!(firing(t(48), t(35), &offsets(), &[]), None);
    }

    #[test]
    fn catch_up_after_downtime_fires_only_the_most_urgent() {
        // Down from hour 30 to hour 45: both reminders passed meanwhile.
        let f = firing(t(48), t(45), &offsets(), &[]).unwrap();
        assert_eq!(f.fire, Threshold::Remind(Duration::from_secs(4 * H)));
        assert_eq!(f.skip, vec![Threshold::Remind(Duration::from_secs(12 * H))]);
        // Down past the deadline: only the escalation.
        let f = firing(t(48), t(50), &offsets(), &["remind:43200s".into()]).unwrap();
        assert_eq!(f.fire, Threshold::Escalate);
        assert_eq!(f.skip, vec![Threshold::Remind(Duration::from_secs(4 * H))]);
    }

    #[test]
    fn escalation_fires_once() {
        let done = vec!["escalate".to_string()];
        assert_eq!(firing(t(48), t(49), &offsets(), &done), None);
        assert_eq!(firing(t(48), t(100), &offsets(), &done), None);
    }

    #[test]
    fn no_reminders_configured_still_escalates() {
        assert_eq!(firing(t(48), t(47), &[], &[]), None);
        assert_eq!(
            firing(t(48), t(48), &[], &[]).unwrap().fire,
            Threshold::Escalate
        );
    }

    #[test]
    fn time_zones_across_a_dst_change() {
        let tz: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();
        // Summer time ends on 25 Oct 2026 at 01:00 UTC.
        let before = Utc.with_ymd_and_hms(2026, 10, 24, 12, 0, 0).unwrap();
        let after = Utc.with_ymd_and_hms(2026, 10, 26, 12, 0, 0).unwrap();
        assert_eq!(
            local_and_utc(before, tz),
            "Sat 24 Oct 2026 14:00 CEST (12:00 UTC)"
        );
        assert_eq!(
            local_and_utc(after, tz),
            "Mon 26 Oct 2026 13:00 CET (12:00 UTC)"
        );
        // A 48-hour window across the change is 48 real hours, 47 on the wall.
        let due = response_due_at(before, Duration::from_secs(48 * H));
        assert_eq!(
            local_and_utc(due, tz),
            "Mon 26 Oct 2026 13:00 CET (12:00 UTC)"
        );
        assert_eq!(
            local_and_utc(before, chrono_tz::UTC),
            "Sat 24 Oct 2026 12:00 UTC"
        );
    }
}
