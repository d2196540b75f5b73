//! Command options on both transports: argv, environment, directory, user, stdin.

use std::time::Duration;

use pocketdock::Transport;

use crate::support::{expected_transport, TestEngine};
use crate::{cases, Case};

pub fn cases() -> Vec<Case> {
    cases![
        the_transport_is_the_one_under_test,
        an_unreachable_socket_is_bridged_through_the_engine,
        an_argv_runs_exactly_without_a_shell,
        a_missing_program_is_127_with_a_message_on_stderr,
        env_cwd_and_user_apply,
        stdin_is_fed_then_closed,
        a_detached_process_takes_stdin_until_closed,
        sixty_four_concurrent_runs_are_all_correct,
        bad_options_are_rejected_before_anything_runs,
        a_socket_swapped_for_a_link_to_a_host_socket_gets_nothing,
    ]
}

fn the_transport_is_the_one_under_test(e: &TestEngine) {
    assert_eq!(e.shared().transport(), expected_transport());
    let bare = pocketdock::create_new_container(e.options().agent(false)).unwrap();
    assert_eq!(bare.transport(), Transport::EngineExec);
    // A sandbox without the agent runs commands all the same.
    assert_eq!(
        bare.command_argv(["echo", "plain"]).run().unwrap().stdout,
        "plain\n"
    );
}

fn an_unreachable_socket_is_bridged_through_the_engine(e: &TestEngine) {
    if expected_transport() == Transport::EngineExec {
        return;
    }
    let c = e.sandbox();
    assert_eq!(c.run("echo direct").unwrap().stdout, "direct\n");
    // The socket's host directory moves away: the mount inside still holds the socket, but
    // this host no longer sees it where the labels say (as with an engine on another host).
    let dir = std::path::PathBuf::from(
        &e.inspect(&c.id()).config.unwrap().labels.unwrap()["pocketdock.agent-dir"],
    );
    let moved = dir.with_extension("moved");
    std::fs::rename(&dir, &moved).unwrap();
    let again = pocketdock::find_container(c.name(), Some(&e.socket)).unwrap();
    let r = again
        .command_argv(["sh", "-c", "echo bridged; echo err >&2; exit 3"])
        .run();
    std::fs::rename(&moved, &dir).unwrap();
    let r = r.unwrap();
    assert_eq!(again.transport(), Transport::AgentBridge);
    assert_eq!(
        (r.exit_code, r.stdout.as_str(), r.stderr.as_str()),
        (3, "bridged\n", "err\n")
    );
    // Many commands share the one bridge, with the agent's process control.
    let r = again
        .command("sleep 30 & sleep 31; echo never")
        .timeout(std::time::Duration::from_secs(1))
        .run()
        .unwrap();
    assert!(r.timed_out && r.stdout.is_empty(), "{r:?}");
    let left = again
        .run("ps -eo args= | grep -c '^sleep 3[01]$' || true")
        .unwrap();
    assert_eq!(left.stdout.trim(), "0");
}

fn an_argv_runs_exactly_without_a_shell(e: &TestEngine) {
    let c = e.shared();
    let r = c
        .command_argv(["printf", "%s\n", "it's", "$HOME", "a  b"])
        .run()
        .unwrap();
    assert_eq!(r.stdout, "it's\n$HOME\na  b\n");
    let r = c
        .command_argv(["sh", "-c", "echo hi; exit 3"])
        .run()
        .unwrap();
    assert_eq!((r.stdout.as_str(), r.exit_code), ("hi\n", 3));
}

fn a_missing_program_is_127_with_a_message_on_stderr(e: &TestEngine) {
    let r = e
        .shared()
        .command_argv(["no-such-program-xyz", "arg"])
        .run()
        .unwrap();
    assert_eq!(r.exit_code, 127, "{r:?}");
    assert!(r.stderr.contains("no-such-program-xyz"), "{r:?}");
    assert_eq!(r.stdout, "");
}

