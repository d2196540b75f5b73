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
    ]
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
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("dockerd.log"))
            .unwrap();
        // In a network namespace of its own: a dockerd without a bridge deletes `docker0`
        // where it runs, which would cut off the engine under test's containers.
        let child = std::process::Command::new(&self.program)
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
            .arg("--live-restore")
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting dockerd");
        self.child = Some(child);
        let engine = self.socket();
        eventually(
            Duration::from_secs(60),
            "the private dockerd to answer",
            || {
                let probe = TestEngine {
                    name: "docker",
                    socket: engine.clone(),
                    netns: None,
                };
                engine.exists() && block(probe.docker().ping()).is_ok()
            },
        );
    }

    /// SIGTERM, as a service manager stops it; SIGKILL if it has not gone in 20 s.
    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        signal(child.id(), libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(20);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for PrivateDockerd {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = std::fs::read(self.dir.join("dockerd.log")).unwrap_or_default();
            let tail = String::from_utf8_lossy(&log[log.len().saturating_sub(4000)..]);
            eprintln!("--- the private dockerd's log (end) ---\n{tail}");
        }
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
fn signal(pid: u32, signal: i32) {
    // SAFETY: kill(2) with a pid and a signal number has no memory effects.
    unsafe { libc::kill(pid as i32, signal) };
}
