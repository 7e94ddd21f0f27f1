//! Package ecosystems and the identifiers an advisory carries: which
//! ecosystem (OSV and GitHub spellings), its versions (SemVer, PEP 440 or
//! dotted), the affected range a lead types (→ GitHub's
//! `vulnerable_version_range` and OSV `ranges`), CWE and CVE ids, and git
//! commit ids. Pure: every input is an untrusted string from the lead's
//! command line; surrounding whitespace is ignored, anything else wrong is a
//! one-line [`Error`] naming the text at fault and the form expected.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// Longest version accepted, in characters.
const MAX_VERSION: usize = 64;
/// Longest affected-range text accepted, in characters.
const MAX_RANGE: usize = 256;
/// Longest repository URL put in an OSV GIT range.
const MAX_URL: usize = 2048;
/// Untrusted text shown in an error is cut to this many characters.
const SHOWN: usize = 80;

/// The accepted ecosystem names, for error messages.
const ACCEPTED: &str = "npm, PyPI, crates.io, Go, Maven, NuGet, RubyGems, Packagist, Hex, Pub, \
                        SwiftURL, GitHub Actions, none";

/// What went wrong with one input; `Display` is one line.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unknown ecosystem {0:?}: expected one of {ACCEPTED}")]
    Ecosystem(String),
    #[error("not a {} version ({}): {version:?}: {reason}", noun(.ecosystem), scheme(.ecosystem))]
    Version {
        ecosystem: &'static str,
        version: String,
        reason: String,
    },
    #[error("not an affected range: {text:?}: {reason}; expected comparators (>=, >, <, <=, =) and versions, like \">= 8.0.0, < 9.1.1\", \"< 9.1.1\" or \"= 9.0.0\"")]
    Range { text: String, reason: String },
    #[error(
        "not a CWE id: {0:?}: expected CWE-<number>, like CWE-79 (1 to 99999, no leading zeros)"
    )]
    Cwe(String),
    #[error("not a CVE id: {0:?}: expected CVE-<year>-<number>, like CVE-2024-12345 (year 1999 to 2100; 4 to 19 digits, no leading zero beyond 4)")]
    Cve(String),
    #[error("not a full git commit id: {0:?}: expected 40 (SHA-1) or 64 (SHA-256) hex digits")]
    Commit(String),
}

/// Untrusted text cut to a length fit for a one-line message (Debug-quoting
/// in the message escapes any control characters).
fn shown(s: &str) -> String {
    let mut out: String = s.chars().take(SHOWN).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

/// A package ecosystem as OSV names it, or none (an app released from its repository).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ecosystem {
    Npm,
    PyPI,
    CratesIo,
    Go,
    Maven,
    NuGet,
    RubyGems,
    Packagist,
    Hex,
    Pub,
    SwiftURL,
    GitHubActions,
    None,
}

/// How a version of each ecosystem is checked and ordered.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scheme {
    SemVer,
    Pep440,
    Dotted,
}

impl Ecosystem {
    /// Every ecosystem, in the order of [`ACCEPTED`].
    const ALL: [Ecosystem; 13] = [
        Ecosystem::Npm,
        Ecosystem::PyPI,
        Ecosystem::CratesIo,
        Ecosystem::Go,
        Ecosystem::Maven,
        Ecosystem::NuGet,
        Ecosystem::RubyGems,
        Ecosystem::Packagist,
        Ecosystem::Hex,
        Ecosystem::Pub,
        Ecosystem::SwiftURL,
        Ecosystem::GitHubActions,
        Ecosystem::None,
    ];

    /// (OSV name or "none", GitHub's advisory name), in one exhaustive match.
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Ecosystem::Npm => ("npm", "npm"),
            Ecosystem::PyPI => ("PyPI", "pip"),
            Ecosystem::CratesIo => ("crates.io", "rust"),
            Ecosystem::Go => ("Go", "go"),
            Ecosystem::Maven => ("Maven", "maven"),
            Ecosystem::NuGet => ("NuGet", "nuget"),
            Ecosystem::RubyGems => ("RubyGems", "rubygems"),
            Ecosystem::Packagist => ("Packagist", "composer"),
            Ecosystem::Hex => ("Hex", "erlang"),
            Ecosystem::Pub => ("Pub", "pub"),
            Ecosystem::SwiftURL => ("SwiftURL", "swift"),
            Ecosystem::GitHubActions => ("GitHub Actions", "actions"),
            Ecosystem::None => ("none", "other"),
        }
    }

    /// OSV's `affected[].package.ecosystem` spelling; `None` for no ecosystem.
    pub fn osv_name(self) -> Option<&'static str> {
        Some(self.names().0).filter(|_| self != Ecosystem::None)
    }

    /// GitHub's advisory `package.ecosystem` enum value.
    pub fn github_name(self) -> &'static str {
        self.names().1
    }

    /// Whether versions are SemVer 2.0 (and OSV ranges are type SEMVER).
    pub fn is_semver(self) -> bool {
        self.scheme() == Scheme::SemVer
    }

    fn scheme(self) -> Scheme {
        match self {
            Ecosystem::Npm
            | Ecosystem::CratesIo
            | Ecosystem::Go
            | Ecosystem::Hex
            | Ecosystem::Pub
            | Ecosystem::SwiftURL => Scheme::SemVer,
            Ecosystem::PyPI => Scheme::Pep440,
            Ecosystem::Maven
            | Ecosystem::NuGet
            | Ecosystem::RubyGems
            | Ecosystem::Packagist
            | Ecosystem::GitHubActions
            | Ecosystem::None => Scheme::Dotted,
        }
    }

    /// The name used in messages and in [`Error::Version`]: the OSV name, or "none".
    fn label(self) -> &'static str {
        self.names().0
    }

    /// Versions may carry a leading "v": Go always does; release tags and
    /// Actions often do.
    fn allows_v(self) -> bool {
        matches!(self, Self::Go | Self::GitHubActions | Self::None)
    }
}

