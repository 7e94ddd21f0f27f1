//! IMAP intake: keeps the security inbox read, forever.
//!
//! One session at a time, passed by value through the loop (after
//! chatmail): connect → sync → wait (IDLE, or a poll interval) → sync … Any
//! error drops the session; the outer loop reconnects after a jittered
//! exponential backoff, so reconnect logic lives in one place. Every network
//! operation has a timeout. secdesk never deletes or expunges mail.

pub mod connect;
pub mod sync;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::backoff::Backoff;
use crate::config::ImapConfig;
use crate::store::Store;
use connect::{connect, timed, ImapSession};

/// Re-issue IDLE this often. RFC 2177 lets servers drop an IDLE after 30
/// minutes (29 is the usual client limit); 10 minutes stays well inside it
/// and also catches a connection that died without a FIN.
pub const IDLE_REISSUE: Duration = Duration::from_secs(10 * 60);

/// Give up on an IDLE that has heard nothing for this long. Dovecot sends
/// `* OK Still here` every 2 minutes by default, so silence beyond this
/// means the connection is gone.
const IDLE_SILENCE: Duration = Duration::from_secs(5 * 60);

/// Reconnect backoff: first wait, and the cap.
const BACKOFF_START: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(60);

/// Runs a blocking store operation from async code without stalling the
/// other tasks on this worker thread.
pub fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

/// The intake task's state.
pub struct Intake {
    /// The reloadable configuration and templates (SIGHUP swaps them).
    pub live: tokio::sync::watch::Receiver<crate::settings::Settings>,
    /// The IMAP settings the session was started with.
    pub imap: ImapConfig,
    pub store: Store,
    /// Woken after every filed message: acknowledgements are waiting.
    pub outbox_wake: Arc<Notify>,
    pub health: Arc<crate::daemon::systemd::Health>,
}

impl Intake {
    /// Runs until `shutdown` fires.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut backoff = Backoff::new(BACKOFF_START, BACKOFF_MAX);
        loop {
            if shutdown.is_cancelled() {
                return;
            }
            self.health.intake_beat();
            match self.session(&shutdown, &mut backoff).await {
                Ok(()) => return,
                Err(e) => {
                    let wait = backoff.next_wait();
                    let text = format!("{e:#}");
                    let _ = blocking(|| {
                        crate::store::daemon_state::set(
                            self.store.conn(),
                            "intake_error",
                            &text,
                            chrono::Utc::now(),
                        )
                    });
                    warn!(error = %format!("{e:#}"), retry_in_ms = wait.as_millis() as u64, "IMAP session ended");
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = shutdown.cancelled() => return,
                    }
                }
            }
        }
    }

    /// One session: returns `Ok` only on shutdown.
    async fn session(&mut self, shutdown: &CancellationToken, backoff: &mut Backoff) -> Result<()> {
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
        blocking(|| {
            crate::store::daemon_state::set(
                self.store.conn(),
                "intake_mode",
                if idle { "idle" } else { "poll" },
                chrono::Utc::now(),
            )
        })?;
        let mailbox = self.imap.mailbox.clone();
        let sent = self.imap.sent_mailbox.clone();
        loop {
            // The Sent folder first, so the inbox is the one selected for IDLE.
            if let Some(sent) = &sent {
                let synced = sync::sync_mailbox(&mut session, self, sent, true, shutdown).await?;
                if synced.filed > 0 {
                    info!(mailbox = %sent, filed = synced.filed, "sent mailbox synced");
                }
            }
            let synced = sync::sync_mailbox(&mut session, self, &mailbox, false, shutdown).await?;
            if synced.filed > 0 {
                info!(
                    filed = synced.filed,
                    new_cases = synced.new_cases,
                    "mailbox synced"
                );
            }
            backoff.reset();
            self.health.intake_beat();
            blocking(|| crate::store::daemon_state::clear(self.store.conn(), "intake_error"))?;
            if shutdown.is_cancelled() {
                let _ = timed(t, "LOGOUT", async { Ok(session.logout().await?) }).await;
                return Ok(());
            }
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
                session = idle_wait(session, t, reissue, shutdown).await?;
            } else {
                tokio::select! {
                    _ = tokio::time::sleep(self.imap.poll_interval) => {}
                    _ = shutdown.cancelled() => {}
                }
            }
        }
    }
}

/// Empties the unsolicited-response channel; true if it held new mail news.
fn drain_exists(session: &ImapSession) -> bool {
    let mut news = false;
    while let Ok(r) = session.unsolicited_responses.try_recv() {
        if matches!(
            r,
            async_imap::types::UnsolicitedResponse::Exists(_)
                | async_imap::types::UnsolicitedResponse::Recent(_)
        ) {
            news = true;
        }
    }
    news
}

/// Waits in IDLE until the server reports a change, `reissue` passes (at
/// most [`IDLE_REISSUE`]), or shutdown; then ends IDLE and hands the session back.
async fn idle_wait(
    session: ImapSession,
    t: Duration,
    reissue: Duration,
    shutdown: &CancellationToken,
) -> Result<ImapSession> {
    let mut handle = session.idle();
    timed(t, "IDLE", async {
        handle.init().await.context("starting IDLE")
    })
    .await?;
    let (wait, stop) = handle.wait_with_timeout(IDLE_SILENCE);
    let stopper = {
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = tokio::time::sleep(reissue) => {}
                _ = shutdown.cancelled() => {}
            }
            drop(stop);
        })
    };
    let outcome = wait.await;
    stopper.abort();
    let response = outcome.context("waiting in IDLE")?;
    if let async_imap::extensions::idle::IdleResponse::Timeout = response {
        anyhow::bail!(
            "IDLE: no word from the server for {}s",
            IDLE_SILENCE.as_secs()
        );
    }
    timed(t, "ending IDLE", async {
        handle.done().await.context("DONE")
    })
    .await
}
