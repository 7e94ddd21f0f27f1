//! An outbox row → a lettre message with secdesk's headers.
//!
//! Every value is re-sanitised here, whatever the row holds: the subject
//! is one line, Message-IDs are checked tokens, recipients are parsed as
//! addresses — nothing from a reporter reaches a header unencoded.

use anyhow::{anyhow, Context, Result};
use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::Mailbox;
use lettre::Message;

use crate::mail::address::{clean_message_id, is_msg_id};
use crate::mail::compose::OutKind;
use crate::mail::text::clean_line;
use crate::mail::LOOP_HEADER;
use crate::store::outbox::QueuedMail;

/// `Auto-Submitted` (RFC 3834 §5).
#[derive(Debug, Clone)]
pub struct AutoSubmitted(pub &'static str);

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }
    fn parse(s: &str) -> std::result::Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        match s.trim() {
            "auto-replied" => Ok(AutoSubmitted("auto-replied")),
            "auto-generated" => Ok(AutoSubmitted("auto-generated")),
            _ => Ok(AutoSubmitted("no")),
        }
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.to_string())
    }
}

/// Our loop header: its value is our own address.
#[derive(Debug, Clone)]
pub struct SecdeskLoop(pub String);

impl Header for SecdeskLoop {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str(LOOP_HEADER)
    }
    fn parse(s: &str) -> std::result::Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(SecdeskLoop(s.trim().to_string()))
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), clean_line(&self.0, 200))
    }
}

/// `X-Auto-Response-Suppress: All`, so Exchange auto-replies stay quiet.
#[derive(Debug, Clone)]
pub struct AutoResponseSuppress;

impl Header for AutoResponseSuppress {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("X-Auto-Response-Suppress")
    }
    fn parse(_: &str) -> std::result::Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoResponseSuppress)
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "All".to_string())
    }
}

/// `Subject`, written so that what the reporter's client shows is exactly
/// the text we filed. lettre encodes only non-ASCII words; an ASCII word
/// that looks like an encoded word (`=?utf-8?b?…?=`, which a reporter can
/// put in a subject literally) would go out as is and be decoded by the
/// client into other text. Such a subject is RFC 2047-encoded whole.
#[derive(Debug, Clone)]
pub struct Subject(pub String);

impl Header for Subject {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Subject")
    }
    fn parse(s: &str) -> std::result::Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Subject(s.to_string()))
    }
    fn display(&self) -> HeaderValue {
        if !self.0.contains("=?") {
            return HeaderValue::new(Self::name(), self.0.clone());
        }
        let mut encoded = String::new();
        {
            let line_len = "Subject: ".len();
            let mut w =
                email_encoding::headers::writer::EmailWriter::new(&mut encoded, line_len, 0, false);
            // Writing to a String cannot fail.
            let _ = email_encoding::headers::rfc2047::encode(&self.0, &mut w);
        }
        // Pre-encoded: the value is base64 words and folding only, so no
        // byte of the subject reaches the header unencoded.
        HeaderValue::dangerous_new_pre_encoded(Self::name(), self.0.clone(), encoded)
    }
}

