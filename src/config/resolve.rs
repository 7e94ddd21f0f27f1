//! The resolve stage: raw values → the [`Config`] the rest of secdesk sees.
//! One function per section; each default and each check lives here, and
//! every error names the key and the file.

use std::net::IpAddr;
use std::path::Path;

use super::raw::{
    RawConfig, RawImap, RawLimits, RawProject, RawSla, RawSmtp, RawStore, RawTeam, RawTemplates,
};
use super::units::{duration_key, expand_env, parse_cron, parse_duration, parse_size, ErrFn};
use super::{
    one_line, Config, ConfigError, HistoryMode, ImapConfig, LimitsConfig, ProjectConfig, Secret,
    SlaConfig, SmtpConfig, StoreConfig, TeamConfig, TemplatesConfig, TlsMode,
};

/// Resolves every section of `raw`, read from `path`.
pub(super) fn resolve(raw: RawConfig, path: &Path) -> Result<Config, ConfigError> {
    let source_name = path.display().to_string();
    let err = |key: &str, problem: String| ConfigError {
        key: key.to_string(),
        problem,
        source_name: source_name.clone(),
    };
    let base_dir = path.parent().unwrap_or(Path::new("."));
    let project = project(raw.project, &err)?;
    let github = super::packages::github(raw.github, base_dir, &err)?;
    let imap = raw.imap.map(|i| imap(i, base_dir, &err)).transpose()?;
    let smtp = raw
        .smtp
        .map(|s| smtp(s, &project, base_dir, &err))
        .transpose()?;
    Ok(Config {
        path: path.to_path_buf(),
        project,
        github,
        imap,
        smtp,
        store: store(raw.store, base_dir, &err)?,
        team: team(raw.team, &err)?,
        sla: sla(raw.sla, &err)?,
        limits: limits(raw.limits),
        templates: templates(raw.templates, base_dir, &err)?,
    })
}

fn project(p: RawProject, err: &ErrFn) -> Result<ProjectConfig, ConfigError> {
    let name = p.name.unwrap_or_else(|| "the project".into());
    let security_address = required(p.security_address, "project.security_address", err)?;
    let security_address = address(&security_address, "project.security_address", err)?;
    let case_prefix = p.case_prefix.unwrap_or_else(|| "SEC".into());
    if case_prefix.is_empty()
        || case_prefix.len() > 16
        || !case_prefix
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    {
        return Err(err(
            "project.case_prefix",
            format!("expected 1 to 16 upper-case letters or digits, got {case_prefix:?}"),
        ));
    }
    let policy_url = p.policy_url.unwrap_or_default();
    if !policy_url.is_empty() && !is_safe_line(&policy_url) {
        return Err(err("project.policy_url", "must be one line of text".into()));
    }
    let opt_line = |v: Option<String>, key: &str| -> Result<Option<String>, ConfigError> {
        match v {
            None => Ok(None),
            Some(s) if s.trim().is_empty() => Ok(None),
            Some(s) if is_safe_line(&s) => Ok(Some(s.trim().to_string())),
            Some(_) => Err(err(key, "must be one line of text".into())),
        }
    };
    let advisory_ecosystem = opt_line(p.advisory_ecosystem, "project.advisory_ecosystem")?;
    let advisory_package = opt_line(p.advisory_package, "project.advisory_package")?;
    let repository_url = opt_line(p.repository_url, "project.repository_url")?;
    let packages = super::packages::packages(
        p.packages,
        (advisory_ecosystem.as_deref(), advisory_package.as_deref()),
        repository_url.as_deref(),
        err,
    )?;
    Ok(ProjectConfig {
        name: one_line(&name),
        packages,
        security_address,
        case_prefix,
        policy_url,
        advisory_ecosystem,
        advisory_package,
        repository_url,
        relay_list_ids: p
            .relay_list_ids
            .iter()
            .map(|id| {
                let id = id
                    .trim()
                    .trim_matches(|c| c == '<' || c == '>')
                    .to_ascii_lowercase();
                if id.is_empty() || !is_safe_line(&id) || id.contains(char::is_whitespace) {
                    Err(err(
                        "project.relay_list_ids",
                        format!("expected list ids like \"security.example.org\", got {id:?}"),
                    ))
                } else {
                    Ok(id)
                }
            })
            .collect::<Result<_, _>>()?,
    })
}

