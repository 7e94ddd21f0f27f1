//! Outgoing mail as data: who, subject, body, and the threading headers.
//!
//! Pure: builds [`OutgoingMail`] values and template contexts from case
//! facts. Nothing here talks to SMTP; the outbox worker turns these into
//! wire messages. Every value that reaches a header is one line (see
//! [`clean_line`]) — the final guard against header injection is here, not
//! in the parser.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::case::report::ReportItem;
use crate::case::CaseId;
use crate::mail::text::clean_line;

/// What kind of mail secdesk sends; decides `Auto-Submitted`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutKind {
    /// The automatic acknowledgement of a new report.
    Ack,
    /// A person's reply sent through `secdesk reply`.
    Reply,
    /// A state-change notice to the reporter.
    Notice,
    /// A reminder to the team before the window closes.
    Reminder,
    /// The window closed without a response.
    Escalation,
}

impl OutKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OutKind::Ack => "ack",
            OutKind::Reply => "reply",
            OutKind::Notice => "notice",
            OutKind::Reminder => "reminder",
            OutKind::Escalation => "escalation",
        }
    }

    pub fn from_name(s: &str) -> Option<OutKind> {
        [
            OutKind::Ack,
            OutKind::Reply,
            OutKind::Notice,
            OutKind::Reminder,
            OutKind::Escalation,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    /// RFC 3834 §5: the acknowledgement answers a person's mail
    /// (`auto-replied`); notices and reminders are `auto-generated`; a
    /// person's own reply has none.
    pub fn auto_submitted(self) -> Option<&'static str> {
        match self {
            OutKind::Ack => Some("auto-replied"),
            // Notices are not answers to a message: generated on a step the
            // lead took (RFC 3834 §5).
            OutKind::Notice | OutKind::Reminder | OutKind::Escalation => Some("auto-generated"),
            OutKind::Reply => None,
        }
    }
}

/// One mail waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    pub kind: OutKind,
    pub case: Option<CaseId>,
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
    /// Stable for the row's life, so a resend after a crash is recognisably
    /// the same message.
    pub message_id: String,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    /// Unique in the store: what makes "at most one ack per case" and "one
    /// reminder per case and threshold" hold.
    pub dedup_key: String,
}

/// A fresh Message-ID for mail about `case` from `domain`, `token` being
/// random (passed in to keep this pure).
pub fn new_message_id(case: Option<&CaseId>, kind: OutKind, token: &str, domain: &str) -> String {
    let who = case
        .map(|c| c.to_string().to_ascii_lowercase())
        .unwrap_or_else(|| "team".into());
    format!("secdesk.{who}.{}.{token}@{domain}", kind.as_str())
}

/// Mail from the team to a case's reporter (a reply, a notice): threaded to
/// the reporter's newest message (else the newest of the case), with the
/// last 20 Message-IDs of the case as References. `dedup_key` defaults to
/// one per message.
#[allow(clippy::too_many_arguments)]
pub fn to_reporter(
    kind: OutKind,
    case: &CaseId,
    reporter: &str,
    case_subject: &str,
    body: String,
    thread_ids: Vec<String>,
    last_from_reporter: Option<String>,
    token: &str,
    domain: &str,
    dedup_key: Option<String>,
) -> OutgoingMail {
    let mut references: Vec<String> = thread_ids.into_iter().rev().take(20).collect();
    references.reverse();
    let message_id = new_message_id(Some(case), kind, token, domain);
    OutgoingMail {
        kind,
        case: Some(case.clone()),
        to: vec![reporter.to_string()],
        subject: reply_subject(case, case_subject),
        body,
        dedup_key: dedup_key.unwrap_or_else(|| format!("{}:{message_id}", kind.as_str())),
        message_id,
        in_reply_to: last_from_reporter.or_else(|| references.last().cloned()),
        references,
    }
}

/// Most characters of a reporter's subject quoted back in mail we send.
pub const QUOTED_SUBJECT: usize = 80;

/// A reporter's subject as mail from us may quote it: one clean line, at
/// most [`QUOTED_SUBJECT`] characters (an ellipsis says it was cut). Mail to
/// an address we cannot verify carries no more of a stranger's text than
/// this — the inbox must not relay spam to forged senders.
pub fn quoted_subject(s: &str) -> String {
    let line = clean_line(s, QUOTED_SUBJECT + 1);
    if line.chars().count() <= QUOTED_SUBJECT {
        return line;
    }
    let cut: String = line.chars().take(QUOTED_SUBJECT - 1).collect();
    format!("{}…", cut.trim_end())
}

/// `Re: [SEC-2026-0001] <original subject>`, without stacking `Re:`s or
/// repeating the tag, the subject quoted as [`quoted_subject`] allows.
pub fn reply_subject(case: &CaseId, original: &str) -> String {
    let mut s = clean_line(original, 300);
    loop {
        let lower = s.to_ascii_lowercase();
        let stripped = ["re:", "aw:", "sv:", "fwd:", "fw:", "wg:"]
            .iter()
            .find(|p| lower.starts_with(*p))
            .map(|p| s[p.len()..].trim_start().to_string());
        match stripped {
            Some(rest) => s = rest,
            None => break,
        }
    }
    let tag = case.tag();
    let s = quoted_subject(s.replace(&tag, "").trim());
    let s = if s.is_empty() {
        "your security report".into()
    } else {
        s
    };
    format!("Re: {tag} {s}")
}

