//! The lead's steps through the policy's phases, as pure decisions.
//!
//! [`decide`] takes what the case is now and what the lead asks for, checks
//! the state machine and the step's own preconditions (no disclosure before
//! a fixed version and an analysis exist), and returns a [`Change`]: the new
//! state, the fields to set, the audit event and the notice the reporter
//! gets. The CLI commits a change in one transaction.

use super::assess::{Cvss, Impact, Severity};
use super::{transition, CaseId, State};

/// A step the lead takes.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Triage {
        severity: Severity,
        impact: Impact,
        cvss: Option<Cvss>,
    },
    Accept,
    Reject {
        reason: String,
    },
    Duplicate {
        of: String,
    },
    Fixing {
        fix_ref: String,
    },
    Released {
        version: String,
    },
    Analyze {
        affected: String,
        introduced: String,
        user_impact: String,
        workaround: Option<String>,
    },
    Credit {
        consent: bool,
        name: Option<String>,
    },
    Disclose {
        advisory: String,
    },
    Note {
        text: String,
    },
}

/// What [`decide`] needs to know about the case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub id: CaseId,
    pub state: State,
    pub severity: Option<String>,
    pub fixed_version: Option<String>,
    pub affected_versions: Option<String>,
}

/// The reporter notices the policy asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    Accepted,
    Rejected,
    Duplicate,
    Released,
    Disclosed,
}

impl Notice {
    /// The template (`templates/notice-<name>.hbs`) and dedup name.
    pub fn name(self) -> &'static str {
        match self {
            Notice::Accepted => "accepted",
            Notice::Rejected => "rejected",
            Notice::Duplicate => "duplicate",
            Notice::Released => "released",
            Notice::Disclosed => "disclosed",
        }
    }
}

/// Case columns a step may set: the only names that reach SQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Severity,
    Impact,
    CvssVector,
    DecisionReason,
    DuplicateOf,
    FixRef,
    FixedVersion,
    AffectedVersions,
    IntroducedIn,
    UserImpact,
    Workaround,
    Advisory,
    CreditConsent,
    CreditName,
    CreditSource,
    CreditRequest,
    ReleasedAt,
    DisclosedAt,
}

impl Field {
    pub fn column(self) -> &'static str {
        match self {
            Field::Severity => "severity",
            Field::Impact => "impact",
            Field::CvssVector => "cvss_vector",
            Field::DecisionReason => "decision_reason",
            Field::DuplicateOf => "duplicate_of",
            Field::FixRef => "fix_ref",
            Field::FixedVersion => "fixed_version",
            Field::AffectedVersions => "affected_versions",
            Field::IntroducedIn => "introduced_in",
            Field::UserImpact => "user_impact",
            Field::Workaround => "workaround",
            Field::Advisory => "advisory",
            Field::CreditConsent => "credit_consent",
            Field::CreditName => "credit_name",
            Field::CreditSource => "credit_source",
            Field::CreditRequest => "credit_request",
            Field::ReleasedAt => "released_at",
            Field::DisclosedAt => "disclosed_at",
        }
    }
}

/// What a step does.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub state: Option<State>,
    pub set: Vec<(Field, Option<String>)>,
    pub event: &'static str,
    pub detail: String,
    pub notice: Option<Notice>,
    pub warnings: Vec<String>,
}

/// A refused step, said so a lead knows what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

fn required_line(s: &str, max: usize, what: &str) -> Result<String, Refused> {
    let v = crate::mail::text::clean_line(s, max);
    if v.is_empty() {
        return Err(Refused(format!("{what} is empty")));
    }
    Ok(v)
}

fn url_ok(s: &str) -> bool {
    (s.starts_with("https://") || s.starts_with("http://"))
        && s.len() > 8
        && s.len() <= 2000
        && !s
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>' || c == '"')
}

/// A GitHub advisory id: `GHSA-xxxx-xxxx-xxxx` (lower-case letters, digits).
pub fn is_ghsa(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 4
        && parts[0] == "GHSA"
        && parts[1..].iter().all(|p| {
            p.len() == 4
                && p.chars()
                    .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase())
        })
}

