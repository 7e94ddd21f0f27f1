//! The text of a message whose body is HTML, laid out as the mail read:
//! paragraphs and line breaks kept, list items numbered or bulleted on their
//! own lines, quotes prefixed with `> `, links as `text (url)`, `<pre>` kept.
//!
//! The HTML is hostile input and is only ever read as text: html2text parses
//! it with html5ever and lays out what it finds; nothing runs (`<script>`,
//! `<style>` and `<head>` are dropped), nothing is fetched (images become
//! their alt text), and no CSS is applied (the crate's `css` feature is off).
//! The work is bounded twice: the input is cut at [`MAX_HTML_INPUT`], and
//! HTML nested deeper than [`MAX_DEPTH`] is not laid out at all, because
//! html5ever's tree builder slows down with the depth of open elements
//! (50,000 nested `<div>`s, 250 KB, take seconds).

use std::borrow::Cow;

use html2text::render::TextDecorator;
use mail_parser::{Message, PartType};

/// Most HTML fed to the converter; the rest is cut, and the text says so.
pub const MAX_HTML_INPUT: usize = 2 * 1024 * 1024;

/// Deepest element nesting laid out (as [`nesting_depth`] estimates it).
/// Real mail stays far below: a long Gmail thread quotes a few dozen levels.
/// Deeper HTML is shown through mail-parser's flat conversion instead.
pub const MAX_DEPTH: usize = 256;

/// Most markup laid out, counted by [`element_count`] (each `<` that can
/// start a tag or comment). The parser's tree and the layout cost about
/// 2.2 KB per node whatever its size, so a body of tiny ones (`x</br>` a
/// third of a million times in 2 MB) would take three quarters of a
/// gigabyte; more markup than this is shown through the flat conversion,
/// which holds the text only (at most about 70 MB laid out). Real mail
/// stays below: a long Outlook thread in HTML has a few thousand tags.
pub const MAX_ELEMENTS: usize = 30_000;

/// Lines are laid out this wide, so a paragraph stays one line as the
/// reporter wrote it rather than being re-wrapped to a terminal's width.
const WIDTH: usize = 100_000;

/// Longest URL shown after a link's text; a `data:` URL can be megabytes.
const MAX_URL_CHARS: usize = 500;

/// The body text of `msg`: its first text/plain body when that says
/// anything, else its HTML body as text, else whatever mail-parser makes of
/// it. Not yet cleaned: `text::clean_body` runs on the result.
pub fn body_text(msg: &Message<'_>) -> String {
    let first_text = msg.text_body.first().and_then(|id| msg.part(*id));
    if let Some(PartType::Text(text)) = first_text.map(|p| &p.body) {
        if !text.trim().is_empty() {
            return text.to_string();
        }
    }
    // An HTML-only message lists its HTML part as its text body too; a
    // multipart/alternative lists it under html_body.
    let html = [msg.html_body.first(), msg.text_body.first()]
        .into_iter()
        .flatten()
        .filter_map(|id| msg.part(*id))
        .find_map(|part| match &part.body {
            PartType::Html(html) => Some(html),
            _ => None,
        });
    match html {
        Some(html) => html_to_text(html).unwrap_or_else(|| {
            flat_text(
                msg,
                "the HTML body is nested too deeply or has too many elements to lay out",
            )
        }),
        None => msg.body_text(0).map(Cow::into_owned).unwrap_or_default(),
    }
}

/// mail-parser's own flat conversion, with a note saying why it was used.
fn flat_text(msg: &Message<'_>, why: &str) -> String {
    let text = msg.body_text(0).unwrap_or_default();
    format!("[secdesk: {why}; shown without its layout.]\n\n{text}")
}

