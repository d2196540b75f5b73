//! The client of the in-sandbox agent: one authenticated, multiplexed connection per sandbox,
//! shared by every command and every clone of the handle.
//!
//! The connection's tasks live on the shared runtime, so that a handle used from several
//! runtimes (the blocking facade, a caller's own) keeps one working connection.

use std::collections::{HashMap, VecDeque};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt, SinkExt, StreamExt};
use pocketdock_agent_protocol::{
    auth, AgentMessage, ClientCodec, ClientMessage, Exit, Incoming, Spawn, Stream, OUTPUT_WINDOW,
    PROTOCOL_VERSION,
};
use std::pin::Pin;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::UnixStream;
use tokio::sync::{mpsc, oneshot};
use tokio_util::codec::{FramedRead, FramedWrite};

use super::{ExecControl, ExecHandle, ExecSpec, ExitStatus};
use crate::error::{Error, Result};
use crate::types::StreamKind;

/// How long a peer on the socket may take to say hello, and the agent to answer a signal.
const PEER_PATIENCE: Duration = Duration::from_secs(5);
/// Consumed output is acknowledged in batches of this size (well under the window).
const CREDIT_BATCH: u32 = OUTPUT_WINDOW / 4;

/// Where a sandbox's agent listens on this host, and the key it proves.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    pub(crate) socket: PathBuf,
    pub(crate) key: auth::Key,
}

/// Why no connection could be made.
#[derive(Debug)]
pub(crate) enum ConnectError {
    /// Nothing answers there (no mount, an engine on another host, the agent not up): engine
    /// exec can serve instead.
    Unreachable(String),
    /// Something answered and failed the handshake: a hostile or foreign peer. Never fall
    /// back silently.
    Refused(Error),
}

/// The two directions of a byte channel to the agent: a unix socket's halves, or an engine
/// exec's output and stdin (the bridge).
pub(crate) type ByteReader = Pin<Box<dyn AsyncRead + Send>>;
pub(crate) type ByteWriter = Pin<Box<dyn AsyncWrite + Send>>;
type Reader = FramedRead<ByteReader, ClientCodec>;
type Writer = FramedWrite<ByteWriter, ClientCodec>;

enum Event {
    Started,
    Output(StreamKind, Bytes),
    Exited(Exit),
    Refused(String),
    Lost(String),
}

#[derive(Default)]
struct Routes {
    commands: HashMap<u32, mpsc::UnboundedSender<Event>>,
    signals: HashMap<u32, VecDeque<oneshot::Sender<u32>>>,
    lost: Option<String>,
}

struct Shared {
    /// Messages for the write loop; `None` asks it only to flush (what a cancelled direct
    /// write left in the writer's buffer).
    outgoing: mpsc::UnboundedSender<Option<ClientMessage>>,
    /// The connection's one writer: the write loop's, and a spawning caller's for its start
    /// (written from the caller's own thread, without waking a runtime worker first).
    writer: Arc<tokio::sync::Mutex<Writer>>,
    routes: Mutex<Routes>,
    next_id: AtomicU32,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("agent::Shared").finish_non_exhaustive()
    }
}

impl Shared {
    fn routes(&self) -> std::sync::MutexGuard<'_, Routes> {
        self.routes.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn send(&self, msg: ClientMessage) -> Result<()> {
        self.outgoing
            .send(Some(msg))
            .map_err(|_| Error::communication("the connection to the sandbox's agent is closed"))
    }

    /// Writes a message from the caller's context, in order with what the write loop sends.
    /// Cancelled midway, the rest stays in the writer's buffer and the write loop flushes it.
    async fn write_now(&self, msg: ClientMessage) -> Result<()> {
        let closed = || Error::communication("the connection to the sandbox's agent is closed");
        let mut writer = self.writer.lock().await;
        let unflushed = FlushOnDrop(&self.outgoing);
        writer.feed(msg).await.map_err(|_| closed())?;
        writer.flush().await.map_err(|_| closed())?;
        std::mem::forget(unflushed);
        Ok(())
    }
}

