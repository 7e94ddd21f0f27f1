//! The schema, as a numbered list of migrations.
//!
//! Each migration runs in one transaction that also bumps `user_version`;
//! the list only grows. Habits (after chatmail's): `STRICT` tables,
//! `AUTOINCREMENT` where ids must never be reused, new columns
//! `NOT NULL DEFAULT …`, never a change of a column's meaning.

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
"#,
];
