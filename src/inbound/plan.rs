//! What an inbound message does to the case log: the pure decision.
//!
//! [`plan_inbound`] takes the parsed message, its classification, the case
//! it threads to (if any), the ack counts of the last hour and `now`, and
//! returns a [`Plan`]: the outcome, the case to open or touch, the events to
//! record and whether to queue an acknowledgement. The ingest pipeline
//! commits the whole plan in one transaction.
//!
//! The trust boundary of DESIGN.md lives here: mail files messages, it does
//! not act with anyone's authority. A reporter's mail changes their case
//! (credit consent) only when it answers mail we sent them
//! ([`Thread::answers_our_mail`]) and never over what the lead decided;
//! anything else is filed as a request the lead can confirm. Team mail stops
//! the clock only as [`TeamAuth`] allows.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::case::assess::{parse_credit, Credit};
use crate::case::report::missing_items;
use crate::case::{sla, CaseId, State};
use crate::config::{LimitsConfig, ProjectConfig};
use crate::mail::classify::{Classification, NoReply};
use crate::mail::forward::forwarded;
use crate::mail::parse::Incoming;

use super::ack::ack_mail;
pub use super::ack::{rate_keys, AckCounts, AckDecision};
pub use crate::case::NewCase;
use crate::templates::Templates;

/// The outcome `secdesk ingest --json` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    NewCase,
    FollowUp,
    Duplicate,
    AutoReply,
    Rejected,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::NewCase => "new_case",
            Outcome::FollowUp => "follow_up",
            Outcome::Duplicate => "duplicate",
            Outcome::AutoReply => "auto_reply",
            Outcome::Rejected => "rejected",
        }
    }
}

/// The existing case a message threads to, and how it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thread {
    pub case: CaseId,
    pub state: State,
    pub reporter_address: String,
    /// `"reference"` or `"subject_tag"`.
    pub matched_by: &'static str,
    /// The message's `In-Reply-To`/`References` name mail secdesk sent to
    /// the case's reporter. Our Message-IDs carry a random token, so this
    /// proves the sender received that mail; a case tag proves nothing.
    pub answers_our_mail: bool,
    /// The lead recorded the credit decision with `secdesk credit`.
    pub credit_decided_by_lead: bool,
    /// A person from the team has answered the case.
    pub responded: bool,
    /// The team's follow-up turn is open (someone is waiting for it).
    pub turn_open: bool,
    /// The reporters of cases merged into this one: their conversation
    /// continues here.
    pub merged_reporters: Vec<String>,
}

impl Thread {
    /// Whether `address` is the case's reporter or a merged-in case's.
    pub fn is_reporter(&self, address: &str) -> bool {
        std::iter::once(&self.reporter_address)
            .chain(&self.merged_reporters)
            .any(|r| !r.is_empty() && r.eq_ignore_ascii_case(address))
    }
}

/// How far team mail may be trusted to be the team's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TeamAuth {
    /// Our receiving server's Authentication-Results show a pass.
    Verified,
    /// `team.trust_authentication_results` is not set: the From line is all
    /// there is. Counts, but is recorded as unverified.
    Unchecked,
    /// The check is configured and did not pass: it does not count.
    Failed,
}

/// What the reporter's mail says about credit, and whether it counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreditChange {
    /// The reporter answered our mail: record it.
    Apply(Credit),
    /// Filed as an unconfirmed request for the lead, and why it is not
    /// applied.
    Request { credit: Credit, why: String },
}

/// An event to append to the case's audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedEvent {
    pub kind: &'static str,
    pub detail: String,
}

/// The human response a message gives, and whether its sender was verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response {
    pub verified: bool,
}

