//! The seam between running commands and how they reach the container. `exec/` sees only these
//! types: a spec goes in, a handle comes out that yields output and an exit status, and whose
//! control can signal the command's tree and feed its stdin. Two implementations behave the
//! same: the in-sandbox agent ([`agent`]) and the engine's exec ([`engine_exec`]).

pub(crate) mod agent;
pub(crate) mod agent_bridge;
pub(crate) mod engine_exec;
#[cfg(test)]
pub(crate) mod memory;
pub(crate) mod oom;
pub(crate) mod token_kill;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;

use crate::error::Result;
use crate::types::StreamKind;

/// The signal that ends a command's whole tree (every transport freezes the tree first).
pub(crate) const SIGKILL: i32 = 9;

/// Which path commands take into a sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// The pocketdock agent, PID 1 of the sandbox, over its unix socket.
    Agent,
    /// The agent, through one long-lived engine exec that relays to its socket (the socket
    /// cannot be reached from this host: an engine in a VM or on another host).
    AgentBridge,
    /// One engine exec per command (sandboxes without the agent, or `POCKETDOCK_TRANSPORT=exec`).
    EngineExec,
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Transport::Agent => "agent",
            Transport::AgentBridge => "agent-bridge",
            Transport::EngineExec => "engine-exec",
        })
    }
}

/// Everything a transport needs to start one command.
#[derive(Debug, Clone, Default)]
pub(crate) struct ExecSpec {
    pub(crate) argv: Vec<String>,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) cwd: Option<String>,
    pub(crate) user: Option<String>,
    /// Stdin is a pipe fed through [`ExecControl::write_stdin`] (else it is empty).
    pub(crate) stdin: bool,
    /// Enforced inside the container where the transport can (the agent).
    pub(crate) timeout: Option<Duration>,
    /// Run on a pseudo-terminal of this size (columns, rows); all output comes as stdout.
    pub(crate) pty: Option<(u16, u16)>,
}

/// How a command ended, as the transport saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExitStatus {
    Code(i64),
    /// Ended by this signal (reported as `128 + signal`, as the engines do).
    Signal(i32),
    /// The transport itself killed it on its timeout.
    TimedOut,
    /// The kernel's OOM killer ended it (or the process whose death ended it), with this
    /// exit code (137).
    OomKilled(i64),
    /// The way to the command went away with no word of its end: the agent (PID 1) is gone,
    /// so the sandbox is stopping, rebooting or being removed (reported as killed, 137).
    Lost,
}

/// One command in flight.
pub(crate) trait ExecHandle: Send {
    /// The next piece of output; `None` once every holder of the command's output closed it.
    fn next_output(&mut self) -> BoxFuture<'_, Result<Option<(StreamKind, Bytes)>>>;
    /// The exit status, once the output has ended.
    fn exit_status(&mut self) -> BoxFuture<'_, Result<ExitStatus>>;
    /// Signalling and stdin, usable from anywhere while the handle is read elsewhere.
    fn control(&self) -> Arc<dyn ExecControl>;
    /// An id for logs and `Process::id`.
    fn id(&self) -> String;
    /// Whether the timeout in the spec is enforced in the container (the client then only
    /// keeps a backstop deadline).
    fn enforces_timeout(&self) -> bool;
}

/// What can be done to a running command from any task.
pub(crate) trait ExecControl: Send + Sync + std::fmt::Debug {
    /// Signals the command and everything it started; how many processes got it.
    fn signal(&self, signal: i32) -> BoxFuture<'_, Result<usize>> {
        self.signal_sparing(signal, None)
    }
    /// Signals everything but the process `spare` (a session's shell, whose command ends).
    fn signal_sparing(&self, signal: i32, spare: Option<u32>) -> BoxFuture<'_, Result<usize>>;
    /// Tells a command on a pseudo-terminal the terminal's new size.
    fn resize(&self, cols: u16, rows: u16) -> BoxFuture<'_, Result<()>>;
    fn write_stdin(&self, data: Vec<u8>) -> BoxFuture<'_, Result<()>>;
    fn close_stdin(&self) -> BoxFuture<'_, Result<()>>;
    /// SIGKILLs the tree in the background: for `Drop`, which must not block.
    fn kill_in_background(&self);
    /// Whether we have signalled it (its death by a signal is then no mystery).
    fn signalled(&self) -> bool;
}
