//! The case: its id, its states and the legal steps between them.
//!
//! Pure data and rules. A case moves through the policy's phases —
//! `new → acknowledged → triage → {invalid | duplicate | accepted} → fixing →
//! released → disclosed` — and every step is checked here before the store
//! records it. Mail from the reporter on a closed case makes it `reopened`;
//! the lead may close a case silently (`closed`: spam, not a report) or
//! merge it into another (`merged`, its id an alias that still threads).

pub mod assess;
pub mod report;
pub mod sla;
pub mod workflow;

use std::fmt;
use std::str::FromStr;

/// `PREFIX-YYYY-NNNN`: a per-year sequence, four digits or more.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CaseId {
    pub prefix: String,
    pub year: i32,
    pub seq: u32,
}

impl CaseId {
    /// Parses `SEC-2026-0007` when its prefix is `prefix`.
    pub fn parse(s: &str, prefix: &str) -> Option<CaseId> {
        let rest = s.strip_prefix(prefix)?.strip_prefix('-')?;
        let (year, seq) = rest.split_once('-')?;
        if year.len() != 4 || !year.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if seq.len() < 4 || seq.len() > 9 || !seq.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(CaseId {
            prefix: prefix.to_string(),
            year: year.parse().ok()?,
            seq: seq.parse().ok()?,
        })
    }

    /// The case tag as it appears in subjects.
    pub fn tag(&self) -> String {
        format!("[{self}]")
    }
}

impl fmt::Display for CaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{:04}-{:04}", self.prefix, self.year, self.seq)
    }
}

/// Where a case is in the policy's process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    New,
    Acknowledged,
    Triage,
    Invalid,
    Duplicate,
    Accepted,
    Fixing,
    Released,
    Disclosed,
    /// History: found in the mailbox (or an archive) when secdesk first
    /// met it. Filed, threaded and searchable; never answered, never
    /// reminded, not in the 48-hour figures.
    Imported,
    /// Closed, and then the reporter (or someone on the thread) wrote
    /// again: it needs a team response within the follow-up window.
    Reopened,
    /// Closed by the lead without telling anyone: spam, not a report.
    Closed,
    /// Merged into another case, which holds its messages now; its id
    /// still threads there.
    Merged,
}

impl State {
    pub const ALL: [State; 13] = [
        State::New,
        State::Acknowledged,
        State::Triage,
        State::Invalid,
        State::Duplicate,
        State::Accepted,
        State::Fixing,
        State::Released,
        State::Disclosed,
        State::Imported,
        State::Reopened,
        State::Closed,
        State::Merged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::New => "new",
            State::Acknowledged => "acknowledged",
            State::Triage => "triage",
            State::Invalid => "invalid",
            State::Duplicate => "duplicate",
            State::Accepted => "accepted",
            State::Fixing => "fixing",
            State::Released => "released",
            State::Disclosed => "disclosed",
            State::Imported => "imported",
            State::Reopened => "reopened",
            State::Closed => "closed",
            State::Merged => "merged",
        }
    }

    /// Closed cases get no reminders and are not "open" in listings.
    pub fn is_closed(self) -> bool {
        matches!(
            self,
            State::Invalid
                | State::Duplicate
                | State::Disclosed
                | State::Imported
                | State::Closed
                | State::Merged
        )
    }

    /// Whether a person writing on a case in this state reopens it: the
    /// closed states whose reporter was told something (or history, whose
    /// conversation may start again). A silent close (spam) and a merged
    /// case do not.
    pub fn reopens_on_mail(self) -> bool {
        matches!(
            self,
            State::Invalid | State::Duplicate | State::Disclosed | State::Imported
        )
    }

    /// Whether the policy allows going from `self` to `to`.
    pub fn can_become(self, to: State) -> bool {
        use State::*;
        matches!(
            (self, to),
            (New, Acknowledged)
                | (New | Acknowledged | Reopened, Triage)
                | (New | Acknowledged | Triage | Reopened, Invalid | Duplicate)
                | (New | Acknowledged | Triage | Reopened, Closed)
                | (Invalid | Duplicate | Disclosed | Imported, Reopened)
                | (Triage, Accepted)
                | (Accepted, Fixing)
                | (Fixing, Released)
                | (Released, Disclosed)
        )
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for State {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        State::ALL
            .iter()
            .copied()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = State::ALL.iter().map(|s| s.as_str()).collect();
                format!("unknown state {s:?}; expected one of {}", names.join(", "))
            })
    }
}

