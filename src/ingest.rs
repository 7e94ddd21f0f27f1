//! The ingest pipeline: raw bytes in, one committed transaction out.
//!
//! parse → keep the raw bytes → (in one IMMEDIATE transaction) dedup →
//! classify → thread → plan → case, message, events, acknowledgement,
//! mailbox high-water mark. Used by `secdesk ingest` and by IMAP intake, so
//! both paths file a message the same way. Blobs are written before the
//! transaction: a crash in between leaves an unreferenced blob, never a row
//! without its bytes.

use anyhow::Result;
use chrono::{DateTime, Datelike, Duration as ChronoDuration, Utc};
use tracing::{info, warn};

use crate::config::Config;
use crate::inbound::{plan_inbound, AckDecision, Inputs, Outcome, Plan};
use crate::mail::classify::{classify, Identity};
use crate::mail::compose::{
    ack_context, new_message_id, reply_subject, OutKind, OutgoingMail, ProjectView,
};
use crate::mail::parse::{parse, parse_headers, sha256_hex, Incoming};
use crate::mail::thread::thread_keys;
use crate::store::inbound::{self as rows, dedup_key, MessageRow, Origin};
use crate::store::{outbox, record_event, BlobKind, Store};
use crate::templates::Templates;

/// What happened to one message, as `ingest --json` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestResult {
    pub outcome: Outcome,
    pub case: Option<String>,
    /// Why, for `rejected` and `duplicate`.
    pub reason: Option<String>,
}

/// What the pipeline needs besides the store.
#[derive(Debug, Clone, Copy)]
pub struct Env<'a> {
    pub config: &'a Config,
    pub templates: &'a Templates,
}

impl Env<'_> {
    fn own_addresses(&self) -> Vec<String> {
        let mut own = vec![self.config.project.security_address.clone()];
        if let Some(s) = &self.config.smtp {
            if !own.contains(&s.from) {
                own.push(s.from.clone());
            }
        }
        own
    }

    fn domain(&self) -> &str {
        self.config.project.domain()
    }
}

/// A message made ready for filing: parsed, its bytes already in the blob
/// store. Filing it is then pure database work inside a transaction.
#[derive(Debug)]
pub enum Prepared {
    /// Over the size limit or not a message: recorded as rejected.
    Rejected {
        headers: Option<Box<Incoming>>,
        sha: String,
        size: u64,
        reason: String,
    },
    Parsed {
        incoming: Box<Incoming>,
        sha: String,
        size: u64,
    },
}

/// Parses `raw` and keeps its bytes (and attachments) by hash. Blobs come
/// first: a crash before the row commits leaves an unreferenced blob, never
/// a row without its bytes. Call [`Store::sync_blobs`] before filing.
pub fn prepare(store: &Store, max: u64, raw: &[u8]) -> Result<Prepared> {
    let sha = sha256_hex(raw);
    let size = raw.len() as u64;
    store.put_blob_deferred(BlobKind::Raw, &sha, raw)?;
    if size > max {
        return Ok(Prepared::Rejected {
            headers: parse_headers(raw).map(Box::new),
            sha,
            size,
            reason: format!("message of {size} bytes is over store.max_message_size ({max} bytes)"),
        });
    }
    match parse(raw) {
        Ok(mut incoming) => {
            for a in &mut incoming.attachments {
                store.put_blob_deferred(BlobKind::Attachment, &a.sha256, &a.data)?;
                // Kept by hash now; do not hold a batch's attachments twice.
                a.data = Vec::new();
            }
            Ok(Prepared::Parsed {
                incoming: Box::new(incoming),
                sha,
                size,
            })
        }
        Err(e) => Ok(Prepared::Rejected {
            headers: None,
            sha,
            size,
            reason: format!("unparseable: {e}"),
        }),
    }
}

/// A message too large to fetch whole, from its header block alone (IMAP
/// intake checks `RFC822.SIZE` first). The message stays on the server.
pub fn prepare_oversized(
    store: &Store,
    max: u64,
    header_block: &[u8],
    size: u64,
) -> Result<Prepared> {
    let sha = sha256_hex(header_block);
    store.put_blob_deferred(BlobKind::Raw, &sha, header_block)?;
    Ok(Prepared::Rejected {
        headers: parse_headers(header_block).map(Box::new),
        sha,
        size,
        reason: format!(
            "message of {size} bytes is over store.max_message_size ({max} bytes); headers kept, \
             the whole message is still on the server"
        ),
    })
}

