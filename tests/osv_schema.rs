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
