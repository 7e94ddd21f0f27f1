//! Drafts from the case log: the GitHub Security Advisory (its Markdown
//! body and the API request that files it), the OSV record and the
//! release-notes announcement. Pure: a [`Draft`] (the case, its packages,
//! its advisory record, an excerpt of the report) in, text or JSON out.
//! (The reporter's notices are [`crate::notices`].)
//!
//! Credit is published only with consent: without an explicit "yes" no name
//! or login appears anywhere — not in the advisory, not in OSV, not in the
//! notice, not in the request to GitHub.
//!
//! Reporter text (subject, names, the report's steps) enters the Markdown
//! only through [`inert`] or as a fenced code block ([`fenced`]); the
//! lead's own values are written as the lead typed them. The title is never
//! the reporter's subject: it is built from the weakness and the packages.

mod excerpt;
mod ghsa;
mod osv;
mod weakness;

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::case::workflow::is_ghsa;
use crate::config::{PackageConfig, ProjectConfig};
use crate::ecosystem::{parse_affected, AffectedRange};
pub use crate::markdown::inert;
use crate::store::advisories::{AdvisoryRecord, CasePackage};
use crate::store::cases::CaseRow;

use excerpt::{excerpt_of, floor};
pub use excerpt::{fenced, identity, names, replace_word, steps, MAX_EXCERPT};
pub use ghsa::{github_body, BodyKind};
pub use weakness::weakness_name;

/// One package of a case as the advisory shows it.
#[derive(Debug, Clone)]
pub struct Affected {
    pub package: PackageConfig,
    /// The lead's range text, checked for the package's ecosystem.
    pub range: Option<String>,
    pub introduced: Option<String>,
    pub fixed: Option<String>,
    pub fix_commit: Option<String>,
}

impl Affected {
    /// The range as parsed for the ecosystem (it was checked when stored).
    fn parsed(&self) -> Option<AffectedRange> {
        self.range
            .as_deref()
            .and_then(|r| parse_affected(self.package.ecosystem, r).ok())
    }

    /// GitHub's `vulnerable_version_range`: the lead's range, else one
    /// built from introduced and fixed.
    pub fn vulnerable_range(&self) -> Option<String> {
        if let Some(r) = self.parsed() {
            return Some(strip_v(&r.github()));
        }
        let (introduced, fixed) = (
            self.introduced.as_deref().map(github_version),
            self.fixed.as_deref().map(github_version),
        );
        match (introduced, fixed) {
            (Some(i), Some(f)) => Some(format!(">= {i}, < {f}")),
            (None, Some(f)) => Some(format!("< {f}")),
            (Some(i), None) => Some(format!(">= {i}")),
            (None, None) => None,
        }
    }
}

/// `>= v1.2.0, < v1.3.0` → `>= 1.2.0, < 1.3.0`.
fn strip_v(range: &str) -> String {
    range
        .split(' ')
        .map(github_version)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Everything an advisory is drafted from.
#[derive(Debug, Clone)]
pub struct Draft<'a> {
    pub case: &'a CaseRow,
    pub project: &'a ProjectConfig,
    pub record: AdvisoryRecord,
    pub affected: Vec<Affected>,
    /// The report's text (its first message), for Details and the PoC.
    pub report: String,
}

