//! The schema, as a numbered list of migrations, and the check that a store
//! holds that schema and nothing else.
//!
//! Each migration runs in one transaction that also bumps `user_version`;
//! the list only grows. Habits (after chatmail's): `STRICT` tables,
//! `AUTOINCREMENT` where ids must never be reused, new columns
//! `NOT NULL DEFAULT …`, never a change of a column's meaning.
//!
//! [`verify`] never trusts a file's schema: a trigger or view planted in a
//! store (a doctored backup, a hand edit) would run on every message filed,
//! e.g. copying reports into the outbox to an outside address.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use anyhow::{bail, Context, Result};
use rusqlite::Connection;

/// Migrations; `MIGRATIONS[i]` takes the schema from version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // 1: the case log.
    r#"
CREATE TABLE cases (
    id                TEXT PRIMARY KEY,
    year              INTEGER NOT NULL,
    seq               INTEGER NOT NULL,
    state             TEXT NOT NULL,
    reporter_address  TEXT NOT NULL DEFAULT '',
    reporter_name     TEXT NOT NULL DEFAULT '',
    subject           TEXT NOT NULL DEFAULT '',
    received_at       TEXT NOT NULL,
    response_due_at   TEXT NOT NULL,
    acknowledged_at   TEXT,
    first_response_at TEXT,
    missing_items     TEXT NOT NULL DEFAULT '[]',
    severity          TEXT,
    impact            TEXT,
    cvss_vector       TEXT,
    decision_reason   TEXT,
    duplicate_of      TEXT,
    fix_ref           TEXT,
    fixed_version     TEXT,
    affected_versions TEXT,
    introduced_in     TEXT,
    user_impact       TEXT,
    advisory          TEXT,
    credit_consent    TEXT,
    credit_name       TEXT,
    assignee          TEXT,
    send_failure      TEXT,
    UNIQUE (year, seq)
) STRICT;
CREATE INDEX cases_state ON cases (state);
CREATE INDEX cases_open_due ON cases (response_due_at) WHERE first_response_at IS NULL;

CREATE TABLE messages (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id        TEXT REFERENCES cases (id),
    dedup_key      TEXT NOT NULL UNIQUE,
    message_id     TEXT,
    sha256         TEXT NOT NULL,
    size           INTEGER NOT NULL,
    kind           TEXT NOT NULL,
    classification TEXT NOT NULL,
    from_address   TEXT NOT NULL DEFAULT '',
    from_name      TEXT NOT NULL DEFAULT '',
    to_addresses   TEXT NOT NULL DEFAULT '',
    subject        TEXT NOT NULL DEFAULT '',
    date           TEXT,
    received_at    TEXT NOT NULL,
    body_text      TEXT NOT NULL DEFAULT '',
    thread_refs    TEXT NOT NULL DEFAULT '',
    reason         TEXT,
    source         TEXT NOT NULL,
    imap_uid       INTEGER
) STRICT;
CREATE INDEX messages_case ON messages (case_id);
CREATE INDEX messages_message_id ON messages (message_id);

CREATE TABLE attachments (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    message_row  INTEGER NOT NULL REFERENCES messages (id),
    sha256       TEXT NOT NULL,
    size         INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    display_name TEXT NOT NULL
) STRICT;
CREATE INDEX attachments_message ON attachments (message_row);

CREATE TABLE events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id TEXT REFERENCES cases (id),
    at      TEXT NOT NULL,
    kind    TEXT NOT NULL,
    actor   TEXT NOT NULL,
    detail  TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX events_case ON events (case_id);
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id         TEXT REFERENCES cases (id),
    kind            TEXT NOT NULL,
    dedup_key       TEXT NOT NULL UNIQUE,
    message_id      TEXT NOT NULL UNIQUE,
    recipients      TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    in_reply_to     TEXT,
    thread_refs     TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL DEFAULT 'queued',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    sent_at         TEXT
) STRICT;
CREATE INDEX outbox_queue ON outbox (status, next_attempt_at);
CREATE INDEX outbox_kind_created ON outbox (kind, created_at);
CREATE INDEX outbox_case ON outbox (case_id);

