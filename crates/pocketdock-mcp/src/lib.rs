//! pocketdock's Model Context Protocol server: sandboxes as tools for LLM agents, over stdio or
//! streamable HTTP on the loopback behind a bearer token. Sandboxes the server created are
//! removed when it exits, however it exits (SIGKILL too: the orphan sweep of any later
//! pocketdock process removes them).

mod config;
mod host_dir;
mod http;
mod params;
mod sandboxes;
mod server;

use std::path::PathBuf;

pub use config::{
    McpConfig, DEFAULT_MAX_OUTPUT, DEFAULT_MAX_SANDBOXES, DEFAULT_POOL, DEFAULT_TIMEOUT,
};
pub use http::{serve_http, HttpOptions};
pub use server::PocketdockServer;

/// Why a server could not start or serve.
#[derive(Debug, thiserror::Error)]
pub enum McpError {
    #[error(transparent)]
    Pocketdock(#[from] pocketdock::Error),
    #[error("--allow-host-dir {dir}: {source}")]
    HostDir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("the MCP session could not start: {0}")]
    Session(String),
    #[error("--http {addr}: {detail}")]
    Http { addr: String, detail: String },
}

/// Serves MCP on stdin/stdout until the client closes stdin or the process gets SIGTERM or
/// SIGINT; then removes the server's sandboxes.
pub async fn serve_stdio(config: McpConfig) -> Result<(), McpError> {
    use rmcp::ServiceExt;
    let server = PocketdockServer::new(config)?;
    let session = tokio::select! {
        s = server.clone().serve(rmcp::transport::stdio()) => s,
        _ = termination() => {
            server.shut_down().await;
            return Ok(());
        }
    };
    let result = match session {
        Ok(running) => {
            let cancel = running.cancellation_token();
            tokio::select! {
                _ = running.waiting() => {}
                _ = termination() => cancel.cancel(),
            }
            Ok(())
        }
        // Stdin closed before the handshake, or a client that is not one.
        Err(e) => Err(McpError::Session(e.to_string())),
    };
    server.shut_down().await;
    result
}

/// Resolves on SIGTERM or SIGINT.
pub(crate) async fn termination() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
