//! Archives of the old inbox — an mbox file or a Maildir — filed as history
//! through the same pipeline as live mail (`secdesk import`): threaded,
//! deduplicated (importing twice changes nothing), never answered.
//!
//! One message is in memory at a time, and at most `max_message_size` + 1
//! bytes of it ([`ingest_reader`]); an mbox is read line by line, and a
//! line at most [`LINE_CHUNK`] bytes at a time, however long it is.
//! Arrival times the archive claims are never later than the import.

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};

use super::oversized::ingest_reader;
use super::plan::Outcome;
use crate::settings::Settings;
use crate::store::messages::Origin;
use crate::store::Store;

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    pub messages: usize,
    pub new_cases: usize,
    pub follow_ups: usize,
    pub duplicates: usize,
    pub machine_mail: usize,
    pub rejected: usize,
}

impl Summary {
    fn count(&mut self, outcome: Outcome) {
        self.messages += 1;
        match outcome {
            Outcome::NewCase => self.new_cases += 1,
            Outcome::FollowUp => self.follow_ups += 1,
            Outcome::Duplicate => self.duplicates += 1,
            Outcome::AutoReply => self.machine_mail += 1,
            Outcome::Rejected => self.rejected += 1,
        }
    }
}

/// Where the archive is, and how big (for a progress bar): a Maildir's
/// message count, or an mbox file's size in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    Messages(u64),
    Bytes(u64),
}

/// An archive found at a path.
#[derive(Debug)]
pub enum Archive {
    /// The message files of `cur/` and `new/`, oldest first.
    Maildir(Vec<PathBuf>),
    Mbox(PathBuf),
}

impl Archive {
    /// An mbox file, or a directory with `cur/` or `new/` (a Maildir).
    pub fn open(path: &Path) -> Result<Archive> {
        let meta = fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
        if meta.is_file() {
            return Ok(Archive::Mbox(path.to_path_buf()));
        }
        let mut files = Vec::new();
        for sub in ["cur", "new"] {
            let dir = path.join(sub);
            if !dir.is_dir() {
                continue;
            }
            for entry in fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
                let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
                if entry.file_type().is_ok_and(|t| t.is_file()) {
                    files.push(entry.path());
                }
            }
        }
        if files.is_empty() && !path.join("cur").is_dir() && !path.join("new").is_dir() {
            bail!(
                "{} is neither an mbox file nor a Maildir (no cur/ or new/)",
                path.display()
            );
        }
        // Oldest first, so that a reply is filed after what it answers.
        files.sort_by_key(|f| (maildir_time(f), f.clone()));
        Ok(Archive::Maildir(files))
    }

    pub fn size(&self) -> Size {
        match self {
            Archive::Maildir(files) => Size::Messages(files.len() as u64),
            Archive::Mbox(p) => Size::Bytes(fs::metadata(p).map(|m| m.len()).unwrap_or(0)),
        }
    }

    /// Files every message as history. `progress` hears after each one
    /// (messages done, bytes of an mbox read).
    pub fn import(
        &self,
        store: &mut Store,
        settings: &Settings,
        now: DateTime<Utc>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Summary> {
        let mut summary = Summary::default();
        match self {
            Archive::Maildir(files) => {
                for (n, f) in files.iter().enumerate() {
                    let origin = Origin::Archive {
                        name: f
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default(),
                    };
                    let mut input =
                        fs::File::open(f).with_context(|| format!("opening {}", f.display()))?;
                    let arrived = arrival(maildir_time(f), now);
                    let r = ingest_reader(store, settings, &mut input, &origin, arrived, now)
                        .with_context(|| format!("filing {}", f.display()))?;
                    summary.count(r.outcome);
                    progress(n as u64 + 1);
                }
            }
            Archive::Mbox(path) => {
                let file =
                    fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
                let mut mbox = Mbox::new(BufReader::new(file))
                    .with_context(|| format!("reading {}", path.display()))?;
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                while let Some(arrived) = mbox.next_message() {
                    let origin = Origin::Archive { name: name.clone() };
                    let r = ingest_reader(
                        store,
                        settings,
                        &mut mbox,
                        &origin,
                        arrival(arrived, now),
                        now,
                    )
                    .with_context(|| {
                        format!(
                            "filing message {} of {}",
                            summary.messages + 1,
                            path.display()
                        )
                    })?;
                    summary.count(r.outcome);
                    progress(mbox.read);
                }
                if let Some(e) = mbox.error.take() {
                    return Err(e).with_context(|| format!("reading {}", path.display()));
                }
            }
        }
        Ok(summary)
    }
}

