//! GitHub's repository security advisory API (issue 14): create a draft
//! advisory from secdesk's GHSA draft, update it, request a CVE for it.
//!
//! This module owns the HTTP exchange and the meaning of GitHub's answers;
//! the advisory body is built elsewhere ([`crate::advisory`]). It must never
//! build a URL from unchecked text (the repository and every GHSA id are
//! checked against GitHub's forms first), never send the token anywhere but
//! to the configured API host over TLS (plain HTTP only to loopback, for
//! tests), and never put the token in an error or a log line.
//!
//! The client is async, like every other network edge of secdesk: the
//! synchronous CLI runs it on a current-thread runtime (`block_on`), as
//! `secdesk check` does for IMAP and SMTP, and the daemon could call it on
//! its own runtime. reqwest's blocking client would start a second runtime
//! on a thread of its own and panics when called from async code.
//!
//! Requests follow GitHub's REST conventions for API version 2022-11-28:
//! `Accept: application/vnd.github+json`, `X-GitHub-Api-Version`, a
//! `User-Agent` (GitHub refuses requests without one), a Bearer token.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;

/// Where GitHub.com's REST API lives; GitHub Enterprise Server uses
/// `https://HOST/api/v3`.
pub const DEFAULT_API_URL: &str = "https://api.github.com";

/// The REST API version secdesk is written against. GitHub answers 400 to
/// a version it no longer supports, so a change here is a deliberate one.
pub const API_VERSION: &str = "2022-11-28";

/// The most of a response body secdesk reads. A repository advisory is a
/// few KiB (the description is capped at 65,535 characters); anything far
/// larger is not GitHub answering.
pub const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// How long a GitHub message or error entry may grow in an error line.
const MAX_MESSAGE_CHARS: usize = 300;

/// How many of GitHub's `errors[]` entries a 422 error line names.
const MAX_VALIDATION_ERRORS: usize = 10;

/// Settings for the advisory API, built by the config from `[github]`
/// (`repository`, `token_file`, `api_url`).
#[derive(Clone)]
pub struct GithubSettings {
    /// The API root, [`DEFAULT_API_URL`] unless configured.
    pub api_url: String,
    /// `owner/repo`, the repository whose advisories these are.
    pub repository: String,
    /// A fine-grained token with "Repository security advisories: write"
    /// (or a classic token with `repo` / `repository_advisories:write`).
    pub token: String,
    /// The limit on one request, from connecting to the last body byte.
    pub timeout: Duration,
}

impl fmt::Debug for GithubSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GithubSettings")
            .field("api_url", &self.api_url)
            .field("repository", &self.repository)
            .field("token", &"[redacted]")
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// What GitHub says about an advisory it created or updated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// `GHSA-xxxx-xxxx-xxxx`, checked against that form.
    pub ghsa_id: String,
    /// The advisory's page for people.
    pub html_url: String,
    /// The CVE id, once one is assigned (or was given in the body).
    pub cve_id: Option<String>,
}

mod error;
pub use error::Error;

pub type Result<T> = std::result::Result<T, Error>;

/// Checks `owner/repo` against GitHub's forms: an owner of 1 to 39 letters,
/// digits, '-' or '_' (enterprise-managed users) not starting with '-', and
/// a name of 1 to 100 letters, digits, '-', '_' or '.' other than `.` and
/// `..`. Every accepted character is unreserved in a URL path.
pub fn check_repository(repository: &str) -> Result<(&str, &str)> {
    let bad = || Error::Repository(repository.to_string());
    let (owner, name) = repository.split_once('/').ok_or_else(bad)?;
    let owner_ok = (1..=39).contains(&owner.len())
        && !owner.starts_with('-')
        && owner
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    let name_ok = (1..=100).contains(&name.len())
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if owner_ok && name_ok {
        Ok((owner, name))
    } else {
        Err(bad())
    }
}

/// Checks a GHSA id: `GHSA-` and three groups of four lowercase letters or
/// digits, joined by '-'.
pub fn check_ghsa_id(ghsa_id: &str) -> Result<&str> {
    let ok = ghsa_id.strip_prefix("GHSA-").is_some_and(|rest| {
        let groups: Vec<&str> = rest.split('-').collect();
        groups.len() == 3
            && groups.iter().all(|g| {
                g.len() == 4
                    && g.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            })
    });
    if ok {
        Ok(ghsa_id)
    } else {
        Err(Error::GhsaId(ghsa_id.to_string()))
    }
}

