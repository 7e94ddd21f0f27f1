//! The plan for one message, table by table: new reports, rate limits,
//! follow-ups, team responses and what a reporter's mail may change.

use super::*;
use crate::mail::parse::{parse, Mailbox};
use chrono::TimeZone;

fn msg() -> Incoming {
    parse(include_bytes!("../../../tests/data/01-report-complete.eml")).unwrap()
}

fn mailbox(address: &str) -> Mailbox {
    Mailbox {
        name: None,
        address: address.into(),
    }
}

/// The lead writing to the reporter, Cc the security address.
fn team_reply() -> Incoming {
    let mut m = msg();
    m.from = Some(mailbox("lead@example.org"));
    m.to = vec![mailbox("Sam@Reporter.example")];
    m.cc = vec![mailbox("security@example.org")];
    m
}

/// The project and the built-in templates, for the acknowledgement.
fn project() -> &'static (ProjectConfig, Templates) {
    static P: std::sync::OnceLock<(ProjectConfig, Templates)> = std::sync::OnceLock::new();
    P.get_or_init(|| {
        let cfg = crate::config::from_toml_str(
            "[project]\nname = \"Example\"\nsecurity_address = \"security@example.org\"\n\
             [store]\npath = \"c\"\ndata_dir = \"d\"\n",
            std::path::Path::new("/etc/secdesk/secdesk.toml"),
        )
        .unwrap();
        (cfg.project, Templates::load(None).unwrap())
    })
}

fn inputs<'a>(
    class: &'a Classification,
    thread: Option<&'a Thread>,
    counts: AckCounts,
    limits: &'a LimitsConfig,
) -> Inputs<'a> {
    let (project, templates) = project();
    Inputs {
        classification: class,
        thread,
        next_case_id: CaseId::parse("SEC-2026-0001", "SEC").unwrap(),
        counts,
        limits,
        response_window: Duration::from_secs(48 * 3600),
        follow_up_window: Duration::from_secs(72 * 3600),
        project,
        templates,
        token: "t0k3n",
        received_at: Utc.with_ymd_and_hms(2026, 11, 23, 9, 13, 0).unwrap(),
        now: Utc.with_ymd_and_hms(2026, 11, 23, 9, 14, 0).unwrap(),
        team_auth: TeamAuth::Verified,
        from_sent_folder: false,
        history: false,
    }
}

const LIMITS: LimitsConfig = LimitsConfig {
    acks_per_sender_per_hour: 5,
    acks_per_domain_per_hour: 20,
    acks_per_hour: 200,
};

fn thread(state: State, answers_our_mail: bool) -> Thread {
    Thread {
        case: CaseId::parse("SEC-2026-0009", "SEC").unwrap(),
        state,
        reporter_address: "sam@reporter.example".into(),
        matched_by: "reference",
        answers_our_mail,
        credit_decided_by_lead: false,
        responded: true,
        turn_open: false,
        merged_reporters: Vec::new(),
    }
}

#[test]
fn a_new_report_opens_a_case_and_queues_an_ack() {
    let c = Classification::Answerable;
    let p = plan_inbound(&msg(), &inputs(&c, None, AckCounts::default(), &LIMITS));
    assert_eq!(p.outcome, Outcome::NewCase);
    let AckDecision::Queue(ack) = &p.ack else {
        panic!("{:?}", p.ack)
    };
    // The ack is built in the plan: to the reporter, threaded, tagged.
    assert_eq!(ack.to, vec!["sam@reporter.example".to_string()]);
    assert_eq!(
        ack.message_id,
        "secdesk.sec-2026-0001.ack.t0k3n@example.org"
    );
    assert_eq!(
        ack.in_reply_to.as_deref(),
        Some("20261123091244.4411@reporter.example")
    );
    assert!(ack.subject.starts_with("Re: [SEC-2026-0001] "));
    let n = p.new_case.unwrap();
    assert_eq!(n.reporter_address, "sam@reporter.example");
    assert_eq!(
        n.response_due_at,
        Utc.with_ymd_and_hms(2026, 11, 25, 9, 13, 0).unwrap()
    );
}

#[test]
fn rate_limits_hold_the_ack_back_with_a_reason() {
    let c = Classification::Answerable;
    for (counts, says) in [
        (
            AckCounts {
                to_sender: 5,
                ..Default::default()
            },
            "this sender",
        ),
        (
            AckCounts {
                to_domain: 20,
                ..Default::default()
            },
            "domain",
        ),
        (
            AckCounts {
                total: 200,
                ..Default::default()
            },
            "200",
        ),
    ] {
        let p = plan_inbound(&msg(), &inputs(&c, None, counts, &LIMITS));
        assert!(
            matches!(p.ack, AckDecision::Hold(_, ref w) if w.contains(says)),
            "{counts:?}: {:?}",
            p.ack
        );
        assert!(p.events.iter().any(|e| e.kind == "ack_held"));
        assert_eq!(p.outcome, Outcome::NewCase);
    }
}

