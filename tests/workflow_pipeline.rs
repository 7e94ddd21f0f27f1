//! Every step of the lead's workflow, applied on a temporary store: the
//! state, the fields, the audit event and the reporter's notice commit
//! together; a step the policy forbids is refused and changes nothing.

mod support;

use secdesk::case::assess::{cvss, Impact, Severity};
use secdesk::case::workflow::{Action, Refused};
use secdesk::store::cases::CaseRow;
use secdesk::workflow::{apply, assign, reply, responded, Applied};
use support::pipeline::*;

fn case(f: &Fixture, id: &str) -> CaseRow {
    f.store.get_case(id).unwrap().unwrap()
}

fn step(f: &mut Fixture, id: &str, action: Action) -> anyhow::Result<Applied> {
    let c = case(f, id);
    let now = f.now;
    apply(&mut f.store, &f.cfg, &f.templates, &c, action, "lead", now)
}

fn notices(f: &Fixture) -> i64 {
    f.count("SELECT COUNT(*) FROM outbox WHERE kind = 'notice'")
}

#[test]
fn a_report_from_triage_to_disclosure() {
    let mut f = fixture();
    f.ingest(&sample("01-report-complete.eml"));
    let id = "SEC-2026-0001";
    let done = step(
        &mut f,
        id,
        Action::Triage {
            severity: Severity::High,
            impact: Impact::parse("c=none,i=high,a=high").unwrap(),
            cvss: Some(cvss("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:H").unwrap()),
        },
    )
    .unwrap();
    assert_eq!((done.event, done.state.as_str()), ("triaged", "triage"));
    assert!(!done.warnings.is_empty(), "high vs a critical CVSS rating");
    assert_eq!(step(&mut f, id, Action::Accept).unwrap().state, "accepted");
    assert_eq!(notices(&f), 1);
    let fix = "https://github.com/example/example/pull/42".to_string();
    step(&mut f, id, Action::Fixing { fix_ref: fix }).unwrap();
    step(
        &mut f,
        id,
        Action::Released {
            version: "9.0.2".into(),
        },
    )
    .unwrap();
    assert_eq!(notices(&f), 2);
    // Disclosure waits for the analysis.
    let refused = step(
        &mut f,
        id,
        Action::Disclose {
            advisory: "GHSA-abcd-1234-wxyz".into(),
        },
    );
    assert!(refused.unwrap_err().downcast_ref::<Refused>().is_some());
    step(
        &mut f,
        id,
        Action::Analyze {
            affected: ">=8.0.0 <9.0.2".into(),
            introduced: "8.0.0".into(),
            user_impact: "Remote clients change every route.".into(),
            workaround: None,
        },
    )
    .unwrap();
    step(
        &mut f,
        id,
        Action::Credit {
            consent: true,
            name: Some("Sam F.".into()),
        },
    )
    .unwrap();
    step(
        &mut f,
        id,
        Action::Note {
            text: "agreed the date".into(),
        },
    )
    .unwrap();
    let done = step(
        &mut f,
        id,
        Action::Disclose {
            advisory: "GHSA-abcd-1234-wxyz".into(),
        },
    )
    .unwrap();
    assert_eq!(done.state, "disclosed");
    let c = case(&f, id);
    assert_eq!(c.fixed_version.as_deref(), Some("9.0.2"));
    assert_eq!(c.credit_source.as_deref(), Some("lead"));
    assert!(c.disclosed_at.is_some());
    assert_eq!(notices(&f), 3);
    let events: Vec<String> = f.events(id).into_iter().map(|e| e.0).collect();
    for e in [
        "triaged",
        "accepted",
        "fixing",
        "released",
        "analyzed",
        "credit",
        "note",
        "disclosed",
    ] {
        assert!(events.iter().any(|k| k == e), "{e} in {events:?}");
    }
}

#[test]
fn reject_duplicate_and_illegal_steps() {
    let mut f = fixture();
    f.ingest(&report("a@reporter.example", "a1@r", "first", "", "x"));
    f.ingest(&report("b@reporter.example", "b1@r", "second", "", "x"));
    let done = step(
        &mut f,
        "SEC-2026-0001",
        Action::Reject {
            reason: "works as designed".into(),
        },
    )
    .unwrap();
    assert_eq!(done.state, "invalid");
    assert_eq!(
        case(&f, "SEC-2026-0001").decision_reason.as_deref(),
        Some("works as designed")
    );
    let done = step(
        &mut f,
        "SEC-2026-0002",
        Action::Duplicate {
            of: "SEC-2026-0001".into(),
        },
    )
    .unwrap();
    assert_eq!(done.state, "duplicate");
    assert_eq!(notices(&f), 2);
    // A closed case cannot be accepted; nothing is written.
    let before = f.count("SELECT COUNT(*) FROM events");
    let e = step(&mut f, "SEC-2026-0001", Action::Accept).unwrap_err();
    assert!(e.to_string().contains("cannot become accepted"), "{e}");
    assert_eq!(f.count("SELECT COUNT(*) FROM events"), before);
}

#[test]
fn reply_responded_and_assign() {
    let mut f = fixture();
    f.ingest(&report("a@reporter.example", "r1@r", "one", "", "x"));
    f.ingest(&report("b@reporter.example", "r2@r", "two", "", "x"));
    let now = f.now;
    let c1 = case(&f, "SEC-2026-0001");
    let mid = reply(
        &mut f.store,
        &f.cfg,
        &c1,
        "Thanks, looking.\n".into(),
        "lead",
        now,
    )
    .unwrap();
    let c1 = case(&f, "SEC-2026-0001");
    assert!(c1.first_response_at.is_some() && !c1.first_response_unverified);
    assert_eq!(
        f.count(&format!(
            "SELECT COUNT(*) FROM outbox WHERE message_id = '{mid}' AND kind = 'reply'"
        )),
        1
    );
    let c2 = case(&f, "SEC-2026-0002");
    assert!(responded(&mut f.store, &c2, "  ", "lead", now).is_err());
    responded(&mut f.store, &c2, "called them", "lead", now).unwrap();
    assert!(case(&f, "SEC-2026-0002").first_response_at.is_some());
    let addr = assign(&mut f.store, &c2, "Dev@Example.org", "lead", now).unwrap();
    assert_eq!(addr, "dev@example.org");
    assert!(assign(&mut f.store, &c2, "not an address", "lead", now).is_err());
    assert_eq!(
        case(&f, "SEC-2026-0002").assignee.as_deref(),
        Some("dev@example.org")
    );
}
