//! The agent in a sandbox: what creation adds for it, and the link commands take to it.
//!
//! At creation the agent binary (embedded in this library) and a fresh per-sandbox key are
//! uploaded through the engine's archive API into the created container, before it starts —
//! this works for an engine on another host too. The agent is the entrypoint, as root (so it
//! can run commands as any user); commands default to the image's user. A host directory of
//! the user's (mode 0700) is bind-mounted at `/.pocketdock`; the agent listens on a socket
//! there, which the client connects to directly: no engine call per command.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use bytes::Bytes;
use pocketdock_agent_protocol::{auth, AGENT_PATH, KEY_PATH, SOCKET_DIR_IN_CONTAINER, SOCKET_NAME};

use super::create::CreatePlan;
use super::labels;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::transport::agent::{ConnectError, Connection, Endpoint};
use crate::transport::{agent_bridge, Transport};

/// The agent, built for this machine's architecture by `build.rs`.
static AGENT_BINARY: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/pocketdock-agent"));

/// The agent binary this library puts into every sandbox (a static Linux executable).
pub fn embedded_agent() -> &'static [u8] {
    AGENT_BINARY
}

/// How long a first command waits for a just-started agent to listen.
const STARTUP_PATIENCE: Duration = Duration::from_secs(10);
/// How long it waits for the socket to appear at all before asking the bridge (which waits
/// for the agent inside the sandbox itself).
const NO_SOCKET_PATIENCE: Duration = Duration::from_secs(1);

/// What a sandbox with the agent needs before it starts.
#[derive(Debug, Clone)]
pub(crate) struct AgentInstall {
    pub(crate) key: auth::Key,
    pub(crate) host_dir: PathBuf,
}

/// `POCKETDOCK_TRANSPORT=exec`: every command through the engine's exec.
pub(crate) fn exec_forced() -> bool {
    transport_forced("exec")
}

/// `POCKETDOCK_TRANSPORT=bridge`: the agent, but through the engine-exec bridge even where its
/// socket can be reached (how the bridge is tested on local engines).
fn bridge_forced() -> bool {
    transport_forced("bridge")
}

fn transport_forced(name: &str) -> bool {
    std::env::var("POCKETDOCK_TRANSPORT").is_ok_and(|v| v.eq_ignore_ascii_case(name))
}

/// Adds the agent to a creation: the image's user and entrypoint move behind the agent.
pub(crate) async fn add_to_plan(engine: &Engine, plan: &mut CreatePlan) -> Result<()> {
    let image = engine.image_config(&plan.spec.image).await?;
    let key: auth::Key = rand::random();
    let host_dir = new_host_dir(engine)?;
    let spec = &mut plan.spec;
    let mut entrypoint = vec![
        AGENT_PATH.to_string(),
        "init".into(),
        "--user".into(),
        image.user.clone(),
    ];
    // Where the engine cannot enforce it (rootless Podman on cgroup v1), the agent bounds
    // the processes of commands itself.
    if let Some(n) = spec.host.pids_limit.filter(|n| *n > 0) {
        entrypoint.extend(["--pids-limit".to_string(), n.to_string()]);
    }
    entrypoint.push("--".into());
    entrypoint.extend(image.entrypoint);
    entrypoint.extend(image.cmd);
    spec.entrypoint = Some(entrypoint);
    spec.cmd = None;
    spec.user = Some("0".into());
    let labels = &mut spec.labels;
    labels.insert(labels::AGENT_KEY.into(), auth::encode_key(&key));
    labels.insert(labels::AGENT_DIR.into(), host_dir.display().to_string());
    labels.insert(labels::USER.into(), image.user);
    let host = &mut spec.host;
    // The agent is PID 1: it reaps and forwards, the engine's init would only stand between.
    host.init = false;
    host.binds.push(format!(
        "{}:{SOCKET_DIR_IN_CONTAINER}:rw",
        host_dir.display()
    ));
    if host.read_only {
        // The engines take no archive into a read-only root: the agent and its key are
        // mounted, read-only, from the sandbox's directory (local engines only).
        let (binary, key_file) = (host_dir.join("agent"), host_dir.join("agent.key"));
        write_private(&binary, AGENT_BINARY, 0o755)?;
        write_private(&key_file, auth::encode_key(&key).as_bytes(), 0o400)?;
        host.binds
            .push(format!("{}:{AGENT_PATH}:ro", binary.display()));
        host.binds
            .push(format!("{}:{KEY_PATH}:ro", key_file.display()));
    }
    plan.agent = Some(AgentInstall { key, host_dir });
    Ok(())
}

