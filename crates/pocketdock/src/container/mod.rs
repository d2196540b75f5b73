//! The sandbox handle (async core): creation, properties, callbacks, removal on drop. Running
//! commands is `exec`'s, lifecycle operations are in `lifecycle`, files in `files`.

pub(crate) mod agent;
pub(crate) mod create;
pub(crate) mod hardening;
pub(crate) mod holder;
mod lifecycle;
mod process_events;

pub(crate) use lifecycle::STOP_GRACE_SECS;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::callbacks::Callbacks;
use crate::engine::{ContainerDetails, Engine, EngineKind};
use crate::error::{Error, Result};
use crate::exec::process::Process;
use crate::exec::stream::ExecStream;
use crate::exec::{self, CommandSpec, Execution};
use crate::options::ContainerOptions;
use crate::session::SessionRegistry;
use crate::transport::engine_exec::EngineExec;
use crate::transport::{ExecHandle, ExecSpec, Transport};
use crate::types::{ExecResult, Lang, StreamKind};

/// Label keys pocketdock puts on its containers. Everything needed to resume a sandbox lives in
/// these labels and the engine's own inspect data: no state is kept only in memory.
pub mod labels {
    pub const MANAGED: &str = "pocketdock.managed";
    pub const INSTANCE: &str = "pocketdock.instance";
    pub const PERSIST: &str = "pocketdock.persist";
    pub const CREATED_AT: &str = "pocketdock.created-at";
    pub const PROJECT: &str = "pocketdock.project";
    pub const DATA_PATH: &str = "pocketdock.data-path";
    pub const PROFILE: &str = "pocketdock.profile";
    /// Default timeout of blocking runs, in seconds.
    pub const TIMEOUT: &str = "pocketdock.timeout";
    /// The agent's key (hex) and the host directory of its socket; absent without the agent.
    pub const AGENT_KEY: &str = "pocketdock.agent-key";
    pub const AGENT_DIR: &str = "pocketdock.agent-dir";
    /// The user commands run as (the image's user; the agent itself runs as root).
    pub const USER: &str = "pocketdock.user";
    /// The process a non-persistent sandbox belongs to (`host:boot-id:pid:start-time`): once
    /// it is gone, the sandbox is an orphan.
    pub const HOLDER: &str = "pocketdock.holder";
}

/// A sandbox container. Cheap to clone; when the last clone of a non-persistent container is
/// dropped, the container is removed.
#[derive(Debug, Clone)]
pub struct Container {
    inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    engine: Engine,
    /// Changes when `reboot(fresh)` recreates the container.
    id: RwLock<String>,
    name: String,
    persist: bool,
    project: Option<String>,
    /// The instance directory of a persistent container in a project, and its logger.
    instance: Option<crate::project::Instance>,
    default_timeout: Duration,
    callbacks: Callbacks,
    sessions: SessionRegistry,
    /// Shut down (or removed) through us: nothing left for `Drop` to do.
    shut_down: AtomicBool,
    /// This handle's own `shutdown` removed the container: later calls are "not found" (as
    /// with the reference), not "removed behind our back".
    removed: AtomicBool,
    /// The sandbox's agent, if it has one.
    agent: Option<agent::AgentLink>,
    /// Who commands run as when they name nobody (engine execs must say so: the container's
    /// own user is the agent's, root).
    command_user: Option<String>,
    /// What engine execs need to name the OOM killer (the agent watches it itself).
    oom: Arc<crate::transport::oom::OomWatch>,
}

/// Checks `options` as [`create_new_container`] would, without asking the engine anything.
pub(crate) fn check_options(options: &ContainerOptions) -> Result<()> {
    create::plan(options).map(drop)
}

/// Creates and starts a sandbox.
pub async fn create_new_container(options: ContainerOptions) -> Result<Container> {
    // Everything the caller can get wrong is checked before the engine is asked anything.
    let mut plan = create::plan(&options)?;
    // The project (given, or around the current directory): labels, socket, instance directory.
    let project = crate::project::prepare(&options, &mut plan)?;
    let engine = match &project {
        Some(p) => p.connect(options.socket_path.as_deref()).await?,
        None => Engine::connect(options.socket_path.as_deref(), crate::project::discovery).await?,
    };
    if options.agent {
        agent::add_to_plan(&engine, &mut plan).await?;
        crate::persistence::sweep_now_and_then(&engine);
    }
    let id = match create_and_start(&engine, &plan).await {
        Ok(id) => id,
        Err(e) => {
            if let Some(install) = &plan.agent {
                agent::remove_host_dir(&install.host_dir);
            }
            return Err(e);
        }
    };
    let labels = plan.spec.labels.clone();
    let project_name = project.as_ref().map(|p| p.project_name().to_string());
    let instance = project.and_then(|p| p.finish(&id));
    let settings = Settings {
        name: plan.name,
        persist: options.persist,
        project: project_name.or(options.project),
        default_timeout: options.timeout,
        fresh: true,
    };
    Ok(Container::new(engine, id, settings, instance, &labels))
}

