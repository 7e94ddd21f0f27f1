//! Writes for the intake path: dedup and thread lookups, and the rows one
//! inbound message produces. All functions run inside the caller's
//! transaction so a message, its case, its events, its outbox rows and the
//! mailbox high-water mark commit together (DESIGN.md invariant 1).

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, Transaction};

use super::ts;
use crate::case::{CaseId, State};
use crate::inbound::{AckCounts, NewCase, Thread};
use crate::mail::parse::Incoming;

/// Where a message came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// `secdesk ingest` (an MTA pipe or a replay).
    Cli,
    /// An IMAP mailbox, with the UID it had there. `sent` marks the shared
    /// mailbox's Sent folder: mail the team sent from the security address.
    Imap {
        mailbox: String,
        uidvalidity: u32,
        uid: u32,
        sent: bool,
    },
}

impl Origin {
    pub fn source(&self) -> String {
        match self {
            Origin::Cli => "ingest".into(),
            Origin::Imap { mailbox, .. } => format!("imap:{mailbox}"),
        }
    }
    /// Whether the message was found in the Sent folder.
    pub fn is_sent_folder(&self) -> bool {
        matches!(self, Origin::Imap { sent: true, .. })
    }

    fn uid(&self) -> Option<u32> {
        match self {
            Origin::Cli => None,
            Origin::Imap { uid, .. } => Some(*uid),
        }
    }
}

/// The dedup key: Message-ID when there is one, else the SHA-256 of the bytes.
pub fn dedup_key(message_id: Option<&str>, sha256: &str) -> String {
    match message_id {
        Some(id) => format!("mid:{id}"),
        None => format!("sha256:{sha256}"),
    }
}

/// An earlier record with the same dedup key: its case and its hash.
pub fn find_duplicate(tx: &Transaction<'_>, key: &str) -> Result<Option<(Option<String>, String)>> {
    tx.query_row(
        "SELECT case_id, sha256 FROM messages WHERE dedup_key = ?1",
        [key],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
    .context("looking up a duplicate")
}

fn thread_of(
    tx: &Transaction<'_>,
    case: &str,
    prefix: &str,
    by: &'static str,
) -> Result<Option<Thread>> {
    let row: Option<(String, String, String)> = tx
        .query_row(
            "SELECT id, state, reporter_address FROM cases WHERE id = ?1",
            [case],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    Ok(row.and_then(|(id, state, reporter)| {
        Some(Thread {
            case: CaseId::parse(&id, prefix)?,
            state: state.parse().ok()?,
            reporter_address: reporter,
            matched_by: by,
        })
    }))
}

/// The case a message threads to: first by a Message-ID the case holds
/// (inbound or one we sent), then by a subject tag naming an existing case.
pub fn find_thread(
    tx: &Transaction<'_>,
    message_ids: &[String],
    tags: &[CaseId],
    prefix: &str,
) -> Result<Option<Thread>> {
    for id in message_ids {
        let case: Option<String> = tx
            .query_row(
                "SELECT case_id FROM messages WHERE message_id = ?1 AND case_id IS NOT NULL
                 UNION ALL
                 SELECT case_id FROM outbox WHERE message_id = ?1 AND case_id IS NOT NULL
                 LIMIT 1",
                [id],
                |r| r.get(0),
            )
            .optional()
            .context("looking up References")?;
        if let Some(c) = case {
            if let Some(t) = thread_of(tx, &c, prefix, "reference")? {
                return Ok(Some(t));
            }
        }
    }
    for tag in tags {
        if let Some(t) = thread_of(tx, &tag.to_string(), prefix, "subject_tag")? {
            return Ok(Some(t));
        }
    }
    Ok(None)
}

/// The id the next case of `year` gets.
pub fn next_case_id(tx: &Transaction<'_>, prefix: &str, year: i32) -> Result<CaseId> {
    let max: Option<i64> =
        tx.query_row("SELECT MAX(seq) FROM cases WHERE year = ?1", [year], |r| {
            r.get(0)
        })?;
    let seq = u32::try_from(max.unwrap_or(0) + 1).context("case sequence overflow")?;
    Ok(CaseId {
        prefix: prefix.to_string(),
        year,
        seq,
    })
}

/// Acknowledgements queued since `since`, to `sender` and in total.
pub fn ack_counts(tx: &Transaction<'_>, sender: &str, since: DateTime<Utc>) -> Result<AckCounts> {
    let since = ts(since);
    let recipients = serde_json::to_string(&[sender])?;
    let to_sender: u32 = tx.query_row(
        "SELECT COUNT(*) FROM outbox WHERE kind = 'ack' AND created_at > ?1 AND recipients = ?2",
        params![since, recipients],
        |r| r.get(0),
    )?;
    let total: u32 = tx.query_row(
        "SELECT COUNT(*) FROM outbox WHERE kind = 'ack' AND created_at > ?1",
        params![since],
        |r| r.get(0),
    )?;
    Ok(AckCounts { to_sender, total })
}

/// Inserts a new case in state `new`.
pub fn insert_case(tx: &Transaction<'_>, c: &NewCase) -> Result<()> {
    let missing: Vec<&str> = c.missing.iter().map(|m| m.as_str()).collect();
    tx.execute(
        "INSERT INTO cases (id, year, seq, state, reporter_address, reporter_name, subject,
                            received_at, response_due_at, missing_items)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            c.id.to_string(),
            c.id.year,
            c.id.seq,
            State::New.as_str(),
            c.reporter_address,
            c.reporter_name,
            c.subject,
            ts(c.received_at),
            ts(c.response_due_at),
            serde_json::to_string(&missing)?,
        ],
    )
    .with_context(|| format!("inserting case {}", c.id))?;
    Ok(())
}

