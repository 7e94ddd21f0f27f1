//! Drafts from the case log: the GitHub Security Advisory body, the OSV
//! record and the release-notes announcement. Pure: a case row and the
//! project settings in, text out. (The reporter's notices are
//! [`crate::notices`].)
//!
//! Credit is published only with consent: without an explicit "yes" no name
//! appears anywhere — not in the advisory, not in OSV, not in the notice.
//!
//! Reporter text (subject, names, address) enters the Markdown drafts only
//! through [`inert`] (DESIGN.md, "What mail may change"); the lead's own
//! values are written as the lead typed them.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::case::assess::{cvss, Impact};
use crate::case::workflow::is_ghsa;
use crate::config::ProjectConfig;
use crate::markdown::inert;
use crate::store::cases::CaseRow;

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

fn or_tbd(v: &Option<String>, what: &str) -> String {
    v.clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| format!("(TODO: {what})"))
}

fn severity_line(c: &CaseRow) -> String {
    let mut s = format!("Severity: {}", or_tbd(&c.severity, "severity"));
    if let Some(v) = c.cvss_vector.as_deref().and_then(|v| cvss(v).ok()) {
        s.push_str(&format!(" (CVSS {:.1}, `{}`)", v.score, v.vector));
    }
    if let Some(i) = &c.impact {
        s.push_str(&format!("; {}", Impact::describe(i)));
    }
    s
}

/// The GitHub Security Advisory body (Markdown).
pub fn ghsa(c: &CaseRow, project: &ProjectConfig) -> String {
    let fixed = or_tbd(&c.fixed_version, "fixed version (secdesk released)");
    let subject = inert(&c.subject);
    let mut out = String::new();
    out.push_str(&format!("# {subject}\n\n"));
    out.push_str("### Summary\n\n");
    out.push_str(&format!(
        "{subject} in {} versions {} allows what is described under Impact. It is fixed in {fixed}.\n\n",
        project.name,
        or_tbd(&c.affected_versions, "affected versions (secdesk analyze)")
    ));
    out.push_str("### Impact\n\n");
    out.push_str(&format!(
        "{}\n\n",
        or_tbd(&c.user_impact, "user impact (secdesk analyze)")
    ));
    out.push_str(&format!("{}\n\n", severity_line(c)));
    out.push_str("### Affected versions\n\n");
    out.push_str(&format!(
        "{} (the issue was introduced in {}).\n\n",
        or_tbd(&c.affected_versions, "affected versions"),
        or_tbd(&c.introduced_in, "introducing version")
    ));
    out.push_str("### Patches\n\n");
    out.push_str(&format!("The issue is fixed in {fixed}."));
    if let Some(r) = &c.fix_ref {
        out.push_str(&format!(" Fix: {r}"));
    }
    out.push_str("\n\n### Upgrade\n\n");
    out.push_str(&format!("Upgrade to {fixed} or later."));
    if let Some(repo) = &project.repository_url {
        out.push_str(&format!(
            " Releases: {}/releases",
            repo.trim_end_matches('/')
        ));
    }
    out.push_str("\n\n### Workarounds\n\n");
    out.push_str(&format!(
        "{}\n\n",
        c.workaround
            .clone()
            .unwrap_or_else(|| "No workaround is known; upgrade.".into())
    ));
    if let Some(name) = credited_name(c) {
        out.push_str("### Credits\n\n");
        out.push_str(&format!("Reported by {}.\n\n", inert(&name)));
    }
    out.push_str("### References\n\n");
    if let Some(a) = &c.advisory {
        out.push_str(&format!("- {}\n", advisory_url(a, project)));
    }
    if let Some(r) = &c.fix_ref {
        out.push_str(&format!("- {r}\n"));
    }
    if !project.policy_url.is_empty() {
        out.push_str(&format!("- {}\n", project.policy_url));
    }
    out
}

