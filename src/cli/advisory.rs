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

/// The package a per-package flag is about: `--package` (one the case
/// names, or its first when it names none yet), else the only one the case
/// names, else the only one configured. `None` only when the config lists
/// no package at all (the case-level fields are then all there is).
fn package_for<'a>(
    cfg: &'a Config,
    store: &Store,
    case: &str,
    id: Option<&str>,
) -> Result<Option<&'a PackageConfig>> {
    let named = store.case_packages(case)?;
    let names = || {
        named
            .iter()
            .map(|p| p.package.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(id) = id {
        let pkg = cfg
            .project
            .package(Some(id))
            .map_err(|e| usage(format!("--package: {e}")))?;
        if !named.is_empty() && !named.iter().any(|n| n.package == id) {
            return Err(usage(format!(
                "--package {id}: {case} affects {}; add it first with `secdesk triage {case} \
                 --package {},{id}`",
                names(),
                names().replace(", ", ",")
            )));
        }
        return Ok(Some(pkg));
    }
    match named.as_slice() {
        [one] => Ok(cfg.project.packages.iter().find(|p| p.id == one.package)),
        [] => match cfg.project.packages.as_slice() {
            [] => Ok(None),
            [only] => Ok(Some(only)),
            _ => Err(usage(format!(
                "{case} names no package yet and the config lists several: name one with \
                 --package, or all it affects with `secdesk triage {case} --package …`"
            ))),
        },
        _ => Err(usage(format!(
            "{case} affects several packages ({}); name one with --package",
            names()
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

/// `v` checked against the package's ecosystem and against what the case
/// already records for it (introduced before fixed, the range's bounds
/// agreeing with both). Nothing is written. `None` when the config lists
/// no package.
fn check_versions(
    cfg: &Config,
    store: &Store,
    case: &str,
    v: &Versions,
) -> Result<Option<(String, PackageChange)>> {
    let Some(pkg) = package_for(cfg, store, case, v.package.as_deref())? else {
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
    let range = v
        .affected
        .as_deref()
        .map(|r| parse_affected(eco, r).map_err(|e| usage(format!("--affected: {e}"))))
        .transpose()?;
    let change = PackageChange {
        affected: range.as_ref().map(|r| r.github()),
        introduced: version("introduced", &v.introduced)?,
        fixed: version("fixed", &v.fixed)?,
        fix_commit: v
            .fix_commit
            .as_deref()
            .map(|c| check_commit(c).map_err(|e| usage(format!("--fix-commit: {e}"))))
            .transpose()?,
    };
    // What the package's record would be, to check it as a whole.
    let now = store
        .case_packages(case)?
        .into_iter()
        .find(|r| r.package == pkg.id)
        .unwrap_or_default();
    let introduced = change.introduced.clone().or(now.introduced);
    let fixed = change.fixed.clone().or(now.fixed);
    let range = match range {
        Some(r) => Some(r),
        None => now
            .affected
            .as_deref()
            .and_then(|r| parse_affected(eco, r).ok()),
    };
    consistent(
        eco,
        &pkg.id,
        range.as_ref(),
        introduced.as_deref(),
        fixed.as_deref(),
    )
    .map_err(usage)?;
    Ok(Some((pkg.id.clone(), change)))
}

/// Whether a package's range, introduced and fixed versions tell one story.
fn consistent(
    eco: crate::ecosystem::Ecosystem,
    package: &str,
    range: Option<&crate::ecosystem::AffectedRange>,
    introduced: Option<&str>,
    fixed: Option<&str>,
) -> std::result::Result<(), String> {
    let before = |a: &str, b: &str| parse_affected(eco, &format!(">= {a}, < {b}")).is_ok();
    if let (Some(i), Some(f)) = (introduced, fixed) {
        if !before(i, f) {
            return Err(format!("{package}: introduced {i} is not before fixed {f}"));
        }
    }
    let Some(r) = range else { return Ok(()) };
    if let Some(x) = &r.exact {
        if let Some(i) = introduced.filter(|i| i != x) {
            return Err(format!(
                "{package}: the range is = {x} but introduced is {i}"
            ));
        }
        if let Some(f) = fixed.filter(|f| !before(x, f)) {
            return Err(format!(
                "{package}: the range is = {x} but the fix {f} is not after it"
            ));
        }
    }
    if let Some(l) = &r.lower {
        match introduced {
            Some(i) if l.inclusive && l.version != i => {
                return Err(format!(
                    "{package}: the range starts at {} but introduced is {i}",
                    l.version
                ))
            }
            Some(i) if !l.inclusive && !before(&l.version, i) => {
                return Err(format!(
                    "{package}: the range starts after {} but introduced is {i}",
                    l.version
                ))
            }
            None if !l.inclusive => {
                return Err(format!(
                    "{package}: \"> {}\" says where it is not affected; give the first affected \
                     version with --introduced (OSV records only where it came in)",
                    l.version
                ))
            }
            _ => {}
        }
    }
    if let Some(u) = &r.upper {
        if let Some(i) = introduced {
            let inside = before(i, &u.version) || (u.inclusive && u.version == i);
            if !inside {
                return Err(format!(
                    "{package}: introduced {i} is outside the range, which ends at {}",
                    u.version
                ));
            }
        }
        if let Some(f) = fixed {
            if !u.inclusive && u.version != f {
                return Err(format!(
                    "{package}: the range ends before {} but the fix is {f}",
                    u.version
                ));
            }
            if u.inclusive && !(u.version != f && before(&u.version, f)) {
                return Err(format!(
                    "{package}: the range includes {} but the fix {f} is not after it",
                    u.version
                ));
            }
        }
    }
    Ok(())
}

/// Writes what [`check_versions`] allowed.
fn write_versions(cfg: &Config, case: &str, package: &str, change: &PackageChange) -> Result<()> {
    let mut store = open_store(cfg)?;
    let (who, now) = (actor(), Utc::now());
    store.write(|tx| crate::store::advisories::update_package(tx, case, package, change, &who, now))
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
    check_summary(summary.as_deref())?;
    let mut store = open_store(cfg)?;
    let case = require_case(cfg, &store, id)?;
    if store.advisory_record(&case.id)?.draft.is_some() {
        if poc_withheld == Some(true) {
            bail!(usage(format!(
                "{} has an edited draft, which is published as written: remove the PoC from \
                 it (`secdesk advisory {} --edit`), or drop the edit (`--reset-draft`) and \
                 withhold it then",
                case.id, case.id
            )));
        }
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

/// The advisory's one sentence: one line, at most GitHub's 1024.
fn check_summary(summary: Option<&str>) -> Result<()> {
    match summary {
        Some(s) if s.trim().is_empty() || s.contains('\n') || s.chars().count() > 1024 => Err(
            usage("--summary: one sentence on one line, at most 1024 characters"),
        ),
        _ => Ok(()),
    }
}

/// `secdesk advisory ID --reset-draft`: back to the generated draft.
pub fn reset_draft(cfg: &Config, id: &str) -> Result<ExitCode> {
    let mut store = open_store(cfg)?;
    let case = require_case(cfg, &store, id)?;
    let (who, now) = (actor(), Utc::now());
    let dropped =
        store.write(|tx| crate::store::advisories::reset_draft(tx, &case.id, &who, now))?;
    if dropped {
        println!(
            "{}: edited draft dropped (kept in the trail); drafts follow the case again",
            case.id
        );
    } else {
        println!("{}: no edited draft", case.id);
    }
    Ok(ExitCode::SUCCESS)
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
        "github" => {
            println!(
                "{}",
                serde_json::to_string_pretty(&advisory::github_body(&d, BodyKind::Create))?
            );
            if let Err(why) = publishable(&d) {
                eprintln!("secdesk: warning: --publish github would refuse this: {why}");
            }
        }
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

/// Why the draft must not go to GitHub as it stands, if it must not: over
/// GitHub's size, or an edited draft that still holds what the lead has
/// since withheld (the reporter's steps after `--no-poc`, the reporter's
/// name without consent to credit).
fn publishable(d: &Draft<'_>) -> std::result::Result<(), String> {
    let id = &d.case.id;
    let text = advisory::ghsa_markdown(d);
    if text.len() > MAX_DRAFT {
        return Err(format!(
            "{id}: the draft is {} bytes; GitHub takes at most {MAX_DRAFT}: shorten it \
             (`secdesk advisory {id} --edit`)",
            text.len()
        ));
    }
    // Versions a merge brought together may contradict each other.
    for a in &d.affected {
        let range = a
            .range
            .as_deref()
            .and_then(|r| parse_affected(a.package.ecosystem, r).ok());
        consistent(
            a.package.ecosystem,
            &a.package.id,
            range.as_ref(),
            a.introduced.as_deref(),
            a.fixed.as_deref(),
        )
        .map_err(|e| format!("{id}: {e}; correct it with `secdesk analyze {id} --package …`"))?;
    }
    let Some(edited) = d.record.draft.as_deref() else {
        return Ok(());
    };
    if d.record.poc_withheld {
        let steps = advisory::steps(&d.report);
        if steps
            .lines()
            .map(str::trim)
            .any(|l| l.len() >= 20 && edited.contains(l))
        {
            return Err(format!(
                "{id}: the PoC is withheld but the edited draft still quotes the report's \
                 steps: remove them (`--edit`) or start again from the generated draft \
                 (`--reset-draft`)"
            ));
        }
    }
    if advisory::credited_name(d.case).is_none() {
        let named = advisory::identity(d.case)
            .into_iter()
            .find(|n| advisory::names(edited, n));
        if let Some(n) = named {
            return Err(format!(
                "{id}: the edited draft names {n:?} but the reporter has not consented to be \
                 credited: remove it (`--edit`) or start again (`--reset-draft`)"
            ));
        }
    }
    Ok(())
}

/// Most a draft may grow to: GitHub's limit on a description.
const MAX_DRAFT: usize = 65_535;

/// `secdesk advisory ID --edit`: the draft in `$VISUAL` (else `$EDITOR`,
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
    let editor = std::env::var("VISUAL")
        .or_else(|_| std::env::var("EDITOR"))
        .unwrap_or_else(|_| "vi".into());
    // The editor is the lead's own program, run as they configured it:
    // split on whitespace like git does for a simple `EDITOR="code -w"`.
    let mut words = editor.split_whitespace();
    let program = words.next().unwrap_or("vi");
    let status = std::process::Command::new(program)
        .args(words)
        .arg(file.path())
        .status()
        .with_context(|| format!("running the editor {program:?} ($VISUAL or $EDITOR)"))?;
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
    publishable(&d).map_err(usage)?;
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
    // GitHub's answer is checked like anything typed: a CVE in its form, a
    // page on https (else the address secdesk knows).
    let cve_id = published
        .cve_id
        .as_deref()
        .and_then(|c| crate::ecosystem::check_cve(c).ok());
    let html_url = if published.html_url.starts_with("https://")
        && !published.html_url.contains(char::is_whitespace)
    {
        published.html_url.clone()
    } else {
        advisory::advisory_url(&published.ghsa_id, &cfg.project)
    };
    let change = AdvisoryChange {
        ghsa: Some((published.ghsa_id.clone(), html_url)),
        cve_id,
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
    let store = open_store(cfg)?;
    let case = require_case(cfg, &store, id)?;
    let v = Versions {
        package,
        affected: None,
        introduced: None,
        fixed: Some(version.clone()),
        fix_commit: None,
    };
    let Some((recorded, change)) = check_versions(cfg, &store, &case.id, &v)? else {
        drop(store);
        return super::workflow::step(cfg, id, crate::case::workflow::Action::Released { version });
    };
    // The packages as they will be, this version included.
    let mut rows = store.case_packages(&case.id)?;
    drop(store);
    match rows.iter_mut().find(|r| r.package == recorded) {
        Some(r) => r.fixed = change.fixed.clone(),
        None => rows.push(crate::store::advisories::CasePackage {
            package: recorded.clone(),
            fixed: change.fixed.clone(),
            ..Default::default()
        }),
    }
    let fixed = change.fixed.clone().unwrap_or(version);
    let waiting: Vec<&str> = rows
        .iter()
        .filter(|r| r.fixed.is_none())
        .map(|r| r.package.as_str())
        .collect();
    if !waiting.is_empty() || case.state == "released" || case.state == "disclosed" {
        // A fix is recorded for a case the team accepted, not for one it
        // rejected or has not decided on.
        if !matches!(
            case.state.as_str(),
            "accepted" | "fixing" | "released" | "disclosed"
        ) {
            return Err(usage(format!(
                "{}: the case is {}; a fixed version is recorded once it is accepted",
                case.id, case.state
            )));
        }
        write_versions(cfg, &case.id, &recorded, &change)?;
        if waiting.is_empty() {
            println!(
                "{}: {recorded} fixed in {fixed} (the case is {})",
                case.id, case.state
            );
        } else {
            println!(
                "{}: {recorded} fixed in {fixed}; the case is released when {} {} a fixed version",
                case.id,
                waiting.join(", "),
                if waiting.len() == 1 { "has" } else { "have" }
            );
        }
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
    let notice = match versions.as_slice() {
        [init @ .., last] if !init.is_empty() => format!("{} and {last}", init.join(", ")),
        _ => versions.join(""),
    };
    // The step first: a refused step (the case is not being fixed yet)
    // leaves the version unrecorded too.
    let code = super::workflow::step(
        cfg,
        id,
        crate::case::workflow::Action::Released { version: notice },
    )?;
    write_versions(cfg, &case.id, &recorded, &change)?;
    Ok(code)
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
    check_summary(summary.as_deref())?;
    // Everything is checked before anything is written.
    let store = open_store(cfg)?;
    let case = require_case(cfg, &store, id)?;
    let checked = if any_version {
        check_versions(cfg, &store, &case.id, &versions)?
    } else {
        None
    };
    drop(store);
    let stepped = analysis.is_some();
    let code = match analysis {
        Some((user_impact, workaround)) => {
            let (Some(affected), Some(introduced)) = (versions.affected, versions.introduced)
            else {
                return Err(usage("--user-impact needs --affected and --introduced"));
            };
            let affected = checked
                .as_ref()
                .and_then(|(_, c)| c.affected.clone())
                .unwrap_or(affected);
            // The step checks the case's state; refused, nothing is written.
            super::workflow::step(
                cfg,
                id,
                crate::case::workflow::Action::Analyze {
                    affected,
                    introduced,
                    user_impact,
                    workaround,
                },
            )?
        }
        None => ExitCode::SUCCESS,
    };
    if let Some((package, change)) = &checked {
        write_versions(cfg, &case.id, package, change)?;
    }
    record_text(cfg, id, summary, details, None)?;
    if !stepped {
        println!(
            "{id}: recorded{}",
            checked
                .map(|(p, _)| format!(" (package {p})"))
                .unwrap_or_default()
        );
    }
    Ok(code)
}
