//! Raw RFC 5322 bytes → [`Incoming`], a typed, sanitised view of a message.
//!
//! Every byte here is attacker-controlled. This module decodes (RFC 2047 and
//! 2231 words, any charset mail-parser knows, HTML-only bodies to text),
//! then makes each value safe to store and to show: header-like values lose
//! control characters (so a subject that decodes to CR/LF cannot become a
//! header later), everything is bounded in length and count, and attachment
//! names are kept for display only — never used as a path.

use chrono::{DateTime, TimeZone, Utc};
use mail_parser::{Addr, Address, HeaderValue, MessageParser, MimeHeaders};

use super::address::{clean_address, clean_message_id};
use super::headers::{self, HeaderProblem, RawHeaders};
use super::list_headers::{relay_headers, RelayHeaders};
use super::text::{clean_body, clean_line, display_file_name};
use sha2::{Digest, Sha256};

/// Longest subject, name or similar one-line value kept, in characters.
pub const MAX_LINE: usize = 500;
/// Most attachments recorded per message; the raw message still holds all.
pub const MAX_ATTACHMENTS: usize = 100;
/// Most Message-IDs taken from `References`/`In-Reply-To`, newest kept.
pub const MAX_REFERENCES: usize = 100;
/// Most recipients recorded.
pub const MAX_RECIPIENTS: usize = 50;

pub use super::address::Mailbox;

/// Header facts that decide whether a message may be answered (RFC 3834 and
/// the conventions of real auto-responders).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AutoHeaders {
    /// `Auto-Submitted` value, lower-cased, if present.
    pub auto_submitted: Option<String>,
    /// `Precedence` value, lower-cased, if present.
    pub precedence: Option<String>,
    pub list_id: bool,
    pub list_unsubscribe: bool,
    pub auto_response_suppress: bool,
    /// `X-Autoreply` or `X-Autorespond`.
    pub autoreply: bool,
    /// `Return-Path: <>` — read from the raw header, because mail-parser's
    /// `return_address()` falls back to From when Return-Path is empty.
    pub null_return_path: bool,
    /// Top-level `multipart/report` (DSN, MDN).
    pub delivery_report: bool,
    /// Our own `X-Secdesk-Loop` header.
    pub loop_header: bool,
}

/// An attachment: metadata for the case log, bytes for the blob store.
#[derive(Debug, Clone)]
pub struct Attachment {
    /// The name the sender gave, for display only: control characters and
    /// path separators removed. Never used to build a path.
    pub display_name: Option<String>,
    pub content_type: String,
    pub sha256: String,
    pub size: u64,
    /// The decoded bytes; emptied once they are in the blob store.
    pub data: Vec<u8>,
}

/// A parsed inbound message.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// Without angle brackets; `None` when absent or unusable.
    pub message_id: Option<String>,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    pub from: Option<Mailbox>,
    /// Why the author is ambiguous (two From fields, several mailboxes, a
    /// group): such a message is filed but never acknowledged.
    pub from_problem: Option<String>,
    pub to: Vec<Mailbox>,
    /// Cc, capped like `to`: with `to`, who a team message was written to.
    pub cc: Vec<Mailbox>,
    pub subject: String,
    pub date: Option<DateTime<Utc>>,
    pub body_text: String,
    /// SHA-256 of the raw body (the bytes after the header block): tells a
    /// second delivery of the same message from another message that claims
    /// its Message-ID.
    pub body_hash: String,
    /// Why the body was kept raw instead of parsed, if it was.
    pub body_skipped: Option<String>,
    pub attachments: Vec<Attachment>,
    /// How many attachments there were beyond [`MAX_ATTACHMENTS`].
    pub attachments_dropped: usize,
    pub auto: AutoHeaders,
    /// `Authentication-Results` header values, raw but one-lined.
    pub authentication_results: Vec<String>,
    /// What a relay (a group, a list) set: see [`super::relay`].
    pub relay: RelayHeaders,
    /// Set by [`super::relay::unwrap`] when the message came through our
    /// own relay: what the case should record about it.
    pub relayed: Option<String>,
    /// [`super::relay::unwrap`] replaced From with a sender our relay kept
    /// in another header (X-Original-From, Reply-To): the relay's
    /// authentication vouches for the relay, not for that sender.
    pub from_unwrapped: bool,
    /// The first message attached whole (`message/rfc822`), parsed: a
    /// forward as attachment ([`super::forward`]).
    pub attached: Option<Box<Incoming>>,
}

