//! The OSV output validated against the OSV JSON schema (draft 2020-12,
//! ossf/osv-schema validation/schema.json, kept in tests/data).

use chrono::Utc;
use secdesk::advisory::{osv, sample_case};
use secdesk::config::ProjectConfig;

fn validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/osv-schema.json"),
    )
    .unwrap();
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

fn project(package: bool) -> ProjectConfig {
    ProjectConfig {
        name: "Example".into(),
        security_address: "security@example.org".into(),
        case_prefix: "SEC".into(),
        policy_url: "https://example.org/SECURITY.md".into(),
        advisory_ecosystem: package.then(|| "npm".into()),
        advisory_package: package.then(|| "@example/cli".into()),
        repository_url: Some("https://github.com/example/example".into()),
        relay_list_ids: Vec::new(),
        packages: Vec::new(),
    }
}

fn assert_valid(v: &serde_json::Value) {
    let errors: Vec<String> = validator().iter_errors(v).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:#?}\n{v:#}");
}

#[test]
fn a_disclosed_case_is_a_valid_osv_record() {
    assert_valid(&osv(&sample_case(), &project(true), Utc::now()));
}

#[test]
fn a_sparse_case_is_still_valid() {
    let mut c = sample_case();
    c.advisory = Some("https://example.org/advisories/1".into());
    c.cvss_vector = None;
    c.introduced_in = None;
    c.fixed_version = None;
    c.fix_ref = None;
    c.credit_consent = None;
    c.disclosed_at = None;
    let v = osv(&c, &project(false), Utc::now());
    assert_eq!(v["id"], "x_SEC-2026-0001");
    assert!(v.get("credits").is_none());
    assert_valid(&v);
}

#[test]
fn the_schema_catches_a_broken_record() {
    let mut v = osv(&sample_case(), &project(true), Utc::now());
    v["severity"][0]["score"] = serde_json::json!("CVSS:9/NOPE");
    assert!(!validator().is_valid(&v));
}

/// Issue 14: one `affected` entry per package, ranges typed for each
/// ecosystem (SEMVER, ECOSYSTEM, GIT for an app with its fix commit), CVE
/// aliases and CWEs — every combination a valid record.
#[test]
fn records_per_package_and_ecosystem_are_valid() {
    use secdesk::advisory::{osv_record, Draft};
    use secdesk::config::PackageConfig;
    use secdesk::ecosystem::Ecosystem;
    use secdesk::store::advisories::{AdvisoryRecord, CasePackage};
    let mut p = project(false);
    let pkg = |id: &str, ecosystem, name: &str| PackageConfig {
        id: id.into(),
        ecosystem,
        name: name.into(),
        repository: Some("https://github.com/example/example".into()),
    };
    p.packages = vec![
        pkg("app", Ecosystem::None, "Example desktop"),
        pkg("npm", Ecosystem::Npm, "@example/cli"),
        pkg("go", Ecosystem::Go, "example.org/lib"),
        pkg("py", Ecosystem::PyPI, "example"),
        pkg("mvn", Ecosystem::Maven, "org.example:lib"),
    ];
    let commit = "0123456789abcdef0123456789abcdef01234567";
    let rows = vec![
        CasePackage {
            package: "app".into(),
            affected: Some(">= 8.0.0, < 9.0.2".into()),
            introduced: Some("8.0.0".into()),
            fixed: Some("9.0.2".into()),
            fix_commit: Some(commit.into()),
        },
        CasePackage {
            package: "npm".into(),
            affected: Some(">= 8.1.0, < 9.0.3".into()),
            introduced: Some("8.1.0".into()),
            fixed: Some("9.0.3".into()),
            fix_commit: None,
        },
        CasePackage {
            package: "go".into(),
            affected: Some("< v1.3.0".into()),
            fixed: Some("v1.3.0".into()),
            ..Default::default()
        },
        CasePackage {
            package: "py".into(),
            affected: Some("<= 1.0b1".into()),
            ..Default::default()
        },
        CasePackage {
            package: "mvn".into(),
            introduced: Some("2.0".into()),
            ..Default::default()
        },
    ];
    let record = AdvisoryRecord {
        cwe_ids: vec!["CWE-79".into(), "CWE-1321".into()],
        cve_id: Some("CVE-2026-41234".into()),
        ..Default::default()
    };
    let c = sample_case();
    let d = Draft::new(&c, &p, record, &rows, "Steps to reproduce:\n1. x\n".into());
    let v = osv_record(&d, Utc::now());
    assert_valid(&v);
    let affected = v["affected"].as_array().unwrap();
    assert_eq!(affected.len(), 5, "{v:#}");
    let types: Vec<&str> = affected
        .iter()
        .map(|a| a["ranges"][0]["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["GIT", "SEMVER", "SEMVER", "ECOSYSTEM", "ECOSYSTEM"]);
    assert_eq!(v["aliases"][0], "CVE-2026-41234");
    // A case with nothing analysed yet is valid too.
    let bare = Draft::new(&c, &p, AdvisoryRecord::default(), &[], String::new());
    assert_valid(&osv_record(&bare, Utc::now()));
}
