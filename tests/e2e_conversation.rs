//! The conversation after the acknowledgement on the real stack (issue 13),
//! with the windows shrunk to 20 seconds, a reminder 10 seconds before each
//! deadline and a scan every second: a reporter's later message is the
//! team's turn, reminded and escalated once; a reply to a rejected case
//! reopens it; a merged case's old tag still threads; a silent close mails
//! nobody.

mod support;

use std::time::Duration;

use support::*;

fn stack() -> &'static Stack {
    support::stack("conversation", 30000)
}

const WAIT: Duration = Duration::from_secs(40);

fn desk(name: &str) -> Desk {
    Desk::new(
        stack(),
        name,
        "",
        &format!(
            r#"
[team]
lead = ["lead-{name}@example.org"]
members = ["dev-{name}@example.org"]
escalation = ["cto-{name}@example.org"]

[sla]
response_window = "20s"
follow_up_window = "20s"
remind_before = ["10s"]
scan = "* * * * * *"
"#
        ),
    )
}

/// Sends a report from `reporter`, waits for its ack; (case id, Message-ID).
fn report_and_ack(d: &Desk, reporter: &str, subject: &str) -> (String, String) {
    let before = mailbox(stack(), reporter, "INBOX").len();
    let (mid, raw) = report(reporter, &d.inbox, subject, "version 1.0 details");
    send(stack(), reporter, &[&d.inbox], &raw);
    let acks = wait_inbox(stack(), reporter, before + 1, WAIT);
    let id = subject_tag(&subject_of_last(&acks));
    (id, mid)
}

fn subject_of_last(mails: &[Vec<u8>]) -> String {
    mails.last().map(|m| subject(m)).unwrap_or_default()
}

/// `SEC-2026-0001` from `… [SEC-2026-0001] …`.
fn subject_tag(s: &str) -> String {
    let start = s.find('[').unwrap() + 1;
    let end = s[start..].find(']').unwrap() + start;
    s[start..end].to_string()
}

/// A message in the case's thread from `from`.
/// `from` writes on case `id`, to the inbox and (a team member answering)
/// Cc the reporter `cc`, as a mail client's Reply All does.
fn write(d: &Desk, from: &str, cc: &str, id: &str, in_reply_to: &str, body: &str) {
    let cc = if cc.is_empty() {
        String::new()
    } else {
        format!("Cc: <{cc}>\r\n")
    };
    let raw = format!(
        "From: <{from}>\r\nTo: {inbox}\r\n{cc}Subject: Re: [{id}] the report\r\n\
         Message-ID: <{t}@thread.example>\r\nIn-Reply-To: <{in_reply_to}>\r\n\r\n{body}\r\n",
        inbox = d.inbox,
        t = rand_token()
    );
    send(stack(), from, &[&d.inbox], raw.as_bytes());
}

fn state(d: &Desk, id: &str) -> String {
    d.show(id)["state"].as_str().unwrap_or_default().to_string()
}

