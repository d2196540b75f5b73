//! Background clean-ups (removing an abandoned creation's container, killing an abandoned
//! command), counted so that a program can wait for them before it exits.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

static PENDING: AtomicUsize = AtomicUsize::new(0);

/// Runs `work` on the shared runtime, counted until it ends.
pub(crate) fn spawn(work: impl Future<Output = ()> + Send + 'static) {
    PENDING.fetch_add(1, Ordering::SeqCst);
    crate::runtime::shared().spawn(async move {
        work.await;
        PENDING.fetch_sub(1, Ordering::SeqCst);
    });
}

/// How many background clean-ups are still running.
pub fn pending_cleanups() -> usize {
    PENDING.load(Ordering::SeqCst)
}

/// Waits (at most `timeout`) until background clean-ups have finished — e.g. before a
/// program exits after dropping unfinished streams or cancelling creations. Returns whether
/// they all did.
pub fn wait_for_cleanup(timeout: Duration) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    // Clean-ups are engine round trips; there is no event to wait on across runtimes.
    while pending_cleanups() > 0 {
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}
