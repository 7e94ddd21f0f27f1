//! `secdesk run`: wires the long-running tasks — IMAP intake, the outbox
//! worker and the reminder scheduler — and owns the one shutdown path.
//!
//! Each task gets its own store connection (SQLite serialises the writers)
//! and a clone of one `CancellationToken`. Shutdown cancels the token; each
//! loop finishes the transaction in hand and returns; after a bound the rest
//! is abandoned — safe, because every step is a committed transaction.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::config::{Config, ConfigError};
use crate::intake::Intake;
use crate::outbox::{self, Outbox};
use crate::schedule::Scheduler;
use crate::store::Store;
use crate::templates::Templates;

/// How long shutdown waits for the tasks before giving up on them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(8);

fn missing_section(cfg: &Config, section: &str) -> ConfigError {
    ConfigError {
        key: section.to_string(),
        problem: "section missing: `secdesk run` needs it".into(),
        source_name: cfg.path.display().to_string(),
    }
}

/// Runs the daemon until `shutdown` completes.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<()> {
    let imap = config
        .imap
        .clone()
        .ok_or_else(|| missing_section(&config, "imap"))?;
    let smtp = config
        .smtp
        .clone()
        .ok_or_else(|| missing_section(&config, "smtp"))?;
    let templates = Arc::new(Templates::load(config.templates.dir.as_deref())?);
    let config = Arc::new(config);
    let open = || {
        Store::open(&config.store.path, &config.store.data_dir)
            .with_context(|| format!("opening the store {}", config.store.path.display()))
    };
    let intake_store = open()?;
    let outbox_store = open()?;
    let schedule_store = open()?;
    let transport = outbox::transport(&smtp)?;
    let wake = Arc::new(Notify::new());

    let token = CancellationToken::new();
    let tracker = TaskTracker::new();
    tracker.spawn(
        Intake {
            config: config.clone(),
            imap,
            templates: templates.clone(),
            store: intake_store,
            outbox_wake: wake.clone(),
        }
        .run(token.clone()),
    );
    tracker.spawn(
        Outbox {
            config: config.clone(),
            smtp,
            store: outbox_store,
            transport,
            wake: wake.clone(),
        }
        .run(token.clone()),
    );
    tracker.spawn(
        Scheduler {
            config: config.clone(),
            templates: templates.clone(),
            store: schedule_store,
            outbox_wake: wake.clone(),
        }
        .run(token.clone()),
    );
    tracker.close();
    info!(store = %config.store.path.display(), "secdesk running");

    shutdown.await;
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
    info!("stopped");
    Ok(())
}
