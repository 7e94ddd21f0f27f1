//! Configuration: a TOML file plus `SECDESK_<SECTION>__<KEY>` environment
//! overrides, turned into a validated [`Config`].
//!
//! Two stages, like ripgrep's low/high args: [`RawConfig`] mirrors what the
//! user wrote (serde, unknown keys refused), [`Config`] is what the rest of
//! secdesk sees — durations and sizes parsed, secrets read from
//! `password_file`, addresses normalised. Every error names the key and the
//! file it came from, on one line, and maps to exit code 2.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// A configuration problem, naming the key (or file) at fault.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {problem} ({source_name})")]
pub struct ConfigError {
    pub key: String,
    pub problem: String,
    pub source_name: String,
}

/// The fully resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the file came from, for messages.
    pub path: PathBuf,
    pub project: ProjectConfig,
    pub imap: Option<ImapConfig>,
    pub smtp: Option<SmtpConfig>,
    pub store: StoreConfig,
    pub team: TeamConfig,
    pub sla: SlaConfig,
    pub limits: LimitsConfig,
    pub templates: TemplatesConfig,
}

#[derive(Debug, Clone)]
pub struct ProjectConfig {
    pub name: String,
    /// The security inbox address, lower-cased.
    pub security_address: String,
    pub case_prefix: String,
    pub policy_url: String,
    /// OSV `affected[].package`: ecosystem (`npm`, `crates.io`, …) and name.
    pub advisory_ecosystem: Option<String>,
    pub advisory_package: Option<String>,
    /// Where users upgrade from / read release notes, for the advisory.
    pub repository_url: Option<String>,
}

impl ProjectConfig {
    /// The security address's domain: where our Message-IDs live.
    pub fn domain(&self) -> &str {
        self.security_address
            .rsplit_once('@')
            .map(|(_, d)| d)
            .unwrap_or("localhost")
    }
}

/// How a connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// TLS from the first byte (IMAPS 993, SMTPS 465).
    Implicit,
    /// Plain connect, then STARTTLS before any credentials.
    Starttls,
    /// No TLS at all: only accepted for loopback hosts.
    None,
}

#[derive(Clone)]
pub struct ImapConfig {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub username: String,
    pub password: Secret,
    pub mailbox: String,
    pub sent_mailbox: Option<String>,
    pub processed_mailbox: Option<String>,
    pub idle: bool,
    pub poll_interval: Duration,
    pub timeout: Duration,
    pub ca_file: Option<PathBuf>,
    pub batch_size: u32,
}

#[derive(Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub from: String,
    pub timeout: Duration,
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub path: PathBuf,
    pub data_dir: PathBuf,
    pub max_message_size: u64,
}

#[derive(Debug, Clone, Default)]
pub struct TeamConfig {
    pub lead: Vec<String>,
    pub members: Vec<String>,
    pub escalation: Vec<String>,
    pub timezone: chrono_tz::Tz,
    pub trust_authentication_results: Option<String>,
}

impl TeamConfig {
    /// The warning `check` and the daemon's start-up give when team members
    /// exist but their mail is trusted on its From line alone.
    pub fn trust_warning(&self) -> Option<String> {
        (self.trust_authentication_results.is_none()
            && !(self.lead.is_empty() && self.members.is_empty()))
        .then(|| {
            "team.trust_authentication_results is not set: anyone who forges a team address \
             in From can stop a case's 48-hour clock; such responses are recorded as unverified. \
             Set it to your receiving server's authserv-id"
                .to_string()
        })
    }

    /// Whether `address` (any case) is the lead or a member.
    pub fn is_team(&self, address: &str) -> bool {
        let a = address.to_ascii_lowercase();
        self.lead.iter().chain(self.members.iter()).any(|t| *t == a)
    }
}

#[derive(Debug, Clone)]
pub struct SlaConfig {
    pub response_window: Duration,
    pub remind_before: Vec<Duration>,
    /// Normalised to the 6-field form (seconds first) the `cron` crate wants.
    pub scan: String,
}

#[derive(Debug, Clone)]
pub struct LimitsConfig {
    /// Per normalised address (case-folded, `+tag` removed).
    pub acks_per_sender_per_hour: u32,
    pub acks_per_domain_per_hour: u32,
    pub acks_per_hour: u32,
}

