//! What every engine test needs: the engines under test, sandboxes that are always removed, a
//! side channel to the engine for external actions, and polling with a deadline.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use bollard::query_parameters::RemoveContainerOptions;
use bollard::Docker;
use pocketdock::{create_new_container, Container, ContainerOptions};

/// Label on every container the tests create: the leak check looks for it.
pub const TEST_LABEL: &str = "pocketdock.test";

/// The value of [`TEST_LABEL`] on this run's containers: `1`, or `POCKETDOCK_TEST_RUN` for a
/// run beside another on the same engines (each run's leak check then sees its own only).
pub fn test_run() -> &'static str {
    static RUN: OnceLock<String> = OnceLock::new();
    RUN.get_or_init(|| std::env::var("POCKETDOCK_TEST_RUN").unwrap_or_else(|_| "1".into()))
}
pub const IMAGE: &str = "pocketdock/minimal-python";
pub const BUSYBOX_IMAGE: &str = "pocketdock/busybox";

/// An engine under test.
#[derive(Debug, Clone)]
pub struct TestEngine {
    pub name: &'static str,
    pub socket: PathBuf,
    /// The engine's network namespace when it is not the host's (`POCKETDOCK_TEST_<ENGINE>_NETNS`,
    /// e.g. `/proc/PID/ns/net`): its published ports answer there.
    pub netns: Option<PathBuf>,
}

/// The engines named by `POCKETDOCK_TEST_ENGINES` (default: both), each at the socket given by
/// `POCKETDOCK_TEST_<ENGINE>_SOCKET` (default: the standard path). An engine that is selected
/// but does not answer makes its tests fail; nothing is skipped silently.
pub fn engines_from_env() -> Vec<TestEngine> {
    let selected =
        std::env::var("POCKETDOCK_TEST_ENGINES").unwrap_or_else(|_| "podman,docker".into());
    let mut engines = Vec::new();
    for name in selected.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, default): (&'static str, &str) = match name {
            "podman" => ("podman", "/run/podman/podman.sock"),
            "docker" => ("docker", "/var/run/docker.sock"),
            other => panic!("POCKETDOCK_TEST_ENGINES: unknown engine {other:?} (podman, docker)"),
        };
        let var = format!("POCKETDOCK_TEST_{}_SOCKET", name.to_uppercase());
        let socket = std::env::var(&var)
            .unwrap_or_else(|_| default.into())
            .into();
        let netns = std::env::var_os(format!("POCKETDOCK_TEST_{}_NETNS", name.to_uppercase()))
            .filter(|p| !p.is_empty())
            .map(PathBuf::from);
        engines.push(TestEngine {
            name,
            socket,
            netns,
        });
    }
    engines
}

impl TestEngine {
    /// Options for a sandbox of this engine, labelled as a test container.
    pub fn options(&self) -> ContainerOptions {
        self.bare_options().image(IMAGE)
    }

    /// Like [`options`](Self::options), without choosing the image.
    pub fn bare_options(&self) -> ContainerOptions {
        ContainerOptions::default()
            .socket_path(&self.socket)
            .label(TEST_LABEL, test_run())
    }

    /// A sandbox of its own, removed when dropped (also when the test panics).
    pub fn sandbox(&self) -> Container {
        create_new_container(self.options()).expect("creating a test sandbox")
    }

    /// The sandbox shared by tests that need no isolation (one per engine for the whole run).
    pub fn shared(&self) -> Container {
        static SHARED: OnceLock<Mutex<HashMap<&'static str, Container>>> = OnceLock::new();
        let map = SHARED.get_or_init(Default::default);
        let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(self.name)
            .or_insert_with(|| {
                let c = self.sandbox();
                SHARED_IDS
                    .lock()
                    .unwrap()
                    .push((self.clone(), c.id().to_string()));
                c
            })
            .clone()
    }

    /// Connects to a port the engine published on its loopback: the host's, or that of the
    /// engine's own network namespace (from a thread that joins it, so nothing else moves).
    #[allow(unsafe_code)]
    pub fn connect_published(&self, port: u16) -> std::io::Result<std::net::TcpStream> {
        let Some(netns) = self.netns.clone() else {
            return std::net::TcpStream::connect(("127.0.0.1", port));
        };
        std::thread::spawn(move || {
            use std::os::fd::AsRawFd;
            let ns = std::fs::File::open(&netns)?;
            // SAFETY: setns on this thread only, with a descriptor we own.
            if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
            std::net::TcpStream::connect(("127.0.0.1", port))
        })
        .join()
        .expect("the connecting thread")
    }

