//! Engine services of a test's own: a private Podman service found by discovery, and the
//! engine going away in the middle of a command and coming back — on a service started for the
//! test alone (Podman on the same storage, a second dockerd on a store of its own), so that no
//! other test's engine is disturbed.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use pocketdock::engine::Discovery;
use pocketdock::{create_new_container, Container, Error, Transport};

use crate::support::{block, eventually, TestEngine, BUSYBOX_IMAGE};
use crate::Case;

pub fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "engine_services::private_podman_service_when_no_socket_answers".into(),
            run: private_podman_service_when_no_socket_answers,
            only: Some("podman"),
        },
        Case {
            name: "engine_services::podman_restarted_during_a_command".into(),
            run: podman_restarted_during_a_command,
            only: Some("podman"),
        },
        Case {
            name: "engine_services::docker_restarted_during_a_command".into(),
            run: docker_restarted_during_a_command,
            only: Some("docker"),
        },
        Case {
            name: "engine_services::transfers_in_flight_end_when_the_sandbox_is_removed".into(),
            run: transfers_in_flight_end_when_the_sandbox_is_removed,
            only: None,
        },
        Case {
            name: "engine_services::a_push_ends_when_the_engine_stops_answering".into(),
            run: a_push_ends_when_the_engine_stops_answering,
            only: Some("podman"),
        },
    ]
}

/// A push and a pull, each under way when its sandbox is removed behind our back: each ends,
/// whole or with `ContainerGone`, and leaves no partial file. On Podman this runs on a service
/// and store of the test's own: in one CI run, a removal during an upload wedged Podman 5.4's
/// service for good, and no other test's engine may go with it. Docker holds a forced removal
/// back until an upload has ended, so there the push may end whole.
fn transfers_in_flight_end_when_the_sandbox_is_removed(e: &TestEngine) {
    let dir = tempfile::tempdir().unwrap();
    let service = (e.name == "podman").then(|| PrivatePodman::start(e, &dir.path().join("podman")));
    let engine = match &service {
        Some(service) => {
            let private = TestEngine {
                socket: service.socket(),
                ..e.clone()
            };
            copy_image(e, &private, BUSYBOX_IMAGE);
            private
        }
        None => e.clone(),
    };
    let sandbox = || create_new_container(engine.bare_options().image(BUSYBOX_IMAGE)).unwrap();
    let ends = Duration::from_secs(120);

    // A GiB of a sparse host file: more than can be sent before the removal comes.
    let big = dir.path().join("big");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    let c = sandbox();
    assert!(c.run("mkdir /tmp/in").unwrap().ok());
    let pushed = in_background({
        let c = c.clone();
        move || c.push(&big, "/tmp/in")
    });
    if e.name == "podman" {
        eventually(Duration::from_secs(30), "the push to be under way", || {
            c.run("ls -A /tmp/in")
                .is_ok_and(|r| r.stdout.contains(".pocketdock-partial"))
        });
    }
    engine.remove_externally(&c.id());
    let pushed = pushed.recv_timeout(ends).expect("the push to end");
    eprintln!("{}: the push removed mid-flight: {pushed:?}", e.name);
    match (e.name, pushed) {
        ("docker", Ok(())) => {}
        (_, pushed) => assert!(
            matches!(pushed, Err(Error::ContainerGone { .. })),
            "the push: {pushed:?}"
        ),
    }

    // Two GiB of a sparse file in the sandbox, pulled to the host.
    let c = sandbox();
    assert!(c.run("truncate -s 2G /tmp/big").unwrap().ok());
    let out = dir.path().join("pulled");
    std::fs::create_dir(&out).unwrap();
    let pulled = in_background({
        let (c, out) = (c.clone(), out.clone());
        move || c.pull("/tmp/big", &out)
    });
    let names = || -> Vec<String> {
        std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    };
    eventually(Duration::from_secs(30), "the pull to be under way", || {
        !names().is_empty()
    });
    engine.remove_externally(&c.id());
    let pulled = pulled.recv_timeout(ends).expect("the pull to end");
    eprintln!("{}: the pull removed mid-flight: {pulled:?}", e.name);
    match pulled {
        Ok(()) => {
            assert_eq!(names(), ["big"]);
            assert_eq!(std::fs::metadata(out.join("big")).unwrap().len(), 2 << 30);
        }
        Err(Error::ContainerGone { .. }) => assert_eq!(names(), Vec::<String>::new()),
        Err(other) => panic!("the pull: {other:?}"),
    }
}

