//! security@ as a group or list, and reports a team member forwards
//! (issue 12), through the pipeline on a temporary store: each becomes one
//! case with the real reporter, acknowledged when the reporter wrote to us
//! directly, never when a team member brought it in.

mod support;

use secdesk::inbound::Outcome;
use support::pipeline::*;

fn reporter_of(f: &Fixture, case: &str) -> String {
    f.store.get_case(case).unwrap().unwrap().reporter
}

fn acks_to(f: &Fixture, address: &str) -> i64 {
    f.count(&format!(
        "SELECT COUNT(*) FROM outbox WHERE kind = 'ack' AND recipients = '[\"{address}\"]'"
    ))
}

#[test]
fn a_google_group_that_rewrote_from_is_answered_to_the_real_reporter() {
    let mut f = fixture();
    let raw = "From: \"'Jane Researcher' via Security\" <security@example.org>\r\n\
               Reply-To: Jane Researcher <jane@reporter.example>\r\n\
               X-Original-From: Jane Researcher <jane@reporter.example>\r\n\
               X-Original-Sender: jane@reporter.example\r\n\
               To: Security <security@example.org>\r\nList-Id: <security.example.org>\r\n\
               Precedence: list\r\nMailing-list: list security@example.org; contact security+owners@example.org\r\n\
               List-Post: <https://groups.google.com/a/example.org/group/security/post>, <mailto:security@example.org>\r\n\
               List-Unsubscribe: <mailto:security+unsubscribe@example.org>\r\n\
               Subject: XSS in the log view\r\nMessage-ID: <g1@mail.gmail.com>\r\n\r\nVersion 9.1 ...\r\n";
    let r = f.ingest(raw.as_bytes());
    assert_eq!(r.outcome, Outcome::NewCase);
    let case = r.case.unwrap();
    assert_eq!(reporter_of(&f, &case), "jane@reporter.example");
    assert_eq!(acks_to(&f, "jane@reporter.example"), 1);
    assert!(f
        .events(&case)
        .iter()
        .any(|(k, d)| k == "relayed" && d.contains("X-Original-From")));
}

#[test]
fn the_same_group_keeping_the_senders_from_is_answered_too() {
    let mut f = fixture();
    let raw = "From: Jane Researcher <jane@reporter.example>\r\nTo: security@example.org\r\n\
               List-Id: <security.example.org>\r\nPrecedence: list\r\n\
               List-Post: <mailto:security@example.org>\r\nSubject: SSRF\r\n\
               Message-ID: <g2@mail.gmail.com>\r\n\r\nThe proxy ...\r\n";
    let case = f.ingest(raw.as_bytes()).case.unwrap();
    assert_eq!(acks_to(&f, "jane@reporter.example"), 1);
    assert!(f.events(&case).iter().any(|(k, _)| k == "relayed"));
}

#[test]
fn other_lists_and_our_address_without_a_relay_setting() {
    let mut f = fixture();
    // A third party's list: filed, not answered, as before.
    let list =
        "From: dev@lists.other.example\r\nList-Id: <dev.other.example>\r\nPrecedence: list\r\n\
                Subject: weekly digest\r\nMessage-ID: <l1@other.example>\r\n\r\ndigest\r\n";
    f.ingest(list.as_bytes());
    assert_eq!(f.count("SELECT COUNT(*) FROM outbox"), 0);
    // From our own address, not our mail, no relay recognised: never lost.
    let ours = "From: Security <security@example.org>\r\nSubject: a report?\r\n\
                Message-ID: <o1@relay.example>\r\n\r\ntext\r\n";
    let r = f.ingest(ours.as_bytes());
    assert_eq!(r.outcome, Outcome::NewCase);
    assert!(f
        .events(&r.case.unwrap())
        .iter()
        .any(|(k, d)| k == "from_our_address" && d.contains("relay_list_ids")));
    assert_eq!(f.count("SELECT COUNT(*) FROM outbox"), 0);
}

