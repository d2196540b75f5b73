//! Everything about talking to Docker or Podman: finding the socket, negotiating the API version,
//! mapping engine failures to our typed errors, and each engine's quirks. Nothing above this module
//! knows which engine it talks to.

mod archive;
mod errors;
mod images;
mod model;
mod raw;
mod socket;

pub(crate) use archive::PathStat;
pub(crate) use model::{ContainerDetails, ContainerSpec, ExecState, HostSpec, StatsSample};

pub use socket::{Discovery, PRIVATE_SERVICE_IDLE};

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};

use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::query_parameters::{
    CreateContainerOptions, InspectContainerOptions, RemoveContainerOptions, StopContainerOptions,
};
use bollard::{ClientVersion, Docker, API_DEFAULT_VERSION};
use bytes::Bytes;
use futures::Stream;

use crate::error::{Error, Result};
use crate::types::StreamKind;
use errors::Ctx;

/// Which engine answers on the socket. Only used for the few places where they differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineKind {
    Docker,
    Podman,
}

/// An exec's output, demultiplexed: each piece with the stream it came from (a TTY exec's
/// output is all stdout).
pub(crate) type OutputStream = Pin<Box<dyn Stream<Item = Result<(StreamKind, Bytes)>> + Send>>;
/// What to run in a container, and how to attach to it.
#[derive(Debug, Default)]
pub(crate) struct ExecRequest {
    pub(crate) cmd: Vec<String>,
    pub(crate) env: Vec<String>,
    pub(crate) stdin: bool,
    pub(crate) tty: bool,
    /// `None`: the container's configured user.
    pub(crate) user: Option<String>,
    pub(crate) working_dir: Option<String>,
}

/// The stdin of an exec.
pub(crate) type ExecInput = Pin<Box<dyn tokio::io::AsyncWrite + Send>>;

/// A connection to one engine. Cheap to clone; clones share the connection pool.
#[derive(Clone)]
pub(crate) struct Engine {
    docker: Docker,
    socket_path: Arc<PathBuf>,
    kind: EngineKind,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("socket_path", &self.socket_path)
            .field("kind", &self.kind)
            .finish()
    }
}

/// What `/version` told us about a socket. Cached per path so that creating many sandboxes pays
/// the negotiation once.
#[derive(Clone, Copy)]
struct Negotiated {
    version: (usize, usize),
    kind: EngineKind,
}

fn negotiated_cache() -> &'static Mutex<HashMap<PathBuf, Negotiated>> {
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, Negotiated>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// One client per socket and runtime, so that every operation reuses the pooled connections.
/// Per runtime, because a pooled connection's task lives on the runtime that opened it and dies
/// with it (a client shared across runtimes fails with "dispatch task is gone"); runtime ids
/// are never reused. Bounded: a program that makes many runtimes keeps the newest clients.
fn client_cache() -> &'static Mutex<Vec<(ClientKey, Engine)>> {
    static CACHE: OnceLock<Mutex<Vec<(ClientKey, Engine)>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

type ClientKey = (PathBuf, tokio::runtime::Id);

const CLIENT_CACHE_SIZE: usize = 16;

/// Every engine we support (Docker ≥ 20.10, Podman ≥ 4) accepts this version; it is only used
/// to ask `/version` which one to speak.
const BOOTSTRAP_VERSION: ClientVersion = ClientVersion {
    major_version: 1,
    minor_version: 41,
};

/// How long a stop waits for the engine's container list to agree (see `stop_container`).
const LIST_SETTLE: std::time::Duration = std::time::Duration::from_secs(5);

/// Tries of a paused commit whose freeze the engine could not make (see `Engine::commit`).
const COMMIT_TRIES: u64 = 4;

/// Request head timeout in seconds (streams are not bounded by it).
const REQUEST_TIMEOUT_SECS: u64 = 120;