/// When an archived message is filed as having arrived: what the archive
/// says, but never after `now` — a file name or a "From " line is anyone's
/// to write, and a future arrival would push the case's dates (and its
/// sequence year) past the import.
fn arrival(claimed: Option<DateTime<Utc>>, now: DateTime<Utc>) -> DateTime<Utc> {
    claimed.map_or(now, |t| t.min(now))
}

/// A Maildir file's delivery time: its name starts with the Unix time
/// (`1700000000.M1P2.host:2,S`).
fn maildir_time(f: &Path) -> Option<DateTime<Utc>> {
    let name = f.file_name()?.to_str()?;
    let secs: i64 = name.split('.').next()?.parse().ok()?;
    Utc.timestamp_opt(secs, 0).single()
}

/// Most bytes of one mbox line held at once. A longer line (a 4 GB one
/// with no newline, say) is handed on in pieces of this size, so the
/// message holding it is still filed — whole if it fits
/// `store.max_message_size`, else kept as a blob and recorded as rejected
/// ([`ingest_reader`]) — and memory stays bounded. Separator and `>From `
/// checks look at a line's start, which the first piece always holds.
const LINE_CHUNK: usize = 64 * 1024;

/// Reads one line of `input` into `buf`, but at most `max` bytes of it;
/// returns the bytes read and whether the line ended (a newline, or the end
/// of the input) rather than being cut at `max`.
fn read_line_bounded<R: BufRead>(
    input: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<(usize, bool)> {
    let mut n = 0;
    loop {
        let room = max.saturating_sub(buf.len());
        if room == 0 {
            return Ok((n, false));
        }
        let available = match input.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok((n, true));
        }
        let newline = available.iter().position(|b| *b == b'\n');
        let take = newline.map_or(available.len(), |i| i + 1).min(room);
        buf.extend_from_slice(available.get(..take).unwrap_or_default());
        input.consume(take);
        n += take;
        if newline.is_some_and(|i| i < take) {
            return Ok((n, true));
        }
    }
}

/// Skips the rest of a line cut at [`LINE_CHUNK`], holding none of it;
/// returns the bytes skipped.
fn skip_line<R: BufRead>(input: &mut R) -> std::io::Result<u64> {
    let mut skipped = 0u64;
    loop {
        let available = match input.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(skipped);
        }
        let newline = available.iter().position(|b| *b == b'\n');
        let take = newline.map_or(available.len(), |i| i + 1);
        input.consume(take);
        skipped += take as u64;
        if newline.is_some() {
            return Ok(skipped);
        }
    }
}

/// An mbox read message by message, as [`Read`]: the `From ` line that
/// separates messages is not part of one, and `>From ` lines written for
/// mboxrd lose one `>`.
struct Mbox<R> {
    input: R,
    /// The separator line that starts the next message, once read (its
    /// first [`LINE_CHUNK`] bytes: the date is near its start).
    next_from: Option<Vec<u8>>,
    /// Bytes of the current line not yet handed out: the whole line, or
    /// its next piece of at most [`LINE_CHUNK`] bytes.
    line: Vec<u8>,
    pos: usize,
    /// The current line goes on past `line`: its next piece is message
    /// text, not the start of a line.
    cut: bool,
    /// The current message has been read to its end.
    ended: bool,
    /// Bytes read from the file so far.
    read: u64,
    /// An I/O error met while reading, reported after the import.
    error: Option<std::io::Error>,
}

