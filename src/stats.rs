//! The transparency figures (`secdesk stats`): how fast reports are
//! acknowledged and answered, how often the 48-hour promise is kept (and
//! the promise to answer each later message), how long fixes and
//! disclosures take by severity, for all time or a period. Pure: case rows,
//! turns and `now` in, figures out.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::store::cases::CaseRow;
use crate::store::parse_ts;
use crate::store::turns::Turn;

/// Median and worst of a set of durations, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spread {
    pub count: usize,
    pub median_s: Option<f64>,
    pub worst_s: Option<f64>,
}

impl Spread {
    pub fn of(mut v: Vec<f64>) -> Spread {
        v.sort_by(|a, b| a.total_cmp(b));
        let median = match v.len() {
            0 => None,
            n if n % 2 == 1 => Some(v[n / 2]),
            n => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
        };
        Spread {
            count: v.len(),
            median_s: median,
            worst_s: v.last().copied(),
        }
    }
}

/// All figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    /// The period the figures cover (cases received in it), if limited.
    pub since: Option<NaiveDate>,
    pub until: Option<NaiveDate>,
    /// Reports: every case but history (still `imported`), silent closes
    /// and merged ones.
    pub cases: usize,
    /// History filed at the first start or by `secdesk import`: not in
    /// any figure below.
    pub imported: usize,
    /// Closed silently (spam, not a report): counted here, and in the
    /// window figures only as the breaches below.
    pub closed_silently: usize,
    /// Of those, how many were closed only after their first-response
    /// deadline had passed unanswered: breaches, counted in
    /// `window_decided` (a silent close does not hide a breach).
    pub closed_silently_breached: usize,
    /// Cases merged into another whose own deadline had passed unanswered
    /// before the merge (and that the target's earlier clock does not
    /// already count): breaches, counted in `window_decided`.
    pub merged_breached: usize,
    /// Cases filed as history and later reopened (counted in `cases`):
    /// their first window was never secdesk's to keep, so they are in no
    /// first-response figure; their later turns count under `follow_up`.
    pub history_reopened: usize,
    pub time_to_acknowledge: Spread,
    pub time_to_first_response: Spread,
    /// Cases whose window has closed or that were answered, and silent
    /// closes that came after the deadline passed unanswered.
    pub window_decided: usize,
    /// Answered by a person before the deadline, however the case was
    /// closed later: closing an overdue case does not hide the breach.
    pub answered_within_window: usize,
    /// Of those, how many only on a team From line nobody verified
    /// (`team.trust_authentication_results` unset).
    pub answered_within_window_unverified: usize,
    /// `answered_within_window / window_decided`, if any.
    pub share_answered_within_window: Option<f64>,
    /// The same for the answers to later messages (`sla.follow_up_window`).
    pub follow_up: FollowUpFigures,
    pub time_to_fix_by_severity: BTreeMap<String, Spread>,
    pub time_to_disclosure_by_severity: BTreeMap<String, Spread>,
    pub open_by_state: BTreeMap<String, usize>,
}

/// The conversation after the first response, turn by turn.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FollowUpFigures {
    /// Turns started in the period (a later message from outside the team).
    pub turns: usize,
    /// Of those, how many reopened a closed case.
    pub reopened: usize,
    pub time_to_answer: Spread,
    /// Answered, or past their deadline (also when the case was closed
    /// afterwards without an answer).
    pub decided: usize,
    pub answered_within_window: usize,
    pub share_answered_within_window: Option<f64>,
}

fn secs(from: &str, to: Option<&str>) -> Option<f64> {
    let a = parse_ts(from)?;
    let b = parse_ts(to?)?;
    Some(((b - a).num_milliseconds() as f64 / 1000.0).max(0.0))
}

/// Whether `at` (an RFC 3339 time) falls in the period.
fn in_period(at: &str, since: Option<NaiveDate>, until: Option<NaiveDate>) -> bool {
    let Some(t) = parse_ts(at) else {
        return since.is_none() && until.is_none();
    };
    let day = t.date_naive();
    since.is_none_or(|s| day >= s) && until.is_none_or(|u| day < u)
}

