//! The README's command-line session, executed as written against every engine under test.

mod support;

use support::engines;

/// The `$` commands of the README's marked block, each with the texts its output must show and
/// the exit status it must have.
fn readme_steps() -> Vec<(String, Vec<String>, i32)> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let start = readme
        .find("<!-- readme-cli-example:start -->")
        .expect("README has the CLI example");
    let end = readme
        .find("<!-- readme-cli-example:end -->")
        .expect("README closes the CLI example");
    let mut steps: Vec<(String, Vec<String>, i32)> = Vec::new();
    for line in readme[start..end].lines() {
        if let Some(cmd) = line.strip_prefix("$ ") {
            let (cmd, status) = match cmd.split_once("# exit ") {
                Some((cmd, n)) => (cmd.trim().to_string(), n.trim().parse().unwrap()),
                None => (cmd.to_string(), 0),
            };
            steps.push((cmd, Vec::new(), status));
        } else if let Some(expect) = line.strip_prefix("# => ") {
            steps
                .last_mut()
                .expect("an expectation follows a command")
                .1
                .push(expect.replace("\\\\", "\\"));
        }
    }
    steps
}

#[test]
fn the_readme_cli_session_runs_as_written() {
    let steps = readme_steps();
    assert!(steps.len() >= 20, "found {} steps", steps.len());
    let bin_dir = assert_cmd::cargo::cargo_bin("pocketdock")
        .parent()
        .unwrap()
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for (engine, socket) in engines() {
        let dir = tempfile::tempdir().unwrap();
        let cleanup = Cleanup(socket.clone());
        for (cmd, expects, status) in &steps {
            let o = std::process::Command::new("sh")
                .args(["-c", cmd])
                .current_dir(dir.path())
                .env("PATH", &path)
                .env("POCKETDOCK_SOCKET", &socket)
                .env("NO_COLOR", "1")
                .output()
                .unwrap();
            let out = format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            assert_eq!(o.status.code(), Some(*status), "{engine}: `{cmd}`:\n{out}");
            for expect in expects {
                assert!(
                    out.contains(expect.as_str()),
                    "{engine}: `{cmd}` should print {expect:?}:\n{out}"
                );
            }
        }
        drop(cleanup);
    }
}

/// Whatever the session left if it failed half-way.
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = support::run(&self.0, &["shutdown", "--yes", "demo-box"]);
        let _ = std::process::Command::new("curl")
            .args([
                "-s",
                "-X",
                "DELETE",
                "--unix-socket",
                &self.0,
                "http://d/images/pocketdock-readme%2Fdemo:1?force=1",
            ])
            .output();
    }
}

#[test]
fn the_readme_shows_the_mcp_help_as_it_is() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let start = "```text\n$ pocketdock mcp --help\n";
    let shown = readme
        .split_once(start)
        .and_then(|(_, rest)| rest.split_once("```\n"))
        .map(|(block, _)| block)
        .expect("README shows `pocketdock mcp --help`");
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_pocketdock"))
        .args(["mcp", "--help"])
        .env_remove("POCKETDOCK_SOCKET")
        .env_remove("POCKETDOCK_MCP_TOKEN")
        .output()
        .unwrap();
    assert_eq!(shown, String::from_utf8(help.stdout).unwrap());
}
