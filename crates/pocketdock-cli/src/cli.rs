//! Command-line definitions (clap). No behaviour here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "pocketdock",
    version,
    about = "Offline container sandboxes over the local Podman or Docker socket",
    propagate_version = true
)]
pub struct Cli {
    /// Engine socket (default: POCKETDOCK_SOCKET, the project's `socket:`, then auto-detect).
    #[arg(long, global = true, env = "POCKETDOCK_SOCKET")]
    pub socket: Option<PathBuf>,

    /// Say more about what is happening: the library's warnings and its engine and agent
    /// calls, on stderr (`RUST_LOG` refines it).
    #[arg(short, long, global = true)]
    pub verbose: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show how to get started.
    Quickstart,
    /// Create a project (.pocketdock/pocketdock.yaml) here or in PATH.
    Init(InitArgs),
    /// Summarise the current project and its containers.
    Status(JsonArgs),
    /// Cross-check the project's instance directories against the engine.
    Doctor(JsonArgs),
    /// Show a container's run logs or history.
    Logs(LogsArgs),
    /// Create and start a sandbox (it keeps running after this command).
    Create(CreateArgs),
    /// Run a command in a sandbox.
    Run(RunArgs),
    /// Open an interactive shell in a sandbox.
    Shell(ContainerArg),
    /// Restart a sandbox (in place, or recreated with --fresh).
    Reboot(RebootArgs),
    /// Stop a sandbox without removing it.
    Stop(ContainerArg),
    /// Start a stopped sandbox again.
    Resume(ContainerArg),
    /// Stop and remove a sandbox.
    Shutdown(ShutdownArgs),
    /// Save a sandbox's filesystem as an image.
    Snapshot(SnapshotArgs),
    /// Remove stopped sandboxes.
    Prune(PruneArgs),
    /// List sandboxes.
    List(ListArgs),
    /// Show a sandbox's state and resource usage.
    Info(InfoArgs),
    /// Copy a file or directory from the host into a sandbox.
    Push(CopyArgs),
    /// Copy a file or directory from a sandbox to the host.
    Pull(CopyArgs),
    /// List the image profiles.
    Profiles(JsonArgs),
    /// Build profile images.
    Build(BuildArgs),
    /// Save profile images (or any images) to a .tar or .tar.gz file.
    Export(ExportArgs),
    /// Load images from a .tar or .tar.gz file.
    Import(ImportArgs),
    /// Run one command in a throwaway sandbox that is removed afterwards.
    Exec(ExecArgs),
    /// Serve sandboxes to LLM agents over the Model Context Protocol (stdio by default).
    Mcp(McpArgs),
    /// Print shell completions.
    Completions(CompletionsArgs),
}