/// SHA-256 of `bytes`, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Why a message could not be parsed at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("empty message")]
    Empty,
    #[error("no header fields found: not an RFC 5322 message")]
    NoHeaders,
    #[error("no From, Sender, Date, Subject or Message-ID field: not a mail message")]
    NotAMessage,
    #[error("header block over {} bytes", headers::MAX_HEADER_BYTES)]
    HeaderTooLarge,
    #[error("more than {} header fields", headers::MAX_FIELDS)]
    TooManyFields,
}

/// Fields of which a real message has at least one (RFC 5322 §3.6 asks for
/// From and Date; relays and old clients drop some, never all).
const IDENTITY_FIELDS: &[&str] = &["From", "Sender", "Date", "Subject", "Message-ID"];

/// Parses a whole message.
pub fn parse(raw: &[u8]) -> Result<Incoming, ParseError> {
    parse_at(raw, 0)
}

/// `raw` without the whitespace-only lines before its first header: some
/// clients and archive tools write one (Thunderbird saved a forwarded
/// message after a line of 255 spaces), and a message that starts with one
/// would otherwise have no headers at all. The stored bytes keep it.
fn skip_blank_lines(raw: &[u8]) -> &[u8] {
    let mut rest = raw;
    while let Some(nl) = rest.iter().position(|&b| b == b'\n') {
        let (line, after) = rest.split_at(nl + 1);
        if !line.iter().all(|b| b.is_ascii_whitespace()) {
            break;
        }
        rest = after;
    }
    rest
}

/// Parses a message at `depth` (0 for what arrived, 1 for a message
/// attached to it): only the first level looks into an attached message,
/// so nesting costs nothing however deep it goes.
fn parse_at(raw: &[u8], depth: u8) -> Result<Incoming, ParseError> {
    if raw.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ParseError::Empty);
    }
    let raw = skip_blank_lines(raw);
    let block = headers::scan(raw).map_err(|p| match p {
        HeaderProblem::NoFields => ParseError::NoHeaders,
        HeaderProblem::TooLarge => ParseError::HeaderTooLarge,
        HeaderProblem::TooManyFields => ParseError::TooManyFields,
    })?;
    if !block.has_any(IDENTITY_FIELDS) {
        return Err(ParseError::NotAMessage);
    }
    let body = raw.get(block.body_offset..).unwrap_or_default();
    // mail-parser builds a structure per MIME part and per part header; on
    // a body made of nothing but tiny parts that is ~20x the input. Such a
    // body is kept raw and described, not parsed.
    let body_skipped = is_multipart(&block)
        .then(|| headers::body_shape(body).too_complex())
        .flatten();
    let parsed = match &body_skipped {
        None => MessageParser::default().parse(raw),
        Some(_) => MessageParser::default().parse_headers(&raw[..block.body_offset]),
    };
    let msg = parsed.ok_or(ParseError::NoHeaders)?;

    let (from, from_problem) = first_from(&msg, &block);
    let to = msg
        .to()
        .map(|a| a.iter().filter_map(mailbox).take(MAX_RECIPIENTS).collect())
        .unwrap_or_default();
    let cc = msg
        .cc()
        .map(|a| a.iter().filter_map(mailbox).take(MAX_RECIPIENTS).collect())
        .unwrap_or_default();

    let mut body_text = match &body_skipped {
        None => super::html::body_text(&msg),
        Some(why) => {
            format!("[secdesk: the body was not parsed: {why}. The raw message is kept whole.]")
        }
    };
    clean_body(&mut body_text);

    // A forward as attachment (`message/rfc822`): the forwarded report.
    let attached = if depth == 0 {
        msg.attachments()
            .find_map(|p| p.message())
            .and_then(|inner| parse_at(inner.raw_message(), depth + 1).ok())
            .map(Box::new)
    } else {
        None
    };
    let mut attachments = Vec::new();
    let mut attachments_dropped = 0;
    for part in msg.attachments() {
        if attachments.len() >= MAX_ATTACHMENTS {
            attachments_dropped += 1;
            continue;
        }
        let data = part.contents().to_vec();
        let content_type = part
            .content_type()
            .map(|ct| match ct.subtype() {
                Some(sub) => format!("{}/{}", ct.ctype(), sub),
                None => ct.ctype().to_string(),
            })
            .map(|s| clean_line(&s.to_ascii_lowercase(), 100))
            .unwrap_or_else(|| "application/octet-stream".into());
        attachments.push(Attachment {
            display_name: part.attachment_name().map(display_file_name),
            content_type,
            sha256: sha256_hex(&data),
            size: data.len() as u64,
            data,
        });
    }

    Ok(Incoming {
        message_id: msg.message_id().and_then(clean_message_id),
        in_reply_to: id_list(msg.in_reply_to()),
        references: id_list(msg.references()),
        from,
        from_problem,
        to,
        cc,
        subject: clean_line(msg.subject().unwrap_or(""), MAX_LINE),
        date: msg
            .date()
            .and_then(|d| Utc.timestamp_opt(d.to_timestamp(), 0).single()),
        body_text,
        body_hash: body_hash(body),
        body_skipped,
        attachments,
        attachments_dropped,
        auto: auto_headers(&msg),
        authentication_results: authentication_results(&block),
        relay: relay_headers(&block),
        relayed: None,
        from_unwrapped: false,
        attached,
    })
}

