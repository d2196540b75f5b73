//! Streaming mode: chunks as they arrive, whole characters, the final result, timeouts, drops.

use std::time::Duration;

use pocketdock::{find_container, StreamChunk, StreamKind, Transport};

use crate::support::{
    eventually, expected_transport, helper_process, processes, unique, unique_sleep, TestEngine,
};
use crate::{cases, Case};

pub fn cases() -> Vec<Case> {
    cases![
        stream_yields_output_then_the_result,
        stream_tells_stdout_from_stderr,
        stream_chunks_arrive_before_the_command_ends,
        twenty_thousand_euro_signs_arrive_intact,
        invalid_bytes_in_a_stream_become_one_replacement_each,
        stream_timeout_kills_and_reports,
        dropping_a_stream_kills_the_command,
        large_output_on_both_streams_arrives_exact,
        a_client_killed_mid_flood_leaves_the_sandbox_serving,
    ]
}

fn collect(chunks: impl Iterator<Item = pocketdock::Result<StreamChunk>>) -> Vec<StreamChunk> {
    chunks.map(|c| c.expect("chunk")).collect()
}

fn text_of(chunks: &[StreamChunk], kind: StreamKind) -> String {
    chunks
        .iter()
        .filter(|c| c.stream == kind)
        .map(|c| c.data.as_str())
        .collect()
}

fn stream_yields_output_then_the_result(e: &TestEngine) {
    let mut s = e.shared().command("echo hello && exit 1").stream().unwrap();
    assert!(s.result().is_none(), "no result before iteration");
    let chunks = collect(s.by_ref());
    assert_eq!(text_of(&chunks, StreamKind::Stdout), "hello\n");
    let r = s.result().expect("result after iteration");
    assert_eq!(
        (r.exit_code, r.stdout.as_str(), r.timed_out),
        (1, "hello\n", false)
    );
    assert!(
        s.next().is_none() && s.next().is_none(),
        "an ended stream stays ended"
    );
}

fn stream_tells_stdout_from_stderr(e: &TestEngine) {
    let mut s = e
        .shared()
        .command("echo out; echo err >&2; echo out2")
        .stream()
        .unwrap();
    let chunks = collect(s.by_ref());
    assert_eq!(text_of(&chunks, StreamKind::Stdout), "out\nout2\n");
    assert_eq!(text_of(&chunks, StreamKind::Stderr), "err\n");
    assert_eq!(s.result().unwrap().stderr, "err\n");
}

fn stream_chunks_arrive_before_the_command_ends(e: &TestEngine) {
    // The command only finishes once the test has seen its first line, so a stream that
    // buffered until the end would time out instead.
    let c = e.shared();
    let flag = format!("/tmp/{}", unique("go"));
    let mut s = c
        .command(format!(
            "echo first; until [ -f {flag} ]; do sleep 0.05; done; echo second"
        ))
        .timeout(Duration::from_secs(30))
        .stream()
        .unwrap();
    let first = s.next().unwrap().unwrap();
    assert_eq!(first.data, "first\n");
    c.run(format!("touch {flag}")).unwrap();
    let rest = collect(s.by_ref());
    assert_eq!(text_of(&rest, StreamKind::Stdout), "second\n");
    assert!(s.result().unwrap().ok(), "{:?}", s.result());
}

fn twenty_thousand_euro_signs_arrive_intact(e: &TestEngine) {
    // Written 7 bytes at a time, so nearly every frame boundary falls inside a character.
    let script =
        "import os\nb = '€'.encode() * 20000\nfor i in range(0, len(b), 7): os.write(1, b[i:i+7])";
    let mut s = e
        .shared()
        .command(script)
        .lang(pocketdock::Lang::Python)
        .stream()
        .unwrap();
    let chunks = collect(s.by_ref());
    assert!(
        chunks.iter().all(|c| !c.data.contains('\u{fffd}')),
        "a chunk held a replacement char"
    );
    let text = text_of(&chunks, StreamKind::Stdout);
    assert_eq!(text.chars().count(), 20_000);
    assert!(text.chars().all(|ch| ch == '€'));
    assert_eq!(s.result().unwrap().stdout, text);
}

fn invalid_bytes_in_a_stream_become_one_replacement_each(e: &TestEngine) {
    let mut s = e
        .shared()
        .command("printf 'a\\377b'; sleep 0.1; printf '\\342\\202'")
        .stream()
        .unwrap();
    let chunks = collect(s.by_ref());
    assert_eq!(text_of(&chunks, StreamKind::Stdout), "a\u{fffd}b\u{fffd}");
}

