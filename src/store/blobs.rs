//! The content-addressed blob directory: raw messages and attachments, each
//! file named by the SHA-256 of its bytes under `data_dir/<kind>/ab/cdef…`.
//!
//! A blob is written to a temporary file (0600), fsynced and renamed to its
//! name; the directory fsync that makes the rename durable may be deferred
//! to [`Store::sync_blobs`], which must run before any row naming the blob
//! commits (blobs first: a crash leaves an unreferenced blob, never a row
//! without its bytes). Names never come from a message. Temporary files
//! start with `.tmp-`; backup skips them.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};

use super::Store;

/// Kinds of blob, each its own subdirectory.
#[derive(Debug, Clone, Copy)]
pub enum BlobKind {
    /// Raw inbound messages.
    Raw,
    /// Decoded attachments.
    Attachment,
}

impl BlobKind {
    fn dir(self) -> &'static str {
        match self {
            BlobKind::Raw => "raw",
            BlobKind::Attachment => "attachments",
        }
    }
}

/// A blob written from a stream: its name and its length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamedBlob {
    pub sha256: String,
    pub size: u64,
}

/// How much of a streamed blob is held in memory at a time.
const STREAM_CHUNK: usize = 64 * 1024;

/// A temporary file that is removed unless it was renamed into place.
struct TempBlob {
    path: PathBuf,
    file: Option<File>,
}

impl Drop for TempBlob {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.path);
        }
    }
}

impl TempBlob {
    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        match self.file.as_mut() {
            Some(f) => f
                .write_all(bytes)
                .with_context(|| format!("writing {}", self.path.display())),
            None => bail!("{} is already closed", self.path.display()),
        }
    }

    /// fsyncs the file and renames it to `path`, or drops it when a blob
    /// of that name is already there (same name, same bytes).
    fn settle(mut self, path: &Path) -> Result<bool> {
        let Some(f) = self.file.as_ref() else {
            bail!("{} is already closed", self.path.display());
        };
        f.sync_all()
            .with_context(|| format!("writing {}", self.path.display()))?;
        if path.exists() {
            return Ok(false);
        }
        fs::rename(&self.path, path).with_context(|| format!("renaming to {}", path.display()))?;
        self.file = None;
        Ok(true)
    }
}

impl Store {
    /// Where the blob with `sha256` of `kind` lives.
    pub fn blob_path(&self, kind: BlobKind, sha256: &str) -> PathBuf {
        let (a, b) = sha256.split_at(sha256.len().min(2));
        self.data_dir.join(kind.dir()).join(a).join(b)
    }

    /// Stores `bytes` under their SHA-256 (given), durably: written to a
    /// temporary file, fsynced, renamed, and the directory fsynced.
    /// Idempotent.
    pub fn put_blob(&self, kind: BlobKind, sha256: &str, bytes: &[u8]) -> Result<PathBuf> {
        let path = self.put_blob_deferred(kind, sha256, bytes)?;
        self.sync_blobs()?;
        Ok(path)
    }

