//! Reporter text made inert for Markdown. This module owns the one rule for
//! writing a string a reporter controls (subject, name, address, credit name)
//! into a Markdown draft, so that CommonMark, GitHub Flavored Markdown and
//! GitHub's own passes after parsing (mentions, issue and commit references,
//! autolinks) show it as the text it is and never as markup. Pure: it never
//! decides whether a value is published; the advisory does that.

use crate::mail::text::clean_line;

/// ASCII punctuation that is plain text anywhere in a line under CommonMark
/// 0.31 + GFM 0.29 and GitHub's renderer, once `[`, `]`, `<`, `&`, `\`, `` ` ``,
/// `*`, `_`, `~`, `|`, `$`, `@` and `#` are excluded:
/// - `( ) " '` only mean something inside a link or image, which needs `[`
///   (§6.3); `!` only before `[` (§6.4); `>` only as a blockquote marker at
///   the start of a line (§5.1), which `escape_line_start` escapes.
/// - `- + =` and `.`/`)` after digits only start a list, a thematic break or
///   a setext underline at the start of a line (§4.1, §4.3, §5.2, §5.3),
///   also escaped there.
/// - `:` and `/` make an extended autolink only as `://` (GFM §6.9), which
///   `is_plain` rules out; `mailto:`/`xmpp:` autolinks need `@`, excluded.
///   `:name:` becomes one of GitHub's fixed emoji, never a link.
/// - `, ; ? %` have no meaning at all.
///
/// Excluded, and why: `[ ] !` links and images, `<` autolinks and raw HTML,
/// `&` entities (§2.5), `\` escapes, `` ` `` code, `* _` emphasis, `~`
/// strikethrough, `|` tables, `$` GitHub math, `@` mentions (GitHub mentions
/// even after `\@`), `#` headings and issue references.
const PLAIN_PUNCTUATION: &[char] = &[
    '.', ',', ';', ':', '\'', '"', '(', ')', '-', '/', '?', '%', '+', '!', '=', '>',
];

/// `s` as one line of inline Markdown that shows exactly its text (made one
/// line) on GitHub: plain text stays readable, with only a leading block
/// marker escaped; anything else becomes one code span, inside which neither
/// CommonMark nor GitHub's mention, reference and autolink passes look.
pub fn inert(s: &str) -> String {
    let line = one_line(s);
    if line.is_empty() {
        String::new()
    } else if is_plain(&line) {
        escape_line_start(&line)
    } else {
        code_span(&line)
    }
}

/// The text as one line ([`clean_line`]): a line ending would end a
/// heading or start a block, leading spaces would make an indented code
/// block (§4.4) and trailing ones a hard line break (§6.7); bidi controls
/// would show the bytes in another order.
fn one_line(s: &str) -> String {
    clean_line(s, usize::MAX)
}

/// A fullwidth form (U+FF01–FF5E) judged as its ASCII twin, so that a
/// lookalike `＠` or `［` is never the only thing between text and markup.
fn ascii_twin(c: char) -> char {
    match c {
        '\u{ff01}'..='\u{ff5e}' => char::from_u32(c as u32 - 0xfee0).unwrap_or(c),
        _ => c,
    }
}

/// True when `line` has no character with a Markdown meaning mid-line and
/// nothing GitHub links after parsing. Non-ASCII characters other than the
/// controls `one_line` removed have no syntax in CommonMark or GFM, so every
/// script and emoji (with its joiners and variation selectors) stays text.
fn is_plain(line: &str) -> bool {
    let twin: String = line
        .chars()
        .map(ascii_twin)
        .collect::<String>()
        .to_ascii_lowercase();
    let plain_char = |c: char| {
        !c.is_ascii() || c.is_ascii_alphanumeric() || c == ' ' || PLAIN_PUNCTUATION.contains(&c)
    };
    // GFM extended autolinks (§6.9) start at `scheme://` or `www.`.
    let autolink = twin.contains("://") || twin.contains("www.");
    twin.chars().all(plain_char) && !autolink && !has_github_reference(&twin)
}

/// GitHub's references that need neither `#` nor `@`: `GH-12` (an issue) and
/// a word of 7 to 40 hex digits (a commit; a fork's commit with a chosen
/// prefix is cheap to make, so any such word counts). `twin` is lower case.
fn has_github_reference(twin: &str) -> bool {
    let bytes = twin.as_bytes();
    let issue = twin.match_indices("gh-").any(|(i, _)| {
        let before = i.checked_sub(1).and_then(|b| bytes.get(b));
        !before.is_some_and(u8::is_ascii_alphanumeric)
            && bytes.get(i + 3).is_some_and(u8::is_ascii_digit)
    });
    let commit = twin
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|w| (7..=40).contains(&w.len()) && w.bytes().all(|b| b.is_ascii_hexdigit()));
    issue || commit
}

