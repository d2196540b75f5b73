//! Blocking mode: results, timeouts, output caps, languages, concurrency.

use std::time::Duration;

use pocketdock::{create_new_container, Lang};

use crate::support::{processes, unique, unique_sleep, TestEngine, BUSYBOX_IMAGE};
use crate::{cases, Case};

pub fn cases() -> Vec<Case> {
    cases![
        echo_fills_every_field,
        exit_code_and_stderr_are_reported,
        python_lang_wraps_with_python3,
        missing_interpreter_is_exit_127_on_every_engine,
        timeout_kills_every_process_and_keeps_partial_output,
        container_default_timeout_applies,
        output_cap_is_exact_and_keeps_the_real_exit_code,
        output_cap_spans_both_streams,
        output_cap_hit_while_the_command_still_runs,
        seed_urandom_example_is_truncated,
        invalid_utf8_is_replaced_and_kept_as_bytes,
        large_output_arrives_intact,
        twenty_concurrent_runs_on_one_container,
    ]
}

fn echo_fills_every_field(e: &TestEngine) {
    let r = e.shared().run("echo hello").unwrap();
    assert_eq!(r.exit_code, 0);
    assert_eq!(r.stdout, "hello\n");
    assert_eq!(r.stderr, "");
    assert!(r.ok());
    assert!(!r.timed_out && !r.truncated);
    assert!(r.duration_ms > 0.0, "{r:?}");
}

fn exit_code_and_stderr_are_reported(e: &TestEngine) {
    let r = e.shared().run("echo out; echo err >&2; exit 3").unwrap();
    assert_eq!(
        (r.exit_code, r.stdout.as_str(), r.stderr.as_str()),
        (3, "out\n", "err\n")
    );
    assert!(!r.ok());
}

fn python_lang_wraps_with_python3(e: &TestEngine) {
    let r = e
        .shared()
        .command("print(2 + 2)")
        .lang(Lang::Python)
        .run()
        .unwrap();
    assert_eq!(r.stdout, "4\n");
    // Quotes and newlines reach Python untouched.
    let code = "import sys\nprint('it''s', \"a\\\"b\")\nsys.exit(4)";
    let r = e.shared().command(code).lang(Lang::Python).run().unwrap();
    assert_eq!((r.exit_code, r.stdout.as_str()), (4, "its a\"b\n"));
}

fn missing_interpreter_is_exit_127_on_every_engine(e: &TestEngine) {
    let c = create_new_container(e.options().image(BUSYBOX_IMAGE)).unwrap();
    let r = c.command("print(1)").lang(Lang::Python).run().unwrap();
    assert_eq!(r.exit_code, 127, "{r:?}");
    assert!(r.stderr.contains("python3"), "{r:?}");
    assert_eq!(r.stdout, "");
}

fn timeout_kills_every_process_and_keeps_partial_output(e: &TestEngine) {
    let c = e.shared();
    let n = unique_sleep();
    let r = c
        .command(format!(
            "echo before; echo err >&2; sleep {n} & sleep {}",
            n + 1
        ))
        .timeout(Duration::from_secs(1))
        .run()
        .unwrap();
    assert!(r.timed_out, "{r:?}");
    assert_eq!(r.exit_code, -1);
    assert!(!r.ok());
    assert_eq!(r.stdout, "before\n");
    assert_eq!(r.stderr, "err\n");
    let left: Vec<_> = processes(&c)
        .into_iter()
        .filter(|p| p.contains(&n.to_string()))
        .collect();
    assert!(left.is_empty(), "processes survived the timeout: {left:?}");
}

fn container_default_timeout_applies(e: &TestEngine) {
    let c = create_new_container(e.options().timeout(Duration::from_millis(800))).unwrap();
    let r = c.run("echo x; sleep 30").unwrap();
    assert!(
        r.timed_out && r.exit_code == -1 && r.stdout == "x\n",
        "{r:?}"
    );
    // An explicit timeout overrides the default.
    let r = c
        .command("sleep 1.2; echo done")
        .timeout(Duration::from_secs(20))
        .run()
        .unwrap();
    assert!(r.ok() && r.stdout == "done\n", "{r:?}");
}

