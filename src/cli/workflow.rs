//! The disclosure workflow from the lead's side: triage, decide, fix,
//! release, analyse, credit, disclose, note — plus `advisory` and `stats`.
//!
//! Each step is decided by [`crate::case::workflow::decide`] and committed
//! in one transaction with its event and, where the policy asks for it, the
//! reporter's notice in the outbox.

use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::Utc;

use super::cases::require_case;
use super::respond::actor;
use super::{open_store, UsageError};
use crate::advisory;
use crate::case::assess::{parse_credit, Credit};
use crate::case::workflow::{decide, Action, Notice, Snapshot};
use crate::case::CaseId;
use crate::config::Config;
use crate::mail::compose::{to_reporter, OutKind, OutgoingMail};
use crate::store::cases::{get_case, thread_ids, CaseFilter};
use crate::store::{outbox, record_event, ts};
use crate::templates::Templates;

/// Applies one step to case `id`.
pub fn step(cfg: &Config, id: &str, action: Action) -> Result<ExitCode> {
    let templates = Templates::load(cfg.templates.dir.as_deref())?;
    let mut store = open_store(cfg)?;
    let case = require_case(cfg, &store, id)?;
    if let Action::Duplicate { of } = &action {
        require_case(cfg, &store, of)?;
    }
    let action = match action {
        Action::Duplicate { of } => Action::Duplicate {
            of: of.trim().to_ascii_uppercase(),
        },
        a => a,
    };
    let case_id = CaseId::parse(&case.id, &cfg.project.case_prefix).context("case id")?;
    let snapshot = Snapshot {
        id: case_id.clone(),
        state: case
            .state
            .parse()
            .map_err(|e: String| anyhow::anyhow!("case {}: {e}", case.id))?,
        severity: case.severity.clone(),
        fixed_version: case.fixed_version.clone(),
        affected_versions: case.affected_versions.clone(),
    };
    let now = Utc::now();
    let change = decide(&snapshot, action, &ts(now)).map_err(|e| UsageError(e.0))?;
    for w in &change.warnings {
        eprintln!("secdesk: warning: {w}");
    }
    let who = actor();
    let noticed = store.write(|tx| {
        if let Some(s) = change.state {
            tx.execute(
                "UPDATE cases SET state = ?2 WHERE id = ?1",
                rusqlite::params![case.id, s.as_str()],
            )?;
        }
        for (field, value) in &change.set {
            // Column names come from a closed enum, never from input.
            tx.execute(
                &format!("UPDATE cases SET {} = ?2 WHERE id = ?1", field.column()),
                rusqlite::params![case.id, value],
            )?;
        }
        record_event(tx, Some(&case.id), now, change.event, &who, &change.detail)?;
        let Some(notice) = change.notice else {
            return Ok(None);
        };
        let after = get_case(tx, &case.id)?.context("case vanished")?;
        if after.reporter.is_empty() {
            record_event(
                tx,
                Some(&case.id),
                now,
                "notice_skipped",
                "secdesk",
                "no reporter address",
            )?;
            return Ok(None);
        }
        let mail = notice_mail(cfg, &templates, &case_id, &after, notice, tx)?;
        outbox::enqueue(tx, &mail, now)?;
        record_event(
            tx,
            Some(&case.id),
            now,
            "notice_queued",
            "secdesk",
            &format!("{} notice to the reporter", notice.name()),
        )?;
        Ok(Some(notice))
    })?;
    let state = change
        .state
        .map(|s| s.to_string())
        .unwrap_or_else(|| case.state.clone());
    match noticed {
        Some(n) => println!(
            "{}: {} ({}; {} notice to the reporter queued)",
            case.id,
            change.event,
            state,
            n.name()
        ),
        None => println!("{}: {} ({state})", case.id, change.event),
    }
    Ok(ExitCode::SUCCESS)
}

fn notice_mail(
    cfg: &Config,
    templates: &Templates,
    case_id: &CaseId,
    c: &crate::store::cases::CaseRow,
    notice: Notice,
    conn: &rusqlite::Connection,
) -> Result<OutgoingMail> {
    let ctx = advisory::notice_context(c, &cfg.project);
    let body = templates.render_prose(&advisory::notice_template(notice), &ctx)?;
    let (ids, last) = thread_ids(conn, &c.id, &c.reporter)?;
    let token = format!("{:016x}", rand::random::<u64>());
    Ok(to_reporter(
        OutKind::Notice,
        case_id,
        &c.reporter,
        &c.subject,
        body,
        ids,
        last,
        &token,
        cfg.project.domain(),
        Some(format!("notice:{}:{}", c.id, notice.name())),
    ))
}

