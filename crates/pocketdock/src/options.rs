//! How a sandbox is made.

use std::path::PathBuf;
use std::time::Duration;

/// The image sandboxes run unless told otherwise.
pub const DEFAULT_IMAGE: &str = "pocketdock/minimal-python";
/// Default timeout of a blocking `run`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default cap on collected output, stdout and stderr together.
pub const DEFAULT_MAX_OUTPUT: usize = 10_485_760;
/// Default ring-buffer size of a detached process, half for each stream.
pub const DEFAULT_BUFFER_CAPACITY: usize = 1_048_576;
/// Default most processes a sandbox may have at once.
pub const DEFAULT_PIDS_LIMIT: i64 = 512;

/// Options of [`create_new_container`](crate::create_new_container), one builder method each.
#[derive(Debug, Clone)]
pub struct ContainerOptions {
    pub(crate) image: String,
    pub(crate) name: Option<String>,
    pub(crate) timeout: Duration,
    pub(crate) socket_path: Option<PathBuf>,
    pub(crate) persist: bool,
    pub(crate) labels: Vec<(String, String)>,
    pub(crate) image_explicit: bool,
    pub(crate) mem_limit: Option<String>,
    pub(crate) cpu_percent: Option<u32>,
    pub(crate) volumes: Vec<(PathBuf, String)>,
    pub(crate) devices: Vec<String>,
    pub(crate) ports: Vec<(u16, u16)>,
    pub(crate) profile: Option<String>,
    pub(crate) network: Option<bool>,
    pub(crate) project: Option<String>,
    pub(crate) project_root: Option<PathBuf>,
    pub(crate) agent: bool,
    pub(crate) pids_limit: i64,
    pub(crate) cap_add: Vec<String>,
    pub(crate) no_new_privileges: bool,
    pub(crate) read_only: bool,
    pub(crate) outlive_process: bool,
}

impl Default for ContainerOptions {
    fn default() -> Self {
        ContainerOptions {
            image: DEFAULT_IMAGE.to_string(),
            name: None,
            timeout: DEFAULT_TIMEOUT,
            socket_path: None,
            persist: false,
            labels: Vec::new(),
            image_explicit: false,
            mem_limit: None,
            cpu_percent: None,
            volumes: Vec::new(),
            devices: Vec::new(),
            ports: Vec::new(),
            profile: None,
            network: None,
            project: None,
            project_root: None,
            agent: true,
            pids_limit: DEFAULT_PIDS_LIMIT,
            cap_add: Vec::new(),
            no_new_privileges: true,
            read_only: false,
            outlive_process: false,
        }
    }
}

impl ContainerOptions {
    /// Image tag; must already be present on the engine (nothing is pulled).
    pub fn image(mut self, image: impl Into<String>) -> Self {
        self.image = image.into();
        self.image_explicit = true;
        self
    }

