//! Mail coming in, one flow under one name: a message is parsed and kept
//! ([`pipeline`]), decided ([`plan`], pure), and committed in one
//! transaction; [`imap`] keeps the security mailbox read and feeds the
//! pipeline, `secdesk ingest` feeds it from an MTA pipe, [`archive`] from an
//! mbox or a Maildir of the old inbox (`secdesk import`), and [`oversized`]
//! records what is too large to hold; [`ack`] decides the acknowledgement.

pub mod ack;
pub mod archive;
pub mod imap;
pub mod oversized;
pub mod pipeline;
pub mod plan;

pub use pipeline::{ingest, IngestResult};
pub use plan::Outcome;
