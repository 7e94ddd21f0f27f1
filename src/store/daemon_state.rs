//! What the running daemon reports about itself (intake mode, last error,
//! process), read back by `secdesk status`.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};

use super::{parse_ts, ts};

/// Sets `key` to `value`.
pub fn set(conn: &Connection, key: &str, value: &str, now: DateTime<Utc>) -> Result<()> {
    conn.execute(
        "INSERT INTO service_state (key, value, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        params![key, value, ts(now)],
    )
    .with_context(|| format!("recording service state {key}"))?;
    Ok(())
}

/// Removes `key`.
pub fn clear(conn: &Connection, key: &str) -> Result<()> {
    conn.execute("DELETE FROM service_state WHERE key = ?1", [key])
        .context("deleting from service_state")?;
    Ok(())
}

/// Every key with its value and when it was set.
pub fn all(conn: &Connection) -> Result<BTreeMap<String, (String, String)>> {
    let mut stmt = conn
        .prepare("SELECT key, value, updated_at FROM service_state")
        .context("reading service_state")?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))
        .context("reading service state")?
        .collect::<rusqlite::Result<BTreeMap<_, _>>>()?;
    Ok(rows)
}

/// Health figures for `secdesk status`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Status {
    /// Per mailbox: the last completed sync.
    pub last_sync: BTreeMap<String, Option<String>>,
    pub intake_mode: Option<String>,
    /// When the reminder task last scanned the open cases.
    pub reminders_scanned_at: Option<String>,
    pub intake_error: Option<String>,
    pub outbox_queued: i64,
    pub outbox_oldest_queued_at: Option<String>,
    pub permanent_failures: i64,
    pub next_deadline: Option<(String, String)>,
    pub daemon: BTreeMap<String, String>,
}

/// Reads the figures.
pub fn status(conn: &Connection) -> Result<Status> {
    let mut stmt = conn
        .prepare("SELECT mailbox, last_sync_at FROM mailbox_state ORDER BY mailbox")
        .context("reading mailbox_state")?;
    let last_sync = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .context("reading mailbox state")?
        .collect::<rusqlite::Result<BTreeMap<String, Option<String>>>>()?;
    let state = all(conn)?;
    let (outbox_queued, outbox_oldest_queued_at): (i64, Option<String>) = conn
        .query_row(
            "SELECT COUNT(*), MIN(created_at) FROM outbox WHERE status = 'queued'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .context("reading outbox")?;
    let permanent_failures: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM outbox WHERE status = 'failed'",
            [],
            |r| r.get(0),
        )
        .context("reading outbox")?;
    let next_deadline = conn
        .query_row(
            &format!(
                "SELECT id, due FROM (
                     SELECT id, response_due_at AS due FROM cases
                     WHERE first_response_at IS NULL AND state NOT IN ({closed})
                     UNION ALL
                     SELECT c.id, t.due_at FROM turns t JOIN cases c ON c.id = t.case_id
                     WHERE t.answered_at IS NULL AND t.ended_at IS NULL
                       AND c.state NOT IN ({closed}))
                 ORDER BY due LIMIT 1",
                closed = super::cases::closed_states_sql()
            ),
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .context("reading the next deadline")?;
    Ok(Status {
        last_sync,
        intake_mode: state.get("intake_mode").map(|v| v.0.clone()),
        reminders_scanned_at: state.get("reminders_scanned_at").map(|v| v.0.clone()),
        intake_error: state
            .get("intake_error")
            .map(|v| format!("{} (since {})", v.0, v.1)),
        outbox_queued,
        outbox_oldest_queued_at,
        permanent_failures,
        next_deadline,
        daemon: state
            .iter()
            .filter(|(k, _)| k.starts_with("daemon_"))
            .map(|(k, v)| (k.clone(), v.0.clone()))
            .collect(),
    })
}

/// The oldest of the mailboxes' last syncs (the one that matters for
/// monitoring), or `None` if any mailbox never synced.
pub fn stalest_sync(s: &Status) -> Option<DateTime<Utc>> {
    if s.last_sync.is_empty() {
        return None;
    }
    let mut oldest: Option<DateTime<Utc>> = None;
    for v in s.last_sync.values() {
        let t = parse_ts(v.as_deref()?)?;
        oldest = Some(oldest.map_or(t, |o| o.min(t)));
    }
    oldest
}
