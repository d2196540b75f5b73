//! `soak`: long runs that look for what a test of one case cannot see — processes that escape
//! a kill, sandboxes leaked by panics and cancellations, memory that grows, errors under
//! sustained load. Not a test: it prints what it finds and exits non-zero on a failure.
//! `--short` is the version CI runs; the full one is the figures.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use clap::Parser;
use pocketdock::{create_new_container, Container, ContainerOptions};

/// Soaks pocketdock on each engine: kills, sandbox churn, sustained load.
#[derive(Debug, Parser)]
#[command(name = "soak")]
struct Args {
    /// Engine sockets to soak (repeat for several).
    #[arg(long = "socket", default_values = ["/run/podman/podman.sock", "/var/run/docker.sock"])]
    sockets: Vec<PathBuf>,
    /// The short version (CI): fewer commands and sandboxes, a few seconds of load.
    #[arg(long)]
    short: bool,
}

/// How much of each phase.
struct Plan {
    killed_commands: usize,
    sandboxes: usize,
    alive_at_once: usize,
    load_sandboxes: usize,
    runs_in_flight: usize,
    load_for: Duration,
}

const LABEL: &str = "pocketdock.soak";

fn main() -> ExitCode {
    let args = Args::parse();
    // The churn's panics are on purpose: keep them out of the report.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !info.to_string().contains("on purpose") {
            default_hook(info);
        }
    }));
    let plan = if args.short {
        Plan {
            killed_commands: 96,
            sandboxes: 24,
            alive_at_once: 8,
            load_sandboxes: 2,
            runs_in_flight: 16,
            load_for: Duration::from_secs(5),
        }
    } else {
        Plan {
            killed_commands: 1000,
            sandboxes: 200,
            alive_at_once: 32,
            load_sandboxes: 8,
            runs_in_flight: 64,
            load_for: Duration::from_secs(60),
        }
    };
    let mut failed = false;
    for socket in &args.sockets {
        println!("== soak on {}", socket.display());
        for (name, phase) in [
            ("kills", kills as fn(&Path, &Plan) -> Result<()>),
            ("sandbox churn", churn),
            ("sustained load", load),
        ] {
            let t = Instant::now();
            match phase(socket, &plan) {
                Ok(()) => println!("   {name}: ok ({:.1} s)", t.elapsed().as_secs_f64()),
                Err(e) => {
                    println!("   {name}: FAILED: {e:#}");
                    failed = true;
                }
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn options(socket: &Path, run: &str) -> ContainerOptions {
    ContainerOptions::default()
        .socket_path(socket)
        .label(LABEL, run)
}

fn run_id() -> String {
    format!(
        "{:x}",
        Instant::now().elapsed().as_nanos() ^ u128::from(std::process::id())
    )
}

/// Timed-out and killed commands whose children hide (`env -i`, `setsid`, double forks,
/// background jobs): afterwards, not one of their processes may be left.
fn kills(socket: &Path, plan: &Plan) -> Result<()> {
    let c = create_new_container(options(socket, &run_id()))?;
    // Each leaves a `sleep 3NNN` behind unless the whole tree is ended.
    let tricks = [
        "sleep 3001 & sleep 3002",
        "env -i /bin/sh -c 'sleep 3003' & wait",
        "setsid sleep 3004 & wait",
        "(sh -c 'sleep 3005 &'); sleep 3006",
        "trap '' TERM; sleep 3007 & while :; do :; done",
    ];
    let next = AtomicUsize::new(0);
    let errors = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= plan.killed_commands {
                    return;
                }
                let trick = tricks[i % tricks.len()];
                let outcome = if i.is_multiple_of(2) {
                    c.command(trick)
                        .timeout(Duration::from_millis(300))
                        .run()
                        .map(|r| r.timed_out)
                } else {
                    c.command(trick).spawn().and_then(|p| {
                        std::thread::sleep(Duration::from_millis(50));
                        p.kill(if i % 4 == 1 { 9 } else { 15 })?;
                        p.kill(9)?;
                        Ok(true)
                    })
                };
                match outcome {
                    Ok(true) => {}
                    Ok(false) => errors
                        .lock()
                        .unwrap()
                        .push(format!("{trick}: not timed out")),
                    Err(e) => errors.lock().unwrap().push(format!("{trick}: {e}")),
                }
            });
        }
    });
    no_errors(errors.into_inner().unwrap())?;
    // Killed processes may take a moment to be reaped: look until none is left, for a while.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ps = c.run("ps -eo args=")?.stdout;
        let left: Vec<&str> = ps.lines().filter(|l| l.contains("sleep 300")).collect();
        if left.is_empty() {
            println!(
                "   {} killed commands, 0 processes left",
                plan.killed_commands
            );
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "{} processes survived: {left:?}",
            left.len()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    c.shutdown(true)?;
    Ok(())
}

