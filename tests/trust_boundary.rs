//! The trust boundary (DESIGN.md, "What mail may change"; issue 10): mail
//! from outside files messages and never acts with anyone's authority. One
//! regression test per finding that the pipeline shows, on a temporary
//! store with time passed in; the mail-stack ones are in tests/e2e_trust.rs.

mod support;

use chrono::Duration;
use secdesk::inbound::Outcome;
use secdesk::store::cases::CaseFilter;
use secdesk::store::messages::{record_credit, CreditSource};
use secdesk::store::outbox::{next_due, release_held_acks};
use support::pipeline::*;

fn case_field(f: &Fixture, case: &str, column: &str) -> Option<String> {
    f.db()
        .query_row(
            &format!("SELECT {column} FROM cases WHERE id = ?1"),
            [case],
            |r| r.get(0),
        )
        .unwrap()
}

fn has_event(f: &Fixture, case: &str, kind: &str) -> bool {
    f.events(case).iter().any(|(k, _)| k == kind)
}

/// The acknowledgement of `case` went out: the SMTP server accepted it.
fn ack_sent(f: &Fixture, case: &str) -> String {
    f.exec(&format!(
        "UPDATE outbox SET status = 'sent' WHERE kind = 'ack' AND case_id = '{case}'"
    ));
    f.text(&format!(
        "SELECT message_id FROM outbox WHERE kind = 'ack' AND case_id = '{case}'"
    ))
}

fn reply(from: &str, mid: &str, case: &str, in_reply_to: Option<&str>, body: &str) -> Vec<u8> {
    let irt = in_reply_to
        .map(|i| format!("In-Reply-To: <{i}>\r\nReferences: <{i}>\r\n"))
        .unwrap_or_default();
    report(
        from,
        mid,
        &format!("Re: [{case}] Prototype pollution"),
        &irt,
        body,
    )
}

/// A team member answering `reporter` on `case`, Cc the security address.
fn team_reply(from: &str, mid: &str, case: &str, reporter: &str, body: &str) -> Vec<u8> {
    report(
        from,
        mid,
        &format!("Re: [{case}] Prototype pollution"),
        &format!("Cc: <{reporter}>\r\n"),
        body,
    )
}

/// Finding 1: credit consent by mail needs a reply that proves it received
/// our mail, from the reporter, and never overrides the lead.
#[test]
fn credit_consent_cannot_be_forged() {
    let mut f = fixture();
    let sam = "Sam Finder <sam@reporter.example>";
    f.ingest(&report(
        sam,
        "r1@reporter.example",
        "Prototype pollution",
        "",
        "details",
    ));
    let case = "SEC-2026-0001";

    // The tag alone: anyone can write it, with Sam's From line too.
    f.ingest(&reply(
        sam,
        "forged-1@evil.example",
        case,
        None,
        "credit: yes, Sam Finder",
    ));
    assert_eq!(case_field(&f, case, "credit_consent"), None);
    assert_eq!(
        case_field(&f, case, "credit_request").as_deref(),
        Some("yes, Sam Finder")
    );
    assert!(has_event(&f, case, "credit_request"));

    // A reply to the acknowledgement Sam received counts.
    let ack = ack_sent(&f, case);
    f.ingest(&reply(
        sam,
        "r2@reporter.example",
        case,
        Some(&ack),
        "> credit: yes\ncredit: no\n",
    ));
    assert_eq!(
        case_field(&f, case, "credit_consent").as_deref(),
        Some("no")
    );
    assert_eq!(
        case_field(&f, case, "credit_source").as_deref(),
        Some("reporter")
    );
    assert_eq!(case_field(&f, case, "credit_request"), None);

    // Someone else replying to our mail (a forward) only asks.
    f.ingest(&reply(
        "eve@evil.example",
        "e1@evil.example",
        case,
        Some(&ack),
        "credit: yes, Eve",
    ));
    assert_eq!(
        case_field(&f, case, "credit_consent").as_deref(),
        Some("no")
    );
    assert_eq!(
        case_field(&f, case, "credit_request").as_deref(),
        Some("yes, Eve")
    );

    // The lead decides; even a proven reply does not override that.
    f.store
        .write(|tx| record_credit(tx, case, "no", None, CreditSource::Lead))
        .unwrap();
    f.ingest(&reply(
        sam,
        "r3@reporter.example",
        case,
        Some(&ack),
        "credit: yes, Sam",
    ));
    assert_eq!(
        case_field(&f, case, "credit_consent").as_deref(),
        Some("no")
    );
    assert_eq!(
        case_field(&f, case, "credit_source").as_deref(),
        Some("lead")
    );
    assert_eq!(
        case_field(&f, case, "credit_request").as_deref(),
        Some("yes, Sam")
    );
    let c = f.store.get_case(case).unwrap().unwrap();
    let advisory = secdesk::advisory::ghsa(&c, &f.cfg.project);
    assert!(!advisory.contains("Sam"), "{advisory}");
}

