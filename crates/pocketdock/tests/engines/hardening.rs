//! Hardened by default, verified from inside the sandbox; every loosening is an option that
//! `info()` reports.

use pocketdock::{create_new_container, KEPT_CAPABILITIES};

use crate::support::TestEngine;
use crate::{cases, Case};

pub fn cases() -> Vec<Case> {
    cases![
        a_default_sandbox_is_hardened,
        every_default_can_be_loosened,
        a_read_only_root_keeps_a_writable_tmp,
    ]
}

/// `CapEff` and `NoNewPrivs` of a command, as the kernel says.
fn status_of(c: &pocketdock::Container, user: &str) -> (u64, String) {
    let r = c
        .command("grep -E '^(CapEff|NoNewPrivs):' /proc/self/status")
        .user(user)
        .run()
        .unwrap();
    assert!(r.ok(), "{r:?}");
    let field = |name: &str| -> String {
        r.stdout
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in {r:?}"))
            .trim()
            .to_string()
    };
    (
        u64::from_str_radix(&field("CapEff:"), 16).unwrap(),
        field("NoNewPrivs:"),
    )
}

/// The capability bits of these names (from capability.h).
fn mask(names: &[&str]) -> u64 {
    names
        .iter()
        .map(|n| match *n {
            "CHOWN" => 0,
            "DAC_OVERRIDE" => 1,
            "FOWNER" => 3,
            "KILL" => 5,
            "SETGID" => 6,
            "SETUID" => 7,
            "MKNOD" => 27,
            other => panic!("no bit for {other}"),
        })
        .fold(0, |m, bit| m | 1 << bit)
}

const PIDS_MAX: &str =
    "cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max";

fn interfaces(c: &pocketdock::Container) -> Vec<String> {
    let r = c.run("ls /sys/class/net").unwrap();
    r.stdout.split_whitespace().map(String::from).collect()
}

fn a_default_sandbox_is_hardened(e: &TestEngine) {
    let c = e.shared();
    // The sandbox's own user has no capability at all; root only the few kept.
    assert_eq!(status_of(&c, "sandbox"), (0, "1".into()));
    assert_eq!(status_of(&c, "root"), (mask(KEPT_CAPABILITIES), "1".into()));
    if crate::support::cgroup_limits_apply() {
        assert_eq!(c.run(PIDS_MAX).unwrap().stdout.trim(), "512");
    }
    assert_eq!(interfaces(&c), ["lo"]);
    if crate::support::expected_transport() != pocketdock::Transport::EngineExec {
        // Set by the agent on every command it starts (engine execs keep the engine's).
        assert_eq!(c.run("ulimit -n; ulimit -c").unwrap().stdout, "4096\n0\n");
    }
    // Root has none of the engine's other defaults: no device nodes (MKNOD).
    let r = c
        .command(format!("mknod /tmp/null-{} c 1 3", std::process::id()))
        .user("root")
        .run()
        .unwrap();
    assert!(!r.ok() && r.stderr.contains("not permitted"), "{r:?}");
    let info = c.info().unwrap();
    let h = &info.hardening;
    assert!(
        h.capabilities_dropped && h.no_new_privileges && !h.read_only,
        "{h:?}"
    );
    let mut caps = h.capabilities.clone();
    caps.sort();
    assert_eq!(caps, KEPT_CAPABILITIES);
    // What is in force: none where the engine applies no cgroup limits.
    let limit = crate::support::cgroup_limits_apply().then_some(512);
    assert_eq!(h.pids_limit, limit);
    assert!(!info.network);
}

fn every_default_can_be_loosened(e: &TestEngine) {
    let c = create_new_container(
        e.options()
            .network(true)
            .cap_add("cap_mknod")
            .no_new_privileges(false)
            .pids_limit(0),
    )
    .unwrap();
    let mut kept = KEPT_CAPABILITIES.to_vec();
    kept.push("MKNOD");
    assert_eq!(status_of(&c, "root"), (mask(&kept), "0".into()));
    assert_eq!(status_of(&c, "sandbox"), (0, "0".into()));
    if crate::support::cgroup_limits_apply() {
        assert_eq!(c.run(PIDS_MAX).unwrap().stdout.trim(), "max");
    }
    assert!(interfaces(&c).len() > 1, "{:?}", interfaces(&c));
    if !crate::support::rootless() {
        let r = c
            .command("mknod /tmp/null c 1 3 && echo made")
            .user("root")
            .run()
            .unwrap();
        assert_eq!(r.stdout, "made\n", "{r:?}");
    }
    let info = c.info().unwrap();
    let h = &info.hardening;
    assert!(h.capabilities_dropped && !h.no_new_privileges, "{h:?}");
    assert!(h.capabilities.iter().any(|c| c == "MKNOD"), "{h:?}");
    assert_eq!(h.pids_limit, None);
    assert!(info.network);
}

fn a_read_only_root_keeps_a_writable_tmp(e: &TestEngine) {
    let c = create_new_container(e.options().read_only(true)).unwrap();
    let r = c.run("touch /home/sandbox/x").unwrap();
    assert!(
        !r.ok() && r.stderr.contains("Read-only file system"),
        "{r:?}"
    );
    let r = c.command("touch /etc/x").user("root").run().unwrap();
    assert!(
        !r.ok() && r.stderr.contains("Read-only file system"),
        "{r:?}"
    );
    let r = c.run("echo kept > /tmp/x && cat /tmp/x").unwrap();
    assert_eq!(r.stdout, "kept\n", "{r:?}");
    assert_eq!(c.transport(), crate::support::expected_transport());
    assert!(c.info().unwrap().hardening.read_only);
    // Files still move in and out where the sandbox may write; elsewhere a typed error.
    c.write_file("/tmp/in/deep.txt", "pushed").unwrap();
    assert_eq!(c.read_file("/tmp/in/deep.txt").unwrap(), b"pushed");
    let err = c.write_file("/home/sandbox/no.txt", "x").unwrap_err();
    assert!(
        matches!(err, pocketdock::Error::ReadOnlyFileSystem { .. }),
        "{err:?}"
    );
    assert!(c.read_file("/tmp/missing").unwrap_err().is_file_not_found());
}