impl<R: BufRead> Mbox<R> {
    fn new(mut input: R) -> Result<Self> {
        let mut first = Vec::new();
        let (n, ended) = read_line_bounded(&mut input, &mut first, LINE_CHUNK)?;
        if n > 0 && !first.starts_with(b"From ") {
            bail!("not an mbox file: it does not start with a \"From \" line");
        }
        let mut read = n as u64;
        if !ended {
            read += skip_line(&mut input)?;
        }
        Ok(Mbox {
            input,
            next_from: (n > 0).then_some(first),
            line: Vec::new(),
            pos: 0,
            cut: false,
            ended: true,
            read,
            error: None,
        })
    }

    /// Moves to the next message; its arrival time from the separator
    /// line (`From sender Mon Nov 23 09:12:44 2026`), if it says one.
    /// `None` at the end of the file.
    fn next_message(&mut self) -> Option<Option<DateTime<Utc>>> {
        // A message the reader stopped early on is skipped to its end.
        let mut sink = [0u8; 8192];
        while !self.ended {
            if matches!(self.read(&mut sink), Ok(0) | Err(_)) {
                break;
            }
        }
        let from = self.next_from.take()?;
        self.ended = false;
        self.line.clear();
        self.pos = 0;
        self.cut = false;
        Some(from_line_time(&from))
    }

    /// The next line of the current message (or the next piece of a long
    /// one) into `self.line`; false at its end.
    fn next_line(&mut self) -> std::io::Result<bool> {
        self.line.clear();
        self.pos = 0;
        // Once, so that filling a piece never reallocates past the bound.
        if self.line.capacity() < LINE_CHUNK {
            self.line.reserve_exact(LINE_CHUNK);
        }
        let continued = self.cut;
        let (n, ended) = read_line_bounded(&mut self.input, &mut self.line, LINE_CHUNK)?;
        self.read += n as u64;
        self.cut = !ended;
        if n == 0 {
            return Ok(false);
        }
        if continued {
            // The middle of a long line: text, whatever it starts with.
            return Ok(true);
        }
        if self.line.starts_with(b"From ") {
            if self.cut {
                // A separator longer than a piece: the rest is no
                // message's text, and the date is in what was kept.
                self.read += skip_line(&mut self.input)?;
                self.cut = false;
            }
            self.next_from = Some(std::mem::take(&mut self.line));
            return Ok(false);
        }
        // mboxrd: ">From " (any number of '>') was written for "From ".
        let quoted = self.line.iter().take_while(|b| **b == b'>').count();
        if quoted > 0
            && self
                .line
                .get(quoted..)
                .is_some_and(|r| r.starts_with(b"From "))
        {
            self.line.remove(0);
        }
        Ok(true)
    }
}

impl<R: BufRead> Read for Mbox<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.ended {
            return Ok(0);
        }
        if self.pos >= self.line.len() {
            match self.next_line() {
                Ok(true) => {}
                Ok(false) => {
                    self.ended = true;
                    return Ok(0);
                }
                Err(e) => {
                    self.ended = true;
                    let kind = e.kind();
                    self.error = Some(e);
                    return Err(std::io::Error::new(kind, "reading the mbox"));
                }
            }
        }
        let rest = self.line.get(self.pos..).unwrap_or_default();
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.pos += n;
        Ok(n)
    }
}

/// The date of an mbox separator line: `From <sender> <asctime>`.
fn from_line_time(line: &[u8]) -> Option<DateTime<Utc>> {
    let text = String::from_utf8_lossy(line);
    let rest = text.trim_end().strip_prefix("From ")?;
    let (_, date) = rest.split_once(' ')?;
    let date = date.split_whitespace().collect::<Vec<_>>().join(" ");
    NaiveDateTime::parse_from_str(&date, "%a %b %d %H:%M:%S %Y")
        .ok()
        .map(|d| d.and_utc())
}

#[cfg(test)]
mod tests;
