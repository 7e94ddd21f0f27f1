//! The 48-hour window from the team's side: `reply`, `responded`,
//! `assign`, `remind`.

use std::io::Read;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use chrono::Utc;

use super::cases::require_case;
use super::{open_store, UsageError};
use crate::config::Config;
use crate::templates::Templates;
use crate::workflow;

/// Who did it, for the audit trail: `$SECDESK_ACTOR`, else `$USER`.
pub fn actor() -> String {
    std::env::var("SECDESK_ACTOR")
        .or_else(|_| std::env::var("USER"))
        .map(|a| crate::mail::text::clean_line(&a, 100))
        .ok()
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| "cli".into())
}

/// Most text a reply may have.
const MAX_REPLY: u64 = 1_000_000;

fn reply_text(file: Option<&str>) -> Result<String> {
    let text = match file {
        Some("-") => {
            let mut s = String::new();
            std::io::stdin()
                .take(MAX_REPLY)
                .read_to_string(&mut s)
                .context("reading the reply from standard input")?;
            s
        }
        Some(f) => {
            std::fs::read_to_string(f).map_err(|e| UsageError(format!("--file {f}: {e}")))?
        }
        None => edit()?,
    };
    let text: String = text
        .lines()
        .filter(|l| !l.starts_with("#secdesk:"))
        .collect::<Vec<_>>()
        .join("\n");
    if text.trim().is_empty() {
        bail!(UsageError("the reply is empty; nothing sent".into()));
    }
    Ok(format!("{}\n", text.trim_end()))
}

/// Opens `$VISUAL`/`$EDITOR` on a temporary file.
fn edit() -> Result<String> {
    let editor = std::env::var("VISUAL")
        .or_else(|_| std::env::var("EDITOR"))
        .map_err(|_| UsageError("no --file given and neither $VISUAL nor $EDITOR is set".into()))?;
    let dir = tempfile::Builder::new().prefix("secdesk-reply").tempdir()?;
    let path = dir.path().join("reply.txt");
    std::fs::write(
        &path,
        "\n#secdesk: Write your reply above. Lines starting with #secdesk: are removed.\n\
         #secdesk: An empty reply sends nothing.\n",
    )?;
    // The editor is the operator's own setting, run as a program with the
    // file as its one argument — never through a shell.
    let mut parts = editor.split_whitespace();
    let prog = parts.next().context("$EDITOR is empty")?;
    let status = std::process::Command::new(prog)
        .args(parts)
        .arg(&path)
        .status()
        .with_context(|| format!("running {editor}"))?;
    if !status.success() {
        bail!("{editor} exited with {status}; nothing sent");
    }
    Ok(std::fs::read_to_string(&path)?)
}

pub fn reply(cfg: &Config, id: &str, file: Option<&str>) -> Result<ExitCode> {
    let mut store = open_store(cfg)?;
    let case = require_case(cfg, &store, id)?;
    if case.reporter.is_empty() {
        bail!(UsageError(format!(
            "{} has no reporter address to reply to",
            case.id
        )));
    }
    let body = reply_text(file)?;
    workflow::reply(&mut store, cfg, &case, body, &actor(), Utc::now())?;
    println!(
        "reply to {} queued for {}; the running daemon sends it",
        case.reporter, case.id
    );
    Ok(ExitCode::SUCCESS)
}

pub fn responded(cfg: &Config, id: &str, note: &str) -> Result<ExitCode> {
    let mut store = open_store(cfg)?;
    let case = require_case(cfg, &store, id)?;
    workflow::responded(&mut store, &case, note, &actor(), Utc::now())?;
    match case.first_response_at {
        Some(at) => println!(
            "{} already had its first response at {at}; note recorded",
            case.id
        ),
        None => println!(
            "{}: response recorded, the 48-hour clock is stopped",
            case.id
        ),
    }
    Ok(ExitCode::SUCCESS)
}

pub fn assign(cfg: &Config, id: &str, address: &str) -> Result<ExitCode> {
    let mut store = open_store(cfg)?;
    let case = require_case(cfg, &store, id)?;
    let addr = workflow::assign(&mut store, &case, address, &actor(), Utc::now())?;
    println!(
        "{} assigned to {addr}; reminders go to them and the lead",
        case.id
    );
    Ok(ExitCode::SUCCESS)
}

pub fn remind(cfg: &Config, dry_run: bool) -> Result<ExitCode> {
    let templates = Templates::load(cfg.templates.dir.as_deref())?;
    let mut store = open_store(cfg)?;
    let mails = crate::reminders::scan(&mut store, cfg, &templates, Utc::now(), dry_run)?;
    if mails.is_empty() {
        println!("nothing due: no reminder or escalation would be sent now");
    }
    for m in &mails {
        println!("To: {}", m.to.join(", "));
        println!("Subject: {}", m.subject);
        println!(
            "Auto-Submitted: {}",
            m.kind.auto_submitted().unwrap_or("no")
        );
        println!();
        println!("{}", m.body);
    }
    if !dry_run && !mails.is_empty() {
        println!(
            "{} mail(s) queued; the running daemon sends them",
            mails.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}