/// A push under way when its engine stops answering (a private Podman service, frozen with
/// SIGSTOP): it ends with a typed error once the engine has been silent for 30 s, instead of
/// waiting for good. Transfers take the same path whatever the commands' transport: this runs
/// in the agent's pass only.
fn a_push_ends_when_the_engine_stops_answering(e: &TestEngine) {
    if crate::support::expected_transport() != Transport::Agent {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let service = PrivatePodman::start(e, &dir.path().join("podman"));
    let engine = TestEngine {
        socket: service.socket(),
        ..e.clone()
    };
    copy_image(e, &engine, BUSYBOX_IMAGE);
    let c = create_new_container(engine.bare_options().image(BUSYBOX_IMAGE)).unwrap();
    let big = dir.path().join("big");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(8 << 30)
        .unwrap();
    assert!(c.run("mkdir /tmp/in").unwrap().ok());
    let pushed = in_background({
        let c = c.clone();
        move || c.push(&big, "/tmp/in")
    });
    eventually(Duration::from_secs(30), "the push to be under way", || {
        c.run("ls -A /tmp/in")
            .is_ok_and(|r| r.stdout.contains(".pocketdock-partial"))
    });
    let frozen = service.signal_all(libc::SIGSTOP);
    assert!(frozen > 0, "no process of the service to freeze");
    let pushed = pushed.recv_timeout(Duration::from_secs(120));
    service.signal_all(libc::SIGCONT);
    let pushed = pushed.expect("the push to end while the engine is silent");
    assert!(
        matches!(pushed, Err(Error::SocketCommunication { ref detail }) if detail.contains("did not answer")),
        "the push: {pushed:?}"
    );
}

/// Runs `f` on a thread of its own; its result comes on the channel (a hang is a timeout of
/// the receiver, not of the test run).
fn in_background<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> std::sync::mpsc::Receiver<T> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx
}

fn private_podman_service_when_no_socket_answers(e: &TestEngine) {
    let dir = tempfile::tempdir().unwrap();
    let private = dir.path().join("private");
    let d = Discovery {
        candidates: vec![],
        private_dir: Some(private.clone()),
        podman_binary: e.engine_program("podman", dir.path()),
    };
    let socket = block(d.discover()).unwrap();
    let _service = KillOnDrop(socket.clone());
    assert_eq!(socket, private.join("podman.sock"));
    // It is a working engine, and a second discovery reuses it rather than starting another.
    assert_eq!(block(d.discover()).unwrap(), socket);
    let c = create_new_container(e.options().socket_path(&socket)).unwrap();
    assert_eq!(c.run("echo private").unwrap().stdout, "private\n");
    c.shutdown(true).unwrap();
}

/// The private Podman service is killed mid-command and discovered (started) again.
fn podman_restarted_during_a_command(e: &TestEngine) {
    let dir = tempfile::tempdir().unwrap();
    let d = Discovery {
        candidates: vec![],
        private_dir: Some(dir.path().join("private")),
        podman_binary: e.engine_program("podman", dir.path()),
    };
    let socket = block(d.discover()).unwrap();
    let mut service = Some(KillOnDrop(socket.clone()));
    same_version(e, &socket);
    let mut again = None;
    let c = create_new_container(e.options().socket_path(&socket)).unwrap();
    engine_restarted_during_a_command(
        &c,
        || drop(service.take()),
        || again = Some(KillOnDrop(block(d.discover()).unwrap())),
    );
    c.shutdown(true).unwrap();
}

/// A second dockerd, on a store and state of its own with `--live-restore` (without it a
/// dockerd that stops takes its containers down with it), is stopped mid-command and started
/// again.
fn docker_restarted_during_a_command(e: &TestEngine) {
    let dir = tempfile::tempdir().unwrap();
    let mut dockerd = PrivateDockerd::new(e, dir.path());
    dockerd.start();
    let private = TestEngine {
        socket: dockerd.socket(),
        ..e.clone()
    };
    same_version(e, &private.socket);
    copy_image(e, &private, BUSYBOX_IMAGE);
    // Before the sandbox: dropped after it, also when the test fails.
    let dockerd = std::cell::RefCell::new(dockerd);
    let c = create_new_container(private.bare_options().image(BUSYBOX_IMAGE)).unwrap();
    let bridge_before = Path::new("/sys/class/net/docker0").exists();
    engine_restarted_during_a_command(
        &c,
        || dockerd.borrow_mut().stop(),
        || dockerd.borrow_mut().start(),
    );
    c.shutdown(true).unwrap();
    assert!(
        !bridge_before || Path::new("/sys/class/net/docker0").exists(),
        "the host's docker0 went while a dockerd of the test's own ran"
    );
}

