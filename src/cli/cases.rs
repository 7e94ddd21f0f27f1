//! `secdesk cases`, `secdesk show`, `secdesk unfiled`: the case log for
//! people (tables) and for tools (`--json`).

use std::process::ExitCode;

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::UsageError;
use crate::case::report::ReportItem;
use crate::case::sla::{human_duration, time_left};
use crate::case::{CaseId, State};
use crate::config::Config;
use crate::store::cases::{CaseFilter, CaseRow};
use crate::store::{parse_ts, Store};

pub fn list(store: &Store, state: Option<State>, overdue: bool, json: bool) -> Result<ExitCode> {
    let now = Utc::now();
    let rows = store.list_cases(&CaseFilter {
        state,
        overdue_at: overdue.then_some(now),
    })?;
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        println!("no cases");
        return Ok(ExitCode::SUCCESS);
    }
    print!("{}", table(&rows, now));
    Ok(ExitCode::SUCCESS)
}

/// The time-left column: the 48-hour window from the reporter's side.
pub fn window_column(c: &CaseRow, now: DateTime<Utc>) -> String {
    if c.first_response_at.is_some() {
        return if c.first_response_unverified {
            "responded (unverified)".into()
        } else {
            "responded".into()
        };
    }
    if c.is_closed() {
        return "closed".into();
    }
    match c.response_due() {
        Some(due) => {
            let left = time_left(due, now);
            if due < now {
                format!("OVERDUE by {}", human_duration(-left))
            } else {
                format!("{} left", human_duration(left))
            }
        }
        None => "?".into(),
    }
}

fn age(c: &CaseRow, now: DateTime<Utc>) -> String {
    c.received()
        .map(|r| human_duration((now - r).num_seconds().max(0)))
        .unwrap_or_else(|| "?".into())
}

/// A plain-text table, columns padded to their widest cell.
pub fn table(rows: &[CaseRow], now: DateTime<Utc>) -> String {
    let header = [
        "ID",
        "STATE",
        "REPORTER",
        "AGE",
        "RESPONSE WINDOW",
        "SUBJECT",
    ];
    let mut cells: Vec<[String; 6]> = vec![header.map(String::from)];
    for c in rows {
        let mut state = c.state.clone();
        if c.send_failure.is_some() {
            state.push_str(" (send failed)");
        }
        if c.ack_held {
            state.push_str(" (ack held)");
        }
        let mut subject: String = c.subject.chars().take(50).collect();
        if c.subject.chars().count() > 50 {
            subject.push('…');
        }
        cells.push([
            c.id.clone(),
            state,
            if c.reporter.is_empty() {
                "(unknown)".into()
            } else {
                c.reporter.clone()
            },
            age(c, now),
            window_column(c, now),
            subject,
        ]);
    }
    let mut widths = [0usize; 6];
    for row in &cells {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &cells {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < row.len() {
                let pad = widths[i] - cell.chars().count() + 2;
                line.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn case_id_arg(cfg: &Config, id: &str) -> Result<String> {
    let id = id.trim().to_ascii_uppercase();
    CaseId::parse(&id, &cfg.project.case_prefix).ok_or_else(|| {
        UsageError(format!(
            "{id:?} is not a case id like {}-2026-0001",
            cfg.project.case_prefix
        ))
    })?;
    Ok(id)
}

/// Loads a case or fails with a usage error naming the id.
pub fn require_case(cfg: &Config, store: &Store, id: &str) -> Result<CaseRow> {
    let id = case_id_arg(cfg, id)?;
    match store.get_case(&id)? {
        Some(c) => Ok(c),
        None => Err(UsageError(format!("no case {id} in {}", store.path().display())).into()),
    }
}

/// `secdesk show ID`: one case, its messages and its audit trail. Long
/// because it is a printer, one `println!` per line a lead reads.
pub fn show(cfg: &Config, store: &Store, id: &str, json: bool) -> Result<ExitCode> {
    let case = require_case(cfg, store, id)?;
    let messages = store.case_messages(&case.id)?;
    let events = store.case_events(&case.id)?;
    if json {
        let mut v = serde_json::to_value(&case)?;
        if let Some(obj) = v.as_object_mut() {
            obj.insert("messages".into(), serde_json::to_value(&messages)?);
            obj.insert("events".into(), serde_json::to_value(&events)?);
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    let now = Utc::now();
    let opt = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
    let when = |s: &str| {
        parse_ts(s)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
            .unwrap_or_else(|| s.to_string())
    };
    println!("{}  {}", case.id, case.state);
    println!("Subject:         {}", case.subject);
    let reporter = match (case.reporter_name.as_str(), case.reporter.as_str()) {
        (_, "") => "(no address)".to_string(),
        ("", a) => a.to_string(),
        (n, a) => format!("{n} <{a}>"),
    };
    println!("Reporter:        {reporter}");
    println!(
        "Received:        {} ({} ago)",
        when(&case.received_at),
        age(&case, now)
    );
    println!(
        "Response due:    {} ({})",
        when(&case.response_due_at),
        window_column(&case, now)
    );
    println!(
        "Acknowledged:    {}",
        case.acknowledged_at
            .as_deref()
            .map(when)
            .unwrap_or_else(|| "-".into())
    );
    if case.ack_held {
        println!("Acknowledgement: held back by a rate limit; sent when the budget allows");
    }
    println!(
        "First response:  {}{}",
        case.first_response_at
            .as_deref()
            .map(when)
            .unwrap_or_else(|| "-".into()),
        if case.first_response_unverified {
            " (unverified: only a team From line vouches for it; set team.trust_authentication_results)"
        } else {
            ""
        }
    );
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
        println!("Report lacks:    {}", names.join(", "));
    }
    if case.severity.is_some() {
        println!(
            "Severity:        {}  impact {}",
            opt(&case.severity),
            opt(&case.impact)
        );
    }
    if let Some(a) = &case.assignee {
        println!("Assignee:        {a}");
    }
    if let Some(consent) = &case.credit_consent {
        let name = case
            .credit_name
            .as_deref()
            .map(|n| format!(", as {n}"))
            .unwrap_or_default();
        let by = match case.credit_source.as_deref() {
            Some("reporter") => "the reporter's reply to our mail",
            _ => "the lead",
        };
        println!("Credit:          {consent}{name} (decided by {by})");
    }
    if let Some(r) = &case.credit_request {
        println!(
            "Credit request:  {r} — UNCONFIRMED (from mail; see the credit_request event); \
             `secdesk credit {} --confirm` to accept it",
            case.id
        );
    }
    if let Some(f) = &case.send_failure {
        println!("SEND FAILURE:    {f}");
    }
    println!();
    println!("Messages ({}):", messages.len());
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
            println!(
                "    Attachment: {} ({}, {} bytes, sha256 {})",
                a.name, a.content_type, a.size, a.sha256
            );
        }
        if !m.body.is_empty() {
            for line in m.body.lines().take(200) {
                println!("    | {line}");
            }
        }
        println!();
    }
    println!("Events ({}):", events.len());
    for e in &events {
        println!(
            "  {}  {:<22} {:<10} {}",
            when(&e.at),
            e.kind,
            e.actor,
            e.detail
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn unfiled(store: &Store, limit: u32, json: bool) -> Result<ExitCode> {
    let rows = store.unfiled_messages(limit)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        println!("no unfiled messages");
    }
    for r in rows {
        println!(
            "{}  {:<9} {:<22} {}  {:?}{}",
            r.received_at,
            r.kind,
            r.classification,
            if r.from.is_empty() { "?" } else { &r.from },
            r.subject,
            r.reason.map(|w| format!("  — {w}")).unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}
