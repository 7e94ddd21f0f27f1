//! `secdesk attachment ID [N] [--out DIR]`: a case's attachments listed,
//! and one written out under its cleaned display name.
//!
//! The display name is the sender's choice and reporter text is hostile:
//! it becomes one plain file name in DIR (no directory part, no control or
//! bidi character, no leading dot), and the file is created new — never
//! over an existing file, never through a symlink, readable by its owner
//! only (reports are confidential until disclosed).

use std::fs::OpenOptions;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};

use super::cases::require_case;
use super::{open_store, UsageError};
use crate::config::Config;
use crate::store::cases::CaseAttachment;
use crate::store::BlobKind;

/// Longest file name written, in characters, extension included; and in
/// bytes, which is what the file system limits (NAME_MAX is 255 on Linux),
/// with room left for a ` (99)` on a clash.
const MAX_NAME_CHARS: usize = 100;
const MAX_NAME_BYTES: usize = 200;

/// Longest extension kept apart when a name is cut (`.tar.gz` keeps `.gz`).
const MAX_EXTENSION_CHARS: usize = 16;

/// How many ` (k)` variants are tried when the name is taken.
const MAX_VARIANT: usize = 99;

/// Lists case `id`'s attachments, or writes attachment `n` into `out`.
pub fn run(cfg: &Config, id: &str, n: Option<usize>, out: &Path) -> Result<ExitCode> {
    let store = open_store(cfg)?;
    let case = require_case(cfg, &store, id)?;
    let all = store.case_attachments(&case.id)?;
    let moved = case
        .merged_into
        .as_deref()
        .map(|t| {
            format!(
                "; it was merged into {t}, which holds its messages now: secdesk attachment {t}"
            )
        })
        .unwrap_or_default();
    let Some(n) = n else {
        if all.is_empty() {
            println!("{} has no attachments{moved}", case.id);
        } else {
            print!("{}", listing(&all));
        }
        return Ok(ExitCode::SUCCESS);
    };
    let Some(a) = all.iter().find(|a| a.n == n) else {
        return Err(UsageError(match all.len() {
            0 => format!("{} has no attachments{moved}", case.id),
            k => format!(
                "{} has {k} attachment{}: N must be 1 to {k}, not {n}",
                case.id,
                if k == 1 { "" } else { "s" }
            ),
        })
        .into());
    };
    match std::fs::metadata(out) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(UsageError(format!("--out {}: not a directory", out.display())).into())
        }
        Err(e) => return Err(UsageError(format!("--out {}: {e}", out.display())).into()),
    }
    let bytes = store
        .read_blob(BlobKind::Attachment, &a.sha256)
        .with_context(|| format!("{} attachment {n} ({:?})", case.id, a.name))?;
    // The blob is named by its hash: a mismatch is a damaged store, and
    // the lead should not open what is not what the reporter sent.
    let sha = crate::mail::parse::sha256_hex(&bytes);
    if sha != a.sha256 {
        bail!(
            "{} attachment {n} ({:?}): the stored bytes hash to {sha}, not {}; the data dir is damaged",
            case.id,
            a.name,
            a.sha256
        );
    }
    let path = write_new(out, &clean_name(&a.name, n), &bytes)
        .with_context(|| format!("{} attachment {n} ({:?})", case.id, a.name))?;
    println!("{}", path.display());
    Ok(ExitCode::SUCCESS)
}

/// The numbered list, one attachment a line.
fn listing(all: &[CaseAttachment]) -> String {
    let mut out = String::new();
    for a in all {
        let date = crate::store::parse_ts(&a.message_date)
            .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_else(|| a.message_date.clone());
        out.push_str(&format!(
            "{:>3}  {date}  {}  {}  ({}, {} bytes)  sha256 {}\n",
            a.n,
            if a.from.is_empty() { "?" } else { &a.from },
            a.name,
            a.content_type,
            a.size,
            a.sha256
        ));
    }
    out
}

/// Characters that reorder text when displayed ("Trojan Source"): a name
/// like `report\u{202e}fdp.exe` shows as `reportexe.pdf`.
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
    )
}

/// Invisible characters that make two names look the same.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200d}' | '\u{2060}' | '\u{feff}')
}

