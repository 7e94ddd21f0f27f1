//! The 48-hour window on the real stack, shrunk to 20 seconds with a
//! reminder 10 seconds before the deadline and a scan every second.

mod support;

use std::time::Duration;

use support::*;

fn stack() -> &'static Stack {
    support::stack("window", 23000)
}

const WAIT: Duration = Duration::from_secs(40);

fn desk(name: &str, team_extra: &str) -> Desk {
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
timezone = "Europe/Berlin"
{team_extra}

[sla]
response_window = "20s"
remind_before = ["10s"]
scan = "* * * * * *"
"#
        ),
    )
}

/// Sends a report and waits for its case to be acknowledged; returns
/// (case id, the report's Message-ID).
fn report_and_ack(d: &Desk, reporter: &str) -> (String, String) {
    let (mid, raw) = report(reporter, &d.inbox, "a vulnerability", "version 1.0 details");
    send(stack(), reporter, &[&d.inbox], &raw);
    wait_inbox(stack(), reporter, 1, WAIT);
    let cases = d.wait_cases("the ack", WAIT, |c| {
        c.iter()
            .any(|c| c["reporter"] == reporter && c["state"] == "acknowledged")
    });
    let id = cases.iter().find(|c| c["reporter"] == reporter).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    (id, mid)
}