    /// Container name (also the engine's container name); default `pd-` + 8 hex characters.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Default timeout of blocking runs in this container.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Engine socket; default: `POCKETDOCK_SOCKET`, then the project's `socket:`, then
    /// auto-detection.
    pub fn socket_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.socket_path = Some(path.into());
        self
    }

    /// Keep the container when it is shut down or its last handle dropped (it is stopped only).
    pub fn persist(mut self, persist: bool) -> Self {
        self.persist = persist;
        self
    }

    /// Let a non-persistent sandbox outlive the process that creates it (as `pocketdock create`
    /// does: the sandbox stays until `shutdown`). By default it belongs to that process: if
    /// the process ends without removing it (killed, crashed), the sandbox is an orphan, which
    /// `prune_orphans` and, in the background, later creations remove.
    pub fn outlive_process(mut self, outlive: bool) -> Self {
        self.outlive_process = outlive;
        self
    }

    /// An extra label on the container, beside pocketdock's own.
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.push((key.into(), value.into()));
        self
    }

    /// Memory limit: `"256m"`, `"1g"`, `"512k"`, `"2t"`, `"100b"` or plain bytes. A malformed
    /// value is an [`Error::InvalidArgument`](crate::Error) at creation, before the engine is asked.
    pub fn mem_limit(mut self, limit: impl Into<String>) -> Self {
        self.mem_limit = Some(limit.into());
        self
    }

    /// CPU cap as a share of one core, 1–100.
    pub fn cpu_percent(mut self, percent: u32) -> Self {
        self.cpu_percent = Some(percent);
        self
    }

    /// Bind-mounts a host path (read-write) at a container path.
    pub fn volume(
        mut self,
        host_path: impl Into<PathBuf>,
        container_path: impl Into<String>,
    ) -> Self {
        self.volumes.push((host_path.into(), container_path.into()));
        self
    }

    /// Passes a host device through: `"/dev/ttyUSB0"` or `"/dev/ttyUSB0:/dev/serial"`.
    pub fn device(mut self, device: impl Into<String>) -> Self {
        self.devices.push(device.into());
        self
    }

    /// Publishes a container TCP port on a host port (and exposes it).
    pub fn port(mut self, host_port: u16, container_port: u16) -> Self {
        self.ports.push((host_port, container_port));
        self
    }

    /// An image profile: sets the image (unless [`image`](Self::image) is given) and the
    /// network default (profiles with network off get no network).
    pub fn profile(mut self, profile: impl Into<String>) -> Self {
        self.profile = Some(profile.into());
        self
    }

    /// Whether the sandbox runs pocketdock's agent as PID 1 (default: yes). Without it every
    /// command is an engine exec: slower, and process control relies on an environment token.
    pub fn agent(mut self, enabled: bool) -> Self {
        self.agent = enabled;
        self
    }

    /// Most processes the sandbox may have at once (default [`DEFAULT_PIDS_LIMIT`]: a fork
    /// bomb then fails to fork instead of exhausting the host); `0`: no limit.
    pub fn pids_limit(mut self, limit: i64) -> Self {
        self.pids_limit = limit;
        self
    }

    /// Gives the sandbox a network (`true`) or none (`false`). Default: none, unless the
    /// profile's default is on or ports are published (a published port needs a network).
    pub fn network(mut self, enabled: bool) -> Self {
        self.network = Some(enabled);
        self
    }

    /// Keeps one more Linux capability (`"NET_BIND_SERVICE"`, `"CAP_SYS_PTRACE"`, …) beyond
    /// the few every sandbox keeps (see [`KEPT_CAPABILITIES`](crate::KEPT_CAPABILITIES)).
    pub fn cap_add(mut self, capability: impl Into<String>) -> Self {
        self.cap_add.push(capability.into());
        self
    }

    /// Whether programs are barred from gaining privileges through setuid binaries or file
    /// capabilities (`no-new-privileges`; default: yes).
    pub fn no_new_privileges(mut self, enabled: bool) -> Self {
        self.no_new_privileges = enabled;
        self
    }

    /// A read-only root file system, with a writable tmpfs at `/tmp` (default: writable).
    pub fn read_only(mut self, enabled: bool) -> Self {
        self.read_only = enabled;
        self
    }

    /// The project the sandbox belongs to (a label; used by listing and pruning). Default: the
    /// name of the project the sandbox is created in (see [`project_root`](Self::project_root)).
    pub fn project(mut self, project: impl Into<String>) -> Self {
        self.project = Some(project.into());
        self
    }

    /// Creates the sandbox in the project at `root` (a directory holding
    /// `.pocketdock/pocketdock.yaml`) instead of the project around the current directory: its
    /// name labels the sandbox, its `socket:` applies, and a persistent sandbox gets its
    /// instance directory there. A `root` that is no project is
    /// [`Error::ProjectNotInitialized`](crate::Error) at creation.
    pub fn project_root(mut self, root: impl Into<PathBuf>) -> Self {
        self.project_root = Some(root.into());
        self
    }
}

/// Parses a memory limit (`"256m"`, `"1g"`, `"512k"`, `"2t"`, `"100b"`, `"1048576"`) into bytes.
pub fn parse_mem_limit(limit: &str) -> crate::Result<i64> {
    let invalid = || {
        crate::Error::invalid(format!(
            "invalid memory limit {limit:?}: use a whole number with an optional unit b, k, m, g or t (e.g. \"256m\")"
        ))
    };
    let s = limit.trim();
    let (digits, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => (&s[..i], s[i..].trim()),
        None => (s, ""),
    };
    if digits.is_empty() {
        return Err(invalid());
    }
    let multiplier: i64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        _ => return Err(invalid()),
    };
    let bytes = digits
        .parse::<i64>()
        .ok()
        .and_then(|n| n.checked_mul(multiplier))
        .ok_or_else(invalid)?;
    if bytes == 0 {
        return Err(invalid());
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_memory_limits() {
        assert_eq!(parse_mem_limit("256m").unwrap(), 256 << 20);
        assert_eq!(parse_mem_limit("1g").unwrap(), 1 << 30);
        assert_eq!(parse_mem_limit("1G").unwrap(), 1 << 30);
        assert_eq!(parse_mem_limit("512k").unwrap(), 512 << 10);
        assert_eq!(parse_mem_limit("100b").unwrap(), 100);
        assert_eq!(parse_mem_limit("1048576").unwrap(), 1 << 20);
        assert_eq!(parse_mem_limit(" 64 m ").unwrap(), 64 << 20);
    }

    #[test]
    fn rejects_malformed_memory_limits() {
        for bad in [
            "",
            "m",
            "1.5g",
            "-1m",
            "12q",
            "1gb",
            "0",
            "99999999999999999999",
            "1 g b",
        ] {
            assert!(
                matches!(
                    parse_mem_limit(bad),
                    Err(crate::Error::InvalidArgument { .. })
                ),
                "{bad:?}"
            );
        }
    }
}
