//! The values commands produce.

use std::fmt;

/// What a finished command produced. `stdout`/`stderr` are UTF-8 text (invalid bytes replaced);
/// the exact bytes stay available through [`ExecResult::stdout_bytes`].
#[derive(Debug, Clone, PartialEq)]
pub struct ExecResult {
    /// The command's exit code; `-1` when it timed out and was killed.
    pub exit_code: i64,
    pub stdout: String,
    pub stderr: String,
    /// Wall time from start to the result, in milliseconds.
    pub duration_ms: f64,
    /// The command ran past its timeout and was killed with every process it started.
    pub timed_out: bool,
    /// Output beyond `max_output` was dropped.
    pub truncated: bool,
    /// The kernel's OOM killer ended the command (or the process whose death ended it) when
    /// the sandbox ran out of memory; the exit code is then 137. The agent watches the cgroup's
    /// OOM kill count while the command runs; through the engine's exec, a command SIGKILLed
    /// while that count moved is called the OOM killer's (of two ended by it at once, both).
    pub oom_killed: bool,
    /// The original bytes, kept only where lossy decoding changed them.
    pub(crate) raw: Option<Box<RawOutput>>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RawOutput {
    pub(crate) stdout: Vec<u8>,
    pub(crate) stderr: Vec<u8>,
}

impl ExecResult {
    pub(crate) fn from_bytes(
        stdout: Vec<u8>,
        stderr: Vec<u8>,
        exit_code: i64,
        duration_ms: f64,
        timed_out: bool,
        truncated: bool,
    ) -> Self {
        let (stdout, stderr, raw) = match (String::from_utf8(stdout), String::from_utf8(stderr)) {
            (Ok(o), Ok(e)) => (o, e, None),
            (o, e) => {
                let o = o.map(String::into_bytes).unwrap_or_else(|e| e.into_bytes());
                let e = e.map(String::into_bytes).unwrap_or_else(|e| e.into_bytes());
                (
                    String::from_utf8_lossy(&o).into_owned(),
                    String::from_utf8_lossy(&e).into_owned(),
                    Some(Box::new(RawOutput {
                        stdout: o,
                        stderr: e,
                    })),
                )
            }
        };
        ExecResult {
            exit_code,
            stdout,
            stderr,
            duration_ms,
            timed_out,
            truncated,
            oom_killed: false,
            raw,
        }
    }

    /// Exit code 0 and not timed out.
    pub fn ok(&self) -> bool {
        self.exit_code == 0 && !self.timed_out
    }

    /// Standard output exactly as the command wrote it.
    pub fn stdout_bytes(&self) -> &[u8] {
        self.raw
            .as_ref()
            .map_or(self.stdout.as_bytes(), |r| &r.stdout)
    }

    /// Standard error exactly as the command wrote it.
    pub fn stderr_bytes(&self) -> &[u8] {
        self.raw
            .as_ref()
            .map_or(self.stderr.as_bytes(), |r| &r.stderr)
    }
}

/// Which output stream a piece of text came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamKind {
    Stdout,
    Stderr,
}

impl StreamKind {
    /// `"stdout"` or `"stderr"`, as the reference names them.
    pub fn as_str(self) -> &'static str {
        match self {
            StreamKind::Stdout => "stdout",
            StreamKind::Stderr => "stderr",
        }
    }
}

impl fmt::Display for StreamKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A piece of a streaming command's output. Never ends inside a UTF-8 character.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamChunk {
    pub stream: StreamKind,
    pub data: String,
}

/// Buffered output of a detached process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BufferSnapshot {
    pub stdout: String,
    pub stderr: String,
}

/// How a command string is interpreted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Lang {
    /// `sh -c COMMAND`.
    #[default]
    Shell,
    /// `python3 -c COMMAND`.
    Python,
}

impl std::str::FromStr for Lang {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "sh" | "shell" | "bash" => Ok(Lang::Shell),
            "python" | "python3" | "py" => Ok(Lang::Python),
            other => Err(crate::Error::invalid(format!(
                "unknown language {other:?} (known: python, sh)"
            ))),
        }
    }
}
