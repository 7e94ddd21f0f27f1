//! The OSV record (schema 1.6): one `affected` entry per package, ranges
//! typed for the package's ecosystem, the CVE as an alias, CWEs.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::Draft;
use crate::case::assess::cvss;
use crate::ecosystem::{osv_ranges, Ecosystem};

/// The OSV record for `d`, modified `now`.
pub fn record(d: &Draft<'_>, now: DateTime<Utc>) -> Value {
    let c = d.case;
    let ts = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let details = match d.record.details.as_deref().filter(|t| !t.trim().is_empty()) {
        Some(details) => details.to_string(),
        None => c.user_impact.clone().unwrap_or_else(|| d.summary()),
    };
    let mut rec = json!({
        "schema_version": "1.6.0",
        "id": d.osv_id(),
        "modified": ts(now),
        "summary": d.title(),
        "details": details,
    });
    if let Some(cve) = &d.record.cve_id {
        rec["aliases"] = json!([cve]);
    }
    if let Some(p) = c.disclosed_at.as_deref().and_then(crate::store::parse_ts) {
        rec["published"] = json!(ts(p));
    }
    let affected: Vec<Value> = d
        .affected
        .iter()
        .filter_map(|a| {
            let parsed = a.parsed();
            let ranges = osv_ranges(
                a.package.ecosystem,
                parsed.as_ref(),
                a.introduced.as_deref(),
                a.fixed.as_deref(),
                a.package.repository.as_deref(),
                a.fix_commit.as_deref(),
            );
            if ranges.as_array().is_none_or(|r| r.is_empty()) {
                return None;
            }
            let mut entry = json!({ "ranges": ranges });
            if let Some(eco) = a.package.ecosystem.osv_name() {
                entry["package"] = json!({"ecosystem": eco, "name": a.package.name});
            }
            let mut specific = json!({ "secdesk_package": a.package.id });
            if let Some(r) = a.vulnerable_range() {
                specific["affected_versions"] = json!(r);
            }
            if a.package.ecosystem == Ecosystem::None {
                specific["name"] = json!(a.package.name);
            }
            entry["database_specific"] = specific;
            Some(entry)
        })
        .collect();
    if !affected.is_empty() {
        rec["affected"] = json!(affected);
    }
    if let Some(v) = c.cvss_vector.as_deref().and_then(|v| cvss(v).ok()) {
        rec["severity"] = json!([{"type": "CVSS_V3", "score": v.vector}]);
    }
    let mut refs = Vec::new();
    if let Some(a) = d.advisory_link() {
        refs.push(json!({"type": "ADVISORY", "url": a}));
    }
    if let Some(r) = &c.fix_ref {
        refs.push(json!({"type": "FIX", "url": r}));
    }
    if let Some(repo) = &d.project.repository_url {
        refs.push(json!({"type": "PACKAGE", "url": repo}));
    }
    if !refs.is_empty() {
        rec["references"] = json!(refs);
    }
    if let Some((name, _)) = d.credit() {
        rec["credits"] = json!([{"name": name, "type": "FINDER"}]);
    }
    rec["database_specific"] = json!({
        "secdesk_case": c.id,
        "severity": c.severity,
        "cwe_ids": d.record.cwe_ids,
    });
    rec
}
