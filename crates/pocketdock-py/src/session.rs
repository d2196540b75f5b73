//! Sessions: one long-lived shell.

use pyo3::prelude::*;

use pocketdock::aio;

use crate::container::seconds;
use crate::convert;
use crate::runtime::{dispatch, none};

/// A long-lived shell in a sandbox.
#[pyclass(frozen, module = "pocketdock._native")]
pub(crate) struct NativeSession {
    inner: aio::Session,
}

impl NativeSession {
    pub(crate) fn wrap(py: Python<'_>, inner: aio::Session) -> PyResult<Py<PyAny>> {
        Ok(Py::new(py, NativeSession { inner })?.into_any())
    }
}

#[pymethods]
impl NativeSession {
    #[getter]
    fn id(&self) -> &str {
        self.inner.id()
    }

    #[getter]
    fn closed(&self) -> bool {
        self.inner.is_closed()
    }

    fn send(&self, py: Python<'_>, aio: bool, command: String) -> PyResult<Py<PyAny>> {
        let s = self.inner.clone();
        dispatch(py, aio, async move { s.send(&command).await }, none)
    }

    #[pyo3(signature = (aio, command, timeout=None))]
    fn send_and_wait(
        &self,
        py: Python<'_>,
        aio: bool,
        command: String,
        timeout: Option<f64>,
    ) -> PyResult<Py<PyAny>> {
        let timeout = timeout.map(|t| seconds("timeout", t)).transpose()?;
        let s = self.inner.clone();
        dispatch(
            py,
            aio,
            async move { s.send_and_wait(&command, timeout).await },
            |py, r| convert::exec_result(py, &r),
        )
    }

    fn read(&self) -> String {
        self.inner.read()
    }

    /// `f(text)` for every piece of output; an exception is reported, and reading goes on.
    fn on_output(&self, f: Py<PyAny>) {
        self.inner.on_output(move |text| {
            Python::try_attach(|py| {
                let f = f.bind(py);
                if let Err(e) = f.call1((text,)) {
                    e.write_unraisable(py, Some(f));
                }
            });
        });
    }

    fn close(&self, py: Python<'_>, aio: bool) -> PyResult<Py<PyAny>> {
        let s = self.inner.clone();
        dispatch(
            py,
            aio,
            async move {
                s.close().await;
                Ok(())
            },
            none,
        )
    }
}
