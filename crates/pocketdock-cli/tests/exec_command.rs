//! `pocketdock exec` through the real binary, against every engine under test.

mod support;

use assert_cmd::Command;

fn sockets() -> Vec<String> {
    support::engines().into_iter().map(|(_, s)| s).collect()
}

fn pocketdock(socket: &str) -> Command {
    support::pocketdock(socket)
}

#[test]
fn exec_passes_output_and_exit_status_through() {
    for socket in sockets() {
        let out = pocketdock(&socket)
            .args(["exec", "--", "echo hi; echo err >&2; exit 3"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "{socket}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "hi\n");
        assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
    }
}

#[test]
fn exec_timeout_exits_124_with_a_message() {
    for socket in sockets() {
        let out = pocketdock(&socket)
            .args(["exec", "--timeout", "1", "--", "sleep", "30"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(124), "{socket}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("timed out"));
    }
}

#[test]
fn exec_json_prints_the_result() {
    for socket in sockets() {
        let out = pocketdock(&socket)
            .args(["exec", "--json", "--lang", "python", "--", "print(2 + 2)"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{socket}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["stdout"], "4\n");
        assert_eq!(v["exit_code"], 0);
        assert_eq!(v["ok"], true);
        assert_eq!(v["timed_out"], false);
    }
}

#[test]
fn errors_are_one_line_and_exit_1() {
    let out = pocketdock("/nonexistent/engine.sock")
        .args(["exec", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("/nonexistent/engine.sock"), "{err}");
    for socket in sockets() {
        let out = pocketdock(&socket)
            .args(["exec", "--image", "nope/nope", "--", "true"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&out.stderr).contains("image nope/nope not found"));
    }
}

#[test]
fn usage_errors_exit_2() {
    let out = Command::cargo_bin("pocketdock")
        .unwrap()
        .arg("exec")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn verbose_shows_the_engine_and_agent_calls_on_stderr() {
    for socket in sockets() {
        let out = pocketdock(&socket)
            .args(["-v", "exec", "--", "echo quiet-stdout"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{socket}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "quiet-stdout\n");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("engine: create container"), "{err}");
        assert!(err.contains("engine: remove container"), "{err}");
        // Without -v, none of it.
        let out = pocketdock(&socket)
            .args(["exec", "--", "true"])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{socket}");
    }
}
