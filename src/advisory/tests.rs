//! The drafts, section by section: what each says, that credit needs
//! consent, and that reporter text never becomes markup.

use super::*;
use crate::ecosystem::Ecosystem;
use crate::store::advisories::{AdvisoryRecord, CasePackage};
use chrono::Utc;
use serde_json::json;

fn row() -> CaseRow {
    sample_case()
}

fn package(id: &str, ecosystem: Ecosystem, name: &str) -> PackageConfig {
    PackageConfig {
        id: id.into(),
        ecosystem,
        name: name.into(),
        repository: Some("https://github.com/example/example".into()),
    }
}

fn project() -> ProjectConfig {
    ProjectConfig {
        name: "Example".into(),
        security_address: "security@example.org".into(),
        case_prefix: "SEC".into(),
        policy_url: "https://example.org/SECURITY.md".into(),
        packages: vec![
            package("desktop", Ecosystem::None, "Example desktop"),
            package("cli", Ecosystem::Npm, "@example/cli"),
        ],
        advisory_ecosystem: None,
        advisory_package: None,
        repository_url: Some("https://github.com/example/example".into()),
        relay_list_ids: Vec::new(),
    }
}

fn record() -> AdvisoryRecord {
    AdvisoryRecord {
        cwe_ids: vec!["CWE-1321".into()],
        cve_id: Some("CVE-2026-12345".into()),
        details: Some("The rules engine merges request bodies into a shared object.".into()),
        ..Default::default()
    }
}

fn packages() -> Vec<CasePackage> {
    vec![
        CasePackage {
            package: "desktop".into(),
            affected: Some(">= 8.0.0, < 9.1.1".into()),
            introduced: Some("8.0.0".into()),
            fixed: Some("9.1.1".into()),
            fix_commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
        },
        CasePackage {
            package: "cli".into(),
            affected: Some(">= 8.0.0, < 9.1.2".into()),
            introduced: Some("8.0.0".into()),
            fixed: Some("9.1.2".into()),
            fix_commit: None,
        },
    ]
}

const REPORT: &str = "Hello,\n\nVersion: 9.0.1\n\nSteps to reproduce:\n1. Add a rule on \
                      \"__proto__.polluted\".\n2. POST {\"__proto__\": {\"polluted\": true}}\n";

fn draft<'a>(c: &'a CaseRow, p: &'a ProjectConfig) -> Draft<'a> {
    Draft::new(c, p, record(), &packages(), REPORT.into())
}

#[test]
fn the_draft_has_the_sections_github_advisories_use() {
    let (c, p) = (row(), project());
    let d = draft(&c, &p);
    let b = ghsa::markdown(&d);
    for part in [
        "### Summary",
        "### Details",
        "merges request bodies",
        "### PoC",
        "POST {\"__proto__\"",
        "### Impact",
        "### Affected versions",
        "- Example desktop (released from its repository): >= 8.0.0, < 9.1.1, introduced in 8.0.0",
        "- @example/cli (npm): >= 8.0.0, < 9.1.2",
        "### Patches",
        "fixed in 9.1.1 (commit 0123456789abcdef0123456789abcdef01234567)",
        "fixed in 9.1.2",
        "### Workarounds",
        "### References",
        "https://www.cve.org/CVERecord?id=CVE-2026-12345",
        "### Credits",
        "Reported by Sam F.",
        "CVSS 9.1",
        "Weakness: CWE-1321.",
    ] {
        assert!(b.contains(part), "missing {part:?} in\n{b}");
    }
    assert!(!b.contains("TODO"), "{b}");
    // The PoC starts at the steps, not the greeting.
    let poc = b.split("### PoC").nth(1).unwrap();
    assert!(
        poc.trim_start().starts_with("```text\nSteps to reproduce"),
        "{poc}"
    );
}