/// What both engines must do: through the agent the command does not need the engine and
/// finishes; through the engine's exec it ends, within 10 s, with a typed error. Once the
/// engine is back the same handle works again, for commands and for engine calls alike.
fn engine_restarted_during_a_command(c: &Container, stop: impl FnOnce(), start: impl FnOnce()) {
    let p = c
        .command("echo started; sleep 3; echo done")
        .spawn()
        .unwrap();
    eventually(Duration::from_secs(20), "the command to start", || {
        p.peek().stdout.contains("started")
    });
    let t = Instant::now();
    stop();
    let ended = p.wait(Some(Duration::from_secs(30)));
    let took = t.elapsed();
    match c.transport() {
        Transport::Agent => {
            let r = ended.expect("through the agent the engine is not needed");
            assert_eq!((r.exit_code, r.stdout.as_str()), (0, "started\ndone\n"));
        }
        Transport::AgentBridge | Transport::EngineExec => {
            assert!(
                took < Duration::from_secs(10),
                "the command took {took:?} to end after the engine went"
            );
            assert!(
                matches!(
                    ended,
                    Err(Error::SocketConnection { .. } | Error::SocketCommunication { .. })
                ),
                "a typed error saying the engine went: {ended:?}"
            );
        }
    }
    start();
    eventually(Duration::from_secs(30), "calls to work again", || {
        c.run("echo back").is_ok_and(|r| r.stdout == "back\n") && c.info().is_ok()
    });
}

/// The service of the test's own is the engine under test's version (`engine_program`).
fn same_version(e: &TestEngine, socket: &Path) {
    let other = TestEngine {
        socket: socket.to_path_buf(),
        ..e.clone()
    };
    let version = |t: &TestEngine| block(t.docker().version()).unwrap().version;
    assert_eq!(version(&other), version(e));
}

/// Saves an image from one engine and loads it into another (a few MB: the busybox image).
fn copy_image(from: &TestEngine, to: &TestEngine, image: &str) {
    let (source, target) = (from.docker(), to.docker());
    block(async {
        let mut saved = Vec::new();
        let mut chunks = source.export_image(image);
        while let Some(chunk) = chunks.next().await {
            saved.extend_from_slice(&chunk.expect("saving the image"));
        }
        let mut loaded = target.import_image(
            bollard::query_parameters::ImportImageOptions::default(),
            bollard::body_full(saved.into()),
            None,
        );
        while let Some(progress) = loaded.next().await {
            progress.expect("loading the image");
        }
    });
}

/// A dockerd of the test's own under `dir`, with the engine's own `dockerd` program. Dropped,
/// it stops, and so does whatever it started (its containerd, shims).
struct PrivateDockerd {
    /// `unshare`, of the engine's own system: it starts dockerd.
    program: String,
    umount: String,
    dir: PathBuf,
    child: Option<Child>,
}

impl PrivateDockerd {
    fn new(e: &TestEngine, dir: &Path) -> Self {
        std::fs::write(dir.join("daemon.json"), "{}").unwrap();
        PrivateDockerd {
            program: e.engine_program("unshare", dir),
            umount: e.engine_program("umount", dir),
            dir: dir.to_path_buf(),
            child: None,
        }
    }

    fn socket(&self) -> PathBuf {
        self.dir.join("docker.sock")
    }

    fn start(&mut self) {
        let d = self.dir.to_string_lossy().into_owned();
        // Its own containerd namespace too: dockerd uses the system's containerd when one runs.
        let namespace = format!("pdtest-{}", std::process::id());
        // In a network namespace of its own: a dockerd without a bridge deletes `docker0`
        // where it runs, which would cut off the engine under test's containers.
        let mut dockerd = std::process::Command::new(&self.program);
        dockerd
            .args(["--net", "dockerd"])
            .args(["--host", &format!("unix://{d}/docker.sock")])
            .args(["--data-root", &format!("{d}/data")])
            .args(["--exec-root", &format!("{d}/exec")])
            .args(["--pidfile", &format!("{d}/dockerd.pid")])
            .args(["--config-file", &format!("{d}/daemon.json")])
            .args(["--containerd-namespace", &namespace])
            .args([
                "--containerd-plugins-namespace",
                &format!("{namespace}-plugins"),
            ])
            .args(["--bridge", "none", "--iptables=false"])
            .arg("--live-restore");
        self.child = Some(start_service(dockerd, &self.dir.join("dockerd.log")));
        wait_until_answers("docker", &self.socket());
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            stop_service(&mut child);
        }
    }
}