#[test]
fn a_forwarded_report_belongs_to_its_original_sender() {
    let mut f = fixture();
    let inline = "From: Dev <dev@example.org>\r\nTo: security@example.org\r\nSubject: Fwd: XSS\r\n\
                  Message-ID: <f1@example.org>\r\n\r\nThis reached me directly.\r\n\r\n\
                  ---------- Forwarded message ---------\r\nFrom: Ana <ana@reporter.example>\r\n\
                  Date: Mon, Nov 23, 2026 at 9:12 AM\r\nSubject: XSS in logs\r\nTo: <dev@example.org>\r\n\r\n\
                  Version 9.1, steps to reproduce:\r\n1. open the logs\r\n2. see the alert\r\n";
    let case = f.ingest(inline.as_bytes()).case.unwrap();
    let c = f.store.get_case(&case).unwrap().unwrap();
    assert_eq!(c.reporter, "ana@reporter.example");
    assert_eq!(c.subject, "XSS in logs");
    assert!(!c.missing_items.contains(&"steps_to_reproduce".to_string()));
    assert!(f
        .events(&case)
        .iter()
        .any(|(k, d)| k == "forwarded_report" && d.contains("dev@example.org")));
    let attached = "From: Dev <dev@example.org>\r\nSubject: Fwd: SSRF\r\nMessage-ID: <f2@example.org>\r\n\
                    MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
                    --b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n\
                    --b\r\nContent-Type: message/rfc822\r\n\r\n\
                    From: Carol <carol@reporter.example>\r\nSubject: SSRF\r\nMessage-ID: <c1@reporter.example>\r\n\r\n\
                    The proxy fetches any URL.\r\n--b--\r\n";
    let case = f.ingest(attached.as_bytes()).case.unwrap();
    assert_eq!(reporter_of(&f, &case), "carol@reporter.example");
    // Nobody is acknowledged automatically.
    assert_eq!(f.count("SELECT COUNT(*) FROM outbox"), 0);
}

// --- Real mail (tests/data/real/SOURCES.md): what the relays and clients
// actually write, not what these tests imagine they write.

fn real(name: &str) -> Vec<u8> {
    sample(&format!("real/{name}"))
}

/// A desk whose security address is the real message's group or list.
fn fixture_at(address: &str) -> Fixture {
    fixture_for(address, "dev@example.org", "")
}

/// A desk on which `member` is on the team.
fn fixture_with_team(member: &str) -> Fixture {
    fixture_for("security@example.org", member, "")
}

#[test]
fn a_real_google_group_dmarc_rewrite_is_answered_to_the_real_sender() {
    let mut f = fixture_at("clang-built-linux@googlegroups.com");
    let r = f.ingest(&real("google-groups-dmarc-via.eml"));
    assert_eq!(r.outcome, Outcome::NewCase);
    let case = r.case.unwrap();
    assert_eq!(reporter_of(&f, &case), "howardchung@google.com");
    assert_eq!(acks_to(&f, "howardchung@google.com"), 1);
    // Never the group: an ack there would go to every member.
    assert_eq!(acks_to(&f, "clang-built-linux@googlegroups.com"), 0);
    assert_eq!(f.count("SELECT COUNT(*) FROM outbox"), 1);
}

#[test]
fn a_real_google_group_keeping_from_and_a_real_mailman_list() {
    let mut f = fixture_at("kasan-dev@googlegroups.com");
    let case = f.ingest(&real("google-groups-from-kept.eml")).case.unwrap();
    assert_eq!(reporter_of(&f, &case), "cai@lca.pw");
    assert_eq!(acks_to(&f, "cai@lca.pw"), 1);
    assert!(f.events(&case).iter().any(|(k, _)| k == "relayed"));

    let mut f = fixture_at("spice-devel@lists.freedesktop.org");
    let case = f
        .ingest(&real("mailman-outlook-web-reply.eml"))
        .case
        .unwrap();
    assert_eq!(reporter_of(&f, &case), "codeit@live.com");
    assert_eq!(acks_to(&f, "codeit@live.com"), 1);
    assert_eq!(f.count("SELECT COUNT(*) FROM outbox"), 1);
}

