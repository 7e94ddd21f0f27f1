//! SIGHUP: a new configuration and new templates, validated whole before
//! they replace the running ones; what changed, and which changes wait for
//! a restart.

use std::sync::Arc;

use anyhow::Result;

use crate::config::Config;
use crate::settings::Settings;

/// What a reload brings.
#[derive(Debug)]
pub struct Reloaded {
    /// The settings to run with from now on: the reloadable sections new,
    /// the others as they were until a restart.
    pub settings: Settings,
    /// Reloadable sections that changed.
    pub changed: Vec<&'static str>,
    /// Sections that changed and take effect only after a restart.
    pub restart: Vec<&'static str>,
}

/// Re-reads the configuration file (and its secrets) and the templates.
pub fn reload(current: &Config) -> Result<Reloaded> {
    let mut next = crate::config::load(&current.path)?;
    next.load_secrets()?;
    let templates = Settings::load(next.clone())?.templates;
    let (changed, restart) = compare(current, &next);
    // Sections that need a restart keep their running values until then.
    let mut merged = current.clone();
    merged.team = next.team;
    merged.sla = next.sla;
    merged.limits = next.limits;
    merged.templates = next.templates;
    Ok(Reloaded {
        settings: Settings {
            config: Arc::new(merged),
            templates,
        },
        changed,
        restart,
    })
}

/// Which sections differ, as (reloadable, needing a restart). Whole
/// sections compare equal field by field — secrets, `poll_interval`,
/// `ca_file`, `smtp.from` included. Templates are always re-read.
pub fn compare(current: &Config, next: &Config) -> (Vec<&'static str>, Vec<&'static str>) {
    let mut changed = Vec::new();
    let mut restart = Vec::new();
    let differs = |name, same: bool, list: &mut Vec<&'static str>| {
        if !same {
            list.push(name);
        }
    };
    differs("team", current.team == next.team, &mut changed);
    differs("sla", current.sla == next.sla, &mut changed);
    differs("limits", current.limits == next.limits, &mut changed);
    differs(
        "templates",
        current.templates == next.templates,
        &mut changed,
    );
    differs("project", current.project == next.project, &mut restart);
    differs("imap", current.imap == next.imap, &mut restart);
    differs("smtp", current.smtp == next.smtp, &mut restart);
    differs("store", current.store == next.store, &mut restart);
    (changed, restart)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn cfg(extra: &str) -> Config {
        let text = format!(
            "[project]\nsecurity_address = \"s@example.org\"\n[store]\npath = \"c\"\ndata_dir = \"d\"\n\
             [imap]\nhost = \"localhost\"\ntls = \"none\"\nusername = \"u\"\npassword = \"p\"\n\
             [smtp]\nhost = \"localhost\"\ntls = \"none\"\n{extra}"
        );
        crate::config::from_toml_str(&text, Path::new("/etc/secdesk/secdesk.toml")).unwrap()
    }

    #[test]
    fn every_changed_section_is_named() {
        let base = cfg("");
        assert_eq!(compare(&base, &base), (vec![], vec![]));
        // Fields the old Debug comparison could not see.
        let next = cfg("[limits]\nacks_per_hour = 7\n");
        assert_eq!(compare(&base, &next), (vec!["limits"], vec![]));
        let mut next = base.clone();
        if let Some(i) = next.imap.as_mut() {
            i.poll_interval = std::time::Duration::from_secs(5);
        }
        if let Some(s) = next.smtp.as_mut() {
            s.from = "other@example.org".into();
        }
        assert_eq!(compare(&base, &next), (vec![], vec!["imap", "smtp"]));
        let mut next = base.clone();
        if let Some(i) = next.imap.as_mut() {
            i.ca_file = Some("/etc/ssl/private-ca.pem".into());
            i.password = crate::config::Secret::new("changed");
        }
        next.team.lead = vec!["lead@example.org".into()];
        assert_eq!(compare(&base, &next), (vec!["team"], vec!["imap"]));
    }
}