CREATE TABLE mailbox_state (
    mailbox      TEXT PRIMARY KEY,
    uidvalidity  INTEGER NOT NULL,
    last_uid     INTEGER NOT NULL,
    last_sync_at TEXT
) STRICT;
"#,
    // 2: the 48-hour window. One row per case and threshold: the primary
    // key is what makes each reminder and the escalation fire once.
    r#"
CREATE TABLE reminders (
    case_id   TEXT NOT NULL REFERENCES cases (id),
    threshold TEXT NOT NULL,
    at        TEXT NOT NULL,
    sent      INTEGER NOT NULL,
    PRIMARY KEY (case_id, threshold)
) STRICT;
"#,
    // 3: the disclosure workflow: workarounds for the advisory, and when the
    // fix shipped and the advisory went out (for the transparency figures).
    r#"
ALTER TABLE cases ADD COLUMN workaround TEXT;
ALTER TABLE cases ADD COLUMN released_at TEXT;
ALTER TABLE cases ADD COLUMN disclosed_at TEXT;
"#,
    // 4: what the running daemon says about itself, for `secdesk status`.
    r#"
CREATE TABLE service_state (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;
"#,
    // 5: the per-sender acknowledgement rate limit is asked for every new
    // report; without this index it scanned every ack of the last hour.
    r#"
CREATE INDEX outbox_ack_recipient ON outbox (kind, recipients, created_at);
"#,
    // 6: the trust boundary (issue 10). Credit says who decided it and
    // keeps an unconfirmed request from mail apart; an unverified team
    // response is marked; a body hash tells a Message-ID collision from a
    // second delivery; acks are rate-limited by normalised address and
    // domain, and a held ack has no released_at until the budget allows.
    // Bidi controls ("Trojan Source") are removed from what reporters wrote
    // before they were stripped on the way in.
    r#"
ALTER TABLE cases ADD COLUMN credit_source TEXT;
ALTER TABLE cases ADD COLUMN credit_request TEXT;
ALTER TABLE cases ADD COLUMN first_response_unverified INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN body_sha256 TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN rate_key TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN rate_domain TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN released_at TEXT;
UPDATE outbox SET released_at = created_at;
UPDATE cases SET credit_source = 'lead' WHERE credit_consent IS NOT NULL;
UPDATE outbox SET
    rate_key = lower(json_extract(recipients, '$[0]')),
    rate_domain = lower(substr(json_extract(recipients, '$[0]'),
                               instr(json_extract(recipients, '$[0]'), '@') + 1))
    WHERE kind = 'ack';
DROP INDEX outbox_ack_recipient;
CREATE INDEX outbox_ack_rate_key ON outbox (kind, rate_key, released_at);
CREATE INDEX outbox_ack_rate_domain ON outbox (kind, rate_domain, released_at);
CREATE INDEX outbox_released ON outbox (kind, released_at);
CREATE INDEX outbox_held ON outbox (id) WHERE status = 'held';
UPDATE cases SET
    subject = replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(subject, char(8234), ''), char(8235), ''), char(8236), ''), char(8237), ''), char(8238), ''), char(8294), ''), char(8295), ''), char(8296), ''), char(8297), ''), char(8206), ''), char(8207), ''), char(1564), ''),
    reporter_name = replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(reporter_name, char(8234), ''), char(8235), ''), char(8236), ''), char(8237), ''), char(8238), ''), char(8294), ''), char(8295), ''), char(8296), ''), char(8297), ''), char(8206), ''), char(8207), ''), char(1564), ''),
    credit_name = replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(credit_name, char(8234), ''), char(8235), ''), char(8236), ''), char(8237), ''), char(8238), ''), char(8294), ''), char(8295), ''), char(8296), ''), char(8297), ''), char(8206), ''), char(8207), ''), char(1564), '');
