//! Tests of src/ecosystem.rs.

use super::*;
use serde_json::{json, Value};

use Ecosystem as E;

fn ok(eco: Ecosystem, v: &str) -> String {
    match check_version(eco, v) {
        Ok(c) => c,
        Err(e) => panic!("{eco} {v:?} rejected: {e}"),
    }
}

fn rejected(eco: Ecosystem, v: &str) -> String {
    match check_version(eco, v) {
        Ok(c) => panic!("{eco} {v:?} accepted as {c:?}"),
        Err(e) => {
            let msg = e.to_string();
            assert!(!msg.contains('\n'), "{msg}");
            msg
        }
    }
}

#[test]
fn ecosystem_names_round_trip() {
    for eco in Ecosystem::ALL {
        assert_eq!(eco.label().parse::<Ecosystem>().unwrap(), eco);
        assert_eq!(eco.to_string().parse::<Ecosystem>().unwrap(), eco);
    }
    assert_eq!("pypi".parse::<Ecosystem>().unwrap(), E::PyPI);
    assert_eq!(
        "github actions".parse::<Ecosystem>().unwrap(),
        E::GitHubActions
    );
    assert_eq!(" Crates.IO ".parse::<Ecosystem>().unwrap(), E::CratesIo);
    assert_eq!("NONE".parse::<Ecosystem>().unwrap(), E::None);
    assert_eq!(E::None.osv_name(), None);
    assert_eq!(E::GitHubActions.osv_name(), Some("GitHub Actions"));
    for bad in ["", "  ", "pip", "rust", "cargo", "npm\nx"] {
        let e = bad.parse::<Ecosystem>().unwrap_err();
        assert!(matches!(e, Error::Ecosystem(_)));
        let msg = e.to_string();
        assert!(
            msg.contains("crates.io") && msg.contains("GitHub Actions"),
            "{msg}"
        );
        assert!(!msg.contains('\n'), "{msg}");
    }
}

#[test]
fn github_names_are_in_githubs_enum() {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/schemas/github-advisory-create.json"),
    )
    .unwrap_or_else(|_| {
        std::fs::read_to_string("/work/shared/schemas/github-advisory-create.json")
            .unwrap_or_default()
    });
    let expected = [
        "npm", "pip", "rust", "go", "maven", "nuget", "rubygems", "composer", "erlang", "pub",
        "swift", "actions", "other",
    ];
    let got: Vec<_> = Ecosystem::ALL.iter().map(|e| e.github_name()).collect();
    assert_eq!(got, expected);
    if !text.is_empty() {
        for name in got {
            assert!(
                text.contains(&format!("\"{name}\"")),
                "{name} not in GitHub's enum"
            );
        }
    }
}

#[test]
fn semver_set() {
    let semver: Vec<_> = Ecosystem::ALL
        .into_iter()
        .filter(|e| e.is_semver())
        .collect();
    assert_eq!(
        semver,
        [E::Npm, E::CratesIo, E::Go, E::Hex, E::Pub, E::SwiftURL]
    );
}

#[test]
fn semver_versions() {
    assert_eq!(ok(E::Npm, "9.1.1"), "9.1.1");
    assert_eq!(ok(E::Npm, " 1.0.0-beta.1+build.5 "), "1.0.0-beta.1+build.5");
    assert_eq!(ok(E::CratesIo, "0.12.3"), "0.12.3");
    for eco in [E::Npm, E::CratesIo, E::Hex, E::Pub, E::SwiftURL] {
        rejected(eco, "v9.1.1");
        rejected(eco, "1.2");
        rejected(eco, "01.2.3");
    }
    let msg = rejected(E::Npm, "v9.1.1-desktop");
    assert!(msg.starts_with("not a npm version (SemVer"), "{msg}");
    assert!(msg.contains("\"v9.1.1-desktop\""), "{msg}");
    assert!(msg.contains("drop the leading \"v\""), "{msg}");
}

