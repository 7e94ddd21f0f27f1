//! Life as a systemd service: readiness, status, reload and stop
//! notifications, and a watchdog that is fed only when the loops progress.
//!
//! A free-running watchdog timer would prove only that the runtime is
//! alive. Instead intake and the outbox record a heartbeat each time round
//! their loops, and the pinger sends `WATCHDOG=1` only while both are
//! recent: a wedged database, a hung SMTP send or an IMAP session that
//! stopped answering starve the watchdog and systemd restarts us.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sd_notify::NotifyState;
use tokio_util::sync::CancellationToken;
use tracing::warn;

/// Sends one notification; quiet when not run by systemd.
pub fn notify(states: &[NotifyState<'_>]) {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    if let Err(e) = sd_notify::notify(states) {
        warn!(error = %e, "could not notify systemd");
    }
}

/// How stale a heartbeat may be before the watchdog is starved. Intake's
/// longest legitimate wait is an IDLE re-issue (10 min) plus its timeouts.
pub const INTAKE_STALE: Duration = Duration::from_secs(15 * 60);
/// The outbox goes round at least every few seconds, a send at most
/// `smtp.timeout` long.
pub const OUTBOX_STALE: Duration = Duration::from_secs(5 * 60);

/// Heartbeats of the long-running loops (unix seconds).
#[derive(Debug, Default)]
pub struct Health {
    intake: AtomicI64,
    outbox: AtomicI64,
}

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

impl Health {
    pub fn new() -> Arc<Health> {
        let h = Health::default();
        h.intake.store(now_secs(), Ordering::Relaxed);
        h.outbox.store(now_secs(), Ordering::Relaxed);
        Arc::new(h)
    }
    pub fn intake_beat(&self) {
        self.intake.store(now_secs(), Ordering::Relaxed);
    }
    pub fn outbox_beat(&self) {
        self.outbox.store(now_secs(), Ordering::Relaxed);
    }
    /// Whether every loop has beaten recently enough.
    pub fn alive(&self, outbox_stale: Duration) -> bool {
        let now = now_secs();
        now - self.intake.load(Ordering::Relaxed) < INTAKE_STALE.as_secs() as i64
            && now - self.outbox.load(Ordering::Relaxed) < outbox_stale.as_secs() as i64
    }
}

/// Feeds the systemd watchdog (if `WatchdogSec` is set) at a third of its
/// period, while [`Health::alive`].
pub async fn watchdog(health: Arc<Health>, shutdown: CancellationToken) {
    let Some(period) = sd_notify::watchdog_enabled() else {
        return;
    };
    let tick = (period / 3).max(Duration::from_millis(100));
    // A watchdog shorter than the outbox's own limit would fire on a slow
    // send; keep the staleness limit inside the period.
    let outbox_stale = OUTBOX_STALE.min(period);
    loop {
        if health.alive(outbox_stale) {
            notify(&[NotifyState::Watchdog]);
        } else {
            warn!("a loop has made no progress; not feeding the watchdog");
        }
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_loop_starves_the_watchdog() {
        let h = Health::new();
        assert!(h.alive(OUTBOX_STALE));
        h.outbox.store(now_secs() - 600, Ordering::Relaxed);
        assert!(!h.alive(OUTBOX_STALE));
        h.outbox_beat();
        h.intake.store(now_secs() - 3600, Ordering::Relaxed);
        assert!(!h.alive(OUTBOX_STALE));
    }
}