/// The hash that tells one message's body from another's: of the raw body
/// less trailing whitespace, which routes and archives add or drop (an
/// mbox keeps a blank line after each message, a relay may strip one).
fn body_hash(body: &[u8]) -> String {
    let end = body
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    sha256_hex(body.get(..end).unwrap_or(body))
}

/// Whether the top-level body is MIME-structured (parts, or a message).
fn is_multipart(block: &RawHeaders<'_>) -> bool {
    block.values("Content-Type").next().is_some_and(|ct| {
        let ct = ct.trim_start().to_ascii_lowercase();
        ct.starts_with("multipart/") || ct.starts_with("message/")
    })
}

/// `Authentication-Results` values from fields of exactly that name, top
/// first (see [`headers`] for why not mail-parser's).
fn authentication_results(block: &RawHeaders<'_>) -> Vec<String> {
    block
        .values("Authentication-Results")
        .take(20)
        .map(|v| clean_line(&v, 4000))
        .collect()
}

/// The reporter: the first mailbox of the *first* From field, and whether
/// the message names its author unambiguously. mail-parser's `from()` is
/// the last From field, and falling back to Sender would answer whoever a
/// group address (`undisclosed-recipients:;`) lets an attacker pick.
fn first_from(
    msg: &mail_parser::Message<'_>,
    block: &RawHeaders<'_>,
) -> (Option<Mailbox>, Option<String>) {
    let field = msg
        .headers()
        .iter()
        .find(|h| matches!(h.name, mail_parser::HeaderName::From));
    let (mailbox, problem) = match field.map(|h| h.value()) {
        Some(HeaderValue::Address(Address::List(list))) => {
            let problem = (list.len() > 1).then(|| format!("From names {} mailboxes", list.len()));
            (list.first().and_then(mailbox), problem)
        }
        Some(HeaderValue::Address(Address::Group(_))) => {
            (None, Some("From is a group, not a mailbox".to_string()))
        }
        _ => (None, None),
    };
    let count = block.count("From");
    let problem = if count > 1 {
        Some(format!("{count} From fields"))
    } else {
        problem
    };
    (mailbox, problem)
}

