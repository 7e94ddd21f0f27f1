//! Day one (issue 12), on a temporary store with time passed in: history
//! is filed and never answered, counted apart in the figures; a report seen
//! only after its window closed gets an honest late acknowledgement and the
//! lead hears of it at once.

mod support;

use chrono::Duration;
use secdesk::inbound::Outcome;
use secdesk::store::cases::CaseFilter;
use secdesk::store::messages::Origin;
use support::pipeline::*;

#[test]
fn history_is_imported_never_answered_and_left_out_of_the_figures() {
    let mut f = fixture();
    let archive = Origin::Archive {
        name: "old-inbox.mbox".into(),
    };
    let long_ago = f.now - Duration::days(400);
    let r = f.ingest_from(
        &report(
            "old@reporter.example",
            "h1@r",
            "old report",
            "",
            "1.0 leaks",
        ),
        &archive,
        long_ago,
    );
    assert_eq!(r.outcome, Outcome::NewCase);
    // The lead's answer back then threads to it, as history too.
    let answer = report(
        "lead@example.org",
        "h2@example.org",
        "Re: old report",
        "In-Reply-To: <h1@r>\r\n",
        "fixed",
    );
    assert_eq!(
        f.ingest_from(&answer, &archive, long_ago).outcome,
        Outcome::FollowUp
    );
    // Imported twice: nothing changes.
    let again = report(
        "old@reporter.example",
        "h1@r",
        "old report",
        "",
        "1.0 leaks",
    );
    assert_eq!(
        f.ingest_from(&again, &archive, long_ago).outcome,
        Outcome::Duplicate
    );
    let c = f.store.get_case("SEC-2025-0001").unwrap().unwrap();
    assert_eq!(c.state, "imported");
    assert_eq!(f.count("SELECT COUNT(*) FROM outbox"), 0);
    // A new report is answered as ever.
    f.ingest(&report(
        "new@reporter.example",
        "n1@r",
        "new report",
        "",
        "2.0 leaks",
    ));
    assert_eq!(f.count("SELECT COUNT(*) FROM outbox WHERE kind = 'ack'"), 1);
    let cases = f.store.list_cases(&CaseFilter::default()).unwrap();
    let s = secdesk::stats::compute(&cases, &[], f.now + Duration::days(3), None, None);
    assert_eq!((s.cases, s.imported), (1, 1));
    assert_eq!(s.window_decided, 1, "history is in no 48-hour figure");
}

#[test]
fn a_late_report_gets_an_honest_ack_and_the_lead_is_told_at_once() {
    let mut f = fixture();
    let arrived = f.now - Duration::days(3);
    f.ingest_from(
        &report("late@reporter.example", "l1@r", "XSS", "", "1.0 details"),
        &Origin::Cli,
        arrived,
    );
    let c = f.store.get_case("SEC-2026-0001").unwrap().unwrap();
    let due = c.response_due().unwrap();
    assert!(due > f.now, "never a deadline in the past: {due}");
    assert_eq!(due - f.now, Duration::hours(48));
    let mails = f.outbox_bodies();
    let ack = mails
        .iter()
        .find(|(to, _, _)| to.contains("late@"))
        .unwrap();
    assert!(
        ack.2.contains("sorry") && ack.2.contains("arrived on"),
        "{}",
        ack.2
    );
    let lead = mails
        .iter()
        .find(|(to, _, _)| to.contains("lead@example.org"))
        .unwrap();
    assert!(
        lead.1.starts_with("[secdesk] Late report: SEC-2026-0001"),
        "{}",
        lead.1
    );
    assert!(f
        .events("SEC-2026-0001")
        .iter()
        .any(|(k, _)| k == "late_report"));
}