#[test]
fn someone_elses_real_group_is_filed_and_answered_by_nobody() {
    // The same real messages reaching a security@ that is not their list:
    // list traffic, filed, no acknowledgement to the group or its members.
    let mut f = fixture();
    for name in [
        "google-groups-dmarc-via.eml",
        "google-groups-from-kept.eml",
        "mailman-outlook-web-reply.eml",
    ] {
        let r = f.ingest(&real(name));
        assert_ne!(r.outcome, Outcome::Rejected, "{name}");
    }
    assert_eq!(f.count("SELECT COUNT(*) FROM messages"), 3);
    assert_eq!(f.count("SELECT COUNT(*) FROM outbox"), 0);
}

#[test]
fn a_real_thunderbird_forward_as_attachment_is_the_original_senders_case() {
    // Bob forwarded Kirk's mail as an attachment; Bob is on the team.
    let mut f = fixture_with_team("bob@example.net");
    let r = f.ingest(&real("thunderbird-forward-as-attachment.eml"));
    assert_eq!(r.outcome, Outcome::NewCase);
    let case = r.case.unwrap();
    let c = f.store.get_case(&case).unwrap().unwrap();
    assert_eq!(c.reporter, "dan@example.com");
    assert_eq!(c.subject, "Thanks!");
    assert!(f
        .events(&case)
        .iter()
        .any(|(k, d)| k == "forwarded_report" && d.contains("attached")));
    assert_eq!(f.count("SELECT COUNT(*) FROM outbox"), 0);
}

#[test]
fn a_real_outlook_reply_block_from_a_team_member() {
    // Outlook 2010's "From: … [mailto:…] / Sent:" block, sent on by a team
    // member: filed as the quoted sender's case, nobody acknowledged.
    let mut f = fixture_with_team("me@example.com");
    let r = f.ingest(&real("outlook-msonormal-reply.eml"));
    let case = r.case.unwrap();
    assert_eq!(reporter_of(&f, &case), "xxx@xxx.mailgun.org");
    assert_eq!(f.count("SELECT COUNT(*) FROM outbox"), 0);
}

/// Issue 13 review, finding 3: the group signs everything it relays with
/// the project's own domain, so its passing DKIM says nothing about the
/// team address it kept in X-Original-From. Such mail is filed (with the
/// relay noted) and does not stop the clock; the real team copy does.
#[test]
fn the_groups_signature_does_not_vouch_for_a_team_address_it_relayed() {
    let mut f = fixture_with("trust_authentication_results = \"mx.example.org\"\n");
    let report = "From: Jane <jane@reporter.example>\r\nTo: security@example.org\r\n\
                  Subject: XSS\r\nMessage-ID: <j1@reporter.example>\r\n\r\nVersion 9.1\r\n";
    let case = f.ingest(report.as_bytes()).case.unwrap();
    let forged = format!(
        "From: \"'Lead' via Security\" <security@example.org>\r\n\
         X-Original-From: Lead <lead@example.org>\r\nTo: jane@reporter.example\r\n\
         Cc: security@example.org\r\nList-Id: <security.example.org>\r\nPrecedence: list\r\n\
         List-Post: <mailto:security@example.org>\r\n\
         Authentication-Results: mx.example.org; dkim=pass header.d=example.org\r\n\
         Subject: Re: [{case}] XSS\r\nMessage-ID: <forged@evil.example>\r\n\r\nFixed, closing.\r\n"
    );
    f.ingest(forged.as_bytes());
    let c = f.store.get_case(&case).unwrap().unwrap();
    assert_eq!(c.first_response_at, None);
    let events = f.events(&case);
    assert!(events
        .iter()
        .any(|(k, d)| k == "team_mail_unverified" && d.contains("X-Original-From")));
    assert!(events.iter().any(|(k, _)| k == "relayed"));
    // The lead's own mail, signed by the project's domain, counts.
    let real = format!(
        "From: Lead <lead@example.org>\r\nTo: jane@reporter.example\r\n\
         Authentication-Results: mx.example.org; dkim=pass header.d=example.org\r\n\
         Subject: Re: [{case}] XSS\r\nMessage-ID: <real@example.org>\r\n\r\nLooking.\r\n"
    );
    f.ingest(real.as_bytes());
    assert!(f
        .store
        .get_case(&case)
        .unwrap()
        .unwrap()
        .first_response_at
        .is_some());
}