#[test]
fn go_versions_keep_their_v() {
    assert_eq!(ok(E::Go, "v1.2.3"), "v1.2.3");
    assert_eq!(ok(E::Go, "1.2.3"), "v1.2.3");
    assert_eq!(
        ok(E::Go, "v0.0.0-20191109021931-daa7c04131f5"),
        "v0.0.0-20191109021931-daa7c04131f5"
    );
    rejected(E::Go, "v1.2");
    rejected(E::Go, "vv1.2.3");
}

#[test]
fn pypi_versions_are_normalised() {
    assert_eq!(ok(E::PyPI, "1.0.post1"), "1.0.post1");
    assert_eq!(ok(E::PyPI, "1.0-beta"), "1.0b0");
    assert_eq!(ok(E::PyPI, "1.0RC1"), "1.0rc1");
    assert_eq!(ok(E::PyPI, "2024.1"), "2024.1");
    assert_eq!(ok(E::PyPI, "v1.0"), "1.0");
    let msg = rejected(E::PyPI, "1.2.3-beta!");
    assert!(msg.starts_with("not a PyPI version (PEP 440"), "{msg}");
    rejected(E::PyPI, "1.*");
}

#[test]
fn dotted_versions() {
    assert_eq!(ok(E::Maven, "1.2.3-SNAPSHOT"), "1.2.3-SNAPSHOT");
    assert_eq!(ok(E::Maven, "2.17.1"), "2.17.1");
    assert_eq!(ok(E::NuGet, "6.0.0-preview.1+meta"), "6.0.0-preview.1+meta");
    assert_eq!(ok(E::RubyGems, "7.0.8.1"), "7.0.8.1");
    assert_eq!(ok(E::RubyGems, "1.0.0.rc1"), "1.0.0.rc1");
    assert_eq!(ok(E::Packagist, "10.4.2"), "10.4.2");
    assert_eq!(ok(E::None, "v2.4.0"), "v2.4.0");
    assert_eq!(ok(E::None, "2.4.0~rc1"), "2.4.0~rc1");
    assert_eq!(ok(E::GitHubActions, "v4.1.0"), "v4.1.0");
    rejected(E::Maven, "v1.2.3");
    rejected(E::Packagist, "v1.2.3");
    for bad in [
        "", "abc", "1..2", "1.2.", "1.2-", "1.2_3", "1.2/3", "1.2.3!", "é1",
    ] {
        rejected(E::Maven, bad);
        rejected(E::None, bad);
    }
    let long = "1".repeat(65);
    assert!(rejected(E::NuGet, &long).contains("longer than 64"));
    ok(E::NuGet, &"1".repeat(64));
    assert!(rejected(E::None, "1.0\u{7}").contains("\\u{7}"));
}

#[test]
fn nonsense_is_rejected_everywhere() {
    for eco in Ecosystem::ALL {
        for bad in ["commit abc123", "", "   ", "1.2.3 4", "latest", ">=1.0.0"] {
            rejected(eco, bad);
        }
        assert!(rejected(eco, &"x".repeat(10_000)).chars().count() < 400);
    }
}

#[test]
fn dotted_order() {
    use Ordering::*;
    assert_eq!(dotted_cmp("1.2.10", "1.2.9"), Greater);
    assert_eq!(dotted_cmp("1.0", "1.0.0"), Equal);
    assert_eq!(dotted_cmp("1.0-rc1", "1.0"), Less);
    assert_eq!(dotted_cmp("1.0", "1.0+build"), Equal.then("".cmp("+build")));
    assert_eq!(dotted_cmp("1.0-alpha", "1.0-beta"), Less);
    assert_eq!(dotted_cmp("v2.0", "1.9"), Greater);
    assert_eq!(dotted_cmp("007.1", "7.1"), Equal);
    assert_eq!(dotted_cmp(&"9".repeat(40), &"9".repeat(39)), Greater);
    assert_eq!(split_numeric("1.2.a"), ("1.2", ".a"));
    assert_eq!(split_numeric("1.2.3-x"), ("1.2.3", "-x"));
}

