//! The GitHub Security Advisory: its Markdown body, in the sections GitHub's
//! own advisories use, and the request body that files it as a draft.

use serde_json::{json, Value};

use super::{fenced, inert, steps, Draft};
use crate::case::assess::{cvss, Impact};

fn or_todo(v: Option<&str>, what: &str) -> String {
    v.filter(|s| !s.trim().is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| format!("(TODO: {what})"))
}

/// The Markdown body: the lead's edited draft when there is one, else the
/// sections drafted from the case.
pub fn markdown(d: &Draft<'_>) -> String {
    if let Some(edited) = d.record.draft.as_deref().filter(|t| !t.trim().is_empty()) {
        return edited.to_string();
    }
    generated(d)
}

/// The sections drafted from the case, before any edit.
pub fn generated(d: &Draft<'_>) -> String {
    let c = d.case;
    let id = &c.id;
    let mut out = String::new();
    out.push_str("### Summary\n\n");
    out.push_str(&format!("{}\n\n", d.summary()));

    out.push_str("### Details\n\n");
    match d.record.details.as_deref().filter(|t| !t.trim().is_empty()) {
        Some(details) => out.push_str(&format!("{details}\n\n")),
        None => {
            out.push_str(&format!(
                "(TODO: the root cause, in the team's words: `secdesk analyze {id} --details \
                 \"…\"`, or edit this draft with `secdesk advisory {id} --edit`.)\n\n"
            ));
            // A withheld PoC is withheld here too: the report's opening
            // is often its steps.
            if !d.report.trim().is_empty() && !d.record.poc_withheld {
                out.push_str("From the report:\n\n");
                out.push_str(&fenced(super::floor(&d.report, 1_500)));
                out.push('\n');
            }
        }
    }

    out.push_str("### PoC\n\n");
    if d.record.poc_withheld {
        out.push_str("A proof of concept is withheld until users have had time to upgrade.\n\n");
    } else if d.report.trim().is_empty() {
        out.push_str(&format!(
            "(TODO: the steps to reproduce; or withhold them with `secdesk advisory {id} \
             --no-poc`.)\n\n"
        ));
    } else {
        out.push_str(&fenced(steps(&d.report)));
        out.push('\n');
    }

    out.push_str("### Impact\n\n");
    out.push_str(&format!(
        "{}\n\n",
        or_todo(
            c.user_impact.as_deref(),
            &format!("user impact: secdesk analyze {id} --user-impact")
        )
    ));
    out.push_str(&format!("{}\n\n", severity_line(d)));
    if !d.record.cwe_ids.is_empty() {
        out.push_str(&format!("Weakness: {}.\n\n", d.record.cwe_ids.join(", ")));
    }

    out.push_str("### Affected versions\n\n");
    if d.affected.is_empty() {
        out.push_str(&format!(
            "(TODO: the packages: `secdesk triage {id} --package …`)\n\n"
        ));
    }
    for a in &d.affected {
        out.push_str(&format!(
            "- {} ({}): {}{}\n",
            a.package.name,
            a.package
                .ecosystem
                .osv_name()
                .unwrap_or("released from its repository"),
            a.vulnerable_range().unwrap_or_else(|| format!(
                "(TODO: secdesk analyze {id} --package {} --affected …)",
                a.package.id
            )),
            a.introduced
                .as_deref()
                .map(|i| format!(", introduced in {i}"))
                .unwrap_or_default()
        ));
    }
    if !d.affected.is_empty() {
        out.push('\n');
    }

    out.push_str("### Patches\n\n");
    for a in &d.affected {
        out.push_str(&format!(
            "- {}: fixed in {}{}\n",
            a.package.name,
            or_todo(
                a.fixed.as_deref(),
                &format!(
                    "secdesk released {id} --package {} --version …",
                    a.package.id
                )
            ),
            a.fix_commit
                .as_deref()
                .map(|f| format!(" (commit {f})"))
                .unwrap_or_default()
        ));
    }
    if d.affected.is_empty() {
        out.push_str(&format!(
            "Fixed in {}.\n",
            or_todo(c.fixed_version.as_deref(), "fixed version")
        ));
    }
    if let Some(r) = &c.fix_ref {
        out.push_str(&format!("\nThe fix: {r}\n"));
    }
    out.push('\n');

    out.push_str("### Workarounds\n\n");
    out.push_str(&format!(
        "{}\n\n",
        c.workaround
            .clone()
            .unwrap_or_else(|| "No workaround is known; upgrade.".into())
    ));

    out.push_str("### References\n\n");
    if let Some(cve) = &d.record.cve_id {
        out.push_str(&format!("- https://www.cve.org/CVERecord?id={cve}\n"));
    }
    if let Some(a) = d.advisory_link() {
        out.push_str(&format!("- {a}\n"));
    }
    if let Some(r) = &c.fix_ref {
        out.push_str(&format!("- {r}\n"));
    }
    if let Some(repo) = &d.project.repository_url {
        out.push_str(&format!("- {}/releases\n", repo.trim_end_matches('/')));
    }
    if !d.project.policy_url.is_empty() {
        out.push_str(&format!("- {}\n", d.project.policy_url));
    }
    out.push('\n');

    if let Some((name, _)) = d.credit() {
        out.push_str("### Credits\n\n");
        out.push_str(&format!("Reported by {}.\n", inert(&name)));
    }
    out
}

