//! `secdesk run`: wires the long-running tasks — IMAP intake, the outbox
//! worker and the reminder scheduler — and owns the one shutdown path and
//! the reload path.
//!
//! Each task gets its own store connection (SQLite serialises the writers)
//! and a clone of one `CancellationToken`. Shutdown cancels the token; each
//! loop finishes the transaction in hand and returns; after a bound the rest
//! is abandoned — safe, because every step is a committed transaction.
//! Reload (SIGHUP, [`reload`]) validates a new configuration and templates
//! completely before swapping them in through a `watch` channel; a bad one
//! is refused and the running one kept. The IMAP session is never dropped
//! for it. [`systemd`] speaks to the service manager.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use sd_notify::NotifyState;
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::config::{Config, ConfigError};
use crate::inbound::imap::Intake;
use crate::outbox::{self, Outbox};
use crate::reminders::Scheduler;
use crate::settings::Settings;
use crate::store::{daemon_state, SharedStore, Store};
use systemd::{notify, Health};

pub mod reload;
pub mod systemd;

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

/// Builds the runtime, turns SIGTERM/SIGINT/SIGHUP into [`Signal`]s and
/// runs the daemon until it stops.
pub fn serve(cfg: Config) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        // Signal streams are created once, before anything can block.
        let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
        let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
        let mut hup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        tokio::spawn(async move {
            loop {
                let s = tokio::select! {
                    _ = term.recv() => Signal::Stop,
                    _ = int.recv() => Signal::Stop,
                    _ = hup.recv() => Signal::Reload,
                };
                if tx.send(s).await.is_err() {
                    return;
                }
            }
        });
        run(cfg, rx).await
    })
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
    // One daemon per store, and no restore under a running one.
    let _lock = crate::store::lock::hold(&config.store.path)?;
    let intake_store = open()?;
    record_start(&intake_store)?;
    let outbox_store = open()?;
    let schedule_store = open()?;
    let client = outbox::smtp::SmtpClient::new(&smtp)?;
    let wake = Arc::new(Notify::new());
    let health = Health::new();
    let (live_tx, live_rx) = watch::channel(settings);

    let token = CancellationToken::new();
    let clock = crate::clock::Clock::System;
    let intake = Intake {
        live: live_rx.clone(),
        imap: imap.clone(),
        store: SharedStore::new(intake_store),
        clock,
        outbox_wake: wake.clone(),
        health: health.clone(),
    };
    let outbox = Outbox {
        live: live_rx.clone(),
        smtp,
        store: SharedStore::new(outbox_store),
        clock,
        client,
        wake: wake.clone(),
        health: health.clone(),
    };
    let reminders = Scheduler {
        live: live_rx,
        store: SharedStore::new(schedule_store),
        clock,
        outbox_wake: wake.clone(),
    };
    let tasks: Vec<(&'static str, JoinHandle<()>)> = vec![
        ("intake", tokio::spawn(intake.run(token.clone()))),
        ("outbox", tokio::spawn(outbox.run(token.clone()))),
        ("reminders", tokio::spawn(reminders.run(token.clone()))),
        (
            "watchdog",
            tokio::spawn(systemd::watchdog(health, token.clone())),
        ),
    ];
    let status = format!("reading {} on {}", imap.mailbox, imap.host);
    notify(&[NotifyState::Ready, NotifyState::Status(&status)]);
    info!(store = %config.store.path.display(), "secdesk running");
    if let Some(w) = config.team.trust_warning() {
        warn!("{w}");
    }

    while let Some(signal) = signals.recv().await {
        match signal {
            Signal::Stop => break,
            Signal::Reload => reload_now(&live_tx, &status),
        }
    }
    notify(&[NotifyState::Stopping]);
    info!("shutting down");
    token.cancel();
    stop_tasks(tasks, SHUTDOWN_GRACE).await;
    if let Ok(s) = Store::open(&config.store.path, &config.store.data_dir) {
        let now = chrono::Utc::now();
        let _ = daemon_state::set(s.conn(), "daemon_stopped_at", &crate::store::ts(now), now);
    }
    info!("stopped");
    Ok(())
}

/// SIGHUP: a whole new configuration and templates, or the running ones
/// kept; systemd hears RELOADING=1 and READY=1 around it.
fn reload_now(live: &watch::Sender<Settings>, status: &str) {
    match NotifyState::monotonic_usec_now() {
        Ok(m) => notify(&[NotifyState::Reloading, m]),
        Err(_) => notify(&[NotifyState::Reloading]),
    }
    let current = live.borrow().clone();
    match reload::reload(&current.config) {
        Ok(r) => {
            if r.changed.is_empty() {
                info!("configuration reloaded: templates re-read, nothing else changed");
            } else {
                info!(changed = %r.changed.join(", "), "configuration reloaded; templates re-read");
            }
            if !r.restart.is_empty() {
                warn!(sections = %r.restart.join(", "), "these changes take effect only after a restart");
            }
            live.send_replace(r.settings);
        }
        Err(e) => error!(
            error = %format!("{e:#}"),
            "reload refused: the new configuration is invalid; keeping the running one"
        ),
    }
    notify(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// Records in the store that this process runs (for `secdesk status`).
fn record_start(store: &Store) -> Result<()> {
    let now = chrono::Utc::now();
    daemon_state::set(
        store.conn(),
        "daemon_pid",
        &std::process::id().to_string(),
        now,
    )?;
    daemon_state::set(
        store.conn(),
        "daemon_started_at",
        &crate::store::ts(now),
        now,
    )?;
    daemon_state::clear(store.conn(), "daemon_stopped_at")
}

/// Waits up to `grace` for the tasks to return (each finishes the
/// transaction in hand), then aborts those still running and says which:
/// safe, because every step they take is a committed transaction.
async fn stop_tasks(tasks: Vec<(&'static str, JoinHandle<()>)>, grace: Duration) {
    let deadline = tokio::time::Instant::now() + grace;
    for (name, mut handle) in tasks {
        match tokio::time::timeout_at(deadline, &mut handle).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => error!(task = name, error = %e, "task failed"),
            Err(_) => {
                handle.abort();
                warn!(
                    task = name,
                    "still running {}s after shutdown began; aborted",
                    grace.as_secs()
                );
            }
        }
    }
}
