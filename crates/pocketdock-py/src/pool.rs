//! The warm pool: `pocketdock::aio::Pool` behind `Pool` and `AsyncPool`.

use std::sync::{Arc, Mutex};

use pyo3::prelude::*;

use pocketdock::aio;

use crate::container::{NativeContainer, SandboxOptions};
use crate::errors::to_pyerr;
use crate::runtime::{dispatch, none};

/// Starts filling a pool of `size` sandboxes created with `options` (see `pocketdock.Pool`).
#[pyfunction]
pub(crate) fn create_pool(
    py: Python<'_>,
    size: usize,
    options: SandboxOptions,
) -> PyResult<NativePool> {
    let options = options.into_options()?;
    let pool = aio::Pool::new(options, size).map_err(|e| to_pyerr(py, e))?;
    Ok(NativePool {
        pool: Mutex::new(Some(Arc::new(pool))),
    })
}

/// `None` once closed.
#[pyclass(frozen, module = "pocketdock._native")]
pub(crate) struct NativePool {
    pool: Mutex<Option<Arc<aio::Pool>>>,
}

impl NativePool {
    fn get(&self) -> PyResult<Arc<aio::Pool>> {
        self.pool
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(|| pyo3::exceptions::PyRuntimeError::new_err("the pool is closed"))
    }
}

#[pymethods]
impl NativePool {
    fn claim(&self, py: Python<'_>, aio: bool) -> PyResult<Py<PyAny>> {
        let pool = self.get()?;
        dispatch(
            py,
            aio,
            async move { pool.claim().await },
            NativeContainer::wrap,
        )
    }

    fn filled(&self, py: Python<'_>, aio: bool) -> PyResult<Py<PyAny>> {
        let pool = self.get()?;
        dispatch(py, aio, async move { pool.filled().await }, none)
    }

    fn size(&self) -> PyResult<usize> {
        Ok(self.get()?.size())
    }

    fn ready(&self) -> PyResult<usize> {
        Ok(self.get()?.ready())
    }

    /// Removes the unclaimed sandboxes; a second close does nothing.
    fn close(&self, py: Python<'_>, aio: bool) -> PyResult<Py<PyAny>> {
        let pool = self.pool.lock().unwrap_or_else(|e| e.into_inner()).take();
        dispatch(
            py,
            aio,
            async move {
                // A claim under way holds the pool too: its end drops (and so empties) it.
                if let Some(pool) = pool.and_then(Arc::into_inner) {
                    pool.close().await;
                }
                Ok(())
            },
            none,
        )
    }
}
