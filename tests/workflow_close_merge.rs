//! Closing and merging after the hostile review of issue 13, on a temporary
//! store with time passed in: history stays out of the first-response
//! figures once reopened, a silent close after the deadline stays a breach,
//! a reopened case goes back where it was and never to spam, a merge goes
//! only into an open case and takes the lead's record with it; and
//! migration 9 fills in both new columns for an existing store.

mod support;

use chrono::Duration;
use rusqlite::Connection;
use secdesk::case::assess::{Impact, Severity};
use secdesk::case::workflow::{Action, CloseAs, Refused};
use secdesk::store::cases::CaseRow;
use secdesk::store::messages::Origin;
use secdesk::store::schema::MIGRATIONS;
use secdesk::store::Store;
use secdesk::workflow::{apply, assign, merge, reply, Merged};
use support::pipeline::*;

fn case(f: &Fixture, id: &str) -> CaseRow {
    f.store.get_case(id).unwrap().unwrap()
}

fn step(f: &mut Fixture, id: &str, action: Action) -> anyhow::Result<()> {
    let c = case(f, id);
    let now = f.now;
    apply(&mut f.store, &f.cfg, &f.templates, &c, action, "lead", now).map(|_| ())
}

fn report_from(f: &mut Fixture, from: &str, mid: &str, subject: &str) -> String {
    let raw = report(
        from,
        mid,
        subject,
        "",
        "Version 9.1 leaks other users' data.",
    );
    f.ingest(&raw).case.unwrap()
}

/// The reporter answers the case's thread (a reference to its mail, as a
/// mail client's Reply makes).
fn answer_thread(f: &mut Fixture, from: &str, to_mid: &str, mid: &str) {
    let raw = report(
        from,
        mid,
        "Re: still there",
        &format!("In-Reply-To: <{to_mid}>\r\n"),
        "Still leaks in 9.2.",
    );
    f.ingest(&raw);
}

/// The reporter answers the last mail we sent on case `id` (sent: the
/// store's SMTP server is imaginary here).
fn answer_our_mail(f: &mut Fixture, from: &str, id: &str, mid: &str) {
    let ours = f.text(&format!(
        "SELECT message_id FROM outbox WHERE case_id = '{id}' ORDER BY id DESC LIMIT 1"
    ));
    f.exec(&format!(
        "UPDATE outbox SET status = 'sent' WHERE message_id = '{ours}'"
    ));
    answer_thread(f, from, &ours, mid);
}

fn lead_replies(f: &mut Fixture, id: &str) {
    let c = case(f, id);
    let now = f.now;
    reply(&mut f.store, &f.cfg, &c, "Looking.".into(), "lead", now).unwrap();
}

fn stats(f: &Fixture) -> secdesk::stats::Stats {
    let cases = f.store.list_cases(&Default::default()).unwrap();
    let turns = f.store.all_turns().unwrap();
    secdesk::stats::compute(&cases, &turns, f.now, None, None)
}

fn merge_rows(f: &mut Fixture, from: &CaseRow, into: &CaseRow) -> anyhow::Result<Merged> {
    let now = f.now;
    merge(&mut f.store, &f.cfg, from, into, "lead", now)
}

fn merge_ids(f: &mut Fixture, from: &str, into: &str) -> anyhow::Result<Merged> {
    let (from, into) = (case(f, from), case(f, into));
    merge_rows(f, &from, &into)
}

fn refused(r: anyhow::Result<impl std::fmt::Debug>) -> String {
    let e = r.unwrap_err();
    e.downcast_ref::<Refused>()
        .unwrap_or_else(|| panic!("not a refusal: {e:#}"))
        .0
        .clone()
}

