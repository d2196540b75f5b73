//! Sandboxes whose holder died: a child process that holds sandboxes is SIGKILLed, and what it
//! held is removed by `prune_orphans`, while sandboxes of live processes stay.

use pocketdock::{create_new_container, prune_orphans};

use crate::support::{helper_process, RemoveOnDrop, TestEngine};

pub fn cases() -> Vec<crate::Case> {
    crate::cases![a_killed_holder_leaves_its_sandboxes_to_prune_orphans]
}

/// The variable that makes this test binary a holder instead of a test run (see `main`).
pub const HOLDER_SOCKET: &str = "POCKETDOCK_TEST_HOLDER_SOCKET";

/// As a child process: creates two sandboxes, says their ids on stdout, and waits to be killed.
#[allow(clippy::print_stdout)] // the parent reads the ids from our stdout
pub fn hold_sandboxes(socket: &str) -> ! {
    let engine = TestEngine {
        name: "holder",
        socket: socket.into(),
        netns: None,
    };
    let held: Vec<_> = (0..2).map(|_| engine.sandbox()).collect();
    let ids: Vec<String> = held.iter().map(|c| c.id().to_string()).collect();
    println!("{}", ids.join(" "));
    loop {
        std::thread::park();
    }
}

fn a_killed_holder_leaves_its_sandboxes_to_prune_orphans(e: &TestEngine) {
    let (mut holder, line) = helper_process(HOLDER_SOCKET, &e.socket.to_string_lossy());
    let ids: Vec<String> = line.split_whitespace().map(String::from).collect();
    assert_eq!(ids.len(), 2, "the holder said {line:?}");
    let _guards: Vec<_> = ids.iter().map(|id| RemoveOnDrop(e, id.clone())).collect();
    // Ours, held by this live process: never an orphan.
    let ours = create_new_container(e.options()).unwrap();
    // Made to outlive its process (as `pocketdock create` does): no orphan either.
    let kept = create_new_container(e.options().outlive_process(true)).unwrap();
    let _kept_guard = RemoveOnDrop(e, kept.id().to_string());
    kept.release();
    for id in &ids {
        assert!(
            e.exists(id),
            "the holder's sandbox {id} exists while it lives"
        );
    }
    holder.kill().unwrap(); // SIGKILL: no cleanup of its own runs
    holder.wait().unwrap();
    // A creation elsewhere may sweep them first; after this call they are gone in any case.
    prune_orphans(Some(&e.socket)).unwrap();
    for id in &ids {
        assert!(!e.exists(id), "the orphan {id} was removed");
    }
    assert!(e.exists(&ours.id()), "a live holder's sandbox stays");
    assert!(
        e.exists(&kept.id()),
        "a sandbox made to outlive its process stays"
    );
    assert_eq!(ours.run("echo alive").unwrap().stdout, "alive\n");
}
