//! Filing the draft on GitHub: what must hold before it leaves (size,
//! agreeing versions, nothing the lead withheld in an edited draft), the
//! create-or-update call, and what GitHub's answer records on the case.

use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use chrono::Utc;

use super::super::cases::require_case;
use super::super::open_store;
use super::super::respond::actor;
use super::versions::consistent;
use super::{draft, usage};
use crate::advisory::{self, BodyKind, Draft};
use crate::config::Config;
use crate::ecosystem::parse_affected;
use crate::store::advisories::AdvisoryChange;

/// Most a draft may grow to: GitHub's limit on a description.
pub(super) const MAX_DRAFT: usize = 65_535;

/// Why the draft must not go to GitHub as it stands, if it must not: over
/// GitHub's size, or an edited draft that still holds what the lead has
/// since withheld (the reporter's steps after `--no-poc`, the reporter's
/// name without consent to credit).
pub(super) fn publishable(d: &Draft<'_>) -> std::result::Result<(), String> {
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