#[test]
fn threaded_mail_is_a_follow_up_without_ack() {
    let c = Classification::Answerable;
    let t = thread(State::Acknowledged, false);
    let p = plan_inbound(&msg(), &inputs(&c, Some(&t), AckCounts::default(), &LIMITS));
    assert_eq!(p.outcome, Outcome::FollowUp);
    assert_eq!(p.case, Some(t.case.clone()));
    assert_eq!(p.ack, AckDecision::NotApplicable);
    let auto = Classification::NoReply(NoReply::AutoSubmitted);
    let p = plan_inbound(
        &msg(),
        &inputs(&auto, Some(&t), AckCounts::default(), &LIMITS),
    );
    assert_eq!(p.outcome, Outcome::AutoReply);
    assert_eq!(p.case, Some(t.case));
}

#[test]
fn team_mail_responds_as_far_as_it_is_trusted() {
    let team = Classification::NoReply(NoReply::TeamMember);
    let t = thread(State::Acknowledged, false);
    let mut i = inputs(&team, Some(&t), AckCounts::default(), &LIMITS);
    let p = plan_inbound(&team_reply(), &i);
    assert_eq!(p.first_response, Some(Response { verified: true }));
    assert_eq!(p.message_kind, "team_response");
    // No trust configured: it counts, and the case says it is unverified.
    i.team_auth = TeamAuth::Unchecked;
    let p = plan_inbound(&team_reply(), &i);
    assert_eq!(p.first_response, Some(Response { verified: false }));
    assert!(p.events.iter().any(|e| e.kind == "team_mail_unverified"));
    // Configured and failed: it does not count.
    i.team_auth = TeamAuth::Failed;
    let p = plan_inbound(&team_reply(), &i);
    assert_eq!(p.first_response, None);
    assert!(p.events.iter().any(|e| e.kind == "team_mail_unverified"));
    // A reporter's follow-up is not a response.
    let c = Classification::Answerable;
    let p = plan_inbound(&msg(), &inputs(&c, Some(&t), AckCounts::default(), &LIMITS));
    assert_eq!(p.first_response, None);
}

#[test]
fn sent_folder_replies_respond_our_own_copies_do_not() {
    let own = Classification::NoReply(NoReply::OwnAddress);
    let t = thread(State::Acknowledged, false);
    let mut i = inputs(&own, Some(&t), AckCounts::default(), &LIMITS);
    i.from_sent_folder = true;
    let p = plan_inbound(&team_reply(), &i);
    assert_eq!(p.first_response, Some(Response { verified: true }));
    // Sent, but to someone else: a note, not the response.
    let mut aside = team_reply();
    aside.to = vec![mailbox("colleague@example.org")];
    aside.cc.clear();
    let p = plan_inbound(&aside, &i);
    assert_eq!((p.first_response, p.message_kind), (None, "team_note"));
    let mut ours = team_reply();
    ours.auto.loop_header = true;
    let p = plan_inbound(&ours, &i);
    assert_eq!(p.first_response, None);
    i.thread = None;
    let p = plan_inbound(&msg(), &i);
    assert_eq!((p.outcome, p.case), (Outcome::AutoReply, None));
}

/// Issue 13 review, finding 8: a forward of the case or a note among the
/// team quotes the case but answers nobody; it leaves the clock running.
#[test]
fn team_mail_not_written_to_the_reporter_is_not_the_response() {
    let team = Classification::NoReply(NoReply::TeamMember);
    let t = thread(State::Acknowledged, false);
    let i = inputs(&team, Some(&t), AckCounts::default(), &LIMITS);
    let mut note = team_reply();
    note.to = vec![mailbox("colleague@example.org")];
    let p = plan_inbound(&note, &i);
    assert_eq!((p.first_response, p.message_kind), (None, "team_note"));
    let e = p.events.iter().find(|e| e.kind == "team_note").unwrap();
    assert!(e.detail.contains("sam@reporter.example"), "{}", e.detail);
    // A forward quoting the reporter, even with the reporter in Cc.
    let mut fwd = team_reply();
    fwd.attached = Some(Box::new(msg()));
    let p = plan_inbound(&fwd, &i);
    assert_eq!(p.first_response, None);
    assert!(p
        .events
        .iter()
        .any(|e| e.kind == "team_note" && e.detail.contains("forwarding")));
    // A case without a reporter address has nobody to answer by mail.
    let mut t = thread(State::Acknowledged, false);
    t.reporter_address.clear();
    let p = plan_inbound(
        &team_reply(),
        &inputs(&team, Some(&t), AckCounts::default(), &LIMITS),
    );
    assert_eq!(p.first_response, None);
}