UPDATE messages SET
    subject = replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(subject, char(8234), ''), char(8235), ''), char(8236), ''), char(8237), ''), char(8238), ''), char(8294), ''), char(8295), ''), char(8296), ''), char(8297), ''), char(8206), ''), char(8207), ''), char(1564), ''),
    from_name = replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(from_name, char(8234), ''), char(8235), ''), char(8236), ''), char(8237), ''), char(8238), ''), char(8294), ''), char(8295), ''), char(8296), ''), char(8297), ''), char(8206), ''), char(8207), ''), char(1564), ''),
    body_text = replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(body_text, char(8234), ''), char(8235), ''), char(8236), ''), char(8237), ''), char(8238), ''), char(8294), ''), char(8295), ''), char(8296), ''), char(8297), ''), char(8206), ''), char(8207), ''), char(1564), '');
UPDATE attachments SET
    display_name = replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(display_name, char(8234), ''), char(8235), ''), char(8236), ''), char(8237), ''), char(8238), ''), char(8294), ''), char(8295), ''), char(8296), ''), char(8297), ''), char(8206), ''), char(8207), ''), char(1564), '');
"#,
    // 7: a mailbox's history boundary: what was there when secdesk first
    // met it (by UID, and by arrival time, which survives a UIDVALIDITY
    // change) is filed as history and never answered (issue 12).
    r#"
ALTER TABLE mailbox_state ADD COLUMN history_below INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mailbox_state ADD COLUMN history_before TEXT;
"#,
    // 8: the conversation after the acknowledgement (issue 13). A turn is
    // the team's: it starts when someone outside the team writes after the
    // team's last word (or on a closed case, reopening it) and ends with a
    // team response, or without one when the lead closes the case. A
    // merged case points at the case holding its messages; a silent close
    // says why; an embargo is the disclosure date agreed with the reporter.
    r#"
CREATE TABLE turns (
    case_id             TEXT NOT NULL REFERENCES cases (id),
    turn                INTEGER NOT NULL,
    started_at          TEXT NOT NULL,
    due_at              TEXT NOT NULL,
    message_row         INTEGER REFERENCES messages (id),
    reopened            INTEGER NOT NULL DEFAULT 0,
    answered_at         TEXT,
    answered_unverified INTEGER NOT NULL DEFAULT 0,
    ended_at            TEXT,
    PRIMARY KEY (case_id, turn)
) STRICT;
CREATE INDEX turns_open ON turns (due_at) WHERE answered_at IS NULL AND ended_at IS NULL;
ALTER TABLE cases ADD COLUMN reopened_from TEXT;
ALTER TABLE cases ADD COLUMN closed_as TEXT;
ALTER TABLE cases ADD COLUMN merged_into TEXT;
ALTER TABLE cases ADD COLUMN embargo_until TEXT;
ALTER TABLE cases ADD COLUMN embargo_note TEXT;
CREATE INDEX cases_reporter ON cases (reporter_address);
"#,
    // 9: honest figures after a hostile review of issue 13. A case filed as
    // history keeps saying so after mail reopens it and the lead moves it
    // on (its first window was never secdesk's to keep); the trigger sets
    // it on every path that files a case, so no caller can forget. A
    // silent close says when, so a window that passed before it is still
    // a breach. Both are filled in from the trail for existing cases.
    r#"
ALTER TABLE cases ADD COLUMN history INTEGER NOT NULL DEFAULT 0;
ALTER TABLE cases ADD COLUMN closed_at TEXT;
CREATE TRIGGER cases_history AFTER INSERT ON cases WHEN NEW.state = 'imported'
    BEGIN UPDATE cases SET history = 1 WHERE id = NEW.id; END;
UPDATE cases SET history = 1
    WHERE state = 'imported' OR reopened_from = 'imported'
       OR id IN (SELECT case_id FROM events WHERE kind = 'imported');
UPDATE cases SET closed_at = (SELECT max(at) FROM events e
                              WHERE e.case_id = cases.id
                                AND e.kind IN ('closed_silently', 'closed_again'))
    WHERE id IN (SELECT case_id FROM events
                 WHERE kind IN ('closed_silently', 'closed_again'));
"#,
    // 10: advisories a maintainer can publish (issue 14). A case affects
    // packages, each with its own versions; the advisory's own fields
    // (weaknesses, CVE, the lead's summary and root cause, the edited
    // draft, the GitHub advisory it was filed as) live beside the case.
    r#"
