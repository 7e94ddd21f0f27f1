//! Triage values: severity, CIA impact, CVSS 3.1 vectors, and the
//! reporter's credit consent. Pure parsing and checks.

use std::fmt;
use std::str::FromStr;

/// The policy's severity levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "low" => Ok(Severity::Low),
            "medium" => Ok(Severity::Medium),
            "high" => Ok(Severity::High),
            "critical" => Ok(Severity::Critical),
            other => Err(format!(
                "unknown severity {other:?}; expected critical, high, medium or low"
            )),
        }
    }
}

/// Impact on confidentiality, integrity and availability: none/low/high.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Impact {
    pub c: String,
    pub i: String,
    pub a: String,
}

impl Impact {
    /// Parses `c=high,i=low,a=none` (any order, all three required).
    pub fn parse(s: &str) -> Result<Impact, String> {
        let (mut c, mut i, mut a) = (None, None, None);
        for part in s.split(',') {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("expected c=…,i=…,a=…, got {s:?}"))?;
            let v = v.trim().to_ascii_lowercase();
            if !matches!(v.as_str(), "none" | "low" | "high") {
                return Err(format!("impact {k}={v:?}: expected none, low or high"));
            }
            match k.trim().to_ascii_lowercase().as_str() {
                "c" => c = Some(v),
                "i" => i = Some(v),
                "a" => a = Some(v),
                other => return Err(format!("unknown impact {other:?}; expected c, i and a")),
            }
        }
        match (c, i, a) {
            (Some(c), Some(i), Some(a)) => Ok(Impact { c, i, a }),
            _ => Err(format!("impact needs all of c, i and a, got {s:?}")),
        }
    }

    /// `c=high,i=low,a=none`.
    pub fn to_text(&self) -> String {
        format!("c={},i={},a={}", self.c, self.i, self.a)
    }

    /// For people: `confidentiality high, integrity low, availability none`.
    pub fn describe(text: &str) -> String {
        match Impact::parse(text) {
            Ok(i) => format!(
                "confidentiality {}, integrity {}, availability {}",
                i.c, i.i, i.a
            ),
            Err(_) => text.to_string(),
        }
    }
}

/// A validated CVSS 3.x base vector with its score and rating.
#[derive(Debug, Clone, PartialEq)]
pub struct Cvss {
    pub vector: String,
    pub score: f64,
    /// `none`, `low`, `medium`, `high` or `critical`.
    pub rating: &'static str,
}

/// Parses and scores a CVSS 3.0/3.1 vector (`CVSS:3.1/AV:N/AC:L/…`).
pub fn cvss(vector: &str) -> Result<Cvss, String> {
    let v = vector.trim();
    // The crate scores partial vectors; an advisory needs all eight base
    // metrics, each once.
    let metrics: Vec<&str> = v
        .split('/')
        .skip(1)
        .filter_map(|m| m.split(':').next())
        .collect();
    for base in ["AV", "AC", "PR", "UI", "S", "C", "I", "A"] {
        if metrics.iter().filter(|m| **m == base).count() != 1 {
            return Err(format!(
                "invalid CVSS vector {v:?}: base metric {base} must appear once"
            ));
        }
    }
    let parsed =
        cvss::v3::Vector::from_str(v).map_err(|e| format!("invalid CVSS vector {v:?}: {e}"))?;
    let score = parsed.base_score();
    Ok(Cvss {
        vector: v.to_string(),
        score: score.value(),
        rating: score.severity().as_str(),
    })
}

/// A warning when the chosen severity disagrees with the CVSS rating.
pub fn severity_mismatch(severity: Severity, c: &Cvss) -> Option<String> {
    (severity.as_str() != c.rating).then(|| {
        format!(
            "severity {severity} differs from the CVSS rating {} ({:.1}); keeping {severity}",
            c.rating, c.score
        )
    })
}

/// The reporter's word on credit, from a line of their reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credit {
    Yes(Option<String>),
    No,
}

