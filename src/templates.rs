//! The mail texts: handlebars templates, compiled in and overridable by file
//! name from `templates.dir`.
//!
//! Output is plain text, so HTML escaping is off; strict mode turns a
//! misspelt field into an error at `check` time instead of a blank in a
//! reporter's inbox. Reporter-supplied text only ever arrives as context
//! *data*: templates come from this binary or the operator's directory,
//! never from a message.

use std::path::Path;

use anyhow::{Context, Result};
use handlebars::Handlebars;
use serde::Serialize;

/// Built-in templates: (name, source).
pub const BUILT_IN: &[(&str, &str)] = &[
    ("ack", include_str!("../templates/ack.hbs")),
    ("ack-late", include_str!("../templates/ack-late.hbs")),
    ("reminder", include_str!("../templates/reminder.hbs")),
    ("escalation", include_str!("../templates/escalation.hbs")),
    (
        "notice-accepted",
        include_str!("../templates/notice-accepted.hbs"),
    ),
    (
        "notice-rejected",
        include_str!("../templates/notice-rejected.hbs"),
    ),
    (
        "notice-duplicate",
        include_str!("../templates/notice-duplicate.hbs"),
    ),
    (
        "notice-released",
        include_str!("../templates/notice-released.hbs"),
    ),
    (
        "notice-disclosed",
        include_str!("../templates/notice-disclosed.hbs"),
    ),
];

/// The compiled templates.
#[derive(Debug, Clone)]
pub struct Templates {
    hb: Handlebars<'static>,
}

impl Templates {
    /// The built-ins, each replaced by `DIR/<name>.hbs` when that exists.
    pub fn load(dir: Option<&Path>) -> Result<Templates> {
        let mut hb = Handlebars::new();
        hb.set_strict_mode(true);
        hb.register_escape_fn(handlebars::no_escape);
        for (name, builtin) in BUILT_IN {
            let source = match dir.map(|d| d.join(format!("{name}.hbs"))) {
                Some(path) if path.is_file() => std::fs::read_to_string(&path)
                    .with_context(|| format!("reading template {}", path.display()))?,
                _ => (*builtin).to_string(),
            };
            hb.register_template_string(name, source)
                .with_context(|| format!("template {name}.hbs"))?;
        }
        Ok(Templates { hb })
    }

    /// Renders template `name` with `ctx`.
    pub fn render(&self, name: &str, ctx: &impl Serialize) -> Result<String> {
        let text = self
            .hb
            .render(name, ctx)
            .with_context(|| format!("rendering template {name}.hbs"))?;
        Ok(normalise_text(&text))
    }

    /// Renders a prose template (mail to a reporter) and re-wraps its
    /// paragraphs at [`WRAP`] columns, so inserted names and subjects do not
    /// leave ragged lines. Indented lines and list items are kept as written.
    pub fn render_prose(&self, name: &str, ctx: &impl Serialize) -> Result<String> {
        Ok(reflow(&self.render(name, ctx)?, WRAP))
    }
}

/// Line width of reflowed prose.
pub const WRAP: usize = 72;

/// Re-wraps runs of plain (unindented) lines as paragraphs.
pub fn reflow(text: &str, width: usize) -> String {
    let mut out = String::with_capacity(text.len());
    let mut para: Vec<&str> = Vec::new();
    let flush = |para: &mut Vec<&str>, out: &mut String| {
        if para.is_empty() {
            return;
        }
        let mut line = String::new();
        for word in para.iter().flat_map(|l| l.split_whitespace()) {
            if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
                out.push_str(&line);
                out.push('\n');
                line.clear();
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        out.push_str(&line);
        out.push('\n');
        para.clear();
    };
    for l in text.lines() {
        let keep = l.is_empty() || l.starts_with(char::is_whitespace) || l.starts_with("- ");
        if keep {
            flush(&mut para, &mut out);
            out.push_str(l);
            out.push('\n');
        } else {
            para.push(l);
        }
    }
    flush(&mut para, &mut out);
    out
}

/// Plain-text mail body: LF line ends, no trailing spaces, no runs of more
/// than one blank line, exactly one final newline.
fn normalise_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut blank = 0;
    for line in s.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank += 1;
            if blank > 1 || out.is_empty() {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_never_template_source() {
        let t = Templates::load(None).unwrap();
        let ctx = crate::mail::compose::sample_ack_context("{{project.name}} {{#each x}}");
        let body = t.render("ack", &ctx).unwrap();
        assert!(body.contains("{{project.name}} {{#each x}}"), "{body}");
    }

    #[test]
    fn strict_mode_catches_typos() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ack.hbs"), "Hello {{reporter.nmae}}").unwrap();
        let t = Templates::load(Some(dir.path())).unwrap();
        let ctx = crate::mail::compose::sample_ack_context("x");
        assert!(t.render("ack", &ctx).is_err());
    }

    #[test]
    fn no_html_escaping() {
        let t = Templates::load(None).unwrap();
        let ctx = crate::mail::compose::sample_ack_context("<b>&\"quotes\"</b>");
        let body = t.render("ack", &ctx).unwrap();
        assert!(!body.contains("&amp;") && !body.contains("&lt;"));
    }

    #[test]
    fn prose_is_reflowed_lists_are_kept() {
        let t = "A short line\nthat continues here and goes on for quite a while longer than seventy-two columns.\n\n  - kept as is\n";
        let r = reflow(t, 40);
        assert_eq!(
            r,
            "A short line that continues here and\ngoes on for quite a while longer than\nseventy-two columns.\n\n  - kept as is\n"
        );
    }

    #[test]
    fn text_is_normalised() {
        assert_eq!(normalise_text("\n\na  \n\n\n\nb\n\n"), "a\n\nb\n");
    }
}
