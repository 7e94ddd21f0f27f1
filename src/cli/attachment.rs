//! `secdesk attachment ID [N] [--out DIR]`: a case's attachments listed,
//! and one written out under its cleaned display name.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;

use crate::config::Config;

/// Lists case `id`'s attachments, or writes attachment `n` into `out`.
pub fn run(_cfg: &Config, _id: &str, _n: Option<usize>, _out: &Path) -> Result<ExitCode> {
    anyhow::bail!("not yet")
}
