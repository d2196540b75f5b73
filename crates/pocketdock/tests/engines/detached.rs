//! Detached mode: buffer reads, overflow, wait, kill of a whole process tree, callbacks.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::{eventually, processes, unique, unique_sleep, TestEngine};
use crate::{cases, Case};

pub fn cases() -> Vec<Case> {
    cases![
        read_drains_and_peek_does_not,
        buffer_overflow_keeps_the_newest_output,
        wait_with_timeout_leaves_the_process_running,
        kill_reaches_every_process_the_command_started,
        kill_after_exit_and_bad_signals,
        callbacks_see_output_then_exit_in_order,
        a_panicking_callback_does_not_stop_the_others,
        a_callback_may_use_the_blocking_api,
        blocked_callbacks_stall_no_other_sandbox,
    ]
}

fn read_drains_and_peek_does_not(e: &TestEngine) {
    let c = e.shared();
    let flag = format!("/tmp/{}", unique("go"));
    let p = c
        .command(format!(
            "echo one; echo two >&2; until [ -f {flag} ]; do sleep 0.05; done; echo three"
        ))
        .spawn()
        .unwrap();
    assert!(p.is_running().unwrap());
    eventually(
        Duration::from_secs(10),
        "first output in the buffer",
        || {
            let s = p.peek();
            s.stdout == "one\n" && s.stderr == "two\n"
        },
    );
    assert_eq!(p.peek().stdout, "one\n", "peek does not consume");
    assert_eq!(p.buffer_size(), 8);
    let s = p.read();
    assert_eq!((s.stdout.as_str(), s.stderr.as_str()), ("one\n", "two\n"));
    assert_eq!(
        p.read(),
        pocketdock::BufferSnapshot::default(),
        "read consumed it"
    );
    assert_eq!(p.buffer_size(), 0);
    assert!(!p.buffer_overflow());
    c.run(format!("touch {flag}")).unwrap();
    let r = p.wait(Some(Duration::from_secs(20))).unwrap();
    assert_eq!(
        (r.exit_code, r.stdout.as_str(), r.timed_out),
        (0, "three\n", false)
    );
    assert!(!p.is_running().unwrap());
}

fn buffer_overflow_keeps_the_newest_output(e: &TestEngine) {
    let p = e
        .shared()
        .command("head -c 5000 /dev/zero | tr '\\0' a; echo; echo tail")
        .buffer_capacity(1000)
        .spawn()
        .unwrap();
    let r = p.wait(Some(Duration::from_secs(20))).unwrap();
    assert_eq!(r.exit_code, 0);
    assert!(p.buffer_overflow());
    assert!(r.truncated, "a result from an overflowed buffer says so");
    assert_eq!(p.buffer_size(), 500, "half of the capacity for stdout");
    let out = p.read().stdout;
    assert!(out.ends_with("aaa\ntail\n") && out.len() == 500, "{out:?}");
}

fn wait_with_timeout_leaves_the_process_running(e: &TestEngine) {
    let c = e.shared();
    let n = unique_sleep();
    let p = c.command(format!("sleep {n}")).spawn().unwrap();
    let r = p.wait(Some(Duration::from_millis(300))).unwrap();
    assert!(r.timed_out && r.exit_code == -1, "{r:?}");
    assert!(p.is_running().unwrap());
    assert!(processes(&c).iter().any(|l| l.contains(&n.to_string())));
    // Counts race with exits (a parent may die before the scan reaches it): at least one.
    assert!(p.kill(9).unwrap() >= 1);
    let r = p.wait(None).unwrap();
    assert_eq!(r.exit_code, 137);
    assert!(!processes(&c).iter().any(|l| l.contains(&n.to_string())));
}

fn kill_reaches_every_process_the_command_started(e: &TestEngine) {
    // The reference's kill() signals the engine's host-side PID and reaches nothing.
    let c = e.shared();
    let n = unique_sleep();
    let p = c
        .command(format!("sh -c 'sleep {n} & sleep {}'", n + 1))
        .spawn()
        .unwrap();
    let sleeps = [format!("sleep {n}"), format!("sleep {}", n + 1)];
    eventually(Duration::from_secs(10), "both sleeps to start", || {
        processes(&c).iter().filter(|l| sleeps.contains(l)).count() == 2
    });
    assert!(p.kill(15).unwrap() >= 1);
    let r = p.wait(Some(Duration::from_secs(20))).unwrap();
    assert_eq!(r.exit_code, 143, "SIGTERM: {r:?}");
    let left: Vec<_> = processes(&c)
        .into_iter()
        .filter(|l| sleeps.iter().any(|s| l.contains(s.as_str())))
        .collect();
    assert!(left.is_empty(), "survivors: {left:?}");
}