fn range(eco: Ecosystem, text: &str) -> AffectedRange {
    match parse_affected(eco, text) {
        Ok(r) => r,
        Err(e) => panic!("{text:?} rejected: {e}"),
    }
}

fn range_err(eco: Ecosystem, text: &str) -> String {
    match parse_affected(eco, text) {
        Ok(r) => panic!("{text:?} accepted as {r:?}"),
        Err(e) => {
            let msg = e.to_string();
            assert!(!msg.contains('\n'), "{msg}");
            msg
        }
    }
}

#[test]
fn ranges_normalise_to_githubs_form() {
    for text in [
        ">=8.0.0 <9.1.1",
        ">= 8.0.0, < 9.1.1",
        ">=8.0.0,<9.1.1",
        "  >= 8.0.0 ,, <9.1.1 ",
    ] {
        assert_eq!(range(E::Npm, text).github(), ">= 8.0.0, < 9.1.1", "{text}");
    }
    assert_eq!(range(E::Npm, "<9.1.1").github(), "< 9.1.1");
    assert_eq!(range(E::Npm, "<=9.1.0").github(), "<= 9.1.0");
    assert_eq!(range(E::Npm, "=9.0.0").github(), "= 9.0.0");
    assert_eq!(range(E::Npm, "> 1.0.0").github(), "> 1.0.0");
    assert_eq!(range(E::PyPI, "== 1.0-beta").github(), "= 1.0b0");
    assert_eq!(
        range(E::Go, ">=v1.2.0 <v1.2.3").github(),
        ">= v1.2.0, < v1.2.3"
    );
    let r = range(E::Maven, "<9.1.1, >=8.0.0");
    assert_eq!(
        r,
        AffectedRange {
            lower: Some(Bound {
                version: "8.0.0".into(),
                inclusive: true
            }),
            upper: Some(Bound {
                version: "9.1.1".into(),
                inclusive: false
            }),
            exact: None,
        }
    );
    assert_eq!(AffectedRange::default().github(), "");
}

#[test]
fn ranges_order_by_ecosystem() {
    range(E::Npm, ">=1.0.0-beta <1.0.0");
    range(E::PyPI, ">=1.0a1 <1.0");
    range(E::PyPI, ">=1.0 <1.0.post1");
    range(E::Maven, ">=1.9 <1.10");
    range(E::Maven, ">=2.0-rc1 <2.0");
    range(E::None, ">=v1.9.0 <v1.10.0");
    range_err(E::Npm, ">=1.0.0 <1.0.0-beta");
    range_err(E::PyPI, ">=1.0 <1.0.0");
    range_err(E::Maven, ">=1.10 <1.9");
}

#[test]
fn bad_ranges() {
    assert!(range_err(E::Npm, "bogus range").contains("\"bogus\" has no comparator"));
    assert!(range_err(E::Npm, ">=9.1.1 <8.0.0").contains("not below"));
    assert!(range_err(E::Npm, ">=9.1.1 <9.1.1").contains("not below"));
    assert!(range_err(E::Npm, ">=1.0.0 >2.0.0").contains("more than one lower"));
    assert!(range_err(E::Npm, "<1.0.0 <=2.0.0").contains("more than one upper"));
    assert!(range_err(E::Npm, "=1.0.0 <2.0.0").contains("takes no other bound"));
    assert!(range_err(E::Npm, "=1.0.0 =1.0.1").contains("more than one"));
    assert!(range_err(E::Npm, ">= <2.0.0").contains("no version before \"<2.0.0\""));
    assert!(range_err(E::Npm, "<2.0.0 >=").contains("ends with a comparator"));
    assert!(range_err(E::Npm, "").contains("empty"));
    assert!(range_err(E::Npm, " , ").contains("empty"));
    for text in ["^1.2.3", "~1.2.3", "!=1.0.0", "1.0.0 - 2.0.0", "*"] {
        range_err(E::Npm, text);
    }
    let long = format!(">={}", "1".repeat(300));
    assert!(range_err(E::Npm, &long).contains("longer than 256"));
    // a bad version inside a range names the version
    let e = parse_affected(E::Npm, ">=v8.0.0 <9.1.1").unwrap_err();
    assert!(
        matches!(
            e,
            Error::Version {
                ecosystem: "npm",
                ..
            }
        ),
        "{e}"
    );
    assert!(parse_affected(E::PyPI, "<1.0.0 >=commit").is_err());
}

