//! `quickstart` and `completions`.

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};
use crate::exit_status::ExitStatus;
use crate::printer::Printer;

pub fn quickstart(printer: Printer) -> anyhow::Result<ExitStatus> {
    let steps: &[(&str, &[&str])] = &[
        (
            "Start an engine (Podman or Docker) — pocketdock finds its socket",
            &["podman system service --time=0 &   # or: dockerd &"],
        ),
        (
            "Build a profile image (or import one: pocketdock import images.tar.gz)",
            &["pocketdock build minimal-python"],
        ),
        (
            "Create a sandbox",
            &["pocketdock create --name my-sandbox --profile minimal-python"],
        ),
        (
            "Run a command",
            &["pocketdock run my-sandbox -- echo hello"],
        ),
        ("Open a shell", &["pocketdock shell my-sandbox"]),
        ("Clean up", &["pocketdock shutdown my-sandbox --yes"]),
        ("See all profiles", &["pocketdock profiles"]),
    ];
    printer.line(&printer.bold("pocketdock quickstart"));
    for (title, commands) in steps {
        printer.line("");
        printer.line(&printer.bold(title));
        for command in *commands {
            printer.line(&format!("  {command}"));
        }
    }
    Ok(ExitStatus::Success)
}

pub fn completions(args: CompletionsArgs) -> anyhow::Result<ExitStatus> {
    let mut command = Cli::command();
    clap_complete::generate(
        args.shell,
        &mut command,
        "pocketdock",
        &mut std::io::stdout(),
    );
    Ok(ExitStatus::Success)
}
