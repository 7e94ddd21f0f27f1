//! A report a team member forwards: they received it privately and bring
//! it to the security inbox, inline (Gmail's "---------- Forwarded message
//! ---------", Apple Mail's "Begin forwarded message:", Thunderbird's
//! "-------- Forwarded Message --------", Outlook's "-----Original
//! Message-----" or its "From: … Sent: …" block) or as an attached
//! `message/rfc822`. The case belongs to the original sender, its text is
//! the forwarded message, and nobody is acknowledged automatically. Pure.

use super::address::parse_mailbox;
use super::parse::{Incoming, Mailbox};
use super::text::clean_line;

/// The forwarded report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forwarded {
    /// Who wrote it.
    pub from: Mailbox,
    pub subject: String,
    /// Its text, for the case and the missing-items check.
    pub body: String,
    /// How it was forwarded: `inline` or `attached`.
    pub how: &'static str,
}

/// Lines that start an inline forward, lower-cased and trimmed of dashes
/// and spaces (clients vary the number of dashes).
const MARKERS: &[&str] = &[
    "forwarded message",
    "begin forwarded message:",
    "original message",
    "message transféré",
    "weitergeleitete nachricht",
    "mensaje reenviado",
];

/// The report `m` forwards, if it forwards one.
pub fn forwarded(m: &Incoming) -> Option<Forwarded> {
    if let Some(inner) = &m.attached {
        if let Some(from) = inner.from.clone() {
            return Some(Forwarded {
                from,
                subject: inner.subject.clone(),
                body: inner.body_text.clone(),
                how: "attached",
            });
        }
    }
    inline(&m.body_text)
}

/// An inline forward: a marker line (or an Outlook header block starting
/// with `From:`), the forwarded header lines, then its body.
fn inline(body: &str) -> Option<Forwarded> {
    let lines: Vec<&str> = body.lines().collect();
    let start = lines.iter().position(|l| {
        let t = l
            .trim()
            .trim_matches(|c: char| c == '-' || c == ' ')
            .to_lowercase();
        MARKERS.iter().any(|m| t == *m)
    });
    // Outlook without a marker: a quoted header block whose first line is
    // `From:` and which has `Sent:` within the next lines.
    let start = start.map(|i| i + 1).or_else(|| {
        lines.iter().enumerate().position(|(i, l)| {
            l.trim_start().starts_with("From:")
                && lines
                    .iter()
                    .skip(i + 1)
                    .take(4)
                    .any(|n| n.trim_start().starts_with("Sent:"))
        })
    })?;
    let mut from = None;
    let mut subject = String::new();
    let mut i = start;
    // The forwarded header block: `Name: value` lines, maybe preceded by
    // blank ones, up to the first blank line after them.
    while lines.get(i).is_some_and(|l| l.trim().is_empty()) {
        i += 1;
    }
    while let Some(l) = lines.get(i).map(|l| l.trim()) {
        if l.is_empty() {
            break;
        }
        if let Some((name, value)) = l.split_once(':') {
            match name.trim().to_ascii_lowercase().as_str() {
                "from" | "von" | "de" => from = forwarded_sender(value),
                "subject" | "betreff" | "asunto" | "objet" => subject = clean_line(value, 500),
                _ => {}
            }
        }
        i += 1;
    }
    let body = lines.get(i..).unwrap_or_default().join("\n");
    Some(Forwarded {
        from: from?,
        subject,
        body: body.trim().to_string(),
        how: "inline",
    })
}

/// The sender of an inline forward: `Name <a@b>`, `a@b`, or Outlook's
/// `Name [mailto:a@b]` and `Name <mailto:a@b>`.
fn forwarded_sender(value: &str) -> Option<Mailbox> {
    let v = value
        .replace("[mailto:", "<")
        .replace("<mailto:", "<")
        .replace(']', ">");
    parse_mailbox(&v).or_else(|| {
        // `Name <a@b> on behalf of …` and other decorations: the first
        // bracketed address.
        let inner = v.split('<').nth(1)?.split('>').next()?;
        parse_mailbox(inner)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::parse::parse;

    fn fwd(raw: &str) -> Option<Forwarded> {
        forwarded(&parse(raw.as_bytes()).unwrap())
    }

    #[test]
    fn a_gmail_inline_forward() {
        let f = fwd(
            "From: Dev <dev@example.org>\r\nSubject: Fwd: XSS in logs\r\n\r\n\
             FYI, this came to me directly.\r\n\r\n\
             ---------- Forwarded message ---------\r\n\
             From: Ana Lopez <ana@reporter.example>\r\n\
             Date: Mon, Nov 23, 2026 at 9:12 AM\r\n\
             Subject: XSS in logs\r\n\
             To: <dev@example.org>\r\n\r\n\
             Steps to reproduce:\r\n1. open the log view\r\n2. see the alert\r\n",
        )
        .unwrap();
        assert_eq!(f.from.address, "ana@reporter.example");
        assert_eq!(f.subject, "XSS in logs");
        assert!(f.body.starts_with("Steps to reproduce:"), "{}", f.body);
        assert_eq!(f.how, "inline");
    }

    #[test]
    fn an_outlook_forward_without_a_marker() {
        let f = fwd("From: Dev <dev@example.org>\r\nSubject: FW: crash\r\n\r\n\
             see below\r\n\r\n\
             From: Bob Builder [mailto:bob@reporter.example]\r\n\
             Sent: Monday, November 23, 2026 9:12 AM\r\n\
             To: Dev <dev@example.org>\r\n\
             Subject: crash\r\n\r\n\
             It crashes.\r\n")
        .unwrap();
        assert_eq!(f.from.address, "bob@reporter.example");
        assert_eq!(f.body, "It crashes.");
    }

    #[test]
    fn a_forward_as_attachment() {
        let f = fwd(
            "From: Dev <dev@example.org>\r\nSubject: Fwd: report\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=b\r\n\r\n\
             --b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n\
             --b\r\nContent-Type: message/rfc822\r\n\r\n\
             From: Carol <carol@reporter.example>\r\nSubject: SSRF\r\n\r\nThe proxy fetches any URL.\r\n\
             --b--\r\n",
        )
        .unwrap();
        assert_eq!(f.from.address, "carol@reporter.example");
        assert_eq!(f.subject, "SSRF");
        assert!(f.body.contains("any URL"));
        assert_eq!(f.how, "attached");
    }

    #[test]
    fn ordinary_mail_is_not_a_forward() {
        assert_eq!(
            fwd("From: dev@example.org\r\nSubject: hi\r\n\r\nFrom now on: fine.\r\n"),
            None
        );
        // A marker without a sender gives nothing to credit.
        assert_eq!(
            fwd("From: dev@example.org\r\n\r\n---------- Forwarded message ---------\r\nhello\r\n"),
            None
        );
    }
}