#[test]
fn history_reopened_and_answered_stays_out_of_the_first_window() {
    let mut f = fixture();
    let archive = Origin::Archive {
        name: "old-inbox.mbox".into(),
    };
    let long_ago = f.now - Duration::days(400);
    let raw = report(
        "old@reporter.example",
        "h1@r",
        "old report",
        "",
        "1.0 leaks",
    );
    let old = f.ingest_from(&raw, &archive, long_ago).case.unwrap();
    assert!(case(&f, &old).history, "filed as history");
    // The team's answer back then, from the old Sent folder.
    let answer = report(
        "lead@example.org",
        "h2@example.org",
        "Re: old report",
        "To: old@reporter.example\r\nIn-Reply-To: <h1@r>\r\n",
        "Thanks, looking.",
    );
    f.ingest_from(&answer, &archive, long_ago + Duration::days(1));
    // Its reporter answers that mail again: reopened, the team owes an
    // answer. (A reference to their own report would prove nothing.)
    answer_thread(&mut f, "old@reporter.example", "h1@r", "h1b@r");
    assert_eq!(case(&f, &old).state, "imported");
    answer_thread(&mut f, "old@reporter.example", "h2@example.org", "h3@r");
    let c = case(&f, &old);
    assert_eq!(
        (c.state.as_str(), c.reopened_from.as_deref()),
        ("reopened", Some("imported"))
    );
    step(
        &mut f,
        &old,
        Action::Triage {
            severity: Severity::Low,
            impact: Impact::parse("c=low,i=none,a=none").unwrap(),
            cvss: None,
        },
    )
    .unwrap();
    lead_replies(&mut f, &old);
    let c = case(&f, &old);
    assert!(c.history && c.state == "triage");
    assert!(
        c.first_response_at.is_some(),
        "the first answer 400 days on"
    );
    // A report of today, answered in time.
    let live = report_from(&mut f, "sam@reporter.example", "l1@r", "new report");
    assert!(!case(&f, &live).history);
    lead_replies(&mut f, &live);
    f.now += Duration::days(10);
    let s = stats(&f);
    assert_eq!((s.cases, s.history_reopened), (2, 1));
    // No 400-day breach: the history case is in no first-response figure.
    assert_eq!((s.answered_within_window, s.window_decided), (1, 1));
    assert_eq!(s.time_to_first_response.count, 1);
    // Its turn after the reopening is the team's, and counts.
    assert_eq!((s.follow_up.turns, s.follow_up.reopened), (1, 1));
    assert_eq!(
        (s.follow_up.answered_within_window, s.follow_up.decided),
        (1, 1)
    );
}

#[test]
fn a_silent_close_after_the_deadline_stays_a_breach() {
    let mut f = fixture();
    let late = report_from(&mut f, "a@reporter.example", "s1@r", "Buy SEO");
    let due = case(&f, &late).response_due().unwrap();
    f.now = due + Duration::hours(1);
    step(
        &mut f,
        &late,
        Action::Close {
            as_: Some(CloseAs::Spam),
            note: None,
        },
    )
    .unwrap();
    assert_eq!(
        case(&f, &late).closed_at.as_deref(),
        Some(secdesk::store::ts(f.now).as_str())
    );
    // Spam called spam in time is in no figure.
    let quick = report_from(&mut f, "b@reporter.example", "s2@r", "Cheap pills");
    step(
        &mut f,
        &quick,
        Action::Close {
            as_: Some(CloseAs::NotAReport),
            note: None,
        },
    )
    .unwrap();
    f.now += Duration::days(5);
    let s = stats(&f);
    assert_eq!((s.closed_silently, s.closed_silently_breached), (2, 1));
    assert_eq!((s.answered_within_window, s.window_decided), (0, 1));
}

