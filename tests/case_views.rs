//! The case log as a lead reads it (issue 13, "Readable case views"): the
//! `cases` table, the `show` header, and attachments listed and written
//! out. Cases are filed through the pipeline on a temporary store, shaped
//! with SQL where a field needs a value, and read back by the real binary.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use support::pipeline::*;

/// Runs the real binary against the fixture's store, with `env` set.
fn secdesk_env(f: &Fixture, env: &[(&str, &str)], args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_secdesk"))
        .arg("--config")
        .arg(f._dir.path().join("secdesk.toml"))
        .args(args)
        .env_remove("COLUMNS")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn secdesk(f: &Fixture, args: &[&str]) -> Output {
    secdesk_env(f, &[], args)
}

fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// An SQL expression for the stored form of "now" plus `modifier`
/// (`'+4 hours'`): the binary reads the real clock.
fn at(modifier: &str) -> String {
    format!("strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '{modifier}')")
}

fn file_report(f: &mut Fixture, from: &str, mid: &str, subject: &str) -> String {
    f.ingest(&report(
        from,
        mid,
        subject,
        "",
        "Steps to reproduce: ...\r\n",
    ))
    .case
    .unwrap()
}

/// The cell of `column` in every row of a table printed by `cases`, by the
/// header's offsets (cells hold single spaces; columns are padded).
fn column(table: &str, name: &str) -> Vec<(String, String)> {
    let mut lines = table.lines();
    let head = lines.next().unwrap();
    let start = head.find(name).unwrap();
    let end = head[start + name.len()..]
        .find(|c: char| c != ' ')
        .map(|i| i + start + name.len());
    lines
        .map(|l| {
            let chars: Vec<char> = l.chars().collect();
            let stop = end.unwrap_or(chars.len()).min(chars.len());
            let cell: String = chars[start.min(stop)..stop].iter().collect();
            let id: String = chars.iter().take_while(|c| **c != ' ').collect();
            (id, cell.trim().to_string())
        })
        .collect()
}

#[test]
fn the_cases_table_says_whose_move_it_is() {
    let mut f = fixture();
    let fresh = file_report(&mut f, "a@reporter.example", "a1@r", "Fresh report");
    let late = file_report(&mut f, "b@reporter.example", "b1@r", "Late report");
    let answered = file_report(&mut f, "c@reporter.example", "c1@r", "Answered report");
    let turn = file_report(&mut f, "d@reporter.example", "d1@r", "Follow-up pending");
    let embargoed = file_report(&mut f, "e@reporter.example", "e1@r", "Embargoed fix");
    let closed = file_report(&mut f, "g@reporter.example", "g1@r", "Not a bug");
    let first = file_report(&mut f, "h@reporter.example", "h1@r", "First of two");
    let second = file_report(&mut f, "h@reporter.example", "h2@r", "Second of two");
    f.exec(&format!(
        "UPDATE cases SET received_at = {r}, response_due_at = {due};
         UPDATE cases SET response_due_at = {late_due} WHERE id = '{late}';
         UPDATE cases SET first_response_at = {r}
             WHERE id IN ('{answered}', '{turn}', '{embargoed}', '{closed}');
         UPDATE cases SET first_response_unverified = 1 WHERE id = '{answered}';
         INSERT INTO turns (case_id, turn, started_at, due_at)
             VALUES ('{turn}', 1, {r}, {turn_due});
         UPDATE cases SET state = 'accepted', embargo_until = '2027-02-23' WHERE id = '{embargoed}';
         UPDATE cases SET state = 'invalid' WHERE id = '{closed}';
         UPDATE cases SET severity = 'high', assignee = 'dev@example.org' WHERE id = '{fresh}';",
        r = at("-1 hours"),
        due = at("+4 hours"),
        late_due = at("-7530 seconds"),
        turn_due = at("+4290 minutes"),
    ));
    let o = secdesk_env(&f, &[("COLUMNS", "200")], &["cases"]);
    let table = stdout(&o);
    let waiting: std::collections::HashMap<_, _> =
        column(&table, "WAITING ON").into_iter().collect();
    let want = [
        (&fresh, "team, 3h 59m left"),
        (&late, "team, OVERDUE by 2h 5m"),
        (&answered, "reporter"),
        (&turn, "team, 71h 29m left"),
        (&embargoed, "embargo 2027-02-23"),
        (&closed, "-"),
    ];
    for (id, cell) in want {
        assert_eq!(waiting[id].as_str(), cell, "{id}\n{table}");
    }
    let row = |id: &str| table.lines().find(|l| l.starts_with(id)).unwrap();
    assert!(row(&answered).contains("(unverified)"), "{table}");
    assert!(row(&fresh).contains("high") && row(&fresh).contains("dev@example.org"));
    // The same reporter's other open case is marked, both ways.
    assert!(row(&first).contains(&format!("+{second}")), "{table}");
    assert!(row(&second).contains(&format!("+{first}")), "{table}");
    let head = table.lines().next().unwrap();
    for name in [
        "ID",
        "STATE",
        "SEVERITY",
        "ASSIGNEE",
        "REPORTER",
        "AGE",
        "WAITING ON",
        "SUBJECT",
    ] {
        assert!(head.contains(name), "{head}");
    }
}

#[test]
fn subjects_are_cut_to_the_width_but_never_below_60() {
    let mut f = fixture();
    let long = format!("Heap overflow {}", "x".repeat(200));
    let id = file_report(&mut f, "a@reporter.example", "a1@r", &long);
    let line = |o: Output| {
        stdout(&o)
            .lines()
            .find(|l| l.starts_with(&id))
            .unwrap()
            .to_string()
    };
    // A pipe with no COLUMNS: whole.
    assert!(line(secdesk(&f, &["cases"])).ends_with(&long));
    // A narrow terminal: 60 columns of subject.
    let narrow = line(secdesk_env(&f, &[("COLUMNS", "40")], &["cases"]));
    let subject = &narrow[narrow.find("Heap").unwrap()..];
    assert_eq!(subject.chars().count(), 60, "{narrow}");
    assert!(subject.ends_with('…'));
    // A wide one: the line fills it.
    let wide = line(secdesk_env(&f, &[("COLUMNS", "180")], &["cases"]));
    assert_eq!(wide.chars().count(), 180, "{wide}");
}

#[test]
fn cases_json_is_the_case_objects_unchanged() {
    let mut f = fixture();
    let id = file_report(&mut f, "a@reporter.example", "a1@r", "A report");
    let v: serde_json::Value =
        serde_json::from_str(&stdout(&secdesk(&f, &["cases", "--json"]))).unwrap();
    let want = serde_json::to_value(f.store.get_case(&id).unwrap().unwrap()).unwrap();
    assert_eq!(v[0], want);
}

/// Sets every decision field of `id` as the workflow would.
fn decide_everything(f: &Fixture, id: &str) {
    f.exec(&format!(
        "UPDATE cases SET state = 'released', severity = 'high', impact = 'c=none,i=high,a=high',
             cvss_vector = 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:H',
             assignee = 'dev@example.org', fix_ref = 'https://github.com/org/repo/pull/42',
             fixed_version = '9.0.2', affected_versions = '>=8.0.0 <9.0.2',
             introduced_in = '8.0.0', user_impact = 'A remote client can change routes.',
             credit_consent = 'yes', credit_name = 'Sam Finder', credit_source = 'lead',
             credit_request = 'yes, S. Finder',
             embargo_until = '2027-02-23', embargo_note = 'agreed with Sam',
             advisory = 'GHSA-abcd-efgh-ijkl', send_failure = '550 mailbox unavailable',
             first_response_at = {r}, first_response_unverified = 1
         WHERE id = '{id}';
         INSERT INTO turns (case_id, turn, started_at, due_at)
             VALUES ('{id}', 1, {r}, {due});",
        r = at("-1 hours"),
        due = at("+70 hours"),
    ));
}

/// The header lines of `show`, `Label:` → value.
fn header(text: &str) -> std::collections::HashMap<String, String> {
    text.lines()
        .take_while(|l| !l.is_empty())
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect()
}

#[test]
fn show_puts_every_decision_field_in_the_header() {
    let mut f = fixture();
    let id = file_report(
        &mut f,
        "sam@reporter.example",
        "s1@r",
        "Prototype pollution",
    );
    let other = file_report(&mut f, "sam@reporter.example", "s2@r", "Another one");
    decide_everything(&f, &id);
    let text = stdout(&secdesk(&f, &["show", &id]));
    assert!(text.starts_with(&format!("{id}  released\n")), "{text}");
    let h = header(&text);
    let want = [
        ("Severity", "high, impact c=none,i=high,a=high"),
        ("CVSS", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:H"),
        ("Assignee", "dev@example.org"),
        ("Fix", "https://github.com/org/repo/pull/42"),
        ("Affected", ">=8.0.0 <9.0.2"),
        ("Introduced in", "8.0.0"),
        ("Fixed version", "9.0.2"),
        ("User impact", "A remote client can change routes."),
        ("Credit", "yes, as Sam Finder (decided by the lead)"),
        ("Advisory", "GHSA-abcd-efgh-ijkl"),
        ("SEND FAILURE", "550 mailbox unavailable"),
    ];
    for (label, value) in want {
        assert_eq!(
            h.get(label).map(String::as_str),
            Some(value),
            "{label}\n{text}"
        );
    }
    let starts = |label: &str, prefix: &str| {
        let v = h
            .get(label)
            .unwrap_or_else(|| panic!("no {label}:\n{text}"));
        assert!(v.starts_with(prefix), "{label}: {v}\n{text}");
    };
    starts("Embargo", "2027-02-23 (in ");
    assert!(h["Embargo"].ends_with("— agreed with Sam"), "{text}");
    starts(
        "Waiting on",
        "the team (an answer to a later message), until ",
    );
    assert!(h["Waiting on"].ends_with("(69h 59m left)"), "{text}");
    starts("Open turn", "a message since ");
    starts("First response", "");
    assert!(h["First response"].contains("(unverified"), "{text}");
    starts("Credit request", "yes, S. Finder — UNCONFIRMED");
    starts("Same reporter", &format!("{other} (open)"));
    assert!(
        h["Same reporter"].ends_with(&format!("secdesk merge {other} --into {id}")),
        "{text}"
    );

    // The JSON keeps its keys (the case object, messages, events).
    let v: serde_json::Value =
        serde_json::from_str(&stdout(&secdesk(&f, &["show", &id, "--json"]))).unwrap();
    let case = serde_json::to_value(f.store.get_case(&id).unwrap().unwrap()).unwrap();
    for (k, val) in case.as_object().unwrap() {
        assert_eq!(&v[k], val, "{k}");
    }
    assert!(v["messages"].is_array() && v["events"].is_array());
    assert_eq!(v["events"][0]["case"], id.as_str());
}

#[test]
fn show_marks_the_gaps_of_an_accepted_case_and_proposes_an_embargo() {
    let mut f = fixture();
    let id = file_report(
        &mut f,
        "sam@reporter.example",
        "s1@r",
        "Prototype pollution",
    );
    f.exec(&format!(
        "UPDATE cases SET state = 'accepted', severity = 'medium' WHERE id = '{id}'"
    ));
    let text = stdout(&secdesk(&f, &["show", &id]));
    let h = header(&text);
    for gap in [
        "CVSS",
        "Fix",
        "Fixed version",
        "Affected",
        "Introduced in",
        "Assignee",
    ] {
        assert_eq!(h.get(gap).map(String::as_str), Some("-"), "{gap}\n{text}");
    }
    // Received 2026-11-23 (the fixture's clock): 90 days on is 2027-02-21.
    let embargo = &h["Embargo"];
    assert!(
        embargo.starts_with("none agreed;")
            && embargo.contains("90 days from the report")
            && embargo.contains(&format!("secdesk embargo {id} --until")),
        "{text}"
    );
    // A new case has no decision yet: no row of dashes.
    let fresh = file_report(&mut f, "ana@reporter.example", "a1@r", "XSS");
    let h = header(&stdout(&secdesk(&f, &["show", &fresh])));
    for absent in [
        "CVSS",
        "Fix",
        "Fixed version",
        "Embargo",
        "Advisory",
        "Severity",
    ] {
        assert!(!h.contains_key(absent), "{absent}: {h:?}");
    }
    assert_eq!(
        h["Waiting on"].split(',').next().unwrap(),
        "the team (the first response)"
    );
}

#[test]
fn show_of_a_merge_lists_the_events_of_every_case_merged_in() {
    let mut f = fixture();
    let a = file_report(&mut f, "sam@reporter.example", "s1@r", "Report");
    let b = file_report(&mut f, "sam@reporter.example", "s2@r", "Report again");
    let c = file_report(&mut f, "sam@reporter.example", "s3@r", "Report thrice");
    let env = [("SECDESK_ACTOR", "lead")];
    stdout(&secdesk_env(&f, &env, &["merge", &c, "--into", &b]));
    stdout(&secdesk_env(&f, &env, &["merge", &b, "--into", &a]));

    // The merged case points to where its messages are now.
    let text = stdout(&secdesk(&f, &["show", &b]));
    assert!(
        text.starts_with(&format!("{b}  merged into {a}\n")),
        "{text}"
    );
    assert!(
        header(&text)["Merged into"].contains(&format!("secdesk show {a}")),
        "{text}"
    );

    // The case holding them lists its own events and those of both cases
    // merged in (transitively), each marked with the case it was under.
    let text = stdout(&secdesk(&f, &["show", &a]));
    for id in [&b, &c] {
        assert!(text.contains(&format!("[{id}] ")), "{id}\n{text}");
    }
    let v: serde_json::Value =
        serde_json::from_str(&stdout(&secdesk(&f, &["show", &a, "--json"]))).unwrap();
    let cases: std::collections::BTreeSet<&str> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["case"].as_str().unwrap())
        .collect();
    assert_eq!(
        cases,
        [a.as_str(), b.as_str(), c.as_str()].into_iter().collect()
    );
    let total = f.count(&format!(
        "SELECT COUNT(*) FROM events WHERE case_id IN ('{a}', '{b}', '{c}')"
    ));
    assert_eq!(v["events"].as_array().unwrap().len() as i64, total);
    assert_eq!(
        v["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["direction"] == "in")
            .count(),
        3
    );
}

/// A report with attachments `(filename, bytes)`.
fn with_attachments(from: &str, mid: &str, subject: &str, files: &[(&str, &[u8])]) -> Vec<u8> {
    use std::fmt::Write;
    let mut body = String::from("--b\r\nContent-Type: text/plain\r\n\r\nSee the files.\r\n");
    for (name, bytes) in files {
        let b64 = base64(bytes);
        write!(
            body,
            "--b\r\nContent-Type: application/octet-stream\r\n\
             Content-Disposition: attachment; filename=\"{name}\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{b64}\r\n"
        )
        .unwrap();
    }
    body.push_str("--b--\r\n");
    report(
        from,
        mid,
        subject,
        "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n",
        &body,
    )
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A case with three attachments over two messages.
fn case_with_attachments(f: &mut Fixture) -> String {
    let id = f
        .ingest(&with_attachments(
            "sam@reporter.example",
            "att1@r",
            "Path traversal",
            &[
                ("poc.py", b"print('poc')\n"),
                ("request.http", b"GET / HTTP/1.1\r\n"),
            ],
        ))
        .case
        .unwrap();
    let follow = f.ingest(&with_attachments(
        "sam@reporter.example",
        "att2@r",
        &format!("Re: [{id}] Path traversal"),
        &[("trace.txt", b"stack trace")],
    ));
    assert_eq!(follow.case.as_deref(), Some(id.as_str()));
    id
}

#[test]
fn attachments_are_numbered_alike_in_show_and_attachment() {
    let mut f = fixture();
    let id = case_with_attachments(&mut f);
    let list = stdout(&secdesk(&f, &["attachment", &id]));
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 3, "{list}");
    for (i, name) in ["poc.py", "request.http", "trace.txt"].iter().enumerate() {
        assert!(
            lines[i].trim_start().starts_with(&format!("{} ", i + 1)),
            "{list}"
        );
        assert!(
            lines[i].contains(name) && lines[i].contains("sam@reporter.example"),
            "{list}"
        );
    }
    assert!(lines[0].contains(&secdesk::mail::parse::sha256_hex(b"print('poc')\n")));
    let show = stdout(&secdesk(&f, &["show", &id]));
    for (i, name) in ["poc.py", "request.http", "trace.txt"].iter().enumerate() {
        assert!(
            show.contains(&format!("Attachment {}: {name} (", i + 1)),
            "{show}"
        );
    }
    let v: serde_json::Value =
        serde_json::from_str(&stdout(&secdesk(&f, &["show", &id, "--json"]))).unwrap();
    assert_eq!(v["attachments"][2]["n"], 3);
    assert_eq!(v["attachments"][2]["name"], "trace.txt");
}

#[test]
fn an_attachment_is_written_inside_dir_never_over_a_file() {
    let mut f = fixture();
    let id = case_with_attachments(&mut f);
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();
    let o = stdout(&secdesk(&f, &["attachment", &id, "1", "--out", dir]));
    let written = out.path().join("poc.py");
    assert_eq!(o.trim(), written.display().to_string());
    assert_eq!(std::fs::read(&written).unwrap(), b"print('poc')\n");
    let mode = std::fs::metadata(&written).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // Again: a new name beside it, the first file untouched.
    let o = stdout(&secdesk(&f, &["attachment", &id, "1", "--out", dir]));
    assert_eq!(
        o.trim(),
        out.path().join("poc (2).py").display().to_string()
    );
    // A link planted where the name would go is not followed.
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim");
    std::fs::write(&victim, b"keep").unwrap();
    std::os::unix::fs::symlink(&victim, out.path().join("trace.txt")).unwrap();
    let o = stdout(&secdesk(&f, &["attachment", &id, "3", "--out", dir]));
    assert_eq!(
        o.trim(),
        out.path().join("trace (2).txt").display().to_string()
    );
    assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
}

#[test]
fn hostile_stored_names_stay_inside_dir() {
    let mut f = fixture();
    let id = case_with_attachments(&mut f);
    // Names as a doctored or older store might hold them: intake cleans
    // names too, but the command must not rely on it.
    let long = format!("{}.pdf", "n".repeat(300));
    let names = [
        ("../../etc/passwd", "passwd".to_string()),
        ("/abs/x", "x".to_string()),
        ("a\\b", "b".to_string()),
        ("..", "attachment-1".to_string()),
        ("\u{202e}fdp.exe", "fdp.exe".to_string()),
        ("", "attachment-1".to_string()),
        (long.as_str(), format!("{}.pdf", "n".repeat(96))),
    ];
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();
    for (stored, want) in &names {
        f.exec(&format!(
            "UPDATE attachments SET display_name = '{}' WHERE id = (SELECT MIN(id) FROM attachments)",
            stored.replace('\'', "''")
        ));
        let o = stdout(&secdesk(&f, &["attachment", &id, "1", "--out", dir]));
        let path = Path::new(o.trim());
        assert_eq!(path.parent(), Some(out.path()), "{stored:?} -> {o}");
        assert_eq!(
            path.file_name().unwrap().to_str().unwrap(),
            want,
            "{stored:?}"
        );
        std::fs::remove_file(path).unwrap();
    }
    // Nothing was written anywhere else.
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);
    assert!(!out.path().parent().unwrap().join("passwd").exists());
}

#[test]
fn a_bad_number_or_dir_is_a_usage_error_naming_it() {
    let mut f = fixture();
    let id = case_with_attachments(&mut f);
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();
    for n in ["0", "4"] {
        let o = secdesk(&f, &["attachment", &id, n, "--out", dir]);
        assert_eq!(o.status.code(), Some(2), "{n}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(&id) && err.contains("1 to 3") && err.contains(n),
            "{err}"
        );
    }
    let missing = out.path().join("nope");
    let o = secdesk(
        &f,
        &["attachment", &id, "1", "--out", missing.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("nope"));
    let file = out.path().join("file");
    std::fs::write(&file, b"").unwrap();
    let o = secdesk(
        &f,
        &["attachment", &id, "1", "--out", file.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a directory"));
    // A case without attachments says so.
    let plain = file_report(&mut f, "x@reporter.example", "x1@r", "No files");
    let o = stdout(&secdesk(&f, &["attachment", &plain]));
    assert!(o.contains("no attachments"), "{o}");
    let o = secdesk(&f, &["attachment", &plain, "1"]);
    assert_eq!(o.status.code(), Some(2));
}
