//! The conversation after the acknowledgement (issue 13), on a temporary
//! store with time passed in: whose turn it is, follow-up reminders and
//! escalations once per turn, reopening closed cases, merging, the silent
//! close, embargo reminders once per threshold, and the honest figures.

mod support;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use secdesk::case::workflow::{Action, CloseAs};
use secdesk::inbound::Outcome;
use secdesk::store::cases::{CaseRow, Waiting};
use secdesk::workflow::{apply, merge, reply};
use support::pipeline::*;

const SAM: &str = "sam@reporter.example";

fn case(f: &Fixture, id: &str) -> CaseRow {
    f.store.get_case(id).unwrap().unwrap()
}

fn step(f: &mut Fixture, id: &str, action: Action) -> anyhow::Result<()> {
    let c = case(f, id);
    let now = f.now;
    apply(&mut f.store, &f.cfg, &f.templates, &c, action, "lead", now).map(|_| ())
}

/// A report from Sam that lacks steps to reproduce.
fn sams_report(f: &mut Fixture, mid: &str, subject: &str) -> String {
    let raw = report(
        SAM,
        mid,
        subject,
        "",
        "The export endpoint in version 9.1 leaks other users' data.",
    );
    f.ingest(&raw).case.unwrap()
}

/// Sam writes again on case `id`, answering the last mail we sent him
/// (as a mail client's Reply does).
fn sam_writes(f: &mut Fixture, id: &str, mid: &str, body: &str) -> Outcome {
    let ours = f.text(&format!(
        "SELECT COALESCE((SELECT message_id FROM outbox WHERE case_id = '{id}' \
         ORDER BY id DESC LIMIT 1), '')"
    ));
    let reply = if ours.is_empty() {
        String::new()
    } else {
        // The SMTP server took it (there is none here): sent.
        f.exec(&format!(
            "UPDATE outbox SET status = 'sent' WHERE message_id = '{ours}'"
        ));
        format!("In-Reply-To: <{ours}>\r\n")
    };
    let raw = report(SAM, mid, &format!("Re: [{id}] more"), &reply, body);
    f.ingest(&raw).outcome
}

/// Someone writes on case `id` by typing its tag.
fn tagged(f: &mut Fixture, from: &str, id: &str, mid: &str, body: &str) -> Outcome {
    let raw = report(from, mid, &format!("Re: [{id}] more"), "", body);
    f.ingest(&raw).outcome
}

/// The lead answers Sam through `secdesk reply`.
fn lead_replies(f: &mut Fixture, id: &str) {
    let c = case(f, id);
    let now = f.now;
    reply(
        &mut f.store,
        &f.cfg,
        &c,
        "Thanks, looking.".into(),
        "lead",
        now,
    )
    .unwrap();
}

/// A reminder scan at `at`: the subjects of the mails it queued.
fn scan(f: &mut Fixture, at: DateTime<Utc>) -> Vec<String> {
    secdesk::reminders::scan(&mut f.store, &f.cfg, &f.templates, at, false)
        .unwrap()
        .into_iter()
        .map(|m| format!("{} -> {}", m.subject, m.to.join(",")))
        .collect()
}

fn open_turns(f: &Fixture, id: &str) -> i64 {
    f.count(&format!(
        "SELECT COUNT(*) FROM turns WHERE case_id = '{id}' AND answered_at IS NULL AND ended_at IS NULL"
    ))
}

