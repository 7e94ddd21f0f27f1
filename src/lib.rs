//! secdesk runs an open-source project's security inbox.
//!
//! Reporters mail `security@…`; secdesk reads that mailbox, files each report
//! as a case in a SQLite case log, acknowledges it at once with the case id,
//! watches the policy's 48-hour response window and carries the case through
//! triage, fix, release and disclosure. The map of the crate:
//!
//! - [`config`] — the TOML file and `SECDESK_*` overrides → a validated
//!   [`config::Config`].
//! - [`mail`] — pure: [`mail::parse`] (bytes → [`mail::parse::Incoming`]),
//!   [`mail::classify`] (answer or not, and why), [`mail::thread`] (which
//!   case), [`mail::compose`] (outgoing mail as data).
//! - [`case`] — pure: case ids, states and transitions, what a report lacks,
//!   SLA arithmetic.
//! - [`inbound`] — pure: what one inbound message does to the case log (a
//!   [`inbound::Plan`]).
//! - [`ingest`] — the pipeline that applies a plan in one transaction.
//! - [`store`] — SQLite and the content-addressed data directory.
//! - [`templates`] — the handlebars mail texts.
//! - [`intake`] — IMAP: connect, sync a mailbox, IDLE or poll, reconnect.
//! - [`outbox`] — SMTP: the send loop, retries, permanent failures.
//! - [`schedule`] — the reminder scan of the 48-hour window, on a cron tick.
//! - [`daemon`] — `secdesk run`: the tasks and the one shutdown path.
//! - [`memory`] — the allocator settings the memory bound relies on.
//! - [`service`] — systemd: READY/RELOADING/STOPPING, the progress watchdog.
//! - [`tls`] — rustls client settings (ring provider, private CA).
//! - [`failpoint`] — crash points for the crash-safety tests.
//! - [`advisory`] — pure: advisory drafts (GHSA, OSV, announcement), notices.
//! - [`markdown`] — pure: reporter text made inert for Markdown drafts.
//! - [`stats`] — pure: the transparency figures.
//! - [`cli`] — the commands, thin over the above.
//!
//! Time is always passed in (`now`); nothing in the pure modules reads the
//! clock, opens a socket or touches the database.
pub mod advisory;
pub mod backoff;
pub mod case;
pub mod cli;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod failpoint;
pub mod inbound;
pub mod mail;
pub mod markdown;
pub mod memory;
pub mod notices;
pub mod outbox;
pub mod reminders;
pub mod settings;
pub mod stats;
pub mod store;
pub mod templates;
pub mod tls;
pub mod workflow;