impl<'a> Draft<'a> {
    /// The draft for `case` with the packages it names (`rows`, joined to
    /// the config by id; a package no longer configured is skipped). A case
    /// from before packages existed uses its own version fields for the
    /// project's only package.
    pub fn new(
        case: &'a CaseRow,
        project: &'a ProjectConfig,
        record: AdvisoryRecord,
        rows: &[CasePackage],
        report: String,
    ) -> Draft<'a> {
        let mut affected: Vec<Affected> = rows
            .iter()
            .filter_map(|r| {
                let package = project.packages.iter().find(|p| p.id == r.package)?;
                Some(Affected {
                    package: package.clone(),
                    range: r.affected.clone(),
                    introduced: r.introduced.clone(),
                    fixed: r.fixed.clone(),
                    fix_commit: r.fix_commit.clone(),
                })
            })
            .collect();
        if affected.is_empty() {
            if let [only] = project.packages.as_slice() {
                affected.push(Affected {
                    package: only.clone(),
                    range: case.affected_versions.clone(),
                    introduced: case.introduced_in.clone(),
                    fixed: case.fixed_version.clone(),
                    fix_commit: None,
                });
            }
        }
        let report = excerpt_of(&report, case);
        Draft {
            case,
            project,
            record,
            affected,
            report,
        }
    }

    /// A draft from the case alone (no advisory record, no report text).
    pub fn of_case(case: &'a CaseRow, project: &'a ProjectConfig) -> Draft<'a> {
        Draft::new(case, project, AdvisoryRecord::default(), &[], String::new())
    }

    /// The names of the affected packages, `a, b and c`; the project's name
    /// when the case names none.
    pub fn package_names(&self) -> String {
        let names: Vec<String> = self
            .affected
            .iter()
            .map(|a| a.package.name.clone())
            .collect();
        match names.as_slice() {
            [] => self.project.name.clone(),
            [one] => one.clone(),
            [init @ .., last] => format!("{} and {last}", init.join(", ")),
        }
    }

    /// The advisory's title: the weakness in the packages. Never the
    /// reporter's subject, which is their wording and often names a version.
    pub fn title(&self) -> String {
        let what = self
            .record
            .cwe_ids
            .first()
            .and_then(|c| weakness_name(c))
            .unwrap_or("Security vulnerability");
        format!("{what} in {}", self.package_names())
    }

    /// One sentence: the lead's, or one built from weakness, packages,
    /// versions and impact.
    pub fn summary(&self) -> String {
        if let Some(s) = self.record.summary.as_deref().filter(|s| !s.is_empty()) {
            return s.to_string();
        }
        let what = self
            .record
            .cwe_ids
            .first()
            .and_then(|c| weakness_name(c))
            .map(|w| format!("{w} in"))
            .unwrap_or_else(|| "A vulnerability in".into());
        let versions: Vec<String> = self
            .affected
            .iter()
            .map(|a| match a.vulnerable_range() {
                Some(r) => format!("{} versions {r}", a.package.name),
                None => a.package.name.clone(),
            })
            .collect();
        let versions = match versions.as_slice() {
            [] => self.project.name.clone(),
            [one] => one.clone(),
            [init @ .., last] => format!("{} and {last}", init.join(", ")),
        };
        format!(
            "{what} {versions} allows {}.",
            impact_phrase(self.case.impact.as_deref())
        )
    }

    /// The id OSV files the record under.
    pub fn osv_id(&self) -> String {
        match self.ghsa_id() {
            Some(a) => a,
            None => format!("x_{}", self.case.id),
        }
    }

    /// The GHSA id: the one GitHub gave when secdesk filed the draft, else
    /// the one the lead recorded at disclosure.
    pub fn ghsa_id(&self) -> Option<String> {
        self.record
            .ghsa_id
            .clone()
            .or_else(|| self.case.advisory.clone().filter(|a| is_ghsa(a)))
    }

    /// The advisory's address for people.
    pub fn advisory_link(&self) -> Option<String> {
        if let Some(url) = &self.record.ghsa_url {
            return Some(url.clone());
        }
        self.case
            .advisory
            .as_deref()
            .map(|a| advisory_url(a, self.project))
    }

    /// The name and the GitHub login to credit, only with consent. A login
    /// only from a credit name given explicitly (the reporter's `credit:`
    /// answer or the lead's `--name`), never from a From line's display
    /// name, which anyone writes.
    pub fn credit(&self) -> Option<(String, Option<String>)> {
        let name = credited_name(self.case)?;
        let explicit = self
            .case
            .credit_name
            .as_deref()
            .is_some_and(|n| !n.is_empty());
        Some(if explicit {
            split_login(&name)
        } else {
            (name, None)
        })
    }
}