/// Issue 13 review, finding 3: through our relay the From comes from
/// X-Original-From, which the relay's signature does not vouch for.
#[test]
fn relayed_team_mail_says_why_it_does_not_count() {
    let team = Classification::NoReply(NoReply::TeamMember);
    let t = thread(State::Acknowledged, false);
    let mut i = inputs(&team, Some(&t), AckCounts::default(), &LIMITS);
    i.team_auth = TeamAuth::Failed;
    let mut m = team_reply();
    m.from_unwrapped = true;
    m.relayed = Some("through our own relay, which rewrote From".into());
    let p = plan_inbound(&m, &i);
    assert_eq!(p.first_response, None);
    let e = p
        .events
        .iter()
        .find(|e| e.kind == "team_mail_unverified")
        .unwrap();
    assert!(e.detail.contains("X-Original-From"), "{}", e.detail);
    assert!(
        p.events.iter().any(|e| e.kind == "relayed"),
        "follow-ups record the relay too"
    );
}

/// Issue 13 review, finding 4: a "forward" from a team address that fails
/// the check is its sender's own report, not filed under the quoted one.
#[test]
fn a_forward_that_fails_the_team_check_names_no_one_else() {
    let team = Classification::NoReply(NoReply::TeamMember);
    let mut i = inputs(&team, None, AckCounts::default(), &LIMITS);
    let mut fwd = team_reply();
    fwd.attached = Some(Box::new(msg()));
    let p = plan_inbound(&fwd, &i);
    assert_eq!(p.new_case.unwrap().reporter_address, "sam@reporter.example");
    i.team_auth = TeamAuth::Unchecked;
    let p = plan_inbound(&fwd, &i);
    assert!(p
        .events
        .iter()
        .any(|e| e.kind == "forwarded_report" && e.detail.contains("unverified")));
    i.team_auth = TeamAuth::Failed;
    let p = plan_inbound(&fwd, &i);
    assert_eq!(p.new_case.unwrap().reporter_address, "lead@example.org");
    assert!(p.events.iter().any(|e| e.kind == "team_mail_unverified"));
    assert!(!p.events.iter().any(|e| e.kind == "forwarded_report"));
}

/// Issue 10, finding 1: only a reply that proves it received our mail,
/// from the reporter, changes consent — and never over the lead.
#[test]
fn credit_by_mail_needs_proof_and_never_overrides_the_lead() {
    let c = Classification::Answerable;
    let mut m = msg();
    m.body_text = "Thanks!\ncredit: yes, Sam Finder\n> credit: no\n".into();
    let yes = Credit::Yes(Some("Sam Finder".into()));
    let proven = thread(State::Fixing, true);
    let p = plan_inbound(
        &m,
        &inputs(&c, Some(&proven), AckCounts::default(), &LIMITS),
    );
    assert_eq!(p.credit, Some(CreditChange::Apply(yes.clone())));

    let request = |t: &Thread, m: &Incoming| -> String {
        match plan_inbound(m, &inputs(&c, Some(t), AckCounts::default(), &LIMITS)).credit {
            Some(CreditChange::Request { credit, why }) => {
                assert_eq!(credit, yes);
                why
            }
            other => panic!("expected a request, got {other:?}"),
        }
    };
    // The case tag alone (a forged From can carry it) proves nothing.
    let tagged = thread(State::Fixing, false);
    assert!(request(&tagged, &m).contains("does not answer"));
    // Someone else cannot consent for the reporter, even in the thread.
    let mut eve = m.clone();
    eve.from = Some(Mailbox {
        address: "eve@evil.example".into(),
        name: None,
    });
    assert!(request(&proven, &eve).contains("not from the reporter"));
    // The lead's decision stands whatever the mail proves.
    let mut decided = proven.clone();
    decided.credit_decided_by_lead = true;
    assert!(request(&decided, &m).contains("lead"));
    let p = plan_inbound(
        &m,
        &inputs(&c, Some(&tagged), AckCounts::default(), &LIMITS),
    );
    assert!(p.events.iter().any(|e| e.kind == "credit_request"));
    // After disclosure nothing changes.
    let done = thread(State::Disclosed, true);
    let p = plan_inbound(&m, &inputs(&c, Some(&done), AckCounts::default(), &LIMITS));
    assert_eq!(p.credit, None);
}

