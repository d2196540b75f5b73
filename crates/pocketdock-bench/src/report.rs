//! Statistics and the per-engine table.

use std::path::Path;

use crate::measure::{Baselines, Plan, Samples, FILE_BYTES, STDOUT_BYTES};
use crate::reference::Reference;

/// The `p`th percentile, linear between closest ranks (numpy's default; the reference script
/// computes its own figures the same way).
pub fn percentile(samples: &[f64], p: f64) -> Option<f64> {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    let last = s.len().checked_sub(1)?;
    let pos = p / 100.0 * last as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(last);
    Some(s[lo] + (s[hi] - s[lo]) * (pos - lo as f64))
}

/// One figure: its value on each side and how many samples it came from.
struct Row {
    label: String,
    unit: &'static str,
    ours: (Option<f64>, usize),
    exec: Option<(Option<f64>, usize)>,
    theirs: Option<(Option<f64>, usize)>,
    /// Throughput: ratio is ours/theirs; otherwise theirs/ours.
    higher_is_better: bool,
}

fn rows(ours: &Samples, exec: Option<&Samples>, theirs: Option<&Samples>) -> Vec<Row> {
    type Pick = fn(&Samples) -> (Option<f64>, usize);
    let figures: [(&str, &'static str, bool, Pick); 16] = [
        ("run(\"true\") latency p50", "ms", false, |s| {
            (percentile(&s.run_true_ms, 50.0), s.run_true_ms.len())
        }),
        ("run(\"true\") latency p90", "ms", false, |s| {
            (percentile(&s.run_true_ms, 90.0), s.run_true_ms.len())
        }),
        ("create -> first result, median", "ms", false, |s| {
            let v = &s.create_first_result_ms;
            (percentile(v, 50.0), v.len())
        }),
        ("pool claim -> first result, median", "ms", false, |s| {
            let v = &s.claim_first_result_ms;
            (percentile(v, 50.0), v.len())
        }),
        ("shutdown(graceful), median", "ms", false, |s| {
            (percentile(&s.shutdown_ms, 50.0), s.shutdown_ms.len())
        }),
        ("stdout throughput, median", "MiB/s", true, |s| {
            (
                percentile(&s.throughput_mib_s, 50.0),
                s.throughput_mib_s.len(),
            )
        }),
        ("send_and_wait(\"true\") p50", "ms", false, |s| {
            (
                percentile(&s.session_true_ms, 50.0),
                s.session_true_ms.len(),
            )
        }),
        ("send_and_wait(\"true\") p90", "ms", false, |s| {
            (
                percentile(&s.session_true_ms, 90.0),
                s.session_true_ms.len(),
            )
        }),
        ("write_file throughput, median", "MiB/s", true, |s| {
            let v = &s.write_file_mib_s;
            (percentile(v, 50.0), v.len())
        }),
        ("read_file throughput, median", "MiB/s", true, |s| {
            let v = &s.read_file_mib_s;
            (percentile(v, 50.0), v.len())
        }),
        ("peak RSS of the process", "MiB", false, |s| {
            (s.peak_rss_kib.map(|k| k as f64 / 1024.0), 1)
        }),
        ("CLI `run NAME -- true` p50", "ms", false, |s| {
            (percentile(&s.cli_run_ms, 50.0), s.cli_run_ms.len())
        }),
        ("CLI `run NAME -- true` p90", "ms", false, |s| {
            (percentile(&s.cli_run_ms, 90.0), s.cli_run_ms.len())
        }),
        ("64 concurrent runs, aggregate", "runs/s", true, |s| {
            let v = &s.concurrent_runs_per_s;
            (percentile(v, 50.0), v.len())
        }),
        ("1 GiB stdout, streamed", "GB/s", true, |s| {
            let v = &s.stream_gib_gb_s;
            (percentile(v, 50.0), v.len())
        }),
        ("agent idle RSS (sandbox PID 1)", "MiB", false, |s| {
            (s.agent_idle_rss_kib.map(|k| k as f64 / 1024.0), 1)
        }),
    ];
    figures
        .into_iter()
        .map(|(label, unit, higher_is_better, pick)| Row {
            label: label.to_string(),
            unit,
            ours: pick(ours),
            exec: exec.map(pick),
            theirs: theirs.map(pick),
            higher_is_better,
        })
        .collect()
}

fn cell((value, n): (Option<f64>, usize), unit: &str) -> String {
    // Sub-unit values (session latencies are a fraction of a millisecond) get a third decimal.
    let digits = match value {
        Some(v) if v.abs() < 1.0 => 3,
        _ => 2,
    };
    match value {
        Some(v) if n > 1 => format!("{v:.digits$} {unit} (n={n})"),
        Some(v) => format!("{v:.digits$} {unit}"),
        None => "-".into(),
    }
}

fn line(label: &str, ours: &str, exec: &str, theirs: &str, vs_exec: &str, vs_ref: &str) {
    let text = format!("{label:<32} {ours:>24} {exec:>24} {theirs:>28} {vs_exec:>8} {vs_ref:>8}");
    println!("{}", text.trim_end());
}

fn ratio(ours: Option<f64>, other: Option<f64>, higher_is_better: bool) -> String {
    match (ours, other) {
        (Some(o), Some(t)) if o > 0.0 && t > 0.0 => {
            format!("{:.2}x", if higher_is_better { o / t } else { t / o })
        }
        _ => String::new(),
    }
}

/// CPU time stolen by the hypervisor while each column was measured, in percent.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stolen {
    pub ours: Option<f64>,
    pub exec: Option<f64>,
    pub theirs: Option<f64>,
}

