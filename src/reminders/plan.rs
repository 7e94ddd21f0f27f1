//! What the reminder scan decides, as plain functions: which threshold
//! fires for each case waiting on the team — its first response (the
//! 48-hour window), the answer to a later message (the follow-up window),
//! an agreed disclosure date — one digest per recipient (most urgent case
//! first), and the reminder or escalation mail itself. No store, no clock:
//! cases and `now` in, mails out.

use std::collections::{BTreeMap, HashSet};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::case::sla::{firing, human_duration, local_and_utc, Firing, Threshold};
use crate::config::Config;
use crate::mail::compose::{new_message_id, OutKind, OutgoingMail, ProjectView};
use crate::store::reminders::{AwaitingCase, Wait};
use crate::templates::Templates;

/// One case in a reminder or escalation mail.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DueItem {
    pub id: String,
    pub state: String,
    pub reporter: String,
    pub subject: String,
    /// `Fri 27 Nov 2026 10:12 CET (09:12 UTC)`.
    pub due: String,
    /// `3h 59m left` or `OVERDUE by 2h 5m`.
    pub left: String,
    pub overdue: bool,
    /// What the team owes: the first response, an answer to a later
    /// message, a reopened case, an agreed disclosure date.
    pub why: String,
    /// One line on how to respond to this case.
    pub hint: String,
    #[serde(skip)]
    pub due_at: DateTime<Utc>,
    #[serde(skip)]
    pub embargo: bool,
}

/// One reminder or escalation mail: everything due for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    pub recipient: String,
    pub escalation: bool,
    pub items: Vec<DueItem>,
    /// A late report, told at once: how long ago it arrived.
    pub late: Option<String>,
}

/// What fires for each case now.
pub fn firings(
    cases: &[AwaitingCase],
    now: DateTime<Utc>,
    cfg: &Config,
) -> Vec<(AwaitingCase, Firing)> {
    cases
        .iter()
        .filter_map(|c| {
            let before = remind_before(&c.wait, cfg);
            firing(c.due_at, now, &before, &c.done).map(|f| (c.clone(), f))
        })
        .collect()
}

/// The reminder offsets of a wait: a follow-up turn uses the first
/// response's offsets that fit inside its own window.
fn remind_before(w: &Wait, cfg: &Config) -> Vec<std::time::Duration> {
    match w {
        Wait::First => cfg.sla.remind_before.clone(),
        Wait::Turn { .. } => cfg
            .sla
            .remind_before
            .iter()
            .copied()
            .filter(|d| *d < cfg.sla.follow_up_window)
            .collect(),
        Wait::Embargo { .. } => cfg.sla.embargo_remind_before.clone(),
    }
}

/// Whether a firing escalates: every passed deadline does, except an
/// embargo whose fix is out (then it is time to disclose, a reminder).
pub fn escalates(c: &AwaitingCase, f: &Firing) -> bool {
    f.fire == Threshold::Escalate && !matches!(c.wait, Wait::Embargo { released: true, .. })
}

/// Groups firings into one digest per recipient, most urgent case first.
/// Reminders go to the lead and the case's assignee; an escalation also to
/// `team.escalation`.
pub fn digests(fired: &[(AwaitingCase, Firing)], now: DateTime<Utc>, cfg: &Config) -> Vec<Digest> {
    let mut by: BTreeMap<String, Digest> = BTreeMap::new();
    // One line per recipient, case and wait: a case can owe two things at
    // once (an answer to the reporter and its disclosure date), and a
    // recipient who is both lead and assignee still gets each once.
    let mut listed: HashSet<(&str, &str, &Wait)> = HashSet::new();
    for (c, f) in fired {
        let escalate = escalates(c, f);
        let item = due_item(c, now, cfg);
        let mut to: Vec<&String> = cfg.team.lead.iter().collect();
        to.extend(c.assignee.iter());
        if escalate {
            to.extend(cfg.team.escalation.iter());
        }
        for r in to {
            let n = by.entry(r.clone()).or_insert_with(|| Digest {
                recipient: r.clone(),
                escalation: false,
                items: Vec::new(),
                late: None,
            });
            n.escalation |= escalate;
            if listed.insert((r.as_str(), c.id.as_str(), &c.wait)) {
                n.items.push(item.clone());
            }
        }
    }
    let mut out: Vec<Digest> = by.into_values().collect();
    for n in &mut out {
        n.items.sort_by_key(|i| urgency(i, now));
    }
    out
}

