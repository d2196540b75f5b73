//! `bench`: measures pocketdock against its Python reference (pocketdock 1.2.6 from PyPI) on
//! Podman and Docker, in one run, and prints a table per engine.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod figures;
mod measure;
mod reference;
mod report;
mod steal;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};

use crate::measure::Plan;
use crate::reference::Outcome;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum EngineArg {
    Podman,
    Docker,
    All,
}

/// Benchmarks pocketdock (Rust) against the Python reference, per engine.
#[derive(Debug, Parser)]
#[command(name = "bench")]
struct Args {
    /// Which engine(s) to measure.
    #[arg(long, value_enum, default_value_t = EngineArg::All)]
    engine: EngineArg,
    #[arg(long, default_value = "/run/podman/podman.sock")]
    podman_socket: PathBuf,
    #[arg(long, default_value = "/var/run/docker.sock")]
    docker_socket: PathBuf,
    /// Image of every sandbox (must be present: nothing is pulled).
    #[arg(long, default_value = pocketdock::DEFAULT_IMAGE)]
    image: String,
    /// Unmeasured `run("true")` calls before the measured ones, and unmeasured session
    /// `send_and_wait("true")` calls before those measured.
    #[arg(long, default_value_t = 5)]
    warmup: usize,
    /// Measured `run("true")` calls.
    #[arg(long, default_value_t = 50)]
    runs: usize,
    /// Measured create -> first result.
    #[arg(long, default_value_t = 5)]
    create_iters: usize,
    /// Measured graceful shutdowns, ours.
    #[arg(long, default_value_t = 5)]
    shutdown_iters: usize,
    /// Measured graceful shutdowns, the reference's (each takes ~10 s).
    #[arg(long, default_value_t = 2)]
    reference_shutdown_iters: usize,
    /// Measured 50 MiB stdout runs.
    #[arg(long, default_value_t = 3)]
    throughput_iters: usize,
    /// Measured 100 MiB `write_file`s, and as many `read_file`s of the file written.
    #[arg(long, default_value_t = 3)]
    file_iters: usize,
    /// Measured session `send_and_wait("true")` calls.
    #[arg(long, default_value_t = 50)]
    session_runs: usize,
    /// Python interpreter that has the reference installed.
    #[arg(long, env = "POCKETDOCK_BENCH_PYTHON", default_value = "python3")]
    python: String,
    /// The script that measures the reference.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/reference_bench.py"))]
    reference_script: PathBuf,
    /// Measure only ours.
    #[arg(long)]
    no_reference: bool,
    /// Skip ours through the engine's exec (sandboxes without the agent).
    #[arg(long)]
    no_exec: bool,
    /// The `pocketdock` CLI to time as a whole process (default: the one beside this binary).
    #[arg(long)]
    cli: Option<PathBuf>,
    /// Measured CLI runs.
    #[arg(long, default_value_t = 20)]
    cli_runs: usize,
    /// Measured 1 GiB streams (the median is shown: one alone moves with the machine).
    #[arg(long, default_value_t = 3)]
    stream_iters: usize,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let cli = args.cli.clone().or_else(|| {
        let beside = std::env::current_exe().ok()?.with_file_name("pocketdock");
        beside.exists().then_some(beside)
    });
    let plan = Plan {
        image: args.image.clone(),
        agent: true,
        cli,
        cli_runs: args.cli_runs,
        stream_iters: args.stream_iters,
        warmup: args.warmup,
        runs: args.runs,
        create_iters: args.create_iters,
        shutdown_iters: args.shutdown_iters,
        throughput_iters: args.throughput_iters,
        file_iters: args.file_iters,
        session_runs: args.session_runs,
    };
    let reference_plan = Plan {
        shutdown_iters: args.reference_shutdown_iters,
        ..plan.clone()
    };
    let engines = [
        ("podman", EngineArg::Podman, &args.podman_socket),
        ("docker", EngineArg::Docker, &args.docker_socket),
    ];

    let mut with_reference = !args.no_reference;
    let mut failed = false;
    for (name, _, socket) in engines
        .into_iter()
        .filter(|(_, e, _)| args.engine == EngineArg::All || args.engine == *e)
    {
        if !socket.exists() {
            println!("{name}: no socket at {}, skipped", socket.display());
            failed = true;
            continue;
        }
        eprintln!("== {name}: measuring pocketdock (Rust)");
        let mut stolen = report::Stolen::default();
        let mark = steal::Mark::now();
        let ours = match measure::ours(socket, &plan) {
            Ok(samples) => samples,
            Err(e) => {
                println!("{name}: measuring ours failed: {e:#}");
                failed = true;
                continue;
            }
        };
        let exec_plan = Plan {
            agent: false,
            ..plan.clone()
        };
        stolen.ours = mark.and_then(steal::Mark::percent_since);
        let mark = steal::Mark::now();
        let ours_exec = if args.no_exec {
            None
        } else {
            eprintln!("== {name}: measuring pocketdock (Rust) through the engine's exec");
            match measure::ours(socket, &exec_plan) {
                Ok(samples) => Some(samples),
                Err(e) => {
                    println!("{name}: measuring ours through engine exec failed: {e:#}");
                    failed = true;
                    None
                }
            }
        };
        stolen.exec = ours_exec
            .as_ref()
            .and(mark.and_then(steal::Mark::percent_since));
        let baselines = measure::baselines(socket, name, &plan, &args.python);
        let mark = steal::Mark::now();
        let mut theirs = if with_reference {
            eprintln!("== {name}: measuring the reference ({})", args.python);
            match reference::run(
                &args.python,
                &args.reference_script,
                socket,
                &reference_plan,
            ) {
                Ok(Outcome::Measured(r)) => Some(*r),
                Ok(Outcome::Unavailable(why)) => {
                    println!("reference not measured: {why}");
                    println!("  (see crates/pocketdock-bench/README.md to install it; showing ours only)");
                    with_reference = false;
                    None
                }
                Err(e) => {
                    println!("{name}: measuring the reference failed: {e:#}");
                    failed = true;
                    None
                }
            }
        } else {
            None
        };
        stolen.theirs = theirs
            .as_ref()
            .and(mark.and_then(steal::Mark::percent_since));
        if let (Some(r), Some(cli)) = (theirs.as_mut(), &baselines.reference_cli_ms) {
            r.samples.cli_run_ms = cli.clone();
        }
        report::print(
            name,
            socket,
            &plan,
            &ours,
            ours_exec.as_ref(),
            theirs.as_ref(),
            &baselines,
            stolen,
        );
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
