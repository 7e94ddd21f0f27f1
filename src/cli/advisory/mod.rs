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
use crate::config::Config;
use crate::ecosystem::{check_cve, check_cwe};
use crate::store::advisories::AdvisoryChange;
use crate::store::Store;

mod publish;
mod versions;
pub use publish::publish;
use publish::{publishable, MAX_DRAFT};
use versions::{check_versions, write_versions};
pub use versions::{released, Versions};

pub(super) fn usage(e: impl std::fmt::Display) -> anyhow::Error {
    UsageError(e.to_string()).into()
}

/// `triage --package a,b --cwe CWE-79`: checked against the config and the
/// CWE form, then recorded.
pub fn triage_extras(cfg: &Config, id: &str, packages: &[String], cwes: &[String]) -> Result<()> {
    if packages.is_empty() && cwes.is_empty() {
        return Ok(());
    }
    let cwes = check_triage_extras(cfg, packages, cwes)?;
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

/// `analyze ID [--package P] --clear FIELD…`, `cve ID --clear`: values
/// recorded by mistake removed (the trail keeps them).
pub fn clear(cfg: &Config, id: &str, package: Option<&str>, fields: &[String]) -> Result<ExitCode> {
    use crate::store::advisories::Clearable;
    let fields = fields
        .iter()
        .map(|f| {
            Clearable::parse(f).ok_or_else(|| {
                usage(format!(
                    "--clear {f:?}: expected affected, introduced, fixed, fix-commit, details or \
                     summary"
                ))
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let mut store = open_store(cfg)?;
    let case = require_case(cfg, &store, id)?;
    let package = if fields.iter().any(|f| f.per_package()) {
        let p = versions::package_for(cfg, &store, &case.id, package)?;
        Some(
            p.map(|p| p.id.clone())
                .ok_or_else(|| usage("the config lists no package"))?,
        )
    } else {
        None
    };
    let (who, now) = (actor(), Utc::now());
    let cleared = store.write(|tx| {
        let mut n = 0;
        for f in &fields {
            if crate::store::advisories::clear(tx, &case.id, package.as_deref(), *f, &who, now)? {
                n += 1;
            }
        }
        Ok(n)
    })?;
    println!(
        "{}: {cleared} value(s) removed (the trail keeps them)",
        case.id
    );
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
pub(super) fn draft<'a>(
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

/// Checks `--package` and `--cwe` before anything is recorded.
/// Returns the CWE ids in their canonical form.
pub fn check_triage_extras(
    cfg: &Config,
    packages: &[String],
    cwes: &[String],
) -> Result<Vec<String>> {
    for p in packages {
        cfg.project
            .package(Some(p))
            .map_err(|e| usage(format!("--package: {e}")))?;
    }
    cwes.iter()
        .map(|c| check_cwe(c).map_err(|e| usage(format!("--cwe: {e}"))))
        .collect()
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