/// Most urgent first: the overdue cases, the one breached most recently
/// first (a case overdue by a year is stale, the one that just passed its
/// deadline is the one to answer now), then the others by time left.
fn urgency(i: &DueItem, now: DateTime<Utc>) -> (bool, i64, String) {
    let overdue = i.due_at <= now;
    let distance = (i.due_at - now).num_seconds().abs();
    (!overdue, distance, i.id.clone())
}

/// One case as a digest lists it.
fn due_item(c: &AwaitingCase, now: DateTime<Utc>, cfg: &Config) -> DueItem {
    let left = crate::case::sla::time_left(c.due_at, now);
    let id = &c.id;
    let (why, hint) = match &c.wait {
        Wait::First => (
            "the first personal response".to_string(),
            format!("reply with [{id}] in the subject, or `secdesk reply {id}`"),
        ),
        Wait::Turn {
            reopened: false, ..
        } => (
            "an answer: the reporter wrote again after the team's last message".to_string(),
            format!("reply with [{id}] in the subject, or `secdesk reply {id}`"),
        ),
        Wait::Turn { reopened: true, .. } => (
            "an answer: the reporter wrote on the closed case, which reopened".to_string(),
            format!("`secdesk reply {id}`, then `secdesk close {id}` to close it again"),
        ),
        Wait::Embargo { until, released } => (
            format!(
                "the disclosure agreed for {until}; the case is {}{}",
                c.state,
                if *released {
                    ""
                } else {
                    " and no fix is released yet"
                }
            ),
            if *released {
                format!("publish the advisory: `secdesk disclose {id} --advisory …`")
            } else {
                format!("release the fix (`secdesk released {id} --version …`), or agree a new date with the reporter (`secdesk embargo {id} --until …`)")
            },
        ),
    };
    let label = if matches!(c.wait, Wait::Embargo { .. }) {
        "PASSED"
    } else {
        "OVERDUE"
    };
    DueItem {
        id: c.id.clone(),
        state: c.state.clone(),
        reporter: if c.reporter.is_empty() {
            "(no address)".into()
        } else {
            c.reporter.clone()
        },
        subject: c.subject.clone(),
        due: local_and_utc(c.due_at, cfg.team.timezone),
        left: if c.due_at <= now {
            format!("{label} by {}", human_duration(-left))
        } else {
            format!("{} left", human_duration(left))
        },
        overdue: c.due_at <= now,
        why,
        hint,
        due_at: c.due_at,
        embargo: matches!(c.wait, Wait::Embargo { .. }),
    }
}

/// The lead (and the case's assignee) told at once of a report that
/// arrived at `received_at`, longer ago than the response window, and was
/// only now filed: its window runs from now.
pub fn late_report(
    c: &AwaitingCase,
    received_at: DateTime<Utc>,
    now: DateTime<Utc>,
    cfg: &Config,
) -> Vec<Digest> {
    let ago = human_duration((now - received_at).num_seconds().max(0));
    cfg.team
        .lead
        .iter()
        .chain(c.assignee.iter())
        .map(|r| Digest {
            recipient: r.clone(),
            escalation: false,
            items: vec![due_item(c, now, cfg)],
            late: Some(ago.clone()),
        })
        .collect()
}

#[derive(Serialize)]
struct DigestContext<'a> {
    project: ProjectView,
    count: usize,
    one: bool,
    nearest: String,
    window_hours: u64,
    follow_up_hours: u64,
    /// The windows as words (`48 hours`, `1 hour`).
    window: String,
    follow_up: String,
    cases: &'a [DueItem],
}

