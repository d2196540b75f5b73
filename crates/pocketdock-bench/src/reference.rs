//! The reference's side: runs `reference_bench.py` and reads its JSON.

use std::io::ErrorKind;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use crate::measure::{Plan, Samples};

/// The reference's measurements.
#[derive(Debug)]
pub struct Reference {
    pub version: String,
    pub samples: Samples,
}

/// What running the script gave.
#[derive(Debug)]
pub enum Outcome {
    Measured(Box<Reference>),
    /// No interpreter, or the package is not importable: not an error, there is just nothing
    /// to compare with.
    Unavailable(String),
}

#[derive(Debug, Deserialize)]
struct Output {
    version: Option<String>,
    samples: Option<Samples>,
    error: Option<String>,
    detail: Option<String>,
}

/// Runs `python script --socket SOCK --json ...`; its progress goes to our stderr.
pub fn run(python: &str, script: &Path, socket: &Path, plan: &Plan) -> Result<Outcome> {
    let spawned = Command::new(python)
        .arg(script)
        .arg("--socket")
        .arg(socket)
        .arg("--json")
        .args(["--image", &plan.image])
        .args(["--warmup", &plan.warmup.to_string()])
        .args(["--runs", &plan.runs.to_string()])
        .args(["--create-iters", &plan.create_iters.to_string()])
        .args(["--shutdown-iters", &plan.shutdown_iters.to_string()])
        .args(["--throughput-iters", &plan.throughput_iters.to_string()])
        .args(["--file-iters", &plan.file_iters.to_string()])
        .args(["--session-runs", &plan.session_runs.to_string()])
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output();
    let out = match spawned {
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Ok(Outcome::Unavailable(format!(
                "no Python interpreter {python:?}"
            )))
        }
        r => r.with_context(|| format!("running {python} {}", script.display()))?,
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .with_context(|| format!("the reference script printed nothing ({})", out.status))?;
    let parsed: Output = serde_json::from_str(json)
        .with_context(|| format!("reading the reference script's output: {json}"))?;
    match (parsed.error.as_deref(), parsed.samples) {
        (Some("not_importable"), _) => Ok(Outcome::Unavailable(format!(
            "the Python package pocketdock is not importable by {python:?}: {}",
            parsed.detail.unwrap_or_default()
        ))),
        (Some(error), _) => bail!("{error}: {}", parsed.detail.unwrap_or_default()),
        (None, Some(samples)) => Ok(Outcome::Measured(Box::new(Reference {
            version: parsed.version.unwrap_or_else(|| "?".into()),
            samples,
        }))),
        (None, None) => bail!("the reference script printed no samples: {json}"),
    }
}
