//! Running the real `pocketdock` binary against every engine under test.
#![allow(dead_code)]

use std::process::Output;

use assert_cmd::Command;

/// `(engine, socket)` of the engines under test (`POCKETDOCK_TEST_ENGINES`, default both).
pub fn engines() -> Vec<(String, String)> {
    let engines =
        std::env::var("POCKETDOCK_TEST_ENGINES").unwrap_or_else(|_| "podman,docker".into());
    engines
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|name| {
            let var = format!("POCKETDOCK_TEST_{}_SOCKET", name.to_uppercase());
            let socket = std::env::var(var).unwrap_or_else(|_| match name {
                "podman" => "/run/podman/podman.sock".into(),
                _ => "/var/run/docker.sock".into(),
            });
            (name.to_string(), socket)
        })
        .collect()
}

/// The binary, pointed at `socket`, without colour.
pub fn pocketdock(socket: &str) -> Command {
    let mut cmd = Command::cargo_bin("pocketdock").unwrap();
    cmd.env("POCKETDOCK_SOCKET", socket).env("NO_COLOR", "1");
    cmd
}

pub fn run(socket: &str, args: &[&str]) -> Output {
    pocketdock(socket).args(args).output().unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs and insists on success.
pub fn ok(socket: &str, args: &[&str]) -> String {
    let o = run(socket, args);
    assert!(
        o.status.success(),
        "pocketdock {args:?} failed: {}{}",
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

pub fn json(socket: &str, args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&ok(socket, args)).unwrap_or_else(|e| panic!("{args:?}: not JSON: {e}"))
}

/// A sandbox created through the CLI, removed through the CLI when dropped.
pub struct Sandbox {
    pub socket: String,
    pub name: String,
}

impl Sandbox {
    pub fn create(socket: &str, extra: &[&str]) -> Sandbox {
        let name = unique("pdcli");
        let mut args = vec!["create", "--name", &name];
        args.extend_from_slice(extra);
        ok(socket, &args);
        Sandbox {
            socket: socket.to_string(),
            name,
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = run(&self.socket, &["shutdown", "-y", &self.name]);
    }
}

pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{prefix}-{:08x}",
        nanos ^ std::process::id().rotate_left(16)
    )
}

/// The shape of a JSON document: every path with its type, values left out. Stable output
/// formats are pinned by comparing it with `tests/snapshots/<name>.shape`
/// (`UPDATE_SNAPSHOTS=1` rewrites them).
pub fn assert_shape(name: &str, value: &serde_json::Value) {
    let mut lines = Vec::new();
    shape("", value, &mut lines);
    lines.sort();
    lines.dedup();
    let actual = lines.join("\n") + "\n";
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(format!("{name}.shape"));
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, &actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "no snapshot {}: run with UPDATE_SNAPSHOTS=1",
            path.display()
        )
    });
    assert_eq!(actual, expected, "the --json shape of `{name}` changed");
}

fn shape(path: &str, v: &serde_json::Value, out: &mut Vec<String>) {
    use serde_json::Value::*;
    match v {
        Object(map) => {
            for (k, v) in map {
                // Keys that are data (ports) are not part of the shape.
                let key = if k.chars().all(|c| c.is_ascii_digit()) {
                    "<n>"
                } else {
                    k
                };
                shape(&format!("{path}.{key}"), v, out);
            }
        }
        Array(items) => {
            out.push(format!("{path}[]"));
            for item in items {
                shape(&format!("{path}[]"), item, out);
            }
        }
        Null => out.push(format!("{path}: null")),
        Bool(_) => out.push(format!("{path}: bool")),
        Number(_) => out.push(format!("{path}: number")),
        String(_) => out.push(format!("{path}: string")),
    }
}