CREATE TABLE case_packages (
    case_id    TEXT NOT NULL REFERENCES cases (id),
    package    TEXT NOT NULL,
    position   INTEGER NOT NULL DEFAULT 0,
    affected   TEXT,
    introduced TEXT,
    fixed      TEXT,
    fix_commit TEXT,
    PRIMARY KEY (case_id, package)
) STRICT;
CREATE TABLE case_advisories (
    case_id      TEXT PRIMARY KEY REFERENCES cases (id),
    cwe_ids      TEXT NOT NULL DEFAULT '[]',
    cve_id       TEXT,
    summary      TEXT,
    details      TEXT,
    poc_withheld INTEGER NOT NULL DEFAULT 0,
    draft        TEXT,
    draft_by     TEXT,
    draft_at     TEXT,
    ghsa_id      TEXT,
    ghsa_url     TEXT
) STRICT;
"#,
];

/// One object's row in `sqlite_master`, less what SQLite may place freely
/// (`rootpage`). `sql` is `None` for SQLite's automatic indexes.
#[derive(Debug, PartialEq, Eq)]
struct Definition {
    tbl_name: String,
    sql: Option<String>,
}

/// A database's objects, keyed by (type, name).
type Schema = BTreeMap<(String, String), Definition>;

/// `EXPECTED[v]`: the schema the first `v` migrations produce, built on first
/// use so that each CLI command pays for it at most once.
static EXPECTED: [OnceLock<Schema>; MIGRATIONS.len() + 1] =
    [const { OnceLock::new() }; MIGRATIONS.len() + 1];

/// Every object of `conn`'s main database, SQLite's own included: the same
/// migrations give the same `sqlite_sequence` and `sqlite_autoindex_*`
/// rows, and `ALTER TABLE ADD COLUMN` rewrites the `CREATE TABLE` text the
/// same way on both sides. The one exception is the query planner's
/// statistics (`sqlite_stat1`, `sqlite_stat4`): `ANALYZE` or `PRAGMA
/// optimize`, which an operator may well run, creates them, and they hold
/// numbers SQLite reads, never anything it runs.
fn schema_of(conn: &Connection) -> rusqlite::Result<Schema> {
    let mut stmt = conn.prepare(
        "SELECT type, name, tbl_name, sql FROM main.sqlite_master
         WHERE NOT (type = 'table' AND name IN ('sqlite_stat1', 'sqlite_stat4'))",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            (r.get(0)?, r.get(1)?),
            Definition {
                tbl_name: r.get(2)?,
                sql: r.get(3)?,
            },
        ))
    })?;
    rows.collect()
}

/// The schema of `version`, applied to an in-memory database once.
fn expected(version: usize) -> Result<&'static Schema> {
    let Some(cell) = EXPECTED.get(version) else {
        bail!(
            "schema version {version} is newer than this secdesk knows ({})",
            MIGRATIONS.len()
        );
    };
    if let Some(schema) = cell.get() {
        return Ok(schema);
    }
    let conn = Connection::open_in_memory().context("opening an in-memory database")?;
    for (i, sql) in MIGRATIONS.iter().take(version).enumerate() {
        conn.execute_batch(sql)
            .with_context(|| format!("applying migration {} in memory", i + 1))?;
    }
    let built = schema_of(&conn).context("reading the in-memory schema")?;
    Ok(cell.get_or_init(|| built))
}

/// `trigger "leak"`; a type SQLite does not make is quoted too, since the
/// whole row may come from a doctored file.
fn describe(kind: &str, name: &str) -> String {
    match kind {
        "table" | "index" | "view" | "trigger" => format!("{kind} {name:?}"),
        other => format!("{other:?} {name:?}"),
    }
}

