//! The advisory from the lead's side (issue 14): which packages a case
//! affects and their versions, its weaknesses and CVE, the draft (shown,
//! edited in `$EDITOR`), and filing it on GitHub as a draft advisory.
//! Every value is checked for its kind (a version for the package's
//! ecosystem, a CWE, a CVE, a commit) before it is stored.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use chrono::Utc;

use super::cases::require_case;
use super::respond::actor;
use super::{open_store, UsageError};
use crate::advisory::{self, BodyKind, Draft};
use crate::config::{Config, PackageConfig};
use crate::ecosystem::{check_commit, check_cve, check_cwe, check_version, parse_affected};
use crate::store::advisories::{AdvisoryChange, PackageChange};
use crate::store::Store;

fn usage(e: impl std::fmt::Display) -> anyhow::Error {
    UsageError(e.to_string()).into()
}

/// `triage --package a,b --cwe CWE-79`: checked against the config and the
/// CWE form, then recorded.
pub fn triage_extras(cfg: &Config, id: &str, packages: &[String], cwes: &[String]) -> Result<()> {
    if packages.is_empty() && cwes.is_empty() {
        return Ok(());
    }
    for p in packages {
        cfg.project
            .package(Some(p))
            .map_err(|e| usage(format!("--package: {e}")))?;
    }
    let cwes = cwes
        .iter()
        .map(|c| check_cwe(c).map_err(|e| usage(format!("--cwe: {e}"))))
        .collect::<Result<Vec<_>>>()?;
    let mut store = open_store(cfg)?;
    let case = require_case(cfg, &store, id)?;
    let (who, now) = (actor(), Utc::now());
    store.write(|tx| {
        if !packages.is_empty() {
            crate::store::advisories::set_packages(tx, &case.id, packages, &who, now)?;
        }
        if !cwes.is_empty() {
            let change = AdvisoryChange {
                cwe_ids: Some(cwes.clone()),
                ..Default::default()
            };
            crate::store::advisories::update_advisory(tx, &case.id, &change, &who, now)?;
        }
        Ok(())
    })?;
    Ok(())
}