/// The display name `name` of attachment `n` as one plain file name: the
/// last path component (after `/` or `\`), without control, bidi or
/// invisible characters, without leading dots, dashes (a name that reads
/// as an option to the next command) or spaces, cut to
/// [`MAX_NAME_CHARS`] / [`MAX_NAME_BYTES`] keeping the extension;
/// `attachment-N` when nothing is left.
pub fn clean_name(name: &str, n: usize) -> String {
    let last = name
        .split(['/', '\\'])
        .rfind(|part| !part.trim().is_empty())
        .unwrap_or("");
    let kept: String = last
        .chars()
        .filter(|c| !c.is_control() && !is_bidi_control(*c) && !is_invisible(*c))
        .collect();
    let kept = kept
        .trim_start_matches(|c: char| c == '.' || c == '-' || c.is_whitespace())
        .trim_end();
    // What is left has no separator, so `.` and `..` can only be the whole
    // name, and leading dots are gone: nothing here names a directory.
    if kept.is_empty() {
        return format!("attachment-{n}");
    }
    shorten(kept)
}

/// `name` within the length bounds, its extension kept when it has a
/// short one.
fn shorten(name: &str) -> String {
    if name.chars().count() <= MAX_NAME_CHARS && name.len() <= MAX_NAME_BYTES {
        return name.to_string();
    }
    let (stem, ext) = split_extension(name);
    let ext_chars = ext.chars().count();
    let mut out = String::new();
    for c in stem.chars() {
        if out.chars().count() + 1 + ext_chars > MAX_NAME_CHARS
            || out.len() + c.len_utf8() + ext.len() > MAX_NAME_BYTES
        {
            break;
        }
        out.push(c);
    }
    let out = out.trim_end();
    format!("{out}{ext}")
}

/// `("report", ".pdf")`; `(name, "")` when there is no short extension.
fn split_extension(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(i) if i > 0 => {
            let ext = &name[i..];
            let n = ext.chars().count();
            if n > 1 && n <= MAX_EXTENSION_CHARS + 1 && !ext.contains(char::is_whitespace) {
                (&name[..i], ext)
            } else {
                (name, "")
            }
        }
        _ => (name, ""),
    }
}