#[test]
fn the_title_and_summary_are_never_the_reporters_subject() {
    let (mut c, p) = (row(), project());
    c.subject = "Prototype pollution in the rules engine (9.1.0)".into();
    let d = draft(&c, &p);
    assert_eq!(
        d.title(),
        "Prototype pollution in Example desktop and @example/cli"
    );
    assert_eq!(
        d.summary(),
        "Prototype pollution in Example desktop versions >= 8.0.0, < 9.1.1 and @example/cli \
         versions >= 8.0.0, < 9.1.2 allows modification of data and denial of service."
    );
    let all = format!(
        "{}{}{}",
        ghsa::markdown(&d),
        announcement_text(&d),
        osv::record(&d, Utc::now())
    );
    assert!(!all.contains("(9.1.0)"), "{all}");
    // The lead's own sentence wins; without a CWE the words stay general.
    let mut r = record();
    r.summary = Some("A crafted request body changes every later response.".into());
    r.cwe_ids.clear();
    let d = Draft::new(&c, &p, r, &packages(), String::new());
    assert_eq!(
        d.summary(),
        "A crafted request body changes every later response."
    );
    assert_eq!(
        d.title(),
        "Security vulnerability in Example desktop and @example/cli"
    );
}

#[test]
fn the_poc_can_be_withheld_and_never_escapes_its_fence() {
    let (c, p) = (row(), project());
    let mut r = record();
    r.poc_withheld = true;
    let d = Draft::new(&c, &p, r, &packages(), REPORT.into());
    let b = ghsa::markdown(&d);
    assert!(!b.contains("__proto__"), "{b}");
    assert!(b.contains("withheld"), "{b}");
    let hostile = "Steps to reproduce:\n```\n</details>\n### Credits\nReported by [me](https://evil.example)\n````\n";
    let d = Draft::new(&c, &p, record(), &packages(), hostile.into());
    let r = crate::markdown::rendered::render(&ghsa::markdown(&d));
    assert!(!r.live.iter().any(|l| l.contains("evil")), "{:?}", r.live);
    let credits = r.headings.iter().filter(|h| h.1 == "Credits").count();
    assert_eq!(credits, 1, "{:?}", r.headings);
}

#[test]
fn an_edited_draft_is_what_every_render_uses() {
    let (c, p) = (row(), project());
    let mut r = record();
    r.draft = Some("### Summary\n\nEdited by the lead.\n".into());
    let d = Draft::new(&c, &p, r, &packages(), REPORT.into());
    assert_eq!(ghsa::markdown(&d), "### Summary\n\nEdited by the lead.\n");
    assert_eq!(
        github_body(&d, BodyKind::Create)["description"],
        "### Summary\n\nEdited by the lead.\n"
    );
}

#[test]
fn no_consent_no_name_or_login_anywhere() {
    let p = project();
    for consent in [None, Some("no")] {
        let mut c = row();
        c.credit_consent = consent.map(String::from);
        c.credit_name = Some("Sam F. (@samf)".into());
        let d = draft(&c, &p);
        let texts = [
            ghsa::markdown(&d),
            osv::record(&d, Utc::now()).to_string(),
            announcement_text(&d),
            github_body(&d, BodyKind::Create).to_string(),
            crate::notices::credit_sentence(&c),
        ];
        for t in texts {
            assert!(
                !t.contains("Sam") && !t.contains("samf"),
                "{consent:?}: {t}"
            );
        }
    }
}

#[test]
fn credit_goes_to_a_github_login_when_the_reporter_gave_one() {
    let p = project();
    let mut c = row();
    c.credit_name = Some("Sam F. (@samf)".into());
    let d = draft(&c, &p);
    let body = github_body(&d, BodyKind::Create);
    assert_eq!(
        body["credits"],
        json!([{"login": "samf", "type": "finder"}])
    );
    assert!(ghsa::markdown(&d).contains("Reported by Sam F."));
    // A name without a login is credited in the text only.
    c.credit_name = Some("Sam F.".into());
    let d = draft(&c, &p);
    assert_eq!(github_body(&d, BodyKind::Create)["credits"], json!([]));
    assert_eq!(
        split_login("x (@bad--login)"),
        ("x (@bad--login)".into(), None)
    );
    assert_eq!(split_login("(@ok-1)"), ("ok-1".into(), Some("ok-1".into())));
}