/// Creates and starts; a container that fails to start is removed again. The engine's requests
/// run as a task of their own that is never abandoned: if the caller's future is dropped
/// mid-way, the task still finishes, and the container it made is removed then — however
/// late a loaded engine answers.
pub(crate) async fn create_and_start(engine: &Engine, plan: &create::CreatePlan) -> Result<String> {
    let socket = engine.socket_path().to_path_buf();
    let plan = plan.clone();
    let task = crate::runtime::shared().spawn(async move {
        // A client of the shared runtime: the caller's runtime may end before the task does.
        let engine = Engine::connect_to(&socket).await?;
        let id = engine
            .create_container(&plan.name, plan.spec.clone())
            .await?;
        let read_only = plan.spec.host.read_only;
        let installed = match &plan.agent {
            // A read-only root takes no upload: its agent is mounted from the host directory.
            Some(install) if !read_only => agent::upload(&engine, &id, install).await,
            _ => Ok(()),
        };
        if let Err(e) = installed {
            let _ = engine.remove_container(&id, true).await;
            return Err(e);
        }
        if let Err(e) = engine.start_container(&id).await {
            let _ = engine.remove_container(&id, true).await;
            return Err(e);
        }
        Ok(id)
    });
    let mut creation = Creation {
        task: Some(task),
        socket: engine.socket_path().to_path_buf(),
    };
    let result = creation.task.as_mut().expect("set above").await;
    creation.task = None;
    result.map_err(|e| Error::communication(format!("creating the container failed: {e}")))?
}

/// A creation in flight; dropped unfinished, it hands the task to a cleanup.
struct Creation {
    task: Option<tokio::task::JoinHandle<Result<String>>>,
    socket: PathBuf,
}

impl Drop for Creation {
    fn drop(&mut self) {
        let Some(task) = self.task.take() else { return };
        let socket = std::mem::take(&mut self.socket);
        crate::cleanup::spawn(async move {
            if let Ok(Ok(id)) = task.await {
                if let Ok(engine) = Engine::connect_to(&socket).await {
                    let _ = engine.remove_container(&id, true).await;
                }
            }
        });
    }
}

/// What a handle knows of its sandbox besides the engine's id.
struct Settings {
    name: String,
    persist: bool,
    project: Option<String>,
    default_timeout: Duration,
    /// Created by this handle (so nothing in it was OOM-killed yet).
    fresh: bool,
}

impl Container {
    fn new(
        engine: Engine,
        id: String,
        settings: Settings,
        instance: Option<crate::project::Instance>,
        labels: &HashMap<String, String>,
    ) -> Self {
        Container {
            inner: Arc::new(Inner {
                engine,
                id: RwLock::new(id),
                name: settings.name,
                persist: settings.persist,
                project: settings.project,
                instance,
                default_timeout: settings.default_timeout,
                callbacks: Callbacks::default(),
                sessions: SessionRegistry::default(),
                shut_down: AtomicBool::new(false),
                removed: AtomicBool::new(false),
                agent: agent::install_from_labels(labels).map(agent::AgentLink::new),
                command_user: labels.get(labels::USER).cloned(),
                oom: Arc::new(if settings.fresh {
                    crate::transport::oom::OomWatch::fresh()
                } else {
                    crate::transport::oom::OomWatch::unknown()
                }),
            }),
        }
    }

