//! `secdesk ingest [FILE|-] [--json]`.

use std::io::Read;
use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::Utc;

use super::{open_store, UsageError};
use crate::inbound::pipeline::ingest_reader;
use crate::settings::Settings;
use crate::store::messages::Origin;

pub fn run(settings: &Settings, file: &str, json: bool) -> Result<ExitCode> {
    // An oversized message is still recorded (as rejected, its raw bytes
    // kept whole), but never held whole: `ingest_reader` keeps at most
    // store.max_message_size + 1 bytes in memory and streams the rest to
    // the blob store.
    let (mut input, source): (Box<dyn Read>, String) = if file == "-" {
        (Box::new(std::io::stdin().lock()), "standard input".into())
    } else {
        let f = std::fs::File::open(file)
            .map_err(|e| UsageError(format!("{file}: cannot open: {e}")))?;
        (Box::new(f), file.to_string())
    };
    let mut store = open_store(&settings.config)?;
    let now = Utc::now();
    let r = ingest_reader(&mut store, settings, &mut input, &Origin::Cli, now, now)
        .with_context(|| format!("filing the message from {source}"))?;
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