/// The whole decision for one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub outcome: Outcome,
    /// The case the message is filed under, if any.
    pub case: Option<CaseId>,
    pub new_case: Option<NewCase>,
    /// Stored on the message row: `report`, `follow_up`, `team_response`,
    /// `team_note` (team mail that answers nobody), `auto_reply`, `sent_copy`.
    pub message_kind: &'static str,
    pub events: Vec<PlannedEvent>,
    pub ack: AckDecision,
    /// A person from the team answered: stops the 48-hour clock.
    pub first_response: Option<Response>,
    /// What the message says about the reporter's credit.
    pub credit: Option<CreditChange>,
    /// Someone outside the team wrote: the team's turn opens (and a closed
    /// case reopens).
    pub turn: Option<TurnStart>,
    /// Recompute what the report lacks over the whole conversation.
    pub refresh_missing: bool,
}

/// The team's turn, opened by a message from outside the team.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TurnStart {
    /// The case was closed: it becomes `reopened`.
    pub reopen: bool,
    pub due_at: DateTime<Utc>,
}

impl Plan {
    fn follow_up(case: CaseId, kind: &'static str, outcome: Outcome) -> Plan {
        Plan {
            outcome,
            case: Some(case),
            new_case: None,
            message_kind: kind,
            events: Vec::new(),
            ack: AckDecision::NotApplicable,
            first_response: None,
            credit: None,
            turn: None,
            refresh_missing: false,
        }
    }
}

/// Everything [`plan_inbound`] needs besides the message.
#[derive(Debug, Clone)]
pub struct Inputs<'a> {
    pub classification: &'a Classification,
    pub thread: Option<&'a Thread>,
    /// The id a new case would get.
    pub next_case_id: CaseId,
    pub counts: AckCounts,
    pub limits: &'a LimitsConfig,
    pub response_window: Duration,
    /// The team's deadline for each later turn of the conversation.
    pub follow_up_window: Duration,
    /// What the acknowledgement says and where its Message-ID lives.
    pub project: &'a ProjectConfig,
    pub templates: &'a Templates,
    /// Random, for the acknowledgement's Message-ID (passed in: the plan
    /// draws no random numbers, reads no clock).
    pub token: &'a str,
    pub received_at: DateTime<Utc>,
    /// When it is filed: a report older than the window is late.
    pub now: DateTime<Utc>,
    pub team_auth: TeamAuth,
    /// Found in the shared mailbox's Sent folder.
    pub from_sent_folder: bool,
    /// History (already in the mailbox at the first start, or imported
    /// from an archive): filed, never answered.
    pub history: bool,
}

/// Decides what `m` does to the case log.
pub fn plan_inbound(m: &Incoming, i: &Inputs<'_>) -> Plan {
    if i.from_sent_folder {
        return plan_sent(m, i);
    }
    match i.thread {
        Some(t) => plan_follow_up(m, t, i),
        None => plan_new_case(m, i),
    }
}

/// `yes, as Name` / `yes` / `no`: how a credit answer is shown and stored.
pub fn credit_text(c: &Credit) -> String {
    match c {
        Credit::Yes(Some(n)) => format!("yes, {n}"),
        Credit::Yes(None) => "yes".into(),
        Credit::No => "no".into(),
    }
}

