//! Raw RFC 5322 bytes → [`Incoming`], a typed, sanitised view of a message.
//!
//! Every byte here is attacker-controlled. This module decodes (RFC 2047 and
//! 2231 words, any charset mail-parser knows, HTML-only bodies to text),
//! then makes each value safe to store and to show: header-like values lose
//! control characters (so a subject that decodes to CR/LF cannot become a
//! header later), everything is bounded in length and count, and attachment
//! names are kept for display only — never used as a path.

use chrono::{DateTime, TimeZone, Utc};
use mail_parser::{Addr, HeaderValue, MessageParser, MimeHeaders};
use sha2::{Digest, Sha256};

/// Longest subject, name or similar one-line value kept, in characters.
pub const MAX_LINE: usize = 500;
/// Longest body text kept in the case log (the raw message is kept whole).
pub const MAX_BODY: usize = 1_000_000;
/// Most attachments recorded per message; the raw message still holds all.
pub const MAX_ATTACHMENTS: usize = 100;
/// Most Message-IDs taken from `References`/`In-Reply-To`, newest kept.
pub const MAX_REFERENCES: usize = 100;
/// Most recipients recorded.
pub const MAX_RECIPIENTS: usize = 50;

/// A mailbox: an address (lower-cased, validated) and an optional display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    pub address: String,
    pub name: Option<String>,
}

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
    pub to: Vec<Mailbox>,
    pub subject: String,
    pub date: Option<DateTime<Utc>>,
    pub body_text: String,
    pub attachments: Vec<Attachment>,
    /// How many attachments there were beyond [`MAX_ATTACHMENTS`].
    pub attachments_dropped: usize,
    pub auto: AutoHeaders,
    /// `Authentication-Results` header values, raw but one-lined.
    pub authentication_results: Vec<String>,
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
}

/// Parses a whole message.
pub fn parse(raw: &[u8]) -> Result<Incoming, ParseError> {
    if raw.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ParseError::Empty);
    }
    let msg = MessageParser::default()
        .parse(raw)
        .ok_or(ParseError::NoHeaders)?;
    if msg.headers().is_empty() {
        return Err(ParseError::NoHeaders);
    }

    let from = msg
        .from()
        .and_then(|a| a.iter().find_map(mailbox))
        .or_else(|| msg.sender().and_then(|a| a.iter().find_map(mailbox)));
    let to = msg
        .to()
        .map(|a| a.iter().filter_map(mailbox).take(MAX_RECIPIENTS).collect())
        .unwrap_or_default();

    let mut body_text = msg.body_text(0).map(|b| b.into_owned()).unwrap_or_default();
    clean_body(&mut body_text);

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

    let auto = auto_headers(&msg);
    let authentication_results = msg
        .header_values("Authentication-Results")
        .filter_map(|v| v.as_text())
        .take(20)
        .map(|s| clean_line(s, 2000))
        .collect();

    Ok(Incoming {
        message_id: msg.message_id().and_then(clean_message_id),
        in_reply_to: id_list(msg.in_reply_to()),
        references: id_list(msg.references()),
        from,
        to,
        subject: clean_line(msg.subject().unwrap_or(""), MAX_LINE),
        date: msg
            .date()
            .and_then(|d| Utc.timestamp_opt(d.to_timestamp(), 0).single()),
        body_text,
        attachments,
        attachments_dropped,
        auto,
        authentication_results,
    })
}