/// Whether one wait for the team was decided by `now`, and kept: answered
/// at or before its deadline. `None` while it may still be kept.
fn kept(answered: Option<&str>, due: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Option<bool> {
    let answered = answered.and_then(parse_ts);
    match (answered, due) {
        (Some(a), Some(d)) => Some(a <= d),
        (None, Some(d)) if d < now => Some(false),
        _ => None,
    }
}

/// Whether a case closed silently broke its first-response promise first:
/// its deadline passed (before `now`) with no answer and the case still
/// open. Closed, or answered, by the deadline: the lead decided in time
/// that it was no report, and it is in no figure.
fn breached_before_silent_close(c: &CaseRow, now: DateTime<Utc>) -> bool {
    let Some(due) = c.response_due().filter(|d| *d < now) else {
        return false;
    };
    if c.first_response_at
        .as_deref()
        .and_then(parse_ts)
        .is_some_and(|a| a <= due)
    {
        return false;
    }
    match c.closed_at.as_deref().and_then(parse_ts) {
        Some(closed) => closed > due,
        // No record of when (a store edited by hand): a breach cannot be
        // ruled out, and the figures never hide one.
        None => true,
    }
}

/// Computes the figures over `all` cases and their `turns` at `now`, for
/// the cases received in [`since`, `until`) (days, UTC). History
/// (`imported`), silent closes and merged cases are counted apart and left
/// out of the figures: they were never a report to answer, or their
/// messages count under the case they were merged into. Two exceptions,
/// because a breach is a breach however the case is closed later: a silent
/// close after the deadline passed unanswered counts as a breach, and so
/// does a follow-up turn on such a case left past its deadline. A case
/// filed as history stays out of the first-response figures even after it
/// is reopened and moved on.
pub fn compute(
    all: &[CaseRow],
    turns: &[Turn],
    now: DateTime<Utc>,
    since: Option<NaiveDate>,
    until: Option<NaiveDate>,
) -> Stats {
    let period: Vec<&CaseRow> = all
        .iter()
        .filter(|c| in_period(&c.received_at, since, until))
        .collect();
    let count = |state: &str| period.iter().filter(|c| c.state == state).count();
    let cases: Vec<&CaseRow> = period
        .iter()
        .copied()
        .filter(|c| !matches!(c.state.as_str(), "imported" | "closed" | "merged"))
        .collect();
    // The first window is secdesk's only on cases it filed as reports.
    let answerable: Vec<&CaseRow> = cases.iter().copied().filter(|c| !c.history).collect();
    let ack = answerable
        .iter()
        .filter_map(|c| secs(&c.received_at, c.acknowledged_at.as_deref()))
        .collect();
    let first = answerable
        .iter()
        .filter_map(|c| secs(&c.received_at, c.first_response_at.as_deref()))
        .collect();
    let closed_silently_breached = period
        .iter()
        .filter(|c| c.state == "closed" && !c.history)
        .filter(|c| breached_before_silent_close(c, now))
        .count();
    // A merge is a close too: a case merged away after its own deadline
    // passed unanswered stays a breach — unless the merge gave the target
    // its clock (the earlier deadline wins), which then counts it there.
    let due_of: std::collections::HashMap<&str, Option<DateTime<Utc>>> = all
        .iter()
        .map(|c| (c.id.as_str(), c.response_due()))
        .collect();
    let merged_breached = period
        .iter()
        .filter(|c| c.state == "merged" && !c.history)
        .filter(|c| {
            let target_due = c
                .merged_into
                .as_deref()
                .and_then(|t| due_of.get(t).copied().flatten());
            target_due.is_none_or(|t| c.response_due().is_some_and(|d| d > t))
        })
        .filter(|c| breached_before_silent_close(c, now))
        .count();
    let mut decided = closed_silently_breached + merged_breached;
    let mut within = 0;
    let mut within_unverified = 0;
    for c in &answerable {
        match kept(c.first_response_at.as_deref(), c.response_due(), now) {
            Some(true) => {
                decided += 1;
                within += 1;
                if c.first_response_unverified {
                    within_unverified += 1;
                }
            }
            Some(false) => decided += 1,
            None => {}
        }
    }
    let by_severity = |end: fn(&CaseRow) -> Option<&str>| {
        let mut m: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for c in &cases {
            if let Some(s) = secs(&c.received_at, end(c)) {
                m.entry(c.severity.clone().unwrap_or_else(|| "unrated".into()))
                    .or_default()
                    .push(s);
            }
        }
        m.into_iter().map(|(k, v)| (k, Spread::of(v))).collect()
    };
    let mut open_by_state = BTreeMap::new();
    for c in cases.iter().filter(|c| !c.is_closed()) {
        *open_by_state.entry(c.state.clone()).or_insert(0) += 1;
    }
    Stats {
        since,
        until,
        cases: cases.len(),
        imported: count("imported"),
        closed_silently: count("closed"),
        closed_silently_breached,
        merged_breached,
        history_reopened: cases.len() - answerable.len(),
        time_to_acknowledge: Spread::of(ack),
        time_to_first_response: Spread::of(first),
        window_decided: decided,
        answered_within_window: within,
        answered_within_window_unverified: within_unverified,
        share_answered_within_window: (decided > 0).then(|| within as f64 / decided as f64),
        follow_up: follow_up(all, turns, now, since, until),
        time_to_fix_by_severity: by_severity(|c| c.released_at.as_deref()),
        time_to_disclosure_by_severity: by_severity(|c| c.disclosed_at.as_deref()),
        open_by_state,
    }
}

/// The follow-up figures: turns started in the period, on cases that are
/// reports (a turn on a case later closed as spam or merged away is not,
/// unless it was left past its deadline first: that breach stays). Turns
/// on history count like any other: the team owed those answers.
fn follow_up(
    all: &[CaseRow],
    turns: &[Turn],
    now: DateTime<Utc>,
    since: Option<NaiveDate>,
    until: Option<NaiveDate>,
) -> FollowUpFigures {
    let case_of: std::collections::HashMap<&str, &CaseRow> =
        all.iter().map(|c| (c.id.as_str(), c)).collect();
    let turns: Vec<&Turn> = turns
        .iter()
        .filter(|t| match case_of.get(t.case_id.as_str()) {
            Some(c) if c.state == "closed" => turn_breached(t, now),
            // A turn still open at the merge moved to the target (ended
            // here at the merge's time): it counts there, once.
            Some(c) if c.state == "merged" => {
                t.ended_at
                    .as_ref()
                    .is_none_or(|e| Some(e) != c.closed_at.as_ref())
                    && turn_breached(t, now)
            }
            _ => true,
        })
        .filter(|t| in_period(&t.started_at, since, until))
        .collect();
    let mut decided = 0;
    let mut within = 0;
    for t in &turns {
        let due = parse_ts(&t.due_at);
        // Closed by the lead before its deadline, without an answer: the
        // lead decided there was nothing to say; not a breach, not kept.
        let ended_in_time = t.answered_at.is_none()
            && t.ended_at
                .as_deref()
                .and_then(parse_ts)
                .zip(due)
                .is_some_and(|(e, d)| e <= d);
        if ended_in_time {
            continue;
        }
        match kept(t.answered_at.as_deref(), due, now) {
            Some(true) => {
                decided += 1;
                within += 1;
            }
            Some(false) => decided += 1,
            None => {}
        }
    }
    FollowUpFigures {
        turns: turns.len(),
        reopened: turns.iter().filter(|t| t.reopened).count(),
        time_to_answer: Spread::of(
            turns
                .iter()
                .filter_map(|t| secs(&t.started_at, t.answered_at.as_deref()))
                .collect(),
        ),
        decided,
        answered_within_window: within,
        share_answered_within_window: (decided > 0).then(|| within as f64 / decided as f64),
    }
}

/// Whether a turn's deadline passed with no answer (the case open, or
/// closed only afterwards).
fn turn_breached(t: &Turn, now: DateTime<Utc>) -> bool {
    let Some(due) = parse_ts(&t.due_at).filter(|d| *d < now) else {
        return false;
    };
    let by = |at: &Option<String>| at.as_deref().and_then(parse_ts).is_some_and(|a| a <= due);
    !by(&t.answered_at) && !by(&t.ended_at)
}

/// A duration for people, from seconds.
pub fn human(s: Option<f64>) -> String {
    match s {
        None => "-".into(),
        Some(s) if s < 60.0 => format!("{s:.1}s"),
        Some(s) => crate::case::sla::human_duration(s.round() as i64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn case(
        id: &str,
        sev: &str,
        ack: Option<&str>,
        first: Option<&str>,
        released: Option<&str>,
    ) -> CaseRow {
        serde_json::from_value(json!({
            "id": id, "state": "acknowledged", "reporter": "r@x", "subject": "s",
            "received_at": "2026-11-01T00:00:00.000Z", "acknowledged_at": ack,
            "first_response_at": first, "response_due_at": "2026-11-03T00:00:00.000Z",
            "severity": sev, "reporter_name": "", "missing_items": [], "assignee": null,
            "impact": null, "cvss_vector": null, "decision_reason": null, "duplicate_of": null,
            "fix_ref": null, "fixed_version": null, "affected_versions": null, "introduced_in": null,
            "user_impact": null, "advisory": null, "credit_consent": null, "credit_name": null,
            "send_failure": null, "workaround": null, "released_at": released, "disclosed_at": null
        }))
        .unwrap()
    }

    #[test]
    fn medians_worsts_and_the_share_kept() {
        let cases = vec![
            case(
                "A",
                "high",
                Some("2026-11-01T00:00:01.000Z"),
                Some("2026-11-01T05:00:00.000Z"),
                Some("2026-11-08T00:00:00.000Z"),
            ),
            case(
                "B",
                "high",
                Some("2026-11-01T00:00:03.000Z"),
                Some("2026-11-04T00:00:00.000Z"),
                Some("2026-11-04T00:00:00.000Z"),
            ),
            case("C", "low", Some("2026-11-01T00:00:02.000Z"), None, None),
        ];
        let now = Utc.with_ymd_and_hms(2026, 11, 10, 0, 0, 0).unwrap();
        let s = compute(&cases, &[], now, None, None);
        assert_eq!(s.time_to_acknowledge.median_s, Some(2.0));
        assert_eq!(s.time_to_acknowledge.worst_s, Some(3.0));
        assert_eq!(s.time_to_first_response.count, 2);
        assert_eq!((s.answered_within_window, s.window_decided), (1, 3));
        let fix = s.time_to_fix_by_severity["high"];
        assert_eq!(fix.median_s, Some(5.0 * 86400.0));
        assert_eq!(s.open_by_state["acknowledged"], 3);
    }

    fn turn(case: &str, n: i64, due: &str, answered: Option<&str>, ended: Option<&str>) -> Turn {
        Turn {
            case_id: case.into(),
            turn: n,
            started_at: "2026-11-05T00:00:00.000Z".into(),
            due_at: due.into(),
            reopened: n == 2,
            answered_at: answered.map(String::from),
            answered_unverified: false,
            ended_at: ended.map(String::from),
        }
    }

    #[test]
    fn closing_an_overdue_case_does_not_hide_the_breach() {
        let now = Utc.with_ymd_and_hms(2026, 11, 10, 0, 0, 0).unwrap();
        let mut escalated = case("A", "low", None, None, None);
        // Escalated, then rejected without a reply before the notice.
        escalated.state = "invalid".into();
        escalated.first_response_at = Some("2026-11-05T00:00:00.000Z".into());
        let mut answered = case("B", "low", None, Some("2026-11-02T00:00:00.000Z"), None);
        answered.state = "invalid".into();
        let mut spam = case("C", "low", None, None, None);
        spam.state = "closed".into();
        // Called spam before its deadline: in no figure.
        spam.closed_at = Some("2026-11-01T06:00:00.000Z".into());
        let s = compute(&[escalated, answered, spam], &[], now, None, None);
        assert_eq!((s.answered_within_window, s.window_decided), (1, 2));
        assert_eq!((s.cases, s.closed_silently), (2, 1));
    }

    #[test]
    fn follow_up_turns_have_their_own_figures() {
        let now = Utc.with_ymd_and_hms(2026, 11, 10, 0, 0, 0).unwrap();
        let due = "2026-11-08T00:00:00.000Z";
        let turns = [
            turn("A", 1, due, Some("2026-11-06T00:00:00.000Z"), None),
            turn("A", 2, due, None, Some("2026-11-09T00:00:00.000Z")),
            turn("B", 1, due, None, Some("2026-11-07T00:00:00.000Z")),
            turn("C", 1, "2026-11-12T00:00:00.000Z", None, None),
        ];
        let cases = [case("A", "low", None, None, None)];
        let f = compute(&cases, &turns, now, None, None).follow_up;
        assert_eq!(f.turns, 4);
        assert_eq!(f.reopened, 1);
        // A kept, A's second closed late (a breach), B closed in time (not
        // decided), C still open.
        assert_eq!((f.answered_within_window, f.decided), (1, 2));
        assert_eq!(f.time_to_answer.median_s, Some(86400.0));
    }

    #[test]
    fn a_period_is_the_cases_received_in_it() {
        let now = Utc.with_ymd_and_hms(2026, 11, 10, 0, 0, 0).unwrap();
        let mut old = case("A", "low", None, None, None);
        old.received_at = "2025-12-31T23:59:59.000Z".into();
        let new = case("B", "low", None, None, None);
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d);
        let s = compute(&[old.clone(), new.clone()], &[], now, d(2026, 1, 1), None);
        assert_eq!(s.cases, 1);
        let s = compute(&[old, new], &[], now, None, d(2026, 1, 1));
        assert_eq!(s.cases, 1);
        assert_eq!(s.since, None);
    }

    #[test]
    fn history_is_in_no_first_response_figure_even_reopened() {
        let now = Utc.with_ymd_and_hms(2026, 11, 10, 0, 0, 0).unwrap();
        // Filed as history, reopened by its reporter and triaged since;
        // the team's answer came days after the "deadline" it never had.
        let mut old = case("H", "low", None, Some("2026-11-06T00:00:00.000Z"), None);
        old.state = "triage".into();
        old.history = true;
        // The same, still answered fast: not a fast response of secdesk's.
        let mut quick = case("Q", "low", None, Some("2026-11-01T00:01:00.000Z"), None);
        quick.state = "accepted".into();
        quick.history = true;
        let live = case(
            "L",
            "low",
            Some("2026-11-01T00:00:01.000Z"),
            Some("2026-11-01T01:00:00.000Z"),
            None,
        );
        // Its turn after the reopening counts: the team owed that answer.
        let turns = [turn("H", 1, "2026-11-08T00:00:00.000Z", None, None)];
        let s = compute(&[old, quick, live], &turns, now, None, None);
        assert_eq!((s.cases, s.history_reopened), (3, 2));
        assert_eq!((s.answered_within_window, s.window_decided), (1, 1));
        assert_eq!(s.time_to_first_response.count, 1);
        assert_eq!(s.time_to_first_response.worst_s, Some(3600.0));
        assert_eq!(s.time_to_acknowledge.count, 1);
        assert_eq!((s.follow_up.turns, s.follow_up.decided), (1, 1));
        assert_eq!(s.follow_up.answered_within_window, 0);
    }

    #[test]
    fn a_silent_close_after_the_deadline_is_still_a_breach() {
        let now = Utc.with_ymd_and_hms(2026, 11, 10, 0, 0, 0).unwrap();
        // Deadline 2026-11-03T00:00 for every case.
        let closed = |id: &str, first: Option<&str>, at: Option<&str>| {
            let mut c = case(id, "low", None, first, None);
            c.state = "closed".into();
            c.closed_at = at.map(String::from);
            c
        };
        let cases = [
            // Left unanswered past the deadline, then called spam.
            closed("late", None, Some("2026-11-05T00:00:00.000Z")),
            // Answered late, then called spam: late all the same.
            closed(
                "answered-late",
                Some("2026-11-04T00:00:00.000Z"),
                Some("2026-11-05T00:00:00.000Z"),
            ),
            // No record of when (a hand-edited store): not hidden.
            closed("unknown", None, None),
            // Called spam in time: no report, in no figure.
            closed("in-time", None, Some("2026-11-02T00:00:00.000Z")),
            // Answered in time, then called spam: not a met promise either.
            closed(
                "answered",
                Some("2026-11-01T01:00:00.000Z"),
                Some("2026-11-05T00:00:00.000Z"),
            ),
        ];
        let s = compute(&cases, &[], now, None, None);
        assert_eq!((s.closed_silently, s.closed_silently_breached), (5, 3));
        assert_eq!((s.answered_within_window, s.window_decided), (0, 3));
        assert_eq!(s.share_answered_within_window, Some(0.0));
        assert_eq!(s.cases, 0);
        // Before the deadline, nothing is decided yet.
        let early = Utc.with_ymd_and_hms(2026, 11, 2, 12, 0, 0).unwrap();
        let s = compute(&[closed("x", None, None)], &[], early, None, None);
        assert_eq!(s.window_decided, 0);
        // A turn left past its deadline before the silent close stays a
        // breach; one the close ended in time is in no figure.
        let due = "2026-11-08T00:00:00.000Z";
        let turns = [
            turn("in-time", 1, due, None, Some("2026-11-09T00:00:00.000Z")),
            turn("late", 1, due, None, Some("2026-11-07T00:00:00.000Z")),
            turn("answered", 1, due, Some("2026-11-06T00:00:00.000Z"), None),
        ];
        let f = compute(&cases, &turns, now, None, None).follow_up;
        assert_eq!((f.turns, f.decided, f.answered_within_window), (1, 1, 0));
    }

    #[test]
    fn empty_log() {
        let s = compute(&[], &[], Utc::now(), None, None);
        assert_eq!(s.share_answered_within_window, None);
        assert_eq!(human(s.time_to_acknowledge.median_s), "-");
    }
}
