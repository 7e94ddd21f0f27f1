//! The disclosure workflow from the lead's side: triage, decide, fix,
//! release, analyse, credit, disclose, note — plus `advisory` and `stats`.
//! Arguments in, [`crate::workflow`] applies the step, a line out.

use std::process::ExitCode;

use anyhow::Result;
use chrono::Utc;

use super::cases::require_case;
use super::respond::actor;
use super::{open_store, UsageError};
use crate::case::assess::{parse_credit, Credit};
use crate::case::workflow::Action;
use crate::config::Config;
use crate::store::cases::CaseFilter;
use crate::templates::Templates;
use crate::workflow;

/// Applies one step to case `id` and says what it did.
pub fn step(cfg: &Config, id: &str, action: Action) -> Result<ExitCode> {
    let templates = Templates::load(cfg.templates.dir.as_deref())?;
    let mut store = open_store(cfg)?;
    let case = require_case(cfg, &store, id)?;
    let action = match action {
        Action::Duplicate { of } => Action::Duplicate {
            of: require_case(cfg, &store, &of)?.id,
        },
        a => a,
    };
    let done = workflow::apply(
        &mut store,
        cfg,
        &templates,
        &case,
        action,
        &actor(),
        Utc::now(),
    )?;
    for w in &done.warnings {
        eprintln!("secdesk: warning: {w}");
    }
    match done.notice {
        Some(n) => println!(
            "{}: {} ({}; {} notice to the reporter queued)",
            case.id,
            done.event,
            done.state,
            n.name()
        ),
        None => println!("{}: {} ({})", case.id, done.event, done.state),
    }
    Ok(ExitCode::SUCCESS)
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

/// `secdesk merge ID --into ID2`.
pub fn merge(cfg: &Config, id: &str, into: &str) -> Result<ExitCode> {
    let mut store = open_store(cfg)?;
    let from = require_case(cfg, &store, id)?;
    let into = require_case(cfg, &store, into)?;
    let m = workflow::merge(&mut store, cfg, &from, &into, &actor(), Utc::now())?;
    println!(
        "{}: merged into {} ({} messages, {} mails moved; nobody was mailed)",
        from.id, into.id, m.messages, m.mails
    );
    for c in &m.carried {
        println!("{}: carried over: {c}", into.id);
    }
    for c in &m.not_carried {
        println!("{}: not carried: {c}", into.id);
    }
    Ok(ExitCode::SUCCESS)
}

/// `secdesk stats [--since DATE] [--until DATE] [--json]`.
pub fn stats(
    cfg: &Config,
    since: Option<chrono::NaiveDate>,
    until: Option<chrono::NaiveDate>,
    json: bool,
) -> Result<ExitCode> {
    if let (Some(s), Some(u)) = (since, until) {
        if s >= u {
            return Err(UsageError(format!("--since {s} is not before --until {u}")).into());
        }
    }
    let store = open_store(cfg)?;
    let cases = store.list_cases(&CaseFilter::default())?;
    let turns = store.all_turns()?;
    let s = crate::stats::compute(&cases, &turns, Utc::now(), since, until);
    if json {
        println!("{}", serde_json::to_string_pretty(&s)?);
        return Ok(ExitCode::SUCCESS);
    }
    print!("{}", stats_text(&s));
    Ok(ExitCode::SUCCESS)
}

/// The figures as a lead or a transparency report reads them.
fn stats_text(s: &crate::stats::Stats) -> String {
    use crate::stats::human;
    use std::fmt::Write;
    let mut o = String::new();
    let share = |share: Option<f64>, within: usize, decided: usize| match share {
        Some(p) => format!("{:.0}% ({within} of {decided})", p * 100.0),
        None => "- (no window has closed yet)".into(),
    };
    let period = match (s.since, s.until) {
        (None, None) => String::new(),
        (Some(a), None) => format!(" received since {a}"),
        (None, Some(b)) => format!(" received before {b}"),
        (Some(a), Some(b)) => format!(" received from {a} to before {b}"),
    };
    let mut apart = Vec::new();
    if s.imported > 0 {
        apart.push(format!("{} imported as history", s.imported));
    }
    if s.closed_silently > 0 {
        apart.push(format!(
            "{} closed silently as spam or not a report",
            s.closed_silently
        ));
    }
    let _ = writeln!(
        o,
        "cases{period}: {}{}",
        s.cases,
        if apart.is_empty() {
            String::new()
        } else {
            format!(" (and {}, in no figure below)", apart.join(" and "))
        }
    );
    // The exceptions to "in no figure below", said where a reader of the
    // share looks for them.
    if s.closed_silently_breached > 0 {
        let _ = writeln!(
            o,
            "  except {} closed silently only after the deadline passed unanswered: \
             counted as breaches",
            s.closed_silently_breached
        );
    }
    if s.merged_breached > 0 {
        let _ = writeln!(
            o,
            "  and {} merged into another case only after their own deadline passed \
             unanswered: counted as breaches",
            s.merged_breached
        );
    }
    if s.history_reopened > 0 {
        let _ = writeln!(
            o,
            "  of the cases, {} were filed as history and reopened later: \
             in no first-response figure (their later turns count)",
            s.history_reopened
        );
    }
    let _ = writeln!(
        o,
        "time to acknowledge:    median {}, worst {} ({} cases)",
        human(s.time_to_acknowledge.median_s),
        human(s.time_to_acknowledge.worst_s),
        s.time_to_acknowledge.count
    );
    let _ = writeln!(
        o,
        "time to first response: median {}, worst {} ({} cases)",
        human(s.time_to_first_response.median_s),
        human(s.time_to_first_response.worst_s),
        s.time_to_first_response.count
    );
    let _ = writeln!(
        o,
        "answered within the window: {}{}",
        share(
            s.share_answered_within_window,
            s.answered_within_window,
            s.window_decided
        ),
        match s.answered_within_window_unverified {
            0 => String::new(),
            n => format!("; {n} of them only on unverified team mail"),
        }
    );
    let f = &s.follow_up;
    if f.turns > 0 {
        let _ = writeln!(
            o,
            "later messages answered within the follow-up window: {} ({} turns, {} reopening a closed case; median answer {})",
            share(f.share_answered_within_window, f.answered_within_window, f.decided),
            f.turns,
            f.reopened,
            human(f.time_to_answer.median_s)
        );
    }
    for (title, m) in [
        ("time to fix", &s.time_to_fix_by_severity),
        ("time to disclosure", &s.time_to_disclosure_by_severity),
    ] {
        if m.is_empty() {
            let _ = writeln!(o, "{title}: -");
        }
        for (sev, sp) in m {
            let _ = writeln!(
                o,
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
    let _ = writeln!(
        o,
        "open cases by state: {}",
        if open.is_empty() {
            "none".into()
        } else {
            open.join(", ")
        }
    );
    o
}
