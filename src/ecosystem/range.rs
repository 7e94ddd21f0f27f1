//! Affected ranges: what a lead types (">=8.0.0 <9.1.1"), checked and
//! ordered for the package's ecosystem, GitHub's `vulnerable_version_range`
//! made from it, and OSV `ranges` (SEMVER, ECOSYSTEM, GIT).

use serde_json::{json, Value};

use super::*;

/// One end of an affected range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bound {
    /// The version's canonical text ([`check_version`]).
    pub version: String,
    /// Whether the version itself is affected (">=", "<=").
    pub inclusive: bool,
}

/// An affected range: a lower and/or an upper bound, or one exact version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AffectedRange {
    pub lower: Option<Bound>,
    pub upper: Option<Bound>,
    pub exact: Option<String>,
}

impl AffectedRange {
    /// GitHub's `vulnerable_version_range` form: ">= 8.0.0, < 9.1.1",
    /// "< 9.1.1", "= 9.0.0" (empty when the range has no bound at all).
    pub fn github(&self) -> String {
        if let Some(v) = &self.exact {
            return format!("= {v}");
        }
        let lower = self.lower.as_ref().map(|b| {
            let op = if b.inclusive { ">=" } else { ">" };
            format!("{op} {}", b.version)
        });
        let upper = self.upper.as_ref().map(|b| {
            let op = if b.inclusive { "<=" } else { "<" };
            format!("{op} {}", b.version)
        });
        lower
            .into_iter()
            .chain(upper)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Ge,
    Gt,
    Le,
    Lt,
    Eq,
}

/// Splits a leading comparator off a word: (">=", "8.0.0") from ">=8.0.0".
fn split_op(word: &str) -> Option<(Op, &str)> {
    [
        (">=", Op::Ge),
        ("<=", Op::Le),
        ("==", Op::Eq),
        (">", Op::Gt),
        ("<", Op::Lt),
        ("=", Op::Eq),
    ]
    .into_iter()
    .find_map(|(p, op)| word.strip_prefix(p).map(|rest| (op, rest)))
}

/// An affected range as the lead types it (">=8.0.0 <9.1.1",
/// ">= 8.0.0, < 9.1.1", "<9.1.1", "<=9.1.0", "=9.0.0"): comparators >=, >,
/// <, <=, = (or ==) each before a version valid for `eco`, separated by
/// spaces and/or commas; at most one lower and one upper bound, lower below
/// upper; "=" stands alone. Versions are kept in canonical form.
pub fn parse_affected(eco: Ecosystem, text: &str) -> Result<AffectedRange, Error> {
    let bad = |reason: String| Error::Range {
        text: shown(text),
        reason,
    };
    if text.chars().count() > MAX_RANGE {
        return Err(bad(format!("longer than {MAX_RANGE} characters")));
    }
    let words = text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty());
    let mut pairs: Vec<(Op, &str)> = Vec::new();
    let mut pending: Option<Op> = None;
    for word in words {
        match (pending.take(), split_op(word)) {
            (None, None) => return Err(bad(format!("{:?} has no comparator", shown(word)))),
            (Some(_), Some(_)) => return Err(bad(format!("no version before {:?}", shown(word)))),
            (Some(op), None) => pairs.push((op, word)),
            (None, Some((op, ""))) => pending = Some(op),
            (None, Some((op, rest))) => pairs.push((op, rest)),
        }
    }
    if pending.is_some() {
        return Err(bad("it ends with a comparator and no version".into()));
    }
    if pairs.is_empty() {
        return Err(bad("empty".into()));
    }
    let mut range = AffectedRange::default();
    for (op, v) in pairs {
        let version = check_version(eco, v)?;
        let (slot, inclusive, which) = match op {
            Op::Ge => (&mut range.lower, true, "lower"),
            Op::Gt => (&mut range.lower, false, "lower"),
            Op::Le => (&mut range.upper, true, "upper"),
            Op::Lt => (&mut range.upper, false, "upper"),
            Op::Eq => {
                if range.exact.is_some() {
                    return Err(bad("more than one \"=\" version".into()));
                }
                range.exact = Some(version);
                continue;
            }
        };
        if slot.is_some() {
            return Err(bad(format!("more than one {which} bound")));
        }
        *slot = Some(Bound { version, inclusive });
    }
    if range.exact.is_some() && (range.lower.is_some() || range.upper.is_some()) {
        return Err(bad("\"=\" takes no other bound".into()));
    }
    if let (Some(lo), Some(hi)) = (&range.lower, &range.upper) {
        if compare(eco, &lo.version, &hi.version) != Ordering::Less {
            return Err(bad(format!(
                "the lower bound {} is not below the upper bound {}",
                lo.version, hi.version
            )));
        }
    }
    Ok(range)
}

