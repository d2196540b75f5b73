//! Running commands. One path ([`Execution`]) turns a command into output frames and an exit
//! status over whichever transport the sandbox has; the blocking run, the stream and the
//! detached process are three consumers of it.

pub(crate) mod execution;
pub(crate) mod process;
pub(crate) mod run;
pub(crate) mod stream;
#[cfg(test)]
mod tests;

pub(crate) use execution::{
    container_trouble, gone_if_missing, new_token, removal_patience, Execution, Outcome,
};

use std::time::Duration;

use crate::options::{DEFAULT_BUFFER_CAPACITY, DEFAULT_MAX_OUTPUT};
use crate::transport::ExecSpec;
use crate::types::Lang;

/// What runs: a shell command line, or an argv passed exactly.
#[derive(Debug, Clone)]
pub(crate) enum Program {
    Shell(String),
    Argv(Vec<String>),
}

/// Everything that says how one command runs; built by the `Command` builders.
#[derive(Debug, Clone)]
pub(crate) struct CommandSpec {
    pub(crate) program: Program,
    pub(crate) lang: Lang,
    /// `None` in a blocking run means the container's default; streams and detached processes
    /// have no timeout unless one is given.
    pub(crate) timeout: Option<Duration>,
    pub(crate) max_output: usize,
    pub(crate) buffer_capacity: usize,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) cwd: Option<String>,
    pub(crate) user: Option<String>,
    /// Fed to the command's stdin, which is then closed.
    pub(crate) stdin: Option<Vec<u8>>,
    /// Stdin stays open for writes (a detached process always has it open).
    pub(crate) open_stdin: bool,
}

impl CommandSpec {
    fn with(program: Program) -> Self {
        CommandSpec {
            program,
            lang: Lang::Shell,
            timeout: None,
            max_output: DEFAULT_MAX_OUTPUT,
            buffer_capacity: DEFAULT_BUFFER_CAPACITY,
            env: Vec::new(),
            cwd: None,
            user: None,
            stdin: None,
            open_stdin: false,
        }
    }

    pub(crate) fn new(command: impl Into<String>) -> Self {
        Self::with(Program::Shell(command.into()))
    }

    pub(crate) fn argv_of(argv: Vec<String>) -> Self {
        Self::with(Program::Argv(argv))
    }

    /// The command as one line, for logs and history.
    pub(crate) fn text(&self) -> String {
        match &self.program {
            Program::Shell(line) => line.clone(),
            Program::Argv(argv) => {
                shlex::try_join(argv.iter().map(String::as_str)).unwrap_or_else(|_| argv.join(" "))
            }
        }
    }

    /// The argv the transport runs. Python goes through `sh` too, so that a missing
    /// interpreter is the same exit 127 with a message on stderr everywhere.
    pub(crate) fn argv(&self) -> Vec<String> {
        match (&self.program, self.lang) {
            (Program::Argv(argv), _) => argv.clone(),
            (Program::Shell(line), Lang::Shell) => vec!["sh".into(), "-c".into(), line.clone()],
            (Program::Shell(line), Lang::Python) => vec![
                "sh".into(),
                "-c".into(),
                "exec python3 -c \"$1\"".into(),
                "python3".into(),
                line.clone(),
            ],
        }
    }

    /// What the transport is asked to run. `keep_stdin` opens stdin for later writes (a
    /// detached process) when no input was given.
    pub(crate) fn exec_spec(&self, timeout: Option<Duration>, keep_stdin: bool) -> ExecSpec {
        ExecSpec {
            argv: self.argv(),
            env: self.env.clone(),
            cwd: self.cwd.clone(),
            user: self.user.clone(),
            stdin: self.stdin.is_some() || keep_stdin || self.open_stdin,
            timeout,
            pty: None,
        }
    }
}
