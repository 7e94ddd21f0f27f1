//! `secdesk import PATH [--json]`: an archive of the old inbox filed as
//! history, with a progress bar on a terminal and a summary.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use chrono::Utc;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{open_store, UsageError};
use crate::inbound::archive::{Archive, Size};
use crate::settings::Settings;

pub fn run(settings: &Settings, path: &Path, json: bool) -> Result<ExitCode> {
    let archive = Archive::open(path).map_err(|e| UsageError(format!("{e:#}")))?;
    let mut store = open_store(&settings.config)?;
    let (total, unit) = match archive.size() {
        Size::Messages(n) => (n, "{pos}/{len} messages"),
        Size::Bytes(n) => (n, "{bytes}/{total_bytes}"),
    };
    let bar = ProgressBar::with_draw_target(
        Some(total),
        if std::io::stderr().is_terminal() && !json {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    if let Ok(style) = ProgressStyle::with_template(&format!("importing {{bar:40}} {unit} {{eta}}"))
    {
        bar.set_style(style);
    }
    let s = archive.import(&mut store, settings, Utc::now(), &mut |done| {
        bar.set_position(done)
    })?;
    bar.finish_and_clear();
    if json {
        println!("{}", serde_json::to_string_pretty(&s)?);
    } else {
        println!(
            "imported {} messages from {} as history: {} new cases, {} follow-ups, {} already \
             filed, {} machine mail, {} rejected; nothing was sent",
            s.messages,
            path.display(),
            s.new_cases,
            s.follow_ups,
            s.duplicates,
            s.machine_mail,
            s.rejected
        );
    }
    Ok(ExitCode::SUCCESS)
}
