//! The library's error type. Variants mirror the reference's exception hierarchy
//! (`PocketDockError › SocketError · ContainerError · ImageNotFound …`) so that the Python
//! package can map them one to one; the `is_*` methods answer the hierarchy's group questions.

use std::path::PathBuf;

/// Everything that can go wrong in pocketdock.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The engine socket exists (or was named) but a connection to it failed.
    #[error("cannot connect to the engine socket {}: {detail} (is the engine running? choose another with --socket or POCKETDOCK_SOCKET)", socket_path.display())]
    SocketConnection {
        socket_path: PathBuf,
        detail: String,
    },

    /// Connected, but the conversation with the engine broke down (bad response, dropped stream).
    #[error("engine communication failed: {detail}")]
    SocketCommunication { detail: String },

    /// No engine socket answers and none could be started.
    #[error("no container engine is running: {hint}")]
    PodmanNotRunning { hint: String },

    /// The engine knows no container by that id or name.
    #[error("container {container_id} not found: {detail}")]
    ContainerNotFound {
        container_id: String,
        detail: String,
    },

    /// The container exists but is stopped, so nothing can run in it.
    #[error("container {container_id} is not running: {detail}")]
    ContainerNotRunning {
        container_id: String,
        detail: String,
    },

    /// The container existed when we last looked and has since been removed behind our back.
    #[error("container {container_id} is gone: {detail}")]
    ContainerGone {
        container_id: String,
        detail: String,
    },

    /// Any other engine-side failure concerning one container.
    #[error("container {container_id}: {detail}")]
    Container {
        container_id: String,
        detail: String,
    },

    /// The image is not present locally (nothing is ever pulled: we are offline).
    #[error("image {image} not found locally; build or import it first (pocketdock works offline and never pulls)")]
    ImageNotFound { image: String },

    /// Building, exporting or loading an image failed.
    #[error("image {image}: {detail}")]
    Image { image: String, detail: String },

    /// The peer on a sandbox's agent socket failed the handshake or broke the protocol: a
    /// foreign or hostile process, or an agent of another version. Nothing was sent to it.
    #[error("sandbox agent: {detail}")]
    Agent { detail: String },

    /// The session was closed (by `close`, its shell's exit, or the container's shutdown).
    #[error("the session is closed")]
    SessionClosed,

    /// A caller-supplied value was rejected before anything was sent to the engine.
    #[error("invalid argument: {detail}")]
    InvalidArgument { detail: String },

    /// A path inside the container does not exist.
    #[error("no such file in container {container_id}: {path}")]
    FileNotFound { container_id: String, path: String },

    /// The sandbox's root file system is read-only ([`read_only`](crate::ContainerOptions::read_only)),
    /// and the engine takes no archive into it: write where the sandbox may (`/tmp`).
    #[error("container {container_id} has a read-only root file system: {path} cannot be written (write under /tmp)")]
    ReadOnlyFileSystem { container_id: String, path: String },

    /// A host file or directory could not be read or written (`kind` tells a missing path from
    /// a permission problem).
    #[error("host path {}: {detail}", path.display())]
    HostFile {
        path: PathBuf,
        kind: std::io::ErrorKind,
        detail: String,
    },

    /// An archive from the engine has an entry that would land outside the destination
    /// (`..`, an absolute path, a path through a symlink): nothing of it was written outside.
    #[error("unsafe archive entry {entry:?}: {reason}")]
    UnsafeArchive { entry: String, reason: String },

    /// No `.pocketdock/pocketdock.yaml` at `path` or above it (the reference's
    /// `ProjectNotInitialized`).
    #[error("no pocketdock project at {} or above it (create one with `pocketdock init`)", path.display())]
    ProjectNotInitialized { path: PathBuf },

    /// A `pocketdock.yaml` (project or install level) could not be read or is malformed: the
    /// file, the line (1-based) and the field (`logging.auto_log`) where known.
    #[error("{}", project_config_message(path, *line, field.as_deref(), detail))]
    ProjectConfig {
        path: PathBuf,
        line: Option<usize>,
        field: Option<String>,
        detail: String,
    },
}

fn project_config_message(
    path: &std::path::Path,
    line: Option<usize>,
    field: Option<&str>,
    detail: &str,
) -> String {
    let mut message = format!("invalid configuration {}", path.display());
    if let Some(line) = line {
        message.push_str(&format!(", line {line}"));
    }
    if let Some(field) = field {
        message.push_str(&format!(", field `{field}`"));
    }
    format!("{message}: {detail}")
}

impl Error {
    /// The reference's `SocketError` group: the engine could not be reached or understood.
    pub fn is_socket_error(&self) -> bool {
        matches!(
            self,
            Error::SocketConnection { .. }
                | Error::SocketCommunication { .. }
                | Error::Agent { .. }
                | Error::PodmanNotRunning { .. }
        )
    }

    /// The reference's `ContainerError` group.
    pub fn is_container_error(&self) -> bool {
        matches!(
            self,
            Error::ContainerNotFound { .. }
                | Error::ContainerNotRunning { .. }
                | Error::ContainerGone { .. }
                | Error::Container { .. }
        )
    }

    /// A file or directory that was named does not exist, in the container or on the host.
    pub fn is_file_not_found(&self) -> bool {
        matches!(self, Error::FileNotFound { .. })
            || matches!(self, Error::HostFile { kind, .. } if *kind == std::io::ErrorKind::NotFound)
    }

    /// The container id the error concerns, where there is one.
    pub fn container_id(&self) -> Option<&str> {
        match self {
            Error::ContainerNotFound { container_id, .. }
            | Error::ContainerNotRunning { container_id, .. }
            | Error::ContainerGone { container_id, .. }
            | Error::Container { container_id, .. }
            | Error::FileNotFound { container_id, .. }
            | Error::ReadOnlyFileSystem { container_id, .. } => Some(container_id),
            _ => None,
        }
    }

    /// A host file operation failed on `path`.
    pub(crate) fn host_file(path: &std::path::Path, e: std::io::Error) -> Self {
        Error::HostFile {
            path: path.to_path_buf(),
            kind: e.kind(),
            detail: e.to_string(),
        }
    }

    pub(crate) fn invalid(detail: impl Into<String>) -> Self {
        Error::InvalidArgument {
            detail: detail.into(),
        }
    }

    pub(crate) fn communication(detail: impl std::fmt::Display) -> Self {
        Error::SocketCommunication {
            detail: detail.to_string(),
        }
    }
}

/// `Result` with pocketdock's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