/// The agent's install as recorded in a container's labels (a resumed or recreated sandbox).
pub(crate) fn install_from_labels(
    labels: &std::collections::HashMap<String, String>,
) -> Option<AgentInstall> {
    let key = auth::decode_key(labels.get(labels::AGENT_KEY)?)?;
    let host_dir = PathBuf::from(labels.get(labels::AGENT_DIR)?);
    Some(AgentInstall { key, host_dir })
}

/// Puts the agent and its key into a created container (before it starts).
pub(crate) async fn upload(engine: &Engine, id: &str, install: &AgentInstall) -> Result<()> {
    ensure_host_dir(&install.host_dir)?;
    let mut tar = tar::Builder::new(Vec::with_capacity(AGENT_BINARY.len() + 4096));
    let mut add = |path: &str, mode: u32, data: &[u8]| {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(mode);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, path.trim_start_matches('/'), data)
    };
    let key_text = auth::encode_key(&install.key);
    add(AGENT_PATH, 0o755, AGENT_BINARY)
        .and_then(|_| add(KEY_PATH, 0o400, key_text.as_bytes()))
        .map_err(|e| Error::communication(format!("packing the agent: {e}")))?;
    let archive = tar
        .into_inner()
        .map_err(|e| Error::communication(format!("packing the agent: {e}")))?;
    let body = futures::stream::once(async move { Ok::<_, std::io::Error>(Bytes::from(archive)) });
    engine.upload_archive(id, "/", body).await
}

/// Where the per-sandbox directories live: the user's runtime directory, else their cache.
fn base_dir() -> PathBuf {
    let runtime = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|p| p.is_dir());
    let cache = || {
        std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .unwrap_or_else(|| std::env::temp_dir().join(format!("pocketdock-{}", effective_uid())))
    };
    runtime
        .unwrap_or_else(cache)
        .join("pocketdock")
        .join("agents")
}

fn effective_uid() -> u32 {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
        .unwrap_or(0)
}

/// Directories are named `<engine>-<random>`: a sweep on one engine never touches the
/// directories of another engine's sandboxes.
fn new_host_dir(engine: &Engine) -> Result<PathBuf> {
    let dir = base_dir().join(format!(
        "{}{:012x}",
        engine_prefix(engine),
        rand::random::<u64>() & 0xffff_ffff_ffff
    ));
    ensure_host_dir(&dir)?;
    Ok(dir)
}

/// A short, stable name for the engine's socket (FNV-1a of its path).
fn engine_prefix(engine: &Engine) -> String {
    let hash = engine
        .socket_path()
        .as_os_str()
        .as_encoded_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    format!("{:08x}-", hash >> 32)
}

/// A directory younger than this may belong to a creation still under way (in any process).
pub(crate) const SWEEP_MIN_AGE: Duration = Duration::from_secs(600);

/// Removes this engine's socket directories that no container refers to any more (sandboxes
/// removed behind our back, by `docker rm`, or whose holder was killed), once they are
/// `min_age` old. Returns how many went.
pub(crate) async fn sweep_host_dirs(engine: &Engine, min_age: Duration) -> Result<usize> {
    let prefix = engine_prefix(engine);
    let base = base_dir();
    let Ok(entries) = std::fs::read_dir(&base) else {
        return Ok(0);
    };
    let candidates: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .filter(|e| {
            let age = e.metadata().and_then(|m| m.modified()).ok();
            age.and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age >= min_age)
        })
        .map(|e| e.path())
        .collect();
    if candidates.is_empty() {
        return Ok(0);
    }
    let in_use: std::collections::HashSet<PathBuf> = engine
        .list_labelled(&[labels::AGENT_DIR.to_string()])
        .await?
        .iter()
        .filter_map(|c| c["Labels"][labels::AGENT_DIR].as_str().map(PathBuf::from))
        .collect();
    let mut removed = 0;
    for dir in candidates.into_iter().filter(|d| !in_use.contains(d)) {
        if std::fs::remove_dir_all(&dir).is_ok() {
            removed += 1;
        }
    }
    Ok(removed)
}

fn write_private(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .and_then(|mut f| f.write_all(data))
        .map_err(|e| Error::host_file(path, e))
}

/// Creates the directory (and its parents) private to the user: 0700.
pub(crate) fn ensure_host_dir(dir: &Path) -> Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::host_file(dir, e))
}

