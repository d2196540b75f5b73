//! The exec state machine against an in-memory transport: deadlines, kills, drains, drops.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::run::collect;
use super::Execution;
use crate::transport::memory::{MemoryExec, Step};
use crate::transport::ExitStatus;
use crate::types::StreamKind::{Stderr, Stdout};

fn execution(exec: MemoryExec, timeout: Option<Duration>) -> Execution {
    Execution::new(
        Box::new(exec),
        None,
        "test".into(),
        timeout,
        tokio::time::Instant::now(),
    )
}

#[tokio::test]
async fn output_and_exit_code_are_collected() {
    let (exec, record) = MemoryExec::new(
        vec![
            Step::Out(Stdout, b"he"),
            Step::Out(Stderr, b"oops"),
            Step::Out(Stdout, b"llo"),
        ],
        ExitStatus::Code(3),
    );
    let r = collect(execution(exec, Some(Duration::from_secs(5))), 1024)
        .await
        .unwrap();
    assert_eq!(
        (r.stdout.as_str(), r.stderr.as_str(), r.exit_code),
        ("hello", "oops", 3)
    );
    assert!(!r.timed_out && !r.truncated);
    assert!(record.signals.lock().unwrap().is_empty(), "nothing to kill");
}

#[tokio::test(start_paused = true)]
async fn a_hanging_command_is_killed_at_its_deadline_and_keeps_its_output() {
    let (exec, record) = MemoryExec::new(
        vec![
            Step::Out(Stdout, b"partial"),
            Step::Hang(Duration::from_secs(3600)),
        ],
        ExitStatus::Code(0),
    );
    let r = collect(execution(exec, Some(Duration::from_secs(2))), 1024)
        .await
        .unwrap();
    assert!(r.timed_out);
    assert_eq!((r.exit_code, r.stdout.as_str()), (-1, "partial"));
    assert_eq!(
        *record.signals.lock().unwrap(),
        vec![9],
        "the tree got SIGKILL"
    );
}

#[tokio::test]
async fn a_signal_exit_reads_as_128_plus_the_signal() {
    let (exec, _) = MemoryExec::new(vec![], ExitStatus::Signal(15));
    let r = collect(execution(exec, None), 1024).await.unwrap();
    assert_eq!(r.exit_code, 143);
}

#[tokio::test]
async fn a_timeout_enforced_by_the_transport_reads_as_timed_out() {
    let (exec, record) = MemoryExec::new(vec![Step::Out(Stdout, b"x")], ExitStatus::TimedOut);
    let r = collect(execution(exec, Some(Duration::from_secs(5))), 1024)
        .await
        .unwrap();
    assert!(r.timed_out && !r.ok());
    assert_eq!((r.exit_code, r.stdout.as_str()), (-1, "x"));
    assert!(
        record.signals.lock().unwrap().is_empty(),
        "the transport killed it, not us"
    );
}

#[tokio::test]
async fn dropping_an_unfinished_command_kills_it() {
    let (exec, record) = MemoryExec::new(
        vec![Step::Out(Stdout, b"a"), Step::Hang(Duration::from_secs(60))],
        ExitStatus::Code(0),
    );
    let mut e = execution(exec, None);
    assert!(e.next_frame().await.unwrap().is_some());
    drop(e);
    assert!(record.killed.load(Ordering::SeqCst));
}

#[tokio::test]
async fn a_finished_command_is_not_killed_on_drop() {
    let (exec, record) = MemoryExec::new(vec![Step::Out(Stdout, b"a")], ExitStatus::Code(0));
    let e = execution(exec, None);
    let r = collect(e, 1024).await.unwrap();
    assert_eq!(r.exit_code, 0);
    assert!(!record.killed.load(Ordering::SeqCst));
}

#[tokio::test(start_paused = true)]
async fn output_cap_holds_while_the_command_runs_on() {
    let (exec, _) = MemoryExec::new(
        vec![
            Step::Out(Stdout, b"0123456789"),
            Step::Out(Stdout, b"abcdef"),
        ],
        ExitStatus::Code(0),
    );
    let r = collect(execution(exec, Some(Duration::from_secs(5))), 12)
        .await
        .unwrap();
    assert_eq!(
        (r.stdout.as_str(), r.truncated, r.exit_code),
        ("0123456789ab", true, 0)
    );
}
