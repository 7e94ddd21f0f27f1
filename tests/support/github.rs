//! A fake GitHub: the repository security advisory endpoints of the REST
//! API (version 2022-11-28), served over real HTTP/1.1 on 127.0.0.1.
//!
//! The client under test talks to it over TCP exactly as it talks to
//! api.github.com (plain http is what `check_api_url` allows to loopback).
//! It is a std thread with a std listener, one thread per connection, so it
//! works from a plain `#[test]` and from inside a `#[tokio::test]` alike.
//! Every answer is closed after one exchange (`Connection: close`).
//!
//! What it checks, in GitHub's order and with GitHub's answers:
//! - a `User-Agent` (403 "Request forbidden by administrative rules"),
//! - `X-GitHub-Api-Version: 2022-11-28` (400 "API version … not supported";
//!   GitHub defaults a missing one, the fake insists: secdesk must send it),
//! - `Accept: application/vnd.github+json` (415; GitHub is laxer, the fake
//!   insists for the same reason),
//! - `Authorization: Bearer <token>` (401 "Bad credentials"),
//! - the repository (404 "Not Found"; owner and name compare without case),
//! - the body: JSON (400 "Problems parsing JSON"), the request schema from
//!   github/rest-api-description (422 "Validation Failed" listing the schema
//!   errors), and the two rules GitHub states only in prose: `severity` and
//!   `cvss_vector_string` are one or the other, and `severity` cannot be
//!   set once the advisory has a CVSS vector (422 with `errors[]` objects
//!   `{resource: "RepositoryAdvisory", field, code: "invalid"}`); a CVSS
//!   vector GitHub could not score is refused the same way.
//!
//! Routes: `POST /repos/{o}/{r}/security-advisories` (201, a draft),
//! `GET` and `PATCH …/{ghsa_id}` (200; 404 for an unknown id), and
//! `POST …/{ghsa_id}/cve` (202 `{}`; 404 for an unknown id). Anything else
//! is 404, as GitHub answers an unknown route.
//!
//! The schemas are read from `$SECDESK_GITHUB_SCHEMAS` or, by default,
//! tests/data (copies of the shared schemas: GitHub's OpenAPI description
//! at the commit the shared schemas README names).

#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{json, Map, Value};

/// The only API version the fake serves.
pub const API_VERSION: &str = "2022-11-28";

/// The most of a request head / body the fake reads.
const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 8 << 20;

/// GHSA ids use these 20 characters (no vowels, no look-alikes).
const GHSA_ALPHABET: &[u8] = b"23456789cfghjmpqrvwx";

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `POST`, `PATCH`, …
    pub method: String,
    /// The request target as sent (path and any query).
    pub path: String,
    /// Every header in order, names lowercased, values as sent.
    pub headers: Vec<(String, String)>,
    /// The body parsed as JSON; `None` when empty or not JSON.
    pub body: Option<Value>,
    /// The body's bytes.
    pub raw_body: Vec<u8>,
}

impl Recorded {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A running fake GitHub; stops (and closes any stalled connection) when
/// dropped.
pub struct FakeGithub {
    /// `http://127.0.0.1:PORT`, the API root to configure.
    pub url: String,
    /// `owner/repo`, the one repository it serves.
    pub repository: String,
    addr: SocketAddr,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    stop: AtomicBool,
    state: Mutex<State>,
}

struct State {
    owner: String,
    name: String,
    token: String,
    url: String,
    requests: Vec<Recorded>,
    advisories: Vec<Stored>,
    created: u64,
    scripted: VecDeque<Scripted>,
    /// Connections a stall holds open until the fake is dropped.
    held: Vec<TcpStream>,
}

enum Scripted {
    Answer {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        chunked: bool,
    },
    Stall,
}

/// An advisory as stored: the fields the requests set, and what GitHub
/// keeps itself.
struct Stored {
    ghsa_id: String,
    fields: Map<String, Value>,
    state: String,
    created_at: String,
    updated_at: String,
    published_at: Option<String>,
    closed_at: Option<String>,
}

/// An answer: status, extra headers, body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    chunked: bool,
}