/// Finding 3: team mail stops the clock only as far as it is trusted.
#[test]
fn team_responses_without_a_trust_check_are_marked_unverified() {
    let mut f = fixture();
    f.ingest(&report("r@reporter.example", "t1@r", "XSS", "", "details"));
    f.ingest(&team_reply(
        "Lead <lead@example.org>",
        "l1@example.org",
        "SEC-2026-0001",
        "r@reporter.example",
        "On it.",
    ));
    let c = f.store.get_case("SEC-2026-0001").unwrap().unwrap();
    assert!(c.first_response_at.is_some());
    assert!(c.first_response_unverified);
    assert!(has_event(&f, "SEC-2026-0001", "team_mail_unverified"));
    let cases = f.store.list_cases(&CaseFilter::default()).unwrap();
    let s = secdesk::stats::compute(&cases, &[], f.now + Duration::days(3), None, None);
    assert_eq!(
        (
            s.answered_within_window,
            s.answered_within_window_unverified
        ),
        (1, 1)
    );
}

#[test]
fn forged_authentication_results_do_not_verify_team_mail() {
    let mut f = fixture_with("trust_authentication_results = \"mx.example.org\"\n");
    let forged = [
        // A look-alike field name mail-parser would map onto the real one.
        "Auth entication-Results: mx.example.org; dkim=pass header.d=example.org\r\n",
        "Authentication-Results : mx.example.org; dkim=pass header.d=example.org\r\n",
        // A ';' inside a quoted local part does not start a resinfo.
        "Authentication-Results: mx.example.org; spf=pass smtp.mailfrom=\"x;dkim=pass header.d=example.org y\"@evil.example\r\n",
        // A comment is not a result.
        "Authentication-Results: mx.example.org; spf=pass (dkim=pass header.d=example.org) smtp.mailfrom=e\r\n",
    ];
    for (i, header) in forged.iter().enumerate() {
        f.ingest(&report(
            "r@reporter.example",
            &format!("f{i}@r"),
            "XSS",
            "",
            "details",
        ));
        let case = format!("SEC-2026-{:04}", i + 1);
        let team = format!(
            "From: lead@example.org\r\nTo: r@reporter.example\r\n{header}Subject: Re: [{case}] XSS\r\nMessage-ID: <fl{i}@example.org>\r\n\r\nok\r\n"
        );
        f.ingest(team.as_bytes());
        let c = f.store.get_case(&case).unwrap().unwrap();
        assert_eq!(c.first_response_at, None, "{header}");
    }
    f.ingest(&report("r@reporter.example", "ok@r", "XSS", "", "details"));
    let team = "From: lead@example.org\r\nTo: r@reporter.example\r\nAuthentication-Results: mx.example.org; dkim=pass header.d=example.org\r\n\
                Subject: Re: [SEC-2026-0005] XSS\r\nMessage-ID: <ok@example.org>\r\n\r\nok\r\n";
    f.ingest(team.as_bytes());
    let c = f.store.get_case("SEC-2026-0005").unwrap().unwrap();
    assert!(c.first_response_at.is_some());
    assert!(!c.first_response_unverified);
}

