//! Whose turn it is after the first response. A turn is the team's: it
//! opens when someone outside the team writes after the team's last word
//! (or on a closed case, reopening it), has its own deadline
//! (`sla.follow_up_window`), and closes with the team's next response — or
//! without one, when the lead closes the case. The rows stay: they are the
//! follow-up figures of `stats`.

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;

use super::ts;

/// One turn of a case, as stats and `show` read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Turn {
    pub case_id: String,
    pub turn: i64,
    pub started_at: String,
    pub due_at: String,
    pub reopened: bool,
    pub answered_at: Option<String>,
    pub answered_unverified: bool,
    pub ended_at: Option<String>,
}

/// The case's open turn, if any.
pub fn open_turn(conn: &Connection, case: &str) -> Result<Option<Turn>> {
    conn.query_row(
        &format!("{SELECT} WHERE case_id = ?1 AND answered_at IS NULL AND ended_at IS NULL"),
        [case],
        turn_row,
    )
    .optional()
    .with_context(|| format!("reading the open turn of {case}"))
}

/// Opens the team's turn on `case`, unless one is open already (a second
/// message while the team has not answered changes nothing). Returns the
/// new turn's number.
pub fn start_turn(
    tx: &Transaction<'_>,
    case: &str,
    started_at: DateTime<Utc>,
    due_at: DateTime<Utc>,
    message_row: Option<i64>,
    reopened: bool,
) -> Result<Option<i64>> {
    if open_turn(tx, case)?.is_some() {
        return Ok(None);
    }
    let n: i64 = tx
        .query_row(
            "SELECT COALESCE(MAX(turn), 0) + 1 FROM turns WHERE case_id = ?1",
            [case],
            |r| r.get(0),
        )
        .with_context(|| format!("numbering a turn of {case}"))?;
    tx.execute(
        "INSERT INTO turns (case_id, turn, started_at, due_at, message_row, reopened)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![case, n, ts(started_at), ts(due_at), message_row, reopened],
    )
    .with_context(|| format!("opening a turn on {case}"))?;
    Ok(Some(n))
}

/// The team answered at `at`: closes the open turn, if any.
pub fn answer_turn(
    tx: &Transaction<'_>,
    case: &str,
    at: DateTime<Utc>,
    verified: bool,
) -> Result<()> {
    tx.execute(
        "UPDATE turns SET answered_at = ?2, answered_unverified = ?3
         WHERE case_id = ?1 AND answered_at IS NULL AND ended_at IS NULL",
        params![case, ts(at), !verified],
    )
    .with_context(|| format!("closing the turn of {case}"))?;
    Ok(())
}

/// The case was closed without an answer: ends the open turn, if any, as
/// unanswered (it counts as breached once its deadline has passed).
pub fn end_turn(tx: &Transaction<'_>, case: &str, at: DateTime<Utc>) -> Result<()> {
    tx.execute(
        "UPDATE turns SET ended_at = ?2
         WHERE case_id = ?1 AND answered_at IS NULL AND ended_at IS NULL",
        params![case, ts(at)],
    )
    .with_context(|| format!("ending the turn of {case}"))?;
    Ok(())
}

/// Every turn, for the figures.
pub fn all_turns(conn: &Connection) -> Result<Vec<Turn>> {
    let mut stmt = conn
        .prepare(&format!("{SELECT} ORDER BY case_id, turn"))
        .context("reading turns")?;
    let rows = stmt
        .query_map([], turn_row)
        .context("reading turns")?
        .collect::<rusqlite::Result<Vec<_>>>()
        .context("reading turns")?;
    Ok(rows)
}

/// A case's turns, oldest first.
pub fn case_turns(conn: &Connection, case: &str) -> Result<Vec<Turn>> {
    let mut stmt = conn
        .prepare(&format!("{SELECT} WHERE case_id = ?1 ORDER BY turn"))
        .context("reading turns")?;
    let rows = stmt
        .query_map([case], turn_row)
        .with_context(|| format!("reading the turns of {case}"))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .with_context(|| format!("reading the turns of {case}"))?;
    Ok(rows)
}

const SELECT: &str = "SELECT case_id, turn, started_at, due_at, reopened, answered_at,
    answered_unverified, ended_at FROM turns";

fn turn_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Turn> {
    Ok(Turn {
        case_id: r.get(0)?,
        turn: r.get(1)?,
        started_at: r.get(2)?,
        due_at: r.get(3)?,
        reopened: r.get(4)?,
        answered_at: r.get(5)?,
        answered_unverified: r.get(6)?,
        ended_at: r.get(7)?,
    })
}

impl super::Store {
    /// Every turn, for the figures.
    pub fn all_turns(&self) -> Result<Vec<Turn>> {
        all_turns(self.conn())
    }

    /// A case's turns, oldest first.
    pub fn case_turns(&self, case: &str) -> Result<Vec<Turn>> {
        case_turns(self.conn(), case)
    }
}
