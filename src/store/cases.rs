//! Reading cases for people and tools: the case object of DESIGN.md's
//! interfaces, whose move it is, listings with filters, and what a reply
//! threads to. A case's messages and trail are in [`super::case_views`].

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row};
use serde::{Deserialize, Serialize};

pub use super::case_views::{
    AttachmentView, CaseAttachment, EventView, MessageView, TrailEvent, UnfiledView,
};
use super::{parse_ts, ts, Store};
use crate::case::State;

/// One case as `cases --json` prints it. The first fields are the contract
/// of DESIGN.md; the rest extend it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseRow {
    pub id: String,
    pub state: String,
    pub reporter: String,
    pub subject: String,
    pub received_at: String,
    pub acknowledged_at: Option<String>,
    pub first_response_at: Option<String>,
    pub response_due_at: String,
    pub severity: Option<String>,
    pub reporter_name: String,
    pub missing_items: Vec<String>,
    pub assignee: Option<String>,
    pub impact: Option<String>,
    pub cvss_vector: Option<String>,
    pub decision_reason: Option<String>,
    pub duplicate_of: Option<String>,
    pub fix_ref: Option<String>,
    pub fixed_version: Option<String>,
    pub affected_versions: Option<String>,
    pub introduced_in: Option<String>,
    pub user_impact: Option<String>,
    pub advisory: Option<String>,
    pub credit_consent: Option<String>,
    pub credit_name: Option<String>,
    /// A permanent send failure (5xx) on mail for this case, for the lead.
    pub send_failure: Option<String>,
    pub workaround: Option<String>,
    pub released_at: Option<String>,
    pub disclosed_at: Option<String>,
    /// `lead` (`secdesk credit`, never overridden by mail) or `reporter`
    /// (their reply to our mail).
    #[serde(default)]
    pub credit_source: Option<String>,
    /// What mail said about credit that was not applied, for the lead to
    /// confirm: `yes, Name`, `yes` or `no`.
    #[serde(default)]
    pub credit_request: Option<String>,
    /// The first response stopped the clock on a team From line alone
    /// (`team.trust_authentication_results` unset).
    #[serde(default)]
    pub first_response_unverified: bool,
    /// The acknowledgement is held back by a rate limit.
    #[serde(default)]
    pub ack_held: bool,
    /// The closed state a `reopened` case came from.
    #[serde(default)]
    pub reopened_from: Option<String>,
    /// Why a `closed` case was closed silently: `spam`, `not-a-report`.
    #[serde(default)]
    pub closed_as: Option<String>,
    /// The case a `merged` case's messages went to.
    #[serde(default)]
    pub merged_into: Option<String>,
    /// The disclosure date agreed with the reporter (`YYYY-MM-DD`).
    #[serde(default)]
    pub embargo_until: Option<String>,
    #[serde(default)]
    pub embargo_note: Option<String>,
    /// Since when someone outside the team has been waiting for the team's
    /// next word (an open follow-up turn), and its deadline.
    #[serde(default)]
    pub awaiting_team_since: Option<String>,
    #[serde(default)]
    pub turn_due_at: Option<String>,
    /// Other open cases of the same reporter address, for the lead to
    /// notice (and `merge`).
    #[serde(default)]
    pub same_reporter: Vec<String>,
    /// Filed as history (`imported`), whatever its state now: its first
    /// window was never secdesk's, so it is in no first-response figure.
    #[serde(default)]
    pub history: bool,
    /// When `secdesk close` last closed the case (silently, or a reopened
    /// case back to where it was).
    #[serde(default)]
    pub closed_at: Option<String>,
}

