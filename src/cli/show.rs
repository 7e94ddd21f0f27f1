//! `secdesk show ID`: one case for the lead — a header with every field a
//! decision rests on, the messages (in and out, attachments numbered as
//! `secdesk attachment` numbers them) and the audit trail, including the
//! events of cases merged into this one.

use std::process::ExitCode;

use anyhow::Result;
use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::cases::{age, deadline, require_case, window_column};
use crate::case::report::ReportItem;
use crate::case::{CaseId, State};
use crate::config::Config;
use crate::store::cases::{CaseRow, Waiting};
use crate::store::{parse_ts, Store};

/// The disclosure date `show` suggests when none was agreed: 90 days from
/// the report, the common coordinated-disclosure norm. The project policy
/// (SECURITY.md) names no period of its own — it discloses after the fixed
/// release — so this is worded as a suggestion, never as the policy's.
const SUGGESTED_EMBARGO_DAYS: i64 = 90;

/// Lines the body of one message is shown with, at most.
const BODY_LINES: usize = 200;

/// `secdesk show ID`. Long because it is a printer, one line per line a
/// lead reads.
pub fn show(cfg: &Config, store: &Store, id: &str, json: bool) -> Result<ExitCode> {
    let case = require_case(cfg, store, id)?;
    let messages = store.case_messages(&case.id)?;
    let events = store.case_trail(&case.id)?;
    let attachments = store.case_attachments(&case.id)?;
    if json {
        let mut v = serde_json::to_value(&case)?;
        if let Some(obj) = v.as_object_mut() {
            obj.insert("messages".into(), serde_json::to_value(&messages)?);
            obj.insert("events".into(), serde_json::to_value(&events)?);
            obj.insert("attachments".into(), serde_json::to_value(&attachments)?);
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    let now = Utc::now();
    print!("{}", header(cfg, &case, now));
    println!();
    println!("Messages ({}):", messages.len());
    let mut n = 0;
    for m in &messages {
        let date = m.date.as_deref().map(when).unwrap_or_default();
        let who = if m.direction == "in" {
            format!("from {}", if m.from.is_empty() { "?" } else { &m.from })
        } else {
            format!("to {}", m.to.join(", "))
        };
        let status = m
            .status
            .as_deref()
            .map(|s| format!(" [{s}]"))
            .unwrap_or_default();
        println!("  {date}  {:<3} {:<10} {who}{status}", m.direction, m.kind);
        println!("    Subject: {}", m.subject);
        for a in &m.attachments {
            n += 1;
            println!(
                "    Attachment {n}: {} ({}, {} bytes, sha256 {})",
                a.name, a.content_type, a.size, a.sha256
            );
        }
        for line in m.body.lines().take(BODY_LINES) {
            println!("    | {line}");
        }
        println!();
    }
    if n > 0 {
        println!(
            "(secdesk attachment {} N --out DIR writes attachment N into DIR)",
            case.id
        );
        println!();
    }
    println!("Events ({}):", events.len());
    for e in &events {
        // Events of a case merged into this one stay under its id.
        let from = if e.case == case.id {
            String::new()
        } else {
            format!("[{}] ", e.case)
        };
        println!(
            "  {}  {:<22} {:<10} {from}{}",
            when(&e.at),
            e.kind,
            e.actor,
            e.detail
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// A stored time for people: `2026-11-23 09:12:44 UTC`.
fn when(s: &str) -> String {
    parse_ts(s).map(at).unwrap_or_else(|| s.to_string())
}

fn at(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// One `Label:  value` line, values aligned.
fn field(out: &mut String, label: &str, value: impl std::fmt::Display) {
    out.push_str(&format!("{:<17}{value}\n", format!("{label}:")));
}

/// A field the lead decides: its value, or `-` when the case has reached
/// the phase where it is expected (a gap to see), or nothing at all.
fn decision(out: &mut String, label: &str, value: Option<String>, expected: bool) {
    match value {
        Some(v) => field(out, label, v),
        None if expected => field(out, label, "-"),
        None => {}
    }
}

/// The header of `show`: the state and every field a decision rests on.
pub fn header(cfg: &Config, case: &CaseRow, now: DateTime<Utc>) -> String {
    let mut out = String::new();
    let state: Option<State> = case.state.parse().ok();
    // A reopened case is judged by the phase it was reopened from.
    let phase = match state {
        Some(State::Reopened) => case.reopened_from.as_deref().and_then(|s| s.parse().ok()),
        s => s,
    };
    let assessed = matches!(
        phase,
        Some(State::Triage | State::Accepted | State::Fixing | State::Released | State::Disclosed)
    );
    let vulnerability = matches!(
        phase,
        Some(State::Accepted | State::Fixing | State::Released | State::Disclosed)
    );

    // `reopened from invalid`, `closed as spam`, `merged into SEC-…`; a
    // field left from an earlier state (reopened, then triaged) in brackets.
    let mut title = format!("{}  {}", case.id, case.state);
    for (state, link, value) in [
        ("reopened", "from", &case.reopened_from),
        ("closed", "as", &case.closed_as),
        ("merged", "into", &case.merged_into),
    ] {
        match value {
            Some(v) if case.state == state => title.push_str(&format!(" {link} {v}")),
            Some(v) => title.push_str(&format!(" ({state} {link} {v})")),
            None => {}
        }
    }
    out.push_str(&title);
    out.push('\n');
    if let Some(t) = &case.merged_into {
        field(
            &mut out,
            "Merged into",
            format!("{t}, which holds this case's messages now: secdesk show {t}"),
        );
    }
    field(&mut out, "Subject", &case.subject);
    let reporter = match (case.reporter_name.as_str(), case.reporter.as_str()) {
        (_, "") => "(no address)".to_string(),
        ("", a) => a.to_string(),
        (n, a) => format!("{n} <{a}>"),
    };
    field(&mut out, "Reporter", reporter);
    field(
        &mut out,
        "Received",
        format!("{} ({} ago)", when(&case.received_at), age(case, now)),
    );
    field(&mut out, "Waiting on", waiting_line(case, now));
    field(
        &mut out,
        "Response due",
        format!(
            "{} ({})",
            when(&case.response_due_at),
            window_column(case, now)
        ),
    );
    field(
        &mut out,
        "Acknowledged",
        case.acknowledged_at
            .as_deref()
            .map(when)
            .unwrap_or_else(|| "-".into()),
    );
    if case.ack_held {
        field(
            &mut out,
            "Acknowledgement",
            "held back by a rate limit; sent when the budget allows",
        );
    }
    field(
        &mut out,
        "First response",
        format!(
            "{}{}",
            case.first_response_at
                .as_deref()
                .map(when)
                .unwrap_or_else(|| "-".into()),
            if case.first_response_unverified {
                " (unverified: only a team From line vouches for it; set team.trust_authentication_results)"
            } else {
                ""
            }
        ),
    );
    if let Some(since) = &case.awaiting_team_since {
        let due = match case.turn_due_at.as_deref() {
            Some(d) => match parse_ts(d) {
                Some(t) => format!("; answer due {} ({})", when(d), deadline(t, now)),
                None => format!("; answer due {d}"),
            },
            None => String::new(),
        };
        field(
            &mut out,
            "Open turn",
            format!("a message since {} awaits the team{due}", when(since)),
        );
    }
    if !case.missing_items.is_empty() {
        let names: Vec<String> = case
            .missing_items
            .iter()
            .map(|m| {
                ReportItem::from_name(m)
                    .map(|i| i.as_str().replace('_', " "))
                    .unwrap_or_else(|| m.clone())
            })
            .collect();
        field(&mut out, "Report lacks", names.join(", "));
    }
    decision(
        &mut out,
        "Severity",
        case.severity.as_ref().map(|s| match &case.impact {
            Some(i) => format!("{s}, impact {i}"),
            None => s.clone(),
        }),
        assessed,
    );
    decision(&mut out, "CVSS", case.cvss_vector.clone(), vulnerability);
    decision(&mut out, "Reason", case.decision_reason.clone(), false);
    decision(&mut out, "Duplicate of", case.duplicate_of.clone(), false);
    decision(
        &mut out,
        "Assignee",
        case.assignee.clone(),
        !case.is_closed(),
    );
    decision(&mut out, "Fix", case.fix_ref.clone(), vulnerability);
    decision(
        &mut out,
        "Fixed version",
        case.fixed_version
            .as_ref()
            .map(|v| match &case.released_at {
                Some(r) => format!("{v} (released {})", when(r)),
                None => v.clone(),
            }),
        vulnerability,
    );
    decision(
        &mut out,
        "Affected",
        case.affected_versions.clone(),
        vulnerability,
    );
    decision(
        &mut out,
        "Introduced in",
        case.introduced_in.clone(),
        vulnerability,
    );
    decision(&mut out, "User impact", case.user_impact.clone(), false);
    decision(&mut out, "Workaround", case.workaround.clone(), false);
    let credit = case.credit_consent.as_ref().map(|consent| {
        let name = case
            .credit_name
            .as_deref()
            .map(|n| format!(", as {n}"))
            .unwrap_or_default();
        let by = match case.credit_source.as_deref() {
            Some("reporter") => "the reporter's reply to our mail",
            _ => "the lead",
        };
        format!("{consent}{name} (decided by {by})")
    });
    decision(
        &mut out,
        "Credit",
        credit.or_else(|| {
            vulnerability.then(|| "- (no consent recorded: no name is published)".to_string())
        }),
        false,
    );
    if let Some(r) = &case.credit_request {
        field(
            &mut out,
            "Credit request",
            format!(
                "{r} — UNCONFIRMED (from mail; see the credit_request event); \
                 `secdesk credit {} --confirm` to accept it",
                case.id
            ),
        );
    }
    if let Some(line) = embargo_line(case, state, now.date_naive()) {
        field(&mut out, "Embargo", line);
    }
    decision(
        &mut out,
        "Advisory",
        case.advisory.as_ref().map(|a| match &case.disclosed_at {
            Some(d) => format!("{a} (disclosed {})", when(d)),
            None => a.clone(),
        }),
        matches!(phase, Some(State::Released | State::Disclosed)),
    );
    if let Some(f) = &case.send_failure {
        field(&mut out, "SEND FAILURE", f);
    }
    if let Some(line) = same_reporter_line(&cfg.project.case_prefix, case) {
        field(&mut out, "Same reporter", line);
    }
    out
}

/// Whose move it is, and until when.
fn waiting_line(case: &CaseRow, now: DateTime<Utc>) -> String {
    match case.waiting_on() {
        Waiting::Team(Some(due)) => {
            let what = if case.turn_due_at.is_some() {
                "an answer to a later message"
            } else {
                "the first response"
            };
            format!(
                "the team ({what}), until {} ({})",
                at(due),
                deadline(due, now)
            )
        }
        Waiting::Team(None) => "the team (its deadline is unreadable)".into(),
        Waiting::Reporter => "the reporter (the team has answered)".into(),
        Waiting::Nobody => "nobody (closed)".into(),
    }
}

/// The agreed disclosure date; or, on a case being fixed without one, a
/// date to propose and the command that records it.
fn embargo_line(case: &CaseRow, state: Option<State>, today: NaiveDate) -> Option<String> {
    if let Some(until) = &case.embargo_until {
        let left = NaiveDate::parse_from_str(until, "%Y-%m-%d")
            .ok()
            .map(|d| match (d - today).num_days() {
                n if n > 0 => format!(" (in {n} days)"),
                0 => " (today)".to_string(),
                n => format!(" (passed {} days ago)", -n),
            })
            .unwrap_or_default();
        let note = case
            .embargo_note
            .as_deref()
            .map(|n| format!(" — {n}"))
            .unwrap_or_default();
        return Some(format!("{until}{left}{note}"));
    }
    if !matches!(
        state,
        Some(State::Accepted | State::Fixing | State::Released)
    ) {
        return None;
    }
    let suggested = case
        .received()
        .map(|r| (r + Duration::days(SUGGESTED_EMBARGO_DAYS)).date_naive())?;
    Some(if suggested > today {
        format!(
            "none agreed; the common norm is {SUGGESTED_EMBARGO_DAYS} days from the report: \
             {suggested} (secdesk embargo {} --until {suggested})",
            case.id
        )
    } else {
        format!(
            "none agreed; {SUGGESTED_EMBARGO_DAYS} days from the report passed on {suggested}: \
             agree a date with the reporter (secdesk embargo {} --until YYYY-MM-DD)",
            case.id
        )
    })
}

/// The reporter's other open cases, and how to merge if it is the same
/// report: the later case into the earlier, whose clock started first.
fn same_reporter_line(prefix: &str, case: &CaseRow) -> Option<String> {
    let first = case.same_reporter.first()?;
    let key = |id: &str| CaseId::parse(id, prefix).map(|c| (c.year, c.seq));
    let (from, into) = match (key(&case.id), key(first)) {
        (Some(this), Some(other)) if other > this => (first.as_str(), case.id.as_str()),
        _ => (case.id.as_str(), first.as_str()),
    };
    Some(format!(
        "{} (open); if it is the same report: secdesk merge {from} --into {into}",
        case.same_reporter.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ts;
    use chrono::TimeZone;

    fn case(state: &str) -> CaseRow {
        let received = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
        serde_json::from_value(serde_json::json!({
            "id": "SEC-2026-0007",
            "state": state,
            "reporter": "sam@reporter.example",
            "subject": "Prototype pollution",
            "received_at": ts(received),
            "response_due_at": ts(received + Duration::hours(48)),
            "reporter_name": "Sam",
            "missing_items": [],
        }))
        .unwrap()
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn the_embargo_line() {
        let today = day(2026, 11, 25);
        let mut c = case("accepted");
        // None agreed: 90 days from the report, and the command.
        assert_eq!(
            embargo_line(&c, Some(State::Accepted), today).unwrap(),
            "none agreed; the common norm is 90 days from the report: 2027-02-21 \
             (secdesk embargo SEC-2026-0007 --until 2027-02-21)"
        );
        // Long past: no date in the past is suggested.
        let late = embargo_line(&c, Some(State::Fixing), day(2027, 3, 1)).unwrap();
        assert!(
            late.contains("passed on 2027-02-21") && late.contains("--until YYYY-MM-DD"),
            "{late}"
        );
        // Not a vulnerability (yet): nothing to say.
        assert_eq!(embargo_line(&c, Some(State::Triage), today), None);
        assert_eq!(embargo_line(&c, Some(State::Disclosed), today), None);
        c.embargo_until = Some("2027-02-23".into());
        c.embargo_note = Some("agreed by mail".into());
        assert_eq!(
            embargo_line(&c, Some(State::Triage), today).unwrap(),
            "2027-02-23 (in 90 days) — agreed by mail"
        );
    }

    #[test]
    fn merging_is_suggested_later_into_earlier() {
        let mut c = case("new");
        assert_eq!(same_reporter_line("SEC", &c), None);
        c.same_reporter = vec!["SEC-2026-0003".into()];
        assert_eq!(
            same_reporter_line("SEC", &c).unwrap(),
            "SEC-2026-0003 (open); if it is the same report: \
             secdesk merge SEC-2026-0007 --into SEC-2026-0003"
        );
        c.same_reporter = vec!["SEC-2026-0012".into(), "SEC-2027-0001".into()];
        assert_eq!(
            same_reporter_line("SEC", &c).unwrap(),
            "SEC-2026-0012, SEC-2027-0001 (open); if it is the same report: \
             secdesk merge SEC-2026-0012 --into SEC-2026-0007"
        );
    }
}