#[test]
fn the_reporters_turn_and_the_teams_turn() {
    let mut f = fixture();
    let id = sams_report(&mut f, "r1@reporter.example", "Data leak in export");
    assert_eq!(
        case(&f, &id).waiting_on(),
        Waiting::Team(case(&f, &id).response_due())
    );
    // Before the first response, more mail from Sam opens no turn: the
    // first-response window governs.
    sam_writes(&mut f, &id, "r2@reporter.example", "Also in 9.0.");
    assert_eq!(open_turns(&f, &id), 0);
    lead_replies(&mut f, &id);
    assert_eq!(case(&f, &id).waiting_on(), Waiting::Reporter);
    // Sam answers: the team's turn, due in the follow-up window (72h).
    f.now += Duration::hours(1);
    let received = f.now + Duration::seconds(1);
    sam_writes(&mut f, &id, "r3@reporter.example", "Any news?");
    let c = case(&f, &id);
    let due = received + Duration::hours(72);
    assert_eq!(c.waiting_on(), Waiting::Team(Some(due)));
    assert!(c.awaiting_team_since.is_some());
    assert!(f.events(&id).iter().any(|(k, _)| k == "awaiting_team"));
    // A second message while the team owes an answer changes nothing.
    sam_writes(&mut f, &id, "r4@reporter.example", "Hello?");
    assert_eq!(f.count("SELECT COUNT(*) FROM turns"), 1);

    // One reminder (4h before), one escalation, each once.
    assert!(scan(&mut f, due - Duration::hours(13)).is_empty());
    let r = scan(&mut f, due - Duration::hours(3));
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(r[0].contains("Reminder") && r[0].contains(&id), "{r:?}");
    assert!(scan(&mut f, due - Duration::hours(2)).is_empty());
    let e = scan(&mut f, due + Duration::minutes(1));
    assert!(
        e.iter().all(|s| s.contains("ESCALATION")) && !e.is_empty(),
        "{e:?}"
    );
    assert!(scan(&mut f, due + Duration::hours(5)).is_empty());
    let body = f.text("SELECT body FROM outbox WHERE subject LIKE '%Reminder%' LIMIT 1");
    assert!(body.contains("the reporter wrote again"), "{body}");

    // The team answers: the turn closes, nothing more fires.
    lead_replies(&mut f, &id);
    assert_eq!(open_turns(&f, &id), 0);
    assert_eq!(case(&f, &id).waiting_on(), Waiting::Reporter);
    // The next message is turn 2, with its own thresholds.
    f.now += Duration::hours(100);
    sam_writes(
        &mut f,
        &id,
        "r5@reporter.example",
        "Thanks! One more thing.",
    );
    assert_eq!(f.count("SELECT MAX(turn) FROM turns"), 2);
    let due2 = f.now + Duration::hours(72);
    assert_eq!(scan(&mut f, due2 - Duration::hours(3)).len(), 1);
}

#[test]
fn details_sent_later_count_towards_the_report() {
    let mut f = fixture();
    let id = sams_report(&mut f, "m1@reporter.example", "Data leak in export");
    assert!(case(&f, &id)
        .missing_items
        .contains(&"steps_to_reproduce".to_string()));
    sam_writes(
        &mut f,
        &id,
        "m2@reporter.example",
        "Steps to reproduce:\n1. log in as alice\n2. GET /export?user=bob\n",
    );
    assert!(!case(&f, &id)
        .missing_items
        .contains(&"steps_to_reproduce".to_string()));
}

/// Issue 13 review, finding 2: a case tag is anyone's to type. A stranger
/// using it is filed on the case and changes nothing; the reporter using
/// it without answering any of the case's mail reopens nothing.
#[test]
fn a_case_tag_gives_no_one_a_say() {
    let mut f = fixture();
    let id = sams_report(&mut f, "t1@reporter.example", "Data leak in export");
    lead_replies(&mut f, &id);
    // A stranger: filed, no turn, and the report still lacks its steps.
    tagged(
        &mut f,
        "mallory@evil.example",
        &id,
        "t2@evil.example",
        "Steps to reproduce:\n1. trust me\n",
    );
    assert_eq!(open_turns(&f, &id), 0);
    assert!(f
        .events(&id)
        .iter()
        .any(|(k, d)| k == "not_from_reporter" && d.contains("mallory@evil.example")));
    // Sam writing afterwards recomputes the report from his own words only.
    sam_writes(&mut f, &id, "t3@reporter.example", "Any news?");
    assert!(case(&f, &id)
        .missing_items
        .contains(&"steps_to_reproduce".to_string()));
    // Closed cases: neither the stranger nor Sam's bare tag reopens.
    step(
        &mut f,
        &id,
        Action::Reject {
            reason: "works as designed".into(),
        },
    )
    .unwrap();
    tagged(
        &mut f,
        "mallory@evil.example",
        &id,
        "t4@evil.example",
        "reopen",
    );
    tagged(&mut f, SAM, &id, "t5@reporter.example", "reopen");
    assert_eq!(case(&f, &id).state, "invalid");
    assert_eq!(open_turns(&f, &id), 0);
    // Answering the notice does.
    sam_writes(&mut f, &id, "t6@reporter.example", "I disagree");
    assert_eq!(case(&f, &id).state, "reopened");
}

