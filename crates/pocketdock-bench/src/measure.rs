//! Our side of the measurements, and the samples both sides produce.

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};
use pocketdock::{create_new_container, Container, ContainerOptions, ExecResult};
use serde::Deserialize;

/// Bytes of the throughput run: `head -c 52428800 /dev/zero`, 50 MiB.
pub const STDOUT_BYTES: usize = 52_428_800;
/// Output cap of the throughput run, above the 50 MiB it prints.
const MAX_OUTPUT: usize = 60_000_000;
/// Size of the `write_file`/`read_file` payload: 100 MiB.
pub const FILE_BYTES: usize = 104_857_600;
/// Where the payload goes in the container.
const FILE_PATH: &str = "/tmp/bench.bin";

/// How many of each measurement.
#[derive(Debug, Clone)]
pub struct Plan {
    pub image: String,
    /// Sandboxes with the agent (commands over its socket), or without (engine exec).
    pub agent: bool,
    /// The `pocketdock` CLI to time, if any.
    pub cli: Option<std::path::PathBuf>,
    /// Measured CLI runs.
    pub cli_runs: usize,
    pub warmup: usize,
    pub runs: usize,
    pub create_iters: usize,
    pub shutdown_iters: usize,
    pub throughput_iters: usize,
    /// Measured 1 GiB streams.
    pub stream_iters: usize,
    /// Measured `write_file`s of the payload, then as many `read_file`s of it.
    pub file_iters: usize,
    /// Measured session `send_and_wait("true")` calls (after `warmup` unmeasured ones).
    pub session_runs: usize,
}

/// Raw samples; the reference script prints the same fields under `samples`.
#[derive(Debug, Default, Deserialize)]
pub struct Samples {
    pub run_true_ms: Vec<f64>,
    pub create_first_result_ms: Vec<f64>,
    /// A warm pool's claim -> first `run("true")` result (the pool full before each claim).
    #[serde(default)]
    pub claim_first_result_ms: Vec<f64>,
    pub shutdown_ms: Vec<f64>,
    pub throughput_mib_s: Vec<f64>,
    pub session_true_ms: Vec<f64>,
    pub write_file_mib_s: Vec<f64>,
    pub read_file_mib_s: Vec<f64>,
    /// Peak resident set of the measuring process, KiB.
    pub peak_rss_kib: Option<u64>,
    /// `pocketdock run NAME -- true`, the whole CLI process.
    #[serde(default)]
    pub cli_run_ms: Vec<f64>,
    /// 64 threads each running `true` on one sandbox: runs per second, all of them checked.
    #[serde(default)]
    pub concurrent_runs_per_s: Vec<f64>,
    /// 1 GiB of stdout streamed and counted (never held): GB/s (10^9 bytes).
    #[serde(default)]
    pub stream_gib_gb_s: Vec<f64>,
    /// Resident set of the sandbox's PID 1 (the agent) when idle, KiB.
    #[serde(default)]
    pub agent_idle_rss_kib: Option<u64>,
}

/// Measures pocketdock on the engine at `socket`. Every container is labelled
/// `pocketdock.bench=1` and removed on every path (shutdown, or the handle's `Drop` on error).
pub fn ours(socket: &Path, plan: &Plan) -> Result<Samples> {
    reset_peak_rss();
    let mut s = Samples::default();
    let options = ContainerOptions::default()
        .image(&plan.image)
        .socket_path(socket)
        .agent(plan.agent)
        .label("pocketdock.bench", "1");
    let create = || create_new_container(options.clone()).context("creating a sandbox");

    let c = create()?;
    for _ in 0..plan.warmup {
        check(&c.run("true")?, "warm-up run")?;
    }
    for _ in 0..plan.runs {
        let t = Instant::now();
        let r = c.run("true")?;
        s.run_true_ms.push(ms(t));
        check(&r, "run")?;
    }
    for _ in 0..plan.throughput_iters {
        s.throughput_mib_s.push(throughput(&c)?);
    }
    s.session_true_ms = session_latency(&c, plan)?;
    crate::figures::agent_figures(&c, socket, plan, &mut s)?;
    (s.write_file_mib_s, s.read_file_mib_s) = file_throughput(&c, plan.file_iters)?;
    c.shutdown(true)?;

    for i in 0..plan.create_iters.max(plan.shutdown_iters) {
        let t = Instant::now();
        let c = create()?;
        let r = c.run("true")?;
        let elapsed = ms(t);
        check(&r, "first run")?;
        if i < plan.create_iters {
            s.create_first_result_ms.push(elapsed);
        }
        if i < plan.shutdown_iters {
            let t = Instant::now();
            c.shutdown(false)?;
            s.shutdown_ms.push(ms(t));
        } else {
            c.shutdown(true)?;
        }
    }

    let pool = pocketdock::Pool::new(options.clone(), 1).context("starting a pool")?;
    for _ in 0..plan.create_iters {
        pool.filled().context("filling the pool")?;
        let t = Instant::now();
        let c = pool.claim().context("claiming from the pool")?;
        let r = c.run("true")?;
        s.claim_first_result_ms.push(ms(t));
        check(&r, "first run of a claimed sandbox")?;
        c.shutdown(true)?;
    }
    pool.close();
    s.peak_rss_kib = peak_rss_kib();
    Ok(s)
}

