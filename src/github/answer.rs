//! What GitHub's answers mean: a refusal by status (401, 403, 404, 422,
//! rate limits, redirects), an advisory it created or updated, a transport
//! failure — each as an [`Error`] that names the fix and never the token.

use super::*;

impl Client {
    /// The error a non-success answer means.
    pub(super) fn refusal(
        &self,
        call: Call<'_>,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Error {
        let repository = self.repository();
        let action = call.action(&repository);
        let json: Option<Value> = serde_json::from_slice(body).ok();
        let message = json
            .as_ref()
            .and_then(|j| j.get("message"))
            .and_then(Value::as_str)
            .map(|m| self.clean(m))
            .filter(|m| !m.is_empty());
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        // GitHub signals a spent rate limit with 403 or 429 and
        // x-ratelimit-remaining: 0, or a secondary limit with retry-after.
        let spent = header("x-ratelimit-remaining") == Some("0");
        if status == StatusCode::TOO_MANY_REQUESTS
            || (status == StatusCode::FORBIDDEN && (spent || header("retry-after").is_some()))
        {
            let retry = match (header("retry-after"), header("x-ratelimit-reset")) {
                (Some(secs), _) => format!("try again in {} seconds", self.clean(secs)),
                (None, Some(reset)) => match reset
                    .parse::<i64>()
                    .ok()
                    .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
                {
                    Some(at) => format!("try again after {}", at.format("%Y-%m-%d %H:%M:%S UTC")),
                    None => "try again later".into(),
                },
                (None, None) => "try again later".into(),
            };
            return Error::RateLimited {
                action,
                status: status.as_u16(),
                retry,
            };
        }
        match status {
            StatusCode::UNAUTHORIZED => Error::Unauthorized { action },
            StatusCode::FORBIDDEN => Error::Forbidden {
                action,
                message,
                hint: call.forbidden_hint(&repository),
            },
            StatusCode::NOT_FOUND => Error::NotFound {
                action,
                message,
                what: call.not_found(&repository, &self.host),
            },
            StatusCode::UNPROCESSABLE_ENTITY => Error::Invalid {
                action,
                message: message.unwrap_or_else(|| "Validation Failed".into()),
                errors: json
                    .as_ref()
                    .map(|j| self.validation_errors(j))
                    .unwrap_or_default(),
            },
            s if s.is_redirection() => Error::Moved {
                action,
                status: s.as_u16(),
                location: header("location")
                    .map(|l| self.clean(l))
                    .unwrap_or_else(|| "nowhere given".into()),
            },
            s => Error::Status {
                action,
                status: s.as_u16(),
                message,
            },
        }
    }

    /// GitHub's `errors[]`: objects with `resource`, `field`, `code` and
    /// sometimes `message`, or plain strings.
    fn validation_errors(&self, json: &Value) -> Vec<String> {
        let Some(entries) = json.get("errors").and_then(Value::as_array) else {
            return Vec::new();
        };
        let mut out: Vec<String> = entries
            .iter()
            .take(MAX_VALIDATION_ERRORS)
            .map(|e| {
                let text = |k: &str| e.get(k).and_then(Value::as_str).map(|s| self.clean(s));
                match e {
                    Value::String(s) => self.clean(s),
                    _ => {
                        let field = text("field")
                            .or_else(|| text("resource"))
                            .unwrap_or_else(|| "(no field)".into());
                        match (text("code"), text("message")) {
                            (Some(code), Some(msg)) => format!("{field}: {code} ({msg})"),
                            (Some(code), None) => format!("{field}: {code}"),
                            (None, Some(msg)) => format!("{field}: {msg}"),
                            (None, None) => field,
                        }
                    }
                }
            })
            .collect();
        if entries.len() > MAX_VALIDATION_ERRORS {
            out.push(format!(
                "and {} more",
                entries.len() - MAX_VALIDATION_ERRORS
            ));
        }
        out
    }

    /// The advisory in a 200/201 answer.
    pub(super) fn published(&self, call: Call<'_>, body: &[u8]) -> Result<Published> {
        let json: Value = serde_json::from_slice(body)
            .map_err(|_| self.unusable(call, "the body is not JSON".into()))?;
        let text = |k: &str| json.get(k).and_then(Value::as_str);
        let ghsa_id =
            text("ghsa_id").ok_or_else(|| self.unusable(call, "no ghsa_id in it".into()))?;
        // The id goes into later URLs (update, CVE request): check it as
        // strictly as one a person typed.
        let ghsa_id = check_ghsa_id(ghsa_id)
            .map_err(|_| {
                self.unusable(
                    call,
                    format!("ghsa_id {:?} is malformed", self.clean(ghsa_id)),
                )
            })?
            .to_string();
        let html_url = text("html_url")
            .ok_or_else(|| self.unusable(call, "no html_url in it".into()))?
            .to_string();
        let cve_id = text("cve_id").map(String::from);
        Ok(Published {
            ghsa_id,
            html_url,
            cve_id,
        })
    }

    pub(super) fn unusable(&self, call: Call<'_>, reason: String) -> Error {
        Error::Response {
            action: call.action(&self.repository()),
            host: self.host.clone(),
            reason,
        }
    }

    /// A request that got no HTTP answer.
    pub(super) fn transport(&self, call: Call<'_>, e: &reqwest::Error) -> Error {
        let action = call.action(&self.repository());
        let host = self.host.clone();
        if e.is_timeout() {
            Error::Timeout {
                action,
                host,
                after: self.timeout,
            }
        } else {
            Error::Connect {
                action,
                host,
                reason: self.clean(&innermost(e)),
            }
        }
    }

    /// Text from the other side made fit for one error line: the token
    /// scrubbed out, control characters and runs of spaces made one space,
    /// the length capped.
    fn clean(&self, text: &str) -> String {
        let scrubbed = text.replace(&self.token, "[token]");
        let mut line = scrubbed.split_whitespace().collect::<Vec<_>>().join(" ");
        line.retain(|c| !c.is_control());
        if line.chars().count() > MAX_MESSAGE_CHARS {
            line = line.chars().take(MAX_MESSAGE_CHARS).collect::<String>() + "…";
        }
        line
    }
}
