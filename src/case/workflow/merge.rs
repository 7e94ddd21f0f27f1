//! Merging one case into another, as pure decisions: which pairs may merge,
//! and what the lead recorded on the case merged away that the case which
//! stays takes over. The store side is [`crate::workflow::merge`].

use super::{Field, Refused, Snapshot};
use crate::case::State;

/// Whether case `from` may be merged into `into`: two different cases,
/// neither already merged away, and `into` still open — merged into a
/// closed case, `from`'s messages (and any turn the team owes on it)
/// would sit where nobody answers or is reminded.
pub fn check_merge(from: &Snapshot, into: &Snapshot) -> Result<(), Refused> {
    if from.id == into.id {
        return Err(Refused(format!(
            "case {} cannot be merged into itself",
            from.id
        )));
    }
    for c in [from, into] {
        if c.state == State::Merged {
            return Err(Refused(format!(
                "case {} is already merged into another; merge into the case it went to \
                 (`secdesk show {}` names it)",
                c.id, c.id
            )));
        }
    }
    if into.state.is_closed() {
        let other_way = if from.state.is_closed() {
            format!("{} is closed too, so neither can take the other", from.id)
        } else {
            format!(
                "merge the other way instead (`secdesk merge {} --into {}`)",
                into.id, from.id
            )
        };
        return Err(Refused(format!(
            "case {} is {}; a closed case takes no other case's messages: {other_way}, \
             or wait until {} is reopened (its reporter writing to it reopens it)",
            into.id, into.state, into.id
        )));
    }
    Ok(())
}

/// What the lead recorded on a case that a merge may carry over.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    pub reporter: String,
    pub reporter_name: String,
    pub embargo_until: Option<String>,
    pub embargo_note: Option<String>,
    pub credit_consent: Option<String>,
    pub credit_name: Option<String>,
    pub credit_source: Option<String>,
    pub credit_request: Option<String>,
    pub assignee: Option<String>,
    pub severity: Option<String>,
    pub impact: Option<String>,
    pub cvss_vector: Option<String>,
}

/// What `into` takes over from `from`, and what it keeps of its own where
/// the two disagree, for the trail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CarryOver {
    pub set: Vec<(Field, Option<String>)>,
    /// Carried, in the lead's words: `assignee dev@example.org`.
    pub carried: Vec<String>,
    /// Not carried, and why: `into` has its own, or it would credit the
    /// wrong person.
    pub not_carried: Vec<String>,
}

