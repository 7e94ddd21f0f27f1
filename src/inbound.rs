//! What an inbound message does to the case log: the pure decision.
//!
//! [`plan_inbound`] takes the parsed message, its classification, the case
//! it threads to (if any), the ack counts of the last hour and `now`, and
//! returns a [`Plan`]: the outcome, the case to open or touch, the events to
//! record and whether to queue an acknowledgement. The ingest pipeline
//! commits the whole plan in one transaction.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::case::assess::{parse_credit, Credit};
use crate::case::report::{missing_items, ReportItem};
use crate::case::{sla, CaseId, State};
use crate::config::LimitsConfig;
use crate::mail::classify::{Classification, NoReply};
use crate::mail::parse::Incoming;

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
}

/// Acknowledgements queued in the last hour.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AckCounts {
    pub to_sender: u32,
    pub total: u32,
}

/// What to do about the acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AckDecision {
    /// Queue one (the store's unique key still guarantees at most one).
    Queue,
    /// A new case that gets none, and why (recorded as an event).
    Suppressed(String),
    /// Not a new case: acknowledgements are only for new reports.
    NotApplicable,
}

/// A case to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCase {
    pub id: CaseId,
    pub reporter_address: String,
    pub reporter_name: String,
    pub subject: String,
    pub received_at: DateTime<Utc>,
    pub response_due_at: DateTime<Utc>,
    pub missing: Vec<ReportItem>,
}

/// An event to append to the case's audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedEvent {
    pub kind: &'static str,
    pub detail: String,
}

/// The whole decision for one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub outcome: Outcome,
    /// The case the message is filed under, if any.
    pub case: Option<CaseId>,
    pub new_case: Option<NewCase>,
    /// Stored on the message row: `report`, `follow_up`, `auto_reply`.
    pub message_kind: &'static str,
    pub events: Vec<PlannedEvent>,
    pub ack: AckDecision,
    /// A person from the team answered: stops the 48-hour clock.
    pub first_response: bool,
    /// The reporter's own reply says whether they want credit.
    pub credit: Option<Credit>,
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
    pub received_at: DateTime<Utc>,
    /// Team mail passes `team.trust_authentication_results` (or no trust
    /// check is configured).
    pub team_verified: bool,
    /// Found in the shared mailbox's Sent folder.
    pub from_sent_folder: bool,
}

