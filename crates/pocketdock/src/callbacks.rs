//! Output and exit callbacks of a container's detached processes.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, RwLock};

use crate::container::Container;
use crate::types::StreamKind;

pub(crate) type OutputCallback = Arc<dyn Fn(&Container, &str) + Send + Sync>;
pub(crate) type ExitCallback = Arc<dyn Fn(&Container, i64) + Send + Sync>;

/// Registered callbacks; every detached process of the container reports to all of them.
#[derive(Default)]
pub(crate) struct Callbacks {
    stdout: RwLock<Vec<OutputCallback>>,
    stderr: RwLock<Vec<OutputCallback>>,
    exit: RwLock<Vec<ExitCallback>>,
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

    pub(crate) fn output(&self, container: &Container, stream: StreamKind, data: &str) {
        let list = match stream {
            StreamKind::Stdout => &self.stdout,
            StreamKind::Stderr => &self.stderr,
        };
        // Clone the list so a callback may register another without deadlocking.
        let list = list.read().unwrap_or_else(|e| e.into_inner()).clone();
        for f in list {
            guarded(|| f(container, data));
        }
    }

    pub(crate) fn exit(&self, container: &Container, code: i64) {
        let list = self.exit.read().unwrap_or_else(|e| e.into_inner()).clone();
        for f in list {
            guarded(|| f(container, code));
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
