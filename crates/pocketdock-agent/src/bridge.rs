//! `pocketdock-agent bridge`: stdin → the agent's socket → stdout, for a client that reaches the
//! container only through one long-lived engine exec (an engine in a VM or on another host).

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use pocketdock_agent_protocol::{SOCKET_DIR_IN_CONTAINER, SOCKET_NAME};

/// How long the bridge waits for a just-started agent to listen.
const PATIENCE: Duration = Duration::from_secs(10);

pub fn main() -> i32 {
    let path = format!("{SOCKET_DIR_IN_CONTAINER}/{SOCKET_NAME}");
    let deadline = Instant::now() + PATIENCE;
    let socket = loop {
        match UnixStream::connect(&path) {
            Ok(s) => break s,
            Err(e) if Instant::now() >= deadline => {
                eprintln!("pocketdock-agent bridge: {path}: {e}");
                return 1;
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    let mut to_agent = socket.try_clone().expect("cloning a socket");
    let upstream = std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut to_agent);
        let _ = to_agent.shutdown(std::net::Shutdown::Write);
    });
    let mut from_agent = socket;
    let mut out = std::io::stdout().lock();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match from_agent.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if out.write_all(&buf[..n]).and_then(|_| out.flush()).is_err() {
                    break;
                }
            }
        }
    }
    drop(upstream);
    0
}
