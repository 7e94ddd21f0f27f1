//! The advisory from the lead's side, on the real binary (issue 14): every
//! value checked for its kind with a one-line error, the draft edited in
//! `$EDITOR` and kept, and filing on a (local) GitHub that refuses as
//! GitHub does — the errors name what to fix and never the token.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use support::github::FakeGithub;

const TOKEN: &str = "ghp_s3cr3tT0ken";

struct Env {
    dir: tempfile::TempDir,
    config: std::path::PathBuf,
}

fn env(github: Option<&FakeGithub>) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("secdesk.toml");
    let token = dir.path().join("token");
    std::fs::write(&token, format!("{TOKEN}\n")).unwrap();
    let gh = github
        .map(|g| {
            format!(
                "[github]\nrepository = \"example/app\"\ntoken_file = \"{}\"\napi_url = \"{}\"\ntimeout = \"5s\"\n",
                token.display(),
                g.url
            )
        })
        .unwrap_or_default();
    std::fs::write(
        &config,
        format!(
            r#"
[project]
name = "Example"
security_address = "security@example.org"
repository_url = "https://github.com/example/app"
[[project.packages]]
id = "desktop"
ecosystem = "none"
name = "Example desktop"
[[project.packages]]
id = "cli"
ecosystem = "npm"
name = "@example/cli"
[[project.packages]]
id = "py"
ecosystem = "PyPI"
name = "example"
[store]
path = "cases.db"
data_dir = "data"
{gh}"#
        ),
    )
    .unwrap();
    Env { dir, config }
}

fn run(e: &Env, args: &[&str], editor: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_secdesk"));
    cmd.arg("--config").arg(&e.config).args(args);
    if let Some(ed) = editor {
        cmd.env("EDITOR", ed);
    }
    cmd.output().unwrap()
}

