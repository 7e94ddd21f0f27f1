//! The command line: a plain clap struct, and one function per command
//! family that loads what it needs and calls into the library.

mod admin;
mod advisory;
mod attachment;
mod cases;
mod import;
mod ingest;
mod ops;
mod respond;
mod show;
mod workflow;

use std::process::ExitCode;

use anyhow::Result;

use crate::case::workflow::Action;
use crate::config::{self, Config, ConfigError};
use crate::store::Store;

mod commands;
pub use commands::{Cli, Command};

/// A usage error (exit code 2) naming the argument at fault.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Exit code for an error: 2 for usage and configuration, else 1.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    if e.downcast_ref::<UsageError>().is_some()
        || e.downcast_ref::<ConfigError>().is_some()
        || e.downcast_ref::<crate::case::workflow::Refused>().is_some()
        || e.downcast_ref::<crate::store::backup::Refused>().is_some()
    {
        2
    } else {
        1
    }
}

/// An error chain on one line, for a person to read.
pub fn error_line(e: &anyhow::Error) -> String {
    format!("{e:#}")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Loads the configuration named on the command line (or by default).
pub fn load_config(cli_path: Option<&std::path::Path>) -> Result<Config> {
    let path = config::default_path(cli_path);
    Ok(config::load(&path)?)
}

/// Opens the store the configuration names.
pub fn open_store(cfg: &Config) -> Result<Store> {
    Store::open(&cfg.store.path, &cfg.store.data_dir)
}

/// Protocol crates whose trace output carries the wire: async-imap logs every
/// command it sends (`LOGIN` with the password) and every response (report
/// text) at trace; the TLS and SMTP crates log handshakes and dialogue.
const WIRE_TARGETS: &[&str] = &[
    "async_imap",
    "imap_proto",
    "lettre",
    "rustls",
    "tokio_rustls",
    "mail_parser",
];

/// Whether an event may be logged at all, whatever `RUST_LOG` asks for:
/// the protocol crates are capped at debug, so their trace (the bytes on the
/// wire, secrets and reports included) is never written.
pub fn log_allowed(target: &str, level: &tracing::Level) -> bool {
    let wire = WIRE_TARGETS.iter().any(|t| {
        target == *t
            || target
                .strip_prefix(t)
                .is_some_and(|rest| rest.starts_with("::"))
    });
    !(wire && *level == tracing::Level::TRACE)
}

/// Logging: under systemd (`JOURNAL_STREAM` set) to the journal with
/// fields, else readable lines on stderr, or JSON lines for log shippers.
/// `RUST_LOG` overrides the default level, within [`log_allowed`].
fn init_logging(format: &str, default: &str) -> Result<()> {
    use std::io::IsTerminal;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default))
    };
    let cap = tracing_subscriber::filter::filter_fn(|m| log_allowed(m.target(), m.level()));
    let format = match format {
        "auto" if std::env::var_os("JOURNAL_STREAM").is_some() => "journal",
        "auto" => "text",
        f @ ("text" | "json" | "journal") => f,
        other => {
            return Err(UsageError(format!(
                "--log-format {other:?}: expected auto, text, json or journal"
            ))
            .into())
        }
    };
    let registry = tracing_subscriber::registry().with(filter()).with(cap);
    if format == "journal" {
        match tracing_journald::layer() {
            Ok(layer) => {
                let _ = registry
                    .with(layer.with_syslog_identifier("secdesk".into()))
                    .try_init();
                return Ok(());
            }
            Err(e) => eprintln!("secdesk: no journal ({e}); logging to stderr"),
        }
    }
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let layer = if format == "json" {
        fmt.json().with_current_span(true).boxed()
    } else {
        fmt.with_ansi(std::io::stderr().is_terminal()).boxed()
    };
    let _ = registry.with(layer).try_init();
    Ok(())
}

