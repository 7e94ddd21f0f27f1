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

/// Runs `cmd` to its end and returns its exit code, its standard output
/// and its own peak resident memory in bytes: VmHWM, read while ptrace
/// holds it at its exit (`PTRACE_O_TRACEEXIT`) with its memory still
/// mapped. Not wait4's `ru_maxrss`: Linux keeps that across execve, so a
/// child starts out with the peak of the process that spawned it — this
/// test binary — and reports that when its own is lower.
fn run_with_peak(mut cmd: Command) -> (Option<i32>, String, u64) {
    use std::io::Read;
    use std::os::unix::process::CommandExt;
    let null = std::ptr::null_mut::<libc::c_void>();
    // SAFETY: ptrace is async-signal-safe; nothing else runs before exec.
    unsafe {
        cmd.pre_exec(|| {
            let null = std::ptr::null_mut::<libc::c_void>();
            match libc::ptrace(libc::PTRACE_TRACEME, 0, null, null) {
                -1 => Err(std::io::Error::last_os_error()),
                _ => Ok(()),
            }
        });
    }
    // Reaped below by waitpid, which the ptrace stops need.
    #[allow(clippy::zombie_processes)]
    let mut child = cmd.spawn().unwrap();
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    let wait = |status: &mut libc::c_int| {
        // SAFETY: `pid` is our child; `status` is a valid pointer.
        assert_eq!(unsafe { libc::waitpid(pid, status, 0) }, pid);
    };
    wait(&mut status); // stopped at its execve
    assert!(libc::WIFSTOPPED(status), "{status:#x}");
    let exit_stop = libc::PTRACE_O_TRACEEXIT as usize as *mut libc::c_void;
    // SAFETY: `pid` is a child we trace, stopped.
    assert_eq!(
        unsafe { libc::ptrace(libc::PTRACE_SETOPTIONS, pid, null, exit_stop) },
        0
    );
    let (mut peak, mut signal) = (None, 0usize);
    loop {
        // SAFETY: as above; `signal` is a signal number or 0.
        unsafe { libc::ptrace(libc::PTRACE_CONT, pid, null, signal as *mut libc::c_void) };
        wait(&mut status);
        if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
            break;
        }
        signal = if status >> 16 == libc::PTRACE_EVENT_EXIT {
            let st = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
            peak = st
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
            0
        } else {
            // Deliver whatever else stopped it.
            libc::WSTOPSIG(status) as usize
        };
    }
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    (code, out, peak.expect("no VmHWM at exit") * 1024)
}

#[test]
fn ingest_keeps_a_huge_input_whole_in_bounded_memory() {
    let e = env();
    let text = std::fs::read_to_string(&e.config).unwrap();
    std::fs::write(
        &e.config,
        text.replace("[store]", "[store]\nmax_message_size = \"2MB\""),
    )
    .unwrap();
    // A 48 MB header block of 100-byte fields after the ones that name the
    // message (review issue 10, finding 5), piped in as an MTA would.
    let mut raw = b"From: Hostile <hostile@reporter.example>\r\nSubject: header bomb\r\n\
Message-ID: <bomb-cli@reporter.example>\r\n"
        .to_vec();
    let field = format!("X-Junk-Field: {}\r\n", "a".repeat(84));
    raw.extend(field.as_bytes().repeat(480_000));
    raw.extend(b"\r\nbody\r\n");
    let input = e.dir.path().join("bomb.eml");
    std::fs::write(&input, &raw).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_secdesk"));
    cmd.arg("--config")
        .arg(&e.config)
        .args(["ingest", "-", "--json"])
        .stdin(std::fs::File::open(&input).unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let (code, out, peak) = run_with_peak(cmd);
    assert_eq!(code, Some(0), "{out}");
    // The bound for any input: 4 x max + 32 MB. Holding the input whole
    // would be 48 MB on its own.
    let bound = 4 * 2_000_000 + 32_000_000;
    assert!(peak <= bound, "peak RSS {peak} bytes, bound {bound}");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["outcome"], "rejected", "{r}");
    let reason = r["reason"].as_str().unwrap();
    assert!(reason.contains(&format!("{} bytes", raw.len())), "{reason}");

    // Kept whole: the blob is every byte of the input, named by its hash.
    let sha = secdesk::mail::parse::sha256_hex(&raw);
    let blob = e
        .dir
        .path()
        .join("data/raw")
        .join(&sha[..2])
        .join(&sha[2..]);
    assert!(
        std::fs::read(&blob).unwrap() == raw,
        "the kept blob is not the input"
    );
    // And listed with its sender and subject.
    let unfiled = json(&secdesk(&e, &["unfiled", "--json"]));
    let m = &unfiled.as_array().unwrap()[0];
    assert_eq!(m["from"], "hostile@reporter.example");
    assert_eq!(m["subject"], "header bomb");
    assert_eq!(m["sha256"], sha.as_str());
    assert_eq!(m["size"], raw.len() as u64);
}

#[test]
fn a_reader_that_goes_away_ends_the_output_quietly() {
    let e = env();
    json(&secdesk(
        &e,
        &["ingest", &sample("01-report-complete.eml"), "--json"],
    ));
    // `secdesk show ID | head`: the reader is gone before the first write.
    let mut child = Command::new(env!("CARGO_BIN_EXE_secdesk"))
        .arg("--config")
        .arg(&e.config)
        .args(["show", "SEC-2026-0001"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
}

/// For an MTA's pipe transport a failure must defer, not bounce: 75.
#[test]
fn ingest_tempfail_exits_75_so_the_mta_retries() {
    let e = env();
    // The store's directory cannot be created: a runtime failure.
    let text = std::fs::read_to_string(&e.config).unwrap();
    std::fs::write(
        &e.config,
        text.replace("path = \"cases.db\"", "path = \"/proc/nope/cases.db\""),
    )
    .unwrap();
    let o = secdesk(
        &e,
        &["ingest", "--tempfail", &sample("01-report-complete.eml")],
    );
    assert_eq!(
        o.status.code(),
        Some(75),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("the MTA will retry"));
    let o = secdesk(&e, &["ingest", &sample("01-report-complete.eml")]);
    assert_eq!(o.status.code(), Some(1));
}
