//! The ingest pipeline on a temporary store, no servers: bytes in, rows out.
//! Hostile and broken input included — each with an asserted outcome.

mod support;

use std::path::Path;

use chrono::{Duration, TimeZone, Utc};
use secdesk::inbound::Outcome;
use support::pipeline::*;

#[test]
fn a_report_becomes_a_case_with_one_queued_ack() {
    let mut f = fixture();
    let r = f.ingest(&sample("01-report-complete.eml"));
    assert_eq!(r.outcome, Outcome::NewCase);
    assert_eq!(r.case.as_deref(), Some("SEC-2026-0001"));
    let case = f.store.get_case("SEC-2026-0001").unwrap().unwrap();
    assert_eq!(case.state, "new");
    assert_eq!(case.reporter, "sam@reporter.example");
    assert_eq!(case.missing_items, Vec::<String>::new());
    let due = case.response_due().unwrap() - case.received().unwrap();
    assert_eq!(due, Duration::hours(48));
    let out = f.outbox_bodies();
    assert_eq!(out.len(), 1);
    let (to, subject, body) = &out[0];
    assert_eq!(to, r#"["sam@reporter.example"]"#);
    assert_eq!(
        subject,
        "Re: [SEC-2026-0001] Prototype pollution in the rules engine"
    );
    assert!(body.contains("SEC-2026-0001"));
    assert!(body.contains("within 48"));
    assert!(
        !body.contains("does not seem to say"),
        "complete report: {body}"
    );
    // Raw bytes kept by hash.
    assert_eq!(f.count("SELECT COUNT(*) FROM messages"), 1);
    let sha: String = f
        .db()
        .query_row("SELECT sha256 FROM messages", [], |r| r.get(0))
        .unwrap();
    let raw = f
        .store
        .read_blob(secdesk::store::BlobKind::Raw, &sha)
        .unwrap();
    assert_eq!(raw, sample("01-report-complete.eml"));
}

#[test]
fn the_ack_asks_for_what_is_missing() {
    let mut f = fixture();
    f.ingest(&report(
        "Kim <kim@reporter.example>",
        "kim-1@reporter.example",
        "Problem",
        "",
        "Hi, I found a problem in your app. Contact me.",
    ));
    let body = f.outbox_bodies()[0]
        .2
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(body.contains("does not seem to say"), "{body}");
    assert!(body.contains("Step-by-step instructions"), "{body}");
    assert!(body.contains("version where you found"), "{body}");
}

#[test]
fn a_second_delivery_changes_nothing() {
    let mut f = fixture();
    let raw = sample("01-report-complete.eml");
    assert_eq!(f.ingest(&raw).outcome, Outcome::NewCase);
    let before = (
        f.count("SELECT COUNT(*) FROM messages"),
        f.count("SELECT COUNT(*) FROM events"),
        f.count("SELECT COUNT(*) FROM outbox"),
    );
    let r = f.ingest(&raw);
    assert_eq!(r.outcome, Outcome::Duplicate);
    assert_eq!(r.case.as_deref(), Some("SEC-2026-0001"));
    let after = (
        f.count("SELECT COUNT(*) FROM messages"),
        f.count("SELECT COUNT(*) FROM events"),
        f.count("SELECT COUNT(*) FROM outbox"),
    );
    assert_eq!(before, after);
    // Same Message-ID through another route: still one record, but noted.
    let mut other = b"Received: from relay2.example\r\n".to_vec();
    other.extend_from_slice(&raw);
    assert_eq!(f.ingest(&other).outcome, Outcome::Duplicate);
    assert_eq!(f.count("SELECT COUNT(*) FROM messages"), 1);
    assert_eq!(
        f.count("SELECT COUNT(*) FROM events WHERE kind = 'duplicate_delivery'"),
        1
    );
}

#[test]
fn a_message_without_message_id_dedups_by_hash() {
    let mut f = fixture();
    let raw = b"From: a@reporter.example\r\nSubject: no id\r\n\r\nversion 1.2 steps impact fix config\r\n";
    assert_eq!(f.ingest(raw).outcome, Outcome::NewCase);
    assert_eq!(f.ingest(raw).outcome, Outcome::Duplicate);
    assert_eq!(f.count("SELECT COUNT(*) FROM cases"), 1);
}

#[test]
fn threading_by_tag_references_in_reply_to_and_nothing() {
    let mut f = fixture();
    let first = f.ingest(&sample("01-report-complete.eml"));
    let case = first.case.unwrap();
    let ack_id: String = f
        .db()
        .query_row("SELECT message_id FROM outbox", [], |r| r.get(0))
        .unwrap();

    // By subject tag, under a foreign-language prefix.
    let r = f.ingest(&report(
        "sam@reporter.example",
        "t1@reporter.example",
        &format!("AW: [{case}] more details"),
        "",
        "more",
    ));
    assert_eq!(
        (r.outcome, r.case.as_deref()),
        (Outcome::FollowUp, Some(case.as_str()))
    );

    // By References naming the ack we sent.
    let r = f.ingest(&report(
        "sam@reporter.example",
        "t2@reporter.example",
        "edited subject",
        &format!("References: <unrelated@x> <{ack_id}>\r\n"),
        "more",
    ));
    assert_eq!(
        (r.outcome, r.case.as_deref()),
        (Outcome::FollowUp, Some(case.as_str()))
    );

    // By In-Reply-To naming the reporter's own first message.
    let r = f.ingest(&report(
        "sam@reporter.example",
        "t3@reporter.example",
        "forgot something",
        "In-Reply-To: <20261123091244.4411@reporter.example>\r\n",
        "more",
    ));
    assert_eq!(
        (r.outcome, r.case.as_deref()),
        (Outcome::FollowUp, Some(case.as_str()))
    );

    // A reply that matches nothing (unknown reference, unknown tag) is a new case.
    let r = f.ingest(&report(
        "sam@reporter.example",
        "t4@reporter.example",
        "Re: [SEC-2026-0999] something else",
        "In-Reply-To: <never-seen@x>\r\n",
        "new issue",
    ));
    assert_eq!(r.outcome, Outcome::NewCase);
    assert_eq!(r.case.as_deref(), Some("SEC-2026-0002"));

    // Follow-ups get no acknowledgement.
    assert_eq!(f.count("SELECT COUNT(*) FROM outbox"), 2);
    assert_eq!(f.store.case_messages(&case).unwrap().len(), 5);
}

#[test]
fn auto_replies_are_filed_never_answered() {
    let mut f = fixture();
    f.ingest(&sample("01-report-complete.eml"));
    // The sample out-of-office names the case in its subject.
    let r = f.ingest(&sample("03-out-of-office.eml"));
    assert_eq!(r.outcome, Outcome::AutoReply);
    assert_eq!(r.case.as_deref(), Some("SEC-2026-0001"));
    // A bounce that matches nothing is stored without a case.
    let bounce = b"From: MAILER-DAEMON@mx.example\r\nReturn-Path: <>\r\nSubject: Undelivered\r\nMessage-ID: <b1@mx>\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=x\r\n\r\n--x\r\n\r\nfail\r\n--x--\r\n";
    let r = f.ingest(bounce);
    assert_eq!((r.outcome, r.case), (Outcome::AutoReply, None));
    assert_eq!(f.count("SELECT COUNT(*) FROM outbox"), 1);
    assert_eq!(f.store.unfiled_messages(10).unwrap().len(), 1);
}

#[test]
fn team_mail_opens_a_case_without_ack() {
    let mut f = fixture();
    let r = f.ingest(&report(
        "lead@example.org",
        "fwd-1@example.org",
        "Fwd: report I got at a conference",
        "",
        "forwarded",
    ));
    assert_eq!(r.outcome, Outcome::NewCase);
    assert_eq!(f.count("SELECT COUNT(*) FROM outbox"), 0);
    assert_eq!(
        f.count("SELECT COUNT(*) FROM events WHERE kind = 'ack_suppressed'"),
        1
    );
}

#[test]
fn rate_limits_hold_acks_back_as_events() {
    let mut f = fixture_with("[limits]\nacks_per_sender_per_hour = 2\nacks_per_hour = 3\n");
    for i in 0..3 {
        let r = f.ingest(&report(
            "spam@forged.example",
            &format!("s{i}@forged.example"),
            &format!("report {i}"),
            "",
            "x",
        ));
        assert_eq!(r.outcome, Outcome::NewCase);
    }
    let queued = "SELECT COUNT(*) FROM outbox WHERE status = 'queued'";
    assert_eq!(f.count(queued), 2);
    f.ingest(&report("other@reporter.example", "o1@r", "report", "", "x"));
    f.ingest(&report("third@reporter.example", "o2@r", "report", "", "x"));
    assert_eq!(f.count(queued), 3);
    // Held back, not dropped: each case still has its one ack row.
    assert_eq!(
        f.count("SELECT COUNT(*) FROM outbox WHERE status = 'held'"),
        2
    );
    assert_eq!(
        f.count("SELECT COUNT(*) FROM events WHERE kind = 'ack_held'"),
        2
    );
    assert_eq!(f.count("SELECT COUNT(*) FROM cases"), 5);
}

#[test]
fn oversized_messages_are_rejected_but_kept() {
    let mut f = fixture();
    let big = report(
        "big@reporter.example",
        "big-1@reporter.example",
        "video PoC",
        "",
        &"A".repeat(70_000),
    );
    let r = f.ingest(&big);
    assert_eq!(r.outcome, Outcome::Rejected);
    assert!(r.reason.unwrap().contains("max_message_size"));
    let sha = secdesk::mail::parse::sha256_hex(&big);
    assert_eq!(
        f.store
            .read_blob(secdesk::store::BlobKind::Raw, &sha)
            .unwrap(),
        big
    );
    let unfiled = f.store.unfiled_messages(10).unwrap();
    assert_eq!(unfiled.len(), 1);
    assert_eq!(unfiled[0].from, "big@reporter.example");
    // And only once.
    assert_eq!(f.ingest(&big).outcome, Outcome::Duplicate);
}

#[test]
fn unparseable_input_is_rejected_not_dropped() {
    let mut f = fixture();
    for raw in [&b""[..], b"\r\n\r\n", b"\x00\x01\x02"] {
        let r = f.ingest(raw);
        assert!(
            matches!(
                r.outcome,
                Outcome::Rejected | Outcome::Duplicate | Outcome::NewCase
            ),
            "{raw:?}: {r:?}"
        );
    }
    assert!(f.count("SELECT COUNT(*) FROM messages WHERE kind = 'rejected'") >= 1);
}

// ---------------------------------------------------------------------------
// Hostile input: each with an asserted outcome, none panicking.

#[test]
fn header_injection_through_an_encoded_subject() {
    let mut f = fixture();
    let raw = report(
        "Mallory <mallory@evil.example>",
        "inj-1@evil.example",
        "=?utf-8?q?Hello=0D=0ABcc=3A_victim=40example=2Ecom=0D=0AX-Evil=3A_1?=",
        "",
        "body",
    );
    let r = f.ingest(&raw);
    assert_eq!(r.outcome, Outcome::NewCase);
    let (to, subject, body) = f.outbox_bodies().remove(0);
    assert_eq!(to, r#"["mallory@evil.example"]"#);
    assert!(
        !subject.contains('\r') && !subject.contains('\n'),
        "{subject:?}"
    );
    assert_eq!(
        subject,
        "Re: [SEC-2026-0001] Hello Bcc: victim@example.com X-Evil: 1"
    );
    assert!(!body.contains("\r\nBcc"));
}

#[test]
fn an_encoded_from_name_cannot_add_recipients() {
    let mut f = fixture();
    let raw = report(
        "=?utf-8?q?Eve=0D=0ABcc=3A_x=40y=2Ez?= <eve@evil.example>",
        "inj-2@evil.example",
        "hi",
        "",
        "body",
    );
    f.ingest(&raw);
    let case = f.store.get_case("SEC-2026-0001").unwrap().unwrap();
    assert!(!case.reporter_name.contains('\n'));
    assert_eq!(case.reporter, "eve@evil.example");
    let (to, _, _) = f.outbox_bodies().remove(0);
    assert_eq!(to, r#"["eve@evil.example"]"#);
}

#[test]
fn template_syntax_in_subject_and_body_is_just_text() {
    let mut f = fixture();
    let raw = report(
        "Tim <tim@reporter.example>",
        "tpl-1@reporter.example",
        "{{project.name}} {{> ack}} {{#each missing}}x{{/each}}",
        "",
        "{{#if true}}{{lookup this 'x'}}{{/if}} {{{raw}}}",
    );
    let r = f.ingest(&raw);
    assert_eq!(r.outcome, Outcome::NewCase);
    let (_, subject, body) = f.outbox_bodies().remove(0);
    assert!(subject.contains("{{project.name}} {{> ack}}"), "{subject}");
    assert!(body.contains("{{project.name}} {{> ack}}"), "{body}");
}

#[test]
fn attachment_names_never_become_paths() {
    let mut f = fixture();
    let raw = b"From: p@reporter.example\r\nSubject: files\r\nMessage-ID: <att-1@r>\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n\
--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=\"../../../../tmp/pwned\"\r\n\r\nA\r\n\
--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=\"/etc/cron.d/evil\"\r\n\r\nB\r\n\
--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename*=utf-8''..%2F..%2Fx%0D%0Ay\r\n\r\nC\r\n\
--b--\r\n";
    let r = f.ingest(raw);
    assert_eq!(r.outcome, Outcome::NewCase);
    let msgs = f.store.case_messages("SEC-2026-0001").unwrap();
    let names: Vec<String> = msgs[0].attachments.iter().map(|a| a.name.clone()).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    for n in &names {
        assert!(
            !n.contains('/') && !n.contains('\\') && !n.contains('\n'),
            "{n:?}"
        );
    }
    assert!(!Path::new("/tmp/pwned").exists());
    // Stored only under the data dir, by hash.
    for a in &msgs[0].attachments {
        let p = f
            .store
            .blob_path(secdesk::store::BlobKind::Attachment, &a.sha256);
        assert!(p.starts_with(f.store.data_dir()), "{}", p.display());
        assert!(p.exists());
    }
}

#[test]
fn invalid_charsets_and_truncated_mime() {
    let mut f = fixture();
    let bad_charset = b"From: c@reporter.example\r\nSubject: =?x-no-such-charset?q?caf=E9?=\r\nMessage-ID: <cs@r>\r\nContent-Type: text/plain; charset=x-klingon\r\n\r\ncaf\xe9 \xff\xfe\r\n";
    assert_eq!(f.ingest(bad_charset).outcome, Outcome::NewCase);
    let truncated = b"From: t@reporter.example\r\nSubject: cut\r\nMessage-ID: <tr@r>\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\nSGVsbG8gd29y";
    assert_eq!(f.ingest(truncated).outcome, Outcome::NewCase);
    let no_boundary = b"From: u@reporter.example\r\nSubject: nb\r\nMessage-ID: <nb@r>\r\nContent-Type: multipart/mixed\r\n\r\nno parts here";
    assert_eq!(f.ingest(no_boundary).outcome, Outcome::NewCase);
    assert_eq!(f.count("SELECT COUNT(*) FROM cases"), 3);
}

#[test]
fn nul_bytes_and_control_characters() {
    let mut f = fixture();
    let raw = b"From: n@reporter.example\r\nSubject: nul\x00here\x1b[31m red\r\nMessage-ID: <nul@r>\r\n\r\nbody\x00with\x00nuls \x1b]0;title\x07 and escapes\r\n";
    let r = f.ingest(raw);
    assert_eq!(r.outcome, Outcome::NewCase);
    let c = f.store.get_case("SEC-2026-0001").unwrap().unwrap();
    assert!(
        !c.subject.contains('\0') && !c.subject.contains('\x1b'),
        "{:?}",
        c.subject
    );
    let m = &f.store.case_messages("SEC-2026-0001").unwrap()[0];
    assert!(
        !m.body.contains('\0') && !m.body.contains('\x1b'),
        "{:?}",
        m.body
    );
}

#[test]
fn no_from_address_opens_a_case_without_ack() {
    let mut f = fixture();
    let r = f.ingest(
        b"To: security@example.org\r\nSubject: anonymous\r\nMessage-ID: <anon@r>\r\n\r\nreport\r\n",
    );
    assert_eq!(r.outcome, Outcome::NewCase);
    assert_eq!(f.count("SELECT COUNT(*) FROM outbox"), 0);
    assert_eq!(
        f.count("SELECT COUNT(*) FROM events WHERE kind = 'no_reporter_address'"),
        1
    );
}

#[test]
fn hostile_message_ids_and_huge_reference_lists() {
    let mut f = fixture();
    let refs: String = (0..5000).map(|i| format!("<r{i}@x> ")).collect();
    let raw = format!(
        "From: h@reporter.example\r\nSubject: refs\r\nMessage-ID: <a b c>\r\nReferences: {refs}\r\n\r\nbody\r\n"
    );
    let r = f.ingest(raw.as_bytes());
    assert_eq!(r.outcome, Outcome::NewCase);
    let sql_inj = report(
        "q@reporter.example",
        "x'); DROP TABLE cases; --@r",
        "sql",
        "",
        "body",
    );
    assert_eq!(f.ingest(&sql_inj).outcome, Outcome::NewCase);
    assert_eq!(f.count("SELECT COUNT(*) FROM cases"), 2);
}

#[test]
fn case_ids_count_per_year() {
    let mut f = fixture();
    f.now = Utc.with_ymd_and_hms(2026, 12, 31, 23, 59, 58).unwrap();
    assert_eq!(
        f.ingest(&report("a@r.example", "y1@r", "a", "", "x"))
            .case
            .as_deref(),
        Some("SEC-2026-0001")
    );
    f.now = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap();
    assert_eq!(
        f.ingest(&report("a@r.example", "y2@r", "b", "", "x"))
            .case
            .as_deref(),
        Some("SEC-2027-0001")
    );
}

/// A one-hour window reads "within 1 hour", never "within 1 hours".
#[test]
fn a_short_window_is_said_grammatically() {
    let mut f = fixture_with("[sla]\nresponse_window = \"1h\"\n");
    f.ingest(include_bytes!("data/01-report-complete.eml"));
    let (_, _, body) = f.outbox_bodies().remove(0);
    let flowed = body.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flowed.contains("within 1 hour of your report"), "{body}");
    assert!(!flowed.contains("1 hours"), "{body}");
}
