//! End-to-end test support: the real mail stack, the real binary.
//!
//! Each test binary starts one private Dovecot + Postfix (scripts/mailstack)
//! on its own port base; tests inside it run in parallel and keep apart by
//! address — every test has its own security inbox and its own reporters,
//! and every address has its own mailbox. Reporters send over SMTP and read
//! their mail over IMAP, as people do.

#![allow(dead_code)]

pub mod github;
pub mod pipeline;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A running mail stack.
pub struct Stack {
    pub dir: PathBuf,
    pub base: u16,
}

impl Stack {
    pub fn smtp_port(&self) -> u16 {
        self.base + 25
    }
    pub fn imap_port(&self) -> u16 {
        self.base + 143
    }
    pub fn imaps_port(&self) -> u16 {
        self.base + 993
    }
    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// Runs `scripts/mailstack <cmd> DIR` (stop-smtp, start-smtp, restart-imap).
    pub fn control(&self, cmd: &str) {
        let st = Command::new(root().join("scripts/mailstack"))
            .args([cmd, &self.dir.display().to_string()])
            .env("MAILSTACK_PORT_BASE", self.base.to_string())
            .stdin(Stdio::null())
            .status()
            .unwrap();
        assert!(st.success(), "mailstack {cmd} failed");
    }
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The stack for this test binary, started on first use. `base` must be
/// distinct per test binary (cargo runs them one after another, but a
/// leftover from an aborted run must not be reused).
pub fn stack(name: &str, base: u16) -> &'static Stack {
    static STACK: OnceLock<Stack> = OnceLock::new();
    STACK.get_or_init(|| {
        let dir = root().join("target").join(format!("mailstack-{name}"));
        let out = Command::new(root().join("scripts/mailstack"))
            .args(["start", &dir.display().to_string()])
            .env("MAILSTACK_PORT_BASE", base.to_string())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mail stack did not start: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Stack { dir, base }
    })
}

/// One secdesk instance: its own inbox, store and config.
pub struct Desk {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub inbox: String,
    pub child: Option<Child>,
    pub log: PathBuf,
}

impl Desk {
    /// A desk whose inbox is `sec-<name>@example.org`; `extra` is appended
    /// to the generated TOML (extra sections only).
    pub fn new(stack: &Stack, name: &str, imap_extra: &str, extra: &str) -> Desk {
        let dir = tempfile::tempdir().unwrap();
        let inbox = format!("sec-{name}@example.org");
        let config = dir.path().join("secdesk.toml");
        let text = format!(
            r#"
[project]
name = "Example"
security_address = "{inbox}"
policy_url = "https://example.org/SECURITY.md"

[imap]
host = "127.0.0.1"
port = {imap}
tls = "starttls"
ca_file = "{ca}"
username = "{inbox}"
password = "reporter"
timeout = "10s"
poll_interval = "1s"
{imap_extra}

[smtp]
host = "127.0.0.1"
port = {smtp}
tls = "starttls"
ca_file = "{ca}"
timeout = "10s"

[store]
path = "cases.db"
data_dir = "data"

{extra}
"#,
            imap = stack.imap_port(),
            smtp = stack.smtp_port(),
            ca = stack.ca().display(),
        );
        std::fs::write(&config, text).unwrap();
        let log = dir.path().join("secdesk.log");
        Desk {
            dir,
            config,
            inbox,
            child: None,
            log,
        }
    }

