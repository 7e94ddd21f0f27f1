//! The reporter's notices: what the policy promises to tell a reporter at
//! each step (accepted, rejected with the reasoning, duplicate, released,
//! disclosed), as template contexts and as mail threaded to their report.
//! Pure but for the template rendering; the workflow queues what this
//! builds in the step's own transaction.

use anyhow::Result;
use serde::Serialize;

use crate::advisory::{advisory_url, credited_name};
use crate::case::assess::Impact;
use crate::case::workflow::Notice;
use crate::case::CaseId;
use crate::config::ProjectConfig;
use crate::mail::compose::{
    to_reporter, CaseView, OutKind, OutgoingMail, ProjectView, ReporterView,
};
use crate::store::cases::CaseRow;
use crate::templates::Templates;

/// The credit sentence for the reporter's notices.
pub fn credit_sentence(c: &CaseRow) -> String {
    match (c.credit_consent.as_deref(), credited_name(c)) {
        (Some("yes"), Some(n)) => format!("The advisory will credit you as \"{n}\"."),
        (Some("no"), _) => "As you asked, the advisory will not name you.".into(),
        _ => "We have not heard whether you would like to be credited, so the advisory will not name you. Reply with a line \"credit: yes, Your Name\" or \"credit: no\" if you want to tell us.".into(),
    }
}

/// The template context of a reporter notice.
#[derive(Debug, Clone, Serialize)]
pub struct NoticeContext {
    pub project: ProjectView,
    pub case: CaseView,
    pub reporter: ReporterView,
    pub severity: String,
    pub impact: String,
    pub reason: String,
    pub duplicate_of: String,
    pub version: String,
    /// Where the fix is: `Example 9.0.2`, or, for a case whose packages
    /// were released apart, `App 9.0.2 and @example/cli 9.0.3` as recorded.
    pub released_in: String,
    pub advisory_url: String,
    pub credit: String,
    /// A duplicate of the reporter's own earlier report.
    pub own_report: bool,
}

/// The context for `notice` about case `c` (as it is after the step).
pub fn notice_context(c: &CaseRow, project: &ProjectConfig) -> NoticeContext {
    let none = String::new;
    NoticeContext {
        project: ProjectView::from_config(project),
        case: CaseView {
            id: c.id.clone(),
            tag: format!("[{}]", c.id),
            subject: c.subject.clone(),
            received_at: c.received_at.clone(),
            response_due: c.response_due_at.clone(),
        },
        reporter: ReporterView {
            name: c.reporter_name.clone(),
            address: c.reporter.clone(),
        },
        severity: c.severity.clone().unwrap_or_else(none),
        impact: c
            .impact
            .as_deref()
            .map(Impact::describe)
            .unwrap_or_else(none),
        reason: c.decision_reason.clone().unwrap_or_else(none),
        duplicate_of: c.duplicate_of.clone().unwrap_or_else(none),
        version: c.fixed_version.clone().unwrap_or_else(none),
        released_in: released_in(&project.name, c.fixed_version.as_deref()),
        advisory_url: c
            .advisory
            .as_deref()
            .map(|a| advisory_url(a, project))
            .unwrap_or_else(none),
        credit: credit_sentence(c),
        own_report: false,
    }
}

/// `Project 9.0.2` for a bare version; a version recorded per package
/// (`App 9.0.2 and CLI 9.0.3`) already names what was released.
fn released_in(project: &str, version: Option<&str>) -> String {
    let Some(v) = version.map(str::trim).filter(|v| !v.is_empty()) else {
        return String::new();
    };
    let bare = v
        .trim_start_matches(['v', 'V'])
        .starts_with(|c: char| c.is_ascii_digit());
    if bare {
        format!("{project} {v}")
    } else {
        v.to_string()
    }
}

/// The template name of a notice.
pub fn notice_template(n: Notice) -> String {
    format!("notice-{}", n.name())
}

/// The notice `notice` about case `c` to its reporter, threaded to the
/// case's messages (`thread_ids`, and the reporter's newest), with a fresh
/// random Message-ID token (also its dedup key: a reopened case may be
/// rejected twice, and the state machine already makes each step once).
/// `original_reporter` is the reporter of the case a duplicate points to.
#[allow(clippy::too_many_arguments)]
pub fn notice_mail(
    templates: &Templates,
    project: &ProjectConfig,
    case_id: &CaseId,
    c: &CaseRow,
    notice: Notice,
    original_reporter: Option<&str>,
    thread_ids: Vec<String>,
    last_from_reporter: Option<String>,
    token: &str,
) -> Result<OutgoingMail> {
    let mut ctx = notice_context(c, project);
    ctx.own_report = !c.reporter.is_empty() && original_reporter == Some(c.reporter.as_str());
    let body = templates.render_prose(&notice_template(notice), &ctx)?;
    Ok(to_reporter(
        OutKind::Notice,
        case_id,
        &c.reporter,
        &c.subject,
        body,
        thread_ids,
        last_from_reporter,
        token,
        project.domain(),
        Some(format!("notice:{}:{}:{token}", c.id, notice.name())),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn released_in_names_the_project_only_for_a_bare_version() {
        assert_eq!(released_in("Example", Some("9.0.2")), "Example 9.0.2");
        assert_eq!(released_in("Example", Some("v1.2.0")), "Example v1.2.0");
        assert_eq!(
            released_in("Example", Some("App 9.0.2 and @example/cli 9.0.3")),
            "App 9.0.2 and @example/cli 9.0.3"
        );
        assert_eq!(released_in("Example", None), "");
    }
}
