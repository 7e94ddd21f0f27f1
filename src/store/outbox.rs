//! The outbox: every outgoing mail is a row here first (DESIGN.md invariant
//! 3), inserted in the transaction that causes it; the worker marks it sent
//! only after the SMTP server accepted it.

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::messages::ack_counts;
use super::ts;
use crate::case::State;
use crate::config::LimitsConfig;
use crate::inbound::plan::rate_keys;
use crate::mail::compose::{OutKind, OutgoingMail};

/// Queues `mail`; returns `false` (and changes nothing) when a row with the
/// same dedup key exists — the store, not timing, keeps acks and reminders
/// to one each.
pub fn enqueue(tx: &Transaction<'_>, mail: &OutgoingMail, now: DateTime<Utc>) -> Result<bool> {
    insert(tx, mail, now, false)
}

/// Keeps an acknowledgement back (a rate limit is reached): the row exists,
/// so the case's one ack is reserved, but it is not sent until
/// [`release_held_acks`] lets it go.
pub fn enqueue_held(tx: &Transaction<'_>, mail: &OutgoingMail, now: DateTime<Utc>) -> Result<bool> {
    insert(tx, mail, now, true)
}

fn insert(
    tx: &Transaction<'_>,
    mail: &OutgoingMail,
    now: DateTime<Utc>,
    held: bool,
) -> Result<bool> {
    // Acks are counted per normalised recipient and domain (rate limits).
    let (rate_key, rate_domain) = match (mail.kind, mail.to.first()) {
        (OutKind::Ack, Some(to)) => rate_keys(to),
        _ => (String::new(), String::new()),
    };
    let n = tx
        .execute(
            "INSERT INTO outbox (case_id, kind, dedup_key, message_id, recipients, subject, body,
                                 in_reply_to, thread_refs, status, attempts, next_attempt_at,
                                 created_at, released_at, rate_key, rate_domain)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?11, 0, ?10, ?10,
                     CASE WHEN ?11 = 'held' THEN NULL ELSE ?10 END, ?12, ?13)
             ON CONFLICT (dedup_key) DO NOTHING",
            params![
                mail.case.as_ref().map(|c| c.to_string()),
                mail.kind.as_str(),
                mail.dedup_key,
                mail.message_id,
                serde_json::to_string(&mail.to)?,
                mail.subject,
                mail.body,
                mail.in_reply_to,
                mail.references.join(" "),
                ts(now),
                if held { "held" } else { "queued" },
                rate_key,
                rate_domain,
            ],
        )
        .with_context(|| format!("queueing {}", mail.dedup_key))?;
    Ok(n == 1)
}

/// What [`release_held_acks`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Released {
    pub released: usize,
    pub cancelled: usize,
}

/// Lets held acknowledgements go, oldest first, as far as the last hour's
/// counts allow (DESIGN.md: rate limits delay acknowledgements, they never
/// drop a real reporter's). One whose case a person answered meanwhile, or
/// that was closed, or whose response deadline passed (the ack would
/// promise a time already gone), is cancelled instead, with an event.
pub fn release_held_acks(
    tx: &Transaction<'_>,
    limits: &LimitsConfig,
    now: DateTime<Utc>,
) -> Result<Released> {
    let mut stmt = tx
        .prepare(
            "SELECT o.id, o.case_id, o.rate_key, o.rate_domain, c.first_response_at, c.state,
                c.response_due_at
         FROM outbox o LEFT JOIN cases c ON c.id = o.case_id
         WHERE o.status = 'held' ORDER BY o.id LIMIT 1000",
        )
        .context("reading outbox")?;
    let held = stmt
        .query_map([], |r| {
            Ok(Held {
                id: r.get(0)?,
                case: r.get(1)?,
                rate_key: r.get(2)?,
                rate_domain: r.get(3)?,
                answered: r.get::<_, Option<String>>(4)?.is_some(),
                state: r.get(5)?,
                due: r.get(6)?,
            })
        })
        .context("reading held acknowledgements")?
        .collect::<rusqlite::Result<Vec<_>>>()
        .context("reading held acknowledgements")?;
    drop(stmt);
    let mut done = Released::default();
    let since = now - chrono::Duration::hours(1);
    for h in held {
        let closed = h
            .state
            .as_deref()
            .and_then(|s| s.parse::<State>().ok())
            .is_some_and(|s| s.is_closed());
        let overdue = h
            .due
            .as_deref()
            .and_then(super::parse_ts)
            .is_some_and(|d| d <= now);
        let cancel = if h.answered {
            Some("a person answered the case before the rate limit let the acknowledgement go")
        } else if closed {
            Some("the case was closed while the acknowledgement was held")
        } else if overdue {
            Some("the response deadline passed while the acknowledgement was held; it would promise a time already gone")
        } else {
            None
        };
        if let Some(why) = cancel {
            tx.execute(
                "UPDATE outbox SET status = 'cancelled', last_error = ?2 WHERE id = ?1",
                params![h.id, why],
            )
            .context("updating outbox")?;
            super::record_event(tx, h.case.as_deref(), now, "ack_cancelled", "secdesk", why)?;
            done.cancelled += 1;
            continue;
        }
        let counts = ack_counts(tx, &h.rate_key, &h.rate_domain, since)?;
        if counts.over(limits).is_some() {
            if counts.total >= limits.acks_per_hour {
                // Nothing else can go this time; the oldest stay first.
                break;
            }
            continue;
        }
        tx.execute(
            "UPDATE outbox SET status = 'queued', released_at = ?2, next_attempt_at = ?2
             WHERE id = ?1",
            params![h.id, ts(now)],
        )
        .context("updating outbox")?;
        super::record_event(
            tx,
            h.case.as_deref(),
            now,
            "ack_released",
            "secdesk",
            "the rate limit allows it now: acknowledgement queued",
        )?;
        done.released += 1;
    }
    Ok(done)
}

