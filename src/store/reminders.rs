//! Queries for the 48-hour window: cases still waiting for a person, and the
//! thresholds already announced for them.

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, Transaction};

use super::{parse_ts, ts};

/// An open case no person has answered yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwaitingCase {
    pub id: String,
    pub state: String,
    pub reporter: String,
    pub subject: String,
    pub response_due_at: DateTime<Utc>,
    pub assignee: Option<String>,
    /// Threshold keys already recorded (`remind:43200s`, `escalate`).
    pub done: Vec<String>,
}

/// Every open case without a first response, soonest deadline first.
pub fn awaiting_response(conn: &Connection) -> Result<Vec<AwaitingCase>> {
    let mut stmt = conn
        .prepare(&format!(
            "SELECT c.id, c.state, c.reporter_address, c.subject, c.response_due_at, c.assignee,
                    (SELECT group_concat(r.threshold, ' ') FROM reminders r WHERE r.case_id = c.id)
             FROM cases c
             WHERE c.first_response_at IS NULL AND c.state NOT IN ({})
             ORDER BY c.response_due_at, c.id",
            super::cases::closed_states_sql()
        ))
        .context("reading cases awaiting a response")?;
    let rows = stmt
        .query_map([], |r| {
            let due: String = r.get(4)?;
            let done: Option<String> = r.get(6)?;
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                due,
                r.get::<_, Option<String>>(5)?,
                done,
            ))
        })
        .context("reading cases awaiting a response")?
        .collect::<rusqlite::Result<Vec<_>>>()
        .context("reading cases awaiting a response")?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, state, reporter, subject, due, assignee, done)| {
            let Some(response_due_at) = parse_ts(&due) else {
                // Not silently: a deadline nobody can read is one nobody
                // is reminded of.
                tracing::error!(case = %id, due = %due, "unreadable response deadline; no reminders for this case");
                return None;
            };
            Some(AwaitingCase {
                id,
                state,
                reporter,
                subject,
                response_due_at,
                assignee,
                done: done
                    .map(|d| d.split(' ').map(String::from).collect())
                    .unwrap_or_default(),
            })
        })
        .collect())
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
