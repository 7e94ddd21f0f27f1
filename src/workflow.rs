//! A lead's step on a case, applied: each one decided by
//! [`crate::case::workflow::decide`] (or, for a reply, a response, an
//! assignment, by the rule here) and committed in one transaction with its
//! audit event and, where the policy asks for it, the reporter's notice in
//! the outbox. The CLI parses arguments and prints; this is where the
//! lead's authority meets the store.

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

use crate::case::workflow::{
    carry_over, check_merge, decide, Action, Change, Notice, Record, Refused, Snapshot,
};
use crate::case::CaseId;
use crate::config::Config;
use crate::mail::address::clean_address;
use crate::mail::compose::{to_reporter, OutKind};
use crate::mail::text::clean_line;
use crate::notices::notice_mail;
use crate::store::cases::{get_case, thread_ids, CaseRow};
use crate::store::messages::record_response;
use crate::store::{outbox, record_event, ts, Store};
use crate::templates::Templates;

/// What a step did, for the CLI to say.
#[derive(Debug, Clone)]
pub struct Applied {
    pub event: &'static str,
    /// The case's state after the step.
    pub state: String,
    /// The notice queued to the reporter, if any.
    pub notice: Option<Notice>,
    /// Said to the lead, never mailed (a severity that disagrees with CVSS).
    pub warnings: Vec<String>,
}

/// A fresh random token for a Message-ID we send.
fn token() -> String {
    format!("{:016x}", rand::random::<u64>())
}

fn case_id(cfg: &Config, case: &CaseRow) -> Result<CaseId> {
    CaseId::parse(&case.id, &cfg.project.case_prefix).with_context(|| {
        format!(
            "case {} does not have a {} id",
            case.id, cfg.project.case_prefix
        )
    })
}

/// What [`decide`] needs to know about a case row.
fn snapshot(cfg: &Config, case: &CaseRow) -> Result<Snapshot> {
    Ok(Snapshot {
        id: case_id(cfg, case)?,
        state: case
            .state
            .parse()
            .map_err(|e: String| anyhow::anyhow!("case {}: {e}", case.id))?,
        severity: case.severity.clone(),
        fixed_version: case.fixed_version.clone(),
        affected_versions: case.affected_versions.clone(),
        reopened_from: case.reopened_from.as_deref().and_then(|s| s.parse().ok()),
    })
}

