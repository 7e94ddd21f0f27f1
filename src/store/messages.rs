//! Writes for the intake path: dedup and thread lookups, and the rows one
//! inbound message produces. All functions run inside the caller's
//! transaction so a message, its case, its events, its outbox rows and the
//! mailbox high-water mark commit together (DESIGN.md invariant 1).

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, Transaction};

use super::ts;
use crate::case::{CaseId, State};
use crate::inbound::plan::{AckCounts, NewCase, Thread};
use crate::mail::parse::Incoming;

/// Where a message came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// `secdesk ingest` (an MTA pipe or a replay).
    Cli,
    /// An IMAP mailbox, with the UID it had there. `sent` marks the shared
    /// mailbox's Sent folder: mail the team sent from the security address;
    /// `history` mail that was there before secdesk first met the mailbox.
    Imap {
        mailbox: String,
        uidvalidity: u32,
        uid: u32,
        sent: bool,
        history: bool,
    },
    /// `secdesk import`: an archive of the old inbox (an mbox or a
    /// Maildir), always history.
    Archive { name: String },
}

impl Origin {
    pub fn source(&self) -> String {
        match self {
            Origin::Cli => "ingest".into(),
            Origin::Imap { mailbox, .. } => format!("imap:{mailbox}"),
            Origin::Archive { name } => format!("import:{name}"),
        }
    }

    /// Whether the message is history: filed, never answered.
    pub fn is_history(&self) -> bool {
        matches!(
            self,
            Origin::Archive { .. } | Origin::Imap { history: true, .. }
        )
    }
    /// Whether the message was found in the Sent folder.
    pub fn is_sent_folder(&self) -> bool {
        matches!(self, Origin::Imap { sent: true, .. })
    }

