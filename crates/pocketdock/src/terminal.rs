//! Interactive programs: a command with its stdin attached, on a pseudo-terminal in the
//! container (for `pocketdock shell` and any program that wants a real TTY) or on pipes. Over
//! the sandbox's transport: the agent's pty where the sandbox has the agent, else the engine's.

use std::sync::Arc;

use bytes::Bytes;

use crate::container::Container;
use crate::error::{Error, Result};
use crate::transport::{ExecControl, ExecHandle, ExecSpec, ExitStatus, SIGKILL};
use crate::types::StreamKind;

/// A command running on a pseudo-terminal. Its parts work from different tasks: read the
/// output in one, type into the input in another, resize from a third.
#[derive(Debug)]
pub struct Terminal {
    pub output: TerminalOutput,
    pub input: TerminalInput,
    pub control: TerminalControl,
}

/// What the terminal prints, then how the program ended.
pub struct TerminalOutput(Box<dyn ExecHandle>);

impl std::fmt::Debug for TerminalOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("TerminalOutput").field(&self.0.id()).finish()
    }
}

impl TerminalOutput {
    /// The next bytes the program printed, and on which stream (a TTY has only stdout);
    /// `None` when the command has ended.
    pub async fn next(&mut self) -> Option<Result<(StreamKind, Bytes)>> {
        self.0.next_output().await.transpose()
    }

    /// The exit code, once the output has ended (128 + N for a program ended by signal N).
    pub async fn exit_code(&mut self) -> Result<i64> {
        Ok(match self.0.exit_status().await? {
            ExitStatus::Code(code) => code,
            ExitStatus::Signal(signal) => 128 + i64::from(signal),
            ExitStatus::Lost => 128 + 9,
            ExitStatus::OomKilled(code) => code,
            ExitStatus::TimedOut => -1,
        })
    }
}

/// What the program reads.
#[derive(Debug, Clone)]
pub struct TerminalInput(Arc<dyn ExecControl>);

impl TerminalInput {
    pub async fn write(&self, data: &[u8]) -> Result<()> {
        self.0.write_stdin(data.to_vec()).await
    }

    /// The end of the input (as Ctrl-D would be on pipes).
    pub async fn close(&self) -> Result<()> {
        self.0.close_stdin().await
    }
}

/// Resizing and ending the program.
#[derive(Debug, Clone)]
pub struct TerminalControl(Arc<dyn ExecControl>);

impl TerminalControl {
    /// Tells the program the terminal's new size.
    pub async fn resize(&self, cols: u16, rows: u16) -> Result<()> {
        self.0.resize(cols, rows).await
    }

    /// Ends the program and everything it started.
    pub async fn kill(&self) -> Result<usize> {
        self.0.signal(SIGKILL).await
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
        let handle = self
            .open_handle(ExecSpec {
                argv,
                env: vec![("TERM".into(), "xterm-256color".into())],
                stdin: true,
                pty: tty.then_some((cols, rows)),
                ..ExecSpec::default()
            })
            .await?;
        let control = handle.control();
        Ok(Terminal {
            output: TerminalOutput(handle),
            input: TerminalInput(control.clone()),
            control: TerminalControl(control),
        })
    }
}
