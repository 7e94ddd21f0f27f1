//! secdesk runs an open-source project's security inbox.
//!
//! Reporters mail `security@…`; secdesk reads that mailbox, files each report
//! as a case in a SQLite case log, acknowledges it at once with the case id,
//! watches the policy's 48-hour response window and carries the case through
//! triage, fix, release and disclosure. The map of the crate, in the order
//! data flows:
//!
//! - [`config`] — the TOML file and `SECDESK_*` overrides → a validated
//!   [`config::Config`]; [`settings`] pairs it with the [`templates`] and
//!   proves they render.
//! - [`inbound`] — mail coming in: [`inbound::imap`] reads the mailbox,
//!   [`inbound::pipeline`] keeps and files a message in one transaction,
//!   [`inbound::plan`] decides (pure) what it does to the case log.
//! - [`mail`] — pure: bytes → a typed message ([`mail::parse`], with
//!   [`mail::headers`], [`mail::text`], [`mail::address`]), answer or not
//!   ([`mail::classify`]), which case ([`mail::thread`]), who vouches for team
//!   mail ([`mail::auth`]), outgoing mail as data ([`mail::compose`]).
//! - [`case`] — pure: case ids, states and transitions, what a report lacks,
//!   triage values, the lead's steps, SLA arithmetic.
//! - [`store`] — SQLite and the content-addressed blobs: the case log, the
//!   outbox, backups; [`store::SharedStore`] is the one door from async code.
//! - [`workflow`] — a lead's step applied in one transaction; [`notices`] —
//!   what the reporter is told at each step.
//! - [`reminders`] — the 48-hour window's reminder scan, on a cron tick.
//! - [`outbox`] — SMTP: the send loop, retries, the wire message.
//! - [`advisory`] — pure: GHSA, OSV and announcement drafts, reporter text
//!   made inert by [`markdown`]; [`stats`] — pure: the transparency figures.
//! - [`daemon`] — `secdesk run`: the tasks, signals, reload, the one shutdown
//!   path, systemd.
//! - [`cli`] — the commands: arguments in, a library call, lines out.
//! - Small rooms: [`clock`] (the time loops go by), [`backoff`] (the one
//!   retry rule), [`tls`] (rustls, ring, private CA), [`memory`] (malloc
//!   thresholds), [`failpoint`] (crash points for the crash tests).
//!
//! Time is always passed in (`now`); nothing in the pure modules reads the
//! clock, opens a socket or touches the database.

pub mod config;
pub mod settings;
pub mod templates;

pub mod inbound;
pub mod mail;

pub mod case;
pub mod store;

pub mod notices;
pub mod workflow;

pub mod outbox;
pub mod reminders;

pub mod advisory;
pub mod ecosystem;
pub mod github;
pub mod markdown;
pub mod stats;

pub mod cli;
pub mod daemon;

pub mod backoff;
pub mod clock;
pub mod failpoint;
pub mod memory;
pub mod tls;
