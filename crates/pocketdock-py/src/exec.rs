//! Streaming and detached commands.

use std::sync::Arc;

use futures::StreamExt;
use pyo3::prelude::*;

use pocketdock::{aio, StreamChunk};

use crate::container::seconds;
use crate::convert;
use crate::runtime::dispatch;

/// The output of a streaming command. Collecting this object before the stream ended kills the
/// command.
#[pyclass(frozen, module = "pocketdock._native")]
pub(crate) struct NativeStream {
    inner: Arc<tokio::sync::Mutex<Fused>>,
}

/// The core's stream must not be polled once it has ended; Python iterators may be.
struct Fused {
    stream: aio::ExecStream,
    ended: bool,
}

impl Fused {
    async fn next(&mut self) -> pocketdock::Result<Option<StreamChunk>> {
        if self.ended {
            return Ok(None);
        }
        let next = self.stream.next().await.transpose();
        // An error ends the stream too: the core has settled the command.
        if !matches!(next, Ok(Some(_))) {
            self.ended = true;
        }
        next
    }
}

impl NativeStream {
    pub(crate) fn wrap(py: Python<'_>, stream: aio::ExecStream) -> PyResult<Py<PyAny>> {
        let inner = Arc::new(tokio::sync::Mutex::new(Fused {
            stream,
            ended: false,
        }));
        Ok(Py::new(py, NativeStream { inner })?.into_any())
    }
}

#[pymethods]
impl NativeStream {
    /// The next `StreamChunk`, or `None` at the end.
    fn next(&self, py: Python<'_>, aio: bool) -> PyResult<Py<PyAny>> {
        let stream = self.inner.clone();
        let next = async move { stream.lock().await.next().await };
        dispatch(
            py,
            aio,
            next,
            |py, chunk: Option<StreamChunk>| match chunk {
                Some(chunk) => convert::stream_chunk(py, chunk),
                None => Ok(py.None()),
            },
        )
    }

    /// The `ExecResult` once the stream has ended, else `None`.
    fn result(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        match self.inner.try_lock() {
            Ok(fused) => fused
                .stream
                .result()
                .map(|r| convert::exec_result(py, r))
                .transpose(),
            // A `next` is in progress: not ended yet.
            Err(_) => Ok(None),
        }
    }
}

/// A command running in the background.
#[pyclass(frozen, module = "pocketdock._native")]
pub(crate) struct NativeProcess {
    inner: aio::Process,
}

impl NativeProcess {
    pub(crate) fn wrap(py: Python<'_>, inner: aio::Process) -> PyResult<Py<PyAny>> {
        Ok(Py::new(py, NativeProcess { inner })?.into_any())
    }
}

#[pymethods]
impl NativeProcess {
    fn is_running(&self, py: Python<'_>, aio: bool) -> PyResult<Py<PyAny>> {
        let p = self.inner.clone();
        dispatch(
            py,
            aio,
            async move { p.is_running().await },
            |py, running| Ok(running.into_pyobject(py)?.to_owned().into_any().unbind()),
        )
    }

    fn read(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        convert::buffer_snapshot(py, self.inner.read())
    }

    fn peek(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        convert::buffer_snapshot(py, self.inner.peek())
    }

    #[getter]
    fn id(&self) -> String {
        self.inner.id().to_string()
    }

    #[getter]
    fn buffer_size(&self) -> usize {
        self.inner.buffer_size()
    }

    #[getter]
    fn buffer_overflow(&self) -> bool {
        self.inner.buffer_overflow()
    }

    #[pyo3(signature = (aio, timeout=None))]
    fn wait(&self, py: Python<'_>, aio: bool, timeout: Option<f64>) -> PyResult<Py<PyAny>> {
        let timeout = timeout.map(|t| seconds("timeout", t)).transpose()?;
        let p = self.inner.clone();
        dispatch(py, aio, async move { p.wait(timeout).await }, |py, r| {
            convert::exec_result(py, &r)
        })
    }

    /// Writes to the command's stdin.
    fn write_stdin(&self, py: Python<'_>, aio: bool, data: Vec<u8>) -> PyResult<Py<PyAny>> {
        let p = self.inner.clone();
        dispatch(
            py,
            aio,
            async move { p.write_stdin(data).await },
            crate::runtime::none,
        )
    }

    /// Closes the command's stdin.
    fn close_stdin(&self, py: Python<'_>, aio: bool) -> PyResult<Py<PyAny>> {
        let p = self.inner.clone();
        dispatch(
            py,
            aio,
            async move { p.close_stdin().await },
            crate::runtime::none,
        )
    }

    /// Signals the command's whole process tree; returns how many processes got it.
    fn kill(&self, py: Python<'_>, aio: bool, signal: i32) -> PyResult<Py<PyAny>> {
        let p = self.inner.clone();
        dispatch(py, aio, async move { p.kill(signal).await }, |py, n| {
            Ok(n.into_pyobject(py)?.into_any().unbind())
        })
    }
}