fn stream_timeout_kills_and_reports(e: &TestEngine) {
    let c = e.shared();
    let n = unique_sleep();
    let mut s = c
        .command(format!("echo a; sleep {n}"))
        .timeout(Duration::from_secs(1))
        .stream()
        .unwrap();
    let chunks = collect(s.by_ref());
    assert_eq!(text_of(&chunks, StreamKind::Stdout), "a\n");
    let r = s.result().unwrap();
    assert!(r.timed_out && r.exit_code == -1, "{r:?}");
    assert!(!processes(&c).iter().any(|p| p.contains(&n.to_string())));
}

fn dropping_a_stream_kills_the_command(e: &TestEngine) {
    let c = e.shared();
    let n = unique_sleep();
    let mut s = c
        .command(format!("echo started; sleep {n}"))
        .stream()
        .unwrap();
    assert_eq!(s.next().unwrap().unwrap().data, "started\n");
    drop(s);
    // The kill runs in the background after the drop; there is no event to wait for.
    eventually(
        Duration::from_secs(15),
        "the abandoned command to be killed",
        || !processes(&c).iter().any(|p| p.contains(&n.to_string())),
    );
}

fn large_output_on_both_streams_arrives_exact(e: &TestEngine) {
    // Two writers at once, 24 MiB of random text each: every byte in order on its own stream,
    // however the agent cuts, joins or splices the frames.
    let c = e.shared();
    let (out, err) = (
        format!("/tmp/{}", unique("out")),
        format!("/tmp/{}", unique("err")),
    );
    let make = |file: &str| format!("head -c 18000000 /dev/urandom | base64 | tee {file}");
    let mut s = c
        .command(format!("{} & {} >&2; wait", make(&out), make(&err)))
        .max_output(0)
        .timeout(Duration::from_secs(120))
        .stream()
        .unwrap();
    let chunks = collect(s.by_ref());
    assert!(s.result().unwrap().ok(), "{:?}", s.result());
    for (kind, file) in [(StreamKind::Stdout, &out), (StreamKind::Stderr, &err)] {
        let sent = String::from_utf8(c.read_file(file).unwrap()).unwrap();
        let got = text_of(&chunks, kind);
        assert_eq!(got.len(), sent.len(), "{kind:?}: bytes");
        assert!(got == sent, "{kind:?}: the bytes differ");
    }
    c.run(format!("rm -f {out} {err}")).unwrap();
}

/// The variable that makes this test binary a flood's client instead of a test run: the
/// sandbox's name and its engine's socket, then a marker for the flood.
pub const FLOOD_CLIENT: &str = "POCKETDOCK_TEST_FLOOD_CLIENT";

/// As a child process: streams a flood from the sandbox, says so once output arrives, and
/// reads on until it is killed.
#[allow(clippy::print_stdout)] // the parent waits for our line
pub fn read_a_flood(spec: &str) -> ! {
    let mut parts = spec.splitn(3, ' ');
    let (name, socket, mark) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let c = find_container(name, Some(std::path::Path::new(socket))).unwrap();
    let mut s = c
        .command(format!("yes {mark}"))
        .max_output(0)
        .stream()
        .unwrap();
    s.next().unwrap().unwrap();
    println!("flooding");
    for chunk in s {
        chunk.unwrap();
    }
    unreachable!("the flood never ends by itself");
}

fn a_client_killed_mid_flood_leaves_the_sandbox_serving(e: &TestEngine) {
    let c = e.sandbox();
    let mark = unique("flood");
    let spec = format!("{} {} {mark}", c.name(), e.socket.display());
    let (mut client, line) = helper_process(FLOOD_CLIENT, &spec);
    assert_eq!(line, "flooding\n");
    client.kill().unwrap(); // SIGKILL, with output in flight
    client.wait().unwrap();
    // The sandbox serves on; a flood nobody reads any more costs its agent no memory.
    assert_eq!(c.run("echo alive").unwrap().stdout, "alive\n");
    if expected_transport() == Transport::Agent {
        let rss = c.run("awk '/VmRSS/ {print $2}' /proc/1/status").unwrap();
        let kib: u64 = rss.stdout.trim().parse().unwrap();
        assert!(kib < 32 * 1024, "the agent holds {kib} KiB");
    }
    c.run(format!("pkill -f {mark}; true")).unwrap();
    eventually(Duration::from_secs(10), "the flood ends", || {
        !processes(&c).iter().any(|p| p.contains(&mark))
    });
    assert_eq!(c.run("echo still").unwrap().stdout, "still\n");
}
