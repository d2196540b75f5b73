//! `pocketdock run CONTAINER -- COMMAND`: output as it arrives, the command's exit status.

use std::path::Path;

use std::io::Read;

use anyhow::Context;
use pocketdock::{Container, ExecResult, Lang, StreamKind};

use crate::cli::{CommandOptions, LangArg, RunArgs};
use crate::commands::container::seconds;
use crate::exit_status::{ExitStatus, TIMED_OUT};
use crate::json;
use crate::printer::Printer;

pub fn run(args: RunArgs, socket: Option<&Path>, printer: Printer) -> anyhow::Result<ExitStatus> {
    let c = pocketdock::find_container(&args.container, socket)?;
    let mut command = configure(&c, &args.command, args.lang, &args.options)?;
    // A stream has no timeout of its own: give it the container's default, as a blocking run has.
    let timeout = match args.timeout {
        Some(t) => seconds(t)?,
        None => c.default_timeout(),
    };
    if let Some(max) = args.max_output {
        command = command.max_output(max);
    }
    let interactive = args.options.interactive;
    if args.detach {
        // Nobody will be there to stream to it later: its input is what is there now.
        if interactive {
            command = command.stdin(read_all_stdin()?);
        }
        let p = command.spawn()?;
        printer.success(&format!("Started in the background (command {})", p.id()));
        return Ok(ExitStatus::Success);
    }
    let command = command.timeout(timeout);
    let result = if args.json {
        let command = if interactive {
            command.stdin(read_all_stdin()?)
        } else {
            command
        };
        let r = command.run()?;
        printer.json(&json::exec_result(&r));
        r
    } else {
        stream(command, interactive, printer)?
    };
    Ok(status_of(
        &result,
        timeout.as_secs_f64(),
        args.json,
        printer,
    ))
}

/// The command the words say: one word is a shell line, more are an argv passed exactly (a
/// Python program is always one piece of code).
pub fn configure(
    c: &Container,
    words: &[String],
    lang: Option<LangArg>,
    options: &CommandOptions,
) -> anyhow::Result<pocketdock::Command> {
    let lang: Lang = lang.map(Into::into).unwrap_or(Lang::Shell);
    let mut command = match (words, lang) {
        ([line], _) => c.command(line.clone()).lang(lang),
        (_, Lang::Python) => c.command(words.join(" ")).lang(lang),
        _ => c.command_argv(words.iter().cloned()),
    };
    for entry in &options.env {
        let (key, value) = match entry.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => {
                let value = std::env::var(entry)
                    .with_context(|| format!("-e {entry}: no such variable here to pass on"))?;
                (entry.clone(), value)
            }
        };
        command = command.env(key, value);
    }
    if let Some(dir) = &options.workdir {
        command = command.cwd(dir.clone());
    }
    if let Some(user) = &options.user {
        command = command.user(user.clone());
    }
    if options.interactive {
        command = command.open_stdin();
    }
    Ok(command)
}

pub fn read_all_stdin() -> anyhow::Result<Vec<u8>> {
    let mut input = Vec::new();
    std::io::stdin()
        .read_to_end(&mut input)
        .context("reading stdin")?;
    Ok(input)
}

/// Passes output through as it arrives; with `interactive`, this program's stdin goes to the
/// command as it comes, and its end closes the command's stdin.
pub fn stream(
    command: pocketdock::Command,
    interactive: bool,
    printer: Printer,
) -> anyhow::Result<ExecResult> {
    let mut s = command.stream()?;
    if interactive {
        let stdin = s.stdin();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            let mut input = std::io::stdin().lock();
            loop {
                match input.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if stdin.write(buf[..n].to_vec()).is_err() {
                            return;
                        }
                    }
                }
            }
            let _ = stdin.close();
        });
    }
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