/// The template context of `ack.hbs`.
#[derive(Debug, Clone, Serialize)]
pub struct AckContext {
    pub project: ProjectView,
    pub case: CaseView,
    pub reporter: ReporterView,
    /// The policy's requests for what the report seems to lack.
    pub missing: Vec<String>,
    /// Kept for templates written before `window`.
    pub window_hours: u64,
    /// The response window as words: `48 hours`, `1 hour`.
    pub window: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProjectView {
    pub name: String,
    pub security_address: String,
    pub policy_url: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CaseView {
    pub id: String,
    pub tag: String,
    pub subject: String,
    pub received_at: String,
    pub response_due: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReporterView {
    pub name: String,
    pub address: String,
}

impl ProjectView {
    pub fn from_config(p: &crate::config::ProjectConfig) -> Self {
        ProjectView {
            name: p.name.clone(),
            security_address: p.security_address.clone(),
            policy_url: p.policy_url.clone(),
        }
    }
}

/// A readable UTC time for mail bodies: `Wed 25 Nov 2026 09:12 UTC`.
pub fn mail_time(t: DateTime<Utc>) -> String {
    t.format("%a %d %b %Y %H:%M UTC").to_string()
}

/// Everything the acknowledgement needs about one new case. It quotes the
/// case tag and [`quoted_subject`] — never the sender's display name or
/// body: the From line of a new report is unverified, and the ack must not
/// carry a stranger's chosen text to whoever it names.
#[allow(clippy::too_many_arguments)]
pub fn ack_context(
    project: ProjectView,
    id: &CaseId,
    subject: &str,
    reporter_address: &str,
    received_at: DateTime<Utc>,
    response_due_at: DateTime<Utc>,
    missing: &[ReportItem],
    window: std::time::Duration,
) -> AckContext {
    AckContext {
        project,
        case: CaseView {
            id: id.to_string(),
            tag: id.tag(),
            subject: quoted_subject(subject),
            received_at: mail_time(received_at),
            response_due: mail_time(response_due_at),
        },
        reporter: ReporterView {
            name: String::new(),
            address: reporter_address.to_string(),
        },
        missing: missing.iter().map(|m| m.request().to_string()).collect(),
        window_hours: window.as_secs().div_ceil(3600),
        window: crate::case::sla::spoken_duration(window),
    }
}

/// A filled-in context for `check` and tests; `hostile` goes everywhere a
/// reporter's text can.
pub fn sample_ack_context(hostile: &str) -> AckContext {
    use chrono::TimeZone;
    let id = CaseId {
        prefix: "SEC".into(),
        year: 2026,
        seq: 1,
    };
    let t = Utc
        .with_ymd_and_hms(2026, 11, 23, 9, 12, 44)
        .single()
        .unwrap_or_default();
    ack_context(
        ProjectView {
            name: "Example".into(),
            security_address: "security@example.org".into(),
            policy_url: "https://example.org/security".into(),
        },
        &id,
        hostile,
        "reporter@example.net",
        t,
        t + chrono::Duration::hours(48),
        &ReportItem::ALL,
        std::time::Duration::from_secs(48 * 3600),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> CaseId {
        CaseId::parse("SEC-2026-0007", "SEC").unwrap()
    }

    #[test]
    fn subjects_do_not_stack() {
        assert_eq!(
            reply_subject(&id(), "XSS in logs"),
            "Re: [SEC-2026-0007] XSS in logs"
        );
        assert_eq!(
            reply_subject(&id(), "Re: AW: [SEC-2026-0007] XSS"),
            "Re: [SEC-2026-0007] XSS"
        );
        assert_eq!(
            reply_subject(&id(), ""),
            "Re: [SEC-2026-0007] your security report"
        );
        assert_eq!(
            reply_subject(&id(), "a\r\nBcc: victim@example.com"),
            "Re: [SEC-2026-0007] a Bcc: victim@example.com"
        );
    }

    #[test]
    fn quoted_subjects_are_capped() {
        let long = "A".repeat(200);
        let q = quoted_subject(&long);
        assert_eq!(q.chars().count(), QUOTED_SUBJECT);
        assert!(q.ends_with('…'));
        assert_eq!(quoted_subject("short"), "short");
        let r = reply_subject(&id(), &long);
        assert!(r.chars().count() <= "Re: [SEC-2026-0007] ".len() + QUOTED_SUBJECT);
    }

    #[test]
    fn the_ack_never_carries_the_display_name() {
        let c = sample_ack_context("Buy cheap pills at evil.example");
        assert_eq!(c.reporter.name, "");
    }

    #[test]
    fn message_ids_are_stable_shapes() {
        let m = new_message_id(Some(&id()), OutKind::Ack, "abc123", "example.org");
        assert_eq!(m, "secdesk.sec-2026-0007.ack.abc123@example.org");
    }

    #[test]
    fn auto_submitted_by_kind() {
        assert_eq!(OutKind::Ack.auto_submitted(), Some("auto-replied"));
        assert_eq!(OutKind::Reminder.auto_submitted(), Some("auto-generated"));
        assert_eq!(OutKind::Reply.auto_submitted(), None);
    }

    #[test]
    fn ack_context_asks_for_missing_items() {
        let c = sample_ack_context("x");
        assert_eq!(c.missing.len(), 5);
        assert_eq!(c.window_hours, 48);
        assert_eq!(c.case.tag, "[SEC-2026-0001]");
    }
}