#[derive(Debug, Clone, Default)]
pub struct TemplatesConfig {
    pub dir: Option<PathBuf>,
}

/// A password: never printed by `Debug`. One from `password_file` is read
/// only by [`Config::load_secrets`] — `run` and `check` need it, while the
/// case commands run by the team (who may not see the credentials) do not.
#[derive(Clone)]
pub struct Secret {
    value: String,
    file: Option<(PathBuf, String)>,
}

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret {
            value: s.into(),
            file: None,
        }
    }
    pub fn expose(&self) -> &str {
        &self.value
    }

    fn load(&mut self, source_name: &str) -> Result<(), ConfigError> {
        let Some((path, key)) = &self.file else {
            return Ok(());
        };
        let err = |problem: String| ConfigError {
            key: key.clone(),
            problem,
            source_name: source_name.to_string(),
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| err(format!("cannot read {}: {e}", path.display())))?;
        let line = text.lines().next().unwrap_or("").to_string();
        if line.is_empty() {
            return Err(err(format!("{} is empty", path.display())));
        }
        self.value = line;
        Ok(())
    }
}

impl Config {
    /// Reads the secrets that come from `password_file` (see [`Secret`]).
    pub fn load_secrets(&mut self) -> Result<(), ConfigError> {
        let source = self.path.display().to_string();
        if let Some(i) = &mut self.imap {
            i.password.load(&source)?;
        }
        if let Some(p) = self.smtp.as_mut().and_then(|s| s.password.as_mut()) {
            p.load(&source)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Debug for ImapConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImapConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("mailbox", &self.mailbox)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

// ---------------------------------------------------------------------------
// Raw stage: what the file and the environment say, before any meaning.

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    project: RawProject,
    imap: Option<RawImap>,
    smtp: Option<RawSmtp>,
    #[serde(default)]
    store: RawStore,
    #[serde(default)]
    team: RawTeam,
    #[serde(default)]
    sla: RawSla,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    templates: RawTemplates,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawProject {
    name: Option<String>,
    security_address: Option<String>,
    case_prefix: Option<String>,
    policy_url: Option<String>,
    advisory_ecosystem: Option<String>,
    advisory_package: Option<String>,
    repository_url: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawImap {
    host: Option<String>,
    port: Option<u16>,
    tls: Option<String>,
    username: Option<String>,
    password: Option<String>,
    password_file: Option<String>,
    mailbox: Option<String>,
    sent_mailbox: Option<String>,
    processed_mailbox: Option<String>,
    idle: Option<bool>,
    poll_interval: Option<String>,
    timeout: Option<String>,
    ca_file: Option<String>,
    batch_size: Option<u32>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSmtp {
    host: Option<String>,
    port: Option<u16>,
    tls: Option<String>,
    username: Option<String>,
    password: Option<String>,
    password_file: Option<String>,
    from: Option<String>,
    timeout: Option<String>,
    ca_file: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawStore {
    path: Option<String>,
    data_dir: Option<String>,
    max_message_size: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawTeam {
    #[serde(default, deserialize_with = "list_or_csv")]
    lead: Vec<String>,
    #[serde(default, deserialize_with = "list_or_csv")]
    members: Vec<String>,
    #[serde(default, deserialize_with = "list_or_csv")]
    escalation: Vec<String>,
    timezone: Option<String>,
    trust_authentication_results: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSla {
    response_window: Option<String>,
    #[serde(default, deserialize_with = "opt_list_or_csv")]
    remind_before: Option<Vec<String>>,
    scan: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    acks_per_sender_per_hour: Option<u32>,
    acks_per_domain_per_hour: Option<u32>,
    acks_per_hour: Option<u32>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawTemplates {
    dir: Option<String>,
}

/// Environment variables carry lists as `a@x,b@y`; the file as TOML arrays.
fn list_or_csv<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(opt_list_or_csv(d)?.unwrap_or_default())
}

fn opt_list_or_csv<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrCsv {
        List(Vec<String>),
        Csv(String),
    }
    Ok(match Option::<ListOrCsv>::deserialize(d)? {
        None => None,
        Some(ListOrCsv::List(v)) => Some(v),
        Some(ListOrCsv::Csv(s)) => Some(
            s.split(',')
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect(),
        ),
    })
}

// ---------------------------------------------------------------------------
// Loading.

/// Where the configuration file is: `--config`, else `$SECDESK_CONFIG`, else
/// `/etc/secdesk/secdesk.toml`.
pub fn default_path(cli: Option<&Path>) -> PathBuf {
    if let Some(p) = cli {
        return p.to_path_buf();
    }
    match std::env::var_os("SECDESK_CONFIG") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from("/etc/secdesk/secdesk.toml"),
    }
}

/// Loads and validates the configuration at `path`, with overrides from the
/// process environment.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let env: BTreeMap<String, String> = std::env::vars()
        .filter(|(k, _)| k.starts_with("SECDESK_") && k.contains("__"))
        .collect();
    load_with_env(path, env)
}

/// [`load`] with the environment passed in, for tests.
pub fn load_with_env(path: &Path, env: BTreeMap<String, String>) -> Result<Config, ConfigError> {
    let source_name = path.display().to_string();
    let err = |key: &str, problem: String| ConfigError {
        key: key.to_string(),
        problem,
        source_name: source_name.clone(),
    };
    if !path.is_file() {
        return Err(err("config", "file not found or not a regular file".into()));
    }
    // try_parsing(false): secrets stay strings ("0123" must not become 123);
    // the raw structs take numbers and booleans from strings themselves.
    // A parse error quotes the offending line, and a type error the value:
    // neither may carry a secret to a terminal or the journal.
    let secrets = || secret_values(&std::fs::read_to_string(path).unwrap_or_default(), &env);
    let environment = config::Environment::with_prefix("SECDESK")
        .prefix_separator("_")
        .separator("__")
        .try_parsing(false)
        .source(Some(env.clone().into_iter().collect()));
    let built = config::Config::builder()
        .add_source(config::File::from(path).format(config::FileFormat::Toml))
        .add_source(environment)
        .build()
        .map_err(|e| err("config", redact(&one_line(&e.to_string()), &secrets())))?;
    let raw: RawConfig = built.try_deserialize().map_err(|e| {
        err(
            &error_key(&e),
            redact(&one_line(&e.to_string()), &secrets()),
        )
    })?;
    resolve(raw, path)
}

/// Parses a TOML string (no environment); used by tests and `check`.
pub fn from_toml_str(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError {
        key: "config".into(),
        problem: redact(
            &one_line(&e.to_string()),
            &secret_values(text, &BTreeMap::new()),
        ),
        source_name: path.display().to_string(),
    })?;
    resolve(raw, path)
}

/// Whether a key holds a secret (not the path of a file that holds one).
fn is_secret_key(key: &str) -> bool {
    let k = key.trim().trim_matches('"').to_ascii_lowercase();
    !k.ends_with("_file")
        && ["password", "secret", "token", "passphrase"]
            .iter()
            .any(|s| k.contains(s))
}

/// The values secret keys have in the file `text` (each as written, quotes
/// included, and unquoted) and in the environment `env`.
fn secret_values(text: &str, env: &BTreeMap<String, String>) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if !is_secret_key(key) {
            continue;
        }
        let value = value.trim();
        out.push(value.to_string());
        out.push(value.trim_matches(|c| c == '"' || c == '\'').to_string());
    }
    for (k, v) in env {
        if is_secret_key(k.rsplit("__").next().unwrap_or(k)) {
            out.push(v.clone());
        }
    }
    // Longest first, so a quoted value goes before its unquoted inside; very
    // short values would blank out ordinary words and are left alone.
    out.retain(|v| v.chars().count() >= 3);
    out.sort_by_key(|v| std::cmp::Reverse(v.len()));
    out.dedup();
    out
}

/// `message` with every secret value replaced by `***`.
fn redact(message: &str, secrets: &[String]) -> String {
    let mut m = message.to_string();
    for s in secrets {
        if !s.is_empty() {
            m = m.replace(s.as_str(), "***");
        }
    }
    m
}

fn error_key(e: &config::ConfigError) -> String {
    // config's messages end in "for key `imap.port`"; pull the key out so the
    // one-line message leads with it.
    let s = e.to_string();
    if let Some(start) = s.find("for key `") {
        let rest = &s[start + "for key `".len()..];
        if let Some(end) = rest.find('`') {
            return rest[..end].to_string();
        }
    }
    "config".into()
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn resolve(raw: RawConfig, path: &Path) -> Result<Config, ConfigError> {
    let source_name = path.display().to_string();
    let err = |key: &str, problem: String| ConfigError {
        key: key.to_string(),
        problem,
        source_name: source_name.clone(),
    };
    let base_dir = path.parent().unwrap_or(Path::new("."));

    // [project]
    let p = raw.project;
    let name = p.name.unwrap_or_else(|| "the project".into());
    let security_address = required(p.security_address, "project.security_address", &err)?;
    let security_address = address(&security_address, "project.security_address", &err)?;
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
    let project = ProjectConfig {
        name: one_line(&name),
        security_address,
        case_prefix,
        policy_url,
        advisory_ecosystem: opt_line(p.advisory_ecosystem, "project.advisory_ecosystem")?,
        advisory_package: opt_line(p.advisory_package, "project.advisory_package")?,
        repository_url: opt_line(p.repository_url, "project.repository_url")?,
    };

    // [imap]
    let imap = match raw.imap {
        None => None,
        Some(i) => {
            let host = required(i.host, "imap.host", &err)?;
            let tls = tls_mode(i.tls.as_deref(), "imap.tls", &err)?;
            refuse_plaintext(&host, tls, "imap.tls", &err)?;
            let port = i.port.unwrap_or(match tls {
                TlsMode::Implicit => 993,
                _ => 143,
            });
            nonzero_port(port, "imap.port", &err)?;
            let password = secret(i.password, i.password_file, "imap", base_dir, &err)?
                .ok_or_else(|| err("imap.password", "set password or password_file".into()))?;
            Some(ImapConfig {
                host,
                port,
                tls,
                username: required(i.username, "imap.username", &err)?,
                password,
                mailbox: mailbox_name(i.mailbox, "INBOX", "imap.mailbox", &err)?,
                sent_mailbox: opt_mailbox(i.sent_mailbox, "imap.sent_mailbox", &err)?,
                processed_mailbox: opt_mailbox(
                    i.processed_mailbox,
                    "imap.processed_mailbox",
                    &err,
                )?,
                idle: i.idle.unwrap_or(true),
                poll_interval: duration_key(i.poll_interval, "60s", "imap.poll_interval", &err)?,
                timeout: duration_key(i.timeout, "60s", "imap.timeout", &err)?,
                ca_file: i.ca_file.map(|f| base_dir.join(f)),
                batch_size: match i.batch_size.unwrap_or(50) {
                    0 => return Err(err("imap.batch_size", "must be at least 1".into())),
                    n => n.min(1000),
                },
            })
        }
    };

    // [smtp]
    let smtp = match raw.smtp {
        None => None,
        Some(s) => {
            let host = required(s.host, "smtp.host", &err)?;
            let tls = tls_mode(s.tls.as_deref(), "smtp.tls", &err)?;
            refuse_plaintext(&host, tls, "smtp.tls", &err)?;
            let port = s.port.unwrap_or(match tls {
                TlsMode::Implicit => 465,
                _ => 587,
            });
            nonzero_port(port, "smtp.port", &err)?;
            let password = secret(s.password, s.password_file, "smtp", base_dir, &err)?;
            if s.username.is_some() != password.is_some() {
                return Err(err(
                    "smtp.username",
                    "username and password (or password_file) go together".into(),
                ));
            }
            let from = match s.from {
                Some(f) => address(&f, "smtp.from", &err)?,
                None => project.security_address.clone(),
            };
            Some(SmtpConfig {
                host,
                port,
                tls,
                username: s.username,
                password,
                from,
                timeout: duration_key(s.timeout, "30s", "smtp.timeout", &err)?,
                ca_file: s.ca_file.map(|f| base_dir.join(f)),
            })
        }
    };

    // [store]
    let st = raw.store;
    let store_path = base_dir.join(required(st.path, "store.path", &err)?);
    let data_dir = base_dir.join(required(st.data_dir, "store.data_dir", &err)?);
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

    // [team]
    let t = raw.team;
    let addresses = |v: Vec<String>, key: &str| -> Result<Vec<String>, ConfigError> {
        v.iter().map(|a| address(a, key, &err)).collect()
    };
    let timezone = match t.timezone {
        None => chrono_tz::UTC,
        Some(z) => z
            .parse::<chrono_tz::Tz>()
            .map_err(|_| err("team.timezone", format!("unknown time zone {z:?}")))?,
    };
    let team = TeamConfig {
        lead: addresses(t.lead, "team.lead")?,
        members: addresses(t.members, "team.members")?,
        escalation: addresses(t.escalation, "team.escalation")?,
        timezone,
        trust_authentication_results: t.trust_authentication_results.filter(|s| !s.is_empty()),
    };

    // [sla]
    let s = raw.sla;
    let response_window = duration_key(s.response_window, "48h", "sla.response_window", &err)?;
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
    let scan = normalise_cron(s.scan.as_deref().unwrap_or("0 */5 * * * *"))
        .map_err(|p| err("sla.scan", p))?;
    let sla = SlaConfig {
        response_window,
        remind_before,
        scan,
    };

    // [limits]
    let limits = LimitsConfig {
        acks_per_sender_per_hour: raw.limits.acks_per_sender_per_hour.unwrap_or(5),
        acks_per_domain_per_hour: raw.limits.acks_per_domain_per_hour.unwrap_or(20),
        acks_per_hour: raw.limits.acks_per_hour.unwrap_or(200),
    };

    // [templates]
    let templates = TemplatesConfig {
        dir: raw.templates.dir.map(|d| base_dir.join(d)),
    };
    if let Some(d) = &templates.dir {
        if !d.is_dir() {
            return Err(err(
                "templates.dir",
                format!("{} is not a directory", d.display()),
            ));
        }
    }

    Ok(Config {
        path: path.to_path_buf(),
        project,
        imap,
        smtp,
        store: StoreConfig {
            path: store_path,
            data_dir,
            max_message_size,
        },
        team,
        sla,
        limits,
        templates,
    })
}

type ErrFn<'a> = dyn Fn(&str, String) -> ConfigError + 'a;

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

/// Expands `${NAME}` from the environment (for `${CREDENTIALS_DIRECTORY}`).
fn expand_env(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) => {
                out.push_str(&std::env::var(&after[..end]).unwrap_or_default());
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

fn duration_key(
    v: Option<String>,
    default: &str,
    key: &str,
    err: &ErrFn,
) -> Result<Duration, ConfigError> {
    let s = v.unwrap_or_else(|| default.to_string());
    let d = parse_duration(&s).map_err(|p| err(key, p))?;
    if d.is_zero() {
        return Err(err(key, "must be longer than zero".into()));
    }
    Ok(d)
}

/// Parses `48h`, `30m`, `20s`, `2d`, `1h30m`, `500ms`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("expected a duration like 48h, 30m or 20s, got {s:?}");
    let t = s.trim();
    if t.is_empty() {
        return Err(bad());
    }
    let mut total: u128 = 0;
    let mut rest = t;
    while !rest.is_empty() {
        let digits = rest.chars().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 || digits > 12 {
            return Err(bad());
        }
        let n: u128 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest.chars().take_while(|c| c.is_ascii_alphabetic()).count();
        let unit = &rest[..unit_len];
        rest = rest[unit_len..].trim_start();
        let ms: u128 = match unit {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return Err(bad()),
        };
        total += n * ms;
    }
    let ms = u64::try_from(total).map_err(|_| bad())?;
    Ok(Duration::from_millis(ms))
}

/// Parses `25MB`, `512KB`, `1GB`, `1048576` (bytes). Decimal units, as mail
/// servers count them; `MiB`/`KiB`/`GiB` are binary.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let bad = || format!("expected a size like 25MB, 512KB or 1048576, got {s:?}");
    let t = s.trim();
    let digits = t.chars().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 || digits > 15 {
        return Err(bad());
    }
    let n: u64 = t[..digits].parse().map_err(|_| bad())?;
    let mult: u64 = match t[digits..].trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "KB" | "K" => 1000,
        "MB" | "M" => 1000 * 1000,
        "GB" | "G" => 1000 * 1000 * 1000,
        "KIB" => 1024,
        "MIB" => 1024 * 1024,
        "GIB" => 1024 * 1024 * 1024,
        _ => return Err(bad()),
    };
    n.checked_mul(mult).ok_or_else(bad)
}

/// Accepts the common 5-field cron form and the 6-field form with seconds
/// (what the `cron` crate wants) and returns the 6-field form, validated.
pub fn normalise_cron(expr: &str) -> Result<String, String> {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    let six = match fields.len() {
        5 => format!("0 {}", fields.join(" ")),
        6 | 7 => fields.join(" "),
        n => {
            return Err(format!(
                "expected a cron expression of 5 or 6 fields, got {n} in {expr:?}"
            ))
        }
    };
    six.parse::<cron::Schedule>()
        .map_err(|e| format!("invalid cron expression {expr:?}: {e}"))?;
    Ok(six)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let p = dir.join("secdesk.toml");
        std::fs::write(&p, text).unwrap();
        p
    }

