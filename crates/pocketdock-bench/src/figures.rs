//! The figures of the agent's issue: the CLI as a whole process, many concurrent runs, a GiB of
//! output, and the agent's own size and memory.

use std::path::Path;
use std::time::Instant;

use anyhow::{ensure, Context, Result};
use pocketdock::Container;

use crate::measure::{Plan, Samples};

/// Bytes of the long stream: 1 GiB.
pub const STREAM_BYTES: u64 = 1 << 30;
const THREADS: usize = 64;
const RUNS_PER_THREAD: usize = 10;

pub fn agent_figures(c: &Container, socket: &Path, plan: &Plan, s: &mut Samples) -> Result<()> {
    if let Some(cli) = &plan.cli {
        s.cli_run_ms = cli_runs(cli, socket, c.name(), plan)?;
    }
    s.concurrent_runs_per_s.push(concurrent_runs(c)?);
    for _ in 0..plan.stream_iters {
        s.stream_gib_gb_s.push(stream_gib(c)?);
    }
    if plan.agent {
        let status = c.run("cat /proc/1/status")?;
        s.agent_idle_rss_kib = status
            .stdout
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1)?.parse().ok());
    }
    Ok(())
}

/// `CLI run NAME -- true` as a whole process, `plan.cli_runs` times after one unmeasured run.
pub fn cli_runs(cli: &Path, socket: &Path, name: &str, plan: &Plan) -> Result<Vec<f64>> {
    let mut samples = Vec::with_capacity(plan.cli_runs);
    for i in 0..=plan.cli_runs {
        let t = Instant::now();
        let mut command = std::process::Command::new(cli);
        command
            .args(["run", name, "--", "true"])
            .env("POCKETDOCK_SOCKET", socket);
        if !plan.agent {
            command.env("POCKETDOCK_TRANSPORT", "exec");
        }
        let out = command
            .output()
            .with_context(|| format!("running {}", cli.display()))?;
        let elapsed = t.elapsed().as_secs_f64() * 1000.0;
        ensure!(out.status.success(), "{} run: {:?}", cli.display(), out);
        if i > 0 {
            samples.push(elapsed);
        }
    }
    Ok(samples)
}

/// `docker -H unix://SOCK exec NAME true`, for comparison with our CLI.
pub fn docker_exec_runs(socket: &Path, name: &str, runs: usize) -> Option<Vec<f64>> {
    let host = format!("unix://{}", socket.display());
    let mut samples = Vec::new();
    for i in 0..=runs {
        let t = Instant::now();
        let out = std::process::Command::new("docker")
            .args(["-H", &host, "exec", name, "true"])
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        if i > 0 {
            samples.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    Some(samples)
}

fn concurrent_runs(c: &Container) -> Result<f64> {
    let t = Instant::now();
    let threads: Vec<_> = (0..THREADS)
        .map(|i| {
            let c = c.clone();
            std::thread::spawn(move || -> Result<()> {
                for j in 0..RUNS_PER_THREAD {
                    let r = c.run(format!("echo {i}-{j}"))?;
                    ensure!(
                        r.ok() && r.stdout == format!("{i}-{j}\n"),
                        "wrong result {r:?}"
                    );
                }
                Ok(())
            })
        })
        .collect();
    for t in threads {
        t.join()
            .map_err(|_| anyhow::anyhow!("a run thread panicked"))??;
    }
    Ok((THREADS * RUNS_PER_THREAD) as f64 / t.elapsed().as_secs_f64())
}

/// `head -c 1GiB /dev/zero | cat >/dev/null` on the host: GB/s, or `None` if it failed.
pub fn host_pipe_gib() -> Option<f64> {
    let t = Instant::now();
    let ok = std::process::Command::new("sh")
        .args([
            "-c",
            &format!("head -c {STREAM_BYTES} /dev/zero | cat >/dev/null"),
        ])
        .status()
        .ok()?
        .success();
    ok.then(|| STREAM_BYTES as f64 / 1e9 / t.elapsed().as_secs_f64())
}

fn stream_gib(c: &Container) -> Result<f64> {
    let t = Instant::now();
    let mut s = c
        .command(format!("head -c {STREAM_BYTES} /dev/zero"))
        .max_output(0)
        .stream()?;
    let mut total = 0u64;
    for chunk in s.by_ref() {
        total += chunk?.data.len() as u64;
    }
    let secs = t.elapsed().as_secs_f64();
    ensure!(
        total == STREAM_BYTES,
        "the stream brought {total} of {STREAM_BYTES} bytes"
    );
    ensure!(
        s.result().is_some_and(|r| r.exit_code == 0),
        "the stream failed: {:?}",
        s.result()
    );
    Ok(STREAM_BYTES as f64 / 1e9 / secs)
}
