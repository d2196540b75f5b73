//! `pocketdock run CONTAINER -- COMMAND`: output as it arrives, the command's exit status.

use std::path::Path;

use pocketdock::{ExecResult, StreamKind};

use crate::cli::RunArgs;
use crate::commands::container::seconds;
use crate::exit_status::{ExitStatus, TIMED_OUT};
use crate::json;
use crate::printer::Printer;

pub fn run(args: RunArgs, socket: Option<&Path>, printer: Printer) -> anyhow::Result<ExitStatus> {
    let c = pocketdock::find_container(&args.container, socket)?;
    let mut command = c.command(args.command.join(" "));
    if let Some(lang) = args.lang {
        command = command.lang(lang.into());
    }
    // A stream has no timeout of its own: give it the container's default, as a blocking run has.
    let timeout = match args.timeout {
        Some(t) => seconds(t)?,
        None => c.default_timeout(),
    };
    if let Some(max) = args.max_output {
        command = command.max_output(max);
    }
    if args.detach {
        let p = command.spawn()?;
        printer.success(&format!("Started in the background (exec {})", p.id()));
        return Ok(ExitStatus::Success);
    }
    let command = command.timeout(timeout);
    let result = if args.json {
        let r = command.run()?;
        printer.json(&json::exec_result(&r));
        r
    } else {
        stream(command, printer)?
    };
    Ok(status_of(
        &result,
        timeout.as_secs_f64(),
        args.json,
        printer,
    ))
}

/// Passes output through as it arrives.
pub fn stream(command: pocketdock::Command, printer: Printer) -> anyhow::Result<ExecResult> {
    let mut s = command.stream()?;
    for chunk in s.by_ref() {
        let chunk = chunk?;
        match chunk.stream {
            StreamKind::Stdout => printer.stdout_raw(chunk.data.as_bytes()),
            StreamKind::Stderr => printer.stderr_raw(chunk.data.as_bytes()),
        }
    }
    s.result()
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("the command's stream ended without a result"))
}

/// The command's exit status is ours; a timeout is 124 with a message.
pub fn status_of(
    result: &ExecResult,
    timeout_secs: f64,
    quiet: bool,
    printer: Printer,
) -> ExitStatus {
    if result.timed_out {
        if !quiet {
            printer.error(&format!(
                "the command timed out after {timeout_secs} s and was killed"
            ));
        }
        return ExitStatus::Command(TIMED_OUT);
    }
    match result.exit_code {
        0 => ExitStatus::Success,
        code => ExitStatus::Command(u8::try_from(code).unwrap_or(1)),
    }
}
