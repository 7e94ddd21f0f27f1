//! Which inbound mail may be answered, and why not.
//!
//! The rules are DESIGN.md's, after RFC 3834 §2 ("automatic responses should
//! not be sent in response to automatic responses, list mail, or bounces")
//! plus the headers real auto-responders set. A message that must not be
//! answered is still stored and threaded; the reason is recorded.

use super::parse::Incoming;

/// Whether a message gets an automatic reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Classification {
    /// A person wrote this; an acknowledgement may be sent.
    Answerable,
    /// Must not be answered automatically.
    NoReply(NoReply),
}

/// Why a message must not be answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoReply {
    /// Our own `X-Secdesk-Loop` header: one of our mails came back.
    LoopHeader,
    /// From secdesk's own address, with one of our Message-IDs: our mail
    /// come back.
    OwnAddress,
    /// From secdesk's own address but not mail we sent (no loop header, no
    /// Message-ID of ours): a group or list that rewrote From, most likely.
    /// Filed as a case, never lost, never answered.
    ForeignOwnAddress,
    /// `Auto-Submitted` present and not `no` (RFC 3834 §5).
    AutoSubmitted,
    /// `multipart/report`: a delivery or read notification (RFC 3462).
    DeliveryReport,
    /// `Return-Path: <>`: a bounce or other null-sender mail.
    NullReturnPath,
    /// From `MAILER-DAEMON` or `postmaster`.
    MailerDaemon,
    /// `X-Auto-Response-Suppress` (Exchange) present.
    AutoResponseSuppress,
    /// `X-Autoreply` / `X-Autorespond` present.
    AutoreplyHeader,
    /// `Precedence: auto_reply` or `junk`.
    PrecedenceAuto,
    /// `Precedence: bulk` or `list`.
    PrecedenceBulk,
    /// `List-Id` or `List-Unsubscribe`: mailing-list traffic.
    MailingList,
    /// Two From fields, several mailboxes in From, or a group: who wrote it
    /// is not one plain mailbox, so nobody is acknowledged.
    AmbiguousSender,
    /// From the lead or a team member.
    TeamMember,
    /// No usable From address to answer.
    NoSender,
}

impl NoReply {
    /// The stable name recorded in the case log and shown by `show --json`.
    pub fn as_str(self) -> &'static str {
        match self {
            NoReply::LoopHeader => "loop_header",
            NoReply::OwnAddress => "own_address",
            NoReply::ForeignOwnAddress => "from_our_address",
            NoReply::AutoSubmitted => "auto_submitted",
            NoReply::DeliveryReport => "delivery_report",
            NoReply::NullReturnPath => "null_return_path",
            NoReply::MailerDaemon => "mailer_daemon",
            NoReply::AutoResponseSuppress => "auto_response_suppress",
            NoReply::AutoreplyHeader => "autoreply_header",
            NoReply::PrecedenceAuto => "precedence_auto",
            NoReply::PrecedenceBulk => "precedence_bulk",
            NoReply::MailingList => "mailing_list",
            NoReply::AmbiguousSender => "ambiguous_sender",
            NoReply::TeamMember => "team_member",
            NoReply::NoSender => "no_sender",
        }
    }

    /// Whether such a message, when it belongs to no case, still opens one.
    ///
    /// Machine-made mail (bounces, vacation replies, our own loops) never
    /// does: that would turn backscatter into cases. Mail a person may have
    /// written does — a report relayed through a list or forwarded by a team
    /// member is still a report — it just gets no acknowledgement.
    pub fn opens_case(self) -> bool {
        matches!(
            self,
            NoReply::PrecedenceBulk
                | NoReply::MailingList
                | NoReply::AmbiguousSender
                | NoReply::ForeignOwnAddress
                | NoReply::TeamMember
                | NoReply::NoSender
        )
    }
}

impl Classification {
    /// `"answerable"` or the [`NoReply`] name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Classification::Answerable => "answerable",
            Classification::NoReply(r) => r.as_str(),
        }
    }
}