/// The columns [`case_row`] reads, in its order.
fn case_columns() -> &'static str {
    static COLUMNS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    COLUMNS.get_or_init(|| {
        format!(
            "id, state, reporter_address, subject, received_at, acknowledged_at,
    first_response_at, response_due_at, severity, reporter_name, missing_items, assignee, impact,
    cvss_vector, decision_reason, duplicate_of, fix_ref, fixed_version, affected_versions,
    introduced_in, user_impact, advisory, credit_consent, credit_name, send_failure, workaround,
    released_at, disclosed_at, credit_source, credit_request, first_response_unverified,
    EXISTS (SELECT 1 FROM outbox o WHERE o.case_id = cases.id AND o.status = 'held'),
    reopened_from, closed_as, merged_into, embargo_until, embargo_note,
    (SELECT t.started_at FROM turns t WHERE t.case_id = cases.id
        AND t.answered_at IS NULL AND t.ended_at IS NULL),
    (SELECT t.due_at FROM turns t WHERE t.case_id = cases.id
        AND t.answered_at IS NULL AND t.ended_at IS NULL),
    (SELECT group_concat(o.id, ' ') FROM cases o WHERE o.reporter_address = cases.reporter_address
        AND cases.reporter_address != '' AND o.id != cases.id
        AND o.state NOT IN ({closed})),
    history, closed_at",
            closed = closed_states_sql()
        )
    })
}

fn case_row(r: &Row<'_>) -> rusqlite::Result<CaseRow> {
    let missing: String = r.get(10)?;
    Ok(CaseRow {
        id: r.get(0)?,
        state: r.get(1)?,
        reporter: r.get(2)?,
        subject: r.get(3)?,
        received_at: r.get(4)?,
        acknowledged_at: r.get(5)?,
        first_response_at: r.get(6)?,
        response_due_at: r.get(7)?,
        severity: r.get(8)?,
        reporter_name: r.get(9)?,
        missing_items: serde_json::from_str(&missing).unwrap_or_default(),
        assignee: r.get(11)?,
        impact: r.get(12)?,
        cvss_vector: r.get(13)?,
        decision_reason: r.get(14)?,
        duplicate_of: r.get(15)?,
        fix_ref: r.get(16)?,
        fixed_version: r.get(17)?,
        affected_versions: r.get(18)?,
        introduced_in: r.get(19)?,
        user_impact: r.get(20)?,
        advisory: r.get(21)?,
        credit_consent: r.get(22)?,
        credit_name: r.get(23)?,
        send_failure: r.get(24)?,
        workaround: r.get(25)?,
        released_at: r.get(26)?,
        disclosed_at: r.get(27)?,
        credit_source: r.get(28)?,
        credit_request: r.get(29)?,
        first_response_unverified: r.get(30)?,
        ack_held: r.get(31)?,
        reopened_from: r.get(32)?,
        closed_as: r.get(33)?,
        merged_into: r.get(34)?,
        embargo_until: r.get(35)?,
        embargo_note: r.get(36)?,
        awaiting_team_since: r.get(37)?,
        turn_due_at: r.get(38)?,
        same_reporter: r
            .get::<_, Option<String>>(39)?
            .map(|s| s.split(' ').map(String::from).collect())
            .unwrap_or_default(),
        history: r.get(40)?,
        closed_at: r.get(41)?,
    })
}

impl CaseRow {
    pub fn response_due(&self) -> Option<DateTime<Utc>> {
        parse_ts(&self.response_due_at)
    }

    pub fn received(&self) -> Option<DateTime<Utc>> {
        parse_ts(&self.received_at)
    }

    /// Open, waiting for the team, and past the deadline of that wait.
    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        matches!(self.waiting_on(), Waiting::Team(Some(d)) if d < now)
    }

    /// Whose turn it is: the team's (until when) while the first response
    /// or a follow-up turn is open, else the reporter's; nobody's once the
    /// case is closed.
    pub fn waiting_on(&self) -> Waiting {
        if self.is_closed() {
            Waiting::Nobody
        } else if let Some(due) = &self.turn_due_at {
            Waiting::Team(parse_ts(due))
        } else if self.first_response_at.is_none() {
            Waiting::Team(self.response_due())
        } else {
            Waiting::Reporter
        }
    }

    pub fn is_closed(&self) -> bool {
        self.state
            .parse::<State>()
            .map(|s| s.is_closed())
            .unwrap_or(false)
    }
}

