//! Mail that reached us through a relay of our own: many projects'
//! security@ is a Google Group or a mailing list that forwards to the team.
//!
//! Such mail is direct mail: the relay's `List-*` and `Precedence: list`
//! headers must not stop the acknowledgement, and when the relay rewrote
//! From for DMARC (Google: `"'Jane' via Security" <security@…>`) the
//! reporter is in `X-Original-From`, `Reply-To` or `X-Original-Sender`. Our
//! relay is recognised by `project.relay_list_ids`, or by a `List-Id` or
//! `List-Post` that names the security address itself. Mail from other
//! lists keeps the rule for lists. These headers are the sender's to write,
//! as From is: they give no more authority than From does.

use super::address::Mailbox;
use super::list_headers::RelayHeaders;
use super::parse::Incoming;

/// Whether `m` came through our own relay.
pub fn via_our_relay(m: &Incoming, security_address: &str, relay_list_ids: &[String]) -> bool {
    let r = &m.relay;
    let own_id = security_address.replace('@', ".");
    let listed = r.list_id.as_deref().is_some_and(|id| {
        id == own_id
            || relay_list_ids.iter().any(|c| {
                c.trim_matches(|ch| ch == '<' || ch == '>')
                    .eq_ignore_ascii_case(id)
            })
    });
    let posts_to_us = post_addresses(r).any(|a| a == security_address);
    listed || posts_to_us
}

/// The `mailto:` addresses of `List-Post` (`<https://…>, <mailto:a@b>`),
/// without any `?query`.
fn post_addresses(r: &RelayHeaders) -> impl Iterator<Item = &str> {
    r.list_post
        .as_deref()
        .unwrap_or("")
        .split(['<', '>', ','])
        .filter_map(|part| part.trim().strip_prefix("mailto:"))
        .map(|a| a.split('?').next().unwrap_or(a))
}

