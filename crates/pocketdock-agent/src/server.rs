//! One client connection: the handshake, then many commands multiplexed.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use pocketdock_agent_protocol::{
    auth, AgentMessage, ClientMessage, FrameCodec, MAX_COMMANDS, PROTOCOL_VERSION,
};
use tokio::net::UnixStream;
use tokio::sync::mpsc;
use tokio_util::codec::{FramedRead, FramedWrite};

use crate::command::Running;
use crate::init::Agent;
use crate::outbox::Outbox;

/// How long a client may take to prove the key.
const AUTH_PATIENCE: Duration = Duration::from_secs(10);

pub async fn connection(agent: Arc<Agent>, stream: UnixStream) {
    let (rd, wr) = stream.into_split();
    let mut reader = FramedRead::new(rd, FrameCodec::<ClientMessage, AgentMessage>::default());
    let mut writer = FramedWrite::new(wr, FrameCodec::<ClientMessage, AgentMessage>::default());
    let nonce = crate::sys::random_bytes();
    let hello = AgentMessage::Hello {
        protocol: PROTOCOL_VERSION,
        agent_version: env!("CARGO_PKG_VERSION").to_string(),
        nonce,
        tag: auth::hello_tag(&agent.key, &nonce),
    };
    if writer.send(hello).await.is_err() {
        return;
    }
    let client_nonce = match tokio::time::timeout(AUTH_PATIENCE, reader.next()).await {
        Ok(Some(Ok(ClientMessage::Auth { nonce: c, tag })))
            if auth::verify_client(&agent.key, &nonce, &c, &tag) =>
        {
            c
        }
        // Anything else — silence, garbage, a wrong proof: the peer gets nothing more.
        _ => return,
    };
    let ready = AgentMessage::Ready {
        tag: auth::ready_tag(&agent.key, &client_nonce),
    };
    if writer.send(ready).await.is_err() {
        return;
    }
    let (control_tx, control_rx) = mpsc::unbounded_channel();
    let (data_tx, data_rx) = mpsc::unbounded_channel();
    let outbox = Outbox {
        control: control_tx,
        data: data_tx,
    };
    let writing = tokio::spawn(crate::outbox::write_loop(writer, control_rx, data_rx));
    let mut commands: HashMap<u32, Running> = HashMap::new();
    let (ended_tx, mut ended_rx) = mpsc::unbounded_channel::<u32>();
    loop {
        let msg = tokio::select! {
            Some(id) = ended_rx.recv() => { commands.remove(&id); continue }
            msg = reader.next() => msg,
        };
        let msg = match msg {
            Some(Ok(m)) => m,
            // Closed, or a malformed frame: this connection is over. Its commands run on (as
            // with the engine's exec); their output has nowhere to go and is dropped.
            _ => break,
        };
        let refuse = |id: Option<u32>, reason: String| {
            let _ = outbox.control.send(AgentMessage::Refused { id, reason });
        };
        match msg {
            ClientMessage::Auth { .. } => refuse(None, "already authenticated".into()),
            ClientMessage::Spawn { id, mut spawn } => {
                if commands.contains_key(&id) {
                    refuse(Some(id), format!("command id {id} is in use"));
                } else if commands.len() >= MAX_COMMANDS {
                    refuse(
                        Some(id),
                        format!("more than {MAX_COMMANDS} commands on one connection"),
                    );
                } else {
                    if spawn.user.is_none() {
                        spawn.user = Some(agent.default_user.clone());
                    }
                    match Running::start(id, spawn, outbox.clone(), ended_tx.clone()) {
                        Ok(r) => {
                            commands.insert(id, r);
                        }
                        Err(e) => refuse(Some(id), format!("cannot start: {e}")),
                    }
                }
            }
            ClientMessage::Stdin { id, data } => match commands.get(&id) {
                Some(r) => r.stdin(data),
                None => refuse(Some(id), format!("no command {id}")),
            },
            ClientMessage::CloseStdin { id } => {
                if let Some(r) = commands.get(&id) {
                    r.close_stdin();
                }
            }
            ClientMessage::Signal { id, signal, spare } => match commands.get(&id) {
                Some(r) => r.signal(signal, spare.and_then(|p| i32::try_from(p).ok())),
                None => {
                    let _ = outbox
                        .control
                        .send(AgentMessage::Signalled { id, count: 0 });
                }
            },
            ClientMessage::Resize { id, cols, rows } => {
                if let Some(r) = commands.get(&id) {
                    r.resize(cols, rows);
                }
            }
            ClientMessage::Credit { id, bytes } => {
                if let Some(r) = commands.get(&id) {
                    r.credit(bytes);
                }
            }
        }
    }
    for r in commands.values() {
        r.disconnect();
    }
    // The writer goes on while commands still have output queued for a half-closed peer.
    drop(writing);
}