/// The noun for an [`Error::Version`]'s ecosystem label.
fn noun(label: &str) -> &str {
    if label == "none" {
        "release"
    } else {
        label
    }
}

/// The version scheme named in an [`Error::Version`] message.
fn scheme(label: &str) -> &'static str {
    let eco = Ecosystem::ALL.into_iter().find(|e| e.label() == label);
    match eco {
        Some(Ecosystem::Go) => "SemVer with a leading v, like v1.2.3",
        Some(Ecosystem::PyPI) => "PEP 440, like 1.2.3, 1.0b1 or 1.0.post1",
        Some(e) if e.is_semver() => "SemVer, like 1.2.3 or 1.2.3-beta.1",
        Some(e) if e.allows_v() => {
            "dotted digits with an optional suffix, like 1.2.3 or v1.2.3-rc1"
        }
        _ => "dotted digits with an optional suffix, like 1.2.3 or 1.2.3-beta",
    }
}

impl fmt::Display for Ecosystem {
    /// The OSV name, or "none".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl FromStr for Ecosystem {
    type Err = Error;

    /// OSV's spellings, any case, or "none".
    fn from_str(s: &str) -> Result<Self, Error> {
        let t = s.trim();
        Ecosystem::ALL
            .into_iter()
            .find(|e| e.label().eq_ignore_ascii_case(t))
            .ok_or_else(|| Error::Ecosystem(shown(s)))
    }
}

/// Checks `v` is a version of ecosystem `eco` and returns its canonical text.
///
/// SemVer ecosystems: SemVer 2.0 (Go: returned with its leading "v", which
/// is added when missing). PyPI: PEP 440, returned normalised ("1.0-beta" →
/// "1.0b0"). Maven, NuGet, RubyGems, Packagist, GitHub Actions and none:
/// digits and dots, then an optional suffix of `[0-9A-Za-z.+~-]` (GitHub
/// Actions and none may start with "v"), returned as typed.
pub fn check_version(eco: Ecosystem, v: &str) -> Result<String, Error> {
    let bad = |reason: String| Error::Version {
        ecosystem: eco.label(),
        version: shown(v),
        reason,
    };
    let t = v.trim();
    if t.is_empty() {
        return Err(bad("empty".into()));
    }
    if t.chars().count() > MAX_VERSION {
        return Err(bad(format!("longer than {MAX_VERSION} characters")));
    }
    if t.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("contains whitespace or a control character".into()));
    }
    match eco.scheme() {
        Scheme::SemVer => {
            let bare = match eco {
                Ecosystem::Go => t.strip_prefix('v').unwrap_or(t),
                _ => t,
            };
            let parsed = semver::Version::parse(bare).map_err(|e| match bare.starts_with('v') {
                true => bad(format!("{e} (drop the leading \"v\")")),
                false => bad(e.to_string()),
            })?;
            Ok(match eco {
                Ecosystem::Go => format!("v{parsed}"),
                _ => parsed.to_string(),
            })
        }
        Scheme::Pep440 => pep440_rs::Version::from_str(t)
            .map(|p| p.to_string())
            .map_err(|e| bad(e.to_string())),
        Scheme::Dotted => {
            let body = if eco.allows_v() {
                t.strip_prefix('v').unwrap_or(t)
            } else {
                t
            };
            check_dotted(body).map_err(bad)?;
            Ok(t.to_string())
        }
    }
}

/// The dotted form: a digit first, `[0-9A-Za-z.+~-]` after, no empty
/// component ("..") and no trailing separator.
fn check_dotted(s: &str) -> Result<(), String> {
    if !s.starts_with(|c: char| c.is_ascii_digit()) {
        return Err("does not start with a digit".into());
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '~' | '-')))
    {
        return Err(format!("contains {c:?}, outside [0-9A-Za-z.+~-]"));
    }
    if s.contains("..") {
        return Err("has an empty component (\"..\")".into());
    }
    if s.ends_with(['.', '+', '~', '-']) {
        return Err("ends with a separator".into());
    }
    Ok(())
}

