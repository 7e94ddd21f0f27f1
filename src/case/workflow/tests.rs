//! Every action from every state: allowed exactly where the policy says,
//! refused in words a lead can act on.

use super::*;

fn snap(state: State) -> Snapshot {
    Snapshot {
        id: CaseId::parse("SEC-2026-0001", "SEC").unwrap(),
        state,
        severity: Some("high".into()),
        fixed_version: Some("9.0.2".into()),
        affected_versions: Some("<9.0.2".into()),
        reopened_from: None,
    }
}

fn actions() -> Vec<Action> {
    vec![
        Action::Triage {
            severity: Severity::High,
            impact: Impact::parse("c=none,i=high,a=high").unwrap(),
            cvss: None,
        },
        Action::Accept,
        Action::Reject {
            reason: "works as designed".into(),
        },
        Action::Duplicate {
            of: "SEC-2026-0002".into(),
        },
        Action::Fixing {
            fix_ref: "https://github.com/o/r/pull/1".into(),
        },
        Action::Released {
            version: "9.0.2".into(),
        },
        Action::Analyze {
            affected: "<9.0.2".into(),
            introduced: "8.0.0".into(),
            user_impact: "remote clients change every route".into(),
            workaround: None,
        },
        Action::Credit {
            consent: true,
            name: Some("Sam".into()),
        },
        Action::Disclose {
            advisory: "GHSA-abcd-1234-wxyz".into(),
        },
        Action::Note {
            text: "internal".into(),
        },
        Action::Close {
            as_: Some(CloseAs::Spam),
            note: None,
        },
        Action::Close {
            as_: None,
            note: Some("answered by phone".into()),
        },
        Action::Embargo {
            until: day(2027, 2, 1),
            note: None,
            today: day(2026, 11, 25),
        },
    ]
}

fn day(y: i32, m: u32, d: u32) -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// Every action from every state: allowed exactly where the policy says.
#[test]
fn every_legal_and_illegal_step() {
    use State::*;
    let allowed = |a: &Action, s: State| -> bool {
        match a {
            Action::Triage { .. } => matches!(
                s,
                New | Acknowledged | Triage | Accepted | Fixing | Released | Reopened
            ),
            Action::Accept => s == Triage,
            Action::Reject { .. } | Action::Duplicate { .. } => {
                matches!(s, New | Acknowledged | Triage | Reopened)
            }
            Action::Fixing { .. } => s == Accepted,
            Action::Released { .. } => s == Fixing,
            Action::Analyze { .. } => matches!(s, Accepted | Fixing | Released),
            Action::Credit { .. } => s != Disclosed,
            Action::Disclose { .. } => s == Released,
            Action::Note { .. } => true,
            // A reopened case goes back where it was, never to spam.
            Action::Close { as_: Some(_), .. } => matches!(s, New | Acknowledged | Triage),
            // Only a reopened case goes back; `snap` says from nowhere.
            Action::Close { as_: None, .. } => false,
            Action::Embargo { .. } => !s.is_closed(),
        }
    };
    for s in State::ALL {
        for a in actions() {
            let r = decide(&snap(s), a.clone(), "2026-11-25T00:00:00.000Z");
            assert_eq!(r.is_ok(), allowed(&a, s), "{a:?} from {s}: {r:?}");
        }
    }
}

#[test]
fn disclosure_needs_a_fix_and_an_analysis() {
    let refused = |s: &Snapshot, advisory: &str| {
        let action = Action::Disclose {
            advisory: advisory.into(),
        };
        decide(s, action, "t").unwrap_err().0
    };
    let ghsa = "GHSA-abcd-1234-wxyz";
    let mut s = snap(State::Released);
    s.fixed_version = None;
    let e = refused(&s, ghsa);
    assert!(e.contains("no fixed version"), "{e}");
    let mut s = snap(State::Released);
    s.affected_versions = None;
    let e = refused(&s, ghsa);
    assert!(e.contains("no analysis"), "{e}");
    let e = refused(&snap(State::Fixing), ghsa);
    assert!(e.contains("before a fixed version is released"), "{e}");
    let e = refused(&snap(State::Released), "javascript:alert(1)");
    assert!(e.contains("neither a GHSA id"), "{e}");
}

#[test]
fn notices_and_fields() {
    let c = decide(&snap(State::Triage), Action::Accept, "t").unwrap();
    assert_eq!(
        (c.state, c.notice),
        (Some(State::Accepted), Some(Notice::Accepted))
    );
    let c = decide(
        &snap(State::Fixing),
        Action::Released {
            version: "9.0.2".into(),
        },
        "T",
    )
    .unwrap();
    assert_eq!(
        c.set,
        vec![
            (Field::FixedVersion, Some("9.0.2".into())),
            (Field::ReleasedAt, Some("T".into()))
        ]
    );
    let c = decide(
        &snap(State::Accepted),
        Action::Credit {
            consent: false,
            name: Some("Sam".into()),
        },
        "t",
    )
    .unwrap();
    assert_eq!(
        c.set[1],
        (Field::CreditName, None),
        "no consent, no name kept"
    );
    let e = decide(
        &snap(State::Accepted),
        Action::Fixing {
            fix_ref: "not a url".into(),
        },
        "t",
    )
    .unwrap_err();
    assert!(e.0.contains("URL"));
    let e = decide(
        &snap(State::Triage),
        Action::Duplicate {
            of: "SEC-2026-0001".into(),
        },
        "t",
    )
    .unwrap_err();
    assert!(e.0.contains("itself"));
}