/// The package a per-package flag is about: `--package`, else the only one
/// the case names, else the only one configured.
fn package_for<'a>(
    cfg: &'a Config,
    store: &Store,
    case: &str,
    id: Option<&str>,
) -> Result<Option<&'a PackageConfig>> {
    if let Some(id) = id {
        return Ok(Some(
            cfg.project
                .package(Some(id))
                .map_err(|e| usage(format!("--package: {e}")))?,
        ));
    }
    let named = store.case_packages(case)?;
    match named.as_slice() {
        [one] => Ok(cfg.project.packages.iter().find(|p| p.id == one.package)),
        [] => Ok(cfg
            .project
            .packages
            .first()
            .filter(|_| cfg.project.packages.len() == 1)),
        _ => Err(usage(format!(
            "{case} affects several packages ({}); name one with --package",
            named
                .iter()
                .map(|p| p.package.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// Versions for one package, checked for its ecosystem.
pub struct Versions {
    pub package: Option<String>,
    pub affected: Option<String>,
    pub introduced: Option<String>,
    pub fixed: Option<String>,
    pub fix_commit: Option<String>,
}

/// Checks `v` against the package's ecosystem and records it. Returns the
/// package id (None when the project configures no package: then the
/// case-level fields are all there is, as before packages existed).
pub fn record_versions(cfg: &Config, id: &str, v: &Versions) -> Result<Option<String>> {
    let mut store = open_store(cfg)?;
    let case = require_case(cfg, &store, id)?;
    let Some(pkg) = package_for(cfg, &store, &case.id, v.package.as_deref())? else {
        if v.package.is_some() || v.fixed.is_some() || v.fix_commit.is_some() {
            bail!(usage(
                "the config lists no package: add [[project.packages]] (id, ecosystem, name) \
                 to record versions per package"
            ));
        }
        return Ok(None);
    };
    let eco = pkg.ecosystem;
    let version = |flag: &str, s: &Option<String>| -> Result<Option<String>> {
        s.as_deref()
            .map(|s| check_version(eco, s).map_err(|e| usage(format!("--{flag}: {e}"))))
            .transpose()
    };
    let change = PackageChange {
        affected: v
            .affected
            .as_deref()
            .map(|r| {
                parse_affected(eco, r)
                    .map(|r| r.github())
                    .map_err(|e| usage(format!("--affected: {e}")))
            })
            .transpose()?,
        introduced: version("introduced", &v.introduced)?,
        fixed: version("fixed", &v.fixed)?,
        fix_commit: v
            .fix_commit
            .as_deref()
            .map(|c| check_commit(c).map_err(|e| usage(format!("--fix-commit: {e}"))))
            .transpose()?,
    };
    let (who, now) = (actor(), Utc::now());
    let package = pkg.id.clone();
    store.write(|tx| {
        crate::store::advisories::update_package(tx, &case.id, &package, &change, &who, now)
    })?;
    Ok(Some(package))
}

/// `analyze --summary/--details` and `advisory --no-poc/--poc`.
pub fn record_text(
    cfg: &Config,
    id: &str,
    summary: Option<String>,
    details: Option<String>,
    poc_withheld: Option<bool>,
) -> Result<()> {
    if summary.is_none() && details.is_none() && poc_withheld.is_none() {
        return Ok(());
    }
    if let Some(s) = &summary {
        if s.trim().is_empty() || s.contains('\n') || s.chars().count() > 1024 {
            bail!(usage(
                "--summary: one sentence on one line, at most 1024 characters"
            ));
        }
    }
    let mut store = open_store(cfg)?;
    let case = require_case(cfg, &store, id)?;
    if store.advisory_record(&case.id)?.draft.is_some() {
        // The lead's edit is used as it stands: say where the change is not seen.
        eprintln!(
            "secdesk: note: {} has an edited draft, which is used as written; change it with              `secdesk advisory {} --edit`",
            case.id, case.id
        );
    }
    let change = AdvisoryChange {
        summary,
        details,
        poc_withheld,
        ..Default::default()
    };
    let (who, now) = (actor(), Utc::now());
    store.write(|tx| crate::store::advisories::update_advisory(tx, &case.id, &change, &who, now))
}

/// `secdesk cve ID CVE-YYYY-NNNN`.
pub fn cve(cfg: &Config, id: &str, cve: &str) -> Result<ExitCode> {
    let cve = check_cve(cve).map_err(usage)?;
    let mut store = open_store(cfg)?;
    let case = require_case(cfg, &store, id)?;
    let change = AdvisoryChange {
        cve_id: Some(cve.clone()),
        ..Default::default()
    };
    let (who, now) = (actor(), Utc::now());
    store
        .write(|tx| crate::store::advisories::update_advisory(tx, &case.id, &change, &who, now))?;
    println!("{}: {cve} recorded; every draft names it", case.id);
    Ok(ExitCode::SUCCESS)
}

/// The draft for case `id` as it stands.
fn draft<'a>(
    cfg: &'a Config,
    store: &Store,
    case: &'a crate::store::cases::CaseRow,
) -> Result<Draft<'a>> {
    Ok(Draft::new(
        case,
        &cfg.project,
        store.advisory_record(&case.id)?,
        &store.case_packages(&case.id)?,
        store.report_text(&case.id)?,
    ))
}

/// `secdesk advisory ID --format ghsa|osv|announcement|github`.
pub fn show(cfg: &Config, id: &str, format: &str) -> Result<ExitCode> {
    let store = open_store(cfg)?;
    let case = require_case(cfg, &store, id)?;
    let d = draft(cfg, &store, &case)?;
    match format {
        "ghsa" => print!("# {}\n\n{}", d.title(), advisory::ghsa_markdown(&d)),
        "osv" => println!(
            "{}",
            serde_json::to_string_pretty(&advisory::osv_record(&d, Utc::now()))?
        ),
        "announcement" => print!("{}", advisory::announcement_text(&d)),
        "github" => println!(
            "{}",
            serde_json::to_string_pretty(&advisory::github_body(&d, BodyKind::Create))?
        ),
        other => {
            return Err(usage(format!(
                "--format {other:?}: expected ghsa, osv, announcement or github"
            )))
        }
    }
    if case.state != "disclosed" && case.state != "released" {
        eprintln!(
            "secdesk: note: {} is {}; the draft has gaps until the fix is released and analysed",
            case.id, case.state
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Most a draft may grow to: GitHub's limit on a description.
const MAX_DRAFT: usize = 65_535;

/// `secdesk advisory ID --edit`: the draft in `$EDITOR` (else `$VISUAL`,
/// else `vi`); the saved text is kept on the case and used from then on.
pub fn edit(cfg: &Config, id: &str) -> Result<ExitCode> {
    let mut store = open_store(cfg)?;
    let case = require_case(cfg, &store, id)?;
    let current = advisory::ghsa_markdown(&draft(cfg, &store, &case)?);
    let mut file = tempfile::Builder::new()
        .prefix(&format!("{}-advisory-", case.id))
        .suffix(".md")
        .tempfile()
        .context("creating the draft file")?;
    file.write_all(current.as_bytes())
        .context("writing the draft file")?;
    let editor = std::env::var("EDITOR")
        .or_else(|_| std::env::var("VISUAL"))
        .unwrap_or_else(|_| "vi".into());
    // The editor is the lead's own program, run as they configured it:
    // split on whitespace like git does for a simple `EDITOR="code -w"`.
    let mut words = editor.split_whitespace();
    let program = words.next().unwrap_or("vi");
    let status = std::process::Command::new(program)
        .args(words)
        .arg(file.path())
        .status()
        .with_context(|| format!("running the editor {program:?} ($EDITOR)"))?;
    if !status.success() {
        bail!("the editor {program:?} exited with {status}; the draft is unchanged");
    }
    let edited = std::fs::read_to_string(file.path()).context("reading the edited draft")?;
    if edited.len() > MAX_DRAFT {
        bail!(
            "the edited draft is {} bytes; GitHub takes at most {MAX_DRAFT}: unchanged",
            edited.len()
        );
    }
    if edited == current {
        println!("{}: the draft is unchanged", case.id);
        return Ok(ExitCode::SUCCESS);
    }
    if edited.trim().is_empty() {
        bail!("the edited draft is empty: unchanged (nothing would be published)");
    }
    let change = AdvisoryChange {
        draft: Some(edited),
        ..Default::default()
    };
    let (who, now) = (actor(), Utc::now());
    store
        .write(|tx| crate::store::advisories::update_advisory(tx, &case.id, &change, &who, now))?;
    println!(
        "{}: draft saved; every render and `--publish github` use it from now on",
        case.id
    );
    Ok(ExitCode::SUCCESS)
}

/// `secdesk advisory ID --publish github [--request-cve]`: creates the
/// repository advisory as a draft, or updates the one the case has.
/// Publishing it is a person's act on GitHub; then `secdesk disclose`.
pub fn publish(cfg: &Config, id: &str, request_cve: bool) -> Result<ExitCode> {
    let Some(gh) = &cfg.github else {
        bail!(usage(
            "[github] is not configured: set repository and token_file (see README, \
             \"Publishing the advisory\")"
        ));
    };
    let mut store = open_store(cfg)?;
    let case = require_case(cfg, &store, id)?;
    let d = draft(cfg, &store, &case)?;
    if d.affected.is_empty() {
        bail!(usage(format!(
            "{}: no package to publish for: `secdesk triage {} --package …` first",
            case.id, case.id
        )));
    }
    let existing = d.record.ghsa_id.clone();
    let kind = if existing.is_some() {
        BodyKind::Update
    } else {
        BodyKind::Create
    };
    let body = advisory::github_body(&d, kind);
    let settings = crate::github::GithubSettings {
        api_url: gh.api_url.clone(),
        repository: gh.repository.clone(),
        token: gh.read_token()?,
        timeout: gh.timeout,
    };
    let client = crate::github::Client::new(settings)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the HTTP runtime")?;
    let published = rt.block_on(async {
        match &existing {
            Some(ghsa) => client.update(ghsa, &body).await,
            None => client.create_draft(&body).await,
        }
    })?;
    let change = AdvisoryChange {
        ghsa: Some((published.ghsa_id.clone(), published.html_url.clone())),
        cve_id: published.cve_id.clone(),
        ..Default::default()
    };
    let (who, now) = (actor(), Utc::now());
    store
        .write(|tx| crate::store::advisories::update_advisory(tx, &case.id, &change, &who, now))?;
    println!(
        "{}: {} draft advisory {} on {}: {}",
        case.id,
        if existing.is_some() {
            "updated the"
        } else {
            "created the"
        },
        published.ghsa_id,
        gh.repository,
        published.html_url
    );
    if request_cve {
        rt.block_on(client.request_cve(&published.ghsa_id))?;
        store.write(|tx| {
            crate::store::record_event(
                tx,
                Some(&case.id),
                now,
                "cve_requested",
                &who,
                &format!("asked GitHub for a CVE for {}", published.ghsa_id),
            )
        })?;
        println!(
            "{}: CVE requested from GitHub for {}; record it with `secdesk cve {} CVE-…` once assigned",
            case.id, published.ghsa_id, case.id
        );
    }
    println!(
        "Review and publish it on GitHub ({}), then run `secdesk disclose {} --advisory {}`.",
        published.html_url, case.id, published.ghsa_id
    );
    Ok(ExitCode::SUCCESS)
}

/// `secdesk released ID [--package P] --version V`: the version is checked
/// for the package's ecosystem and recorded as its fix; the case becomes
/// `released` (and the reporter is told) once every package it affects has
/// a fixed version.
pub fn released(
    cfg: &Config,
    id: &str,
    package: Option<String>,
    version: String,
) -> Result<ExitCode> {
    let recorded = record_versions(
        cfg,
        id,
        &Versions {
            package,
            affected: None,
            introduced: None,
            fixed: Some(version.clone()),
            fix_commit: None,
        },
    )?;
    let Some(recorded) = recorded else {
        return super::workflow::step(cfg, id, crate::case::workflow::Action::Released { version });
    };
    let store = open_store(cfg)?;
    let case = require_case(cfg, &store, id)?;
    let rows = store.case_packages(&case.id)?;
    drop(store);
    let waiting: Vec<&str> = rows
        .iter()
        .filter(|r| r.fixed.is_none())
        .map(|r| r.package.as_str())
        .collect();
    if !waiting.is_empty() {
        println!(
            "{}: {recorded} fixed in {version}; the case is released when {} {} a fixed version",
            case.id,
            waiting.join(", "),
            if waiting.len() == 1 { "has" } else { "have" }
        );
        return Ok(ExitCode::SUCCESS);
    }
    if case.state == "released" || case.state == "disclosed" {
        println!(
            "{}: {recorded} fixed in {version} (the case is {})",
            case.id, case.state
        );
        return Ok(ExitCode::SUCCESS);
    }
    // What the reporter's notice says: each package with its version.
    let versions: Vec<String> = rows
        .iter()
        .filter_map(|r| {
            let name = cfg
                .project
                .packages
                .iter()
                .find(|p| p.id == r.package)
                .map(|p| p.name.as_str())
                .unwrap_or(r.package.as_str());
            r.fixed.as_ref().map(|f| {
                if rows.len() == 1 {
                    f.clone()
                } else {
                    format!("{name} {f}")
                }
            })
        })
        .collect();
    let version = match versions.as_slice() {
        [init @ .., last] if !init.is_empty() => format!("{} and {last}", init.join(", ")),
        _ => versions.join(""),
    };
    super::workflow::step(cfg, id, crate::case::workflow::Action::Released { version })
}

/// Checks `--package` and `--cwe` before anything is recorded.
pub fn check_triage_extras(cfg: &Config, packages: &[String], cwes: &[String]) -> Result<()> {
    for p in packages {
        cfg.project
            .package(Some(p))
            .map_err(|e| usage(format!("--package: {e}")))?;
    }
    for c in cwes {
        check_cwe(c).map_err(|e| usage(format!("--cwe: {e}")))?;
    }
    Ok(())
}

/// `secdesk analyze`: versions for a package (checked for its ecosystem),
/// the case-level analysis when `--user-impact` is given, and the
/// advisory's own text.
pub fn analyze(
    cfg: &Config,
    id: &str,
    versions: Versions,
    analysis: Option<(String, Option<String>)>,
    details: Option<String>,
    summary: Option<String>,
) -> Result<ExitCode> {
    let any_version = versions.affected.is_some()
        || versions.introduced.is_some()
        || versions.fixed.is_some()
        || versions.fix_commit.is_some();
    if !any_version && analysis.is_none() && details.is_none() && summary.is_none() {
        return Err(usage(
            "analyze needs --affected/--introduced/--user-impact, --fixed, --fix-commit, \
             --details or --summary",
        ));
    }
    // Checked first: nothing is recorded unless every value is valid.
    let recorded = if any_version {
        record_versions(cfg, id, &versions)?
    } else {
        None
    };
    record_text(cfg, id, summary, details, None)?;
    match analysis {
        Some((user_impact, workaround)) => {
            let (Some(affected), Some(introduced)) = (versions.affected, versions.introduced)
            else {
                return Err(usage("--user-impact needs --affected and --introduced"));
            };
            let affected = match (&recorded, cfg.project.package(recorded.as_deref())) {
                (Some(_), Ok(p)) => parse_affected(p.ecosystem, &affected)
                    .map(|r| r.github())
                    .unwrap_or(affected),
                _ => affected,
            };
            super::workflow::step(
                cfg,
                id,
                crate::case::workflow::Action::Analyze {
                    affected,
                    introduced,
                    user_impact,
                    workaround,
                },
            )
        }
        None => {
            println!(
                "{id}: recorded{}",
                recorded
                    .map(|p| format!(" (package {p})"))
                    .unwrap_or_default()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
