//! The sandboxes a server holds, under its cap, with their background processes.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use pocketdock::aio::{Container, Process};

/// Background processes one sandbox may have at once: each keeps an output buffer.
const MAX_PROCESSES: usize = 64;

/// A sandbox the server created (or claimed from its pool).
#[derive(Debug)]
pub(crate) struct Sandbox {
    pub(crate) container: Container,
    pub(crate) image: String,
    processes: Mutex<Processes>,
}

#[derive(Debug, Default)]
struct Processes {
    next: u64,
    live: BTreeMap<String, Arc<Tracked>>,
}

/// A background process and the output read from it but not handed out yet (a read returns
/// at most the output cap; the rest waits for the next read).
#[derive(Debug)]
pub(crate) struct Tracked {
    pub(crate) process: Process,
    pub(crate) pending: Mutex<Pending>,
}

#[derive(Debug, Default)]
pub(crate) struct Pending {
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Sandbox {
    pub(crate) fn new(container: Container, image: String) -> Sandbox {
        Sandbox {
            container,
            image,
            processes: Mutex::new(Processes::default()),
        }
    }

    /// Whether one more background process may start (each keeps an output buffer).
    pub(crate) fn ensure_process_room(&self) -> Result<(), String> {
        if lock(&self.processes).live.len() >= MAX_PROCESSES {
            return Err(format!(
                "{} already has {MAX_PROCESSES} background processes: kill or read some to the end first",
                self.container.name()
            ));
        }
        Ok(())
    }

    /// Registers a started process; its id is `p1`, `p2`, … within the sandbox.
    pub(crate) fn add_process(&self, process: Process) -> String {
        let mut procs = lock(&self.processes);
        procs.next += 1;
        let id = format!("p{}", procs.next);
        procs.live.insert(
            id.clone(),
            Arc::new(Tracked {
                process,
                pending: Mutex::new(Pending::default()),
            }),
        );
        id
    }

    pub(crate) fn process(&self, id: &str) -> Result<Arc<Tracked>, String> {
        lock(&self.processes).live.get(id).cloned().ok_or_else(|| {
            format!(
                "no process {id} in sandbox {}: start_process gives the ids",
                self.container.name()
            )
        })
    }

    /// Forgets a process that has ended and whose output was all handed out.
    pub(crate) fn forget_process(&self, id: &str) {
        lock(&self.processes).live.remove(id);
    }

    pub(crate) fn process_count(&self) -> usize {
        lock(&self.processes).live.len()
    }
}

/// Every sandbox of the server, by name, and how many more it may create.
#[derive(Debug)]
pub(crate) struct Sandboxes {
    max: usize,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    live: BTreeMap<String, Arc<Sandbox>>,
    /// Creations under way: they count against the cap.
    reserved: usize,
    /// The sandbox `run_command` uses when none is named.
    default: Option<String>,
}

/// A place under the cap for a sandbox being created; given back if the creation fails.
#[derive(Debug)]
pub(crate) struct Reservation<'a> {
    sandboxes: &'a Sandboxes,
    used: bool,
}

impl Sandboxes {
    pub(crate) fn new(max: usize) -> Sandboxes {
        Sandboxes {
            max,
            state: Mutex::new(State::default()),
        }
    }

    pub(crate) fn reserve(&self) -> Result<Reservation<'_>, String> {
        let mut state = lock(&self.state);
        if state.live.len() + state.reserved >= self.max {
            return Err(format!(
                "the server holds its maximum of {} sandboxes: shut one down first (shutdown_sandbox) or start the server with a higher --max-sandboxes",
                self.max
            ));
        }
        state.reserved += 1;
        Ok(Reservation {
            sandboxes: self,
            used: false,
        })
    }

    pub(crate) fn get(&self, name: &str) -> Result<Arc<Sandbox>, String> {
        lock(&self.state)
            .live
            .get(name)
            .cloned()
            .ok_or_else(|| unknown(name))
    }

    pub(crate) fn default_sandbox(&self) -> Option<Arc<Sandbox>> {
        let state = lock(&self.state);
        state
            .default
            .as_ref()
            .and_then(|n| state.live.get(n).cloned())
    }

    pub(crate) fn default_name(&self) -> Option<String> {
        lock(&self.state).default.clone()
    }

    pub(crate) fn all(&self) -> Vec<Arc<Sandbox>> {
        lock(&self.state).live.values().cloned().collect()
    }

    pub(crate) fn remove(&self, name: &str) -> Result<Arc<Sandbox>, String> {
        let mut state = lock(&self.state);
        let sandbox = state.live.remove(name).ok_or_else(|| unknown(name))?;
        if state.default.as_deref() == Some(name) {
            state.default = None;
        }
        Ok(sandbox)
    }

    /// Every sandbox, taken out of the server (at its exit).
    pub(crate) fn drain(&self) -> Vec<Arc<Sandbox>> {
        let mut state = lock(&self.state);
        state.default = None;
        std::mem::take(&mut state.live).into_values().collect()
    }
}

impl Reservation<'_> {
    /// The created sandbox takes the reserved place.
    pub(crate) fn fill(mut self, sandbox: Sandbox, as_default: bool) -> Arc<Sandbox> {
        let sandbox = Arc::new(sandbox);
        let mut state = lock(&self.sandboxes.state);
        state.reserved -= 1;
        self.used = true;
        let name = sandbox.container.name().to_string();
        if as_default {
            state.default = Some(name.clone());
        }
        state.live.insert(name, Arc::clone(&sandbox));
        sandbox
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if !self.used {
            lock(&self.sandboxes.state).reserved -= 1;
        }
    }
}

fn unknown(name: &str) -> String {
    format!("no sandbox named {name:?} on this server: list_sandboxes shows them")
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_count_against_the_cap_until_given_back() {
        let sandboxes = Sandboxes::new(2);
        let a = sandboxes.reserve().unwrap();
        let b = sandboxes.reserve().unwrap();
        let err = sandboxes.reserve().unwrap_err();
        assert!(err.contains("maximum of 2"), "{err}");
        drop(a);
        let _c = sandboxes.reserve().unwrap();
        drop(b);
        assert!(sandboxes.get("nope").unwrap_err().contains("no sandbox"));
    }
}