impl Drop for PrivateDockerd {
    fn drop(&mut self) {
        show_log_if_panicking(&self.dir.join("dockerd.log"));
        self.stop();
        drop(KillOnDrop(self.dir.clone()));
        // dockerd mounts its store on itself and its containers' network namespaces under its
        // state, and leaves them when it stops: they go with the directory (in the engine's
        // mount namespace, where they were made).
        for made in ["data", "exec"] {
            let _ = std::process::Command::new(&self.umount)
                .args(["--recursive", "--lazy"])
                .arg(self.dir.join(made))
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// A Podman service of the test's own, the engine under test's version, on a store of its own
/// (`--root`, `--runroot`). Dropped, it stops, with whatever it started, and its store's
/// mount goes.
struct PrivatePodman {
    program: String,
    /// `sh`, in the engine's mount namespace.
    sh: String,
    dir: PathBuf,
    service: Child,
}

impl PrivatePodman {
    fn start(e: &TestEngine, dir: &Path) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        // The wrappers beside the store, which goes first when the service is dropped.
        let wrappers = dir.parent().unwrap();
        let program = e.engine_program("podman", wrappers);
        let d = dir.to_string_lossy().into_owned();
        let mut podman = std::process::Command::new(&program);
        podman.args(Self::store_args(dir)).args([
            "system",
            "service",
            "--time=0",
            &format!("unix://{d}/podman.sock"),
        ]);
        let service = PrivatePodman {
            program,
            sh: e.engine_program("sh", wrappers),
            dir: dir.to_path_buf(),
            service: start_service(podman, &dir.join("podman.log")),
        };
        let socket = service.socket();
        wait_until_answers("podman", &socket);
        same_version(e, &socket);
        service
    }

    fn store_args(dir: &Path) -> Vec<String> {
        let d = dir.to_string_lossy();
        ["root", "runroot", "tmpdir"]
            .iter()
            .flat_map(|what| [format!("--{what}"), format!("{d}/{what}")])
            .collect()
    }

    fn socket(&self) -> PathBuf {
        self.dir.join("podman.sock")
    }

    /// Signals the service's processes (rootless Podman runs on in a child of the one started);
    /// how many there were.
    fn signal_all(&self, sig: i32) -> usize {
        let socket = self.socket().to_string_lossy().into_owned();
        let mut count = 0;
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains("system service") && cmdline.contains(&socket) {
                if let Ok(pid) = entry.file_name().to_string_lossy().parse() {
                    signal(pid, sig);
                    count += 1;
                }
            }
        }
        count
    }
}

impl Drop for PrivatePodman {
    fn drop(&mut self) {
        show_log_if_panicking(&self.dir.join("podman.log"));
        stop_service(&mut self.service);
        // Its conmons, and the `podman container cleanup` they start (which may mount the store
        // again), then every mount below the directory, where Podman made them: in the engine's
        // mount namespace, or in a rootless user's (`podman unshare`). Until the store can go.
        let unmount = "awk -v d=\"$1\" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo \
            | sort -r | while read -r m; do umount --lazy \"$m\"; done";
        for _ in 0..20 {
            drop(KillOnDrop(self.dir.clone()));
            let mut sh = if is_root() {
                std::process::Command::new(&self.sh)
            } else {
                let mut c = std::process::Command::new(&self.program);
                c.args(Self::store_args(&self.dir)).args(["unshare", "sh"]);
                c
            };
            let _ = sh
                .args(["-c", unmount, "sh"])
                .arg(&self.dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            if std::fs::remove_dir_all(&self.dir).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

/// Starts an engine service of a test's own from `/`, its output appended to `log`.
fn start_service(mut command: std::process::Command, log: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    command
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {command:?}: {e}"))
}

fn wait_until_answers(name: &'static str, socket: &Path) {
    let probe = TestEngine {
        name,
        socket: socket.to_path_buf(),
        netns: None,
    };
    eventually(
        Duration::from_secs(60),
        &format!("the private {name} to answer"),
        || socket.exists() && block(probe.docker().ping()).is_ok(),
    );
}

/// SIGTERM, as a service manager stops it; SIGKILL if it has not gone in 20 s.
fn stop_service(child: &mut Child) {
    signal(child.id(), libc::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The end of a service's log, for a test that failed.
fn show_log_if_panicking(log: &Path) {
    if std::thread::panicking() {
        let text = std::fs::read(log).unwrap_or_default();
        let tail = String::from_utf8_lossy(&text[text.len().saturating_sub(4000)..]);
        eprintln!("--- {} (end) ---\n{tail}", log.display());
    }
}

/// Kills, when dropped, every process whose command line mentions the path.
struct KillOnDrop(PathBuf);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let needle = self.0.to_string_lossy().to_string();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(&needle) {
                if let Ok(pid) = entry.file_name().to_string_lossy().parse() {
                    signal(pid, libc::SIGTERM);
                }
            }
        }
    }
}

#[allow(unsafe_code)]
fn is_root() -> bool {
    // SAFETY: geteuid(2) has no effects.
    unsafe { libc::geteuid() == 0 }
}

#[allow(unsafe_code)]
fn signal(pid: u32, signal: i32) {
    // SAFETY: kill(2) with a pid and a signal number has no memory effects.
    unsafe { libc::kill(pid as i32, signal) };
}