/// Decides what `m` does to the case log.
pub fn plan_inbound(m: &Incoming, i: &Inputs<'_>) -> Plan {
    let class = i.classification;
    if i.from_sent_folder {
        return plan_sent(m, i);
    }
    if let Some(t) = i.thread {
        let team = matches!(class, Classification::NoReply(NoReply::TeamMember));
        let (outcome, kind, event) = match class {
            Classification::NoReply(r) if !r.opens_case() => {
                (Outcome::AutoReply, "auto_reply", "auto_reply_received")
            }
            _ if team && i.team_verified => (Outcome::FollowUp, "team_response", "human_response"),
            _ => (Outcome::FollowUp, "follow_up", "message_received"),
        };
        let mut events = vec![PlannedEvent {
            kind: event,
            detail: format!("{} (matched by {}, {})", kind, t.matched_by, class.as_str()),
        }];
        if team && !i.team_verified {
            events.push(PlannedEvent {
                kind: "team_mail_unverified",
                detail: "From a team address without a passing Authentication-Results; \
                         the response clock keeps running"
                    .into(),
            });
        }
        // Only the reporter speaks for their credit, and only before the
        // advisory is out.
        let from_reporter = m
            .from
            .as_ref()
            .is_some_and(|f| !t.reporter_address.is_empty() && f.address == t.reporter_address);
        let credit =
            (from_reporter && *class == Classification::Answerable && t.state != State::Disclosed)
                .then(|| parse_credit(&m.body_text))
                .flatten();
        return Plan {
            outcome,
            case: Some(t.case.clone()),
            new_case: None,
            message_kind: kind,
            events,
            ack: AckDecision::NotApplicable,
            first_response: team && i.team_verified,
            credit,
        };
    }

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
                first_response: false,
                credit: None,
            };
        }
    }

    let from = m.from.as_ref();
    let reporter_address = from.map(|f| f.address.clone()).unwrap_or_default();
    let new_case = NewCase {
        id: i.next_case_id.clone(),
        reporter_address,
        reporter_name: from.and_then(|f| f.name.clone()).unwrap_or_default(),
        subject: m.subject.clone(),
        received_at: i.received_at,
        response_due_at: sla::response_due_at(i.received_at, i.response_window),
        missing: missing_items(&m.subject, &m.body_text),
    };
    let ack = match class {
        Classification::NoReply(r) => {
            AckDecision::Suppressed(format!("not answered: {}", r.as_str()))
        }
        Classification::Answerable if i.counts.to_sender >= i.limits.acks_per_sender_per_hour => {
            AckDecision::Suppressed(format!(
                "rate limit: {} acknowledgements to this sender in the last hour",
                i.counts.to_sender
            ))
        }
        Classification::Answerable if i.counts.total >= i.limits.acks_per_hour => {
            AckDecision::Suppressed(format!(
                "rate limit: {} acknowledgements in the last hour",
                i.counts.total
            ))
        }
        Classification::Answerable => AckDecision::Queue,
    };
    let mut events = vec![PlannedEvent {
        kind: "case_opened",
        detail: format!(
            "report received ({}); missing: {}",
            class.as_str(),
            if new_case.missing.is_empty() {
                "nothing".to_string()
            } else {
                new_case
                    .missing
                    .iter()
                    .map(|m| m.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ),
    }];
    if let AckDecision::Suppressed(why) = &ack {
        events.push(PlannedEvent {
            kind: "ack_suppressed",
            detail: why.clone(),
        });
    }
    if matches!(class, Classification::NoReply(NoReply::NoSender)) {
        events.push(PlannedEvent {
            kind: "no_reporter_address",
            detail: "the message has no usable From address; contact the reporter another way"
                .into(),
        });
    }
    Plan {
        outcome: Outcome::NewCase,
        case: Some(new_case.id.clone()),
        new_case: Some(new_case),
        message_kind: "report",
        events,
        ack,
        first_response: false,
        credit: None,
    }
}

/// A message from the Sent folder: the team answering from the security
/// mailbox itself. Our own mail (a copy the provider saved) is not.
fn plan_sent(m: &Incoming, i: &Inputs<'_>) -> Plan {
    let ours = m.auto.loop_header;
    match i.thread {
        Some(t) if !ours => Plan {
            outcome: Outcome::FollowUp,
            case: Some(t.case.clone()),
            new_case: None,
            message_kind: "team_response",
            events: vec![PlannedEvent {
                kind: "human_response",
                detail: format!(
                    "answered from the shared mailbox (matched by {})",
                    t.matched_by
                ),
            }],
            ack: AckDecision::NotApplicable,
            first_response: true,
            credit: None,
        },
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
            first_response: false,
            credit: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::parse::parse;
    use chrono::TimeZone;

    fn msg() -> Incoming {
        parse(include_bytes!("../tests/data/01-report-complete.eml")).unwrap()
    }

    fn inputs<'a>(
        class: &'a Classification,
        thread: Option<&'a Thread>,
        counts: AckCounts,
        limits: &'a LimitsConfig,
    ) -> Inputs<'a> {
        Inputs {
            classification: class,
            thread,
            next_case_id: CaseId::parse("SEC-2026-0001", "SEC").unwrap(),
            counts,
            limits,
            response_window: Duration::from_secs(48 * 3600),
            received_at: Utc.with_ymd_and_hms(2026, 11, 23, 9, 13, 0).unwrap(),
            team_verified: true,
            from_sent_folder: false,
        }
    }

    const LIMITS: LimitsConfig = LimitsConfig {
        acks_per_sender_per_hour: 5,
        acks_per_hour: 200,
    };

    #[test]
    fn a_new_report_opens_a_case_and_queues_an_ack() {
        let c = Classification::Answerable;
        let p = plan_inbound(&msg(), &inputs(&c, None, AckCounts::default(), &LIMITS));
        assert_eq!(p.outcome, Outcome::NewCase);
        assert_eq!(p.ack, AckDecision::Queue);
        let n = p.new_case.unwrap();
        assert_eq!(n.reporter_address, "sam@reporter.example");
        assert_eq!(
            n.response_due_at,
            Utc.with_ymd_and_hms(2026, 11, 25, 9, 13, 0).unwrap()
        );
    }

    #[test]
    fn rate_limits_suppress_with_a_reason() {
        let c = Classification::Answerable;
        let per_sender = AckCounts {
            to_sender: 5,
            total: 5,
        };
        let p = plan_inbound(&msg(), &inputs(&c, None, per_sender, &LIMITS));
        assert!(matches!(p.ack, AckDecision::Suppressed(ref w) if w.contains("this sender")));
        assert!(p.events.iter().any(|e| e.kind == "ack_suppressed"));
        let global = AckCounts {
            to_sender: 0,
            total: 200,
        };
        let p = plan_inbound(&msg(), &inputs(&c, None, global, &LIMITS));
        assert!(matches!(p.ack, AckDecision::Suppressed(ref w) if w.contains("200")));
        assert_eq!(p.outcome, Outcome::NewCase);
    }

    #[test]
    fn threaded_mail_is_a_follow_up_without_ack() {
        let c = Classification::Answerable;
        let t = Thread {
            case: CaseId::parse("SEC-2026-0009", "SEC").unwrap(),
            state: State::Acknowledged,
            reporter_address: "sam@reporter.example".into(),
            matched_by: "reference",
        };
        let p = plan_inbound(&msg(), &inputs(&c, Some(&t), AckCounts::default(), &LIMITS));
        assert_eq!(p.outcome, Outcome::FollowUp);
        assert_eq!(p.case, Some(t.case.clone()));
        assert_eq!(p.ack, AckDecision::NotApplicable);
        let auto = Classification::NoReply(NoReply::AutoSubmitted);
        let p = plan_inbound(
            &msg(),
            &inputs(&auto, Some(&t), AckCounts::default(), &LIMITS),
        );
        assert_eq!(p.outcome, Outcome::AutoReply);
        assert_eq!(p.case, Some(t.case));
    }

    #[test]
    fn team_mail_in_a_thread_is_the_human_response_when_verified() {
        let team = Classification::NoReply(NoReply::TeamMember);
        let t = Thread {
            case: CaseId::parse("SEC-2026-0009", "SEC").unwrap(),
            state: State::Acknowledged,
            reporter_address: "sam@reporter.example".into(),
            matched_by: "subject_tag",
        };
        let mut i = inputs(&team, Some(&t), AckCounts::default(), &LIMITS);
        let p = plan_inbound(&msg(), &i);
        assert!(p.first_response);
        assert_eq!(p.message_kind, "team_response");
        i.team_verified = false;
        let p = plan_inbound(&msg(), &i);
        assert!(!p.first_response);
        assert!(p.events.iter().any(|e| e.kind == "team_mail_unverified"));
        // A reporter's follow-up is not a response.
        let c = Classification::Answerable;
        let p = plan_inbound(&msg(), &inputs(&c, Some(&t), AckCounts::default(), &LIMITS));
        assert!(!p.first_response);
    }

    #[test]
    fn sent_folder_replies_respond_our_own_copies_do_not() {
        let own = Classification::NoReply(NoReply::OwnAddress);
        let t = Thread {
            case: CaseId::parse("SEC-2026-0009", "SEC").unwrap(),
            state: State::Acknowledged,
            reporter_address: "sam@reporter.example".into(),
            matched_by: "reference",
        };
        let mut i = inputs(&own, Some(&t), AckCounts::default(), &LIMITS);
        i.from_sent_folder = true;
        let p = plan_inbound(&msg(), &i);
        assert!(p.first_response);
        let mut ours = msg();
        ours.auto.loop_header = true;
        let p = plan_inbound(&ours, &i);
        assert!(!p.first_response);
        i.thread = None;
        let p = plan_inbound(&msg(), &i);
        assert_eq!((p.outcome, p.case), (Outcome::AutoReply, None));
    }

    #[test]
    fn the_reporters_reply_can_give_credit_consent() {
        let c = Classification::Answerable;
        let t = Thread {
            case: CaseId::parse("SEC-2026-0009", "SEC").unwrap(),
            state: State::Fixing,
            reporter_address: "sam@reporter.example".into(),
            matched_by: "subject_tag",
        };
        let mut m = msg();
        m.body_text = "Thanks!\ncredit: yes, Sam Finder\n> credit: no\n".into();
        let p = plan_inbound(&m, &inputs(&c, Some(&t), AckCounts::default(), &LIMITS));
        assert_eq!(p.credit, Some(Credit::Yes(Some("Sam Finder".into()))));
        // Someone else cannot consent for the reporter.
        m.from = Some(crate::mail::parse::Mailbox {
            address: "eve@evil.example".into(),
            name: None,
        });
        let p = plan_inbound(&m, &inputs(&c, Some(&t), AckCounts::default(), &LIMITS));
        assert_eq!(p.credit, None);
    }

    #[test]
    fn unthreaded_machine_mail_opens_no_case() {
        let c = Classification::NoReply(NoReply::DeliveryReport);
        let p = plan_inbound(&msg(), &inputs(&c, None, AckCounts::default(), &LIMITS));
        assert_eq!(p.outcome, Outcome::AutoReply);
        assert_eq!(p.case, None);
    }

    #[test]
    fn list_mail_opens_a_case_but_is_not_answered() {
        let c = Classification::NoReply(NoReply::MailingList);
        let p = plan_inbound(&msg(), &inputs(&c, None, AckCounts::default(), &LIMITS));
        assert_eq!(p.outcome, Outcome::NewCase);
        assert!(matches!(p.ack, AckDecision::Suppressed(ref w) if w.contains("mailing_list")));
    }
}