/// Dropped before a direct write finished: the write loop flushes what it left buffered.
struct FlushOnDrop<'a>(&'a mpsc::UnboundedSender<Option<ClientMessage>>);

impl Drop for FlushOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.0.send(None);
    }
}

/// A live, authenticated connection.
#[derive(Clone)]
pub(crate) struct Connection {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("agent::Connection")
            .field("alive", &self.is_alive())
            .finish()
    }
}

impl Connection {
    /// Connects and authenticates. Waits up to `patience` for the socket to appear and accept
    /// (a sandbox that was just started).
    pub(crate) async fn connect(
        endpoint: &Endpoint,
        patience: Duration,
    ) -> std::result::Result<Self, ConnectError> {
        let endpoint = endpoint.clone();
        crate::runtime::shared()
            .spawn(async move { Self::connect_here(&endpoint, patience).await })
            .await
            .map_err(|e| {
                ConnectError::Unreachable(format!("connecting to the agent failed: {e}"))
            })?
    }

    async fn connect_here(
        endpoint: &Endpoint,
        patience: Duration,
    ) -> std::result::Result<Self, ConnectError> {
        let stream = connect_socket(&endpoint.socket, patience).await?;
        let (rd, wr) = stream.into_split();
        Self::over(Box::pin(rd), Box::pin(wr), &endpoint.key)
            .await
            .map_err(ConnectError::Refused)
    }

    /// The handshake and the connection's tasks over any byte channel; to be called on the
    /// shared runtime.
    pub(crate) async fn over(rd: ByteReader, wr: ByteWriter, key: &auth::Key) -> Result<Self> {
        let (reader, writer) = handshake(rd, wr, key).await?;
        let (outgoing, to_send) = mpsc::unbounded_channel();
        let writer = Arc::new(tokio::sync::Mutex::new(writer));
        let shared = Arc::new(Shared {
            outgoing,
            writer: writer.clone(),
            routes: Mutex::default(),
            next_id: AtomicU32::new(1),
        });
        tokio::spawn(write_loop(writer, to_send));
        tokio::spawn(read_loop(reader, Arc::downgrade(&shared)));
        Ok(Connection { shared })
    }

    pub(crate) fn is_alive(&self) -> bool {
        self.shared.routes().lost.is_none() && !self.shared.outgoing.is_closed()
    }

    /// Starts a command; returns once the agent has started it (or reported why it could not),
    /// so that a caller that exits at once has not lost it.
    pub(crate) async fn spawn(&self, spec: &ExecSpec) -> Result<AgentExec> {
        let (events_tx, events) = mpsc::unbounded_channel();
        let id = {
            let mut routes = self.shared.routes();
            if let Some(reason) = &routes.lost {
                return Err(Error::communication(reason.clone()));
            }
            let mut id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
            while id == 0 || routes.commands.contains_key(&id) {
                id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
            }
            routes.commands.insert(id, events_tx);
            id
        };
        let spawn = Spawn {
            argv: spec.argv.clone(),
            env: spec.env.clone(),
            cwd: spec.cwd.clone(),
            user: spec.user.clone(),
            stdin: spec.stdin,
            pty: spec.pty,
            timeout_ms: spec
                .timeout
                .map(|t| t.as_millis().min(u64::MAX as u128) as u64),
        };
        self.shared
            .write_now(ClientMessage::Spawn { id, spawn })
            .await?;
        let mut events = events;
        let mut pending = VecDeque::new();
        loop {
            match events.recv().await {
                Some(Event::Started) => break,
                Some(Event::Refused(reason)) => {
                    return Err(Error::communication(format!(
                        "the sandbox's agent refused the command: {reason}"
                    )))
                }
                Some(event @ Event::Exited(_)) => {
                    pending.push_back(event);
                    break;
                }
                Some(event) => pending.push_back(event),
                None => break,
            }
        }
        Ok(AgentExec {
            id,
            // Unique beyond this connection: handles of other processes number from 1 too.
            name: format!("agent-{:012x}", rand::random::<u64>() >> 16),
            events,
            pending,
            exit: None,
            unacked: 0,
            control: Arc::new(Control {
                id,
                shared: self.shared.clone(),
                signalled: AtomicBool::new(false),
            }),
        })
    }
}