/// Files one raw message received at `received_at`, in its own transaction.
pub fn ingest(
    store: &mut Store,
    env: Env<'_>,
    raw: &[u8],
    origin: &Origin,
    received_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<IngestResult> {
    let p = prepare(store, env.config.store.max_message_size, raw)?;
    store.sync_blobs()?;
    let r = store.write(|tx| file_in(tx, env, &p, origin, received_at, now))?;
    log_filed(&p, &r);
    Ok(r)
}

/// Says what happened to a filed message (after its commit).
pub fn log_filed(p: &Prepared, r: &IngestResult) {
    match p {
        Prepared::Rejected { sha, size, .. } if r.outcome == Outcome::Rejected => {
            warn!(outcome = "rejected", sha256 = %sha, size, "message recorded as rejected")
        }
        _ => info!(
            case = r.case.as_deref().unwrap_or("-"),
            outcome = r.outcome.as_str(),
            "message filed"
        ),
    }
}

/// Files a prepared message inside the caller's transaction: dedup,
/// classify, thread, plan, apply, advance the mailbox mark. Several
/// messages may share one transaction (intake files a fetched batch so);
/// each sees the ones before it.
pub fn file_in(
    tx: &rusqlite::Transaction<'_>,
    env: Env<'_>,
    p: &Prepared,
    origin: &Origin,
    received_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<IngestResult> {
    match p {
        Prepared::Rejected {
            headers,
            sha,
            size,
            reason,
        } => file_rejected(
            tx,
            headers.as_deref(),
            sha,
            *size,
            reason,
            origin,
            received_at,
            now,
        ),
        Prepared::Parsed {
            incoming,
            sha,
            size,
        } => file_parsed(tx, env, incoming, sha, *size, origin, received_at, now),
    }
}

#[allow(clippy::too_many_arguments)]
fn file_rejected(
    tx: &rusqlite::Transaction<'_>,
    headers: Option<&Incoming>,
    sha: &str,
    size: u64,
    reason: &str,
    origin: &Origin,
    received_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<IngestResult> {
    let key = dedup_key(headers.and_then(|h| h.message_id.as_deref()), sha);
    if rows::find_duplicate(tx, &key)?.is_some() {
        rows::advance_mailbox(tx, origin, now)?;
        return Ok(IngestResult {
            outcome: Outcome::Duplicate,
            case: None,
            reason: Some("already recorded".into()),
        });
    }
    rows::insert_message(
        tx,
        &MessageRow {
            case: None,
            dedup_key: &key,
            sha256: sha,
            size,
            kind: "rejected",
            classification: "rejected",
            incoming: headers,
            received_at,
            reason: Some(reason),
            origin,
        },
    )?;
    record_event(
        tx,
        None,
        now,
        "message_rejected",
        "secdesk",
        &format!("{reason} (sha256 {sha})"),
    )?;
    rows::advance_mailbox(tx, origin, now)?;
    Ok(IngestResult {
        outcome: Outcome::Rejected,
        case: None,
        reason: Some(reason.to_string()),
    })
}

#[allow(clippy::too_many_arguments)]
fn file_parsed(
    tx: &rusqlite::Transaction<'_>,
    env: Env<'_>,
    m: &Incoming,
    sha: &str,
    size: u64,
    origin: &Origin,
    received_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<IngestResult> {
    let cfg = env.config;
    let key = dedup_key(m.message_id.as_deref(), sha);
    let own = env.own_addresses();
    let team: Vec<String> = cfg
        .team
        .lead
        .iter()
        .chain(cfg.team.members.iter())
        .cloned()
        .collect();
    let classification = classify(
        m,
        Identity {
            own: &own,
            team: &team,
        },
    );
    let keys = thread_keys(m, &cfg.project.case_prefix);
    if let Some((case, earlier_sha)) = rows::find_duplicate(tx, &key)? {
        if earlier_sha != sha {
            // Same Message-ID, other bytes (another route, another copy):
            // the bytes are kept, and the case says so.
            record_event(
                tx,
                case.as_deref(),
                now,
                "duplicate_delivery",
                "secdesk",
                &format!("another copy with the same Message-ID (sha256 {sha})"),
            )?;
        }
        rows::advance_mailbox(tx, origin, now)?;
        return Ok(IngestResult {
            outcome: Outcome::Duplicate,
            case,
            reason: Some("already recorded".into()),
        });
    }
    let thread = rows::find_thread(tx, &keys.message_ids, &keys.tags, &cfg.project.case_prefix)?;
    let sender = m.from.as_ref().map(|f| f.address.as_str()).unwrap_or("");
    let counts = rows::ack_counts(tx, sender, now - ChronoDuration::hours(1))?;
    let next_case_id = rows::next_case_id(tx, &cfg.project.case_prefix, received_at.year())?;
    let plan = plan_inbound(
        m,
        &Inputs {
            classification: &classification,
            thread: thread.as_ref(),
            next_case_id,
            counts,
            limits: &cfg.limits,
            response_window: cfg.sla.response_window,
            received_at,
            team_verified: team_verified(cfg, m),
            from_sent_folder: origin.is_sent_folder(),
        },
    );
    let row = MessageRow {
        case: plan.case.as_ref(),
        dedup_key: &key,
        sha256: sha,
        size,
        kind: plan.message_kind,
        classification: classification.as_str(),
        incoming: Some(m),
        received_at,
        reason: None,
        origin,
    };
    apply(tx, env, m, &plan, &row, now)?;
    Ok(IngestResult {
        outcome: plan.outcome,
        case: plan.case.map(|c| c.to_string()),
        reason: None,
    })
}

fn apply(
    tx: &rusqlite::Transaction<'_>,
    env: Env<'_>,
    m: &Incoming,
    plan: &Plan,
    row: &MessageRow<'_>,
    now: DateTime<Utc>,
) -> Result<()> {
    let cfg = env.config;
    if let Some(c) = &plan.new_case {
        rows::insert_case(tx, c)?;
    }
    rows::insert_message(tx, row)?;
    let case = plan.case.as_ref().map(|c| c.to_string());
    if let (Some(credit), Some(c)) = (&plan.credit, &case) {
        let (consent, name) = match credit {
            crate::case::assess::Credit::Yes(n) => ("yes", n.clone()),
            crate::case::assess::Credit::No => ("no", None),
        };
        rows::record_credit(tx, c, consent, name.as_deref())?;
        let detail = match &name {
            Some(n) => format!("credit consent from the reporter's reply: {consent}, as {n}"),
            None => format!("credit consent from the reporter's reply: {consent}"),
        };
        record_event(tx, Some(c), now, "credit", "reporter", &detail)?;
    }
    if plan.first_response {
        if let Some(c) = &case {
            rows::record_first_response(tx, c, row.received_at)?;
        }
    }
    for e in &plan.events {
        record_event(tx, case.as_deref(), now, e.kind, "secdesk", &e.detail)?;
    }
    if let (AckDecision::Queue, Some(c)) = (&plan.ack, &plan.new_case) {
        let ctx = ack_context(
            ProjectView::from_config(&cfg.project),
            &c.id,
            &c.subject,
            &c.reporter_address,
            c.received_at,
            c.response_due_at,
            &c.missing,
            cfg.sla.response_window,
        );
        match env.templates.render_prose("ack", &ctx) {
            Ok(body) => {
                let token = format!("{:016x}", rand::random::<u64>());
                let mut references = m.references.clone();
                if let Some(id) = &m.message_id {
                    references.push(id.clone());
                }
                let mail = OutgoingMail {
                    kind: OutKind::Ack,
                    case: Some(c.id.clone()),
                    to: vec![c.reporter_address.clone()],
                    subject: reply_subject(&c.id, &c.subject),
                    body,
                    message_id: new_message_id(Some(&c.id), OutKind::Ack, &token, env.domain()),
                    in_reply_to: m.message_id.clone(),
                    references,
                    dedup_key: format!("ack:{}", c.id),
                };
                outbox::enqueue(tx, &mail, now)?;
                record_event(
                    tx,
                    case.as_deref(),
                    now,
                    "ack_queued",
                    "secdesk",
                    "acknowledgement queued",
                )?;
            }
            Err(e) => {
                // The case is filed either way; a broken template must not
                // lose the report. `secdesk check` catches this before start.
                warn!(case = %c.id, error = %e, "acknowledgement not rendered");
                record_event(
                    tx,
                    case.as_deref(),
                    now,
                    "ack_failed",
                    "secdesk",
                    &format!("{e:#}"),
                )?;
            }
        }
    }
    rows::advance_mailbox(tx, row.origin, now)?;
    Ok(())
}

/// Whether mail from a team address may count as the human response: always
/// when no `team.trust_authentication_results` is set, else only with a DKIM
/// or DMARC pass from that server for the sender's domain.
fn team_verified(cfg: &Config, m: &Incoming) -> bool {
    let Some(authserv) = &cfg.team.trust_authentication_results else {
        return true;
    };
    let Some(domain) = m
        .from
        .as_ref()
        .and_then(|f| f.address.rsplit_once('@'))
        .map(|(_, d)| d)
    else {
        return false;
    };
    crate::mail::auth::authenticated(&m.authentication_results, authserv, domain)
}