    /// Starts `secdesk run` with extra environment.
    pub fn start_with(&mut self, env: &[(&str, &str)]) {
        assert!(self.child.is_none(), "already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_secdesk"));
        cmd.arg("--config")
            .arg(&self.config)
            .arg("run")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        for (k, v) in env {
            cmd.env(k, v);
        }
        self.child = Some(cmd.spawn().unwrap());
    }

    /// Starts `secdesk run` and waits until it has opened the inbox once:
    /// mail sent before the first start is history (filed, never answered),
    /// so a test that sends right after starting must not race it.
    pub fn start(&mut self) {
        self.start_with(&[]);
        self.wait_opened(Duration::from_secs(30));
    }

    /// A first start and a clean stop on the empty inbox: secdesk has been
    /// running here before, so mail a test puts in the inbox while it is
    /// down is new mail, not history.
    pub fn first_start(&mut self) {
        self.start();
        assert!(self.stop().success(), "{}", self.log_text());
    }

    /// Waits until the daemon has recorded the inbox's state (its first
    /// start), or has exited — a test of a failing start sees the exit.
    pub fn wait_opened(&mut self, within: Duration) {
        let db = self.dir.path().join("cases.db");
        let deadline = Instant::now() + within;
        loop {
            let opened = db.exists()
                && rusqlite::Connection::open_with_flags(
                    &db,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
                )
                .and_then(|c| {
                    c.query_row("SELECT COUNT(*) FROM mailbox_state", [], |r| {
                        r.get::<_, i64>(0)
                    })
                })
                .is_ok_and(|n| n > 0);
            let exited = match self.child.as_mut() {
                Some(c) => c.try_wait().ok().flatten().is_some(),
                None => true,
            };
            if opened || exited {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "secdesk did not open the inbox within {within:?}\n{}",
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM, and the exit status within 10 s.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("not running");
        signal(&child, "TERM");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(st) = child.try_wait().unwrap() {
                return st;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!(
                    "secdesk did not stop within 10 s of SIGTERM\n{}",
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL, no questions asked.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Waits for the process to exit by itself (a crash point).
    pub fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("not running");
        let deadline = Instant::now() + within;
        loop {
            if let Some(st) = child.try_wait().unwrap() {
                return st;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("secdesk did not exit in time\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Runs a CLI command against this desk's config.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_secdesk"))
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .output()
            .unwrap()
    }

    pub fn cases(&self) -> Vec<serde_json::Value> {
        let o = self.cli(&["cases", "--json"]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice::<Vec<serde_json::Value>>(&o.stdout).unwrap()
    }

    pub fn show(&self, id: &str) -> serde_json::Value {
        let o = self.cli(&["show", id, "--json"]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&o.stdout).unwrap()
    }

    /// Waits until `cond(cases)` holds.
    pub fn wait_cases(
        &self,
        what: &str,
        within: Duration,
        cond: impl Fn(&[serde_json::Value]) -> bool,
    ) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + within;
        loop {
            let cases = self.cases();
            if cond(&cases) {
                return cases;
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out waiting for {what}; cases: {:#?}\noutbox: {:#?}\nlog:\n{}",
                    cases
                        .iter()
                        .map(|c| format!("{} {} {}", c["id"], c["state"], c["reporter"]))
                        .collect::<Vec<_>>(),
                    self.outbox_rows(),
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The outbox, one line per row, for failure messages.
    pub fn outbox_rows(&self) -> Vec<String> {
        let conn = rusqlite::Connection::open(self.dir.path().join("cases.db")).unwrap();
        let mut stmt = conn
            .prepare("SELECT id, case_id, kind, status, attempts, last_error, recipients FROM outbox ORDER BY id")
            .unwrap();
        stmt.query_map([], |r| {
            Ok(format!(
                "{} {:?} {} {} {} {:?} {}",
                r.get::<_, i64>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, String>(6)?
            ))
        })
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
    }

    /// The running daemon's peak resident memory in bytes: VmHWM from
    /// /proc/PID/status, the kernel's high-water mark (read it before
    /// stopping the daemon).
    pub fn peak_rss(&self) -> u64 {
        let pid = self.child.as_ref().expect("not running").id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no VmHWM in /proc/{pid}/status"));
        kib * 1024
    }

    /// How many messages the store holds (filed under a case or not).
    pub fn recorded_messages(&self) -> i64 {
        self.count("SELECT COUNT(*) FROM messages")
    }

    /// A number the store answers `sql` with.
    pub fn count(&self, sql: &str) -> i64 {
        let conn = rusqlite::Connection::open(self.dir.path().join("cases.db")).unwrap();
        conn.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    /// Waits until the reminder task has scanned at or after `at` (a
    /// stored RFC 3339 time, e.g. a case's `response_due_at`): from then on
    /// the absence of a reminder is a fact of the store, not of a sleep.
    pub fn wait_scan_after(&self, at: &str, within: Duration) {
        let conn = rusqlite::Connection::open(self.dir.path().join("cases.db")).unwrap();
        let deadline = Instant::now() + within;
        loop {
            let scanned: Option<String> = conn
                .query_row(
                    "SELECT value FROM service_state WHERE key = 'reminders_scanned_at'",
                    [],
                    |r| r.get(0),
                )
                .ok();
            if scanned.as_deref().is_some_and(|s| s >= at) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no reminder scan after {at} (last {scanned:?})\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// How many outbox rows (any status) are addressed to `address`.
    pub fn mails_to(&self, address: &str) -> i64 {
        self.count(&format!(
            "SELECT COUNT(*) FROM outbox, json_each(outbox.recipients) r WHERE r.value = '{}'",
            address.replace('\'', "''")
        ))
    }

    /// Waits until nothing is queued in the outbox (held rows wait for the
    /// rate limit by design and do not count).
    pub fn wait_outbox_empty(&self, within: Duration) {
        let deadline = Instant::now() + within;
        while self.count("SELECT COUNT(*) FROM outbox WHERE status = 'queued'") > 0 {
            assert!(
                Instant::now() < deadline,
                "the outbox did not empty: {:#?}",
                self.outbox_rows()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Desk {
    fn drop(&mut self) {
        self.kill();
    }
}

fn signal(child: &Child, sig: &str) {
    let _ = Command::new("kill")
        .args([&format!("-{sig}"), &child.id().to_string()])
        .status();
}

// ---------------------------------------------------------------------------
// A reporter's side: SMTP to send, IMAP to read.

/// Sends `raw` from `from` to `to` over SMTP (`from` empty: null sender).
pub fn send(stack: &Stack, from: &str, to: &[&str], raw: &[u8]) {
    let mut s = TcpStream::connect(("127.0.0.1", stack.smtp_port())).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let expect = |r: &mut BufReader<TcpStream>, code: &str| loop {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        assert!(
            line.starts_with(code),
            "SMTP: expected {code}, got {line:?}"
        );
        if line.as_bytes().get(3) != Some(&b'-') {
            break;
        }
    };
    expect(&mut r, "220");
    s.write_all(b"EHLO reporter.example\r\n").unwrap();
    expect(&mut r, "250");
    s.write_all(format!("MAIL FROM:<{from}>\r\n").as_bytes())
        .unwrap();
    expect(&mut r, "250");
    for t in to {
        s.write_all(format!("RCPT TO:<{t}>\r\n").as_bytes())
            .unwrap();
        expect(&mut r, "250");
    }
    s.write_all(b"DATA\r\n").unwrap();
    expect(&mut r, "354");
    // Dot-stuffing and CRLF line ends.
    let text = String::from_utf8_lossy(raw).replace("\r\n", "\n");
    let mut data = String::new();
    for line in text.split('\n') {
        if line.starts_with('.') {
            data.push('.');
        }
        data.push_str(line);
        data.push_str("\r\n");
    }
    data.push_str(".\r\n");
    s.write_all(data.as_bytes()).unwrap();
    expect(&mut r, "250");
    s.write_all(b"QUIT\r\n").unwrap();
}

/// A simple report from `from` with a unique Message-ID.
pub fn report(from: &str, to: &str, subject: &str, body: &str) -> (String, Vec<u8>) {
    let mid = format!("{}.{}@reporter.example", rand_token(), std::process::id());
    let raw = format!(
        "From: Reporter <{from}>\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{mid}>\r\n\
         Date: Wed, 25 Nov 2026 09:00:00 +0000\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    );
    (mid, raw.into_bytes())
}

pub fn rand_token() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{t:x}.{}", N.fetch_add(1, Ordering::Relaxed))
}

type Session = async_imap::Session<tokio::net::TcpStream>;

/// Runs `f` on an IMAP session logged in as `user` (plain IMAP on loopback:
/// the reporter's side needs no TLS to read its own test mailbox).
fn with_session<T: Send + 'static>(
    stack: &Stack,
    user: &str,
    f: impl for<'a> FnOnce(
            &'a mut Session,
        )
            -> std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>
        + Send
        + 'static,
) -> T {
    let port = stack.imap_port();
    let user = user.to_string();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let mut client = async_imap::Client::new(tcp);
        client.read_response().await.unwrap();
        let mut session = client
            .login(&user, "reporter")
            .await
            .map_err(|e| e.0)
            .unwrap();
        let out = f(&mut session).await;
        let _ = session.logout().await;
        out
    })
}

/// Every message in `user`'s `mailbox`, raw, in UID order.
pub fn mailbox(stack: &Stack, user: &str, mailbox: &str) -> Vec<Vec<u8>> {
    let mailbox = mailbox.to_string();
    with_session(stack, user, move |session| {
        Box::pin(async move {
            use futures::TryStreamExt;
            let mb = session.examine(&mailbox).await.unwrap();
            if mb.exists == 0 {
                return Vec::new();
            }
            let fetches: Vec<_> = session
                .uid_fetch("1:*", "(UID BODY.PEEK[])")
                .await
                .unwrap()
                .try_collect()
                .await
                .unwrap();
            let mut v: Vec<(u32, Vec<u8>)> = fetches
                .iter()
                .filter_map(|f| Some((f.uid?, f.body()?.to_vec())))
                .collect();
            v.sort_by_key(|(u, _)| *u);
            v.into_iter().map(|(_, b)| b).collect()
        })
    })
}

/// How many messages `user`'s INBOX holds, without fetching any.
pub fn mailbox_count(stack: &Stack, user: &str) -> u32 {
    with_session(stack, user, |session| {
        Box::pin(async move { session.examine("INBOX").await.unwrap().exists })
    })
}

/// Waits until `user`'s INBOX holds at least `n` messages; returns them.
pub fn wait_inbox(stack: &Stack, user: &str, n: usize, within: Duration) -> Vec<Vec<u8>> {
    let deadline = Instant::now() + within;
    loop {
        let msgs = mailbox(stack, user, "INBOX");
        if msgs.len() >= n {
            return msgs;
        }
        if Instant::now() > deadline {
            panic!(
                "{user}: {} messages after {within:?}, wanted {n}",
                msgs.len()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A header's value (first occurrence, unfolded).
pub fn header(raw: &[u8], name: &str) -> Option<String> {
    let msg = mail_parser::MessageParser::default().parse(raw)?;
    msg.header_raw(name)
        .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
}

pub fn subject(raw: &[u8]) -> String {
    mail_parser::MessageParser::default()
        .parse(raw)
        .and_then(|m| m.subject().map(String::from))
        .unwrap_or_default()
}

pub fn body_text(raw: &[u8]) -> String {
    mail_parser::MessageParser::default()
        .parse(raw)
        .and_then(|m| m.body_text(0).map(|b| b.into_owned()))
        .unwrap_or_default()
}

pub fn sample(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(name),
    )
    .unwrap()
}

/// Appends `raw` to `user`'s `mailbox` (as a mail client saving to Sent does).
pub fn append(stack: &Stack, user: &str, mailbox: &str, raw: &[u8]) {
    append_dated(stack, user, mailbox, raw, None)
}

/// APPENDs `raw` with an INTERNALDATE (`"23-Nov-2024 09:00:00 +0000"`): mail
/// that arrived long ago, as a mailbox with history holds it.
pub fn append_dated(stack: &Stack, user: &str, mailbox: &str, raw: &[u8], date: Option<&str>) {
    let (mailbox, raw, date) = (mailbox.to_string(), raw.to_vec(), date.map(String::from));
    with_session(stack, user, move |session| {
        Box::pin(async move {
            let date = date.map(|d| format!("\"{d}\""));
            session
                .append(&mailbox, Some("(\\Seen)"), date.as_deref(), &raw)
                .await
                .unwrap();
        })
    })
}