#[test]
fn a_credit_line_in_the_report_is_a_request() {
    let c = Classification::Answerable;
    let mut m = msg();
    m.body_text.push_str("\ncredit: yes, Sam\n");
    let p = plan_inbound(&m, &inputs(&c, None, AckCounts::default(), &LIMITS));
    assert!(matches!(p.credit, Some(CreditChange::Request { .. })));
}

#[test]
fn unthreaded_machine_mail_opens_no_case() {
    let c = Classification::NoReply(NoReply::DeliveryReport);
    let p = plan_inbound(&msg(), &inputs(&c, None, AckCounts::default(), &LIMITS));
    assert_eq!(p.outcome, Outcome::AutoReply);
    assert_eq!(p.case, None);
}

#[test]
fn list_mail_opens_a_case_but_is_not_answered() {
    let c = Classification::NoReply(NoReply::MailingList);
    let p = plan_inbound(&msg(), &inputs(&c, None, AckCounts::default(), &LIMITS));
    assert_eq!(p.outcome, Outcome::NewCase);
    assert!(matches!(p.ack, AckDecision::Suppressed(ref w) if w.contains("mailing_list")));
}

#[test]
fn an_ambiguous_sender_opens_a_case_that_says_why() {
    let c = Classification::NoReply(NoReply::AmbiguousSender);
    let mut m = msg();
    m.from_problem = Some("2 From fields".into());
    let p = plan_inbound(&m, &inputs(&c, None, AckCounts::default(), &LIMITS));
    assert_eq!(p.outcome, Outcome::NewCase);
    assert!(matches!(p.ack, AckDecision::Suppressed(_)));
    assert!(p.events.iter().any(|e| e.kind == "ambiguous_sender"));
}

#[test]
fn senders_are_counted_without_tags_and_by_domain() {
    assert_eq!(
        rate_keys("Victim+12@Example.NET"),
        ("victim@example.net".to_string(), "example.net".to_string())
    );
    assert_eq!(rate_keys("a+b+c@x.example").0, "a@x.example");
    assert_eq!(rate_keys("plain@x.example").0, "plain@x.example");
}

/// Issue 12: history is filed, never answered; a report seen only after its
/// window closed gets an honest late ack with a deadline from now.
#[test]
fn history_is_never_answered_and_late_reports_get_a_future_deadline() {
    let c = Classification::Answerable;
    let mut i = inputs(&c, None, AckCounts::default(), &LIMITS);
    i.history = true;
    let p = plan_inbound(&msg(), &i);
    assert_eq!(p.outcome, Outcome::NewCase);
    assert_eq!(p.ack, AckDecision::NotApplicable);
    assert_eq!(p.new_case.as_ref().unwrap().state, State::Imported);
    assert!(p.events.iter().any(|e| e.kind == "imported"));

    let mut i = inputs(&c, None, AckCounts::default(), &LIMITS);
    i.now = i.received_at + chrono::Duration::days(3);
    let p = plan_inbound(&msg(), &i);
    let n = p.new_case.as_ref().unwrap();
    assert!(n.late);
    assert_eq!(n.response_due_at, i.now + chrono::Duration::hours(48));
    let AckDecision::Queue(ack) = &p.ack else {
        panic!("{:?}", p.ack)
    };
    assert!(ack.body.contains("sorry"), "{}", ack.body);
    assert!(p.events.iter().any(|e| e.kind == "late_report"));
}

/// Whose turn it is after a message on an existing case.
mod turns {
    use super::*;

    fn on(t: &Thread, class: Classification, history: bool) -> Plan {
        let mut i = inputs(&class, Some(t), AckCounts::default(), &LIMITS);
        i.history = history;
        plan_inbound(&msg(), &i)
    }

    #[test]
    fn the_reporter_writing_after_the_team_opens_the_teams_turn() {
        let t = thread(State::Triage, true);
        let p = on(&t, Classification::Answerable, false);
        let turn = p.turn.unwrap();
        assert!(!turn.reopen);
        // The follow-up window, from when the message arrived.
        assert_eq!(
            turn.due_at,
            Utc.with_ymd_and_hms(2026, 11, 26, 9, 13, 0).unwrap()
        );
        assert!(p.refresh_missing);
        assert!(p.events.iter().any(|e| e.kind == "awaiting_team"));
        assert_eq!(p.ack, AckDecision::NotApplicable);
    }

