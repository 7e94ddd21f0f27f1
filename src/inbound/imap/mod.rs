//! IMAP intake: keeps the security inbox read, forever.
//!
//! One session at a time, passed by value through the loop (after
//! chatmail): connect ([`mod@connect`]) → sync ([`sync`]) → wait ([`idle`], or
//! a poll interval) → sync … Any error drops the session; the outer loop
//! reconnects after a jittered exponential backoff, so reconnect logic lives
//! in one place. Every network operation has a timeout. The whole session
//! races the shutdown token (as mini-redis does): on shutdown it is dropped
//! wherever it is, which is safe because everything it files commits in a
//! transaction of its own. secdesk never deletes or expunges mail.

pub mod connect;
pub mod idle;
pub mod sync;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::backoff::Backoff;
use crate::clock::Clock;
use crate::config::ImapConfig;
use crate::store::{daemon_state, SharedStore};
use connect::{connect, timed};
use idle::{drain_exists, idle_wait, IDLE_REISSUE};

/// Reconnect backoff: first wait, and the cap.
const BACKOFF_START: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(60);

/// The intake task's state.
pub struct Intake {
    /// The reloadable configuration and templates (SIGHUP swaps them).
    pub live: tokio::sync::watch::Receiver<crate::settings::Settings>,
    /// The IMAP settings the session was started with.
    pub imap: ImapConfig,
    pub store: SharedStore,
    pub clock: Clock,
    /// Woken after every filed message: acknowledgements are waiting.
    pub outbox_wake: Arc<Notify>,
    pub health: Arc<crate::daemon::systemd::Health>,
}

impl Intake {
    /// Runs until `shutdown` fires.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut backoff = Backoff::new(BACKOFF_START, BACKOFF_MAX);
        // The error last logged and recorded: a wrong password fails the
        // same way every minute, and the log and status say so once, from
        // when it started, until it changes.
        let mut last_error: Option<String> = None;
        loop {
            self.health.intake_beat();
            let ended = tokio::select! {
                r = self.session(&mut backoff, &mut last_error) => r,
                _ = shutdown.cancelled() => return,
            };
            let Err(e) = ended;
            let wait = backoff.next_wait();
            let text = format!("{e:#}");
            if last_error.as_deref() == Some(text.as_str()) {
                debug!(error = %text, retry_in_ms = wait.as_millis() as u64, "IMAP session ended again");
            } else {
                warn!(error = %text, retry_in_ms = wait.as_millis() as u64, "IMAP session ended");
                let now = self.clock.now();
                let recorded_text = text.clone();
                let recorded = self
                    .store
                    .run(move |s| daemon_state::set(s.conn(), "intake_error", &recorded_text, now))
                    .await;
                if let Err(r) = recorded {
                    warn!(error = %format!("{r:#}"), "could not record the IMAP error for status");
                }
                last_error = Some(text);
            }
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.cancelled() => return,
            }
        }
    }

    /// One session, until it fails (shutdown drops it from outside).
    async fn session(
        &mut self,
        backoff: &mut Backoff,
        last_error: &mut Option<String>,
    ) -> Result<std::convert::Infallible> {
        let mut session = connect(&self.imap).await?;
        let t = self.imap.timeout;
        let caps = timed(t, "CAPABILITY", async {
            session.capabilities().await.context("CAPABILITY")
        })
        .await?;
        let idle = self.imap.idle && caps.has_str("IDLE");
        info!(
            host = %self.imap.host,
            mailbox = %self.imap.mailbox,
            mode = if idle { "idle" } else { "poll" },
            "IMAP session open"
        );
        let now = self.clock.now();
        let mode = if idle { "idle" } else { "poll" };
        self.store
            .run(move |s| daemon_state::set(s.conn(), "intake_mode", mode, now))
            .await?;
        let mailbox = self.imap.mailbox.clone();
        let sent = self.imap.sent_mailbox.clone();
        loop {
            // The Sent folder first, so the inbox is the one selected for IDLE.
            if let Some(sent) = &sent {
                let synced = sync::sync_mailbox(&mut session, self, sent, true).await?;
                if synced.filed > 0 {
                    info!(mailbox = %sent, filed = synced.filed, "sent mailbox synced");
                }
            }
            let synced = sync::sync_mailbox(&mut session, self, &mailbox, false).await?;
            if synced.filed > 0 {
                info!(
                    filed = synced.filed,
                    new_cases = synced.new_cases,
                    "mailbox synced"
                );
            }
            backoff.reset();
            *last_error = None;
            self.health.intake_beat();
            self.store
                .run(|s| daemon_state::clear(s.conn(), "intake_error"))
                .await?;
            // New mail may have been announced while we fetched.
            if drain_exists(&session) {
                continue;
            }
            if idle {
                // IDLE watches the inbox only; with a Sent folder to follow,
                // come back for it every poll_interval.
                let reissue = match sent {
                    Some(_) => IDLE_REISSUE.min(self.imap.poll_interval),
                    None => IDLE_REISSUE,
                };
                session = idle_wait(session, t, reissue).await?;
            } else {
                tokio::time::sleep(self.imap.poll_interval).await;
            }
        }
    }
}
