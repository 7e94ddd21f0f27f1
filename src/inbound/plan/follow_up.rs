//! A message in an existing case's thread: whether it is the team's
//! response (written to the reporter, as far as the team check allows),
//! the reporter's turn-opening word or reopening answer, or a stranger's
//! text that is filed and changes nothing; and what it says about credit.

use super::*;

/// A message in an existing case's thread.
pub(super) fn plan_follow_up(m: &Incoming, t: &Thread, i: &Inputs<'_>) -> Plan {
    let class = i.classification;
    let team = matches!(class, Classification::NoReply(NoReply::TeamMember));
    // Team mail answers the reporter only when written to them: a forward
    // to a colleague or a note among the team quotes the case but leaves
    // the reporter waiting.
    let to_reporter = team && written_to_reporter(m, t);
    let responds = to_reporter && i.team_auth != TeamAuth::Failed;
    let (outcome, kind, event) = match class {
        Classification::NoReply(r) if !r.opens_case() => {
            (Outcome::AutoReply, "auto_reply", "auto_reply_received")
        }
        _ if responds => (Outcome::FollowUp, "team_response", "human_response"),
        _ if team => (Outcome::FollowUp, "team_note", "message_received"),
        _ => (Outcome::FollowUp, "follow_up", "message_received"),
    };
    let mut plan = Plan::follow_up(t.case.clone(), kind, outcome);
    plan.events.push(PlannedEvent {
        kind: event,
        detail: format!("{} (matched by {}, {})", kind, t.matched_by, class.as_str()),
    });
    if team && !to_reporter {
        plan.events.push(PlannedEvent {
            kind: "team_note",
            detail: if t.reporter_address.is_empty() {
                "team mail on a case without a reporter address: not a response to anyone; \
                 `secdesk respond` records one made another way"
                    .into()
            } else {
                format!(
                    "team mail {} {}: filed, not counted as the response",
                    if forwarded(m).is_some() {
                        "forwarding the case, not written to"
                    } else {
                        "not written to"
                    },
                    t.reporter_address
                )
            },
        });
    } else if team {
        match i.team_auth {
            TeamAuth::Verified => plan.first_response = Some(Response { verified: true }),
            TeamAuth::Unchecked => {
                plan.first_response = Some(Response { verified: false });
                plan.events.push(PlannedEvent {
                    kind: "team_mail_unverified",
                    detail:
                        "counted as the response, unverified: team.trust_authentication_results \
                             is not set, so the From line is all that says it is the team's"
                            .into(),
                });
            }
            TeamAuth::Failed => plan.events.push(PlannedEvent {
                kind: "team_mail_unverified",
                detail: if m.from_unwrapped {
                    "a team address taken from our relay's X-Original-From, which anyone \
                     can write and the relay's signature does not cover; not counted: \
                     answer from the Sent folder, or record it with `secdesk respond`"
                        .into()
                } else {
                    "From a team address without a passing Authentication-Results; \
                     the response clock keeps running"
                        .into()
                },
            }),
        }
    }
    if let Some(note) = &m.relayed {
        plan.events.push(PlannedEvent {
            kind: "relayed",
            detail: note.clone(),
        });
    }
    // Credit: machine mail says nothing, and after disclosure it is too late.
    let person = !matches!(class, Classification::NoReply(r) if !r.opens_case());
    if person && !team && t.state != State::Disclosed {
        plan.credit = parse_credit(&m.body_text).map(|credit| credit_change(m, t, credit));
        if let Some(CreditChange::Request { credit, why }) = &plan.credit {
            plan.events.push(PlannedEvent {
                kind: "credit_request",
                detail: format!(
                    "{} asks: {}; not applied ({why}); confirm with `secdesk credit {} --confirm`",
                    m.from
                        .as_ref()
                        .map(|f| f.address.as_str())
                        .unwrap_or("a sender without address"),
                    credit_text(credit),
                    t.case
                ),
            });
        }
    }
    if person && !team && !i.history {
        follow_up_turn(&mut plan, m, t, i);
    }
    plan
}

