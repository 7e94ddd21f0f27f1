//! The command line: every subcommand and flag, with the help text people
//! read. Parsing only; [`super::run`] dispatches.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Runs a project's security inbox.
#[derive(Debug, Parser)]
#[command(name = "secdesk", version, about)]
pub struct Cli {
    /// Configuration file (else $SECDESK_CONFIG, else /etc/secdesk/secdesk.toml).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Log format: auto (the journal under systemd, else text), text, json,
    /// journal.
    #[arg(long, global = true, default_value = "auto", value_name = "FORMAT")]
    pub log_format: String,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// File one raw RFC 5322 message (from an MTA pipe or a replay).
    Ingest {
        /// The message file, or - for standard input.
        #[arg(default_value = "-")]
        file: String,
        /// Print {"outcome": …, "case": …}.
        #[arg(long)]
        json: bool,
        /// For an MTA's pipe transport: exit 75 (EX_TEMPFAIL) on any
        /// failure, so that the MTA keeps the message and retries instead
        /// of bouncing it.
        #[arg(long)]
        tempfail: bool,
    },
    /// File an archive of the old inbox (an mbox file or a Maildir) as
    /// history: imported cases, threaded and searchable, never answered.
    /// Importing twice changes nothing.
    Import {
        path: PathBuf,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List cases, newest first.
    Cases {
        /// Only cases in this state.
        #[arg(long)]
        state: Option<String>,
        /// Only open cases waiting for the team past the deadline of that
        /// wait (the first response or the answer to a later message).
        #[arg(long)]
        overdue: bool,
        #[arg(long)]
        json: bool,
    },
    /// One case with its messages and events.
    Show {
        /// The case id, e.g. SEC-2026-0001.
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// The daemon: IMAP intake, the outbox, reminders. Stops cleanly on
    /// SIGTERM or SIGINT.
    Run,
    /// Validate config and templates, check the store, log in to IMAP and
    /// say EHLO to SMTP; one line per check, exit 1 if any fails.
    Check,
    /// Reply to a case's reporter: threaded, from the security address,
    /// through the outbox. Stops the 48-hour clock.
    Reply {
        id: String,
        /// The reply text (- for standard input); else $VISUAL/$EDITOR opens.
        #[arg(long)]
        file: Option<String>,
    },
    /// Record that the reporter was answered some other way (stops the clock).
    Responded {
        id: String,
        /// How and when, in a sentence.
        #[arg(long)]
        note: String,
    },
    /// Make ADDRESS the case's assignee; reminders go to them and the lead.
    Assign { id: String, address: String },
    /// Run a reminder scan now; with --dry-run, only print what it would send.
    Remind {
        #[arg(long)]
        dry_run: bool,
    },
    /// Triage: severity, CIA impact and optionally a CVSS 3.1 vector; the
    /// packages affected and the weakness (these two also on their own,
    /// later).
    Triage {
        id: String,
        /// critical, high, medium or low.
        #[arg(long, requires = "impact")]
        severity: Option<String>,
        /// c=…,i=…,a=… with none, low or high each.
        #[arg(long, requires = "severity")]
        impact: Option<String>,
        /// e.g. CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H
        #[arg(long, requires = "severity")]
        cvss: Option<String>,
        /// The packages affected, by their ids in [[project.packages]].
        #[arg(long = "package", value_name = "ID[,ID]", value_delimiter = ',')]
        packages: Vec<String>,
        /// The weakness, e.g. CWE-79 (several allowed).
        #[arg(long = "cwe", value_name = "CWE-N", value_delimiter = ',')]
        cwes: Vec<String>,
    },
    /// Accept as a vulnerability (the reporter is told, with the severity).
    Accept { id: String },
    /// Not a vulnerability: the reporter receives the reasoning.
    Reject {
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// Close as a duplicate of another case (the reporter is told).
    Duplicate {
        id: String,
        #[arg(long)]
        of: String,
    },
    /// A fix is in progress: the pull request.
    Fixing {
        id: String,
        #[arg(long = "ref", value_name = "URL")]
        fix_ref: String,
    },
    /// The fix is released in VERSION (for PACKAGE: the case is released,
    /// and the reporter told, once every package it affects has its fix).
    Released {
        id: String,
        #[arg(long)]
        package: Option<String>,
        #[arg(long)]
        version: String,
    },
    /// The analysis: affected versions (per package), where it came in,
    /// what users risk, the root cause and the advisory's one sentence.
    Analyze {
        id: String,
        /// The package the versions are for (when the case has several).
        #[arg(long)]
        package: Option<String>,
        /// e.g. ">=8.0.0 <9.1.1", checked for the package's ecosystem.
        #[arg(long)]
        affected: Option<String>,
        #[arg(long)]
        introduced: Option<String>,
        /// The version that fixes it, if known before `released`.
        #[arg(long)]
        fixed: Option<String>,
        /// The full commit id of the fix (OSV's GIT range).
        #[arg(long)]
        fix_commit: Option<String>,
        #[arg(long, requires_all = ["affected", "introduced"])]
        user_impact: Option<String>,
        /// What users can do if they cannot upgrade.
        #[arg(long, requires = "user_impact")]
        workaround: Option<String>,
        /// The root cause, for the advisory's Details.
        #[arg(long)]
        details: Option<String>,
        /// The advisory's summary sentence (else one is built).
        #[arg(long)]
        summary: Option<String>,
        /// Remove a value recorded by mistake: affected, introduced, fixed,
        /// fix-commit (of the package), details or summary (of the case).
        #[arg(
            long,
            value_name = "FIELD",
            conflicts_with_all = ["affected", "introduced", "fixed", "fix_commit", "user_impact", "details", "summary"]
        )]
        clear: Vec<String>,
    },
    /// Record the CVE id assigned to the case (or --clear a wrong one).
    Cve {
        id: String,
        /// CVE-YYYY-NNNN.
        #[arg(required_unless_present = "clear", conflicts_with = "clear")]
        cve: Option<String>,
        #[arg(long)]
        clear: bool,
    },
    /// Record the reporter's consent to be credited (and the name to use).
    /// Mail never overrides what you record here.
    Credit {
        id: String,
        /// yes or no.
        #[arg(long, required_unless_present = "confirm", conflicts_with = "confirm")]
        consent: Option<String>,
        #[arg(long, conflicts_with = "confirm")]
        name: Option<String>,
        /// Accept the unconfirmed credit request that mail made (shown by
        /// `secdesk show`) as your decision.
        #[arg(long)]
        confirm: bool,
    },
    /// The advisory is published (refused before a fix and an analysis).
    Disclose {
        id: String,
        /// GHSA-xxxx-xxxx-xxxx or a URL.
        #[arg(long)]
        advisory: String,
    },
    /// An internal note on the case (never mailed).
    Note { id: String, text: String },
    /// Close without mailing anyone: a reopened case back to the state it
    /// was closed in, or any open case --as spam / not-a-report.
    Close {
        id: String,
        /// spam or not-a-report.
        #[arg(long = "as", value_name = "WHY")]
        as_: Option<String>,
        #[arg(long)]
        note: Option<String>,
    },
    /// Move case ID's messages into INTO (the same report written twice,
    /// say). ID stays an alias that still threads; nobody is mailed.
    Merge {
        id: String,
        #[arg(long)]
        into: String,
    },
    /// Record the disclosure date agreed with (or set by) the reporter;
    /// the lead is reminded before it (sla.embargo_remind_before).
    Embargo {
        id: String,
        /// YYYY-MM-DD.
        #[arg(long)]
        until: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// List a case's attachments, or write attachment N to DIR under its
    /// cleaned name (never over an existing file, never outside DIR).
    Attachment {
        id: String,
        /// The attachment's number in the list.
        n: Option<usize>,
        #[arg(long, value_name = "DIR", default_value = ".")]
        out: PathBuf,
    },
    /// Draft the advisory: GitHub (Markdown), OSV (JSON), the GitHub API
    /// request (github) or the announcement; edit it; file it on GitHub.
    Advisory {
        id: String,
        #[arg(long, default_value = "ghsa")]
        format: String,
        /// Open the draft in $VISUAL/$EDITOR; the saved text is used from
        /// then on.
        #[arg(long, conflicts_with = "publish")]
        edit: bool,
        /// Drop the edited draft: drafts follow the case again.
        #[arg(long, conflicts_with_all = ["edit", "publish"])]
        reset_draft: bool,
        /// File it as a draft repository advisory (or update it): github.
        #[arg(long, value_name = "WHERE")]
        publish: Option<String>,
        /// With --publish: ask GitHub for a CVE.
        #[arg(long, requires = "publish")]
        request_cve: bool,
        /// Withhold the reporter's steps (the PoC section says so).
        #[arg(long, conflicts_with = "poc")]
        no_poc: bool,
        /// Publish the steps again after --no-poc.
        #[arg(long)]
        poc: bool,
    },
    /// The transparency figures: response times, the 48-hour share, fix and
    /// disclosure times by severity, open cases by state.
    Stats {
        /// Only cases received on or after this date (YYYY-MM-DD).
        #[arg(long, value_name = "DATE")]
        since: Option<String>,
        /// Only cases received before this date (YYYY-MM-DD).
        #[arg(long, value_name = "DATE")]
        until: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Health for people and monitoring: last sync, IDLE or polling, outbox
    /// backlog, permanent failures, next deadline. Exit 1 when intake has
    /// not synced within --max-sync-age.
    Status {
        #[arg(long, default_value = "15m", value_name = "DURATION")]
        max_sync_age: String,
        #[arg(long)]
        json: bool,
    },
    /// A consistent online snapshot of the case log and data dir into DIR.
    Backup { dir: PathBuf },
    /// Put a backup from DIR in place of the configured store (stop the
    /// daemon first; --force replaces an existing store, kept beside).
    Restore {
        dir: PathBuf,
        #[arg(long)]
        force: bool,
    },
    /// Messages recorded under no case: rejected mail and unmatched
    /// auto-replies.
    Unfiled {
        /// How many, newest first.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
}