/// A message that belongs to no case yet: a new report, or machine mail
/// that is filed and nothing more.
fn plan_new_case(m: &Incoming, i: &Inputs<'_>) -> Plan {
    let class = i.classification;
    if let Classification::NoReply(r) = class {
        if !r.opens_case() {
            return Plan {
                outcome: Outcome::AutoReply,
                case: None,
                new_case: None,
                message_kind: "auto_reply",
                events: vec![PlannedEvent {
                    kind: "auto_reply_filed",
                    detail: format!("matched no case; not answered ({})", r.as_str()),
                }],
                ack: AckDecision::NotApplicable,
                first_response: None,
                credit: None,
                turn: None,
                refresh_missing: false,
            };
        }
    }

    // A report a team member forwards belongs to its original sender — when
    // the forward is the team's as far as we can tell: otherwise anyone
    // could write a "forward" naming any reporter and have it filed as
    // theirs. A forward that fails the check is a report from its sender.
    let team = matches!(class, Classification::NoReply(NoReply::TeamMember));
    let fwd = (team && i.team_auth != TeamAuth::Failed)
        .then(|| forwarded(m))
        .flatten();
    let forward_refused = team && i.team_auth == TeamAuth::Failed && forwarded(m).is_some();
    let (from, subject, body) = match &fwd {
        Some(f) => (
            Some(&f.from),
            if f.subject.is_empty() {
                &m.subject
            } else {
                &f.subject
            },
            &f.body,
        ),
        None => (m.from.as_ref(), &m.subject, &m.body_text),
    };
    let reporter_address = from.map(|f| f.address.clone()).unwrap_or_default();
    let on_time = sla::response_due_at(i.received_at, i.response_window);
    // No acknowledgement ever promises a deadline that has passed: a report
    // seen only after its window closed (downtime, a filter) gets one from
    // now, and the lead hears of it at once.
    let late = !i.history && on_time <= i.now;
    let new_case = NewCase {
        id: i.next_case_id.clone(),
        state: if i.history {
            State::Imported
        } else {
            State::New
        },
        late,
        reporter_address,
        reporter_name: from.and_then(|f| f.name.clone()).unwrap_or_default(),
        subject: subject.clone(),
        received_at: i.received_at,
        response_due_at: if late {
            sla::response_due_at(i.now, i.response_window)
        } else {
            on_time
        },
        missing: missing_items(subject, body),
    };
    let ack = match class {
        _ if i.history => AckDecision::NotApplicable,
        _ if fwd.is_some() => AckDecision::Suppressed(
            "forwarded by a team member: no automatic acknowledgement to either, the team \
             member is already in conversation with the reporter"
                .into(),
        ),
        Classification::NoReply(r) => {
            AckDecision::Suppressed(format!("not answered: {}", r.as_str()))
        }
        Classification::Answerable => match (
            ack_mail(
                m,
                &new_case,
                i.project,
                i.templates,
                i.response_window,
                i.token,
            ),
            i.counts.over(i.limits),
        ) {
            (Err(e), _) => AckDecision::Failed(format!("{e:#}")),
            (Ok(mail), Some(why)) => AckDecision::Hold(Box::new(mail), why),
            (Ok(mail), None) => AckDecision::Queue(Box::new(mail)),
        },
    };
    let missing = if new_case.missing.is_empty() {
        "nothing".to_string()
    } else {
        let names: Vec<&str> = new_case.missing.iter().map(|m| m.as_str()).collect();
        names.join(", ")
    };
    let mut events = vec![if i.history {
        PlannedEvent {
            kind: "imported",
            detail: format!(
                "history ({}): filed as found, never answered, no reminders",
                class.as_str()
            ),
        }
    } else {
        PlannedEvent {
            kind: "case_opened",
            detail: format!("report received ({}); missing: {missing}", class.as_str()),
        }
    }];
    if late {
        events.push(PlannedEvent {
            kind: "late_report",
            detail: format!(
                "received {}, after its response window had closed; the window runs from \
                 now and the lead is told at once",
                crate::store::ts(i.received_at)
            ),
        });
    }
    events.extend(match &ack {
        AckDecision::Queue(_) => Some(PlannedEvent {
            kind: "ack_queued",
            detail: "acknowledgement queued".into(),
        }),
        AckDecision::Suppressed(why) => Some(PlannedEvent {
            kind: "ack_suppressed",
            detail: why.clone(),
        }),
        AckDecision::Hold(_, why) => Some(PlannedEvent {
            kind: "ack_held",
            detail: format!(
                "{why}; the acknowledgement waits until the budget allows, \
                 unless the case is answered first"
            ),
        }),
        AckDecision::Failed(e) => Some(PlannedEvent {
            kind: "ack_failed",
            detail: e.clone(),
        }),
        AckDecision::NotApplicable => None,
    });
    if let (Some(f), Some(by)) = (&fwd, m.from.as_ref()) {
        events.push(PlannedEvent {
            kind: "forwarded_report",
            detail: format!(
                "brought in by {} ({} forward{}); the reporter is {}, from the forwarded message",
                by.address,
                f.how,
                if i.team_auth == TeamAuth::Unchecked {
                    ", unverified: team.trust_authentication_results is not set, so the From \
                     line is all that says it is the team's"
                } else {
                    ""
                },
                f.from.address
            ),
        });
    }
    if forward_refused {
        events.push(PlannedEvent {
            kind: "team_mail_unverified",
            detail: "a forward from a team address without a passing Authentication-Results: \
                     filed as its sender's own report, not under the forwarded reporter"
                .into(),
        });
    }
    if let Some(note) = &m.relayed {
        events.push(PlannedEvent {
            kind: "relayed",
            detail: note.clone(),
        });
    }
    if matches!(class, Classification::NoReply(NoReply::ForeignOwnAddress)) {
        events.push(PlannedEvent {
            kind: "from_our_address",
            detail: "From is the security address itself, but secdesk did not send this: if \
                     security@ is a group or list that rewrites From, set \
                     project.relay_list_ids so that the reporter is found and answered"
                .into(),
        });
    }
    if let Some(why) = &m.from_problem {
        events.push(PlannedEvent {
            kind: "ambiguous_sender",
            detail: format!("{why}: who wrote this is unclear, so nobody is acknowledged"),
        });
    } else if matches!(class, Classification::NoReply(NoReply::NoSender)) {
        events.push(PlannedEvent {
            kind: "no_reporter_address",
            detail: "the message has no usable From address; contact the reporter another way"
                .into(),
        });
    }
    if let Some(why) = &m.body_skipped {
        events.push(PlannedEvent {
            kind: "body_not_parsed",
            detail: format!("{why}; read the raw message"),
        });
    }
    // A credit line in the report itself answers nothing we sent: the lead
    // may confirm it (not for history: that conversation is over).
    let credit = (!i.history)
        .then(|| parse_credit(&m.body_text))
        .flatten()
        .map(|credit| CreditChange::Request {
            credit,
            why: "said in the report, before any mail from us".into(),
        });
    Plan {
        outcome: Outcome::NewCase,
        case: Some(new_case.id.clone()),
        new_case: Some(new_case),
        message_kind: "report",
        events,
        ack,
        first_response: None,
        credit,
        turn: None,
        refresh_missing: false,
    }
}

