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

/// Options of [`create_new_container`](crate::create_new_container), one builder method each.
#[derive(Debug, Clone)]
pub struct ContainerOptions {
    pub(crate) image: String,
    pub(crate) name: Option<String>,
    pub(crate) timeout: Duration,
    pub(crate) socket_path: Option<PathBuf>,
    pub(crate) persist: bool,
    pub(crate) labels: Vec<(String, String)>,
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
        }
    }
}

impl ContainerOptions {
    /// Image tag; must already be present on the engine (nothing is pulled).
    pub fn image(mut self, image: impl Into<String>) -> Self {
        self.image = image.into();
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

    /// Engine socket; default: `POCKETDOCK_SOCKET`, then auto-detection.
    pub fn socket_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.socket_path = Some(path.into());
        self
    }

    /// Keep the container when it is shut down or its last handle dropped (it is stopped only).
    pub fn persist(mut self, persist: bool) -> Self {
        self.persist = persist;
        self
    }

    /// An extra label on the container, beside pocketdock's own.
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.push((key.into(), value.into()));
        self
    }
}
