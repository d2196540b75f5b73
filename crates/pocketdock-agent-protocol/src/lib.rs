//! The protocol between a pocketdock client and the agent that is PID 1 of every sandbox.
//!
//! One connection carries many commands. Every message is one frame: a 4-byte big-endian length
//! (at most [`MAX_FRAME`]) and a postcard-encoded [`AgentMessage`] or [`ClientMessage`]. The
//! agent speaks first and proves it holds the sandbox's key before the client writes anything
//! (see [`auth`]); a peer that cannot is never sent a byte.
//!
//! Output is flow-controlled per command: the agent sends at most [`OUTPUT_WINDOW`] bytes of a
//! command's output that the client has not acknowledged with [`ClientMessage::Credit`], so a
//! command writing at GB/s cannot starve the others or the control messages.

pub mod auth;
mod codec;

pub use codec::{
    encode_output, encode_output_header, ClientCodec, FrameCodec, FrameError, Incoming,
    MAX_JOINED_OUTPUT,
};

use serde::{Deserialize, Serialize};

/// Bumped on every incompatible change. A client and an agent of different versions do not talk:
/// the client falls back to engine exec or reports [`AgentMessage::Hello`]'s version.
pub const PROTOCOL_VERSION: u32 = 2;

/// Largest frame either side accepts (a length prefix above it is a protocol error).
pub const MAX_FRAME: usize = 1 << 20;

/// Largest output chunk the agent puts in one frame.
pub const MAX_CHUNK: usize = 256 * 1024;

/// Unacknowledged output bytes the agent may have in flight per command.
pub const OUTPUT_WINDOW: u32 = 4 << 20;

/// Most commands one connection may have running at once.
pub const MAX_COMMANDS: usize = 4096;

/// Where the agent listens inside the container, and the host directory mounted there.
pub const SOCKET_DIR_IN_CONTAINER: &str = "/.pocketdock";
pub const SOCKET_NAME: &str = "agent.sock";
/// Where the agent binary and its key are put in the container.
pub const AGENT_PATH: &str = "/.pocketdock-agent";
pub const KEY_PATH: &str = "/.pocketdock-agent.key";

/// A command's id, chosen by the client, unique on its connection.
pub type CommandId = u32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Exit {
    /// It exited with this code.
    Code(i32),
    /// A signal ended it.
    Signal(i32),
    /// Its timeout passed and the agent killed it and everything it started.
    TimedOut,
    /// It could not be started (`code` 127: not found, 126: not executable); the reason went to
    /// its stderr as a message.
    NotStarted(i32),
    /// The kernel's OOM killer killed it, or a process of it whose death ended it: its exit
    /// code as the other variants would give it (137 for SIGKILL). Last, so that an older
    /// agent's exits decode unchanged.
    OomKilled(i32),
}

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Spawn {
    pub argv: Vec<String>,
    /// Added to (or replacing in) the container's environment.
    pub env: Vec<(String, String)>,
    pub cwd: Option<String>,
    /// A user name or uid, optionally `:group`; `None`: the sandbox's user.
    pub user: Option<String>,
    /// Whether stdin is a pipe the client feeds (else `/dev/null`).
    pub stdin: bool,
    /// Run on a pseudo-terminal of this size (columns, rows): the command is the session
    /// leader of a new session whose controlling terminal it is; stdout carries all its output.
    pub pty: Option<(u16, u16)>,
    /// The agent kills the whole tree after this many milliseconds.
    pub timeout_ms: Option<u64>,
}

/// Client → agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientMessage {
    /// The answer to [`AgentMessage::Hello`]: the client's nonce and its proof of the key.
    Auth {
        nonce: [u8; 32],
        tag: [u8; 32],
    },
    Spawn {
        id: CommandId,
        spawn: Spawn,
    },
    Stdin {
        id: CommandId,
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
    },
    CloseStdin {
        id: CommandId,
    },
    /// Signal the command and everything it started; SIGKILL first freezes the whole tree.
    /// `spare`: one process of the tree left alone (a session's shell, whose command is killed).
    Signal {
        id: CommandId,
        signal: i32,
        spare: Option<u32>,
    },
    Resize {
        id: CommandId,
        cols: u16,
        rows: u16,
    },
    /// The client consumed this many bytes of the command's output.
    Credit {
        id: CommandId,
        bytes: u32,
    },
}

/// Agent → client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AgentMessage {
    /// First frame on every connection: versions, the agent's nonce and its proof of the key.
    Hello {
        protocol: u32,
        agent_version: String,
        nonce: [u8; 32],
        tag: [u8; 32],
    },
    /// The client's proof was good; this proves the agent saw the client's fresh nonce.
    Ready { tag: [u8; 32] },
    /// The command runs, as this process id inside the container.
    Started { id: CommandId, pid: u32 },
    Output {
        id: CommandId,
        stream: Stream,
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
    },
    /// The command's output has ended and it has exited; its id is free again.
    Exited { id: CommandId, exit: Exit },
    /// The answer to a signal: how many processes received it.
    Signalled { id: CommandId, count: u32 },
    /// A request the agent could not carry out (unknown id, spawn of a bad spec, …).
    Refused {
        id: Option<CommandId>,
        reason: String,
    },
}
