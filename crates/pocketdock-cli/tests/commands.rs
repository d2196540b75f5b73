//! Every command through the real binary, against every engine under test.

mod support;

use support::*;

#[test]
fn quickstart_and_completions_need_no_engine() {
    let out = ok("/nonexistent.sock", &["quickstart"]);
    assert!(
        out.contains("pocketdock create") && out.contains("pocketdock run"),
        "{out}"
    );
    for shell in ["bash", "zsh", "fish"] {
        let script = ok("/nonexistent.sock", &["completions", shell]);
        assert!(
            script.contains("pocketdock") && script.contains("shutdown"),
            "{shell}"
        );
    }
}

#[test]
fn profiles_table_and_json() {
    let table = ok("/nonexistent.sock", &["profiles"]);
    for name in [
        "minimal-python",
        "minimal-node",
        "minimal-bun",
        "dev",
        "agent",
        "embedded",
    ] {
        assert!(table.contains(name), "{table}");
    }
    let v = json("/nonexistent.sock", &["profiles", "--json"]);
    assert_eq!(v.as_array().unwrap().len(), 6);
    assert_eq!(v[0]["name"], "minimal-python");
    assert_eq!(v[0]["network_default"], false);
    assert_shape("profiles", &v);
}

#[test]
fn create_list_info_and_shutdown() {
    for (engine, socket) in engines() {
        let project = unique("cliproj");
        let s = Sandbox::create(
            &socket,
            &[
                "--mem-limit",
                "64m",
                "--persist",
                "--project",
                &project,
                "-p",
                "18123:8000",
            ],
        );
        let table = ok(&socket, &["list", "--project", &project]);
        assert!(
            table.contains(&s.name) && table.contains("running"),
            "{engine}: {table}"
        );
        let list = json(&socket, &["list", "--json", "--project", &project]);
        assert_eq!(list[0]["name"], s.name.as_str());
        assert_eq!(list[0]["persist"], true);
        assert_shape("list", &list);
        let info = json(&socket, &["info", &s.name, "--json"]);
        assert_eq!(info["status"], "running");
        assert_eq!(info["memory_limit"], "64.0 MB");
        assert_eq!(info["ports"]["18123"], 8000);
        assert_shape("info", &info);
        let table = ok(&socket, &["info", &s.name]);
        assert!(
            table.contains("64.0 MB") && table.contains("sleep infinity"),
            "{table}"
        );
        // Without -y and without a terminal, nothing is removed.
        let refused = run(&socket, &["shutdown", &s.name]);
        assert_eq!(refused.status.code(), Some(1));
        assert!(stderr(&refused).contains("--yes"), "{}", stderr(&refused));
        ok(&socket, &["shutdown", "-y", &s.name]);
        let gone = run(&socket, &["info", &s.name]);
        assert_eq!(gone.status.code(), Some(1));
        assert_eq!(stderr(&gone).lines().count(), 1, "{}", stderr(&gone));
        assert!(stderr(&gone).contains("not found"));
    }
}

#[test]
fn run_passes_an_argv_exactly_and_its_options() {
    for (_, socket) in engines() {
        let s = Sandbox::create(&socket, &[]);
        // Two or more words are an argv: nothing is joined and split again.
        let o = run(
            &socket,
            &["run", &s.name, "--", "sh", "-c", "echo hi; exit 3"],
        );
        assert_eq!((o.status.code(), stdout(&o)), (Some(3), "hi\n".into()));
        let o = ok(&socket, &["run", &s.name, "--", "printf", "%s\n", "it's"]);
        assert_eq!(o, "it's\n");
        let o = ok(
            &socket,
            &[
                "run",
                &s.name,
                "-e",
                "A=1 2",
                "-w",
                "/tmp",
                "-u",
                "root",
                "--",
                "echo \"$A|$PWD|$(id -u)\"",
            ],
        );
        assert_eq!(o, "1 2|/tmp|0\n");
        // stdin is streamed to the command, and its end closes the command's stdin.
        let o = support::pocketdock(&socket)
            .args(["run", &s.name, "-i", "--", "tr", "a-z", "A-Z"])
            .write_stdin("streamed in\n")
            .output()
            .unwrap();
        assert_eq!(
            (o.status.code(), stdout(&o)),
            (Some(0), "STREAMED IN\n".into())
        );
        let v = json(&socket, &["info", &s.name, "--json"]);
        let expected = match std::env::var("POCKETDOCK_TRANSPORT").as_deref() {
            Ok("exec") => "engine-exec",
            Ok("bridge") => "agent-bridge",
            _ => "agent",
        };
        assert_eq!(v["transport"], expected);
    }
}