/// A value that is there: not NULL, not blank.
fn present(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// What a merge of `from` into `into` carries over: each of the embargo,
/// credit, assignee and assessment (severity, impact and CVSS, set
/// together by `triage`, so they go as one) where `into` has none.
///
/// Credit belongs to a person: when the two cases have different
/// reporters it is not carried at all (the trail says so).
pub fn carry_over(from: &Record, into: &Record) -> CarryOver {
    let mut out = CarryOver::default();
    let other_reporter = !from
        .reporter
        .trim()
        .eq_ignore_ascii_case(into.reporter.trim());

    match (present(&from.embargo_until), present(&into.embargo_until)) {
        (Some(until), None) => {
            out.set.push((Field::EmbargoUntil, Some(until.into())));
            out.set.push((
                Field::EmbargoNote,
                present(&from.embargo_note).map(Into::into),
            ));
            out.carried.push(match present(&from.embargo_note) {
                Some(n) => format!("embargo until {until} ({n})"),
                None => format!("embargo until {until}"),
            });
        }
        (Some(theirs), Some(ours)) if theirs != ours => out.not_carried.push(format!(
            "embargo until {theirs} (this case has its own, until {ours})"
        )),
        _ => {}
    }

    // Credit belongs to the person who gave it: another reporter's consent
    // (or request) would publish their name on this case, or this
    // reporter's under their consent. The lead decides with `credit`.
    let theirs = present(&from.credit_consent).or(present(&from.credit_request));
    if other_reporter {
        if let Some(c) = theirs {
            out.not_carried.push(format!(
                "credit {c} (given by {}, not this case's reporter; record it with `secdesk \
                 credit` if they are to be named)",
                if from.reporter.is_empty() {
                    "another reporter"
                } else {
                    from.reporter.as_str()
                }
            ));
        }
    } else {
        match (present(&from.credit_consent), present(&into.credit_consent)) {
            (Some(consent), None) => {
                out.carried.push(match present(&from.credit_name) {
                    Some(n) => format!("credit consent {consent}, as {n}"),
                    None => format!("credit consent {consent}"),
                });
                out.set.push((Field::CreditConsent, Some(consent.into())));
                out.set.push((
                    Field::CreditName,
                    present(&from.credit_name).map(Into::into),
                ));
                out.set.push((
                    Field::CreditSource,
                    present(&from.credit_source).map(Into::into),
                ));
            }
            (Some(theirs), Some(ours)) if theirs != ours => out.not_carried.push(format!(
                "credit consent {theirs} (this case has its own: {ours})"
            )),
            // A request from mail, still to be confirmed with `credit --confirm`.
            (None, None) => {
                if let (Some(req), None) =
                    (present(&from.credit_request), present(&into.credit_request))
                {
                    out.carried
                        .push(format!("credit request {req:?} (to confirm)"));
                    out.set.push((Field::CreditRequest, Some(req.to_string())));
                }
            }
            _ => {}
        }
    }

    match (present(&from.assignee), present(&into.assignee)) {
        (Some(a), None) => {
            out.set.push((Field::Assignee, Some(a.into())));
            out.carried.push(format!("assignee {a}"));
        }
        (Some(theirs), Some(ours)) if !theirs.eq_ignore_ascii_case(ours) => out
            .not_carried
            .push(format!("assignee {theirs} (this case has its own: {ours})")),
        _ => {}
    }

    match (present(&from.severity), present(&into.severity)) {
        (Some(sev), None) => {
            out.set.push((Field::Severity, Some(sev.into())));
            out.set
                .push((Field::Impact, present(&from.impact).map(Into::into)));
            out.set.push((
                Field::CvssVector,
                present(&from.cvss_vector).map(Into::into),
            ));
            let mut d = format!("severity {sev}");
            if let Some(i) = present(&from.impact) {
                d.push_str(&format!(", impact {i}"));
            }
            if let Some(v) = present(&from.cvss_vector) {
                d.push_str(&format!(", CVSS {v}"));
            }
            out.carried.push(d);
        }
        (Some(theirs), Some(ours)) if theirs != ours => out
            .not_carried
            .push(format!("severity {theirs} (this case has its own: {ours})")),
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::CaseId;

    fn snap(seq: &str, state: State) -> Snapshot {
        Snapshot {
            id: CaseId::parse(&format!("SEC-2026-{seq}"), "SEC").unwrap(),
            state,
            severity: None,
            fixed_version: None,
            affected_versions: None,
            reopened_from: None,
        }
    }

    #[test]
    fn only_into_an_open_case() {
        let a = snap("0001", State::New);
        let b = snap("0002", State::Triage);
        assert!(check_merge(&a, &b).is_ok());
        assert!(check_merge(&a, &a).unwrap_err().0.contains("itself"));
        // A closed case may go into an open one, never the other way.
        for closed in State::ALL.into_iter().filter(|s| s.is_closed()) {
            let shut = snap("0003", closed);
            assert!(check_merge(&shut, &b).is_ok() || closed == State::Merged);
            let e = check_merge(&a, &shut).unwrap_err().0;
            if closed == State::Merged {
                assert!(e.contains("already merged"), "{e}");
                continue;
            }
            assert!(
                e.contains(&format!("SEC-2026-0003 is {closed}"))
                    && e.contains("secdesk merge SEC-2026-0003 --into SEC-2026-0001"),
                "{e}"
            );
            // Both closed: no way round is offered.
            let e = check_merge(&snap("0004", State::Invalid), &shut)
                .unwrap_err()
                .0;
            assert!(e.contains("closed too") && !e.contains("--into"), "{e}");
        }
        // A reopened case is open: it takes the other.
        assert!(check_merge(&a, &snap("0005", State::Reopened)).is_ok());
    }

    fn record() -> Record {
        Record {
            reporter: "sam@reporter.example".into(),
            reporter_name: "Sam Finder".into(),
            ..Record::default()
        }
    }

    #[test]
    fn carries_what_the_target_lacks() {
        let from = Record {
            embargo_until: Some("2027-01-15".into()),
            embargo_note: Some("talk at a conference".into()),
            credit_consent: Some("yes".into()),
            credit_name: Some("Sam F.".into()),
            credit_source: Some("lead".into()),
            assignee: Some("dev@example.org".into()),
            severity: Some("high".into()),
            impact: Some("c=high,i=none,a=none".into()),
            cvss_vector: Some("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N".into()),
            ..record()
        };
        let c = carry_over(&from, &record());
        for want in [
            (Field::EmbargoUntil, Some("2027-01-15")),
            (Field::EmbargoNote, Some("talk at a conference")),
            (Field::CreditConsent, Some("yes")),
            (Field::CreditName, Some("Sam F.")),
            (Field::CreditSource, Some("lead")),
            (Field::Assignee, Some("dev@example.org")),
            (Field::Severity, Some("high")),
            (Field::Impact, Some("c=high,i=none,a=none")),
            (
                Field::CvssVector,
                Some("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"),
            ),
        ] {
            let want = (want.0, want.1.map(String::from));
            assert!(c.set.contains(&want), "{want:?} in {:?}", c.set);
        }
        assert_eq!(c.carried.len(), 4, "{:?}", c.carried);
        assert!(c.not_carried.is_empty());
        // Nothing to carry: nothing set.
        assert_eq!(carry_over(&record(), &from), CarryOver::default());
    }

    #[test]
    fn the_targets_own_record_stays() {
        let from = Record {
            embargo_until: Some("2027-01-15".into()),
            credit_consent: Some("no".into()),
            assignee: Some("dev@example.org".into()),
            severity: Some("high".into()),
            cvss_vector: Some("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N".into()),
            ..record()
        };
        let into = Record {
            embargo_until: Some("2027-03-01".into()),
            credit_consent: Some("yes".into()),
            assignee: Some("lead@example.org".into()),
            // Triaged without a vector: the other's vector is not mixed in.
            severity: Some("low".into()),
            ..record()
        };
        let c = carry_over(&from, &into);
        assert!(c.set.is_empty(), "{:?}", c.set);
        assert_eq!(c.not_carried.len(), 4, "{:?}", c.not_carried);
        assert!(c
            .not_carried
            .iter()
            .any(|k| k.contains("2027-03-01") && k.contains("2027-01-15")));
        // Blank counts as absent.
        let blank = Record {
            assignee: Some("  ".into()),
            ..record()
        };
        let c = carry_over(&from, &blank);
        assert!(c
            .set
            .contains(&(Field::Assignee, Some("dev@example.org".into()))));
    }

    #[test]
    fn credit_stays_with_the_person_who_gave_it() {
        let kim = Record {
            reporter: "kim@other.example".into(),
            reporter_name: "Kim".into(),
            ..Record::default()
        };
        // Sam's consent, named or not, and his requests never go to Kim's
        // case: they would publish his name there, or hers under his word.
        for from in [
            Record {
                credit_consent: Some("yes".into()),
                credit_source: Some("reporter".into()),
                ..record()
            },
            Record {
                credit_consent: Some("yes".into()),
                credit_name: Some("Sam F.".into()),
                ..record()
            },
            Record {
                credit_consent: Some("no".into()),
                ..record()
            },
            Record {
                credit_request: Some("yes".into()),
                ..record()
            },
        ] {
            let c = carry_over(&from, &kim);
            assert!(c.set.is_empty() && c.not_carried.len() == 1, "{c:?}");
            assert!(c.not_carried[0].contains("sam@reporter.example"), "{c:?}");
        }
        // The same reporter: carried as it was.
        let from = Record {
            credit_consent: Some("yes".into()),
            credit_source: Some("reporter".into()),
            ..record()
        };
        let c = carry_over(&from, &record());
        assert!(c.set.contains(&(Field::CreditConsent, Some("yes".into()))));
        assert!(c.set.contains(&(Field::CreditName, None)));
        let asked = Record {
            credit_request: Some("yes".into()),
            ..record()
        };
        let c = carry_over(&asked, &record());
        assert_eq!(c.set, vec![(Field::CreditRequest, Some("yes".into()))]);
        // A decision on the target settles it: no request is carried.
        let decided = Record {
            credit_consent: Some("no".into()),
            ..record()
        };
        assert!(carry_over(&asked, &decided).set.is_empty());
    }
}
