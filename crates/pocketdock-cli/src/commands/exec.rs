//! `pocketdock exec -- COMMAND`: a throwaway sandbox for one command.

use std::path::Path;
use std::time::Duration;

use pocketdock::{create_new_container, ContainerOptions, ExecResult, StreamKind};

use crate::cli::ExecArgs;
use crate::exit_status::{ExitStatus, TIMED_OUT};
use crate::printer::Printer;

pub fn exec(args: ExecArgs, socket: Option<&Path>, printer: Printer) -> anyhow::Result<ExitStatus> {
    if !(args.timeout.is_finite() && args.timeout > 0.0) {
        anyhow::bail!("--timeout must be a positive number of seconds");
    }
    let timeout = Duration::from_secs_f64(args.timeout);
    let mut options = ContainerOptions::default()
        .image(&args.image)
        .timeout(timeout);
    if let Some(socket) = socket {
        options = options.socket_path(socket);
    }
    let sandbox = create_new_container(options)?;
    let command = sandbox
        .command(args.command.join(" "))
        .lang(args.lang.into())
        .timeout(timeout);
    let result = if args.json {
        let result = command.run()?;
        printer.line(&json(&result));
        result
    } else {
        let mut stream = command.stream()?;
        for chunk in stream.by_ref() {
            let chunk = chunk?;
            match chunk.stream {
                StreamKind::Stdout => printer.stdout_raw(&chunk.data),
                StreamKind::Stderr => printer.stderr_raw(&chunk.data),
            }
        }
        stream
            .result()
            .cloned()
            .expect("a finished stream has a result")
    };
    sandbox.shutdown(true)?;
    if result.timed_out {
        if !args.json {
            printer.error(&format!(
                "the command timed out after {} s and was killed",
                args.timeout
            ));
        }
        return Ok(ExitStatus::Command(TIMED_OUT));
    }
    Ok(match result.exit_code {
        0 => ExitStatus::Success,
        code => ExitStatus::Command(u8::try_from(code).unwrap_or(1)),
    })
}

fn json(r: &ExecResult) -> String {
    serde_json::json!({
        "exit_code": r.exit_code,
        "stdout": r.stdout,
        "stderr": r.stderr,
        "ok": r.ok(),
        "duration_ms": r.duration_ms,
        "timed_out": r.timed_out,
        "truncated": r.truncated,
    })
    .to_string()
}