#[test]
fn a_disagreeing_cvss_is_a_warning_not_an_error() {
    let c = decide(
        &snap(State::Acknowledged),
        Action::Triage {
            severity: Severity::Low,
            impact: Impact::parse("c=high,i=high,a=high").unwrap(),
            cvss: Some(
                super::super::assess::cvss("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H").unwrap(),
            ),
        },
        "t",
    )
    .unwrap();
    assert_eq!(c.state, Some(State::Triage));
    assert_eq!(c.warnings.len(), 1);
}

#[test]
fn ghsa_ids() {
    assert!(is_ghsa("GHSA-abcd-1234-wxyz"));
    assert!(!is_ghsa("GHSA-ABCD-1234-wxyz"));
    assert!(!is_ghsa("GHSA-abc-1234-wxyz"));
    assert!(!is_ghsa("CVE-2026-1234"));
}

#[test]
fn a_reopened_case_closes_again_into_the_state_it_came_from() {
    let mut s = snap(State::Reopened);
    s.reopened_from = Some(State::Invalid);
    let c = decide(
        &s,
        Action::Close {
            as_: None,
            note: Some("same answer as before".into()),
        },
        "t",
    )
    .unwrap();
    assert_eq!(c.state, Some(State::Invalid));
    assert_eq!(c.notice, None);
    assert_eq!(c.event, "closed_again");
    assert!(c.detail.contains("same answer as before"));
    // Spam is closed silently, from any open state.
    let c = decide(
        &snap(State::New),
        Action::Close {
            as_: Some(CloseAs::NotAReport),
            note: None,
        },
        "t",
    )
    .unwrap();
    assert_eq!(c.state, Some(State::Closed));
    assert_eq!(c.notice, None);
    assert!(c
        .set
        .contains(&(Field::ClosedAs, Some("not-a-report".into()))));
    // An open case without --as: the lead is told the choices.
    let e = decide(
        &snap(State::Triage),
        Action::Close {
            as_: None,
            note: None,
        },
        "t",
    )
    .unwrap_err();
    assert!(
        e.0.contains("--as spam") && e.0.contains("secdesk reject"),
        "{e}"
    );
}

#[test]
fn an_embargo_is_a_future_date_on_a_case_still_to_disclose() {
    let today = day(2026, 11, 25);
    let embargo = |until| Action::Embargo {
        until,
        note: Some("reporter publishes at a conference".into()),
        today,
    };
    let c = decide(&snap(State::Accepted), embargo(day(2027, 2, 23)), "t").unwrap();
    assert!(c
        .set
        .contains(&(Field::EmbargoUntil, Some("2027-02-23".into()))));
    assert!(c.detail.contains("2027-02-23") && c.detail.contains("conference"));
    let e = decide(&snap(State::Accepted), embargo(today), "t").unwrap_err();
    assert!(e.0.contains("not after today"), "{e}");
    assert!(decide(&snap(State::Disclosed), embargo(day(2027, 1, 1)), "t").is_err());
}

#[test]
fn a_reopened_case_is_never_closed_as_spam() {
    for back in [
        State::Invalid,
        State::Duplicate,
        State::Disclosed,
        State::Imported,
    ] {
        let mut s = snap(State::Reopened);
        s.reopened_from = Some(back);
        let e = decide(
            &s,
            Action::Close {
                as_: Some(CloseAs::Spam),
                note: None,
            },
            "t",
        )
        .unwrap_err();
        assert!(
            e.0.contains("`secdesk close SEC-2026-0001` (without --as)")
                && e.0.contains(&format!("return it to {back}")),
            "{e}"
        );
        // Without --as it goes back, stamped with when.
        let c = decide(
            &s,
            Action::Close {
                as_: None,
                note: None,
            },
            "T",
        )
        .unwrap();
        assert_eq!(c.state, Some(back));
        assert!(c.set.contains(&(Field::ClosedAt, Some("T".into()))));
    }
    // Reopened from nowhere on record: neither way, and the lead is told
    // what does work.
    for as_ in [Some(CloseAs::NotAReport), None] {
        let e = decide(
            &snap(State::Reopened),
            Action::Close { as_, note: None },
            "t",
        )
        .unwrap_err();
        assert!(e.0.contains("secdesk reject"), "{e}");
        assert!(!e.0.contains("close it with --as"), "{e}");
    }
    // A silent close says when.
    let c = decide(
        &snap(State::Acknowledged),
        Action::Close {
            as_: Some(CloseAs::Spam),
            note: None,
        },
        "T",
    )
    .unwrap();
    assert!(c.set.contains(&(Field::ClosedAt, Some("T".into()))));
}