/// Creates `dir/name` (or `dir/stem (2).ext`, … when taken) with `bytes`,
/// mode 0600, and returns its path. `create_new` (O_EXCL) fails on any
/// existing entry, a symlink included, so nothing is overwritten and no
/// link is followed; `name` has no separator, so the file is in `dir`.
pub fn write_new(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf> {
    if name.is_empty() || name.contains(['/', '\\', '\0']) || name == "." || name == ".." {
        bail!("{name:?} is not a plain file name");
    }
    let (stem, ext) = split_extension(name);
    for k in 1..=MAX_VARIANT {
        let candidate = if k == 1 {
            name.to_string()
        } else {
            format!("{stem} ({k}){ext}")
        };
        let path = dir.join(&candidate);
        let mut file = match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("creating {}", path.display())),
        };
        if let Err(e) = file.write_all(bytes).and_then(|()| file.sync_all()) {
            let _ = std::fs::remove_file(&path);
            return Err(e).with_context(|| format!("writing {}", path.display()));
        }
        return Ok(path);
    }
    bail!(
        "{} and {} numbered variants of it already exist; choose another --out",
        dir.join(name).display(),
        MAX_VARIANT - 1
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn hostile_names_become_plain_file_names() {
        let long = format!("{}.pdf", "a".repeat(300));
        let rows: &[(&str, &str)] = &[
            ("report.pdf", "report.pdf"),
            ("../../etc/passwd", "passwd"),
            ("/abs/x", "x"),
            ("a\\b", "b"),
            ("C:\\Users\\sam\\poc.py", "poc.py"),
            ("..", "attachment-3"),
            ("../..", "attachment-3"),
            ("dir/", "dir"),
            (".bashrc", "bashrc"),
            ("...hidden", "hidden"),
            ("-rf", "rf"),
            ("", "attachment-3"),
            ("   ", "attachment-3"),
            ("/", "attachment-3"),
            ("report\u{202e}fdp.exe", "reportfdp.exe"),
            ("\u{2066}x\u{2069}.txt", "x.txt"),
            ("a\u{0}b\u{7}c\u{1b}[31m.txt", "abc[31m.txt"),
            ("line\r\nbreak.txt", "linebreak.txt"),
            ("zero\u{200b}width.txt", "zerowidth.txt"),
            ("\u{202e}", "attachment-3"),
            ("exploit.tar.gz", "exploit.tar.gz"),
            ("a..b", "a..b"),
        ];
        for (name, want) in rows {
            assert_eq!(clean_name(name, 3), *want, "{name:?}");
        }
        let cut = clean_name(&long, 1);
        assert_eq!(cut.chars().count(), MAX_NAME_CHARS, "{cut}");
        assert!(cut.ends_with(".pdf") && cut.starts_with("aaa"), "{cut}");
        // Multi-byte characters are bounded by bytes, under NAME_MAX.
        let wide = clean_name(&format!("{}.txt", "€".repeat(300)), 1);
        assert!(
            wide.len() <= MAX_NAME_BYTES && wide.ends_with(".txt"),
            "{wide}"
        );
        // A long "extension" is not kept apart.
        let odd = clean_name(&format!("x.{}", "b".repeat(300)), 1);
        assert_eq!(odd.chars().count(), MAX_NAME_CHARS);
        // Whatever comes in, the result is one component inside a dir.
        for (name, _) in rows {
            let c = clean_name(name, 3);
            let p = Path::new("/out").join(&c);
            assert_eq!(p.parent(), Some(Path::new("/out")), "{name:?} -> {c:?}");
            assert!(!c.starts_with('.') && !c.contains(['/', '\\']), "{c:?}");
        }
    }

    #[test]
    fn never_overwrites_and_numbers_clashes() {
        let dir = tempfile::tempdir().unwrap();
        let first = write_new(dir.path(), "poc.py", b"one").unwrap();
        assert_eq!(first, dir.path().join("poc.py"));
        let second = write_new(dir.path(), "poc.py", b"two").unwrap();
        assert_eq!(second, dir.path().join("poc (2).py"));
        let third = write_new(dir.path(), "poc.py", b"three").unwrap();
        assert_eq!(third, dir.path().join("poc (3).py"));
        assert_eq!(std::fs::read(&first).unwrap(), b"one");
        assert_eq!(std::fs::read(&second).unwrap(), b"two");
        let mode = std::fs::metadata(&third).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let noext = write_new(dir.path(), "README", b"x").unwrap();
        assert_eq!(noext, dir.path().join("README"));
        assert_eq!(
            write_new(dir.path(), "README", b"y").unwrap(),
            dir.path().join("README (2)")
        );
    }

    #[test]
    fn a_symlink_in_the_way_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let target = outside.path().join("victim");
        std::fs::write(&target, b"keep").unwrap();
        std::os::unix::fs::symlink(&target, dir.path().join("x.txt")).unwrap();
        // A dangling link too: O_EXCL refuses it rather than creating its target.
        let dangling = outside.path().join("created-through-link");
        std::os::unix::fs::symlink(&dangling, dir.path().join("y.txt")).unwrap();
        let p = write_new(dir.path(), "x.txt", b"new").unwrap();
        assert_eq!(p, dir.path().join("x (2).txt"));
        let q = write_new(dir.path(), "y.txt", b"new").unwrap();
        assert_eq!(q, dir.path().join("y (2).txt"));
        assert_eq!(std::fs::read(&target).unwrap(), b"keep");
        assert!(!dangling.exists());
    }

    #[test]
    fn refuses_when_every_variant_is_taken_and_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        for _ in 0..MAX_VARIANT {
            write_new(dir.path(), "a.txt", b"x").unwrap();
        }
        let e = format!("{:#}", write_new(dir.path(), "a.txt", b"x").unwrap_err());
        assert!(e.contains("a.txt") && e.contains("already exist"), "{e}");
    }

    #[test]
    fn refuses_a_name_that_is_not_plain() {
        let dir = tempfile::tempdir().unwrap();
        for bad in ["", ".", "..", "a/b", "a\\b", "../x"] {
            assert!(write_new(dir.path(), bad, b"x").is_err(), "{bad:?}");
        }
    }
}