#[test]
fn one_reminder_then_one_escalation_and_a_restart_repeats_nothing() {
    let s = stack();
    let mut d = desk("remind", "");
    d.start();
    let (id, _) = report_and_ack(&d, "r-remind@reporter.example");

    // About 10 s after the report: exactly one reminder to the lead.
    let lead = "lead-remind@example.org";
    let first = wait_inbox(s, lead, 1, WAIT);
    let subj = subject(&first[0]);
    assert!(subj.contains("Reminder") && subj.contains(&id), "{subj}");
    assert_eq!(
        header(&first[0], "Auto-Submitted").as_deref(),
        Some("auto-generated")
    );
    let text = body_text(&first[0]);
    assert!(text.contains("UTC") && text.contains("CET"), "{text}");
    assert!(text.contains(&format!("secdesk reply {id}")), "{text}");

    // Restart between the reminder and the deadline: nothing repeats.
    assert!(d.stop().success());
    d.start();

    // At the deadline: exactly one escalation, to the lead and the list.
    let both = wait_inbox(s, lead, 2, WAIT);
    let esc = subject(&both[1]);
    assert!(esc.contains("ESCALATION") && esc.contains(&id), "{esc}");
    let cto = wait_inbox(s, "cto-remind@example.org", 1, WAIT);
    assert!(subject(&cto[0]).contains("ESCALATION"));
    // Scans go on every second; once one has run after the escalation and
    // everything queued is sent, what the store holds is all there is.
    let escalated = d.show(&id)["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "escalation_queued")
        .unwrap()["at"]
        .as_str()
        .unwrap()
        .to_string();
    let after = secdesk::store::parse_ts(&escalated).unwrap() + chrono::Duration::seconds(1);
    d.wait_scan_after(&secdesk::store::ts(after), WAIT);
    d.wait_outbox_empty(WAIT);
    assert_eq!(
        d.count("SELECT COUNT(*) FROM outbox WHERE kind IN ('reminder', 'escalation')"),
        3,
        "one reminder, one escalation to the lead and one to the list"
    );
    assert_eq!(
        mailbox(s, lead, "INBOX").len(),
        2,
        "nothing more for the lead"
    );
    assert_eq!(mailbox(s, "cto-remind@example.org", "INBOX").len(), 1);
    let overdue = d.cli(&["cases", "--overdue", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&overdue.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
    let table = String::from_utf8_lossy(&d.cli(&["cases"]).stdout).to_string();
    assert!(table.contains("OVERDUE"), "{table}");
    assert!(d.stop().success());
}

#[test]
fn a_team_reply_in_the_thread_stops_the_clock() {
    let s = stack();
    let mut d = desk("team", "");
    d.start();
    let (id, mid) = report_and_ack(&d, "r-team@reporter.example");
    let dev = "dev-team@example.org";
    let raw = format!(
        "From: Dev <{dev}>\r\nTo: {inbox}\r\nCc: r-team@reporter.example\r\nSubject: Re: [{id}] a vulnerability\r\n\
         Message-ID: <team-reply-1@example.org>\r\nIn-Reply-To: <{mid}>\r\n\r\nWe can reproduce it.\r\n",
        inbox = d.inbox
    );
    send(s, dev, &[&d.inbox], raw.as_bytes());
    let cases = d.wait_cases("first response", WAIT, |c| {
        c[0]["first_response_at"].is_string()
    });
    assert_eq!(cases[0]["id"], id);
    // Past both thresholds (a scan after the deadline has run): no
    // reminder, no escalation — in the store, and so in no mailbox.
    d.wait_scan_after(cases[0]["response_due_at"].as_str().unwrap(), WAIT);
    assert_eq!(d.count("SELECT COUNT(*) FROM reminders"), 0);
    assert_eq!(
        d.count("SELECT COUNT(*) FROM outbox WHERE kind <> 'ack'"),
        0
    );
    assert_eq!(mailbox(s, "lead-team@example.org", "INBOX").len(), 0);
    assert_eq!(mailbox(s, "cto-team@example.org", "INBOX").len(), 0);
    let dry = String::from_utf8_lossy(&d.cli(&["remind", "--dry-run"]).stdout).to_string();
    assert!(dry.contains("nothing due"), "{dry}");
    assert!(d.stop().success());
}

#[test]
fn forged_team_mail_does_not_stop_the_clock_when_trust_is_configured() {
    let s = stack();
    let mut d = desk(
        "trust",
        "trust_authentication_results = \"mx.secdesk.test\"",
    );
    d.start();
    let (forged_id, _) = report_and_ack(&d, "r-forged@reporter.example");
    let (genuine_id, _) = report_and_ack(&d, "r-genuine@reporter.example");
    let dev = "dev-trust@example.org";
    // Claims to be the team; nothing vouches for it.
    let forged = format!(
        "From: {dev}\r\nTo: {inbox}\r\nCc: r-forged@reporter.example\r\nSubject: Re: [{forged_id}] a vulnerability\r\nMessage-ID: <forged-1@evil.example>\r\n\r\nhandled\r\n",
        inbox = d.inbox
    );
    send(s, "attacker@evil.example", &[&d.inbox], forged.as_bytes());
    // Vouched for by the receiving server.
    let genuine = format!(
        "Authentication-Results: mx.secdesk.test; dkim=pass header.d=example.org header.s=k1\r\n\
         From: {dev}\r\nTo: {inbox}\r\nCc: r-genuine@reporter.example\r\nSubject: Re: [{genuine_id}] a vulnerability\r\nMessage-ID: <genuine-1@example.org>\r\n\r\nlooking\r\n",
        inbox = d.inbox
    );
    send(s, dev, &[&d.inbox], genuine.as_bytes());
    let cases = d.wait_cases("the genuine response", WAIT, |c| {
        c.iter()
            .any(|c| c["id"] == genuine_id.as_str() && c["first_response_at"].is_string())
    });
    let forged_case = cases
        .iter()
        .find(|c| c["id"] == forged_id.as_str())
        .unwrap();
    assert!(forged_case["first_response_at"].is_null(), "{forged_case}");
    let events = d.show(&forged_id)["events"].clone();
    assert!(
        events
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "team_mail_unverified"),
        "{events}"
    );
    // The forged case still gets its reminder; the genuine one does not.
    let lead = wait_inbox(s, "lead-trust@example.org", 1, WAIT);
    let text = body_text(&lead[0]);
    assert!(
        text.contains(&forged_id) && !text.contains(&genuine_id),
        "{text}"
    );
    assert!(d.stop().success());
}

#[test]
fn reply_responded_assign_and_the_sent_folder() {
    let s = stack();
    let mut d = desk("cli", "");
    // Follow the shared mailbox's Sent folder too.
    let text = std::fs::read_to_string(&d.config).unwrap();
    std::fs::write(
        &d.config,
        text.replace("[smtp]", "sent_mailbox = \"Sent\"\n\n[smtp]"),
    )
    .unwrap();
    d.start();
    let reporter = "r-cli@reporter.example";
    let (id, mid) = report_and_ack(&d, reporter);

    // `secdesk reply`: threaded, from the security address, not automatic.
    let reply = d.dir.path().join("reply.txt");
    std::fs::write(
        &reply,
        "Thanks, we reproduced it and are working on a fix.\n",
    )
    .unwrap();
    let o = d.cli(&["reply", &id, "--file", &reply.display().to_string()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let msgs = wait_inbox(s, reporter, 2, WAIT);
    let r = &msgs[1];
    assert_eq!(header(r, "In-Reply-To"), Some(format!("<{mid}>")));
    assert!(subject(r).contains(&format!("[{id}]")));
    assert_eq!(header(r, "Auto-Submitted"), None);
    assert!(body_text(r).contains("working on a fix"));
    let c = d.wait_cases("reply sent", WAIT, |c| {
        c[0]["first_response_at"].is_string()
    });
    assert_eq!(c[0]["id"], id);

    // A second case answered from the shared mailbox (found in Sent).
    let (id2, mid2) = report_and_ack(&d, "r-cli2@reporter.example");
    let sent = format!(
        "From: {inbox}\r\nTo: r-cli2@reporter.example\r\nSubject: Re: [{id2}] a vulnerability\r\n\
         Message-ID: <sent-1@example.org>\r\nIn-Reply-To: <{mid2}>\r\n\r\nAnswered from the shared mailbox.\r\n",
        inbox = d.inbox
    );
    append(s, &d.inbox, "Sent", sent.as_bytes());
    d.wait_cases("the Sent folder response", WAIT, |c| {
        c.iter()
            .any(|c| c["id"] == id2.as_str() && c["first_response_at"].is_string())
    });

    // `responded` and `assign`.
    let (id3, _) = report_and_ack(&d, "r-cli3@reporter.example");
    let o = d.cli(&["assign", &id3, "Dev-Cli@Example.org"]);
    assert!(o.status.success());
    assert_eq!(
        d.cli(&["assign", &id3, "not an address"]).status.code(),
        Some(2)
    );
    let o = d.cli(&["responded", &id3, "--note", "called them on the phone"]);
    assert!(o.status.success());
    let shown = d.show(&id3);
    assert_eq!(shown["assignee"], "dev-cli@example.org");
    assert!(shown["first_response_at"].is_string());
    d.wait_scan_after(shown["response_due_at"].as_str().unwrap(), WAIT);
    assert_eq!(
        d.count("SELECT COUNT(*) FROM outbox WHERE kind IN ('reminder', 'escalation')"),
        0,
        "all three answered"
    );
    assert_eq!(mailbox(s, "lead-cli@example.org", "INBOX").len(), 0);
    assert!(d.stop().success());
}
