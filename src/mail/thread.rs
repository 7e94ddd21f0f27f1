//! Which case a message belongs to: the pure half of threading.
//!
//! A message joins a case when its subject carries the case tag
//! (`[SEC-2026-0007]`, anywhere in the subject, so `Re:`/`AW:`/`SV:`/`Fwd:`
//! and any other prefix are tolerated) or when `In-Reply-To`/`References`
//! names a Message-ID the case holds. This module extracts the candidates;
//! the store looks them up.

use crate::case::CaseId;

use super::parse::Incoming;

/// What to look up, in order of trust.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadKeys {
    /// Message-IDs from `In-Reply-To` then `References` (newest first).
    pub message_ids: Vec<String>,
    /// Case ids found in the subject, in order of appearance.
    pub tags: Vec<CaseId>,
}

/// The lookup keys for `m` with case ids of `prefix`.
pub fn thread_keys(m: &Incoming, prefix: &str) -> ThreadKeys {
    let mut message_ids: Vec<String> = m.in_reply_to.clone();
    for r in m.references.iter().rev() {
        if !message_ids.contains(r) {
            message_ids.push(r.clone());
        }
    }
    ThreadKeys {
        message_ids,
        tags: case_tags(&m.subject, prefix),
    }
}

/// Every `[PREFIX-YYYY-NNNN]` tag in `subject` (at most 5).
pub fn case_tags(subject: &str, prefix: &str) -> Vec<CaseId> {
    let mut found = Vec::new();
    let mut rest = subject;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        if let Some(close) = after.find(']') {
            if let Some(id) = CaseId::parse(after[..close].trim(), prefix) {
                if !found.contains(&id) {
                    found.push(id);
                }
            }
        }
        rest = after;
        if found.len() >= 5 {
            break;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(subject: &str) -> Vec<String> {
        case_tags(subject, "SEC")
            .iter()
            .map(|c| c.to_string())
            .collect()
    }

    #[test]
    fn tags_anywhere_with_any_prefix() {
        for s in [
            "[SEC-2026-0007] XSS",
            "Re: [SEC-2026-0007] XSS",
            "AW: [SEC-2026-0007] XSS",
            "SV: Re: [SEC-2026-0007] XSS",
            "Fwd: XSS [SEC-2026-0007]",
            "RE:RE: [ SEC-2026-0007 ]",
            "[External] [SEC-2026-0007]",
        ] {
            assert_eq!(ids(s), vec!["SEC-2026-0007"], "{s}");
        }
    }

    #[test]
    fn near_misses_are_not_tags() {
        for s in [
            "SEC-2026-0007 without brackets",
            "[SEC-26-0007]",
            "[XYZ-2026-0007]",
            "[SEC-2026-]",
            "[SEC-2026-00x7]",
            "[[[[[[[",
            "",
        ] {
            assert!(ids(s).is_empty(), "{s}");
        }
    }

    #[test]
    fn references_newest_first_after_in_reply_to() {
        let raw = b"From: a@b.example\r\nIn-Reply-To: <c@x>\r\nReferences: <a@x> <b@x> <c@x>\r\nSubject: Re: hi\r\n\r\n.";
        let m = crate::mail::parse::parse(raw).unwrap();
        let k = thread_keys(&m, "SEC");
        assert_eq!(k.message_ids, vec!["c@x", "b@x", "a@x"]);
        assert!(k.tags.is_empty());
    }
}