/// `secdesk credit ID --confirm`: the unconfirmed request mail made becomes
/// the lead's decision.
pub fn confirm_credit(cfg: &Config, id: &str) -> Result<ExitCode> {
    let store = open_store(cfg)?;
    let case = require_case(cfg, &store, id)?;
    let Some(request) = case.credit_request.clone() else {
        return Err(UsageError(format!(
            "{} has no unconfirmed credit request; record one with --consent yes|no",
            case.id
        ))
        .into());
    };
    drop(store);
    let (consent, name) = match parse_credit(&format!("credit: {request}")) {
        Some(Credit::Yes(name)) => (true, name),
        Some(Credit::No) => (false, None),
        None => {
            return Err(UsageError(format!(
            "{}: the stored request {request:?} is unreadable; record the decision with --consent",
            case.id
        ))
            .into())
        }
    };
    step(cfg, &case.id, Action::Credit { consent, name })
}

/// `secdesk advisory ID --format ghsa|osv|announcement`.
pub fn advisory(cfg: &Config, id: &str, format: &str) -> Result<ExitCode> {
    let store = open_store(cfg)?;
    let case = require_case(cfg, &store, id)?;
    match format {
        "ghsa" => print!("{}", advisory::ghsa(&case, &cfg.project)),
        "osv" => println!(
            "{}",
            serde_json::to_string_pretty(&advisory::osv(&case, &cfg.project, Utc::now()))?
        ),
        "announcement" => print!("{}", advisory::announcement(&case, &cfg.project)),
        other => {
            return Err(UsageError(format!(
                "--format {other:?}: expected ghsa, osv or announcement"
            ))
            .into())
        }
    }
    if case.state != "disclosed" && case.state != "released" {
        eprintln!(
            "secdesk: note: {} is {}; the draft has gaps until the fix is released and analysed",
            case.id, case.state
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `secdesk stats [--json]`.
pub fn stats(cfg: &Config, json: bool) -> Result<ExitCode> {
    let store = open_store(cfg)?;
    let cases = store.list_cases(&CaseFilter::default())?;
    let s = crate::stats::compute(&cases, Utc::now());
    if json {
        println!("{}", serde_json::to_string_pretty(&s)?);
        return Ok(ExitCode::SUCCESS);
    }
    use crate::stats::human;
    println!("cases: {}", s.cases);
    println!(
        "time to acknowledge:    median {}, worst {} ({} cases)",
        human(s.time_to_acknowledge.median_s),
        human(s.time_to_acknowledge.worst_s),
        s.time_to_acknowledge.count
    );
    println!(
        "time to first response: median {}, worst {} ({} cases)",
        human(s.time_to_first_response.median_s),
        human(s.time_to_first_response.worst_s),
        s.time_to_first_response.count
    );
    match s.share_answered_within_window {
        Some(share) => println!(
            "answered within the window: {:.0}% ({} of {}){}",
            share * 100.0,
            s.answered_within_window,
            s.window_decided,
            match s.answered_within_window_unverified {
                0 => String::new(),
                n => format!("; {n} of them only on unverified team mail"),
            }
        ),
        None => println!("answered within the window: - (no window has closed yet)"),
    }
    for (title, m) in [
        ("time to fix", &s.time_to_fix_by_severity),
        ("time to disclosure", &s.time_to_disclosure_by_severity),
    ] {
        if m.is_empty() {
            println!("{title}: -");
        }
        for (sev, sp) in m {
            println!(
                "{title} ({sev}): median {}, worst {} ({} cases)",
                human(sp.median_s),
                human(sp.worst_s),
                sp.count
            );
        }
    }
    let open: Vec<String> = s
        .open_by_state
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    println!(
        "open cases by state: {}",
        if open.is_empty() {
            "none".into()
        } else {
            open.join(", ")
        }
    );
    Ok(ExitCode::SUCCESS)
}