/// Whether `m` was written to the case's reporter (To or Cc) and is not a
/// forward of the case to someone else.
pub(super) fn written_to_reporter(m: &Incoming, t: &Thread) -> bool {
    m.to.iter().chain(&m.cc).any(|r| t.is_reporter(&r.address)) && forwarded(m).is_none()
}

/// Whether `m` comes from the case's reporter (or the reporter of a case
/// merged into it), by its From line.
fn from_reporter(m: &Incoming, t: &Thread) -> bool {
    m.from.as_ref().is_some_and(|f| t.is_reporter(&f.address))
}

/// Someone outside the team wrote on the case. From the reporter, the
/// details count towards the report, and unless the team still owes its
/// first response (that window governs) or already owes an answer, it is
/// the team's turn. A closed case reopens only for the reporter answering
/// the team's mail to them ([`Thread::answers_our_mail`]; a case tag is
/// anyone's to type, and so is a reference to a message anyone could have
/// filed on the case). Anyone else is filed and shown, and sets no deadline: a
/// stranger must not put the team on a clock, nor reopen what it closed.
fn follow_up_turn(plan: &mut Plan, m: &Incoming, t: &Thread, i: &Inputs<'_>) {
    let who = m
        .from
        .as_ref()
        .map(|f| f.address.as_str())
        .unwrap_or("a sender without address");
    let due_at = sla::response_due_at(i.received_at, i.follow_up_window);
    let due = crate::store::ts(due_at);
    let message = m
        .message_id
        .as_deref()
        .map(|id| format!("message <{id}>"))
        .unwrap_or_else(|| "a message without Message-ID".into());
    if !from_reporter(m, t) {
        plan.events.push(PlannedEvent {
            kind: "not_from_reporter",
            detail: format!(
                "{who} is not the case's reporter{}: filed ({message}); no team turn, \
                 nothing reopened, the report's details unchanged",
                if t.reporter_address.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", t.reporter_address)
                }
            ),
        });
        return;
    }
    plan.refresh_missing = true;
    if t.state.reopens_on_mail() && !t.answers_our_mail {
        plan.events.push(PlannedEvent {
            kind: "message_on_closed_case",
            detail: format!(
                "{who} wrote on the {} case ({message}) without answering the team's mail to \
                 the reporter: filed, not reopened (a reply to that mail reopens it; a case \
                 tag, or a reference to a message anyone could have filed, proves nothing)",
                t.state
            ),
        });
    } else if t.state.reopens_on_mail() {
        plan.turn = Some(TurnStart {
            reopen: true,
            due_at,
        });
        plan.events.push(PlannedEvent {
            kind: "reopened",
            detail: format!(
                "{who} wrote on the {} case ({message}); reopened, a team response is due by \
                 {due}; `secdesk close {}` closes it again",
                t.state, t.case
            ),
        });
    } else if t.state.is_closed() {
        plan.events.push(PlannedEvent {
            kind: "message_on_closed_case",
            detail: format!("{who} wrote on the {} case; filed, not reopened", t.state),
        });
    } else if t.responded && !t.turn_open {
        plan.turn = Some(TurnStart {
            reopen: false,
            due_at,
        });
        plan.events.push(PlannedEvent {
            kind: "awaiting_team",
            detail: format!(
                "{who} wrote after the team's last message ({message}); a team response is \
                 due by {due}"
            ),
        });
    }
}

/// Whether what a message says about credit may be applied.
fn credit_change(m: &Incoming, t: &Thread, credit: Credit) -> CreditChange {
    let from_reporter = m
        .from
        .as_ref()
        .is_some_and(|f| !t.reporter_address.is_empty() && f.address == t.reporter_address);
    let why = if t.credit_decided_by_lead {
        "the lead's recorded decision stands"
    } else if !from_reporter {
        "not from the reporter's address"
    } else if !t.answers_our_mail {
        "it does not answer mail we sent to the reporter"
    } else {
        return CreditChange::Apply(credit);
    };
    CreditChange::Request {
        credit,
        why: why.to_string(),
    }
}
