//! Reporter text as the drafts may quote it: the report cut at its
//! signature, without the reporter's name unless they consented to be
//! credited, the steps to reproduce found in it, and a fence nothing inside
//! can close.

use crate::store::cases::CaseRow;

use super::{credited_name, split_login};

/// Longest excerpt of the report a draft quotes (Details and PoC).
pub const MAX_EXCERPT: usize = 6_000;

/// The report as drafts may quote it: cut at the sender's signature or
/// closing, and — without consent to be credited — with the reporter's
/// name and address taken out (a signature is not the only place they
/// sign). Bounded by [`MAX_EXCERPT`].
pub(super) fn excerpt_of(report: &str, case: &CaseRow) -> String {
    let mut kept = Vec::new();
    for (n, line) in report.lines().enumerate() {
        let t = line.trim();
        if t == "--" || line == "-- " || (n > 1 && is_closing(t)) {
            break;
        }
        kept.push(line);
    }
    let mut text = floor(&kept.join("\n"), MAX_EXCERPT).trim_end().to_string();
    if credited_name(case).is_none() {
        for n in identity(case) {
            text = replace_word(&text, &n, "[the reporter]");
        }
    }
    text
}

/// The words that name the reporter: address, its local part, display
/// name and each of its parts ("Finder, Sam" and "SAM FINDER" alike), a
/// credit name and its login; longest first, so a full name goes before
/// its parts.
pub fn identity(case: &CaseRow) -> Vec<String> {
    let mut names: Vec<String> = vec![case.reporter.clone(), case.reporter_name.clone()];
    names.extend(case.reporter.split('@').next().map(str::to_string));
    names.extend(
        case.reporter_name
            .split(|c: char| !c.is_alphanumeric() && c != '-' && c != '\'')
            .map(str::to_string),
    );
    if let Some(n) = &case.credit_name {
        let (display, login) = split_login(n);
        names.extend(
            display
                .split(|c: char| !c.is_alphanumeric() && c != '-' && c != '\'')
                .map(str::to_string),
        );
        names.push(display);
        names.extend(login);
    }
    names.retain(|n| n.trim().chars().count() >= 3);
    names.sort_by_key(|n| std::cmp::Reverse(n.len()));
    names.dedup();
    names
}

/// A line that closes a mail ("Thanks,", "Best regards", "Cheers!").
fn is_closing(t: &str) -> bool {
    let l = t.trim_end_matches([',', '!', '.']).to_ascii_lowercase();
    l.len() <= 25
        && [
            "thanks",
            "thank you",
            "regards",
            "best",
            "cheers",
            "kind regards",
            "best regards",
            "sincerely",
            "many thanks",
            "thanks in advance",
            "greetings",
        ]
        .iter()
        .any(|c| l == *c || l.starts_with(&format!("{c} ")))
}

/// `text` with `word` replaced, in any case, where it stands as a word
/// (not inside another: "Sam" in "Samples" stays).
pub fn replace_word(text: &str, word: &str, with: &str) -> String {
    let (lower_text, lower_word) = (text.to_lowercase(), word.to_lowercase());
    // Lower-casing can change byte lengths (rarely): then match exactly.
    let (hay, needle) = if lower_text.len() == text.len() && lower_word.len() == word.len() {
        (lower_text.as_str(), lower_word.as_str())
    } else {
        (text, word)
    };
    if needle.is_empty() {
        return text.to_string();
    }
    let is_word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    let mut out = String::with_capacity(text.len());
    let mut from = 0;
    while let Some(off) = hay.get(from..).and_then(|h| h.find(needle)) {
        let at = from + off;
        let end = at + needle.len();
        let (Some(before), Some(found), Some(after)) =
            (text.get(..at), text.get(at..end), text.get(end..))
        else {
            break;
        };
        out.push_str(text.get(from..at).unwrap_or(""));
        if is_word(before.chars().next_back()) || is_word(after.chars().next()) {
            out.push_str(found);
        } else {
            out.push_str(with);
        }
        from = end;
    }
    out.push_str(text.get(from..).unwrap_or(""));
    out
}

/// Whether `text` names `word` as a word, in any case.
pub fn names(text: &str, word: &str) -> bool {
    replace_word(text, word, "\u{0}") != text
}

/// `text` as a fenced code block that nothing inside can close: the fence
/// is longer than any run of backticks in it. For reporter text (steps, an
/// excerpt) in a Markdown draft.
pub fn fenced(text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    let fence = "`".repeat(longest.max(2) + 1);
    let body = text.trim_end_matches(['\n', '\r']);
    format!("{fence}text\n{body}\n{fence}\n")
}

/// The longest prefix of `s` of at most `max` bytes on a char boundary.
pub(super) fn floor(s: &str, max: usize) -> &str {
    let mut cut = max.min(s.len());
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s.get(..cut).unwrap_or_default()
}

/// The reporter's steps in `report`: from a line that starts them ("Steps
/// to reproduce", "PoC", "Proof of concept", "Reproduce") to the end, else
/// the whole report. Bounded by [`MAX_EXCERPT`].
pub fn steps(report: &str) -> &str {
    let starts = [
        "steps to reproduce",
        "to reproduce",
        "reproduce",
        "poc",
        "proof of concept",
    ];
    // The sections a report has after its steps: the PoC ends there.
    let after = [
        "impact",
        "suggested fix",
        "fix",
        "workaround",
        "mitigation",
        "remediation",
        "credit",
        "timeline",
        "references",
        "cvss",
        "severity",
        "disclosure",
    ];
    let heading = |line: &str| {
        line.trim()
            .trim_start_matches(['#', '*', ' '])
            .to_ascii_lowercase()
    };
    let mut offset = 0;
    let mut start = None;
    for line in report.split_inclusive('\n') {
        let l = heading(line);
        match start {
            None if starts.iter().any(|s| l.starts_with(s)) => start = Some(offset),
            Some(from)
                if after
                    .iter()
                    .any(|a| l.starts_with(&format!("{a}:")) || l == *a) =>
            {
                return floor(report.get(from..offset).unwrap_or(report), MAX_EXCERPT);
            }
            _ => {}
        }
        offset += line.len();
    }
    floor(
        report.get(start.unwrap_or(0)..).unwrap_or(report),
        MAX_EXCERPT,
    )
}