fn imap(i: RawImap, base_dir: &Path, err: &ErrFn) -> Result<ImapConfig, ConfigError> {
    let host = required(i.host, "imap.host", err)?;
    let tls = tls_mode(i.tls.as_deref(), "imap.tls", err)?;
    refuse_plaintext(&host, tls, "imap.tls", err)?;
    let port = i.port.unwrap_or(match tls {
        TlsMode::Implicit => 993,
        _ => 143,
    });
    nonzero_port(port, "imap.port", err)?;
    let password = secret(i.password, i.password_file, "imap", base_dir, err)?
        .ok_or_else(|| err("imap.password", "set password or password_file".into()))?;
    Ok(ImapConfig {
        host,
        port,
        tls,
        username: required(i.username, "imap.username", err)?,
        password,
        mailbox: mailbox_name(i.mailbox, "INBOX", "imap.mailbox", err)?,
        sent_mailbox: opt_mailbox(i.sent_mailbox, "imap.sent_mailbox", err)?,
        processed_mailbox: opt_mailbox(i.processed_mailbox, "imap.processed_mailbox", err)?,
        idle: i.idle.unwrap_or(true),
        poll_interval: duration_key(i.poll_interval, "60s", "imap.poll_interval", err)?,
        timeout: duration_key(i.timeout, "60s", "imap.timeout", err)?,
        ca_file: i.ca_file.map(|f| base_dir.join(f)),
        batch_size: match i.batch_size.unwrap_or(50) {
            0 => return Err(err("imap.batch_size", "must be at least 1".into())),
            n => n.min(1000),
        },
        history: match i.history.as_deref().unwrap_or("import") {
            "import" => HistoryMode::Import,
            "skip" => HistoryMode::Skip,
            other => {
                return Err(err(
                    "imap.history",
                    format!("expected \"import\" or \"skip\", got {other:?}"),
                ))
            }
        },
        since: i
            .since
            .map(|d| {
                chrono::NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d")
                    .map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc())
                    .map_err(|_| {
                        err(
                            "imap.since",
                            format!("expected a date like 2026-01-31, got {d:?}"),
                        )
                    })
            })
            .transpose()?,
    })
}

fn smtp(
    s: RawSmtp,
    project: &ProjectConfig,
    base_dir: &Path,
    err: &ErrFn,
) -> Result<SmtpConfig, ConfigError> {
    let host = required(s.host, "smtp.host", err)?;
    let tls = tls_mode(s.tls.as_deref(), "smtp.tls", err)?;
    refuse_plaintext(&host, tls, "smtp.tls", err)?;
    let port = s.port.unwrap_or(match tls {
        TlsMode::Implicit => 465,
        _ => 587,
    });
    nonzero_port(port, "smtp.port", err)?;
    let password = secret(s.password, s.password_file, "smtp", base_dir, err)?;
    if s.username.is_some() != password.is_some() {
        return Err(err(
            "smtp.username",
            "username and password (or password_file) go together".into(),
        ));
    }
    let (from_name, from) = match s.from {
        Some(f) => {
            let (name, addr) = split_display_name(&f);
            let name = match name {
                Some(n) if n.chars().any(char::is_control) || n.chars().count() > 100 => {
                    return Err(err(
                        "smtp.from",
                        format!("the display name must be one line of at most 100 characters, got {n:?}"),
                    ))
                }
                n => n,
            };
            (name, address(addr, "smtp.from", err)?)
        }
        None => (None, project.security_address.clone()),
    };
    Ok(SmtpConfig {
        host,
        port,
        tls,
        username: s.username,
        password,
        from,
        from_name,
        timeout: duration_key(s.timeout, "30s", "smtp.timeout", err)?,
        ca_file: s.ca_file.map(|f| base_dir.join(f)),
    })
}

