//! The sandbox handle (async core): creation, labels, shutdown and removal on drop. It
//! delegates running commands to `exec`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bollard::models::{ContainerCreateBody, HostConfig};

use crate::callbacks::Callbacks;
use crate::engine::{Engine, EngineKind};
use crate::error::{Error, Result};
use crate::exec::process::Process;
use crate::exec::stream::ExecStream;
use crate::exec::{self, CommandSpec, Execution};
use crate::options::ContainerOptions;
use crate::types::{ExecResult, Lang, StreamKind};

/// Label keys pocketdock puts on its containers.
pub mod labels {
    pub const MANAGED: &str = "pocketdock.managed";
    pub const INSTANCE: &str = "pocketdock.instance";
    pub const PERSIST: &str = "pocketdock.persist";
    pub const CREATED_AT: &str = "pocketdock.created-at";
}

/// Grace period of a graceful stop. PID 1 is the engine's init, which forwards SIGTERM, so
/// sandboxes stop in milliseconds; this only bounds images whose processes ignore SIGTERM.
const STOP_GRACE_SECS: i32 = 2;

/// A sandbox container. Cheap to clone; when the last clone of a non-persistent container is
/// dropped, the container is removed.
#[derive(Debug, Clone)]
pub struct Container {
    inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    engine: Engine,
    id: String,
    name: String,
    persist: bool,
    default_timeout: Duration,
    callbacks: Callbacks,
    /// Shut down (or removed) through us: nothing left for `Drop` to do.
    shut_down: AtomicBool,
}

/// Creates and starts a sandbox.
pub async fn create_new_container(options: ContainerOptions) -> Result<Container> {
    let engine = Engine::connect(options.socket_path.as_deref()).await?;
    let name = options.name.clone().unwrap_or_else(default_name);
    validate_name(&name)?;
    let body = container_body(&options, &name);
    let id = engine.create_container(&name, &options.image, body).await?;
    if let Err(e) = engine.start_container(&id).await {
        // Never leave a created-but-unstarted container behind.
        let _ = engine.remove_container(&id, true).await;
        return Err(e);
    }
    Ok(Container {
        inner: Arc::new(Inner {
            engine,
            id,
            name,
            persist: options.persist,
            default_timeout: options.timeout,
            callbacks: Callbacks::default(),
            shut_down: AtomicBool::new(false),
        }),
    })
}

fn default_name() -> String {
    format!("pd-{:08x}", rand::random::<u32>())
}

fn validate_name(name: &str) -> Result<()> {
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if valid {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "container name {name:?} must start with a letter or digit and contain only \
             letters, digits, '_', '.' and '-'"
        )))
    }
}

fn container_body(options: &ContainerOptions, name: &str) -> ContainerCreateBody {
    let mut labels: HashMap<String, String> = options.labels.iter().cloned().collect();
    labels.insert(labels::MANAGED.into(), "true".into());
    labels.insert(labels::INSTANCE.into(), name.into());
    labels.insert(labels::PERSIST.into(), options.persist.to_string());
    labels.insert(
        labels::CREATED_AT.into(),
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    );
    ContainerCreateBody {
        image: Some(options.image.clone()),
        cmd: Some(vec!["sleep".into(), "infinity".into()]),
        labels: Some(labels),
        tty: Some(false),
        open_stdin: Some(false),
        host_config: Some(HostConfig {
            // The engine's init as PID 1 forwards SIGTERM to `sleep`, so a stop takes
            // milliseconds instead of the engine's 10 s grace (PID 1 ignores SIGTERM).
            init: Some(true),
            ..Default::default()
        }),
        ..Default::default()
    }
}

impl Container {
    pub(crate) fn from_inner(inner: Arc<Inner>) -> Self {
        Container { inner }
    }

    /// The engine's id of the container.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// Same as [`Container::id`], under the reference's name.
    pub fn container_id(&self) -> &str {
        &self.inner.id
    }

    /// The container's name, which is also its name on the engine.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The engine socket this container lives on.
    pub fn socket_path(&self) -> &Path {
        self.inner.engine.socket_path()
    }

    /// Whether `shutdown` keeps the container (stopped) instead of removing it.
    pub fn persist(&self) -> bool {
        self.inner.persist
    }

    /// Which engine runs the container.
    pub fn engine_kind(&self) -> EngineKind {
        self.inner.engine.kind()
    }

    /// Default timeout of blocking runs.
    pub fn default_timeout(&self) -> Duration {
        self.inner.default_timeout
    }

    /// Runs a shell command and waits for it, with the container's default timeout and output cap.
    pub async fn run(&self, command: impl Into<String> + Send) -> Result<ExecResult> {
        self.command(command).run().await
    }

    /// A command to configure (language, timeout, output cap) and then run, stream or spawn.
    pub fn command(&self, command: impl Into<String>) -> Command {
        Command {
            container: self.clone(),
            spec: CommandSpec::new(command),
        }
    }