/// Reads only the header block: enough to record a message that is too big
/// to fetch or keep whole.
pub fn parse_headers(raw: &[u8]) -> Option<Incoming> {
    let msg = MessageParser::default().parse_headers(raw)?;
    if msg.headers().is_empty() {
        return None;
    }
    let from = msg.from().and_then(|a| a.iter().find_map(mailbox));
    Some(Incoming {
        message_id: msg.message_id().and_then(clean_message_id),
        in_reply_to: id_list(msg.in_reply_to()),
        references: id_list(msg.references()),
        from,
        to: Vec::new(),
        subject: clean_line(msg.subject().unwrap_or(""), MAX_LINE),
        date: msg
            .date()
            .and_then(|d| Utc.timestamp_opt(d.to_timestamp(), 0).single()),
        body_text: String::new(),
        attachments: Vec::new(),
        attachments_dropped: 0,
        auto: auto_headers(&msg),
        authentication_results: Vec::new(),
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

/// A usable reply address: `local@domain`, printable ASCII or UTF-8 letters,
/// nothing that could break out of a header. Lower-cased for comparison.
pub fn clean_address(s: &str) -> Option<String> {
    let a = s.trim();
    if a.is_empty() || a.len() > 254 {
        return None;
    }
    let (local, domain) = a.rsplit_once('@')?;
    if local.is_empty() || domain.is_empty() || domain.starts_with('.') || domain.ends_with('.') {
        return None;
    }
    let bad = |c: char| {
        c.is_control()
            || c.is_whitespace()
            || matches!(
                c,
                '<' | '>' | ',' | ';' | '"' | '\\' | '(' | ')' | '[' | ']'
            )
    };
    if a.chars().any(bad) || domain.contains('@') {
        return None;
    }
    Some(a.to_lowercase())
}

/// A Message-ID without brackets, or `None` if it is not usable as a key.
pub fn clean_message_id(s: &str) -> Option<String> {
    let id = s
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim();
    if id.is_empty()
        || id.len() > 250
        || id
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '<' || c == '>')
    {
        return None;
    }
    Some(id.to_string())
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

/// One line of display text: control characters (CR, LF, NUL, TAB, the
/// Unicode line and paragraph separators, bidi overrides) become spaces,
/// runs of space collapse, and the result is cut at `max` characters.
pub fn clean_line(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max * 4));
    let mut space = false;
    let mut count = 0;
    for c in s.chars() {
        let c = if c.is_control()
            || c.is_whitespace()
            || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        {
            ' '
        } else {
            c
        };
        if c == ' ' {
            if space || out.is_empty() {
                continue;
            }
            space = true;
        } else {
            space = false;
        }
        if count >= max {
            break;
        }
        out.push(c);
        count += 1;
    }
    out.truncate(out.trim_end().len());
    out
}

/// Body text for the case log: NULs and other C0 controls (but newline and
/// tab) removed, bounded in size.
fn clean_body(s: &mut String) {
    s.retain(|c| c == '\n' || c == '\t' || !(c.is_control()));
    if s.len() > MAX_BODY {
        let mut cut = MAX_BODY;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
}

/// An attachment name fit for display: the last path component only,
/// control characters gone, bounded.
pub fn display_file_name(name: &str) -> String {
    let last = name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("")
        .trim_start_matches('.');
    let cleaned = clean_line(last, 200);
    if cleaned.is_empty() {
        "unnamed".into()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn hostile_file_names_are_display_only() {
        assert_eq!(display_file_name("../../etc/passwd"), "passwd");
        assert_eq!(display_file_name("/etc/shadow"), "shadow");
        assert_eq!(display_file_name("..\\..\\win.ini"), "win.ini");
        assert_eq!(display_file_name(".."), "unnamed");
        assert_eq!(display_file_name("a\r\nb"), "a b");
    }

    #[test]
    fn addresses_that_could_break_a_header_are_refused() {
        assert_eq!(
            clean_address("Jane@Example.NET").as_deref(),
            Some("jane@example.net")
        );
        assert_eq!(clean_address("a@b\r\nBcc: x@y"), None);
        assert_eq!(clean_address("a,b@c"), None);
        assert_eq!(clean_address("noat"), None);
        assert_eq!(clean_address("a@"), None);
    }

    #[test]
    fn empty_and_headerless_input_is_an_error() {
        assert_eq!(parse(b"").unwrap_err(), ParseError::Empty);
        assert_eq!(parse(b"  \r\n").unwrap_err(), ParseError::Empty);
    }

    #[test]
    fn clean_line_bounds_and_collapses() {
        assert_eq!(clean_line("  a \t\0 b\u{2028}c  ", 100), "a b c");
        assert_eq!(clean_line(&"x".repeat(1000), 10).len(), 10);
        assert_eq!(clean_line("ab\u{202e}cd", 100), "ab cd");
    }
}
