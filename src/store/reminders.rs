//! Queries for the reminder scan: every case waiting on the team — for its
//! first response, for the answer to a later message (an open turn), or
//! towards an agreed disclosure date — and the thresholds already
//! announced for each.

use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{params, Connection, Transaction};

use super::{parse_ts, ts};

/// What the team owes on a case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Wait {
    /// The first personal response (`sla.response_window`).
    First,
    /// The answer to a later message: turn `n` of the conversation
    /// (`sla.follow_up_window`); `reopened` when that message reopened a
    /// closed case.
    Turn { n: i64, reopened: bool },
    /// The disclosure date agreed with the reporter; `released` when the
    /// fix is out (then its passing is a reminder to disclose, not an
    /// escalation).
    Embargo { until: NaiveDate, released: bool },
}

impl Wait {
    /// What the threshold keys of this wait start with: the first
    /// response's keys are bare (`remind:43200s`, `escalate`), so each turn
    /// and each embargo date fires its own thresholds once.
    pub fn key_prefix(&self) -> String {
        match self {
            Wait::First => String::new(),
            Wait::Turn { n, .. } => format!("turn:{n}:"),
            Wait::Embargo { until, .. } => format!("embargo:{until}:"),
        }
    }
}

/// A case the team owes something, by a deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwaitingCase {
    pub id: String,
    pub state: String,
    pub reporter: String,
    pub subject: String,
    pub due_at: DateTime<Utc>,
    pub assignee: Option<String>,
    pub wait: Wait,
    /// Threshold keys already recorded for this wait, without its prefix
    /// (`remind:43200s`, `escalate`).
    pub done: Vec<String>,
}

/// Every open case the team owes something, soonest deadline first.
pub fn awaiting_response(conn: &Connection) -> Result<Vec<AwaitingCase>> {
    let closed = super::cases::closed_states_sql();
    let sql = format!(
        "SELECT c.id, c.state, c.reporter_address, c.subject, c.assignee,
                'first', c.response_due_at, NULL, NULL
         FROM cases c
         WHERE c.first_response_at IS NULL AND c.state NOT IN ({closed})
           AND NOT EXISTS (SELECT 1 FROM turns t WHERE t.case_id = c.id
                           AND t.answered_at IS NULL AND t.ended_at IS NULL)
         UNION ALL
         SELECT c.id, c.state, c.reporter_address, c.subject, c.assignee,
                'turn', t.due_at, t.turn, t.reopened
         FROM cases c JOIN turns t ON t.case_id = c.id
         WHERE t.answered_at IS NULL AND t.ended_at IS NULL AND c.state NOT IN ({closed})
         UNION ALL
         SELECT c.id, c.state, c.reporter_address, c.subject, c.assignee,
                'embargo', c.embargo_until, NULL, c.state = 'released'
         FROM cases c
         WHERE c.embargo_until IS NOT NULL AND c.state NOT IN ({closed})"
    );
    let mut stmt = conn
        .prepare(&sql)
        .context("reading cases awaiting the team")?;
    type Raw = (
        String,
        String,
        String,
        String,
        Option<String>,
        String,
        String,
        Option<i64>,
        Option<bool>,
    );
    let rows: Vec<Raw> = stmt
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
            ))
        })
        .context("reading cases awaiting the team")?
        .collect::<rusqlite::Result<Vec<_>>>()
        .context("reading cases awaiting the team")?;
    let mut done_of = conn
        .prepare_cached("SELECT threshold FROM reminders WHERE case_id = ?1")
        .context("reading reminders")?;
    let mut out = Vec::new();
    for (id, state, reporter, subject, assignee, kind, due, turn, flag) in rows {
        let (wait, due_at) = match kind.as_str() {
            "turn" => (
                Wait::Turn {
                    n: turn.unwrap_or(0),
                    reopened: flag.unwrap_or(false),
                },
                parse_ts(&due),
            ),
            "embargo" => match NaiveDate::parse_from_str(&due, "%Y-%m-%d") {
                Ok(until) => (
                    Wait::Embargo {
                        until,
                        released: flag.unwrap_or(false),
                    },
                    until.and_hms_opt(0, 0, 0).map(|d| d.and_utc()),
                ),
                Err(_) => (Wait::First, None),
            },
            _ => (Wait::First, parse_ts(&due)),
        };
        let Some(due_at) = due_at else {
            // Not silently: a deadline nobody can read is one nobody is
            // reminded of.
            tracing::error!(case = %id, due = %due, "unreadable deadline; no reminders for it");
            continue;
        };
        let prefix = wait.key_prefix();
        let done = done_of
            .query_map([&id], |r| r.get::<_, String>(0))
            .context("reading reminders")?
            .filter_map(|k| k.ok())
            .filter_map(|k| {
                let rest = k.strip_prefix(&prefix)?;
                // The first response's bare keys must not take a turn's.
                (!prefix.is_empty() || !rest.contains(':') || rest.starts_with("remind:"))
                    .then(|| rest.to_string())
            })
            .collect();
        out.push(AwaitingCase {
            id,
            state,
            reporter,
            subject,
            due_at,
            assignee,
            wait,
            done,
        });
    }
    out.sort_by(|a, b| a.due_at.cmp(&b.due_at).then_with(|| a.id.cmp(&b.id)));
    Ok(out)
}

/// Records a threshold for a case; false if it was already recorded (the
/// primary key decides, not timing).
pub fn record_threshold(
    tx: &Transaction<'_>,
    case: &str,
    key: &str,
    at: DateTime<Utc>,
    sent: bool,
) -> Result<bool> {
    let n = tx
        .execute(
            "INSERT INTO reminders (case_id, threshold, at, sent) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (case_id, threshold) DO NOTHING",
            params![case, key, ts(at), sent],
        )
        .with_context(|| format!("recording threshold {key} of {case}"))?;
    Ok(n == 1)
}
