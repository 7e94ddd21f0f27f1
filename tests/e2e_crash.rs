//! Crash safety on the real stack: whatever point secdesk dies at, every
//! report ends up as exactly one case, and every case gets exactly one
//! acknowledgement — except in the documented resend window (killed after
//! the SMTP server accepted an ack, before it was marked sent), where the
//! same message, with the same Message-ID, may arrive twice.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use support::*;

fn stack() -> &'static Stack {
    support::stack("crash", 21000)
}

const WAIT: Duration = Duration::from_secs(60);

/// Sends `n` reports from distinct reporters named `<tag>-<i>@reporter.example`.
fn send_reports(s: &Stack, desk: &Desk, tag: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let who = format!("{tag}-{i}@reporter.example");
            let (_, raw) = report(
                &who,
                &desk.inbox,
                &format!("report {i}"),
                "version 1.2, steps, impact",
            );
            send(s, &who, &[&desk.inbox], &raw);
            who
        })
        .collect()
}

/// Waits for all reports to be in the inbox (delivered by Postfix).
fn wait_delivered(s: &Stack, desk: &Desk, n: usize) {
    let deadline = std::time::Instant::now() + WAIT;
    while mailbox(s, &desk.inbox, "INBOX").len() < n {
        assert!(
            std::time::Instant::now() < deadline,
            "reports not delivered"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every reporter has one case; returns each reporter's acks (Message-IDs).
fn settle(s: &Stack, desk: &Desk, reporters: &[String]) -> HashMap<String, Vec<String>> {
    let n = reporters.len();
    let cases = desk.wait_cases("every report filed and acknowledged", WAIT, |c| {
        c.len() >= n && c.iter().all(|c| c["state"] == "acknowledged")
    });
    assert_eq!(cases.len(), n, "one case per report: {cases:#?}");
    let mut by_reporter: HashMap<&str, usize> = HashMap::new();
    for c in &cases {
        *by_reporter
            .entry(c["reporter"].as_str().unwrap())
            .or_default() += 1;
    }
    for r in reporters {
        assert_eq!(by_reporter.get(r.as_str()), Some(&1), "{r}: cases");
    }
    let mut acks = HashMap::new();
    for r in reporters {
        let msgs = wait_inbox(s, r, 1, WAIT);
        let ids: Vec<String> = msgs
            .iter()
            .map(|m| header(m, "Message-ID").unwrap_or_default())
            .collect();
        acks.insert(r.clone(), ids);
    }
    acks
}

fn message_ids(s: &Stack, who: &str) -> Vec<String> {
    mailbox(s, who, "INBOX")
        .iter()
        .map(|m| header(m, "Message-ID").unwrap_or_default())
        .collect()
}

#[test]
fn killed_mid_batch_files_every_report_once() {
    let s = stack();
    let mut desk = Desk::new(s, "midbatch", "batch_size = 4", "");
    desk.first_start();
    let reporters = send_reports(s, &desk, "mb", 10);
    wait_delivered(s, &desk, 10);
    // Dies right after the second batch's transaction commits (4 + 4 of 10
    // messages), with acks queued and some perhaps sent.
    desk.start_with(&[("SECDESK_CRASH_AT", "after_commit:2")]);
    let st = desk.wait_exit(WAIT);
    assert!(!st.success());
    assert_eq!(desk.cases().len(), 8, "{}", desk.log_text());
    desk.start();
    let acks = settle(s, &desk, &reporters);
    // Every row sent: any resend there will be has happened.
    desk.wait_outbox_empty(WAIT);
    // The outbox runs beside intake, so the crash may also catch one ack
    // between SMTP acceptance and marking: that one, and only that one, may
    // arrive twice — as the same message.
    let mut resent = 0;
    for r in &reporters {
        let ids = message_ids(s, r);
        assert!(
            ids.len() <= 2 && ids.iter().all(|i| *i == ids[0]),
            "{r}: {ids:?}; {:?}",
            acks[r]
        );
        resent += ids.len() - 1;
    }
    assert!(
        resent <= 1,
        "{resent} resends; only one send is ever in flight"
    );
    assert_eq!(desk.recorded_messages(), 10);
    assert!(desk.stop().success());
}

#[test]
fn killed_between_smtp_acceptance_and_marking_resends_the_same_message() {
    let s = stack();
    let mut desk = Desk::new(s, "accept", "", "");
    desk.first_start();
    let reporters = send_reports(s, &desk, "acc", 3);
    wait_delivered(s, &desk, 3);
    desk.start_with(&[("SECDESK_CRASH_AT", "after_smtp_accept:2")]);
    assert!(!desk.wait_exit(WAIT).success());
    desk.start();
    let acks = settle(s, &desk, &reporters);
    // Every row sent: any resend there will be has happened.
    desk.wait_outbox_empty(WAIT);
    let mut twice = 0;
    for r in &reporters {
        let ids: Vec<String> = mailbox(s, r, "INBOX")
            .iter()
            .map(|m| header(m, "Message-ID").unwrap_or_default())
            .collect();
        match ids.len() {
            1 => {}
            // The resend window: the very same message again.
            2 => {
                assert_eq!(ids[0], ids[1], "{r}: two different acks");
                twice += 1;
            }
            n => panic!("{r}: {n} acks: {:?}", acks[r]),
        }
    }
    assert_eq!(twice, 1, "exactly the ack in flight at the crash is resent");
    assert!(desk.stop().success());
}

#[test]
fn repeated_sigkills_while_reports_arrive() {
    let s = stack();
    let mut desk = Desk::new(s, "sigkill", "batch_size = 3", "");
    desk.first_start();
    let n = 16;
    let inbox = desk.inbox.clone();
    let sender = std::thread::spawn({
        let inbox = inbox.clone();
        move || {
            let s = stack();
            (0..n)
                .map(|i| {
                    let who = format!("kill-{i}@reporter.example");
                    let (_, raw) = report(&who, &inbox, &format!("report {i}"), "details");
                    send(s, &who, &[&inbox], &raw);
                    std::thread::sleep(Duration::from_millis(150));
                    who
                })
                .collect::<Vec<_>>()
        }
    });
    // Kill at varied moments: early, mid-sync, during sends.
    for wait_ms in [300u64, 700, 450, 900, 250] {
        desk.start();
        std::thread::sleep(Duration::from_millis(wait_ms));
        desk.kill();
    }
    let reporters = sender.join().unwrap();
    desk.start();
    let acks = settle(s, &desk, &reporters);
    // Every row sent: any resend there will be has happened.
    desk.wait_outbox_empty(WAIT);
    for r in &reporters {
        let ids: Vec<String> = mailbox(s, r, "INBOX")
            .iter()
            .map(|m| header(m, "Message-ID").unwrap_or_default())
            .collect();
        let mut distinct = ids.clone();
        distinct.sort();
        distinct.dedup();
        // At most the documented resend of the same message; never two
        // different acknowledgements.
        assert_eq!(distinct.len(), 1, "{r}: {:?} / {:?}", ids, acks[r]);
        assert!(ids.len() <= 2, "{r}: {ids:?}");
    }
    assert_eq!(desk.recorded_messages(), n as i64);
    assert!(desk.stop().success());
}
