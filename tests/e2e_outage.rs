//! Outages on the real stack. One test function, run in order, because it
//! stops and restarts the servers every other test would share.

mod support;

use std::time::{Duration, Instant};

use support::*;

const WAIT: Duration = Duration::from_secs(60);

#[test]
fn smtp_down_then_imap_restarted() {
    let s = support::stack("outage", 22000);

    // --- SMTP stopped for a while: acks queue, then go out when it returns.
    let mut desk = Desk::new(s, "outage", "", "");
    desk.first_start();
    let reporters: Vec<String> = (0..3)
        .map(|i| format!("out-{i}@reporter.example"))
        .collect();
    for r in &reporters {
        let (_, raw) = report(r, &desk.inbox, "report during an outage", "details");
        send(s, r, &[&desk.inbox], &raw);
    }
    let deadline = Instant::now() + WAIT;
    while mailbox(s, &desk.inbox, "INBOX").len() < 3 {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(100));
    }
    s.control("stop-smtp");
    desk.start();
    desk.wait_cases("cases filed while SMTP is down", WAIT, |c| c.len() == 3);
    // A few failed attempts, each recorded.
    let deadline = std::time::Instant::now() + WAIT;
    while desk.count("SELECT MIN(attempts) FROM outbox") < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "{:#?}",
            desk.outbox_rows()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let rows = desk.outbox_rows();
    assert!(rows.iter().all(|r| r.contains(" queued ")), "{rows:#?}");
    assert!(
        rows.iter().any(|r| r.contains("Some(")),
        "a retry records its error: {rows:#?}"
    );
    assert!(desk.cases().iter().all(|c| c["state"] == "new"));
    s.control("start-smtp");
    desk.wait_cases("acks sent after SMTP returned", WAIT, |c| {
        c.iter().all(|c| c["state"] == "acknowledged")
    });
    for r in &reporters {
        assert_eq!(wait_inbox(s, r, 1, WAIT).len(), 1, "{r}");
    }

    // --- Dovecot restarted: intake reconnects by itself and misses nothing.
    s.control("restart-imap");
    let late = "late@reporter.example";
    let (_, raw) = report(
        late,
        &desk.inbox,
        "report after the IMAP restart",
        "details",
    );
    send(s, late, &[&desk.inbox], &raw);
    let acks = wait_inbox(s, late, 1, WAIT);
    assert_eq!(acks.len(), 1);
    desk.wait_cases("the late report filed", WAIT, |c| c.len() == 4);
    let log = desk.log_text();
    assert!(log.contains("IMAP session ended"), "{log}");
    assert!(desk.stop().success());

    // --- A permanent SMTP failure (5xx) is recorded on the case, shown to
    // the lead, and not retried. Postfix refuses this one recipient.
    let mut desk = Desk::new(s, "perm", "", "");
    desk.first_start();
    let refused = "rejected@reporter.example";
    let (_, raw) = report(refused, &desk.inbox, "report", "details");
    send(s, refused, &[&desk.inbox], &raw);
    desk.start();
    let cases = desk.wait_cases("the failure recorded", WAIT, |c| {
        c.len() == 1 && c[0]["send_failure"].is_string()
    });
    assert!(
        cases[0]["send_failure"].as_str().unwrap().contains("550"),
        "{cases:#?}"
    );
    assert_eq!(cases[0]["state"], "new");
    let table = String::from_utf8_lossy(&desk.cli(&["cases"]).stdout).to_string();
    assert!(table.contains("send failed"), "{table}");
    let rows = desk.outbox_rows();
    assert!(rows[0].contains(" failed 1 "), "{rows:#?}");
    // A failed row is never picked again: only queued rows are sent.
    assert_eq!(
        desk.count("SELECT COUNT(*) FROM outbox WHERE status = 'queued'"),
        0
    );
    assert!(desk.log_text().contains("send failed permanently"));
    assert!(desk.stop().success());
}

/// Issue 15's trap: a wrong IMAP password was retried every few seconds
/// and logged every time. It backs off like any error, the log says it
/// once, and `status` fails at once, saying why.
#[test]
fn a_wrong_imap_password_is_said_once_and_fails_status() {
    let s = support::stack("outage", 22000);
    let mut d = Desk::new(
        s,
        "badpass",
        "",
        "[team]\nlead = [\"lead-badpass@example.org\"]\n",
    );
    let text = std::fs::read_to_string(&d.config).unwrap();
    std::fs::write(
        &d.config,
        text.replace("password = \"reporter\"", "password = \"wrong-password\""),
    )
    .unwrap();
    d.start_with(&[]);
    std::thread::sleep(Duration::from_secs(8));
    let o = d.cli(&["status"]);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("AUTHENTICATION FAILED"), "{out}");
    assert!(!out.contains("wrong-password"), "{out}");
    let log = d.log_text();
    let warned = log
        .lines()
        .filter(|l| l.contains("IMAP session ended") && !l.contains("again"))
        .count();
    assert_eq!(warned, 1, "{log}");
    assert!(!log.contains("wrong-password"), "{log}");
    assert!(d.stop().success());
}
