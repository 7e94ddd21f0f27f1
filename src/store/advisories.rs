//! A case's advisory: the packages it affects (each with its own versions)
//! and what the advisory says beyond the case row — weaknesses, CVE, the
//! lead's summary and root cause, whether the PoC is withheld, the edited
//! draft, and the GitHub advisory it was filed as.

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::{record_event, ts, Store};

/// One package a case affects, with its versions (as checked for its
/// ecosystem when they were set).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CasePackage {
    pub package: String,
    pub affected: Option<String>,
    pub introduced: Option<String>,
    pub fixed: Option<String>,
    pub fix_commit: Option<String>,
}

/// The advisory fields of a case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdvisoryRecord {
    pub cwe_ids: Vec<String>,
    pub cve_id: Option<String>,
    pub summary: Option<String>,
    pub details: Option<String>,
    pub poc_withheld: bool,
    /// The draft as the lead edited it; every later render uses it.
    pub draft: Option<String>,
    pub ghsa_id: Option<String>,
    pub ghsa_url: Option<String>,
}

/// A change to a case's advisory fields; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct AdvisoryChange {
    pub cwe_ids: Option<Vec<String>>,
    pub cve_id: Option<String>,
    pub summary: Option<String>,
    pub details: Option<String>,
    pub poc_withheld: Option<bool>,
    pub draft: Option<String>,
    pub ghsa: Option<(String, String)>,
}

/// A change to one package of a case.
#[derive(Debug, Clone, Default)]
pub struct PackageChange {
    pub affected: Option<String>,
    pub introduced: Option<String>,
    pub fixed: Option<String>,
    pub fix_commit: Option<String>,
}

/// A value the lead may remove (recorded by mistake).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clearable {
    Affected,
    Introduced,
    Fixed,
    FixCommit,
    Details,
    Summary,
    Cve,
}

impl Clearable {
    pub fn parse(s: &str) -> Option<Clearable> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "affected" => Clearable::Affected,
            "introduced" => Clearable::Introduced,
            "fixed" => Clearable::Fixed,
            "fix-commit" | "fix_commit" => Clearable::FixCommit,
            "details" => Clearable::Details,
            "summary" => Clearable::Summary,
            "cve" => Clearable::Cve,
            _ => return None,
        })
    }

    /// Whether it belongs to a package (else to the case's advisory).
    pub fn per_package(self) -> bool {
        matches!(
            self,
            Clearable::Affected | Clearable::Introduced | Clearable::Fixed | Clearable::FixCommit
        )
    }

    /// Its column; from this closed list only, never from input.
    fn column(self) -> &'static str {
        match self {
            Clearable::Affected => "affected",
            Clearable::Introduced => "introduced",
            Clearable::Fixed => "fixed",
            Clearable::FixCommit => "fix_commit",
            Clearable::Details => "details",
            Clearable::Summary => "summary",
            Clearable::Cve => "cve_id",
        }
    }
}

/// Removes `field` (of `package`, when it is a package's), keeping what it
/// held in the trail. Returns whether there was anything to remove.
pub fn clear(
    tx: &Transaction<'_>,
    case: &str,
    package: Option<&str>,
    field: Clearable,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    let col = field.column();
    let (table, key_sql, key) = match (field.per_package(), package) {
        (true, Some(p)) => ("case_packages", "case_id = ?1 AND package = ?2", p),
        (true, None) => anyhow::bail!("{col} is a package's: name the package"),
        (false, _) => ("case_advisories", "case_id = ?1 AND ?2 = ?2", ""),
    };
    let old: Option<String> = tx
        .query_row(
            &format!("SELECT {col} FROM {table} WHERE {key_sql}"),
            params![case, key],
            |r| r.get(0),
        )
        .optional()
        .with_context(|| format!("reading {col} of {case}"))?
        .flatten();
    let Some(old) = old else {
        return Ok(false);
    };
    tx.execute(
        &format!("UPDATE {table} SET {col} = NULL WHERE {key_sql}"),
        params![case, key],
    )
    .with_context(|| format!("clearing {col} of {case}"))?;
    let whose = package
        .filter(|_| field.per_package())
        .map(|p| format!("{p}: "))
        .unwrap_or_default();
    record_event(
        tx,
        Some(case),
        now,
        "advisory_changed",
        actor,
        &format!("{whose}{col} removed (was: {old})"),
    )?;
    Ok(true)
}