impl Engine {
    /// Connects to the socket named, else to the one `discovery` finds, and negotiates the API
    /// version.
    pub(crate) async fn connect(
        explicit_socket: Option<&Path>,
        discovery: impl FnOnce() -> Discovery,
    ) -> Result<Engine> {
        let socket_path = match explicit_socket {
            Some(p) => socket::strip_scheme(p),
            None => discovery().discover().await?,
        };
        Self::connect_to(&socket_path).await
    }

    /// The client for this socket on the current runtime (made and negotiated on first use).
    pub(crate) async fn connect_to(socket_path: &Path) -> Result<Engine> {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return Self::new_client(socket_path).await;
        };
        let key = (socket_path.to_path_buf(), runtime.id());
        if let Some((_, engine)) = client_cache()
            .lock()
            .unwrap()
            .iter()
            .find(|(k, _)| *k == key)
        {
            return Ok(engine.clone());
        }
        let engine = Self::new_client(socket_path).await?;
        let mut cache = client_cache().lock().unwrap();
        if !cache.iter().any(|(k, _)| *k == key) {
            if cache.len() >= CLIENT_CACHE_SIZE {
                cache.remove(0);
            }
            cache.push((key, engine.clone()));
        }
        Ok(engine)
    }

    async fn new_client(socket_path: &Path) -> Result<Engine> {
        let cached = negotiated_cache().lock().unwrap().get(socket_path).copied();
        let negotiated = match cached {
            Some(n) => n,
            None => {
                let n = Self::negotiate(socket_path).await?;
                negotiated_cache()
                    .lock()
                    .unwrap()
                    .insert(socket_path.to_path_buf(), n);
                n
            }
        };
        let version = ClientVersion {
            major_version: negotiated.version.0,
            minor_version: negotiated.version.1,
        };
        Ok(Engine {
            docker: Self::client(socket_path, &version)?,
            socket_path: Arc::new(socket_path.to_path_buf()),
            kind: negotiated.kind,
        })
    }

    fn client(socket_path: &Path, version: &ClientVersion) -> Result<Docker> {
        let path = socket_path.to_string_lossy();
        Docker::connect_with_unix(&path, REQUEST_TIMEOUT_SECS, version).map_err(|e| {
            Error::SocketConnection {
                socket_path: socket_path.to_path_buf(),
                detail: e.to_string(),
            }
        })
    }

    async fn negotiate(socket_path: &Path) -> Result<Negotiated> {
        let ours = (
            API_DEFAULT_VERSION.major_version,
            API_DEFAULT_VERSION.minor_version,
        );
        if let Some((api, is_podman)) = raw::ping_versions(socket_path).await? {
            if let Some(server) = parse_api_version(&api) {
                return Ok(Negotiated {
                    version: server.min(ours),
                    kind: if is_podman {
                        EngineKind::Podman
                    } else {
                        EngineKind::Docker
                    },
                });
            }
        }
        let docker = Self::client(socket_path, &BOOTSTRAP_VERSION)?;
        let v = docker
            .version()
            .await
            .map_err(|e| Error::SocketConnection {
                socket_path: socket_path.to_path_buf(),
                detail: errors::describe(&e),
            })?;
        let is_podman = v
            .components
            .iter()
            .flatten()
            .any(|c| c.name.to_ascii_lowercase().contains("podman"))
            || v.platform
                .as_ref()
                .is_some_and(|p| p.name.to_ascii_lowercase().contains("podman"));
        let server = v
            .api_version
            .as_deref()
            .and_then(parse_api_version)
            .ok_or_else(|| Error::communication("the engine did not report its API version"))?;
        Ok(Negotiated {
            version: server.min(ours),
            kind: if is_podman {
                EngineKind::Podman
            } else {
                EngineKind::Docker
            },
        })
    }

    fn fail(&self, e: bollard::errors::Error, ctx: Ctx<'_>) -> Error {
        errors::map(e, &self.socket_path, ctx)
    }

    pub(crate) fn socket_path(&self) -> &Path {
        &self.socket_path
    }

    pub(crate) fn kind(&self) -> EngineKind {
        self.kind
    }

    pub(crate) async fn create_container(&self, name: &str, spec: ContainerSpec) -> Result<String> {
        let image = spec.image.clone();
        let image = image.as_str();
        tracing::debug!(name, image, "engine: create container");
        let opts = CreateContainerOptions {
            name: Some(name.to_string()),
            ..Default::default()
        };
        let created = self
            .docker
            .create_container(Some(opts), spec.into())
            .await
            .map_err(|e| self.fail(e, Ctx::Create { name, image }))?;
        Ok(created.id)
    }

    pub(crate) async fn start_container(&self, id: &str) -> Result<()> {
        tracing::debug!(id, "engine: start container");
        self.docker
            .start_container(id, None)
            .await
            .map_err(|e| self.fail(e, Ctx::Container(id)))
    }

    pub(crate) async fn stop_container(&self, id: &str, grace_secs: i32) -> Result<()> {
        tracing::debug!(id, grace_secs, "engine: stop container");
        let opts = StopContainerOptions {
            t: Some(grace_secs),
            signal: None,
        };
        match self.docker.stop_container(id, Some(opts)).await {
            // 304: already stopped — stopping is idempotent for us.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 304, ..
            }) => {}
            r => r.map_err(|e| self.fail(e, Ctx::Container(id)))?,
        }
        if self.kind == EngineKind::Docker {
            self.until_listed_as_stopped(id).await;
        }
        Ok(())
    }

    /// Docker (seen on 26.1) answers a stop once the container has exited, but its container
    /// list may say "running" for some milliseconds more: a list or prune right after a stop
    /// would see a stale state. Waits (a bounded while) until the list agrees.
    async fn until_listed_as_stopped(&self, id: &str) {
        let filters = serde_json::json!({ "id": [id] });
        let deadline = tokio::time::Instant::now() + LIST_SETTLE;
        let mut pause = std::time::Duration::from_millis(2);
        loop {
            let running = match self.list_filtered(&filters).await {
                Ok(list) => list.iter().any(|c| c["State"].as_str() == Some("running")),
                _ => false,
            };
            if !running || tokio::time::Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(std::time::Duration::from_millis(50));
        }
    }

    pub(crate) async fn remove_container(&self, id: &str, force: bool) -> Result<()> {
        tracing::debug!(id, force, "engine: remove container");
        let opts = RemoveContainerOptions {
            force,
            v: true,
            link: false,
        };
        self.docker
            .remove_container(id, Some(opts))
            .await
            .map_err(|e| self.fail(e, Ctx::Container(id)))
    }

    /// Whether the engine answers `/_ping` (which takes no container's lock) within `patience`.
    pub(crate) async fn answers(&self, patience: std::time::Duration) -> bool {
        matches!(
            tokio::time::timeout(patience, self.docker.ping()).await,
            Ok(Ok(_))
        )
    }

    pub(crate) async fn inspect_container(&self, id: &str) -> Result<ContainerDetails> {
        self.docker
            .inspect_container(id, None::<InspectContainerOptions>)
            .await
            .map(ContainerDetails::from)
            .map_err(|e| self.fail(e, Ctx::Container(id)))
    }

    pub(crate) async fn restart_container(&self, id: &str, grace_secs: i32) -> Result<()> {
        tracing::debug!(id, "engine: restart container");
        let opts = bollard::query_parameters::RestartContainerOptions {
            t: Some(grace_secs),
            signal: None,
        };
        self.docker
            .restart_container(id, Some(opts))
            .await
            .map_err(|e| self.fail(e, Ctx::Container(id)))
    }

    /// Commits the container's filesystem as `repo:tag`; returns the image id.
    /// A freeze the engine could not make is tried again, up to [`COMMIT_TRIES`] times.
    pub(crate) async fn commit(&self, id: &str, repo: &str, tag: &str) -> Result<String> {
        let opts = |pause| bollard::query_parameters::CommitContainerOptions {
            container: Some(id.to_string()),
            repo: Some(repo.to_string()),
            tag: Some(tag.to_string()),
            pause,
            ..Default::default()
        };
        let commit = |pause| {
            self.docker
                .commit_container(opts(pause), bollard::models::ContainerConfig::default())
        };
        let mut tries = 0;
        let created = loop {
            tries += 1;
            match commit(true).await {
                // Rootless Podman on cgroup v1 cannot freeze a container: commit it running.
                Err(bollard::errors::Error::DockerResponseServerError { message, .. })
                    if message.contains("can not pause") =>
                {
                    break commit(false).await;
                }
                // Podman's "pausing container … to commit: `runc pause …` failed": cgroup v1's
                // freezer gives up while the container's processes are starting or ending (an
                // exec just finished, say). It is transient: a moment later the freeze takes.
                Err(bollard::errors::Error::DockerResponseServerError { message, .. })
                    if message.contains("pausing container") && tries < COMMIT_TRIES =>
                {
                    tokio::time::sleep(std::time::Duration::from_millis(200 * tries)).await;
                }
                other => break other,
            }
        }
        .map_err(|e| self.fail(e, Ctx::Container(id)))?;
        Ok(created.id)
    }

    /// One sample of the container's resource usage, without the engine's one-second wait for
    /// a second sample.
    pub(crate) async fn stats_once(&self, id: &str) -> Result<StatsSample> {
        use futures::StreamExt;
        let opts = bollard::query_parameters::StatsOptions {
            stream: false,
            one_shot: true,
        };
        match self.docker.stats(id, Some(opts)).next().await {
            Some(r) => r
                .map(StatsSample::from)
                .map_err(|e| self.fail(e, Ctx::Container(id))),
            None => Err(Error::communication("the engine sent no stats")),
        }
    }

    /// Containers (all states) carrying every given `key=value` label, as the engine's loose
    /// JSON (see `raw`: bollard's strict model rejects Podman's `stopped` state).
    pub(crate) async fn list_labelled(&self, labels: &[String]) -> Result<Vec<serde_json::Value>> {
        self.list_filtered(&serde_json::json!({ "label": labels }))
            .await
    }

    /// Containers (all states) that the engine's `filters` select, as loose JSON.
    async fn list_filtered(&self, filters: &serde_json::Value) -> Result<Vec<serde_json::Value>> {
        let query = format!(
            "/containers/json?all=1&filters={}",
            percent_encode(&filters.to_string())
        );
        match self.get_json(&query).await? {
            serde_json::Value::Array(list) => Ok(list),
            other => Err(Error::communication(format!(
                "the container list is not a list: {other}"
            ))),
        }
    }

    /// The capabilities a container's processes may hold, where the engine's compat inspect
    /// does not say: Podman lists its drops relative to its own default set there, so its
    /// libpod inspect's `EffectiveCaps` is the truth. `None`: read `CapAdd`/`CapDrop`.
    pub(crate) async fn effective_capabilities(&self, id: &str) -> Result<Option<Vec<String>>> {
        if self.kind() != EngineKind::Podman {
            return Ok(None);
        }
        let info = self
            .get_json_at(&format!("/v4.0.0/libpod/containers/{id}/json"))
            .await?;
        Ok(info["EffectiveCaps"].as_array().map(|caps| {
            caps.iter()
                .filter_map(|c| c.as_str())
                .map(|c| c.strip_prefix("CAP_").unwrap_or(c).to_string())
                .collect()
        }))
    }

    /// The negotiated API version, `major.minor`.
    pub(crate) fn api_version(&self) -> String {
        let v = self.docker.client_version();
        format!("{}.{}", v.major_version, v.minor_version)
    }

    pub(crate) async fn create_exec(
        &self,
        container_id: &str,
        request: ExecRequest,
    ) -> Result<String> {
        tracing::debug!(container_id, cmd = ?request.cmd, "engine: create exec");
        let opts = CreateExecOptions {
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            attach_stdin: Some(request.stdin),
            tty: Some(request.tty),
            cmd: Some(request.cmd),
            env: Some(request.env),
            user: request.user,
            working_dir: request.working_dir,
            ..Default::default()
        };
        let created = self
            .docker
            .create_exec(container_id, opts)
            .await
            .map_err(|e| self.fail(e, Ctx::Container(container_id)))?;
        Ok(created.id)
    }

    /// Resizes the pseudo-terminal of a TTY exec.
    pub(crate) async fn resize_exec(&self, exec_id: &str, cols: u16, rows: u16) -> Result<()> {
        let opts = bollard::exec::ResizeExecOptions {
            width: cols,
            height: rows,
        };
        self.docker
            .resize_exec(exec_id, opts)
            .await
            .map_err(|e| self.fail(e, Ctx::Engine))
    }

    /// Starts an exec and returns its demultiplexed output. The stream ends when every holder of
    /// the process's stdout and stderr has closed them.
    pub(crate) async fn start_exec(&self, exec_id: &str) -> Result<OutputStream> {
        self.start_exec_with_input(exec_id)
            .await
            .map(|(output, _)| output)
    }

    /// Like [`start_exec`](Self::start_exec), also returning the process's stdin (for an exec
    /// created with `attach_stdin`).
    pub(crate) async fn start_exec_with_input(
        &self,
        exec_id: &str,
    ) -> Result<(OutputStream, ExecInput)> {
        use futures::TryStreamExt;
        let opts = StartExecOptions {
            detach: false,
            tty: false,
            // bollard only uses this as the read buffer size: larger means fewer, bigger frames.
            output_capacity: Some(64 * 1024),
        };
        match self
            .docker
            .start_exec(exec_id, Some(opts))
            .await
            .map_err(|e| self.fail(e, Ctx::Engine))?
        {
            StartExecResults::Attached { output, input } => {
                let engine = self.clone();
                let output: OutputStream = Box::pin(
                    output
                        .map_err(move |e| engine.fail(e, Ctx::Engine))
                        .try_filter_map(|frame| async move { Ok(demultiplexed(frame)) }),
                );
                Ok((output, input))
            }
            StartExecResults::Detached => Err(Error::communication(
                "the engine started the exec detached although we asked to attach",
            )),
        }
    }

    /// The exec's state; `None` once the engine has forgotten it (Podman drops the exec sessions
    /// of a restarted container).
    pub(crate) async fn inspect_exec(&self, exec_id: &str) -> Result<Option<ExecState>> {
        match self.docker.inspect_exec(exec_id).await {
            Ok(info) => Ok(Some(info.into())),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code,
                message,
            }) if status_code == 404 || message.contains("no such exec") => Ok(None),
            Err(e) => Err(self.fail(e, Ctx::Engine)),
        }
    }
}

