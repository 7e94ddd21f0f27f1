//! Configuration: a TOML file plus `SECDESK_<SECTION>__<KEY>` environment
//! overrides, turned into a validated [`Config`].
//!
//! Two stages, like ripgrep's low/high args: `raw` mirrors what the user
//! wrote (serde, unknown keys refused), `resolve` turns it into the
//! [`Config`] the rest of secdesk sees — durations, sizes and the cron
//! schedule parsed (`units`), secrets read from `password_file`, addresses
//! normalised. Every error names the key and the file it came from, on one
//! line, never quotes a secret, and maps to exit code 2.

mod packages;
mod raw;
mod resolve;
mod units;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use raw::RawConfig;
pub use resolve::is_loopback;
use resolve::resolve;
pub use units::{parse_cron, parse_duration, parse_size};

/// A configuration problem, naming the key (or file) at fault.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {problem} ({source_name})")]
pub struct ConfigError {
    pub key: String,
    pub problem: String,
    pub source_name: String,
}

/// The fully resolved configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Where the file came from, for messages.
    pub path: PathBuf,
    pub project: ProjectConfig,
    /// `[github]`: where `advisory --publish github` goes.
    pub github: Option<GithubConfig>,
    pub imap: Option<ImapConfig>,
    pub smtp: Option<SmtpConfig>,
    pub store: StoreConfig,
    pub team: TeamConfig,
    pub sla: SlaConfig,
    pub limits: LimitsConfig,
    pub templates: TemplatesConfig,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectConfig {
    pub name: String,
    /// The security inbox address, lower-cased.
    pub security_address: String,
    pub case_prefix: String,
    pub policy_url: String,
    /// What the project ships, each with its ecosystem: an advisory's
    /// affected versions are per package (`[[project.packages]]`, or the
    /// one package `advisory_ecosystem`/`advisory_package` name, id `main`).
    pub packages: Vec<PackageConfig>,
    /// The older single-package keys, kept for configs that use them.
    pub advisory_ecosystem: Option<String>,
    pub advisory_package: Option<String>,
    /// Where users upgrade from / read release notes, for the advisory.
    pub repository_url: Option<String>,
    /// `List-Id`s of our own relay (security@ as a Google Group or a list):
    /// mail through it is direct mail. Lower-case, without brackets.
    pub relay_list_ids: Vec<String>,
}

/// One package the project ships (a desktop app, a CLI on npm, a library on
/// crates.io, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageConfig {
    /// The short name `--package` takes.
    pub id: String,
    /// `Ecosystem::None` for an app released from its repository.
    pub ecosystem: crate::ecosystem::Ecosystem,
    /// Its name in the ecosystem (`@example/cli`), or the app's name.
    pub name: String,
    /// The source repository (an https URL), for OSV's GIT ranges.
    pub repository: Option<String>,
}

/// `[github]`: the repository security advisory API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GithubConfig {
    /// `owner/repo`.
    pub repository: String,
    /// A file whose first line is the token; read only when publishing.
    token_file: PathBuf,
    pub api_url: String,
    pub timeout: Duration,
}