#[derive(Debug, Args)]
pub struct JsonArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ContainerArg {
    /// The sandbox's name.
    pub container: String,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to create the project (default: the current directory).
    pub path: Option<PathBuf>,
    /// Project name (default: the directory's name).
    #[arg(long)]
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The sandbox (default: every instance of the project).
    pub container: Option<String>,
    /// Show the run history (one line per command) instead of log files.
    #[arg(long)]
    pub history: bool,
    /// Keep printing new entries as they are written.
    #[arg(long, short)]
    pub follow: bool,
    /// At most this many entries.
    #[arg(long, short = 'n', default_value_t = 20)]
    pub limit: usize,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Image to run (default: the profile's, else pocketdock/minimal-python).
    #[arg(long)]
    pub image: Option<String>,
    /// Sandbox name (default: pd-<8 hex>).
    #[arg(long)]
    pub name: Option<String>,
    /// Image profile (sets the image and the network default).
    #[arg(long)]
    pub profile: Option<String>,
    /// Memory limit, e.g. 256m or 1g.
    #[arg(long)]
    pub mem_limit: Option<String>,
    /// CPU cap as a share of one core (1-100).
    #[arg(long)]
    pub cpu_percent: Option<u32>,
    /// Default timeout of runs, in seconds.
    #[arg(long)]
    pub timeout: Option<f64>,
    /// Keep the sandbox (stopped) when it is shut down.
    #[arg(long)]
    pub persist: bool,
    /// Pass a host device through (repeatable): /dev/x or /dev/x:/dev/y.
    #[arg(long)]
    pub device: Vec<String>,
    /// Publish a port (repeatable): HOST:CONTAINER.
    #[arg(short = 'p', long = "port", value_parser = parse_port_pair)]
    pub ports: Vec<(u16, u16)>,
    /// Mount a host directory read-write (repeatable): HOST:CONTAINER.
    #[arg(long = "volume")]
    pub volumes: Vec<String>,
    /// Project the sandbox belongs to (default: the current project).
    #[arg(long)]
    pub project: Option<String>,
    #[command(flatten)]
    pub hardening: HardeningArgs,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Loosening the sandbox's hardened defaults (`info` shows what is in force).
#[derive(Debug, Args)]
pub struct HardeningArgs {
    /// Give the sandbox a network (default: none, unless ports are published or the profile's
    /// default is on).
    #[arg(long)]
    pub network: bool,
    /// A read-only root file system, with a writable tmpfs at /tmp.
    #[arg(long)]
    pub read_only: bool,
    /// Most processes at once (default 512; 0: no limit).
    #[arg(long, value_name = "N")]
    pub pids_limit: Option<i64>,
    /// Keep one more Linux capability (repeatable), e.g. NET_BIND_SERVICE.
    #[arg(long = "cap-add", value_name = "CAP")]
    pub cap_add: Vec<String>,
    /// Let programs gain privileges through setuid binaries (no `no-new-privileges`).
    #[arg(long)]
    pub allow_new_privileges: bool,
}

impl HardeningArgs {
    pub fn apply(self, mut options: pocketdock::ContainerOptions) -> pocketdock::ContainerOptions {
        if self.network {
            options = options.network(true);
        }
        if let Some(n) = self.pids_limit {
            options = options.pids_limit(n);
        }
        for cap in self.cap_add {
            options = options.cap_add(cap);
        }
        options
            .read_only(self.read_only)
            .no_new_privileges(!self.allow_new_privileges)
    }
}

fn parse_port_pair(s: &str) -> Result<(u16, u16), String> {
    let (host, container) = s
        .split_once(':')
        .ok_or_else(|| format!("{s:?}: expected HOST:CONTAINER, e.g. 8080:80"))?;
    let port = |p: &str| {
        p.parse::<u16>()
            .map_err(|_| format!("{p:?} is not a port number"))
    };
    Ok((port(host)?, port(container)?))
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The sandbox's name.
    pub container: String,
    /// Keep it running in the background and print its exec id.
    #[arg(long, conflicts_with_all = ["stream", "json"])]
    pub detach: bool,
    /// Print output as it arrives (the default; kept for compatibility).
    #[arg(long)]
    pub stream: bool,
    /// Seconds before the command and everything it started are killed (exit status 124).
    #[arg(long)]
    pub timeout: Option<f64>,
    /// Most bytes of output kept with --json.
    #[arg(long)]
    pub max_output: Option<usize>,
    /// Interpret the command as this language.
    #[arg(long, value_enum)]
    pub lang: Option<LangArg>,
    /// Print one JSON object with the result instead of the output.
    #[arg(long, conflicts_with = "stream")]
    pub json: bool,
    #[command(flatten)]
    pub options: CommandOptions,
    /// One ARG: a shell command line (`sh -c`). Two or more: an argv, passed exactly.
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "ARG"
    )]
    pub command: Vec<String>,
}

/// How a command runs, for `run` and `exec`.
#[derive(Debug, Args)]
pub struct CommandOptions {
    /// Set an environment variable (`KEY=VALUE`, or `KEY` to pass this shell's value).
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// The directory the command starts in.
    #[arg(short = 'w', long = "workdir", value_name = "DIR")]
    pub workdir: Option<String>,
    /// Run as this user (name or uid, optionally :group).
    #[arg(short = 'u', long = "user")]
    pub user: Option<String>,
    /// Stream this program's stdin to the command.
    #[arg(short = 'i', long = "interactive")]
    pub interactive: bool,
}

#[derive(Debug, Args)]
pub struct RebootArgs {
    /// The sandbox's name.
    pub container: String,
    /// Recreate it from its image with the same configuration.
    #[arg(long)]
    pub fresh: bool,
}