/// A message row to insert.
#[derive(Debug, Clone)]
pub struct MessageRow<'a> {
    pub case: Option<&'a CaseId>,
    pub dedup_key: &'a str,
    pub sha256: &'a str,
    pub size: u64,
    pub kind: &'a str,
    pub classification: &'a str,
    pub incoming: Option<&'a Incoming>,
    pub received_at: DateTime<Utc>,
    pub reason: Option<&'a str>,
    pub origin: &'a Origin,
}

/// Inserts the message row and its attachments' metadata; returns the row id.
pub fn insert_message(tx: &Transaction<'_>, m: &MessageRow<'_>) -> Result<i64> {
    let inc = m.incoming;
    let from = inc.and_then(|i| i.from.as_ref());
    let to: Vec<&str> = inc
        .map(|i| i.to.iter().map(|t| t.address.as_str()).collect())
        .unwrap_or_default();
    let refs: Vec<&str> = inc
        .map(|i| {
            i.in_reply_to
                .iter()
                .chain(i.references.iter())
                .map(|s| s.as_str())
                .collect()
        })
        .unwrap_or_default();
    tx.execute(
        "INSERT INTO messages (case_id, dedup_key, message_id, sha256, size, kind, classification,
                               from_address, from_name, to_addresses, subject, date, received_at,
                               body_text, thread_refs, reason, source, imap_uid)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
        params![
            m.case.map(|c| c.to_string()),
            m.dedup_key,
            inc.and_then(|i| i.message_id.clone()),
            m.sha256,
            m.size as i64,
            m.kind,
            m.classification,
            from.map(|f| f.address.clone()).unwrap_or_default(),
            from.and_then(|f| f.name.clone()).unwrap_or_default(),
            to.join(", "),
            inc.map(|i| i.subject.clone()).unwrap_or_default(),
            inc.and_then(|i| i.date).map(ts),
            ts(m.received_at),
            inc.map(|i| i.body_text.clone()).unwrap_or_default(),
            refs.join(" "),
            m.reason,
            m.origin.source(),
            m.origin.uid(),
        ],
    )
    .context("inserting message")?;
    let row = tx.last_insert_rowid();
    if let Some(i) = inc {
        for a in &i.attachments {
            tx.execute(
                "INSERT INTO attachments (message_row, sha256, size, content_type, display_name)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    row,
                    a.sha256,
                    a.size as i64,
                    a.content_type,
                    a.display_name.clone().unwrap_or_else(|| "unnamed".into()),
                ],
            )
            .context("inserting attachment")?;
        }
    }
    Ok(row)
}

