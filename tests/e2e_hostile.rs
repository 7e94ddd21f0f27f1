//! End to end on the real stack, with mail built to exhaust memory (review
//! issue 10, finding 5): messages whose header blocks are many times
//! `store.max_message_size` wait in the inbox next to a real report. They
//! are recorded as rejected from the start of their header blocks (a
//! partial fetch against the real Dovecot) and left on the server, the
//! report is filed and acknowledged as usual, and the daemon's peak RSS
//! stays within 4 × max + 32 MB.

mod support;

use std::time::{Duration, Instant};

use support::*;

fn stack() -> &'static Stack {
    support::stack("hostile", 26000)
}

const WAIT: Duration = Duration::from_secs(120);

/// `store.max_message_size` for these tests, and the memory bound under it.
const MAX: u64 = 5_000_000;
const BOUND: u64 = 4 * MAX + 32_000_000;

/// A message whose header block is `size` bytes of 100-byte fields after
/// the ones that name it.
fn header_bomb(inbox: &str, n: usize, size: usize) -> Vec<u8> {
    let mut raw = format!(
        "From: Hostile {n} <hostile-{n}@reporter.example>\r\nTo: {inbox}\r\n\
         Subject: header bomb {n}\r\nMessage-ID: <bomb-{n}.{}@reporter.example>\r\n",
        rand_token()
    )
    .into_bytes();
    let field = format!("X-Junk-Field: {}\r\n", "a".repeat(84));
    raw.extend(field.as_bytes().repeat((size - raw.len()) / field.len()));
    raw.extend(b"\r\nbody\r\n");
    raw
}

#[test]
fn huge_header_blocks_are_recorded_in_bounded_memory() {
    let s = stack();
    let mut desk = Desk::new(s, "bombs", "", "");
    desk.first_start();
    let text = std::fs::read_to_string(&desk.config).unwrap();
    std::fs::write(
        &desk.config,
        text.replace("[store]", "[store]\nmax_message_size = \"5MB\""),
    )
    .unwrap();
    // Three 40 MB header blocks, eight times the limit each; then a report.
    let mut sizes = Vec::new();
    for n in 1..=3 {
        let bomb = header_bomb(&desk.inbox, n, 40_000_000);
        sizes.push(bomb.len() as u64);
        append(s, &desk.inbox, "INBOX", &bomb);
    }
    let reporter = "sam-bombs@reporter.example";
    let (_, raw) = report(reporter, &desk.inbox, "real report", "Version 1.0 crashes.");
    send(s, reporter, &[&desk.inbox], &raw);
    // Wait for the report to land behind them before the daemon starts.
    let deadline = Instant::now() + WAIT;
    while mailbox_count(s, &desk.inbox) < 4 {
        assert!(Instant::now() < deadline, "the report was not delivered");
        std::thread::sleep(Duration::from_millis(100));
    }
    desk.start();

    // The report: its case, and its acknowledgement in the reporter's inbox.
    let acks = wait_inbox(s, reporter, 1, WAIT);
    assert!(
        subject(&acks[0]).contains("real report"),
        "{}",
        subject(&acks[0])
    );
    desk.wait_cases("the report acknowledged", WAIT, |c| {
        c.len() == 1 && c[0]["reporter"] == reporter && c[0]["state"] == "acknowledged"
    });

    // The bombs: recorded as rejected, described from their first lines.
    let deadline = Instant::now() + WAIT;
    let unfiled = loop {
        let o = desk.cli(&["unfiled", "--json"]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
        if v.len() >= 3 {
            break v;
        }
        assert!(Instant::now() < deadline, "{v:#?}\n{}", desk.log_text());
        std::thread::sleep(Duration::from_millis(100));
    };
    let peak = desk.peak_rss();
    assert!(desk.stop().success());
    assert!(
        peak <= BOUND,
        "peak RSS {peak} bytes over 4 x max + 32 MB = {BOUND}\n{}",
        desk.log_text()
    );

    assert_eq!(unfiled.len(), 3, "{unfiled:#?}");
    for (n, size) in (1..=3).zip(sizes) {
        let m = unfiled
            .iter()
            .find(|m| m["from"] == format!("hostile-{n}@reporter.example"))
            .unwrap_or_else(|| panic!("bomb {n} not recorded: {unfiled:#?}"));
        assert_eq!(m["kind"], "rejected");
        assert_eq!(m["subject"], format!("header bomb {n}"));
        let reason = m["reason"].as_str().unwrap();
        assert!(
            reason.contains("max_message_size") && reason.contains("still on the server"),
            "{reason}"
        );
        // The size is the whole message's (RFC822.SIZE); what was fetched
        // and kept is the start of its header block: the partial fetch
        // `BODY.PEEK[HEADER]<0.65536>` answered by Dovecot.
        assert_eq!(m["size"], size, "{m}");
        let sha = m["sha256"].as_str().unwrap();
        let kept = std::fs::read(
            desk.dir
                .path()
                .join("data/raw")
                .join(&sha[..2])
                .join(&sha[2..]),
        )
        .unwrap();
        assert_eq!(kept.len(), 65_536, "{reason}");
        assert!(kept.starts_with(format!("From: Hostile {n}").as_bytes()));
        assert_eq!(secdesk::mail::parse::sha256_hex(&kept), sha);
    }
    // Nothing deleted: all four are still in the inbox.
    assert_eq!(mailbox_count(s, &desk.inbox), 4);
}
