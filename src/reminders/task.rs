//! The reminder task: a scan in one transaction on every `sla.scan` tick
//! (and once at start, to catch up after downtime). The thresholds, their
//! events and the digests commit together, and the store's primary key on
//! (case, threshold) makes each fire once — whatever the timing, however
//! often the daemon restarts.

use std::sync::Arc;

use anyhow::Result;
use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::plan::{compose, digests, escalates, firings};
use crate::case::sla::{human_duration, Threshold};
use crate::clock::Clock;
use crate::config::Config;
use crate::mail::compose::OutgoingMail;
use crate::store::reminders::{self as rows, Wait};
use crate::store::{daemon_state, outbox, record_event, ts, SharedStore, Store};
use crate::templates::Templates;

/// Runs one scan at `now`: records what fires and queues the mails (or,
/// with `dry_run`, only says what it would queue).
pub fn scan(
    store: &mut Store,
    cfg: &Config,
    templates: &Templates,
    now: DateTime<Utc>,
    dry_run: bool,
) -> Result<Vec<OutgoingMail>> {
    if dry_run {
        let cases = rows::awaiting_response_in(store.conn(), cfg.team.timezone)?;
        let fired = firings(&cases, now, cfg);
        return digests(&fired, now, cfg)
            .iter()
            .map(|n| compose(n, cfg, templates, "dry-run"))
            .collect();
    }
    store.write(|tx| {
        let cases = rows::awaiting_response_in(tx, cfg.team.timezone)?;
        let mut fired = Vec::new();
        for (c, f) in firings(&cases, now, cfg) {
            let prefix = c.wait.key_prefix();
            if !rows::record_threshold(tx, &c.id, &format!("{prefix}{}", f.fire.key()), now, true)?
            {
                continue;
            }
            for s in &f.skip {
                rows::record_threshold(tx, &c.id, &format!("{prefix}{}", s.key()), now, false)?;
            }
            let deadline = match &c.wait {
                Wait::First => "the response deadline".to_string(),
                Wait::Turn { n, .. } => format!("the deadline of follow-up turn {n}"),
                Wait::Embargo { until, .. } => format!("the disclosure date {until}"),
            };
            let (kind, what) = match f.fire {
                Threshold::Escalate if escalates(&c, &f) => {
                    ("escalation_queued", format!("{deadline} passed"))
                }
                Threshold::Escalate => ("reminder_queued", format!("{deadline} passed")),
                Threshold::Remind(d) => (
                    "reminder_queued",
                    format!("{} before {deadline}", human_duration(d.as_secs() as i64)),
                ),
            };
            record_event(tx, Some(&c.id), now, kind, "secdesk", &what)?;
            fired.push((c, f));
        }
        let mut mails = Vec::new();
        for n in digests(&fired, now, cfg) {
            let token = format!("{:016x}", rand::random::<u64>());
            let mail = compose(&n, cfg, templates, &token)?;
            outbox::enqueue(tx, &mail, now)?;
            mails.push(mail);
        }
        Ok(mails)
    })
}

/// The scheduler task: a scan at start, then one per `sla.scan` tick.
pub struct Scheduler {
    /// The reloadable configuration and templates (SIGHUP swaps them).
    pub live: tokio::sync::watch::Receiver<crate::settings::Settings>,
    pub store: SharedStore,
    pub clock: Clock,
    pub outbox_wake: Arc<Notify>,
}

impl Scheduler {
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            // The configuration of this tick: a reload changes the next one.
            let live = self.live.borrow().clone();
            let now = self.clock.now();
            let settings = live.clone();
            let scanned = self
                .store
                .run(move |s| {
                    let mails = scan(s, &settings.config, &settings.templates, now, false)?;
                    // For `status`, and for tests that wait for a tick.
                    daemon_state::set(s.conn(), "reminders_scanned_at", &ts(now), now)?;
                    Ok(mails)
                })
                .await;
            match scanned {
                Ok(mails) if !mails.is_empty() => {
                    info!(mails = mails.len(), "reminders queued");
                    self.outbox_wake.notify_one();
                }
                Ok(_) => {}
                Err(e) => warn!(error = %format!("{e:#}"), "reminder scan failed"),
            }
            let next = live.config.sla.scan.after(&self.clock.now()).next();
            let Some(next) = next else {
                // Validated at load; never expected. Scan again in a minute.
                warn!("sla.scan gives no next time; scanning again in 60s");
                tokio::select! {
                    _ = tokio::time::sleep(std::time::Duration::from_secs(60)) => {}
                    _ = shutdown.cancelled() => return,
                }
                continue;
            };
            let wait = (next - self.clock.now()).to_std().unwrap_or_default();
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.cancelled() => return,
            }
        }
    }
}
