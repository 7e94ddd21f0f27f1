//! `secdesk import` on real files with the real binary: an mbox and a
//! Maildir of an old inbox are filed as history — imported cases, replies in
//! their threads, nothing sent — and importing again changes nothing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn config(dir: &Path) -> PathBuf {
    let config = dir.join("secdesk.toml");
    std::fs::write(
        &config,
        "[project]\nname = \"Example\"\nsecurity_address = \"security@example.org\"\n\
         [store]\npath = \"cases.db\"\ndata_dir = \"data\"\n[team]\nlead = [\"lead@example.org\"]\n",
    )
    .unwrap();
    config
}

fn secdesk(config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_secdesk"))
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .unwrap()
}

fn count(dir: &Path, sql: &str) -> i64 {
    rusqlite::Connection::open(dir.join("cases.db"))
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

/// An old report, the lead's answer, and the reporter's thanks.
fn thread(n: usize) -> [String; 3] {
    [
        format!(
            "From: r{n}@reporter.example\nTo: security@example.org\nSubject: report {n}\n\
             Date: Mon, 2 Jan 2023 10:00:00 +0000\nMessage-ID: <a{n}@reporter.example>\n\n\
             Version 1.{n} leaks tokens.\nFrom the start it did.\n"
        ),
        format!(
            "From: lead@example.org\nTo: r{n}@reporter.example\nCc: security@example.org\n\
             Subject: Re: report {n}\nDate: Tue, 3 Jan 2023 10:00:00 +0000\n\
             Message-ID: <b{n}@example.org>\nIn-Reply-To: <a{n}@reporter.example>\n\nFixed.\n"
        ),
        format!(
            "From: r{n}@reporter.example\nTo: security@example.org\nSubject: Re: report {n}\n\
             Date: Wed, 4 Jan 2023 10:00:00 +0000\nMessage-ID: <c{n}@reporter.example>\n\
             In-Reply-To: <b{n}@example.org>\n\nThanks!\n"
        ),
    ]
}

fn import_twice(config: &Path, dir: &Path, archive: &Path) {
    let o = secdesk(config, &["import", &archive.display().to_string()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        out.contains("imported 9 messages")
            && out.contains("3 new cases")
            && out.contains("6 follow-ups"),
        "{out}"
    );
    assert!(out.contains("nothing was sent"), "{out}");
    let o = secdesk(
        config,
        &["import", &archive.display().to_string(), "--json"],
    );
    let again: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(again["duplicates"], 9, "{again}");
    assert_eq!(
        count(dir, "SELECT COUNT(*) FROM cases WHERE state = 'imported'"),
        3
    );
    assert_eq!(count(dir, "SELECT COUNT(*) FROM cases"), 3);
    assert_eq!(count(dir, "SELECT COUNT(*) FROM messages"), 9);
    assert_eq!(count(dir, "SELECT COUNT(*) FROM outbox"), 0);
}

#[test]
fn an_mbox_is_imported_as_history_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let mut mbox = String::new();
    for n in 0..3 {
        for m in thread(n) {
            // mboxrd: a body line starting "From " is written ">From ".
            let m = m.replace("\nFrom the start", "\n>From the start");
            mbox.push_str(&format!(
                "From r{n}@reporter.example Mon Jan  2 10:00:00 2023\n{m}\n"
            ));
        }
    }
    let path = dir.path().join("security.mbox");
    std::fs::write(&path, mbox).unwrap();
    import_twice(&config, dir.path(), &path);
    let shown = secdesk(&config, &["show", "SEC-2023-0001", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(v["received_at"], "2023-01-02T10:00:00.000Z");
    assert_eq!(v["messages"].as_array().unwrap().len(), 3);
}

#[test]
fn a_maildir_is_imported_as_history_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let maildir = dir.path().join("Maildir");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    for n in 0..3 {
        for (k, m) in thread(n).iter().enumerate() {
            // Delivery times in the names: oldest first, whatever the order
            // the directory lists them in.
            let t = 1_672_653_600 + (n * 10 + k) as i64 * 3600;
            let sub = if k == 2 { "new" } else { "cur" };
            std::fs::write(maildir.join(sub).join(format!("{t}.M{n}P{k}.host:2,S")), m).unwrap();
        }
    }
    import_twice(&config, dir.path(), &maildir);
    let o = secdesk(&config, &["import", "/nonexistent/archive"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