/// Decides one step. `now` is the RFC 3339 time to stamp release and
/// disclosure with.
pub fn decide(case: &Snapshot, action: Action, now: &str) -> Result<Change, Refused> {
    use State::*;
    let step = |to: State| transition(&case.id, case.state, to).map_err(|e| Refused(e.to_string()));
    let change = |state, set, event, detail: String, notice| Change {
        state,
        set,
        event,
        detail,
        notice,
        warnings: Vec::new(),
    };
    Ok(match action {
        Action::Triage {
            severity,
            impact,
            cvss,
        } => {
            let state = match case.state {
                New | Acknowledged => Some(step(Triage)?),
                Triage | Accepted | Fixing | Released => None,
                s => {
                    return Err(Refused(format!(
                        "case {} is {s}; it can no longer be triaged",
                        case.id
                    )))
                }
            };
            let mut warnings = Vec::new();
            let mut detail = format!("severity {severity}, impact {}", impact.to_text());
            if let Some(c) = &cvss {
                detail.push_str(&format!(
                    ", CVSS {:.1} ({}) {}",
                    c.score, c.rating, c.vector
                ));
                warnings.extend(super::assess::severity_mismatch(severity, c));
            }
            Change {
                state,
                set: vec![
                    (Field::Severity, Some(severity.as_str().into())),
                    (Field::Impact, Some(impact.to_text())),
                    (Field::CvssVector, cvss.map(|c| c.vector)),
                ],
                event: if state.is_some() {
                    "triaged"
                } else {
                    "severity_changed"
                },
                detail,
                notice: None,
                warnings,
            }
        }
        Action::Accept => {
            let to = step(Accepted)?;
            let sev = case.severity.clone().unwrap_or_else(|| "unrated".into());
            change(
                Some(to),
                vec![],
                "accepted",
                format!("accepted as a vulnerability, severity {sev}"),
                Some(Notice::Accepted),
            )
        }
        Action::Reject { reason } => {
            let reason = required_line(&reason, 2000, "--reason")?;
            let to = step(Invalid)?;
            change(
                Some(to),
                vec![(Field::DecisionReason, Some(reason.clone()))],
                "rejected",
                format!("not a vulnerability: {reason}"),
                Some(Notice::Rejected),
            )
        }
        Action::Duplicate { of } => {
            if of == case.id.to_string() {
                return Err(Refused(format!("case {} cannot duplicate itself", case.id)));
            }
            let to = step(Duplicate)?;
            change(
                Some(to),
                vec![(Field::DuplicateOf, Some(of.clone()))],
                "duplicate",
                format!("duplicate of {of}"),
                Some(Notice::Duplicate),
            )
        }
        Action::Fixing { fix_ref } => {
            if !url_ok(&fix_ref) {
                return Err(Refused(format!("--ref {fix_ref:?} is not an http(s) URL")));
            }
            let to = step(Fixing)?;
            change(
                Some(to),
                vec![(Field::FixRef, Some(fix_ref.clone()))],
                "fixing",
                format!("fix in progress: {fix_ref}"),
                None,
            )
        }
        Action::Released { version } => {
            let version = required_line(&version, 100, "--version")?;
            let to = step(Released)?;
            change(
                Some(to),
                vec![
                    (Field::FixedVersion, Some(version.clone())),
                    (Field::ReleasedAt, Some(now.into())),
                ],
                "released",
                format!("fixed in {version}"),
                Some(Notice::Released),
            )
        }
        Action::Analyze {
            affected,
            introduced,
            user_impact,
            workaround,
        } => {
            if !matches!(case.state, Accepted | Fixing | Released) {
                return Err(Refused(format!(
                    "case {} is {}; the analysis comes after it is accepted",
                    case.id, case.state
                )));
            }
            let affected = required_line(&affected, 200, "--affected")?;
            let introduced = required_line(&introduced, 100, "--introduced")?;
            let user_impact = crate::mail::text::clean_line(&user_impact, 5000);
            if user_impact.is_empty() {
                return Err(Refused("--user-impact is empty".into()));
            }
            let workaround = workaround
                .map(|w| crate::mail::text::clean_line(&w, 5000))
                .filter(|w| !w.is_empty());
            change(
                None,
                vec![
                    (Field::AffectedVersions, Some(affected.clone())),
                    (Field::IntroducedIn, Some(introduced.clone())),
                    (Field::UserImpact, Some(user_impact)),
                    (Field::Workaround, workaround),
                ],
                "analyzed",
                format!("affected {affected}, introduced in {introduced}"),
                None,
            )
        }
        Action::Credit { consent, name } => {
            if case.state == Disclosed {
                return Err(Refused(format!("case {} is already disclosed", case.id)));
            }
            let name = name
                .map(|n| crate::mail::text::clean_line(&n, 100))
                .filter(|n| !n.is_empty());
            let detail = match (consent, &name) {
                (true, Some(n)) => format!("credit consent: yes, as {n}"),
                (true, None) => "credit consent: yes".into(),
                (false, _) => "credit consent: no".into(),
            };
            change(
                None,
                vec![
                    (
                        Field::CreditConsent,
                        Some(if consent { "yes" } else { "no" }.into()),
                    ),
                    (Field::CreditName, if consent { name } else { None }),
                    // The lead's word: mail never overrides it, and it
                    // settles any request mail made.
                    (Field::CreditSource, Some("lead".into())),
                    (Field::CreditRequest, None),
                ],
                "credit",
                detail,
                None,
            )
        }
        Action::Disclose { advisory } => {
            if !(is_ghsa(&advisory) || url_ok(&advisory)) {
                return Err(Refused(format!(
                    "--advisory {advisory:?} is neither a GHSA id (GHSA-xxxx-xxxx-xxxx) nor an http(s) URL"
                )));
            }
            let to = step(Disclosed)?;
            if case.fixed_version.is_none() {
                return Err(Refused(format!(
                    "case {} has no fixed version yet (secdesk released {} --version X)",
                    case.id, case.id
                )));
            }
            if case.affected_versions.is_none() {
                return Err(Refused(format!(
                    "case {} has no analysis yet (secdesk analyze {} --affected … --introduced … --user-impact …)",
                    case.id, case.id
                )));
            }
            change(
                Some(to),
                vec![
                    (Field::Advisory, Some(advisory.clone())),
                    (Field::DisclosedAt, Some(now.into())),
                ],
                "disclosed",
                format!("advisory published: {advisory}"),
                Some(Notice::Disclosed),
            )
        }
        Action::Note { text } => {
            let text = crate::mail::text::clean_line(&text, 5000);
            if text.is_empty() {
                return Err(Refused("the note is empty".into()));
            }
            change(None, vec![], "note", text, None)
        }
    })
}

#[cfg(test)]
mod tests {
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
                    super::super::assess::cvss("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")
                        .unwrap(),
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
}