    /// A handle to an existing managed container, configured from its labels. It does not own
    /// the container: dropping it never removes it (only the creating handle does).
    pub(crate) fn from_inspect(engine: Engine, info: &ContainerDetails) -> Result<Self> {
        let id = info.id.clone();
        let labels = &info.spec.labels;
        if labels.get(labels::MANAGED).map(String::as_str) != Some("true") {
            return Err(Error::ContainerNotFound {
                container_id: id,
                detail: "it is not a pocketdock container".into(),
            });
        }
        let name = info
            .name
            .clone()
            .or_else(|| labels.get(labels::INSTANCE).cloned())
            .unwrap_or_else(|| id.clone());
        let settings = Settings {
            name,
            persist: labels.get(labels::PERSIST).map(String::as_str) == Some("true"),
            project: labels.get(labels::PROJECT).cloned(),
            default_timeout: create::timeout_from_labels(labels).unwrap_or(crate::DEFAULT_TIMEOUT),
            fresh: false,
        };
        let container = Container::new(
            engine,
            id,
            settings,
            labels
                .get(labels::DATA_PATH)
                .filter(|p| !p.is_empty())
                .map(|p| crate::project::Instance::new(PathBuf::from(p))),
            labels,
        );
        container.release();
        Ok(container)
    }

    pub(crate) fn from_inner(inner: Arc<Inner>) -> Self {
        Container { inner }
    }

