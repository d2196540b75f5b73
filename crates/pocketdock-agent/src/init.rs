//! PID 1: reap, serve, and end everything promptly on SIGTERM.

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use pocketdock_agent_protocol::{auth, KEY_PATH, SOCKET_DIR_IN_CONTAINER, SOCKET_NAME};
use tokio::signal::unix::{signal, SignalKind};

/// What every connection needs.
#[derive(Debug)]
pub struct Agent {
    pub key: auth::Key,
    /// The sandbox's user: commands that name none run as it.
    pub default_user: String,
}

pub fn main(args: &[String]) -> i32 {
    let mut default_user = String::new();
    let mut entrypoint = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--user" => default_user = it.next().cloned().unwrap_or_default(),
            "--pids-limit" => {
                let limit = it.next().and_then(|n| n.parse().ok());
                crate::shim::set_process_limit(limit.filter(|_| !pids_cgroup_limited()));
            }
            "--" => {
                entrypoint = it.by_ref().cloned().collect();
            }
            other => {
                eprintln!("pocketdock-agent init: unknown argument {other:?}");
                return 2;
            }
        }
    }
    let key = match std::fs::read_to_string(KEY_PATH)
        .ok()
        .and_then(|t| auth::decode_key(&t))
    {
        Some(k) => k,
        None => {
            eprintln!("pocketdock-agent: no valid key at {KEY_PATH}");
            return 1;
        }
    };
    let agent = Arc::new(Agent { key, default_user });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("building the agent's runtime");
    runtime.block_on(serve(agent, entrypoint))
}

async fn serve(agent: Arc<Agent>, entrypoint: Vec<String>) -> i32 {
    // Signal streams first: from here on no SIGCHLD or SIGTERM is missed.
    let (Ok(mut children), Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::child()),
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        eprintln!("pocketdock-agent: cannot install signal handlers");
        return 1;
    };
    let listener = match listen() {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "pocketdock-agent: listening on {SOCKET_DIR_IN_CONTAINER}/{SOCKET_NAME}: {e}"
            );
            return 1;
        }
    };
    if !entrypoint.is_empty() {
        // The image's own program: an ordinary child whose end does not end the sandbox.
        let spawn = pocketdock_agent_protocol::Spawn {
            argv: entrypoint,
            user: Some(agent.default_user.clone()),
            ..Default::default()
        };
        if let Err(e) = crate::command::start_detached(&spawn) {
            eprintln!("pocketdock-agent: the image's entrypoint did not start: {e}");
        }
    }
    loop {
        tokio::select! {
            _ = children.recv() => crate::sys::reap_all(),
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(crate::server::connection(agent.clone(), stream));
                }
                Err(e) => eprintln!("pocketdock-agent: accept: {e}"),
            },
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    // Leaving PID 1 makes the kernel kill everything else in the sandbox at once.
    0
}

fn listen() -> std::io::Result<tokio::net::UnixListener> {
    std::fs::create_dir_all(SOCKET_DIR_IN_CONTAINER)?;
    let path = format!("{SOCKET_DIR_IN_CONTAINER}/{SOCKET_NAME}");
    // A socket left by an earlier boot of this container (or anything else there) goes.
    let _ = std::fs::remove_file(&path);
    let listener = tokio::net::UnixListener::bind(&path)?;
    // The host directory around it is the user's and 0700; the engine may run as another uid
    // than the client, so the socket itself is open. Clients prove the key before anything.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666))?;
    Ok(listener)
}

/// Whether a pids cgroup bounds this sandbox. Rootless Podman on cgroup v1 accepts a pids
/// limit and applies none: there the agent's own limit on commands is the only bound.
fn pids_cgroup_limited() -> bool {
    ["/sys/fs/cgroup/pids.max", "/sys/fs/cgroup/pids/pids.max"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .any(|max| max.trim().parse::<u64>().is_ok())
}
