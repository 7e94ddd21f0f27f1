//! The trust boundary on the real stack (issue 10): a flood of forged
//! senders cannot silence a real reporter, and a message whose author is
//! ambiguous is filed but acknowledges nobody. Reporters send by SMTP and
//! read their own mailboxes; absence is checked in the store first (every
//! row sent), then in the mailboxes.

mod support;

use std::time::{Duration, Instant};

use support::*;

fn stack() -> &'static Stack {
    support::stack("trust", 27000)
}

const WAIT: Duration = Duration::from_secs(30);

/// Waits until the desk has filed `n` messages and its outbox has nothing
/// left to send (held rows wait for the budget, by design).
fn settle(d: &Desk, n: i64) {
    let deadline = Instant::now() + WAIT;
    loop {
        let rows = d.outbox_rows();
        if d.recorded_messages() >= n && !rows.iter().any(|r| r.contains(" queued ")) {
            return;
        }
        assert!(Instant::now() < deadline, "{rows:#?}\n{}", d.log_text());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Finding 4: twelve `victim+N@` addresses are one sender; the genuine
/// report that follows the flood is acknowledged at once; the flood's
/// acknowledgements beyond the limit are held, and `cases` says so.
#[test]
fn a_flood_of_forged_senders_does_not_silence_a_real_reporter() {
    let s = stack();
    let mut d = Desk::new(
        s,
        "flood",
        "",
        "[limits]\nacks_per_sender_per_hour = 2\nacks_per_domain_per_hour = 3\nacks_per_hour = 6\n",
    );
    d.start();
    let victims: Vec<String> = (1..=12)
        .map(|i| format!("victim+{i}@victim.example"))
        .collect();
    for v in &victims {
        let (_, raw) = report(v, &d.inbox, "forged report", "nothing here");
        send(s, v, &[&d.inbox], &raw);
    }
    settle(&d, 12);
    let genuine = "genuine-flood@reporter.example";
    let (_, raw) = report(genuine, &d.inbox, "SQL injection in search", "details");
    send(s, genuine, &[&d.inbox], &raw);
    let ack = wait_inbox(s, genuine, 1, WAIT);
    assert!(subject(&ack[0]).contains("SQL injection"));
    settle(&d, 13);
    // Dovecot's LMTP delivers victim+N@ to victim@ (recipient_delimiter),
    // as most servers do: that is the mailbox a flood would fill.
    let delivered = mailbox(s, "victim@victim.example", "INBOX").len();
    assert_eq!(delivered, 2, "one normalised sender gets two acks an hour");
    let cases = d.cases();
    assert_eq!(cases.len(), 13);
    assert_eq!(cases.iter().filter(|c| c["ack_held"] == true).count(), 10);
    let table = String::from_utf8_lossy(&d.cli(&["cases"]).stdout).to_string();
    assert_eq!(table.matches("(ack held)").count(), 10, "{table}");
    d.stop();
}

/// Finding 10: two From fields, a group with a Sender, a route address:
/// each opens a case, and no acknowledgement goes to anyone named.
#[test]
fn an_ambiguous_author_is_filed_and_nobody_is_acknowledged() {
    let s = stack();
    let mut d = Desk::new(s, "ambiguous", "", "");
    d.start();
    let victim = "victim-amb@victim.example";
    let jane = "jane-amb@reporter.example";
    // Delivered as written (APPEND): Postfix itself would rewrite a route
    // address into a plain one on the way in.
    let messages = [
        format!("From: Jane <{jane}>\r\nFrom: {victim}\r\n"),
        format!("From: undisclosed-recipients:;\r\nSender: {victim}\r\n"),
        format!("From: <@evil.example:{victim}>\r\n"),
    ];
    for (i, from) in messages.iter().enumerate() {
        let raw = format!(
            "{from}To: {inbox}\r\nSubject: ambiguous {i}\r\nMessage-ID: <amb{i}.{t}@reporter.example>\r\n\
             Date: Wed, 25 Nov 2026 09:00:00 +0000\r\n\r\nA report.\r\n",
            inbox = d.inbox,
            t = rand_token()
        );
        append(s, &d.inbox, "INBOX", raw.as_bytes());
    }
    // A plain report afterwards: once it is acknowledged, the three before
    // it have been filed (intake keeps UID order).
    let (_, raw) = report(jane, &d.inbox, "plain", "details");
    send(s, jane, &[&d.inbox], &raw);
    wait_inbox(s, jane, 1, WAIT);
    settle(&d, 4);
    let cases = d.cases();
    assert_eq!(cases.len(), 4);
    let rows = d.outbox_rows();
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert!(mailbox(s, victim, "INBOX").is_empty());
    assert_eq!(mailbox(s, jane, "INBOX").len(), 1);
    let ambiguous = cases
        .iter()
        .filter(|c| {
            d.show(c["id"].as_str().unwrap())["events"]
                .to_string()
                .contains("ambiguous_sender")
        })
        .count();
    assert_eq!(ambiguous, 2, "two From fields and the group");
    d.stop();
}
