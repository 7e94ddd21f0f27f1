//! The archive readers on real shapes: mbox quoting, endless lines, dates
//! from the future, Maildir names.

use super::*;

fn messages(mbox: &[u8]) -> Vec<(Option<DateTime<Utc>>, Vec<u8>)> {
    let mut m = Mbox::new(mbox).unwrap();
    let mut out = Vec::new();
    while let Some(t) = m.next_message() {
        let mut buf = Vec::new();
        m.read_to_end(&mut buf).unwrap();
        out.push((t, buf));
    }
    out
}

#[test]
fn an_mbox_splits_into_its_messages() {
    let mbox =
        b"From a@x Mon Nov 23 09:12:44 2026\nFrom: a@x\nSubject: one\n\n>From the start\nbody\n\n\
From b@y  Tue Nov  3 10:00:00 2026\nFrom: b@y\nSubject: two\n\nsecond\n";
    let m = messages(mbox);
    assert_eq!(m.len(), 2);
    assert_eq!(
        m[0].0,
        Some(Utc.with_ymd_and_hms(2026, 11, 23, 9, 12, 44).unwrap())
    );
    assert_eq!(
        m[0].1,
        b"From: a@x\nSubject: one\n\nFrom the start\nbody\n\n"
    );
    assert_eq!(
        m[1].0,
        Some(Utc.with_ymd_and_hms(2026, 11, 3, 10, 0, 0).unwrap())
    );
    assert_eq!(m[1].1, b"From: b@y\nSubject: two\n\nsecond\n");
}

#[test]
fn a_message_read_only_in_part_is_skipped_to_its_end() {
    let mbox = b"From a@x Mon Nov 23 09:12:44 2026\nSubject: one\n\nline\nline\nline\n\
From b@y Tue Nov 24 10:00:00 2026\nSubject: two\n\nx\n";
    let mut m = Mbox::new(&mbox[..]).unwrap();
    m.next_message().unwrap();
    let mut two = [0u8; 2];
    m.read_exact(&mut two).unwrap();
    m.next_message().unwrap();
    let mut rest = Vec::new();
    m.read_to_end(&mut rest).unwrap();
    assert_eq!(rest, b"Subject: two\n\nx\n");
    assert!(m.next_message().is_none());
}

/// An mbox whose second message holds a line of `long` bytes of
/// `a` (newline-terminated or not), produced as it is read.
fn with_long_line(long: u64, newline: bool) -> impl BufRead {
    let head = &b"From a@x Mon Nov 23 09:12:44 2026\nSubject: one\n\nfirst\n\
From b@y Tue Nov 24 10:00:00 2026\nSubject: two\n\n"[..];
    let tail: &[u8] = if newline {
        b"\nend\nFrom c@z Wed Nov 25 11:00:00 2026\nSubject: three\n\nthird\n"
    } else {
        b""
    };
    BufReader::new(head.chain(std::io::repeat(b'a').take(long)).chain(tail))
}

#[test]
fn a_long_line_is_handed_on_in_pieces() {
    let long = 8 * 1024 * 1024 + 17;
    let mut m = Mbox::new(with_long_line(long, true)).unwrap();
    m.next_message().unwrap();
    let mut first = Vec::new();
    m.read_to_end(&mut first).unwrap();
    assert_eq!(first, b"Subject: one\n\nfirst\n");
    assert_eq!(
        m.next_message().unwrap(),
        Some(Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).unwrap())
    );
    // Read the way ingest_reader reads: in buffers, never whole.
    let (mut total, mut a, mut rest) = (0u64, 0u64, Vec::new());
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = m.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        assert!(m.line.capacity() <= LINE_CHUNK, "{}", m.line.capacity());
        total += n as u64;
        a += buf[..n].iter().filter(|b| **b == b'a').count() as u64;
        if total > long {
            rest.extend_from_slice(&buf[..n]);
        }
    }
    assert_eq!(
        total,
        "Subject: two\n\n".len() as u64 + long + "\nend\n".len() as u64
    );
    assert_eq!(a, long);
    assert!(String::from_utf8_lossy(&rest).ends_with("\nend\n"));
    // The message after it is found, whole.
    assert_eq!(
        m.next_message().unwrap(),
        Some(Utc.with_ymd_and_hms(2026, 11, 25, 11, 0, 0).unwrap())
    );
    let mut third = Vec::new();
    m.read_to_end(&mut third).unwrap();
    assert_eq!(third, b"Subject: three\n\nthird\n");
    assert!(m.next_message().is_none());
    assert!(m.error.is_none());
}

#[test]
fn a_piece_that_starts_with_from_is_text() {
    // The second piece of a long line starts with "From ": it is the
    // middle of a line, not a separator, and keeps its text.
    let mut mbox = b"From a@x Mon Nov 23 09:12:44 2026\nSubject: one\n\n".to_vec();
    mbox.extend(std::iter::repeat_n(b'a', LINE_CHUNK));
    mbox.extend_from_slice(b"From the middle\n>From quoted\n");
    let m = messages(&mbox);
    assert_eq!(m.len(), 1);
    assert!(m[0].1.ends_with(b"aaaFrom the middle\nFrom quoted\n"));
}

