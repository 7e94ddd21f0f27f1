//! The outbox worker: sends queued mail oldest first, exactly as queued.
//!
//! A row is marked sent only after the SMTP server accepted it (DESIGN.md
//! invariant 3); a crash in between resends the same message with the same
//! Message-ID — the documented resend window. 4xx answers, network errors
//! and timeouts retry with a jittered exponential backoff; a 5xx is a
//! permanent failure recorded on the case and logged at warn. lettre's own
//! timeout covers only the connect, so every send runs under
//! `tokio::time::timeout(smtp.timeout)`.

pub mod message;
pub mod smtp;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{info, info_span, warn, Instrument};

use crate::clock::Clock;
use crate::config::SmtpConfig;
use crate::store::outbox::{self as queue, QueuedMail};
use crate::store::SharedStore;

/// How often the worker looks for due rows when nothing wakes it.
const POLL: Duration = Duration::from_secs(2);

/// How often it asks SQLite whether another process committed (`PRAGMA
/// data_version`: a `secdesk ingest` from an MTA pipe, a lead's `reply`):
/// a report piped in is acknowledged within tens of milliseconds, and the
/// question costs a few microseconds.
const WATCH: Duration = Duration::from_millis(50);

/// Retry schedule for transient failures: first wait and cap.
const RETRY_START: Duration = Duration::from_secs(2);
const RETRY_MAX: Duration = Duration::from_secs(15 * 60);

/// How one send ended.
#[derive(Debug)]
pub enum SendOutcome {
    Sent,
    Retry(String),
    Permanent(String),
}

/// The wait before attempt `attempts + 1` of a row: doubling from
/// `RETRY_START`, capped at `RETRY_MAX`, jittered ±50%.
pub fn retry_delay(attempts: u32) -> Duration {
    crate::backoff::nth(RETRY_START, RETRY_MAX, attempts)
}

/// The outbox task's state.
pub struct Outbox {
    /// The reloadable configuration (SIGHUP swaps it): the project name and
    /// the rate limits held acknowledgements are released by.
    pub live: tokio::sync::watch::Receiver<crate::settings::Settings>,
    pub smtp: SmtpConfig,
    pub store: SharedStore,
    pub clock: Clock,
    pub client: smtp::SmtpClient,
    pub wake: Arc<Notify>,
    pub health: Arc<crate::daemon::systemd::Health>,
}

impl Outbox {
    /// Sends until `shutdown`; a send in flight is finished (and marked)
    /// before returning.
    pub async fn run(mut self, shutdown: CancellationToken) {
        loop {
            if shutdown.is_cancelled() {
                return;
            }
            self.health.outbox_beat();
            match self.step().await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => warn!(error = %format!("{e:#}"), "outbox"),
            }
            let now = self.clock.now();
            let wait = self
                .store
                .run(|s| queue::next_due_at(s.conn()))
                .await
                .ok()
                .flatten()
                .map(|due| (due - now).to_std().unwrap_or(Duration::ZERO))
                .unwrap_or(POLL)
                .min(POLL);
            let seen = self.data_version().await;
            let others_wrote = async {
                loop {
                    tokio::time::sleep(WATCH).await;
                    if self.data_version().await != seen {
                        return;
                    }
                }
            };
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = others_wrote => {}
                _ = shutdown.cancelled() => return,
            }
        }
    }

    /// SQLite's count of commits by other connections to the store (`None`
    /// if it cannot be read: the 2-second poll still runs).
    async fn data_version(&self) -> Option<i64> {
        self.store
            .run(|s| {
                Ok(s.conn()
                    .query_row("PRAGMA data_version", [], |r| r.get::<_, i64>(0))?)
            })
            .await
            .ok()
    }

    /// Sends the oldest due row, if any; true if there was one.
    async fn step(&mut self) -> Result<bool> {
        let now = self.clock.now();
        let config = self.live.borrow().config.clone();
        if self.store.run(|s| queue::any_held(s.conn())).await? {
            let limits = config.limits.clone();
            let r = self
                .store
                .run(move |s| s.write(|tx| queue::release_held_acks(tx, &limits, now)))
                .await?;
            if r.released + r.cancelled > 0 {
                info!(
                    released = r.released,
                    cancelled = r.cancelled,
                    "held acknowledgements"
                );
            }
        }
        let Some(m) = self
            .store
            .run(move |s| queue::next_due(s.conn(), now))
            .await?
        else {
            return Ok(false);
        };
        let span = info_span!("send", case = m.case_id.as_deref().unwrap_or("-"), kind = %m.kind, row = m.id);
        let from_name = self
            .smtp
            .from_name
            .clone()
            .unwrap_or_else(|| format!("{} security team", config.project.name));
        let outcome = send(&mut self.client, &self.smtp, &from_name, &m)
            .instrument(span.clone())
            .await;
        let now = self.clock.now();
        match outcome {
            SendOutcome::Sent => {
                crate::failpoint::hit("after_smtp_accept");
                self.store
                    .run(move |s| s.write(|tx| queue::mark_sent(tx, &m, now)))
                    .instrument(span.clone())
                    .await?;
                let _e = span.enter();
                info!(outcome = "sent", "mail accepted by the SMTP server");
            }
            SendOutcome::Retry(err) => {
                let (attempts, delay) = (m.attempts + 1, retry_delay(m.attempts));
                let next = now + chrono::Duration::from_std(delay).unwrap_or_default();
                let e = err.clone();
                self.store
                    .run(move |s| s.write(|tx| queue::mark_retry(tx, &m, next, &e)))
                    .await?;
                let _e = span.enter();
                warn!(outcome = "retry", attempts, retry_in_s = delay.as_secs(), error = %err, "send failed, will retry");
            }
            SendOutcome::Permanent(err) => {
                let e = err.clone();
                self.store
                    .run(move |s| s.write(|tx| queue::mark_failed(tx, &m, &e, now)))
                    .await?;
                let _e = span.enter();
                warn!(outcome = "failed", error = %err, "send failed permanently");
            }
        }
        Ok(true)
    }
}

/// Sends one row under the SMTP timeout and says how it went.
pub async fn send(
    client: &mut smtp::SmtpClient,
    smtp: &SmtpConfig,
    from_name: &str,
    m: &QueuedMail,
) -> SendOutcome {
    let msg = match message::build(m, &smtp.from, from_name) {
        Ok(msg) => msg,
        Err(e) => return SendOutcome::Permanent(format!("{e:#}")),
    };
    match tokio::time::timeout(smtp.timeout, client.send(&msg)).await {
        Err(_) => SendOutcome::Retry(format!(
            "SMTP send timed out after {}s",
            smtp.timeout.as_secs()
        )),
        Ok(Ok(())) => SendOutcome::Sent,
        Ok(Err(smtp::SendError::Permanent(e))) => SendOutcome::Permanent(e),
        Ok(Err(smtp::SendError::Transient(e))) => SendOutcome::Retry(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_grow_and_cap() {
        for (attempts, base) in [(0u32, 2u64), (1, 4), (3, 16), (20, 900)] {
            let d = retry_delay(attempts);
            let b = Duration::from_secs(base);
            assert!(
                d >= b.mul_f64(0.5) && d < b.mul_f64(1.5),
                "{attempts}: {d:?}"
            );
        }
    }
}
