//! A command's whole process tree, found through `/proc`: every process whose chain of parents
//! reaches the command's shim. The shim is a child subreaper, so nothing the command starts can
//! leave that tree — not by `setsid`, a double fork, or clearing its environment.

use std::collections::{HashMap, HashSet};

/// `(pid, ppid)` of every live (not zombie) process.
fn processes() -> Vec<(i32, i32)> {
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
        if state == "Z" || state == "X" {
            return None;
        }
        Some((pid, fields.next()?.parse().ok()?))
    })
    .collect()
}

/// Every descendant of `root` (not `root` itself).
pub fn descendants(root: i32) -> Vec<i32> {
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    for (pid, ppid) in processes() {
        children.entry(ppid).or_default().push(pid);
    }
    let mut out = Vec::new();
    let mut todo = vec![root];
    while let Some(p) = todo.pop() {
        if let Some(kids) = children.get(&p) {
            for &k in kids {
                out.push(k);
                todo.push(k);
            }
        }
    }
    out
}

/// Sends `signal` to every descendant of `root`; returns how many processes got it. SIGKILL
/// first freezes the tree with SIGSTOP until a scan finds nothing new — so that nothing can
/// fork faster than we kill, nor react to a sibling's death — then kills, and repeats until
/// the tree is empty.
pub fn signal_tree(root: i32, signal: i32) -> usize {
    if signal != libc::SIGKILL {
        return descendants(root)
            .into_iter()
            .filter(|&p| crate::sys::kill(p, signal))
            .count();
    }
    let mut signalled = HashSet::new();
    for _ in 0..200 {
        let mut frozen = HashSet::new();
        for _ in 0..10_000 {
            let new: Vec<i32> = descendants(root)
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
            break;
        }
        for &p in &frozen {
            if crate::sys::kill(p, libc::SIGKILL) {
                signalled.insert(p);
            }
        }
    }
    signalled.len()
}