/// A message from the Sent folder: the team answering from the security
/// mailbox itself. Our own mail (a copy the provider saved) is not. Only
/// someone holding the mailbox's credentials can put mail there, so it is
/// verified by where it was found.
fn plan_sent(m: &Incoming, i: &Inputs<'_>) -> Plan {
    let ours = m.auto.loop_header;
    match i.thread {
        Some(t) if !ours && !written_to_reporter(m, t) => {
            let mut plan = Plan::follow_up(t.case.clone(), "team_note", Outcome::FollowUp);
            plan.events.push(PlannedEvent {
                kind: "team_note",
                detail: format!(
                    "sent from the shared mailbox but not written to the reporter{}: filed, \
                     not counted as the response",
                    if t.reporter_address.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", t.reporter_address)
                    }
                ),
            });
            plan
        }
        Some(t) if !ours => {
            let mut plan = Plan::follow_up(t.case.clone(), "team_response", Outcome::FollowUp);
            plan.events.push(PlannedEvent {
                kind: "human_response",
                detail: format!(
                    "answered from the shared mailbox (matched by {})",
                    t.matched_by
                ),
            });
            plan.first_response = Some(Response { verified: true });
            plan
        }
        t => Plan {
            outcome: Outcome::AutoReply,
            case: t.map(|t| t.case.clone()),
            new_case: None,
            message_kind: "sent_copy",
            events: vec![PlannedEvent {
                kind: "sent_copy_filed",
                detail: if ours {
                    "a copy of mail secdesk sent".into()
                } else {
                    "sent mail that matches no case".into()
                },
            }],
            ack: AckDecision::NotApplicable,
            first_response: None,
            credit: None,
            turn: None,
            refresh_missing: false,
        },
    }
}

mod follow_up;
use follow_up::{plan_follow_up, written_to_reporter};

#[cfg(test)]
mod tests;