    /// The engine's id of the container (a new one after `reboot(true)`).
    pub fn id(&self) -> String {
        self.inner
            .id
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Same as [`Container::id`], under the reference's name.
    pub fn container_id(&self) -> String {
        self.id()
    }

    pub(crate) fn set_id(&self, id: String) {
        *self.inner.id.write().unwrap_or_else(|e| e.into_inner()) = id;
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

    /// The project the container belongs to, if any.
    pub fn project(&self) -> Option<&str> {
        self.inner.project.as_deref()
    }

    /// The instance directory (`.pocketdock/instances/<name>/`) of a persistent container
    /// created in a project: `instance.toml`, `history.jsonl`, `logs/`.
    pub fn data_path(&self) -> Option<&Path> {
        self.inner.instance.as_ref().map(|i| i.data_path())
    }

    pub(crate) fn instance(&self) -> Option<&crate::project::Instance> {
        self.inner.instance.as_ref()
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

    /// A shell command line to configure (language, timeout, output cap, environment, …)
    /// and then run, stream or spawn.
    pub fn command(&self, command: impl Into<String>) -> Command {
        Command {
            container: self.clone(),
            spec: CommandSpec::new(command),
        }
    }

    /// The same builder for an argv, run exactly as given: no shell.
    pub fn command_argv(&self, argv: impl IntoIterator<Item = impl Into<String>>) -> Command {
        Command {
            container: self.clone(),
            spec: CommandSpec::argv_of(argv.into_iter().map(Into::into).collect()),
        }
    }

    /// How commands reach this sandbox: its agent over its socket, its agent through the
    /// engine-exec bridge (the socket cannot be reached from here), or the engine's exec (a
    /// sandbox made without the agent, an agent that cannot be reached at all,
    /// `POCKETDOCK_TRANSPORT=exec`). Settled by the first command.
    pub fn transport(&self) -> Transport {
        match &self.inner.agent {
            Some(link) => link.transport(),
            None => Transport::EngineExec,
        }
    }

    pub(crate) fn agent_link(&self) -> Option<&agent::AgentLink> {
        self.inner.agent.as_ref()
    }

    /// The container is gone: so goes the directory of its agent's socket.
    pub(crate) fn forget_agent_dir(&self) {
        if let Some(link) = self.agent_link() {
            agent::remove_host_dir(link.host_dir());
        }
    }

    /// Who commands run as unless they say: the image's user.
    pub(crate) fn command_user(&self) -> Option<&str> {
        self.inner.command_user.as_deref()
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

    pub(crate) fn sessions(&self) -> &SessionRegistry {
        &self.inner.sessions
    }

    pub(crate) fn oom_watch(&self) -> &crate::transport::oom::OomWatch {
        &self.inner.oom
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// Lets the container outlive this handle: dropping the last handle no longer removes it
    /// (manage it by name with `resume_container`, `stop_container`, `destroy_container`).
    pub fn release(&self) {
        self.inner.shut_down.store(true, Ordering::SeqCst);
    }

    pub(crate) fn mark_shut_down(&self) {
        self.inner.shut_down.store(true, Ordering::SeqCst);
        if !self.persist() {
            self.inner.removed.store(true, Ordering::SeqCst);
        }
    }

    /// `ContainerNotFound` once this handle's own shutdown removed the container.
    pub(crate) fn ensure_not_removed(&self) -> Result<()> {
        if self.inner.removed.load(Ordering::SeqCst) {
            return Err(Error::ContainerNotFound {
                container_id: self.id(),
                detail: "it was shut down and removed".into(),
            });
        }
        Ok(())
    }

    pub(crate) fn weak(&self) -> std::sync::Weak<Inner> {
        Arc::downgrade(&self.inner)
    }

    /// Maps "not found" to `ContainerGone`: this handle knew the container existed.
    pub(crate) fn gone_if_missing(&self, e: Error) -> Error {
        exec::gone_if_missing(e, &self.id())
    }

    /// Starts a command over the sandbox's transport; stdin given in the spec is fed, then
    /// closed.
    pub(crate) async fn start(
        &self,
        spec: &CommandSpec,
        timeout: Option<Duration>,
        keep_stdin: bool,
    ) -> Result<Execution> {
        self.ensure_not_removed()?;
        let id = self.id();
        let started = tokio::time::Instant::now();
        let exec = self.exec_spec(spec, timeout, keep_stdin);
        let handle = self
            .open(&id, exec)
            .await
            .map_err(|e| exec::gone_if_missing(e, &id))?;
        let execution = Execution::new(handle, Some(self.engine().clone()), id, timeout, started);
        if let Some(input) = &spec.stdin {
            let control = execution.control();
            control.write_stdin(input.clone()).await?;
            control.close_stdin().await?;
        }
        Ok(execution)
    }

    fn exec_spec(
        &self,
        spec: &CommandSpec,
        timeout: Option<Duration>,
        keep_stdin: bool,
    ) -> ExecSpec {
        let mut exec = spec.exec_spec(timeout, keep_stdin);
        if exec.user.is_none() {
            exec.user = self.command_user().map(str::to_string);
        }
        exec
    }

    /// A command with no deadline and no kill on drop, for callers that own its whole life
    /// (sessions, terminals): over the agent where there is one, else the engine's exec.
    pub(crate) async fn open_handle(&self, mut spec: ExecSpec) -> Result<Box<dyn ExecHandle>> {
        self.ensure_not_removed()?;
        if spec.user.is_none() {
            spec.user = self.command_user().map(str::to_string);
        }
        let id = self.id();
        self.open(&id, spec)
            .await
            .map_err(|e| exec::gone_if_missing(e, &id))
    }

    async fn open(&self, id: &str, spec: ExecSpec) -> Result<Box<dyn ExecHandle>> {
        if let Some(link) = self.agent_link() {
            if let Some(conn) = link.connection(self.engine(), id).await? {
                return Ok(Box::new(conn.spawn(&spec).await?));
            }
        }
        let with_agent = self.agent_link().is_some();
        let exec = EngineExec::start(
            self.engine(),
            id,
            &engine_exec_argv(spec),
            with_agent,
            Arc::clone(&self.inner.oom),
        )
        .await?;
        Ok(Box::new(exec))
    }
}

/// The engines disagree on a program that cannot be started (Docker: 126 and the runtime's
/// message on stdout; Podman: 127): an argv goes through `sh`'s `exec`, so that both answer
/// as the agent does, 127 and a message on stderr. An exec's terminal can only be sized once
/// it runs, after the program may have looked: on a pty the shell sizes it first.
fn engine_exec_argv(mut spec: ExecSpec) -> ExecSpec {
    let is_shell_line = spec.argv.len() >= 2 && spec.argv[0] == "sh" && spec.argv[1] == "-c";
    let prelude = match spec.pty {
        Some((cols, rows)) => format!("stty cols {cols} rows {rows} 2>/dev/null; "),
        None if is_shell_line => return spec,
        None => String::new(),
    };
    let mut argv = vec![
        "sh".into(),
        "-c".into(),
        format!("{prelude}exec \"$@\""),
        "sh".into(),
    ];
    argv.append(&mut spec.argv);
    spec.argv = argv;
    spec
}

impl Drop for Inner {
    fn drop(&mut self) {
        if self.persist || self.shut_down.load(Ordering::SeqCst) {
            return;
        }
        let socket: PathBuf = self.engine.socket_path().to_path_buf();
        let id = self.id.read().unwrap_or_else(|e| e.into_inner()).clone();
        let agent_dir = self.agent.as_ref().map(|a| a.host_dir().to_path_buf());
        let name = self.name.clone();
        // A fresh client: the caller's runtime may be shutting down.
        let removal = async move {
            let removed = async {
                let engine = Engine::connect_to(&socket).await?;
                engine.remove_container(&id, true).await
            };
            match removed.await {
                Ok(()) | Err(Error::ContainerNotFound { .. }) => {
                    if let Some(dir) = agent_dir {
                        agent::remove_host_dir(&dir);
                    }
                }
                Err(e) => {
                    tracing::warn!(container = %name, "removing a dropped sandbox failed: {e}")
                }
            }
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            // Inside a runtime (a task dropping the last handle): blocking here could starve
            // the very workers the removal needs. It runs in the background, counted, so a
            // program can wait for it (`wait_for_cleanup`).
            crate::cleanup::spawn(removal);
        } else {
            // Plain code: the sandbox is gone when the drop returns.
            crate::runtime::shared().block_on(removal);
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

    /// Sets an environment variable for the command (over the container's own).
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let key = key.into();
        self.spec.env.retain(|(k, _)| *k != key);
        self.spec.env.push((key, value.into()));
        self
    }

    /// The directory the command starts in (default: the image's working directory).
    pub fn cwd(mut self, dir: impl Into<String>) -> Self {
        self.spec.cwd = Some(dir.into());
        self
    }

    /// The user the command runs as: a name or uid, optionally `:group` (default: the
    /// image's user).
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.spec.user = Some(user.into());
        self
    }

    /// Feeds these bytes to the command's stdin, then closes it (default: empty stdin; a
    /// detached process keeps its stdin open for [`Process::write_stdin`] instead).
    pub fn stdin(mut self, input: impl Into<Vec<u8>>) -> Self {
        self.spec.stdin = Some(input.into());
        self
    }

    /// Keeps the command's stdin open for writes through [`ExecStream::stdin`] (a detached
    /// process has it open anyway).
    pub fn open_stdin(mut self) -> Self {
        self.spec.open_stdin = true;
        self
    }

    fn validate(&self) -> Result<()> {
        if let exec::Program::Argv(argv) = &self.spec.program {
            if argv.is_empty() {
                return Err(Error::invalid("an argv needs at least the program to run"));
            }
        }
        for (k, _) in &self.spec.env {
            if k.is_empty() || k.contains('=') || k.contains('\0') {
                return Err(Error::invalid(format!(
                    "{k:?} is not an environment variable name"
                )));
            }
        }
        Ok(())
    }

    /// Runs to completion (or the timeout) and returns everything it printed.
    pub async fn run(self) -> Result<ExecResult> {
        self.validate()?;
        let c = &self.container;
        let id = c.id();
        let timeout = self.spec.timeout.unwrap_or(c.inner.default_timeout);
        let started = chrono::Utc::now();
        let exec = c.start(&self.spec, Some(timeout), false).await?;
        let result = exec::run::collect(exec, self.spec.max_output)
            .await
            .map_err(|e| exec::gone_if_missing(e, &id))?;
        if let Some(log) = c.instance().and_then(|i| i.log()) {
            log.log_run(&self.spec.text(), &result, started);
        }
        Ok(result)
    }

    /// Starts the command and yields its output as it arrives.
    pub async fn stream(self) -> Result<ExecStream> {
        self.validate()?;
        let exec = self
            .container
            .start(&self.spec, self.spec.timeout, false)
            .await?;
        // A streamed run is a run: it goes into the history too, once it has ended.
        let log_when_done = self
            .container
            .instance()
            .and_then(|i| i.log())
            .is_some()
            .then(|| {
                let (container, command, started) =
                    (self.container.weak(), self.spec.text(), chrono::Utc::now());
                Box::new(move |result: &ExecResult| {
                    let container = container.upgrade().map(Container::from_inner);
                    if let Some(log) = container
                        .as_ref()
                        .and_then(|c| c.instance())
                        .and_then(|i| i.log())
                    {
                        log.log_run(&command, result, started);
                    }
                }) as crate::exec::stream::FinishHook
            });
        Ok(ExecStream::new(exec, self.spec.max_output, log_when_done))
    }

    /// Starts the command in the background.
    pub async fn spawn(self) -> Result<Process> {
        self.validate()?;
        let exec = self
            .container
            .start(&self.spec, self.spec.timeout, true)
            .await?;
        let instance_log = self.container.instance().and_then(|i| i.log());
        let sink = process_events::ProcessEvents {
            container: self.container.weak(),
            log: instance_log.and_then(|l| l.detached(&self.spec.text())),
        };
        Ok(Process::start(
            exec,
            self.spec.buffer_capacity,
            Box::new(sink),
        ))
    }
}