/// Advances the IMAP high-water mark for the origin's mailbox, never backwards.
pub fn advance_mailbox(tx: &Transaction<'_>, origin: &Origin, now: DateTime<Utc>) -> Result<()> {
    if let Origin::Imap {
        mailbox,
        uidvalidity,
        uid,
        ..
    } = origin
    {
        tx.execute(
            "INSERT INTO mailbox_state (mailbox, uidvalidity, last_uid, last_sync_at)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (mailbox) DO UPDATE SET
                 last_uid = MAX(last_uid, excluded.last_uid),
                 last_sync_at = excluded.last_sync_at
             WHERE uidvalidity = excluded.uidvalidity",
            params![mailbox, uidvalidity, uid, ts(now)],
        )
        .context("advancing the mailbox high-water mark")?;
    }
    Ok(())
}

/// The stored `(uidvalidity, last_uid)` of `mailbox`, if any.
pub fn mailbox_state(conn: &rusqlite::Connection, mailbox: &str) -> Result<Option<(u32, u32)>> {
    conn.query_row(
        "SELECT uidvalidity, last_uid FROM mailbox_state WHERE mailbox = ?1",
        [mailbox],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
    .context("reading mailbox state")
}

/// Starts (or restarts, after a UIDVALIDITY change) tracking `mailbox`.
pub fn reset_mailbox(
    tx: &Transaction<'_>,
    mailbox: &str,
    uidvalidity: u32,
    now: DateTime<Utc>,
) -> Result<()> {
    tx.execute(
        "INSERT INTO mailbox_state (mailbox, uidvalidity, last_uid, last_sync_at)
         VALUES (?1, ?2, 0, ?3)
         ON CONFLICT (mailbox) DO UPDATE SET uidvalidity = excluded.uidvalidity, last_uid = 0,
             last_sync_at = excluded.last_sync_at",
        params![mailbox, uidvalidity, ts(now)],
    )
    .context("resetting mailbox state")?;
    Ok(())
}

/// Records a completed sync of `mailbox` (for `secdesk status`).
pub fn mark_synced(tx: &Transaction<'_>, mailbox: &str, now: DateTime<Utc>) -> Result<()> {
    tx.execute(
        "UPDATE mailbox_state SET last_sync_at = ?2 WHERE mailbox = ?1",
        params![mailbox, ts(now)],
    )?;
    Ok(())
}

/// Stops the case's 48-hour clock at `at`, if it is still running.
pub fn record_first_response(tx: &Transaction<'_>, case: &str, at: DateTime<Utc>) -> Result<()> {
    tx.execute(
        "UPDATE cases SET first_response_at = COALESCE(first_response_at, ?2) WHERE id = ?1",
        params![case, ts(at)],
    )
    .with_context(|| format!("recording the first response on {case}"))?;
    Ok(())
}

/// The reporter's credit consent (and name, with consent only).
pub fn record_credit(
    tx: &Transaction<'_>,
    case: &str,
    consent: &str,
    name: Option<&str>,
) -> Result<()> {
    tx.execute(
        "UPDATE cases SET credit_consent = ?2,
             credit_name = CASE WHEN ?2 = 'yes' THEN COALESCE(?3, credit_name) ELSE NULL END
         WHERE id = ?1",
        params![case, consent, name],
    )
    .with_context(|| format!("recording credit consent on {case}"))?;
    Ok(())
}
