//! The sandbox handle: `pocketdock::aio::Container` behind `Container` and `AsyncContainer`.

use std::path::PathBuf;
use std::time::Duration;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};

use pocketdock::{aio, ContainerOptions, EngineKind, Lang};

use crate::convert;
use crate::errors::to_pyerr;
use crate::exec::{NativeProcess, NativeStream};
use crate::runtime::{dispatch, none};
use crate::session::NativeSession;

/// Seconds (a Python number) → a `Duration`; negative, NaN or infinite ones are a ValueError.
pub(crate) fn seconds(what: &str, secs: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(secs).map_err(|_| {
        PyValueError::new_err(format!(
            "{what} must be a finite number of seconds >= 0, not {secs}"
        ))
    })
}

/// The options of `run()` beyond the reference's, as a dict built by `_options.command_extra`.
#[derive(Debug, Default, FromPyObject)]
#[pyo3(from_item_all)]
pub(crate) struct CommandExtra {
    /// The command as an argv (a list), run exactly; else the command string is a shell line.
    argv: Option<Vec<String>>,
    env: Option<Vec<(String, String)>>,
    cwd: Option<String>,
    user: Option<String>,
    stdin: Option<Vec<u8>>,
}

/// The options of a sandbox, as the dict `_options.create_kwargs` builds (every key present).
#[derive(Debug, FromPyObject)]
#[pyo3(from_item_all)]
pub(crate) struct SandboxOptions {
    image: Option<String>,
    name: Option<String>,
    timeout: Option<f64>,
    mem_limit: Option<String>,
    cpu_percent: Option<u32>,
    persist: bool,
    volumes: Vec<(PathBuf, String)>,
    project: Option<String>,
    profile: Option<String>,
    devices: Vec<String>,
    ports: Vec<(u16, u16)>,
    socket_path: Option<PathBuf>,
    network: Option<bool>,
    labels: Vec<(String, String)>,
    read_only: bool,
    pids_limit: Option<i64>,
    cap_add: Vec<String>,
    no_new_privileges: bool,
}

impl SandboxOptions {
    pub(crate) fn into_options(self) -> PyResult<ContainerOptions> {
        let mut o = ContainerOptions::default()
            .persist(self.persist)
            .read_only(self.read_only)
            .no_new_privileges(self.no_new_privileges);
        if let Some(n) = self.pids_limit {
            o = o.pids_limit(n);
        }
        for cap in self.cap_add {
            o = o.cap_add(cap);
        }
        if let Some(image) = self.image {
            o = o.image(image);
        }
        if let Some(name) = self.name {
            o = o.name(name);
        }
        if let Some(timeout) = self.timeout {
            o = o.timeout(seconds("timeout", timeout)?);
        }
        if let Some(limit) = self.mem_limit {
            o = o.mem_limit(limit);
        }
        if let Some(percent) = self.cpu_percent {
            o = o.cpu_percent(percent);
        }
        for (host, container) in self.volumes {
            o = o.volume(host, container);
        }
        if let Some(project) = self.project {
            o = o.project(project);
        }
        if let Some(profile) = self.profile {
            o = o.profile(profile);
        }
        for device in self.devices {
            o = o.device(device);
        }
        for (host, container) in self.ports {
            o = o.port(host, container);
        }
        if let Some(socket) = self.socket_path {
            o = o.socket_path(socket);
        }
        if let Some(network) = self.network {
            o = o.network(network);
        }
        for (key, value) in self.labels {
            o = o.label(key, value);
        }
        Ok(o)
    }
}

/// Creates and starts a sandbox (see `pocketdock.create_new_container`).
#[pyfunction]
pub(crate) fn create_container(
    py: Python<'_>,
    aio: bool,
    options: SandboxOptions,
) -> PyResult<Py<PyAny>> {
    let o = options.into_options()?;
    dispatch(py, aio, aio::create_new_container(o), |py, c| {
        NativeContainer::wrap(py, c)
    })
}

/// A sandbox. Every clone of the core handle inside is the same container; when the last one is
/// dropped (this object collected, and no command of it still running), a non-persistent
/// container is removed.
#[pyclass(frozen, module = "pocketdock._native")]
pub(crate) struct NativeContainer {
    /// Always `Some` until the object is deallocated (see `Drop`).
    handle: Option<aio::Container>,
}

impl Drop for NativeContainer {
    /// Collected with the GIL held: dropping the last core handle removes the container, which
    /// waits on the engine, so that happens on a thread of its own instead of stalling Python.
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            // Should no thread be had, `spawn` drops the closure, and the handle with it, here.
            let _ = std::thread::Builder::new()
                .name("pocketdock-drop".into())
                .spawn(move || drop(handle));
        }
    }
}

