//! All terminal output goes through here.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Write;

/// Writes results to stdout and diagnostics to stderr.
#[derive(Debug, Default, Clone, Copy)]
pub struct Printer;

impl Printer {
    /// Command output, passed through as it arrives.
    pub fn stdout_raw(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }

    /// Command error output, passed through as it arrives.
    pub fn stderr_raw(&self, text: &str) {
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(text.as_bytes());
        let _ = err.flush();
    }

    /// A line of our own result.
    pub fn line(&self, text: &str) {
        println!("{text}");
    }

    /// A one-line error: what went wrong and, where it helps, what to do.
    pub fn error(&self, text: &str) {
        eprintln!("pocketdock: {text}");
    }
}