/// Drops the edited draft of `case`: drafts are generated again from the
/// case. The dropped text stays in the trail.
pub fn reset_draft(
    tx: &Transaction<'_>,
    case: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    let Some(old) = advisory_record(tx, case)?.draft else {
        return Ok(false);
    };
    tx.execute(
        "UPDATE case_advisories SET draft = NULL, draft_by = NULL, draft_at = NULL
         WHERE case_id = ?1",
        [case],
    )
    .with_context(|| format!("resetting the draft of {case}"))?;
    record_event(
        tx,
        Some(case),
        now,
        "advisory_changed",
        actor,
        &format!("edited draft dropped; drafts are generated from the case again (was: {old})"),
    )?;
    Ok(true)
}

pub fn advisory_record(conn: &Connection, case: &str) -> Result<AdvisoryRecord> {
    let row = conn
        .query_row(
            "SELECT cwe_ids, cve_id, summary, details, poc_withheld, draft, ghsa_id, ghsa_url
             FROM case_advisories WHERE case_id = ?1",
            [case],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    AdvisoryRecord {
                        cwe_ids: Vec::new(),
                        cve_id: r.get(1)?,
                        summary: r.get(2)?,
                        details: r.get(3)?,
                        poc_withheld: r.get(4)?,
                        draft: r.get(5)?,
                        ghsa_id: r.get(6)?,
                        ghsa_url: r.get(7)?,
                    },
                ))
            },
        )
        .optional()
        .with_context(|| format!("reading the advisory of {case}"))?;
    let Some((cwes, mut rec)) = row else {
        return Ok(AdvisoryRecord::default());
    };
    rec.cwe_ids = serde_json::from_str(&cwes)
        .with_context(|| format!("the advisory of {case}: cwe_ids is not a JSON list"))?;
    Ok(rec)
}

pub fn case_packages(conn: &Connection, case: &str) -> Result<Vec<CasePackage>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT package, affected, introduced, fixed, fix_commit FROM case_packages
             WHERE case_id = ?1 ORDER BY position, package",
        )
        .context("reading case packages")?;
    let rows = stmt
        .query_map([case], |r| {
            Ok(CasePackage {
                package: r.get(0)?,
                affected: r.get(1)?,
                introduced: r.get(2)?,
                fixed: r.get(3)?,
                fix_commit: r.get(4)?,
            })
        })
        .with_context(|| format!("reading the packages of {case}"))?;
    rows.collect::<rusqlite::Result<Vec<_>>>()
        .with_context(|| format!("reading the packages of {case}"))
}

/// Sets which packages `case` affects (in order); versions already
/// recorded for a package that stays are kept.
pub fn set_packages(
    tx: &Transaction<'_>,
    case: &str,
    packages: &[String],
    actor: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    // A package dropped from the case takes its versions with it: the
    // trail keeps them.
    let dropped: Vec<String> = case_packages(tx, case)?
        .into_iter()
        .filter(|r| !packages.contains(&r.package))
        .map(|r| {
            format!(
                "{} (affected {}, introduced {}, fixed {}, fix commit {})",
                r.package,
                r.affected.as_deref().unwrap_or("-"),
                r.introduced.as_deref().unwrap_or("-"),
                r.fixed.as_deref().unwrap_or("-"),
                r.fix_commit.as_deref().unwrap_or("-")
            )
        })
        .collect();
    tx.execute(
        "DELETE FROM case_packages WHERE case_id = ?1 AND package NOT IN (SELECT value FROM json_each(?2))",
        params![case, serde_json::to_string(packages)?],
    )
    .with_context(|| format!("updating the packages of {case}"))?;
    for (n, p) in packages.iter().enumerate() {
        tx.execute(
            "INSERT INTO case_packages (case_id, package, position) VALUES (?1, ?2, ?3)
             ON CONFLICT (case_id, package) DO UPDATE SET position = excluded.position",
            params![case, p, n as i64],
        )
        .with_context(|| format!("updating the packages of {case}"))?;
    }
    record_event(
        tx,
        Some(case),
        now,
        "packages_set",
        actor,
        &if dropped.is_empty() {
            format!("affects {}", packages.join(", "))
        } else {
            format!(
                "affects {}; no longer: {}",
                packages.join(", "),
                dropped.join("; ")
            )
        },
    )
}

