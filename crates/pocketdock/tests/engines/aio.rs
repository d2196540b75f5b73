//! The async API: the same behaviour through `pocketdock::aio`, and cancellation.

use std::time::Duration;

use futures::StreamExt;
use pocketdock::{aio, StreamKind};

use crate::support::{eventually, processes, unique_sleep, TestEngine};
use crate::{cases, Case};

pub fn cases() -> Vec<Case> {
    cases![
        async_api_runs_streams_and_spawns,
        cancelling_an_async_run_kills_the_command,
        cancelling_a_creation_leaves_no_container,
        blocking_api_works_inside_a_current_thread_runtime,
    ]
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn async_api_runs_streams_and_spawns(e: &TestEngine) {
    runtime().block_on(async {
        let c = aio::create_new_container(e.options()).await.unwrap();
        let r = c.run("echo hi").await.unwrap();
        assert_eq!(r.stdout, "hi\n");
        let mut s = c.command("echo a; echo b >&2").stream().await.unwrap();
        let mut out = String::new();
        while let Some(chunk) = s.next().await {
            let chunk = chunk.unwrap();
            if chunk.stream == StreamKind::Stdout {
                out.push_str(&chunk.data);
            }
        }
        assert_eq!(out, "a\n");
        assert_eq!(s.result().unwrap().stderr, "b\n");
        let p = c.command("echo bg; exit 9").spawn().await.unwrap();
        let r = p.wait(None).await.unwrap();
        assert_eq!((r.exit_code, r.stdout.as_str()), (9, "bg\n"));
        c.shutdown(false).await.unwrap();
    });
}

fn cancelling_an_async_run_kills_the_command(e: &TestEngine) {
    let c = e.shared();
    let n = unique_sleep();
    let async_c = c.as_async().clone();
    let rt = runtime();
    rt.block_on(async {
        let cancelled = tokio::time::timeout(
            Duration::from_millis(500),
            async_c.run(format!("sleep {n}")),
        )
        .await;
        assert!(
            cancelled.is_err(),
            "the run was cancelled by the outer timeout"
        );
        // Let the background kill run on this runtime.
        tokio::time::sleep(Duration::from_millis(1)).await;
    });
    eventually(
        Duration::from_secs(15),
        "the cancelled command to be killed",
        || {
            rt.block_on(tokio::task::yield_now());
            !processes(&c).iter().any(|p| p.contains(&n.to_string()))
        },
    );
}

fn blocking_api_works_inside_a_current_thread_runtime(e: &TestEngine) {
    let c = e.shared();
    let r = runtime().block_on(async { c.run("echo nested") }).unwrap();
    assert_eq!(r.stdout, "nested\n");
}

fn cancelling_a_creation_leaves_no_container(e: &TestEngine) {
    // Cancel creations at growing delays, so that some land while the engine is creating:
    // whatever the moment, no container may remain once the background clean-ups are done.
    let rt = runtime();
    let mut cancelled = Vec::new();
    for delay_ms in (5..400).step_by(15) {
        let name = crate::support::unique("pdtest-cancel");
        let created = rt.block_on(async {
            let creation = aio::create_new_container(e.options().name(&name));
            tokio::time::timeout(Duration::from_millis(delay_ms), creation).await
        });
        match created {
            Ok(c) => {
                rt.block_on(c.unwrap().shutdown(true)).unwrap();
                break;
            }
            Err(_) => cancelled.push(name),
        }
    }
    assert!(!cancelled.is_empty(), "no creation was cancelled");
    // Every abandoned creation is finished and cleaned up in the background: wait for that,
    // then nothing may be left.
    assert!(
        pocketdock::wait_for_cleanup(Duration::from_secs(120)),
        "clean-ups still running"
    );
    let left: Vec<_> = cancelled.iter().filter(|n| e.exists(n)).collect();
    assert!(
        left.is_empty(),
        "cancelled creations left containers: {left:?}"
    );
}