#[test]
fn cwe_ids() {
    assert_eq!(check_cwe("CWE-79").unwrap(), "CWE-79");
    assert_eq!(check_cwe(" cwe-79 ").unwrap(), "CWE-79");
    assert_eq!(check_cwe("Cwe-99999").unwrap(), "CWE-99999");
    for bad in [
        "79",
        "CWE-",
        "CWE-0",
        "CWE-079",
        "CWE-100000",
        "CWE 79",
        "CWE-7a",
        "CWE-+79",
        "ÇWE-79",
    ] {
        let e = check_cwe(bad).unwrap_err();
        assert!(e.to_string().starts_with("not a CWE id"), "{bad}: {e}");
    }
}

#[test]
fn cve_ids() {
    assert_eq!(check_cve("cve-2024-12345").unwrap(), "CVE-2024-12345");
    assert_eq!(check_cve("CVE-1999-0001").unwrap(), "CVE-1999-0001");
    assert_eq!(
        check_cve("CVE-2100-1234567890123456789").unwrap(),
        "CVE-2100-1234567890123456789"
    );
    for bad in [
        "CVE-1998-1234",
        "CVE-2101-1234",
        "CVE-2024-123",
        "CVE-2024-01234",
        "CVE-2024-12345678901234567890",
        "CVE-24-1234",
        "CVE-+024-1234",
        "CVE-2024-1234-5",
        "GHSA-xxxx-xxxx-xxxx",
        "CVE2024-1234",
        "",
    ] {
        let e = check_cve(bad).unwrap_err();
        assert!(e.to_string().starts_with("not a CVE id"), "{bad}: {e}");
    }
}

#[test]
fn commit_ids() {
    let sha1 = "0123456789abcdef0123456789abcdef01234567";
    assert_eq!(check_commit(sha1).unwrap(), sha1);
    assert_eq!(check_commit(&sha1.to_uppercase()).unwrap(), sha1);
    let sha256 = "a".repeat(64);
    assert_eq!(check_commit(&sha256).unwrap(), sha256);
    for bad in [
        "abc123",
        &sha1[..39],
        &format!("{sha1}0"),
        &"g".repeat(40),
        "commit abc123",
    ] {
        let e = check_commit(bad).unwrap_err();
        assert!(
            e.to_string().starts_with("not a full git commit id"),
            "{bad}: {e}"
        );
    }
}

const REPO: &str = "https://github.com/example/example";
const SHA: &str = "0123456789ABCDEF0123456789abcdef01234567";

fn validator() -> jsonschema::Validator {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/osv-schema.json");
    let text = std::fs::read_to_string(path).unwrap();
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap()
}