/// Other programs doing what our CLI does, for comparison.
#[derive(Debug, Default)]
pub struct Baselines {
    /// `docker exec NAME true` (Docker only).
    pub docker_exec_ms: Option<Vec<f64>>,
    /// The reference's CLI, `pocketdock run NAME true`.
    pub reference_cli_ms: Option<Vec<f64>>,
    pub agent_binary_bytes: usize,
    /// 1 GiB through a pipe on the host, no container involved: GB/s. A stream through the
    /// sandbox crosses a pipe and a socket and is copied on both sides, so this is a ceiling
    /// over the streamed figure that tells a slow machine from a slow path.
    pub host_pipe_gb_s: Vec<f64>,
}

pub fn baselines(socket: &Path, engine: &str, plan: &Plan, python: &str) -> Baselines {
    let mut b = Baselines {
        agent_binary_bytes: pocketdock::embedded_agent().len(),
        host_pipe_gb_s: (0..plan.throughput_iters)
            .filter_map(|_| crate::figures::host_pipe_gib())
            .collect(),
        ..Default::default()
    };
    let Ok(c) = create_new_container(
        ContainerOptions::default()
            .image(&plan.image)
            .socket_path(socket)
            .label("pocketdock.bench", "1"),
    ) else {
        return b;
    };
    if engine == "docker" {
        b.docker_exec_ms = crate::figures::docker_exec_runs(socket, c.name(), plan.cli_runs);
    }
    // The reference's CLI sits beside the interpreter that has it installed.
    if let Some(script) = Path::new(python).parent().map(|d| d.join("pocketdock")) {
        if script.exists() {
            let plan = Plan {
                agent: false,
                ..plan.clone()
            };
            b.reference_cli_ms = crate::figures::cli_runs(&script, socket, c.name(), &plan).ok();
        }
    }
    let _ = c.shutdown(true);
    b
}

/// One 50 MiB stdout run, checked byte for byte in count; MiB/s.
fn throughput(c: &Container) -> Result<f64> {
    let t = Instant::now();
    let r = c
        .command(format!("head -c {STDOUT_BYTES} /dev/zero"))
        .max_output(MAX_OUTPUT)
        .run()?;
    let secs = t.elapsed().as_secs_f64();
    check(&r, "throughput run")?;
    let got = r.stdout_bytes().len();
    ensure!(
        got == STDOUT_BYTES && !r.truncated,
        "throughput run: got {got} bytes of {STDOUT_BYTES} (truncated: {})",
        r.truncated
    );
    Ok(STDOUT_BYTES as f64 / 1_048_576.0 / secs)
}

/// `send_and_wait("true")` latencies of one session, after `plan.warmup` unmeasured calls; the
/// session is closed on every path (the container's removal would end it anyway).
fn session_latency(c: &Container, plan: &Plan) -> Result<Vec<f64>> {
    let session = c.session().context("opening a session")?;
    let measured = (|| {
        for _ in 0..plan.warmup {
            check(
                &session.send_and_wait("true", None)?,
                "warm-up send_and_wait",
            )?;
        }
        let mut samples = Vec::with_capacity(plan.session_runs);
        for _ in 0..plan.session_runs {
            let t = Instant::now();
            let r = session.send_and_wait("true", None)?;
            samples.push(ms(t));
            check(&r, "send_and_wait")?;
        }
        Ok(samples)
    })();
    session.close();
    measured
}

/// Byte `i` of the payload: a 0..=199 ramp, repeated (its 200-byte period divides 100 MiB,
/// and does not divide the tar block or our upload chunk, so a misplaced piece shows). The
/// reference script writes the same bytes.
fn payload_byte(i: usize) -> u8 {
    (i % 200) as u8
}

/// `iters` writes of the 100 MiB payload to [`FILE_PATH`], then `iters` reads of it (length and
/// content checked, outside the timing); MiB/s of each. The payload is dropped before the reads,
/// so at most one 100 MiB buffer is alive at a time.
fn file_throughput(c: &Container, iters: usize) -> Result<(Vec<f64>, Vec<f64>)> {
    if iters == 0 {
        return Ok((Vec::new(), Vec::new()));
    }
    let mib = FILE_BYTES as f64 / 1_048_576.0;
    let (mut writes, mut reads) = (Vec::with_capacity(iters), Vec::with_capacity(iters));
    let payload: Vec<u8> = (0..FILE_BYTES).map(payload_byte).collect();
    for _ in 0..iters {
        let t = Instant::now();
        c.write_file(FILE_PATH, &payload)
            .context("write_file of the payload")?;
        writes.push(mib / t.elapsed().as_secs_f64());
    }
    drop(payload);
    for _ in 0..iters {
        let t = Instant::now();
        let data = c.read_file(FILE_PATH).context("read_file of the payload")?;
        let secs = t.elapsed().as_secs_f64();
        ensure!(
            data.len() == FILE_BYTES,
            "read_file: got {} bytes of {FILE_BYTES}",
            data.len()
        );
        if let Some(i) = (0..FILE_BYTES).find(|&i| data[i] != payload_byte(i)) {
            bail!("read_file: byte {i} differs from what was written");
        }
        reads.push(mib / secs);
    }
    Ok((writes, reads))
}

fn check(r: &ExecResult, what: &str) -> Result<()> {
    ensure!(
        r.ok(),
        "{what}: exit code {}, timed out: {}, stderr: {:?}",
        r.exit_code,
        r.timed_out,
        r.stderr
    );
    Ok(())
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

/// Resets VmHWM to the current RSS (Linux ≥ 4.0), so each engine's peak is its own.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// VmHWM of this process, KiB.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