impl Answer {
    fn json(status: u16, body: &Value) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            body: serde_json::to_vec(body).unwrap(),
            chunked: false,
        }
    }

    /// GitHub's error shape: message, documentation_url, status.
    fn error(status: u16, message: &str) -> Answer {
        Answer::json(
            status,
            &json!({
                "message": message,
                "documentation_url": "https://docs.github.com/rest/security-advisories/repository-advisories",
                "status": status.to_string(),
            }),
        )
    }

    fn not_found() -> Answer {
        Answer::error(404, "Not Found")
    }

    /// 422 "Validation Failed" with `errors[]` (strings or objects).
    fn invalid(errors: Vec<Value>) -> Answer {
        Answer::json(
            422,
            &json!({
                "message": "Validation Failed",
                "errors": errors,
                "documentation_url": "https://docs.github.com/rest/security-advisories/repository-advisories",
                "status": "422",
            }),
        )
    }

    /// 422 for one field, as GitHub words a rule it checks itself.
    fn invalid_field(field: &str, message: &str) -> Answer {
        Answer::invalid(vec![json!({
            "resource": "RepositoryAdvisory",
            "field": field,
            "code": "invalid",
            "message": message,
        })])
    }
}

impl FakeGithub {
    /// Serves `owner_repo` to requests bearing `token`, on an ephemeral
    /// port of 127.0.0.1.
    pub fn start(owner_repo: &str, token: &str) -> FakeGithub {
        let (owner, name) = owner_repo.split_once('/').unwrap_or_else(|| {
            panic!("FakeGithub::start: expected owner/repo, got {owner_repo:?}")
        });
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let url = format!("http://{addr}");
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            state: Mutex::new(State {
                owner: owner.to_string(),
                name: name.to_string(),
                token: token.to_string(),
                url: url.clone(),
                requests: Vec::new(),
                advisories: Vec::new(),
                created: 0,
                scripted: VecDeque::new(),
                held: Vec::new(),
            }),
        });
        let accept = shared.clone();
        let thread = std::thread::Builder::new()
            .name("fake-github".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    if accept.stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let conn = accept.clone();
                    let _ = std::thread::Builder::new()
                        .name("fake-github-conn".into())
                        .spawn(move || serve(&conn, stream));
                }
            })
            .unwrap();
        FakeGithub {
            url,
            repository: owner_repo.to_string(),
            addr,
            shared,
            thread: Some(thread),
        }
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state().requests.clone()
    }

    /// The stored advisories, in creation order, as GitHub shows them
    /// (`repository-advisory` JSON).
    pub fn advisories(&self) -> Vec<Value> {
        let st = self.state();
        st.advisories.iter().map(|a| st.render(a)).collect()
    }

    /// The next request (whatever it is) is recorded and answered `status`
    /// with `body` (sent as JSON, Content-Length set). Calls queue up.
    pub fn fail_next(&self, status: u16, body: &str) {
        self.fail_next_with(status, &[], body);
    }

    /// As [`FakeGithub::fail_next`], with extra response headers
    /// (`x-ratelimit-remaining`, `retry-after`, `location`, …).
    pub fn fail_next_with(&self, status: u16, headers: &[(&str, &str)], body: &str) {
        self.script(Scripted::Answer {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: body.as_bytes().to_vec(),
            chunked: false,
        });
    }

    /// As [`FakeGithub::fail_next`], but the body goes out chunked, with no
    /// Content-Length: the client learns its size only by reading it.
    pub fn answer_next_chunked(&self, status: u16, body: &str) {
        self.script(Scripted::Answer {
            status,
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
            chunked: true,
        });
    }

    /// The next request is read and recorded, then never answered: the
    /// connection stays open until the fake is dropped.
    pub fn stall_next(&self) {
        self.script(Scripted::Stall);
    }

    fn script(&self, s: Scripted) {
        self.state().scripted.push_back(s);
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for FakeGithub {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.state().held.clear();
    }
}

/// Checks `body` against the create schema; the errors as text.
pub fn create_schema_errors(body: &Value) -> Vec<String> {
    schema_errors(create_validator(), body)
}

/// Checks `body` against the update schema; the errors as text.
pub fn update_schema_errors(body: &Value) -> Vec<String> {
    schema_errors(update_validator(), body)
}

