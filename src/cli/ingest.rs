//! `secdesk ingest [FILE|-] [--json]`.

use std::io::Read;
use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::Utc;

use super::{open_store, UsageError};
use crate::config::Config;
use crate::ingest::{ingest, Env};
use crate::store::inbound::Origin;
use crate::templates::Templates;

pub fn run(cfg: &Config, templates: &Templates, file: &str, json: bool) -> Result<ExitCode> {
    // An oversized message is still recorded (as rejected, raw kept), so
    // read past the limit — but not without bound: beyond 4x the limit the
    // rest is cut off and said so.
    let cap = cfg.store.max_message_size.saturating_mul(4);
    let limit = cap.saturating_add(1);
    let raw = if file == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .take(limit)
            .read_to_end(&mut buf)
            .context("reading standard input")?;
        buf
    } else {
        let f = std::fs::File::open(file)
            .map_err(|e| UsageError(format!("{file}: cannot open: {e}")))?;
        let mut buf = Vec::new();
        f.take(limit)
            .read_to_end(&mut buf)
            .with_context(|| format!("reading {file}"))?;
        buf
    };
    if raw.len() as u64 > cap {
        tracing::warn!(
            cap,
            "input cut off at 4x store.max_message_size; recorded as rejected"
        );
    }
    let mut store = open_store(cfg)?;
    let now = Utc::now();
    let r = ingest(
        &mut store,
        Env {
            config: cfg,
            templates,
        },
        &raw,
        &Origin::Cli,
        now,
        now,
    )?;
    if json {
        println!(
            "{}",
            serde_json::json!({
                "outcome": r.outcome.as_str(),
                "case": r.case,
                "reason": r.reason,
            })
        );
    } else {
        match (&r.case, &r.reason) {
            (Some(c), _) => println!("{} {c}", r.outcome.as_str()),
            (None, Some(why)) => println!("{}: {why}", r.outcome.as_str()),
            (None, None) => println!("{}", r.outcome.as_str()),
        }
    }
    Ok(ExitCode::SUCCESS)
}
