//! The client against hostile or foreign peers on the agent's socket: it must write nothing
//! until the peer has proved the key, and fail with a typed error — never hang or panic.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use pocketdock_agent_protocol::{auth, AgentMessage, ClientMessage, FrameCodec, PROTOCOL_VERSION};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixListener;
use tokio::sync::Mutex;
use tokio_util::codec::Framed;

use super::{ConnectError, Connection, Endpoint};
use crate::transport::{ExecHandle, ExecSpec, ExitStatus};

const KEY: auth::Key = [42; 32];

fn socket_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("agent.sock")
}

/// A listener that runs `peer` on its first connection and records every byte it received.
async fn peer<F, Fut>(path: &Path, peer: F) -> Arc<Mutex<Vec<u8>>>
where
    F: FnOnce(tokio::net::UnixStream, Arc<Mutex<Vec<u8>>>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let listener = UnixListener::bind(path).unwrap();
    let received = Arc::new(Mutex::new(Vec::new()));
    let got = received.clone();
    tokio::spawn(async move {
        if let Ok((stream, _)) = listener.accept().await {
            peer(stream, got).await;
        }
    });
    received
}

async fn record_everything(mut stream: tokio::net::UnixStream, got: Arc<Mutex<Vec<u8>>>) {
    let mut buf = [0u8; 1024];
    while let Ok(n) = stream.read(&mut buf).await {
        if n == 0 {
            break;
        }
        got.lock().await.extend_from_slice(&buf[..n]);
    }
}

/// Says hello with `protocol` and a tag made with `key`, then records what the client sends.
async fn forged_hello(
    s: tokio::net::UnixStream,
    got: Arc<Mutex<Vec<u8>>>,
    protocol: u32,
    key: auth::Key,
) {
    let mut framed = Framed::new(s, FrameCodec::<ClientMessage, AgentMessage>::default());
    let nonce = [3; 32];
    let hello = AgentMessage::Hello {
        protocol,
        agent_version: "9.9.9".into(),
        nonce,
        tag: auth::hello_tag(&key, &nonce),
    };
    let _ = framed.send(hello).await;
    record_everything(framed.into_inner(), got).await;
}

async fn connect(path: &Path) -> Result<Connection, ConnectError> {
    let endpoint = Endpoint {
        socket: path.to_path_buf(),
        key: KEY,
    };
    Connection::connect_here(&endpoint, Duration::from_millis(200)).await
}

fn refused(r: Result<Connection, ConnectError>) -> String {
    match r {
        Err(ConnectError::Refused(e)) => e.to_string(),
        Err(ConnectError::Unreachable(why)) => panic!("unreachable, not refused: {why}"),
        Ok(_) => panic!("connected to a hostile peer"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_silent_peer_gets_nothing_and_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = socket_path(&dir);
    let got = peer(&path, record_everything).await;
    let why = refused(connect(&path).await);
    assert!(why.contains("said nothing"), "{why}");
    assert!(
        got.lock().await.is_empty(),
        "the client wrote to an unproven peer"
    );
}

#[tokio::test]
async fn a_foreign_protocol_gets_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = socket_path(&dir);
    // An HTTP server's greeting: its first four bytes read as a frame of ~1.2 GB.
    let got = peer(&path, |mut s, got| async move {
        let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
        record_everything(s, got).await;
    })
    .await;
    let why = refused(connect(&path).await);
    assert!(why.contains("over the limit"), "{why}");
    assert!(got.lock().await.is_empty());
}

#[tokio::test]
async fn a_hello_without_the_key_gets_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = socket_path(&dir);
    // Some other key.
    let got = peer(&path, |s, got| {
        forged_hello(s, got, PROTOCOL_VERSION, [0; 32])
    })
    .await;
    let why = refused(connect(&path).await);
    assert!(why.contains("did not prove"), "{why}");
    assert!(got.lock().await.is_empty());
}

#[tokio::test]
async fn a_symlinked_socket_is_never_connected_to() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = dir.path().join("host-service.sock");
    let listener = UnixListener::bind(&elsewhere).unwrap();
    let path = socket_path(&dir);
    std::os::unix::fs::symlink(&elsewhere, &path).unwrap();
    let why = refused(connect(&path).await);
    assert!(why.contains("not a socket"), "{why}");
    let accepted = tokio::time::timeout(Duration::from_millis(100), listener.accept()).await;
    assert!(accepted.is_err(), "the client connected through the link");
}

#[tokio::test]
async fn another_protocol_version_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = socket_path(&dir);
    let got = peer(&path, |s, got| {
        forged_hello(s, got, PROTOCOL_VERSION + 1, KEY)
    })
    .await;
    let why = refused(connect(&path).await);
    assert!(
        why.contains("9.9.9") && why.contains("POCKETDOCK_TRANSPORT=exec"),
        "{why}"
    );
    assert!(got.lock().await.is_empty());
}