fn ok(e: &Env, args: &[&str]) -> String {
    let o = run(e, args, None);
    assert!(
        o.status.success(),
        "secdesk {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// Fails with exit 2 (a usage error) and one line naming `needle`.
fn refused(e: &Env, args: &[&str], needle: &str) {
    let o = run(e, args, None);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(2), "secdesk {args:?}: {err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains(needle), "{needle:?} in {err}");
}

/// `advisory ID --edit` with an "editor" that runs `command` on the file.
fn edit_with(e: &Env, id: &str, command: &str) -> Output {
    let script = e.dir.path().join("edit.sh");
    std::fs::write(&script, format!("#!/bin/sh\n{command}\n")).unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    run(
        e,
        &["advisory", id, "--edit"],
        Some(&script.display().to_string()),
    )
}

/// A filed report, triaged for the desktop app and the CLI.
fn case(e: &Env) -> String {
    let report = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/01-report-complete.eml");
    let out = ok(e, &["ingest", &report.display().to_string(), "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let id = v["case"].as_str().unwrap().to_string();
    ok(
        e,
        &[
            "triage",
            &id,
            "--severity",
            "high",
            "--impact",
            "c=none,i=high,a=high",
            "--package",
            "desktop,cli",
            "--cwe",
            "CWE-1321",
        ],
    );
    id
}

#[test]
fn every_value_is_checked_for_its_kind() {
    let e = env(None);
    let id = case(&e);
    refused(
        &e,
        &["triage", &id, "--package", "server"],
        "desktop, cli, py",
    );
    refused(&e, &["triage", &id, "--cwe", "XSS"], "--cwe");
    refused(
        &e,
        &[
            "analyze",
            &id,
            "--package",
            "cli",
            "--affected",
            "bogus range",
        ],
        "--affected",
    );
    refused(
        &e,
        &[
            "analyze",
            &id,
            "--package",
            "cli",
            "--introduced",
            "commit abc123",
        ],
        "--introduced",
    );
    refused(
        &e,
        &[
            "analyze",
            &id,
            "--package",
            "cli",
            "--affected",
            ">=9.0.0 <8.0.0",
        ],
        "--affected",
    );
    refused(
        &e,
        &["analyze", &id, "--package", "py", "--fixed", "1.0"],
        "triage",
    );
    ok(&e, &["triage", &id, "--package", "desktop,cli,py"]);
    refused(
        &e,
        &["analyze", &id, "--package", "py", "--fixed", "1.0-beta!"],
        "PEP 440",
    );
    refused(
        &e,
        &["analyze", &id, "--package", "cli", "--fix-commit", "abc123"],
        "--fix-commit",
    );
    refused(
        &e,
        &["analyze", &id, "--affected", ">=8.0.0 <9.1.1"],
        "--package",
    );
    refused(&e, &["cve", &id, "CVE-26-1"], "CVE");
    refused(
        &e,
        &["advisory", &id, "--publish", "github"],
        "[github] is not configured",
    );
    // Nothing of the refused values reached the case.
    let osv = ok(&e, &["advisory", &id, "--format", "osv"]);
    assert!(!osv.contains("abc123") && !osv.contains("bogus"), "{osv}");
    // Valid ones are stored in the ecosystem's own form.
    ok(
        &e,
        &["analyze", &id, "--package", "py", "--fixed", "1.0-beta"],
    );
    ok(
        &e,
        &[
            "analyze",
            &id,
            "--package",
            "cli",
            "--affected",
            ">=8.0.0 <9.1.1",
        ],
    );
    let shown = ok(&e, &["advisory", &id, "--format", "github"]);
    let body: serde_json::Value = serde_json::from_str(&shown).unwrap();
    let py = body["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["package"]["ecosystem"] == "pip")
        .unwrap();
    assert_eq!(py["patched_versions"], "1.0b0");
    assert_eq!(
        body["vulnerabilities"][1]["vulnerable_version_range"],
        ">= 8.0.0, < 9.1.1"
    );
}

#[test]
fn an_edited_draft_is_kept_and_used_from_then_on() {
    let e = env(None);
    let id = case(&e);
    let before = ok(&e, &["advisory", &id]);
    assert!(
        before.contains("### Summary") && before.contains("### PoC"),
        "{before}"
    );
    // The "editor" rewrites the Details section's placeholder.
    let o = edit_with(
        &e,
        &id,
        "sed -i 's/^(TODO: the root cause.*$/The parser trusts __proto__./' \"$1\"",
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let after = ok(&e, &["advisory", &id]);
    assert!(after.contains("The parser trusts __proto__."), "{after}");
    assert!(!after.contains("TODO: the root cause"), "{after}");
    // An editor that fails leaves the draft as it was.
    let o = run(&e, &["advisory", &id, "--edit"], Some("false"));
    assert!(!o.status.success());
    assert_eq!(ok(&e, &["advisory", &id]), after);
    // The trail says who changed it.
    let shown: serde_json::Value = serde_json::from_str(&ok(&e, &["show", &id, "--json"])).unwrap();
    assert!(shown["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|ev| ev["kind"] == "advisory_changed"
            && ev["detail"].as_str().unwrap_or("").contains("draft edited")));
    // An edited draft is published as written: --no-poc cannot withhold
    // what it quotes, and says so; dropping the edit makes it work.
    refused(&e, &["advisory", &id, "--no-poc"], "--reset-draft");
    ok(&e, &["advisory", &id, "--reset-draft"]);
    ok(&e, &["advisory", &id, "--no-poc"]);
    let github: serde_json::Value =
        serde_json::from_str(&ok(&e, &["advisory", &id, "--format", "github"])).unwrap();
    let description = github["description"].as_str().unwrap();
    assert!(!description.contains("__proto__"), "{description}");
    assert!(description.contains("withheld"), "{description}");
}

/// Hostile review: versions tell one story per package, a package must be
/// one the case names, and nothing is written when anything is refused.
#[test]
fn versions_agree_with_each_other_and_refusals_write_nothing() {
    let e = env(None);
    let id = case(&e);
    ok(
        &e,
        &["analyze", &id, "--package", "cli", "--introduced", "10.0.0"],
    );
    refused(
        &e,
        &["released", &id, "--package", "cli", "--version", "1.0.0"],
        "not before fixed",
    );
    refused(
        &e,
        &[
            "analyze",
            &id,
            "--package",
            "cli",
            "--affected",
            ">=8.0.0 <9.0.0",
        ],
        "introduced is 10.0.0",
    );
    refused(
        &e,
        &[
            "analyze",
            &id,
            "--package",
            "desktop",
            "--affected",
            "> 8.0.0, < 9.0.0",
        ],
        "--introduced",
    );
    refused(
        &e,
        &["analyze", &id, "--package", "py", "--fixed", "1.0"],
        "triage",
    );
    // A refused summary leaves the valid range unwritten too.
    refused(
        &e,
        &[
            "analyze",
            &id,
            "--package",
            "desktop",
            "--affected",
            ">=8.0.0 <9.0.0",
            "--summary",
            "",
        ],
        "--summary",
    );
    let osv = ok(&e, &["advisory", &id, "--format", "osv"]);
    assert!(!osv.contains("8.0.0"), "{osv}");
    // A fix is recorded only for an accepted case; the last package's
    // releases the case, which is refused before it is being fixed — and
    // then the version is not recorded either.
    refused(
        &e,
        &[
            "released",
            &id,
            "--package",
            "desktop",
            "--version",
            "9.0.0",
        ],
        "once it is accepted",
    );
    ok(&e, &["accept", &id]);
    ok(
        &e,
        &[
            "released",
            &id,
            "--package",
            "desktop",
            "--version",
            "9.0.0",
        ],
    );
    let o = run(
        &e,
        &["released", &id, "--package", "cli", "--version", "10.1.0"],
        None,
    );
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let osv = ok(&e, &["advisory", &id, "--format", "osv"]);
    assert!(osv.contains("9.0.0") && !osv.contains("10.1.0"), "{osv}");
    // The range agrees with where it came in.
    refused(
        &e,
        &["analyze", &id, "--package", "cli", "--affected", "< 2.0.0"],
        "outside the range",
    );
}

/// A withdrawn credit leaves GitHub with the next update, and an edited
/// draft that names a reporter who has not consented is not sent.
#[test]
fn a_withdrawn_credit_leaves_github() {
    let gh = FakeGithub::start("example/app", TOKEN);
    let e = env(Some(&gh));
    let id = case(&e);
    ok(
        &e,
        &[
            "credit",
            &id,
            "--consent",
            "yes",
            "--name",
            "Sam Finder (@samf)",
        ],
    );
    ok(&e, &["advisory", &id, "--publish", "github"]);
    assert_eq!(gh.advisories()[0]["credits"][0]["login"], "samf");
    ok(&e, &["credit", &id, "--consent", "no"]);
    ok(&e, &["advisory", &id, "--publish", "github"]);
    let stored = &gh.advisories()[0];
    assert!(
        stored["credits"].as_array().is_none_or(|c| c.is_empty()),
        "{stored}"
    );
    assert!(
        !stored["description"].as_str().unwrap().contains("Sam"),
        "{stored}"
    );
    // An edit that names the reporter anyway stays home.
    let o = edit_with(&e, &id, "echo 'Thanks to Sam Finder.' >> \"$1\"");
    assert!(o.status.success());
    let o = run(&e, &["advisory", &id, "--publish", "github"], None);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("not consented"), "{err}");
}

#[test]
fn githubs_refusals_name_the_fix_and_never_the_token() {
    let gh = FakeGithub::start("example/app", "a-different-token");
    let e = env(Some(&gh));
    let id = case(&e);
    let o = run(&e, &["advisory", &id, "--publish", "github"], None);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(!o.status.success());
    assert!(err.contains("github.token_file"), "{err}");
    assert!(!err.contains(TOKEN), "{err}");
    // Nothing was recorded as filed.
    let osv = ok(&e, &["advisory", &id, "--format", "osv"]);
    assert!(!osv.contains("GHSA-"), "{osv}");

    let gh = FakeGithub::start("example/app", TOKEN);
    let e2 = env(Some(&gh));
    let id = case(&e2);
    gh.fail_next(
        403,
        r#"{"message":"Resource not accessible by personal access token"}"#,
    );
    let o = run(&e2, &["advisory", &id, "--publish", "github"], None);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(err.contains("Repository security advisories"), "{err}");
    // And then it works, and a second publish updates the same advisory.
    let out = ok(&e2, &["advisory", &id, "--publish", "github"]);
    assert!(out.contains("created the draft advisory"), "{out}");
    let out = ok(&e2, &["advisory", &id, "--publish", "github"]);
    assert!(out.contains("updated the draft advisory"), "{out}");
    assert_eq!(gh.advisories().len(), 1);
    // Credit needs consent: none was given, so no credits were sent.
    assert!(gh.requests().iter().all(|r| r
        .body
        .as_ref()
        .is_none_or(|b| b["credits"] == serde_json::json!([]))));
}

/// A value recorded by mistake can be removed; the trail keeps it.
#[test]
fn a_wrong_value_can_be_cleared() {
    let e = env(None);
    let id = case(&e);
    ok(&e, &["cve", &id, "CVE-2026-11111"]);
    ok(
        &e,
        &["analyze", &id, "--package", "cli", "--introduced", "10.0.0"],
    );
    // The wrong introduced version blocks the right fix until removed.
    refused(
        &e,
        &["analyze", &id, "--package", "cli", "--fixed", "9.0.0"],
        "not before",
    );
    ok(
        &e,
        &["analyze", &id, "--package", "cli", "--clear", "introduced"],
    );
    ok(
        &e,
        &["analyze", &id, "--package", "cli", "--fixed", "9.0.0"],
    );
    ok(&e, &["cve", &id, "--clear"]);
    let osv = ok(&e, &["advisory", &id, "--format", "osv"]);
    assert!(
        !osv.contains("CVE-2026-11111") && !osv.contains("10.0.0"),
        "{osv}"
    );
    refused(&e, &["analyze", &id, "--clear", "severity"], "--clear");
    let shown: serde_json::Value = serde_json::from_str(&ok(&e, &["show", &id, "--json"])).unwrap();
    let trail = shown["events"].to_string();
    assert!(
        trail.contains("was: CVE-2026-11111") && trail.contains("was: 10.0.0"),
        "{trail}"
    );
}
