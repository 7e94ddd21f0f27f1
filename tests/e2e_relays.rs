//! security@ as a Google Group, on the real stack (issue 12): a report the
//! group relays — with From rewritten for DMARC, or with the sender's own
//! From — is one case of the real reporter, who gets one acknowledgement;
//! a third party's list message is filed and answered by nobody.

mod support;

use std::time::Duration;

use support::*;

fn stack() -> &'static Stack {
    support::stack("relays", 29000)
}

const WAIT: Duration = Duration::from_secs(30);

/// A message as Google Groups delivers it to the group's members.
fn via_group(d: &Desk, from: &str, extra: &str, subject: &str) -> Vec<u8> {
    let group = &d.inbox;
    let list_id = group.replace('@', ".");
    format!(
        "From: {from}\r\nTo: Security <{group}>\r\n{extra}List-Id: <{list_id}>\r\n\
         Mailing-list: list {group}; contact security+owners@example.org\r\nPrecedence: list\r\n\
         List-Post: <https://groups.google.com/a/example.org/group/security/post>, <mailto:{group}>\r\n\
         List-Help: <https://support.google.com/a/example.org/bin/topic.py?topic=25838>, <mailto:security+help@example.org>\r\n\
         List-Unsubscribe: <mailto:googlegroups-manage+1+unsubscribe@googlegroups.com>\r\n\
         X-Google-Group-Id: 123456789\r\nSubject: {subject}\r\n\
         Message-ID: <{t}@mail.gmail.com>\r\nDate: Wed, 25 Nov 2026 09:00:00 +0000\r\n\r\n\
         Version 9.1: the log view runs script from a crafted route name.\r\n",
        t = rand_token()
    )
    .into_bytes()
}

#[test]
fn a_google_group_in_both_from_modes_and_a_foreign_list() {
    let s = stack();
    let mut d = Desk::new(s, "relay", "", "");
    d.start();
    let jane = "jane-relay@reporter.example";
    // From rewritten for DMARC: the reporter only in X-Original-From etc.
    let rewritten = via_group(
        &d,
        &format!("\"'Jane Researcher' via Security\" <{}>", d.inbox),
        &format!(
            "Reply-To: Jane Researcher <{jane}>\r\nX-Original-From: Jane Researcher <{jane}>\r\n\
             X-Original-Sender: {jane}\r\n"
        ),
        "XSS in the log view",
    );
    send(s, jane, &[&d.inbox], &rewritten);
    let c = d.wait_cases("the relayed report", WAIT, |c| c.len() == 1);
    let id = c[0]["id"].as_str().unwrap().to_string();
    assert_eq!(c[0]["reporter"], jane, "{:#}", d.show(&id));
    let acks = wait_inbox(s, jane, 1, WAIT);
    assert!(subject(&acks[0]).contains("XSS in the log view"));
    // The sender's own From kept.
    let ken = "ken-relay@reporter.example";
    let kept = via_group(&d, &format!("Ken <{ken}>"), "", "SSRF in the proxy");
    send(s, ken, &[&d.inbox], &kept);
    wait_inbox(s, ken, 1, WAIT);
    // A third party's list.
    let lister = "news-relay@lists.other.example";
    let list = format!(
        "From: {lister}\r\nTo: {inbox}\r\nList-Id: <news.other.example>\r\nPrecedence: list\r\n\
         Subject: weekly news\r\nMessage-ID: <{t}@lists.other.example>\r\n\r\nnews\r\n",
        inbox = d.inbox,
        t = rand_token()
    );
    send(s, lister, &[&d.inbox], list.as_bytes());
    d.wait_cases("three cases", WAIT, |c| c.len() == 3);
    d.wait_outbox_empty(WAIT);
    let cases = d.cases();
    let reporters: Vec<&str> = cases
        .iter()
        .map(|c| c["reporter"].as_str().unwrap())
        .collect();
    assert!(
        reporters.contains(&jane) && reporters.contains(&ken),
        "{reporters:?}"
    );
    assert_eq!(d.mails_to(jane), 1);
    assert_eq!(d.mails_to(ken), 1);
    assert_eq!(d.mails_to(lister), 0);
    assert_eq!(d.count("SELECT COUNT(*) FROM outbox"), 2);
    assert!(d.stop().success());
}