/// Removes a sandbox's directory once its container is gone.
pub(crate) fn remove_host_dir(dir: &Path) {
    // Only ever a directory we made: under our base, named as we name them.
    if dir.starts_with(base_dir()) {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// How a handle reaches its sandbox's agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Route {
    /// Its socket, directly (the first choice).
    Socket = 0,
    /// The socket cannot be reached from here: one engine exec relays to it.
    Bridge = 1,
    /// Neither answered: commands take engine exec until the sandbox is rebooted.
    Unreachable = 2,
}

impl Route {
    /// The route a new link (or a rebooted sandbox) tries first.
    fn first() -> Route {
        if bridge_forced() {
            Route::Bridge
        } else {
            Route::Socket
        }
    }
}

/// A sandbox's agent, as its handle reaches it.
#[derive(Debug)]
pub(crate) struct AgentLink {
    install: AgentInstall,
    connection: tokio::sync::Mutex<Option<Connection>>,
    route: AtomicU8,
}

impl AgentLink {
    pub(crate) fn new(install: AgentInstall) -> Self {
        AgentLink {
            install,
            connection: tokio::sync::Mutex::new(None),
            route: AtomicU8::new(Route::first() as u8),
        }
    }

    pub(crate) fn host_dir(&self) -> &Path {
        &self.install.host_dir
    }

    fn route(&self) -> Route {
        match self.route.load(Ordering::SeqCst) {
            0 => Route::Socket,
            1 => Route::Bridge,
            _ => Route::Unreachable,
        }
    }

    /// The transport commands take now (the route may change at the first command).
    pub(crate) fn transport(&self) -> Transport {
        match self.route() {
            _ if exec_forced() => Transport::EngineExec,
            Route::Socket => Transport::Agent,
            Route::Bridge => Transport::AgentBridge,
            Route::Unreachable => Transport::EngineExec,
        }
    }

    /// The live connection, made (or made again) if needed; `None`: use engine exec.
    pub(crate) async fn connection(
        &self,
        engine: &Engine,
        container_id: &str,
    ) -> Result<Option<Connection>> {
        if self.transport() == Transport::EngineExec {
            return Ok(None);
        }
        let mut slot = self.connection.lock().await;
        if let Some(c) = slot.as_ref().filter(|c| c.is_alive()) {
            return Ok(Some(c.clone()));
        }
        if self.route() == Route::Socket {
            match self.connect_socket(engine, container_id).await? {
                Some(c) => {
                    *slot = Some(c.clone());
                    return Ok(Some(c));
                }
                None => self.route.store(Route::Bridge as u8, Ordering::SeqCst),
            }
        }
        tracing::debug!(
            container_id,
            "agent: connecting through the engine-exec bridge"
        );
        match agent_bridge::connect(engine, container_id, &self.install.key).await {
            Ok(c) => {
                *slot = Some(c.clone());
                Ok(Some(c))
            }
            Err(e) => {
                ensure_running(engine, container_id).await?;
                tracing::warn!("the sandbox's agent cannot be reached ({e}); using engine exec");
                self.route.store(Route::Unreachable as u8, Ordering::SeqCst);
                Ok(None)
            }
        }
    }

    /// The agent over its socket; `None` when the socket cannot be reached from here.
    async fn connect_socket(
        &self,
        engine: &Engine,
        container_id: &str,
    ) -> Result<Option<Connection>> {
        let endpoint = Endpoint {
            socket: self.install.host_dir.join(SOCKET_NAME),
            key: self.install.key,
        };
        let mut attempt = Connection::connect(&endpoint, Duration::from_millis(50)).await;
        if let Err(ConnectError::Unreachable(_)) = &attempt {
            // Not listening (yet): a stopped or removed sandbox says so at once; a running
            // one may still be starting its agent. Where no socket appears at all, the
            // directory is not shared with this host: the bridge will tell.
            ensure_running(engine, container_id).await?;
            let patience = if endpoint.socket.exists() {
                STARTUP_PATIENCE
            } else {
                NO_SOCKET_PATIENCE
            };
            attempt = Connection::connect(&endpoint, patience).await;
        }
        match attempt {
            Ok(c) => {
                tracing::debug!(socket = %endpoint.socket.display(), "agent: connected");
                Ok(Some(c))
            }
            Err(ConnectError::Unreachable(why)) => {
                tracing::info!(
                    "the sandbox's agent socket cannot be reached ({why}); trying the bridge"
                );
                Ok(None)
            }
            Err(ConnectError::Refused(e)) => Err(match e {
                Error::SocketCommunication { detail } => Error::Agent { detail },
                e => e,
            }),
        }
    }

    /// After a reboot: the agent is a new process; connect afresh.
    pub(crate) async fn reset(&self) {
        *self.connection.lock().await = None;
        self.route.store(Route::first() as u8, Ordering::SeqCst);
    }
}

/// A stopped or removed sandbox is an error of its own, not a reason to change routes.
async fn ensure_running(engine: &Engine, container_id: &str) -> Result<()> {
    let info = engine
        .inspect_container(container_id)
        .await
        .map_err(|e| crate::exec::gone_if_missing(e, container_id))?;
    if !info.state.running {
        return Err(Error::ContainerNotRunning {
            container_id: container_id.to_string(),
            detail: "the container is stopped".into(),
        });
    }
    Ok(())
}