/// Who "we" are, for the own-address and team rules.
#[derive(Debug, Clone, Copy)]
pub struct Identity<'a> {
    /// secdesk's own addresses (the security inbox, the SMTP from), lower-case.
    pub own: &'a [String],
    /// Lead and members, lower-case.
    pub team: &'a [String],
    /// Where our Message-IDs live (`secdesk.…@domain`).
    pub domain: &'a str,
}

impl Identity<'_> {
    /// Whether `m` carries one of our Message-IDs.
    fn ours(&self, m: &Incoming) -> bool {
        m.message_id.as_deref().is_some_and(|id| {
            id.starts_with("secdesk.")
                && id
                    .rsplit_once('@')
                    .is_some_and(|(_, d)| d.eq_ignore_ascii_case(self.domain))
        })
    }
}

/// Classifies one message. The first matching rule wins; the order puts the
/// most certain signals (our own loop header) first.
pub fn classify(m: &Incoming, who: Identity<'_>) -> Classification {
    use NoReply::*;
    let a = &m.auto;
    let sender = m.from.as_ref().map(|f| f.address.as_str());
    let local = sender
        .and_then(|s| s.split('@').next())
        .unwrap_or("")
        .to_ascii_lowercase();
    let rule = if a.loop_header {
        Some(LoopHeader)
    } else if sender.is_some_and(|s| who.own.iter().any(|o| o == s)) && who.ours(m) {
        Some(OwnAddress)
    } else if a.auto_submitted.as_deref().is_some_and(|v| {
        // "Auto-Submitted: no (comment)" is a person's mail.
        v.split(|c: char| c == ';' || c == '(' || c.is_whitespace())
            .next()
            .unwrap_or("")
            != "no"
    }) {
        Some(AutoSubmitted)
    } else if a.delivery_report {
        Some(DeliveryReport)
    } else if a.null_return_path {
        Some(NullReturnPath)
    } else if local == "mailer-daemon" || local == "postmaster" {
        Some(MailerDaemon)
    } else if a.auto_response_suppress {
        Some(AutoResponseSuppress)
    } else if a.autoreply {
        Some(AutoreplyHeader)
    } else if let Some(p) = a.precedence.as_deref() {
        match p.trim() {
            "auto_reply" | "junk" => Some(PrecedenceAuto),
            "bulk" | "list" => Some(PrecedenceBulk),
            _ => None,
        }
    } else {
        None
    };
    let rule = rule.or(if a.list_id || a.list_unsubscribe {
        Some(MailingList)
    } else if m.from_problem.is_some() {
        Some(AmbiguousSender)
    } else if sender.is_some_and(|s| who.own.iter().any(|o| o == s)) {
        Some(ForeignOwnAddress)
    } else if sender.is_some_and(|s| who.team.iter().any(|t| t == s)) {
        Some(TeamMember)
    } else if sender.is_none() {
        Some(NoSender)
    } else {
        None
    });
    match rule {
        Some(r) => Classification::NoReply(r),
        None => Classification::Answerable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::parse::parse;

    fn classify_raw(headers: &str) -> Classification {
        let raw = format!("{headers}Subject: hello\r\nMessage-ID: <x@y>\r\n\r\nbody\r\n");
        let m = parse(raw.as_bytes()).unwrap();
        let own = vec!["security@example.org".to_string()];
        let team = vec![
            "lead@example.org".to_string(),
            "dev@example.org".to_string(),
        ];
        classify(
            &m,
            Identity {
                own: &own,
                team: &team,
                domain: "example.org",
            },
        )
    }

    /// One message per rule, and the negatives next to them.
    #[test]
    fn every_rule() {
        use Classification::{Answerable as A, NoReply as N};
        use NoReply::*;
        let from = "From: Jane <jane@reporter.example>\r\n";
        let table: Vec<(String, Classification)> = vec![
            (from.to_string(), A),
            (format!("{from}Auto-Submitted: auto-replied\r\n"), N(AutoSubmitted)),
            (format!("{from}Auto-Submitted: auto-generated\r\n"), N(AutoSubmitted)),
            (format!("{from}Auto-Submitted: no\r\n"), A),
            (format!("{from}Auto-Submitted: No (sent by a person)\r\n"), A),
            (format!("{from}Precedence: bulk\r\n"), N(PrecedenceBulk)),
            (format!("{from}Precedence: list\r\n"), N(PrecedenceBulk)),
            (format!("{from}Precedence: junk\r\n"), N(PrecedenceAuto)),
            (format!("{from}Precedence: auto_reply\r\n"), N(PrecedenceAuto)),
            (format!("{from}Precedence: first-class\r\n"), A),
            (format!("{from}List-Id: <dev.lists.example>\r\n"), N(MailingList)),
            (
                format!("{from}List-Unsubscribe: <mailto:u@lists.example>\r\n"),
                N(MailingList),
            ),
            (format!("{from}X-Auto-Response-Suppress: All\r\n"), N(AutoResponseSuppress)),
            (format!("{from}X-Autoreply: yes\r\n"), N(AutoreplyHeader)),
            (format!("{from}X-Autorespond: yes\r\n"), N(AutoreplyHeader)),
            (format!("Return-Path: <>\r\n{from}"), N(NullReturnPath)),
            (format!("Return-Path: < >\r\n{from}"), N(NullReturnPath)),
            (format!("Return-Path: <jane@reporter.example>\r\n{from}"), A),
            ("From: MAILER-DAEMON@mx.example\r\n".into(), N(MailerDaemon)),
            ("From: postmaster@mx.example\r\n".into(), N(MailerDaemon)),
            ("From: daemon-fan@mx.example\r\n".into(), A),
            (
                format!("{from}Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n"),
                N(DeliveryReport),
            ),
            ("From: security@example.org\r\n".into(), N(ForeignOwnAddress)),
            ("From: Security@Example.org\r\n".into(), N(ForeignOwnAddress)),
            ("From: lead@example.org\r\n".into(), N(TeamMember)),
            ("From: dev@example.org\r\n".into(), N(TeamMember)),
            ("From: developer@example.org\r\n".into(), A),
            (format!("{from}X-Secdesk-Loop: security@example.org\r\n"), N(LoopHeader)),
            ("To: security@example.org\r\n".into(), N(NoSender)),
            (format!("{from}From: other@reporter.example\r\n"), N(AmbiguousSender)),
            ("From: lead@example.org\r\nFrom: jane@reporter.example\r\n".into(), N(AmbiguousSender)),
            ("From: undisclosed-recipients:;\r\nSender: s@x.example\r\n".into(), N(AmbiguousSender)),
            ("From: <@evil.example:victim@v.example>\r\n".into(), N(NoSender)),
            ("From: not an address\r\n".into(), N(NoSender)),
        ];
        for (headers, want) in table {
            assert_eq!(classify_raw(&headers), want, "headers: {headers:?}");
        }
    }

    #[test]
    fn our_own_mail_is_ours_only_with_our_message_id() {
        let own = vec!["security@example.org".to_string()];
        let who = Identity {
            own: &own,
            team: &[],
            domain: "example.org",
        };
        let ours = parse(
            b"From: security@example.org\r\nMessage-ID: <secdesk.sec-2026-0001.ack.ab@example.org>\r\n\r\nx",
        )
        .unwrap();
        assert_eq!(
            classify(&ours, who),
            Classification::NoReply(NoReply::OwnAddress)
        );
        let forged =
            parse(b"From: security@example.org\r\nMessage-ID: <secdesk.x@evil.example>\r\n\r\nx")
                .unwrap();
        assert_eq!(
            classify(&forged, who),
            Classification::NoReply(NoReply::ForeignOwnAddress)
        );
        assert!(NoReply::ForeignOwnAddress.opens_case());
    }

    #[test]
    fn sample_out_of_office_is_not_answered() {
        let raw = include_bytes!("../../tests/data/03-out-of-office.eml");
        let m = parse(raw).unwrap();
        let c = classify(
            &m,
            Identity {
                own: &[],
                team: &[],
                domain: "example.org",
            },
        );
        assert_eq!(c, Classification::NoReply(NoReply::AutoSubmitted));
    }

    #[test]
    fn which_kinds_open_cases() {
        assert!(!NoReply::AutoSubmitted.opens_case());
        assert!(!NoReply::LoopHeader.opens_case());
        assert!(!NoReply::DeliveryReport.opens_case());
        assert!(NoReply::MailingList.opens_case());
        assert!(NoReply::TeamMember.opens_case());
    }
}