#[test]
fn hardening_is_the_default_and_flags_loosen_it() {
    for (_, socket) in engines() {
        let strict = Sandbox::create(&socket, &[]);
        let h = json(&socket, &["info", &strict.name, "--json"]);
        assert_eq!(h["network"], false, "{h}");
        assert_eq!(h["hardening"]["no_new_privileges"], true, "{h}");
        assert_eq!(h["hardening"]["pids_limit"], 512, "{h}");
        assert_eq!(h["hardening"]["read_only"], false, "{h}");
        let loose = Sandbox::create(
            &socket,
            &[
                "--network",
                "--read-only",
                "--pids-limit",
                "100",
                "--cap-add",
                "MKNOD",
                "--allow-new-privileges",
            ],
        );
        let h = json(&socket, &["info", &loose.name, "--json"]);
        let caps = h["hardening"]["capabilities"].as_array().unwrap();
        assert!(caps.iter().any(|c| c == "MKNOD"), "{h}");
        assert_eq!(h["hardening"]["no_new_privileges"], false, "{h}");
        assert_eq!(h["hardening"]["pids_limit"], 100, "{h}");
        assert_eq!(h["hardening"]["read_only"], true, "{h}");
        assert_eq!(h["network"], true, "{h}");
        let text = stdout(&run(&socket, &["info", &loose.name]));
        assert!(text.contains("pids 100; read-only root"), "{text}");
    }
}

#[test]
fn run_passes_output_status_and_timeouts_through() {
    for (_, socket) in engines() {
        let s = Sandbox::create(&socket, &[]);
        let o = run(
            &socket,
            &["run", &s.name, "--", "echo out; echo err >&2; exit 3"],
        );
        assert_eq!(
            (o.status.code(), stdout(&o), stderr(&o)),
            (Some(3), "out\n".into(), "err\n".into())
        );
        let o = run(
            &socket,
            &["run", &s.name, "--stream", "--", "echo", "streamed"],
        );
        assert_eq!(stdout(&o), "streamed\n");
        let o = run(
            &socket,
            &["run", &s.name, "--timeout", "1", "--", "sleep 30"],
        );
        assert_eq!(o.status.code(), Some(124));
        assert!(stderr(&o).contains("timed out"));
        let v = json(
            &socket,
            &[
                "run",
                &s.name,
                "--json",
                "--lang",
                "python",
                "--",
                "print(6 * 7)",
            ],
        );
        assert_eq!(
            (v["stdout"].as_str(), v["exit_code"].as_i64()),
            (Some("42\n"), Some(0))
        );
        assert_shape("run", &v);
        let o = run(
            &socket,
            &["run", &s.name, "--json", "--timeout", "1", "--", "sleep 30"],
        );
        assert_eq!(o.status.code(), Some(124));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["timed_out"], true);
        let o = ok(&socket, &["run", &s.name, "--detach", "--", "sleep 300"]);
        assert!(o.contains("Started in the background"), "{o}");
        assert!(ok(&socket, &["run", &s.name, "--", "ps -eo args="]).contains("sleep 300"));
    }
}

#[test]
fn shell_runs_piped_input_and_returns_its_status() {
    for (_, socket) in engines() {
        let s = Sandbox::create(&socket, &[]);
        let o = pocketdock(&socket)
            .args(["shell", &s.name])
            .write_stdin("echo in-the-shell-$((6*7))\nexit 5\n")
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
        assert!(stdout(&o).contains("in-the-shell-42"), "{}", stdout(&o));
    }
}