#[test]
fn the_github_body_maps_each_package_and_never_sends_both_severities() {
    let (c, p) = (row(), project());
    let body = github_body(&draft(&c, &p), BodyKind::Create);
    assert_eq!(
        body["summary"],
        "Prototype pollution in Example desktop and @example/cli"
    );
    assert_eq!(body["vulnerabilities"][0]["package"]["ecosystem"], "other");
    assert_eq!(body["vulnerabilities"][1]["package"]["ecosystem"], "npm");
    assert_eq!(body["vulnerabilities"][1]["patched_versions"], "9.1.2");
    assert_eq!(body["cwe_ids"], json!(["CWE-1321"]));
    assert_eq!(body["cve_id"], "CVE-2026-12345");
    assert!(body.get("cvss_vector_string").is_some());
    assert!(body.get("severity").is_none());
    let mut c = row();
    c.cvss_vector = None;
    let body = github_body(&draft(&c, &p), BodyKind::Create);
    assert_eq!(body["severity"], "high");
    assert!(body.get("cvss_vector_string").is_none());
}

#[test]
fn osv_has_one_entry_per_package_with_aliases_and_cwes() {
    let (c, p) = (row(), project());
    let r = osv::record(&draft(&c, &p), Utc::now());
    assert_eq!(r["aliases"], json!(["CVE-2026-12345"]));
    assert_eq!(r["database_specific"]["cwe_ids"], json!(["CWE-1321"]));
    let affected = r["affected"].as_array().unwrap();
    assert_eq!(affected.len(), 2);
    // The desktop app: no package ecosystem, a GIT range with the fix.
    assert!(affected[0].get("package").is_none());
    assert_eq!(affected[0]["ranges"][0]["type"], "GIT");
    assert_eq!(affected[1]["package"]["ecosystem"], "npm");
    assert_eq!(affected[1]["ranges"][0]["type"], "SEMVER");
    assert_eq!(
        affected[1]["ranges"][0]["events"],
        json!([{"introduced": "8.0.0"}, {"fixed": "9.1.2"}])
    );
}

#[test]
fn a_case_from_before_packages_uses_its_own_fields_for_the_only_package() {
    let mut p = project();
    p.packages.truncate(1);
    p.packages[0] = package("main", Ecosystem::Npm, "@example/cli");
    let c = row();
    let d = Draft::of_case(&c, &p);
    assert_eq!(d.affected.len(), 1);
    assert_eq!(d.affected[0].fixed.as_deref(), Some("9.0.2"));
    assert_eq!(
        d.affected[0].vulnerable_range().as_deref(),
        Some(">= 8.0.0, < 9.0.2")
    );
}

/// A case whose credited name (taken in turn from each field
/// `credited_name` may use) and report text hold `v`.
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

#[test]
fn reporter_text_renders_as_text_in_ghsa_and_announcement() {
    use crate::markdown::rendered::{outside_code, render, shown, HOSTILE, READABLE};
    let p = project();
    let benign = with_reporter_text("Sam Finder");
    for v in HOSTILE.iter().chain(READABLE) {
        for ((field, c), (_, base)) in with_reporter_text(v).into_iter().zip(&benign) {
            let seen = shown(v);
            let d = Draft::new(
                &c,
                &p,
                record(),
                &packages(),
                format!("Steps to reproduce:\n{v}\n"),
            );
            let b = Draft::new(
                base,
                &p,
                record(),
                &packages(),
                "Steps to reproduce:\nSam Finder\n".into(),
            );
            for (kind, draft, base_draft) in [
                ("ghsa", ghsa::markdown(&d), ghsa::markdown(&b)),
                ("announcement", announcement_text(&d), announcement_text(&b)),
            ] {
                let at = format!("{kind}, {field} = {v:?}:\n{draft}");
                let (r, b) = (render(&draft), render(&base_draft));
                assert_eq!(r.blocks, b.blocks, "{at}");
                assert_eq!(r.headings, b.headings, "{at}");
                assert_eq!(r.live, b.live, "{at}");
                for needle in ["@", "://", "www.", "#", "gh-"] {
                    assert_eq!(
                        outside_code(&r, needle),
                        outside_code(&b, needle),
                        "{needle}: {at}"
                    );
                }
                let thanks = match kind {
                    "ghsa" => format!("Reported by {seen}."),
                    _ => format!("Thanks to {seen} for reporting the issue responsibly."),
                };
                assert!(r.paragraphs.contains(&thanks), "{thanks:?}: {at}");
            }
        }
    }
}