async fn connect_socket(
    path: &Path,
    patience: Duration,
) -> std::result::Result<UnixStream, ConnectError> {
    let deadline = tokio::time::Instant::now() + patience;
    let mut pause = Duration::from_millis(1);
    loop {
        // The directory is the container's to write: what is there must be a socket itself,
        // not a link to somewhere else on the host (and whatever answers must prove the key).
        let attempt = match tokio::fs::symlink_metadata(path).await {
            Ok(meta) if meta.file_type().is_socket() => UnixStream::connect(path).await,
            Ok(_) => {
                return Err(ConnectError::Refused(Error::communication(format!(
                    "{} is not a socket: refusing to connect to the sandbox's agent",
                    path.display()
                ))))
            }
            Err(e) => Err(e),
        };
        match attempt {
            Ok(stream) => return Ok(stream),
            Err(e) if tokio::time::Instant::now() >= deadline => {
                return Err(ConnectError::Unreachable(format!(
                    "{}: {e}",
                    path.display()
                )))
            }
            Err(_) => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(20));
            }
        }
    }
}

/// The agent proves the key before we write a byte; then we prove it, with a fresh nonce.
async fn handshake(rd: ByteReader, wr: ByteWriter, key: &auth::Key) -> Result<(Reader, Writer)> {
    let mut reader = FramedRead::new(rd, ClientCodec::default());
    let mut writer = FramedWrite::new(wr, ClientCodec::default());
    let refused =
        |what: String| Error::communication(format!("the sandbox's agent socket: {what}"));
    let hello = match tokio::time::timeout(PEER_PATIENCE, reader.next()).await {
        Err(_) => {
            return Err(refused(
                "the peer said nothing (not a pocketdock agent)".into(),
            ))
        }
        Ok(None) => return Err(refused("the peer closed the connection".into())),
        Ok(Some(Err(e))) => return Err(refused(format!("the peer sent {e}"))),
        Ok(Some(Ok(m))) => m,
    };
    let Incoming::Message(AgentMessage::Hello {
        protocol,
        agent_version,
        nonce,
        tag,
    }) = hello
    else {
        return Err(refused("the peer did not start with a hello".into()));
    };
    if !auth::verify_hello(key, &nonce, &tag) {
        return Err(refused("the peer did not prove this sandbox's key".into()));
    }
    if protocol != PROTOCOL_VERSION {
        return Err(Error::communication(format!(
            "the sandbox's agent (version {agent_version}) speaks protocol {protocol}, this \
             pocketdock speaks {PROTOCOL_VERSION}: recreate the sandbox, or use \
             POCKETDOCK_TRANSPORT=exec"
        )));
    }
    let ours: [u8; 32] = rand::random();
    let auth_msg = ClientMessage::Auth {
        nonce: ours,
        tag: auth::client_tag(key, &nonce, &ours),
    };
    writer
        .send(auth_msg)
        .await
        .map_err(|e| refused(e.to_string()))?;
    match tokio::time::timeout(PEER_PATIENCE, reader.next()).await {
        Ok(Some(Ok(Incoming::Message(AgentMessage::Ready { tag }))))
            if auth::verify_ready(key, &ours, &tag) =>
        {
            Ok((reader, writer))
        }
        _ => Err(refused("the peer did not confirm the handshake".into())),
    }
}

async fn write_loop(
    writer: Arc<tokio::sync::Mutex<Writer>>,
    mut to_send: mpsc::UnboundedReceiver<Option<ClientMessage>>,
) {
    while let Some(first) = to_send.recv().await {
        let mut writer = writer.lock().await;
        let mut next = Some(first);
        while let Some(msg) = next {
            if let Some(msg) = msg {
                if writer.feed(msg).await.is_err() {
                    return;
                }
            }
            next = to_send.try_recv().ok();
        }
        if writer.flush().await.is_err() {
            return;
        }
    }
    // Every handle is gone: the end of our side tells the agent (and a bridge) we are done.
    let _ = writer.lock().await.close().await;
}