#[test]
fn mail_on_a_closed_case_reopens_it_and_the_lead_closes_it_again() {
    let mut f = fixture();
    let id = sams_report(&mut f, "c1@reporter.example", "Not really a bug");
    step(
        &mut f,
        &id,
        Action::Reject {
            reason: "works as designed".into(),
        },
    )
    .unwrap();
    // The notice was the team's answer: the clock stopped then.
    assert!(case(&f, &id).first_response_at.is_some());
    sam_writes(
        &mut f,
        &id,
        "c2@reporter.example",
        "I disagree, because ...",
    );
    let c = case(&f, &id);
    assert_eq!(c.state, "reopened");
    assert_eq!(c.reopened_from.as_deref(), Some("invalid"));
    let ev = f.events(&id);
    let (_, d) = ev.iter().find(|(k, _)| k == "reopened").unwrap();
    assert!(d.contains(SAM) && d.contains("c2@reporter.example"), "{d}");
    // The lead is reminded of it like any other turn.
    let due = f.now + Duration::hours(72);
    let r = scan(&mut f, due - Duration::hours(3));
    assert_eq!(r.len(), 1);
    // Closed again, silently, to where it was; the turn ends unanswered.
    step(
        &mut f,
        &id,
        Action::Close {
            as_: None,
            note: Some("same reasoning stands".into()),
        },
    )
    .unwrap();
    assert_eq!(case(&f, &id).state, "invalid");
    assert_eq!(open_turns(&f, &id), 0);
    assert_eq!(
        f.count("SELECT COUNT(*) FROM outbox WHERE kind = 'notice'"),
        1,
        "closing again mails nobody"
    );
    // Rejected again after a second reopen: a second notice is sent.
    sam_writes(&mut f, &id, "c3@reporter.example", "Still disagree.");
    step(
        &mut f,
        &id,
        Action::Reject {
            reason: "still works as designed".into(),
        },
    )
    .unwrap();
    assert_eq!(
        f.count("SELECT COUNT(*) FROM outbox WHERE kind = 'notice'"),
        2
    );
}

#[test]
fn every_closed_state_reopens_and_a_silent_close_does_not() {
    let mut f = fixture();
    for (n, state) in ["duplicate", "disclosed", "imported"].iter().enumerate() {
        let id = sams_report(&mut f, &format!("s{n}@reporter.example"), "report");
        f.exec(&format!(
            "UPDATE cases SET state = '{state}' WHERE id = '{id}'"
        ));
        sam_writes(&mut f, &id, &format!("s{n}b@reporter.example"), "again");
        let c = case(&f, &id);
        assert_eq!(c.state, "reopened", "{state}");
        assert_eq!(c.reopened_from.as_deref(), Some(*state));
    }
    // Spam closed silently: its sender writing again changes nothing.
    let id = sams_report(&mut f, "spam@reporter.example", "Buy SEO services");
    step(
        &mut f,
        &id,
        Action::Close {
            as_: Some(CloseAs::Spam),
            note: None,
        },
    )
    .unwrap();
    assert_eq!(
        f.count(&format!(
            "SELECT COUNT(*) FROM outbox WHERE case_id = '{id}' AND kind != 'ack'"
        )),
        0
    );
    sam_writes(&mut f, &id, "spam2@reporter.example", "Special offer");
    assert_eq!(case(&f, &id).state, "closed");
    assert!(f
        .events(&id)
        .iter()
        .any(|(k, _)| k == "message_on_closed_case"));
}

#[test]
fn a_merged_case_keeps_threading_under_its_old_tag() {
    let mut f = fixture();
    let a = sams_report(&mut f, "g1@reporter.example", "Data leak in export");
    // Sam writes again, new subject, no tag: a second case, noticed.
    let b = sams_report(&mut f, "g2@reporter.example", "Export bug, more details");
    assert_eq!(case(&f, &b).same_reporter, vec![a.clone()]);
    let (from, into) = (case(&f, &b), case(&f, &a));
    let now = f.now;
    let m = merge(&mut f.store, &f.cfg, &from, &into, "lead", now).unwrap();
    assert_eq!(m.messages, 1);
    assert_eq!(case(&f, &b).state, "merged");
    assert_eq!(case(&f, &b).merged_into.as_deref(), Some(a.as_str()));
    assert!(case(&f, &a).same_reporter.is_empty());
    // Sam replies to B's acknowledgement, tag and all: it lands in A.
    let raw = report(
        SAM,
        "g3@reporter.example",
        &format!("Re: [{b}] Export bug"),
        "In-Reply-To: <g2@reporter.example>\r\n",
        "Here is the proof of concept.",
    );
    let r = f.ingest(&raw);
    assert_eq!(r.case.as_deref(), Some(a.as_str()));
    let raw = report(
        SAM,
        "g4@reporter.example",
        &format!("Re: [{b}] x"),
        "",
        "and more",
    );
    assert_eq!(f.ingest(&raw).case.as_deref(), Some(a.as_str()));
    assert_eq!(
        f.count(&format!(
            "SELECT COUNT(*) FROM messages WHERE case_id = '{a}'"
        )),
        4
    );
    // Nobody was mailed by the merge (only the two acks exist).
    assert_eq!(
        f.count("SELECT COUNT(*) FROM outbox WHERE kind != 'ack'"),
        0
    );
    // Merging into a merged case, or a case into itself, is refused.
    let (gone, live) = (case(&f, &b), case(&f, &a));
    let now = f.now;
    assert!(merge(&mut f.store, &f.cfg, &live, &gone, "lead", now).is_err());
    assert!(merge(&mut f.store, &f.cfg, &live, &live, "lead", now).is_err());
}