/// Parses the API root: https, or http to a loopback host only (a test
/// server); no credentials, query or fragment. The trailing '/' is dropped
/// so endpoint paths append cleanly.
pub fn check_api_url(api_url: &str) -> Result<Url> {
    let bad = |reason| Error::ApiUrl {
        url: api_url.to_string(),
        reason,
    };
    let url = Url::parse(api_url).map_err(|_| bad("not a URL"))?;
    let host = url.host_str().ok_or_else(|| bad("no host in the URL"))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(host) => {}
        "http" => {
            return Err(bad(
                "plain http is allowed only to a loopback host (127.0.0.1, ::1, localhost); \
                 use https",
            ))
        }
        _ => return Err(bad("expected an https:// URL")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            "credentials do not belong in the URL; the token goes in github.token_file",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("expected no query or fragment"));
    }
    Ok(url)
}

/// A loopback host as the URL parser leaves it (IPv6 in brackets).
fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

/// Which call is being made: names it in errors and says what a 403 or a
/// 404 means for it.
#[derive(Clone, Copy)]
enum Call<'a> {
    Create,
    Update(&'a str),
    RequestCve(&'a str),
}

impl Call<'_> {
    fn action(self, repository: &str) -> String {
        match self {
            Call::Create => format!("creating a draft advisory in {repository}"),
            Call::Update(id) => format!("updating advisory {id} in {repository}"),
            Call::RequestCve(id) => format!("requesting a CVE for advisory {id} in {repository}"),
        }
    }

    fn forbidden_hint(self, repository: &str) -> String {
        let permission = format!(
            "the token needs the \"Repository security advisories: write\" permission on \
             {repository} (a classic token: the repo or repository_advisories:write scope)"
        );
        match self {
            Call::RequestCve(_) => format!(
                "{permission}, and GitHub takes CVE requests only for a public repository \
                 from its admins and security managers"
            ),
            _ => format!("{permission}, and its owner must be an admin or security manager of it"),
        }
    }

    fn not_found(self, repository: &str, host: &str) -> String {
        let cannot_see = "or the token cannot see it (a fine-grained token must list the \
                          repository)";
        match self {
            Call::Create => format!("{host} has no repository {repository}, {cannot_see}"),
            Call::Update(id) | Call::RequestCve(id) => {
                format!("{repository} has no advisory {id}, {cannot_see}")
            }
        }
    }
}