/// Records versions for one package of `case` (adding it if the case did
/// not name it yet).
pub fn update_package(
    tx: &Transaction<'_>,
    case: &str,
    package: &str,
    change: &PackageChange,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    tx.execute(
        "INSERT INTO case_packages (case_id, package, position)
         VALUES (?1, ?2, (SELECT COUNT(*) FROM case_packages WHERE case_id = ?1))
         ON CONFLICT (case_id, package) DO NOTHING",
        params![case, package],
    )
    .with_context(|| format!("updating package {package} of {case}"))?;
    tx.execute(
        "UPDATE case_packages SET
            affected = COALESCE(?3, affected),
            introduced = COALESCE(?4, introduced),
            fixed = COALESCE(?5, fixed),
            fix_commit = COALESCE(?6, fix_commit)
         WHERE case_id = ?1 AND package = ?2",
        params![
            case,
            package,
            change.affected,
            change.introduced,
            change.fixed,
            change.fix_commit
        ],
    )
    .with_context(|| format!("updating package {package} of {case}"))?;
    let mut said = Vec::new();
    for (k, v) in [
        ("affected", &change.affected),
        ("introduced", &change.introduced),
        ("fixed", &change.fixed),
        ("fix commit", &change.fix_commit),
    ] {
        if let Some(v) = v {
            said.push(format!("{k} {v}"));
        }
    }
    record_event(
        tx,
        Some(case),
        now,
        "package_versions",
        actor,
        &format!("{package}: {}", said.join(", ")),
    )
}

/// Applies `change` to the advisory fields of `case`; the event says what
/// changed (not the draft's text: the draft is on the case).
pub fn update_advisory(
    tx: &Transaction<'_>,
    case: &str,
    change: &AdvisoryChange,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    tx.execute(
        "INSERT INTO case_advisories (case_id) VALUES (?1) ON CONFLICT (case_id) DO NOTHING",
        [case],
    )
    .with_context(|| format!("updating the advisory of {case}"))?;
    // What a change replaces stays readable in the trail.
    let before = advisory_record(tx, case)?;
    let cwes = change
        .cwe_ids
        .as_ref()
        .map(serde_json::to_string)
        .transpose()?;
    let (ghsa_id, ghsa_url) = match &change.ghsa {
        Some((id, url)) => (Some(id.as_str()), Some(url.as_str())),
        None => (None, None),
    };
    tx.execute(
        "UPDATE case_advisories SET
            cwe_ids = COALESCE(?2, cwe_ids),
            cve_id = COALESCE(?3, cve_id),
            summary = COALESCE(?4, summary),
            details = COALESCE(?5, details),
            poc_withheld = COALESCE(?6, poc_withheld),
            draft = COALESCE(?7, draft),
            draft_by = CASE WHEN ?7 IS NULL THEN draft_by ELSE ?9 END,
            draft_at = CASE WHEN ?7 IS NULL THEN draft_at ELSE ?10 END,
            ghsa_id = COALESCE(?8, ghsa_id),
            ghsa_url = COALESCE(?11, ghsa_url)
         WHERE case_id = ?1",
        params![
            case,
            cwes,
            change.cve_id,
            change.summary,
            change.details,
            change.poc_withheld,
            change.draft,
            ghsa_id,
            actor,
            ts(now),
            ghsa_url
        ],
    )
    .with_context(|| format!("updating the advisory of {case}"))?;
    let mut said = Vec::new();
    if let Some(c) = &change.cwe_ids {
        said.push(format!("weakness {}", c.join(", ")));
    }
    if let Some(c) = &change.cve_id {
        said.push(format!("CVE {c}"));
    }
    let was = |old: &Option<String>| match old {
        Some(t) => format!(" (was: {t})"),
        None => String::new(),
    };
    if change.summary.is_some() {
        said.push(format!("summary set{}", was(&before.summary)));
    }
    if change.details.is_some() {
        said.push(format!("details set{}", was(&before.details)));
    }
    if let (Some(new), Some(old)) = (&change.cve_id, &before.cve_id) {
        if new != old {
            said.push(format!("replacing {old}"));
        }
    }
    if let Some(w) = change.poc_withheld {
        said.push(if w { "PoC withheld" } else { "PoC published" }.into());
    }
    if change.draft.is_some() {
        said.push(format!("draft edited{}", was(&before.draft)));
    }
    if let Some((id, url)) = &change.ghsa {
        said.push(format!("filed on GitHub as {id} ({url})"));
    }
    record_event(
        tx,
        Some(case),
        now,
        "advisory_changed",
        actor,
        &said.join("; "),
    )
}

