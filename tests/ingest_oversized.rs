//! Mail too large to hold, through the pipeline on a temporary store (no
//! servers): kept whole, described from its first lines, recorded as
//! rejected (review issue 10, finding 5). The memory bound itself is
//! measured on the real binary (tests/cli.rs) and the daemon
//! (tests/e2e_hostile.rs).

mod support;

use secdesk::inbound::Outcome;
use secdesk::mail::parse::sha256_hex;
use secdesk::store::BlobKind;
use support::pipeline::*;

/// A header block of `n` 100-byte fields after the ones that name the
/// message: the shape of the finding.
fn header_bomb(mid: &str, n: usize) -> Vec<u8> {
    let mut raw = format!(
        "From: Hostile <hostile@reporter.example>\r\nSubject: header bomb\r\n\
         Message-ID: <{mid}>\r\n"
    )
    .into_bytes();
    let field = format!("X-Junk-Field: {}\r\n", "a".repeat(84));
    raw.extend(field.as_bytes().repeat(n));
    raw.extend(b"\r\nbody\r\n");
    raw
}

#[test]
fn a_stream_over_the_limit_is_kept_whole_and_described() {
    let mut f = fixture();
    // Over 15 times the limit, read in small pieces as a pipe delivers it.
    let raw = header_bomb("bomb-1@reporter.example", 10_000);
    assert!(raw.len() > 15 * 64_000);
    let r = f.ingest_stream(&mut std::io::BufReader::with_capacity(4096, &raw[..]));
    assert_eq!(r.outcome, Outcome::Rejected);
    let reason = r.reason.unwrap();
    assert!(
        reason.contains(&format!("{} bytes", raw.len())) && reason.contains("max_message_size"),
        "{reason}"
    );
    // Every byte kept, under the hash of the whole input.
    let sha = sha256_hex(&raw);
    assert_eq!(f.store.read_blob(BlobKind::Raw, &sha).unwrap(), raw);
    let unfiled = f.store.unfiled_messages(10).unwrap();
    assert_eq!(unfiled.len(), 1);
    assert_eq!(unfiled[0].from, "hostile@reporter.example");
    assert_eq!(unfiled[0].subject, "header bomb");
    assert_eq!(unfiled[0].sha256, sha);
    assert_eq!(unfiled[0].size, raw.len() as i64);
    // The same message again, as a stream or as bytes: recorded once.
    let again = f.ingest_stream(&mut &raw[..]);
    assert_eq!(again.outcome, Outcome::Duplicate);
    assert_eq!(f.ingest(&raw).outcome, Outcome::Duplicate);
    assert_eq!(f.store.unfiled_messages(10).unwrap().len(), 1);
}

#[test]
fn a_stream_within_the_limit_is_filed_as_bytes_are() {
    let mut f = fixture();
    let raw = b"From: Sam <sam@reporter.example>\r\nSubject: small report\r\n\
Message-ID: <small-1@reporter.example>\r\n\r\nVersion 1.0 crashes.\r\n";
    let r = f.ingest_stream(&mut &raw[..]);
    assert_eq!(r.outcome, Outcome::NewCase);
    let case = f
        .store
        .get_case(r.case.as_deref().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(case.subject, "small report");
    // Exactly at the limit is within it; one byte more is not.
    let max = f.cfg.store.max_message_size as usize;
    let sized = |mid: &str, len: usize| {
        let mut m = format!(
            "From: Sam <sam@reporter.example>\r\nSubject: {mid}\r\nMessage-ID: <{mid}@r>\r\n\r\n"
        )
        .into_bytes();
        m.resize(len, b'x');
        m
    };
    let at = sized("at-limit", max);
    assert_eq!(f.ingest_stream(&mut &at[..]).outcome, Outcome::NewCase);
    let over = sized("over-limit", max + 1);
    assert_eq!(f.ingest_stream(&mut &over[..]).outcome, Outcome::Rejected);
}

#[test]
fn a_refused_header_block_is_described_and_kept() {
    let mut f = fixture();
    // Within the size limit, but more fields than the parser accepts.
    let mut raw = b"From: Many <many@reporter.example>\r\nSubject: many fields\r\n\
Message-ID: <many-1@reporter.example>\r\n"
        .to_vec();
    raw.extend(b"X:a\r\n".repeat(10_001));
    raw.extend(b"\r\nbody\r\n");
    assert!((raw.len() as u64) < f.cfg.store.max_message_size);
    let r = f.ingest(&raw);
    assert_eq!(r.outcome, Outcome::Rejected);
    assert!(r.reason.unwrap().contains("header fields"));
    let unfiled = f.store.unfiled_messages(10).unwrap();
    assert_eq!(unfiled[0].from, "many@reporter.example");
    assert_eq!(unfiled[0].subject, "many fields");
    assert_eq!(
        f.store.read_blob(BlobKind::Raw, &sha256_hex(&raw)).unwrap(),
        raw
    );
}
