//! The case log: one SQLite file plus a content-addressed data directory.
//!
//! SQLite (bundled) in WAL mode with `synchronous = FULL`, one writer, every
//! write an `IMMEDIATE` transaction so two writers queue on the lock instead
//! of failing half-way. The file is created 0600 and the data dir 0700: the
//! case log holds unfixed vulnerabilities. Raw messages and attachments live
//! under `data_dir` by SHA-256 — never under a name taken from a message.
//!
//! Submodules hold the queries by concern: [`messages`] writes what the
//! inbound pipeline decided, [`cases`] reads cases for people and tools,
//! [`outbox`] is the send queue, [`reminders`] the 48-hour window's
//! thresholds, [`daemon_state`] what the daemon says about itself; [`blobs`]
//! keeps the content-addressed files, [`schema`] the migrations and the
//! check that the file holds nothing else, [`backup`] snapshots and
//! restores. Async code reaches all of it through [`SharedStore`].

pub mod advisories;
pub mod backup;
pub mod blobs;
pub mod case_views;
pub mod cases;
pub mod daemon_state;
pub mod lock;
pub mod mailboxes;
pub mod messages;
pub mod missing;
pub mod outbox;
pub mod reminders;
pub mod schema;
pub mod turns;

pub use blobs::BlobKind;

use std::fs::{self, DirBuilder, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

/// How long a writer waits for the lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The busy handler: retry every 200 µs until [`BUSY_TIMEOUT`].
fn busy_retry(attempt: i32) -> bool {
    const STEP: Duration = Duration::from_micros(200);
    if STEP * attempt.max(0) as u32 >= BUSY_TIMEOUT {
        return false;
    }
    std::thread::sleep(STEP);
    true
}

/// An open case log.
pub struct Store {
    conn: Connection,
    data_dir: PathBuf,
    path: PathBuf,
    /// Fan-out directories known to exist (saves a mkdir per blob).
    known_dirs: std::cell::RefCell<std::collections::HashSet<PathBuf>>,
    /// Directories with renames not yet fsynced (see [`Store::sync_blobs`]).
    dirty_dirs: std::cell::RefCell<std::collections::HashSet<PathBuf>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

/// An RFC 3339 UTC timestamp with milliseconds, as stored: the fixed width
/// makes text order time order.
pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses a stored timestamp.
pub fn parse_ts(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

impl Store {
    /// Opens (creating if needed) the store at `path` with blobs under
    /// `data_dir`, and brings the schema up to date.
    pub fn open(path: &Path, data_dir: &Path) -> Result<Store> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            if !parent.exists() {
                DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(parent)
                    .with_context(|| format!("creating {}", parent.display()))?;
            }
        }
        secure_dir(data_dir)?;
        // Create the file 0600 before SQLite does; SQLite gives -wal and -shm
        // the permissions of the database file. Only ever *create* it here:
        // closing any descriptor of an open database drops every POSIX lock
        // this process holds on it (fcntl semantics), after which another
        // process can take the file for the last user, checkpoint and delete
        // the WAL under our feet — and commits vanish.
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).with_context(|| format!("creating store {}", path.display())),
        }
        let meta = fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
        if meta.permissions().mode() & 0o077 != 0 {
            fs::set_permissions(path, fs::Permissions::from_mode(0o600))
                .with_context(|| format!("restricting {} to 0600", path.display()))?;
        }
        let conn =
            Connection::open(path).with_context(|| format!("opening store {}", path.display()))?;
        // SQLite's own busy handler backs off 1, 2, 5, 10 … 100 ms; with
        // intake and the outbox taking turns at the write lock every few
        // milliseconds that turned into long sleeps. Retry every 200 µs, up
        // to BUSY_TIMEOUT.
        conn.busy_handler(Some(busy_retry))?;
        // Switching a new file to WAL takes an exclusive lock and answers
        // SQLITE_BUSY without calling the busy handler when another process
        // opens it at the same moment; retry for a while.
        let mut tries = 0;
        loop {
            match conn.pragma_update(None, "journal_mode", "WAL") {
                Ok(()) => break,
                Err(_) if tries < 100 => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(e).context("enabling WAL"),
            }
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let mut store = Store {
            conn,
            data_dir: data_dir.to_path_buf(),
            path: path.to_path_buf(),
            known_dirs: Default::default(),
            dirty_dirs: Default::default(),
        };
        store.migrate()?;
        // Only the schema secdesk made: a planted trigger would act on
        // every message filed (security review, issue 10, finding 6).
        schema::verify(&store.conn, store.schema_version()?, &store.path)?;
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The blob directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The schema version in the file.
    pub fn schema_version(&self) -> Result<usize> {
        let v: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .with_context(|| format!("reading the schema version of {}", self.path.display()))?;
        usize::try_from(v).with_context(|| {
            format!(
                "store {} has a negative schema version {v}",
                self.path.display()
            )
        })
    }

    fn migrate(&mut self) -> Result<()> {
        let current = self.schema_version()?;
        let known = schema::MIGRATIONS.len();
        if current > known {
            bail!(
                "store {} has schema version {current}, newer than this secdesk knows ({known}); \
                 run the newer secdesk or restore a backup",
                self.path.display()
            );
        }
        if current > 0 && current < known {
            self.copy_before_migration(current + 1)?;
        }
        for (i, sql) in schema::MIGRATIONS.iter().enumerate().skip(current) {
            let n = i + 1;
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .with_context(|| format!("starting migration {n}"))?;
            // Another process (the daemon and a CLI command starting at
            // once) may have applied it while we waited for the lock.
            let now: i64 = tx
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .context("reading the schema version")?;
            if now > i as i64 {
                continue;
            }
            tx.execute_batch(sql)
                .with_context(|| format!("applying migration {n}"))?;
            tx.pragma_update(None, "user_version", n as i64)
                .with_context(|| format!("recording migration {n}"))?;
            tx.commit()
                .with_context(|| format!("committing migration {n}"))?;
        }
        Ok(())
    }

    /// Before an upgrade, a consistent copy of the database next to it:
    /// `cases.db.pre-migration-N`, N being the first migration applied.
    fn copy_before_migration(&self, n: usize) -> Result<()> {
        let mut name = self.path.as_os_str().to_owned();
        name.push(format!(".pre-migration-{n}"));
        let target = PathBuf::from(name);
        if target.exists() {
            // A previous attempt made it; keep the older, untouched copy.
            return Ok(());
        }
        // The store's directory may be reached through a link the operator
        // set up (SQLITE_OPEN_NOFOLLOW refuses a link anywhere in the path).
        snapshot_into(&self.conn, &target, OpenFlags::empty()).with_context(|| {
            format!("copying the store to {} before migrating", target.display())
        })?;
        tracing::info!(copy = %target.display(), "store copied before migration");
        Ok(())
    }

    /// Runs `f` in one `IMMEDIATE` write transaction, committing on `Ok`.
    pub fn write<T>(&mut self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .context("starting a write transaction")?;
        let out = f(&tx)?;
        tx.commit().context("committing")?;
        Ok(out)
    }

    /// Read access for the store's own query modules and the CLI. Not
    /// public: async code goes through [`SharedStore::run`]; tests read the
    /// file with a connection of their own.
    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }
}

