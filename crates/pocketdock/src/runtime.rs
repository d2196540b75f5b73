//! The one runtime behind the blocking API.

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::{Handle, Runtime, RuntimeFlavor};

/// The one multi-threaded runtime of the library, the CLI and the Python package: created on
/// first use, alive for the rest of the process. Agent connections, background clean-ups and
/// the blocking API run on it.
pub fn shared() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("pocketdock")
            .enable_all()
            .build()
            .expect("pocketdock cannot start its runtime")
    })
}

/// Runs `future` to completion from synchronous code — also from inside a runtime, such as a
/// callback of a detached process that calls the blocking API.
pub(crate) fn block_on<F>(future: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| handle.block_on(future))
        }
        // A current-thread runtime cannot be blocked from inside: run on a thread of our own.
        Ok(_) => std::thread::scope(|s| {
            s.spawn(|| shared().block_on(future))
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        }),
        Err(_) => shared().block_on(future),
    }
}
