//! The lead's steps through the policy's phases, as pure decisions.
//!
//! [`decide`] takes what the case is now and what the lead asks for, checks
//! the state machine and the step's own preconditions (no disclosure before
//! a fixed version and an analysis exist), and returns a [`Change`]: the new
//! state, the fields to set, the audit event and the notice the reporter
//! gets. The CLI commits a change in one transaction.

use super::assess::{Cvss, Impact, Severity};
use super::{transition, CaseId, State};

mod merge;
pub use merge::{carry_over, check_merge, CarryOver, Record};

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
    /// Closes without mailing anyone: a reopened case back to the state
    /// it was closed in (never `as` anything: it was a report), or any
    /// other open case `as` spam / not a report.
    Close {
        as_: Option<CloseAs>,
        note: Option<String>,
    },
    /// The disclosure date agreed with (or set by) the reporter.
    Embargo {
        until: chrono::NaiveDate,
        note: Option<String>,
        today: chrono::NaiveDate,
    },
}

/// Why a case is closed silently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseAs {
    Spam,
    NotAReport,
}

impl CloseAs {
    pub fn as_str(self) -> &'static str {
        match self {
            CloseAs::Spam => "spam",
            CloseAs::NotAReport => "not-a-report",
        }
    }
}

impl std::str::FromStr for CloseAs {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "spam" => Ok(CloseAs::Spam),
            "not-a-report" => Ok(CloseAs::NotAReport),
            _ => Err(format!("{s:?}: expected spam or not-a-report")),
        }
    }
}

/// What [`decide`] needs to know about the case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub id: CaseId,
    pub state: State,
    pub severity: Option<String>,
    pub fixed_version: Option<String>,
    pub affected_versions: Option<String>,
    /// The closed state a `reopened` case came from.
    pub reopened_from: Option<State>,
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
    ClosedAs,
    ReopenedFrom,
    EmbargoUntil,
    EmbargoNote,
    ClosedAt,
    Assignee,
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
            Field::ClosedAs => "closed_as",
            Field::ReopenedFrom => "reopened_from",
            Field::EmbargoUntil => "embargo_until",
            Field::EmbargoNote => "embargo_note",
            Field::ClosedAt => "closed_at",
            Field::Assignee => "assignee",
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
    let step = |to: State| step(case, to);
    Ok(match action {
        Action::Triage {
            severity,
            impact,
            cvss,
        } => triage(case, severity, impact, cvss)?,
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
        } => analyze(case, affected, introduced, user_impact, workaround)?,
        Action::Credit { consent, name } => credit(case, consent, name)?,
        Action::Disclose { advisory } => disclose(case, advisory, now)?,
        Action::Note { text } => {
            let text = crate::mail::text::clean_line(&text, 5000);
            if text.is_empty() {
                return Err(Refused("the note is empty".into()));
            }
            change(None, vec![], "note", text, None)
        }
        Action::Close { as_, note } => close(case, as_, note, now)?,
        Action::Embargo { until, note, today } => embargo(case, until, note, today)?,
    })
}

/// One step of the state machine, refused in the lead's words.
fn step(case: &Snapshot, to: State) -> Result<State, Refused> {
    transition(&case.id, case.state, to).map_err(|e| Refused(e.to_string()))
}

fn change(
    state: Option<State>,
    set: Vec<(Field, Option<String>)>,
    event: &'static str,
    detail: String,
    notice: Option<Notice>,
) -> Change {
    Change {
        state,
        set,
        event,
        detail,
        notice,
        warnings: Vec::new(),
    }
}