#[test]
fn lifecycle_commands() {
    for (_, socket) in engines() {
        let s = Sandbox::create(&socket, &["--persist"]);
        ok(&socket, &["run", &s.name, "--", "echo kept > f"]);
        ok(&socket, &["reboot", &s.name]);
        assert_eq!(ok(&socket, &["run", &s.name, "--", "cat f"]), "kept\n");
        ok(&socket, &["stop", &s.name]);
        assert_eq!(
            json(&socket, &["info", &s.name, "--json"])["status"],
            "exited"
        );
        ok(&socket, &["resume", &s.name]);
        assert_eq!(
            json(&socket, &["info", &s.name, "--json"])["status"],
            "running"
        );
        let image = format!("pocketdock-cli-test/snap:{}", unique("t"));
        ok(&socket, &["snapshot", &s.name, &image]);
        let from = Sandbox::create(&socket, &["--image", &image]);
        assert_eq!(ok(&socket, &["run", &from.name, "--", "cat f"]), "kept\n");
        drop(from);
        ok(&socket, &["reboot", "--fresh", &s.name]);
        let o = run(&socket, &["run", &s.name, "--", "cat f"]);
        assert_ne!(
            o.status.code(),
            Some(0),
            "a fresh reboot starts from the image"
        );
        let _ = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "curl -s -X DELETE --unix-socket {socket} 'http://d/images/{}?force=1' >/dev/null",
                image.replace('/', "%2F")
            ))
            .status();
    }
}

#[test]
fn push_and_pull_round_trip() {
    for (_, socket) in engines() {
        let s = Sandbox::create(&socket, &[]);
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("tree")).unwrap();
        std::fs::write(dir.path().join("tree/a.txt"), "alpha").unwrap();
        let src = dir.path().join("tree");
        ok(
            &socket,
            &["push", &s.name, src.to_str().unwrap(), "/home/sandbox/tree"],
        );
        assert_eq!(
            ok(&socket, &["run", &s.name, "--", "cat tree/a.txt"]),
            "alpha"
        );
        let back = dir.path().join("back");
        ok(
            &socket,
            &[
                "pull",
                &s.name,
                "/home/sandbox/tree",
                back.to_str().unwrap(),
            ],
        );
        assert_eq!(
            std::fs::read_to_string(back.join("a.txt")).unwrap(),
            "alpha"
        );
        let o = run(&socket, &["pull", &s.name, "/nope", back.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(1));
    }
}

#[test]
fn prune_asks_then_removes_stopped_sandboxes() {
    for (_, socket) in engines() {
        let project = unique("prune");
        let a = Sandbox::create(&socket, &["--persist", "--project", &project]);
        let _b = Sandbox::create(&socket, &["--persist", "--project", &project]);
        ok(&socket, &["stop", &a.name]);
        assert_eq!(
            run(&socket, &["prune", "--project", &project])
                .status
                .code(),
            Some(1)
        );
        let out = ok(&socket, &["prune", "-y", "--project", &project]);
        assert!(out.contains("Removed 1 "), "{out}");
        assert_eq!(
            json(&socket, &["list", "--json", "--project", &project])
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }
}

#[test]
fn export_and_import_images() {
    for (_, socket) in engines() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("images.tar.gz");
        ok(
            &socket,
            &[
                "export",
                "--image",
                "pocketdock/busybox",
                "-o",
                archive.to_str().unwrap(),
            ],
        );
        assert!(std::fs::metadata(&archive).unwrap().len() > 100_000);
        let out = ok(&socket, &["import", archive.to_str().unwrap()]);
        assert!(
            out.to_lowercase().contains("busybox") || out.to_lowercase().contains("loaded"),
            "{out}"
        );
        let o = run(
            &socket,
            &[
                "export",
                "--image",
                "pocketdock/nope",
                "-o",
                archive.to_str().unwrap(),
            ],
        );
        assert_eq!(o.status.code(), Some(1));
        assert!(stderr(&o).contains("pocketdock/nope"));
    }
}

