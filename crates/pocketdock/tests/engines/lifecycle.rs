//! Creating, naming, labelling, shutting down and dropping sandboxes; errors; socket discovery.

use std::path::PathBuf;
use std::time::Duration;

use pocketdock::engine::Discovery;
use pocketdock::{create_new_container, labels, ContainerOptions, Error};

use crate::support::{RemoveOnDrop, TestEngine};
use crate::{cases, Case};

pub fn cases() -> Vec<Case> {
    cases![
        socket_dirs_of_sandboxes_removed_behind_our_back_are_swept,
        name_and_labels_are_set_on_the_engine,
        explicit_name_is_the_engine_name,
        pid_1_is_an_init_that_honours_sigterm,
        shutdown_removes_and_is_idempotent,
        dropping_the_last_handle_removes_the_container,
        persistent_container_is_only_stopped,
        stopped_container_gives_container_not_running,
        external_removal_gives_container_gone,
        after_its_own_shutdown_a_handle_finds_nothing,
        removal_during_a_run_gives_container_gone,
        removal_mid_flight_gives_container_gone_everywhere,
        nonexistent_image_gives_image_not_found,
        engine_down_gives_socket_connection_error,
        invalid_names_are_rejected_before_the_engine,
        discovery_takes_the_first_socket_that_answers,
    ]
}

fn name_and_labels_are_set_on_the_engine(e: &TestEngine) {
    let c = e.sandbox();
    assert!(
        c.name().starts_with("pd-") && c.name().len() == 11,
        "{}",
        c.name()
    );
    assert!(c.name()[3..].chars().all(|ch| ch.is_ascii_hexdigit()));
    let info = e.inspect(&c.id());
    assert_eq!(
        info.name.as_deref(),
        Some(format!("/{}", c.name()).as_str())
    );
    let l = info.config.unwrap().labels.unwrap();
    assert_eq!(l[labels::MANAGED], "true");
    assert_eq!(l[labels::INSTANCE], c.name());
    assert_eq!(l[labels::PERSIST], "false");
    assert!(
        chrono_like(&l[labels::CREATED_AT]),
        "{}",
        l[labels::CREATED_AT]
    );
    assert_eq!(c.socket_path(), e.socket.as_path());
    assert!(!c.persist());
}

fn chrono_like(s: &str) -> bool {
    // 2026-11-27T08:00:00.000Z
    s.len() == 24 && s.as_bytes()[4] == b'-' && s.as_bytes()[10] == b'T' && s.ends_with('Z')
}

fn explicit_name_is_the_engine_name(e: &TestEngine) {
    let name = crate::support::unique("pdtest");
    let c = create_new_container(e.options().name(&name)).unwrap();
    assert_eq!(c.name(), name);
    assert_eq!(e.inspect(&c.id()).name.unwrap(), format!("/{name}"));
    // The name is taken now.
    let again = create_new_container(e.options().name(&name));
    assert!(matches!(again, Err(Error::Container { .. })), "{again:?}");
}

fn pid_1_is_an_init_that_honours_sigterm(e: &TestEngine) {
    // With the agent (the default) PID 1 is the agent; without it, the engine's init.
    let r = e
        .shared()
        .run("cat /proc/1/cmdline | tr '\\0' ' '")
        .unwrap();
    assert!(
        r.stdout.starts_with("/.pocketdock-agent init "),
        "PID 1 is {:?}, not the agent",
        r.stdout
    );
    let bare = pocketdock::create_new_container(e.options().agent(false)).unwrap();
    let r = bare.run("cat /proc/1/comm").unwrap();
    let init = r.stdout.trim();
    assert!(
        ["docker-init", "podman-init", "catatonit", "tini"].contains(&init),
        "PID 1 is {init:?}: a plain `sleep` ignores SIGTERM and every stop waits out the grace"
    );
    assert_eq!(bare.transport(), pocketdock::Transport::EngineExec);
    bare.shutdown(false).unwrap();
}

fn shutdown_removes_and_is_idempotent(e: &TestEngine) {
    let c = e.sandbox();
    let id = c.id().to_string();
    c.shutdown(false).unwrap();
    assert!(!e.exists(&id));
    c.shutdown(false).unwrap();
    c.shutdown(true).unwrap();
    let c = e.sandbox();
    let id = c.id().to_string();
    c.shutdown(true).unwrap();
    assert!(!e.exists(&id));
}