impl NativeContainer {
    pub(crate) fn wrap(py: Python<'_>, inner: aio::Container) -> PyResult<Py<PyAny>> {
        let handle = Some(inner);
        Ok(Py::new(py, NativeContainer { handle })?.into_any())
    }

    /// The core handle.
    fn inner(&self) -> &aio::Container {
        self.handle
            .as_ref()
            .expect("a NativeContainer keeps its handle until it is deallocated")
    }

    fn command(
        &self,
        py: Python<'_>,
        command: String,
        lang: Option<&str>,
        timeout: Option<f64>,
        max_output: Option<usize>,
        extra: Option<CommandExtra>,
    ) -> PyResult<aio::Command> {
        let extra = extra.unwrap_or_default();
        let mut cmd = match extra.argv {
            Some(argv) => self.inner().command_argv(argv),
            None => self.inner().command(command),
        };
        for (key, value) in extra.env.into_iter().flatten() {
            cmd = cmd.env(key, value);
        }
        if let Some(cwd) = extra.cwd {
            cmd = cmd.cwd(cwd);
        }
        if let Some(user) = extra.user {
            cmd = cmd.user(user);
        }
        if let Some(stdin) = extra.stdin {
            cmd = cmd.stdin(stdin);
        }
        if let Some(lang) = lang {
            let lang: Lang = lang.parse().map_err(|e| to_pyerr(py, e))?;
            cmd = cmd.lang(lang);
        }
        if let Some(timeout) = timeout {
            cmd = cmd.timeout(seconds("timeout", timeout)?);
        }
        if let Some(max_output) = max_output {
            cmd = cmd.max_output(max_output);
        }
        Ok(cmd)
    }
}

/// Calls `f(owner(), arg)`; an exception is reported through `sys.unraisablehook` and the
/// reading task goes on. `owner` is a weak reference to the Python wrapper.
pub(crate) fn call_back<A>(f: &Py<PyAny>, owner: &Py<PyAny>, arg: A)
where
    A: for<'py> IntoPyObject<'py>,
{
    Python::try_attach(|py| {
        let f = f.bind(py);
        let who = owner
            .bind(py)
            .call0()
            .unwrap_or_else(|_| py.None().into_bound(py));
        if let Err(e) = f.call1((who, arg)) {
            e.write_unraisable(py, Some(f));
        }
    });
}

#[pymethods]
impl NativeContainer {
    #[getter]
    fn id(&self) -> String {
        self.inner().id()
    }

    #[getter]
    fn name(&self) -> &str {
        self.inner().name()
    }

    #[getter]
    fn socket_path(&self) -> String {
        self.inner().socket_path().to_string_lossy().into_owned()
    }

    #[getter]
    fn persist(&self) -> bool {
        self.inner().persist()
    }

    #[getter]
    fn project(&self) -> Option<&str> {
        self.inner().project()
    }

    #[getter]
    fn data_path(&self) -> Option<String> {
        self.inner()
            .data_path()
            .map(|p| p.to_string_lossy().into_owned())
    }

    #[getter]
    fn default_timeout(&self) -> f64 {
        self.inner().default_timeout().as_secs_f64()
    }

    /// `"agent"` or `"engine-exec"`.
    #[getter]
    fn transport(&self) -> String {
        self.inner().transport().to_string()
    }

