//! Ops commands: `status` for monitoring, `backup` and `restore`.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use chrono::Utc;

use super::{open_store, UsageError};
use crate::case::sla::human_duration;
use crate::config::Config;
use crate::store::service::{stalest_sync, status as read_status};
use crate::store::{parse_ts, snapshot_into, Store};

/// `secdesk status`: exit 1 when intake has not synced within `max_age`.
pub fn status(cfg: &Config, max_age: Duration, json: bool) -> Result<ExitCode> {
    let store = open_store(cfg)?;
    let s = read_status(store.conn())?;
    let now = Utc::now();
    let stalest = stalest_sync(&s);
    let healthy = stalest.is_some_and(|t| (now - t).to_std().unwrap_or_default() <= max_age);
    if json {
        let mut v = serde_json::to_value(&s)?;
        if let Some(o) = v.as_object_mut() {
            o.insert("healthy".into(), healthy.into());
            o.insert("max_sync_age_s".into(), max_age.as_secs().into());
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        let ago = |t: &str| {
            parse_ts(t)
                .map(|t| format!("{} ago", human_duration((now - t).num_seconds().max(0))))
                .unwrap_or_else(|| t.to_string())
        };
        if s.last_sync.is_empty() {
            println!("intake:    never synced");
        }
        for (mailbox, at) in &s.last_sync {
            println!(
                "intake:    {mailbox} last synced {}",
                at.as_deref().map(ago).unwrap_or_else(|| "never".into())
            );
        }
        println!(
            "mode:      {}",
            match s.intake_mode.as_deref() {
                Some("idle") => "IMAP IDLE",
                Some("poll") => "polling",
                _ => "unknown (the daemon has not connected yet)",
            }
        );
        if let Some(e) = &s.intake_error {
            println!("last error: {e}");
        }
        println!(
            "outbox:    {} queued{}",
            s.outbox_queued,
            s.outbox_oldest_queued_at
                .as_deref()
                .map(|t| format!(", oldest queued {}", ago(t)))
                .unwrap_or_default()
        );
        println!(
            "failures:  {} permanent send failures",
            s.permanent_failures
        );
        match &s.next_deadline {
            Some((id, due)) => {
                let left = parse_ts(due).map(|d| (d - now).num_seconds()).unwrap_or(0);
                let when = if left < 0 {
                    format!("OVERDUE by {}", human_duration(-left))
                } else {
                    format!("in {}", human_duration(left))
                };
                println!("deadline:  {id} {when}");
            }
            None => println!("deadline:  none: every open case has had a response"),
        }
        if let Some(pid) = s.daemon.get("daemon_pid") {
            let stopped = s.daemon.get("daemon_stopped_at");
            println!(
                "daemon:    pid {pid}, started {}{}",
                s.daemon
                    .get("daemon_started_at")
                    .map(|t| ago(t))
                    .unwrap_or_default(),
                stopped
                    .map(|t| format!(", stopped {}", ago(t)))
                    .unwrap_or_default()
            );
        }
        println!(
            "health:    {}",
            if healthy {
                "OK".to_string()
            } else {
                format!(
                    "STALE: no sync within {}",
                    human_duration(max_age.as_secs() as i64)
                )
            }
        );
    }
    Ok(if healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Copies the blob tree `from` into `to` (files only, temporary files
/// skipped), creating directories 0700 and files 0600.
fn copy_blobs(from: &Path, to: &Path) -> Result<u64> {
    let mut n = 0;
    if !from.exists() {
        return Ok(0);
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(to)?;
    for entry in fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with(".tmp-") {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        let ft = entry.file_type()?;
        if ft.is_dir() {
            n += copy_blobs(&src, &dst)?;
        } else if ft.is_file() && !dst.exists() {
            fs::copy(&src, &dst).with_context(|| format!("copying {}", src.display()))?;
            fs::set_permissions(&dst, fs::Permissions::from_mode(0o600))?;
            n += 1;
        }
    }
    Ok(n)
}

/// `secdesk backup DIR`: a consistent online snapshot of the case log (the
/// SQLite backup API) and then the data dir. Blobs are written before the
/// rows that name them commit, so every blob the snapshot refers to exists
/// by the time the data dir is copied.
pub fn backup(cfg: &Config, dir: &Path) -> Result<ExitCode> {
    let (cases, blobs) = backup_to(cfg, dir)?;
    println!(
        "backup in {}: {cases} cases, {blobs} stored messages and attachments",
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The work of [`backup`], for tests: (cases, blob files).
pub fn backup_to(cfg: &Config, dir: &Path) -> Result<(i64, u64)> {
    let db = dir.join("cases.db");
    if db.exists() {
        return Err(UsageError(format!("{} already holds a backup", dir.display())).into());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    let store = open_store(cfg)?;
    snapshot_into(store.conn(), &db)?;
    let blobs = copy_blobs(&cfg.store.data_dir, &dir.join("data"))?;
    let snap = rusqlite::Connection::open(&db)?;
    let cases: i64 = snap.query_row("SELECT COUNT(*) FROM cases", [], |r| r.get(0))?;
    Ok((cases, blobs))
}

/// `secdesk restore DIR [--force]`: checks the backup, then puts it in place
/// of the configured store (the old one, with `--force`, moved aside).
/// Stop the daemon first.
pub fn restore(cfg: &Config, dir: &Path, force: bool) -> Result<ExitCode> {
    let src = dir.join("cases.db");
    if !src.is_file() {
        return Err(UsageError(format!("{} holds no cases.db", dir.display())).into());
    }
    {
        let c = rusqlite::Connection::open_with_flags(
            &src,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )?;
        let ok: String = c.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        if ok != "ok" {
            bail!("{}: integrity check failed: {ok}", src.display());
        }
        let v: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let known = crate::store::schema::MIGRATIONS.len();
        let Some(v) = usize::try_from(v).ok().filter(|v| *v <= known) else {
            bail!(
                "{}: schema version {v} is not one this secdesk knows (0 to {known})",
                src.display()
            );
        };
        // integrity_check passes a planted trigger: compare the backup with
        // the schema of its own version, before anything is moved aside.
        crate::store::schema::verify(&c, v, &src)?;
    }
    let target = &cfg.store.path;
    if target.exists() {
        if !force {
            return Err(UsageError(format!(
                "{} exists; stop the daemon and pass --force to replace it (it is kept beside, renamed)",
                target.display()
            ))
            .into());
        }
        let stamp = Utc::now().format("%Y%m%dT%H%M%SZ");
        for suffix in ["", "-wal", "-shm"] {
            let p = PathBuf::from(format!("{}{suffix}", target.display()));
            if p.exists() {
                let aside = PathBuf::from(format!(
                    "{}.before-restore-{stamp}{suffix}",
                    target.display()
                ));
                fs::rename(&p, &aside).with_context(|| format!("moving {} aside", p.display()))?;
            }
        }
    }
    if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    {
        let c = rusqlite::Connection::open_with_flags(
            &src,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )?;
        snapshot_into(&c, target)?;
    }
    let blobs = copy_blobs(&dir.join("data"), &cfg.store.data_dir)?;
    // Opening brings the schema up to date and the permissions in line.
    let store = Store::open(target, &cfg.store.data_dir)?;
    let cases: i64 = store
        .conn()
        .query_row("SELECT COUNT(*) FROM cases", [], |r| r.get(0))?;
    println!(
        "restored {} from {}: {cases} cases, {blobs} blobs copied",
        target.display(),
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}