fn dropping_the_last_handle_removes_the_container(e: &TestEngine) {
    let c = e.sandbox();
    let id = c.id().to_string();
    let clone = c.clone();
    drop(c);
    assert!(e.exists(&id), "a clone still holds it");
    drop(clone);
    assert!(!e.exists(&id));
}

fn persistent_container_is_only_stopped(e: &TestEngine) {
    let c = create_new_container(e.options().persist(true)).unwrap();
    let _guard = RemoveOnDrop(e, c.id());
    assert_eq!(
        e.inspect(&c.id()).config.unwrap().labels.unwrap()[labels::PERSIST],
        "true"
    );
    c.shutdown(false).unwrap();
    let state = e.inspect(&c.id()).state.unwrap();
    assert_eq!(state.running, Some(false));
    let id = c.id().to_string();
    drop(c);
    assert!(e.exists(&id), "a persistent container survives its handle");
}

fn stopped_container_gives_container_not_running(e: &TestEngine) {
    let c = create_new_container(e.options().persist(true)).unwrap();
    let _guard = RemoveOnDrop(e, c.id());
    c.shutdown(true).unwrap();
    let err = c.run("true").unwrap_err();
    assert!(matches!(err, Error::ContainerNotRunning { .. }), "{err:?}");
    assert!(err.is_container_error());
    assert_eq!(err.container_id(), Some(c.id().as_str()));
}

fn after_its_own_shutdown_a_handle_finds_nothing(e: &TestEngine) {
    let c = e.sandbox();
    let id = c.id();
    c.shutdown(false).unwrap();
    // As the reference: not found (ContainerGone is for removal behind our back).
    for err in [
        c.run("true").unwrap_err(),
        c.command("true").spawn().unwrap_err(),
        c.session().unwrap_err(),
        c.write_file("/tmp/x", "x").unwrap_err(),
        c.info().unwrap_err(),
    ] {
        assert!(matches!(err, Error::ContainerNotFound { .. }), "{err:?}");
        assert_eq!(err.container_id(), Some(id.as_str()));
    }
}

fn external_removal_gives_container_gone(e: &TestEngine) {
    let c = e.sandbox();
    e.remove_externally(&c.id());
    for err in [
        c.run("true").unwrap_err(),
        c.command("true").stream().unwrap_err(),
        c.command("true").spawn().unwrap_err(),
    ] {
        assert!(matches!(err, Error::ContainerGone { .. }), "{err:?}");
    }
    c.shutdown(false).unwrap();
}

fn removal_during_a_run_gives_container_gone(e: &TestEngine) {
    let c = e.sandbox();
    let running = {
        let c = c.clone();
        std::thread::spawn(move || {
            c.command("echo started; sleep 60")
                .timeout(Duration::from_secs(50))
                .run()
        })
    };
    let probe = c
        // Anchored: the probe's own shell line contains the words too.
        .command("until pgrep -f '^sleep 60' >/dev/null; do sleep 0.05; done")
        .run()
        .unwrap();
    assert!(probe.ok());
    e.remove_externally(&c.id());
    let err = running.join().unwrap().unwrap_err();
    assert!(matches!(err, Error::ContainerGone { .. }), "{err:?}");
}

/// A stream, a detached process and a session command, each under way when the sandbox is
/// removed behind our back: each ends with `ContainerGone`. Not a push: in one CI run, Podman
/// 5.4 stopped answering altogether after a container was removed during an archive upload
/// (with execs waiting on it), and Docker holds such a removal back until the upload has ended.
fn removal_mid_flight_gives_container_gone_everywhere(e: &TestEngine) {
    let c = e.sandbox();
    let gone = |what: &str, err: Error| {
        assert!(
            matches!(err, Error::ContainerGone { .. }),
            "{what}: {err:?}"
        );
    };
    let mut stream = c.command("echo started; sleep 60").stream().unwrap();
    let first = stream.next().unwrap().unwrap();
    assert_eq!(first.data, "started\n");
    let process = c.command("echo started; sleep 60").spawn().unwrap();
    crate::support::eventually(Duration::from_secs(20), "the process to start", || {
        process.peek().stdout.contains("started")
    });
    let session = c.session().unwrap();
    let in_session = {
        let session = session.clone();
        std::thread::spawn(move || session.send_and_wait("echo started; sleep 60", None))
    };
    crate::support::eventually(
        Duration::from_secs(20),
        "the session command to run",
        || {
            c.run("pgrep -f '^sleep 60' | wc -l")
                .is_ok_and(|r| r.stdout.trim() == "3")
        },
    );
    e.remove_externally(&c.id());
    let rest: Vec<_> = stream.by_ref().collect();
    match rest.into_iter().find_map(|item| item.err()) {
        Some(err) => gone("the stream", err),
        None => panic!("the stream ended without an error: {:?}", stream.result()),
    }
    gone(
        "the process",
        process.wait(Some(Duration::from_secs(30))).unwrap_err(),
    );
    gone("the session", in_session.join().unwrap().unwrap_err());
}

