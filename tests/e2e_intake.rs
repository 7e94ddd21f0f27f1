//! End to end on the real stack: a report sent by SMTP becomes one case and
//! one acknowledgement in the reporter's own mailbox; machine mail is filed
//! and never answered; smuggled headers reach nobody; bad TLS is refused.

mod support;

use std::time::Duration;

use support::*;

fn stack() -> &'static Stack {
    support::stack("intake", 20000)
}

const WAIT: Duration = Duration::from_secs(30);

#[test]
fn a_report_gets_exactly_one_threaded_acknowledgement() {
    let s = stack();
    let mut desk = Desk::new(s, "one", "", "");
    desk.start();
    let reporter = "sam-one@reporter.example";
    let raw = String::from_utf8(sample("01-report-complete.eml"))
        .unwrap()
        .replace("sam@reporter.example", reporter)
        .replace("security@example.org", &desk.inbox)
        .replace(
            "20261123091244.4411@reporter.example",
            "e2e-one@reporter.example",
        );
    send(s, reporter, &[&desk.inbox], raw.as_bytes());

    let acks = wait_inbox(s, reporter, 1, WAIT);
    let ack = &acks[0];
    let cases = desk.wait_cases("acknowledged", WAIT, |c| {
        c.len() == 1 && c[0]["state"] == "acknowledged"
    });
    let id = cases[0]["id"].as_str().unwrap().to_string();
    assert!(
        subject(ack).contains(&format!("[{id}]")),
        "{}",
        subject(ack)
    );
    assert_eq!(
        header(ack, "Auto-Submitted").as_deref(),
        Some("auto-replied")
    );
    assert_eq!(
        header(ack, "In-Reply-To").as_deref(),
        Some("<e2e-one@reporter.example>")
    );
    assert!(header(ack, "References")
        .unwrap()
        .contains("<e2e-one@reporter.example>"));
    assert!(header(ack, "X-Secdesk-Loop").is_some());
    assert!(header(ack, "From").unwrap().contains(&desk.inbox));
    let text = body_text(ack);
    assert!(text.contains(&id) && text.contains("48"), "{text}");
    assert!(cases[0]["acknowledged_at"].is_string());

    // The ack came back into nobody's inbox but the reporter's: once the
    // outbox is empty, the store says it was the only mail, sent once.
    desk.wait_outbox_empty(WAIT);
    assert_eq!(desk.count("SELECT COUNT(*) FROM outbox"), 1);
    assert_eq!(mailbox(s, reporter, "INBOX").len(), 1);
    assert_eq!(desk.cases().len(), 1);
    let show = desk.show(&id);
    assert_eq!(show["messages"].as_array().unwrap().len(), 2);
    assert!(desk.stop().success());
}

#[test]
fn machine_mail_is_filed_and_never_answered() {
    let s = stack();
    let mut desk = Desk::new(s, "machine", "", "");
    desk.start();
    let inbox = desk.inbox.clone();
    let ooo = "ooo-m@reporter.example";
    let lister = "list-m@lists.example";
    let daemon = "mailer-daemon@mx.example";
    let (_, r1) = report(ooo, &inbox, "Automatic reply: hello", "I am away.");
    let r1 = [b"Auto-Submitted: auto-replied\r\n".to_vec(), r1].concat();
    send(s, ooo, &[&inbox], &r1);
    let (_, r2) = report(lister, &inbox, "[dev] digest", "list traffic");
    let r2 = [
        b"List-Id: <dev.lists.example>\r\nPrecedence: list\r\n".to_vec(),
        r2,
    ]
    .concat();
    send(s, lister, &[&inbox], &r2);
    // A bounce: null envelope sender, so Return-Path: <>.
    let (_, r3) = report(
        daemon,
        &inbox,
        "Undelivered Mail Returned to Sender",
        "bounce",
    );
    send(s, "", &[&inbox], &r3);
    // Our own mail coming back.
    let (_, r4) = report(&inbox, &inbox, "Re: [SEC-2026-9999] loop", "ours");
    let r4 = [format!("X-Secdesk-Loop: {inbox}\r\n").into_bytes(), r4].concat();
    send(s, &inbox, &[&inbox], &r4);
    // And one real report, so we know when the daemon has caught up.
    let real = "real-m@reporter.example";
    let (_, r5) = report(real, &inbox, "real report", "version 1.0");
    send(s, real, &[&inbox], &r5);
    wait_inbox(s, real, 1, WAIT);
    let deadline = std::time::Instant::now() + WAIT;
    while desk.recorded_messages() < 5 {
        assert!(std::time::Instant::now() < deadline, "{}", desk.log_text());
        std::thread::sleep(Duration::from_millis(100));
    }
    desk.wait_outbox_empty(WAIT);
    for who in [ooo, lister, daemon] {
        assert_eq!(desk.mails_to(who), 0, "{who} was answered");
        assert_eq!(mailbox(s, who, "INBOX").len(), 0, "{who} was answered");
    }
    // Our own inbox holds the five messages sent to it, and nothing of ours.
    let own = mailbox(s, &inbox, "INBOX");
    assert_eq!(own.len(), 5);
    for m in &own {
        let mid = header(m, "Message-ID").unwrap_or_default();
        assert!(
            !mid.starts_with("<secdesk."),
            "secdesk answered its own address"
        );
    }
    // List mail opens a case (a relayed report is still a report), unanswered.
    let cases = desk.cases();
    assert_eq!(cases.len(), 2, "{cases:#?}");
    let list_case = cases.iter().find(|c| c["reporter"] == lister).unwrap();
    assert_eq!(list_case["state"], "new");
    assert!(desk.stop().success());
}

