//! Tool arguments and results: the JSON schemas clients see.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSandboxArgs {
    /// Image to start from (default: the server's image).
    pub image: Option<String>,
    /// A pocketdock profile (e.g. "minimal-python"), which picks the image and whether there is
    /// a network.
    pub profile: Option<String>,
    /// The sandbox's name (default: generated).
    pub name: Option<String>,
    /// Whether the sandbox gets a network (default: none).
    pub network: Option<bool>,
    /// Memory limit such as "256m" or "1g".
    pub mem_limit: Option<String>,
    /// CPU share of one core, 1-100.
    pub cpu_percent: Option<u32>,
    /// Keep the sandbox when the server exits (it is stopped, not removed, on shutdown).
    pub persist: Option<bool>,
}

impl CreateSandboxArgs {
    /// Whether nothing but the server's defaults is asked for (a pooled sandbox will do).
    pub fn is_default(&self) -> bool {
        self.image.is_none()
            && self.profile.is_none()
            && self.name.is_none()
            && self.network.is_none()
            && self.mem_limit.is_none()
            && self.cpu_percent.is_none()
            && !self.persist.unwrap_or(false)
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CreateSandboxResult {
    /// The name to give the other tools.
    pub sandbox: String,
    pub image: String,
    /// How commands reach the sandbox: "agent", "agent-over-exec" or "engine-exec".
    pub transport: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunCommandArgs {
    /// The sandbox (default: one the server creates on first use).
    pub sandbox: Option<String>,
    /// A shell command line (`sh -c`).
    pub command: String,
    /// Seconds before the command and everything it started are killed.
    pub timeout: Option<f64>,
    /// Bytes of output kept, stdout and stderr each; the rest is dropped and `truncated` set.
    pub max_output: Option<usize>,
    /// Working directory (default: the sandbox user's home).
    pub cwd: Option<String>,
    /// Extra environment variables.
    pub env: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct RunCommandResult {
    /// The exit code; -1 when the command timed out.
    pub exit_code: i64,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
    pub truncated: bool,
    pub duration_ms: u64,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StartProcessArgs {
    pub sandbox: String,
    /// A shell command line, run in the background.
    pub command: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct StartProcessResult {
    pub process_id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProcessArgs {
    pub sandbox: String,
    pub process_id: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ProcessOutputResult {
    /// Output since the last read.
    pub stdout: String,
    pub stderr: String,
    pub running: bool,
    /// Present once the process has ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    /// More output is waiting beyond this call's cap: read again.
    pub more_output: bool,
    /// Output was dropped because nobody read it in time.
    pub output_lost: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KillProcessArgs {
    pub sandbox: String,
    pub process_id: String,
    /// Signal number (default 15, SIGTERM; 9 is SIGKILL).
    pub signal: Option<i32>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct KillProcessResult {
    /// How many processes received the signal (0 when it had ended).
    pub signalled: usize,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum Encoding {
    #[default]
    #[serde(rename = "utf-8")]
    Utf8,
    #[serde(rename = "base64")]
    Base64,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WriteFileArgs {
    pub sandbox: String,
    /// Path in the sandbox (relative: to the user's home).
    pub path: String,
    pub content: String,
    /// How `content` is encoded (default "utf-8").
    pub encoding: Option<Encoding>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct WriteFileResult {
    pub path: String,
    pub bytes: usize,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadFileArgs {
    pub sandbox: String,
    pub path: String,
    /// "utf-8" (default; fails on binary content) or "base64".
    pub encoding: Option<Encoding>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ReadFileResult {
    pub content: String,
    pub encoding: Encoding,
    /// The file is longer than the output cap: only its start is here.
    pub truncated: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListFilesArgs {
    pub sandbox: String,
    /// Directory (default: the user's home).
    pub path: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ListFilesResult {
    /// Names, sorted; directories end with "/".
    pub files: Vec<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SandboxSummary {
    pub sandbox: String,
    pub image: String,
    pub transport: String,
    pub persist: bool,
    /// The sandbox `run_command` uses when none is named.
    pub default: bool,
    pub processes: usize,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ListSandboxesResult {
    pub sandboxes: Vec<SandboxSummary>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SandboxArgs {
    pub sandbox: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ShutdownSandboxResult {
    pub sandbox: String,
    /// False for a persistent sandbox, which is only stopped.
    pub removed: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferArgs {
    pub sandbox: String,
    /// Path inside the server's allowed host directory (relative to it, or absolute inside it).
    pub host_path: String,
    /// Path in the sandbox.
    pub sandbox_path: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct TransferResult {
    pub host_path: String,
    pub sandbox_path: String,
}
