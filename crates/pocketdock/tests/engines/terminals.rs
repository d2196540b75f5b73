//! Terminals: programs with their stdin attached, on a pseudo-terminal or on pipes — through the
//! agent's pty where the sandbox has the agent, else the engine's.

use std::time::Duration;

use pocketdock::aio::TerminalOutput;
use pocketdock::StreamKind;

use crate::support::{rt, TestEngine};
use crate::{cases, Case};

pub fn cases() -> Vec<Case> {
    cases![
        a_terminal_is_a_tty_of_the_asked_size,
        resizing_reaches_the_program,
        ctrl_c_interrupts_the_foreground_program,
        pipes_without_a_tty_keep_the_streams_apart,
    ]
}

const PATIENCE: Duration = Duration::from_secs(30);

/// Reads until `needle` has appeared in the output (or the output ends); returns all of it.
async fn read_until(output: &mut TerminalOutput, needle: &str) -> String {
    let mut seen = String::new();
    let found = tokio::time::timeout(PATIENCE, async {
        while let Some(chunk) = output.next().await {
            let (_, data) = chunk.unwrap();
            seen.push_str(&String::from_utf8_lossy(&data));
            if seen.contains(needle) {
                return true;
            }
        }
        false
    })
    .await;
    assert!(
        matches!(found, Ok(true)),
        "{needle:?} never came; got {seen:?}"
    );
    seen
}

async fn read_to_end(output: &mut TerminalOutput) -> Vec<(StreamKind, String)> {
    let mut all = Vec::new();
    tokio::time::timeout(PATIENCE, async {
        while let Some(chunk) = output.next().await {
            let (kind, data) = chunk.unwrap();
            all.push((kind, String::from_utf8_lossy(&data).into_owned()));
        }
    })
    .await
    .expect("the program did not end");
    all
}

fn a_terminal_is_a_tty_of_the_asked_size(e: &TestEngine) {
    let c = e.shared();
    rt().block_on(async {
        let argv = [
            "sh",
            "-c",
            "test -t 0 && test -t 1 && stty size && echo \"$TERM\"; echo err >&2; exit 4",
        ];
        let mut term = c
            .as_async()
            .terminal(argv.map(String::from).to_vec(), true, 101, 33)
            .await
            .unwrap();
        let all = read_to_end(&mut term.output).await;
        let text: String = all.iter().map(|(_, t)| t.as_str()).collect();
        // A terminal has one stream: stderr arrives on it too, with the line discipline's CRLF.
        assert!(all.iter().all(|(k, _)| *k == StreamKind::Stdout), "{all:?}");
        assert_eq!(text, "33 101\r\nxterm-256color\r\nerr\r\n");
        assert_eq!(term.output.exit_code().await.unwrap(), 4);
    });
}

fn resizing_reaches_the_program(e: &TestEngine) {
    let c = e.shared();
    rt().block_on(async {
        let argv = ["sh"].map(String::from).to_vec();
        let mut term = c.as_async().terminal(argv, true, 80, 24).await.unwrap();
        // The terminal echoes what is typed: wait for what only the shell's answer holds.
        term.input
            .write(b"stty size; echo one-$((1 + 1))\n")
            .await
            .unwrap();
        let first = read_until(&mut term.output, "one-2\r\n").await;
        assert!(first.contains("24 80\r\n"), "{first:?}");
        term.control.resize(132, 43).await.unwrap();
        term.input.write(b"stty size; exit 3\n").await.unwrap();
        let rest: String = read_to_end(&mut term.output)
            .await
            .into_iter()
            .map(|(_, t)| t)
            .collect();
        assert!(rest.contains("43 132\r\n"), "{rest:?}");
        assert_eq!(term.output.exit_code().await.unwrap(), 3);
    });
}

fn ctrl_c_interrupts_the_foreground_program(e: &TestEngine) {
    let c = e.shared();
    rt().block_on(async {
        // The program leads a session whose controlling terminal this is: ^C reaches it.
        let script = "trap 'echo got-int; exit 5' INT; echo ready; while :; do sleep 0.1; done";
        let argv = ["sh", "-c", script].map(String::from).to_vec();
        let mut term = c.as_async().terminal(argv, true, 80, 24).await.unwrap();
        read_until(&mut term.output, "ready").await;
        term.input.write(b"\x03").await.unwrap();
        let rest: String = read_to_end(&mut term.output)
            .await
            .into_iter()
            .map(|(_, t)| t)
            .collect();
        assert!(rest.contains("got-int"), "{rest:?}");
        assert_eq!(term.output.exit_code().await.unwrap(), 5);
    });
}

fn pipes_without_a_tty_keep_the_streams_apart(e: &TestEngine) {
    let c = e.shared();
    rt().block_on(async {
        let argv = ["sh", "-c", "test -t 0 || echo not-a-tty >&2; cat"];
        let mut term = c
            .as_async()
            .terminal(argv.map(String::from).to_vec(), false, 80, 24)
            .await
            .unwrap();
        term.input.write(b"hello\n").await.unwrap();
        term.input.close().await.unwrap();
        let all = read_to_end(&mut term.output).await;
        let of = |kind| -> String {
            all.iter()
                .filter(|(k, _)| *k == kind)
                .map(|(_, t)| t.as_str())
                .collect()
        };
        assert_eq!(
            (of(StreamKind::Stdout), of(StreamKind::Stderr)),
            ("hello\n".to_string(), "not-a-tty\n".to_string())
        );
        assert_eq!(term.output.exit_code().await.unwrap(), 0);
    });
}