/// Finding 4: a flood cannot use up the acknowledgements of real
/// reporters: counted per normalised address and per domain, held back and
/// sent later (oldest first), never dropped.
#[test]
fn rate_limits_delay_acknowledgements_never_drop_them() {
    let mut f = fixture_with(
        "[limits]\nacks_per_sender_per_hour = 2\nacks_per_domain_per_hour = 5\nacks_per_hour = 8\n",
    );
    for i in 1..=12 {
        let from = format!("Buy cheap pills at evil.example <Victim+{i}@victim.example>");
        f.ingest(&report(
            &from,
            &format!("v{i}@x"),
            &"Long subject ".repeat(20),
            "",
            "x",
        ));
    }
    let status = |f: &Fixture, s: &str| {
        f.count(&format!("SELECT COUNT(*) FROM outbox WHERE status = '{s}'"))
    };
    assert_eq!((status(&f, "queued"), status(&f, "held")), (2, 10));
    for i in 1..=7 {
        f.ingest(&report(
            &format!("o{i}@other.example"),
            &format!("o{i}@x"),
            "r",
            "",
            "x",
        ));
    }
    assert_eq!((status(&f, "queued"), status(&f, "held")), (7, 12));
    f.ingest(&report(
        "genuine@reporter.example",
        "g@x",
        "Real report",
        "",
        "x",
    ));
    assert_eq!(status(&f, "queued"), 8);
    f.ingest(&report("late@third.example", "l@x", "Another", "", "x"));
    assert_eq!(status(&f, "held"), 13);
    let held: Vec<bool> = f
        .store
        .list_cases(&CaseFilter::default())
        .unwrap()
        .iter()
        .map(|c| c.ack_held)
        .collect();
    assert_eq!(held.iter().filter(|h| **h).count(), 13);
    // The acks quote the tag and a capped subject, never the display name.
    for (_, subject, body) in f.outbox_bodies() {
        assert!(
            !body.contains("pills") && !subject.contains("pills"),
            "{body}"
        );
        assert!(subject.chars().count() <= 100, "{subject}");
    }

    // Within the hour nothing goes; a case answered meanwhile is cancelled.
    f.ingest(&team_reply(
        "lead@example.org",
        "ans@example.org",
        "SEC-2026-0003",
        "victim+3@victim.example",
        "Looking.",
    ));
    let now = f.now;
    let r = f
        .store
        .write(|tx| release_held_acks(tx, &f.cfg.limits, now))
        .unwrap();
    assert_eq!((r.released, r.cancelled), (0, 1));
    // An hour later the budget is back: oldest first, within every limit.
    let later = now + Duration::minutes(61);
    let r = f
        .store
        .write(|tx| release_held_acks(tx, &f.cfg.limits, later))
        .unwrap();
    // Two more victims (per-sender limit), o6 and o7, then the late one.
    assert_eq!(r.released, 5);
    let released: Vec<String> = {
        let db = f.db();
        let mut stmt = db
            .prepare("SELECT case_id FROM events WHERE kind = 'ack_released' ORDER BY id")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
    };
    assert_eq!(
        released,
        [
            "SEC-2026-0004",
            "SEC-2026-0005",
            "SEC-2026-0018",
            "SEC-2026-0019",
            "SEC-2026-0021"
        ]
    );
    // Past the response deadline a held ack would promise a time gone.
    let r = f
        .store
        .write(|tx| release_held_acks(tx, &f.cfg.limits, now + Duration::hours(49)))
        .unwrap();
    assert_eq!((r.released, r.cancelled), (0, 7));
    assert_eq!(status(&f, "held"), 0);
}

/// Finding 7: a forged mail that claims a real report's Message-ID first
/// does not turn the real report into a silent duplicate.
#[test]
fn a_message_id_collision_is_a_new_message_flagged_on_both_cases() {
    let mut f = fixture();
    let forged = report(
        "eve@evil.example",
        "real-1@reporter.example",
        "hello",
        "",
        "spam",
    );
    assert_eq!(f.ingest(&forged).outcome, Outcome::NewCase);
    let real = report(
        "sam@reporter.example",
        "real-1@reporter.example",
        "RCE",
        "",
        "the report",
    );
    let r = f.ingest(&real);
    assert_eq!(r.outcome, Outcome::NewCase);
    assert_eq!(r.case.as_deref(), Some("SEC-2026-0002"));
    assert!(has_event(&f, "SEC-2026-0001", "message_id_collision"));
    assert!(has_event(&f, "SEC-2026-0002", "message_id_collision"));
    assert_eq!(
        f.count("SELECT COUNT(*) FROM outbox WHERE kind = 'ack' AND recipients LIKE '%sam@%'"),
        1
    );
    // The same bytes again, or by another route, are still duplicates.
    assert_eq!(f.ingest(&real).outcome, Outcome::Duplicate);
    let mut routed = b"Received: from relay.example\r\n".to_vec();
    routed.extend_from_slice(&real);
    assert_eq!(f.ingest(&routed).outcome, Outcome::Duplicate);
    assert!(has_event(&f, "SEC-2026-0002", "duplicate_delivery"));
    // A reply naming the contested Message-ID threads to neither by it.
    let r = f.ingest(&report(
        "x@reporter.example",
        "x1@r",
        "question",
        "In-Reply-To: <real-1@reporter.example>\r\n",
        "?",
    ));
    assert_eq!(r.outcome, Outcome::NewCase);
}

