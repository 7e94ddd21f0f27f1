//! The transparency figures (`secdesk stats`): how fast reports are
//! acknowledged and answered, how often the 48-hour promise is kept, how
//! long fixes and disclosures take by severity. Pure: case rows and `now`
//! in, figures out.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::store::cases::CaseRow;
use crate::store::parse_ts;

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
    pub cases: usize,
    /// History filed at the first start or by `secdesk import`: not in
    /// any figure below.
    pub imported: usize,
    pub time_to_acknowledge: Spread,
    pub time_to_first_response: Spread,
    /// Cases whose window has closed or that were answered.
    pub window_decided: usize,
    pub answered_within_window: usize,
    /// Of those, how many only on a team From line nobody verified
    /// (`team.trust_authentication_results` unset).
    pub answered_within_window_unverified: usize,
    /// `answered_within_window / window_decided`, if any.
    pub share_answered_within_window: Option<f64>,
    pub time_to_fix_by_severity: BTreeMap<String, Spread>,
    pub time_to_disclosure_by_severity: BTreeMap<String, Spread>,
    pub open_by_state: BTreeMap<String, usize>,
}

fn secs(from: &str, to: Option<&str>) -> Option<f64> {
    let a = parse_ts(from)?;
    let b = parse_ts(to?)?;
    Some(((b - a).num_milliseconds() as f64 / 1000.0).max(0.0))
}

/// Computes the figures over `cases` at `now`. History (`imported`) is
/// counted, and left out of every figure: it was never ours to answer.
pub fn compute(all: &[CaseRow], now: DateTime<Utc>) -> Stats {
    let imported = all.iter().filter(|c| c.state == "imported").count();
    let cases: Vec<CaseRow> = all
        .iter()
        .filter(|c| c.state != "imported")
        .cloned()
        .collect();
    let cases = &cases[..];
    let ack = cases
        .iter()
        .filter_map(|c| secs(&c.received_at, c.acknowledged_at.as_deref()))
        .collect();
    let first = cases
        .iter()
        .filter_map(|c| secs(&c.received_at, c.first_response_at.as_deref()))
        .collect();
    let mut decided = 0;
    let mut within = 0;
    let mut within_unverified = 0;
    for c in cases {
        let due = c.response_due();
        let answered = c.first_response_at.as_deref().and_then(parse_ts);
        match (answered, due) {
            (Some(a), Some(d)) => {
                decided += 1;
                if a <= d {
                    within += 1;
                    if c.first_response_unverified {
                        within_unverified += 1;
                    }
                }
            }
            (None, Some(d)) if d < now && !c.is_closed() => decided += 1,
            _ => {}
        }
    }
    let by_severity = |end: fn(&CaseRow) -> Option<&str>| {
        let mut m: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for c in cases {
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
        cases: cases.len(),
        imported,
        time_to_acknowledge: Spread::of(ack),
        time_to_first_response: Spread::of(first),
        window_decided: decided,
        answered_within_window: within,
        answered_within_window_unverified: within_unverified,
        share_answered_within_window: (decided > 0).then(|| within as f64 / decided as f64),
        time_to_fix_by_severity: by_severity(|c| c.released_at.as_deref()),
        time_to_disclosure_by_severity: by_severity(|c| c.disclosed_at.as_deref()),
        open_by_state,
    }
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
        let s = compute(&cases, now);
        assert_eq!(s.time_to_acknowledge.median_s, Some(2.0));
        assert_eq!(s.time_to_acknowledge.worst_s, Some(3.0));
        assert_eq!(s.time_to_first_response.count, 2);
        assert_eq!((s.answered_within_window, s.window_decided), (1, 3));
        let fix = s.time_to_fix_by_severity["high"];
        assert_eq!(fix.median_s, Some(5.0 * 86400.0));
        assert_eq!(s.open_by_state["acknowledged"], 3);
    }

    #[test]
    fn empty_log() {
        let s = compute(&[], Utc::now());
        assert_eq!(s.share_answered_within_window, None);
        assert_eq!(human(s.time_to_acknowledge.median_s), "-");
    }
}