/// The advisory API client for one repository.
pub struct Client {
    http: reqwest::Client,
    /// The checked API root.
    base: Url,
    /// `host[:port]` of the API, for error messages.
    host: String,
    owner: String,
    name: String,
    /// Only to scrub it out of text GitHub sends back.
    token: String,
    timeout: Duration,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base.as_str())
            .field("repository", &self.repository())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Checks the settings and builds the HTTP client (rustls with ring and
    /// the webpki roots, from [`crate::tls::client_config`]). Sends nothing.
    pub fn new(settings: GithubSettings) -> Result<Client> {
        let base = check_api_url(&settings.api_url)?;
        let (owner, name) = check_repository(&settings.repository)?;
        let (owner, name) = (owner.to_string(), name.to_string());
        let host = match base.port() {
            Some(port) => format!("{}:{port}", base.host_str().unwrap_or_default()),
            None => base.host_str().unwrap_or_default().to_string(),
        };
        let token = settings.token;
        // GitHub's tokens are ASCII letters, digits and '_'; whitespace here
        // is a copying accident that would otherwise surface as a 401.
        if token.is_empty() {
            return Err(Error::Token("the token is empty"));
        }
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::Token(
                "the token holds spaces, line breaks or other characters a token never has",
            ));
        }
        let mut auth = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| Error::Token("the token cannot be sent in an HTTP header"))?;
        auth.set_sensitive(true);

        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/vnd.github+json"),
        );
        headers.insert(
            "x-github-api-version",
            HeaderValue::from_static(API_VERSION),
        );
        headers.insert(header::AUTHORIZATION, auth);

        let setup = |reason: String| Error::Setup {
            host: host.clone(),
            reason,
        };
        let tls = crate::tls::client_config(None).map_err(|e| setup(format!("{e:#}")))?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls((*tls).clone())
            .https_only(base.scheme() == "https")
            .user_agent(concat!("secdesk/", env!("CARGO_PKG_VERSION")))
            .default_headers(headers)
            // A redirect is GitHub saying the repository moved; following it
            // would send the token on to wherever it points. Report it.
            .redirect(reqwest::redirect::Policy::none())
            // Like IMAP and SMTP, secdesk connects directly: a proxy from
            // the environment is not a setting anyone made for secdesk.
            .no_proxy()
            .connect_timeout(settings.timeout)
            .timeout(settings.timeout)
            .build()
            .map_err(|e| setup(innermost(&e)))?;
        Ok(Client {
            http,
            base,
            host,
            owner,
            name,
            token,
            timeout: settings.timeout,
        })
    }

    /// `owner/repo`.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    /// Creates a draft advisory: `POST /repos/{owner}/{repo}/security-advisories`
    /// with a `repository-advisory-create` body; GitHub answers 201.
    pub async fn create_draft(&self, body: &Value) -> Result<Published> {
        check_body(body)?;
        let url = self.endpoint(&["security-advisories"]);
        let answer = self
            .send(
                Call::Create,
                Method::POST,
                url,
                Some(body),
                StatusCode::CREATED,
            )
            .await?;
        self.published(Call::Create, &answer)
    }

    /// Updates an advisory: `PATCH …/security-advisories/{ghsa_id}` with a
    /// `repository-advisory-update` body; GitHub answers 200.
    pub async fn update(&self, ghsa_id: &str, body: &Value) -> Result<Published> {
        let ghsa_id = check_ghsa_id(ghsa_id)?;
        check_body(body)?;
        let call = Call::Update(ghsa_id);
        let url = self.endpoint(&["security-advisories", ghsa_id]);
        let answer = self
            .send(call, Method::PATCH, url, Some(body), StatusCode::OK)
            .await?;
        self.published(call, &answer)
    }

    /// Asks GitHub to assign a CVE: `POST …/security-advisories/{ghsa_id}/cve`,
    /// no body; GitHub answers 202 and assigns it later.
    pub async fn request_cve(&self, ghsa_id: &str) -> Result<()> {
        let ghsa_id = check_ghsa_id(ghsa_id)?;
        let url = self.endpoint(&["security-advisories", ghsa_id, "cve"]);
        self.send(
            Call::RequestCve(ghsa_id),
            Method::POST,
            url,
            None,
            StatusCode::ACCEPTED,
        )
        .await?;
        Ok(())
    }

    /// `{api}/repos/{owner}/{repo}/…`: segments are pushed one by one (and
    /// would be percent-encoded), but every one has been checked already.
    fn endpoint(&self, tail: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .expect("an http(s) URL has a path")
            .pop_if_empty()
            .extend(["repos", &self.owner, &self.name])
            .extend(tail);
        url
    }

    /// One request; the body of the expected answer, or the error GitHub's
    /// answer means.
    async fn send(
        &self,
        call: Call<'_>,
        method: Method,
        url: Url,
        body: Option<&Value>,
        expected: StatusCode,
    ) -> Result<Vec<u8>> {
        let path = url.path().to_string();
        let mut request = self.http.request(method.clone(), url);
        if let Some(body) = body {
            let bytes = serde_json::to_vec(body).expect("a JSON value serializes");
            request = request
                .header(header::CONTENT_TYPE, "application/json")
                .body(bytes);
        }
        let response = request.send().await.map_err(|e| self.transport(call, &e))?;
        let status = response.status();
        tracing::debug!(%method, host = %self.host, %path, status = status.as_u16(), "github");
        let headers = response.headers().clone();
        let read = read_capped(response).await;
        if status == expected {
            return read.map_err(|e| match e {
                Read::Transport(e) => self.transport(call, &e),
                Read::TooLarge => self.unusable(call, "the body is over 1 MiB".into()),
            });
        }
        let body = read.ok().unwrap_or_default();
        Err(self.refusal(call, status, &headers, &body))
    }
}

/// The rule GitHub states only in prose: `severity` and
/// `cvss_vector_string` are one or the other (the schema lets both through;
/// GitHub then answers 422).
fn check_body(body: &Value) -> Result<()> {
    let Some(fields) = body.as_object() else {
        return Err(Error::Body("expected a JSON object"));
    };
    let set = |k: &str| fields.get(k).is_some_and(|v| !v.is_null());
    if set("severity") && set("cvss_vector_string") {
        return Err(Error::Body(
            "severity and cvss_vector_string are both set; GitHub takes one or the other \
             (drop severity: GitHub derives it from the vector)",
        ));
    }
    Ok(())
}

enum Read {
    Transport(reqwest::Error),
    TooLarge,
}

/// The response body, at most [`MAX_RESPONSE_BYTES`].
async fn read_capped(mut response: reqwest::Response) -> std::result::Result<Vec<u8>, Read> {
    if response
        .content_length()
        .is_some_and(|n| n > MAX_RESPONSE_BYTES as u64)
    {
        return Err(Read::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(Read::Transport)? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(Read::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The deepest cause of a reqwest error ("Connection refused (os error
/// 111)", "invalid peer certificate: UnknownIssuer"): reqwest's own top
/// line repeats the URL and says only that sending failed.
fn innermost(e: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

mod answer;

#[cfg(test)]
mod tests;
