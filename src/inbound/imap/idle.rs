//! Waiting for new mail in IMAP IDLE (RFC 2177), or noticing that the
//! server already said there is some.

use std::time::Duration;

use anyhow::{Context, Result};

use super::connect::{timed, ImapSession};

/// Re-issue IDLE this often. RFC 2177 lets servers drop an IDLE after 30
/// minutes (29 is the usual client limit); 10 minutes stays well inside it
/// and also catches a connection that died without a FIN.
pub const IDLE_REISSUE: Duration = Duration::from_secs(10 * 60);

/// Stop waiting in an IDLE that has heard nothing for this long and fetch
/// instead. Dovecot sends `* OK Still here` every 2 minutes by default, so
/// silence this long most likely means a dead connection — which the fetch
/// then finds out under its own timeout; if the connection is fine, the
/// fetch is merely early.
pub const IDLE_SILENCE: Duration = Duration::from_secs(5 * 60);

/// Empties the unsolicited-response channel; true if it held new mail news.
pub fn drain_exists(session: &ImapSession) -> bool {
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
/// most [`IDLE_REISSUE`]), or [`IDLE_SILENCE`] passes without a word; then
/// ends IDLE and hands the session back for a fetch. Every outcome but an
/// error means "fetch now". Shutdown drops this future (and the session)
/// wherever it is.
pub async fn idle_wait(
    session: ImapSession,
    t: Duration,
    reissue: Duration,
) -> Result<ImapSession> {
    let mut handle = session.idle();
    timed(t, "IDLE", async {
        handle.init().await.context("starting IDLE")
    })
    .await?;
    let (wait, stop) = handle.wait_with_timeout(IDLE_SILENCE.min(reissue));
    let outcome = wait.await;
    drop(stop);
    outcome.context("waiting in IDLE")?;
    timed(t, "ending IDLE", async {
        handle.done().await.context("DONE")
    })
    .await
}