async fn read_loop(mut reader: Reader, shared: std::sync::Weak<Shared>) {
    let reason = loop {
        let msg = match reader.next().await {
            Some(Ok(msg)) => msg,
            Some(Err(e)) => break format!("the sandbox's agent sent a bad frame: {e}"),
            None => break "the sandbox's agent closed the connection".to_string(),
        };
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let mut routes = shared.routes();
        let msg = match msg {
            Incoming::Output { id, stream, data } => {
                if let Some(tx) = routes.commands.get(&id) {
                    let kind = match stream {
                        Stream::Stdout => StreamKind::Stdout,
                        Stream::Stderr => StreamKind::Stderr,
                    };
                    let _ = tx.send(Event::Output(kind, data));
                } else {
                    // Nobody reads it any more (an abandoned command being killed): free the window.
                    let _ = shared.send(ClientMessage::Credit {
                        id,
                        bytes: data.len() as u32,
                    });
                }
                continue;
            }
            Incoming::Message(msg) => msg,
        };
        match msg {
            // The codec gives output as `Incoming::Output`, handled above.
            AgentMessage::Output { .. } => {}
            AgentMessage::Exited { id, exit } => {
                if let Some(tx) = routes.commands.remove(&id) {
                    let _ = tx.send(Event::Exited(exit));
                }
            }
            AgentMessage::Signalled { id, count } => {
                if let Some(waiter) = routes.signals.get_mut(&id).and_then(VecDeque::pop_front) {
                    let _ = waiter.send(count);
                }
            }
            AgentMessage::Refused {
                id: Some(id),
                reason,
            } => {
                if let Some(tx) = routes.commands.remove(&id) {
                    let _ = tx.send(Event::Refused(reason));
                }
            }
            AgentMessage::Refused { id: None, reason } => {
                tracing::warn!("the sandbox's agent refused a request: {reason}")
            }
            AgentMessage::Started { id, .. } => {
                if let Some(tx) = routes.commands.get(&id) {
                    let _ = tx.send(Event::Started);
                }
            }
            AgentMessage::Hello { .. } | AgentMessage::Ready { .. } => {
                break "the sandbox's agent repeated its handshake".to_string()
            }
        }
    };
    if let Some(shared) = shared.upgrade() {
        let mut routes = shared.routes();
        for (_, tx) in routes.commands.drain() {
            let _ = tx.send(Event::Lost(reason.clone()));
        }
        routes.signals.clear();
        routes.lost = Some(reason);
    }
}

#[derive(Debug)]
struct Control {
    id: u32,
    shared: Arc<Shared>,
    signalled: AtomicBool,
}

impl ExecControl for Control {
    fn signal_sparing(&self, signal: i32, spare: Option<u32>) -> BoxFuture<'_, Result<usize>> {
        async move {
            self.signalled.store(true, Ordering::SeqCst);
            let (tx, rx) = oneshot::channel();
            {
                let mut routes = self.shared.routes();
                if let Some(reason) = &routes.lost {
                    return Err(Error::communication(reason.clone()));
                }
                routes.signals.entry(self.id).or_default().push_back(tx);
            }
            self.shared.send(ClientMessage::Signal {
                id: self.id,
                signal,
                spare,
            })?;
            match tokio::time::timeout(PEER_PATIENCE, rx).await {
                Ok(Ok(count)) => Ok(count as usize),
                Ok(Err(_)) => Err(Error::communication(
                    "the connection to the sandbox's agent was lost",
                )),
                Err(_) => Err(Error::communication(
                    "the sandbox's agent did not answer a signal",
                )),
            }
        }
        .boxed()
    }

    fn resize(&self, cols: u16, rows: u16) -> BoxFuture<'_, Result<()>> {
        let sent = self.shared.send(ClientMessage::Resize {
            id: self.id,
            cols,
            rows,
        });
        async move { sent }.boxed()
    }

    fn write_stdin(&self, data: Vec<u8>) -> BoxFuture<'_, Result<()>> {
        let sent = data
            .chunks(pocketdock_agent_protocol::MAX_CHUNK)
            .try_for_each(|chunk| {
                self.shared.send(ClientMessage::Stdin {
                    id: self.id,
                    data: chunk.to_vec(),
                })
            });
        async move { sent }.boxed()
    }

    fn close_stdin(&self) -> BoxFuture<'_, Result<()>> {
        let sent = self.shared.send(ClientMessage::CloseStdin { id: self.id });
        async move { sent }.boxed()
    }

    fn kill_in_background(&self) {
        // A queued message: nothing here blocks, and no runtime is needed.
        let _ = self.shared.send(ClientMessage::Signal {
            id: self.id,
            signal: 9,
            spare: None,
        });
        self.shared.routes().commands.remove(&self.id);
    }

    fn signalled(&self) -> bool {
        self.signalled.load(Ordering::SeqCst)
    }
}