/// Prints one engine's table.
#[allow(clippy::too_many_arguments)]
pub fn print(
    engine: &str,
    socket: &Path,
    plan: &Plan,
    ours: &Samples,
    exec: Option<&Samples>,
    theirs: Option<&Reference>,
    baselines: &Baselines,
    stolen: Stolen,
) {
    println!();
    println!(
        "== {engine} ({}), image {}, stdout run = {} MiB of /dev/zero, file = {} MiB",
        socket.display(),
        plan.image,
        STDOUT_BYTES / 1_048_576,
        FILE_BYTES / 1_048_576
    );
    let theirs_title = theirs.map(|r| format!("reference {} (Python)", r.version));
    line(
        "figure",
        "ours, agent",
        if exec.is_some() {
            "ours, engine exec"
        } else {
            ""
        },
        theirs_title.as_deref().unwrap_or(""),
        if exec.is_some() { "vs exec" } else { "" },
        if theirs.is_some() { "vs ref" } else { "" },
    );
    for row in rows(ours, exec, theirs.map(|r| &r.samples)) {
        line(
            &row.label,
            &cell(row.ours, row.unit),
            &row.exec.map(|t| cell(t, row.unit)).unwrap_or_default(),
            &row.theirs.map(|t| cell(t, row.unit)).unwrap_or_default(),
            &ratio(row.ours.0, row.exec.and_then(|t| t.0), row.higher_is_better),
            &ratio(
                row.ours.0,
                row.theirs.and_then(|t| t.0),
                row.higher_is_better,
            ),
        );
    }
    let pct = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.0}%"));
    line(
        "CPU steal meanwhile",
        &pct(stolen.ours),
        &if exec.is_some() {
            pct(stolen.exec)
        } else {
            String::new()
        },
        &if theirs.is_some() {
            pct(stolen.theirs)
        } else {
            String::new()
        },
        "",
        "",
    );
    if let Some(d) = &baselines.docker_exec_ms {
        println!(
            "`docker exec NAME true`, whole process: p50 {} (n={}) — beside our CLI's above",
            percentile(d, 50.0).map_or("-".into(), |v| format!("{v:.2} ms")),
            d.len()
        );
    }
    if let Some(floor) = percentile(&baselines.host_pipe_gb_s, 50.0) {
        println!(
            "this machine's own pipe, 1 GiB `head -c | cat` on the host, no container: {floor:.3} \
             GB/s (n={}) — a ceiling over the streamed figure above (which crosses a pipe and a socket)",
            baselines.host_pipe_gb_s.len()
        );
    }
    println!(
        "agent binary (static, embedded in the library): {:.2} MiB",
        baselines.agent_binary_bytes as f64 / 1_048_576.0
    );
    println!(
        "vs exec = ours through the engine's exec / ours through the agent, vs ref = the \
         reference / ours (for times; the other way round for throughput): > 1 means the agent \
         (ours) is better. The reference's CLI row is its `pocketdock run NAME -- true`."
    );
    if theirs.is_some() {
        println!("ratio = theirs/ours for times and memory, ours/theirs for MiB/s: > 1 means ours is better.");
        println!(
            "The reference's graceful shutdown is measured only {} time(s): each takes ~10 s, because \
             its PID 1 (`sleep`) ignores SIGTERM and the engine waits out the stop grace.",
            theirs.map_or(0, |r| r.samples.shutdown_ms.len())
        );
    }
    println!(
        "send_and_wait: one session per side, after {} unmeasured call(s), closed after. \
         write_file/read_file: the same 100 MiB payload to and from /tmp/bench.bin; every read's \
         length (and content) checked, outside the timing.",
        plan.warmup
    );
    println!(
        "Peak RSS: ours is this process's VmHWM during this engine's run; the reference's is its \
         Python process's ru_maxrss (interpreter included). Both include the file figures' \
         buffers: on our side the 100 MiB payload, then each 100 MiB read_file result, one at a \
         time."
    );
    println!(
        "Noise: one run on a shared machine (other work, e.g. test suites, may use the engines \
         and CPUs meanwhile); differences of a few tens of percent can be noise. Raise the \
         iteration flags (--runs, --session-runs, --file-iters, ...) for steadier figures. \
         \"CPU steal\" is the share of this VM's CPU time its host took while a column was \
         measured (/proc/stat): at more than a few percent, times and rates are inflated."
    );
}