fn store(st: RawStore, base_dir: &Path, err: &ErrFn) -> Result<StoreConfig, ConfigError> {
    let path = base_dir.join(required(st.path, "store.path", err)?);
    let data_dir = base_dir.join(required(st.data_dir, "store.data_dir", err)?);
    let max_message_size = match st.max_message_size {
        None => 25 * 1000 * 1000,
        Some(s) => parse_size(&s).map_err(|p| err("store.max_message_size", p))?,
    };
    if max_message_size < 1024 {
        return Err(err(
            "store.max_message_size",
            "must be at least 1KB".to_string(),
        ));
    }
    Ok(StoreConfig {
        path,
        data_dir,
        max_message_size,
    })
}

fn team(t: RawTeam, err: &ErrFn) -> Result<TeamConfig, ConfigError> {
    let addresses = |v: Vec<String>, key: &str| -> Result<Vec<String>, ConfigError> {
        v.iter().map(|a| address(a, key, err)).collect()
    };
    let timezone = match t.timezone {
        None => chrono_tz::UTC,
        Some(z) => z
            .parse::<chrono_tz::Tz>()
            .map_err(|_| err("team.timezone", format!("unknown time zone {z:?}")))?,
    };
    Ok(TeamConfig {
        lead: addresses(t.lead, "team.lead")?,
        members: addresses(t.members, "team.members")?,
        escalation: addresses(t.escalation, "team.escalation")?,
        timezone,
        trust_authentication_results: t.trust_authentication_results.filter(|s| !s.is_empty()),
    })
}

fn sla(s: RawSla, err: &ErrFn) -> Result<SlaConfig, ConfigError> {
    let response_window = duration_key(s.response_window, "48h", "sla.response_window", err)?;
    let mut remind_before = Vec::new();
    let explicit = s.remind_before.is_some();
    for r in s
        .remind_before
        .unwrap_or_else(|| vec!["12h".into(), "4h".into()])
    {
        let d = parse_duration(&r).map_err(|p| err("sla.remind_before", p))?;
        if d >= response_window && !explicit {
            // Defaults that do not fit a shortened window are dropped.
            continue;
        }
        if d >= response_window {
            return Err(err(
                "sla.remind_before",
                format!("{r} is not shorter than the response window"),
            ));
        }
        remind_before.push(d);
    }
    remind_before.sort();
    remind_before.dedup();
    remind_before.reverse();
    let scan =
        parse_cron(s.scan.as_deref().unwrap_or("0 */5 * * * *")).map_err(|p| err("sla.scan", p))?;
    let follow_up_window = duration_key(s.follow_up_window, "72h", "sla.follow_up_window", err)?;
    let mut embargo_remind_before = s
        .embargo_remind_before
        .unwrap_or_else(|| vec!["14d".into(), "3d".into()])
        .iter()
        .map(|r| parse_duration(r).map_err(|p| err("sla.embargo_remind_before", p)))
        .collect::<Result<Vec<_>, _>>()?;
    embargo_remind_before.sort();
    embargo_remind_before.dedup();
    embargo_remind_before.reverse();
    Ok(SlaConfig {
        response_window,
        remind_before,
        follow_up_window,
        embargo_remind_before,
        scan,
    })
}

fn limits(l: RawLimits) -> LimitsConfig {
    LimitsConfig {
        acks_per_sender_per_hour: l.acks_per_sender_per_hour.unwrap_or(5),
        acks_per_domain_per_hour: l.acks_per_domain_per_hour.unwrap_or(20),
        acks_per_hour: l.acks_per_hour.unwrap_or(200),
    }
}

fn templates(
    t: RawTemplates,
    base_dir: &Path,
    err: &ErrFn,
) -> Result<TemplatesConfig, ConfigError> {
    let dir = t.dir.map(|d| base_dir.join(d));
    if let Some(d) = &dir {
        if !d.is_dir() {
            return Err(err(
                "templates.dir",
                format!("{} is not a directory", d.display()),
            ));
        }
    }
    Ok(TemplatesConfig { dir })
}