/// The outgoing mail for a digest.
pub fn compose(
    n: &Digest,
    cfg: &Config,
    templates: &Templates,
    token: &str,
) -> Result<OutgoingMail> {
    let first = n.items.first().context("a digest without cases")?;
    let ctx = DigestContext {
        project: ProjectView::from_config(&cfg.project),
        count: n.items.len(),
        one: n.items.len() == 1,
        nearest: format!("{} ({})", first.due, first.left),
        window_hours: cfg.sla.response_window.as_secs().div_ceil(3600),
        follow_up_hours: cfg.sla.follow_up_window.as_secs().div_ceil(3600),
        window: crate::case::sla::spoken_duration(cfg.sla.response_window),
        follow_up: crate::case::sla::spoken_duration(cfg.sla.follow_up_window),
        cases: &n.items,
    };
    let (kind, template) = if n.escalation {
        (OutKind::Escalation, "escalation")
    } else {
        (OutKind::Reminder, "reminder")
    };
    let body = templates.render(template, &ctx)?;
    let cases = if n.items.len() == 1 {
        format!("{} case", 1)
    } else {
        format!("{} cases", n.items.len())
    };
    let subject = if let Some(ago) = &n.late {
        format!(
            "[secdesk] Late report: {} arrived {ago} ago and was filed only now; respond by {}",
            first.id, first.due
        )
    } else if n.escalation {
        let overdue = n.items.iter().filter(|i| i.overdue).count();
        let deadline = if n.items.iter().any(|i| i.embargo) {
            "their deadline"
        } else {
            "the response deadline"
        };
        format!(
            "[secdesk] ESCALATION: {overdue} of {cases} past {deadline}, first {} ({})",
            first.id, first.left
        )
    } else {
        let what = if n.items.iter().all(|i| i.embargo) {
            "before an agreed disclosure date"
        } else if n.items.iter().any(|i| i.embargo) {
            "needing the team"
        } else {
            "awaiting a response"
        };
        format!(
            "[secdesk] Reminder: {cases} {what}, nearest {} ({})",
            first.id, first.left
        )
    };
    let domain = cfg.project.domain();
    Ok(OutgoingMail {
        kind,
        case: None,
        to: vec![n.recipient.clone()],
        subject,
        body,
        message_id: new_message_id(None, kind, token, domain),
        in_reply_to: None,
        references: Vec::new(),
        dedup_key: format!("{}:{}:{}", kind.as_str(), n.recipient, token),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::path::Path;

    fn cfg() -> Config {
        crate::config::from_toml_str(
            r#"
[project]
name = "Example"
security_address = "security@example.org"
[store]
path = "c.db"
data_dir = "d"
[team]
lead = ["lead@example.org"]
escalation = ["cto@example.org"]
timezone = "Europe/Berlin"
"#,
            Path::new("/etc/secdesk/secdesk.toml"),
        )
        .unwrap()
    }

    fn case(id: &str, due_h: i64, assignee: Option<&str>) -> AwaitingCase {
        AwaitingCase {
            id: id.into(),
            state: "acknowledged".into(),
            reporter: "r@reporter.example".into(),
            subject: "s".into(),
            due_at: t0() + chrono::Duration::hours(due_h),
            assignee: assignee.map(String::from),
            wait: Wait::First,
            done: Vec::new(),
        }
    }

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap()
    }

    #[test]
    fn one_mail_per_recipient_most_urgent_first() {
        let c = cfg();
        let cases = vec![
            case("SEC-2026-0002", 10, Some("dev@example.org")),
            case("SEC-2026-0001", 3, None),
            case("SEC-2026-0003", 30, None),
        ];
        let fired = firings(&cases, t0(), &c);
        assert_eq!(fired.len(), 2, "the 30h case is not due yet");
        let ns = digests(&fired, t0(), &c);
        let lead = ns
            .iter()
            .find(|n| n.recipient == "lead@example.org")
            .unwrap();
        let ids: Vec<&str> = lead.items.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, vec!["SEC-2026-0001", "SEC-2026-0002"]);
        let dev = ns
            .iter()
            .find(|n| n.recipient == "dev@example.org")
            .unwrap();
        assert_eq!(dev.items.len(), 1);
        assert!(!ns.iter().any(|n| n.recipient == "cto@example.org"));
        assert!(!lead.escalation);
    }

    #[test]
    fn the_most_urgent_case_comes_first() {
        let c = cfg();
        // A case a year overdue is stale; the one that just passed its
        // deadline is the one to answer now.
        let cases = vec![
            case("SEC-2025-0001", -340 * 24, None),
            case("SEC-2026-0002", 3, None),
            case("SEC-2026-0003", -1, None),
        ];
        let ds = digests(&firings(&cases, t0(), &c), t0(), &c);
        let lead = ds
            .iter()
            .find(|d| d.recipient == "lead@example.org")
            .unwrap();
        let ids: Vec<&str> = lead.items.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, vec!["SEC-2026-0003", "SEC-2025-0001", "SEC-2026-0002"]);
    }

    #[test]
    fn two_waits_of_one_case_both_show() {
        let c = cfg();
        // The reporter's follow-up is unanswered and the disclosure date
        // passes in the same scan: the digest lists both. The lead is
        // also the assignee, and still sees each once.
        let mut turn = case("SEC-2026-0001", -1, Some("lead@example.org"));
        turn.wait = Wait::Turn {
            n: 2,
            reopened: false,
        };
        let mut embargo = turn.clone();
        embargo.wait = Wait::Embargo {
            until: chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap(),
            released: false,
        };
        embargo.due_at = t0() - chrono::Duration::hours(12);
        let fired = firings(&[turn, embargo], t0(), &c);
        assert_eq!(fired.len(), 2);
        let ds = digests(&fired, t0(), &c);
        let lead = ds
            .iter()
            .find(|d| d.recipient == "lead@example.org")
            .unwrap();
        let whys: Vec<(&str, bool)> = lead
            .items
            .iter()
            .map(|i| (i.id.as_str(), i.embargo))
            .collect();
        assert_eq!(
            whys,
            vec![("SEC-2026-0001", false), ("SEC-2026-0001", true)]
        );
        assert!(
            lead.items[0].why.starts_with("an answer"),
            "{:?}",
            lead.items
        );
        assert!(lead.items[1].why.contains("disclosure"), "{:?}", lead.items);
    }

    #[test]
    fn escalations_reach_the_escalation_list_and_the_lead() {
        let c = cfg();
        let cases = vec![case("SEC-2026-0001", -1, None)];
        let ns = digests(&firings(&cases, t0(), &c), t0(), &c);
        let who: Vec<&str> = ns.iter().map(|n| n.recipient.as_str()).collect();
        assert_eq!(who, vec!["cto@example.org", "lead@example.org"]);
        assert!(ns.iter().all(|n| n.escalation));
        assert_eq!(ns[0].items[0].left, "OVERDUE by 1h 0m");
    }

    #[test]
    fn mails_say_how_many_and_the_nearest_deadline_in_both_zones() {
        let c = cfg();
        let t = Templates::load(None).unwrap();
        let cases = vec![
            case("SEC-2026-0001", 3, None),
            case("SEC-2026-0002", 11, None),
        ];
        let ns = digests(&firings(&cases, t0(), &c), t0(), &c);
        let m = compose(&ns[0], &c, &t, "tok").unwrap();
        assert_eq!(m.kind, OutKind::Reminder);
        assert_eq!(
            m.subject,
            "[secdesk] Reminder: 2 cases awaiting a response, nearest SEC-2026-0001 (3h 0m left)"
        );
        assert!(
            m.body.contains("Wed 25 Nov 2026 16:00 CET (15:00 UTC)"),
            "{}",
            m.body
        );
        assert!(m.body.contains("secdesk reply SEC-2026-0001"));
        let esc = digests(
            &firings(&[case("SEC-2026-0001", -2, None)], t0(), &c),
            t0(),
            &c,
        );
        let m = compose(&esc[0], &c, &t, "tok").unwrap();
        assert_eq!(m.kind, OutKind::Escalation);
        assert!(
            m.subject
                .starts_with("[secdesk] ESCALATION: 1 of 1 case past"),
            "{}",
            m.subject
        );
        assert_eq!(OutKind::Escalation.auto_submitted(), Some("auto-generated"));
    }
}
