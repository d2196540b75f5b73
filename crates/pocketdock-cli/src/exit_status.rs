//! The process exit status, made explicit.

use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Everything worked.
    Success,
    /// pocketdock itself failed (engine down, bad input, …).
    Failure,
    /// The sandboxed command's own status, passed through (124 when it timed out).
    Command(u8),
}

/// What `timeout(1)` uses, so scripts can tell a timeout from the command's own failure.
pub const TIMED_OUT: u8 = 124;

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> Self {
        match status {
            ExitStatus::Success => ExitCode::SUCCESS,
            ExitStatus::Failure => ExitCode::from(1),
            ExitStatus::Command(code) => ExitCode::from(code),
        }
    }
}
