//! Why a call to GitHub's advisory API failed, as one line that says what to
//! do (and never holds the token).

use std::time::Duration;

/// Why a call to the advisory API failed. Every message is one line that
/// names what to do; none holds the token.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "github.repository: expected owner/repo (letters, digits, '-', '_', and '.' in the \
         name), got {0:?}"
    )]
    Repository(String),
    #[error(
        "not a GitHub advisory id: {0:?} (expected GHSA-xxxx-xxxx-xxxx, four lowercase \
         letters or digits in each group)"
    )]
    GhsaId(String),
    #[error("github.api_url: {reason}, got {url:?}")]
    ApiUrl { url: String, reason: &'static str },
    #[error("github.token_file: {0}")]
    Token(&'static str),
    #[error("advisory body: {0}")]
    Body(&'static str),
    #[error("building the HTTP client for {host}: {reason}")]
    Setup { host: String, reason: String },
    #[error(
        "{action}: GitHub rejected the token (401 Unauthorized): it is invalid, expired or \
         revoked; put a new token in github.token_file"
    )]
    Unauthorized { action: String },
    #[error("{action}: GitHub refused it (403 Forbidden{}): {hint}", gh(message))]
    Forbidden {
        action: String,
        message: Option<String>,
        hint: String,
    },
    #[error("{action}: GitHub's API rate limit for this token is used up ({status}); {retry}")]
    RateLimited {
        action: String,
        status: u16,
        retry: String,
    },
    #[error("{action}: not found (404{}): {what}", gh(message))]
    NotFound {
        action: String,
        message: Option<String>,
        what: String,
    },
    #[error(
        "{action}: GitHub rejected the advisory (422 {message}){}; correct the draft and try \
         again",
        listed(errors)
    )]
    Invalid {
        action: String,
        message: String,
        errors: Vec<String>,
    },
    #[error(
        "{action}: GitHub answered {status} (moved to {location}): the repository was \
         renamed or transferred; set github.repository to its new name"
    )]
    Moved {
        action: String,
        status: u16,
        location: String,
    },
    #[error("{action}: GitHub answered {status}{}", gh(message))]
    Status {
        action: String,
        status: u16,
        message: Option<String>,
    },
    #[error(
        "{action}: no answer from {host} within {}s; check the network or raise the timeout",
        after.as_secs_f64()
    )]
    Timeout {
        action: String,
        host: String,
        after: Duration,
    },
    #[error("{action}: cannot reach {host}: {reason}")]
    Connect {
        action: String,
        host: String,
        reason: String,
    },
    #[error("{action}: unusable answer from {host}: {reason}")]
    Response {
        action: String,
        host: String,
        reason: String,
    },
}

/// `: message` for a message GitHub gave, nothing otherwise.
fn gh(message: &Option<String>) -> String {
    match message {
        Some(m) => format!(": {m:?}"),
        None => String::new(),
    }
}

/// `: a; b` for the entries of GitHub's `errors[]`, nothing when it gave
/// none (its schema-validation 422 carries only a message).
fn listed(errors: &[String]) -> String {
    if errors.is_empty() {
        String::new()
    } else {
        format!(": {}", errors.join("; "))
    }
}
