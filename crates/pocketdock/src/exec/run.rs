//! Blocking mode: collect everything, up to a cap.

use super::{Execution, Outcome};
use crate::error::Result;
use crate::types::{ExecResult, StreamKind};
use crate::utf8::complete_prefix_len;

/// Runs a started command to completion (or its timeout) and collects its output.
pub(crate) async fn collect(mut exec: Execution, max_output: usize) -> Result<ExecResult> {
    let mut output = CappedOutput::new(max_output);
    while let Some((kind, bytes)) = exec.next_frame().await? {
        output.push(kind, &bytes);
    }
    let outcome = exec.finish().await?;
    Ok(output.into_result(outcome))
}

/// Stdout and stderr together, at most `cap` bytes; the rest is counted as truncation and
/// dropped, while the command keeps running to its real exit.
#[derive(Debug)]
pub(crate) struct CappedOutput {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    cap: usize,
    truncated: bool,
}

impl CappedOutput {
    pub(crate) fn new(cap: usize) -> Self {
        CappedOutput {
            stdout: Vec::new(),
            stderr: Vec::new(),
            cap,
            truncated: false,
        }
    }

    pub(crate) fn push(&mut self, kind: StreamKind, bytes: &[u8]) {
        if self.truncated {
            return;
        }
        let room = self.cap - (self.stdout.len() + self.stderr.len());
        let buf = match kind {
            StreamKind::Stdout => &mut self.stdout,
            StreamKind::Stderr => &mut self.stderr,
        };
        if bytes.len() <= room {
            buf.extend_from_slice(bytes);
        } else {
            // Cut at a character boundary: a half character would only decode to U+FFFD.
            buf.extend_from_slice(&bytes[..complete_prefix_len(&bytes[..room])]);
            self.truncated = true;
        }
    }

    pub(crate) fn into_result(self, outcome: Outcome) -> ExecResult {
        ExecResult {
            oom_killed: outcome.oom_killed,
            ..ExecResult::from_bytes(
                self.stdout,
                self.stderr,
                outcome.exit_code,
                outcome.duration_ms(),
                outcome.timed_out,
                self.truncated,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn outcome() -> Outcome {
        Outcome {
            oom_killed: false,
            exit_code: 3,
            timed_out: false,
            duration: Duration::from_millis(5),
        }
    }

    #[test]
    fn keeps_exactly_the_cap_across_both_streams() {
        let mut out = CappedOutput::new(10);
        out.push(StreamKind::Stdout, b"123456");
        out.push(StreamKind::Stderr, b"abcdef");
        out.push(StreamKind::Stdout, b"zzz");
        let r = out.into_result(outcome());
        assert_eq!((r.stdout.as_str(), r.stderr.as_str()), ("123456", "abcd"));
        assert!(r.truncated);
        assert_eq!(r.exit_code, 3);
    }

    #[test]
    fn output_within_the_cap_is_not_truncated() {
        let mut out = CappedOutput::new(6);
        out.push(StreamKind::Stdout, b"abc");
        out.push(StreamKind::Stderr, b"def");
        assert!(!out.into_result(outcome()).truncated);
    }

    #[test]
    fn truncation_does_not_cut_a_character() {
        let mut out = CappedOutput::new(5);
        out.push(StreamKind::Stdout, "a€€".as_bytes()); // 7 bytes; 5 would cut the 2nd euro
        let r = out.into_result(outcome());
        assert_eq!(r.stdout, "a€");
        assert!(r.truncated);
    }

    #[test]
    fn invalid_bytes_are_kept_exactly() {
        let mut out = CappedOutput::new(100);
        out.push(StreamKind::Stdout, b"ok\xff");
        let r = out.into_result(outcome());
        assert_eq!(r.stdout, "ok\u{fffd}");
        assert_eq!(r.stdout_bytes(), b"ok\xff");
        assert_eq!(r.stderr_bytes(), b"");
    }
}
