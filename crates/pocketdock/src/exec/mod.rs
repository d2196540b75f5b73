//! Running commands. One path ([`Execution`]) turns a command into output frames and an exit
//! status; the blocking run, the stream and the detached process are three consumers of it.

pub(crate) mod execution;
mod kill;
pub(crate) mod process;
pub(crate) mod run;
pub(crate) mod stream;

pub(crate) use execution::{gone_if_missing, new_token, token_env, Execution, Killer, Outcome};

use std::time::Duration;

use crate::options::{DEFAULT_BUFFER_CAPACITY, DEFAULT_MAX_OUTPUT};
use crate::types::Lang;

/// Everything that says how one command runs; built by the `Command` builders.
#[derive(Debug, Clone)]
pub(crate) struct CommandSpec {
    pub(crate) command: String,
    pub(crate) lang: Lang,
    /// `None` in a blocking run means the container's default; streams and detached processes
    /// have no timeout unless one is given.
    pub(crate) timeout: Option<Duration>,
    pub(crate) max_output: usize,
    pub(crate) buffer_capacity: usize,
}

impl CommandSpec {
    pub(crate) fn new(command: impl Into<String>) -> Self {
        CommandSpec {
            command: command.into(),
            lang: Lang::Shell,
            timeout: None,
            max_output: DEFAULT_MAX_OUTPUT,
            buffer_capacity: DEFAULT_BUFFER_CAPACITY,
        }
    }

    /// The argv of the exec. Python goes through `sh` too, so that a missing interpreter is the
    /// same exit 127 with a message on stderr on every engine (Docker would answer 126 with the
    /// runtime's message on stdout, Podman 127).
    pub(crate) fn argv(&self) -> Vec<String> {
        match self.lang {
            Lang::Shell => vec!["sh".into(), "-c".into(), self.command.clone()],
            Lang::Python => vec![
                "sh".into(),
                "-c".into(),
                "exec python3 -c \"$1\"".into(),
                "python3".into(),
                self.command.clone(),
            ],
        }
    }
}