#[test]
fn a_duplicate_of_ones_own_report_is_not_called_someone_elses() {
    let mut f = fixture();
    let a = sams_report(&mut f, "d1@reporter.example", "Data leak");
    let b = sams_report(&mut f, "d2@reporter.example", "Data leak again");
    step(&mut f, &b, Action::Duplicate { of: a.clone() }).unwrap();
    let flat = |b: String| b.split_whitespace().collect::<Vec<_>>().join(" ");
    let body = flat(f.text("SELECT body FROM outbox WHERE kind = 'notice'"));
    assert!(body.contains("your earlier report"), "{body}");
    assert!(!body.contains("had already been reported to us"), "{body}");
    // Someone else's duplicate keeps the usual notice.
    let raw = report(
        "kim@other.example",
        "d3@other.example",
        "Leak",
        "",
        "version 9",
    );
    let c = f.ingest(&raw).case.unwrap();
    step(&mut f, &c, Action::Duplicate { of: a }).unwrap();
    let body =
        flat(f.text("SELECT body FROM outbox WHERE kind = 'notice' ORDER BY id DESC LIMIT 1"));
    assert!(body.contains("had already been reported to us"), "{body}");
}

#[test]
fn embargo_reminders_fire_once_per_threshold() {
    let mut f = fixture();
    let id = sams_report(&mut f, "e1@reporter.example", "Data leak");
    f.exec(&format!(
        "UPDATE cases SET state = 'accepted', first_response_at = received_at WHERE id = '{id}'"
    ));
    let today = f.now.date_naive();
    let until = today + Duration::days(30);
    step(
        &mut f,
        &id,
        Action::Embargo {
            until,
            note: Some("reporter talks at a conference".into()),
            today,
        },
    )
    .unwrap();
    let at =
        |d: NaiveDate, days: i64| d.and_hms_opt(0, 0, 0).unwrap().and_utc() + Duration::days(days);
    assert!(scan(&mut f, at(until, -15)).is_empty());
    let r = scan(&mut f, at(until, -13));
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(r[0].contains("disclosure"), "{r:?}");
    assert!(scan(&mut f, at(until, -12)).is_empty());
    assert_eq!(scan(&mut f, at(until, -2)).len(), 1);
    assert!(scan(&mut f, at(until, -1)).is_empty());
    // Passed with no fix released: escalated, once.
    let e = scan(&mut f, at(until, 1));
    assert!(
        !e.is_empty() && e.iter().all(|s| s.contains("ESCALATION")),
        "{e:?}"
    );
    assert!(scan(&mut f, at(until, 2)).is_empty());
    let body = f.text("SELECT body FROM outbox WHERE subject LIKE '%ESCALATION%' LIMIT 1");
    assert!(body.contains("no fix is released yet"), "{body}");
    // A new date re-arms the reminders.
    let later = until + Duration::days(60);
    step(
        &mut f,
        &id,
        Action::Embargo {
            until: later,
            note: None,
            today: until,
        },
    )
    .unwrap();
    assert_eq!(scan(&mut f, at(later, -13)).len(), 1);
}

#[test]
fn the_figures_count_a_breach_however_the_case_was_closed() {
    let mut f = fixture();
    let kept = sams_report(&mut f, "b1@reporter.example", "answered in time");
    lead_replies(&mut f, &kept);
    let late = sams_report(&mut f, "b2@reporter.example", "escalated then rejected");
    let due = case(&f, &late).response_due().unwrap();
    assert_eq!(scan(&mut f, due + Duration::minutes(1)).len(), 1);
    f.now = due + Duration::hours(1);
    step(
        &mut f,
        &late,
        Action::Reject {
            reason: "not a vulnerability".into(),
        },
    )
    .unwrap();
    let spam = sams_report(&mut f, "b3@reporter.example", "spam");
    step(
        &mut f,
        &spam,
        Action::Close {
            as_: Some(CloseAs::Spam),
            note: None,
        },
    )
    .unwrap();
    let cases = f.store.list_cases(&Default::default()).unwrap();
    let turns = f.store.all_turns().unwrap();
    let s = secdesk::stats::compute(&cases, &turns, f.now, None, None);
    assert_eq!((s.answered_within_window, s.window_decided), (1, 2));
    assert_eq!((s.cases, s.closed_silently), (2, 1));
}
