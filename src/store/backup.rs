//! Backups and restores of the case log: a consistent online snapshot of
//! the database and its blob directory, and putting one back.
//!
//! A backup holds unfixed vulnerabilities and reporter content, so its tree
//! is made exclusively: into a new or empty directory of ours, every
//! directory new (0700), every file new (0600), no link ever followed. A
//! restore trusts nothing in the backup: its integrity and its schema are
//! checked before the live store is touched.

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use chrono::Utc;
use rusqlite::{Connection, OpenFlags};

use super::{snapshot_into, Store};
use crate::config::StoreConfig;

/// A backup or restore refused for what the operator asked (exit code 2),
/// said so they know what to do instead.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// What [`copy_blobs`] may find at its destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dest {
    /// A backup tree being made: nothing is there yet, so anything found
    /// (a link planted meanwhile) is an error.
    New,
    /// The configured data dir on restore: blobs already there are kept, as
    /// a blob's name is its SHA-256.
    Merge,
}

/// Copies the blob tree `from` into `to` (regular files and directories
/// only, temporary files skipped), creating directories 0700 and files 0600,
/// and following no link on either side below the two roots.
fn copy_blobs(from: &Path, to: &Path, dest: Dest) -> Result<u64> {
    if !from.exists() {
        return Ok(0);
    }
    match dest {
        Dest::New => new_dir(to, dest)?,
        // The configured data dir: it may be missing, or a link the operator
        // set up.
        Dest::Merge => fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(to)
            .with_context(|| format!("creating {}", to.display()))?,
    }
    copy_tree(from, to, dest)
}

fn copy_tree(from: &Path, to: &Path, dest: Dest) -> Result<u64> {
    let mut n = 0;
    for entry in fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry.with_context(|| format!("reading {}", from.display()))?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with(".tmp-") {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        // The entry's own type: a link is neither a file nor a directory.
        let ft = entry
            .file_type()
            .with_context(|| format!("reading {}", src.display()))?;
        if ft.is_dir() {
            new_dir(&dst, dest)?;
            n += copy_tree(&src, &dst, dest)?;
        } else if ft.is_file() && copy_file(&src, &dst, dest)? {
            n += 1;
        }
    }
    Ok(n)
}

/// Creates `dir` 0700, non-recursively so that it fails if anything is
/// there; on restore an existing real directory is fine.
fn new_dir(dir: &Path, dest: Dest) -> Result<()> {
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::AlreadyExists && dest == Dest::Merge => {
            let meta =
                fs::symlink_metadata(dir).with_context(|| format!("reading {}", dir.display()))?;
            if !meta.is_dir() {
                bail!("{} is not a directory; not copying into it", dir.display());
            }
            Ok(())
        }
        Err(e) => Err(e).with_context(|| format!("creating {}", dir.display())),
    }
}

/// Copies one blob into a new file; `false` when restore finds it there.
fn copy_file(src: &Path, dst: &Path, dest: Dest) -> Result<bool> {
    let mut from = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(src)
        .with_context(|| format!("opening {}", src.display()))?;
    // create_new never writes through a link: it fails on one, dangling
    // or not; O_NOFOLLOW says so once more.
    let mut to = match fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(dst)
    {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::AlreadyExists && dest == Dest::Merge => return Ok(false),
        Err(e) => return Err(e).with_context(|| format!("creating {}", dst.display())),
    };
    std::io::copy(&mut from, &mut to)
        .with_context(|| format!("copying {} to {}", src.display(), dst.display()))?;
    Ok(true)
}

/// Makes `dir` the root of a new backup tree and returns its path without
/// links: a new directory (0700), or an existing empty one that is ours and
/// that nobody else may write to (restricted to 0700). Anything else is
/// refused: a link planted in `dir`, or `dir` being one, would send the
/// case log to a place of someone else's choosing (security review,
/// finding 8).
fn claim_backup_dir(dir: &Path) -> Result<PathBuf> {
    let refuse = |why: &str| -> anyhow::Error {
        Refused(format!(
            "{} {why}; back up into a new directory, or an empty one of yours",
            dir.display()
        ))
        .into()
    };
    match fs::symlink_metadata(dir) {
        Err(e) if e.kind() == ErrorKind::NotFound => {
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(parent)
                    .with_context(|| format!("creating {}", parent.display()))?;
            }
            // Not recursive: fails if something took the name meanwhile.
            fs::DirBuilder::new()
                .mode(0o700)
                .create(dir)
                .with_context(|| format!("creating {}", dir.display()))?;
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
        Ok(meta) if meta.file_type().is_symlink() => return Err(refuse("is a symbolic link")),
        Ok(meta) if !meta.is_dir() => return Err(refuse("is not a directory")),
        Ok(meta) => {
            let mut entries =
                fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
            if entries.next().is_some() {
                return Err(refuse("already exists and is not empty"));
            }
            // SAFETY: geteuid has no preconditions and cannot fail.
            let me = unsafe { libc::geteuid() };
            if meta.uid() != me {
                return Err(refuse(&format!(
                    "belongs to uid {}, not to uid {me} running secdesk",
                    meta.uid()
                )));
            }
            if meta.mode() & 0o022 != 0 {
                return Err(refuse("is writable by group or others"));
            }
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
                .with_context(|| format!("restricting {} to 0700", dir.display()))?;
        }
    }
    // Links above `dir` are the operator's own; resolving them here leaves a
    // path that SQLITE_OPEN_NOFOLLOW accepts unless something moves in.
    fs::canonicalize(dir).with_context(|| format!("resolving {}", dir.display()))
}