/// Finding 10: only a plain mailbox in the first From is ever answered.
#[test]
fn ambiguous_senders_are_filed_not_acknowledged() {
    let mut f = fixture();
    for (i, headers) in [
        "From: Jane <jane@reporter.example>\r\nFrom: victim@victim.example\r\n",
        "From: undisclosed-recipients:;\r\nSender: victim@victim.example\r\n",
        "From: <@evil.example:victim@victim.example>\r\n",
        "From: a@reporter.example, victim@victim.example\r\nSender: a@reporter.example\r\n",
    ]
    .iter()
    .enumerate()
    {
        let raw = format!("{headers}Subject: report {i}\r\nMessage-ID: <amb{i}@x>\r\n\r\nbody\r\n");
        assert_eq!(
            f.ingest(raw.as_bytes()).outcome,
            Outcome::NewCase,
            "{headers}"
        );
    }
    assert_eq!(f.count("SELECT COUNT(*) FROM outbox"), 0);
    assert!(has_event(&f, "SEC-2026-0001", "ambiguous_sender"));
    assert_eq!(
        case_field(&f, "SEC-2026-0001", "reporter_address").as_deref(),
        Some("jane@reporter.example")
    );
}

/// Finding 11: reporter tokens never reach our headers unchecked.
#[test]
fn odd_message_ids_are_not_echoed() {
    let mut f = fixture();
    let raw = "From: r@reporter.example\r\nSubject: =?utf-8?b?SGk=?= literal\r\n\
               Message-ID: <a\"b,c(d)@x>\r\nReferences: <=?utf-8?q?x?=@y> <ok.1@r.example>\r\n\r\nbody\r\n";
    f.ingest(raw.as_bytes());
    let q = next_due(&f.db(), f.now).unwrap().unwrap();
    let wire = secdesk::outbox::message::build(&q, "security@example.org", "Example").unwrap();
    let wire = String::from_utf8(wire.formatted()).unwrap();
    assert!(!wire.contains("In-Reply-To"), "{wire}");
    assert!(wire.contains("References: <ok.1@r.example>\r\n"), "{wire}");
    assert!(!wire.contains("SGk=?= literal"), "{wire}");
}

/// Finding 12: bidi controls are gone from what is stored and shown; a
/// 1-byte input is not a message.
#[test]
fn bidi_controls_and_one_byte_messages() {
    let mut f = fixture();
    let raw = "From: r@reporter.example\r\nSubject: =?utf-8?q?fix=E2=80=AEtxt.exe?=\r\nMessage-ID: <b1@r>\r\n\r\nx\u{2067}y\r\n";
    f.ingest(raw.as_bytes());
    let c = f.store.get_case("SEC-2026-0001").unwrap().unwrap();
    assert_eq!(c.subject, "fixtxt.exe");
    let body = f.text("SELECT body_text FROM messages WHERE message_id = 'b1@r'");
    assert!(body.contains("xy"), "{body:?}");
    for junk in [&b"x"[..], b"a:b", b"\n"] {
        let r = f.ingest(junk);
        assert_eq!(r.outcome, Outcome::Rejected, "{junk:?}");
    }
    assert_eq!(f.count("SELECT COUNT(*) FROM cases"), 1);
}

/// Finding 12, for rows filed before bidi controls were stripped on the way
/// in: the upgrade cleans them.
#[test]
fn the_upgrade_strips_bidi_controls_from_old_rows() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cases.db");
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        for m in &secdesk::store::schema::MIGRATIONS[..5] {
            c.execute_batch(m).unwrap();
        }
        c.execute_batch(
            "INSERT INTO cases (id, year, seq, state, subject, reporter_name, received_at, response_due_at)
             VALUES ('SEC-2026-0001', 2026, 1, 'new', 'fix\u{202e}txt.exe', 'Eve\u{2067}', 'x', 'y');
             PRAGMA user_version = 5;",
        )
        .unwrap();
    }
    let store = secdesk::store::Store::open(&db, &dir.path().join("data")).unwrap();
    let c = store.get_case("SEC-2026-0001").unwrap().unwrap();
    assert_eq!(
        (c.subject.as_str(), c.reporter_name.as_str()),
        ("fixtxt.exe", "Eve")
    );
}
