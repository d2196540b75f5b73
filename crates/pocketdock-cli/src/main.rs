//! The `pocketdock` command: parse, call the library, print.

mod cli;
mod commands;
mod exit_status;
mod printer;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};
use exit_status::ExitStatus;
use printer::Printer;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let printer = Printer;
    let result = match cli.command {
        Command::Exec(args) => commands::exec(args, cli.socket.as_deref(), printer),
    };
    match result {
        Ok(status) => status.into(),
        Err(e) => {
            printer.error(&format!("{e:#}"));
            ExitStatus::Failure.into()
        }
    }
}