#[test]
fn smuggled_headers_reach_nobody() {
    let s = stack();
    let mut desk = Desk::new(s, "smuggle", "", "");
    desk.start();
    let reporter = "mallory-s@reporter.example";
    let victim = "victim-s@example.net";
    let (_, raw) = report(
        reporter,
        &desk.inbox,
        &format!(
            "=?utf-8?q?Hello=0D=0ABcc=3A_{}?=",
            victim
                .replace('@', "=40")
                .replace('.', "=2E")
                .replace('-', "=2D")
        ),
        "body",
    );
    send(s, reporter, &[&desk.inbox], &raw);
    let acks = wait_inbox(s, reporter, 1, WAIT);
    let subj = header(&acks[0], "Subject").unwrap();
    assert!(!subj.contains('\n'), "{subj:?}");
    assert_eq!(header(&acks[0], "Bcc"), None);
    desk.wait_outbox_empty(WAIT);
    assert_eq!(desk.mails_to(victim), 0, "mail was queued to the victim");
    assert_eq!(mailbox(s, victim, "INBOX").len(), 0, "the victim got mail");
    assert!(desk.stop().success());
}

#[test]
fn processed_mail_is_moved_after_commit_never_deleted() {
    let s = stack();
    let mut desk = Desk::new(s, "processed", "processed_mailbox = \"Processed\"", "");
    desk.start();
    let reporter = "p-proc@reporter.example";
    let (_, raw) = report(reporter, &desk.inbox, "report", "details");
    send(s, reporter, &[&desk.inbox], &raw);
    wait_inbox(s, reporter, 1, WAIT);
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let moved = mailbox(s, &desk.inbox, "Processed").len();
        let left = mailbox(s, &desk.inbox, "INBOX").len();
        if moved == 1 && left == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "moved {moved}, left {left}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(desk.stop().success());
}

#[test]
fn an_unverifiable_certificate_is_refused_clearly() {
    let s = stack();
    let desk = Desk::new(s, "badtls", "", "");
    // The same desk without the private CA: the server's certificate does
    // not verify against the public roots.
    let text = std::fs::read_to_string(&desk.config).unwrap();
    let ca_line = format!("ca_file = \"{}\"\n", s.ca().display());
    std::fs::write(&desk.config, text.replace(&ca_line, "")).unwrap();
    let o = desk.cli(&["check"]);
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    let imap = out.lines().find(|l| l.contains("imap")).unwrap();
    assert!(
        imap.starts_with("FAIL") && imap.contains("certificate"),
        "{out}"
    );
    let smtp = out.lines().find(|l| l.contains("smtp")).unwrap();
    assert!(
        smtp.starts_with("FAIL") && smtp.contains("certificate"),
        "{out}"
    );
}

#[test]
fn check_passes_on_a_good_config() {
    let s = stack();
    let desk = Desk::new(
        s,
        "check",
        "",
        "[team]\nlead = [\"lead-check@example.org\"]\n",
    );
    let o = desk.cli(&["check"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}");
    for name in ["config", "team", "templates", "store", "imap", "smtp"] {
        assert!(
            out.lines().any(|l| l.starts_with("ok") && l.contains(name)),
            "{name}: {out}"
        );
    }
}

/// Issue 15's traps: nobody to remind is a failure; an unreadable password
/// file is one failure, not also a login refused for the empty password.
#[test]
fn check_fails_without_a_lead_and_once_for_a_missing_password_file() {
    let s = stack();
    let desk = Desk::new(s, "check2", "", "");
    let text = std::fs::read_to_string(&desk.config).unwrap();
    std::fs::write(
        &desk.config,
        text.replace(
            "password = \"reporter\"",
            "password_file = \"/nonexistent/imap-password\"",
        ),
    )
    .unwrap();
    let o = desk.cli(&["check"]);
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    let fails: Vec<&str> = out.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert_eq!(fails.len(), 2, "config and team only: {out}");
    assert!(
        fails.iter().any(|l| l.contains("team.lead is empty")),
        "{out}"
    );
    assert!(
        fails.iter().any(|l| l.contains("imap.password_file")),
        "{out}"
    );
    assert!(out.lines().any(|l| l.starts_with("skip  imap")), "{out}");
}

#[test]
fn sigterm_stops_within_seconds_and_logs_no_secrets() {
    let s = stack();
    let mut desk = Desk::new(s, "sigterm", "", "");
    desk.start();
    let reporter = "t-term@reporter.example";
    let (_, raw) = report(
        reporter,
        &desk.inbox,
        "secret subject line",
        "SECRET-BODY-TEXT",
    );
    send(s, reporter, &[&desk.inbox], &raw);
    wait_inbox(s, reporter, 1, WAIT);
    let started = std::time::Instant::now();
    assert!(desk.stop().success());
    assert!(started.elapsed() < Duration::from_secs(5));
    let log = desk.log_text();
    assert!(!log.contains("SECRET-BODY-TEXT"), "report body in the log");
    assert!(!log.contains("secret subject line"), "subject in the log");
    assert!(log.contains("new_case"), "{log}");
}