fn output_cap_is_exact_and_keeps_the_real_exit_code(e: &TestEngine) {
    let r = e
        .shared()
        .command("head -c 100000 /dev/zero | tr '\\0' a; exit 4")
        .max_output(1024)
        .run()
        .unwrap();
    assert!(r.truncated);
    assert_eq!(r.exit_code, 4);
    assert_eq!(r.stdout.len(), 1024);
    assert!(r.stdout.bytes().all(|b| b == b'a'));
    let r = e
        .shared()
        .command("printf 12345")
        .max_output(5)
        .run()
        .unwrap();
    assert!(
        !r.truncated && r.stdout == "12345",
        "exactly the cap is not truncation: {r:?}"
    );
}

fn output_cap_spans_both_streams(e: &TestEngine) {
    let r = e
        .shared()
        .command("printf abc; sleep 0.2; printf defgh >&2")
        .max_output(5)
        .run()
        .unwrap();
    assert_eq!((r.stdout.as_str(), r.stderr.as_str()), ("abc", "de"));
    assert!(r.truncated);
}

fn output_cap_hit_while_the_command_still_runs(e: &TestEngine) {
    // The reference crashes here; we keep draining and report the real exit.
    let r = e
        .shared()
        .command("head -c 3000000 /dev/zero; sleep 0.5; echo late >&2; exit 7")
        .max_output(1000)
        .run()
        .unwrap();
    assert!(r.truncated && !r.timed_out);
    assert_eq!(r.exit_code, 7);
    assert_eq!(r.stdout_bytes().len() + r.stderr_bytes().len(), 1000);
}

fn seed_urandom_example_is_truncated(e: &TestEngine) {
    let r = e
        .shared()
        .command("cat /dev/urandom | head -c 1000000")
        .max_output(1024)
        .run()
        .unwrap();
    assert!(r.truncated);
    assert_eq!(r.exit_code, 0);
    let kept = r.stdout_bytes().len();
    assert!((1021..=1024).contains(&kept), "kept {kept} bytes");
}

fn invalid_utf8_is_replaced_and_kept_as_bytes(e: &TestEngine) {
    let r = e
        .shared()
        .run("printf 'ok\\377\\n'; printf '\\342\\202' >&2")
        .unwrap();
    assert_eq!(r.stdout, "ok\u{fffd}\n");
    assert_eq!(r.stdout_bytes(), b"ok\xff\n");
    assert_eq!(r.stderr, "\u{fffd}");
    assert_eq!(r.stderr_bytes(), b"\xe2\x82");
}

fn large_output_arrives_intact(e: &TestEngine) {
    let r = e
        .shared()
        .run("head -c 5000000 /dev/zero | tr '\\0' x")
        .unwrap();
    assert!(!r.truncated);
    assert_eq!(r.stdout.len(), 5_000_000);
    assert!(r.stdout.bytes().all(|b| b == b'x'));
}

fn twenty_concurrent_runs_on_one_container(e: &TestEngine) {
    // A rendezvous: each command waits until all twenty have started, so this only passes if
    // they really run at the same time (each on its own engine connection).
    let c = e.shared();
    let dir = format!("/tmp/{}", unique("rv"));
    c.run(format!("mkdir -p {dir}")).unwrap();
    let handles: Vec<_> = (0..20)
        .map(|i| {
            let c = c.clone();
            let dir = dir.clone();
            std::thread::spawn(move || {
                c.command(format!(
                    "touch {dir}/{i}; until [ $(ls {dir} | wc -l) -ge 20 ]; do sleep 0.05; done; echo {i}"
                ))
                .timeout(Duration::from_secs(60))
                .run()
            })
        })
        .collect();
    for (i, h) in handles.into_iter().enumerate() {
        let r = h.join().unwrap().unwrap();
        assert!(r.ok(), "run {i}: {r:?}");
        assert_eq!(r.stdout, format!("{i}\n"));
    }
}