    /// A program of the engine's own system, for a test that starts an engine service of its
    /// own: the host's, or — for an engine in namespaces of its own (the newer engines, see
    /// `netns`) — a wrapper script in `dir` that runs it in the engine's mount and network
    /// namespaces, so that the service is the engine's version and sees the engine's root.
    pub fn engine_program(&self, name: &str, dir: &std::path::Path) -> String {
        let Some(netns) = &self.netns else {
            return name.into();
        };
        // The engine's namespaces are those of its process: /proc/PID/ns/net names it.
        let process = netns
            .parent()
            .and_then(|ns| ns.parent())
            .expect("/proc/PID/ns/net");
        let pid = process.file_name().unwrap().to_string_lossy();
        let wrapper = dir.join(format!("{name}-in-engine-namespaces"));
        std::fs::write(
            &wrapper,
            format!("#!/bin/sh\nexec nsenter --target {pid} --mount --net -- {name} \"$@\"\n"),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
        wrapper.to_string_lossy().into_owned()
    }

    /// A raw engine client for what the tests do behind pocketdock's back.
    pub fn docker(&self) -> Docker {
        Docker::connect_with_unix(
            &self.socket.to_string_lossy(),
            60,
            &bollard::ClientVersion {
                major_version: 1,
                minor_version: 41,
            },
        )
        .expect("engine client")
    }

    /// Removes a container behind pocketdock's back.
    pub fn remove_externally(&self, id: &str) {
        let docker = self.docker();
        rt().block_on(async {
            docker
                .remove_container(
                    id,
                    Some(RemoveContainerOptions {
                        force: true,
                        ..Default::default()
                    }),
                )
                .await
        })
        .expect("external removal");
    }

    /// Whether the engine still knows a container.
    pub fn exists(&self, id: &str) -> bool {
        let docker = self.docker();
        rt().block_on(async { docker.inspect_container(id, None).await })
            .is_ok()
    }

    pub fn inspect(&self, id: &str) -> bollard::models::ContainerInspectResponse {
        let docker = self.docker();
        rt().block_on(async { docker.inspect_container(id, None).await })
            .expect("inspect")
    }

    /// Names of test containers still on the engine. Through a plain HTTP/1.0 GET and loose
    /// JSON: bollard's strict model rejects Podman's `stopped` state.
    pub fn leftover_test_containers(&self) -> Vec<String> {
        use std::io::{Read, Write};
        let listed = (|| -> std::io::Result<Vec<String>> {
            let mut s = std::os::unix::net::UnixStream::connect(&self.socket)?;
            s.set_read_timeout(Some(Duration::from_secs(30)))?;
            let filter = format!(
                "%7B%22label%22%3A%5B%22{TEST_LABEL}%3D{}%22%5D%7D",
                test_run()
            );
            write!(
                s,
                "GET /containers/json?all=1&filters={filter} HTTP/1.0\r\nHost: d\r\n\r\n"
            )?;
            let mut response = String::new();
            s.read_to_string(&mut response)?;
            let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
            let list: Vec<serde_json::Value> =
                serde_json::from_str(body).map_err(std::io::Error::other)?;
            Ok(list
                .iter()
                .filter_map(|c| c["Names"][0].as_str().map(String::from))
                .collect())
        })();
        listed.unwrap_or_else(|e| vec![format!("<cannot list: {e}>")])
    }
}

static SHARED_IDS: Mutex<Vec<(TestEngine, String)>> = Mutex::new(Vec::new());

/// Removes the shared sandboxes (statics are never dropped).
pub fn remove_shared_sandboxes() {
    for (engine, id) in SHARED_IDS.lock().unwrap().drain(..) {
        if engine.exists(&id) {
            engine.remove_externally(&id);
        }
    }
}

/// A persistent container's guard: force-removes it on drop, as pocketdock itself won't.
pub struct RemoveOnDrop<'a>(pub &'a TestEngine, pub String);

impl Drop for RemoveOnDrop<'_> {
    fn drop(&mut self) {
        if self.0.exists(&self.1) {
            self.0.remove_externally(&self.1);
        }
    }
}

/// Removes an image (force) when dropped.
pub struct RemoveImageOnDrop<'a>(pub &'a TestEngine, pub String);

impl Drop for RemoveImageOnDrop<'_> {
    fn drop(&mut self) {
        let docker = self.0.docker();
        let opts = bollard::query_parameters::RemoveImageOptions {
            force: true,
            ..Default::default()
        };
        let _ = rt().block_on(async { docker.remove_image(&self.1, Some(opts), None).await });
    }
}

/// Runs a future to its end on [`rt`].
pub fn block<F: std::future::Future>(f: F) -> F::Output {
    rt().block_on(f)
}

/// A runtime for the tests' own engine calls.
pub fn rt() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    })
}

/// Polls `check` until it holds or `within` passes; for states the engine offers no event for.
pub fn eventually(within: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// The command lines of the processes running in the container.
pub fn processes(c: &Container) -> Vec<String> {
    let r = c.run("ps -eo args=").expect("ps");
    assert!(r.ok(), "ps failed: {r:?}");
    r.stdout.lines().map(str::to_string).collect()
}

/// The transport this run tests: the agent, or the engine's exec when
/// `POCKETDOCK_TRANSPORT=exec`, or the agent through its engine-exec bridge when `=bridge`.
pub fn expected_transport() -> pocketdock::Transport {
    match std::env::var("POCKETDOCK_TRANSPORT").as_deref() {
        Ok("exec") => pocketdock::Transport::EngineExec,
        Ok("bridge") => pocketdock::Transport::AgentBridge,
        _ => pocketdock::Transport::Agent,
    }
}

/// `POCKETDOCK_TEST_ROOTLESS=1`: the engine is rootless Podman on cgroup v1 (as in CI), run by
/// a normal user. There the kernel and Podman refuse what no client can change, and only
/// those assertions are left out: cgroup limits (memory, CPU, pids) are accepted and not
/// applied, and no device node can be made in a user namespace.
pub fn rootless() -> bool {
    std::env::var("POCKETDOCK_TEST_ROOTLESS").is_ok_and(|v| v == "1")
}

/// Whether the engine applies cgroup limits (see [`rootless`]).
pub fn cgroup_limits_apply() -> bool {
    !rootless()
}

/// A name no other test (or earlier run) uses, for files and sleep durations.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{:08x}", rand_u32())
}

fn rand_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos() ^ std::process::id() as u128);
    h.finish() as u32
}

/// A sleep duration unlikely to be used by anything else, so `ps` can find exactly ours.
pub fn unique_sleep() -> u32 {
    100_000 + rand_u32() % 800_000
}

/// This test binary run again as a helper process (`main` turns it into one when `var` is
/// set): its stdout piped, and the first line it says (it says one when it is ready).
pub fn helper_process(var: &str, value: &str) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .env(var, value)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line)
}