/// A version as an OSV range event wants it: "0" stays, a valid version
/// becomes canonical, and SEMVER ranges get Go's version without its "v".
fn osv_version(eco: Ecosystem, v: &str) -> String {
    let t = v.trim();
    if t == "0" {
        return t.to_string();
    }
    let canon = check_version(eco, t).unwrap_or_else(|_| t.to_string());
    match eco {
        Ecosystem::Go => canon.strip_prefix('v').map(str::to_string).unwrap_or(canon),
        _ => canon,
    }
}

/// An https URL fit for an OSV GIT range's `repo`.
fn is_https_url(s: &str) -> bool {
    s.len() <= MAX_URL
        && s.strip_prefix("https://").is_some_and(|rest| {
            !rest.is_empty()
                && !rest.starts_with('/')
                && !rest.chars().any(|c| c.is_whitespace() || c.is_control())
        })
}

/// OSV `ranges` for one affected package, as a JSON array.
///
/// - A SEMVER range for SemVer ecosystems (Go's "v" stripped), ECOSYSTEM for
///   the other named ones, none for [`Ecosystem::None`]. Its events:
///   `introduced` (given, else an inclusive lower bound or the exact version
///   of `affected`, else "0"), then `fixed` (given, else an exclusive upper
///   bound) or, failing that, `last_affected` (an inclusive upper bound or
///   the exact version). Versions are written canonical when valid for `eco`
///   (callers are expected to have checked them); blank ones count as absent.
/// - A GIT range `{"introduced":"0"},{"fixed":commit}` when `repository` is
///   an https URL and `fix_commit` a full commit id; otherwise none.
///
/// The array may be empty (no ecosystem and no GIT range).
pub fn osv_ranges(
    eco: Ecosystem,
    affected: Option<&AffectedRange>,
    introduced: Option<&str>,
    fixed: Option<&str>,
    repository: Option<&str>,
    fix_commit: Option<&str>,
) -> Value {
    let given = |v: Option<&str>| {
        v.map(str::trim)
            .filter(|v| !v.is_empty())
            .map(|v| osv_version(eco, v))
    };
    let mut ranges = Vec::new();
    if eco.osv_name().is_some() {
        let exact = affected.and_then(|a| a.exact.as_deref());
        let lower = affected.and_then(|a| a.lower.as_ref());
        let upper = affected.and_then(|a| a.upper.as_ref());
        let start = given(introduced)
            .or_else(|| {
                lower
                    .filter(|b| b.inclusive)
                    .map(|b| osv_version(eco, &b.version))
            })
            .or_else(|| exact.map(|v| osv_version(eco, v)))
            .unwrap_or_else(|| "0".to_string());
        let mut events = vec![json!({ "introduced": start })];
        if let Some(f) = given(fixed).or_else(|| {
            upper
                .filter(|b| !b.inclusive)
                .map(|b| osv_version(eco, &b.version))
        }) {
            events.push(json!({ "fixed": f }));
        } else if let Some(last) = upper
            .filter(|b| b.inclusive)
            .map(|b| b.version.as_str())
            .or(exact)
        {
            events.push(json!({ "last_affected": osv_version(eco, last) }));
        }
        let kind = if eco.is_semver() {
            "SEMVER"
        } else {
            "ECOSYSTEM"
        };
        ranges.push(json!({ "type": kind, "events": events }));
    }
    if let (Some(repo), Some(commit)) = (repository.map(str::trim), fix_commit) {
        if let (true, Ok(commit)) = (is_https_url(repo), check_commit(commit)) {
            ranges.push(json!({
                "type": "GIT",
                "repo": repo,
                "events": [{ "introduced": "0" }, { "fixed": commit }],
            }));
        }
    }
    Value::Array(ranges)
}
