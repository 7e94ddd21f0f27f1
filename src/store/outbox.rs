//! The outbox: every outgoing mail is a row here first (DESIGN.md invariant
//! 3), inserted in the transaction that causes it; the worker marks it sent
//! only after the SMTP server accepted it.

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use rusqlite::{params, Transaction};

use super::ts;
use crate::mail::compose::OutgoingMail;

/// Queues `mail`; returns `false` (and changes nothing) when a row with the
/// same dedup key exists — the store, not timing, keeps acks and reminders
/// to one each.
pub fn enqueue(tx: &Transaction<'_>, mail: &OutgoingMail, now: DateTime<Utc>) -> Result<bool> {
    let n = tx
        .execute(
            "INSERT INTO outbox (case_id, kind, dedup_key, message_id, recipients, subject, body,
                                 in_reply_to, thread_refs, status, attempts, next_attempt_at,
                                 created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'queued', 0, ?10, ?10)
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
            ],
        )
        .with_context(|| format!("queueing {}", mail.dedup_key))?;
    Ok(n == 1)
}
