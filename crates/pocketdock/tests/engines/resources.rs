//! Container options seen from inside the container and from inspect; `info()`.

use std::io::{Read, Write};
use std::time::Duration;

use pocketdock::{create_new_container, ContainerOptions, Error};

use crate::support::{eventually, TestEngine};
use crate::{cases, Case};

pub fn cases() -> Vec<Case> {
    cases![
        mem_limit_reaches_the_cgroup,
        the_oom_killer_is_named_and_the_sandbox_survives,
        bad_mem_limits_fail_before_any_engine_call,
        cpu_percent_sets_a_quota_of_one_core,
        volume_writes_appear_on_the_host,
        device_is_passed_through,
        published_port_answers_on_the_host,
        profile_sets_image_and_turns_the_network_off,
        unknown_profile_lists_the_known_ones,
        info_reports_a_running_container,
        info_of_a_stopped_container_has_no_live_figures,
    ]
}

/// The memory limit as the cgroup (v1 or v2) inside the container sees it.
const CGROUP_MEMORY: &str =
    "cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes";

fn mem_limit_reaches_the_cgroup(e: &TestEngine) {
    if !crate::support::cgroup_limits_apply() {
        return;
    }
    let c = create_new_container(e.options().mem_limit("64m")).unwrap();
    assert_eq!(
        e.inspect(&c.id()).host_config.unwrap().memory,
        Some(64 << 20)
    );
    let r = c.run(CGROUP_MEMORY).unwrap();
    assert_eq!(r.stdout.trim(), (64u64 << 20).to_string(), "{r:?}");
}

fn bad_mem_limits_fail_before_any_engine_call(_e: &TestEngine) {
    // A socket that does not exist: only an error raised before connecting can be InvalidArgument.
    let nowhere = ContainerOptions::default().socket_path("/nonexistent/engine.sock");
    for bad in ["lots", "1.5g", "-5m", "12q", "0"] {
        let err = create_new_container(nowhere.clone().mem_limit(bad)).unwrap_err();
        assert!(
            matches!(err, Error::InvalidArgument { ref detail } if detail.contains(bad)),
            "{bad}: {err:?}"
        );
    }
    let err = create_new_container(nowhere.cpu_percent(150)).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
}

fn cpu_percent_sets_a_quota_of_one_core(e: &TestEngine) {
    if !crate::support::cgroup_limits_apply() {
        return;
    }
    let c = create_new_container(e.options().cpu_percent(50)).unwrap();
    assert_eq!(
        e.inspect(&c.id()).host_config.unwrap().nano_cpus,
        Some(500_000_000)
    );
    let r = c
        .run("cat /sys/fs/cgroup/cpu.max 2>/dev/null || echo $(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) $(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)")
        .unwrap();
    let nums: Vec<f64> = r
        .stdout
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect();
    assert_eq!(nums.len(), 2, "{r:?}");
    assert!(
        (nums[0] / nums[1] - 0.5).abs() < 1e-9,
        "quota/period = {r:?}"
    );
}

fn volume_writes_appear_on_the_host(e: &TestEngine) {
    let dir = tempfile::tempdir().unwrap();
    // The sandbox user is not root: let it write.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    std::fs::write(dir.path().join("from-host.txt"), "host says hi").unwrap();
    let c = create_new_container(e.options().volume(dir.path(), "/data")).unwrap();
    let r = c
        .run("cat /data/from-host.txt && echo written > /data/from-container.txt")
        .unwrap();
    assert_eq!(r.stdout, "host says hi", "{r:?}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("from-container.txt")).unwrap(),
        "written\n"
    );
}