#[test]
fn build_offline_from_local_images_only() {
    for (_, socket) in engines() {
        // A profile whose base image is not here fails at once, naming it (nothing is pulled).
        let o = run(&socket, &["build", "minimal-python"]);
        assert_eq!(o.status.code(), Some(1));
        assert!(stderr(&o).contains("alpine:3.21"), "{}", stderr(&o));
        // A profile-like Dockerfile on top of a local image builds, with its output shown.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Dockerfile"), "FROM pocketdock/busybox\nCOPY note /home/sandbox/note\nUSER sandbox\nWORKDIR /home/sandbox\n").unwrap();
        std::fs::write(dir.path().join("note"), "from the context\n").unwrap();
        let tag = format!("pocketdock-cli-test/built:{}", unique("b"));
        let o = run(
            &socket,
            &[
                "build",
                "--context",
                dir.path().to_str().unwrap(),
                "--tag",
                &tag,
            ],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(
            stderr(&o).contains(&format!("Built {tag}")),
            "{}",
            stderr(&o)
        );
        let s = Sandbox::create(&socket, &["--image", &tag]);
        assert_eq!(
            ok(&socket, &["run", &s.name, "--", "cat note"]),
            "from the context\n"
        );
        drop(s);
        let _ = std::process::Command::new("curl")
            .args([
                "-s",
                "-X",
                "DELETE",
                "--unix-socket",
                &socket,
                &format!("http://d/images/{}?force=1", tag.replace('/', "%2F")),
            ])
            .output();
    }
}

#[test]
fn build_of_an_unknown_profile_lists_the_known_ones() {
    let o = run("/nonexistent.sock", &["build", "nope"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("minimal-python"), "{}", stderr(&o));
}

#[test]
fn mcp_refuses_bad_limits_before_serving() {
    for (args, says) in [
        (
            &["--pool", "9", "--max-sandboxes", "2"][..],
            "--pool 9 is more than",
        ),
        (
            &["--max-sandboxes", "0"][..],
            "--max-sandboxes must be at least 1",
        ),
        (
            &["--max-output", "0"][..],
            "--max-output must be at least 1 byte",
        ),
    ] {
        let o = Command::cargo_bin("pocketdock")
            .unwrap()
            .arg("mcp")
            .args(args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

#[test]
fn usage_errors_exit_2() {
    for args in [&["run"][..], &["create", "-p", "80"], &["frobnicate"]] {
        let o = Command::cargo_bin("pocketdock")
            .unwrap()
            .args(args)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
    }
}

use assert_cmd::Command;

#[test]
fn project_init_status_doctor_and_logs() {
    for (_, socket) in engines() {
        let dir = tempfile::tempdir().unwrap();
        let in_project = |args: &[&str]| {
            pocketdock(&socket)
                .args(args)
                .current_dir(dir.path())
                .output()
                .unwrap()
        };
        let project = unique("cliproj");
        assert!(in_project(&["init", "--name", &project]).status.success());
        assert!(dir.path().join(".pocketdock/pocketdock.yaml").is_file());
        let name = unique("pdcli");
        assert!(in_project(&["create", "--name", &name, "--persist"])
            .status
            .success());
        let _cleanup = Sandbox {
            socket: socket.clone(),
            name: name.clone(),
        };
        assert!(in_project(&["run", &name, "--", "echo logged"])
            .status
            .success());
        assert_eq!(
            in_project(&["run", &name, "--", "exit 3"]).status.code(),
            Some(3)
        );
        let status: serde_json::Value =
            serde_json::from_slice(&in_project(&["status", "--json"]).stdout).unwrap();
        assert_eq!(status["project"]["name"], project.as_str());
        assert_eq!(status["containers"][0]["name"], name.as_str());
        assert_shape("status", &status);
        let table = stdout(&in_project(&["status"]));
        assert!(table.contains(&project) && table.contains(&name), "{table}");
        let history: serde_json::Value =
            serde_json::from_slice(&in_project(&["logs", "--history", "--json"]).stdout).unwrap();
        let commands: Vec<_> = history
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["command"].as_str().unwrap())
            .collect();
        assert_eq!(commands, ["echo logged", "exit 3"]);
        assert_shape("logs-history", &history);
        let logs = stdout(&in_project(&["logs", &name, "--limit", "1"]));
        assert!(logs.contains("exit_code: 3"), "{logs}");
        let files: serde_json::Value =
            serde_json::from_slice(&in_project(&["logs", &name, "--json"]).stdout).unwrap();
        assert_eq!(files.as_array().unwrap().len(), 2);
        assert_shape("logs", &files);
        // --follow prints runs as they are made.
        let mut follower = std::process::Command::new(assert_cmd::cargo::cargo_bin("pocketdock"))
            .args(["logs", "--history", "--follow", &name])
            .current_dir(dir.path())
            .env("POCKETDOCK_SOCKET", &socket)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines =
            std::io::BufRead::lines(std::io::BufReader::new(follower.stdout.take().unwrap()));
        assert!(lines.next().unwrap().unwrap().ends_with("echo logged"));
        assert!(lines.next().unwrap().unwrap().ends_with("exit 3"));
        assert!(in_project(&["run", &name, "--", "echo followed"])
            .status
            .success());
        let followed = lines.next().unwrap().unwrap();
        follower.kill().unwrap();
        let _ = follower.wait();
        assert!(followed.ends_with("echo followed"), "{followed}");
        let doctor = in_project(&["doctor", "--json"]);
        assert!(doctor.status.success());
        let report: serde_json::Value = serde_json::from_slice(&doctor.stdout).unwrap();
        assert_eq!(report["healthy"], 1);
        assert_shape("doctor", &report);
        // A container removed behind the project's back leaves a stale directory: doctor says so.
        let _ = std::process::Command::new("curl")
            .args([
                "-s",
                "-X",
                "DELETE",
                "--unix-socket",
                &socket,
                &format!("http://d/containers/{name}?force=1"),
            ])
            .output();
        let doctor = in_project(&["doctor"]);
        assert_eq!(doctor.status.code(), Some(1));
        assert!(
            stdout(&doctor).contains(&format!("stale instance directory (no container): {name}"))
        );
    }
}

#[test]
fn project_commands_outside_a_project_say_so() {
    let dir = tempfile::tempdir().unwrap();
    for cmd in [&["status"][..], &["doctor"], &["logs"]] {
        let o = pocketdock("/nonexistent.sock")
            .args(cmd)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{cmd:?}");
        assert!(
            stderr(&o).contains("pocketdock init") || stderr(&o).contains("project"),
            "{}",
            stderr(&o)
        );
    }
    std::fs::create_dir(dir.path().join(".pocketdock")).unwrap();
    std::fs::write(
        dir.path().join(".pocketdock/pocketdock.yaml"),
        "project_name: x\nlogging:\n  colour: red\n",
    )
    .unwrap();
    let o = pocketdock("/nonexistent.sock")
        .args(["status"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("pocketdock.yaml") && err.contains("line 3") && err.contains("colour"),
        "{err}"
    );
}

#[test]
fn shell_on_a_real_terminal() {
    // script(1) gives the command a pseudo-terminal, as a person's terminal would.
    for (_, socket) in engines() {
        let s = Sandbox::create(&socket, &[]);
        let bin = assert_cmd::cargo::cargo_bin("pocketdock");
        let o = std::process::Command::new("script")
            .args([
                "-qec",
                &format!("{} shell {}", bin.display(), s.name),
                "/dev/null",
            ])
            .env("POCKETDOCK_SOCKET", &socket)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child
                    .stdin
                    .take()
                    .unwrap()
                    .write_all(b"tty; stty size\nexit 7\n")?;
                child.wait_with_output()
            })
            .unwrap();
        let out = stdout(&o);
        assert!(out.contains("/dev/pts/"), "the shell has a TTY: {out}");
        assert_eq!(o.status.code(), Some(7), "{out}");
    }
}