/// What the impact allows, as words: `c=high,i=low,a=none` → "disclosure
/// of information and modification of data".
fn impact_phrase(impact: Option<&str>) -> String {
    let Some(i) = impact.and_then(|s| crate::case::assess::Impact::parse(s).ok()) else {
        return "an attacker to compromise its users (see Impact)".into();
    };
    let mut parts = Vec::new();
    if i.c != "none" {
        parts.push("disclosure of information");
    }
    if i.i != "none" {
        parts.push("modification of data");
    }
    if i.a != "none" {
        parts.push("denial of service");
    }
    match parts.as_slice() {
        [] => "no direct harm to confidentiality, integrity or availability".into(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// `Sam Finder (@samf)` → (`Sam Finder`, `samf`): a login only in GitHub's
/// form (letters, digits, single hyphens, at most 39, no hyphen at either end).
pub fn split_login(name: &str) -> (String, Option<String>) {
    let t = name.trim();
    if let Some(open) = t.rfind("(@") {
        if let Some(login) = t.get(open + 2..).and_then(|r| r.strip_suffix(')')) {
            if is_login(login) {
                let display = t.get(..open).unwrap_or("").trim().to_string();
                let display = if display.is_empty() {
                    login.to_string()
                } else {
                    display
                };
                return (display, Some(login.to_string()));
            }
        }
    }
    (t.to_string(), None)
}

fn is_login(s: &str) -> bool {
    (1..=39).contains(&s.len())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
}

/// The name to credit, if and only if the reporter consented.
pub fn credited_name(c: &CaseRow) -> Option<String> {
    if c.credit_consent.as_deref() != Some("yes") {
        return None;
    }
    c.credit_name
        .clone()
        .filter(|n| !n.is_empty())
        .or_else(|| Some(c.reporter_name.clone()).filter(|n| !n.is_empty()))
        .or_else(|| Some(c.reporter.clone()).filter(|n| !n.is_empty()))
}

/// The advisory's URL: a GHSA id becomes its GitHub address.
pub fn advisory_url(advisory: &str, project: &ProjectConfig) -> String {
    if is_ghsa(advisory) {
        match &project.repository_url {
            Some(repo) => format!(
                "{}/security/advisories/{advisory}",
                repo.trim_end_matches('/')
            ),
            None => format!("https://github.com/advisories/{advisory}"),
        }
    } else {
        advisory.to_string()
    }
}

/// A version as GitHub's range syntax writes it: without Go's (or a tag's)
/// leading `v`.
pub fn github_version(v: &str) -> &str {
    match v.strip_prefix(['v', 'V']) {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => rest,
        _ => v,
    }
}

/// The release-notes / blog announcement the policy asks for: per package,
/// what to upgrade to; the advisory link; thanks only with consent.
pub fn announcement_text(d: &Draft<'_>) -> String {
    let project = &d.project.name;
    let mut out = format!(
        "Security release: {project}\n\n{project} releases fix a {} severity security issue: {}.\n\n",
        d.case.severity.as_deref().unwrap_or("(TODO: severity)"),
        d.title()
    );
    if d.affected.is_empty() {
        out.push_str(&format!(
            "Please upgrade to {} or later.\n",
            d.case
                .fixed_version
                .as_deref()
                .unwrap_or("(TODO: fixed version)")
        ));
    }
    for a in &d.affected {
        out.push_str(&format!(
            "- {}: affected {}; upgrade to {} or later.\n",
            a.package.name,
            a.vulnerable_range()
                .unwrap_or_else(|| "(TODO: affected versions)".into()),
            a.fixed.as_deref().unwrap_or("(TODO: fixed version)")
        ));
    }
    if let Some(w) = &d.case.workaround {
        out.push_str(&format!("\nIf you cannot upgrade yet: {w}\n"));
    }
    out.push('\n');
    match d.advisory_link() {
        Some(a) => out.push_str(&format!("The security advisory has the details: {a}\n")),
        None => out.push_str("The security advisory has the details: (TODO: advisory link)\n"),
    }
    if let Some((name, _)) = d.credit() {
        out.push_str(&format!(
            "\nThanks to {} for reporting the issue responsibly.\n",
            inert(&name)
        ));
    }
    out
}

/// The announcement for a case alone (see [`announcement_text`]).
pub fn announcement(c: &CaseRow, project: &ProjectConfig) -> String {
    announcement_text(&Draft::of_case(c, project))
}

/// The GHSA Markdown body (the stored, edited draft when there is one).
pub fn ghsa(c: &CaseRow, project: &ProjectConfig) -> String {
    ghsa::markdown(&Draft::of_case(c, project))
}

/// The OSV record.
pub fn osv(c: &CaseRow, project: &ProjectConfig, now: DateTime<Utc>) -> serde_json::Value {
    osv::record(&Draft::of_case(c, project), now)
}

pub use ghsa::markdown as ghsa_markdown;
pub use osv::record as osv_record;

/// A filled-in, disclosed case: for `secdesk check` and tests.
pub fn sample_case() -> CaseRow {
    serde_json::from_value(json!({
        "id": "SEC-2026-0001", "state": "disclosed", "reporter": "sam@reporter.example",
        "subject": "Prototype pollution in the rules engine",
        "received_at": "2026-11-23T09:12:44.000Z", "acknowledged_at": null,
        "first_response_at": null, "response_due_at": "2026-11-25T09:12:44.000Z",
        "severity": "high", "reporter_name": "Sam Finder", "missing_items": [],
        "assignee": null, "impact": "c=none,i=high,a=high",
        "cvss_vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:H",
        "decision_reason": null, "duplicate_of": null,
        "fix_ref": "https://github.com/example/example/pull/42", "fixed_version": "9.0.2",
        "affected_versions": ">=8.0.0 <9.0.2", "introduced_in": "8.0.0",
        "user_impact": "A remote client can change the behaviour of every route.",
        "advisory": "GHSA-abcd-1234-wxyz", "credit_consent": "yes", "credit_name": "Sam F.",
        "send_failure": null, "workaround": null, "released_at": "2026-11-24T10:00:00.000Z",
        "disclosed_at": "2026-11-25T10:00:00.000Z"
    }))
    .expect("sample case")
}

#[cfg(test)]
mod tests;
