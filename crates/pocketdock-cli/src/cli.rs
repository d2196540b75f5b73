//! Command-line definitions (clap). No behaviour here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "pocketdock",
    version,
    about = "Offline container sandboxes over the local Podman or Docker socket"
)]
pub struct Cli {
    /// Engine socket (default: auto-detect Podman, then Docker).
    #[arg(long, global = true, env = "POCKETDOCK_SOCKET")]
    pub socket: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one command in a fresh sandbox that is removed afterwards.
    Exec(ExecArgs),
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Image to run.
    #[arg(long, default_value = pocketdock::DEFAULT_IMAGE)]
    pub image: String,

    /// Seconds before the command and everything it started are killed (exit status 124).
    #[arg(long, default_value_t = 30.0)]
    pub timeout: f64,

    /// Interpret the command as this language.
    #[arg(long, value_enum, default_value_t = LangArg::Sh)]
    pub lang: LangArg,

    /// Print one JSON object with the result instead of streaming the output.
    #[arg(long)]
    pub json: bool,

    /// The command (joined with spaces and run by `sh -c`).
    #[arg(required = true, last = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LangArg {
    Sh,
    Python,
}

impl From<LangArg> for pocketdock::Lang {
    fn from(l: LangArg) -> Self {
        match l {
            LangArg::Sh => pocketdock::Lang::Shell,
            LangArg::Python => pocketdock::Lang::Python,
        }
    }
}
