//! The one Tokio runtime behind the Python package, and the two ways a call reaches it: blocking
//! (GIL released, interruptible by Ctrl-C) and as an asyncio awaitable.

use std::future::Future;
use std::time::Duration;

use pyo3::prelude::*;
use tokio::runtime::{Handle, Runtime, RuntimeFlavor};

use crate::errors::to_pyerr;

/// How often a blocking call looks for pending Python signals (Ctrl-C).
const SIGNAL_CHECK: Duration = Duration::from_millis(50);

/// The library's one runtime, alive for the rest of the process: blocking calls, awaitables,
/// agent connections and detached processes' readers all run on it.
pub(crate) fn runtime() -> &'static Runtime {
    pocketdock::shared_runtime()
}

/// Hands the runtime to pyo3-async-runtimes, so that awaitables run on it too.
pub(crate) fn init() {
    // Already set: the module was initialised before in this process (a second interpreter).
    let _ = pyo3_async_runtimes::tokio::init_with_runtime(runtime());
}

/// Runs `fut` to completion with the GIL released. From the main thread, pending signals are
/// checked every [`SIGNAL_CHECK`]: a signal handler that raises (Ctrl-C's `KeyboardInterrupt`)
/// abandons the call, and dropping the future kills whatever command it was running.
pub(crate) fn block_on<F, T>(py: Python<'_>, fut: F) -> PyResult<T>
where
    F: Future<Output = pocketdock::Result<T>> + Send,
    T: Send,
{
    let result = match Handle::try_current() {
        // Inside the runtime: a callback of a detached process calling the blocking API.
        Ok(handle) => py.detach(|| match handle.runtime_flavor() {
            RuntimeFlavor::MultiThread => tokio::task::block_in_place(|| handle.block_on(fut)),
            _ => std::thread::scope(|s| {
                s.spawn(|| runtime().block_on(fut))
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            }),
        }),
        Err(_) => {
            let mut fut = std::pin::pin!(fut);
            loop {
                let step = py.detach(|| {
                    runtime()
                        .block_on(async { tokio::time::timeout(SIGNAL_CHECK, fut.as_mut()).await })
                });
                match step {
                    Ok(result) => break result,
                    Err(_) => py.check_signals()?,
                }
            }
        }
    };
    result.map_err(|e| to_pyerr(py, e))
}

/// Blocking (`aio = false`: the converted result) or asynchronous (`aio = true`: an asyncio
/// awaitable of it; cancelling it drops the future, which kills a running command).
pub(crate) fn dispatch<F, T, C>(
    py: Python<'_>,
    aio: bool,
    fut: F,
    convert: C,
) -> PyResult<Py<PyAny>>
where
    F: Future<Output = pocketdock::Result<T>> + Send + 'static,
    T: Send + 'static,
    C: for<'py> FnOnce(Python<'py>, T) -> PyResult<Py<PyAny>> + Send + 'static,
{
    if aio {
        let fut = async move {
            let out = fut.await;
            Python::attach(|py| match out {
                Ok(value) => convert(py, value),
                Err(e) => Err(to_pyerr(py, e)),
            })
        };
        Ok(pyo3_async_runtimes::tokio::future_into_py(py, fut)?.unbind())
    } else {
        let value = block_on(py, fut)?;
        convert(py, value)
    }
}

/// `None` for `()`.
pub(crate) fn none(py: Python<'_>, _: ()) -> PyResult<Py<PyAny>> {
    Ok(py.None())
}
