//! Output and exit callbacks of a container's detached processes. They run in order on a thread
//! of the container's own, never on the runtime's workers: a callback that blocks (or Python's
//! GIL) delays only later callbacks of the same container — and, through the bounded queue, the
//! reading of that container's detached output — never another sandbox's I/O.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, OnceLock, RwLock};

use tokio::sync::mpsc;

use crate::container::Container;
use crate::types::StreamKind;

pub(crate) type OutputCallback = Arc<dyn Fn(&Container, &str) + Send + Sync>;
pub(crate) type ExitCallback = Arc<dyn Fn(&Container, i64) + Send + Sync>;

pub(crate) type Job = Box<dyn FnOnce() + Send>;

/// Calls waiting for the callback thread; a full queue slows the reader, not memory.
const QUEUE: usize = 256;

/// Registered callbacks; every detached process of the container reports to all of them.
#[derive(Default)]
pub(crate) struct Callbacks {
    stdout: RwLock<Vec<OutputCallback>>,
    stderr: RwLock<Vec<OutputCallback>>,
    exit: RwLock<Vec<ExitCallback>>,
    dispatcher: Dispatcher,
}

impl std::fmt::Debug for Callbacks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Callbacks").finish_non_exhaustive()
    }
}

impl Callbacks {
    pub(crate) fn add_output(&self, stream: StreamKind, f: OutputCallback) {
        let list = match stream {
            StreamKind::Stdout => &self.stdout,
            StreamKind::Stderr => &self.stderr,
        };
        list.write().unwrap_or_else(|e| e.into_inner()).push(f);
    }

    pub(crate) fn add_exit(&self, f: ExitCallback) {
        self.exit.write().unwrap_or_else(|e| e.into_inner()).push(f);
    }

    /// Hands `data` to the output callbacks, in order; waits only for room in the queue.
    pub(crate) async fn output(&self, container: &Container, stream: StreamKind, data: &str) {
        let list = match stream {
            StreamKind::Stdout => &self.stdout,
            StreamKind::Stderr => &self.stderr,
        };
        // Clone the list so a callback may register another without deadlocking.
        let list = list.read().unwrap_or_else(|e| e.into_inner()).clone();
        if list.is_empty() {
            return;
        }
        let (container, data) = (container.clone(), data.to_string());
        self.dispatcher
            .dispatch(Box::new(move || {
                for f in list {
                    guarded(|| f(&container, &data));
                }
            }))
            .await;
    }

    /// Hands the exit code to the exit callbacks, after every output call before it, and
    /// returns once they have all run (a process's `wait` ends after its callbacks).
    pub(crate) async fn exit(&self, container: &Container, code: i64) {
        let list = self.exit.read().unwrap_or_else(|e| e.into_inner()).clone();
        let has_output = [&self.stdout, &self.stderr]
            .iter()
            .any(|l| !l.read().unwrap_or_else(|e| e.into_inner()).is_empty());
        if list.is_empty() && !has_output {
            return;
        }
        let container = container.clone();
        let (done, finished) = tokio::sync::oneshot::channel();
        self.dispatcher
            .dispatch(Box::new(move || {
                for f in list {
                    guarded(|| f(&container, code));
                }
                let _ = done.send(());
            }))
            .await;
        let _ = finished.await;
    }
}

/// A thread of its own that runs user callbacks in order, fed by a bounded queue: made at the
/// first call (`None`: no thread could be had; calls then run where they are raised).
#[derive(Default)]
pub(crate) struct Dispatcher(OnceLock<Option<mpsc::Sender<Job>>>);

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher").finish_non_exhaustive()
    }
}

impl Dispatcher {
    /// Queues `job`; waits only for room in the queue.
    pub(crate) async fn dispatch(&self, job: Job) {
        let queue = self.0.get_or_init(|| {
            let (tx, mut rx) = mpsc::channel::<Job>(QUEUE);
            std::thread::Builder::new()
                .name("pocketdock-callbacks".into())
                .spawn(move || {
                    while let Some(job) = rx.blocking_recv() {
                        job();
                    }
                })
                .ok()
                .map(|_| tx)
        });
        match queue {
            Some(tx) => {
                if let Err(mpsc::error::SendError(job)) = tx.send(job).await {
                    job();
                }
            }
            None => job(),
        }
    }
}

/// A panicking callback is reported and skipped; it must not end the reading task, which would
/// stop the process's buffer and every other callback.
pub(crate) fn guarded(f: impl FnOnce()) {
    if let Err(panic) = catch_unwind(AssertUnwindSafe(f)) {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".into());
        tracing::error!("a pocketdock callback panicked: {what}");
    }
}