fn kill_after_exit_and_bad_signals(e: &TestEngine) {
    let p = e.shared().command("exit 2").spawn().unwrap();
    assert_eq!(p.wait(None).unwrap().exit_code, 2);
    assert_eq!(p.kill(15).unwrap(), 0);
    assert!(matches!(
        p.kill(0),
        Err(pocketdock::Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        p.kill(99),
        Err(pocketdock::Error::InvalidArgument { .. })
    ));
}

#[derive(Debug, PartialEq)]
enum Event {
    Out(String),
    Err(String),
    Exit(i64),
}

fn callbacks_see_output_then_exit_in_order(e: &TestEngine) {
    let c = e.sandbox(); // callbacks are per container
    let events = Arc::new(Mutex::new(Vec::new()));
    let (ev1, ev2, ev3) = (events.clone(), events.clone(), events.clone());
    let name = c.name().to_string();
    c.on_stdout(move |c, data| {
        assert_eq!(c.name(), name);
        ev1.lock().unwrap().push(Event::Out(data.to_string()))
    });
    c.on_stderr(move |_, data| ev2.lock().unwrap().push(Event::Err(data.to_string())));
    c.on_exit(move |_, code| ev3.lock().unwrap().push(Event::Exit(code)));
    let p = c
        .command("echo out; sleep 0.2; echo err >&2; sleep 0.2; exit 3")
        .spawn()
        .unwrap();
    assert_eq!(p.wait(Some(Duration::from_secs(20))).unwrap().exit_code, 3);
    // on_exit runs before wait() returns, so every event is in by now.
    assert_eq!(
        *events.lock().unwrap(),
        vec![
            Event::Out("out\n".into()),
            Event::Err("err\n".into()),
            Event::Exit(3)
        ]
    );
    // A second process reports to the same callbacks.
    let p = c.command("echo again").spawn().unwrap();
    p.wait(None).unwrap();
    assert_eq!(
        events.lock().unwrap()[3..],
        [Event::Out("again\n".into()), Event::Exit(0)]
    );
}

fn a_panicking_callback_does_not_stop_the_others(e: &TestEngine) {
    let c = e.sandbox();
    let seen = Arc::new(Mutex::new(String::new()));
    let seen2 = seen.clone();
    c.on_stdout(|_, _| panic!("a broken callback"));
    c.on_stdout(move |_, data| seen2.lock().unwrap().push_str(data));
    let p = c.command("echo one; sleep 0.1; echo two").spawn().unwrap();
    let r = p.wait(Some(Duration::from_secs(20))).unwrap();
    assert_eq!((r.exit_code, r.stdout.as_str()), (0, "one\ntwo\n"));
    assert_eq!(*seen.lock().unwrap(), "one\ntwo\n");
}

fn a_callback_may_use_the_blocking_api(e: &TestEngine) {
    let c = e.sandbox();
    let answer = Arc::new(Mutex::new(None));
    let answer2 = answer.clone();
    c.on_exit(move |c, code| {
        let r = c.run(format!("echo seen {code}")).unwrap();
        *answer2.lock().unwrap() = Some(r.stdout);
    });
    c.command("exit 5").spawn().unwrap().wait(None).unwrap();
    assert_eq!(answer.lock().unwrap().as_deref(), Some("seen 5\n"));
}

fn blocked_callbacks_stall_no_other_sandbox(e: &TestEngine) {
    use std::sync::mpsc;
    const BLOCKED: usize = 2;
    // Two sandboxes whose output callbacks block until released: as many as the library's
    // runtime has workers, so callbacks run on them would stall every sandbox's I/O.
    let (entered_tx, entered) = mpsc::channel::<(Option<String>, bool)>();
    let (release_tx, release) = mpsc::channel::<()>();
    let release = Arc::new(Mutex::new(release));
    let blocked: Vec<_> = (0..BLOCKED)
        .map(|_| {
            let c = e.sandbox();
            let (entered_tx, release) = (entered_tx.clone(), release.clone());
            c.on_stdout(move |_, _| {
                // A thread of the container's own, outside the library's runtime.
                let here = std::thread::current().name().map(String::from);
                let in_runtime = tokio::runtime::Handle::try_current().is_ok();
                let _ = entered_tx.send((here, in_runtime));
                let _ = release
                    .lock()
                    .unwrap()
                    .recv_timeout(Duration::from_secs(60));
            });
            let p = c.command("echo block").spawn().unwrap();
            (c, p)
        })
        .collect();
    // The first callback is inside; the second waits on the shared release channel's lock,
    // inside its own callback too.
    entered
        .recv_timeout(Duration::from_secs(30))
        .expect("a callback ran");
    entered
        .recv_timeout(Duration::from_secs(30))
        .expect("both callbacks ran");
    // Meanwhile another sandbox runs commands, on a thread of its own so a stall fails the
    // test instead of hanging it.
    let other = e.shared();
    let (done_tx, done) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done_tx.send(other.run("echo unaffected").map(|r| r.stdout));
    });
    let got = done.recv_timeout(Duration::from_secs(30));
    for _ in 0..BLOCKED {
        release_tx.send(()).unwrap();
    }
    assert_eq!(
        got.expect("a run stalled behind blocked callbacks")
            .unwrap(),
        "unaffected\n"
    );
    for (_, p) in blocked {
        assert_eq!(p.wait(Some(Duration::from_secs(30))).unwrap().exit_code, 0);
    }
}
