//! Where intake stands in each mailbox: UIDVALIDITY, the high-water mark
//! (DESIGN.md invariant 1: it advances in the transaction that files the
//! messages), and the history boundary of the first start — mail below it
//! was there before secdesk, and is never answered.

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, Transaction};

use super::messages::Origin;
use super::{parse_ts, ts};

/// What the store knows about one mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailboxState {
    pub uidvalidity: u32,
    pub last_uid: u32,
    /// UIDs below this (of this UIDVALIDITY) were there at the first start.
    pub history_below: u32,
    /// Mail received before this is history (the first start, or
    /// `imap.since`): what survives a UIDVALIDITY change.
    pub history_before: Option<DateTime<Utc>>,
}

impl MailboxState {
    /// Whether a message is history: there before secdesk first met the
    /// mailbox. By UID while the first start's UIDNEXT holds; by arrival
    /// time (the server's INTERNALDATE, whole seconds) only where the UIDs
    /// say nothing — after a UIDVALIDITY change — or where the operator set
    /// `imap.since`: the server's clock is not ours, and a few seconds of
    /// skew must not make new mail history.
    pub fn is_history(
        &self,
        uid: u32,
        arrived: Option<DateTime<Utc>>,
        since: Option<DateTime<Utc>>,
    ) -> bool {
        let before = since.or(self.history_before.filter(|_| self.history_below == 0));
        uid < self.history_below || matches!((arrived, before), (Some(a), Some(b)) if a < b)
    }
}

/// The stored state of `mailbox`, if any.
pub fn mailbox_state(conn: &rusqlite::Connection, mailbox: &str) -> Result<Option<MailboxState>> {
    conn.query_row(
        "SELECT uidvalidity, last_uid, history_below, history_before FROM mailbox_state
         WHERE mailbox = ?1",
        [mailbox],
        |r| {
            let before: Option<String> = r.get(3)?;
            Ok(MailboxState {
                uidvalidity: r.get(0)?,
                last_uid: r.get(1)?,
                history_below: r.get(2)?,
                history_before: before.as_deref().and_then(parse_ts),
            })
        },
    )
    .optional()
    .with_context(|| format!("reading the state of mailbox {mailbox:?}"))
}

/// The first start on `mailbox`: everything below `history_below` (its
/// UIDNEXT now) and everything received before `history_before` is history.
pub fn start_mailbox(
    tx: &Transaction<'_>,
    mailbox: &str,
    uidvalidity: u32,
    history_below: u32,
    history_before: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<()> {
    tx.execute(
        "INSERT INTO mailbox_state (mailbox, uidvalidity, last_uid, last_sync_at, history_below,
                                    history_before)
         VALUES (?1, ?2, 0, ?3, ?4, ?5)",
        params![
            mailbox,
            uidvalidity,
            ts(now),
            history_below,
            ts(history_before)
        ],
    )
    .with_context(|| format!("recording the first start on mailbox {mailbox:?}"))?;
    Ok(())
}

/// Restarts tracking `mailbox` after a UIDVALIDITY change: every UID is new,
/// so only the arrival-time boundary of history still holds.
pub fn reset_mailbox(
    tx: &Transaction<'_>,
    mailbox: &str,
    uidvalidity: u32,
    now: DateTime<Utc>,
) -> Result<()> {
    tx.execute(
        "UPDATE mailbox_state SET uidvalidity = ?2, last_uid = 0, history_below = 0,
             last_sync_at = ?3
         WHERE mailbox = ?1",
        params![mailbox, uidvalidity, ts(now)],
    )
    .context("resetting mailbox state")?;
    Ok(())
}

/// Advances the IMAP high-water mark for the origin's mailbox, never backwards.
pub fn advance_mailbox(tx: &Transaction<'_>, origin: &Origin, now: DateTime<Utc>) -> Result<()> {
    if let Origin::Imap {
        mailbox,
        uidvalidity,
        uid,
        ..
    } = origin
    {
        tx.execute(
            "INSERT INTO mailbox_state (mailbox, uidvalidity, last_uid, last_sync_at)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (mailbox) DO UPDATE SET
                 last_uid = MAX(last_uid, excluded.last_uid),
                 last_sync_at = excluded.last_sync_at
             WHERE uidvalidity = excluded.uidvalidity",
            params![mailbox, uidvalidity, uid, ts(now)],
        )
        .context("advancing the mailbox high-water mark")?;
    }
    Ok(())
}

/// Records a completed sync of `mailbox` (for `secdesk status`).
pub fn mark_synced(tx: &Transaction<'_>, mailbox: &str, now: DateTime<Utc>) -> Result<()> {
    tx.execute(
        "UPDATE mailbox_state SET last_sync_at = ?2 WHERE mailbox = ?1",
        params![mailbox, ts(now)],
    )
    .context("updating mailbox_state")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn history_by_uid_then_by_arrival() {
        let t = |h| Utc.with_ymd_and_hms(2026, 11, 25, h, 0, 0).unwrap();
        let first = MailboxState {
            uidvalidity: 1,
            last_uid: 0,
            history_below: 31,
            history_before: Some(t(12)),
        };
        assert!(first.is_history(30, Some(t(11)), None));
        // New mail is new, whatever the server's clock says about it.
        assert!(!first.is_history(31, Some(t(11)), None));
        // After a UIDVALIDITY change only the arrival time is left.
        let rescan = MailboxState {
            history_below: 0,
            ..first
        };
        assert!(rescan.is_history(5, Some(t(11)), None));
        assert!(!rescan.is_history(5, Some(t(13)), None));
        // `imap.since` is the operator's word, for every UID.
        assert!(first.is_history(40, Some(t(9)), Some(t(10))));
        assert!(!first.is_history(40, Some(t(11)), Some(t(10))));
    }
}
