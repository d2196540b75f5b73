//! `pocketdock shell CONTAINER`: an interactive shell on a real TTY, through the sandbox's agent
//! (or the engine's exec in a sandbox without one).

use std::io::IsTerminal;
use std::path::Path;

use tokio::io::AsyncReadExt;

use crate::exit_status::ExitStatus;
use crate::printer::Printer;

pub fn shell(name: &str, socket: Option<&Path>, printer: Printer) -> anyhow::Result<ExitStatus> {
    let c = pocketdock::find_container(name, socket)?;
    let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let (cols, rows) = crossterm::terminal::size().unwrap_or((80, 24));
    let runtime = pocketdock::shared_runtime();
    // Raw mode so that keys (Ctrl-C, arrows, tab) reach the shell in the container, not ours.
    let _raw = interactive.then(RawMode::enable).transpose()?;
    let code = runtime.block_on(async {
        // bash where the image has it, else sh.
        let argv = vec![
            "sh".into(),
            "-c".into(),
            "command -v bash >/dev/null && exec bash -l || exec sh -l".into(),
        ];
        // A TTY only when a person types; piped input gets pipes and a real end of input.
        let term = c.as_async().terminal(argv, interactive, cols, rows).await?;
        let (mut output, input, control) = (term.output, term.input, term.control);
        let typing = tokio::spawn(async move {
            let mut stdin = tokio::io::stdin();
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdin.read(&mut buf).await {
                if n == 0 || input.write(&buf[..n]).await.is_err() {
                    break;
                }
            }
            let _ = input.close().await;
        });
        let resizing = interactive.then(|| {
            let control = control.clone();
            tokio::spawn(async move {
                let Ok(mut winch) =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())
                else {
                    return;
                };
                while winch.recv().await.is_some() {
                    if let Ok((cols, rows)) = crossterm::terminal::size() {
                        let _ = control.resize(cols, rows).await;
                    }
                }
            })
        });
        while let Some(chunk) = output.next().await {
            match chunk? {
                (pocketdock::StreamKind::Stdout, bytes) => printer.stdout_raw(&bytes),
                (pocketdock::StreamKind::Stderr, bytes) => printer.stderr_raw(&bytes),
            }
        }
        typing.abort();
        if let Some(r) = resizing {
            r.abort();
        }
        anyhow::Ok(output.exit_code().await?)
    })?;
    // The shared runtime lives on with the stdin read blocked on one of its threads: the
    // process exits without waiting for it.
    Ok(match code {
        0 => ExitStatus::Success,
        code => ExitStatus::Command(u8::try_from(code).unwrap_or(1)),
    })
}

/// The terminal in raw mode for as long as this lives.
struct RawMode;

impl RawMode {
    fn enable() -> anyhow::Result<RawMode> {
        crossterm::terminal::enable_raw_mode()?;
        Ok(RawMode)
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = crossterm::terminal::disable_raw_mode();
    }
}