impl Store {
    pub fn advisory_record(&self, case: &str) -> Result<AdvisoryRecord> {
        advisory_record(&self.conn, case)
    }

    pub fn case_packages(&self, case: &str) -> Result<Vec<CasePackage>> {
        case_packages(&self.conn, case)
    }

    /// The first message filed on the case (the report), its text.
    pub fn report_text(&self, case: &str) -> Result<String> {
        Ok(self
            .conn
            .query_row(
                // The case's own reporter's report: one merged in from
                // another reporter is under their consent, not this one's.
                "SELECT substr(body_text, 1, 20000) FROM messages m WHERE m.case_id = ?1
                 AND m.kind = 'report'
                 ORDER BY lower(m.from_address) <> (SELECT lower(reporter_address) FROM cases
                                                    WHERE id = ?1), m.id
                 LIMIT 1",
                [case],
                |r| r.get::<_, String>(0),
            )
            .optional()
            .with_context(|| format!("reading the report of {case}"))?
            .unwrap_or_default())
    }
}

/// Merging case `from` into `into`: the packages and advisory fields
/// `into` lacks come from `from` (what `into` has stays). Returns what was
/// carried, for the trail.
pub fn carry_over(tx: &Transaction<'_>, from: &str, into: &str) -> Result<Vec<String>> {
    let mut carried = Vec::new();
    let packages = tx
        .execute(
            "INSERT INTO case_packages
                 (case_id, package, position, affected, introduced, fixed, fix_commit)
             SELECT ?2, package,
                    position + (SELECT COUNT(*) FROM case_packages WHERE case_id = ?2),
                    affected, introduced, fixed, fix_commit
             FROM case_packages WHERE case_id = ?1 AND true
             ON CONFLICT (case_id, package) DO UPDATE SET
                 affected = COALESCE(case_packages.affected, excluded.affected),
                 introduced = COALESCE(case_packages.introduced, excluded.introduced),
                 fixed = COALESCE(case_packages.fixed, excluded.fixed),
                 fix_commit = COALESCE(case_packages.fix_commit, excluded.fix_commit)",
            params![from, into],
        )
        .with_context(|| format!("carrying the packages of {from} to {into}"))?;
    if packages > 0 {
        carried.push(format!(
            "{packages} package(s): their versions where {into} had none"
        ));
    }
    let had = tx
        .query_row(
            "SELECT COUNT(*) FROM case_advisories WHERE case_id = ?1",
            [from],
            |r| r.get::<_, i64>(0),
        )
        .with_context(|| format!("reading the advisory of {from}"))?;
    if had > 0 {
        tx.execute(
            "INSERT INTO case_advisories (case_id) VALUES (?1) ON CONFLICT (case_id) DO NOTHING",
            [into],
        )
        .with_context(|| format!("carrying the advisory of {from} to {into}"))?;
        let changed = tx
            .execute(
                "UPDATE case_advisories AS t SET
                    cwe_ids = CASE WHEN t.cwe_ids = '[]' THEN f.cwe_ids ELSE t.cwe_ids END,
                    cve_id = COALESCE(t.cve_id, f.cve_id),
                    summary = COALESCE(t.summary, f.summary),
                    details = COALESCE(t.details, f.details),
                    poc_withheld = max(t.poc_withheld, f.poc_withheld),
                    ghsa_id = COALESCE(t.ghsa_id, f.ghsa_id),
                    ghsa_url = CASE WHEN t.ghsa_id IS NULL THEN f.ghsa_url ELSE t.ghsa_url END
                 FROM case_advisories AS f
                 WHERE t.case_id = ?2 AND f.case_id = ?1",
                params![from, into],
            )
            .with_context(|| format!("carrying the advisory of {from} to {into}"))?;
        if changed > 0 {
            // Never the other case's edited draft: it was written for that
            // report and its withholdings (the trail keeps it there).
            carried.push(
                "the advisory's fields it lacked (weakness, CVE, text, GitHub id; not an \
                 edited draft)"
                    .into(),
            );
        }
    }
    Ok(carried)
}
