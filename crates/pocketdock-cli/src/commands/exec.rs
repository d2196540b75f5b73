//! `pocketdock exec -- COMMAND`: a throwaway sandbox for one command.

use std::path::Path;

use pocketdock::{create_new_container, ContainerOptions};

use crate::cli::ExecArgs;
use crate::commands::container::seconds;
use crate::commands::run::{configure, status_of, stream};
use crate::exit_status::ExitStatus;
use crate::json;
use crate::printer::Printer;

pub fn exec(args: ExecArgs, socket: Option<&Path>, printer: Printer) -> anyhow::Result<ExitStatus> {
    let timeout = seconds(args.timeout)?;
    let mut options = args.hardening.apply(
        ContainerOptions::default()
            .image(&args.image)
            .timeout(timeout),
    );
    if let Some(socket) = socket {
        options = options.socket_path(socket);
    }
    let sandbox = create_new_container(options)?;
    let command =
        configure(&sandbox, &args.command, Some(args.lang), &args.options)?.timeout(timeout);
    let result = if args.json {
        let command = if args.options.interactive {
            command.stdin(crate::commands::run::read_all_stdin()?)
        } else {
            command
        };
        let result = command.run()?;
        printer.json(&json::exec_result(&result));
        result
    } else {
        stream(command, args.options.interactive, printer)?
    };
    sandbox.shutdown(true)?;
    Ok(status_of(&result, args.timeout, args.json, printer))
}