    const MINIMAL: &str = r#"
[project]
security_address = "security@example.org"
[store]
path = "cases.db"
data_dir = "data"
"#;

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration("48h").unwrap(),
            Duration::from_secs(48 * 3600)
        );
        assert_eq!(parse_duration("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_duration("20s").unwrap(), Duration::from_secs(20));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        for bad in ["", "h", "10", "10x", "-5s", "99999999999999h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("25MB").unwrap(), 25_000_000);
        assert_eq!(parse_size("1MiB").unwrap(), 1_048_576);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert!(parse_size("lots").is_err());
        assert!(parse_size("99999999999999GB").is_err());
    }

    #[test]
    fn cron_forms() {
        assert_eq!(normalise_cron("*/5 * * * *").unwrap(), "0 */5 * * * *");
        assert_eq!(normalise_cron("0 */5 * * * *").unwrap(), "0 */5 * * * *");
        assert!(normalise_cron("* *").is_err());
        assert!(normalise_cron("0 99 * * * *").is_err());
    }

    #[test]
    fn minimal_file_gets_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), MINIMAL);
        let c = load_with_env(&p, BTreeMap::new()).unwrap();
        assert_eq!(c.project.case_prefix, "SEC");
        assert_eq!(c.sla.response_window, Duration::from_secs(48 * 3600));
        assert_eq!(
            c.sla.remind_before,
            vec![
                Duration::from_secs(12 * 3600),
                Duration::from_secs(4 * 3600)
            ]
        );
        assert_eq!(c.store.max_message_size, 25_000_000);
        assert_eq!(c.store.path, dir.path().join("cases.db"));
        assert!(c.imap.is_none());
    }

    #[test]
    fn env_overrides_and_keeps_secret_strings() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            &format!("{MINIMAL}\n[imap]\nhost = \"127.0.0.1\"\ntls = \"none\"\nusername = \"s\"\n"),
        );
        let env = BTreeMap::from([
            ("SECDESK_IMAP__PASSWORD".to_string(), "0123".to_string()),
            ("SECDESK_IMAP__PORT".to_string(), "10143".to_string()),
            (
                "SECDESK_TEAM__LEAD".to_string(),
                "Lead@Example.org, other@example.org".to_string(),
            ),
            (
                "SECDESK_SLA__RESPONSE_WINDOW".to_string(),
                "20s".to_string(),
            ),
        ]);
        let c = load_with_env(&p, env).unwrap();
        let imap = c.imap.unwrap();
        assert_eq!(imap.password.expose(), "0123");
        assert_eq!(imap.port, 10143);
        assert_eq!(c.team.lead, vec!["lead@example.org", "other@example.org"]);
        assert_eq!(c.sla.response_window, Duration::from_secs(20));
    }

    #[test]
    fn errors_name_key_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            ("[project]\nsecurity_address = \"x\"\n", "project.security_address"),
            (
                "[project]\nsecurity_address = \"s@example.org\"\n[store]\npath=\"a\"\ndata_dir=\"b\"\nmax_message_size=\"huge\"\n",
                "store.max_message_size",
            ),
            (
                "[project]\nsecurity_address = \"s@example.org\"\n[store]\npath=\"a\"\ndata_dir=\"b\"\n[imap]\nhost=\"mail.example.org\"\ntls=\"none\"\nusername=\"u\"\npassword=\"p\"\n",
                "imap.tls",
            ),
            (
                "[project]\nsecurity_address = \"s@example.org\"\n[store]\npath=\"a\"\ndata_dir=\"b\"\n[imap]\nhost=\"h\"\nport=99999\n",
                "imap.port",
            ),
            (
                "[project]\nsecurity_address = \"s@example.org\"\n[store]\npath=\"a\"\ndata_dir=\"b\"\n[sla]\nscan=\"every minute\"\n",
                "sla.scan",
            ),
            (
                "[project]\nsecurity_address = \"s@example.org\"\n[store]\npath=\"a\"\ndata_dir=\"b\"\n[sla]\nresponse_window=\"1h\"\nremind_before=[\"2h\"]\n",
                "sla.remind_before",
            ),
        ];
        for (text, key) in cases {
            let p = write(dir.path(), text);
            let e = load_with_env(&p, BTreeMap::new()).unwrap_err();
            let line = e.to_string();
            assert!(line.contains(key), "{line} should name {key}");
            assert!(line.contains("secdesk.toml"), "{line} should name the file");
            assert!(!line.contains('\n'));
        }
    }

    #[test]
    fn unknown_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), &format!("{MINIMAL}\n[team]\nleed = []\n"));
        let e = load_with_env(&p, BTreeMap::new()).unwrap_err();
        assert!(e.to_string().contains("leed"), "{e}");
    }

    #[test]
    fn password_file_is_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("imap.pw"), "s3cret\n").unwrap();
        let p = write(
            dir.path(),
            &format!("{MINIMAL}\n[imap]\nhost=\"localhost\"\ntls=\"none\"\nusername=\"u\"\npassword_file=\"imap.pw\"\n"),
        );
        let mut c = load_with_env(&p, BTreeMap::new()).unwrap();
        assert_eq!(c.imap.as_ref().unwrap().password.expose(), "");
        c.load_secrets().unwrap();
        assert_eq!(c.imap.unwrap().password.expose(), "s3cret");
        // A missing file is an error naming the key, when the secret is needed.
        let p = write(
            dir.path(),
            &format!("{MINIMAL}\n[imap]\nhost=\"localhost\"\ntls=\"none\"\nusername=\"u\"\npassword_file=\"${{CREDENTIALS_DIRECTORY}}/nope\"\n"),
        );
        let mut c = load_with_env(&p, BTreeMap::new()).unwrap();
        let e = c.load_secrets().unwrap_err().to_string();
        assert!(e.starts_with("imap.password_file: cannot read"), "{e}");
        assert_eq!(format!("{:?}", Secret::new("x")), "Secret(***)");
    }

    #[test]
    fn errors_never_echo_a_secret() {
        let dir = tempfile::tempdir().unwrap();
        // A syntax error on the password line: the parser quotes the line.
        let p = write(
            dir.path(),
            &format!("{MINIMAL}\n[imap]\nhost = \"localhost\"\npassword = \"hunter2-s3cret\n"),
        );
        let e = load_with_env(&p, BTreeMap::new()).unwrap_err().to_string();
        assert!(!e.contains("hunter2-s3cret"), "{e}");
        assert!(e.contains("secdesk.toml"), "{e}");
        // A literal string, and an error on the line after the secret.
        let p = write(
            dir.path(),
            &format!("{MINIMAL}\n[smtp]\nhost = \"localhost\"\npassword = 'lit-s3cret-value\n"),
        );
        let e = load_with_env(&p, BTreeMap::new()).unwrap_err().to_string();
        assert!(e.contains("TOML parse error"), "{e}");
        assert!(!e.contains("lit-s3cret-value"), "{e}");
        let text = format!("{MINIMAL}\n[imap]\npassword = \"tr0ub4dor&3\n");
        let e = from_toml_str(&text, &p).unwrap_err().to_string();
        assert!(!e.contains("tr0ub4dor"), "{e}");
    }

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback("127.0.0.1"));
        assert!(is_loopback("localhost"));
        assert!(is_loopback("[::1]"));
        assert!(!is_loopback("mail.example.org"));
        assert!(!is_loopback("10.0.0.1"));
    }
}