fn schema_errors(validator: &jsonschema::Validator, body: &Value) -> Vec<String> {
    validator
        .iter_errors(body)
        .map(|e| {
            let at = e.instance_path().as_str().to_string();
            if at.is_empty() {
                e.to_string()
            } else {
                format!("{at}: {e}")
            }
        })
        .collect()
}

fn schemas_dir() -> PathBuf {
    std::env::var_os("SECDESK_GITHUB_SCHEMAS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data")))
}

fn load_validator(file: &str) -> jsonschema::Validator {
    let path = schemas_dir().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "the fake GitHub needs {} ({e}); set SECDESK_GITHUB_SCHEMAS to the directory \
             holding github-advisory-create.json and github-advisory-update.json",
            path.display()
        )
    });
    let schema: Value = serde_json::from_str(&text).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

fn create_validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| load_validator("github-advisory-create.json"))
}

fn update_validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| load_validator("github-advisory-update.json"))
}

// ---------------------------------------------------------------------------
// HTTP/1.1, one exchange per connection.

struct Request {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn serve(shared: &Shared, mut stream: TcpStream) {
    if shared.stop.load(Ordering::SeqCst) {
        return;
    }
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(10)));
    let request = match read_request(&mut stream) {
        Ok(r) => r,
        Err(Some(answer)) => return write_answer(&mut stream, &answer),
        Err(None) => return,
    };
    let body = (!request.body.is_empty())
        .then(|| serde_json::from_slice(&request.body).ok())
        .flatten();
    let mut st = shared.state.lock().unwrap_or_else(|e| e.into_inner());
    st.requests.push(Recorded {
        method: request.method.clone(),
        path: request.target.clone(),
        headers: request.headers.clone(),
        body,
        raw_body: request.body.clone(),
    });
    let answer = match st.scripted.pop_front() {
        Some(Scripted::Stall) => {
            st.held.push(stream);
            return;
        }
        Some(Scripted::Answer {
            status,
            headers,
            body,
            chunked,
        }) => Answer {
            status,
            headers,
            body,
            chunked,
        },
        None => st.handle(&request),
    };
    drop(st);
    write_answer(&mut stream, &answer);
}

/// The request, or the answer to a malformed one (`None`: the peer left).
fn read_request(stream: &mut TcpStream) -> Result<Request, Option<Answer>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if buf.len() > MAX_HEAD {
            return Err(Some(Answer::error(431, "Request Header Fields Too Large")));
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return Err(None),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut rest = buf[head_end + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Some(Answer::error(400, "Bad Request")));
    };
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return Err(Some(Answer::error(505, "HTTP Version Not Supported")));
    }
    let mut headers = Vec::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err(Some(Answer::error(400, "Bad Request")));
        };
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let get = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.as_str())
    };
    if get("transfer-encoding").is_some() {
        return Err(Some(Answer::error(
            411,
            "the fake GitHub takes bodies with a Content-Length only",
        )));
    }
    let length = match get("content-length") {
        None => 0,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if n <= MAX_BODY => n,
            Ok(_) => return Err(Some(Answer::error(413, "Payload Too Large"))),
            Err(_) => return Err(Some(Answer::error(400, "Bad Request"))),
        },
    };
    while rest.len() < length {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return Err(None),
            Ok(n) => rest.extend_from_slice(&chunk[..n]),
        }
    }
    rest.truncate(length);
    Ok(Request {
        method: method.to_string(),
        target: target.to_string(),
        headers,
        body: rest,
    })
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        411 => "Length Required",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

fn write_answer(stream: &mut TcpStream, a: &Answer) {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: application/json; charset=utf-8\r\n\
         X-GitHub-Api-Version-Selected: {API_VERSION}\r\nConnection: close\r\n",
        a.status,
        reason(a.status)
    );
    for (n, v) in &a.headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    if a.chunked {
        head.push_str("Transfer-Encoding: chunked\r\n\r\n");
    } else {
        head.push_str(&format!("Content-Length: {}\r\n\r\n", a.body.len()));
    }
    // Write errors are the client giving up (a refused oversized answer):
    // nothing to do about them.
    if stream.write_all(head.as_bytes()).is_err() {
        return;
    }
    if a.chunked {
        for piece in a.body.chunks(64 * 1024) {
            let framed = [format!("{:x}\r\n", piece.len()).as_bytes(), piece, b"\r\n"].concat();
            if stream.write_all(&framed).is_err() {
                return;
            }
        }
        let _ = stream.write_all(b"0\r\n\r\n");
    } else {
        let _ = stream.write_all(&a.body);
    }
    let _ = stream.flush();
    let _ = stream.shutdown(std::net::Shutdown::Write);
}

