//! The OOM killer for commands run as engine execs, which the agent is not there to watch: a
//! command killed by SIGKILL was the OOM killer's when the cgroup's OOM kill count moved since
//! the last look.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use crate::engine::Engine;

/// cgroup v2, then v1 (where `memory.oom_control` has counted kills since Linux 4.13).
const READ_COUNT: &str =
    "cat /sys/fs/cgroup/memory.events 2>/dev/null || cat /sys/fs/cgroup/memory/memory.oom_control";

/// The last OOM kill count a container's handle saw.
#[derive(Debug)]
pub(crate) struct OomWatch {
    seen: Mutex<Option<u64>>,
    /// A found container's baseline was asked for (once: the count may be unreadable).
    baseline_asked: AtomicBool,
}

impl OomWatch {
    /// For a container this handle created: nothing was killed yet.
    pub(crate) fn fresh() -> Self {
        OomWatch {
            seen: Mutex::new(Some(0)),
            baseline_asked: AtomicBool::new(true),
        }
    }

    /// For a container found as it is: the first look only sets the baseline.
    pub(crate) fn unknown() -> Self {
        OomWatch {
            seen: Mutex::new(None),
            baseline_asked: AtomicBool::new(false),
        }
    }

    /// Whether the caller should read the count now, as the baseline: true once, for a
    /// container found as it is (before its first command, whose OOM kill then counts too).
    pub(crate) fn wants_baseline(&self) -> bool {
        !self.baseline_asked.swap(true, Ordering::SeqCst)
    }

    /// The count before any command of this handle ran.
    pub(crate) fn set_baseline(&self, count: u64) {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.get_or_insert(count);
    }

    /// The container was started again: a new cgroup, whose count starts at zero.
    pub(crate) fn restarted(&self) {
        *self.seen.lock().unwrap_or_else(|e| e.into_inner()) = Some(0);
        self.baseline_asked.store(true, Ordering::SeqCst);
    }

    /// Whether the count moved since the last look, which it replaces. A count below the last
    /// one is a new cgroup (the container restarted): any kill there counts.
    pub(crate) fn moved(&self, now: u64) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let moved = matches!(*seen, Some(before) if now != before && now > 0);
        *seen = Some(now);
        moved
    }
}

/// The container's OOM kill count, or `None` where it cannot be read (no shell, no cgroup
/// file).
pub(crate) async fn kills(engine: &Engine, container_id: &str) -> Option<u64> {
    let argv = vec!["sh".into(), "-c".into(), READ_COUNT.into()];
    let out = super::token_kill::exec_stdout(engine, container_id, argv, None)
        .await
        .ok()?;
    parse_count(&out)
}

fn parse_count(text: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (key, value) = line.split_once(' ')?;
        (key == "oom_kill").then(|| value.trim().parse().ok())?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_read_from_either_cgroup_version() {
        let v2 = "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n";
        assert_eq!(parse_count(v2), Some(1));
        let v1 = "oom_kill_disable 0\nunder_oom 0\noom_kill 4\n";
        assert_eq!(parse_count(v1), Some(4));
        assert_eq!(parse_count("nothing here"), None);
    }

    #[test]
    fn only_a_moved_count_is_an_oom_kill() {
        let fresh = OomWatch::fresh();
        assert!(!fresh.moved(0)); // a `kill -9` of its own
        assert!(fresh.moved(1));
        assert!(!fresh.moved(1));
        assert!(fresh.moved(2));
        assert!(fresh.moved(1)); // restarted, and killed once since
        let found = OomWatch::unknown();
        assert!(!found.moved(5)); // the baseline
        assert!(found.moved(6));
        // With the baseline read before its first command, that command's kill counts.
        let found = OomWatch::unknown();
        assert!(found.wants_baseline());
        assert!(!found.wants_baseline());
        found.set_baseline(5);
        assert!(found.moved(6));
        assert!(!OomWatch::fresh().wants_baseline());
    }
}