#[test]
fn a_reopened_case_goes_back_where_it_was_never_to_spam() {
    let mut f = fixture();
    let id = report_from(&mut f, "sam@reporter.example", "r1@r", "Data leak");
    step(
        &mut f,
        &id,
        Action::Reject {
            reason: "works as designed".into(),
        },
    )
    .unwrap();
    answer_our_mail(&mut f, "sam@reporter.example", &id, "r2@r");
    assert_eq!(case(&f, &id).state, "reopened");
    let e = refused(step(
        &mut f,
        &id,
        Action::Close {
            as_: Some(CloseAs::Spam),
            note: None,
        },
    ));
    assert!(
        e.contains(&format!("`secdesk close {id}` (without --as)"))
            && e.contains("return it to invalid"),
        "{e}"
    );
    let c = case(&f, &id);
    assert_eq!((c.state.as_str(), c.closed_as), ("reopened", None));
    assert!(!f.events(&id).iter().any(|(k, _)| k == "closed_silently"));
    // As the error says: back to invalid, with when.
    step(
        &mut f,
        &id,
        Action::Close {
            as_: None,
            note: None,
        },
    )
    .unwrap();
    let c = case(&f, &id);
    assert_eq!(c.state, "invalid");
    assert_eq!(c.closed_at, Some(secdesk::store::ts(f.now)));
}

#[test]
fn a_merge_goes_only_into_an_open_case() {
    let mut f = fixture();
    let shut = report_from(&mut f, "sam@reporter.example", "m1@r", "Data leak");
    let open = report_from(&mut f, "sam@reporter.example", "m2@r", "Data leak, more");
    let into_before = case(&f, &shut);
    step(
        &mut f,
        &shut,
        Action::Reject {
            reason: "works as designed".into(),
        },
    )
    .unwrap();
    // The target's row was read before it was closed: still refused.
    let from = case(&f, &open);
    let e = refused(merge_rows(&mut f, &from, &into_before));
    assert!(
        e.contains(&format!("case {shut} is invalid"))
            && e.contains(&format!("secdesk merge {shut} --into {open}")),
        "{e}"
    );
    // Nothing moved.
    assert_eq!(case(&f, &open).state, "new");
    assert_eq!(
        f.count(&format!(
            "SELECT COUNT(*) FROM messages WHERE case_id = '{open}'"
        )),
        1
    );
    assert!(!f.events(&shut).iter().any(|(k, _)| k == "merged_in"));
    // The other way works.
    let m = merge_ids(&mut f, &shut, &open).unwrap();
    assert_eq!(m.messages, 1);
    assert_eq!(case(&f, &shut).state, "merged");
}

#[test]
fn a_merge_carries_the_leads_record_where_the_target_has_none() {
    let mut f = fixture();
    let into = report_from(&mut f, "sam@reporter.example", "c1@r", "Data leak");
    let from = report_from(&mut f, "kim@other.example", "c2@r", "Same leak");
    let now = f.now;
    let today = now.date_naive();
    let until = today + Duration::days(60);
    step(
        &mut f,
        &from,
        Action::Embargo {
            until,
            note: Some("talk at a conference".into()),
            today,
        },
    )
    .unwrap();
    step(
        &mut f,
        &from,
        Action::Credit {
            consent: true,
            name: None,
        },
    )
    .unwrap();
    step(
        &mut f,
        &from,
        Action::Triage {
            severity: Severity::High,
            impact: Impact::parse("c=high,i=none,a=none").unwrap(),
            cvss: None,
        },
    )
    .unwrap();
    let c = case(&f, &from);
    assign(&mut f.store, &c, "dev@example.org", "lead", now).unwrap();
    // The target has an assignee of its own: it stays.
    let c = case(&f, &into);
    assign(&mut f.store, &c, "lead@example.org", "lead", now).unwrap();
    let m = merge_ids(&mut f, &from, &into).unwrap();
    assert_eq!(m.carried.len(), 2, "{:?}", m.carried);
    assert_eq!(m.not_carried.len(), 2, "{:?}", m.not_carried);
    let c = case(&f, &into);
    assert_eq!(c.embargo_until, Some(until.to_string()));
    assert_eq!(c.embargo_note.as_deref(), Some("talk at a conference"));
    // Kim consented, not Sam: nothing is credited on Sam's case until the
    // lead decides (carrying it would publish a name under another's word).
    assert_eq!(c.credit_consent, None);
    assert!(m
        .not_carried
        .iter()
        .any(|n| n.contains("kim@other.example")));
    assert_eq!(c.severity.as_deref(), Some("high"));
    assert_eq!(c.impact.as_deref(), Some("c=high,i=none,a=none"));
    assert_eq!(c.assignee.as_deref(), Some("lead@example.org"));
    assert_eq!(c.state, "new", "the target keeps its state");
    let ev = f.events(&into);
    let (_, d) = ev.iter().find(|(k, _)| k == "carried_over").unwrap();
    assert!(
        d.contains(&format!("carried over from {from}"))
            && d.contains(&until.to_string())
            && d.contains("not carried: credit yes (given by kim@other.example")
            && d.contains("severity high")
            && d.contains("assignee dev@example.org (this case has its own"),
        "{d}"
    );
}