/// Whose move it is on a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waiting {
    /// The team's, due then (unreadable deadlines are `None`).
    Team(Option<DateTime<Utc>>),
    Reporter,
    Nobody,
}

/// The closed states as an SQL list (`'invalid', 'duplicate', …`), made
/// from [`State::is_closed`] so the queries and the rules never disagree.
/// The names are our own constants, never input.
pub(crate) fn closed_states_sql() -> String {
    State::ALL
        .iter()
        .filter(|s| s.is_closed())
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Filters for [`Store::list_cases`].
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    pub state: Option<State>,
    /// Only cases waiting for the team past the deadline of that wait
    /// (the first response or a follow-up turn).
    pub overdue_at: Option<DateTime<Utc>>,
}

impl Store {
    /// Cases, newest first.
    pub fn list_cases(&self, f: &CaseFilter) -> Result<Vec<CaseRow>> {
        let mut sql = format!("SELECT {} FROM cases WHERE 1 = 1", case_columns());
        let mut args: Vec<String> = Vec::new();
        if let Some(s) = f.state {
            args.push(s.as_str().to_string());
            sql.push_str(&format!(" AND state = ?{}", args.len()));
        }
        if let Some(now) = f.overdue_at {
            args.push(ts(now));
            sql.push_str(&format!(
                " AND COALESCE((SELECT t.due_at FROM turns t WHERE t.case_id = cases.id
                                   AND t.answered_at IS NULL AND t.ended_at IS NULL),
                               CASE WHEN first_response_at IS NULL THEN response_due_at END) < ?{}
                  AND state NOT IN ({})",
                args.len(),
                closed_states_sql()
            ));
        }
        sql.push_str(" ORDER BY received_at DESC, seq DESC");
        let mut stmt = self.conn.prepare(&sql).context("listing cases")?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args.iter()), case_row)
            .context("listing cases")?
            .collect::<rusqlite::Result<Vec<_>>>()
            .context("listing cases")?;
        Ok(rows)
    }

    /// One case by id.
    pub fn get_case(&self, id: &str) -> Result<Option<CaseRow>> {
        get_case(&self.conn, id)
    }
}

impl Store {
    /// See [`thread_ids`].
    pub fn thread_ids(&self, id: &str, reporter: &str) -> Result<(Vec<String>, Option<String>)> {
        thread_ids(&self.conn, id, reporter)
    }
}

/// One case by id, on any connection (a transaction included).
pub fn get_case(conn: &rusqlite::Connection, id: &str) -> Result<Option<CaseRow>> {
    conn.query_row(
        &format!("SELECT {} FROM cases WHERE id = ?1", case_columns()),
        [id],
        case_row,
    )
    .optional()
    .with_context(|| format!("reading case {id}"))
}

/// Message-IDs of a case, oldest first (inbound and ours), and the newest
/// inbound one from `reporter`: what a reply or notice threads to.
pub fn thread_ids(
    conn: &rusqlite::Connection,
    id: &str,
    reporter: &str,
) -> Result<(Vec<String>, Option<String>)> {
    let mut stmt = conn
        .prepare(
            "SELECT message_id, from_address, received_at FROM messages
             WHERE case_id = ?1 AND message_id IS NOT NULL
             UNION ALL
             SELECT message_id, '', created_at FROM outbox WHERE case_id = ?1
             ORDER BY 3",
        )
        .context("reading messages")?;
    let rows = stmt
        .query_map([id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })
        .context("reading a case's thread")?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let last_from_reporter = rows
        .iter()
        .rev()
        .find(|(_, from)| !reporter.is_empty() && from == reporter)
        .map(|(m, _)| m.clone());
    Ok((
        rows.into_iter().map(|(m, _)| m).collect(),
        last_from_reporter,
    ))
}
