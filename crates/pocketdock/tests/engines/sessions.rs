//! Sessions: one shell, state kept between commands, clean boundaries, timeouts, closing.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use pocketdock::Error;

use crate::support::{eventually, processes, unique_sleep, TestEngine};
use crate::{cases, Case};

pub fn cases() -> Vec<Case> {
    cases![
        directory_and_variables_persist,
        results_have_exit_code_and_both_streams,
        late_stderr_belongs_to_its_command,
        a_command_reading_stdin_does_not_swallow_the_marker,
        quotes_and_syntax_errors_do_not_break_the_session,
        output_without_a_trailing_newline_is_kept,
        timeout_interrupts_and_the_session_goes_on,
        send_read_and_on_output,
        a_blocked_on_output_callback_does_not_stall_the_session,
        exit_ends_the_session_with_its_code,
        close_ends_the_shell_not_the_container,
        shutdown_closes_sessions,
    ]
}

fn directory_and_variables_persist(e: &TestEngine) {
    let s = e.shared().session().unwrap();
    s.send_and_wait("mkdir -p /tmp/sess && cd /tmp/sess && export PD_X=42", None)
        .unwrap();
    let r = s.send_and_wait("pwd; echo $PD_X", None).unwrap();
    assert_eq!(r.stdout, "/tmp/sess\n42\n");
    s.close();
}

fn results_have_exit_code_and_both_streams(e: &TestEngine) {
    let s = e.shared().session().unwrap();
    let r = s
        .send_and_wait("echo out; echo err >&2; false", None)
        .unwrap();
    assert_eq!(
        (r.exit_code, r.stdout.as_str(), r.stderr.as_str()),
        (1, "out\n", "err\n")
    );
    assert!(!r.timed_out && r.duration_ms > 0.0);
    let r = s.send_and_wait("(exit 7)", None).unwrap();
    assert_eq!(r.exit_code, 7);
    assert!(!r.stdout.contains("__PD_") && !r.stderr.contains("__PD_"));
    s.close();
}

fn late_stderr_belongs_to_its_command(e: &TestEngine) {
    let s = e.shared().session().unwrap();
    // Stderr is written by a background writer after stdout is done.
    let r = s
        .send_and_wait("echo first; (sleep 0.3; echo late >&2) & wait", None)
        .unwrap();
    assert_eq!(
        (r.stdout.as_str(), r.stderr.as_str()),
        ("first\n", "late\n")
    );
    let r = s.send_and_wait("echo next", None).unwrap();
    assert_eq!((r.stdout.as_str(), r.stderr.as_str()), ("next\n", ""));
    s.close();
}

fn a_command_reading_stdin_does_not_swallow_the_marker(e: &TestEngine) {
    let s = e.shared().session().unwrap();
    let r = s
        .send_and_wait("cat; echo after-cat", Some(Duration::from_secs(20)))
        .unwrap();
    assert!(!r.timed_out, "{r:?}");
    assert_eq!(r.stdout, "after-cat\n");
    assert_eq!(
        s.send_and_wait("echo still-here", None).unwrap().stdout,
        "still-here\n"
    );
    s.close();
}