/// A frame of an exec's output with the stream it belongs to; `None` for echoes of stdin.
fn demultiplexed(frame: LogOutput) -> Option<(StreamKind, Bytes)> {
    match frame {
        LogOutput::StdOut { message } => Some((StreamKind::Stdout, message)),
        LogOutput::StdErr { message } => Some((StreamKind::Stderr, message)),
        // A stream without multiplexing headers (a TTY): all of it is the process's output.
        LogOutput::Console { message } => Some((StreamKind::Stdout, message)),
        LogOutput::StdIn { .. } => None,
    }
}

/// Everything but RFC 3986's unreserved characters is encoded.
const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn percent_encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, QUERY_VALUE).to_string()
}

fn parse_api_version(s: &str) -> Option<(usize, usize)> {
    let (major, minor) = s.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_keep_only_unreserved_characters() {
        assert_eq!(
            percent_encode(r#"{"label":["a=b"]} ~x-y_z.€"#),
            "%7B%22label%22%3A%5B%22a%3Db%22%5D%7D%20~x-y_z.%E2%82%AC"
        );
    }

    #[test]
    fn parses_api_versions() {
        assert_eq!(parse_api_version("1.41"), Some((1, 41)));
        assert_eq!(parse_api_version("1.4x"), None);
        assert_eq!(parse_api_version("141"), None);
    }
}
