//! The blocking API: the async core driven on one shared runtime. No logic of its own.

use std::path::Path;
use std::time::Duration;

use futures::StreamExt;

use crate::engine::EngineKind;
use crate::error::Result;
use crate::info::ContainerInfo;
use crate::options::ContainerOptions;
use crate::persistence::ContainerListItem;
use crate::project::{DoctorReport, ProjectStatus};
use crate::runtime::block_on;
use crate::types::{BufferSnapshot, ExecResult, Lang, StreamChunk};
use crate::{aio, aio::Container as AsyncContainer};

/// Creates and starts a sandbox.
pub fn create_new_container(options: ContainerOptions) -> Result<Container> {
    block_on(aio::create_new_container(options)).map(Container::from)
}

/// A handle to an existing sandbox, started again if it was stopped (see
/// [`aio::resume_container`]).
pub fn resume_container(name: &str, socket: Option<&Path>) -> Result<Container> {
    block_on(aio::resume_container(name, socket)).map(Container::from)
}

/// A handle to an existing sandbox as it is, running or not (never removes it when dropped).
pub fn find_container(name: &str, socket: Option<&Path>) -> Result<Container> {
    block_on(aio::find_container(name, socket)).map(Container::from)
}

/// Managed containers, all states; only those of `project` if given.
pub fn list_containers(
    project: Option<&str>,
    socket: Option<&Path>,
) -> Result<Vec<ContainerListItem>> {
    block_on(aio::list_containers(project, socket))
}

/// Stops a sandbox without removing it.
pub fn stop_container(name: &str, socket: Option<&Path>) -> Result<()> {
    block_on(aio::stop_container(name, socket))
}

/// Removes a sandbox, running or not.
pub fn destroy_container(name: &str, socket: Option<&Path>) -> Result<()> {
    block_on(aio::destroy_container(name, socket))
}

/// Removes every stopped managed container (of `project`, if given); returns how many.
pub fn prune(project: Option<&str>, socket: Option<&Path>) -> Result<usize> {
    block_on(aio::prune(project, socket))
}

/// Removes the non-persistent sandboxes whose creating process is gone; returns how many.
pub fn prune_orphans(socket: Option<&Path>) -> Result<usize> {
    block_on(aio::prune_orphans(socket))
}

