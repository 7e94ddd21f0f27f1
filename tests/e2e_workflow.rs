//! One report walked end to end on the real stack, the way a lead handles
//! it: ack, reply, triage, accept, fixing, released, analyze, credit by the
//! reporter's own reply, disclose. The reporter's mailbox must hold exactly
//! the expected mails, in order, and the advisory draft must be complete.

mod support;

use std::time::Duration;

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
    // The advisory knows the package and the repository.
    let text = std::fs::read_to_string(&d.config).unwrap();
    std::fs::write(
        &d.config,
        text.replace(
            "policy_url = \"https://example.org/SECURITY.md\"",
            "policy_url = \"https://example.org/SECURITY.md\"\nadvisory_ecosystem = \"npm\"\nadvisory_package = \"@example/cli\"\nrepository_url = \"https://github.com/example/example\"",
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
    ok(&d, &["released", &id, "--version", "9.0.2"]);
    let m = wait_inbox(s, sam, 4, WAIT);
    assert!(body_text(&m[3]).contains("9.0.2"));
    ok(
        &d,
        &[
            "analyze",
            &id,
            "--affected",
            ">=8.0.0 <9.0.2",
            "--introduced",
            "8.0.0",
            "--user-impact",
            "A remote client can change the behaviour of every route.",
            "--workaround",
            "Reject request bodies containing __proto__ at a proxy.",
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
    ok(&d, &["disclose", &id, "--advisory", "GHSA-abcd-1234-wxyz"]);
    let m = wait_inbox(s, sam, 5, WAIT);
    let disclosed = body_text(&m[4]);
    assert!(
        disclosed
            .contains("https://github.com/example/example/security/advisories/GHSA-abcd-1234-wxyz"),
        "{disclosed}"
    );
    assert!(
        disclosed.contains("credit you as \"Sam Finder\""),
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
    let ghsa = ok(&d, &["advisory", &id, "--format", "ghsa"]);
    for part in [
        "### Impact",
        ">=8.0.0 <9.0.2",
        "9.0.2",
        "Reported by Sam Finder",
        "__proto__ at a proxy",
        "CVSS 9.1",
    ] {
        assert!(ghsa.contains(part), "{part}: {ghsa}");
    }
    assert!(!ghsa.contains("TODO"), "{ghsa}");
    let osv: serde_json::Value =
        serde_json::from_str(&ok(&d, &["advisory", &id, "--format", "osv"])).unwrap();
    assert_eq!(osv["id"], "GHSA-abcd-1234-wxyz");
    assert_eq!(osv["credits"][0]["name"], "Sam Finder");
    let ann = ok(&d, &["advisory", &id, "--format", "announcement"]);
    assert!(
        ann.contains("Thanks to Sam Finder") && ann.contains("upgrade to 9.0.2"),
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