/// Reads only the header block: enough to record a message that is too big
/// to fetch or keep whole. Reads at most [`headers::DESCRIBE_BYTES`].
pub fn parse_headers(raw: &[u8]) -> Option<Incoming> {
    let raw = headers::describe_prefix(raw, headers::DESCRIBE_BYTES);
    let msg = MessageParser::default().parse_headers(raw)?;
    if msg.headers().is_empty() {
        return None;
    }
    let from = msg
        .headers()
        .iter()
        .find(|h| matches!(h.name, mail_parser::HeaderName::From))
        .and_then(|h| h.value().as_address())
        .and_then(|a| a.first())
        .and_then(mailbox);
    Some(Incoming {
        message_id: msg.message_id().and_then(clean_message_id),
        in_reply_to: id_list(msg.in_reply_to()),
        references: id_list(msg.references()),
        from,
        from_problem: None,
        to: Vec::new(),
        cc: Vec::new(),
        subject: clean_line(msg.subject().unwrap_or(""), MAX_LINE),
        date: msg
            .date()
            .and_then(|d| Utc.timestamp_opt(d.to_timestamp(), 0).single()),
        body_text: String::new(),
        body_hash: String::new(),
        body_skipped: None,
        attachments: Vec::new(),
        attachments_dropped: 0,
        auto: auto_headers(&msg),
        authentication_results: Vec::new(),
        relay: RelayHeaders::default(),
        relayed: None,
        from_unwrapped: false,
        attached: None,
    })
}

fn auto_headers(msg: &mail_parser::Message<'_>) -> AutoHeaders {
    let text = |name: &str| -> Option<String> {
        msg.header_raw(name)
            .map(|v| clean_line(v, 200).to_ascii_lowercase())
    };
    let has = |name: &str| msg.header_raw(name).is_some();
    let null_return_path = msg.header_raw("Return-Path").is_some_and(|v| {
        let inner: String = v.chars().filter(|c| !c.is_whitespace()).collect();
        inner == "<>" || inner.is_empty()
    });
    let delivery_report = msg.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("multipart")
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
    });
    AutoHeaders {
        auto_submitted: text("Auto-Submitted"),
        precedence: text("Precedence"),
        list_id: has("List-Id"),
        list_unsubscribe: has("List-Unsubscribe"),
        auto_response_suppress: has("X-Auto-Response-Suppress"),
        autoreply: has("X-Autoreply") || has("X-Autorespond"),
        null_return_path,
        delivery_report,
        loop_header: has(crate::mail::LOOP_HEADER),
    }
}

fn mailbox(a: &Addr<'_>) -> Option<Mailbox> {
    let address = clean_address(a.address()?)?;
    let name = a
        .name()
        .map(|n| clean_line(n, 200))
        .filter(|n| !n.is_empty());
    Some(Mailbox { address, name })
}

