//! secdesk's GitHub advisory client (src/github.rs) against a fake GitHub
//! served over real HTTP on 127.0.0.1 (tests/support/github.rs): what it
//! sends, and what each of GitHub's answers turns into.

mod support;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use secdesk::github::{Client, Error, GithubSettings, MAX_RESPONSE_BYTES};
use serde_json::{json, Value};
use support::github::{create_schema_errors, update_schema_errors, FakeGithub};

const REPO: &str = "example/example";
const TOKEN: &str = "github_pat_11AAAAAAA0fake0token0for0tests";
/// CVSS 3.1 base 6.1, medium: a reflected XSS.
const VECTOR: &str = "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N";

fn client_for(gh: &FakeGithub, repository: &str, token: &str, timeout: Duration) -> Client {
    Client::new(GithubSettings {
        api_url: gh.url.clone(),
        repository: repository.into(),
        token: token.into(),
        timeout,
    })
    .unwrap()
}

fn client(gh: &FakeGithub) -> Client {
    client_for(gh, REPO, TOKEN, Duration::from_secs(10))
}

/// The smallest advisory GitHub takes, with a CVSS vector.
fn draft() -> Value {
    json!({
        "summary": "Stored XSS in the comment preview",
        "description": "A comment body is rendered without escaping in the preview pane.",
        "vulnerabilities": [{
            "package": {"ecosystem": "npm", "name": "x"},
            "vulnerable_version_range": ">= 1.0.0, < 1.2.0",
            "patched_versions": "1.2.0"
        }],
        "cwe_ids": ["CWE-79"],
        "cvss_vector_string": VECTOR
    })
}

/// The same with a severity by hand instead of a vector.
fn draft_with_severity() -> Value {
    let mut d = draft();
    d.as_object_mut().unwrap().remove("cvss_vector_string");
    d["severity"] = json!("high");
    d
}

fn assert_no_token(text: &str) {
    assert!(!text.contains(TOKEN), "the token leaked: {text}");
    assert!(
        !text.contains("0fake0token0"),
        "part of the token leaked: {text}"
    );
}

#[tokio::test]
async fn create_update_and_request_cve() {
    let gh = FakeGithub::start(REPO, TOKEN);
    let c = client(&gh);

    let created = c.create_draft(&draft()).await.unwrap();
    let stored = gh.advisories();
    assert_eq!(stored.len(), 1);
    let ghsa = stored[0]["ghsa_id"].as_str().unwrap().to_string();
    assert_eq!(created.ghsa_id, ghsa);
    assert_eq!(
        created.html_url,
        format!("https://github.com/example/example/security/advisories/{ghsa}")
    );
    assert_eq!(created.cve_id, None);
    assert_eq!(stored[0]["state"], "draft");
    assert_eq!(stored[0]["severity"], "medium", "derived from the vector");
    assert_eq!(stored[0]["cvss"]["vector_string"], VECTOR);
    assert_eq!(stored[0]["cvss"]["score"], 6.1);
    assert_eq!(stored[0]["cwes"][0]["cwe_id"], "CWE-79");

    let update = json!({
        "summary": "Stored XSS in the comment preview pane",
        "cve_id": "CVE-2026-12345",
        "credits": [{"login": "reporter", "type": "finder"}]
    });
    let updated = c.update(&ghsa, &update).await.unwrap();
    assert_eq!(updated.ghsa_id, ghsa);
    assert_eq!(updated.html_url, created.html_url);
    assert_eq!(updated.cve_id.as_deref(), Some("CVE-2026-12345"));
    let stored = gh.advisories();
    assert_eq!(
        stored[0]["summary"],
        "Stored XSS in the comment preview pane"
    );
    assert_eq!(stored[0]["description"], draft()["description"]);
    assert_eq!(stored[0]["severity"], "medium", "the vector still rules");
    assert_eq!(stored[0]["credits"][0]["login"], "reporter");

    c.request_cve(&ghsa).await.unwrap();

    let reqs = gh.requests();
    let seen: Vec<(String, String)> = reqs
        .iter()
        .map(|r| (r.method.clone(), r.path.clone()))
        .collect();
    let base = "/repos/example/example/security-advisories";
    let want = [
        ("POST", base.to_string()),
        ("PATCH", format!("{base}/{ghsa}")),
        ("POST", format!("{base}/{ghsa}/cve")),
    ]
    .map(|(m, p)| (m.to_string(), p));
    assert_eq!(seen, want);
    for r in &reqs {
        let bearer = format!("Bearer {TOKEN}");
        assert_eq!(r.header("authorization"), Some(bearer.as_str()), "{r:?}");
        assert_eq!(r.header("accept"), Some("application/vnd.github+json"));
        assert_eq!(r.header("x-github-api-version"), Some("2022-11-28"));
        let ua = r.header("user-agent").unwrap_or_default();
        assert!(ua.starts_with("secdesk/"), "User-Agent {ua:?}");
        assert_eq!(
            r.headers
                .iter()
                .filter(|(n, _)| n == "authorization")
                .count(),
            1
        );
    }
    // The bodies as sent: what the caller gave, valid for GitHub.
    assert_eq!(reqs[0].header("content-type"), Some("application/json"));
    assert_eq!(reqs[0].body.as_ref(), Some(&draft()));
    assert_eq!(create_schema_errors(&draft()), Vec::<String>::new());
    assert_eq!(reqs[1].header("content-type"), Some("application/json"));
    assert_eq!(reqs[1].body.as_ref(), Some(&update));
    assert_eq!(update_schema_errors(&update), Vec::<String>::new());
    // The CVE request has no body.
    assert!(reqs[2].raw_body.is_empty());
    assert!(matches!(reqs[2].header("content-length"), None | Some("0")));
}

