//! The `[[project.packages]]` and `[github]` sections: what an advisory is
//! about (each package a release ships in, with its ecosystem) and where it
//! is published. Resolved like every other section: each check here, each
//! error naming its key.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::units::{duration_key, expand_env, ErrFn};
use super::{ConfigError, GithubConfig, PackageConfig};
use crate::ecosystem::Ecosystem;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPackage {
    pub(super) id: Option<String>,
    pub(super) ecosystem: Option<String>,
    pub(super) name: Option<String>,
    pub(super) repository: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGithub {
    pub(super) repository: Option<String>,
    pub(super) token_file: Option<String>,
    pub(super) api_url: Option<String>,
    pub(super) timeout: Option<String>,
}

/// Most packages one project lists; a case names a few of them.
const MAX_PACKAGES: usize = 64;

/// A package id: what the lead types after `--package`.
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 40
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// `[[project.packages]]`, or the single package the older
/// `advisory_ecosystem` / `advisory_package` keys describe.
pub(super) fn packages(
    raw: Vec<RawPackage>,
    legacy: (Option<&str>, Option<&str>),
    repository_url: Option<&str>,
    err: &ErrFn,
) -> Result<Vec<PackageConfig>, ConfigError> {
    if raw.len() > MAX_PACKAGES {
        return Err(err(
            "project.packages",
            format!("at most {MAX_PACKAGES} packages, got {}", raw.len()),
        ));
    }
    if raw.is_empty() {
        return Ok(match legacy {
            (Some(eco), Some(name)) => vec![PackageConfig {
                id: "main".into(),
                ecosystem: eco
                    .parse::<Ecosystem>()
                    .map_err(|e| err("project.advisory_ecosystem", e.to_string()))?,
                name: name.to_string(),
                repository: repository_url.map(str::to_string),
            }],
            _ => Vec::new(),
        });
    }
    let mut out: Vec<PackageConfig> = Vec::new();
    for (n, p) in raw.into_iter().enumerate() {
        let key = |k: &str| format!("project.packages[{n}].{k}");
        let id = p.id.unwrap_or_default();
        if !valid_id(&id) {
            return Err(err(
                &key("id"),
                format!(
                    "expected a short name of letters, digits, '-', '_' or '.' (what \
                     `--package` takes), got {id:?}"
                ),
            ));
        }
        if out.iter().any(|o| o.id == id) {
            return Err(err(&key("id"), format!("{id:?} is listed twice")));
        }
        let ecosystem = p
            .ecosystem
            .as_deref()
            .unwrap_or("")
            .parse::<Ecosystem>()
            .map_err(|e| err(&key("ecosystem"), e.to_string()))?;
        let name = p.name.unwrap_or_default().trim().to_string();
        if name.is_empty() || name.len() > 214 || name.chars().any(char::is_control) {
            return Err(err(
                &key("name"),
                format!("expected the package's name in its ecosystem, got {name:?}"),
            ));
        }
        let repository = match p.repository.map(|r| r.trim().to_string()) {
            Some(r) if r.is_empty() => None,
            Some(r) if https_url(&r) => Some(r),
            Some(r) => {
                return Err(err(
                    &key("repository"),
                    format!("expected an https:// URL of the source repository, got {r:?}"),
                ))
            }
            None => repository_url.map(str::to_string),
        };
        out.push(PackageConfig {
            id,
            ecosystem,
            name,
            repository,
        });
    }
    Ok(out)
}

fn https_url(s: &str) -> bool {
    s.strip_prefix("https://").is_some_and(|rest| {
        !rest.is_empty() && !rest.contains(|c: char| c.is_whitespace() || c.is_control())
    })
}

/// `[github]`: the repository whose advisories these are, and the token.
pub(super) fn github(
    raw: Option<RawGithub>,
    base_dir: &Path,
    err: &ErrFn,
) -> Result<Option<GithubConfig>, ConfigError> {
    let Some(g) = raw else {
        return Ok(None);
    };
    let repository = g.repository.unwrap_or_default().trim().to_string();
    if crate::github::check_repository(&repository).is_err() {
        return Err(err(
            "github.repository",
            format!("expected owner/repo, as in github.com/owner/repo, got {repository:?}"),
        ));
    }
    let token_file = match g.token_file {
        Some(f) if !f.trim().is_empty() => base_dir.join(expand_env(f.trim())),
        _ => {
            return Err(err(
                "github.token_file",
                "set the file holding a fine-grained token with \"Repository security \
                 advisories: write\" on the repository"
                    .into(),
            ))
        }
    };
    let api_url = g
        .api_url
        .unwrap_or_else(|| crate::github::DEFAULT_API_URL.to_string());
    crate::github::check_api_url(&api_url).map_err(|e| {
        let text = e.to_string();
        err(
            "github.api_url",
            text.trim_start_matches("github.api_url: ").to_string(),
        )
    })?;
    let timeout: Duration = duration_key(g.timeout, "30s", "github.timeout", err)?;
    Ok(Some(GithubConfig {
        repository,
        token_file,
        api_url,
        timeout,
    }))
}

impl GithubConfig {
    /// The token: the first line of `token_file`, read only when publishing
    /// (the team's case commands never need it).
    pub fn read_token(&self) -> anyhow::Result<String> {
        let text = std::fs::read_to_string(&self.token_file).map_err(|e| {
            anyhow::anyhow!(
                "github.token_file: cannot read {}: {e}",
                self.token_file.display()
            )
        })?;
        let token = text.lines().next().unwrap_or("").trim().to_string();
        if token.is_empty() {
            anyhow::bail!("github.token_file: {} is empty", self.token_file.display());
        }
        Ok(token)
    }

    pub fn token_path(&self) -> &PathBuf {
        &self.token_file
    }
}
