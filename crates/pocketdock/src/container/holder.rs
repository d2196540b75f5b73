//! Which process holds a non-persistent sandbox, so that one whose holder died without cleaning
//! up (SIGKILL, a crash, `timeout`) can be told apart and removed. The holder is recorded in a
//! label as `host:boot-id:pid:start-time`: the pid alone could be reused, the start time (in
//! clock ticks since boot) tells the same process from a later one, the boot id tells this boot
//! from an earlier one, and the host name keeps a sweep on one machine away from sandboxes that
//! processes on another machine hold on a shared engine.

use std::path::Path;

/// Whether a holder can be proven gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HolderState {
    Alive,
    Gone,
    /// Another host's process, or a label we cannot read: never swept.
    Unknown,
}

/// The holder label of the calling process (`None` where `/proc` cannot tell).
pub(crate) fn this_process() -> Option<String> {
    let (host, boot) = (hostname()?, boot_id()?);
    let pid = std::process::id();
    let start = start_time(Path::new("/proc/self/stat"))?;
    Some(format!("{host}:{boot}:{pid}:{start}"))
}

/// What a holder label says of its process, judged from this host.
pub(crate) fn state(label: &str) -> HolderState {
    let mut parts = label.rsplitn(4, ':');
    let (Some(start), Some(pid), Some(boot), Some(host)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return HolderState::Unknown;
    };
    let (Ok(start), Ok(pid)) = (start.parse::<u64>(), pid.parse::<u32>()) else {
        return HolderState::Unknown;
    };
    if Some(host) != hostname().as_deref() {
        return HolderState::Unknown;
    }
    if Some(boot) != boot_id().as_deref() {
        return HolderState::Gone;
    }
    match start_time(&Path::new("/proc").join(pid.to_string()).join("stat")) {
        Some(now) if now == start => HolderState::Alive,
        // No such process, or another process with the same pid.
        _ if !Path::new("/proc/self/stat").exists() => HolderState::Unknown,
        _ => HolderState::Gone,
    }
}

fn hostname() -> Option<String> {
    read_trimmed("/proc/sys/kernel/hostname").filter(|h| !h.contains(':'))
}

fn boot_id() -> Option<String> {
    read_trimmed("/proc/sys/kernel/random/boot_id")
}

fn read_trimmed(path: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// Field 22 of `/proc/PID/stat`: when the process started, in clock ticks since boot.
fn start_time(stat: &Path) -> Option<u64> {
    let stat = std::fs::read_to_string(stat).ok()?;
    // The command name may contain anything, ')' included: the fields follow the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive() {
        let me = this_process().expect("a holder label for this process");
        assert_eq!(state(&me), HolderState::Alive);
    }

    #[test]
    fn a_dead_or_reused_pid_is_gone() {
        let me = this_process().unwrap();
        let (head, start) = me.rsplit_once(':').unwrap();
        let later: u64 = start.parse::<u64>().unwrap() + 1;
        assert_eq!(state(&format!("{head}:{later}")), HolderState::Gone);
        let (host_boot, _) = head.rsplit_once(':').unwrap();
        // Above pid_max: no process has it.
        assert_eq!(
            state(&format!("{host_boot}:99999999:{start}")),
            HolderState::Gone
        );
    }

    #[test]
    fn another_boot_is_gone_and_another_host_unknown() {
        let me = this_process().unwrap();
        let mut parts: Vec<&str> = me.splitn(4, ':').collect();
        parts[1] = "00000000-0000-0000-0000-000000000000";
        assert_eq!(state(&parts.join(":")), HolderState::Gone);
        let other_host = format!("elsewhere:{}", me.split_once(':').unwrap().1);
        assert_eq!(state(&other_host), HolderState::Unknown);
        assert_eq!(state("garbage"), HolderState::Unknown);
        assert_eq!(state("a:b:c:d"), HolderState::Unknown);
    }
}