fn quotes_and_syntax_errors_do_not_break_the_session(e: &TestEngine) {
    let s = e.shared().session().unwrap();
    let r = s
        .send_and_wait(r#"echo 'single' "double" "it's""#, None)
        .unwrap();
    assert_eq!(r.stdout, "single double it's\n");
    let r = s
        .send_and_wait("echo 'unterminated", Some(Duration::from_secs(20)))
        .unwrap();
    assert!(!r.timed_out && r.exit_code != 0, "{r:?}");
    assert_eq!(s.send_and_wait("echo fine", None).unwrap().stdout, "fine\n");
    s.close();
}

fn output_without_a_trailing_newline_is_kept(e: &TestEngine) {
    let s = e.shared().session().unwrap();
    let r = s
        .send_and_wait("printf 'no newline'; printf 'err no newline' >&2", None)
        .unwrap();
    assert_eq!(
        (r.stdout.as_str(), r.stderr.as_str()),
        ("no newline", "err no newline")
    );
    s.close();
}

fn timeout_interrupts_and_the_session_goes_on(e: &TestEngine) {
    let c = e.shared();
    let s = c.session().unwrap();
    s.send_and_wait("cd /tmp", None).unwrap();
    let n = unique_sleep();
    let r = s
        .send_and_wait(
            &format!("echo started; sleep {n}"),
            Some(Duration::from_secs(1)),
        )
        .unwrap();
    assert!(r.timed_out && r.exit_code == -1, "{r:?}");
    assert_eq!(r.stdout, "started\n");
    assert!(!processes(&c).iter().any(|p| p.contains(&n.to_string())));
    let r = s.send_and_wait("pwd", None).unwrap();
    assert_eq!(r.stdout, "/tmp\n", "the shell and its directory survived");
    s.close();
}

fn send_read_and_on_output(e: &TestEngine) {
    let s = e.shared().session().unwrap();
    let seen = Arc::new(Mutex::new(String::new()));
    let seen2 = seen.clone();
    s.on_output(move |text| seen2.lock().unwrap().push_str(text));
    s.send("echo via-send").unwrap();
    let mut read_so_far = String::new();
    eventually(Duration::from_secs(10), "send's output", || {
        read_so_far.push_str(&s.read());
        read_so_far.contains("via-send\n")
    });
    s.send_and_wait("echo waited", None).unwrap();
    let all = s.read();
    assert!(
        all.contains("waited\n") && !all.contains("__PD_"),
        "{all:?}"
    );
    assert_eq!(s.read(), "", "read drains");
    // Callbacks run on a thread of their own: they may come a moment after the result.
    eventually(Duration::from_secs(10), "the callbacks", || {
        seen.lock().unwrap().contains("waited\n")
    });
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.contains("via-send\n") && seen.contains("waited\n") && !seen.contains("__PD_"),
        "{seen:?}"
    );
    s.close();
}

fn a_blocked_on_output_callback_does_not_stall_the_session(e: &TestEngine) {
    let s = e.shared().session().unwrap();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let released = Mutex::new(released);
    let seen = Arc::new(Mutex::new(String::new()));
    let seen2 = seen.clone();
    s.on_output(move |text| {
        // Held until the test lets go (the sender's drop ends every wait).
        let _ = released.lock().unwrap().recv();
        seen2.lock().unwrap().push_str(text);
    });
    // The callback is stuck in its first call; the session reads and answers all the same.
    let limit = Some(Duration::from_secs(20));
    let one = s.send_and_wait("echo one; echo two", limit).unwrap();
    let three = s.send_and_wait("echo three", limit).unwrap();
    assert_eq!((one.stdout.as_str(), one.timed_out), ("one\ntwo\n", false));
    assert_eq!((three.stdout.as_str(), three.timed_out), ("three\n", false));
    assert_eq!(
        seen.lock().unwrap().as_str(),
        "",
        "the callback is still held"
    );
    drop(release);
    eventually(
        Duration::from_secs(10),
        "every callback call, in order",
        || seen.lock().unwrap().as_str() == "one\ntwo\nthree\n",
    );
    s.close();
}

fn exit_ends_the_session_with_its_code(e: &TestEngine) {
    let s = e.shared().session().unwrap();
    let r = s
        .send_and_wait("exit 3", Some(Duration::from_secs(20)))
        .unwrap();
    assert_eq!(r.exit_code, 3, "{r:?}");
    assert!(s.is_closed());
    assert!(matches!(
        s.send_and_wait("true", None),
        Err(Error::SessionClosed)
    ));
}

fn close_ends_the_shell_not_the_container(e: &TestEngine) {
    let c = e.sandbox();
    let s = c.session().unwrap();
    let n = unique_sleep();
    s.send(&format!("sleep {n} &")).unwrap();
    eventually(Duration::from_secs(10), "the background sleep", || {
        processes(&c).iter().any(|p| p.contains(&n.to_string()))
    });
    s.close();
    assert!(matches!(s.send("true"), Err(Error::SessionClosed)));
    assert!(matches!(
        s.send_and_wait("true", None),
        Err(Error::SessionClosed)
    ));
    assert!(c.run("true").unwrap().ok(), "the container lives on");
    assert!(
        !processes(&c).iter().any(|p| p.contains(&n.to_string())),
        "the session's jobs ended"
    );
}

fn shutdown_closes_sessions(e: &TestEngine) {
    let c = e.sandbox();
    let s = c.session().unwrap();
    c.shutdown(true).unwrap();
    assert!(s.is_closed());
    assert!(matches!(
        s.send_and_wait("true", None),
        Err(Error::SessionClosed)
    ));
}
