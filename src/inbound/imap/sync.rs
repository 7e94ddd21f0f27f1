//! One pass over one mailbox: everything above the high-water mark is
//! fetched and filed, in UID order, one transaction per fetched batch.
//!
//! Invariant 1 of DESIGN.md lives here: the mark advances in the same
//! transaction that records the messages, so a crash before a commit means
//! they are fetched again, and after it, never. Sizes are checked
//! before bodies are fetched: an oversized message is recorded from the
//! start of its header block (a partial fetch) and left on the server.
//! Bodies are fetched with `BODY.PEEK[]`, so nothing is marked \Seen, and
//! nothing is ever deleted or expunged.
//!
//! Memory is bounded by `store.max_message_size` (review issue 10, finding
//! 5): a batch holds at most [`batch_budget`] bytes of fetched mail, and an
//! oversized message costs only the bytes of its header block fetched.

use std::collections::HashMap;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use tracing::{debug, info, info_span, warn};

use super::connect::{timed, ImapSession};
use super::Intake;
use crate::config::HistoryMode;
use crate::config::ImapConfig;
use crate::inbound::pipeline::{
    file_in, log_filed, prepare, prepare_oversized, IngestResult, Prepared,
};
use crate::inbound::plan::Outcome;
use crate::mail::headers::DESCRIBE_BYTES;
use crate::settings::Settings;
use crate::store::mailboxes::{self, MailboxState};
use crate::store::messages::Origin;
use crate::store::record_event;

/// Most bytes fetched in one batch, whatever `batch_size` says: a batch of
/// large messages is held in memory whole until it is filed.
const MAX_BATCH_BYTES: u64 = 32 * 1024 * 1024;

/// How much of an oversized message's header block is fetched: what
/// [`parse_headers`](crate::mail::parse::parse_headers) reads to describe
/// it. A partial fetch, `BODY.PEEK[HEADER]<0.N>` (RFC 3501 §6.4.5): the
/// server sends at most N octets, however large the block.
const HEADER_FETCH_BYTES: u64 = DESCRIBE_BYTES as u64;

/// The byte budget of one batch under `max` (`store.max_message_size`):
/// at most `max`, and never more than `MAX_BATCH_BYTES`. While a batch is
/// filed it is in memory whole, next to the message being parsed (up to
/// about twice its size again) and, while fetching, async-imap's buffer of
/// the message arriving; a budget of `max` keeps that within the bound of
/// 4 × max + 32 MB whatever the limit. Measured (scripts/bench, the daemon's
/// VmHWM): with max = 5 MB, six 4.9 MB messages peaked at 51 MB under the
/// fixed 32 MiB budget (bound 52 MB) and at 27 MB under this one; with the
/// default 25 MB both stay near 76–83 MB (bound 132 MB).
pub fn batch_budget(max: u64) -> u64 {
    MAX_BATCH_BYTES.min(max.max(HEADER_FETCH_BYTES))
}

/// What a listed message costs in the batch budget: its size, or for an
/// oversized one the most of its header block that is fetched.
fn batch_cost(m: &Listed, max: u64) -> u64 {
    if m.size > max {
        m.size.min(HEADER_FETCH_BYTES)
    } else {
        m.size
    }
}

