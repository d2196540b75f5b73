//! What a server is started with: sandbox defaults, per-call limits, caps, the host directory.

use std::path::PathBuf;
use std::time::Duration;

use pocketdock::{ContainerOptions, DEFAULT_IMAGE};

/// Output kept per tool call unless the call or the server says otherwise: what fits a
/// model's context.
pub const DEFAULT_MAX_OUTPUT: usize = 64 * 1024;
/// A command's time limit unless the call or the server says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Live sandboxes a server may hold at once.
pub const DEFAULT_MAX_SANDBOXES: usize = 8;
/// Sandboxes kept created and started ahead of need.
pub const DEFAULT_POOL: usize = 1;

/// The server's settings.
#[derive(Debug, Clone)]
pub struct McpConfig {
    /// The engine's socket (default: found as the library finds it).
    pub socket: Option<PathBuf>,
    /// The image of sandboxes created without one.
    pub image: String,
    /// Labels put on every sandbox the server creates.
    pub labels: Vec<(String, String)>,
    pub max_output: usize,
    pub timeout: Duration,
    /// Sandboxes handed out (created or claimed from the pool) held at once.
    pub max_sandboxes: usize,
    /// Warm sandboxes (0: none); used when a creation asks for nothing but the defaults. They
    /// are not counted in `max_sandboxes`: the engine holds at most the sum of the two.
    pub pool: usize,
    /// The one host directory `push` and `pull` may reach; without it they do not exist.
    pub allow_host_dir: Option<PathBuf>,
}

impl Default for McpConfig {
    fn default() -> Self {
        McpConfig {
            socket: None,
            image: DEFAULT_IMAGE.to_string(),
            labels: Vec::new(),
            max_output: DEFAULT_MAX_OUTPUT,
            timeout: DEFAULT_TIMEOUT,
            max_sandboxes: DEFAULT_MAX_SANDBOXES,
            pool: DEFAULT_POOL,
            allow_host_dir: None,
        }
    }
}

impl McpConfig {
    /// Options of a sandbox created with nothing but the server's defaults.
    pub(crate) fn options(&self) -> ContainerOptions {
        let mut o = ContainerOptions::default().image(&self.image);
        if let Some(socket) = &self.socket {
            o = o.socket_path(socket);
        }
        for (k, v) in &self.labels {
            o = o.label(k, v);
        }
        o
    }
}
