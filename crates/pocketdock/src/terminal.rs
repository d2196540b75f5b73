//! Interactive programs: a command with its stdin attached, on a pseudo-terminal in the
//! container (for `pocketdock shell` and any program that wants a real TTY) or on pipes.

use bytes::Bytes;
use futures::StreamExt;

use crate::container::Container;
use crate::engine::{Engine, ExecInput, ExecRequest, OutputStream};
use crate::error::{Error, Result};
use crate::exec::new_token;
use crate::transport::engine_exec::Killer;
use crate::transport::token_kill::token_env;
use crate::types::StreamKind;

/// A command running on a pseudo-terminal. Split it with [`Terminal::into_parts`] to read,
/// write and resize from different tasks.
pub struct Terminal {
    pub output: TerminalOutput,
    pub input: ExecInput,
    pub control: TerminalControl,
}

impl std::fmt::Debug for Terminal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Terminal")
            .field("exec_id", &self.control.exec_id)
            .finish()
    }
}

/// What the terminal prints.
pub struct TerminalOutput(OutputStream);

impl std::fmt::Debug for TerminalOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TerminalOutput")
    }
}

impl TerminalOutput {
    /// The next bytes the program printed, and on which stream (a TTY has only stdout);
    /// `None` when the command has ended.
    pub async fn next(&mut self) -> Option<Result<(StreamKind, Bytes)>> {
        use bollard::container::LogOutput;
        loop {
            return match self.0.next().await? {
                Ok(LogOutput::StdIn { .. }) => continue,
                Ok(LogOutput::StdErr { message }) => Some(Ok((StreamKind::Stderr, message))),
                Ok(LogOutput::StdOut { message } | LogOutput::Console { message }) => {
                    Some(Ok((StreamKind::Stdout, message)))
                }
                Err(e) => Some(Err(e)),
            };
        }
    }
}

/// Resizing and the exit status.
#[derive(Debug, Clone)]
pub struct TerminalControl {
    engine: Engine,
    exec_id: String,
    killer: Killer,
}

impl TerminalControl {
    /// Tells the program the terminal's new size.
    pub async fn resize(&self, cols: u16, rows: u16) -> Result<()> {
        self.engine.resize_exec(&self.exec_id, cols, rows).await
    }

    /// The exit code, once the output has ended.
    pub async fn exit_code(&self) -> Result<i64> {
        match self.engine.inspect_exec(&self.exec_id).await? {
            Some(info) => Ok(info.exit_code.unwrap_or(-1)),
            None => Ok(-1),
        }
    }

    /// Ends the program and everything it started.
    pub async fn kill(&self) -> Result<usize> {
        self.killer
            .signal(crate::transport::engine_exec::SIGKILL)
            .await
    }
}

impl Container {
    /// Starts `argv` with stdin attached: on a pseudo-terminal of `cols`×`rows` when `tty`,
    /// else with plain pipes (for input that is not a terminal, like `docker exec -i`).
    pub async fn terminal(
        &self,
        argv: Vec<String>,
        tty: bool,
        cols: u16,
        rows: u16,
    ) -> Result<Terminal> {
        if argv.is_empty() {
            return Err(Error::invalid("a terminal needs a command to run"));
        }
        let id = self.id();
        let engine = self.engine().clone();
        let token = new_token();
        let exec_id = engine
            .create_exec(
                &id,
                ExecRequest {
                    cmd: argv,
                    env: vec![token_env(&token), "TERM=xterm-256color".into()],
                    stdin: true,
                    tty,
                    user: self.command_user().map(str::to_string),
                    working_dir: None,
                },
            )
            .await
            .map_err(|e| self.gone_if_missing(e))?;
        let (output, input) = engine.start_exec_with_input(&exec_id).await?;
        let control = TerminalControl {
            killer: Killer::new(
                engine.clone(),
                id,
                token,
                self.command_user().map(str::to_string),
                self.agent_link().is_some(),
            ),
            engine,
            exec_id,
        };
        if tty {
            // The size can only be set once the exec runs; a failure here is cosmetic.
            let _ = control.resize(cols, rows).await;
        }
        Ok(Terminal {
            output: TerminalOutput(output),
            input,
            control,
        })
    }
}