    #[getter]
    fn engine(&self) -> &'static str {
        match self.inner().engine_kind() {
            EngineKind::Docker => "docker",
            EngineKind::Podman => "podman",
        }
    }

    #[pyo3(signature = (aio, command, lang=None, timeout=None, max_output=None, extra=None))]
    #[allow(clippy::too_many_arguments)]
    fn run(
        &self,
        py: Python<'_>,
        aio: bool,
        command: String,
        lang: Option<&str>,
        timeout: Option<f64>,
        max_output: Option<usize>,
        extra: Option<CommandExtra>,
    ) -> PyResult<Py<PyAny>> {
        let cmd = self.command(py, command, lang, timeout, max_output, extra)?;
        dispatch(py, aio, cmd.run(), |py, r| convert::exec_result(py, &r))
    }

    #[pyo3(signature = (aio, command, lang=None, timeout=None, max_output=None, extra=None))]
    #[allow(clippy::too_many_arguments)]
    fn stream(
        &self,
        py: Python<'_>,
        aio: bool,
        command: String,
        lang: Option<&str>,
        timeout: Option<f64>,
        max_output: Option<usize>,
        extra: Option<CommandExtra>,
    ) -> PyResult<Py<PyAny>> {
        let cmd = self.command(py, command, lang, timeout, max_output, extra)?;
        dispatch(py, aio, cmd.stream(), NativeStream::wrap)
    }

    #[pyo3(signature = (aio, command, lang=None, timeout=None, buffer_capacity=None, extra=None))]
    #[allow(clippy::too_many_arguments)]
    fn spawn(
        &self,
        py: Python<'_>,
        aio: bool,
        command: String,
        lang: Option<&str>,
        timeout: Option<f64>,
        buffer_capacity: Option<usize>,
        extra: Option<CommandExtra>,
    ) -> PyResult<Py<PyAny>> {
        let mut cmd = self.command(py, command, lang, timeout, None, extra)?;
        if let Some(capacity) = buffer_capacity {
            cmd = cmd.buffer_capacity(capacity);
        }
        dispatch(py, aio, cmd.spawn(), NativeProcess::wrap)
    }

    fn info(&self, py: Python<'_>, aio: bool) -> PyResult<Py<PyAny>> {
        let c = self.inner().clone();
        dispatch(
            py,
            aio,
            async move { c.info().await },
            convert::container_info,
        )
    }

    fn reboot(&self, py: Python<'_>, aio: bool, fresh: bool) -> PyResult<Py<PyAny>> {
        let c = self.inner().clone();
        dispatch(py, aio, async move { c.reboot(fresh).await }, none)
    }

    fn snapshot(&self, py: Python<'_>, aio: bool, image: String) -> PyResult<Py<PyAny>> {
        let c = self.inner().clone();
        dispatch(
            py,
            aio,
            async move { c.snapshot(&image).await },
            |py, id| Ok(id.into_pyobject(py)?.into_any().unbind()),
        )
    }

    fn shutdown(&self, py: Python<'_>, aio: bool, force: bool) -> PyResult<Py<PyAny>> {
        let c = self.inner().clone();
        dispatch(py, aio, async move { c.shutdown(force).await }, none)
    }

    fn session(&self, py: Python<'_>, aio: bool) -> PyResult<Py<PyAny>> {
        let c = self.inner().clone();
        dispatch(
            py,
            aio,
            async move { c.session().await },
            NativeSession::wrap,
        )
    }

    fn write_file(
        &self,
        py: Python<'_>,
        aio: bool,
        path: String,
        data: &Bound<'_, PyBytes>,
    ) -> PyResult<Py<PyAny>> {
        let c = self.inner().clone();
        let data = data.as_bytes().to_vec();
        dispatch(
            py,
            aio,
            async move { c.write_file(&path, data).await },
            none,
        )
    }

    fn read_file(&self, py: Python<'_>, aio: bool, path: String) -> PyResult<Py<PyAny>> {
        let c = self.inner().clone();
        dispatch(
            py,
            aio,
            async move { c.read_file(&path).await },
            |py, bytes| Ok(PyBytes::new(py, &bytes).into_any().unbind()),
        )
    }

    #[pyo3(signature = (aio, path=None))]
    fn list_files(&self, py: Python<'_>, aio: bool, path: Option<String>) -> PyResult<Py<PyAny>> {
        let c = self.inner().clone();
        dispatch(
            py,
            aio,
            async move { c.list_files(path.as_deref()).await },
            |py, names| Ok(PyList::new(py, names)?.into_any().unbind()),
        )
    }

    fn push(&self, py: Python<'_>, aio: bool, src: PathBuf, dest: String) -> PyResult<Py<PyAny>> {
        let c = self.inner().clone();
        dispatch(py, aio, async move { c.push(&src, &dest).await }, none)
    }

    fn pull(&self, py: Python<'_>, aio: bool, src: String, dest: PathBuf) -> PyResult<Py<PyAny>> {
        let c = self.inner().clone();
        dispatch(py, aio, async move { c.pull(&src, &dest).await }, none)
    }

    /// `f(owner(), text)` for the stdout of every detached process of this container.
    fn on_stdout(&self, f: Py<PyAny>, owner: Py<PyAny>) {
        self.inner()
            .on_stdout(move |_, data| call_back(&f, &owner, data));
    }

    /// `f(owner(), text)` for the stderr of every detached process of this container.
    fn on_stderr(&self, f: Py<PyAny>, owner: Py<PyAny>) {
        self.inner()
            .on_stderr(move |_, data| call_back(&f, &owner, data));
    }

    /// `f(owner(), exit_code)` when a detached process of this container ends.
    fn on_exit(&self, f: Py<PyAny>, owner: Py<PyAny>) {
        self.inner()
            .on_exit(move |_, code| call_back(&f, &owner, code));
    }
}
