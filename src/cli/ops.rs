//! `secdesk run` and `secdesk check`: the daemon, and the pre-flight check
//! ops run before starting it.

use std::os::unix::fs::PermissionsExt;
use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::config::{Config, HistoryMode};
use crate::store::Store;
use crate::templates::BUILT_IN;

/// `secdesk run`: the daemon, until SIGTERM or SIGINT.
pub fn run(cfg: Config) -> Result<ExitCode> {
    crate::daemon::serve(cfg)?;
    Ok(ExitCode::SUCCESS)
}

/// One line per check; exit 1 if any failed.
pub fn check(cfg: &Config, secrets: Option<crate::config::ConfigError>) -> Result<ExitCode> {
    let mut failed = false;
    let mut report = |name: &str, r: Result<String>| match r {
        Ok(detail) => println!("ok    {name}: {detail}"),
        Err(e) => {
            failed = true;
            println!("FAIL  {name}: {}", super::error_line(&e));
        }
    };
    // A secret that could not be read is one failure, not also a login
    // refused for the empty password it left.
    let unreadable = secrets.as_ref().map(|e| e.key.clone());
    let skip = |section: &str| {
        unreadable
            .as_deref()
            .is_some_and(|k| k.starts_with(&format!("{section}.")))
    };
    report(
        "config",
        match secrets {
            None => Ok(cfg.path.display().to_string()),
            Some(e) => Err(e.into()),
        },
    );
    report("team", check_team(cfg));
    if let Some(w) = cfg.team.trust_warning() {
        println!("WARN  team: {w}");
    }
    if let Some(w) = relay_warning(cfg) {
        println!("WARN  relay: {w}");
    }
    report("templates", check_templates(cfg));
    report("store", check_store(cfg));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    match &cfg.imap {
        Some(_) if skip("imap") => println!("skip  imap: its password could not be read (above)"),
        Some(imap) => report(
            "imap",
            rt.block_on(async {
                let mut s = crate::inbound::imap::connect::connect(imap).await?;
                let t = imap.timeout;
                let mb = crate::inbound::imap::connect::timed(t, "SELECT", async {
                    s.examine(&imap.mailbox)
                        .await
                        .with_context(|| format!("mailbox {:?}", imap.mailbox))
                })
                .await?;
                let _ = crate::inbound::imap::connect::timed(t, "LOGOUT", async {
                    Ok(s.logout().await?)
                })
                .await;
                Ok(format!(
                    "logged in to {}:{} as {}, {:?} holds {} messages{}",
                    imap.host,
                    imap.port,
                    imap.username,
                    imap.mailbox,
                    mb.exists,
                    first_start(cfg, imap, mb.exists)
                ))
            }),
        ),
        None => report("imap", Err(anyhow::anyhow!("no [imap] section"))),
    }
    match &cfg.smtp {
        Some(_) if skip("smtp") => println!("skip  smtp: its password could not be read (above)"),
        Some(smtp) => report(
            "smtp",
            rt.block_on(async {
                let c = crate::outbox::smtp::SmtpClient::new(smtp)?;
                match tokio::time::timeout(smtp.timeout, c.probe()).await {
                    Err(_) => anyhow::bail!("timed out after {}s", smtp.timeout.as_secs()),
                    Ok(Err(e)) => Err(e),
                    Ok(Ok(())) => Ok(format!("EHLO accepted by {}:{}", smtp.host, smtp.port)),
                }
            }),
        ),
        None => report("smtp", Err(anyhow::anyhow!("no [smtp] section"))),
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Someone must hear of a report before its window closes.
fn check_team(cfg: &Config) -> Result<String> {
    let t = &cfg.team;
    if t.lead.is_empty() {
        anyhow::bail!(
            "team.lead is empty: nobody is reminded before a report's window closes; set \
             team.lead to the security lead's address"
        );
    }
    Ok(format!(
        "lead {}; {} members; {} for escalations",
        t.lead.join(", "),
        t.members.len(),
        if t.escalation.is_empty() {
            "nobody".to_string()
        } else {
            t.escalation.join(", ")
        }
    ))
}

/// Mail that came from the security address itself but that secdesk did
/// not send is, most often, security@ as a group or list that rewrote From:
/// say what to set.
fn relay_warning(cfg: &Config) -> Option<String> {
    if !cfg.project.relay_list_ids.is_empty() {
        return None;
    }
    let store = Store::open(&cfg.store.path, &cfg.store.data_dir).ok()?;
    let n: i64 = store
        .conn()
        .query_row(
            "SELECT COUNT(*) FROM messages WHERE classification = 'from_our_address'",
            [],
            |r| r.get(0),
        )
        .ok()?;
    (n > 0).then(|| {
        format!(
            "{n} messages came From {} itself without being secdesk's: if it is a Google \
             Group or a list that rewrites From, set project.relay_list_ids to its List-Id so \
             that the reporter is taken from X-Original-From/Reply-To and answered",
            cfg.project.security_address
        )
    })
}

/// What the first start will do with the mail already in the mailbox, if
/// this store has never read it: the truth before anything is sent.
fn first_start(cfg: &Config, imap: &crate::config::ImapConfig, exists: u32) -> String {
    let known = Store::open(&cfg.store.path, &cfg.store.data_dir)
        .and_then(|s| crate::store::mailboxes::mailbox_state(s.conn(), &imap.mailbox))
        .map(|state| state.is_some())
        .unwrap_or(true);
    if known || exists == 0 {
        return String::new();
    }
    match imap.history {
        HistoryMode::Import => format!(
            "; the first start will import them as history (imap.history = \"import\"): \
             {exists} imported cases or follow-ups, nothing will be sent"
        ),
        HistoryMode::Skip => "; the first start will skip them (imap.history = \"skip\"): \
             they stay in the mailbox, unfiled, and nothing will be sent"
            .into(),
    }
}

fn check_templates(cfg: &Config) -> Result<String> {
    crate::settings::Settings::load(cfg.clone())?;
    let names: Vec<&str> = BUILT_IN.iter().map(|(n, _)| *n).collect();
    Ok(format!("{} render with a sample case", names.join(", ")))
}

fn check_store(cfg: &Config) -> Result<String> {
    let store = Store::open(&cfg.store.path, &cfg.store.data_dir)?;
    let ok: String = store
        .conn()
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .context("integrity check")?;
    if ok != "ok" {
        anyhow::bail!("{}: integrity check says {ok}", cfg.store.path.display());
    }
    let mode = |p: &std::path::Path| -> Result<u32> {
        Ok(std::fs::metadata(p)
            .with_context(|| format!("reading {}", p.display()))?
            .permissions()
            .mode()
            & 0o777)
    };
    let db = mode(&cfg.store.path)?;
    let dir = mode(&cfg.store.data_dir)?;
    if db & 0o077 != 0 {
        anyhow::bail!("{} is {db:o}; it must be 0600", cfg.store.path.display());
    }
    if dir & 0o077 != 0 {
        anyhow::bail!(
            "{} is {dir:o}; it must be 0700",
            cfg.store.data_dir.display()
        );
    }
    Ok(format!(
        "{} (schema {}, mode {db:o}), data dir {} (mode {dir:o})",
        cfg.store.path.display(),
        store.schema_version()?,
        cfg.store.data_dir.display()
    ))
}
