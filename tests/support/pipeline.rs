//! Pipeline test support: a temporary store and the ingest pipeline, no
//! servers. Bytes in, rows out, time passed in.

use std::path::Path;

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use secdesk::config::{self, Config};
use secdesk::inbound::pipeline::{ingest, ingest_reader, IngestResult};
use secdesk::settings::Settings;
use secdesk::store::messages::Origin;
use secdesk::store::Store;
use secdesk::templates::Templates;

pub struct Fixture {
    pub _dir: tempfile::TempDir,
    pub settings: Settings,
    pub cfg: Arc<Config>,
    pub templates: Arc<Templates>,
    pub store: Store,
    pub now: DateTime<Utc>,
}

/// A store with the lead `lead@example.org` and member `dev@example.org`;
/// `extra` is appended to the configuration (whole sections).
pub fn fixture_with(extra: &str) -> Fixture {
    fixture_for("security@example.org", "dev@example.org", extra)
}

/// A store for the security address `address` (a group or list, say), with
/// the lead `lead@example.org` and the team member `member`.
pub fn fixture_for(address: &str, member: &str, extra: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        r#"
[project]
name = "Example"
security_address = "{address}"
policy_url = "https://example.org/security"
[store]
path = "cases.db"
data_dir = "data"
max_message_size = "64KB"
[team]
lead = ["lead@example.org"]
members = ["{member}"]
{extra}
"#
    );
    let path = dir.path().join("secdesk.toml");
    std::fs::write(&path, &text).unwrap();
    let cfg = config::from_toml_str(&text, &path).unwrap();
    let store = Store::open(&cfg.store.path, &cfg.store.data_dir).unwrap();
    let settings = Settings::load(cfg).unwrap();
    Fixture {
        _dir: dir,
        cfg: settings.config.clone(),
        templates: settings.templates.clone(),
        settings,
        store,
        now: Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap(),
    }
}

pub fn fixture() -> Fixture {
    fixture_with("")
}

impl Fixture {
    /// Files `raw` one second after the previous message.
    pub fn ingest(&mut self, raw: &[u8]) -> IngestResult {
        self.now += Duration::seconds(1);
        ingest(
            &mut self.store,
            &self.settings,
            raw,
            &Origin::Cli,
            self.now,
            self.now,
        )
        .unwrap()
    }

    /// Files `raw` as having arrived at `received_at`, from `origin`.
    pub fn ingest_from(
        &mut self,
        raw: &[u8],
        origin: &Origin,
        received_at: DateTime<Utc>,
    ) -> IngestResult {
        self.now += Duration::seconds(1);
        ingest(
            &mut self.store,
            &self.settings,
            raw,
            origin,
            received_at,
            self.now,
        )
        .unwrap()
    }

    /// Files what `input` holds, as `secdesk ingest` reads a pipe, at `now`.
    pub fn ingest_stream(&mut self, input: &mut dyn std::io::Read) -> IngestResult {
        ingest_reader(
            &mut self.store,
            &self.settings,
            input,
            &Origin::Cli,
            self.now,
            self.now,
        )
        .unwrap()
    }

    /// A connection of the test's own to the store's file (WAL lets it
    /// read beside the store's), for assertions and set-up.
    pub fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(&self.cfg.store.path).unwrap()
    }

    pub fn count(&self, sql: &str) -> i64 {
        self.db().query_row(sql, [], |r| r.get(0)).unwrap()
    }

    pub fn text(&self, sql: &str) -> String {
        self.db().query_row(sql, [], |r| r.get(0)).unwrap()
    }

    pub fn exec(&self, sql: &str) {
        self.db().execute_batch(sql).unwrap();
    }

    /// (recipients, subject, body) of every outbox row, oldest first.
    pub fn outbox_bodies(&self) -> Vec<(String, String, String)> {
        let db = self.db();
        let mut stmt = db
            .prepare("SELECT recipients, subject, body FROM outbox ORDER BY id")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
    }

    /// Event kinds of `case`, oldest first.
    pub fn events(&self, case: &str) -> Vec<(String, String)> {
        let db = self.db();
        let mut stmt = db
            .prepare("SELECT kind, detail FROM events WHERE case_id = ?1 ORDER BY id")
            .unwrap();
        stmt.query_map([case], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
    }
}

/// A sample message from tests/data.
pub fn sample(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(name),
    )
    .unwrap()
}

/// A plain report.
pub fn report(from: &str, mid: &str, subject: &str, extra_headers: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: security@example.org\r\nSubject: {subject}\r\nMessage-ID: <{mid}>\r\n\
         Date: Mon, 23 Nov 2026 09:00:00 +0000\r\n{extra_headers}\r\n{body}\r\n"
    )
    .into_bytes()
}