fn device_is_passed_through(e: &TestEngine) {
    let c = create_new_container(e.options().device("/dev/zero:/dev/pd-zero")).unwrap();
    let r = c.run("head -c 4 /dev/pd-zero | od -An -tx1").unwrap();
    assert_eq!(
        r.stdout.split_whitespace().collect::<Vec<_>>(),
        ["00", "00", "00", "00"],
        "{r:?}"
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn published_port_answers_on_the_host(e: &TestEngine) {
    let host_port = free_port();
    let c = create_new_container(e.options().port(host_port, 8080)).unwrap();
    c.run("mkdir -p /tmp/www && echo served > /tmp/www/index.html")
        .unwrap();
    let server = c
        .command("cd /tmp/www && exec python3 -m http.server 8080")
        .spawn()
        .unwrap();
    let mut body = String::new();
    eventually(
        Duration::from_secs(20),
        "the server to answer on the host port",
        || {
            let Ok(mut conn) = e.connect_published(host_port) else {
                return false;
            };
            let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
            let _ = conn.write_all(b"GET /index.html HTTP/1.0\r\n\r\n");
            body.clear();
            conn.read_to_string(&mut body).is_ok() && body.contains("served")
        },
    );
    assert!(body.starts_with("HTTP/1.0 200"), "{body}");
    assert_eq!(c.info().unwrap().ports.get(&host_port), Some(&8080));
    server.kill(9).unwrap();
}

fn profile_sets_image_and_turns_the_network_off(e: &TestEngine) {
    // minimal-python: our test image, network off by default.
    let c = create_new_container(e.bare_options().profile("minimal-python")).unwrap();
    let info = e.inspect(&c.id());
    assert_eq!(
        info.host_config.unwrap().network_mode.as_deref(),
        Some("none")
    );
    assert!(info
        .config
        .unwrap()
        .image
        .unwrap()
        .contains("pocketdock/minimal-python"));
    let ifaces = c.run("ls /sys/class/net").unwrap().stdout;
    assert_eq!(ifaces.split_whitespace().collect::<Vec<_>>(), ["lo"]);
    assert!(!c.info().unwrap().network);
    // dev: its image is resolved from the profile (and is not built here).
    let err = create_new_container(e.bare_options().profile("dev")).unwrap_err();
    assert!(
        matches!(err, Error::ImageNotFound { ref image } if image == "pocketdock/dev"),
        "{err:?}"
    );
}

fn unknown_profile_lists_the_known_ones(e: &TestEngine) {
    let err = create_new_container(e.options().profile("nope")).unwrap_err();
    match err {
        Error::InvalidArgument { detail } => {
            assert!(detail.contains("minimal-python") && detail.contains("agent"))
        }
        other => panic!("{other:?}"),
    }
}

fn info_reports_a_running_container(e: &TestEngine) {
    let c = create_new_container(e.options().mem_limit("128m").network(true)).unwrap();
    let p = c.command("sleep 300").spawn().unwrap();
    let info = c.info().unwrap();
    assert_eq!(info.status, "running");
    assert_eq!(info.id, c.id());
    assert_eq!(info.name, c.name());
    assert!(
        info.image.contains("pocketdock/minimal-python"),
        "{}",
        info.image
    );
    assert!(info.created_at.is_some() && info.started_at.is_some());
    assert!(info.uptime.is_some());
    if crate::support::cgroup_limits_apply() {
        assert_eq!(info.memory_limit, "128.0 MB");
    }
    assert!(
        info.memory_usage.ends_with('B') && !info.memory_usage.is_empty(),
        "{info:?}"
    );
    assert!(
        info.memory_percent > 0.0 && info.memory_percent < 100.0,
        "{info:?}"
    );
    assert!(info.cpu_percent >= 0.0);
    if crate::support::cgroup_limits_apply() {
        assert!(info.pids >= 2, "{info:?}");
    }
    assert!(info.network && !info.ip_address.is_empty(), "{info:?}");
    assert!(
        info.processes
            .iter()
            .any(|p| p.command.contains("sleep infinity")),
        "{info:?}"
    );
    assert!(info
        .processes
        .iter()
        .all(|p| p.pid > 0 && !p.user.is_empty()));
    p.kill(9).unwrap();
}

fn info_of_a_stopped_container_has_no_live_figures(e: &TestEngine) {
    let c = create_new_container(e.options().persist(true)).unwrap();
    let _guard = crate::support::RemoveOnDrop(e, c.id());
    c.shutdown(false).unwrap();
    let info = c.info().unwrap();
    assert_eq!(info.status, "exited");
    assert!(info.uptime.is_none());
    assert_eq!((info.memory_usage.as_str(), info.pids), ("", 0));
    assert!(info.processes.is_empty());
}

fn the_oom_killer_is_named_and_the_sandbox_survives(e: &TestEngine) {
    let c = create_new_container(e.options().mem_limit("64m")).unwrap();
    let hog = c.run("python3 -c 'x = bytearray(400 << 20)'").unwrap();
    if crate::support::cgroup_limits_apply() {
        assert_eq!((hog.exit_code, hog.oom_killed), (137, true), "{hog:?}");
    }
    // A SIGKILL that is not the OOM killer's is not called one.
    let killed = c.run("kill -9 $$").unwrap();
    assert_eq!(
        (killed.exit_code, killed.oom_killed),
        (137, false),
        "{killed:?}"
    );
    let after = c.run("echo still here").unwrap();
    assert_eq!(
        (after.stdout.as_str(), after.oom_killed),
        ("still here\n", false)
    );
    // A handle that found the sandbox as it is, after kills it never saw: its first command's
    // OOM kill is named too, and the kills before it are not.
    let found = pocketdock::find_container(c.name(), Some(&e.socket)).unwrap();
    let hog = found.run("python3 -c 'x = bytearray(400 << 20)'").unwrap();
    if crate::support::cgroup_limits_apply() {
        assert_eq!((hog.exit_code, hog.oom_killed), (137, true), "{hog:?}");
    }
    let killed = found.run("kill -9 $$").unwrap();
    assert_eq!((killed.exit_code, killed.oom_killed), (137, false));
}