fn env_cwd_and_user_apply(e: &TestEngine) {
    let c = e.shared();
    let r = c
        .command("echo \"$GREETING|$PWD|$(id -un)|$HOME\"")
        .env("GREETING", "hello world")
        .cwd("/tmp")
        .run()
        .unwrap();
    assert_eq!(r.stdout, "hello world|/tmp|sandbox|/home/sandbox\n");
    let r = c.command("id -u; echo $HOME").user("root").run().unwrap();
    assert_eq!(r.stdout, "0\n/root\n");
    let r = c.command_argv(["id", "-u"]).user("1000").run().unwrap();
    assert_eq!(r.stdout, "1000\n");
    // The default user stays the image's.
    assert_eq!(c.run("id -un").unwrap().stdout, "sandbox\n");
    // A variable given twice: the last one wins.
    let r = c
        .command("echo $X")
        .env("X", "1")
        .env("X", "2")
        .run()
        .unwrap();
    assert_eq!(r.stdout, "2\n");
}

fn stdin_is_fed_then_closed(e: &TestEngine) {
    let c = e.shared();
    let r = c
        .command("cat; echo end")
        .stdin("line 1\nline 2\n")
        .run()
        .unwrap();
    assert_eq!(r.stdout, "line 1\nline 2\nend\n");
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let r = c.command_argv(["wc", "-c"]).stdin(big).run().unwrap();
    assert_eq!(r.stdout.trim(), "3000000");
    // Without input, stdin is empty: a reader ends at once.
    let r = c
        .command("cat; echo done")
        .timeout(Duration::from_secs(10))
        .run()
        .unwrap();
    assert_eq!((r.stdout.as_str(), r.timed_out), ("done\n", false));
}

fn a_detached_process_takes_stdin_until_closed(e: &TestEngine) {
    let c = e.shared();
    let p = c.command("tr a-z A-Z").spawn().unwrap();
    p.write_stdin("hello ").unwrap();
    p.write_stdin(b"world\n".to_vec()).unwrap();
    assert!(p.is_running().unwrap(), "it waits for more input");
    p.close_stdin().unwrap();
    let r = p.wait(Some(Duration::from_secs(20))).unwrap();
    assert_eq!(
        (r.stdout.as_str(), r.exit_code, r.timed_out),
        ("HELLO WORLD\n", 0, false)
    );
}

fn sixty_four_concurrent_runs_are_all_correct(e: &TestEngine) {
    let c = e.shared();
    let handles: Vec<_> = (0..64)
        .map(|i| {
            let c = c.clone();
            std::thread::spawn(move || {
                let r = c
                    .run(format!("echo {i}; echo e{i} >&2; exit {}", i % 7))
                    .unwrap();
                assert_eq!(r.stdout, format!("{i}\n"));
                assert_eq!(r.stderr, format!("e{i}\n"));
                assert_eq!(r.exit_code, i % 7);
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

fn bad_options_are_rejected_before_anything_runs(e: &TestEngine) {
    let c = e.shared();
    let empty: [&str; 0] = [];
    for err in [
        c.command_argv(empty).run().unwrap_err(),
        c.command("true").env("A=B", "x").run().unwrap_err(),
        c.command("true").env("", "x").spawn().unwrap_err(),
    ] {
        assert!(
            matches!(err, pocketdock::Error::InvalidArgument { .. }),
            "{err:?}"
        );
    }
}

fn a_socket_swapped_for_a_link_to_a_host_socket_gets_nothing(e: &TestEngine) {
    if expected_transport() != Transport::Agent {
        return;
    }
    // A host service the container must not reach through us.
    let dir = tempfile::tempdir().unwrap();
    let host_socket = dir.path().join("host-service.sock");
    let listener = std::os::unix::net::UnixListener::bind(&host_socket).unwrap();
    listener.set_nonblocking(true).unwrap();
    let c = e.sandbox();
    // Root in the sandbox replaces the agent's socket with a link to that host path.
    let swap = format!(
        "rm -f /.pocketdock/agent.sock && ln -s {} /.pocketdock/agent.sock",
        host_socket.display()
    );
    assert!(c.command(swap).user("root").run().unwrap().ok());
    // A new handle must connect anew (the first one keeps its proven connection).
    let again = pocketdock::find_container(c.name(), Some(&e.socket)).unwrap();
    let err = again.run("true").unwrap_err();
    assert!(matches!(err, pocketdock::Error::Agent { .. }), "{err:?}");
    assert!(
        listener.accept().is_err(),
        "the client connected to the host socket behind the link"
    );
}