#[test]
fn a_later_message_is_reminded_and_escalated_once_and_a_team_reply_ends_it() {
    let s = stack();
    let mut d = desk("turns");
    d.start();
    let rep = "r-turns@reporter.example";
    let (lead, cto, dev) = (
        "lead-turns@example.org",
        "cto-turns@example.org",
        "dev-turns@example.org",
    );
    let (id, mid) = report_and_ack(&d, rep, "a vulnerability");
    // The team answers at once: no first-response reminder.
    write(&d, dev, rep, &id, &mid, "We can reproduce it.");
    d.wait_cases("the first response", WAIT, |c| {
        c[0]["first_response_at"].is_string()
    });
    // The reporter writes again: the team's turn.
    write(&d, rep, "", &id, &mid, "Any news on a fix date?");
    let c = d.wait_cases("the team's turn", WAIT, |c| c[0]["turn_due_at"].is_string());
    let due = c[0]["turn_due_at"].as_str().unwrap().to_string();
    // One reminder, then one escalation (to the lead and the list).
    let first = wait_inbox(s, lead, 1, WAIT);
    assert!(
        subject(&first[0]).contains("Reminder") && subject(&first[0]).contains(&id),
        "{}",
        subject(&first[0])
    );
    assert!(body_text(&first[0]).contains("wrote again"));
    let both = wait_inbox(s, lead, 2, WAIT);
    assert!(
        subject(&both[1]).contains("ESCALATION"),
        "{}",
        subject(&both[1])
    );
    wait_inbox(s, cto, 1, WAIT);
    // The team answers: nothing more, however long we wait.
    write(&d, dev, rep, &id, &mid, "The fix ships on Friday.");
    d.wait_cases("the turn answered", WAIT, |c| c[0]["turn_due_at"].is_null());
    d.wait_scan_after(&due, WAIT);
    // A later turn answered in time: no reminder at all.
    write(&d, rep, "", &id, &mid, "Great, thanks!");
    let c = d.wait_cases("turn 2", WAIT, |c| c[0]["turn_due_at"].is_string());
    let due2 = c[0]["turn_due_at"].as_str().unwrap().to_string();
    write(&d, dev, rep, &id, &mid, "You are welcome.");
    d.wait_cases("turn 2 answered", WAIT, |c| c[0]["turn_due_at"].is_null());
    d.wait_scan_after(&due2, WAIT);
    d.wait_outbox_empty(WAIT);
    assert_eq!(
        d.count("SELECT COUNT(*) FROM outbox WHERE kind IN ('reminder', 'escalation')"),
        3,
        "one reminder, one escalation to the lead and one to the list"
    );
    assert_eq!(mailbox(s, lead, "INBOX").len(), 2);
    assert!(d.stop().success());
}

#[test]
fn reopen_merge_and_silent_close_on_the_real_stack() {
    let s = stack();
    let mut d = desk("reopen");
    d.start();
    let lead = "lead-reopen@example.org";
    // A rejected report: the reporter's reply reopens it.
    let rita = "rita-reopen@reporter.example";
    let (a, _) = report_and_ack(&d, rita, "not really a bug");
    let out = d.cli(&["reject", &a, "--reason", "works as designed"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mails = wait_inbox(s, rita, 2, WAIT);
    let notice = header(&mails[1], "Message-ID").unwrap();
    let notice = notice.trim_matches(|c| c == '<' || c == '>');
    write(
        &d,
        rita,
        "",
        &a,
        notice,
        "I disagree: the token is never checked.",
    );
    d.wait_cases("reopened", WAIT, |c| {
        c.iter()
            .any(|c| c["id"] == a.as_str() && c["state"] == "reopened")
    });
    let reminded = wait_inbox(s, lead, 1, WAIT);
    assert!(
        subject(&reminded[0]).contains(&a),
        "{}",
        subject(&reminded[0])
    );
    assert!(body_text(&reminded[0]).contains("reopened"));
    let out = d.cli(&["close", &a, "--note", "answered on the phone"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(state(&d, &a), "invalid");

    // The same reporter twice, merged: the old tag still threads.
    let mo = "mo-reopen@reporter.example";
    let (b, mid_b) = report_and_ack(&d, mo, "XSS in the wiki");
    let (c, mid_c) = report_and_ack(&d, mo, "XSS in the wiki, details");
    let listed = String::from_utf8_lossy(&d.cli(&["show", &c]).stdout).to_string();
    assert!(listed.contains(&b), "same reporter shown:\n{listed}");
    let out = d.cli(&["merge", &c, "--into", &b]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    write(&d, mo, "", &c, &mid_c, "Here is the proof of concept.");
    let deadline = std::time::Instant::now() + WAIT;
    while d.show(&b)["messages"]
        .as_array()
        .map(|m| m.iter().filter(|m| m["direction"] == "in").count())
        .unwrap_or(0)
        < 3
    {
        assert!(std::time::Instant::now() < deadline, "{:#}", d.show(&b));
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(state(&d, &c), "merged");
    let _ = mid_b;

    // Spam closed silently: nobody is mailed.
    let spammer = "seo-reopen@spam.example";
    let (x, _) = report_and_ack(&d, spammer, "Grow your traffic");
    let out = d.cli(&["close", &x, "--as", "spam"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(state(&d, &x), "closed");
    d.wait_outbox_empty(WAIT);
    assert_eq!(
        d.mails_to(spammer),
        1,
        "the ack, and nothing after the close"
    );
    let stats = String::from_utf8_lossy(&d.cli(&["stats"]).stdout).to_string();
    assert!(stats.contains("1 closed silently"), "{stats}");
    assert!(d.stop().success());
}
