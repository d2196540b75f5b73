//! The `pocketdock` command: parse, call the library, print.

mod cli;
mod commands;
mod exit_status;
mod json;
mod printer;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};
use commands::{container, exec, files, images, mcp, misc, project, run, shell};
use exit_status::ExitStatus;
use printer::Printer;

/// The library's events (and the engine client's) on stderr.
fn verbose_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("pocketdock=debug,bollard=debug"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let printer = Printer::from_env();
    if cli.verbose {
        printer.note(&format!("pocketdock {}", env!("CARGO_PKG_VERSION")));
        verbose_logging();
    }
    let socket = cli.socket.as_deref();
    let result = match cli.command {
        Command::Quickstart => misc::quickstart(printer),
        Command::Init(args) => project::init(args, printer),
        Command::Status(args) => project::status(args, socket, printer),
        Command::Doctor(args) => project::doctor(args, socket, printer),
        Command::Logs(args) => project::logs(args, printer),
        Command::Create(args) => container::create(args, socket, printer),
        Command::Run(args) => run::run(args, socket, printer),
        Command::Shell(args) => shell::shell(&args.container, socket, printer),
        Command::Reboot(args) => container::reboot(args, socket, printer),
        Command::Stop(args) => container::stop(&args.container, socket, printer),
        Command::Resume(args) => container::resume(&args.container, socket, printer),
        Command::Shutdown(args) => container::shutdown(args, socket, printer),
        Command::Snapshot(args) => container::snapshot(args, socket, printer),
        Command::Prune(args) => container::prune(args, socket, printer),
        Command::List(args) => container::list(args, socket, printer),
        Command::Info(args) => container::info(args, socket, printer),
        Command::Push(args) => files::push(args, socket, printer),
        Command::Pull(args) => files::pull(args, socket, printer),
        Command::Profiles(args) => images::profiles(args, printer),
        Command::Build(args) => images::build(args, socket, printer),
        Command::Export(args) => images::export(args, socket, printer),
        Command::Import(args) => images::import(args, socket, printer),
        Command::Exec(args) => exec::exec(args, socket, printer),
        Command::Mcp(args) => mcp::mcp(args, socket, printer),
        Command::Completions(args) => misc::completions(args),
    };
    match result {
        Ok(status) => status.into(),
        Err(e) => {
            printer.error(&one_line(&e));
            ExitStatus::Failure.into()
        }
    }
}

/// The error and its causes on one line, with what to do where the library says so.
fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}").replace('\n', " ")
}
