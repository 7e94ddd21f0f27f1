//! What a case's report seems to lack, kept up to date as its reporter
//! writes again (issue 13): recomputed over the report and the reporter's
//! own follow-ups, never a stranger's text, and bounded in what it reads.

use anyhow::{Context, Result};
use rusqlite::{params, Transaction};

/// Most text [`refresh_missing_items`] reads of a case: a long thread must
/// not cost a megabyte per message on every follow-up, and
/// [`crate::case::report::missing_items`] searches no further than its
/// first 200,000 bytes anyway.
const MISSING_ITEMS_TEXT: usize = 200_000;

/// Recomputes what the case's report seems to lack over the report and
/// what its reporter wrote later (details sent later count). Only the
/// reporter's own follow-ups count: a case tag is anyone's to type, and a
/// stranger's "steps to reproduce" must not clear the question. Reads at
/// most [`MISSING_ITEMS_TEXT`] bytes of text. Returns the items still
/// missing.
pub fn refresh_missing_items(tx: &Transaction<'_>, case: &str) -> Result<Vec<String>> {
    let subject: String = tx
        .query_row("SELECT subject FROM cases WHERE id = ?1", [case], |r| {
            r.get(0)
        })
        .with_context(|| format!("reading case {case}"))?;
    let text = reporter_text(tx, case, MISSING_ITEMS_TEXT)?;
    let missing: Vec<String> = crate::case::report::missing_items(&subject, &text)
        .iter()
        .map(|m| m.as_str().to_string())
        .collect();
    tx.execute(
        "UPDATE cases SET missing_items = ?2 WHERE id = ?1",
        params![
            case,
            serde_json::to_string(&missing).context("encoding missing items")?
        ],
    )
    .with_context(|| format!("updating the missing items of {case}"))?;
    Ok(missing)
}

/// The report and the reporter's own follow-ups of `case`, oldest first,
/// as one text of at most `cap` bytes.
fn reporter_text(tx: &Transaction<'_>, case: &str, cap: usize) -> Result<String> {
    // Bytes, not characters: substr on a BLOB counts bytes, so no row
    // hands over more than the cap. SQLite's lower() folds ASCII only,
    // which is what addresses compare by in practice.
    let mut stmt = tx
        .prepare_cached(
            "SELECT substr(CAST(m.body_text AS BLOB), 1, ?2)
             FROM messages m JOIN cases c ON c.id = m.case_id
             WHERE m.case_id = ?1
               AND (m.kind = 'report'
                    OR (m.kind = 'follow_up' AND c.reporter_address <> ''
                        AND lower(m.from_address) = lower(c.reporter_address)))
             ORDER BY m.id",
        )
        .with_context(|| format!("reading the messages of {case}"))?;
    let mut text = String::new();
    let rows = stmt
        .query_map(params![case, i64::try_from(cap).unwrap_or(i64::MAX)], |r| {
            r.get::<_, Vec<u8>>(0)
        })
        .with_context(|| format!("reading the messages of {case}"))?;
    for body in rows {
        let body = body.with_context(|| format!("reading the messages of {case}"))?;
        // A cut may split a character; it reads as U+FFFD, harmless here.
        let body = String::from_utf8_lossy(&body);
        let mut cut = body.len().min(cap.saturating_sub(text.len()));
        while !body.is_char_boundary(cut) {
            cut -= 1;
        }
        text.push_str(body.get(..cut).unwrap_or_default());
        if text.len() >= cap {
            // Full: the next row is not even fetched.
            break;
        }
        text.push_str("\n\n");
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    const STEPS: &str = "steps_to_reproduce";

    fn store_with_case(dir: &std::path::Path) -> Store {
        let mut s = Store::open(&dir.join("c.db"), &dir.join("d")).unwrap();
        s.write(|tx| {
            tx.execute(
                "INSERT INTO cases (id, year, seq, state, reporter_address, subject,
                                    received_at, response_due_at)
                 VALUES ('SEC-2026-0001', 2026, 1, 'acknowledged', 'Sam@Reporter.example',
                         'Data leak in export', '2026-11-01T00:00:00.000Z',
                         '2026-11-03T00:00:00.000Z')",
                [],
            )?;
            Ok(())
        })
        .unwrap();
        s
    }

    fn file(s: &mut Store, n: u32, kind: &str, from: &str, body: &str) -> Vec<String> {
        s.write(|tx| {
            tx.execute(
                "INSERT INTO messages (case_id, dedup_key, sha256, size, kind, classification,
                                       from_address, received_at, body_text, source)
                 VALUES ('SEC-2026-0001', ?1, 'x', 1, ?2, 'report', ?3,
                         '2026-11-01T00:00:00.000Z', ?4, 'test')",
                params![format!("k{n}"), kind, from, body],
            )?;
            refresh_missing_items(tx, "SEC-2026-0001")
        })
        .unwrap()
    }

    #[test]
    fn only_the_reporters_words_fill_the_report() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store_with_case(dir.path());
        let m = file(&mut s, 1, "report", "sam@reporter.example", "Data leak.");
        assert!(m.contains(&STEPS.to_string()), "{m:?}");
        // A stranger who typed the case tag does not answer for Sam.
        let m = file(
            &mut s,
            2,
            "follow_up",
            "mallory@evil.example",
            "Steps to reproduce:\n1. trust me\n",
        );
        assert!(m.contains(&STEPS.to_string()), "{m:?}");
        // Sam does, whatever the case of his address.
        let m = file(
            &mut s,
            3,
            "follow_up",
            "SAM@reporter.EXAMPLE",
            "Steps to reproduce:\n1. GET /export\n",
        );
        assert!(!m.contains(&STEPS.to_string()), "{m:?}");
    }

    #[test]
    fn a_case_without_a_reporter_address_counts_only_its_report() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store_with_case(dir.path());
        s.write(|tx| {
            tx.execute("UPDATE cases SET reporter_address = ''", [])?;
            Ok(())
        })
        .unwrap();
        file(&mut s, 1, "report", "", "Data leak.");
        let m = file(&mut s, 2, "follow_up", "", "Steps to reproduce: 1. x");
        assert!(m.contains(&STEPS.to_string()), "{m:?}");
    }

    #[test]
    fn the_text_read_is_capped() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store_with_case(dir.path());
        let sam = "sam@reporter.example";
        file(&mut s, 1, "report", sam, "Leak.");
        file(&mut s, 2, "follow_up", sam, "Steps: 1. GET /export");
        file(&mut s, 3, "follow_up", sam, "Impact: everything");
        let read = |s: &mut Store, cap| {
            s.write(|tx| reporter_text(tx, "SEC-2026-0001", cap))
                .unwrap()
        };
        assert_eq!(
            read(&mut s, 1000),
            "Leak.\n\nSteps: 1. GET /export\n\nImpact: everything\n\n"
        );
        // Reading stops at the cap, inside the second message.
        assert_eq!(read(&mut s, 12), "Leak.\n\nSteps");
        assert_eq!(read(&mut s, 5), "Leak.");
        // A cap inside a two-byte character cuts before it: no panic.
        file(&mut s, 4, "follow_up", sam, &"é".repeat(MISSING_ITEMS_TEXT));
        let all = read(&mut s, MISSING_ITEMS_TEXT);
        assert!(all.len() <= MISSING_ITEMS_TEXT, "{}", all.len());
        assert!(all.ends_with('é'));
    }
}