    #[test]
    fn no_new_turn_while_one_is_open_or_the_first_response_is_owed() {
        let mut t = thread(State::Triage, true);
        t.turn_open = true;
        assert_eq!(on(&t, Classification::Answerable, false).turn, None);
        let mut t = thread(State::Acknowledged, true);
        t.responded = false;
        let p = on(&t, Classification::Answerable, false);
        assert_eq!(p.turn, None, "the first-response window governs");
        assert!(p.refresh_missing, "but the details count");
    }

    #[test]
    fn mail_on_a_closed_case_reopens_it() {
        for state in [
            State::Invalid,
            State::Duplicate,
            State::Disclosed,
            State::Imported,
        ] {
            let mut t = thread(state, true);
            t.responded = state != State::Imported;
            let p = on(&t, Classification::Answerable, false);
            assert!(p.turn.unwrap().reopen, "{state}");
            let e = p.events.iter().find(|e| e.kind == "reopened").unwrap();
            assert!(
                e.detail.contains(state.as_str()) && e.detail.contains("secdesk close"),
                "{}",
                e.detail
            );
        }
        // A silent close (spam) is not reopened by the spammer.
        let p = on(
            &thread(State::Closed, false),
            Classification::Answerable,
            false,
        );
        assert_eq!(p.turn, None);
        assert!(p.events.iter().any(|e| e.kind == "message_on_closed_case"));
    }

    /// Issue 13 review, finding 2: a case tag is anyone's to type.
    #[test]
    fn strangers_set_no_deadline_and_reopen_nothing() {
        let mut stranger = msg();
        stranger.from = Some(mailbox("mallory@evil.example"));
        let c = Classification::Answerable;
        for state in [State::Triage, State::Invalid, State::Disclosed] {
            let t = thread(state, false);
            let p = plan_inbound(
                &stranger,
                &inputs(&c, Some(&t), AckCounts::default(), &LIMITS),
            );
            assert_eq!(p.turn, None, "{state}");
            assert!(!p.refresh_missing, "a stranger's text is not the report's");
            let e = p
                .events
                .iter()
                .find(|e| e.kind == "not_from_reporter")
                .unwrap();
            assert!(e.detail.contains("mallory@evil.example"), "{}", e.detail);
        }
        // The reporter by case tag, or by a reference to a message of the
        // case that is not the team's mail to them: filed, not reopened
        // (From is as easy to write as the tag; a stranger can file a
        // message on the case and then name it).
        let t = thread(State::Invalid, false);
        let p = on(&t, Classification::Answerable, false);
        assert_eq!(p.turn, None);
        assert!(p.events.iter().any(|e| e.kind == "message_on_closed_case"));
        // On an open case the reporter's tagged mail still opens the turn.
        let mut t = thread(State::Triage, false);
        t.matched_by = "subject_tag";
        assert!(on(&t, Classification::Answerable, false).turn.is_some());
    }

    /// Re-review: the reporter of a case merged into this one is heard.
    #[test]
    fn a_merged_in_reporter_opens_the_turn() {
        let mut kim = msg();
        kim.from = Some(mailbox("Kim@Other.example"));
        let mut t = thread(State::Triage, true);
        let c = Classification::Answerable;
        let p = plan_inbound(&kim, &inputs(&c, Some(&t), AckCounts::default(), &LIMITS));
        assert_eq!(p.turn, None);
        t.merged_reporters = vec!["kim@other.example".into()];
        let p = plan_inbound(&kim, &inputs(&c, Some(&t), AckCounts::default(), &LIMITS));
        assert!(p.turn.is_some());
        // The team answering Kim answers the case.
        let team = Classification::NoReply(NoReply::TeamMember);
        let mut to_kim = team_reply();
        to_kim.to = vec![mailbox("kim@other.example")];
        let p = plan_inbound(
            &to_kim,
            &inputs(&team, Some(&t), AckCounts::default(), &LIMITS),
        );
        assert_eq!(p.message_kind, "team_response");
    }

    #[test]
    fn team_machine_and_history_mail_open_no_turn() {
        let t = thread(State::Invalid, true);
        for class in [
            Classification::NoReply(NoReply::TeamMember),
            Classification::NoReply(NoReply::AutoSubmitted),
        ] {
            let p = on(&t, class, false);
            assert_eq!(p.turn, None);
            assert!(!p.refresh_missing);
        }
        let p = on(&t, Classification::Answerable, true);
        assert_eq!(p.turn, None, "history never reopens");
    }
}