fn nonexistent_image_gives_image_not_found(e: &TestEngine) {
    let err = create_new_container(e.options().image("pocketdock/no-such-image:nope")).unwrap_err();
    match err {
        Error::ImageNotFound { image } => assert_eq!(image, "pocketdock/no-such-image:nope"),
        other => panic!("{other:?}"),
    }
}

fn engine_down_gives_socket_connection_error(_e: &TestEngine) {
    let dir = tempfile::tempdir().unwrap();
    // A socket file nobody listens on any more, and a path with no socket at all.
    let stale = dir.path().join("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    for path in [stale, dir.path().join("missing.sock")] {
        let err = create_new_container(ContainerOptions::default().socket_path(&path)).unwrap_err();
        match &err {
            Error::SocketConnection { socket_path, .. } => assert_eq!(socket_path, &path),
            other => panic!("{other:?}"),
        }
        assert!(err.is_socket_error());
    }
}

fn invalid_names_are_rejected_before_the_engine(e: &TestEngine) {
    for bad in ["", "-x", "a b", "a/b", "ä"] {
        let err = create_new_container(e.options().name(bad)).unwrap_err();
        assert!(
            matches!(err, Error::InvalidArgument { .. }),
            "{bad:?}: {err:?}"
        );
    }
}

fn discovery_takes_the_first_socket_that_answers(e: &TestEngine) {
    let dir = tempfile::tempdir().unwrap();
    let stale = dir.path().join("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    let d = Discovery {
        candidates: vec![
            dir.path().join("missing.sock"),
            stale.clone(),
            e.socket.clone(),
        ],
        private_dir: None,
        podman_binary: "podman".into(),
    };
    assert_eq!(crate::support::block(d.discover()).unwrap(), e.socket);
    let none = Discovery {
        candidates: vec![stale],
        private_dir: None,
        podman_binary: "podman".into(),
    };
    let err = crate::support::block(none.discover()).unwrap_err();
    assert!(
        matches!(err, Error::PodmanNotRunning { ref hint } if hint.contains("POCKETDOCK_SOCKET")),
        "{err:?}"
    );
    let no_podman = Discovery {
        candidates: vec![],
        private_dir: Some(dir.path().join("private")),
        podman_binary: "/nonexistent/podman".into(),
    };
    assert!(matches!(
        crate::support::block(no_podman.discover()),
        Err(Error::PodmanNotRunning { .. })
    ));
}

fn socket_dirs_of_sandboxes_removed_behind_our_back_are_swept(e: &TestEngine) {
    let gone = e.sandbox();
    let kept = e.sandbox();
    let dir_of = |c: &pocketdock::Container| {
        PathBuf::from(&e.inspect(&c.id()).config.unwrap().labels.unwrap()[labels::AGENT_DIR])
    };
    let (gone_dir, kept_dir) = (dir_of(&gone), dir_of(&kept));
    assert!(gone_dir.is_dir() && kept_dir.is_dir());
    e.remove_externally(&gone.id());
    // Old enough not to be a creation under way in some other process.
    let an_hour_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
    for dir in [&gone_dir, &kept_dir] {
        std::fs::File::open(dir)
            .unwrap()
            .set_modified(an_hour_ago)
            .unwrap();
    }
    // A project nobody uses: no container is pruned, the directories are swept.
    let removed = pocketdock::prune(Some("pocketdock-sweep-test-none"), Some(&e.socket)).unwrap();
    assert_eq!(removed, 0);
    assert!(!gone_dir.exists(), "the orphan directory is still there");
    assert!(kept_dir.is_dir(), "a live sandbox's directory was swept");
    assert_eq!(kept.run("echo alive").unwrap().stdout, "alive\n");
}