/// A consistent online snapshot of `store` (the SQLite backup API) and
/// then of its blob directory `data_dir`, into `dir`: (cases, blob files).
/// Blobs are written before the rows that name them commit, so every blob
/// the snapshot refers to exists by the time the data dir is copied. Every
/// directory and file of the tree is created new, never through a link.
pub fn backup_to(store: &Store, data_dir: &Path, dir: &Path) -> Result<(i64, u64)> {
    let dir = claim_backup_dir(dir)?;
    let db = dir.join("cases.db");
    snapshot_into(store.conn(), &db, OpenFlags::SQLITE_OPEN_NOFOLLOW)?;
    let blobs = copy_blobs(data_dir, &dir.join("data"), Dest::New)?;
    let snap = Connection::open_with_flags(
        &db,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NOFOLLOW,
    )
    .with_context(|| format!("opening {}", db.display()))?;
    let cases: i64 = snap
        .query_row("SELECT COUNT(*) FROM cases", [], |r| r.get(0))
        .with_context(|| format!("counting the cases in {}", db.display()))?;
    Ok((cases, blobs))
}

/// What a restore put back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Restored {
    pub cases: i64,
    pub blobs: u64,
}

/// Checks the backup in `dir` (integrity, and a schema exactly as
/// secdesk's migrations make it), then puts it in place of the store `cfg`
/// names (the old one, with `force`, moved aside). The daemon must be
/// stopped.
pub fn restore(cfg: &StoreConfig, dir: &Path, force: bool) -> Result<Restored> {
    // Moving the database aside under a running daemon loses what it
    // writes next (a report's case, and its reporter gets a second ack).
    super::lock::refuse_if_held(&cfg.path, "restore").map_err(|e| Refused(format!("{e:#}")))?;
    let src = dir.join("cases.db");
    if !src.is_file() {
        return Err(Refused(format!("{} holds no cases.db", dir.display())).into());
    }
    {
        let c = Connection::open_with_flags(&src, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .with_context(|| format!("opening {}", src.display()))?;
        let ok: String = c.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        if ok != "ok" {
            bail!("{}: integrity check failed: {ok}", src.display());
        }
        let v: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let known = super::schema::MIGRATIONS.len();
        let Some(v) = usize::try_from(v).ok().filter(|v| *v <= known) else {
            bail!(
                "{}: schema version {v} is not one this secdesk knows (0 to {known})",
                src.display()
            );
        };
        // integrity_check passes a planted trigger: compare the backup with
        // the schema of its own version, before anything is moved aside.
        super::schema::verify(&c, v, &src)?;
    }
    // A backup secdesk made holds a real `data` directory; never copy from
    // wherever a link there points.
    let blob_src = dir.join("data");
    if fs::symlink_metadata(&blob_src).is_ok_and(|m| !m.is_dir()) {
        bail!(
            "{} is not a directory; refusing to restore from it",
            blob_src.display()
        );
    }
    let target = &cfg.path;
    if target.exists() {
        if !force {
            return Err(Refused(format!(
                "{} exists; stop the daemon and pass --force to replace it (it is kept beside, renamed)",
                target.display()
            ))
            .into());
        }
        let stamp = Utc::now().format("%Y%m%dT%H%M%SZ");
        for suffix in ["", "-wal", "-shm"] {
            let p = PathBuf::from(format!("{}{suffix}", target.display()));
            if p.exists() {
                let aside = PathBuf::from(format!(
                    "{}.before-restore-{stamp}{suffix}",
                    target.display()
                ));
                fs::rename(&p, &aside).with_context(|| format!("moving {} aside", p.display()))?;
            }
        }
    }
    if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    {
        let c = Connection::open_with_flags(&src, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .with_context(|| format!("opening {}", src.display()))?;
        // The configured path may run through the operator's links.
        snapshot_into(&c, target, OpenFlags::empty())?;
    }
    let blobs = copy_blobs(&blob_src, &cfg.data_dir, Dest::Merge)?;
    // Opening brings the schema up to date and the permissions in line.
    let store = Store::open(target, &cfg.data_dir)?;
    let cases: i64 = store
        .conn()
        .query_row("SELECT COUNT(*) FROM cases", [], |r| r.get(0))
        .context("counting the restored cases")?;
    Ok(Restored { cases, blobs })
}
