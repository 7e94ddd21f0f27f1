//! Text a reporter wrote, made safe to store, show and mail: one line
//! without control or bidi characters, a body without controls, a file name
//! for display only. Every value from a message passes through here.

/// Longest body text kept in the case log (the raw message is kept whole).
pub const MAX_BODY: usize = 1_000_000;

/// Bidirectional-text controls: they reorder what a terminal or a mail
/// client shows ("Trojan Source"), so they are stripped from every value
/// secdesk stores, shows or mails.
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}'
    )
}

/// `s` without bidi controls (see [`is_bidi_control`]).
pub fn strip_bidi(s: &str) -> String {
    s.chars().filter(|c| !is_bidi_control(*c)).collect()
}

/// One line of display text: bidi controls removed, other control
/// characters (CR, LF, NUL, TAB, the Unicode line and paragraph separators)
/// become spaces, runs of space collapse, and the result is cut at `max`
/// characters.
pub fn clean_line(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max.saturating_mul(4)));
    let mut space = false;
    let mut count = 0;
    for c in s.chars() {
        if is_bidi_control(c) {
            continue;
        }
        let c = if c.is_control() || c.is_whitespace() || matches!(c, '\u{2028}' | '\u{2029}') {
            ' '
        } else {
            c
        };
        if c == ' ' {
            if space || out.is_empty() {
                continue;
            }
            space = true;
        } else {
            space = false;
        }
        if count >= max {
            break;
        }
        out.push(c);
        count += 1;
    }
    out.truncate(out.trim_end().len());
    out
}

/// Body text for the case log: NULs and other controls (but newline and
/// tab) and bidi controls removed, bounded in size.
pub(crate) fn clean_body(s: &mut String) {
    s.retain(|c| c == '\n' || c == '\t' || !(c.is_control() || is_bidi_control(c)));
    if s.len() > MAX_BODY {
        let mut cut = MAX_BODY;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
}

/// An attachment name fit for display: the last path component only,
/// control characters gone, bounded.
pub fn display_file_name(name: &str) -> String {
    let last = name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("")
        .trim_start_matches('.');
    let cleaned = clean_line(last, 200);
    if cleaned.is_empty() {
        "unnamed".into()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_file_names_are_display_only() {
        assert_eq!(display_file_name("../../etc/passwd"), "passwd");
        assert_eq!(display_file_name("/etc/shadow"), "shadow");
        assert_eq!(display_file_name("..\\..\\win.ini"), "win.ini");
        assert_eq!(display_file_name(".."), "unnamed");
        assert_eq!(display_file_name("a\r\nb"), "a b");
    }

    #[test]
    fn clean_line_bounds_and_collapses() {
        assert_eq!(clean_line("  a \t\0 b\u{2028}c  ", 100), "a b c");
        assert_eq!(clean_line(&"x".repeat(1000), 10).len(), 10);
        // Bidi controls are stripped, not spaced: "Trojan Source" text
        // shows as written.
        for bidi in ['\u{202e}', '\u{2067}', '\u{200e}', '\u{200f}', '\u{061c}'] {
            assert_eq!(clean_line(&format!("ab{bidi}cd"), 100), "abcd");
        }
    }
}