fn severity_line(d: &Draft<'_>) -> String {
    let c = d.case;
    let mut s = format!("Severity: {}", or_todo(c.severity.as_deref(), "severity"));
    if let Some(v) = c.cvss_vector.as_deref().and_then(|v| cvss(v).ok()) {
        s.push_str(&format!(" (CVSS {:.1}, `{}`)", v.score, v.vector));
    }
    if let Some(i) = &c.impact {
        s.push_str(&format!("; {}", Impact::describe(i)));
    }
    s
}

/// Create (POST) or update (PATCH): the update takes the same fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    Create,
    Update,
}

/// The request body for GitHub's repository advisory API. Severity or a
/// CVSS vector, never both; credits only with consent, and only by login
/// (a name without a login stays in the description's Credits section).
pub fn github_body(d: &Draft<'_>, kind: BodyKind) -> Value {
    let vulnerabilities: Vec<Value> = d
        .affected
        .iter()
        .map(|a| {
            let mut v = json!({
                "package": {
                    "ecosystem": a.package.ecosystem.github_name(),
                    "name": a.package.name,
                },
            });
            if let Some(r) = a.vulnerable_range() {
                v["vulnerable_version_range"] = json!(r);
            }
            if let Some(f) = &a.fixed {
                v["patched_versions"] = json!(super::github_version(f));
            }
            v
        })
        .collect();
    let mut body = json!({
        "summary": super::floor(&d.title(), 1024),
        "description": super::floor(&markdown(d), 65_535),
        "vulnerabilities": vulnerabilities,
        "cwe_ids": d.record.cwe_ids,
    });
    if let Some(cve) = &d.record.cve_id {
        body["cve_id"] = json!(cve);
    }
    match d.case.cvss_vector.as_deref().and_then(|v| cvss(v).ok()) {
        Some(v) => body["cvss_vector_string"] = json!(v.vector),
        None => {
            if let Some(s) = d.case.severity.as_deref() {
                body["severity"] = json!(s);
                // GitHub keeps what an update leaves out: a vector set
                // before would make the new severity a 422.
                if kind == BodyKind::Update {
                    body["cvss_vector_string"] = Value::Null;
                }
            }
        }
    }
    // Always sent, empty without consent: an update that left it out would
    // keep a credit the reporter has since withdrawn.
    body["credits"] = match d.credit() {
        Some((_, Some(login))) => json!([{"login": login, "type": "finder"}]),
        _ => json!([]),
    };
    body
}