/// `html` as text, or `None` when it is nested too deeply or has too many elements to lay out (or
/// the converter fails, which its API allows).
pub fn html_to_text(html: &str) -> Option<String> {
    let cut = html.len() > MAX_HTML_INPUT;
    let html = strip_formatting(floor_char_boundary(html, MAX_HTML_INPUT));
    let html = html.as_str();
    if nesting_depth(html) > MAX_DEPTH || element_count(html) > MAX_ELEMENTS {
        return None;
    }
    let config = html2text::config::with_decorator(MailDecorator::default())
        .no_table_borders()
        .allow_width_overflow();
    let dom = config.parse_html(html.as_bytes()).ok()?;
    let tree = config.dom_to_render_tree(&dom).ok()?;
    let text = config.render_to_string(tree, WIDTH).ok()?;
    let mut text = tidy(&text);
    if cut {
        text.push_str(&format!(
            "\n\n[secdesk: the HTML body is over {} MB; the rest was not converted. The raw message is kept whole.]",
            MAX_HTML_INPUT / (1024 * 1024)
        ));
    }
    Some(text)
}

/// The longest prefix of `s` of at most `max` bytes that ends on a
/// character boundary.
fn floor_char_boundary(s: &str, max: usize) -> &str {
    let mut cut = max.min(s.len());
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s.get(..cut).unwrap_or_default()
}

/// HTML's formatting elements but `<a>`: the decorator renders them as
/// nothing, and the parser keeps a list of them that it re-opens before
/// every run of text — 250 distinct open `<b id=…>` and a megabyte of
/// `<p>x</p>` make it build tens of millions of elements (563 MB for a 2 MB
/// body). Without them that list holds at most one `<a>`.
const FORMATTING: &[&str] = &[
    "b", "big", "code", "em", "font", "i", "nobr", "s", "small", "strike", "strong", "tt", "u",
];

/// `html` without the start and end tags of [`FORMATTING`] elements (their
/// text stays), in one linear pass. A quoted `>` inside such a tag's
/// attributes is skipped over; anything that is not a tag is copied.
fn strip_formatting(html: &str) -> String {
    let bytes = html.as_bytes();
    let mut out = String::with_capacity(html.len());
    let mut copied = 0;
    let mut i = 0;
    while let Some(off) = bytes
        .get(i..)
        .and_then(|r| r.iter().position(|&b| b == b'<'))
    {
        let lt = i + off;
        let name_start = lt + 1 + usize::from(bytes.get(lt + 1) == Some(&b'/'));
        let name_len = bytes
            .get(name_start..)
            .unwrap_or_default()
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric())
            .count();
        let name = html
            .get(name_start..name_start + name_len)
            .unwrap_or_default();
        let ends_name = matches!(
            bytes.get(name_start + name_len),
            Some(b'>' | b'/' | b' ' | b'\t' | b'\r' | b'\n')
        );
        i = name_start + name_len;
        if name_len == 0 || !ends_name || !FORMATTING.iter().any(|f| f.eq_ignore_ascii_case(name)) {
            continue;
        }
        // The end of the tag: the first `>` outside quotes.
        let mut quote = None;
        let mut end = None;
        for (k, &b) in bytes.iter().enumerate().skip(i) {
            match (quote, b) {
                (None, b'"' | b'\'') => quote = Some(b),
                (Some(q), _) if b == q => quote = None,
                (None, b'>') => {
                    end = Some(k);
                    break;
                }
                _ => {}
            }
        }
        let Some(end) = end else { break };
        out.push_str(html.get(copied..lt).unwrap_or_default());
        copied = end + 1;
        i = end + 1;
    }
    out.push_str(html.get(copied..).unwrap_or_default());
    out
}

/// How many nodes `html` may make, from above: every `<` that can start
/// markup (a letter, `/`, `!` or `?` after it) — start tags, the end tags
/// the parser turns into elements (`</br>`, `</p>`), comments — each with
/// the text beside it. Counted in one pass; text that merely looks like
/// markup counts too, which can only send mail to the flat conversion.
pub fn element_count(html: &str) -> usize {
    html.as_bytes()
        .windows(2)
        .filter(|w| matches!(w, [b'<', c] if c.is_ascii_alphabetic() || matches!(c, b'/' | b'!' | b'?')))
        .count()
}