#[test]
fn history_merged_in_leaves_the_targets_clock_alone() {
    let mut f = fixture();
    let archive = Origin::Archive {
        name: "old-inbox.mbox".into(),
    };
    let long_ago = f.now - Duration::days(400);
    let raw = report(
        "sam@reporter.example",
        "o1@r",
        "old report",
        "",
        "1.0 leaks",
    );
    let old = f.ingest_from(&raw, &archive, long_ago).case.unwrap();
    let live = report_from(&mut f, "sam@reporter.example", "o2@r", "Data leak");
    let before = case(&f, &live);
    merge_ids(&mut f, &old, &live).unwrap();
    let after = case(&f, &live);
    assert_eq!(after.received_at, before.received_at);
    assert_eq!(after.response_due_at, before.response_due_at);
    assert!(!after.history);
    let ev = f.events(&live);
    assert!(ev
        .iter()
        .any(|(k, d)| k == "merged_in" && d.contains("filed as history")));
}

/// A store at schema 8 with a case of each kind, upgraded.
#[test]
fn migration_9_fills_in_history_and_closed_at() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cases.db");
    {
        let c = Connection::open(&db).unwrap();
        for sql in MIGRATIONS.iter().take(8) {
            c.execute_batch(sql).unwrap();
        }
        c.pragma_update(None, "user_version", 8).unwrap();
        let rows = [
            // id, state, reopened_from
            ("SEC-2025-0001", "imported", None),
            ("SEC-2025-0002", "reopened", Some("imported")),
            // Reopened history, moved on since: known from its trail.
            ("SEC-2025-0003", "triage", None),
            ("SEC-2026-0001", "closed", None),
            ("SEC-2026-0002", "invalid", None),
            ("SEC-2026-0003", "acknowledged", None),
        ];
        for (n, (id, state, from)) in rows.iter().enumerate() {
            c.execute(
                "INSERT INTO cases (id, year, seq, state, reopened_from, received_at,
                                    response_due_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, '2026-11-01T00:00:00.000Z',
                         '2026-11-03T00:00:00.000Z')",
                rusqlite::params![id, 2026, n as i64 + 1, state, from],
            )
            .unwrap();
        }
        let events = [
            ("SEC-2025-0003", "2026-11-01T00:00:00.000Z", "imported"),
            (
                "SEC-2026-0001",
                "2026-11-04T00:00:00.000Z",
                "closed_silently",
            ),
            ("SEC-2026-0002", "2026-11-05T00:00:00.000Z", "closed_again"),
            ("SEC-2026-0002", "2026-11-07T00:00:00.000Z", "closed_again"),
            ("SEC-2026-0003", "2026-11-02T00:00:00.000Z", "note"),
        ];
        for (id, at, kind) in events {
            c.execute(
                "INSERT INTO events (case_id, at, kind, actor) VALUES (?1, ?2, ?3, 'lead')",
                [id, at, kind],
            )
            .unwrap();
        }
    }
    let store = Store::open(&db, &dir.path().join("data")).unwrap();
    assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len());
    let get = |id: &str| store.get_case(id).unwrap().unwrap();
    for (id, history, closed_at) in [
        ("SEC-2025-0001", true, None),
        ("SEC-2025-0002", true, None),
        ("SEC-2025-0003", true, None),
        ("SEC-2026-0001", false, Some("2026-11-04T00:00:00.000Z")),
        // Closed twice: the last time.
        ("SEC-2026-0002", false, Some("2026-11-07T00:00:00.000Z")),
        ("SEC-2026-0003", false, None),
    ] {
        let c = get(id);
        assert_eq!(
            (c.history, c.closed_at.as_deref()),
            (history, closed_at),
            "{id}"
        );
    }
    // A history case filed after the upgrade is marked at insert.
    let c = Connection::open(&db).unwrap();
    c.execute(
        "INSERT INTO cases (id, year, seq, state, received_at, response_due_at)
         VALUES ('SEC-2025-0009', 2025, 9, 'imported', 'x', 'y'),
                ('SEC-2026-0009', 2026, 9, 'new', 'x', 'y')",
        [],
    )
    .unwrap();
    assert!(get("SEC-2025-0009").history);
    assert!(!get("SEC-2026-0009").history);
}

