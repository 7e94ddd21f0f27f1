//! The `secdesk` binary: parse arguments, run the command, map errors to
//! exit codes (0 ok, 1 runtime failure, 2 usage or configuration error).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Before anything allocates much: what bounds memory (src/memory.rs).
    secdesk::memory::fix_malloc_thresholds();
    let cli = secdesk::cli::Cli::parse();
    if !matches!(cli.command, secdesk::cli::Command::Run) {
        // A case command piped into `head` ends quietly when the reader
        // goes, as a Unix tool does; the daemon keeps Rust's default
        // (SIGPIPE ignored), so a peer closing a socket is an error, not
        // a death.
        // SAFETY: restoring a signal's default disposition at start, before
        // any thread exists.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    match secdesk::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            let code = secdesk::cli::exit_code(&e);
            eprintln!("secdesk: {}", secdesk::cli::error_line(&e));
            ExitCode::from(code)
        }
    }
}