/// Elements that never hold content, so never nest (HTML's void elements).
const VOID: &[&str] = &[
    "area", "base", "basefont", "bgsound", "br", "col", "embed", "frame", "hr", "img", "input",
    "keygen", "link", "meta", "param", "source", "track", "wbr",
];

/// Elements the parser closes by itself when a sibling starts (`<p>`,
/// `<li>`, table cells): left unclosed they do not nest, so they are not
/// counted. Their containers (`<ul>`, `<table>`) are.
const SELF_CLOSING: &[&str] = &[
    "p", "li", "dt", "dd", "tr", "td", "th", "option", "thead", "tbody", "tfoot", "colgroup",
];

/// An upper estimate of how deeply `html` nests elements, in one pass and
/// without building anything: a start tag opens a level, and an end tag
/// closes one only when it closes the element opened last. The HTML parser
/// ignores an end tag that matches nothing (`<div></q>` nests as deep as
/// `<div>` alone) and keeps elements open across a misplaced one, so
/// counting every end tag would let crafted HTML nest without limit behind
/// a low estimate; closing only on a match overestimates misnested mail,
/// which only means falling back to the flat conversion. Elements the
/// parser closes by itself ([`SELF_CLOSING`]) and void ones are not
/// counted; their containers are, which bounds the error to a small factor.
pub fn nesting_depth(html: &str) -> usize {
    let bytes = html.as_bytes();
    let mut open: Vec<&str> = Vec::new();
    let mut max = 0usize;
    let mut i = 0;
    while let Some(off) = bytes
        .get(i..)
        .and_then(|rest| rest.iter().position(|&b| b == b'<'))
    {
        let start = i + off + 1;
        let closing = bytes.get(start) == Some(&b'/');
        let name_start = if closing { start + 1 } else { start };
        let name_len = bytes
            .get(name_start..)
            .unwrap_or_default()
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'-' | b'_'))
            .count();
        i = name_start + name_len;
        let starts_with_letter = bytes
            .get(name_start)
            .is_some_and(|b| b.is_ascii_alphabetic());
        if name_len == 0 || !starts_with_letter {
            continue;
        }
        let name = html
            .get(name_start..name_start + name_len)
            .unwrap_or_default();
        let is = |list: &[&str]| list.iter().any(|v| v.eq_ignore_ascii_case(name));
        if is(VOID) || is(SELF_CLOSING) {
            continue;
        }
        if closing {
            if open
                .last()
                .is_some_and(|top| top.eq_ignore_ascii_case(name))
            {
                open.pop();
            }
        } else {
            open.push(name);
            max = max.max(open.len());
            // Past the limit the answer is known; stop holding names.
            if max > MAX_DEPTH {
                return max;
            }
        }
    }
    max
}