/// A message seen in the listing, before its body is fetched.
#[derive(Debug, Clone, Copy)]
struct Listed {
    uid: u32,
    size: u64,
    internal_date: Option<DateTime<Utc>>,
    /// There before secdesk first met the mailbox.
    history: bool,
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Synced {
    pub filed: usize,
    pub new_cases: usize,
}

/// Brings `mailbox` up to date, one committed batch at a time (shutdown
/// may drop this between any two of them).
pub async fn sync_mailbox(
    session: &mut ImapSession,
    intake: &mut Intake,
    mailbox: &str,
    sent: bool,
) -> Result<Synced> {
    let t = intake.imap.timeout;
    // One configuration for the whole pass, even if a reload lands mid-way.
    let live = intake.live.borrow().clone();
    let selected = timed(t, &format!("SELECT {mailbox:?}"), async {
        session
            .select(mailbox)
            .await
            .with_context(|| format!("selecting mailbox {mailbox:?}"))
    })
    .await?;
    let uidvalidity = selected.uid_validity.unwrap_or(0);
    let state = resume_from(intake, mailbox, uidvalidity, selected.uid_next).await?;

    let mut synced = Synced::default();
    if selected.exists == 0 {
        mark_synced(intake, mailbox).await?;
        return Ok(synced);
    }

    let mut listed = list_above(session, t, state.last_uid).await?;
    let since = intake.imap.since;
    for m in &mut listed {
        m.history = state.is_history(m.uid, m.internal_date, since);
    }
    // `history = "skip"`: what was there before is left alone, unfetched;
    // the mark passes it once the newer mail is filed.
    debug!(
        mailbox,
        above = state.last_uid,
        listed = listed.len(),
        history = listed.iter().filter(|m| m.history).count(),
        "listed"
    );
    let skipped_up_to = match intake.imap.history {
        HistoryMode::Skip => {
            let top = listed.iter().filter(|m| m.history).map(|m| m.uid).max();
            listed.retain(|m| !m.history);
            top
        }
        HistoryMode::Import => None,
    };
    if !listed.is_empty() {
        info!(mailbox, count = listed.len(), "new messages");
    }
    let max = live.config.store.max_message_size;
    let budget = batch_budget(max);
    let batch_size = intake.imap.batch_size as usize;
    let mut i = 0;
    while i < listed.len() {
        // A batch: up to batch_size messages and `budget` bytes, at least one.
        let mut batch = Vec::new();
        let mut bytes = 0u64;
        while i < listed.len() && batch.len() < batch_size {
            let m = listed[i];
            let cost = batch_cost(&m, max);
            if !batch.is_empty() && bytes + cost > budget {
                break;
            }
            bytes += cost;
            batch.push(m);
            i += 1;
        }
        let whole: Vec<u32> = batch
            .iter()
            .filter(|m| m.size <= max)
            .map(|m| m.uid)
            .collect();
        let oversized: Vec<u32> = batch
            .iter()
            .filter(|m| m.size > max)
            .map(|m| m.uid)
            .collect();
        let bodies = fetch_section(session, t, &whole, "BODY.PEEK[]", false).await?;
        let header_section = format!("BODY.PEEK[HEADER]<0.{HEADER_FETCH_BYTES}>");
        let headers = fetch_section(session, t, &oversized, &header_section, true).await?;

        // Parse and keep each message's bytes, then file the whole batch in
        // one transaction (one commit, one fsync, per batch).
        let filed = file_batch(
            intake,
            &live,
            mailbox,
            sent,
            uidvalidity,
            batch,
            bodies,
            headers,
        )
        .await?;
        crate::failpoint::hit("after_commit");
        let mut committed = Vec::with_capacity(filed.len());
        for (uid, p, r) in &filed {
            let _span = info_span!("message", mailbox, uid = *uid).entered();
            log_filed(p, r);
            synced.filed += 1;
            if r.outcome == Outcome::NewCase {
                synced.new_cases += 1;
            }
            committed.push(*uid);
        }
        drop(filed);
        // Acks are queued by now: wake the outbox.
        intake.outbox_wake.notify_one();
        if !sent {
            move_processed(session, &intake.imap, &committed).await;
        }
    }
    if let Some(uid) = skipped_up_to {
        skip_to(intake, mailbox, uidvalidity, uid).await?;
    }
    mark_synced(intake, mailbox).await?;
    Ok(synced)
}

/// Moves the mark past history left unfiled (`history = "skip"`): only once
/// everything newer below it has committed, so nothing is skipped that
/// should be filed.
async fn skip_to(intake: &Intake, mailbox: &str, uidvalidity: u32, uid: u32) -> Result<()> {
    let (now, origin) = (
        intake.clock.now(),
        Origin::Imap {
            mailbox: mailbox.to_string(),
            uidvalidity,
            uid,
            sent: false,
            history: true,
        },
    );
    intake
        .store
        .run(move |s| s.write(|tx| mailboxes::advance_mailbox(tx, &origin, now)))
        .await
}

/// Records a completed pass over `mailbox` (for `secdesk status`).
async fn mark_synced(intake: &Intake, mailbox: &str) -> Result<()> {
    let (mb, now) = (mailbox.to_string(), intake.clock.now());
    intake
        .store
        .run(move |s| s.write(|tx| mailboxes::mark_synced(tx, &mb, now)))
        .await
}

/// Where this pass starts: the stored state of `mailbox` (its high-water
/// mark and history boundary). A mailbox never seen before starts at 0 with
/// everything below its UIDNEXT, and everything that arrived before now, as
/// history (DESIGN.md, "Day one"); after a UIDVALIDITY change it starts
/// again at 0 — a full rescan in which dedup skips what is already filed
/// (invariant 1) and only the arrival-time boundary of history holds.
async fn resume_from(
    intake: &Intake,
    mailbox: &str,
    uidvalidity: u32,
    uid_next: Option<u32>,
) -> Result<MailboxState> {
    let now = intake.clock.now();
    let mb = mailbox.to_string();
    intake
        .store
        .run(move |store| {
            match mailboxes::mailbox_state(store.conn(), &mb)? {
                Some(s) if s.uidvalidity == uidvalidity => {}
                Some(s) => {
                    warn!(
                        mailbox = %mb,
                        old = s.uidvalidity,
                        new = uidvalidity,
                        "UIDVALIDITY changed: rescanning, duplicates are skipped"
                    );
                    store.write(|tx| {
                        record_event(
                            tx,
                            None,
                            now,
                            "uidvalidity_changed",
                            "secdesk",
                            &format!(
                                "mailbox {mb}: {} -> {uidvalidity}; full rescan",
                                s.uidvalidity
                            ),
                        )?;
                        mailboxes::reset_mailbox(tx, &mb, uidvalidity, now)
                    })?;
                }
                None => {
                    // Without a UIDNEXT from the server, the arrival time
                    // alone marks what was already there.
                    let below = uid_next.unwrap_or(0);
                    info!(mailbox = %mb, history_below = below, "first start on this mailbox");
                    store.write(|tx| {
                        record_event(
                            tx,
                            None,
                            now,
                            "first_start",
                            "secdesk",
                            &format!(
                                "mailbox {mb}: mail below UID {below} and received before now is history"
                            ),
                        )?;
                        mailboxes::start_mailbox(tx, &mb, uidvalidity, below, now, now)
                    })?;
                }
            }
            mailboxes::mailbox_state(store.conn(), &mb)?
                .with_context(|| format!("mailbox {mb:?} has no state after recording it"))
        })
        .await
}

/// Keeps the bytes of each fetched message (by hash) and files the whole
/// batch in one transaction: one commit (one fsync, one turn of the write
/// lock) per batch instead of per message. A crash before the commit
/// refetches the batch; after it, never (invariant 1 holds per batch).
/// Returns each filed UID with what was filed and how.
#[allow(clippy::too_many_arguments)]
async fn file_batch(
    intake: &Intake,
    live: &Settings,
    mailbox: &str,
    sent: bool,
    uidvalidity: u32,
    batch: Vec<Listed>,
    mut bodies: HashMap<u32, Vec<u8>>,
    mut headers: HashMap<u32, Vec<u8>>,
) -> Result<Vec<(u32, Prepared, IngestResult)>> {
    let max = live.config.store.max_message_size;
    let now = intake.clock.now();
    let (live, mb) = (live.clone(), mailbox.to_string());
    intake
        .store
        .run(move |store| {
            let mut ready = Vec::with_capacity(batch.len());
            for m in &batch {
                let prepared = if m.size > max {
                    let Some(h) = headers.remove(&m.uid) else {
                        warn!(
                            uid = m.uid,
                            "message vanished before its headers were fetched"
                        );
                        continue;
                    };
                    prepare_oversized(store, max, &h, m.size)
                } else {
                    let Some(raw) = bodies.remove(&m.uid) else {
                        warn!(uid = m.uid, "message vanished before it was fetched");
                        continue;
                    };
                    prepare(store, max, &raw)
                }
                .with_context(|| format!("keeping UID {} of {mb}", m.uid))?;
                let origin = Origin::Imap {
                    mailbox: mb.clone(),
                    uidvalidity,
                    uid: m.uid,
                    sent,
                    history: m.history,
                };
                let received_at = m.internal_date.filter(|d| *d <= now).unwrap_or(now);
                ready.push((m.uid, prepared, origin, received_at));
            }
            store.sync_blobs()?;
            let results = store.write(|tx| {
                ready
                    .iter()
                    .map(|(uid, p, origin, received_at)| {
                        file_in(tx, &live, p, origin, *received_at, now)
                            .with_context(|| format!("filing UID {uid} of {mb}"))
                    })
                    .collect::<Result<Vec<_>>>()
            })?;
            Ok(ready
                .into_iter()
                .zip(results)
                .map(|((uid, p, _, _), r)| (uid, p, r))
                .collect::<Vec<_>>())
        })
        .await
}

/// UIDs above `last_uid` with their sizes and arrival times, in UID order.
async fn list_above(
    session: &mut ImapSession,
    t: std::time::Duration,
    last_uid: u32,
) -> Result<Vec<Listed>> {
    let from = last_uid.saturating_add(1);
    timed(t, "listing new messages", async {
        let mut stream = session
            .uid_fetch(format!("{from}:*"), "(UID RFC822.SIZE INTERNALDATE)")
            .await
            .context("UID FETCH sizes")?;
        // Keep what the listing needs as each response arrives, not the
        // responses: async-imap gives each its own buffer of 4 KiB or more,
        // and 20,000 new messages listed at once held 150 MB. The stream is
        // still drained before the next command (async-imap needs that).
        let mut listed = Vec::new();
        while let Some(f) = stream.try_next().await.context("reading UID FETCH")? {
            let Some(uid) = f.uid else { continue };
            // `UID FETCH n:*` returns the last message even when its UID is
            // below n (RFC 3501 §6.4.8): skip what we already have.
            if uid > last_uid {
                listed.push(Listed {
                    uid,
                    size: u64::from(f.size.unwrap_or(0)),
                    internal_date: f.internal_date().map(|d| d.with_timezone(&Utc)),
                    history: false,
                });
            }
        }
        listed.sort_by_key(|m| m.uid);
        listed.dedup_by_key(|m| m.uid);
        Ok(listed)
    })
    .await
}

/// Fetches one section of each UID in `uids`.
async fn fetch_section(
    session: &mut ImapSession,
    t: std::time::Duration,
    uids: &[u32],
    section: &str,
    header_only: bool,
) -> Result<HashMap<u32, Vec<u8>>> {
    let mut out = HashMap::new();
    if uids.is_empty() {
        return Ok(out);
    }
    let set = uid_set(uids);
    // Large batches take longer than one round trip: allow time per MB.
    let limit = t + std::time::Duration::from_secs(uids.len() as u64);
    timed(limit, "fetching messages", async {
        let mut stream = session
            .uid_fetch(&set, format!("(UID {section})"))
            .await
            .context("UID FETCH bodies")?;
        while let Some(f) = stream.try_next().await.context("reading message bodies")? {
            let Some(uid) = f.uid else { continue };
            // `header()` is `BODY[HEADER]` with or without an origin
            // (`BODY[HEADER]<0>`, the answer to a partial fetch).
            // More than was asked for is not kept.
            let data = if header_only {
                f.header().map(|d| d.get(..DESCRIBE_BYTES).unwrap_or(d))
            } else {
                f.body()
            };
            if let Some(d) = data {
                out.insert(uid, d.to_vec());
            }
        }
        Ok(())
    })
    .await?;
    debug!(count = out.len(), "fetched");
    Ok(out)
}

/// `1,2,3,7` → `1:3,7`.
pub fn uid_set(uids: &[u32]) -> String {
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}:{end}")
        });
        i += 1;
    }
    parts.join(",")
}

