//! A package's versions from the lead's side: which package a flag is
//! about, each version checked for the package's ecosystem and against the
//! others (introduced before fixed, the range's bounds), and `released`,
//! which makes the case released once every package it affects is fixed.

use std::process::ExitCode;

use anyhow::{bail, Result};
use chrono::Utc;

use super::super::cases::require_case;
use super::super::open_store;
use super::super::respond::actor;
use super::usage;
use crate::config::{Config, PackageConfig};
use crate::ecosystem::{check_commit, check_version, parse_affected};
use crate::store::advisories::PackageChange;
use crate::store::Store;

/// Versions for one package, checked for its ecosystem.
pub struct Versions {
    pub package: Option<String>,
    pub affected: Option<String>,
    pub introduced: Option<String>,
    pub fixed: Option<String>,
    pub fix_commit: Option<String>,
}

/// The package a per-package flag is about: `--package` (one the case
/// names, or its first when it names none yet), else the only one the case
/// names, else the only one configured. `None` only when the config lists
/// no package at all (the case-level fields are then all there is).
pub(super) fn package_for<'a>(
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

/// `v` checked against the package's ecosystem and against what the case
/// already records for it (introduced before fixed, the range's bounds
/// agreeing with both). Nothing is written. `None` when the config lists
/// no package.
pub(super) fn check_versions(
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
pub(super) fn consistent(
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
pub(super) fn write_versions(
    cfg: &Config,
    case: &str,
    package: &str,
    change: &PackageChange,
) -> Result<()> {
    let mut store = open_store(cfg)?;
    let (who, now) = (actor(), Utc::now());
    store.write(|tx| crate::store::advisories::update_package(tx, case, package, change, &who, now))
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
        return super::super::workflow::step(
            cfg,
            id,
            crate::case::workflow::Action::Released { version },
        );
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
    let code = super::super::workflow::step(
        cfg,
        id,
        crate::case::workflow::Action::Released { version: notice },
    )?;
    write_versions(cfg, &case.id, &recorded, &change)?;
    Ok(code)
}
