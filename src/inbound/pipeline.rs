//! The ingest pipeline: raw bytes in, one committed transaction out.
//!
//! parse → keep the raw bytes → (in one IMMEDIATE transaction) dedup →
//! classify → thread → plan → case, message, events, acknowledgement,
//! mailbox high-water mark. Used by `secdesk ingest` and by IMAP intake, so
//! both paths file a message the same way. Blobs are written before the
//! transaction: a crash in between leaves an unreferenced blob, never a row
//! without its bytes.

use anyhow::{Context, Result};
use chrono::{DateTime, Datelike, Duration as ChronoDuration, Utc};
use tracing::{info, warn};

use crate::case::assess::Credit;
use crate::config::Config;
use crate::inbound::plan::{
    credit_text, plan_inbound, rate_keys, AckDecision, CreditChange, Inputs, NewCase, Outcome,
    Plan, TeamAuth,
};
use crate::mail::classify::{classify, Identity};
use crate::mail::parse::{parse, parse_headers, sha256_hex, Incoming, ParseError};
use crate::mail::relay;
use crate::mail::thread::thread_keys;
use crate::reminders::plan::{compose, late_report};
use crate::settings::Settings;
use crate::store::mailboxes::advance_mailbox;
use crate::store::messages::{self as rows, CreditSource, MessageRow, Origin, Seen};
use crate::store::reminders::AwaitingCase;
use crate::store::{outbox, record_event, turns, BlobKind, Store};

pub use super::oversized::{ingest_reader, prepare_oversized, prepare_streamed};

/// What happened to one message, as `ingest --json` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestResult {
    pub outcome: Outcome,
    pub case: Option<String>,
    /// Why, for `rejected` and `duplicate`.
    pub reason: Option<String>,
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
        Err(e) => {
            // A header block refused for its size still names its sender,
            // subject and Message-ID in its first lines: describe the
            // message from those, as an oversized one is.
            let headers = match e {
                ParseError::HeaderTooLarge | ParseError::TooManyFields => {
                    parse_headers(raw).map(Box::new)
                }
                ParseError::Empty | ParseError::NoHeaders | ParseError::NotAMessage => None,
            };
            Ok(Prepared::Rejected {
                headers,
                sha,
                size,
                reason: format!("unparseable: {e}"),
            })
        }
    }
}