/// Undoes what our relay did to `m`, for classification and the reporter:
/// its list headers no longer suppress the acknowledgement, and a From it
/// rewrote gives way to the sender it kept elsewhere. Returns what the case
/// should record, or `None` if `m` did not come through our relay.
pub fn unwrap(
    m: &mut Incoming,
    security_address: &str,
    relay_list_ids: &[String],
) -> Option<String> {
    if !via_our_relay(m, security_address, relay_list_ids) {
        return None;
    }
    m.auto.list_id = false;
    m.auto.list_unsubscribe = false;
    if m.auto
        .precedence
        .as_deref()
        .is_some_and(|p| matches!(p.trim(), "list" | "bulk"))
    {
        m.auto.precedence = None;
    }
    // Rewritten: From is the group itself (the security address, or the
    // group's own posting address when an alias forwards to it).
    let rewritten = m.from.as_ref().is_some_and(|f| {
        f.address == security_address || post_addresses(&m.relay).any(|a| a == f.address)
    });
    if !rewritten {
        return Some(
            "through our own relay (its list headers do not stop the acknowledgement)".into(),
        );
    }
    let not_us = |mb: &&Mailbox| mb.address != security_address;
    let found = [
        ("X-Original-From", m.relay.original_from.as_ref()),
        ("Reply-To", m.relay.reply_to.as_ref()),
        ("X-Original-Sender", m.relay.original_sender.as_ref()),
    ]
    .into_iter()
    .find_map(|(header, mb)| mb.filter(not_us).map(|mb| (header, mb.clone())));
    match found {
        Some((header, mb)) => {
            let note = format!(
                "through our own relay, which rewrote From; the reporter {} is taken from its \
                 {header} header",
                mb.address
            );
            m.from = Some(mb);
            m.from_problem = None;
            m.from_unwrapped = true;
            Some(note)
        }
        None => Some(
            "through our own relay, which rewrote From and kept no other sender: the reporter \
             is unknown"
                .into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::parse::parse;

    const US: &str = "security@example.org";

    fn unwrapped(raw: &str) -> (Incoming, Option<String>) {
        let mut m = parse(raw.as_bytes()).unwrap();
        let note = unwrap(&mut m, US, &[]);
        (m, note)
    }

    #[test]
    fn a_google_group_that_rewrote_from() {
        let (m, note) = unwrapped(
            "From: \"'Jane Researcher' via Security\" <security@example.org>\r\n\
             Reply-To: Jane Researcher <jane@reporter.example>\r\n\
             X-Original-From: Jane Researcher <jane@reporter.example>\r\n\
             X-Original-Sender: jane@reporter.example\r\n\
             List-Id: <security.example.org>\r\nPrecedence: list\r\n\
             List-Unsubscribe: <mailto:security+unsubscribe@example.org>\r\n\
             Subject: XSS\r\n\r\nbody\r\n",
        );
        assert_eq!(m.from.unwrap().address, "jane@reporter.example");
        assert!(note.unwrap().contains("X-Original-From"));
        assert!(!m.auto.list_id && !m.auto.list_unsubscribe && m.auto.precedence.is_none());
    }

    #[test]
    fn our_relay_keeping_the_senders_from() {
        let (m, note) = unwrapped(
            "From: Jane <jane@reporter.example>\r\nList-Post: <mailto:security@example.org>\r\n\
             List-Id: \"Security\" <security.lists.example.org>\r\nPrecedence: list\r\n\
             Subject: XSS\r\n\r\nbody\r\n",
        );
        assert_eq!(m.from.unwrap().address, "jane@reporter.example");
        assert!(note.is_some());
        assert!(!m.auto.list_id && m.auto.precedence.is_none());
    }

    #[test]
    fn other_lists_keep_their_rule() {
        let (m, note) = unwrapped(
            "From: dev@lists.other.example\r\nList-Id: <dev.other.example>\r\n\
             Precedence: list\r\nSubject: digest\r\n\r\nbody\r\n",
        );
        assert_eq!(note, None);
        assert!(m.auto.list_id);
        let mut m = parse(
            b"From: Jane <jane@reporter.example>\r\nList-Id: <sec.lists.example.org>\r\n\r\nx\r\n",
        )
        .unwrap();
        assert!(unwrap(&mut m, US, &["<sec.lists.example.org>".into()]).is_some());
    }

    #[test]
    fn a_rewritten_from_with_no_sender_left_is_said_so() {
        let (m, note) = unwrapped(
            "From: \"'Someone' via Security\" <security@example.org>\r\n\
             List-Id: <security.example.org>\r\nSubject: x\r\n\r\nbody\r\n",
        );
        assert_eq!(m.from.unwrap().address, US);
        assert!(note.unwrap().contains("unknown"));
    }

    #[test]
    fn only_the_group_itself_as_from_is_a_rewrite() {
        // An alias forwarding to a group elsewhere: From is the group's own
        // posting address.
        let (m, _) = unwrapped(
            "From: \"'Jane' via Security\" <sec-team@googlegroups.com>\r\n\
             X-Original-From: Jane <jane@reporter.example>\r\n\
             List-Post: <https://groups.google.com/group/sec-team/post>, \
             <mailto:sec-team@googlegroups.com>, <mailto:security@example.org>\r\n\
             Subject: x\r\n\r\nbody\r\n",
        );
        assert_eq!(m.from.unwrap().address, "jane@reporter.example");
        // A person whose name says "via" keeps their From.
        let (m, _) = unwrapped(
            "From: \"Ann via Phone\" <ann@reporter.example>\r\n\
             Reply-To: other@victim.example\r\nList-Post: <mailto:security@example.org>\r\n\
             Subject: x\r\n\r\nbody\r\n",
        );
        assert_eq!(m.from.unwrap().address, "ann@reporter.example");
    }

    #[test]
    fn a_lookalike_posting_address_is_not_ours() {
        let (m, note) = unwrapped(
            "From: dev@lists.other.example\r\n\
             List-Post: <mailto:security@example.org.other.example>\r\n\
             List-Id: <dev.other.example>\r\nSubject: x\r\n\r\nbody\r\n",
        );
        assert_eq!(note, None);
        assert!(m.auto.list_id);
    }
}
