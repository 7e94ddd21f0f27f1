//! Mail too large to hold: recorded as rejected, described from the first
//! lines of its header block, with memory bounded by
//! `store.max_message_size` whatever the input (security review, issue 10,
//! finding 5).
//!
//! Two ways in. `secdesk ingest` reads at most max + 1 bytes into memory;
//! anything longer is streamed whole into the raw blob store, hashed on the
//! way, so nothing is lost and memory stays O(max). IMAP intake never
//! fetches such a message at all: it knows the size from the listing and
//! fetches only the first [`DESCRIBE_BYTES`] of its header block, leaving
//! the message on the server.

use std::io::Read;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

use super::pipeline::{file_prepared, ingest, IngestResult, Prepared};
use crate::mail::headers::DESCRIBE_BYTES;
use crate::mail::parse::{parse_headers, sha256_hex};
use crate::settings::Settings;
use crate::store::messages::Origin;
use crate::store::{BlobKind, Store};

/// Files one message read from `input`, holding at most
/// `store.max_message_size` + 1 bytes of it in memory: a message within
/// the limit is filed as [`ingest`] files it; a longer one is kept whole
/// (streamed to the blob store) and recorded as rejected.
pub fn ingest_reader(
    store: &mut Store,
    settings: &Settings,
    input: &mut dyn Read,
    origin: &Origin,
    received_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<IngestResult> {
    let max = settings.config.store.max_message_size;
    let limit = max.saturating_add(1);
    // Reserved once: growing by doubling would copy, and could touch up to
    // twice the limit. Pages not written are not resident. A failed
    // reservation is an error, not an abort.
    let mut raw = Vec::new();
    usize::try_from(limit)
        .ok()
        .and_then(|n| raw.try_reserve_exact(n).ok())
        .with_context(|| format!("reserving {limit} bytes (store.max_message_size + 1)"))?;
    input
        .take(limit)
        .read_to_end(&mut raw)
        .context("reading the message")?;
    if raw.len() as u64 <= max {
        return ingest(store, settings, &raw, origin, received_at, now);
    }
    let p = prepare_streamed(store, max, raw, input)?;
    file_prepared(store, settings, &p, origin, received_at, now)
}

/// A message known to be over `max`: its first bytes (`prefix`, already
/// read) and whatever `rest` still yields are kept whole as one raw blob,
/// and it is described from the start of its header block.
pub fn prepare_streamed(
    store: &Store,
    max: u64,
    prefix: Vec<u8>,
    rest: &mut dyn Read,
) -> Result<Prepared> {
    let blob = store.put_blob_streamed(BlobKind::Raw, &prefix, rest)?;
    let headers = parse_headers(&prefix).map(Box::new);
    drop(prefix);
    let size = blob.size;
    Ok(Prepared::Rejected {
        headers,
        sha: blob.sha256,
        size,
        reason: format!("message of {size} bytes is over store.max_message_size ({max} bytes)"),
    })
}

/// A message too large to fetch whole, from the start of its header block
/// (IMAP intake checks `RFC822.SIZE` first and fetches at most
/// [`DESCRIBE_BYTES`] of the block). What was fetched is kept as the raw
/// blob; the message stays on the server.
pub fn prepare_oversized(
    store: &Store,
    max: u64,
    header_block: &[u8],
    size: u64,
) -> Result<Prepared> {
    let sha = sha256_hex(header_block);
    store.put_blob_deferred(BlobKind::Raw, &sha, header_block)?;
    let kept = if header_block.len() < DESCRIBE_BYTES {
        "headers kept".to_string()
    } else {
        format!(
            "the first {} bytes of its header block kept",
            header_block.len()
        )
    };
    Ok(Prepared::Rejected {
        headers: parse_headers(header_block).map(Box::new),
        sha,
        size,
        reason: format!(
            "message of {size} bytes is over store.max_message_size ({max} bytes); {kept}, \
             the whole message is still on the server"
        ),
    })
}
