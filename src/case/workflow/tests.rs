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
    ]
}

/// Every action from every state: allowed exactly where the policy says.
#[test]
fn every_legal_and_illegal_step() {
    use State::*;
    let allowed = |a: &Action, s: State| -> bool {
        match a {
            Action::Triage { .. } => matches!(
                s,
                New | Acknowledged | Triage | Accepted | Fixing | Released
            ),
            Action::Accept => s == Triage,
            Action::Reject { .. } | Action::Duplicate { .. } => {
                matches!(s, New | Acknowledged | Triage)
            }
            Action::Fixing { .. } => s == Accepted,
            Action::Released { .. } => s == Fixing,
            Action::Analyze { .. } => matches!(s, Accepted | Fixing | Released),
            Action::Credit { .. } => s != Disclosed,
            Action::Disclose { .. } => s == Released,
            Action::Note { .. } => true,
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