/// Sandboxes created and dropped by many threads at once, some through a panic, some
/// abandoned mid-creation: none may be left, and memory must come back.
fn churn(socket: &Path, plan: &Plan) -> Result<()> {
    let run = run_id();
    let rss_before = rss_kib();
    let next = AtomicUsize::new(0);
    let errors = Mutex::new(Vec::new());
    let runtime = tokio::runtime::Runtime::new()?;
    std::thread::scope(|s| {
        for _ in 0..plan.alive_at_once {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= plan.sandboxes {
                    return;
                }
                let result = match i % 4 {
                    // A panic while holding it: the unwinding drop removes it.
                    0 => {
                        let opts = options(socket, &run);
                        let caught = std::panic::catch_unwind(move || {
                            let c = create_new_container(opts).expect("create");
                            assert!(c.run("true").expect("run").ok());
                            panic!("on purpose, holding {}", c.name());
                        });
                        ensure_err(caught.is_err(), "the panic did not happen")
                    }
                    // A creation abandoned mid-way (its future dropped).
                    1 => {
                        let opts = options(socket, &run);
                        let cut = Duration::from_millis(20 + (i as u64 * 37) % 300);
                        runtime.block_on(async move {
                            let _ = tokio::time::timeout(
                                cut,
                                pocketdock::aio::create_new_container(opts),
                            )
                            .await;
                        });
                        Ok(())
                    }
                    // A run abandoned mid-way, then the handle dropped.
                    2 => create_new_container(options(socket, &run))
                        .map_err(anyhow::Error::from)
                        .map(|c| {
                            let aio = c.as_async().clone();
                            runtime.block_on(async move {
                                let _ = tokio::time::timeout(
                                    Duration::from_millis(50),
                                    aio.run("sleep 30"),
                                )
                                .await;
                            });
                        }),
                    // An orderly shutdown.
                    _ => create_new_container(options(socket, &run))
                        .and_then(|c| c.shutdown(true))
                        .map_err(anyhow::Error::from),
                };
                if let Err(e) = result {
                    errors.lock().unwrap().push(format!("{e:#}"));
                }
            });
        }
    });
    drop(runtime);
    pocketdock::wait_for_cleanup(Duration::from_secs(60));
    no_errors(errors.into_inner().unwrap())?;
    let left = leftovers(socket, &run)?;
    let rss_after = rss_kib();
    println!(
        "   {} sandboxes ({} alive at once), {left} left; this process's RSS {} -> {} MiB",
        plan.sandboxes,
        plan.alive_at_once,
        rss_before / 1024,
        rss_after / 1024
    );
    ensure!(left == 0, "{left} sandboxes leaked");
    ensure!(
        rss_after < rss_before + 128 * 1024,
        "memory grew by {} MiB",
        (rss_after - rss_before) / 1024
    );
    Ok(())
}

fn no_errors(errors: Vec<String>) -> Result<()> {
    ensure!(
        errors.is_empty(),
        "{} errors, first: {}",
        errors.len(),
        errors[0]
    );
    Ok(())
}

fn ensure_err(ok: bool, what: &str) -> Result<()> {
    ensure!(ok, "{what}");
    Ok(())
}

/// Many runs in flight on each of several sandboxes for a while: no errors, and the latency
/// distribution.
fn load(socket: &Path, plan: &Plan) -> Result<()> {
    let run = run_id();
    let sandboxes: Vec<Container> = (0..plan.load_sandboxes)
        .map(|_| create_new_container(options(socket, &run)))
        .collect::<pocketdock::Result<_>>()?;
    let runtime = tokio::runtime::Runtime::new()?;
    let until = Instant::now() + plan.load_for;
    let (latencies, errors) = runtime.block_on(async {
        let mut tasks = Vec::new();
        for c in &sandboxes {
            for _ in 0..plan.runs_in_flight {
                let c = c.as_async().clone();
                tasks.push(tokio::spawn(async move {
                    let (mut lat, mut errs) = (Vec::new(), Vec::new());
                    while Instant::now() < until {
                        let t = Instant::now();
                        match c.run("echo ok").await {
                            Ok(r) if r.ok() && r.stdout == "ok\n" => {
                                lat.push(t.elapsed().as_secs_f64() * 1000.0)
                            }
                            Ok(r) => errs.push(format!("{r:?}")),
                            Err(e) => errs.push(e.to_string()),
                        }
                    }
                    (lat, errs)
                }));
            }
        }
        let (mut lat, mut errs) = (Vec::new(), Vec::new());
        for t in tasks {
            let (l, e) = t.await.expect("a load task");
            lat.extend(l);
            errs.extend(e);
        }
        (lat, errs)
    });
    for c in sandboxes {
        c.shutdown(true)?;
    }
    let mut latencies = latencies;
    latencies.sort_by(f64::total_cmp);
    let pick = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    ensure!(!latencies.is_empty(), "no run completed");
    println!(
        "   {} sandboxes x {} runs in flight for {} s: {} runs, {} errors, p50 {:.2} ms, p99 {:.2} ms",
        plan.load_sandboxes,
        plan.runs_in_flight,
        plan.load_for.as_secs(),
        latencies.len(),
        errors.len(),
        pick(0.5),
        pick(0.99)
    );
    no_errors(errors)
}

/// Sandboxes of this run still on the engine (asked directly: a plain GET with a label filter).
fn leftovers(socket: &Path, run: &str) -> Result<usize> {
    use std::io::{Read, Write};
    let mut s = std::os::unix::net::UnixStream::connect(socket).context("the engine")?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let filter = format!("%7B%22label%22%3A%5B%22{LABEL}%3D{run}%22%5D%7D");
    write!(
        s,
        "GET /containers/json?all=1&filters={filter} HTTP/1.0\r\nHost: d\r\n\r\n"
    )?;
    let mut response = String::new();
    s.read_to_string(&mut response)?;
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let list: Vec<serde_json::Value> = serde_json::from_str(body).context("the engine's list")?;
    Ok(list.len())
}

/// This process's resident memory.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