    /// Calls `f(container, text)` with the stdout of every detached process of this container.
    pub fn on_stdout(&self, f: impl Fn(&Container, &str) + Send + Sync + 'static) {
        self.inner
            .callbacks
            .add_output(StreamKind::Stdout, Arc::new(f));
    }

    /// Calls `f(container, text)` with the stderr of every detached process of this container.
    pub fn on_stderr(&self, f: impl Fn(&Container, &str) + Send + Sync + 'static) {
        self.inner
            .callbacks
            .add_output(StreamKind::Stderr, Arc::new(f));
    }

    /// Calls `f(container, exit_code)` when a detached process of this container ends.
    pub fn on_exit(&self, f: impl Fn(&Container, i64) + Send + Sync + 'static) {
        self.inner.callbacks.add_exit(Arc::new(f));
    }

    pub(crate) fn callbacks(&self) -> &Callbacks {
        &self.inner.callbacks
    }

    /// Stops the container (SIGTERM, then SIGKILL after a short grace; `force` kills at once)
    /// and, unless it is persistent, removes it. A container already removed is not an error.
    pub async fn shutdown(&self, force: bool) -> Result<()> {
        let engine = &self.inner.engine;
        let id = &self.inner.id;
        let result = if self.inner.persist {
            engine
                .stop_container(id, if force { 0 } else { STOP_GRACE_SECS })
                .await
        } else if force {
            engine.remove_container(id, true).await
        } else {
            match engine.stop_container(id, STOP_GRACE_SECS).await {
                Ok(()) => engine.remove_container(id, true).await,
                Err(e) => Err(e),
            }
        };
        match result {
            Ok(()) | Err(Error::ContainerNotFound { .. }) => {
                self.inner.shut_down.store(true, Ordering::SeqCst);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    pub(crate) fn weak(&self) -> std::sync::Weak<Inner> {
        Arc::downgrade(&self.inner)
    }

    async fn start(&self, spec: &CommandSpec, timeout: Option<Duration>) -> Result<Execution> {
        Execution::start(self.engine(), self.id(), spec, timeout)
            .await
            .map_err(|e| exec::gone_if_missing(e, self.id()))
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if self.persist || self.shut_down.load(Ordering::SeqCst) {
            return;
        }
        // A fresh client on the shared runtime, on a thread of its own: this may run inside
        // or outside any runtime, and the caller's runtime may be shutting down.
        let socket: PathBuf = self.engine.socket_path().to_path_buf();
        let id = self.id.clone();
        let removal = std::thread::spawn(move || {
            crate::runtime::shared().block_on(async move {
                let engine = Engine::connect_to(&socket).await?;
                engine.remove_container(&id, true).await
            })
        });
        match removal.join() {
            Ok(Ok(())) | Ok(Err(Error::ContainerNotFound { .. })) => {}
            Ok(Err(e)) => {
                tracing::warn!(container = %self.id, "removing a dropped sandbox failed: {e}")
            }
            Err(_) => tracing::warn!(container = %self.id, "removing a dropped sandbox panicked"),
        }
    }
}

/// A command being configured; finish with [`run`](Command::run), [`stream`](Command::stream)
/// or [`spawn`](Command::spawn).
#[derive(Debug, Clone)]
pub struct Command {
    container: Container,
    spec: CommandSpec,
}

impl Command {
    /// How the command string is interpreted (default: shell).
    pub fn lang(mut self, lang: Lang) -> Self {
        self.spec.lang = lang;
        self
    }

    /// Kill the command (and all it started) after this long. Blocking runs default to the
    /// container's timeout; streams and detached processes have none unless given.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.spec.timeout = Some(timeout);
        self
    }

    /// Most bytes of output kept, stdout and stderr together (default 10 MiB).
    pub fn max_output(mut self, bytes: usize) -> Self {
        self.spec.max_output = bytes;
        self
    }

    /// Ring-buffer size of a detached process, half for each stream (default 1 MiB).
    pub fn buffer_capacity(mut self, bytes: usize) -> Self {
        self.spec.buffer_capacity = bytes;
        self
    }

    /// Runs to completion (or the timeout) and returns everything it printed.
    pub async fn run(self) -> Result<ExecResult> {
        let c = &self.container;
        let timeout = self.spec.timeout.unwrap_or(c.inner.default_timeout);
        exec::run::run(c.engine(), c.id(), &self.spec, timeout)
            .await
            .map_err(|e| exec::gone_if_missing(e, c.id()))
    }

    /// Starts the command and yields its output as it arrives.
    pub async fn stream(self) -> Result<ExecStream> {
        let exec = self.container.start(&self.spec, self.spec.timeout).await?;
        Ok(ExecStream::new(exec, self.spec.max_output))
    }

    /// Starts the command in the background.
    pub async fn spawn(self) -> Result<Process> {
        let exec = self.container.start(&self.spec, self.spec.timeout).await?;
        Ok(Process::start(
            exec,
            self.container.weak(),
            self.spec.buffer_capacity,
        ))
    }
}