// ---------------------------------------------------------------------------
// GitHub's behaviour.

fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn set(fields: &Map<String, Value>, key: &str) -> bool {
    fields.get(key).is_some_and(|v| !v.is_null())
}

/// A CVSS 3.x vector's base score and severity; `None` if GitHub could not
/// score it.
fn score(vector: &str) -> Option<(f64, &'static str)> {
    let v = cvss::v3::Vector::from_str(vector).ok()?;
    let score = v.base_score().value();
    let severity = match v.severity().as_str() {
        "none" => "low",
        s => s,
    };
    Some((score, severity))
}

impl State {
    fn handle(&mut self, req: &Request) -> Answer {
        let header = |n: &str| {
            req.headers
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.as_str())
        };
        if header("user-agent").is_none_or(|v| v.trim().is_empty()) {
            return Answer::error(
                403,
                "Request forbidden by administrative rules. Please make sure your request has \
                 a User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required).",
            );
        }
        match header("x-github-api-version") {
            Some(API_VERSION) => {}
            Some(v) => return Answer::error(400, &format!("API version '{v}' is not supported.")),
            None => {
                return Answer::error(
                    400,
                    "the fake GitHub requires X-GitHub-Api-Version: 2022-11-28",
                )
            }
        }
        if header("accept") != Some("application/vnd.github+json") {
            return Answer::error(
                415,
                &format!(
                    "Unsupported 'Accept' header: {:?}. Must accept 'application/vnd.github+json'",
                    header("accept").unwrap_or_default()
                ),
            );
        }
        let bearer = format!("Bearer {}", self.token);
        if header("authorization") != Some(bearer.as_str()) {
            return Answer::error(401, "Bad credentials");
        }