/// Refuses the store `conn` (the file `file`, named in the error) unless its
/// objects are exactly those the first `version` migrations create: nothing
/// extra, missing or changed. The error is one line naming every object at
/// fault.
pub fn verify(conn: &Connection, version: usize, file: &Path) -> Result<()> {
    let want = expected(version)?;
    let have = schema_of(conn)
        .with_context(|| format!("reading the schema of store {}", file.display()))?;
    let mut faults = Vec::new();
    for ((kind, name), def) in &have {
        match want.get(&(kind.clone(), name.clone())) {
            None => faults.push(format!(
                "holds {} that secdesk did not create",
                describe(kind, name)
            )),
            Some(w) if w != def => faults.push(format!(
                "holds {} that differs from the one secdesk created",
                describe(kind, name)
            )),
            Some(_) => {}
        }
    }
    for (kind, name) in want.keys() {
        if !have.contains_key(&(kind.clone(), name.clone())) {
            faults.push(format!(
                "lacks {} that secdesk created",
                describe(kind, name)
            ));
        }
    }
    if faults.is_empty() {
        return Ok(());
    }
    bail!(
        "store {} {}; refusing to use it",
        file.display(),
        faults.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    /// Opens a fresh store, changes its schema with `sql` behind secdesk's
    /// back, and returns the error of opening it again.
    fn reopen_after(sql: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let (db, data) = (dir.path().join("cases.db"), dir.path().join("data"));
        drop(Store::open(&db, &data).unwrap());
        Connection::open(&db).unwrap().execute_batch(sql).unwrap();
        let e = Store::open(&db, &data).unwrap_err();
        let e = format!("{e:#}");
        assert!(e.starts_with(&format!("store {} ", db.display())), "{e}");
        assert!(
            e.ends_with("; refusing to use it") && !e.contains('\n'),
            "{e}"
        );
        e
    }

    #[test]
    fn refuses_a_schema_secdesk_did_not_make() {
        let rows = [
            (
                "CREATE TRIGGER leak AFTER INSERT ON messages BEGIN
                 INSERT INTO outbox (kind, dedup_key, message_id, recipients, subject, body,
                                     next_attempt_at, created_at)
                 VALUES ('ack', 'leak' || NEW.id, 'leak' || NEW.id || '@x', '[\"thief@x\"]',
                         NEW.subject, NEW.body_text, NEW.received_at, NEW.received_at);
                 END;",
                r#"holds trigger "leak" that secdesk did not create"#,
            ),
            (
                "CREATE VIEW peek AS SELECT body_text FROM messages;",
                r#"holds view "peek" that secdesk did not create"#,
            ),
            (
                "CREATE TABLE stash (x TEXT);",
                r#"holds table "stash" that secdesk did not create"#,
            ),
            (
                "ALTER TABLE cases ADD COLUMN forward_to TEXT;",
                r#"holds table "cases" that differs from the one secdesk created"#,
            ),
            (
                "DROP TRIGGER events_no_delete;",
                r#"lacks trigger "events_no_delete" that secdesk created"#,
            ),
        ];
        for (sql, want) in rows {
            let e = reopen_after(sql);
            assert!(e.contains(want), "{sql}\n{e}");
        }
        // Several faults, each named, on one line.
        let e = reopen_after("CREATE VIEW a AS SELECT 1; CREATE VIEW b AS SELECT 2;");
        assert!(
            e.contains(r#"view "a""#) && e.contains(r#"view "b""#),
            "{e}"
        );
    }

    #[test]
    fn the_planners_statistics_are_not_refused() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("cases.db");
        let store = super::super::Store::open(&db, &dir.path().join("d")).unwrap();
        store.conn().execute_batch("ANALYZE;").unwrap();
        let stat: i64 = store
            .conn()
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'sqlite_stat1'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(stat, 1);
        drop(store);
        super::super::Store::open(&db, &dir.path().join("d")).unwrap();
    }

    #[test]
    fn a_clean_store_passes_at_every_version() {
        for v in 0..=MIGRATIONS.len() {
            let c = Connection::open_in_memory().unwrap();
            for sql in &MIGRATIONS[..v] {
                c.execute_batch(sql).unwrap();
            }
            verify(&c, v, Path::new("mem")).unwrap();
            // Checked against the next version, it lacks that migration.
            if v < MIGRATIONS.len() {
                assert!(verify(&c, v + 1, Path::new("mem")).is_err());
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("cases.db");
        drop(Store::open(&db, &dir.path().join("data")).unwrap());
        Store::open(&db, &dir.path().join("data")).unwrap();
    }
}