/// One command on the agent.
pub(crate) struct AgentExec {
    id: u32,
    name: String,
    events: mpsc::UnboundedReceiver<Event>,
    /// What arrived while waiting for the start.
    pending: VecDeque<Event>,
    exit: Option<ExitStatus>,
    unacked: u32,
    control: Arc<Control>,
}

impl AgentExec {
    fn acknowledge(&mut self, bytes: usize) {
        self.unacked += bytes as u32;
        if self.unacked >= CREDIT_BATCH {
            let _ = self.control.shared.send(ClientMessage::Credit {
                id: self.id,
                bytes: self.unacked,
            });
            self.unacked = 0;
        }
    }

    async fn next_event(&mut self) -> Result<Option<(StreamKind, Bytes)>> {
        if self.exit.is_some() {
            return Ok(None);
        }
        let mut event = self.pending.pop_front();
        if event.is_none() {
            event = self.events.recv().await;
        }
        if let Some(Event::Started) = event {
            // Only ever the first event, and spawn consumed it: read on.
            event = self.events.recv().await;
        }
        match event {
            Some(Event::Started) => Err(Error::communication("the agent started a command twice")),
            Some(Event::Output(kind, data)) => {
                self.acknowledge(data.len());
                Ok(Some((kind, data)))
            }
            Some(Event::Exited(exit)) => {
                self.exit = Some(match exit {
                    Exit::Code(c) | Exit::NotStarted(c) => ExitStatus::Code(i64::from(c)),
                    Exit::Signal(s) => ExitStatus::Signal(s),
                    Exit::TimedOut => ExitStatus::TimedOut,
                    Exit::OomKilled(c) => ExitStatus::OomKilled(i64::from(c)),
                });
                Ok(None)
            }
            Some(Event::Refused(reason)) => Err(Error::communication(format!(
                "the sandbox's agent refused the command: {reason}"
            ))),
            // The agent is PID 1: when its connection drops, it is gone and its processes with
            // it (a reboot, a stop, a removal). The command reads as killed, which the exec
            // path then explains in terms of the container.
            Some(Event::Lost(reason)) => {
                tracing::debug!(command = self.id, "{reason}");
                self.exit = Some(ExitStatus::Lost);
                Ok(None)
            }
            None => {
                self.exit = Some(ExitStatus::Lost);
                Ok(None)
            }
        }
    }
}

impl ExecHandle for AgentExec {
    fn next_output(&mut self) -> BoxFuture<'_, Result<Option<(StreamKind, Bytes)>>> {
        self.next_event().boxed()
    }

    fn exit_status(&mut self) -> BoxFuture<'_, Result<ExitStatus>> {
        async move {
            while self.exit.is_none() {
                self.next_event().await?;
            }
            Ok(self.exit.expect("set above"))
        }
        .boxed()
    }

    fn control(&self) -> Arc<dyn ExecControl> {
        self.control.clone()
    }

    fn id(&self) -> String {
        self.name.clone()
    }

    fn enforces_timeout(&self) -> bool {
        true
    }
}

#[cfg(test)]
#[path = "agent_tests.rs"]
mod tests;