/// Applies `action` to `case` as `actor` at `now`. A step the policy does
/// not allow is a [`Refused`] error, in the lead's words.
pub fn apply(
    store: &mut Store,
    cfg: &Config,
    templates: &Templates,
    case: &CaseRow,
    action: Action,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Applied> {
    let snapshot = snapshot(cfg, case)?;
    let id = snapshot.id.clone();
    let change = decide(&snapshot, action, &ts(now))?;
    let notice = store.write(|tx| commit(tx, cfg, templates, &id, &change, actor, now))?;
    Ok(Applied {
        event: change.event,
        state: change
            .state
            .map(|s| s.to_string())
            .unwrap_or_else(|| case.state.clone()),
        notice,
        warnings: change.warnings,
    })
}

/// Writes one decided change: state, fields, event, and the notice.
fn commit(
    tx: &rusqlite::Transaction<'_>,
    cfg: &Config,
    templates: &Templates,
    id: &CaseId,
    change: &Change,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Option<Notice>> {
    let case = id.to_string();
    if let Some(s) = change.state {
        tx.execute(
            "UPDATE cases SET state = ?2 WHERE id = ?1",
            rusqlite::params![case, s.as_str()],
        )
        .with_context(|| format!("setting {case} to {s}"))?;
    }
    for (field, value) in &change.set {
        // Column names come from a closed enum, never from input.
        tx.execute(
            &format!("UPDATE cases SET {} = ?2 WHERE id = ?1", field.column()),
            rusqlite::params![case, value],
        )
        .with_context(|| format!("setting {} on {case}", field.column()))?;
    }
    record_event(tx, Some(&case), now, change.event, actor, &change.detail)?;
    let Some(notice) = change.notice else {
        // Closed without a word to anyone: the team's open turn, if any,
        // ends unanswered (and counts as breached once past its deadline).
        if change.state.is_some_and(|s| s.is_closed()) {
            crate::store::turns::end_turn(tx, &case, now)?;
        }
        return Ok(None);
    };
    let after = get_case(tx, &case)?.with_context(|| format!("case {case} vanished"))?;
    if after.reporter.is_empty() {
        record_event(
            tx,
            Some(&case),
            now,
            "notice_skipped",
            "secdesk",
            "no reporter address",
        )?;
        return Ok(None);
    }
    let (ids, last) = thread_ids(tx, &case, &after.reporter)?;
    // A duplicate of the reporter's own earlier report is said so, not
    // "someone reported this before you".
    let original_reporter = match (notice, &after.duplicate_of) {
        (Notice::Duplicate, Some(of)) => get_case(tx, of)?.map(|o| o.reporter),
        _ => None,
    };
    let mail = notice_mail(
        templates,
        &cfg.project,
        id,
        &after,
        notice,
        original_reporter.as_deref(),
        ids,
        last,
        &token(),
    )?;
    outbox::enqueue(tx, &mail, now)?;
    // A notice is a person's answer to the reporter: it stops the clock
    // and closes the team's turn (when it was late, the figures say so).
    record_response(tx, &case, now, true)?;
    record_event(
        tx,
        Some(&case),
        now,
        "notice_queued",
        "secdesk",
        &format!("{} notice to the reporter", notice.name()),
    )?;
    Ok(Some(notice))
}

/// Queues the lead's reply `body` to the case's reporter (threaded, from
/// the security address) and stops the 48-hour clock. Returns the
/// Message-ID it will carry.
pub fn reply(
    store: &mut Store,
    cfg: &Config,
    case: &CaseRow,
    body: String,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<String> {
    if case.reporter.is_empty() {
        return Err(Refused(format!("{} has no reporter address to reply to", case.id)).into());
    }
    let (ids, last) = store.thread_ids(&case.id, &case.reporter)?;
    let mail = to_reporter(
        OutKind::Reply,
        &case_id(cfg, case)?,
        &case.reporter,
        &case.subject,
        body,
        ids,
        last,
        &token(),
        cfg.project.domain(),
        None,
    );
    let message_id = mail.message_id.clone();
    store.write(|tx| {
        outbox::enqueue(tx, &mail, now)?;
        record_response(tx, &case.id, now, true)?;
        record_event(
            tx,
            Some(&case.id),
            now,
            "reply_queued",
            actor,
            &format!("reply to the reporter queued (Message-ID <{message_id}>)"),
        )
    })?;
    Ok(message_id)
}

/// Records that the reporter was answered another way (`note` says how):
/// stops the clock.
pub fn responded(
    store: &mut Store,
    case: &CaseRow,
    note: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let note = clean_line(note, 2000);
    if note.is_empty() {
        return Err(Refused("--note: say how the reporter was answered".into()).into());
    }
    store.write(|tx| {
        record_response(tx, &case.id, now, true)?;
        record_event(
            tx,
            Some(&case.id),
            now,
            "human_response",
            actor,
            &format!("responded another way: {note}"),
        )
    })
}

/// Makes `address` the case's assignee (who gets its reminders with the
/// lead); returns the address as recorded.
pub fn assign(
    store: &mut Store,
    case: &CaseRow,
    address: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<String> {
    let addr = clean_address(address)
        .ok_or_else(|| Refused(format!("{address:?} is not a mail address")))?;
    store.write(|tx| {
        tx.execute(
            "UPDATE cases SET assignee = ?2 WHERE id = ?1",
            rusqlite::params![case.id, addr],
        )
        .with_context(|| format!("assigning {}", case.id))?;
        record_event(
            tx,
            Some(&case.id),
            now,
            "assigned",
            actor,
            &format!("assigned to {addr}"),
        )
    })?;
    Ok(addr)
}

/// What a merge moved and carried over, for the CLI to say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merged {
    pub messages: usize,
    pub mails: usize,
    /// What the target took over from the merged case (embargo, credit,
    /// assignee, assessment), in the lead's words.
    pub carried: Vec<String>,
    /// What stayed behind, and why (the target has its own, say).
    pub not_carried: Vec<String>,
}

/// What a merge may carry over from a case row.
fn record(c: &CaseRow) -> Record {
    Record {
        reporter: c.reporter.clone(),
        reporter_name: c.reporter_name.clone(),
        embargo_until: c.embargo_until.clone(),
        embargo_note: c.embargo_note.clone(),
        credit_consent: c.credit_consent.clone(),
        credit_name: c.credit_name.clone(),
        credit_source: c.credit_source.clone(),
        credit_request: c.credit_request.clone(),
        assignee: c.assignee.clone(),
        severity: c.severity.clone(),
        impact: c.impact.clone(),
        cvss_vector: c.cvss_vector.clone(),
    }
}

/// Merges case `from` into `into`: its messages and our mail about it move
/// there, its id stays an alias that threads to `into` (state `merged`), and
/// nobody is mailed. `into` must be open; it keeps its id and state; its
/// clock is the earlier of the two (the conversation began with the first
/// message) unless `from` is history, whose window was never secdesk's; a
/// turn the team owed on `from` is owed on `into`; and what the lead
/// recorded on `from` that `into` lacks (embargo, credit, assignee,
/// assessment) goes with it. Events stay where they were written (the
/// trail is append-only); `show` lists both.
pub fn merge(
    store: &mut Store,
    cfg: &Config,
    from: &CaseRow,
    into: &CaseRow,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Merged> {
    let (f, t) = (from.id.as_str(), into.id.as_str());
    store.write(|tx| {
        // Read again under the write lock: a step committed since the
        // caller read them (the target closed, say) must count.
        let from = get_case(tx, f)?.with_context(|| format!("case {f} vanished"))?;
        let into = get_case(tx, t)?.with_context(|| format!("case {t} vanished"))?;
        check_merge(&snapshot(cfg, &from)?, &snapshot(cfg, &into)?)?;
        let carry = carry_over(&record(&from), &record(&into));
        let messages = tx
            .execute("UPDATE messages SET case_id = ?2 WHERE case_id = ?1", [f, t])
            .with_context(|| format!("moving the messages of {f}"))?;
        let mails = tx
            .execute("UPDATE outbox SET case_id = ?2 WHERE case_id = ?1", [f, t])
            .with_context(|| format!("moving the mail about {f}"))?;
        // The earlier clock: min() of two RFC 3339 UTC strings of one
        // format is the earlier time; NULLs (not yet) lose to a time.
        // History's window was never secdesk's to keep: taking its clock
        // would make the target a breach it never was.
        if !from.history {
            tx.execute(
                "UPDATE cases SET
                 received_at = min(received_at, (SELECT received_at FROM cases WHERE id = ?1)),
                 response_due_at = min(response_due_at,
                                       (SELECT response_due_at FROM cases WHERE id = ?1)),
                 acknowledged_at = COALESCE(min(acknowledged_at,
                     (SELECT acknowledged_at FROM cases WHERE id = ?1)),
                     acknowledged_at, (SELECT acknowledged_at FROM cases WHERE id = ?1)),
                 first_response_at = COALESCE(min(first_response_at,
                     (SELECT first_response_at FROM cases WHERE id = ?1)),
                     first_response_at, (SELECT first_response_at FROM cases WHERE id = ?1))
             WHERE id = ?2",
                [f, t],
            )
            .with_context(|| format!("merging the clock of {f} into {t}"))?;
        }
        if let Some(open) = crate::store::turns::open_turn(tx, f)? {
            crate::store::turns::end_turn(tx, f, now)?;
            let (Some(start), Some(due)) = (
                crate::store::parse_ts(&open.started_at),
                crate::store::parse_ts(&open.due_at),
            ) else {
                anyhow::bail!("case {f}: its open turn has an unreadable time");
            };
            crate::store::turns::start_turn(tx, t, start, due, None, open.reopened)?;
        }
        tx.execute(
            // closed_at: when it stopped being a case of its own (a first
            // window that passed before this stays a breach in the figures).
            "UPDATE cases SET state = 'merged', merged_into = ?2, closed_at = ?3 WHERE id = ?1",
            rusqlite::params![f, t, crate::store::ts(now)],
        )
        .with_context(|| format!("marking {f} merged"))?;
        for (field, value) in &carry.set {
            // Column names come from a closed enum, never from input.
            tx.execute(
                &format!("UPDATE cases SET {} = ?2 WHERE id = ?1", field.column()),
                rusqlite::params![t, value],
            )
            .with_context(|| format!("carrying {} over from {f} to {t}", field.column()))?;
        }
        crate::store::missing::refresh_missing_items(tx, t)?;
        let advisory = crate::store::advisories::carry_over(tx, f, t)?;
        if !advisory.is_empty() {
            record_event(
                tx,
                Some(t),
                now,
                "carried_over",
                actor,
                &format!("advisory from {f}: {}", advisory.join("; ")),
            )?;
        }
        record_event(
            tx,
            Some(f),
            now,
            "merged",
            actor,
            &format!(
                "merged into {t}: {messages} messages and {mails} mails moved; {f} still threads there"
            ),
        )?;
        record_event(
            tx,
            Some(t),
            now,
            "merged_in",
            actor,
            &format!(
                "{f} ({:?}, from {}) merged in: {messages} messages and {mails} mails{}",
                from.subject,
                if from.reporter.is_empty() {
                    "no address"
                } else {
                    &from.reporter
                },
                if from.history {
                    format!("; the clock stays {t}'s ({f} was filed as history)")
                } else {
                    String::new()
                }
            ),
        )?;
        if !carry.carried.is_empty() || !carry.not_carried.is_empty() {
            let mut detail = match carry.carried.is_empty() {
                true => format!("nothing carried over from {f}"),
                false => format!("carried over from {f}: {}", carry.carried.join("; ")),
            };
            if !carry.not_carried.is_empty() {
                detail.push_str(&format!("; not carried: {}", carry.not_carried.join("; ")));
            }
            record_event(tx, Some(t), now, "carried_over", actor, &detail)?;
        }
        Ok(Merged {
            messages,
            mails,
            carried: carry.carried,
            not_carried: carry.not_carried,
        })
    })
}