        let path = req.target.split('?').next().unwrap_or_default();
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let (owner, name, tail) = match segments.as_slice() {
            ["repos", owner, name, "security-advisories", tail @ ..] => (*owner, *name, tail),
            _ => return Answer::not_found(),
        };
        if !owner.eq_ignore_ascii_case(&self.owner) || !name.eq_ignore_ascii_case(&self.name) {
            return Answer::not_found();
        }
        match (req.method.as_str(), tail) {
            ("POST", []) => self.create(&req.body),
            ("GET", [id]) => match self.find(id) {
                Some(i) => Answer::json(200, &self.render(&self.advisories[i])),
                None => Answer::not_found(),
            },
            ("PATCH", [id]) => self.update(id, &req.body),
            ("POST", [id, "cve"]) => match self.find(id) {
                Some(_) => Answer::json(202, &json!({})),
                None => Answer::not_found(),
            },
            _ => Answer::not_found(),
        }
    }

    fn find(&self, ghsa_id: &str) -> Option<usize> {
        self.advisories.iter().position(|a| a.ghsa_id == ghsa_id)
    }

    fn create(&mut self, body: &[u8]) -> Answer {
        let fields = match parse_object(body) {
            Ok(f) => f,
            Err(a) => return a,
        };
        let errors = create_schema_errors(&Value::Object(fields.clone()));
        if !errors.is_empty() {
            return Answer::invalid(errors.into_iter().map(Value::String).collect());
        }
        if let Some(a) = check_severity(&fields, None) {
            return a;
        }
        self.created += 1;
        let ghsa_id = self.ghsa_id(self.created);
        let at = now();
        let mut fields = fields;
        fields.remove("start_private_fork");
        let stored = Stored {
            ghsa_id,
            fields,
            state: "draft".into(),
            created_at: at.clone(),
            updated_at: at,
            published_at: None,
            closed_at: None,
        };
        let answer = Answer::json(201, &self.render(&stored));
        self.advisories.push(stored);
        answer
    }

    fn update(&mut self, ghsa_id: &str, body: &[u8]) -> Answer {
        let Some(i) = self.find(ghsa_id) else {
            return Answer::not_found();
        };
        let fields = match parse_object(body) {
            Ok(f) => f,
            Err(a) => return a,
        };
        let errors = update_schema_errors(&Value::Object(fields.clone()));
        if !errors.is_empty() {
            return Answer::invalid(errors.into_iter().map(Value::String).collect());
        }
        let current = &self.advisories[i];
        if let Some(a) = check_severity(&fields, Some(&current.fields)) {
            return a;
        }
        if let Some(state) = fields.get("state").and_then(Value::as_str) {
            if current.state == "published" && state != "published" {
                return Answer::invalid_field(
                    "state",
                    "A published advisory cannot be moved back to draft or closed.",
                );
            }
        }
        let at = now();
        let stored = &mut self.advisories[i];
        for (k, v) in fields {
            if k == "state" {
                let state = v.as_str().unwrap_or_default().to_string();
                match state.as_str() {
                    "published" if stored.published_at.is_none() => {
                        stored.published_at = Some(at.clone());
                    }
                    "closed" => stored.closed_at = Some(at.clone()),
                    "draft" => stored.closed_at = None,
                    _ => {}
                }
                stored.state = state;
            } else {
                // A vector set clears a severity given by hand, and back.
                if k == "cvss_vector_string" && !v.is_null() {
                    stored.fields.remove("severity");
                }
                if k == "severity" && !v.is_null() {
                    stored.fields.remove("cvss_vector_string");
                }
                stored.fields.insert(k, v);
            }
        }
        stored.updated_at = at;
        Answer::json(200, &self.render(&self.advisories[i]))
    }

    /// A deterministic GHSA id for the `n`th advisory of this repository.
    fn ghsa_id(&self, n: u64) -> String {
        // FNV-1a of the repository, then splitmix64 with the counter.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in format!("{}/{}", self.owner, self.name)
            .to_ascii_lowercase()
            .bytes()
        {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        let mut z = h.wrapping_add(n.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        let mut chars = Vec::with_capacity(12);
        for _ in 0..12 {
            chars.push(GHSA_ALPHABET[(z % 20) as usize]);
            z /= 20;
        }
        let s = String::from_utf8(chars).unwrap();
        format!("GHSA-{}-{}-{}", &s[0..4], &s[4..8], &s[8..12])
    }

    /// The advisory as GitHub shows it (`repository-advisory`).
    fn render(&self, a: &Stored) -> Value {
        let f = &a.fields;
        let text = |k: &str| f.get(k).cloned().unwrap_or(Value::Null);
        let list = |k: &str| match f.get(k) {
            Some(Value::Array(v)) => v.clone(),
            _ => Vec::new(),
        };
        let vector = f
            .get("cvss_vector_string")
            .and_then(Value::as_str)
            .map(String::from);
        let (severity, cvss) = match vector.as_deref().and_then(score) {
            Some((s, sev)) => (json!(sev), json!({"vector_string": vector, "score": s})),
            None => (
                text("severity"),
                json!({"vector_string": null, "score": null}),
            ),
        };
        let cve_id = text("cve_id");
        let mut identifiers = vec![json!({"type": "GHSA", "value": a.ghsa_id})];
        if let Some(cve) = cve_id.as_str() {
            identifiers.push(json!({"type": "CVE", "value": cve}));
        }
        let vulnerabilities: Vec<Value> = list("vulnerabilities")
            .iter()
            .map(|v| {
                let get = |k: &str| v.get(k).cloned().unwrap_or(Value::Null);
                json!({
                    "package": {
                        "ecosystem": v["package"]["ecosystem"],
                        "name": v["package"].get("name").cloned().unwrap_or(Value::Null),
                    },
                    "vulnerable_version_range": get("vulnerable_version_range"),
                    "patched_versions": get("patched_versions"),
                    "vulnerable_functions": match v.get("vulnerable_functions") {
                        Some(Value::Array(a)) => Value::Array(a.clone()),
                        _ => json!([]),
                    },
                })
            })
            .collect();
        let cwe_ids = list("cwe_ids");
        let cwes: Vec<Value> = cwe_ids
            .iter()
            .filter_map(Value::as_str)
            .map(|id| json!({"cwe_id": id, "name": cwe_name(id)}))
            .collect();
        let credits = list("credits");
        let credits_detailed: Vec<Value> = credits
            .iter()
            .map(|c| {
                json!({
                    "user": user(c["login"].as_str().unwrap_or_default(), 0),
                    "type": c["type"],
                    "state": "pending",
                })
            })
            .collect();
        let (owner, name) = (&self.owner, &self.name);
        json!({
            "ghsa_id": a.ghsa_id,
            "cve_id": cve_id,
            "url": format!("{}/repos/{owner}/{name}/security-advisories/{}", self.url, a.ghsa_id),
            "html_url": format!("https://github.com/{owner}/{name}/security/advisories/{}", a.ghsa_id),
            "summary": text("summary"),
            "description": text("description"),
            "severity": severity,
            "author": user("secdesk-bot", 1),
            "publisher": null,
            "identifiers": identifiers,
            "state": a.state,
            "created_at": a.created_at,
            "updated_at": a.updated_at,
            "published_at": a.published_at,
            "closed_at": a.closed_at,
            "withdrawn_at": null,
            "submission": null,
            "vulnerabilities": vulnerabilities,
            "cvss": cvss,
            "cwes": cwes,
            "cwe_ids": cwe_ids,
            "credits": credits,
            "credits_detailed": credits_detailed,
            "collaborating_users": list("collaborating_users"),
            "collaborating_teams": list("collaborating_teams"),
            "private_fork": null,
        })
    }
}

/// The body as a JSON object, or GitHub's 400.
fn parse_object(body: &[u8]) -> Result<Map<String, Value>, Answer> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(Answer::invalid(vec![json!(
            "Invalid request. The request body must be a JSON object."
        )])),
        Err(_) => Err(Answer::error(400, "Problems parsing JSON")),
    }
}