/// Runs one command. Long because it is the dispatch table: one arm per
/// command, turning arguments into a library call.
pub fn run(cli: Cli) -> Result<ExitCode> {
    init_logging(
        &cli.log_format,
        match cli.command {
            Command::Run => "info",
            _ => "warn",
        },
    )?;
    let cfg = load_config(cli.config.as_deref())?;
    match cli.command {
        Command::Run => {
            let mut cfg = cfg;
            cfg.load_secrets()?;
            ops::run(cfg)
        }
        Command::Check => {
            let mut cfg = cfg;
            let secrets = cfg.load_secrets();
            ops::check(&cfg, secrets.err())
        }
        Command::Import { path, json } => {
            import::run(&crate::settings::Settings::for_filing(cfg)?, &path, json)
        }
        Command::Ingest {
            file,
            json,
            tempfail,
        } => {
            let filed = crate::settings::Settings::for_filing(cfg)
                .and_then(|settings| ingest::run(&settings, &file, json));
            match filed {
                // sysexits' EX_TEMPFAIL: Postfix, Exim and sendmail defer
                // the message and try again later; a bounce would lose it.
                Err(e) if tempfail => {
                    eprintln!("secdesk: {} (the MTA will retry)", error_line(&e));
                    Ok(ExitCode::from(75))
                }
                r => r,
            }
        }
        Command::Cases {
            state,
            overdue,
            json,
        } => {
            let state = match state {
                Some(s) => Some(
                    s.parse()
                        .map_err(|e: String| UsageError(format!("--state: {e}")))?,
                ),
                None => None,
            };
            cases::list(&open_store(&cfg)?, state, overdue, json)
        }
        Command::Show { id, json } => show::show(&cfg, &open_store(&cfg)?, &id, json),
        Command::Reply { id, file } => respond::reply(&cfg, &id, file.as_deref()),
        Command::Responded { id, note } => respond::responded(&cfg, &id, &note),
        Command::Assign { id, address } => respond::assign(&cfg, &id, &address),
        Command::Remind { dry_run } => respond::remind(&cfg, dry_run),
        Command::Triage {
            id,
            severity,
            impact,
            cvss,
            packages,
            cwes,
        } => {
            use crate::case::assess;
            let (Some(severity), Some(impact)) = (severity, impact) else {
                if packages.is_empty() && cwes.is_empty() {
                    return Err(UsageError(
                        "triage needs --severity and --impact, or --package / --cwe".into(),
                    )
                    .into());
                }
                advisory::triage_extras(&cfg, &id, &packages, &cwes)?;
                println!("{id}: packages and weakness recorded");
                return Ok(ExitCode::SUCCESS);
            };
            let severity = severity
                .parse()
                .map_err(|e: String| UsageError(format!("--severity: {e}")))?;
            let impact =
                assess::Impact::parse(&impact).map_err(|e| UsageError(format!("--impact: {e}")))?;
            let cvss = match cvss {
                Some(v) => Some(assess::cvss(&v).map_err(|e| UsageError(format!("--cvss: {e}")))?),
                None => None,
            };
            advisory::check_triage_extras(&cfg, &packages, &cwes)?;
            let code = workflow::step(
                &cfg,
                &id,
                Action::Triage {
                    severity,
                    impact,
                    cvss,
                },
            )?;
            advisory::triage_extras(&cfg, &id, &packages, &cwes)?;
            Ok(code)
        }
        Command::Accept { id } => workflow::step(&cfg, &id, Action::Accept),
        Command::Reject { id, reason } => workflow::step(&cfg, &id, Action::Reject { reason }),
        Command::Duplicate { id, of } => workflow::step(&cfg, &id, Action::Duplicate { of }),
        Command::Fixing { id, fix_ref } => workflow::step(&cfg, &id, Action::Fixing { fix_ref }),
        Command::Released {
            id,
            package,
            version,
        } => advisory::released(&cfg, &id, package, version),
        Command::Analyze {
            id, package, clear, ..
        } if !clear.is_empty() => advisory::clear(&cfg, &id, package.as_deref(), &clear),
        Command::Analyze {
            id,
            package,
            affected,
            introduced,
            fixed,
            fix_commit,
            user_impact,
            workaround,
            details,
            summary,
            clear: _,
        } => advisory::analyze(
            &cfg,
            &id,
            advisory::Versions {
                package,
                affected,
                introduced,
                fixed,
                fix_commit,
            },
            user_impact.map(|u| (u, workaround)),
            details,
            summary,
        ),
        Command::Cve { id, cve, clear } => match cve {
            Some(cve) if !clear => advisory::cve(&cfg, &id, &cve),
            _ => advisory::clear(&cfg, &id, None, &["cve".to_string()]),
        },
        Command::Credit {
            id,
            consent,
            name,
            confirm,
        } => {
            if confirm {
                return workflow::confirm_credit(&cfg, &id);
            }
            let consent = match consent.unwrap_or_default().to_ascii_lowercase().as_str() {
                "yes" => true,
                "no" => false,
                other => {
                    return Err(
                        UsageError(format!("--consent {other:?}: expected yes or no")).into(),
                    )
                }
            };
            workflow::step(&cfg, &id, Action::Credit { consent, name })
        }
        Command::Disclose { id, advisory } => {
            workflow::step(&cfg, &id, Action::Disclose { advisory })
        }
        Command::Note { id, text } => workflow::step(&cfg, &id, Action::Note { text }),
        Command::Close { id, as_, note } => {
            let as_ = match as_ {
                Some(w) => Some(
                    w.parse()
                        .map_err(|e: String| UsageError(format!("--as {e}")))?,
                ),
                None => None,
            };
            workflow::step(&cfg, &id, Action::Close { as_, note })
        }
        Command::Merge { id, into } => workflow::merge(&cfg, &id, &into),
        Command::Embargo { id, until, note } => {
            let until = chrono::NaiveDate::parse_from_str(until.trim(), "%Y-%m-%d")
                .map_err(|_| UsageError(format!("--until {until:?}: expected YYYY-MM-DD")))?;
            let today = chrono::Utc::now().date_naive();
            workflow::step(&cfg, &id, Action::Embargo { until, note, today })
        }
        Command::Attachment { id, n, out } => attachment::run(&cfg, &id, n, &out),
        Command::Advisory {
            id,
            format,
            edit,
            reset_draft,
            publish,
            request_cve,
            no_poc,
            poc,
        } => {
            if reset_draft {
                advisory::reset_draft(&cfg, &id)?;
            }
            if no_poc || poc {
                advisory::record_text(&cfg, &id, None, None, Some(no_poc))?;
            }
            match (edit, publish.as_deref()) {
                (true, _) => advisory::edit(&cfg, &id),
                (false, Some("github")) => advisory::publish(&cfg, &id, request_cve),
                (false, Some(other)) => Err(UsageError(format!(
                    "--publish {other:?}: secdesk publishes to github only"
                ))
                .into()),
                (false, None) => advisory::show(&cfg, &id, &format),
            }
        }
        Command::Stats { since, until, json } => {
            let date = |flag: &str, v: Option<String>| -> Result<Option<chrono::NaiveDate>> {
                match v {
                    Some(d) => Ok(Some(
                        chrono::NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").map_err(|_| {
                            UsageError(format!("--{flag} {d:?}: expected YYYY-MM-DD"))
                        })?,
                    )),
                    None => Ok(None),
                }
            };
            workflow::stats(&cfg, date("since", since)?, date("until", until)?, json)
        }
        Command::Status { max_sync_age, json } => {
            let age = config::parse_duration(&max_sync_age)
                .map_err(|e| UsageError(format!("--max-sync-age: {e}")))?;
            admin::status(&cfg, age, json)
        }
        Command::Backup { dir } => admin::backup(&cfg, &dir),
        Command::Restore { dir, force } => admin::restore(&cfg, &dir, force),
        Command::Unfiled { limit, json } => cases::unfiled(&open_store(&cfg)?, limit, json),
    }
}

#[cfg(test)]
mod tests {
    use super::log_allowed;
    use tracing::Level;

    #[test]
    fn the_wire_is_never_logged() {
        assert!(!log_allowed("async_imap::imap_stream", &Level::TRACE));
        assert!(!log_allowed("async_imap", &Level::TRACE));
        assert!(!log_allowed("lettre::transport::smtp", &Level::TRACE));
        assert!(log_allowed("async_imap", &Level::DEBUG));
        assert!(log_allowed("async_imapx", &Level::TRACE));
        assert!(log_allowed("secdesk::intake", &Level::TRACE));
    }
}
