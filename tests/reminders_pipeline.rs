//! The reminder scan on a temporary store with time passed in: each
//! threshold of the 48-hour window fires once, in order, to the right
//! people; a scan after downtime fires only the most urgent; an answered
//! case is left alone; a dry run writes nothing.

mod support;

use chrono::Duration;
use secdesk::mail::compose::OutKind;
use secdesk::reminders::scan;
use support::pipeline::*;

fn fixture() -> Fixture {
    fixture_with("escalation = [\"cto@example.org\"]\n")
}

/// Scans at `hours` after the report; (kind, recipients) of what it queued.
fn scan_at(
    f: &mut Fixture,
    t0: chrono::DateTime<chrono::Utc>,
    hours: i64,
) -> Vec<(OutKind, Vec<String>)> {
    let now = t0 + Duration::hours(hours);
    scan(&mut f.store, &f.cfg, &f.templates, now, false)
        .unwrap()
        .into_iter()
        .map(|m| (m.kind, m.to))
        .collect()
}

#[test]
fn each_threshold_fires_once_in_order() {
    let mut f = fixture();
    f.ingest(&report("r@reporter.example", "w1@r", "XSS", "", "x"));
    let t0 = f.now;
    assert!(scan_at(&mut f, t0, 35).is_empty());
    let lead = vec!["lead@example.org".to_string()];
    assert_eq!(
        scan_at(&mut f, t0, 36),
        vec![(OutKind::Reminder, lead.clone())]
    );
    assert!(
        scan_at(&mut f, t0, 36).is_empty(),
        "a second scan repeats nothing"
    );
    assert!(scan_at(&mut f, t0, 43).is_empty());
    assert_eq!(
        scan_at(&mut f, t0, 44),
        vec![(OutKind::Reminder, lead.clone())]
    );
    let esc = scan_at(&mut f, t0, 48);
    assert_eq!(
        esc,
        vec![
            (OutKind::Escalation, vec!["cto@example.org".to_string()]),
            (OutKind::Escalation, lead),
        ]
    );
    assert!(
        scan_at(&mut f, t0, 100).is_empty(),
        "the escalation fires once"
    );
    assert_eq!(
        f.count("SELECT COUNT(*) FROM reminders WHERE case_id = 'SEC-2026-0001'"),
        3
    );
}

#[test]
fn a_scan_after_downtime_fires_only_the_most_urgent() {
    let mut f = fixture();
    f.ingest(&report("r@reporter.example", "w2@r", "XSS", "", "x"));
    let t0 = f.now;
    // Down from before the first reminder until after the second.
    assert_eq!(scan_at(&mut f, t0, 45).len(), 1);
    assert_eq!(
        f.count("SELECT COUNT(*) FROM reminders WHERE sent = 0"),
        1,
        "the passed 12h reminder is recorded as skipped"
    );
    assert!(scan_at(&mut f, t0, 46).is_empty());
}

#[test]
fn an_answered_case_is_left_alone_and_a_dry_run_writes_nothing() {
    let mut f = fixture();
    f.ingest(&report("r@reporter.example", "w3@r", "XSS", "", "x"));
    let t0 = f.now;
    let dry = scan(
        &mut f.store,
        &f.cfg,
        &f.templates,
        t0 + Duration::hours(40),
        true,
    )
    .unwrap();
    assert_eq!(dry.len(), 1);
    assert_eq!(f.count("SELECT COUNT(*) FROM reminders"), 0);
    f.ingest(&report(
        "lead@example.org",
        "w3-answer@example.org",
        "Re: [SEC-2026-0001] XSS",
        "Cc: r@reporter.example\r\n",
        "On it.",
    ));
    assert!(scan_at(&mut f, t0, 49).is_empty());
}
