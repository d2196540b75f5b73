//! The examples of the "Running Commands" page, run for real and printed.
//!
//! `cargo run --example quickstart` (uses `POCKETDOCK_SOCKET` or auto-detection).
#![allow(clippy::print_stdout)]

use std::sync::mpsc;
use std::time::Duration;

use pocketdock::{create_new_container, ContainerOptions, Lang};

fn main() -> Result<(), pocketdock::Error> {
    let c = create_new_container(ContainerOptions::default())?;
    println!(
        "sandbox {} ({:?}) on {}",
        c.name(),
        c.engine_kind(),
        c.socket_path().display()
    );

    // Blocking mode
    let r = c.run("echo hello")?;
    println!("\n# blocking\nexit_code={} stdout={:?} stderr={:?} ok={} duration_ms={:.1} timed_out={} truncated={}",
        r.exit_code, r.stdout, r.stderr, r.ok(), r.duration_ms, r.timed_out, r.truncated);

    let r = c.command("print(2 + 2)").lang(Lang::Python).run()?;
    println!("python: {:?}", r.stdout);

    let r = c
        .command("sleep 60")
        .timeout(Duration::from_secs(5))
        .run()?;
    println!("timeout: timed_out={} ok={}", r.timed_out, r.ok());

    let r = c
        .command("cat /dev/urandom | head -c 1000000")
        .max_output(1024)
        .run()?;
    println!(
        "output cap: truncated={} kept {} bytes",
        r.truncated,
        r.stdout_bytes().len()
    );

    // Streaming mode
    println!("\n# streaming");
    let mut s = c
        .command("for i in 1 2 3; do echo line $i; done; echo oops >&2")
        .stream()?;
    for chunk in s.by_ref() {
        let chunk = chunk?;
        print!("[{}] {}", chunk.stream, chunk.data);
    }
    let mut s = c.command("echo hello && exit 1").stream()?;
    for chunk in s.by_ref() {
        print!("{}", chunk?.data);
    }
    println!(
        "result.exit_code = {}",
        s.result().expect("after iteration").exit_code
    );

    // Detached mode, with callbacks
    println!("\n# detached");
    let (exited_tx, exited) = mpsc::channel();
    c.on_stdout(|c, data| print!("[out {}] {}", c.name(), data));
    c.on_stderr(|_, data| print!("[err] {}", data));
    c.on_exit(move |_, code| {
        println!("Exited with code {code}");
        let _ = exited_tx.send(code);
    });
    let p = c.command("python3 -m http.server 8080").spawn()?;
    println!("is_running: {}", p.is_running()?);
    let r = c.run("for i in $(seq 50); do python3 -c 'import urllib.request as u; u.urlopen(\"http://127.0.0.1:8080\")' 2>/dev/null && break; sleep 0.1; done; echo fetched")?;
    println!("client: {}", r.stdout.trim());
    let out = p.peek();
    println!(
        "peek: {} bytes of stderr, buffer_size={} overflow={}",
        out.stderr.len(),
        p.buffer_size(),
        p.buffer_overflow()
    );
    println!(
        "read drains: {} then {}",
        p.read().stderr.len(),
        p.read().stderr.len()
    );
    p.kill(15)?;
    let r = p.wait(Some(Duration::from_secs(60)))?;
    println!("wait: exit_code={}", r.exit_code);
    let _ = exited.recv_timeout(Duration::from_secs(5));

    let started = std::time::Instant::now();
    c.shutdown(false)?;
    println!("\nshutdown took {:?}", started.elapsed());
    Ok(())
}