/// The advisory work done on the merged case (packages and their versions,
/// weakness, CVE) goes with it where the target has none.
#[test]
fn a_merge_carries_the_advisory_where_the_target_has_none() {
    use secdesk::store::advisories::{
        set_packages, update_advisory, update_package, AdvisoryChange, PackageChange,
    };
    let mut f = fixture();
    let a = report_from(&mut f, "sam@reporter.example", "m1@r", "XSS");
    let b = report_from(&mut f, "sam@reporter.example", "m2@r", "XSS again");
    let now = f.now;
    f.store
        .write(|tx| {
            set_packages(tx, &b, &["cli".into()], "lead", now)?;
            update_package(
                tx,
                &b,
                "cli",
                &PackageChange {
                    fixed: Some("9.0.3".into()),
                    ..Default::default()
                },
                "lead",
                now,
            )?;
            let change = AdvisoryChange {
                cwe_ids: Some(vec!["CWE-79".into()]),
                cve_id: Some("CVE-2026-1111".into()),
                ..Default::default()
            };
            update_advisory(tx, &b, &change, "lead", now)?;
            // The target already has its own CVE: it stays.
            let mine = AdvisoryChange {
                cve_id: Some("CVE-2026-2222".into()),
                ..Default::default()
            };
            update_advisory(tx, &a, &mine, "lead", now)
        })
        .unwrap();
    merge_ids(&mut f, &b, &a).unwrap();
    let packages = f.store.case_packages(&a).unwrap();
    assert_eq!(packages.len(), 1);
    assert_eq!(packages[0].fixed.as_deref(), Some("9.0.3"));
    let rec = f.store.advisory_record(&a).unwrap();
    assert_eq!(rec.cwe_ids, ["CWE-79"]);
    assert_eq!(rec.cve_id.as_deref(), Some("CVE-2026-2222"));
    assert!(f
        .events(&a)
        .iter()
        .any(|(k, d)| k == "carried_over" && d.contains("package")));
}

/// Re-review: merging a case away after its own deadline passed
/// unanswered does not hide that breach.
#[test]
fn a_merge_does_not_hide_a_breach() {
    let mut f = fixture();
    let sam = report_from(&mut f, "sam@reporter.example", "mb1@r", "Data leak");
    lead_replies(&mut f, &sam);
    f.now += Duration::hours(1);
    let bob = report_from(&mut f, "bob@other.example", "mb2@r", "Same leak");
    f.now += Duration::hours(60);
    merge_ids(&mut f, &bob, &sam).unwrap();
    f.now += Duration::days(1);
    let s = stats(&f);
    assert_eq!(s.merged_breached, 1, "{s:?}");
    assert_eq!((s.answered_within_window, s.window_decided), (1, 2));
    // Merged in time, it is no breach.
    let mut f = fixture();
    let sam = report_from(&mut f, "sam@reporter.example", "mc1@r", "Data leak");
    lead_replies(&mut f, &sam);
    let bob = report_from(&mut f, "bob@other.example", "mc2@r", "Same leak");
    f.now += Duration::hours(2);
    merge_ids(&mut f, &bob, &sam).unwrap();
    f.now += Duration::days(3);
    let s = stats(&f);
    assert_eq!((s.merged_breached, s.window_decided), (0, 1), "{s:?}");
}