/// The fake runs on its own thread: a plain #[test] drives the client on a
/// runtime of its own, as the synchronous CLI does.
#[test]
fn works_from_a_plain_test_with_a_severity() {
    let gh = FakeGithub::start(REPO, TOKEN);
    let c = client(&gh);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let first = rt.block_on(c.create_draft(&draft_with_severity())).unwrap();
    let second = rt.block_on(c.create_draft(&draft())).unwrap();
    assert_ne!(first.ghsa_id, second.ghsa_id);
    let stored = gh.advisories();
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0]["severity"], "high");
    assert_eq!(stored[0]["cvss"]["vector_string"], Value::Null);

    // Ids are deterministic per repository and creation.
    let again = FakeGithub::start(REPO, TOKEN);
    let c2 = client(&again);
    let first_again = rt.block_on(c2.create_draft(&draft())).unwrap();
    assert_eq!(first_again.ghsa_id, first.ghsa_id);
}

#[tokio::test]
async fn a_bad_token_names_the_token_file_and_never_the_token() {
    let gh = FakeGithub::start(REPO, "github_pat_the_right_one");
    let c = client(&gh);
    let e = c.create_draft(&draft()).await.unwrap_err();
    assert!(matches!(e, Error::Unauthorized { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("401"), "{msg}");
    assert!(msg.contains("github.token_file"), "{msg}");
    assert!(msg.contains("example/example"), "{msg}");
    assert_no_token(&msg);
    assert_no_token(&format!("{e:?}"));
    assert!(gh.advisories().is_empty());
    // It was the fake's own check that refused it.
    assert_eq!(gh.requests().len(), 1);
}

#[tokio::test]
async fn a_token_github_echoes_back_is_scrubbed() {
    let gh = FakeGithub::start(REPO, TOKEN);
    let c = client(&gh);
    let body = json!({"message": format!("token {TOKEN} is not allowed here")}).to_string();
    gh.fail_next(403, &body);
    gh.fail_next(404, &body);
    gh.fail_next(500, &body);
    for _ in 0..3 {
        let e = c.create_draft(&draft()).await.unwrap_err();
        let msg = e.to_string();
        assert_no_token(&msg);
        assert_no_token(&format!("{e:?}"));
        assert!(msg.contains("[token] is not allowed here"), "{msg}");
    }
}

#[tokio::test]
async fn forbidden_names_the_permission() {
    let gh = FakeGithub::start(REPO, TOKEN);
    let c = client(&gh);
    let refusal = json!({
        "message": "Resource not accessible by personal access token",
        "documentation_url": "https://docs.github.com/rest/security-advisories/repository-advisories#create-a-repository-security-advisory",
        "status": "403"
    })
    .to_string();
    gh.fail_next(403, &refusal);
    let e = c.create_draft(&draft()).await.unwrap_err();
    assert!(matches!(e, Error::Forbidden { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("403 Forbidden"), "{msg}");
    assert!(
        msg.contains("Repository security advisories: write"),
        "{msg}"
    );
    assert!(
        msg.contains("Resource not accessible by personal access token"),
        "{msg}"
    );

    // A CVE request says what else GitHub asks of it.
    let ghsa = c.create_draft(&draft()).await.unwrap().ghsa_id;
    gh.fail_next(403, &refusal);
    let msg = c.request_cve(&ghsa).await.unwrap_err().to_string();
    assert!(
        msg.contains("Repository security advisories: write"),
        "{msg}"
    );
    assert!(msg.contains("public repository"), "{msg}");
}

#[tokio::test]
async fn a_spent_rate_limit_is_not_a_permission_problem() {
    let gh = FakeGithub::start(REPO, TOKEN);
    let c = client(&gh);
    gh.fail_next_with(
        403,
        &[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1798761600"),
        ],
        r#"{"message":"API rate limit exceeded for user ID 1."}"#,
    );
    let e = c.create_draft(&draft()).await.unwrap_err();
    assert!(matches!(e, Error::RateLimited { status: 403, .. }), "{e:?}");
    assert!(
        e.to_string()
            .contains("try again after 2027-01-01 00:00:00 UTC"),
        "{e}"
    );

    gh.fail_next_with(429, &[("retry-after", "60")], "{}");
    let e = c.create_draft(&draft()).await.unwrap_err();
    assert!(matches!(e, Error::RateLimited { status: 429, .. }), "{e:?}");
    assert!(e.to_string().contains("try again in 60 seconds"), "{e}");
}

#[tokio::test]
async fn an_unknown_repository_is_not_found() {
    let gh = FakeGithub::start(REPO, TOKEN);
    let c = client_for(&gh, "example/missing", TOKEN, Duration::from_secs(10));
    let e = c.create_draft(&draft()).await.unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("404"), "{msg}");
    assert!(msg.contains("has no repository example/missing"), "{msg}");
    assert!(msg.contains("token cannot see it"), "{msg}");
    assert_eq!(
        gh.requests()[0].path,
        "/repos/example/missing/security-advisories"
    );
    assert!(gh.advisories().is_empty());
}

#[tokio::test]
async fn an_unknown_advisory_is_not_found() {
    let gh = FakeGithub::start(REPO, TOKEN);
    let c = client(&gh);
    let missing = "GHSA-2222-3333-4444";
    let e = c
        .update(missing, &json!({"summary": "x"}))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
    assert!(
        e.to_string()
            .contains("example/example has no advisory GHSA-2222-3333-4444"),
        "{e}"
    );
    let e = c.request_cve(missing).await.unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
    assert!(e.to_string().starts_with("requesting a CVE"), "{e}");
}

#[tokio::test]
async fn a_schema_invalid_body_lists_githubs_errors() {
    let gh = FakeGithub::start(REPO, TOKEN);
    let c = client(&gh);

    let mut body = draft();
    body.as_object_mut().unwrap().remove("vulnerabilities");
    body["state"] = json!("published"); // not a create field
    let e = c.create_draft(&body).await.unwrap_err();
    let Error::Invalid {
        message, errors, ..
    } = &e
    else {
        panic!("{e:?}");
    };
    assert_eq!(message, "Validation Failed");
    assert!(
        errors.iter().any(|x| x.contains("\"vulnerabilities\"")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|x| x.contains("'state'") || x.contains("\"state\"")),
        "{errors:?}"
    );
    let msg = e.to_string();
    assert!(msg.contains("422 Validation Failed"), "{msg}");
    assert!(msg.contains("vulnerabilities"), "{msg}");
    assert!(msg.contains("correct the draft"), "{msg}");
    assert!(gh.advisories().is_empty());

    // An update is checked against its own schema.
    let ghsa = c.create_draft(&draft()).await.unwrap().ghsa_id;
    let bad = json!({"vulnerabilities": [{"package": {"ecosystem": "cpan", "name": "x"}}]});
    let e = c.update(&ghsa, &bad).await.unwrap_err();
    let Error::Invalid { errors, .. } = &e else {
        panic!("{e:?}");
    };
    assert!(
        errors
            .iter()
            .any(|x| x.contains("/vulnerabilities/0/package/ecosystem")),
        "{errors:?}"
    );
}

#[tokio::test]
async fn githubs_own_field_errors_are_listed() {
    let gh = FakeGithub::start(REPO, TOKEN);
    let c = client(&gh);
    let ghsa = c.create_draft(&draft()).await.unwrap().ghsa_id;
    // Passes the client (one field only) but not GitHub: the advisory has
    // a vector, so its severity is GitHub's to derive.
    let e = c
        .update(&ghsa, &json!({"severity": "critical"}))
        .await
        .unwrap_err();
    let Error::Invalid { errors, .. } = &e else {
        panic!("{e:?}");
    };
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("severity: invalid ("), "{errors:?}");
    assert_eq!(gh.advisories()[0]["severity"], "medium");

    // Clearing the vector in the same update makes it legal.
    c.update(
        &ghsa,
        &json!({"severity": "critical", "cvss_vector_string": null}),
    )
    .await
    .unwrap();
    assert_eq!(gh.advisories()[0]["severity"], "critical");
    assert_eq!(gh.advisories()[0]["cvss"]["vector_string"], Value::Null);

    // GitHub's schema-validation answer carries no errors[]: its message
    // alone must still make one readable line.
    gh.fail_next(
        422,
        r#"{"message":"Invalid request.\n\n\"vulnerabilities\" wasn't supplied.","documentation_url":"https://docs.github.com/rest","status":"422"}"#,
    );
    let msg = c.create_draft(&draft()).await.unwrap_err().to_string();
    assert!(
        msg.contains("(422 Invalid request. \"vulnerabilities\" wasn't supplied.)"),
        "{msg}"
    );
    assert!(!msg.contains(": ;"), "{msg}");
}

#[tokio::test]
async fn severity_and_vector_together_never_leave() {
    let gh = FakeGithub::start(REPO, TOKEN);
    let c = client(&gh);
    let mut body = draft();
    body["severity"] = json!("high");
    let e = c.create_draft(&body).await.unwrap_err();
    assert!(matches!(e, Error::Body(_)), "{e:?}");
    assert!(e.to_string().contains("one or the other"), "{e}");
    assert!(gh.requests().is_empty());
}

#[test]
fn the_fake_answers_as_github_does() {
    let gh = FakeGithub::start(REPO, TOKEN);
    let auth = format!("Bearer {TOKEN}");
    let good = [
        ("Authorization", auth.as_str()),
        ("Accept", "application/vnd.github+json"),
        ("X-GitHub-Api-Version", "2022-11-28"),
        ("User-Agent", "test"),
    ];
    let path = "/repos/example/example/security-advisories";
    let without = |name: &str| -> Vec<(&str, &str)> {
        good.iter().copied().filter(|(n, _)| *n != name).collect()
    };

    let (status, body) = raw(&gh, "POST", path, &without("User-Agent"), &draft());
    assert_eq!(status, 403, "{body}");
    let (status, body) = raw(
        &gh,
        "POST",
        path,
        &without("X-GitHub-Api-Version"),
        &draft(),
    );
    assert_eq!(status, 400, "{body}");
    let (status, body) = raw(&gh, "POST", path, &without("Accept"), &draft());
    assert_eq!(status, 415, "{body}");
    let (status, body) = raw(&gh, "POST", path, &without("Authorization"), &draft());
    assert_eq!(status, 401);
    assert_eq!(body["message"], "Bad credentials");

    // Both severity and a vector: GitHub's own 422.
    let mut both = draft();
    both["severity"] = json!("high");
    let (status, body) = raw(&gh, "POST", path, &good, &both);
    assert_eq!(status, 422);
    assert_eq!(body["message"], "Validation Failed");
    assert_eq!(body["errors"][0]["resource"], "RepositoryAdvisory");
    assert_eq!(body["errors"][0]["field"], "severity");
    assert_eq!(body["errors"][0]["code"], "invalid");

    // A vector GitHub cannot score.
    let mut junk = draft();
    junk["cvss_vector_string"] = json!("CVSS:3.1/AV:Q");
    let (status, body) = raw(&gh, "POST", path, &good, &junk);
    assert_eq!(status, 422);
    assert_eq!(body["errors"][0]["field"], "cvss_vector_string");

    // Not JSON.
    let (status, body) = raw_bytes(&gh, "POST", path, &good, b"{nope");
    assert_eq!(status, 400);
    assert_eq!(body["message"], "Problems parsing JSON");

    // The 201: a repository-advisory, and the same on GET.
    let (status, created) = raw(&gh, "POST", path, &good, &draft());
    assert_eq!(status, 201, "{created}");
    for key in [
        "ghsa_id",
        "cve_id",
        "url",
        "html_url",
        "summary",
        "description",
        "severity",
        "author",
        "publisher",
        "identifiers",
        "state",
        "created_at",
        "updated_at",
        "published_at",
        "closed_at",
        "withdrawn_at",
        "submission",
        "vulnerabilities",
        "cvss",
        "cwes",
        "cwe_ids",
        "credits",
        "credits_detailed",
        "collaborating_users",
        "collaborating_teams",
        "private_fork",
    ] {
        assert!(created.get(key).is_some(), "no {key} in {created:#}");
    }
    let ghsa = created["ghsa_id"].as_str().unwrap();
    assert!(secdesk::github::check_ghsa_id(ghsa).is_ok(), "{ghsa}");
    assert_eq!(created["identifiers"][0]["value"], ghsa);
    let (status, got) = raw_bytes(&gh, "GET", &format!("{path}/{ghsa}"), &good, b"");
    assert_eq!(status, 200);
    assert_eq!(got, created);

    // Unknown routes and other repositories: 404.
    let (status, body) = raw_bytes(&gh, "DELETE", &format!("{path}/{ghsa}"), &good, b"");
    assert_eq!((status, body["message"].as_str()), (404, Some("Not Found")));
    let (status, _) = raw(
        &gh,
        "POST",
        "/repos/example/other/security-advisories",
        &good,
        &draft(),
    );
    assert_eq!(status, 404);
    // Owner and name compare without case, as on GitHub.
    let (status, _) = raw(
        &gh,
        "POST",
        "/repos/Example/Example/security-advisories",
        &good,
        &draft(),
    );
    assert_eq!(status, 201);

    // Published stays published.
    let (status, _) = raw(
        &gh,
        "PATCH",
        &format!("{path}/{ghsa}"),
        &good,
        &json!({"state": "published"}),
    );
    assert_eq!(status, 200);
    let (status, body) = raw(
        &gh,
        "PATCH",
        &format!("{path}/{ghsa}"),
        &good,
        &json!({"state": "draft"}),
    );
    assert_eq!(status, 422);
    assert_eq!(body["errors"][0]["field"], "state");
    assert!(gh.advisories()[0]["published_at"].is_string());
}

#[tokio::test]
async fn a_silent_server_times_out_within_the_timeout() {
    let gh = FakeGithub::start(REPO, TOKEN);
    let c = client_for(&gh, REPO, TOKEN, Duration::from_secs(2));
    gh.stall_next();
    let started = Instant::now();
    let e = c.create_draft(&draft()).await.unwrap_err();
    let took = started.elapsed();
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_secs(4),
        "{took:?}"
    );
    let msg = e.to_string();
    assert!(msg.contains("no answer from 127.0.0.1:"), "{msg}");
    assert!(msg.contains("within 2s"), "{msg}");
    // The request did arrive: it is the answer that never came.
    assert_eq!(gh.requests().len(), 1);
}

/// A valid advisory answer padded with trailing whitespace to `len` bytes.
fn padded_answer(len: usize) -> String {
    let mut body = json!({
        "ghsa_id": "GHSA-2222-3333-4444",
        "html_url": "https://github.com/example/example/security/advisories/GHSA-2222-3333-4444",
        "cve_id": null
    })
    .to_string();
    assert!(body.len() <= len);
    body.push_str(&" ".repeat(len - body.len()));
    body
}

#[tokio::test]
async fn an_answer_over_the_size_cap_is_refused() {
    let gh = FakeGithub::start(REPO, TOKEN);
    let c = client(&gh);

    // Exactly the cap is read.
    gh.fail_next(201, &padded_answer(MAX_RESPONSE_BYTES));
    let p = c.create_draft(&draft()).await.unwrap();
    assert_eq!(p.ghsa_id, "GHSA-2222-3333-4444");

    // One byte over: refused by its Content-Length...
    gh.fail_next(201, &padded_answer(MAX_RESPONSE_BYTES + 1));
    let e = c.create_draft(&draft()).await.unwrap_err();
    assert!(matches!(e, Error::Response { .. }), "{e:?}");
    assert!(e.to_string().contains("over 1 MiB"), "{e}");

    // ...and, chunked with no length given, while reading it.
    gh.answer_next_chunked(201, &padded_answer(MAX_RESPONSE_BYTES + 1));
    let e = c.create_draft(&draft()).await.unwrap_err();
    assert!(matches!(e, Error::Response { .. }), "{e:?}");
    assert!(e.to_string().contains("over 1 MiB"), "{e}");

    gh.answer_next_chunked(200, &padded_answer(MAX_RESPONSE_BYTES));
    let p = c.update("GHSA-2222-3333-4444", &json!({})).await.unwrap();
    assert_eq!(p.ghsa_id, "GHSA-2222-3333-4444");
}

#[tokio::test]
async fn an_answer_that_is_not_an_advisory_is_refused() {
    let gh = FakeGithub::start(REPO, TOKEN);
    let c = client(&gh);
    gh.fail_next(201, "<html>welcome to the captive portal</html>");
    let e = c.create_draft(&draft()).await.unwrap_err();
    assert!(e.to_string().contains("not JSON"), "{e}");
    // A ghsa_id that would steer later URLs elsewhere.
    gh.fail_next(
        201,
        r#"{"ghsa_id":"GHSA-../../../x","html_url":"https://github.com/x"}"#,
    );
    let e = c.create_draft(&draft()).await.unwrap_err();
    assert!(e.to_string().contains("malformed"), "{e}");
}

#[tokio::test]
async fn a_redirect_is_reported_not_followed() {
    let gh = FakeGithub::start(REPO, TOKEN);
    let c = client(&gh);
    let elsewhere = format!("{}/repositories/42/security-advisories", gh.url);
    gh.fail_next_with(
        301,
        &[("location", elsewhere.as_str())],
        r#"{"message":"Moved Permanently"}"#,
    );
    let e = c.create_draft(&draft()).await.unwrap_err();
    assert!(matches!(e, Error::Moved { status: 301, .. }), "{e:?}");
    assert!(e.to_string().contains("set github.repository"), "{e}");
    assert_eq!(gh.requests().len(), 1, "the redirect was followed");
}

#[tokio::test]
async fn a_server_that_is_gone_cannot_be_reached() {
    let gh = FakeGithub::start(REPO, TOKEN);
    let c = client(&gh);
    let host = gh.url.trim_start_matches("http://").to_string();
    drop(gh);
    let e = c.create_draft(&draft()).await.unwrap_err();
    assert!(matches!(e, Error::Connect { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains(&format!("cannot reach {host}")), "{msg}");
    assert!(msg.to_lowercase().contains("refused"), "{msg}");
    assert_no_token(&msg);
}

// ---------------------------------------------------------------------------
// Raw HTTP, to check the fake itself without the client's own checks.

fn raw(
    gh: &FakeGithub,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> (u16, Value) {
    raw_bytes(gh, method, path, headers, body.to_string().as_bytes())
}

fn raw_bytes(
    gh: &FakeGithub,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Value) {
    let addr = gh.url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\n");
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).unwrap();
    let text = String::from_utf8(answer).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(body).unwrap())
}
