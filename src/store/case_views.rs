//! What a person reads about one case besides the case object: its
//! messages in and out, its numbered attachments, its audit trail (with the
//! trails of cases merged into it), and the mail filed under no case.

use anyhow::{Context, Result};
use rusqlite::params;
use serde::Serialize;

use super::Store;

/// One message of a case, inbound or outbound, as `show --json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct MessageView {
    pub direction: &'static str,
    pub kind: String,
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
    pub message_id: Option<String>,
    pub date: Option<String>,
    pub classification: Option<String>,
    /// Outbound only: queued, sent or failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip)]
    pub body: String,
    #[serde(skip)]
    pub attachments: Vec<AttachmentView>,
}

/// An attachment's metadata, for `show`.
#[derive(Debug, Clone, Serialize)]
pub struct AttachmentView {
    pub name: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
}

/// One audit event.
#[derive(Debug, Clone, Serialize)]
pub struct EventView {
    pub at: String,
    pub kind: String,
    pub actor: String,
    pub detail: String,
}

/// A message secdesk recorded but filed under no case (rejected, or an
/// auto-reply that matched nothing).
#[derive(Debug, Clone, Serialize)]
pub struct UnfiledView {
    pub received_at: String,
    pub kind: String,
    pub classification: String,
    pub from: String,
    pub subject: String,
    pub reason: Option<String>,
    pub sha256: String,
    pub size: i64,
}

impl Store {
    /// A case's messages, inbound and outbound, in time order.
    pub fn case_messages(&self, id: &str) -> Result<Vec<MessageView>> {
        let mut out: Vec<(String, MessageView)> = Vec::new();
        let mut stmt = self.conn.prepare(
            "SELECT id, kind, from_address, to_addresses, subject, message_id, date, classification,
                    body_text, received_at
             FROM messages WHERE case_id = ?1 ORDER BY id",
        ).context("reading messages")?;
        let rows = stmt
            .query_map([id], |r| {
                let to: String = r.get(3)?;
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(9)?,
                    MessageView {
                        direction: "in",
                        kind: r.get(1)?,
                        from: r.get(2)?,
                        to: to
                            .split(", ")
                            .filter(|s| !s.is_empty())
                            .map(String::from)
                            .collect(),
                        subject: r.get(4)?,
                        message_id: r.get(5)?,
                        date: r.get::<_, Option<String>>(6)?,
                        classification: r.get(7)?,
                        status: None,
                        body: r.get(8)?,
                        attachments: Vec::new(),
                    },
                ))
            })
            .context("reading a case's messages")?;
        for row in rows {
            let (row_id, received_at, mut view) = row?;
            view.attachments = self.attachments(row_id)?;
            // `date` in show is when we have it from the sender, else receipt.
            if view.date.is_none() {
                view.date = Some(received_at.clone());
            }
            out.push((received_at, view));
        }
        let mut stmt = self
            .conn
            .prepare(
                "SELECT kind, recipients, subject, message_id, created_at, sent_at, status, body,
                    last_error
             FROM outbox WHERE case_id = ?1 ORDER BY id",
            )
            .context("reading outbox")?;
        let rows = stmt
            .query_map([id], |r| {
                let to: String = r.get(1)?;
                let created: String = r.get(4)?;
                let sent: Option<String> = r.get(5)?;
                Ok((
                    created.clone(),
                    MessageView {
                        direction: "out",
                        kind: r.get(0)?,
                        from: String::new(),
                        to: serde_json::from_str(&to).unwrap_or_default(),
                        subject: r.get(2)?,
                        message_id: r.get(3)?,
                        date: Some(sent.unwrap_or(created)),
                        classification: None,
                        status: Some(r.get(6)?),
                        body: r.get(7)?,
                        attachments: Vec::new(),
                    },
                ))
            })
            .context("reading a case's outbox")?;
        for row in rows {
            out.push(row?);
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out.into_iter().map(|(_, v)| v).collect())
    }

    fn attachments(&self, message_row: i64) -> Result<Vec<AttachmentView>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT display_name, content_type, size, sha256 FROM attachments
             WHERE message_row = ?1 ORDER BY id",
            )
            .context("reading attachments")?;
        let rows = stmt
            .query_map([message_row], |r| {
                Ok(AttachmentView {
                    name: r.get(0)?,
                    content_type: r.get(1)?,
                    size: r.get(2)?,
                    sha256: r.get(3)?,
                })
            })
            .context("reading attachments")?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// A case's audit trail, oldest first.
    pub fn case_events(&self, id: &str) -> Result<Vec<EventView>> {
        let mut stmt = self
            .conn
            .prepare("SELECT at, kind, actor, detail FROM events WHERE case_id = ?1 ORDER BY id")
            .context("reading events")?;
        let rows = stmt
            .query_map([id], |r| {
                Ok(EventView {
                    at: r.get(0)?,
                    kind: r.get(1)?,
                    actor: r.get(2)?,
                    detail: r.get(3)?,
                })
            })
            .context("reading a case's events")?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Messages recorded under no case, newest first (at most `limit`).
    pub fn unfiled_messages(&self, limit: u32) -> Result<Vec<UnfiledView>> {
        let mut stmt = self.conn.prepare(
            "SELECT received_at, kind, classification, from_address, subject, reason, sha256, size
             FROM messages WHERE case_id IS NULL ORDER BY id DESC LIMIT ?1",
        ).context("reading messages")?;
        let rows = stmt
            .query_map(params![limit], |r| {
                Ok(UnfiledView {
                    received_at: r.get(0)?,
                    kind: r.get(1)?,
                    classification: r.get(2)?,
                    from: r.get(3)?,
                    subject: r.get(4)?,
                    reason: r.get(5)?,
                    sha256: r.get(6)?,
                    size: r.get(7)?,
                })
            })
            .context("reading unfiled messages")?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }
}