/// The OSV record (schema 1.6).
pub fn osv(c: &CaseRow, project: &ProjectConfig, now: DateTime<Utc>) -> Value {
    let id = match c.advisory.as_deref() {
        Some(a) if is_ghsa(a) => a.to_string(),
        _ => format!("x_{}", c.id),
    };
    let ts = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut rec = json!({
        "schema_version": "1.6.0",
        "id": id,
        "modified": ts(now),
        "summary": c.subject,
        "details": c.user_impact.clone().unwrap_or_else(|| c.subject.clone()),
    });
    if let Some(p) = c.disclosed_at.as_deref().and_then(crate::store::parse_ts) {
        rec["published"] = json!(ts(p));
    }
    let mut events =
        vec![json!({"introduced": c.introduced_in.clone().unwrap_or_else(|| "0".into())})];
    if let Some(f) = &c.fixed_version {
        events.push(json!({"fixed": f}));
    }
    let mut affected = json!({
        "ranges": [{"type": "ECOSYSTEM", "events": events}],
    });
    if let (Some(eco), Some(name)) = (&project.advisory_ecosystem, &project.advisory_package) {
        affected["package"] = json!({"ecosystem": eco, "name": name});
    }
    if let Some(v) = &c.affected_versions {
        affected["database_specific"] = json!({"affected_versions": v});
    }
    rec["affected"] = json!([affected]);
    if let Some(v) = c.cvss_vector.as_deref().and_then(|v| cvss(v).ok()) {
        rec["severity"] = json!([{"type": "CVSS_V3", "score": v.vector}]);
    }
    let mut refs = Vec::new();
    if let Some(a) = &c.advisory {
        refs.push(json!({"type": "ADVISORY", "url": advisory_url(a, project)}));
    }
    if let Some(r) = &c.fix_ref {
        refs.push(json!({"type": "FIX", "url": r}));
    }
    if !refs.is_empty() {
        rec["references"] = json!(refs);
    }
    if let Some(name) = credited_name(c) {
        rec["credits"] = json!([{"name": name, "type": "FINDER"}]);
    }
    rec["database_specific"] = json!({"secdesk_case": c.id, "severity": c.severity});
    rec
}

/// The release-notes / blog announcement the policy asks for.
pub fn announcement(c: &CaseRow, project: &ProjectConfig) -> String {
    let fixed = or_tbd(&c.fixed_version, "fixed version");
    let mut out = format!(
        "Security release: {} {fixed}\n\n{} {fixed} fixes a {} severity security issue: {}.\n\n",
        project.name,
        project.name,
        or_tbd(&c.severity, "severity"),
        inert(&c.subject)
    );
    out.push_str(&format!(
        "Affected versions: {}. {}\n\n",
        or_tbd(&c.affected_versions, "affected versions"),
        or_tbd(&c.user_impact, "user impact")
    ));
    out.push_str(&format!("Please upgrade to {fixed} or later."));
    if let Some(w) = &c.workaround {
        out.push_str(&format!(" If you cannot upgrade yet: {w}"));
    }
    out.push_str("\n\n");
    match &c.advisory {
        Some(a) => out.push_str(&format!(
            "The security advisory has the details: {}\n",
            advisory_url(a, project)
        )),
        None => out.push_str("The security advisory has the details: (TODO: advisory link)\n"),
    }
    if let Some(name) = credited_name(c) {
        out.push_str(&format!(
            "\nThanks to {} for reporting the issue responsibly.\n",
            inert(&name)
        ));
    }
    out
}

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
mod tests {
    use super::*;

    fn row() -> CaseRow {
        sample_case()
    }

    fn project() -> ProjectConfig {
        ProjectConfig {
            name: "Example".into(),
            security_address: "security@example.org".into(),
            case_prefix: "SEC".into(),
            policy_url: "https://example.org/SECURITY.md".into(),
            advisory_ecosystem: Some("npm".into()),
            advisory_package: Some("@example/cli".into()),
            repository_url: Some("https://github.com/example/example".into()),
            relay_list_ids: Vec::new(),
            packages: Vec::new(),
        }
    }

    #[test]
    fn ghsa_body_is_complete() {
        let b = ghsa(&row(), &project());
        for part in [
            "### Impact",
            "### Affected versions",
            ">=8.0.0 <9.0.2",
            "introduced in 8.0.0",
            "fixed in 9.0.2",
            "Upgrade to 9.0.2",
            "### Workarounds",
            "Reported by Sam F.",
            "CVSS 9.1",
            "https://github.com/example/example/security/advisories/GHSA-abcd-1234-wxyz",
        ] {
            assert!(b.contains(part), "missing {part:?} in\n{b}");
        }
        assert!(!b.contains("TODO"), "{b}");
    }