    fn uid(&self) -> Option<u32> {
        match self {
            Origin::Cli | Origin::Archive { .. } => None,
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

/// What the store already knows about a message's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// Never seen: file it under this dedup key.
    New { key: String },
    /// The same message again (same bytes, or the same sender and body by
    /// another route): changes nothing. `other_bytes` when the raw bytes
    /// differ.
    Duplicate {
        case: Option<String>,
        other_bytes: bool,
    },
    /// Another message claims a Message-ID already on record (other sender
    /// or other body): filed as a new message under its own key, and the
    /// collision flagged on the cases involved (DESIGN.md, "What mail may
    /// change"). A forged mail that claims a real report's Message-ID first
    /// must not turn the real report into a silent duplicate.
    Collision {
        key: String,
        earlier_cases: Vec<String>,
    },
}

/// Looks a message up by Message-ID (else by its hash). `body_sha256` and
/// `from` are what a second delivery must share with the first; an empty
/// body hash (an oversized message, a row from before it was recorded)
/// leaves the sender to decide.
pub fn seen_before(
    tx: &Transaction<'_>,
    message_id: Option<&str>,
    sha256: &str,
    body_sha256: &str,
    from: &str,
) -> Result<Seen> {
    let Some(id) = message_id else {
        let key = dedup_key(None, sha256);
        let case: Option<Option<String>> = tx
            .query_row(
                "SELECT case_id FROM messages WHERE dedup_key = ?1",
                [&key],
                |r| r.get(0),
            )
            .optional()
            .context("looking up a duplicate by hash")?;
        return Ok(match case {
            Some(case) => Seen::Duplicate {
                case,
                other_bytes: false,
            },
            None => Seen::New { key },
        });
    };
    let mut stmt = tx
        .prepare_cached(
            "SELECT case_id, sha256, body_sha256, from_address FROM messages
         WHERE message_id = ?1 ORDER BY id LIMIT 100",
        )
        .context("reading messages")?;
    let earlier = stmt
        .query_map([id], |r| {
            Ok(Earlier {
                case: r.get(0)?,
                sha256: r.get(1)?,
                body_sha256: r.get(2)?,
                from: r.get(3)?,
            })
        })
        .context("looking up a Message-ID")?
        .collect::<rusqlite::Result<Vec<_>>>()
        .context("looking up a Message-ID")?;
    if earlier.is_empty() {
        return Ok(Seen::New {
            key: dedup_key(Some(id), sha256),
        });
    }
    if let Some(e) = earlier.iter().find(|e| e.sha256 == sha256) {
        return Ok(Seen::Duplicate {
            case: e.case.clone(),
            other_bytes: false,
        });
    }
    let same_message = |e: &Earlier| {
        e.from == from
            && (e.body_sha256.is_empty() || body_sha256.is_empty() || e.body_sha256 == body_sha256)
    };
    if let Some(e) = earlier.iter().find(|e| same_message(e)) {
        return Ok(Seen::Duplicate {
            case: e.case.clone(),
            other_bytes: true,
        });
    }
    let mut earlier_cases: Vec<String> = earlier.into_iter().filter_map(|e| e.case).collect();
    earlier_cases.sort();
    earlier_cases.dedup();
    Ok(Seen::Collision {
        key: format!("mid:{id}#sha256:{sha256}"),
        earlier_cases,
    })
}

/// A message already on record under the same Message-ID.
struct Earlier {
    case: Option<String>,
    sha256: String,
    body_sha256: String,
    from: String,
}

fn thread_of(
    tx: &Transaction<'_>,
    case: &str,
    prefix: &str,
    by: &'static str,
    message_ids: &[String],
) -> Result<Option<Thread>> {
    let case = &resolve_merged(tx, case)?;
    type Row = (String, String, String, Option<String>, bool, bool);
    let row: Option<Row> = tx
        .query_row(
            "SELECT id, state, reporter_address, credit_source, first_response_at IS NOT NULL,
                    EXISTS (SELECT 1 FROM turns t WHERE t.case_id = cases.id
                            AND t.answered_at IS NULL AND t.ended_at IS NULL)
             FROM cases WHERE id = ?1",
            [case],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            },
        )
        .optional()
        .with_context(|| format!("reading case {case}"))?;
    let Some((id, state, reporter, credit_source, responded, turn_open)) = row else {
        return Ok(None);
    };
    let (Some(case_id), Ok(state)) = (CaseId::parse(&id, prefix), state.parse::<State>()) else {
        // Not silently: a case written under another prefix or by a newer
        // secdesk. The message is still filed (as new), which loses nothing.
        tracing::warn!(case = %id, state = %state, "case not usable for threading: its id or state does not parse");
        return Ok(None);
    };
    // The case's reporter first, then those of cases merged into it.
    let mut reporters = vec![reporter.clone()];
    let mut stmt = tx
        .prepare_cached(
            "SELECT reporter_address FROM cases WHERE merged_into = ?1 AND state = 'merged'
             AND reporter_address <> '' ORDER BY id",
        )
        .context("reading merged cases")?;
    for r in stmt
        .query_map([&id], |r| r.get::<_, String>(0))
        .with_context(|| format!("reading the cases merged into {id}"))?
    {
        let r = r.with_context(|| format!("reading the cases merged into {id}"))?;
        if !reporters.iter().any(|x| x.eq_ignore_ascii_case(&r)) {
            reporters.push(r);
        }
    }
    Ok(Some(Thread {
        answers_our_mail: answers_our_mail(tx, &id, &reporters, message_ids)?,
        merged_reporters: reporters.into_iter().skip(1).collect(),
        case: case_id,
        state,
        reporter_address: reporter,
        matched_by: by,
        credit_decided_by_lead: credit_source.as_deref() == Some("lead"),
        responded,
        turn_open,
    }))
}

/// The case that holds a merged case's messages now (`case` itself if it
/// was not merged). A merged id stays an alias: its tag still threads.
pub fn resolve_merged(conn: &rusqlite::Connection, case: &str) -> Result<String> {
    let mut id = case.to_string();
    // Merging refuses a merged target, so chains are short and acyclic;
    // the bound is only a guard against a hand-edited store.
    for _ in 0..16 {
        let next: Option<String> = conn
            .query_row(
                "SELECT merged_into FROM cases WHERE id = ?1 AND state = 'merged'",
                [&id],
                |r| r.get(0),
            )
            .optional()
            .with_context(|| format!("reading case {id}"))?
            .flatten();
        match next {
            Some(n) => id = n,
            None => break,
        }
    }
    Ok(id)
}

/// Whether one of `message_ids` is mail the team sent about `case` to its
/// reporter: secdesk's own (the SMTP server accepted it; those Message-IDs
/// carry a random token), or a team response filed on the case (written to
/// the reporter, from a team member's client or the Sent folder, history
/// included). Naming one proves the sender received that mail; naming a
/// message anyone could have filed on the case (their own) proves nothing.
fn answers_our_mail(
    tx: &Transaction<'_>,
    case: &str,
    reporters: &[String],
    message_ids: &[String],
) -> Result<bool> {
    for reporter in reporters.iter().filter(|r| !r.is_empty()) {
        if answers_our_mail_to(tx, case, reporter, message_ids)? {
            return Ok(true);
        }
    }
    Ok(false)
}

fn answers_our_mail_to(
    tx: &Transaction<'_>,
    case: &str,
    reporter: &str,
    message_ids: &[String],
) -> Result<bool> {
    let mut stmt = tx
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM outbox o, json_each(o.recipients) r
                        WHERE o.message_id = ?1 AND o.case_id = ?2 AND o.status = 'sent'
                          AND r.value = ?3)
                 OR EXISTS (SELECT 1 FROM messages m
                        WHERE m.message_id = ?1 AND m.case_id = ?2
                          AND m.kind = 'team_response')",
        )
        .context("reading outbox")?;
    for id in message_ids {
        let sent: bool = stmt
            .query_row(params![id, case, reporter], |r| r.get(0))
            .context("looking up our mail in References")?;
        if sent {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The case a message threads to: first by a Message-ID the case holds
/// (inbound or one we sent), then by a subject tag naming an existing case.
/// A Message-ID that more than one case holds (a collision) says nothing.
pub fn find_thread(
    tx: &Transaction<'_>,
    message_ids: &[String],
    tags: &[CaseId],
    prefix: &str,
) -> Result<Option<Thread>> {
    let mut stmt = tx
        .prepare_cached(
            "SELECT case_id FROM messages WHERE message_id = ?1 AND case_id IS NOT NULL
         UNION
         SELECT case_id FROM outbox WHERE message_id = ?1 AND case_id IS NOT NULL
         LIMIT 2",
        )
        .context("reading messages")?;
    for id in message_ids {
        let cases = stmt
            .query_map([id], |r| r.get::<_, String>(0))
            .context("looking up References")?
            .collect::<rusqlite::Result<Vec<_>>>()
            .context("looking up References")?;
        if let [c] = cases.as_slice() {
            if let Some(t) = thread_of(tx, c, prefix, "reference", message_ids)? {
                return Ok(Some(t));
            }
        }
    }
    for tag in tags {
        if let Some(t) = thread_of(tx, &tag.to_string(), prefix, "subject_tag", message_ids)? {
            return Ok(Some(t));
        }
    }
    Ok(None)
}

/// The id the next case of `year` gets.
pub fn next_case_id(tx: &Transaction<'_>, prefix: &str, year: i32) -> Result<CaseId> {
    let max: Option<i64> = tx
        .query_row("SELECT MAX(seq) FROM cases WHERE year = ?1", [year], |r| {
            r.get(0)
        })
        .context("reading cases")?;
    let seq = u32::try_from(max.unwrap_or(0) + 1).context("case sequence overflow")?;
    Ok(CaseId {
        prefix: prefix.to_string(),
        year,
        seq,
    })
}

/// Acknowledgements released since `since`: to the sender's normalised
/// address `key`, to its `domain`, and in total. Held ones do not count
/// until they are released.
pub fn ack_counts(
    conn: &rusqlite::Connection,
    key: &str,
    domain: &str,
    since: DateTime<Utc>,
) -> Result<AckCounts> {
    let since = ts(since);
    let count = |sql: &str, args: &[&dyn rusqlite::ToSql]| -> Result<u32> {
        conn.prepare_cached(sql)
            .context("counting acknowledgements")?
            .query_row(args, |r| r.get(0))
            .context("counting acknowledgements")
    };
    Ok(AckCounts {
        to_sender: count(
            "SELECT COUNT(*) FROM outbox WHERE kind = 'ack' AND rate_key = ?2 AND released_at > ?1",
            &[&since, &key],
        )?,
        to_domain: count(
            "SELECT COUNT(*) FROM outbox
             WHERE kind = 'ack' AND rate_domain = ?2 AND released_at > ?1",
            &[&since, &domain],
        )?,
        total: count(
            "SELECT COUNT(*) FROM outbox WHERE kind = 'ack' AND released_at > ?1",
            &[&since],
        )?,
    })
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
            c.state.as_str(),
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
                               body_text, thread_refs, reason, source, imap_uid, body_sha256)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
                 ?19)",
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
            inc.map(|i| i.body_hash.as_str()).unwrap_or(""),
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

/// A person from the team answered the case at `at`: stops its 48-hour
/// clock if it is still running, and closes the team's open follow-up
/// turn; `verified` false marks a response only a From line vouches for.
pub fn record_response(
    tx: &Transaction<'_>,
    case: &str,
    at: DateTime<Utc>,
    verified: bool,
) -> Result<()> {
    // Both right-hand sides see the row as it was (SQL UPDATE semantics).
    tx.execute(
        "UPDATE cases SET
             first_response_unverified = CASE WHEN first_response_at IS NULL THEN ?3
                                              ELSE first_response_unverified END,
             first_response_at = COALESCE(first_response_at, ?2)
         WHERE id = ?1",
        params![case, ts(at), !verified],
    )
    .with_context(|| format!("recording the first response on {case}"))?;
    super::turns::answer_turn(tx, case, at, verified)
}

/// Who recorded a credit decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreditSource {
    /// `secdesk credit`: never overridden by mail.
    Lead,
    /// The reporter's reply to our mail.
    Reporter,
}

/// The reporter's credit consent (and name, with consent only), and who
/// decided it; a pending request from mail is settled by it.
pub fn record_credit(
    tx: &Transaction<'_>,
    case: &str,
    consent: &str,
    name: Option<&str>,
    source: CreditSource,
) -> Result<()> {
    let source = match source {
        CreditSource::Lead => "lead",
        CreditSource::Reporter => "reporter",
    };
    tx.execute(
        "UPDATE cases SET credit_consent = ?2,
             credit_name = CASE WHEN ?2 = 'yes' THEN COALESCE(?3, credit_name) ELSE NULL END,
             credit_source = ?4, credit_request = NULL
         WHERE id = ?1",
        params![case, consent, name, source],
    )
    .with_context(|| format!("recording credit consent on {case}"))?;
    Ok(())
}

/// Keeps what mail said about credit, unconfirmed, for the lead to confirm
/// (`secdesk credit ID --confirm`).
pub fn record_credit_request(tx: &Transaction<'_>, case: &str, request: &str) -> Result<()> {
    tx.execute(
        "UPDATE cases SET credit_request = ?2 WHERE id = ?1",
        params![case, request],
    )
    .with_context(|| format!("recording a credit request on {case}"))?;
    Ok(())
}
