//! What a report seems to lack of the five things the policy asks for.
//!
//! Heuristic by design: the acknowledgement asks for what looks missing, and
//! asking once too often costs the reporter a sentence, while missing a gap
//! costs the team a round trip. Keywords cover English and the stems that
//! survive translation (`versi…`, `impact…`), plus shapes (version numbers,
//! numbered steps, request lines).

use serde::Serialize;

/// One of the policy's requested items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportItem {
    AffectedVersion,
    SpecialConfiguration,
    StepsToReproduce,
    Impact,
    SuggestedRemediation,
}

impl ReportItem {
    pub const ALL: [ReportItem; 5] = [
        ReportItem::AffectedVersion,
        ReportItem::SpecialConfiguration,
        ReportItem::StepsToReproduce,
        ReportItem::Impact,
        ReportItem::SuggestedRemediation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReportItem::AffectedVersion => "affected_version",
            ReportItem::SpecialConfiguration => "special_configuration",
            ReportItem::StepsToReproduce => "steps_to_reproduce",
            ReportItem::Impact => "impact",
            ReportItem::SuggestedRemediation => "suggested_remediation",
        }
    }

    pub fn from_name(s: &str) -> Option<ReportItem> {
        ReportItem::ALL.iter().copied().find(|i| i.as_str() == s)
    }

    /// The request, in the policy's words, as the acknowledgement asks it.
    pub fn request(self) -> &'static str {
        match self {
            ReportItem::AffectedVersion => {
                "The application and/or library version where you found the issue."
            }
            ReportItem::SpecialConfiguration => {
                "Any special configuration needed to reproduce it (or \"none\" if it happens with the defaults)."
            }
            ReportItem::StepsToReproduce => "Step-by-step instructions to reproduce the issue.",
            ReportItem::Impact => {
                "The impact of the issue, including how an attacker might exploit it."
            }
            ReportItem::SuggestedRemediation => "Your recommended remediation, if you have one.",
        }
    }
}

const VERSION_WORDS: &[&str] = &["version", "versi", "release", "build ", "commit "];
const CONFIG_WORDS: &[&str] = &[
    "config",
    "setting",
    "option",
    "environment",
    "default",
    "flag",
    "enabled",
    "setup",
    "install",
    "konfig",
];
const STEPS_WORDS: &[&str] = &[
    "steps",
    "reproduc",
    "repro",
    "poc",
    "proof of concept",
    "curl ",
    "http/1",
    "get /",
    "post /",
    "pasos",
    "schritte",
];
const IMPACT_WORDS: &[&str] = &[
    "impact",
    "attacker",
    "exploit",
    "allows",
    "leak",
    "disclos",
    "execut",
    "inject",
    "bypass",
    "denial of service",
    "dos ",
    "rce",
    "xss",
    "csrf",
    "ssrf",
    "takeover",
    "escalat",
];
const FIX_WORDS: &[&str] = &[
    "fix",
    "remediat",
    "mitigat",
    "patch",
    "suggest",
    "recommend",
    "workaround",
    "sanitiz",
    "sanitis",
    "validate",
    "should be",
];

/// The items `subject` + `body` seem to lack, in the policy's order.
pub fn missing_items(subject: &str, body: &str) -> Vec<ReportItem> {
    // Bounded: a 25 MB body is not searched end to end for keywords.
    let mut cut = body.len().min(200_000);
    while !body.is_char_boundary(cut) {
        cut -= 1;
    }
    let text = format!("{subject}\n{}", &body[..cut]).to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| text.contains(w));
    let mut missing = Vec::new();
    if !(has(VERSION_WORDS) || has_version_number(&text)) {
        missing.push(ReportItem::AffectedVersion);
    }
    if !has(CONFIG_WORDS) {
        missing.push(ReportItem::SpecialConfiguration);
    }
    if !(has(STEPS_WORDS) || has_numbered_steps(&text)) {
        missing.push(ReportItem::StepsToReproduce);
    }
    if !has(IMPACT_WORDS) {
        missing.push(ReportItem::Impact);
    }
    if !has(FIX_WORDS) {
        missing.push(ReportItem::SuggestedRemediation);
    }
    missing
}

/// `1.2` or `v3.4.5` somewhere: digits, a dot, digits.
fn has_version_number(text: &str) -> bool {
    let b = text.as_bytes();
    b.windows(3)
        .any(|w| w[0].is_ascii_digit() && w[1] == b'.' && w[2].is_ascii_digit())
}

/// At least two lines starting `1.`/`1)`/`-`-style numbering.
fn has_numbered_steps(text: &str) -> bool {
    text.lines()
        .filter(|l| {
            let t = l.trim_start();
            let digits = t.bytes().take_while(|b| b.is_ascii_digit()).count();
            digits > 0 && digits < 3 && matches!(t.as_bytes().get(digits), Some(b'.') | Some(b')'))
        })
        .count()
        >= 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_sample_lacks_nothing() {
        let raw = include_bytes!("../../tests/data/01-report-complete.eml");
        let m = crate::mail::parse::parse(raw).unwrap();
        assert_eq!(missing_items(&m.subject, &m.body_text), vec![]);
    }

    #[test]
    fn a_bare_report_lacks_everything() {
        assert_eq!(
            missing_items("hi", "I found a problem in your app, please contact me."),
            ReportItem::ALL.to_vec()
        );
    }

    #[test]
    fn each_item_is_detected_alone() {
        let cases = [
            ("We run 9.0.1", ReportItem::AffectedVersion),
            (
                "Needs the proxy option enabled",
                ReportItem::SpecialConfiguration,
            ),
            ("1. open the app\n2. click", ReportItem::StepsToReproduce),
            ("An attacker can read files", ReportItem::Impact),
            (
                "A patch would be to check the key",
                ReportItem::SuggestedRemediation,
            ),
        ];
        for (body, item) in cases {
            assert!(!missing_items("", body).contains(&item), "{body}");
        }
    }

    #[test]
    fn names_round_trip() {
        for i in ReportItem::ALL {
            assert_eq!(ReportItem::from_name(i.as_str()), Some(i));
        }
    }
}