/// The one door from async code to a store: every call runs on tokio's
/// blocking pool, one at a time, so a slow disk or a busy lock never stalls
/// the runtime's workers (and the daemon does not depend on a
/// multi-threaded runtime, as `block_in_place` would). Each task owns one.
#[derive(Clone)]
pub struct SharedStore {
    inner: std::sync::Arc<std::sync::Mutex<Store>>,
}

impl std::fmt::Debug for SharedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedStore")
    }
}

impl SharedStore {
    pub fn new(store: Store) -> SharedStore {
        SharedStore {
            inner: std::sync::Arc::new(std::sync::Mutex::new(store)),
        }
    }

    /// Runs `f` with the store on the blocking pool. Dropping the returned
    /// future does not stop `f`: a transaction begun is finished.
    pub async fn run<T, F>(&self, f: F) -> Result<T>
    where
        F: FnOnce(&mut Store) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut store = inner.lock().map_err(|_| {
                anyhow::anyhow!("the store's lock is poisoned: a store call panicked")
            })?;
            f(&mut store)
        })
        .await
        .context("a store call on the blocking pool failed")?
    }
}

/// A consistent copy of the open database `conn` at `target` (a new file,
/// created 0600, never through a link), through SQLite's online backup API:
/// readers and the writer carry on meanwhile. `extra` is added to the usual
/// read-write/create flags when SQLite opens `target`; a backup passes
/// `SQLITE_OPEN_NOFOLLOW`.
pub fn snapshot_into(conn: &Connection, target: &Path, extra: OpenFlags) -> Result<()> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(target)
        .with_context(|| format!("creating {}", target.display()))?;
    let mut dst = Connection::open_with_flags(target, OpenFlags::default() | extra)
        .with_context(|| format!("opening {}", target.display()))?;
    {
        let backup =
            rusqlite::backup::Backup::new(conn, &mut dst).context("starting the backup")?;
        backup
            .run_to_completion(256, Duration::from_millis(5), None)
            .context("copying pages")?;
    }
    dst.pragma_update(None, "journal_mode", "DELETE")?;
    Ok(())
}

/// Creates `dir` 0700, or tightens an existing one to 0700.
fn secure_dir(dir: &Path) -> Result<()> {
    if !dir.exists() {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("creating data dir {}", dir.display()))?;
    }
    let mode = fs::metadata(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .with_context(|| format!("restricting data dir {} to 0700", dir.display()))?;
    }
    Ok(())
}