impl ProjectConfig {
    /// The package `id` names, or the only one when `id` is `None`.
    pub fn package(&self, id: Option<&str>) -> anyhow::Result<&PackageConfig> {
        let ids = || {
            self.packages
                .iter()
                .map(|p| p.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match id {
            Some(id) => self.packages.iter().find(|p| p.id == id).ok_or_else(|| {
                if self.packages.is_empty() {
                    anyhow::anyhow!(
                        "no package {id:?}: the config lists none; add [[project.packages]]"
                    )
                } else {
                    anyhow::anyhow!("no package {id:?} in the config (packages: {})", ids())
                }
            }),
            None => match self.packages.as_slice() {
                [only] => Ok(only),
                [] => anyhow::bail!(
                    "the config lists no package; add [[project.packages]] (id, ecosystem, name)"
                ),
                _ => anyhow::bail!("several packages: name one with --package ({})", ids()),
            },
        }
    }

    /// The security address's domain: where our Message-IDs live.
    pub fn domain(&self) -> &str {
        self.security_address
            .rsplit_once('@')
            .map(|(_, d)| d)
            .unwrap_or("localhost")
    }
}

/// What the first start does with the mail already in a mailbox (and what
/// a rescan after a UIDVALIDITY change does with mail from before then).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryMode {
    /// File it as history: `imported` cases, never answered.
    Import,
    /// Leave it: record only the high-water mark.
    Skip,
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

#[derive(Clone, PartialEq, Eq)]
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
    /// What the first start does with the mail already in the mailbox.
    pub history: HistoryMode,
    /// Mail received before this is history, whatever its UID.
    pub since: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub from: String,
    /// The display name of `from` (`smtp.from = "Example Security
    /// <security@example.org>"`); else "<project> security team".
    pub from_name: Option<String>,
    pub timeout: Duration,
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    pub path: PathBuf,
    pub data_dir: PathBuf,
    pub max_message_size: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlaConfig {
    pub response_window: Duration,
    pub remind_before: Vec<Duration>,
    /// The team's deadline for each later turn of a conversation: the
    /// reporter wrote after the team's last word, or on a closed case.
    pub follow_up_window: Duration,
    /// How long before an agreed disclosure date the lead is reminded,
    /// longest first.
    pub embargo_remind_before: Vec<Duration>,
    /// When the reminder scan runs, parsed once.
    pub scan: cron::Schedule,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitsConfig {
    /// Per normalised address (case-folded, `+tag` removed).
    pub acks_per_sender_per_hour: u32,
    pub acks_per_domain_per_hour: u32,
    pub acks_per_hour: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplatesConfig {
    pub dir: Option<PathBuf>,
}

/// A password: never printed by `Debug`. One from `password_file` is read
/// only by [`Config::load_secrets`] — `run` and `check` need it, while the
/// case commands run by the team (who may not see the credentials) do not.
#[derive(Clone, PartialEq, Eq)]
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
    /// secdesk's own addresses, lower-case: the security inbox and the SMTP
    /// sender (mail from them is ours coming back).
    pub fn own_addresses(&self) -> Vec<String> {
        let mut own = vec![self.project.security_address.clone()];
        if let Some(s) = &self.smtp {
            if !own.contains(&s.from) {
                own.push(s.from.clone());
            }
        }
        own
    }

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
        let mut error = err(
            &error_key(&e),
            redact(&one_line(&e.to_string()), &secrets()),
        );
        // An unknown key may be a misspelt variable, not the file's.
        if let Some(var) = unknown_from_env(&e.to_string(), &error.key, &env) {
            error.source_name = format!("environment variable {var}");
        }
        error
    })?;
    resolve(raw, path)
}

/// The `SECDESK_<SECTION>__<KEY>` variable that brought in the unknown
/// field a deserialize error names (`unknown field `pasword`` under key
/// `imap`), if one did.
fn unknown_from_env(
    message: &str,
    section: &str,
    env: &BTreeMap<String, String>,
) -> Option<String> {
    let field = message
        .split_once("unknown field `")
        .and_then(|(_, rest)| rest.split_once('`'))
        .map(|(f, _)| f.to_ascii_lowercase())?;
    env.keys()
        .find(|k| {
            let Some(rest) = k.strip_prefix("SECDESK_") else {
                return false;
            };
            let mut parts = rest.split("__");
            let (Some(sec), Some(key), None) = (parts.next(), parts.next(), parts.next()) else {
                return false;
            };
            sec.eq_ignore_ascii_case(section) && key.eq_ignore_ascii_case(&field)
        })
        .cloned()
}

/// Parses configuration text as if it were the file `path` (no
/// environment), through the same reader as [`load`]; for tests.
pub fn from_toml_str(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let err = |key: &str, problem: String| ConfigError {
        key: key.to_string(),
        problem: redact(&one_line(&problem), &secret_values(text, &BTreeMap::new())),
        source_name: path.display().to_string(),
    };
    let built = config::Config::builder()
        .add_source(config::File::from_str(text, config::FileFormat::Toml))
        .build()
        .map_err(|e| err("config", e.to_string()))?;
    let raw: RawConfig = built
        .try_deserialize()
        .map_err(|e| err(&error_key(&e), e.to_string()))?;
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

pub(crate) fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests;
