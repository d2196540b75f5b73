//! The agent through one long-lived engine exec, for a client that cannot reach the agent's
//! socket (an engine in a VM or on another host, a directory it cannot see): the exec runs
//! `pocketdock-agent bridge`, which relays its stdin and stdout to the socket inside the
//! sandbox. The same protocol and handshake run over it — the agent still proves the key, so
//! a sandbox that fakes the bridge gets nothing — and every command of the handle shares it.

use futures::StreamExt;
use pocketdock_agent_protocol::{auth, AGENT_PATH};
use tokio_util::io::StreamReader;

use super::agent::Connection;
use crate::engine::{Engine, ExecRequest};
use crate::error::{Error, Result};
use crate::types::StreamKind;

/// Starts the bridge exec and makes an authenticated connection over it.
pub(crate) async fn connect(
    engine: &Engine,
    container_id: &str,
    key: &auth::Key,
) -> Result<Connection> {
    let (engine, container_id, key) = (engine.clone(), container_id.to_string(), *key);
    // The exec's stream and the connection's tasks live on the shared runtime, as a direct
    // connection's do, whatever runtime the caller is on.
    crate::runtime::shared()
        .spawn(async move {
            let exec_id = engine
                .create_exec(
                    &container_id,
                    ExecRequest {
                        cmd: vec![AGENT_PATH.into(), "bridge".into()],
                        stdin: true,
                        user: Some("0".into()),
                        ..ExecRequest::default()
                    },
                )
                .await?;
            let (output, input) = engine.start_exec_with_input(&exec_id).await?;
            let stdout = output.filter_map(|frame| async move {
                match frame {
                    Ok((StreamKind::Stdout, message)) => Some(Ok(message)),
                    Ok((StreamKind::Stderr, message)) => {
                        tracing::warn!(
                            "the agent's bridge: {}",
                            String::from_utf8_lossy(&message).trim_end()
                        );
                        None
                    }
                    Err(e) => Some(Err(std::io::Error::other(e.to_string()))),
                }
            });
            Connection::over(Box::pin(StreamReader::new(stdout)), input, &key).await
        })
        .await
        .map_err(|e| Error::communication(format!("starting the agent's bridge failed: {e}")))?
}