/// Appends one event to the audit trail (`case` `None` for mail that belongs
/// to no case).
pub fn record_event(
    tx: &Transaction<'_>,
    case: Option<&str>,
    at: DateTime<Utc>,
    kind: &str,
    actor: &str,
    detail: &str,
) -> Result<()> {
    tx.execute(
        "INSERT INTO events (case_id, at, kind, actor, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
        rusqlite::params![case, ts(at), kind, actor, detail],
    )
    .with_context(|| format!("recording event {kind}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_private_files_and_migrates() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("cases.db");
        let data = dir.path().join("data");
        let s = Store::open(&db, &data).unwrap();
        assert_eq!(s.schema_version().unwrap(), schema::MIGRATIONS.len());
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&db), 0o600);
        assert_eq!(mode(&data), 0o700);
        drop(s);
        // Reopening is a no-op.
        let s = Store::open(&db, &data).unwrap();
        assert_eq!(s.schema_version().unwrap(), schema::MIGRATIONS.len());
    }

    #[test]
    fn concurrent_first_opens_migrate_once() {
        for _ in 0..10 {
            let dir = tempfile::tempdir().unwrap();
            let db = dir.path().join("cases.db");
            let data = dir.path().join("d");
            let threads: Vec<_> = (0..4)
                .map(|_| {
                    let (db, data) = (db.clone(), data.clone());
                    std::thread::spawn(move || Store::open(&db, &data).map(|_| ()))
                })
                .collect();
            for t in threads {
                t.join().unwrap().unwrap();
            }
        }
    }

    #[test]
    fn refuses_a_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("cases.db");
        let s = Store::open(&db, &dir.path().join("d")).unwrap();
        s.conn().pragma_update(None, "user_version", 999).unwrap();
        drop(s);
        let e = Store::open(&db, &dir.path().join("d")).unwrap_err();
        assert!(
            e.to_string().contains("newer than this secdesk knows"),
            "{e}"
        );
    }

    #[test]
    fn events_are_append_only() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("c.db"), &dir.path().join("d")).unwrap();
        s.write(|tx| {
            tx.execute(
                "INSERT INTO events (case_id, at, kind, actor, detail) VALUES (NULL, 'now', 'x', 'test', '')",
                [],
            )?;
            Ok(())
        })
        .unwrap();
        assert!(s
            .write(|tx| Ok(tx.execute("UPDATE events SET kind = 'y'", [])?))
            .is_err());
        assert!(s
            .write(|tx| Ok(tx.execute("DELETE FROM events", [])?))
            .is_err());
    }
}

#[cfg(test)]
mod migration_tests {
    use super::*;

    /// A populated store at schema 1 (the first release), upgraded.
    #[test]
    fn upgrades_a_populated_store_and_keeps_a_copy() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("cases.db");
        {
            let c = Connection::open(&db).unwrap();
            c.execute_batch(schema::MIGRATIONS[0]).unwrap();
            c.pragma_update(None, "user_version", 1).unwrap();
            c.execute(
                "INSERT INTO cases (id, year, seq, state, reporter_address, subject, received_at, response_due_at)
                 VALUES ('SEC-2026-0001', 2026, 1, 'acknowledged', 'r@x', 'old case',
                         '2026-11-01T00:00:00.000Z', '2026-11-03T00:00:00.000Z')",
                [],
            )
            .unwrap();
            c.execute(
                "INSERT INTO outbox (case_id, kind, dedup_key, message_id, recipients, subject, body,
                                     next_attempt_at, created_at)
                 VALUES ('SEC-2026-0001', 'ack', 'ack:SEC-2026-0001', 'm@x', '[\"r@x\"]', 's', 'b',
                         '2026-11-01T00:00:00.000Z', '2026-11-01T00:00:00.000Z')",
                [],
            )
            .unwrap();
        }
        let store = Store::open(&db, &dir.path().join("data")).unwrap();
        assert_eq!(store.schema_version().unwrap(), schema::MIGRATIONS.len());
        let case = store.get_case("SEC-2026-0001").unwrap().unwrap();
        assert_eq!(case.subject, "old case");
        assert_eq!(case.workaround, None);
        // The new tables work on the old data.
        assert!(
            crate::store::reminders::awaiting_response(store.conn())
                .unwrap()
                .len()
                == 1
        );
        // The copy is the store as it was, at schema 1, and private.
        let copy = dir.path().join("cases.db.pre-migration-2");
        let c = Connection::open(&copy).unwrap();
        let v: i64 = c
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, 1);
        let n: i64 = c
            .query_row("SELECT COUNT(*) FROM cases", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
        assert_eq!(
            fs::metadata(&copy).unwrap().permissions().mode() & 0o777,
            0o600
        );
        // A second open does not copy again.
        drop(store);
        Store::open(&db, &dir.path().join("data")).unwrap();
        assert!(!dir
            .path()
            .join(format!(
                "cases.db.pre-migration-{}",
                schema::MIGRATIONS.len() + 1
            ))
            .exists());
    }
}