fn id_list(v: &HeaderValue<'_>) -> Vec<String> {
    let ids: Vec<String> = match v {
        HeaderValue::Text(t) => vec![t.to_string()],
        HeaderValue::TextList(l) => l.iter().map(|t| t.to_string()).collect(),
        _ => Vec::new(),
    };
    let mut ids: Vec<String> = ids.iter().filter_map(|i| clean_message_id(i)).collect();
    // The newest references are at the end and matter most.
    if ids.len() > MAX_REFERENCES {
        ids.drain(..ids.len() - MAX_REFERENCES);
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_lines_before_the_headers_are_skipped() {
        let m = parse(b"      \r\n\t\nFrom: a@b.example\r\nSubject: hi\r\n\r\nbody\r\n").unwrap();
        assert_eq!(m.from.map(|f| f.address).as_deref(), Some("a@b.example"));
        assert_eq!(m.subject, "hi");
        // Nothing but blank lines is still empty.
        assert!(matches!(parse(b" \r\n\r\n"), Err(ParseError::Empty)));
    }

    #[test]
    fn sample_report_parses() {
        let raw = include_bytes!("../../tests/data/01-report-complete.eml");
        let m = parse(raw).unwrap();
        assert_eq!(m.subject, "Prototype pollution in the rules engine");
        assert_eq!(
            m.from,
            Some(Mailbox {
                address: "sam@reporter.example".into(),
                name: Some("Sam Finder".into())
            })
        );
        assert_eq!(
            m.message_id.as_deref(),
            Some("20261123091244.4411@reporter.example")
        );
        assert!(m.body_text.contains("Steps to reproduce"));
        assert_eq!(m.auto, AutoHeaders::default());
    }

    #[test]
    fn encoded_words_and_attachments() {
        let raw = include_bytes!("../../tests/data/02-report-html-attachment.eml");
        let m = parse(raw).unwrap();
        assert_eq!(m.subject, "XSS en la vista de registros");
        assert_eq!(m.from.unwrap().name.as_deref(), Some("Ana María López"));
        assert!(m.body_text.contains("Versión 8.4.0"));
        assert_eq!(m.attachments.len(), 1);
        assert_eq!(
            m.attachments[0].display_name.as_deref(),
            Some("request.http")
        );
    }

    #[test]
    fn subject_decoding_to_crlf_stays_one_line() {
        let raw = b"From: a@example.net\r\nSubject: =?utf-8?q?hi=0D=0ABcc=3A_victim=40example=2Ecom?=\r\n\r\nbody";
        let m = parse(raw).unwrap();
        assert!(!m.subject.contains('\r') && !m.subject.contains('\n'));
        assert_eq!(m.subject, "hi Bcc: victim@example.com");
    }

    #[test]
    fn empty_and_headerless_input_is_an_error() {
        assert_eq!(parse(b"").unwrap_err(), ParseError::Empty);
        assert_eq!(parse(b"  \r\n").unwrap_err(), ParseError::Empty);
    }

    #[test]
    fn one_byte_and_fieldless_input_is_not_a_message() {
        assert_eq!(parse(b"x").unwrap_err(), ParseError::NoHeaders);
        assert_eq!(parse(b"a:b").unwrap_err(), ParseError::NotAMessage);
        assert!(parse(b"Subject: hi\r\n\r\nbody").is_ok());
    }

    #[test]
    fn the_first_from_is_the_reporter_and_ambiguity_is_flagged() {
        let m = parse(b"From: a@b.example\r\nFrom: c@d.example\r\n\r\nhi").unwrap();
        assert_eq!(m.from.unwrap().address, "a@b.example");
        assert_eq!(m.from_problem.as_deref(), Some("2 From fields"));
        let m = parse(b"From: a@b.example, c@d.example\r\nSender: a@b.example\r\n\r\nhi").unwrap();
        assert_eq!(m.from_problem.as_deref(), Some("From names 2 mailboxes"));
        // A group never falls back to Sender.
        let m = parse(b"From: undisclosed-recipients:;\r\nSender: s@x.example\r\n\r\nhi").unwrap();
        assert_eq!(m.from, None);
        assert!(m.from_problem.is_some());
        // A route address is not a mailbox.
        let m = parse(b"From: <@evil.example:victim@v.example>\r\n\r\nhi").unwrap();
        assert_eq!(m.from, None);
        let m = parse(b"From: Sam <sam@reporter.example>\r\n\r\nhi").unwrap();
        assert_eq!(m.from_problem, None);
    }

    #[test]
    fn body_hash_ignores_the_route() {
        let a = parse(b"Received: one\r\nFrom: a@b.example\r\n\r\nsame body").unwrap();
        let b = parse(b"Received: two\r\nReceived: three\r\nFrom: a@b.example\r\n\r\nsame body")
            .unwrap();
        let c = parse(b"From: a@b.example\r\n\r\nother body").unwrap();
        assert_eq!(a.body_hash, b.body_hash);
        assert_ne!(a.body_hash, c.body_hash);
    }

    #[test]
    fn hostile_shapes_are_bounded() {
        let mut many = b"From: a@b.example\r\n".to_vec();
        many.extend(b"X:a\r\n".repeat(20_000));
        assert_eq!(parse(&many).unwrap_err(), ParseError::TooManyFields);
        // A body of tiny MIME parts is kept raw, described, not parsed.
        let mut parts =
            b"From: a@b.example\r\nSubject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
                .to_vec();
        parts.extend(b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n".repeat(20_000));
        let m = parse(&parts).unwrap();
        assert!(m.body_skipped.is_some());
        assert!(m.body_text.contains("not parsed"), "{}", m.body_text);
        assert_eq!(m.subject, "s");
        // The same lines in a plain-text body are just text.
        let mut text = b"From: a@b.example\r\nSubject: s\r\n\r\n".to_vec();
        text.extend(b"--b\r\nKey: value\r\n".repeat(20_000));
        assert_eq!(parse(&text).unwrap().body_skipped, None);
    }
}