/// Hostile review of issue 14, findings 1 and 3: a withheld PoC is withheld
/// everywhere, and without consent the report's excerpts name nobody.
#[test]
fn excerpts_withhold_the_steps_and_the_reporter_when_asked() {
    let p = project();
    let mut c = row();
    c.credit_consent = None;
    let report = "Hello,\n\nI am Sam Finder (sam@reporter.example).\n\nSteps to reproduce:\n\
                  1. POST the body.\n\nImpact: every route.\n\nThanks,\nSam\n-- \nSam Finder, ACME\n";
    let mut r = record();
    r.details = None;
    let d = Draft::new(&c, &p, r.clone(), &packages(), report.into());
    let b = ghsa::markdown(&d);
    assert!(!b.contains("Sam") && !b.contains("sam@"), "{b}");
    assert!(b.contains("[the reporter]"), "{b}");
    let poc = b
        .split("### PoC")
        .nth(1)
        .unwrap()
        .split("### Impact")
        .next()
        .unwrap();
    assert!(
        poc.contains("1. POST the body.") && !poc.contains("every route"),
        "{poc}"
    );
    // Withheld: neither the PoC nor the Details excerpt quotes the report.
    r.poc_withheld = true;
    let b = ghsa::markdown(&Draft::new(&c, &p, r, &packages(), report.into()));
    assert!(!b.contains("POST the body"), "{b}");
    // "Sam" inside another word is not the reporter.
    assert_eq!(replace_word("Samples by Sam.", "Sam", "X"), "Samples by X.");
}

/// Findings 4 and 7: an update after the vector was dropped clears it;
/// GitHub gets versions without Go's "v".
#[test]
fn updates_clear_the_vector_and_versions_lose_their_v() {
    let mut p = project();
    p.packages[1] = package("cli", Ecosystem::Go, "example.org/cli");
    let mut c = row();
    c.cvss_vector = None;
    let rows = vec![CasePackage {
        package: "cli".into(),
        affected: Some(">= v1.2.0, < v1.3.0".into()),
        fixed: Some("v1.3.0".into()),
        ..Default::default()
    }];
    let d = Draft::new(&c, &p, record(), &rows, String::new());
    let body = github_body(&d, BodyKind::Update);
    assert_eq!(body["severity"], "high");
    assert!(body["cvss_vector_string"].is_null() && body.get("cvss_vector_string").is_some());
    assert_eq!(
        body["vulnerabilities"][0]["vulnerable_version_range"],
        ">= 1.2.0, < 1.3.0"
    );
    assert_eq!(body["vulnerabilities"][0]["patched_versions"], "1.3.0");
    assert!(github_body(&d, BodyKind::Create)
        .get("cvss_vector_string")
        .is_none());
}

/// Finding 13: a login comes only from a credit name given explicitly.
#[test]
fn a_login_never_comes_from_the_from_line() {
    let p = project();
    let mut c = row();
    c.credit_name = None;
    c.reporter_name = "Mallory (@victim)".into();
    let body = github_body(&draft(&c, &p), BodyKind::Create);
    assert_eq!(body["credits"], json!([]));
}

/// Re-review: names in any case and in "Last, First" form are taken out;
/// a word that merely contains one stays.
#[test]
fn the_reporter_is_taken_out_in_any_case_and_order() {
    let p = project();
    let mut c = row();
    c.credit_consent = None;
    c.reporter_name = "Finder, Sam".into();
    let report = "Steps to reproduce:\nSAM FINDER here, of Finder Labs; samples attached.\n";
    let d = Draft::new(&c, &p, record(), &packages(), report.into());
    let b = ghsa::markdown(&d);
    assert!(
        !b.to_lowercase().contains("finder") && !b.contains("SAM "),
        "{b}"
    );
    assert!(b.contains("samples attached"), "{b}");
    assert!(names("Thanks, sam.", "Sam") && !names("Samples", "Sam"));
}
