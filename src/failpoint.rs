//! Crash points for the crash-safety tests.
//!
//! `SECDESK_CRASH_AT=<point>:<n>` makes the process abort — no destructors,
//! no flushing, as close to SIGKILL as a process can do to itself — the
//! n-th time it passes `<point>`. Unset (always, in production) it costs one
//! relaxed atomic load. The points sit where a crash is most interesting:
//! right after a message's transaction commits, and between the SMTP
//! server's acceptance of a mail and the outbox row being marked sent.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

static SPEC: OnceLock<Option<(String, u64)>> = OnceLock::new();
static HITS: AtomicU64 = AtomicU64::new(0);

fn spec() -> &'static Option<(String, u64)> {
    SPEC.get_or_init(|| {
        let v = std::env::var("SECDESK_CRASH_AT").ok()?;
        let (point, n) = v.split_once(':').unwrap_or((v.as_str(), "1"));
        Some((point.to_string(), n.parse().unwrap_or(1)))
    })
}

/// Passes point `name`; aborts the process if the environment says so.
pub fn hit(name: &str) {
    if let Some((point, n)) = spec() {
        if point == name && HITS.fetch_add(1, Ordering::Relaxed) + 1 >= *n {
            eprintln!("secdesk: crash point {name} reached, aborting (SECDESK_CRASH_AT)");
            std::process::abort();
        }
    }
}