/// Finds `credit: yes, Name` or `credit: no` on a line of its own (quoted
/// lines — `> …` — are the acknowledgement being quoted back, not an answer).
pub fn parse_credit(body: &str) -> Option<Credit> {
    body.lines().find_map(|line| {
        let l = line.trim();
        if l.starts_with('>') {
            return None;
        }
        let lower = l.to_ascii_lowercase();
        let rest = lower.strip_prefix("credit:")?.trim_start();
        let original = l.get(l.len() - rest.len()..).unwrap_or("");
        if rest == "no"
            || rest.starts_with("no ")
            || rest.starts_with("no,")
            || rest.starts_with("no.")
        {
            return Some(Credit::No);
        }
        let after = rest.strip_prefix("yes")?;
        let name_part = original.get(original.len() - after.len()..).unwrap_or("");
        let name =
            crate::mail::text::clean_line(name_part.trim_start_matches([',', ':', ' ']), 100);
        Some(Credit::Yes(Some(name).filter(|n| !n.is_empty())))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cvss_scores_match_published_examples() {
        // Examples from FIRST's CVSS v3.1 specification and NVD.
        let cases = [
            (
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                9.8,
                "critical",
            ),
            (
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N",
                6.1,
                "medium",
            ),
            ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8, "high"),
            ("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:L/I:N/A:N", 3.7, "low"),
            (
                "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H",
                10.0,
                "critical",
            ),
            ("CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:N/I:N/A:N", 0.0, "none"),
        ];
        for (v, score, rating) in cases {
            let c = cvss(v).unwrap();
            assert_eq!((c.score, c.rating), (score, rating), "{v}");
        }
    }

    #[test]
    fn bad_vectors_are_refused() {
        for v in [
            "",
            "CVSS:3.1/AV:X",
            "AV:N/AC:L",
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H",
            "'; DROP",
        ] {
            assert!(cvss(v).is_err(), "{v}");
        }
    }

    #[test]
    fn mismatch_is_a_warning() {
        let c = cvss("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H").unwrap();
        assert_eq!(severity_mismatch(Severity::Critical, &c), None);
        assert!(severity_mismatch(Severity::Low, &c)
            .unwrap()
            .contains("9.8"));
    }

    #[test]
    fn impacts() {
        let i = Impact::parse("c=High, i=low,a=none").unwrap();
        assert_eq!(i.to_text(), "c=high,i=low,a=none");
        assert!(Impact::parse("c=high,i=low").is_err());
        assert!(Impact::parse("c=huge,i=low,a=none").is_err());
        assert!(Impact::parse("x=high,i=low,a=none").is_err());
        assert_eq!(
            Impact::describe("c=high,i=low,a=none"),
            "confidentiality high, integrity low, availability none"
        );
    }

    #[test]
    fn severities() {
        assert_eq!("Critical".parse::<Severity>().unwrap(), Severity::Critical);
        assert!("urgent".parse::<Severity>().is_err());
    }

    #[test]
    fn credit_lines() {
        assert_eq!(
            parse_credit("Thanks!\ncredit: yes, Sam Finder\n"),
            Some(Credit::Yes(Some("Sam Finder".into())))
        );
        assert_eq!(parse_credit("Credit: Yes"), Some(Credit::Yes(None)));
        assert_eq!(parse_credit("credit: no"), Some(Credit::No));
        assert_eq!(parse_credit("CREDIT: no, thanks"), Some(Credit::No));
        assert_eq!(parse_credit("> credit: yes, Your Name"), None);
        assert_eq!(parse_credit("I want credit: yes please? maybe"), None);
        assert_eq!(parse_credit("no credit line here"), None);
        assert_eq!(
            parse_credit("credit: yes, Ana María López\r"),
            Some(Credit::Yes(Some("Ana María López".into())))
        );
        // A name cannot smuggle a line break into the advisory.
        assert_eq!(
            parse_credit("credit: yes, Eve\u{2028}Bcc"),
            Some(Credit::Yes(Some("Eve Bcc".into())))
        );
    }
}
