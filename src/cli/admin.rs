//! Ops commands: `status` for monitoring, `backup` and `restore`.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use chrono::Utc;

use super::open_store;
use crate::case::sla::human_duration;
use crate::config::Config;
use crate::store::backup;
use crate::store::daemon_state::{stalest_sync, status as read_status};
use crate::store::parse_ts;

/// `secdesk status`: exit 1 when intake has not synced within `max_age`.
pub fn status(cfg: &Config, max_age: Duration, json: bool) -> Result<ExitCode> {
    let store = open_store(cfg)?;
    let s = read_status(store.conn())?;
    let now = Utc::now();
    let stalest = stalest_sync(&s);
    // A refused login will not fix itself: unhealthy at once, not only
    // once the last sync is old.
    let auth_failed = s
        .intake_error
        .as_deref()
        .filter(|e| e.contains("login as") && e.contains("failed"));
    let healthy = auth_failed.is_none()
        && stalest.is_some_and(|t| (now - t).to_std().unwrap_or_default() <= max_age);
    if json {
        let mut v = serde_json::to_value(&s)?;
        if let Some(o) = v.as_object_mut() {
            o.insert("healthy".into(), healthy.into());
            o.insert("authentication_failed".into(), auth_failed.is_some().into());
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
        println!(
            "reminders: {}",
            s.reminders_scanned_at
                .as_deref()
                .map(|t| format!("last scan {}", ago(t)))
                .unwrap_or_else(|| "no scan yet".into())
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
            } else if let Some(e) = auth_failed {
                format!("AUTHENTICATION FAILED: {e}; check imap.username and the password")
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

/// `secdesk backup DIR`: a consistent online snapshot of the case log and
/// the data dir ([`crate::store::backup`]).
pub fn backup(cfg: &Config, dir: &Path) -> Result<ExitCode> {
    let store = open_store(cfg)?;
    let (cases, blobs) = backup::backup_to(&store, &cfg.store.data_dir, dir)?;
    println!(
        "backup in {}: {cases} cases, {blobs} stored messages and attachments",
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `secdesk restore DIR [--force]`: checks the backup, then puts it in place
/// of the configured store. Stop the daemon first.
pub fn restore(cfg: &Config, dir: &Path, force: bool) -> Result<ExitCode> {
    let cases = backup::restore(&cfg.store, dir, force)?;
    println!(
        "restored {} from {}: {} cases, {} blobs copied",
        cfg.store.path.display(),
        dir.display(),
        cases.cases,
        cases.blobs
    );
    Ok(ExitCode::SUCCESS)
}