/// A held acknowledgement and the state of its case.
struct Held {
    id: i64,
    case: Option<String>,
    rate_key: String,
    rate_domain: String,
    answered: bool,
    state: Option<String>,
    due: Option<String>,
}

/// Whether any acknowledgement is held (cheap: a partial index).
pub fn any_held(conn: &Connection) -> Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM outbox WHERE status = 'held')",
        [],
        |r| r.get(0),
    )
    .context("looking for held acknowledgements")
}

/// A queued row, as the worker sends it.
#[derive(Debug, Clone)]
pub struct QueuedMail {
    pub id: i64,
    pub case_id: Option<String>,
    pub kind: String,
    pub message_id: String,
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    pub attempts: u32,
    pub created_at: String,
}

/// The oldest queued row due at `now`.
pub fn next_due(conn: &Connection, now: DateTime<Utc>) -> Result<Option<QueuedMail>> {
    conn.query_row(
        "SELECT id, case_id, kind, message_id, recipients, subject, body, in_reply_to,
                thread_refs, attempts, created_at
         FROM outbox WHERE status = 'queued' AND next_attempt_at <= ?1
         ORDER BY id LIMIT 1",
        [ts(now)],
        |r| {
            let to: String = r.get(4)?;
            let refs: String = r.get(8)?;
            Ok(QueuedMail {
                id: r.get(0)?,
                case_id: r.get(1)?,
                kind: r.get(2)?,
                message_id: r.get(3)?,
                to: serde_json::from_str(&to).unwrap_or_default(),
                subject: r.get(5)?,
                body: r.get(6)?,
                in_reply_to: r.get(7)?,
                references: refs.split_whitespace().map(String::from).collect(),
                attempts: r.get(9)?,
                created_at: r.get(10)?,
            })
        },
    )
    .optional()
    .context("reading the outbox")
}

/// When the next queued row falls due, if any is queued.
pub fn next_due_at(conn: &Connection) -> Result<Option<DateTime<Utc>>> {
    let s: Option<String> = conn
        .query_row(
            "SELECT MIN(next_attempt_at) FROM outbox WHERE status = 'queued'",
            [],
            |r| r.get(0),
        )
        .context("reading outbox")?;
    Ok(s.as_deref().and_then(super::parse_ts))
}

/// The SMTP server accepted row `id`: mark it sent, and for an
/// acknowledgement, the case acknowledged.
pub fn mark_sent(tx: &Transaction<'_>, m: &QueuedMail, now: DateTime<Utc>) -> Result<()> {
    tx.execute(
        "UPDATE outbox SET status = 'sent', sent_at = ?2, attempts = attempts + 1, last_error = NULL
         WHERE id = ?1",
        params![m.id, ts(now)],
    ).context("updating outbox")?;
    if let Some(case) = &m.case_id {
        if m.kind == "ack" {
            acknowledge(tx, case, now)?;
        }
        super::record_event(
            tx,
            Some(case),
            now,
            &format!("{}_sent", m.kind),
            "secdesk",
            &format!(
                "accepted by the SMTP server (Message-ID <{}>)",
                m.message_id
            ),
        )?;
    }
    Ok(())
}

/// The acknowledgement went out: the case is acknowledged, and — the one
/// step the daemon takes itself — `new` becomes `acknowledged` through the
/// state machine like every other step (a case the lead already moved on
/// keeps its state).
fn acknowledge(tx: &Transaction<'_>, case: &str, now: DateTime<Utc>) -> Result<()> {
    let state: Option<String> = tx
        .query_row("SELECT state FROM cases WHERE id = ?1", [case], |r| {
            r.get(0)
        })
        .optional()
        .with_context(|| format!("reading the state of {case}"))?;
    let next = state
        .as_deref()
        .and_then(|s| s.parse::<State>().ok())
        .filter(|s| s.can_become(State::Acknowledged))
        .map(|_| State::Acknowledged.as_str());
    tx.execute(
        "UPDATE cases SET acknowledged_at = COALESCE(acknowledged_at, ?2),
             state = COALESCE(?3, state)
         WHERE id = ?1",
        params![case, ts(now), next],
    )
    .with_context(|| format!("marking {case} acknowledged"))?;
    Ok(())
}

/// A transient failure: try again at `next`.
pub fn mark_retry(
    tx: &Transaction<'_>,
    m: &QueuedMail,
    next: DateTime<Utc>,
    error: &str,
) -> Result<()> {
    tx.execute(
        "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?2, last_error = ?3
         WHERE id = ?1",
        params![m.id, ts(next), error],
    )
    .context("updating outbox")?;
    Ok(())
}

/// A permanent failure (5xx): recorded on the row and on the case, for the
/// lead to see in `cases` and `show`.
pub fn mark_failed(
    tx: &Transaction<'_>,
    m: &QueuedMail,
    error: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    tx.execute(
        "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ?2 WHERE id = ?1",
        params![m.id, error],
    ).context("updating outbox")?;
    if let Some(case) = &m.case_id {
        tx.execute(
            "UPDATE cases SET send_failure = ?2 WHERE id = ?1",
            params![case, format!("{} to {}: {error}", m.kind, m.to.join(", "))],
        )
        .context("updating cases")?;
        super::record_event(
            tx,
            Some(case),
            now,
            "send_failed",
            "secdesk",
            &format!("{}: {error}", m.kind),
        )?;
    }
    Ok(())
}
