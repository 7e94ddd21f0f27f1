//! `secdesk run`: wires the long-running tasks — IMAP intake, the outbox
//! worker and the reminder scheduler — and owns the one shutdown path and
//! the reload path.
//!
//! Each task gets its own store connection (SQLite serialises the writers)
//! and a clone of one `CancellationToken`. Shutdown cancels the token; each
//! loop finishes the transaction in hand and returns; after a bound the rest
//! is abandoned — safe, because every step is a committed transaction.
//! Reload (SIGHUP) validates a new configuration and templates completely
//! before swapping them in through a `watch` channel; a bad one is refused
//! and the running one kept. The IMAP session is never dropped for it.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use sd_notify::NotifyState;
use tokio::sync::{mpsc, watch, Notify};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info, warn};

use crate::config::{Config, ConfigError};
use crate::intake::Intake;
use crate::outbox::{self, Outbox};
use crate::reminders::Scheduler;
use crate::service::{self, notify, Health};
use crate::settings::Settings;
use crate::store::Store;

/// How long shutdown waits for the tasks before giving up on them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(8);

/// What the process is told from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGTERM / SIGINT.
    Stop,
    /// SIGHUP.
    Reload,
}

fn missing_section(cfg: &Config, section: &str) -> ConfigError {
    ConfigError {
        key: section.to_string(),
        problem: "section missing: `secdesk run` needs it".into(),
        source_name: cfg.path.display().to_string(),
    }
}

/// Runs the daemon until a [`Signal::Stop`] arrives (or `signals` closes).
pub async fn run(config: Config, mut signals: mpsc::Receiver<Signal>) -> Result<()> {
    let imap = config
        .imap
        .clone()
        .ok_or_else(|| missing_section(&config, "imap"))?;
    let smtp = config
        .smtp
        .clone()
        .ok_or_else(|| missing_section(&config, "smtp"))?;
    let settings = Settings::load(config)?;
    let config = settings.config.clone();
    let open = || {
        Store::open(&config.store.path, &config.store.data_dir)
            .with_context(|| format!("opening the store {}", config.store.path.display()))
    };
    let intake_store = open()?;
    let now = chrono::Utc::now();
    crate::store::service::set(
        intake_store.conn(),
        "daemon_pid",
        &std::process::id().to_string(),
        now,
    )?;
    crate::store::service::set(
        intake_store.conn(),
        "daemon_started_at",
        &crate::store::ts(now),
        now,
    )?;
    crate::store::service::clear(intake_store.conn(), "daemon_stopped_at")?;
    let outbox_store = open()?;
    let schedule_store = open()?;
    let client = outbox::smtp::SmtpClient::new(&smtp)?;
    let wake = Arc::new(Notify::new());
    let health = Health::new();
    let (live_tx, live_rx) = watch::channel(settings);

    let token = CancellationToken::new();
    let tracker = TaskTracker::new();
    tracker.spawn(
        Intake {
            live: live_rx.clone(),
            imap: imap.clone(),
            store: intake_store,
            outbox_wake: wake.clone(),
            health: health.clone(),
        }
        .run(token.clone()),
    );
    tracker.spawn(
        Outbox {
            live: live_rx.clone(),
            smtp,
            store: outbox_store,
            client,
            wake: wake.clone(),
            health: health.clone(),
        }
        .run(token.clone()),
    );
    tracker.spawn(
        Scheduler {
            live: live_rx,
            store: schedule_store,
            outbox_wake: wake.clone(),
        }
        .run(token.clone()),
    );
    tracker.spawn(service::watchdog(health, token.clone()));
    tracker.close();
    let status = format!("reading {} on {}", imap.mailbox, imap.host);
    notify(&[NotifyState::Ready, NotifyState::Status(&status)]);
    info!(store = %config.store.path.display(), "secdesk running");
    if let Some(w) = config.team.trust_warning() {
        warn!("{w}");
    }

    while let Some(signal) = signals.recv().await {
        match signal {
            Signal::Stop => break,
            Signal::Reload => {
                let mono = NotifyState::monotonic_usec_now();
                match mono {
                    Ok(m) => notify(&[NotifyState::Reloading, m]),
                    Err(_) => notify(&[NotifyState::Reloading]),
                }
                let current = live_tx.borrow().clone();
                match reload(&current.config) {
                    Ok((next, changes, restart)) => {
                        if changes.is_empty() {
                            info!("configuration reloaded: nothing changed");
                        } else {
                            info!(changed = %changes.join(", "), "configuration reloaded");
                        }
                        if !restart.is_empty() {
                            warn!(sections = %restart.join(", "), "these changes take effect only after a restart");
                        }
                        live_tx.send_replace(next);
                    }
                    Err(e) => error!(
                        error = %format!("{e:#}"),
                        "reload refused: the new configuration is invalid; keeping the running one"
                    ),
                }
                notify(&[NotifyState::Ready, NotifyState::Status(&status)]);
            }
        }
    }
    notify(&[NotifyState::Stopping]);
    info!("shutting down");
    token.cancel();
    if tokio::time::timeout(SHUTDOWN_GRACE, tracker.wait())
        .await
        .is_err()
    {
        warn!(
            "tasks did not stop within {}s; exiting anyway",
            SHUTDOWN_GRACE.as_secs()
        );
    }
    if let Ok(s) = Store::open(&config.store.path, &config.store.data_dir) {
        let now = chrono::Utc::now();
        let _ =
            crate::store::service::set(s.conn(), "daemon_stopped_at", &crate::store::ts(now), now);
    }
    info!("stopped");
    Ok(())
}

/// Re-reads the configuration file and templates. Returns the new live
/// state, the reloadable sections that changed, and the changed sections
/// that need a restart.
fn reload(current: &Config) -> Result<(Settings, Vec<&'static str>, Vec<&'static str>)> {
    let mut next = crate::config::load(&current.path)?;
    next.load_secrets()?;
    let templates = Settings::load(next.clone())?.templates;
    // Sections compare by their Debug form (secrets print as `***`, so a
    // changed password shows as no change: it needs a restart anyway).
    let differs = |sections: &[(&'static str, &dyn std::fmt::Debug, &dyn std::fmt::Debug)]| {
        sections
            .iter()
            .filter(|(_, a, b)| format!("{a:?}") != format!("{b:?}"))
            .map(|(name, _, _)| *name)
            .collect::<Vec<_>>()
    };
    let mut changed = differs(&[
        ("team", &current.team, &next.team),
        ("sla", &current.sla, &next.sla),
        ("limits", &current.limits, &next.limits),
    ]);
    changed.push("templates (re-read)");
    let restart = differs(&[
        ("project", &current.project, &next.project),
        ("imap", &current.imap, &next.imap),
        ("smtp", &current.smtp, &next.smtp),
        ("store", &current.store, &next.store),
    ]);
    // Sections that need a restart keep their running values until then.
    let mut merged = current.clone();
    merged.team = next.team;
    merged.sla = next.sla;
    merged.limits = next.limits;
    merged.templates = next.templates;
    Ok((
        Settings {
            config: Arc::new(merged),
            templates,
        },
        changed,
        restart,
    ))
}