/// Builds a profile's image (see [`aio::build_profile`]); returns its tag.
pub fn build_profile(
    name: &str,
    socket: Option<&Path>,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<String> {
    block_on(aio::build_profile(name, socket, progress))
}

/// Builds `tag` from a directory holding a `Dockerfile`.
pub fn build_image_from_dir(
    dir: &Path,
    tag: &str,
    socket: Option<&Path>,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<()> {
    block_on(aio::build_image_from_dir(dir, tag, socket, progress))
}

/// Writes images into one `.tar` or `.tar.gz` archive; returns the bytes written.
pub fn export_images(images: &[&str], dest: &Path, socket: Option<&Path>) -> Result<u64> {
    block_on(aio::export_images(images, dest, socket))
}

/// Loads the images of a `.tar` or `.tar.gz` archive.
pub fn import_images(src: &Path, socket: Option<&Path>) -> Result<Vec<String>> {
    block_on(aio::import_images(src, socket))
}

/// Cross-checks the project's instance directories against the engine (see [`aio::doctor`]).
pub fn doctor(project_root: Option<&Path>, socket: Option<&Path>) -> Result<DoctorReport> {
    block_on(aio::doctor(project_root, socket))
}

/// The project, its configuration and its containers (see [`aio::project_status`]).
pub fn project_status(project_root: Option<&Path>, socket: Option<&Path>) -> Result<ProjectStatus> {
    block_on(aio::project_status(project_root, socket))
}

/// Sandboxes created and started ahead of need (see [`aio::Pool`]): [`claim`](Pool::claim)
/// hands out one no one has used and the pool replaces it in the background.
#[derive(Debug)]
pub struct Pool {
    inner: aio::Pool,
}

impl Pool {
    /// Starts filling a pool of `size` sandboxes created with `options` (no name).
    pub fn new(options: ContainerOptions, size: usize) -> Result<Pool> {
        aio::Pool::new(options, size).map(|inner| Pool { inner })
    }

    /// A started sandbox no one has used (see [`aio::Pool::claim`]).
    pub fn claim(&self) -> Result<Container> {
        block_on(self.inner.claim()).map(Container::from)
    }

    /// Waits until the pool holds its full size of ready sandboxes (see [`aio::Pool::filled`]).
    pub fn filled(&self) -> Result<()> {
        block_on(self.inner.filled())
    }

    /// How many sandboxes the pool keeps ready.
    pub fn size(&self) -> usize {
        self.inner.size()
    }

    /// How many are ready now.
    pub fn ready(&self) -> usize {
        self.inner.ready()
    }

    /// Removes the sandboxes the pool still holds and waits until they are gone.
    pub fn close(self) {
        block_on(self.inner.close())
    }

    /// The async pool behind this one.
    pub fn as_async(&self) -> &aio::Pool {
        &self.inner
    }
}

/// A sandbox container. Cheap to clone; when the last clone of a non-persistent container is
/// dropped, the container is removed.
#[derive(Debug, Clone)]
pub struct Container {
    inner: AsyncContainer,
}

impl From<AsyncContainer> for Container {
    fn from(inner: AsyncContainer) -> Self {
        Container { inner }
    }
}

impl Container {
    /// The async handle to the same container.
    pub fn as_async(&self) -> &AsyncContainer {
        &self.inner
    }

    /// The engine's id of the container.
    pub fn id(&self) -> String {
        self.inner.id()
    }

    /// Same as [`Container::id`], under the reference's name.
    pub fn container_id(&self) -> String {
        self.inner.id()
    }

    /// The container's name, which is also its name on the engine.
    pub fn name(&self) -> &str {
        self.inner.name()
    }

    /// The engine socket this container lives on.
    pub fn socket_path(&self) -> &Path {
        self.inner.socket_path()
    }

    /// Whether `shutdown` keeps the container (stopped) instead of removing it.
    pub fn persist(&self) -> bool {
        self.inner.persist()
    }

    /// Which engine runs the container.
    pub fn engine_kind(&self) -> EngineKind {
        self.inner.engine_kind()
    }

    /// The instance directory of a persistent container created in a project.
    pub fn data_path(&self) -> Option<&Path> {
        self.inner.data_path()
    }

    /// The project the container belongs to, if any.
    pub fn project(&self) -> Option<&str> {
        self.inner.project()
    }

    /// Default timeout of blocking runs.
    pub fn default_timeout(&self) -> Duration {
        self.inner.default_timeout()
    }

    /// Lets the container outlive this handle: dropping the last handle no longer removes it.
    pub fn release(&self) {
        self.inner.release()
    }

    /// State and resource usage of the container.
    pub fn info(&self) -> Result<ContainerInfo> {
        block_on(self.inner.info())
    }

    /// Restarts in place (`fresh = false`: filesystem kept) or recreated from the image with the
    /// same configuration (`fresh = true`).
    pub fn reboot(&self, fresh: bool) -> Result<()> {
        block_on(self.inner.reboot(fresh))
    }

    /// Opens a long-lived shell in the container.
    pub fn session(&self) -> Result<Session> {
        block_on(self.inner.session()).map(|inner| Session { inner })
    }

    /// Commits the filesystem as an image (`"repo:tag"`); returns the image id.
    pub fn snapshot(&self, image: &str) -> Result<String> {
        block_on(self.inner.snapshot(image))
    }

    /// Runs a shell command and waits for it, with the container's default timeout and output cap.
    pub fn run(&self, command: impl Into<String> + Send) -> Result<ExecResult> {
        block_on(self.inner.run(command))
    }

    /// A shell command line to configure (language, timeout, output cap, environment, …)
    /// and then run, stream or spawn.
    pub fn command(&self, command: impl Into<String>) -> Command {
        Command {
            inner: self.inner.command(command),
        }
    }

    /// The same builder for an argv, run exactly as given: no shell.
    pub fn command_argv(&self, argv: impl IntoIterator<Item = impl Into<String>>) -> Command {
        Command {
            inner: self.inner.command_argv(argv),
        }
    }

    /// How commands reach this sandbox: its agent or the engine's exec.
    pub fn transport(&self) -> crate::Transport {
        self.inner.transport()
    }

    /// Calls `f(container, text)` with the stdout of every detached process of this container.
    pub fn on_stdout(&self, f: impl Fn(&Container, &str) + Send + Sync + 'static) {
        self.inner
            .on_stdout(move |c, data| f(&Container::from(c.clone()), data));
    }

    /// Calls `f(container, text)` with the stderr of every detached process of this container.
    pub fn on_stderr(&self, f: impl Fn(&Container, &str) + Send + Sync + 'static) {
        self.inner
            .on_stderr(move |c, data| f(&Container::from(c.clone()), data));
    }

    /// Calls `f(container, exit_code)` when a detached process of this container ends.
    pub fn on_exit(&self, f: impl Fn(&Container, i64) + Send + Sync + 'static) {
        self.inner
            .on_exit(move |c, code| f(&Container::from(c.clone()), code));
    }

    /// Stops the container and, unless it is persistent, removes it.
    pub fn shutdown(&self, force: bool) -> Result<()> {
        block_on(self.inner.shutdown(force))
    }
}

/// A command being configured; finish with [`run`](Command::run), [`stream`](Command::stream)
/// or [`spawn`](Command::spawn).
#[derive(Debug, Clone)]
pub struct Command {
    inner: aio::Command,
}

impl Command {
    /// How the command string is interpreted (default: shell).
    pub fn lang(self, lang: Lang) -> Self {
        Command {
            inner: self.inner.lang(lang),
        }
    }

    /// Kill the command (and all it started) after this long.
    pub fn timeout(self, timeout: Duration) -> Self {
        Command {
            inner: self.inner.timeout(timeout),
        }
    }

    /// Most bytes of output kept, stdout and stderr together (default 10 MiB).
    pub fn max_output(self, bytes: usize) -> Self {
        Command {
            inner: self.inner.max_output(bytes),
        }
    }

    /// Ring-buffer size of a detached process, half for each stream (default 1 MiB).
    pub fn buffer_capacity(self, bytes: usize) -> Self {
        Command {
            inner: self.inner.buffer_capacity(bytes),
        }
    }

    /// Sets an environment variable for the command.
    pub fn env(self, key: impl Into<String>, value: impl Into<String>) -> Self {
        Command {
            inner: self.inner.env(key, value),
        }
    }

    /// The directory the command starts in.
    pub fn cwd(self, dir: impl Into<String>) -> Self {
        Command {
            inner: self.inner.cwd(dir),
        }
    }

    /// The user the command runs as (name or uid, optionally `:group`).
    pub fn user(self, user: impl Into<String>) -> Self {
        Command {
            inner: self.inner.user(user),
        }
    }

    /// Feeds these bytes to the command's stdin, then closes it.
    pub fn stdin(self, input: impl Into<Vec<u8>>) -> Self {
        Command {
            inner: self.inner.stdin(input),
        }
    }

    /// Keeps stdin open for writes through [`ExecStream::stdin`].
    pub fn open_stdin(self) -> Self {
        Command {
            inner: self.inner.open_stdin(),
        }
    }

    /// Runs to completion (or the timeout) and returns everything it printed.
    pub fn run(self) -> Result<ExecResult> {
        block_on(self.inner.run())
    }

    /// Starts the command; iterate for its output as it arrives.
    pub fn stream(self) -> Result<ExecStream> {
        block_on(self.inner.stream()).map(|inner| ExecStream { inner })
    }

    /// Starts the command in the background.
    pub fn spawn(self) -> Result<Process> {
        block_on(self.inner.spawn()).map(|inner| Process { inner })
    }
}

/// The output of a streaming command: an iterator of chunks, then [`ExecStream::result`].
/// Dropping it before the end kills the command.
#[derive(Debug)]
pub struct ExecStream {
    inner: aio::ExecStream,
}

impl ExecStream {
    /// The final result, once iteration has ended.
    pub fn result(&self) -> Option<&ExecResult> {
        self.inner.result()
    }

    /// The command's stdin (opened with [`Command::open_stdin`]), usable from another thread.
    pub fn stdin(&self) -> Stdin {
        Stdin {
            inner: self.inner.stdin(),
        }
    }
}

/// The stdin of a streaming command.
#[derive(Debug, Clone)]
pub struct Stdin {
    inner: aio::Stdin,
}

impl Stdin {
    /// Writes to the command's stdin.
    pub fn write(&self, data: impl Into<Vec<u8>>) -> Result<()> {
        let data: Vec<u8> = data.into();
        block_on(self.inner.write(data))
    }

    /// Closes the command's stdin.
    pub fn close(&self) -> Result<()> {
        block_on(self.inner.close())
    }
}

impl Iterator for ExecStream {
    type Item = Result<StreamChunk>;

    fn next(&mut self) -> Option<Self::Item> {
        block_on(self.inner.next())
    }
}

/// A command running in the background.
#[derive(Debug, Clone)]
pub struct Process {
    inner: aio::Process,
}

impl Process {
    /// The transport's id of the command.
    pub fn id(&self) -> &str {
        self.inner.id()
    }

    /// Writes to the command's stdin (open until [`Process::close_stdin`] or its end).
    pub fn write_stdin(&self, data: impl Into<Vec<u8>>) -> Result<()> {
        let data: Vec<u8> = data.into();
        block_on(self.inner.write_stdin(data))
    }

    /// Closes the command's stdin: it reads end-of-file.
    pub fn close_stdin(&self) -> Result<()> {
        block_on(self.inner.close_stdin())
    }

    /// Whether the command is still running.
    pub fn is_running(&self) -> Result<bool> {
        block_on(self.inner.is_running())
    }

    /// Buffered output, which is then cleared.
    pub fn read(&self) -> BufferSnapshot {
        self.inner.read()
    }

    /// Buffered output, left in place.
    pub fn peek(&self) -> BufferSnapshot {
        self.inner.peek()
    }

    /// Bytes currently buffered, both streams together.
    pub fn buffer_size(&self) -> usize {
        self.inner.buffer_size()
    }

    /// Whether output was ever evicted from the buffer unread.
    pub fn buffer_overflow(&self) -> bool {
        self.inner.buffer_overflow()
    }

    /// Waits for the end (see [`aio::Process::wait`]).
    pub fn wait(&self, timeout: Option<Duration>) -> Result<ExecResult> {
        block_on(self.inner.wait(timeout))
    }

    /// Sends `signal` to the command and every process it started.
    pub fn kill(&self, signal: i32) -> Result<usize> {
        block_on(self.inner.kill(signal))
    }
}

/// A long-lived shell in a sandbox (see [`aio::Session`]).
#[derive(Debug, Clone)]
pub struct Session {
    inner: aio::Session,
}

impl Session {
    /// The session's id.
    pub fn id(&self) -> &str {
        self.inner.id()
    }

    /// Writes a line to the shell and returns at once.
    pub fn send(&self, command: &str) -> Result<()> {
        block_on(self.inner.send(command))
    }

    /// Runs `command` in the shell and waits for its result (see [`aio::Session::send_and_wait`]).
    pub fn send_and_wait(&self, command: &str, timeout: Option<Duration>) -> Result<ExecResult> {
        block_on(self.inner.send_and_wait(command, timeout))
    }

    /// All output not read yet; it is then cleared.
    pub fn read(&self) -> String {
        self.inner.read()
    }

    /// Calls `f(text)` with every piece of output as it arrives.
    pub fn on_output(&self, f: impl Fn(&str) + Send + Sync + 'static) {
        self.inner.on_output(f)
    }

    /// Whether the session has been closed (or its shell has exited).
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Ends the shell and everything it started; the container stays.
    pub fn close(&self) {
        block_on(self.inner.close())
    }
}
