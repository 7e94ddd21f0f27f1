//! Closing, merging and the figures after the hostile review of issue 13,
//! on a temporary store: migration 9 fills in `history` and `closed_at`
//! for an existing store.

mod support;

use rusqlite::Connection;
use secdesk::store::schema::MIGRATIONS;
use secdesk::store::Store;

/// A store at schema 8 with a case of each kind, upgraded.
#[test]
fn migration_9_fills_in_history_and_closed_at() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cases.db");
    {
        let c = Connection::open(&db).unwrap();
        for sql in MIGRATIONS.iter().take(8) {
            c.execute_batch(sql).unwrap();
        }
        c.pragma_update(None, "user_version", 8).unwrap();
        let rows = [
            // id, state, reopened_from
            ("SEC-2025-0001", "imported", None),
            ("SEC-2025-0002", "reopened", Some("imported")),
            // Reopened history, moved on since: known from its trail.
            ("SEC-2025-0003", "triage", None),
            ("SEC-2026-0001", "closed", None),
            ("SEC-2026-0002", "invalid", None),
            ("SEC-2026-0003", "acknowledged", None),
        ];
        for (n, (id, state, from)) in rows.iter().enumerate() {
            c.execute(
                "INSERT INTO cases (id, year, seq, state, reopened_from, received_at,
                                    response_due_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, '2026-11-01T00:00:00.000Z',
                         '2026-11-03T00:00:00.000Z')",
                rusqlite::params![id, 2026, n as i64 + 1, state, from],
            )
            .unwrap();
        }
        let events = [
            ("SEC-2025-0003", "2026-11-01T00:00:00.000Z", "imported"),
            (
                "SEC-2026-0001",
                "2026-11-04T00:00:00.000Z",
                "closed_silently",
            ),
            ("SEC-2026-0002", "2026-11-05T00:00:00.000Z", "closed_again"),
            ("SEC-2026-0002", "2026-11-07T00:00:00.000Z", "closed_again"),
            ("SEC-2026-0003", "2026-11-02T00:00:00.000Z", "note"),
        ];
        for (id, at, kind) in events {
            c.execute(
                "INSERT INTO events (case_id, at, kind, actor) VALUES (?1, ?2, ?3, 'lead')",
                [id, at, kind],
            )
            .unwrap();
        }
    }
    let store = Store::open(&db, &dir.path().join("data")).unwrap();
    assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len());
    let get = |id: &str| store.get_case(id).unwrap().unwrap();
    for (id, history, closed_at) in [
        ("SEC-2025-0001", true, None),
        ("SEC-2025-0002", true, None),
        ("SEC-2025-0003", true, None),
        ("SEC-2026-0001", false, Some("2026-11-04T00:00:00.000Z")),
        // Closed twice: the last time.
        ("SEC-2026-0002", false, Some("2026-11-07T00:00:00.000Z")),
        ("SEC-2026-0003", false, None),
    ] {
        let c = get(id);
        assert_eq!(
            (c.history, c.closed_at.as_deref()),
            (history, closed_at),
            "{id}"
        );
    }
    // A history case filed after the upgrade is marked at insert.
    let c = Connection::open(&db).unwrap();
    c.execute(
        "INSERT INTO cases (id, year, seq, state, received_at, response_due_at)
         VALUES ('SEC-2025-0009', 2025, 9, 'imported', 'x', 'y'),
                ('SEC-2026-0009', 2026, 9, 'new', 'x', 'y')",
        [],
    )
    .unwrap();
    assert!(get("SEC-2025-0009").history);
    assert!(!get("SEC-2026-0009").history);
}
