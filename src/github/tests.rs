//! The forms GitHub's API takes, checked before anything is sent.

use super::*;

#[test]
fn repository_forms() {
    for (text, ok) in [
        ("example/example", true),
        ("Example-Org/some.repo_name-2", true),
        ("octo-org/.github", true),
        ("emu_short/repo", true),
        ("a/b", true),
        ("example", false),
        ("/example", false),
        ("example/", false),
        ("-example/repo", false),
        ("example/.", false),
        ("example/..", false),
        ("example/repo/extra", false),
        ("example/re po", false),
        ("example/repo?x=1", false),
        ("example/repo#x", false),
        ("exa%2Fmple/repo", false),
        ("example/rëpo", false),
        ("../repo", false),
    ] {
        assert_eq!(check_repository(text).is_ok(), ok, "{text:?}");
    }
    let long_owner = format!("{}/r", "o".repeat(40));
    assert!(check_repository(&long_owner).is_err());
    let long_name = format!("o/{}", "r".repeat(101));
    assert!(check_repository(&long_name).is_err());
}

#[test]
fn ghsa_forms() {
    for (text, ok) in [
        ("GHSA-abcd-1234-wxyz", true),
        ("GHSA-2345-6789-cfgh", true),
        ("GHSA-ABCD-1234-wxyz", false),
        ("ghsa-abcd-1234-wxyz", false),
        ("GHSA-abcd-1234", false),
        ("GHSA-abcd-1234-wxyz-0000", false),
        ("GHSA-abc-12345-wxyz", false),
        ("GHSA-abcd-1234-wxy/", false),
        ("GHSA-abcd-1234-wx.z", false),
        ("GHSA-../../../x", false),
        ("CVE-2026-1234", false),
        ("", false),
    ] {
        assert_eq!(check_ghsa_id(text).is_ok(), ok, "{text:?}");
    }
}

#[test]
fn api_url_forms() {
    for (text, ok) in [
        ("https://api.github.com", true),
        ("https://api.github.com/", true),
        ("https://ghe.example.org/api/v3", true),
        ("http://127.0.0.1:8080", true),
        ("http://localhost:8080", true),
        ("http://LOCALHOST", true),
        ("http://[::1]:8080", true),
        ("http://api.github.com", false),
        ("http://127.0.0.1.nip.io", false),
        ("http://localhost.example.org", false),
        ("http://[::ffff:8.8.8.8]", false),
        ("http://10.0.0.1", false),
        ("ftp://api.github.com", false),
        ("https://user:pw@api.github.com", false),
        ("https://api.github.com/?x=1", false),
        ("https://api.github.com/#x", false),
        ("api.github.com", false),
        ("", false),
    ] {
        assert_eq!(check_api_url(text).is_ok(), ok, "{text:?}");
    }
}

#[test]
fn severity_and_vector_are_one_or_the_other() {
    use serde_json::json;
    assert!(check_body(&json!({"severity": "high"})).is_ok());
    assert!(check_body(&json!({"cvss_vector_string": "CVSS:3.1/AV:N"})).is_ok());
    assert!(check_body(&json!({"severity": null, "cvss_vector_string": "x"})).is_ok());
    assert!(check_body(&json!({"severity": "high", "cvss_vector_string": "x"})).is_err());
    assert!(check_body(&json!(["not", "an", "object"])).is_err());
}

#[test]
fn settings_debug_hides_the_token() {
    let s = GithubSettings {
        api_url: DEFAULT_API_URL.into(),
        repository: "o/r".into(),
        token: "github_pat_SECRET".into(),
        timeout: Duration::from_secs(5),
    };
    assert!(!format!("{s:?}").contains("SECRET"));
    let c = Client::new(s).unwrap();
    assert!(!format!("{c:?}").contains("SECRET"));
}
