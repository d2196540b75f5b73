//! `push` and `pull`: files and directory trees between the host and a sandbox.

use std::path::Path;

use crate::cli::CopyArgs;
use crate::exit_status::ExitStatus;
use crate::printer::Printer;

pub fn push(args: CopyArgs, socket: Option<&Path>, printer: Printer) -> anyhow::Result<ExitStatus> {
    let c = pocketdock::find_container(&args.container, socket)?;
    c.push(Path::new(&args.src), &args.dest)?;
    printer.success(&format!(
        "Copied {} to {}:{}",
        args.src, args.container, args.dest
    ));
    Ok(ExitStatus::Success)
}

pub fn pull(args: CopyArgs, socket: Option<&Path>, printer: Printer) -> anyhow::Result<ExitStatus> {
    let c = pocketdock::find_container(&args.container, socket)?;
    c.pull(&args.src, Path::new(&args.dest))?;
    printer.success(&format!(
        "Copied {}:{} to {}",
        args.container, args.src, args.dest
    ));
    Ok(ExitStatus::Success)
}
