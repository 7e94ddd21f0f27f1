//! Queries for the reminder scan: every case waiting on the team — for its
//! first response, for the answer to a later message (an open turn), or
//! towards an agreed disclosure date — and the thresholds already
//! announced for each.

use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
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

/// When an agreed disclosure date begins: the first instant of `until` in
/// the team's time zone (`team.timezone`) — the date was agreed as a day
/// on the team's calendar, not UTC's. A day whose midnight a DST change
/// skips (America/Santiago) begins when its first minute exists; one
/// whose midnight repeats, at the earlier one; a day the zone skipped
/// whole (Pacific/Apia, 30 Dec 2011) when the next one begins.
pub fn embargo_due_at(until: NaiveDate, tz: Tz) -> Option<DateTime<Utc>> {
    let midnight = until.and_hms_opt(0, 0, 0)?;
    // Gaps are whole minutes and never over a day long: minute steps over
    // two days find where one ends (at once, on every ordinary day).
    (0..48 * 60).find_map(|m| {
        tz.from_local_datetime(&(midnight + chrono::Duration::minutes(m)))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    })
}

/// Every open case the team owes something, soonest deadline first; an
/// embargo falls due at the start of its date in `tz` (`team.timezone`).
pub fn awaiting_response_in(conn: &Connection, tz: Tz) -> Result<Vec<AwaitingCase>> {
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
                    embargo_due_at(until, tz),
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

/// [`awaiting_response_in`] with embargoes due at UTC midnight, for the
/// store's migration test (src/store/mod.rs), which predates the time zone.
#[cfg(test)]
pub fn awaiting_response(conn: &Connection) -> Result<Vec<AwaitingCase>> {
    awaiting_response_in(conn, chrono_tz::UTC)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn an_embargo_ends_at_the_start_of_its_date_in_the_team_zone() {
        let la: Tz = "America/Los_Angeles".parse().unwrap();
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let santiago: Tz = "America/Santiago".parse().unwrap();
        let rows = [
            (day(2026, 12, 10), chrono_tz::UTC, "2026-12-10T00:00:00Z"),
            (day(2026, 12, 10), la, "2026-12-10T08:00:00Z"),
            // Summer time: seven hours behind.
            (day(2026, 7, 10), la, "2026-07-10T07:00:00Z"),
            (day(2026, 12, 10), berlin, "2026-12-09T23:00:00Z"),
            // Chile's clocks skip 00:00-01:00 on 6 Sep 2026: the day
            // begins at 01:00 -03, i.e. the old midnight.
            (day(2026, 9, 6), santiago, "2026-09-06T04:00:00Z"),
            // ...and repeat 23:00-24:00 on 4 Apr 2026: unaffected midnight.
            (day(2026, 4, 5), santiago, "2026-04-05T04:00:00Z"),
            // Samoa skipped 30 Dec 2011: the date ends with the 29th.
            (
                day(2011, 12, 30),
                "Pacific/Apia".parse().unwrap(),
                "2011-12-30T10:00:00Z",
            ),
        ];
        for (until, tz, want) in rows {
            assert_eq!(embargo_due_at(until, tz), Some(utc(want)), "{until} {tz}");
        }
    }

    #[test]
    fn the_scan_reads_embargoes_in_the_team_zone() {
        let dir = tempfile::tempdir().unwrap();
        let mut store =
            super::super::Store::open(&dir.path().join("c.db"), &dir.path().join("d")).unwrap();
        store
            .write(|tx| {
                tx.execute(
                    "INSERT INTO cases (id, year, seq, state, reporter_address, subject,
                                        received_at, response_due_at, first_response_at,
                                        embargo_until)
                     VALUES ('SEC-2026-0001', 2026, 1, 'accepted', 'r@x', 's',
                             '2026-11-01T00:00:00.000Z', '2026-11-03T00:00:00.000Z',
                             '2026-11-02T00:00:00.000Z', '2026-12-10')",
                    [],
                )?;
                Ok(())
            })
            .unwrap();
        let la: Tz = "America/Los_Angeles".parse().unwrap();
        let cases = awaiting_response_in(store.conn(), la).unwrap();
        assert_eq!(cases.len(), 1, "{cases:?}");
        assert_eq!(cases[0].due_at, utc("2026-12-10T08:00:00Z"));
        assert_eq!(
            cases[0].wait,
            Wait::Embargo {
                until: day(2026, 12, 10),
                released: false
            }
        );
    }
}