/// Moves committed messages to `imap.processed_mailbox`, if set. Only after
/// their commit (invariant 5); a failure leaves them where they are, which
/// is harmless: they are above the mark's reach and dedup covers rescans.
async fn move_processed(session: &mut ImapSession, imap: &ImapConfig, uids: &[u32]) {
    let Some(target) = imap.processed_mailbox.as_deref() else {
        return;
    };
    if uids.is_empty() {
        return;
    }
    let set = uid_set(uids);
    let t = imap.timeout;
    let r = timed(t, "UID MOVE", async {
        session
            .uid_mv(&set, target)
            .await
            .with_context(|| format!("moving to {target:?}"))
    })
    .await;
    if let Err(e) = r {
        warn!(error = %format!("{e:#}"), "could not move processed messages; they stay in place");
    }
}

#[cfg(test)]
mod tests {
    use super::{batch_budget, batch_cost, uid_set, Listed, HEADER_FETCH_BYTES, MAX_BATCH_BYTES};

    #[test]
    fn oversized_messages_cost_what_is_fetched() {
        let max = 25_000_000;
        let listed = |size| Listed {
            uid: 1,
            size,
            internal_date: None,
            history: false,
        };
        assert_eq!(batch_cost(&listed(1_000), max), 1_000);
        assert_eq!(batch_cost(&listed(max), max), max);
        assert_eq!(batch_cost(&listed(60_000_000), max), HEADER_FETCH_BYTES);
        assert_eq!(batch_cost(&listed(max + 10), 1024 * 1024 * 1024), max + 10);
        // Six 60 MB messages: 384 KiB of header blocks, not 0 and not 360 MB.
        let six: u64 = (0..6).map(|_| batch_cost(&listed(60_000_000), max)).sum();
        assert_eq!(six, 6 * 65_536);
    }

    #[test]
    fn the_batch_budget_follows_the_message_limit() {
        assert_eq!(batch_budget(25_000_000), 25_000_000);
        assert_eq!(batch_budget(5_000_000), 5_000_000);
        assert_eq!(batch_budget(100_000_000), MAX_BATCH_BYTES);
        // Never below one header fetch (max_message_size may be 1 KB).
        assert_eq!(batch_budget(1024), HEADER_FETCH_BYTES);
    }

    #[test]
    fn uid_sets_are_compact() {
        assert_eq!(uid_set(&[1, 2, 3, 7, 9, 10]), "1:3,7,9:10");
        assert_eq!(uid_set(&[5]), "5");
        assert_eq!(uid_set(&[3, 1, 2, 2]), "1:3");
    }
}
