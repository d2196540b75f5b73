//! Timeouts and kills reach everything a command started — whatever it does to escape — and
//! a blocking run returns when its timeout says, with the output it had.

use std::time::Duration;

use pocketdock::Transport;

use crate::support::{expected_transport, processes, unique_sleep, TestEngine};
use crate::{cases, Case};

pub fn cases() -> Vec<Case> {
    cases![
        timeout_kills_children_that_clear_their_environment,
        timeout_kills_setsid_double_forked_and_nohup_descendants,
        kill_reaches_a_detached_tree_that_escapes_its_group,
        a_flood_that_ignores_sigterm_ends_on_time_with_its_output,
        a_fork_bomb_ends_by_its_timeout_and_the_sandbox_still_forks,
        dropping_a_stream_kills_descendants_that_left_the_session,
    ]
}

fn none_left(c: &pocketdock::Container, marks: &[String]) {
    let left: Vec<String> = processes(c)
        .into_iter()
        .filter(|p| marks.iter().any(|m| p.contains(m.as_str())))
        .collect();
    assert!(left.is_empty(), "still running: {left:?}");
}

fn timeout_kills_children_that_clear_their_environment(e: &TestEngine) {
    let c = e.sandbox();
    let (a, b) = (unique_sleep(), unique_sleep());
    let r = c
        .command(format!("echo started; env -i sleep {a} & sleep {b}"))
        .timeout(Duration::from_secs(2))
        .run()
        .unwrap();
    assert!(r.timed_out && r.exit_code == -1, "{r:?}");
    assert_eq!(r.stdout, "started\n", "partial output is kept");
    none_left(&c, &[format!("sleep {a}"), format!("sleep {b}")]);
}

fn timeout_kills_setsid_double_forked_and_nohup_descendants(e: &TestEngine) {
    let c = e.sandbox();
    let [a, b, d, f] = [
        unique_sleep(),
        unique_sleep(),
        unique_sleep(),
        unique_sleep(),
    ];
    let script = format!(
        "setsid sh -c 'sleep {a}' & (sh -c 'sleep {b} &' &); nohup sleep {d} >/dev/null 2>&1 & sleep {f}"
    );
    let r = c
        .command(script)
        .timeout(Duration::from_secs(2))
        .run()
        .unwrap();
    assert!(r.timed_out, "{r:?}");
    let marks: Vec<String> = [a, b, d, f].iter().map(|s| format!("sleep {s}")).collect();
    none_left(&c, &marks);
}

fn kill_reaches_a_detached_tree_that_escapes_its_group(e: &TestEngine) {
    let c = e.sandbox();
    let [a, b, d] = [unique_sleep(), unique_sleep(), unique_sleep()];
    let p = c
        .command(format!(
            "setsid sleep {a} & env -i sleep {b} & sleep {d}; wait"
        ))
        .spawn()
        .unwrap();
    let marks: Vec<String> = [a, b, d].iter().map(|s| format!("sleep {s}")).collect();
    // Each sleep's own command line, exactly: the shell's line contains all three marks, and
    // matching it would send the kill before the sleeps exist.
    crate::support::eventually(Duration::from_secs(10), "all three sleeps started", || {
        let ps = processes(&c);
        marks.iter().all(|m| ps.iter().any(|p| p.trim() == m))
    });
    let killed = p.kill(9).unwrap();
    assert!(
        killed >= 4,
        "the shell and its three sleeps: {killed} signalled; now: {:?}",
        processes(&c)
    );
    let r = p.wait(Some(Duration::from_secs(20))).unwrap();
    assert!(!r.timed_out, "{r:?}");
    assert_eq!(r.exit_code, 137, "{r:?}");
    none_left(&c, &marks);
    assert_eq!(p.kill(15).unwrap(), 0, "nothing left to signal");
}

fn a_flood_that_ignores_sigterm_ends_on_time_with_its_output(e: &TestEngine) {
    let c = e.sandbox();
    let r = c
        .command("trap '' TERM; echo first; yes flood")
        .timeout(Duration::from_secs(2))
        .max_output(1 << 20)
        .run()
        .unwrap();
    assert!(r.timed_out && r.truncated, "{}", r.exit_code);
    assert!(
        r.stdout.starts_with("first\nflood\n"),
        "{:?}",
        &r.stdout[..20]
    );
    assert_eq!(r.stdout.len(), 1 << 20, "exactly the cap is kept");
    none_left(&c, &["yes flood".to_string()]);
}

fn a_fork_bomb_ends_by_its_timeout_and_the_sandbox_still_forks(e: &TestEngine) {
    if expected_transport() == Transport::EngineExec {
        // Killing through the engine needs a new process in a sandbox that has none left to
        // give: only the agent, already running, can end a fork bomb.
        return;
    }
    let c = pocketdock::create_new_container(e.options().pids_limit(128)).unwrap();
    // Under the pids limit the bomb either burns out by itself or is killed at its timeout;
    // either way the call returns, the agent survives, and nothing of the bomb is left.
    let r = c
        .command("b() { b | b & }; b")
        .timeout(Duration::from_secs(3))
        .max_output(4096)
        .run()
        .unwrap();
    assert!(
        r.timed_out || r.stderr.contains("fork"),
        "exit {}",
        r.exit_code
    );
    let after = c.run("echo alive; ps -e | wc -l").unwrap();
    assert!(after.stdout.starts_with("alive\n"), "{after:?}");
    let count: usize = after.stdout.lines().nth(1).unwrap().trim().parse().unwrap();
    assert!(count < 10, "{count} processes left");
}

fn dropping_a_stream_kills_descendants_that_left_the_session(e: &TestEngine) {
    let c = e.sandbox();
    let a = unique_sleep();
    let mut s = c
        .command(format!("setsid sleep {a} & echo go; sleep 600"))
        .stream()
        .unwrap();
    assert_eq!(s.next().unwrap().unwrap().data, "go\n");
    drop(s);
    crate::support::eventually(
        Duration::from_secs(15),
        "the setsid sleep is killed",
        || {
            !processes(&c)
                .iter()
                .any(|p| p.contains(&format!("sleep {a}")))
        },
    );
}
