//! `secdesk cases` and `secdesk unfiled`: the case log for people (tables)
//! and for tools (`--json`), and the case-id argument every command takes.
//! `secdesk show` is in `show.rs`.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::UsageError;
use crate::case::sla::{human_duration, time_left};
use crate::case::{CaseId, State};
use crate::config::Config;
use crate::store::cases::{CaseFilter, CaseRow, Waiting};
use crate::store::Store;

/// Below this many columns SUBJECT is never cut: a subject is often the
/// only thing that tells two reports of one reporter apart.
const MIN_SUBJECT_WIDTH: usize = 60;

/// The width assumed for a terminal that does not say how wide it is.
const FALLBACK_TERMINAL_WIDTH: usize = 120;

pub fn list(store: &Store, state: Option<State>, overdue: bool, json: bool) -> Result<ExitCode> {
    let now = Utc::now();
    let rows = store.list_cases(&CaseFilter {
        state,
        overdue_at: overdue.then_some(now),
    })?;
    if json {
        // The CaseRow objects as they are: tools rely on this shape.
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        println!("no cases");
        return Ok(ExitCode::SUCCESS);
    }
    print!("{}", table(&rows, now, output_width()));
    Ok(ExitCode::SUCCESS)
}

/// How wide the table may be. `$COLUMNS` when it holds a number (shells
/// export it on request; scripts and tests set it); else, when standard
/// output is a terminal, the terminal's own width (TIOCGWINSZ), or 120 if
/// it does not say. `None` for a pipe or a file: nothing is cut there, so
/// `grep` and `less -S` see whole subjects (subjects are single lines,
/// bounded at intake).
fn output_width() -> Option<usize> {
    if let Some(n) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|n| *n > 0)
    {
        return Some(n);
    }
    let stdout = std::io::stdout();
    if !stdout.is_terminal() {
        return None;
    }
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one `winsize` through the pointer, which
    // points at a live, properly aligned value; fd 1 is open (a terminal).
    let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) } == 0;
    Some(if ok && ws.ws_col > 0 {
        usize::from(ws.ws_col)
    } else {
        FALLBACK_TERMINAL_WIDTH
    })
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
        Some(due) => deadline(due, now),
        None => "?".into(),
    }
}

/// `3h 59m left` or `OVERDUE by 2h 5m`.
pub(super) fn deadline(due: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let left = time_left(due, now);
    if due < now {
        format!("OVERDUE by {}", human_duration(-left))
    } else {
        format!("{} left", human_duration(left))
    }
}

/// The WAITING ON column: whose move it is ([`CaseRow::waiting_on`]) and,
/// when it is the team's, how long it has; an agreed disclosure date is
/// the deadline of a case nobody owes a message, and is added after the
/// team's. A closed case waits on nobody (its embargo, if any, is past
/// use: the reminder scan ignores closed cases too).
pub fn waiting_column(c: &CaseRow, now: DateTime<Utc>) -> String {
    let embargo = c.embargo_until.as_deref().map(|d| format!("embargo {d}"));
    match (c.waiting_on(), embargo) {
        (Waiting::Nobody, _) => "-".into(),
        (Waiting::Reporter, Some(e)) => e,
        (Waiting::Reporter, None) => "reporter".into(),
        (Waiting::Team(due), e) => {
            let team = match due {
                Some(due) => format!("team, {}", deadline(due, now)),
                None => "team, deadline unreadable".into(),
            };
            match e {
                Some(e) => format!("{team}; {e}"),
                None => team,
            }
        }
    }
}

/// STATE with what the lead must notice about it.
fn state_column(c: &CaseRow) -> String {
    let mut state = c.state.clone();
    if c.send_failure.is_some() {
        state.push_str(" (send failed)");
    }
    if c.ack_held {
        state.push_str(" (ack held)");
    }
    if c.first_response_unverified {
        state.push_str(" (unverified)");
    }
    state
}

/// REPORTER, with a marker for the reporter's other open cases
/// (`+SEC-2026-0003`): perhaps the same report twice, for `merge`.
fn reporter_column(c: &CaseRow) -> String {
    let mut out = if c.reporter.is_empty() {
        "(unknown)".to_string()
    } else {
        c.reporter.clone()
    };
    match c.same_reporter.as_slice() {
        [] => {}
        [one] => out.push_str(&format!(" +{one}")),
        [first, rest @ ..] => out.push_str(&format!(" +{first} +{} more", rest.len())),
    }
    out
}

pub(super) fn age(c: &CaseRow, now: DateTime<Utc>) -> String {
    c.received()
        .map(|r| human_duration((now - r).num_seconds().max(0)))
        .unwrap_or_else(|| "?".into())
}

