//! One report walked end to end on the real stack, the way a lead handles
//! it: ack, reply, triage (two packages, a weakness), accept, fixing,
//! analyze and released per package, credit by the reporter's own reply,
//! the advisory filed on (a local) GitHub as a draft and updated, a CVE
//! requested, disclose. The reporter's mailbox must hold exactly the
//! expected mails, in order, and the advisory must be complete.

mod support;

use std::time::Duration;

use support::github::FakeGithub;
use support::*;

const WAIT: Duration = Duration::from_secs(40);

fn ok(d: &Desk, args: &[&str]) -> String {
    let o = d.cli(args);
    assert!(
        o.status.success(),
        "secdesk {args:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).to_string()
}

#[test]
fn a_report_from_ack_to_published_advisory() {
    let s = support::stack("workflow", 24000);
    let mut d = Desk::new(
        s,
        "flow",
        "",
        r#"
[team]
lead = ["lead-flow@example.org"]
"#,
    );
    // The project ships a desktop app (released from its repository) and a
    // CLI on npm; advisories go to its GitHub repository (a local one).
    let github = FakeGithub::start("example/example", "ghp_flowtoken");
    let token = d.dir.path().join("github-token");
    std::fs::write(&token, "ghp_flowtoken\n").unwrap();
    let text = std::fs::read_to_string(&d.config).unwrap();
    let text = text.replace(
        "policy_url = \"https://example.org/SECURITY.md\"",
        "policy_url = \"https://example.org/SECURITY.md\"\n\
         repository_url = \"https://github.com/example/example\"\n\
         [[project.packages]]\nid = \"desktop\"\necosystem = \"none\"\nname = \"Example desktop\"\n\
         [[project.packages]]\nid = \"cli\"\necosystem = \"npm\"\nname = \"@example/cli\"\n",
    );
    std::fs::write(
        &d.config,
        format!(
            "{text}\n[github]\nrepository = \"example/example\"\ntoken_file = \"{}\"\napi_url = \"{}\"\n",
            token.display(),
            github.url
        ),
    )
    .unwrap();
    d.start();
    let sam = "sam-flow@reporter.example";
    let raw = String::from_utf8(sample("01-report-complete.eml"))
        .unwrap()
        .replace("sam@reporter.example", sam)
        .replace("security@example.org", &d.inbox)
        .replace(
            "20261123091244.4411@reporter.example",
            "flow-1@reporter.example",
        );
    send(s, sam, &[&d.inbox], raw.as_bytes());
    let mail = wait_inbox(s, sam, 1, WAIT);
    let cases = d.wait_cases("ack", WAIT, |c| {
        c.len() == 1 && c[0]["state"] == "acknowledged"
    });
    let id = cases[0]["id"].as_str().unwrap().to_string();
    assert!(subject(&mail[0]).contains(&id));

    // A personal response.
    let reply = d.dir.path().join("reply.txt");
    std::fs::write(&reply, "Thank you, Sam. We are looking into it now.\n").unwrap();
    ok(&d, &["reply", &id, "--file", &reply.display().to_string()]);
    wait_inbox(s, sam, 2, WAIT);

    // Triage with a CVSS vector that disagrees with the severity: a warning.
    let o = d.cli(&[
        "triage",
        &id,
        "--severity",
        "high",
        "--impact",
        "c=none,i=high,a=high",
        "--cvss",
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:H",
    ]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("differs from the CVSS rating critical"));
    // Illegal steps are refused clearly (exit 2) and change nothing.
    let bad = d.cli(&["disclose", &id, "--advisory", "GHSA-abcd-1234-wxyz"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("cannot become disclosed"));
    let bad = d.cli(&[
        "triage",
        &id,
        "--severity",
        "urgent",
        "--impact",
        "c=none,i=high,a=high",
    ]);
    assert_eq!(bad.status.code(), Some(2));

    // The packages and the weakness, checked against the config and forms.
    let bad = d.cli(&["triage", &id, "--package", "server"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("desktop, cli"));
    let bad = d.cli(&["triage", &id, "--cwe", "XSS"]);
    assert_eq!(bad.status.code(), Some(2));
    ok(
        &d,
        &[
            "triage",
            &id,
            "--package",
            "desktop,cli",
            "--cwe",
            "CWE-1321",
        ],
    );

    ok(&d, &["accept", &id]);
    let m = wait_inbox(s, sam, 3, WAIT);
    let accepted = body_text(&m[2]);
    assert!(accepted.contains("high severity"), "{accepted}");
    ok(
        &d,
        &[
            "fixing",
            &id,
            "--ref",
            "https://github.com/example/example/pull/42",
        ],
    );
    // Versions are checked for each package's ecosystem.
    let bad = d.cli(&[
        "analyze",
        &id,
        "--package",
        "cli",
        "--affected",
        "bogus range",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    let bad = d.cli(&[
        "analyze",
        &id,
        "--package",
        "cli",
        "--introduced",
        "commit abc123",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    let bad = d.cli(&["analyze", &id, "--affected", ">=8.0.0 <9.0.2"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--package"));
    // Two packages, two fixed versions: released when both are.
    ok(
        &d,
        &[
            "released",
            &id,
            "--package",
            "desktop",
            "--version",
            "9.0.2",
        ],
    );
    assert_eq!(
        d.show(&id)["state"],
        "fixing",
        "one package is not the release"
    );
    ok(
        &d,
        &["released", &id, "--package", "cli", "--version", "9.0.3"],
    );
    let m = wait_inbox(s, sam, 4, WAIT);
    let released = body_text(&m[3]);
    assert!(
        released.contains("Example desktop 9.0.2") && released.contains("@example/cli 9.0.3"),
        "{released}"
    );
    ok(
        &d,
        &[
            "analyze",
            &id,
            "--package",
            "desktop",
            "--affected",
            ">=8.0.0 <9.0.2",
            "--introduced",
            "8.0.0",
            "--fix-commit",
            "0123456789abcdef0123456789abcdef01234567",
            "--user-impact",
            "A remote client can change the behaviour of every route.",
            "--workaround",
            "Reject request bodies containing __proto__ at a proxy.",
            "--details",
            "The rules engine merges request bodies into a shared object.",
        ],
    );
    ok(
        &d,
        &[
            "analyze",
            &id,
            "--package",
            "cli",
            "--affected",
            ">=8.1.0 <9.0.3",
            "--introduced",
            "8.1.0",
        ],
    );

    // Sam answers the acknowledgement's question by replying to it: his
    // client names the ack in In-Reply-To, which is what lets his word count.
    let ack_id = header(&mail[0], "Message-ID").unwrap();
    let answer = format!(
        "From: Sam Finder <{sam}>\r\nTo: {inbox}\r\nSubject: Re: [{id}] Prototype pollution in the rules engine\r\n\
         Message-ID: <flow-credit@reporter.example>\r\nIn-Reply-To: {ack_id}\r\n\
         References: <flow-1@reporter.example> {ack_id}\r\n\r\n\
         Happy to be named.\r\n\r\ncredit: yes, Sam Finder\r\n\r\n> Reply with a line \"credit: no\"\r\n",
        inbox = d.inbox
    );
    send(s, sam, &[&d.inbox], answer.as_bytes());
    d.wait_cases("credit consent", WAIT, |c| c[0]["credit_consent"] == "yes");

    ok(&d, &["note", &id, "coordinated the date with the reporter"]);

    // Filed on GitHub as a draft, then updated after an edit of the case.
    let out = ok(&d, &["advisory", &id, "--publish", "github"]);
    assert!(out.contains("created the draft advisory"), "{out}");
    let filed = github.advisories();
    assert_eq!(filed.len(), 1);
    let ghsa = filed[0]["ghsa_id"].as_str().unwrap().to_string();
    assert_eq!(
        filed[0]["summary"],
        "Prototype pollution in Example desktop and @example/cli"
    );
    let vulns = filed[0]["vulnerabilities"].as_array().unwrap();
    assert_eq!(vulns.len(), 2);
    assert_eq!(vulns[0]["package"]["ecosystem"], "other");
    assert_eq!(vulns[1]["package"]["name"], "@example/cli");
    assert_eq!(vulns[1]["patched_versions"], "9.0.3");
    ok(&d, &["cve", &id, "CVE-2026-41234"]);
    let out = ok(
        &d,
        &["advisory", &id, "--publish", "github", "--request-cve"],
    );
    assert!(
        out.contains("updated the draft advisory") && out.contains("CVE requested"),
        "{out}"
    );
    let methods: Vec<String> = github
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        methods,
        [
            "POST /repos/example/example/security-advisories".to_string(),
            format!("PATCH /repos/example/example/security-advisories/{ghsa}"),
            format!("POST /repos/example/example/security-advisories/{ghsa}/cve"),
        ]
    );
    assert_eq!(github.advisories()[0]["cve_id"], "CVE-2026-41234");

    ok(&d, &["disclose", &id, "--advisory", &ghsa]);
    let m = wait_inbox(s, sam, 5, WAIT);
    let disclosed = body_text(&m[4]);
    assert!(
        disclosed.contains(&format!(
            "https://github.com/example/example/security/advisories/{ghsa}"
        )),
        "{disclosed}"
    );
    let flowed = disclosed.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flowed.contains("credit you as \"Sam Finder\"")
            && flowed.contains("the fix in Example desktop 9.0.2 and @example/cli 9.0.3."),
        "{disclosed}"
    );

    // Exactly these mails, in this order, all threaded to the case: the
    // store has sent all it will, and sent each once.
    d.wait_outbox_empty(WAIT);
    assert_eq!(d.mails_to(sam), 5);
    let all = wait_inbox(s, sam, 5, WAIT);
    let kinds: Vec<String> = all
        .iter()
        .map(|m| {
            header(m, "Message-ID")
                .unwrap_or_default()
                .split('.')
                .nth(2)
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert_eq!(
        kinds,
        vec!["ack", "reply", "notice", "notice", "notice"],
        "{kinds:?}"
    );
    for m in &all {
        assert!(subject(m).contains(&format!("[{id}]")), "{}", subject(m));
        assert!(header(m, "In-Reply-To").is_some());
    }
    assert_eq!(header(&all[1], "Auto-Submitted"), None);
    assert_eq!(
        header(&all[2], "Auto-Submitted").as_deref(),
        Some("auto-generated")
    );

    // The advisory draft is complete.
    let draft = ok(&d, &["advisory", &id, "--format", "ghsa"]);
    for part in [
        "# Prototype pollution in Example desktop and @example/cli",
        "### Details",
        "merges request bodies",
        "### PoC",
        "### Impact",
        "Example desktop (released from its repository): >= 8.0.0, < 9.0.2",
        "@example/cli (npm): >= 8.1.0, < 9.0.3",
        "fixed in 9.0.3",
        "Reported by Sam Finder",
        "__proto__ at a proxy",
        "CVSS 9.1",
        "CVE-2026-41234",
    ] {
        assert!(draft.contains(part), "{part}: {draft}");
    }
    assert!(!draft.contains("TODO"), "{draft}");
    let osv: serde_json::Value =
        serde_json::from_str(&ok(&d, &["advisory", &id, "--format", "osv"])).unwrap();
    assert_eq!(osv["id"], ghsa.as_str());
    assert_eq!(osv["aliases"][0], "CVE-2026-41234");
    assert_eq!(osv["credits"][0]["name"], "Sam Finder");
    assert_eq!(osv["affected"][1]["ranges"][0]["type"], "SEMVER");
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/osv-schema.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let errors: Vec<String> = jsonschema::validator_for(&schema)
        .unwrap()
        .iter_errors(&osv)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}\n{osv:#}");
    let ann = ok(&d, &["advisory", &id, "--format", "announcement"]);
    assert!(
        ann.contains("Thanks to Sam Finder")
            && ann.contains("upgrade to 9.0.2")
            && ann.contains("upgrade to 9.0.3"),
        "{ann}"
    );

    // The case log is the audit trail behind it.
    let shown = d.show(&id);
    assert_eq!(shown["state"], "disclosed");
    let events: Vec<String> = shown["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect();
    for k in [
        "case_opened",
        "ack_sent",
        "reply_queued",
        "triaged",
        "accepted",
        "fixing",
        "released",
        "analyzed",
        "packages_set",
        "package_versions",
        "advisory_changed",
        "cve_requested",
        "credit",
        "note",
        "disclosed",
    ] {
        assert!(events.iter().any(|e| e == k), "{k} missing from {events:?}");
    }
    let stats: serde_json::Value = serde_json::from_str(&ok(&d, &["stats", "--json"])).unwrap();
    assert_eq!(stats["cases"], 1);
    assert_eq!(stats["answered_within_window"], 1);
    assert!(stats["time_to_disclosure_by_severity"]["high"]["median_s"].is_number());
    assert!(d.stop().success());
}
