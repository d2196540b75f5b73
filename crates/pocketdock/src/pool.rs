//! A warm pool: sandboxes created and started ahead of need, each handed out once.
//!
//! One background task (on the shared runtime, so the pool outlives any caller's runtime) keeps
//! `size` sandboxes ready. A claim takes the oldest ready one and wakes the task to replace it.
//! A sandbox is never recycled: a claimed one belongs to its caller like a created one, and
//! one the pool still holds has never run a command.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;

use crate::container::{create_new_container, Container};
use crate::error::{Error, Result};
use crate::options::ContainerOptions;

/// The longest wait between two failed creations (the engine down, say); a claim cuts it short.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Sandboxes created ahead of need; see [`Pool::claim`]. Dropping the pool removes the
/// sandboxes it still holds (and one being created).
#[derive(Debug)]
pub struct Pool {
    shared: Arc<Shared>,
    filler: tokio::task::JoinHandle<()>,
}

#[derive(Debug)]
struct Shared {
    options: ContainerOptions,
    size: usize,
    state: Mutex<State>,
    /// To claims: a sandbox is ready, or a creation failed.
    changed: Notify,
    /// To the filler: a sandbox was claimed, or a claim waits and a failure's backoff should end.
    wanted: Notify,
}

#[derive(Debug, Default)]
struct State {
    ready: VecDeque<Container>,
    /// How many creations failed so far, and the last failure.
    failures: u64,
    last_failure: Option<Error>,
}

impl Pool {
    /// Starts filling a pool of `size` sandboxes created with `options` (which must not name
    /// the sandbox: names are unique). Options are checked here; engine errors come from
    /// [`claim`](Self::claim).
    pub fn new(options: ContainerOptions, size: usize) -> Result<Pool> {
        if size == 0 {
            return Err(Error::invalid("a pool holds at least one sandbox"));
        }
        if options.name.is_some() {
            return Err(Error::invalid(
                "pooled sandboxes cannot share a name: leave the name out of a pool's options",
            ));
        }
        crate::container::check_options(&options)?;
        let shared = Arc::new(Shared {
            options,
            size,
            state: Mutex::new(State::default()),
            changed: Notify::new(),
            wanted: Notify::new(),
        });
        let filler = crate::runtime::shared().spawn(fill(Arc::clone(&shared)));
        Ok(Pool { shared, filler })
    }

    /// How many sandboxes the pool keeps ready.
    pub fn size(&self) -> usize {
        self.shared.size
    }

    /// How many are ready now.
    pub fn ready(&self) -> usize {
        self.shared.lock().ready.len()
    }

    /// A started sandbox no one has used, at once when one is ready; otherwise the next one the
    /// pool creates. When that creation fails, its error.
    pub async fn claim(&self) -> Result<Container> {
        let container = self.wait_for(|state| state.ready.pop_front()).await?;
        self.shared.wanted.notify_one();
        tracing::debug!(container = %container.name(), "pool: claimed");
        Ok(container)
    }

    /// Waits until the pool holds its full size of ready sandboxes (a warm-up); the error of a
    /// creation that fails meanwhile.
    pub async fn filled(&self) -> Result<()> {
        let size = self.shared.size;
        self.wait_for(|state| (state.ready.len() >= size).then_some(()))
            .await
    }

    /// The first `Some` of `take` over the pool's state, re-checked whenever it changes; the
    /// error of a creation that fails after the wait began.
    async fn wait_for<T>(&self, mut take: impl FnMut(&mut State) -> Option<T>) -> Result<T> {
        let seen_failures = self.shared.lock().failures;
        loop {
            let changed = self.shared.changed.notified();
            tokio::pin!(changed);
            // Registered before the state is read: a change in between still wakes us.
            changed.as_mut().enable();
            {
                let mut state = self.shared.lock();
                if let Some(found) = take(&mut state) {
                    return Ok(found);
                }
                if state.failures > seen_failures {
                    if let Some(e) = &state.last_failure {
                        return Err(e.clone());
                    }
                }
            }
            // Nothing yet: make sure the filler is not waiting out a backoff.
            self.shared.wanted.notify_one();
            changed.await;
        }
    }

    /// Removes the sandboxes the pool still holds and waits until they are gone.
    pub async fn close(mut self) {
        self.filler.abort();
        // Once it has ended, a creation it was making has handed its container to the
        // background clean-up (see `wait_for_cleanup`).
        let _ = (&mut self.filler).await;
        let ready: Vec<Container> = self.shared.lock().ready.drain(..).collect();
        for c in ready {
            if let Err(e) = c.discard().await {
                tracing::warn!(container = %c.name(), "pool: removing an unclaimed sandbox failed: {e}");
            }
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        // An aborted creation removes its half-made container; dropped handles remove theirs,
        // except persistent ones, which are removed explicitly.
        self.filler.abort();
        let ready: Vec<Container> = self.shared.lock().ready.drain(..).collect();
        for c in ready {
            if self.shared.options.persist {
                crate::cleanup::spawn(async move {
                    let _ = c.discard().await;
                });
            }
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The background task: creates sandboxes one at a time while fewer than `size` are ready.
async fn fill(shared: Arc<Shared>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        if shared.lock().ready.len() >= shared.size {
            shared.wanted.notified().await;
            continue;
        }
        match create_new_container(shared.options.clone()).await {
            Ok(container) => {
                tracing::debug!(container = %container.name(), "pool: ready");
                shared.lock().ready.push_back(container);
                backoff = Duration::from_millis(100);
                shared.changed.notify_waiters();
            }
            Err(e) => {
                tracing::warn!("pool: creating a sandbox failed: {e}");
                {
                    let mut state = shared.lock();
                    state.failures += 1;
                    state.last_failure = Some(e);
                }
                shared.changed.notify_waiters();
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = shared.wanted.notified() => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}