/// Files one raw message received at `received_at`, in its own transaction.
pub fn ingest(
    store: &mut Store,
    settings: &Settings,
    raw: &[u8],
    origin: &Origin,
    received_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<IngestResult> {
    let p = prepare(store, settings.config.store.max_message_size, raw)?;
    file_prepared(store, settings, &p, origin, received_at, now)
}

/// Files one prepared message in its own transaction, its blobs made
/// durable first.
pub(super) fn file_prepared(
    store: &mut Store,
    settings: &Settings,
    p: &Prepared,
    origin: &Origin,
    received_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<IngestResult> {
    store.sync_blobs()?;
    let r = store.write(|tx| file_in(tx, settings, p, origin, received_at, now))?;
    log_filed(p, &r);
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
    settings: &Settings,
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
        } => file_parsed(tx, settings, incoming, sha, *size, origin, received_at, now),
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
    let from = headers
        .and_then(|h| h.from.as_ref())
        .map(|f| f.address.as_str())
        .unwrap_or("");
    let message_id = headers.and_then(|h| h.message_id.as_deref());
    let key = match rows::seen_before(tx, message_id, sha, "", from)? {
        Seen::Duplicate { .. } => {
            advance_mailbox(tx, origin, now)?;
            return Ok(IngestResult {
                outcome: Outcome::Duplicate,
                case: None,
                reason: Some("already recorded".into()),
            });
        }
        Seen::New { key } => key,
        Seen::Collision { key, earlier_cases } => {
            flag_collision(tx, message_id, &earlier_cases, None, from, sha, now)?;
            key
        }
    };
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
    advance_mailbox(tx, origin, now)?;
    Ok(IngestResult {
        outcome: Outcome::Rejected,
        case: None,
        reason: Some(reason.to_string()),
    })
}

/// Records a Message-ID collision on every case involved: the earlier ones
/// and (once filed) the new message's.
fn flag_collision(
    tx: &rusqlite::Transaction<'_>,
    message_id: Option<&str>,
    earlier_cases: &[String],
    new_case: Option<&str>,
    from: &str,
    sha: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let id = message_id.unwrap_or("");
    let from = if from.is_empty() { "no address" } else { from };
    let filed = new_case.unwrap_or("no case");
    for c in earlier_cases {
        record_event(
            tx,
            Some(c),
            now,
            "message_id_collision",
            "secdesk",
            &format!(
                "another message (from {from}, sha256 {sha}) claims the Message-ID <{id}> of a \
                 message on this case; it was filed separately, under {filed}"
            ),
        )?;
    }
    if let Some(c) = new_case {
        let earlier = if earlier_cases.is_empty() {
            "mail under no case".to_string()
        } else {
            earlier_cases.join(", ")
        };
        record_event(
            tx,
            Some(c),
            now,
            "message_id_collision",
            "secdesk",
            &format!(
                "this message's Message-ID <{id}> was already on record ({earlier}) with another \
                 sender or content; filed as a new message"
            ),
        )?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn file_parsed(
    tx: &rusqlite::Transaction<'_>,
    settings: &Settings,
    m: &Incoming,
    sha: &str,
    size: u64,
    origin: &Origin,
    received_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<IngestResult> {
    let cfg = &settings.config;
    // Mail through our own relay (a group, a list) is direct mail, from the
    // sender the relay kept: undone before anything else looks at it.
    let mut m = m.clone();
    m.relayed = relay::unwrap(
        &mut m,
        &cfg.project.security_address,
        &cfg.project.relay_list_ids,
    );
    let m = &m;
    let sender = m.from.as_ref().map(|f| f.address.as_str()).unwrap_or("");
    let seen = rows::seen_before(tx, m.message_id.as_deref(), sha, &m.body_hash, sender)?;
    let (key, collision) = match seen {
        Seen::Duplicate { case, other_bytes } => {
            if other_bytes {
                // Same message by another route (another Received chain):
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
            advance_mailbox(tx, origin, now)?;
            return Ok(IngestResult {
                outcome: Outcome::Duplicate,
                case,
                reason: Some("already recorded".into()),
            });
        }
        Seen::New { key } => (key, None),
        Seen::Collision { key, earlier_cases } => (key, Some(earlier_cases)),
    };
    let own = cfg.own_addresses();
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
            domain: cfg.project.domain(),
        },
    );
    let keys = thread_keys(m, &cfg.project.case_prefix);
    let thread = rows::find_thread(tx, &keys.message_ids, &keys.tags, &cfg.project.case_prefix)?;
    let (rate_key, rate_domain) = rate_keys(sender);
    let counts = rows::ack_counts(tx, &rate_key, &rate_domain, now - ChronoDuration::hours(1))?;
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
            follow_up_window: cfg.sla.follow_up_window,
            project: &cfg.project,
            templates: &settings.templates,
            token: &format!("{:016x}", rand::random::<u64>()),
            received_at,
            now,
            team_auth: team_auth(cfg, m),
            from_sent_folder: origin.is_sent_folder(),
            history: origin.is_history(),
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
    apply(tx, &plan, &row, now)?;
    if let Some(c) = plan.new_case.as_ref().filter(|c| c.late) {
        tell_the_lead_now(tx, settings, c, now)?;
    }
    if let Some(earlier) = collision {
        let case = plan.case.as_ref().map(|c| c.to_string());
        flag_collision(
            tx,
            m.message_id.as_deref(),
            &earlier,
            case.as_deref(),
            sender,
            sha,
            now,
        )?;
    }
    Ok(IngestResult {
        outcome: plan.outcome,
        case: plan.case.map(|c| c.to_string()),
        reason: None,
    })
}

/// A late report (seen only after its window closed): the lead and the
/// assignee hear of it at once, not at the next threshold.
fn tell_the_lead_now(
    tx: &rusqlite::Transaction<'_>,
    settings: &Settings,
    c: &NewCase,
    now: DateTime<Utc>,
) -> Result<()> {
    let waiting = AwaitingCase {
        id: c.id.to_string(),
        state: c.state.as_str().to_string(),
        reporter: c.reporter_address.clone(),
        subject: c.subject.clone(),
        due_at: c.response_due_at,
        assignee: None,
        wait: crate::store::reminders::Wait::First,
        done: Vec::new(),
    };
    for d in late_report(&waiting, c.received_at, now, &settings.config) {
        let token = format!("{:016x}", rand::random::<u64>());
        let mail = compose(&d, &settings.config, &settings.templates, &token)?;
        outbox::enqueue(tx, &mail, now)?;
    }
    Ok(())
}

/// Commits a plan: the case, the message, credit, the response, the
/// events, the acknowledgement, the mailbox mark.
fn apply(
    tx: &rusqlite::Transaction<'_>,
    plan: &Plan,
    row: &MessageRow<'_>,
    now: DateTime<Utc>,
) -> Result<()> {
    if let Some(c) = &plan.new_case {
        rows::insert_case(tx, c)?;
    }
    let message_row = rows::insert_message(tx, row)?;
    let case = plan.case.as_ref().map(|c| c.to_string());
    if let (Some(change), Some(c)) = (&plan.credit, &case) {
        match change {
            CreditChange::Apply(credit) => {
                let (consent, name) = match credit {
                    Credit::Yes(n) => ("yes", n.clone()),
                    Credit::No => ("no", None),
                };
                rows::record_credit(tx, c, consent, name.as_deref(), CreditSource::Reporter)?;
                record_event(
                    tx,
                    Some(c),
                    now,
                    "credit",
                    "reporter",
                    &format!(
                        "credit consent from the reporter's reply to our mail: {}",
                        credit_text(credit)
                    ),
                )?;
            }
            CreditChange::Request { credit, .. } => {
                rows::record_credit_request(tx, c, &credit_text(credit))?;
            }
        }
    }
    if let (Some(response), Some(c)) = (plan.first_response, &case) {
        rows::record_response(tx, c, row.received_at, response.verified)?;
    }
    if let (Some(turn), Some(c)) = (plan.turn, &case) {
        if turn.reopen {
            reopen(tx, c)?;
        }
        turns::start_turn(
            tx,
            c,
            row.received_at,
            turn.due_at,
            Some(message_row),
            turn.reopen,
        )?;
    }
    if let (true, Some(c)) = (plan.refresh_missing, &case) {
        crate::store::missing::refresh_missing_items(tx, c)?;
    }
    for e in &plan.events {
        record_event(tx, case.as_deref(), now, e.kind, "secdesk", &e.detail)?;
    }
    match &plan.ack {
        AckDecision::Queue(mail) => {
            outbox::enqueue(tx, mail, now)?;
        }
        AckDecision::Hold(mail, _) => {
            outbox::enqueue_held(tx, mail, now)?;
        }
        AckDecision::Failed(e) => {
            warn!(case = case.as_deref().unwrap_or("-"), error = %e, "acknowledgement not rendered");
        }
        AckDecision::Suppressed(_) | AckDecision::NotApplicable => {}
    }
    advance_mailbox(tx, row.origin, now)?;
    Ok(())
}

/// A closed case written on again: `reopened`, remembering the state it
/// was closed in (`secdesk close` returns it there).
fn reopen(tx: &rusqlite::Transaction<'_>, case: &str) -> Result<()> {
    tx.execute(
        &format!(
            "UPDATE cases SET reopened_from = state, state = 'reopened'
             WHERE id = ?1 AND state IN ({})",
            reopenable_states_sql()
        ),
        [case],
    )
    .with_context(|| format!("reopening {case}"))?;
    Ok(())
}

/// The states mail reopens, as an SQL list of our own constants.
fn reopenable_states_sql() -> String {
    crate::case::State::ALL
        .iter()
        .filter(|s| s.reopens_on_mail())
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// How far mail from a team address may be trusted (DESIGN.md, "What mail
/// may change"): with no `team.trust_authentication_results` only the From
/// line vouches for it ([`TeamAuth::Unchecked`]); with it, our receiving
/// server's topmost Authentication-Results must show a DKIM or DMARC pass
/// for the sender's domain.
fn team_auth(cfg: &Config, m: &Incoming) -> TeamAuth {
    let Some(authserv) = &cfg.team.trust_authentication_results else {
        return TeamAuth::Unchecked;
    };
    // Through our relay, the results vouch for the relay (the group signs
    // and passes everything it forwards), not for the sender it kept in
    // X-Original-From: that header is anyone's to write.
    if m.from_unwrapped {
        return TeamAuth::Failed;
    }
    let domain = m
        .from
        .as_ref()
        .and_then(|f| f.address.rsplit_once('@'))
        .map(|(_, d)| d);
    match domain {
        Some(d) if crate::mail::auth::authenticated(&m.authentication_results, authserv, d) => {
            TeamAuth::Verified
        }
        _ => TeamAuth::Failed,
    }
}