/// A case to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCase {
    pub id: CaseId,
    /// `new`, or `imported` for history.
    pub state: State,
    /// Received longer ago than the response window when first seen: its
    /// window runs from now, and the lead is told at once.
    pub late: bool,
    pub reporter_address: String,
    pub reporter_name: String,
    pub subject: String,
    pub received_at: chrono::DateTime<chrono::Utc>,
    pub response_due_at: chrono::DateTime<chrono::Utc>,
    pub missing: Vec<report::ReportItem>,
}

/// An illegal step, with the words a lead needs to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("case {case} is {from}; it cannot become {to}{hint}")]
pub struct IllegalTransition {
    pub case: String,
    pub from: State,
    pub to: State,
    pub hint: String,
}

/// Checks one step of the state machine.
pub fn transition(case: &CaseId, from: State, to: State) -> Result<State, IllegalTransition> {
    if from.can_become(to) {
        return Ok(to);
    }
    let hint = match (from, to) {
        (_, State::Disclosed) => " before a fixed version is released",
        (_, State::Accepted) => " without triage first (secdesk triage)",
        (_, State::Released) => " before a fix is in progress (secdesk fixing)",
        (_, State::Fixing) => " before it is accepted",
        _ if from.is_closed() => " (the case is closed)",
        _ => "",
    };
    Err(IllegalTransition {
        case: case.to_string(),
        from,
        to,
        hint: hint.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_ids_round_trip() {
        let id = CaseId::parse("SEC-2026-0007", "SEC").unwrap();
        assert_eq!(id.year, 2026);
        assert_eq!(id.seq, 7);
        assert_eq!(id.to_string(), "SEC-2026-0007");
        assert_eq!(id.tag(), "[SEC-2026-0007]");
        let big = CaseId {
            prefix: "SEC".into(),
            year: 2026,
            seq: 12345,
        };
        assert_eq!(big.to_string(), "SEC-2026-12345");
        assert_eq!(CaseId::parse("SEC-2026-12345", "SEC"), Some(big));
        for bad in [
            "SEC-2026-7",
            "SEC-26-0007",
            "XSEC-2026-0007",
            "SEC-2026-0007x",
            "SEC2026-0007",
        ] {
            assert_eq!(CaseId::parse(bad, "SEC"), None, "{bad}");
        }
    }

    #[test]
    fn every_transition() {
        use State::*;
        let legal = [
            (New, Acknowledged),
            (New, Triage),
            (Acknowledged, Triage),
            (New, Invalid),
            (Acknowledged, Invalid),
            (Triage, Invalid),
            (New, Duplicate),
            (Acknowledged, Duplicate),
            (Triage, Duplicate),
            (Triage, Accepted),
            (Accepted, Fixing),
            (Fixing, Released),
            (Released, Disclosed),
            (Reopened, Triage),
            (Reopened, Invalid),
            (Reopened, Duplicate),
            (New, Closed),
            (Acknowledged, Closed),
            (Triage, Closed),
            (Reopened, Closed),
            (Invalid, Reopened),
            (Duplicate, Reopened),
            (Disclosed, Reopened),
            (Imported, Reopened),
        ];
        let id = CaseId::parse("SEC-2026-0001", "SEC").unwrap();
        for from in State::ALL {
            for to in State::ALL {
                let want = legal.contains(&(from, to));
                assert_eq!(from.can_become(to), want, "{from} -> {to}");
                assert_eq!(transition(&id, from, to).is_ok(), want);
            }
        }
        let e = transition(&id, Accepted, Disclosed).unwrap_err();
        assert_eq!(
            e.to_string(),
            "case SEC-2026-0001 is accepted; it cannot become disclosed before a fixed version is released"
        );
    }

    #[test]
    fn states_parse() {
        for s in State::ALL {
            assert_eq!(s.as_str().parse::<State>().unwrap(), s);
        }
        assert!("open"
            .parse::<State>()
            .unwrap_err()
            .contains("expected one of"));
    }
}