/// Lines without trailing blanks, no-break spaces as spaces, a link whose
/// text is its own URL shown once, and at most one empty line in a row
/// (Outlook writes `<p>&nbsp;</p>` between paragraphs).
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank_run = 0;
    for line in text.lines() {
        let line = collapse_self_links(&line.replace('\u{a0}', " "));
        let line = line.trim_end();
        if line.is_empty() {
            blank_run += 1;
            if blank_run > 1 || out.is_empty() {
                continue;
            }
        } else {
            blank_run = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.truncate(out.trim_end().len());
    out
}

/// `https://x (https://x)` → `https://x`; `a@b (mailto:a@b)` → `a@b`.
fn collapse_self_links(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(open) = rest.find(" (") {
        let (before, after) = rest.split_at(open);
        // A URL shown after a link is at most MAX_URL_CHARS (plus
        // "mailto:" and an ellipsis): look no further for its ")", or a
        // line of " (" without one costs the square of its length.
        let tail = after.get(2..).unwrap_or_default();
        let inner_end = floor_char_boundary(tail, MAX_URL_CHARS * 4 + 16).find(')');
        let Some(inner_end) = inner_end else {
            out.push_str(before);
            out.push_str(" (");
            rest = tail;
            continue;
        };
        let inner = after.get(2..2 + inner_end).unwrap_or_default();
        let bare = inner.strip_prefix("mailto:").unwrap_or(inner);
        out.push_str(before);
        if bare.is_empty() || !before.ends_with(bare) {
            out.push_str(" (");
            rest = after.get(2..).unwrap_or_default();
        } else {
            rest = after.get(3 + inner_end..).unwrap_or_default();
        }
    }
    out.push_str(rest);
    out
}

/// How the layout marks things up: plain text a reporter would have typed.
#[derive(Clone, Debug, Default)]
struct MailDecorator {
    /// URLs of the links being rendered, innermost last.
    links: Vec<String>,
}

impl TextDecorator for MailDecorator {
    type Annotation = ();

    fn decorate_link_start(&mut self, url: &str) -> (String, ()) {
        self.links.push(url.to_string());
        (String::new(), ())
    }

    fn decorate_link_end(&mut self) -> String {
        match self.links.pop() {
            // In-page anchors say nothing a reader needs.
            Some(url) if !url.is_empty() && !url.starts_with('#') => {
                let mut shown: String = url.chars().take(MAX_URL_CHARS).collect();
                if shown.len() < url.len() {
                    shown.push('…');
                }
                format!(" ({shown})")
            }
            _ => String::new(),
        }
    }

    fn decorate_em_start(&self) -> (String, ()) {
        (String::new(), ())
    }

    fn decorate_em_end(&self) -> String {
        String::new()
    }

    fn decorate_strong_start(&self) -> (String, ()) {
        (String::new(), ())
    }

    fn decorate_strong_end(&self) -> String {
        String::new()
    }

    fn decorate_strikeout_start(&self) -> (String, ()) {
        (String::new(), ())
    }

    fn decorate_strikeout_end(&self) -> String {
        String::new()
    }

    fn decorate_code_start(&self) -> (String, ()) {
        (String::new(), ())
    }

    fn decorate_code_end(&self) -> String {
        String::new()
    }

    fn decorate_preformat_first(&self) {}

    fn decorate_preformat_cont(&self) {}

    fn decorate_image(&mut self, _src: &str, title: &str) -> (String, ()) {
        (format!("[image: {title}]"), ())
    }

    fn header_prefix(&self, _level: usize) -> String {
        String::new()
    }

    fn quote_prefix(&self) -> String {
        "> ".to_string()
    }

    fn unordered_item_prefix(&self) -> String {
        "* ".to_string()
    }

    fn ordered_item_prefix(&self, i: i64) -> String {
        format!("{i}. ")
    }

    fn make_subblock_decorator(&self) -> Self {
        MailDecorator::default()
    }

    // Footnotes are off: links are written inline.
    fn finalise(&mut self, _urls: Vec<String>) -> Vec<html2text::render::TaggedLine<()>> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(html: &str) -> String {
        html_to_text(html).unwrap()
    }

    #[test]
    fn lines_paragraphs_and_lists_keep_their_shape() {
        let t = text(
            "<div>Hi team,</div><div><br></div><div>Steps:</div>\
             <ol><li>Open <b>evil-env.json</b></li><li><b>File</b> &gt; Open environment</li></ol>\
             <ul><li>one</li><li>two</li></ul><p>Para one.</p><p>Para two.</p>",
        );
        assert_eq!(
            t,
            "Hi team,\n\nSteps:\n1. Open evil-env.json\n2. File > Open environment\n\
             * one\n* two\n\nPara one.\n\nPara two."
        );
    }

    #[test]
    fn links_keep_their_url_once() {
        let t = text(
            r##"<p>See <a href="https://x.example/poc?a=1&amp;b=2">the PoC</a>, <a href="https://y.example/">https://y.example/</a>, <a href="mailto:sam@r.example">sam@r.example</a> and <a href="#top">top</a>.</p>"##,
        );
        assert_eq!(
            t,
            "See the PoC (https://x.example/poc?a=1&b=2), https://y.example/, sam@r.example and top."
        );
        let long = format!(r#"<a href="data:text/plain,{}">x</a>"#, "A".repeat(10_000));
        assert!(text(&long).len() < MAX_URL_CHARS + 20);
    }

    #[test]
    fn quotes_and_preformatted_text_are_kept() {
        let t =
            text("<p>Reply</p><blockquote>quoted<br>lines</blockquote><pre>  two\n    four</pre>");
        assert_eq!(t, "Reply\n\n> quoted\n> lines\n\n  two\n    four");
    }

    #[test]
    fn scripts_styles_and_remote_images_are_inert() {
        let t = text(
            r#"<html><head><title>t</title><style>p{color:red}</style><script>alert(1)</script></head>
               <body><script>document.write("x")</script><p>Body</p><img src="https://t.example/p.gif">
               <img src="cid:1" alt="screenshot"></body></html>"#,
        );
        assert_eq!(t, "Body\n\n[image: screenshot]");
    }

    #[test]
    fn outlook_blank_paragraphs_collapse() {
        let t = text("<p class=MsoNormal>One<o:p></o:p></p><p class=MsoNormal><o:p>&nbsp;</o:p></p><p class=MsoNormal>&nbsp;</p><p class=MsoNormal>Two</p>");
        assert_eq!(t, "One\n\nTwo");
    }

    fn body(raw: &str) -> String {
        let msg = mail_parser::MessageParser::default()
            .parse(raw.as_bytes())
            .unwrap();
        body_text(&msg)
    }

    #[test]
    fn the_html_body_is_used_only_when_no_text_says_anything() {
        let alt = |text: &str| {
            format!(
                "From: a@b.example\r\nContent-Type: multipart/alternative; boundary=x\r\n\r\n\
                 --x\r\nContent-Type: text/plain\r\n\r\n{text}\r\n\
                 --x\r\nContent-Type: text/html\r\n\r\n<ol><li>one</li><li>two</li></ol>\r\n--x--\r\n"
            )
        };
        assert_eq!(body(&alt("typed text")).trim(), "typed text");
        // An empty or blank text alternative says nothing.
        assert_eq!(body(&alt("")), "1. one\n2. two");
        assert_eq!(body(&alt(" \r\n\t ")), "1. one\n2. two");
        // No text alternative at all, and an HTML-only message.
        let html_only_alt =
            "From: a@b.example\r\nContent-Type: multipart/alternative; boundary=x\r\n\r\n\
             --x\r\nContent-Type: text/html\r\n\r\n<p>a</p><p>b</p>\r\n--x--\r\n";
        assert_eq!(body(html_only_alt), "a\n\nb");
        let html_only =
            "From: a@b.example\r\nContent-Type: text/html\r\n\r\n<div>a</div><div>b</div>";
        assert_eq!(body(html_only), "a\nb");
        // Plain text stays exactly as it was.
        assert_eq!(
            body("From: a@b.example\r\n\r\n<b>not html</b>\r\n"),
            "<b>not html</b>\r\n"
        );
    }

    #[test]
    fn too_deep_html_falls_back_to_the_flat_text_with_a_note() {
        let raw = format!(
            "From: a@b.example\r\nContent-Type: text/html\r\n\r\n{}secret{}",
            "<div>".repeat(MAX_DEPTH + 1),
            "</div>".repeat(MAX_DEPTH + 1)
        );
        let t = body(&raw);
        assert!(
            t.starts_with("[secdesk: the HTML body is nested too deeply"),
            "{t}"
        );
        assert!(t.contains("secret"), "{t}");
    }

    #[test]
    fn too_many_elements_fall_back_to_the_flat_text() {
        let many = format!("{}<p>end</p>", "<p>x</p>".repeat(MAX_ELEMENTS / 2));
        assert_eq!(element_count(&many), MAX_ELEMENTS + 2);
        assert_eq!(html_to_text(&many), None);
        assert!(html_to_text(&"<p>x</p>".repeat(100)).is_some());
        assert_eq!(element_count("a < b, <p>, </p> <3 <x <!-- -->"), 4);
        // End tags the parser makes elements of, and comments, count.
        assert_eq!(html_to_text(&"x</br>".repeat(MAX_ELEMENTS + 1)), None);
        assert_eq!(html_to_text(&"x<!>".repeat(MAX_ELEMENTS + 1)), None);
        let t = body(&format!(
            "From: a@b.example\r\nContent-Type: text/html\r\n\r\n{many}"
        ));
        assert!(t.contains("too many elements"), "{t}");
        assert!(t.contains("end"), "{t}");
    }

    #[test]
    fn formatting_tags_are_dropped_and_their_text_kept() {
        assert_eq!(
            strip_formatting("<p>a <B class=\"x>y\">bold</b> <a href=\"u\">l</a> <bx>t</bx></p>"),
            "<p>a bold <a href=\"u\">l</a> <bx>t</bx></p>"
        );
        assert_eq!(strip_formatting("1 < 2 <b"), "1 < 2 <b");
        // What the decorator showed is unchanged: emphasis was nothing.
        assert_eq!(
            text("<p>Run <strong>npm</strong> <em>now</em></p>"),
            "Run npm now"
        );
        // The parser's list of formatting elements stays short: 250 open
        // <b> and a megabyte of paragraphs convert like plain paragraphs.
        let head: String = (0..250).map(|i| format!("<b id={i}>")).collect();
        let html = format!("{head}{}", "<p>x</p>".repeat(1000));
        assert_eq!(text(&html).lines().filter(|l| *l == "x").count(), 1000);
    }

    #[test]
    fn depth_is_estimated_from_above() {
        assert_eq!(nesting_depth("<div><p>a<p>b</div>"), 1);
        assert_eq!(nesting_depth("<ul><li>a<li><ul><li>b</ul></ul>"), 2);
        assert_eq!(nesting_depth("a < b <br> <!-- <x> --> <3"), 1);
        assert_eq!(nesting_depth(&"<div/>".repeat(10)), 10);
        assert_eq!(nesting_depth(&"<div>x</div>".repeat(1000)), 1);
        // End tags the parser ignores close nothing here either.
        assert!(nesting_depth(&"<div></q>".repeat(1000)) > MAX_DEPTH);
        assert!(nesting_depth(&"<div><table></div>".repeat(1000)) > MAX_DEPTH);
        assert!(nesting_depth(&"<b><i></b>".repeat(1000)) > MAX_DEPTH);
        assert_eq!(html_to_text(&"<div></q>".repeat(300)), None);
    }

    #[test]
    fn hostile_html_is_bounded() {
        // Deep nesting is refused before parsing, in one linear pass.
        let deep = "<div>".repeat(200_000);
        assert_eq!(html_to_text(&deep), None);
        // Over the input cap: converted up to the cap, and the text says so.
        let para = format!("<p>{}</p>", "word ".repeat(1000));
        let big = para.repeat(MAX_HTML_INPUT / para.len() + 10);
        let t = text(&big);
        assert!(
            t.ends_with("The raw message is kept whole.]"),
            "{}",
            &t[t.len() - 200..]
        );
        // A multi-byte character across the cap is not split.
        let mut edge = "a".repeat(MAX_HTML_INPUT - 1);
        edge.push('é');
        assert!(text(&edge).contains("not converted"));
    }
}
