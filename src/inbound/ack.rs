//! Whether and how a new report is acknowledged: the rate limits (counted
//! per normalised sender, per domain and in total), and the mail itself —
//! on time, or late and honest about it. Pure: counts, the case and the
//! templates in, a decision out.

use anyhow::Result;

use std::time::Duration;

use crate::case::NewCase;
use crate::config::{LimitsConfig, ProjectConfig};
use crate::mail::compose::{
    ack_context, new_message_id, reply_subject, OutKind, OutgoingMail, ProjectView,
};
use crate::mail::parse::Incoming;
use crate::templates::Templates;

/// Acknowledgements released in the last hour.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AckCounts {
    /// To the sender's normalised address (case-folded, `+tag` removed).
    pub to_sender: u32,
    /// To the sender's domain.
    pub to_domain: u32,
    pub total: u32,
}

impl AckCounts {
    /// Why one more acknowledgement would exceed `limits`, if it would.
    pub fn over(&self, limits: &LimitsConfig) -> Option<String> {
        if self.to_sender >= limits.acks_per_sender_per_hour {
            Some(format!(
                "rate limit: {} acknowledgements to this sender in the last hour",
                self.to_sender
            ))
        } else if self.to_domain >= limits.acks_per_domain_per_hour {
            Some(format!(
                "rate limit: {} acknowledgements to this sender's domain in the last hour",
                self.to_domain
            ))
        } else if self.total >= limits.acks_per_hour {
            Some(format!(
                "rate limit: {} acknowledgements in the last hour",
                self.total
            ))
        } else {
            None
        }
    }
}

/// The keys acknowledgements are counted by: the address case-folded with
/// its `+tag` removed (so `victim+1@` … `victim+12@` are one sender), and
/// its domain.
pub fn rate_keys(address: &str) -> (String, String) {
    let a = address.to_lowercase();
    match a.rsplit_once('@') {
        Some((local, domain)) => {
            let base = local.split('+').next().unwrap_or(local);
            (format!("{base}@{domain}"), domain.to_string())
        }
        None => (a.clone(), String::new()),
    }
}

/// What to do about the acknowledgement, with the mail itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AckDecision {
    /// Queue it (the store's unique key still guarantees at most one).
    Queue(Box<OutgoingMail>),
    /// A rate limit is reached: keep it back, to be sent when the budget
    /// allows (unless the case is answered first). Never dropped.
    Hold(Box<OutgoingMail>, String),
    /// A new case that gets none, and why (recorded as an event).
    Suppressed(String),
    /// The ack template did not render: the case is filed either way (a
    /// broken template must not lose a report; `check` catches it first).
    Failed(String),
    /// Not a new case: acknowledgements are only for new reports.
    NotApplicable,
}

/// The acknowledgement of a new case: threaded to the report, from the
/// `ack` template, quoting only the case tag and the capped subject; its
/// Message-ID carries the random `token`.
pub(super) fn ack_mail(
    m: &Incoming,
    c: &NewCase,
    project: &ProjectConfig,
    templates: &Templates,
    response_window: Duration,
    token: &str,
) -> Result<OutgoingMail> {
    let ctx = ack_context(
        ProjectView::from_config(project),
        &c.id,
        &c.subject,
        &c.reporter_address,
        c.received_at,
        c.response_due_at,
        &c.missing,
        response_window,
    );
    // A late report's ack says when it arrived and that we are late.
    let template = if c.late { "ack-late" } else { "ack" };
    let body = templates.render_prose(template, &ctx)?;
    let mut references = m.references.clone();
    references.extend(m.message_id.iter().cloned());
    Ok(OutgoingMail {
        kind: OutKind::Ack,
        case: Some(c.id.clone()),
        to: vec![c.reporter_address.clone()],
        subject: reply_subject(&c.id, &c.subject),
        body,
        message_id: new_message_id(Some(&c.id), OutKind::Ack, token, project.domain()),
        in_reply_to: m.message_id.clone(),
        references,
        dedup_key: format!("ack:{}", c.id),
    })
}
