//! A command's whole process tree, found through `/proc`: every process whose chain of parents
//! reaches the command's shim. The shim is a child subreaper, so nothing the command starts can
//! leave that tree — not by `setsid`, a double fork, or clearing its environment.

use std::collections::{HashMap, HashSet};

/// `(pid, ppid, live)` of every process; zombies are not live, but stay in the tree: a
/// child whose parent is exiting is reached through it until it is reparented.
fn processes() -> Vec<(i32, i32, bool)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let name = e.ok()?.file_name();
        let pid: i32 = name.to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The command name may contain anything, ')' included: the fields follow the last ')'.
        let rest = &stat[stat.rfind(')')? + 2..];
        let mut fields = rest.split(' ');
        let state = fields.next()?;
        let live = state != "Z" && state != "X";
        Some((pid, fields.next()?.parse().ok()?, live))
    })
    .collect()
}

/// Every descendant of `root` (not `root` itself).
pub fn descendants(root: i32) -> Vec<i32> {
    let mut children: HashMap<i32, Vec<(i32, bool)>> = HashMap::new();
    for (pid, ppid, live) in processes() {
        children.entry(ppid).or_default().push((pid, live));
    }
    let mut out = Vec::new();
    let mut todo = vec![root];
    while let Some(p) = todo.pop() {
        if let Some(kids) = children.get(&p) {
            for &(k, live) in kids {
                if live {
                    out.push(k);
                }
                todo.push(k);
            }
        }
    }
    out
}

/// Sends `signal` to every descendant of `root` but `spare`; returns how many processes got it.
pub fn signal_tree(root: i32, signal: i32, spare: Option<i32>) -> usize {
    signal_selected(
        || {
            let mut all = descendants(root);
            all.retain(|&p| Some(p) != spare);
            all
        },
        signal,
    )
}

/// Processes whose environment holds `mark` (`NAME=value`), among those we may read: for
/// commands of the engine's exec, which carry a token instead of having a shim.
fn marked(mark: &[u8]) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let pid: i32 = e.ok()?.file_name().to_str()?.parse().ok()?;
        let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
        environ
            .split(|&b| b == 0)
            .any(|entry| entry == mark)
            .then_some(pid)
    })
    .collect()
}

/// Signals every process carrying `mark` and all their descendants (those that cleared their
/// environment included), but `spare` (a session's shell) and ourselves.
pub fn signal_marked(mark: &str, signal: i32, spare: Option<i32>) -> usize {
    let me = std::process::id() as i32;
    signal_selected(
        || {
            let mut all: HashSet<i32> = HashSet::new();
            for root in marked(mark.as_bytes()) {
                all.insert(root);
                all.extend(descendants(root));
            }
            all.retain(|&p| Some(p) != spare && p != me);
            all.into_iter().collect()
        },
        signal,
    )
}

/// Sends `signal` to every process `select` finds; returns how many got it. SIGKILL first
/// freezes them all with SIGSTOP until a scan finds nothing new — so that nothing can fork
/// faster than we kill, nor react to a sibling's death — then kills, and repeats until
/// nothing is left.
fn signal_selected(select: impl Fn() -> Vec<i32>, signal: i32) -> usize {
    if signal != libc::SIGKILL {
        return select()
            .into_iter()
            .filter(|&p| crate::sys::kill(p, signal))
            .count();
    }
    let mut signalled = HashSet::new();
    for _ in 0..200 {
        let mut frozen = HashSet::new();
        for _ in 0..10_000 {
            let new: Vec<i32> = select()
                .into_iter()
                .filter(|p| !frozen.contains(p))
                .collect();
            if new.is_empty() {
                break;
            }
            for p in new {
                crate::sys::kill(p, libc::SIGSTOP);
                frozen.insert(p);
            }
        }
        if frozen.is_empty() {
            // Nothing found: look once more a moment later, in case a process was between
            // parents (reparented to the shim) during that scan.
            std::thread::sleep(std::time::Duration::from_millis(1));
            if select().is_empty() {
                break;
            }
            continue;
        }
        for &p in &frozen {
            if crate::sys::kill(p, libc::SIGKILL) {
                signalled.insert(p);
            }
        }
    }
    signalled.len()
}