/// The prose rules: severity and cvss_vector_string are one or the other;
/// severity cannot be set once the advisory has a vector (`current`, on
/// update, unless this update clears the vector); a vector must score.
fn check_severity(
    fields: &Map<String, Value>,
    current: Option<&Map<String, Value>>,
) -> Option<Answer> {
    if set(fields, "severity") && set(fields, "cvss_vector_string") {
        return Some(Answer::invalid_field(
            "severity",
            "You must choose between setting severity or cvss_vector_string.",
        ));
    }
    if let Some(current) = current {
        let vector_after = match fields.get("cvss_vector_string") {
            Some(v) => !v.is_null(),
            None => set(current, "cvss_vector_string"),
        };
        if set(fields, "severity") && vector_after {
            return Some(Answer::invalid_field(
                "severity",
                "Severity cannot be changed once a CVSS vector is set.",
            ));
        }
    }
    if let Some(v) = fields.get("cvss_vector_string").and_then(Value::as_str) {
        // GitHub also takes CVSS 4.0 vectors; the fake scores 3.x only.
        if score(v).is_none() && !v.starts_with("CVSS:4.0/") {
            return Some(Answer::invalid_field(
                "cvss_vector_string",
                "The CVSS vector string is invalid.",
            ));
        }
    }
    None
}

fn cwe_name(id: &str) -> &'static str {
    match id {
        "CWE-20" => "Improper Input Validation",
        "CWE-22" => {
            "Improper Limitation of a Pathname to a Restricted Directory ('Path Traversal')"
        }
        "CWE-78" => {
            "Improper Neutralization of Special Elements used in an OS Command ('OS Command Injection')"
        }
        "CWE-79" => {
            "Improper Neutralization of Input During Web Page Generation ('Cross-site Scripting')"
        }
        "CWE-89" => {
            "Improper Neutralization of Special Elements used in an SQL Command ('SQL Injection')"
        }
        _ => "Unknown weakness",
    }
}

fn user(login: &str, id: u64) -> Value {
    json!({
        "login": login,
        "id": id,
        "type": "User",
        "site_admin": false,
        "html_url": format!("https://github.com/{login}"),
    })
}
