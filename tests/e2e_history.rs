//! The inbox a project already has (issue 12), on the real stack: thirty
//! messages that arrived weeks to years ago wait in the mailbox before the
//! first start. With `imap.history = "import"` they are filed as history —
//! imported cases, no acknowledgement, no reminder, no escalation — and the
//! next new report gets exactly one ack; with `"skip"` they are left alone.

mod support;

use std::time::Duration;

use support::*;

fn stack() -> &'static Stack {
    support::stack("history", 28000)
}

const WAIT: Duration = Duration::from_secs(40);

/// A short window and a scan every second, so that any reminder or
/// escalation the history could trigger would show within the test.
fn desk(name: &str, history: &str) -> Desk {
    Desk::new(
        stack(),
        name,
        &format!("history = \"{history}\""),
        &format!(
            "[team]\nlead = [\"lead-{name}@example.org\"]\nescalation = [\"cto-{name}@example.org\"]\n\
             [sla]\nresponse_window = \"20s\"\nremind_before = [\"10s\"]\nscan = \"* * * * * *\"\n"
        ),
    )
}

/// Thirty old messages: reports, replies in their threads, a team answer, a
/// list newsletter, an out-of-office — as a real security inbox holds them.
fn old_mail(d: &Desk, name: &str) {
    let months = ["Jan", "Mar", "May", "Jul", "Sep", "Nov"];
    for i in 0..30 {
        let year = 2023 + i % 3;
        let month = months[i % 6];
        let day = 1 + i % 27;
        let date = format!("{day:02}-{month}-{year} 09:{:02}:00 +0000", i);
        let header_date = format!("{day} {month} {year} 09:{:02}:00 +0000", i);
        let reporter = format!("old{}-{name}@reporter.example", i / 3);
        let raw = match i % 5 {
            // A reply in the thread of the report before it.
            1 => format!(
                "From: {reporter}\r\nTo: {inbox}\r\nSubject: Re: report {prev}\r\nDate: Mon, {header_date}\r\n\
                 Message-ID: <old{i}-{name}@reporter.example>\r\nIn-Reply-To: <old{prev}-{name}@reporter.example>\r\n\r\n\
                 Any news?\r\n",
                inbox = d.inbox,
                prev = i - 1
            ),
            // The lead answering long ago.
            2 => format!(
                "From: lead-{name}@example.org\r\nTo: {reporter}\r\nCc: {inbox}\r\nSubject: Re: report {prev}\r\n\
                 Date: Mon, {header_date}\r\nMessage-ID: <old{i}-{name}@example.org>\r\n\
                 In-Reply-To: <old{prev}-{name}@reporter.example>\r\n\r\nThanks, fixed in 2.1.\r\n",
                inbox = d.inbox,
                prev = i - 2
            ),
            // A vendor newsletter.
            3 => format!(
                "From: news@vendor.example\r\nTo: {inbox}\r\nSubject: Vendor news {i}\r\nDate: Mon, {header_date}\r\n\
                 Message-ID: <old{i}-{name}@vendor.example>\r\nList-Id: <news.vendor.example>\r\n\
                 Precedence: bulk\r\n\r\nOur newsletter.\r\n",
                inbox = d.inbox
            ),
            // An out-of-office.
            4 => format!(
                "From: {reporter}\r\nTo: {inbox}\r\nSubject: Out of office\r\nDate: Mon, {header_date}\r\n\
                 Message-ID: <old{i}-{name}@reporter.example>\r\nAuto-Submitted: auto-replied\r\n\r\nAway.\r\n",
                inbox = d.inbox
            ),
            _ => format!(
                "From: {reporter}\r\nTo: {inbox}\r\nSubject: report {i}\r\nDate: Mon, {header_date}\r\n\
                 Message-ID: <old{i}-{name}@reporter.example>\r\n\r\nVersion 1.{i} leaks tokens.\r\n",
                inbox = d.inbox
            ),
        };
        append_dated(stack(), &d.inbox, "INBOX", raw.as_bytes(), Some(&date));
    }
}

/// Waits for a reminder scan well past any deadline history could have.
fn past_every_deadline(d: &Desk) {
    let after = chrono::Utc::now() + chrono::Duration::seconds(21);
    d.wait_scan_after(&secdesk::store::ts(after), WAIT);
}

#[test]
fn history_is_imported_and_never_answered() {
    let s = stack();
    let mut d = desk("import", "import");
    old_mail(&d, "import");
    let check = String::from_utf8_lossy(&d.cli(&["check"]).stdout).to_string();
    assert!(
        check.contains("holds 30 messages; the first start will import them as history")
            && check.contains("nothing will be sent"),
        "{check}"
    );
    d.start();
    let deadline = std::time::Instant::now() + WAIT;
    while d.recorded_messages() < 30 {
        assert!(std::time::Instant::now() < deadline, "{}", d.log_text());
        std::thread::sleep(Duration::from_millis(100));
    }
    past_every_deadline(&d);
    assert_eq!(
        d.count("SELECT COUNT(*) FROM outbox"),
        0,
        "{:#?}",
        d.outbox_rows()
    );
    assert_eq!(d.count("SELECT COUNT(*) FROM reminders"), 0);
    let cases = d.cases();
    assert!(!cases.is_empty());
    assert!(cases.iter().all(|c| c["state"] == "imported"), "{cases:#?}");
    // Replies joined their threads; the newsletter and the auto-reply are
    // filed and opened nothing.
    assert_eq!(cases.len(), 12, "{cases:#?}");
    let stats = String::from_utf8_lossy(&d.cli(&["stats"]).stdout).to_string();
    assert!(stats.contains("12 imported as history"), "{stats}");

    // A new report after the first start: exactly one ack.
    let r = "new-import@reporter.example";
    let (_, raw) = report(r, &d.inbox, "a new report", "version 3.0 details");
    send(s, r, &[&d.inbox], &raw);
    wait_inbox(s, r, 1, WAIT);
    d.wait_outbox_empty(WAIT);
    assert_eq!(d.count("SELECT COUNT(*) FROM outbox WHERE kind = 'ack'"), 1);
    assert_eq!(mailbox(s, "lead-import@example.org", "INBOX").len(), 0);
    assert!(d.stop().success());
}

#[test]
fn history_can_be_skipped() {
    let s = stack();
    let mut d = desk("skip", "skip");
    old_mail(&d, "skip");
    let check = String::from_utf8_lossy(&d.cli(&["check"]).stdout).to_string();
    assert!(check.contains("the first start will skip them"), "{check}");
    d.start();
    let deadline = std::time::Instant::now() + WAIT;
    while d.count("SELECT COALESCE(MAX(last_uid), 0) FROM mailbox_state") < 30 {
        assert!(std::time::Instant::now() < deadline, "{}", d.log_text());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(d.recorded_messages(), 0);
    let r = "new-skip@reporter.example";
    let (_, raw) = report(r, &d.inbox, "a new report", "version 3.0 details");
    send(s, r, &[&d.inbox], &raw);
    d.wait_cases("the new report", WAIT, |c| c.len() == 1);
    wait_inbox(s, r, 1, WAIT);
    d.wait_outbox_empty(WAIT);
    assert_eq!(d.count("SELECT COUNT(*) FROM outbox WHERE kind = 'ack'"), 1);
    assert!(d.stop().success());
}