/// Escapes the first character when the line would otherwise open a block
/// wherever it lands at the start of a line: a bullet list or thematic break
/// (`-`, `+`, §5.2, §4.1), a setext underline (`=`, §4.3), a blockquote (`>`,
/// §5.1), an ATX heading (`#`, §4.2 — never plain today, escaped so this rule
/// stands alone) or an ordered list (digits then `.` or `)`, §5.2). A
/// backslash before ASCII punctuation is a literal character anywhere (§2.4).
fn escape_line_start(line: &str) -> String {
    if line.starts_with(['-', '+', '=', '#', '>']) {
        return format!("\\{line}");
    }
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    if digits > 0 && matches!(line.as_bytes().get(digits), Some(b'.' | b')')) {
        return format!("{}\\{}", &line[..digits], &line[digits..]);
    }
    line.to_string()
}

/// One code span (§6.1): the fence is one backtick longer than the longest
/// run inside, so no run inside can close it; a space pads each side when the
/// text starts or ends with a backtick or a space, and CommonMark strips
/// exactly that padding again. At the start of a line a fence of three or
/// more backticks is no code block (§4.5): the closing fence on the same line
/// puts backticks in what would be its info string.
fn code_span(line: &str) -> String {
    let longest = line.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if line.starts_with(['`', ' ']) || line.ends_with(['`', ' ']) {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{line}{pad}{fence}")
}

/// Markdown parsed as GitHub does (CommonMark + GFM, with comrak), reduced to
/// what the tests of reporter text look at.
#[cfg(test)]
pub(crate) mod rendered {
    use comrak::nodes::{AstNode, NodeValue};
    use comrak::{parse_document, Arena, Options};

    /// Hostile reporter text: each must come out shown as typed, and as
    /// nothing but text.
    pub const HOSTILE: &[&str] = &[
        "<!-- x",
        "</details><script>alert(1)</script>",
        "[click](https://evil.example)",
        "![img](https://evil.example/a.png)",
        "@security-team please look",
        "https://evil.example/path",
        "www.evil.example",
        "#12 and GH-34",
        "see GH-34",
        "`code`",
        "a `` b",
        "``",
        "**bold** _em_",
        "| a | b |",
        "- list",
        "1. item",
        "# heading",
        "> quote",
        "&lt;b&gt;",
        "$\\href{https://evil.example}{x}$",
        "fixed by deadbeef1",
        "ｓａｍ＠ｅｖｉｌ",
        "line one\r\n=== \u{202e}txt.exe",
        "    indented",
        "<https://evil.example>",
        "[^1]: footnote",
    ];

    /// Names that must stay readable text (no code span).
    pub const READABLE: &[&str] = &[
        "Sam Finder",
        "Ana María López",
        "李小龙",
        "Zoë 🦀 Åström",
        "👩‍💻 Дмитрий Иванов",
        "O'Brien (Acme Corp.)",
    ];

    /// What the reader is meant to see of `s`: its text made one line.
    pub fn shown(s: &str) -> String {
        super::one_line(s)
    }

    /// The parts of a rendered document the tests compare.
    #[derive(Debug, Default, PartialEq)]
    pub struct Rendered {
        /// The kind of each top-level block, in order.
        pub blocks: Vec<String>,
        /// Level and visible text of each heading.
        pub headings: Vec<(u8, String)>,
        /// Visible text of each paragraph.
        pub paragraphs: Vec<String>,
        /// Every node that links, embeds or passes HTML through, with what
        /// it carries: link, image, inline and block HTML, math.
        pub live: Vec<String>,
        /// Text nodes: everything shown outside code spans.
        pub text: Vec<String>,
        /// Code span contents.
        pub code: Vec<String>,
    }

    /// GitHub's Markdown: CommonMark + the GFM extensions, plus the footnotes,
    /// alerts and math GitHub also renders.
    fn github() -> Options<'static> {
        let mut o = Options::default();
        o.extension.strikethrough = true;
        o.extension.table = true;
        o.extension.autolink = true;
        o.extension.tasklist = true;
        o.extension.footnotes = true;
        o.extension.alerts = true;
        o.extension.math_dollars = true;
        o.extension.math_code = true;
        // Changes only the HTML writer, not the tree; on because GitHub has it.
        #[allow(deprecated)]
        {
            o.extension.tagfilter = true;
        }
        o
    }

    pub fn render(md: &str) -> Rendered {
        let arena = Arena::new();
        let root = parse_document(&arena, md, &github());
        let mut r = Rendered::default();
        for block in root.children() {
            let kind = format!("{:?}", block.data.borrow().value);
            let end = kind.find(['(', ' ', '{']).unwrap_or(kind.len());
            r.blocks.push(kind[..end].to_string());
        }
        for node in root.descendants() {
            match &node.data.borrow().value {
                NodeValue::Heading(h) => r.headings.push((h.level, visible(node))),
                NodeValue::Paragraph => r.paragraphs.push(visible(node)),
                NodeValue::Link(l) => r.live.push(format!("link {} {}", l.url, visible(node))),
                NodeValue::Image(l) => r.live.push(format!("image {} {}", l.url, visible(node))),
                NodeValue::HtmlInline(h) => r.live.push(format!("html {h}")),
                NodeValue::HtmlBlock(h) => r.live.push(format!("html block {}", h.literal)),
                NodeValue::Math(m) => r.live.push(format!("math {}", m.literal)),
                NodeValue::Text(t) => r.text.push(t.to_string()),
                NodeValue::Code(c) => r.code.push(c.literal.clone()),
                _ => {}
            }
        }
        r
    }

    /// The text a reader sees in `node`.
    fn visible<'a>(node: &'a AstNode<'a>) -> String {
        let mut out = String::new();
        for n in node.descendants() {
            match &n.data.borrow().value {
                NodeValue::Text(t) => out.push_str(t),
                NodeValue::Code(c) => out.push_str(&c.literal),
                NodeValue::SoftBreak | NodeValue::LineBreak => out.push('\n'),
                _ => {}
            }
        }
        out
    }

    /// How often `needle` (any case) appears in text outside code spans.
    pub fn outside_code(r: &Rendered, needle: &str) -> usize {
        r.text
            .iter()
            .map(|t| t.to_lowercase().matches(needle).count())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::rendered::{outside_code, render, shown, HOSTILE, READABLE};
    use super::*;

    #[test]
    fn plain_names_are_unchanged() {
        for name in READABLE {
            assert_eq!(inert(name), *name);
        }
        assert_eq!(
            inert("Version 9.0.2 (CVE-2026-1234): what's new?"),
            "Version 9.0.2 (CVE-2026-1234): what's new?"
        );
    }

    #[test]
    fn inert_table() {
        let rows = [
            ("", ""),
            (" \r\n\t ", ""),
            ("\u{200e}Sam\u{200f} \u{202e}F\u{2066}", "Sam F"),
            ("a\nb\r\nc\td", "a b c d"),
            ("<!-- x", "`<!-- x`"),
            ("@security-team please look", "`@security-team please look`"),
            ("https://evil.example/path", "`https://evil.example/path`"),
            ("WWW.evil.example", "`WWW.evil.example`"),
            ("#12 and GH-34", "`#12 and GH-34`"),
            ("see gh-7", "`see gh-7`"),
            ("fixed by deadbeef1", "`fixed by deadbeef1`"),
            ("ｓａｍ＠ｅｖｉｌ", "`ｓａｍ＠ｅｖｉｌ`"),
            ("`code`", "`` `code` ``"),
            ("a `` b", "```a `` b```"),
            ("``", "``` `` ```"),
            ("**bold** _em_", "`**bold** _em_`"),
            ("&lt;b&gt;", "`&lt;b&gt;`"),
            ("- list", "\\- list"),
            ("+ plus", "\\+ plus"),
            ("=== title", "\\=== title"),
            ("> quote", "\\> quote"),
            ("1. item", "1\\. item"),
            ("12) item", "12\\) item"),
            ("2026 was hard", "2026 was hard"),
            ("    indented", "indented"),
        ];
        for (input, want) in rows {
            assert_eq!(inert(input), want, "inert({input:?})");
        }
    }

    #[test]
    fn inert_text_renders_as_itself_in_every_position() {
        for s in HOSTILE.iter().chain(READABLE) {
            let v = inert(s);
            // (before, what of it is seen, after, the one block expected)
            for (before, seen_before, after, block) in [
                ("# ", "", "", "Heading"),
                ("", "", "", "Paragraph"),
                ("Reported by ", "Reported by ", ".", "Paragraph"),
            ] {
                let md = format!("{before}{v}{after}\n");
                let r = render(&md);
                assert_eq!(r.blocks, [block], "{md:?}");
                let seen = r.headings.first().map(|h| &h.1).or(r.paragraphs.first());
                let want = format!("{seen_before}{}{after}", shown(s));
                assert_eq!(seen, Some(&want), "{md:?}");
                assert!(r.live.is_empty(), "{md:?}: {:?}", r.live);
                for needle in ["@", "://", "www.", "#", "gh-", "＠"] {
                    assert_eq!(outside_code(&r, needle), 0, "{needle} in {md:?}: {r:?}");
                }
            }
        }
    }
}