/// Wraps `ranges` in a minimal OSV record and checks it against the schema.
fn assert_valid_osv(eco: Ecosystem, ranges: &Value) {
    let mut affected = json!({ "ranges": ranges });
    if let Some(name) = eco.osv_name() {
        affected["package"] = json!({ "ecosystem": name, "name": "example" });
    }
    let record = json!({
        "schema_version": "1.6.0",
        "id": "x_SEC-2026-0001",
        "modified": "2026-01-01T00:00:00Z",
        "affected": [affected],
    });
    let errors: Vec<String> = validator()
        .iter_errors(&record)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\n{record:#}");
}

#[test]
fn osv_semver_ranges() {
    let r = range(E::Npm, ">=8.0.0 <9.1.1");
    let v = osv_ranges(E::Npm, Some(&r), None, None, None, None);
    assert_eq!(
        v,
        json!([{"type": "SEMVER", "events": [{"introduced": "8.0.0"}, {"fixed": "9.1.1"}]}])
    );
    assert_valid_osv(E::Npm, &v);

    let r = range(E::Go, ">= v1.2.0, < v1.2.3");
    let v = osv_ranges(E::Go, Some(&r), None, None, Some(REPO), Some(SHA));
    assert_eq!(
        v,
        json!([
            {"type": "SEMVER", "events": [{"introduced": "1.2.0"}, {"fixed": "1.2.3"}]},
            {"type": "GIT", "repo": REPO,
             "events": [{"introduced": "0"}, {"fixed": SHA.to_lowercase()}]},
        ])
    );
    assert_valid_osv(E::Go, &v);

    // explicit values win; Go's v goes
    let v = osv_ranges(E::Go, Some(&r), Some("v1.1.0"), Some("v1.2.4"), None, None);
    assert_eq!(
        v[0]["events"],
        json!([{"introduced": "1.1.0"}, {"fixed": "1.2.4"}])
    );
}

#[test]
fn osv_ecosystem_ranges_and_last_affected() {
    let r = range(E::PyPI, "<=1.0-beta");
    let v = osv_ranges(E::PyPI, Some(&r), None, None, None, None);
    assert_eq!(
        v,
        json!([{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"last_affected": "1.0b0"}]}])
    );
    assert_valid_osv(E::PyPI, &v);

    // an exclusive lower bound does not become introduced
    let r = range(E::Maven, "> 2.0, <= 2.5");
    let v = osv_ranges(E::Maven, Some(&r), None, None, None, None);
    assert_eq!(
        v[0]["events"],
        json!([{"introduced": "0"}, {"last_affected": "2.5"}])
    );
    assert_valid_osv(E::Maven, &v);

    // a given fix replaces last_affected (OSV allows only one of them)
    let v = osv_ranges(E::Maven, Some(&r), None, Some("2.6"), None, None);
    assert_eq!(
        v[0]["events"],
        json!([{"introduced": "0"}, {"fixed": "2.6"}])
    );
    assert_valid_osv(E::Maven, &v);

    // one exact version
    let r = range(E::RubyGems, "= 7.0.8");
    let v = osv_ranges(E::RubyGems, Some(&r), None, None, None, None);
    assert_eq!(
        v[0]["events"],
        json!([{"introduced": "7.0.8"}, {"last_affected": "7.0.8"}])
    );
    assert_valid_osv(E::RubyGems, &v);

    // nothing known: introduced 0 alone; blank inputs count as absent
    let v = osv_ranges(E::GitHubActions, None, Some(" "), Some(""), None, None);
    assert_eq!(
        v,
        json!([{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}])
    );
    assert_valid_osv(E::GitHubActions, &v);
}

#[test]
fn osv_without_ecosystem_is_git_only() {
    let r = range(E::None, ">= v2.0.0, < v2.4.1");
    let v = osv_ranges(
        E::None,
        Some(&r),
        Some("v2.0.0"),
        Some("v2.4.1"),
        Some(REPO),
        Some(SHA),
    );
    assert_eq!(
        v,
        json!([{"type": "GIT", "repo": REPO,
                "events": [{"introduced": "0"}, {"fixed": SHA.to_lowercase()}]}])
    );
    assert_valid_osv(E::None, &v);

    let empty = json!([]);
    assert_eq!(osv_ranges(E::None, Some(&r), None, None, None, None), empty);
    assert_eq!(
        osv_ranges(E::None, None, None, None, Some(REPO), None),
        empty
    );
    // no GIT range from a bad commit or a non-https repository
    assert_eq!(
        osv_ranges(E::None, None, None, None, Some(REPO), Some("abc123")),
        empty
    );
    for repo in [
        "http://github.com/x/y",
        "git@github.com:x/y.git",
        "https://",
        "https://a b",
    ] {
        assert_eq!(
            osv_ranges(E::None, None, None, None, Some(repo), Some(SHA)),
            empty
        );
    }
    assert_valid_osv(E::None, &empty);
}