/// Builds the wire message for `m`, from `from` (named `from_name`).
pub fn build(m: &QueuedMail, from: &str, from_name: &str) -> Result<Message> {
    let from_mailbox = Mailbox::new(
        Some(clean_line(from_name, 100)).filter(|n| !n.is_empty()),
        from.parse()
            .with_context(|| format!("smtp.from {from:?}"))?,
    );
    let message_id = clean_message_id(&m.message_id)
        .ok_or_else(|| anyhow!("outbox row {} has an unusable Message-ID", m.id))?;
    let mut b = Message::builder()
        .from(from_mailbox)
        .header(Subject(clean_line(&m.subject, 300)))
        .message_id(Some(format!("<{message_id}>")))
        .date_now()
        .header(SecdeskLoop(from.to_string()))
        .header(ContentType::TEXT_PLAIN);
    for to in &m.to {
        let addr = to
            .parse()
            .with_context(|| format!("outbox row {}: bad recipient {to:?}", m.id))?;
        b = b.to(Mailbox::new(None, addr));
    }
    if let Some(kind) = OutKind::from_name(&m.kind) {
        if let Some(v) = kind.auto_submitted() {
            b = b.header(AutoSubmitted(v)).header(AutoResponseSuppress);
        }
    }
    // Only RFC 5322 msg-ids are echoed: a reporter's Message-ID with
    // quotes, commas, comments or encoded words stays out of our headers.
    if let Some(irt) = m.in_reply_to.as_deref().filter(|i| is_msg_id(i)) {
        b = b.in_reply_to(format!("<{irt}>"));
    }
    let refs: Vec<String> = m
        .references
        .iter()
        .filter(|r| is_msg_id(r))
        .map(|r| format!("<{r}>"))
        .collect();
    if !refs.is_empty() {
        b = b.references(refs.join(" "));
    }
    b.body(m.body.clone())
        .with_context(|| format!("building outbox row {}", m.id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> QueuedMail {
        QueuedMail {
            id: 1,
            case_id: Some("SEC-2026-0001".into()),
            kind: "ack".into(),
            message_id: "secdesk.sec-2026-0001.ack.abc@example.org".into(),
            to: vec!["jane@example.net".into()],
            subject: "Re: [SEC-2026-0001] Hello\r\nBcc: victim@example.com".into(),
            body: "Thanks.\n".into(),
            in_reply_to: Some("orig@reporter.example".into()),
            references: vec!["a@x".into(), "orig@reporter.example".into()],
            attempts: 0,
            created_at: String::new(),
        }
    }

    #[test]
    fn headers_are_set_and_safe() {
        let msg = build(&row(), "security@example.org", "Example security").unwrap();
        let wire = String::from_utf8(msg.formatted()).unwrap();
        assert!(wire.contains("Auto-Submitted: auto-replied\r\n"), "{wire}");
        assert!(wire.contains("X-Secdesk-Loop: security@example.org\r\n"));
        assert!(wire.contains("In-Reply-To: <orig@reporter.example>\r\n"));
        assert!(wire.contains("References: <a@x> <orig@reporter.example>\r\n"));
        assert!(wire.contains("Message-ID: <secdesk.sec-2026-0001.ack.abc@example.org>\r\n"));
        assert!(!wire.contains("\r\nBcc:"), "{wire}");
        assert!(wire.contains("Subject: Re: [SEC-2026-0001] Hello Bcc: victim@example.com\r\n"));
    }

    #[test]
    fn replies_by_people_are_not_auto_submitted() {
        let mut r = row();
        r.kind = "reply".into();
        let wire =
            String::from_utf8(build(&r, "security@example.org", "").unwrap().formatted()).unwrap();
        assert!(!wire.contains("Auto-Submitted"));
        assert!(wire.contains("X-Secdesk-Loop"));
    }

    #[test]
    fn only_plain_msg_ids_are_echoed() {
        let mut r = row();
        r.in_reply_to = Some("a\"b,c(d)@x".into());
        r.references = vec![
            "=?utf-8?q?x?=@y".into(),
            "caf\u{e9}@z".into(),
            "ok.1@reporter.example".into(),
        ];
        let wire =
            String::from_utf8(build(&r, "security@example.org", "").unwrap().formatted()).unwrap();
        assert!(!wire.contains("In-Reply-To"), "{wire}");
        assert!(
            wire.contains("References: <ok.1@reporter.example>\r\n"),
            "{wire}"
        );
    }

    #[test]
    fn a_literal_encoded_word_in_the_subject_is_sent_encoded() {
        let mut r = row();
        r.subject = "Re: [SEC-2026-0001] =?utf-8?b?SGFja2Vk?= hi".into();
        let wire =
            String::from_utf8(build(&r, "security@example.org", "").unwrap().formatted()).unwrap();
        let subject = wire
            .split("\r\n")
            .skip_while(|l| !l.starts_with("Subject:"))
            .take_while(|l| l.starts_with("Subject:") || l.starts_with(' '))
            .collect::<Vec<_>>()
            .join("\r\n");
        assert!(!subject.contains("SGFja2Vk?="), "{subject}");
        // What a client decodes is the text we filed.
        let parsed = mail_parser::MessageParser::default()
            .parse(wire.as_bytes())
            .unwrap();
        assert_eq!(parsed.subject(), Some(r.subject.as_str()));
    }

    #[test]
    fn bad_recipients_are_refused() {
        let mut r = row();
        r.to = vec!["a@b\r\nBcc: c@d".into()];
        assert!(build(&r, "security@example.org", "").is_err());
    }
}