fn triage(
    case: &Snapshot,
    severity: Severity,
    impact: Impact,
    cvss: Option<Cvss>,
) -> Result<Change, Refused> {
    use State::*;
    let state = match case.state {
        New | Acknowledged | Reopened => Some(step(case, Triage)?),
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
    Ok(Change {
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
    })
}

fn analyze(
    case: &Snapshot,
    affected: String,
    introduced: String,
    user_impact: String,
    workaround: Option<String>,
) -> Result<Change, Refused> {
    use State::*;
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
    Ok(change(
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
    ))
}

fn credit(case: &Snapshot, consent: bool, name: Option<String>) -> Result<Change, Refused> {
    if case.state == State::Disclosed {
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
    Ok(change(
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
    ))
}

fn close(
    case: &Snapshot,
    as_: Option<CloseAs>,
    note: Option<String>,
    now: &str,
) -> Result<Change, Refused> {
    let note = note
        .map(|n| crate::mail::text::clean_line(&n, 2000))
        .filter(|n| !n.is_empty());
    let with_note = |d: String| match &note {
        Some(n) => format!("{d}: {n}"),
        None => d,
    };
    let id = &case.id;
    match (as_, case.state, case.reopened_from) {
        // A reopened case was a report the reporter was told about (or
        // history): calling it spam now would rewrite that and drop it
        // from the figures. It goes back to where it was instead.
        (Some(why), State::Reopened, Some(back)) => Err(Refused(format!(
            "case {id} was reopened from {back}; it cannot be closed --as {}: run \
             `secdesk close {id}` (without --as) to return it to {back} (nobody is mailed), \
             or tell the reporter with `secdesk reject` or `secdesk duplicate`",
            why.as_str()
        ))),
        (Some(why), State::Reopened, None) => Err(Refused(format!(
            "case {id} was reopened and it is not recorded from which state; it cannot be \
             closed --as {}: tell the reporter with `secdesk reject` or `secdesk duplicate`",
            why.as_str()
        ))),
        (Some(why), ..) => {
            let to = step(case, State::Closed)?;
            Ok(change(
                Some(to),
                vec![
                    (Field::ClosedAs, Some(why.as_str().into())),
                    (Field::ReopenedFrom, None),
                    (Field::ClosedAt, Some(now.into())),
                ],
                "closed_silently",
                with_note(format!("closed as {}; nobody was mailed", why.as_str())),
                None,
            ))
        }
        (None, State::Reopened, Some(back)) => Ok(change(
            Some(back),
            vec![
                (Field::ReopenedFrom, None),
                (Field::ClosedAt, Some(now.into())),
            ],
            "closed_again",
            with_note(format!("closed again as {back}; nobody was mailed")),
            None,
        )),
        (None, State::Reopened, None) => Err(Refused(format!(
            "case {id} was reopened and it is not recorded from which state, so it cannot \
             go back: tell the reporter with `secdesk reject` or `secdesk duplicate`"
        ))),
        (None, s, _) => Err(Refused(format!(
            "case {id} is {s}; close it with --as spam or --as not-a-report (nobody is mailed), \
             or tell the reporter with `secdesk reject` or `secdesk duplicate`"
        ))),
    }
}

fn embargo(
    case: &Snapshot,
    until: chrono::NaiveDate,
    note: Option<String>,
    today: chrono::NaiveDate,
) -> Result<Change, Refused> {
    if case.state.is_closed() {
        return Err(Refused(format!(
            "case {} is {}; an embargo is for a case still to be disclosed",
            case.id, case.state
        )));
    }
    if until <= today {
        return Err(Refused(format!(
            "--until {until} is not after today ({today})"
        )));
    }
    let note = note
        .map(|n| crate::mail::text::clean_line(&n, 2000))
        .filter(|n| !n.is_empty());
    let detail = match &note {
        Some(n) => format!("disclosure agreed for {until}: {n}"),
        None => format!("disclosure agreed for {until}"),
    };
    Ok(change(
        None,
        vec![
            (Field::EmbargoUntil, Some(until.to_string())),
            (Field::EmbargoNote, note),
        ],
        "embargo",
        detail,
        None,
    ))
}

fn disclose(case: &Snapshot, advisory: String, now: &str) -> Result<Change, Refused> {
    if !(is_ghsa(&advisory) || url_ok(&advisory)) {
        return Err(Refused(format!(
            "--advisory {advisory:?} is neither a GHSA id (GHSA-xxxx-xxxx-xxxx) nor an http(s) URL"
        )));
    }
    let to = step(case, State::Disclosed)?;
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
    Ok(change(
        Some(to),
        vec![
            (Field::Advisory, Some(advisory.clone())),
            (Field::DisclosedAt, Some(now.into())),
        ],
        "disclosed",
        format!("advisory published: {advisory}"),
        Some(Notice::Disclosed),
    ))
}

#[cfg(test)]
mod tests;