#[tokio::test]
async fn nothing_listening_is_unreachable_not_refused() {
    let dir = tempfile::tempdir().unwrap();
    match connect(&socket_path(&dir)).await {
        Err(ConnectError::Unreachable(_)) => {}
        other => panic!("{:?}", other.map(|_| ())),
    }
}

/// A real agent's handshake, then whatever `after` does with the connection.
async fn proven_peer<F, Fut>(path: &Path, after: F)
where
    F: FnOnce(Framed<tokio::net::UnixStream, FrameCodec<ClientMessage, AgentMessage>>) -> Fut
        + Send
        + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let _ = peer(path, |s, _| async move {
        let mut framed = Framed::new(s, FrameCodec::<ClientMessage, AgentMessage>::default());
        let nonce = [5; 32];
        let hello = AgentMessage::Hello {
            protocol: PROTOCOL_VERSION,
            agent_version: "test".into(),
            nonce,
            tag: auth::hello_tag(&KEY, &nonce),
        };
        framed.send(hello).await.unwrap();
        let Some(Ok(ClientMessage::Auth { nonce: c, tag })) = framed.next().await else {
            panic!("no auth")
        };
        assert!(
            auth::verify_client(&KEY, &nonce, &c, &tag),
            "the client's proof is wrong"
        );
        framed
            .send(AgentMessage::Ready {
                tag: auth::ready_tag(&KEY, &c),
            })
            .await
            .unwrap();
        after(framed).await;
    })
    .await;
}

#[tokio::test]
async fn a_malformed_frame_mid_command_ends_it_without_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let path = socket_path(&dir);
    proven_peer(&path, |mut framed| async move {
        let Some(Ok(ClientMessage::Spawn { id, .. })) = framed.next().await else {
            panic!("no spawn")
        };
        framed
            .send(AgentMessage::Started { id, pid: 7 })
            .await
            .unwrap();
        let mut s = framed.into_inner();
        // A frame whose body is not a message.
        s.write_all(&[0, 0, 0, 2, 0xff, 0xff]).await.unwrap();
        let _ = s.read(&mut [0u8; 64]).await;
    })
    .await;
    let conn = connect(&path).await.unwrap();
    let spec = ExecSpec {
        argv: vec!["true".into()],
        ..Default::default()
    };
    let mut exec = conn.spawn(&spec).await.unwrap();
    let frame = tokio::time::timeout(Duration::from_secs(5), exec.next_output()).await;
    assert!(matches!(frame, Ok(Ok(None))), "the command's output ends");
    assert_eq!(exec.exit_status().await.unwrap(), ExitStatus::Lost);
    assert!(!conn.is_alive());
    assert!(
        conn.spawn(&spec).await.is_err(),
        "a dead connection takes no commands"
    );
}

#[tokio::test]
async fn output_is_acknowledged_so_the_agent_can_send_more() {
    let dir = tempfile::tempdir().unwrap();
    let path = socket_path(&dir);
    let window = pocketdock_agent_protocol::OUTPUT_WINDOW as usize;
    proven_peer(&path, move |mut framed| async move {
        let Some(Ok(ClientMessage::Spawn { id, .. })) = framed.next().await else {
            panic!("no spawn")
        };
        framed
            .send(AgentMessage::Started { id, pid: 7 })
            .await
            .unwrap();
        // A window's worth, then wait for credit before the rest — as the agent does.
        let chunk = vec![b'x'; 256 * 1024];
        for _ in 0..window / chunk.len() {
            let out = AgentMessage::Output {
                id,
                stream: pocketdock_agent_protocol::Stream::Stdout,
                data: chunk.clone(),
            };
            framed.send(out).await.unwrap();
        }
        let mut credited = 0usize;
        while credited < chunk.len() {
            match framed.next().await {
                Some(Ok(ClientMessage::Credit { bytes, .. })) => credited += bytes as usize,
                other => panic!("expected credit, got {other:?}"),
            }
        }
        framed
            .send(AgentMessage::Exited {
                id,
                exit: pocketdock_agent_protocol::Exit::Code(0),
            })
            .await
            .unwrap();
        let _ = framed.next().await;
    })
    .await;
    let conn = connect(&path).await.unwrap();
    let spec = ExecSpec {
        argv: vec!["flood".into()],
        ..Default::default()
    };
    let mut exec = conn.spawn(&spec).await.unwrap();
    let mut total = 0;
    while let Some((_, data)) = exec.next_output().await.unwrap() {
        total += data.len();
    }
    assert_eq!(total, window);
    assert_eq!(exec.exit_status().await.unwrap(), ExitStatus::Code(0));
}