/// `text` cut to `width` characters, the last one `…` when cut.
fn cut(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut out: String = text.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

const COLUMNS: usize = 8;
const GAP: usize = 2;

/// A plain-text table, columns padded to their widest cell. SUBJECT comes
/// last and takes what `width` leaves, never less than
/// [`MIN_SUBJECT_WIDTH`]; with no width it is never cut.
pub fn table(rows: &[CaseRow], now: DateTime<Utc>, width: Option<usize>) -> String {
    let header = [
        "ID",
        "STATE",
        "SEVERITY",
        "ASSIGNEE",
        "REPORTER",
        "AGE",
        "WAITING ON",
        "SUBJECT",
    ];
    let mut cells: Vec<[String; COLUMNS]> = vec![header.map(String::from)];
    for c in rows {
        cells.push([
            c.id.clone(),
            state_column(c),
            c.severity.clone().unwrap_or_else(|| "-".into()),
            c.assignee.clone().unwrap_or_else(|| "-".into()),
            reporter_column(c),
            age(c, now),
            waiting_column(c, now),
            c.subject.clone(),
        ]);
    }
    let mut widths = [0usize; COLUMNS];
    for row in &cells {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let before_subject: usize = widths[..COLUMNS - 1].iter().map(|w| w + GAP).sum();
    let subject_width = width.map(|w| w.saturating_sub(before_subject).max(MIN_SUBJECT_WIDTH));
    let mut out = String::new();
    for row in &cells {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 < COLUMNS {
                line.push_str(cell);
                line.push_str(&" ".repeat(widths[i] - cell.chars().count() + GAP));
            } else {
                match subject_width {
                    Some(w) => line.push_str(&cut(cell, w)),
                    None => line.push_str(cell),
                }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ts;
    use chrono::{Duration, TimeZone};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap()
    }

    /// A new case received `ago` before [`now`] with a 48-hour window.
    fn case(ago: Duration) -> CaseRow {
        let received = now() - ago;
        serde_json::from_value(serde_json::json!({
            "id": "SEC-2026-0007",
            "state": "new",
            "reporter": "sam@reporter.example",
            "subject": "Prototype pollution",
            "received_at": ts(received),
            "response_due_at": ts(received + Duration::hours(48)),
            "reporter_name": "Sam",
            "missing_items": [],
        }))
        .unwrap()
    }

    #[test]
    fn waiting_on_says_whose_move_and_until_when() {
        let mut c = case(Duration::hours(44) + Duration::minutes(1));
        assert_eq!(waiting_column(&c, now()), "team, 3h 59m left");
        let late = case(Duration::hours(50) + Duration::minutes(5));
        assert_eq!(waiting_column(&late, now()), "team, OVERDUE by 2h 5m");
        c.first_response_at = Some(ts(now()));
        assert_eq!(waiting_column(&c, now()), "reporter");
        c.embargo_until = Some("2027-02-23".into());
        assert_eq!(waiting_column(&c, now()), "embargo 2027-02-23");
        // A later message opened the team's turn: its deadline, and the
        // embargo after it.
        c.turn_due_at = Some(ts(now() + Duration::hours(71)));
        assert_eq!(
            waiting_column(&c, now()),
            "team, 71h 0m left; embargo 2027-02-23"
        );
        c.state = "invalid".into();
        assert_eq!(waiting_column(&c, now()), "-");
    }

    #[test]
    fn state_and_reporter_markers() {
        let mut c = case(Duration::hours(1));
        assert_eq!(state_column(&c), "new");
        c.send_failure = Some("550".into());
        c.ack_held = true;
        c.first_response_unverified = true;
        assert_eq!(
            state_column(&c),
            "new (send failed) (ack held) (unverified)"
        );
        assert_eq!(reporter_column(&c), "sam@reporter.example");
        c.same_reporter = vec!["SEC-2026-0003".into()];
        assert_eq!(reporter_column(&c), "sam@reporter.example +SEC-2026-0003");
        c.same_reporter.push("SEC-2026-0004".into());
        assert_eq!(
            reporter_column(&c),
            "sam@reporter.example +SEC-2026-0003 +1 more"
        );
        c.reporter.clear();
        c.same_reporter.clear();
        assert_eq!(reporter_column(&c), "(unknown)");
    }

    #[test]
    fn the_subject_takes_the_rest_of_the_width_but_never_below_60() {
        let mut c = case(Duration::hours(1));
        c.subject = "s".repeat(300);
        let line = |t: String| t.lines().nth(1).unwrap().to_string();
        let subject = |t: String| {
            let l = line(t);
            l[l.find("sss").unwrap()..].to_string()
        };
        // No width (a pipe): whole.
        assert_eq!(subject(table(&[c.clone()], now(), None)).len(), 300);
        // A narrow terminal: 60 columns of subject all the same.
        let narrow = subject(table(&[c.clone()], now(), Some(80)));
        assert_eq!(narrow.chars().count(), MIN_SUBJECT_WIDTH);
        assert!(narrow.ends_with('…'));
        // A wide one: the line fills the width exactly.
        let wide = line(table(&[c.clone()], now(), Some(250)));
        assert_eq!(wide.chars().count(), 250);
        assert!(wide.ends_with('…'));
        // A short subject is never padded or cut.
        c.subject = "short".into();
        assert!(line(table(&[c], now(), Some(250))).ends_with("  short"));
    }

    #[test]
    fn the_table_has_the_columns_a_lead_reads() {
        let mut c = case(Duration::hours(1));
        c.severity = Some("high".into());
        c.assignee = Some("dev@example.org".into());
        let t = table(&[c], now(), None);
        let head = t.lines().next().unwrap();
        let names: Vec<&str> = head.split("  ").filter(|s| !s.is_empty()).collect();
        let names: Vec<&str> = names.iter().map(|s| s.trim()).collect();
        assert_eq!(
            names,
            [
                "ID",
                "STATE",
                "SEVERITY",
                "ASSIGNEE",
                "REPORTER",
                "AGE",
                "WAITING ON",
                "SUBJECT"
            ]
        );
        let row = t.lines().nth(1).unwrap();
        for cell in [
            "SEC-2026-0007",
            "high",
            "dev@example.org",
            "1h 0m",
            "team, 47h 0m left",
        ] {
            assert!(row.contains(cell), "{cell}: {row}");
        }
    }
}