#[derive(Debug, Args)]
pub struct ShutdownArgs {
    /// The sandbox's name.
    pub container: String,
    /// Do not ask for confirmation.
    #[arg(short = 'y', long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// The sandbox's name.
    pub container: String,
    /// Image to create, repo[:tag].
    pub image: String,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Do not ask for confirmation.
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Only this project's sandboxes.
    #[arg(long, conflicts_with = "orphans")]
    pub project: Option<String>,
    /// Instead: remove, running or not, every non-persistent sandbox whose creating process
    /// on this host is gone (killed or crashed without cleaning up).
    #[arg(long)]
    pub orphans: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Only this project's sandboxes.
    #[arg(long)]
    pub project: Option<String>,
}

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// The sandbox's name.
    pub container: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CopyArgs {
    /// The sandbox's name.
    pub container: String,
    /// Source path.
    pub src: String,
    /// Destination path.
    pub dest: String,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Profiles to build.
    #[arg(required_unless_present_any = ["all", "context"])]
    pub profiles: Vec<String>,
    /// Build every profile.
    #[arg(long, conflicts_with_all = ["profiles", "context"])]
    pub all: bool,
    /// Build your own image from this directory (it holds a Dockerfile) instead of a profile.
    #[arg(long, requires = "tag", conflicts_with = "profiles")]
    pub context: Option<PathBuf>,
    /// Tag of the image built from --context.
    #[arg(long, requires = "context")]
    pub tag: Option<String>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Profiles whose images to export.
    #[arg(required_unless_present_any = ["all", "image"])]
    pub profiles: Vec<String>,
    /// Export every profile's image.
    #[arg(long, conflicts_with = "profiles")]
    pub all: bool,
    /// Export this image (repeatable) in addition to the profiles.
    #[arg(long)]
    pub image: Vec<String>,
    /// Archive to write: .tar or .tar.gz.
    #[arg(short, long)]
    pub output: PathBuf,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Archive to load: .tar or .tar.gz.
    pub file: PathBuf,
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
    #[command(flatten)]
    pub hardening: HardeningArgs,
    #[command(flatten)]
    pub options: CommandOptions,
    /// One ARG: a shell command line (`sh -c`). Two or more: an argv, passed exactly.
    #[arg(required = true, last = true, value_name = "ARG")]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Sandboxes the server created are removed when it exits (stdin closed, \
SIGTERM, SIGINT; after SIGKILL, by the orphan sweep of the next pocketdock process), except \
those created with persist."
)]
pub struct McpArgs {
    /// Serve streamable HTTP at http://ADDR/mcp (a loopback address such as 127.0.0.1:8931)
    /// instead of stdio. Every request needs `Authorization: Bearer TOKEN`.
    #[arg(long, value_name = "ADDR")]
    pub http: Option<std::net::SocketAddr>,
    /// The bearer token for --http (default: a random one, printed on stderr).
    #[arg(
        long,
        env = "POCKETDOCK_MCP_TOKEN",
        value_name = "TOKEN",
        requires = "http"
    )]
    pub token: Option<String>,
    /// Image of sandboxes created without one.
    #[arg(long, default_value = pocketdock::DEFAULT_IMAGE)]
    pub image: String,
    /// Bytes of output a tool call returns unless it asks otherwise.
    #[arg(long, default_value_t = pocketdock_mcp::DEFAULT_MAX_OUTPUT, value_name = "BYTES")]
    pub max_output: usize,
    /// Seconds a command may run unless the call asks otherwise.
    #[arg(long, default_value_t = pocketdock_mcp::DEFAULT_TIMEOUT.as_secs_f64(), value_name = "SECONDS")]
    pub timeout: f64,
    /// Live sandboxes the server may hand out and hold at once (the warm pool's are apart).
    #[arg(long, default_value_t = pocketdock_mcp::DEFAULT_MAX_SANDBOXES, value_name = "N")]
    pub max_sandboxes: usize,
    /// Sandboxes kept started ahead of need, so that creations answer fast (0: none; at most --max-sandboxes). The engine holds at most --max-sandboxes + --pool of the server's.
    #[arg(long, default_value_t = pocketdock_mcp::DEFAULT_POOL, value_name = "N")]
    pub pool: usize,
    /// Let the push and pull tools reach this host directory (and nothing outside it).
    /// Without it, the server has no way to the host's files.
    #[arg(long, value_name = "DIR")]
    pub allow_host_dir: Option<PathBuf>,
    /// A label KEY=VALUE for every sandbox the server creates (repeatable).
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
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