fn required(v: Option<String>, key: &str, err: &ErrFn) -> Result<String, ConfigError> {
    match v {
        Some(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        _ => Err(err(key, "missing (required)".into())),
    }
}

fn is_safe_line(s: &str) -> bool {
    !s.chars().any(|c| c.is_control())
}

/// A bare `local@domain` address, lower-cased; nothing that could break a
/// header.
fn address(s: &str, key: &str, err: &ErrFn) -> Result<String, ConfigError> {
    let a = s.trim().to_ascii_lowercase();
    let ok = a.len() <= 254
        && a.split_once('@').is_some_and(|(l, d)| {
            !l.is_empty() && !d.contains('@') && (d.contains('.') || d == "localhost")
        })
        && a.chars()
            .all(|c| c.is_ascii_graphic() && !matches!(c, '<' | '>' | ',' | ';' | '"' | '\\'));
    if ok {
        Ok(a)
    } else {
        Err(err(
            key,
            format!("expected an address like name@example.org, got {s:?}"),
        ))
    }
}

/// `Name <addr>` (the name optionally quoted) → (`Name`, `addr`); a bare
/// address has no name.
fn split_display_name(s: &str) -> (Option<String>, &str) {
    let t = s.trim();
    match (t.rfind('<'), t.strip_suffix('>')) {
        (Some(open), Some(_)) => {
            let name = t.get(..open).unwrap_or("").trim().trim_matches('"').trim();
            let addr = t.get(open + 1..t.len() - 1).unwrap_or("");
            ((!name.is_empty()).then(|| name.to_string()), addr)
        }
        _ => (None, t),
    }
}

fn tls_mode(v: Option<&str>, key: &str, err: &ErrFn) -> Result<TlsMode, ConfigError> {
    match v.unwrap_or("implicit") {
        "implicit" => Ok(TlsMode::Implicit),
        "starttls" => Ok(TlsMode::Starttls),
        "none" => Ok(TlsMode::None),
        other => Err(err(
            key,
            format!("expected \"implicit\", \"starttls\" or \"none\", got {other:?}"),
        )),
    }
}

/// Whether `host` names this machine: credentials and reports may travel in
/// clear text only there.
pub fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_matches(|c| c == '[' || c == ']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn refuse_plaintext(host: &str, tls: TlsMode, key: &str, err: &ErrFn) -> Result<(), ConfigError> {
    if tls == TlsMode::None && !is_loopback(host) {
        return Err(err(
            key,
            format!("\"none\" is only allowed for a loopback host, not {host:?}"),
        ));
    }
    Ok(())
}

fn nonzero_port(port: u16, key: &str, err: &ErrFn) -> Result<(), ConfigError> {
    if port == 0 {
        return Err(err(key, "expected a number from 1 to 65535, got 0".into()));
    }
    Ok(())
}

fn mailbox_name(
    v: Option<String>,
    default: &str,
    key: &str,
    err: &ErrFn,
) -> Result<String, ConfigError> {
    let m = v.unwrap_or_else(|| default.to_string());
    if m.is_empty() || m.len() > 200 || m.chars().any(|c| c.is_control() || c == '"') {
        return Err(err(key, format!("not a usable mailbox name: {m:?}")));
    }
    Ok(m)
}

fn opt_mailbox(v: Option<String>, key: &str, err: &ErrFn) -> Result<Option<String>, ConfigError> {
    match v {
        None => Ok(None),
        Some(s) if s.is_empty() => Ok(None),
        Some(s) => mailbox_name(Some(s), "", key, err).map(Some),
    }
}

/// A secret from `password` or from the first line of `password_file`
/// (systemd credentials: `${CREDENTIALS_DIRECTORY}/imap`).
fn secret(
    password: Option<String>,
    file: Option<String>,
    section: &str,
    base_dir: &Path,
    err: &ErrFn,
) -> Result<Option<Secret>, ConfigError> {
    match (password, file) {
        (Some(_), Some(_)) => Err(err(
            &format!("{section}.password_file"),
            "set password or password_file, not both".into(),
        )),
        (Some(p), None) => Ok(Some(Secret::new(p))),
        (None, Some(f)) => {
            let path = base_dir.join(expand_env(&f));
            Ok(Some(Secret {
                value: String::new(),
                file: Some((path, format!("{section}.password_file"))),
            }))
        }
        (None, None) => Ok(None),
    }
}