    #[test]
    fn no_consent_no_name_anywhere() {
        for consent in [None, Some("no")] {
            let mut c = row();
            c.credit_consent = consent.map(String::from);
            let texts = [
                ghsa(&c, &project()),
                osv(&c, &project(), Utc::now()).to_string(),
                announcement(&c, &project()),
                crate::notices::credit_sentence(&c),
            ];
            for t in texts {
                assert!(!t.contains("Sam"), "{consent:?}: {t}");
            }
        }
    }

    #[test]
    fn credit_falls_back_to_the_reporter_name_only_with_consent() {
        let mut c = row();
        c.credit_name = None;
        assert_eq!(credited_name(&c).as_deref(), Some("Sam Finder"));
        c.credit_consent = Some("no".into());
        assert_eq!(credited_name(&c), None);
    }

    #[test]
    fn osv_record_shape() {
        let r = osv(&row(), &project(), Utc::now());
        assert_eq!(r["id"], "GHSA-abcd-1234-wxyz");
        assert_eq!(
            r["affected"][0]["ranges"][0]["events"],
            json!([{"introduced": "8.0.0"}, {"fixed": "9.0.2"}])
        );
        assert_eq!(r["severity"][0]["type"], "CVSS_V3");
        assert_eq!(r["credits"][0]["name"], "Sam F.");
        assert_eq!(r["affected"][0]["package"]["ecosystem"], "npm");
    }

    /// A case whose reporter-controlled fields that reach the drafts hold
    /// `v`: the subject always, and the credited name taken in turn from
    /// each field `credited_name` may use.
    fn with_reporter_text(v: &str) -> Vec<(&'static str, CaseRow)> {
        let mut credit = row();
        credit.subject = v.into();
        credit.credit_name = Some(v.into());
        let mut name = row();
        name.subject = v.into();
        name.credit_name = None;
        name.reporter_name = v.into();
        let mut address = name.clone();
        address.reporter_name = String::new();
        address.reporter = v.into();
        vec![
            ("credit_name", credit),
            ("reporter_name", name),
            ("reporter", address),
        ]
    }

    /// The `### …` lines of a draft, as written.
    fn section_headings(draft: &str) -> Vec<(u8, String)> {
        draft
            .lines()
            .filter_map(|l| l.strip_prefix("### "))
            .map(|h| (3, h.to_string()))
            .collect()
    }

    #[test]
    fn reporter_text_renders_as_text_in_ghsa_and_announcement() {
        use crate::markdown::rendered::{outside_code, render, shown, HOSTILE, READABLE};
        let benign = with_reporter_text("Sam Finder");
        for v in HOSTILE.iter().chain(READABLE) {
            for ((field, c), (_, base)) in with_reporter_text(v).into_iter().zip(&benign) {
                let seen = shown(v);
                let drafts = [
                    ("ghsa", ghsa(&c, &project()), ghsa(base, &project())),
                    (
                        "announcement",
                        announcement(&c, &project()),
                        announcement(base, &project()),
                    ),
                ];
                for (kind, draft, base_draft) in drafts {
                    let at = format!("{kind}, subject and {field} = {v:?}:\n{draft}");
                    let (r, b) = (render(&draft), render(&base_draft));
                    assert_eq!(r.blocks, b.blocks, "{at}");
                    // Every section heading survives, and the only other heading
                    // is the title, showing the subject as typed.
                    let sections: Vec<_> =
                        r.headings.iter().filter(|h| h.0 != 1).cloned().collect();
                    assert_eq!(sections, section_headings(&base_draft), "{at}");
                    let titles: Vec<_> = r.headings.iter().filter(|h| h.0 == 1).collect();
                    match kind {
                        "ghsa" => assert_eq!(titles, [&(1, seen.clone())], "{at}"),
                        _ => assert!(titles.is_empty(), "{at}"),
                    }
                    // No link, image, HTML or math beyond the draft's own.
                    assert_eq!(r.live, b.live, "{at}");
                    for needle in ["@", "://", "www.", "#", "gh-"] {
                        assert_eq!(
                            outside_code(&r, needle),
                            outside_code(&b, needle),
                            "{needle}: {at}"
                        );
                    }
                    // The name reads as typed where the credit goes.
                    let thanks = match kind {
                        "ghsa" => format!("Reported by {seen}."),
                        _ => format!("Thanks to {seen} for reporting the issue responsibly."),
                    };
                    assert!(r.paragraphs.contains(&thanks), "{thanks:?}: {at}");
                    if READABLE.contains(v) {
                        assert_eq!(r.code, b.code, "code-spanned: {at}");
                    }
                }
            }
        }
    }
}