/// One attachment of a case, numbered as `secdesk show` and `secdesk
/// attachment` number them: 1, 2, … over the whole case, in message order.
#[derive(Debug, Clone, Serialize)]
pub struct CaseAttachment {
    pub n: usize,
    /// The message's own date when it has one, else when it was received
    /// (as `show` dates it).
    pub message_date: String,
    pub from: String,
    /// For display only: the sender chose it. Never a path as it is.
    pub name: String,
    pub content_type: String,
    pub size: i64,
    /// The blob's name under `data_dir/attachments/`.
    pub sha256: String,
}

/// One event of a case's audit trail, with the case it was recorded under
/// (a case merged into this one keeps its own events: the trail is
/// append-only).
#[derive(Debug, Clone, Serialize)]
pub struct TrailEvent {
    pub case: String,
    pub at: String,
    pub kind: String,
    pub actor: String,
    pub detail: String,
}

impl Store {
    /// Case `id`'s attachments, numbered from 1. The order is that of
    /// [`Store::case_messages`] (messages by receipt, then by row; outbound
    /// mail has no attachments), each message's attachments in the order
    /// they were recorded, so a number means the same file in both.
    pub fn case_attachments(&self, id: &str) -> Result<Vec<CaseAttachment>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT COALESCE(m.date, m.received_at), m.from_address, a.display_name,
                        a.content_type, a.size, a.sha256
                 FROM attachments a JOIN messages m ON m.id = a.message_row
                 WHERE m.case_id = ?1
                 ORDER BY m.received_at, m.id, a.id",
            )
            .context("reading attachments")?;
        let rows = stmt
            .query_map([id], |r| {
                Ok(CaseAttachment {
                    n: 0,
                    message_date: r.get(0)?,
                    from: r.get(1)?,
                    name: r.get(2)?,
                    content_type: r.get(3)?,
                    size: r.get(4)?,
                    sha256: r.get(5)?,
                })
            })
            .with_context(|| format!("reading the attachments of {id}"))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .with_context(|| format!("reading the attachments of {id}"))?;
        Ok(rows
            .into_iter()
            .enumerate()
            .map(|(i, a)| CaseAttachment { n: i + 1, ..a })
            .collect())
    }

    /// Case `id`'s audit trail, oldest first: its own events and those of
    /// every case merged into it, directly or through another merged case.
    pub fn case_trail(&self, id: &str) -> Result<Vec<TrailEvent>> {
        // UNION (not UNION ALL) stops at a case already visited, so even a
        // doctored cycle of merged_into ends.
        let mut stmt = self
            .conn
            .prepare(
                "WITH RECURSIVE merged(id) AS (
                     SELECT ?1
                     UNION
                     SELECT c.id FROM cases c JOIN merged ON c.merged_into = merged.id
                 )
                 SELECT case_id, at, kind, actor, detail FROM events
                 WHERE case_id IN (SELECT id FROM merged)
                 ORDER BY id",
            )
            .context("reading events")?;
        let rows = stmt
            .query_map([id], |r| {
                Ok(TrailEvent {
                    case: r.get(0)?,
                    at: r.get(1)?,
                    kind: r.get(2)?,
                    actor: r.get(3)?,
                    detail: r.get(4)?,
                })
            })
            .with_context(|| format!("reading the audit trail of {id}"))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .with_context(|| format!("reading the audit trail of {id}"))?;
        Ok(rows)
    }
}
