//! Addresses and Message-IDs as RFC 5322 writes them: which a reporter's
//! mail may give us to answer (a plain `local@domain`, nothing else) and
//! which of its Message-IDs we may echo in a header of ours.

/// A usable reply address: a plain `local@domain` mailbox and nothing else.
/// The local part is a dot-atom (RFC 5322 §3.4.1; no quoted strings), the
/// domain a dot-separated host name (no literals, no route: `@a:b@c` and
/// `"x"@y` are refused). Non-ASCII letters are allowed (RFC 6531).
/// Lower-cased for comparison.
pub fn clean_address(s: &str) -> Option<String> {
    let a = s.trim();
    if a.is_empty() || a.len() > 254 {
        return None;
    }
    let (local, domain) = a.rsplit_once('@')?;
    if local.len() > 64 || !is_dot_atom(local) {
        return None;
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c == '-' || c.is_alphanumeric())
    };
    if domain.is_empty() || !domain.split('.').all(label_ok) {
        return None;
    }
    Some(a.to_lowercase())
}

/// RFC 5322 `atext`, plus non-ASCII letters and digits (RFC 6532).
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || "!#$%&'*+-/=?^_`{|}~".contains(c)
        || (!c.is_ascii() && c.is_alphanumeric())
}

/// `dot-atom-text`: atext runs joined by single dots.
fn is_dot_atom(s: &str) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|part| !part.is_empty() && part.chars().all(is_atext))
}

/// Whether `id` (without brackets) is an RFC 5322 `msg-id` that may be
/// echoed in an outgoing `In-Reply-To`/`References`: `dot-atom-text "@"
/// (dot-atom-text / no-fold-literal)`, ASCII only (§3.6.4). Anything else a
/// reporter wrote — quotes, commas, comments, encoded words — is kept for
/// threading but never copied into our headers.
pub fn is_msg_id(id: &str) -> bool {
    let ascii_atom = |s: &str| is_dot_atom(s) && s.is_ascii();
    let Some((left, right)) = id.rsplit_once('@') else {
        return false;
    };
    let literal = right
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .is_some_and(|d| {
            d.bytes()
                .all(|b| (33..=126).contains(&b) && !b"[]\\".contains(&b))
        });
    // `=?` is legal atext, but a client may decode it as an encoded word
    // (RFC 2047) and show something other than what was sent.
    id.len() <= 250 && !id.contains("=?") && ascii_atom(left) && (ascii_atom(right) || literal)
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

/// A mailbox: an address (lower-cased, validated) and an optional display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    pub address: String,
    pub name: Option<String>,
}

/// One mailbox from a header value: `Name <a@b>`, `<a@b>` or `a@b`. Only
/// a plain `local@domain` address counts ([`clean_address`]); a list of
/// several, a group or a route gives nothing.
pub fn parse_mailbox(value: &str) -> Option<Mailbox> {
    let raw = format!("From: {}\r\n\r\n", super::text::clean_line(value, 1000));
    let msg = mail_parser::MessageParser::default().parse_headers(raw.as_bytes())?;
    let list = msg.from()?.as_list()?;
    let [a] = list else { return None };
    Some(Mailbox {
        address: clean_address(a.address()?)?,
        name: a
            .name()
            .map(|n| super::text::clean_line(n, 200))
            .filter(|n| !n.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn msg_ids_that_may_be_echoed() {
        for ok in [
            "a.b@c.example",
            "x@[127.0.0.1]",
            "secdesk.sec-2026-0001.ack.ab12@example.org",
        ] {
            assert!(is_msg_id(ok), "{ok}");
        }
        for bad in [
            "a\"b,c(d)@x",
            "=?utf-8?q?x?=@y",
            "caf\u{e9}@z",
            "no-at-sign",
            "a..b@c",
            "@c",
            "a@",
            "a b@c",
            "a@[x]y]",
        ] {
            assert!(!is_msg_id(bad), "{bad}");
        }
    }

    #[test]
    fn strict_addresses() {
        for bad in [
            "@evil.example:victim@v.example",
            "\"quoted\"@example.org",
            "a@[127.0.0.1]",
            "a..b@example.org",
            ".a@example.org",
            "a@-x.example",
            "a@x..example",
        ] {
            assert_eq!(clean_address(bad), None, "{bad}");
        }
        assert_eq!(
            clean_address("Jane.Doe+sec@Example.NET").as_deref(),
            Some("jane.doe+sec@example.net")
        );
        assert!(clean_address("jos\u{e9}@\u{e9}xample.es").is_some());
    }

    #[test]
    fn mailboxes_from_header_values() {
        assert_eq!(
            parse_mailbox("Jane <Jane@Reporter.example>")
                .unwrap()
                .address,
            "jane@reporter.example"
        );
        assert_eq!(parse_mailbox("jane@reporter.example").unwrap().name, None);
        assert_eq!(parse_mailbox("a@x.example, b@y.example"), None);
        assert_eq!(parse_mailbox("<@evil.example:victim@v.example>"), None);
        assert_eq!(parse_mailbox("not an address"), None);
    }
}