#[test]
fn a_long_separator_line_is_skipped_whole() {
    let mut mbox = b"From a@x Mon Nov 23 09:12:44 2026\nSubject: one\n\nfirst\n".to_vec();
    mbox.extend_from_slice(b"From b@y ");
    mbox.extend(std::iter::repeat_n(b'x', 3 * LINE_CHUNK));
    mbox.extend_from_slice(b"\nSubject: two\n\nsecond\n");
    let m = messages(&mbox);
    assert_eq!(m.len(), 2);
    assert_eq!(m[0].1, b"Subject: one\n\nfirst\n");
    assert_eq!(m[1].0, None, "no date in what was kept");
    assert_eq!(m[1].1, b"Subject: two\n\nsecond\n");
    // The same as the very first line.
    let mut mbox = b"From a@x ".to_vec();
    mbox.extend(std::iter::repeat_n(b'x', 3 * LINE_CHUNK));
    mbox.extend_from_slice(b"\nSubject: one\n\nfirst\n");
    let m = messages(&mbox);
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].1, b"Subject: one\n\nfirst\n");
}

#[test]
fn an_archive_never_arrives_after_now() {
    let now = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
    let past = Utc.with_ymd_and_hms(2023, 1, 2, 10, 0, 0).unwrap();
    let future = Utc.with_ymd_and_hms(2099, 1, 1, 0, 0, 0).unwrap();
    assert_eq!(arrival(Some(past), now), past);
    assert_eq!(arrival(Some(future), now), now);
    assert_eq!(arrival(None, now), now);
}

/// A store and settings for importing, with a 64 KB message limit.
fn importer(dir: &Path) -> (Store, Settings) {
    let text = "[project]\nname = \"Example\"\nsecurity_address = \"security@example.org\"\n\
                    [store]\npath = \"cases.db\"\ndata_dir = \"data\"\nmax_message_size = \"64KB\"\n\
                    [team]\nlead = [\"lead@example.org\"]\n";
    let path = dir.join("secdesk.toml");
    std::fs::write(&path, text).unwrap();
    let cfg = crate::config::from_toml_str(text, &path).unwrap();
    let store = Store::open(&cfg.store.path, &cfg.store.data_dir).unwrap();
    (store, Settings::load(cfg).unwrap())
}

fn rows(store: &Store) -> Vec<(String, String, Option<String>)> {
    let mut st = store
        .conn()
        .prepare("SELECT kind, received_at, reason FROM messages ORDER BY id")
        .unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<rusqlite::Result<Vec<_>>>()
        .unwrap()
}

#[test]
fn an_mbox_with_an_endless_line_files_every_message() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, settings) = importer(dir.path());
    let now = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
    // A report dated in the future, then one whose body is a 3 MB line
    // that never ends (the file does).
    let mbox = dir.path().join("old.mbox");
    let mut f = fs::File::create(&mbox).unwrap();
    std::io::Write::write_all(
        &mut f,
        b"From r@reporter.example Fri Jan  1 00:00:00 2099\nFrom: r@reporter.example\n\
To: security@example.org\nSubject: from the future\nMessage-ID: <f@reporter.example>\n\n\
Version 1.2 leaks tokens.\n\
From m@reporter.example Mon Jan  2 10:00:00 2023\nFrom: m@reporter.example\n\
To: security@example.org\nSubject: endless\nMessage-ID: <e@reporter.example>\n\n",
    )
    .unwrap();
    std::io::copy(&mut std::io::repeat(b'a').take(3_000_000), &mut f).unwrap();
    drop(f);
    let s = Archive::open(&mbox)
        .unwrap()
        .import(&mut store, &settings, now, &mut |_| {})
        .unwrap();
    assert_eq!((s.messages, s.new_cases, s.rejected), (2, 1, 1), "{s:?}");
    let r = rows(&store);
    assert_eq!(r.len(), 2, "{r:?}");
    assert_eq!(r[0].0, "report");
    assert_eq!(r[0].1, crate::store::ts(now), "filed as arriving now");
    assert_eq!(r[1].0, "rejected");
    assert_eq!(r[1].1, "2023-01-02T10:00:00.000Z");
    let reason = r[1].2.clone().unwrap_or_default();
    assert!(
        reason.contains("over store.max_message_size (64000 bytes)"),
        "{reason}"
    );
}

#[test]
fn a_maildir_file_named_in_the_future_arrives_now() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, settings) = importer(dir.path());
    let now = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
    let cur = dir.path().join("maildir/cur");
    fs::create_dir_all(&cur).unwrap();
    fs::write(
        cur.join("4102444800.M1P2.host:2,S"),
        "From: r@reporter.example\nTo: security@example.org\nSubject: later\n\
             Message-ID: <l@reporter.example>\n\nVersion 1.2 leaks tokens.\n",
    )
    .unwrap();
    let s = Archive::open(&dir.path().join("maildir"))
        .unwrap()
        .import(&mut store, &settings, now, &mut |_| {})
        .unwrap();
    assert_eq!(s.new_cases, 1, "{s:?}");
    assert_eq!(rows(&store)[0].1, crate::store::ts(now));
}

#[test]
fn what_is_not_an_mbox() {
    assert!(Mbox::new(&b"Subject: no separator\n"[..]).is_err());
    assert!(Mbox::new(&b""[..]).is_ok());
    assert_eq!(
        maildir_time(Path::new("/m/cur/1700000000.M1P2.host:2,S")),
        Utc.timestamp_opt(1_700_000_000, 0).single()
    );
}