    /// [`Store::put_blob`] without the directory fsync: the rename is made
    /// durable by the next [`Store::sync_blobs`], which must run before any
    /// row naming the blob commits. Lets a batch pay one fsync per
    /// directory instead of one per blob.
    pub fn put_blob_deferred(&self, kind: BlobKind, sha256: &str, bytes: &[u8]) -> Result<PathBuf> {
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!("not a SHA-256: {sha256:?}");
        }
        let path = self.blob_path(kind, sha256);
        if path.exists() {
            return Ok(path);
        }
        let dir = path.parent().unwrap_or(&self.data_dir).to_path_buf();
        let mut tmp = self.temp_blob(&dir)?;
        tmp.write(bytes)?;
        if tmp.settle(&path)? {
            self.dirty_dirs.borrow_mut().insert(dir);
        }
        Ok(path)
    }

    /// Stores `prefix` followed by everything `rest` yields, hashing as it
    /// writes, so that input of any length is kept whole while at most
    /// `STREAM_CHUNK` bytes of `rest` are in memory. Otherwise as
    /// [`Store::put_blob_deferred`]: the rename to its SHA-256 name is made
    /// durable by the next [`Store::sync_blobs`]. Idempotent.
    pub fn put_blob_streamed(
        &self,
        kind: BlobKind,
        prefix: &[u8],
        rest: &mut dyn Read,
    ) -> Result<StreamedBlob> {
        // The name is known only at the end: write into the kind's own
        // directory, then rename into the fan-out (same file system).
        let kind_dir = self.data_dir.join(kind.dir());
        let mut tmp = self.temp_blob(&kind_dir)?;
        let mut hasher = Sha256::new();
        tmp.write(prefix)?;
        hasher.update(prefix);
        let mut size = prefix.len() as u64;
        let mut buf = vec![0u8; STREAM_CHUNK];
        loop {
            let n = match rest.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(e).with_context(|| format!("reading the input after {size} bytes"))
                }
            };
            let chunk = buf.get(..n).unwrap_or_default();
            tmp.write(chunk)?;
            hasher.update(chunk);
            size += n as u64;
        }
        let sha256 = hex::encode(hasher.finalize());
        let path = self.blob_path(kind, &sha256);
        let dir = path.parent().unwrap_or(&self.data_dir).to_path_buf();
        self.ensure_dir(&dir)?;
        if tmp.settle(&path)? {
            self.dirty_dirs.borrow_mut().insert(dir);
        }
        Ok(StreamedBlob { sha256, size })
    }

    /// Creates `dir` (0700) unless it is known to exist.
    fn ensure_dir(&self, dir: &Path) -> Result<()> {
        if !self.known_dirs.borrow().contains(dir) {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .with_context(|| format!("creating {}", dir.display()))?;
            self.known_dirs.borrow_mut().insert(dir.to_path_buf());
        }
        Ok(())
    }

    /// A new temporary file (0600) in `dir`, removed again unless settled.
    fn temp_blob(&self, dir: &Path) -> Result<TempBlob> {
        self.ensure_dir(dir)?;
        let path = dir.join(format!(
            ".tmp-{}-{}",
            std::process::id(),
            rand::random::<u64>()
        ));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("creating {}", path.display()))?;
        Ok(TempBlob {
            path,
            file: Some(file),
        })
    }

    /// Makes the renames of deferred blobs durable (fsync of each directory).
    pub fn sync_blobs(&self) -> Result<()> {
        let dirs: Vec<PathBuf> = self.dirty_dirs.borrow_mut().drain().collect();
        for d in dirs {
            fs::File::open(&d)
                .and_then(|f| f.sync_all())
                .with_context(|| format!("syncing {}", d.display()))?;
        }
        Ok(())
    }

    /// Reads a blob back.
    pub fn read_blob(&self, kind: BlobKind, sha256: &str) -> Result<Vec<u8>> {
        let path = self.blob_path(kind, sha256);
        fs::read(&path).with_context(|| format!("reading {}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn store(dir: &tempfile::TempDir) -> Store {
        Store::open(&dir.path().join("c.db"), &dir.path().join("d")).unwrap()
    }

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    /// Files left in `dir` whose names start with `.tmp-`, anywhere below.
    fn temp_files(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for e in fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                out.extend(temp_files(&e.path()));
            } else if e.file_name().to_string_lossy().starts_with(".tmp-") {
                out.push(e.path());
            }
        }
        out
    }

    #[test]
    fn blobs_are_content_addressed_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(&dir);
        let sha = crate::mail::parse::sha256_hex(b"hello");
        let p = s.put_blob(BlobKind::Raw, &sha, b"hello").unwrap();
        assert!(p.starts_with(dir.path().join("d").join("raw")));
        assert_eq!(mode(&p), 0o600);
        assert_eq!(s.put_blob(BlobKind::Raw, &sha, b"hello").unwrap(), p);
        assert_eq!(s.read_blob(BlobKind::Raw, &sha).unwrap(), b"hello");
        assert!(s.put_blob(BlobKind::Raw, "../../etc/passwd", b"x").is_err());
    }

    #[test]
    fn a_streamed_blob_is_named_by_all_its_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(&dir);
        // Longer than one chunk, so the hash runs over several reads.
        let rest: Vec<u8> = (0..3 * STREAM_CHUNK + 17)
            .map(|i| (i % 251) as u8)
            .collect();
        let whole = [&b"prefix:"[..], &rest].concat();
        let b = s
            .put_blob_streamed(BlobKind::Raw, b"prefix:", &mut &rest[..])
            .unwrap();
        s.sync_blobs().unwrap();
        assert_eq!(b.sha256, crate::mail::parse::sha256_hex(&whole));
        assert_eq!(b.size, whole.len() as u64);
        assert_eq!(s.read_blob(BlobKind::Raw, &b.sha256).unwrap(), whole);
        assert_eq!(mode(&s.blob_path(BlobKind::Raw, &b.sha256)), 0o600);
        // The same bytes again: the same name, and no temporary file left.
        let again = s
            .put_blob_streamed(BlobKind::Raw, b"", &mut &whole[..])
            .unwrap();
        assert_eq!(again, b);
        assert!(temp_files(&dir.path().join("d")).is_empty());
    }

    #[test]
    fn a_failed_stream_leaves_nothing_behind() {
        struct Broken(usize);
        impl Read for Broken {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                if self.0 == 0 {
                    return Err(std::io::Error::other("pipe closed"));
                }
                self.0 -= 1;
                buf.fill(b'x');
                Ok(buf.len())
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let s = store(&dir);
        let e = s
            .put_blob_streamed(BlobKind::Raw, b"head", &mut Broken(2))
            .unwrap_err();
        assert!(format!("{e:#}").contains("reading the input"), "{e:#}");
        assert!(temp_files(&dir.path().join("d")).is_empty());
    }
}
