//! The real binary on real files: the interfaces of DESIGN.md that other
//! tools depend on (JSON shapes, exit codes, one-line errors).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

struct Env {
    dir: tempfile::TempDir,
    config: PathBuf,
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("secdesk.toml");
    std::fs::write(
        &config,
        r#"
[project]
name = "Example"
security_address = "security@example.org"
[store]
path = "cases.db"
data_dir = "data"
"#,
    )
    .unwrap();
    Env { dir, config }
}

fn secdesk(env: &Env, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_secdesk"))
        .arg("--config")
        .arg(&env.config)
        .args(args)
        .output()
        .unwrap()
}

fn sample(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
        .display()
        .to_string()
}

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn ingest_twice_says_duplicate() {
    let e = env();
    let f = sample("01-report-complete.eml");
    let first = json(&secdesk(&e, &["ingest", &f, "--json"]));
    assert_eq!(first["outcome"], "new_case");
    assert_eq!(first["case"], "SEC-2026-0001");
    let second = json(&secdesk(&e, &["ingest", &f, "--json"]));
    assert_eq!(second["outcome"], "duplicate");
    let cases = json(&secdesk(&e, &["cases", "--json"]));
    assert_eq!(cases.as_array().unwrap().len(), 1);
}

#[test]
fn ingest_reads_standard_input() {
    let e = env();
    let mut child = Command::new(env!("CARGO_BIN_EXE_secdesk"))
        .arg("--config")
        .arg(&e.config)
        .args(["ingest", "-", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&std::fs::read(sample("02-report-html-attachment.eml")).unwrap())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(json(&out)["outcome"], "new_case");
}

#[test]
fn case_and_show_json_shapes() {
    let e = env();
    secdesk(&e, &["ingest", &sample("01-report-complete.eml")]);
    secdesk(&e, &["ingest", &sample("03-out-of-office.eml")]);
    let cases = json(&secdesk(&e, &["cases", "--json"]));
    let c = &cases[0];
    for key in [
        "id",
        "state",
        "reporter",
        "subject",
        "received_at",
        "acknowledged_at",
        "first_response_at",
        "response_due_at",
        "severity",
    ] {
        assert!(c.get(key).is_some(), "case object lacks {key}: {c}");
    }
    assert_eq!(c["state"], "new");
    assert_eq!(c["acknowledged_at"], serde_json::Value::Null);
    assert!(c["received_at"].as_str().unwrap().ends_with('Z'));

    let show = json(&secdesk(&e, &["show", "SEC-2026-0001", "--json"]));
    let msgs = show["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 3, "report, ack, out-of-office: {show}");
    for m in msgs {
        for key in [
            "direction",
            "kind",
            "from",
            "to",
            "subject",
            "message_id",
            "date",
            "classification",
        ] {
            assert!(m.get(key).is_some(), "message lacks {key}: {m}");
        }
    }
    assert!(msgs
        .iter()
        .any(|m| m["direction"] == "out" && m["kind"] == "ack"));
    assert!(msgs
        .iter()
        .any(|m| m["kind"] == "auto_reply" && m["classification"] == "auto_submitted"));
    let events = show["events"].as_array().unwrap();
    for key in ["at", "kind", "actor", "detail"] {
        assert!(events[0].get(key).is_some());
    }

    // The human forms work too.
    let table = secdesk(&e, &["cases"]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("SEC-2026-0001") && text.contains("left"),
        "{text}"
    );
    let show = secdesk(&e, &["show", "sec-2026-0001"]);
    assert!(show.status.success());
    assert!(String::from_utf8_lossy(&show.stdout).contains("Prototype pollution"));
}

#[test]
fn filters() {
    let e = env();
    secdesk(&e, &["ingest", &sample("01-report-complete.eml")]);
    let new = json(&secdesk(&e, &["cases", "--state", "new", "--json"]));
    assert_eq!(new.as_array().unwrap().len(), 1);
    let triage = json(&secdesk(&e, &["cases", "--state", "triage", "--json"]));
    assert_eq!(triage.as_array().unwrap().len(), 0);
    // Just received: not overdue.
    let overdue = json(&secdesk(&e, &["cases", "--overdue", "--json"]));
    assert_eq!(overdue.as_array().unwrap().len(), 0);
    let bad = secdesk(&e, &["cases", "--state", "open"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--state"));
}

#[test]
fn overdue_with_a_tiny_window() {
    let e = env();
    let text = std::fs::read_to_string(&e.config).unwrap();
    std::fs::write(
        &e.config,
        format!("{text}\n[sla]\nresponse_window = \"1s\"\n"),
    )
    .unwrap();
    secdesk(&e, &["ingest", &sample("01-report-complete.eml")]);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let overdue = json(&secdesk(&e, &["cases", "--overdue", "--json"]));
    assert_eq!(overdue.as_array().unwrap().len(), 1);
    let table = secdesk(&e, &["cases"]);
    assert!(String::from_utf8_lossy(&table.stdout).contains("OVERDUE"));
}

#[test]
fn configuration_errors_exit_2_with_one_line() {
    let e = env();
    std::fs::write(
        &e.config,
        "[project]\nsecurity_address = \"security@example.org\"\n[store]\npath = \"c.db\"\ndata_dir = \"d\"\nmax_message_size = \"big\"\n",
    )
    .unwrap();
    let o = secdesk(&e, &["cases"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("store.max_message_size") && err.contains("secdesk.toml"),
        "{err}"
    );

    let missing = Command::new(env!("CARGO_BIN_EXE_secdesk"))
        .args(["--config", "/nonexistent/secdesk.toml", "cases"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/secdesk.toml"));
}

#[test]
fn environment_overrides_the_file() {
    let e = env();
    let o = Command::new(env!("CARGO_BIN_EXE_secdesk"))
        .arg("--config")
        .arg(&e.config)
        .args(["ingest", &sample("01-report-complete.eml"), "--json"])
        .env("SECDESK_PROJECT__CASE_PREFIX", "VULN")
        .output()
        .unwrap();
    assert_eq!(json(&o)["case"], "VULN-2026-0001");
    let o = Command::new(env!("CARGO_BIN_EXE_secdesk"))
        .args(["cases", "--json"])
        .env("SECDESK_CONFIG", &e.config)
        .env("SECDESK_PROJECT__CASE_PREFIX", "VULN")
        .output()
        .unwrap();
    assert_eq!(json(&o)[0]["id"], "VULN-2026-0001");
}

#[test]
fn unknown_case_and_bad_id_exit_2() {
    let e = env();
    let o = secdesk(&e, &["show", "SEC-2026-0042"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("SEC-2026-0042"));
    let o = secdesk(&e, &["show", "../../etc/passwd"]);
    assert_eq!(o.status.code(), Some(2));
    let o = secdesk(&e, &["ingest", "/nonexistent.eml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(e.dir.path().exists());
}

#[test]
fn store_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let e = env();
    secdesk(&e, &["ingest", &sample("01-report-complete.eml")]);
    let mode = |p: PathBuf| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(e.dir.path().join("cases.db")), 0o600);
    assert_eq!(mode(e.dir.path().join("data")), 0o700);
}

#[test]
fn json_logs_for_log_shippers() {
    let e = env();
    let text = std::fs::read_to_string(&e.config).unwrap();
    std::fs::write(
        &e.config,
        text.replace("[store]", "[store]\nmax_message_size = \"2KB\""),
    )
    .unwrap();
    let big = e.dir.path().join("big.eml");
    std::fs::write(
        &big,
        format!(
            "From: a@b.example\r\nSubject: big\r\n\r\n{}\r\n",
            "x".repeat(5000)
        ),
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_secdesk"))
        .arg("--config")
        .arg(&e.config)
        .args(["--log-format", "json", "ingest", &big.display().to_string()])
        .output()
        .unwrap();
    assert!(o.status.success());
    let line = String::from_utf8_lossy(&o.stderr)
        .lines()
        .next()
        .unwrap_or("")
        .to_string();
    let v: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line}"));
    assert_eq!(v["level"], "WARN");
    assert_eq!(v["fields"]["outcome"], "rejected");
    // An unknown format is a usage error.
    let o = Command::new(env!("CARGO_BIN_EXE_secdesk"))
        .arg("--config")
        .arg(&e.config)
        .args(["--log-format", "xml", "cases"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}
