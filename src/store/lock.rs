//! The daemon's hold on the store: `secdesk run` takes an exclusive
//! advisory lock (flock) on `<store.path>.lock` for as long as it runs, so
//! that `restore` — which moves the database aside — refuses while it
//! would pull the case log from under a running daemon, and a second
//! daemon on the same store refuses to start. The file holds the PID for
//! the message; the lock itself goes with the process, however it ends.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// Held while it lives (the lock is released when the file closes).
#[derive(Debug)]
pub struct DaemonLock {
    _file: File,
}

/// `<store.path>.lock`.
pub fn lock_path(store_path: &Path) -> PathBuf {
    let mut p = store_path.as_os_str().to_owned();
    p.push(".lock");
    PathBuf::from(p)
}

fn open(store_path: &Path) -> Result<File> {
    let path = lock_path(store_path);
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path)
        .with_context(|| format!("opening the lock file {}", path.display()))
}

/// Tries the exclusive lock without waiting: `Ok(true)` when taken.
fn try_lock(f: &File) -> Result<bool> {
    // SAFETY: flock on a file descriptor we own; no memory is involved.
    let r = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if r == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(e).context("locking the store")
    }
}

/// The PID the lock file names (for messages; the lock is what counts).
fn pid_in(f: &mut File) -> String {
    let mut s = String::new();
    let _ = f.rewind();
    let _ = f.take(32).read_to_string(&mut s);
    let pid = s.trim();
    if !pid.is_empty() && pid.chars().all(|c| c.is_ascii_digit()) {
        format!("PID {pid}")
    } else {
        "PID unknown".into()
    }
}

/// Takes the daemon's lock on the store, or says who holds it.
pub fn hold(store_path: &Path) -> Result<DaemonLock> {
    let mut f = open(store_path)?;
    if !try_lock(&f)? {
        bail!(
            "another secdesk run holds the store {} ({}); one daemon per store",
            store_path.display(),
            pid_in(&mut f)
        );
    }
    f.set_len(0).context("writing the lock file")?;
    f.rewind().context("writing the lock file")?;
    write!(f, "{}", std::process::id()).context("writing the lock file")?;
    Ok(DaemonLock { _file: f })
}

/// Refuses when a daemon holds the store: what `restore` checks first.
pub fn refuse_if_held(store_path: &Path, what: &str) -> Result<()> {
    if !lock_path(store_path).exists() {
        return Ok(());
    }
    let mut f = open(store_path)?;
    if try_lock(&f)? {
        // Free: let go at once (closing the file releases it).
        return Ok(());
    }
    bail!(
        "secdesk run ({}) holds the store {}: stop it first (systemctl stop secdesk), then {what}",
        pid_in(&mut f),
        store_path.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_and_restore_refused_while_held() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("cases.db");
        refuse_if_held(&db, "restore").unwrap();
        let held = hold(&db).unwrap();
        let again = hold(&db).unwrap_err().to_string();
        assert!(
            again.contains(&format!("PID {}", std::process::id())),
            "{again}"
        );
        let refused = refuse_if_held(&db, "restore").unwrap_err().to_string();
        assert!(refused.contains("stop it first"), "{refused}");
        drop(held);
        refuse_if_held(&db, "restore").unwrap();
        hold(&db).unwrap();
    }
}