/// Orders two canonical versions of `eco`.
fn compare(eco: Ecosystem, a: &str, b: &str) -> Ordering {
    match eco.scheme() {
        Scheme::SemVer => {
            let parse = |s: &str| semver::Version::parse(s.strip_prefix('v').unwrap_or(s)).ok();
            match (parse(a), parse(b)) {
                (Some(x), Some(y)) => x.cmp(&y),
                _ => dotted_cmp(a, b),
            }
        }
        Scheme::Pep440 => match (a.parse::<pep440_rs::Version>(), b.parse()) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            _ => dotted_cmp(a, b),
        },
        Scheme::Dotted => dotted_cmp(a, b),
    }
}

/// Dotted order: numeric components as numbers (missing ones are 0), then a
/// suffix: none (or build metadata "+…") sorts after a pre-release suffix
/// ("-beta", ".a", "rc1"), and two suffixes compare lexically.
fn dotted_cmp(a: &str, b: &str) -> Ordering {
    let (an, ar) = split_numeric(a.strip_prefix('v').unwrap_or(a));
    let (bn, br) = split_numeric(b.strip_prefix('v').unwrap_or(b));
    let mut ai = an.split('.').filter(|c| !c.is_empty());
    let mut bi = bn.split('.').filter(|c| !c.is_empty());
    loop {
        let (x, y) = match (ai.next(), bi.next()) {
            (None, None) => break,
            (x, y) => (x.unwrap_or("0"), y.unwrap_or("0")),
        };
        let (x, y) = (x.trim_start_matches('0'), y.trim_start_matches('0'));
        let o = x.len().cmp(&y.len()).then_with(|| x.cmp(y));
        if o != Ordering::Equal {
            return o;
        }
    }
    let pre = |r: &str| !r.is_empty() && !r.starts_with('+');
    match (pre(ar), pre(br)) {
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        _ => ar.cmp(br),
    }
}

/// Splits "1.2.3-beta" into ("1.2.3", "-beta"): the longest prefix of
/// digit groups joined by dots, and the rest.
fn split_numeric(s: &str) -> (&str, &str) {
    let mut end = 0;
    let mut prev_dot = false;
    for (i, c) in s.char_indices() {
        if c.is_ascii_digit() {
            end = i + 1;
            prev_dot = false;
        } else if c == '.' && !prev_dot && end == i {
            prev_dot = true;
        } else {
            break;
        }
    }
    s.split_at_checked(end).unwrap_or((s, ""))
}

/// Accepts "CWE-79" or "cwe-79" and returns "CWE-79": 1..=99999, no leading zeros.
pub fn check_cwe(s: &str) -> Result<String, Error> {
    let t = s.trim();
    let num = t
        .get(..4)
        .filter(|p| p.eq_ignore_ascii_case("CWE-"))
        .and_then(|_| t.get(4..))
        .filter(|n| {
            (1..=5).contains(&n.len())
                && n.bytes().all(|b| b.is_ascii_digit())
                && !n.starts_with('0')
        })
        .ok_or_else(|| Error::Cwe(shown(s)))?;
    Ok(format!("CWE-{num}"))
}

/// CVE-YYYY-NNNN, 1999 <= YYYY <= 2100, 4..=19 digits (a sequence longer
/// than 4 digits starts with no 0); returns the upper-case form.
pub fn check_cve(s: &str) -> Result<String, Error> {
    let t = s.trim();
    let err = || Error::Cve(shown(s));
    let rest = t
        .get(..4)
        .filter(|p| p.eq_ignore_ascii_case("CVE-"))
        .and_then(|_| t.get(4..))
        .ok_or_else(err)?;
    let (year, seq) = rest.split_once('-').ok_or_else(err)?;
    let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
    let year_ok = year.len() == 4
        && digits(year)
        && year
            .parse::<u16>()
            .is_ok_and(|y| (1999..=2100).contains(&y));
    let seq_ok =
        digits(seq) && (4..=19).contains(&seq.len()) && (seq.len() == 4 || !seq.starts_with('0'));
    if year_ok && seq_ok {
        Ok(format!("CVE-{year}-{seq}"))
    } else {
        Err(err())
    }
}

/// A full git commit id: 40 or 64 hex digits, returned lower-case.
pub fn check_commit(s: &str) -> Result<String, Error> {
    let t = s.trim();
    if matches!(t.len(), 40 | 64) && t.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(t.to_ascii_lowercase())
    } else {
        Err(Error::Commit(shown(s)))
    }
}

mod range;
pub use range::{osv_ranges, parse_affected, AffectedRange, Bound};

#[cfg(test)]
mod tests;
