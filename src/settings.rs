//! The settings a running secdesk works with: the validated configuration
//! and the templates, loaded together and proven together — every template
//! renders with a sample case before anything is sent, so a typo in an
//! operator's template fails `check`, start-up or a reload, never a
//! reporter's mail. A SIGHUP swaps one [`Settings`] for another whole.

use std::sync::Arc;

use anyhow::Result;

use crate::config::Config;
use crate::templates::Templates;

/// The configuration and templates in force.
#[derive(Debug, Clone)]
pub struct Settings {
    pub config: Arc<Config>,
    pub templates: Arc<Templates>,
}

impl Settings {
    /// Loads the templates `config` names and proves each renders.
    pub fn load(config: Config) -> Result<Settings> {
        let templates = Templates::load(config.templates.dir.as_deref())?;
        render_samples(&templates, &config)?;
        Ok(Settings {
            config: Arc::new(config),
            templates: Arc::new(templates),
        })
    }

    /// Loads the templates without proving them: for `secdesk ingest`,
    /// where filing a report must never depend on a template — a broken one
    /// costs the acknowledgement (recorded on the case as `ack_failed`),
    /// never the report, and the MTA never bounces it back to the reporter.
    pub fn for_filing(config: Config) -> Result<Settings> {
        let templates = Templates::load(config.templates.dir.as_deref())?;
        Ok(Settings {
            config: Arc::new(config),
            templates: Arc::new(templates),
        })
    }
}

/// Renders every template with a sample case, as `secdesk check` does: a
/// typo in an operator's template fails here, not in a reporter's inbox.
pub fn render_samples(t: &Templates, cfg: &Config) -> Result<()> {
    use crate::case::workflow::Notice;
    for ack in ["ack", "ack-late"] {
        t.render_prose(
            ack,
            &crate::mail::compose::sample_ack_context("Sample subject"),
        )?;
    }
    let case = crate::advisory::sample_case();
    for n in [
        Notice::Accepted,
        Notice::Rejected,
        Notice::Duplicate,
        Notice::Released,
        Notice::Disclosed,
    ] {
        let mut ctx = crate::notices::notice_context(&case, &cfg.project);
        t.render_prose(&crate::notices::notice_template(n), &ctx)?;
        ctx.own_report = true;
        t.render_prose(&crate::notices::notice_template(n), &ctx)?;
    }
    let now = chrono::Utc::now();
    let due = crate::store::reminders::AwaitingCase {
        id: case.id.clone(),
        state: case.state.clone(),
        reporter: case.reporter.clone(),
        subject: case.subject.clone(),
        due_at: now,
        assignee: None,
        wait: crate::store::reminders::Wait::First,
        done: Vec::new(),
    };
    let mut cfg = cfg.clone();
    if cfg.team.lead.is_empty() {
        cfg.team.lead = vec!["lead@example.org".into()];
    }
    let waits = [
        crate::store::reminders::Wait::First,
        crate::store::reminders::Wait::Turn {
            n: 1,
            reopened: true,
        },
        crate::store::reminders::Wait::Embargo {
            until: now.date_naive(),
            released: false,
        },
    ];
    for (hours, wait) in [2i64, -1]
        .iter()
        .flat_map(|h| waits.iter().map(move |w| (*h, w)))
    {
        let mut d = due.clone();
        d.due_at = now + chrono::Duration::hours(hours);
        d.wait = wait.clone();
        let fired = crate::reminders::plan::firings(&[d], now, &cfg);
        for n in crate::reminders::plan::digests(&fired, now, &cfg) {
            crate::reminders::plan::compose(&n, &cfg, t, "check")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_template_renders() {
        let cfg = crate::config::from_toml_str(
            "[project]\nsecurity_address = \"s@example.org\"\n[store]\npath = \"c\"\ndata_dir = \"d\"\n",
            std::path::Path::new("/x.toml"),
        )
        .unwrap();
        Settings::load(cfg).unwrap();
    }
}
