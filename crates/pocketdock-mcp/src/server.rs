//! The MCP server: pocketdock's sandboxes as tools. Every failure is a tool error with a
//! one-line message; nothing a call does ends the server.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use futures::FutureExt;
use pocketdock::aio::{create_new_container, Pool};
use pocketdock::ContainerOptions;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::model::{CallToolRequestParams, CallToolResponse, CallToolResult, ErrorCode};
use rmcp::service::RequestContext;
use rmcp::{tool, tool_handler, tool_router, ErrorData, RoleServer, ServerHandler};

use crate::config::McpConfig;
use crate::host_dir::HostDir;
use crate::params::*;
use crate::sandboxes::{Pending, Sandbox, Sandboxes};

/// The longest a command may be given (a day): beyond it a number is a mistake.
const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 3600);
/// How long the server waits for its sandboxes to go at exit.
const EXIT_GRACE: Duration = Duration::from_secs(30);

type ToolResult<T> = Result<Json<T>, String>;

/// The server; clones share one set of sandboxes (the HTTP transport makes one per session).
#[derive(Debug, Clone)]
pub struct PocketdockServer {
    shared: Arc<Shared>,
    tool_router: ToolRouter<Self>,
}

#[derive(Debug)]
struct Shared {
    config: McpConfig,
    sandboxes: Sandboxes,
    /// Taken at exit, so a claim that comes later creates nothing.
    pool: std::sync::Mutex<Option<Arc<Pool>>>,
    host_dir: Option<HostDir>,
    /// One creation of the default sandbox at a time.
    default_creation: tokio::sync::Mutex<()>,
}

/// A tool error's text: the error on one line.
fn one_line(e: impl std::fmt::Display) -> String {
    e.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

impl PocketdockServer {
    /// A server with `config`; its pool starts filling at once (on pocketdock's runtime).
    pub fn new(config: McpConfig) -> Result<PocketdockServer, crate::McpError> {
        let host_dir = config
            .allow_host_dir
            .as_deref()
            .map(|dir| {
                HostDir::new(dir).map_err(|e| crate::McpError::HostDir {
                    dir: dir.to_path_buf(),
                    source: e,
                })
            })
            .transpose()?;
        let pool = match config.pool {
            0 => None,
            size => Some(Arc::new(Pool::new(config.options(), size)?)),
        };
        let mut tool_router = Self::tool_router();
        if host_dir.is_none() {
            tool_router.remove_route("push");
            tool_router.remove_route("pull");
        }
        Ok(PocketdockServer {
            shared: Arc::new(Shared {
                sandboxes: Sandboxes::new(config.max_sandboxes),
                config,
                pool: std::sync::Mutex::new(pool),
                host_dir,
                default_creation: tokio::sync::Mutex::new(()),
            }),
            tool_router,
        })
    }

    /// Removes every sandbox the server created, except persistent ones, and its pool.
    pub async fn shut_down(&self) {
        let pool = self
            .shared
            .pool
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let sandboxes = self.shared.sandboxes.drain();
        let removals = sandboxes
            .iter()
            .filter(|sb| !sb.container.persist())
            .map(|sb| sb.container.shutdown(true));
        let all = async {
            // A claim under way holds the pool too; the last holder's drop then removes it.
            if let Some(pool) = pool.and_then(Arc::into_inner) {
                pool.close().await;
            }
            for r in futures::future::join_all(removals).await {
                if let Err(e) = r {
                    tracing::warn!("mcp: removing a sandbox at exit failed: {e}");
                }
            }
        };
        if tokio::time::timeout(EXIT_GRACE, all).await.is_err() {
            tracing::warn!("mcp: sandboxes still being removed after {EXIT_GRACE:?}");
        }
        // Creations cut short and dropped handles are removed in the background: the process
        // must not end before they are.
        let _ = tokio::task::spawn_blocking(|| pocketdock::wait_for_cleanup(EXIT_GRACE)).await;
    }

    fn config(&self) -> &McpConfig {
        &self.shared.config
    }

    async fn create(
        &self,
        args: &CreateSandboxArgs,
        as_default: bool,
    ) -> Result<Arc<Sandbox>, String> {
        let reservation = self.shared.sandboxes.reserve()?;
        let pool = args.is_default().then(|| self.pool()).flatten();
        let (container, image) = match pool {
            Some(pool) => (
                pool.claim().await.map_err(one_line)?,
                self.config().image.clone(),
            ),
            None => {
                let (options, image) = self.options_for(args).map_err(one_line)?;
                let container = create_new_container(options).await.map_err(one_line)?;
                (container, image)
            }
        };
        Ok(reservation.fill(Sandbox::new(container, image), as_default))
    }

    fn pool(&self) -> Option<Arc<Pool>> {
        self.shared
            .pool
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The server's defaults with a creation's arguments on top, and the image that makes.
    fn options_for(
        &self,
        args: &CreateSandboxArgs,
    ) -> pocketdock::Result<(ContainerOptions, String)> {
        let mut o = self.config().options();
        let mut image = self.config().image.clone();
        if let Some(profile) = &args.profile {
            image = pocketdock::resolve_profile(profile)?.image_tag.to_string();
            o = o.profile(profile);
        }
        if let Some(i) = &args.image {
            image = i.clone();
            o = o.image(i);
        }
        if let Some(n) = &args.name {
            o = o.name(n);
        }
        if let Some(n) = args.network {
            o = o.network(n);
        }
        if let Some(m) = &args.mem_limit {
            o = o.mem_limit(m);
        }
        if let Some(c) = args.cpu_percent {
            o = o.cpu_percent(c);
        }
        if let Some(p) = args.persist {
            o = o.persist(p);
        }
        Ok((o, image))
    }

    /// The named sandbox, or the default one (created on first use).
    async fn sandbox_or_default(&self, name: Option<&str>) -> Result<Arc<Sandbox>, String> {
        if let Some(name) = name {
            return self.shared.sandboxes.get(name);
        }
        let _one_at_a_time = self.shared.default_creation.lock().await;
        match self.shared.sandboxes.default_sandbox() {
            Some(sb) => Ok(sb),
            None => self.create(&CreateSandboxArgs::default(), true).await,
        }
    }

    fn sandbox(&self, name: &str) -> Result<Arc<Sandbox>, String> {
        self.shared.sandboxes.get(name)
    }

    fn host_path(&self, path: &str) -> Result<std::path::PathBuf, String> {
        match &self.shared.host_dir {
            Some(dir) => dir.resolve(path),
            None => Err("the server was started without --allow-host-dir".into()),
        }
    }

    fn timeout(&self, secs: Option<f64>) -> Result<Duration, String> {
        match secs {
            None => Ok(self.config().timeout),
            Some(s) if s.is_finite() && s > 0.0 && s <= MAX_TIMEOUT.as_secs_f64() => {
                Ok(Duration::from_secs_f64(s))
            }
            Some(s) => Err(format!(
                "timeout must be a number of seconds above 0 and at most {}, not {s}",
                MAX_TIMEOUT.as_secs()
            )),
        }
    }

    /// A push or pull between the allowed host directory and a sandbox.
    async fn transfer<F, Fut>(&self, args: TransferArgs, copy: F) -> ToolResult<TransferResult>
    where
        F: FnOnce(Arc<Sandbox>, std::path::PathBuf, String) -> Fut,
        Fut: std::future::Future<Output = pocketdock::Result<()>>,
    {
        let sb = self.sandbox(&args.sandbox)?;
        let host = self.host_path(&args.host_path)?;
        copy(sb, host.clone(), args.sandbox_path.clone())
            .await
            .map_err(one_line)?;
        Ok(Json(TransferResult {
            host_path: host.display().to_string(),
            sandbox_path: args.sandbox_path,
        }))
    }

    fn max_output(&self, asked: Option<usize>) -> Result<usize, String> {
        match asked {
            None => Ok(self.config().max_output),
            Some(0) => Err("max_output must be at least 1 byte".into()),
            Some(n) => Ok(n),
        }
    }
}

/// Takes the first `max` bytes of `s` (at a character boundary) out of it.
fn take_prefix(s: &mut String, max: usize) -> String {
    if s.len() <= max {
        return std::mem::take(s);
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    let rest = s.split_off(cut);
    std::mem::replace(s, rest)
}

/// The start of a file that fits in `max` bytes, as text if it is UTF-8.
fn file_text(mut bytes: Vec<u8>, max: usize, path: &str) -> Result<(String, bool), String> {
    let truncated = bytes.len() > max;
    bytes.truncate(max);
    match String::from_utf8(bytes) {
        Ok(text) => Ok((text, truncated)),
        // Cut inside a character by the cap: keep the whole characters before it.
        Err(e) if truncated && e.utf8_error().error_len().is_none() => {
            let valid = e.utf8_error().valid_up_to();
            let mut bytes = e.into_bytes();
            bytes.truncate(valid);
            Ok((String::from_utf8(bytes).unwrap_or_default(), true))
        }
        Err(_) => Err(format!(
            "{path} is not UTF-8 text: read it with encoding \"base64\""
        )),
    }
}

#[tool_router(router = tool_router)]
impl PocketdockServer {
    #[tool(
        description = "Create and start a new sandbox container. Returns its name, for the other tools."
    )]
    async fn create_sandbox(
        &self,
        Parameters(args): Parameters<CreateSandboxArgs>,
    ) -> ToolResult<CreateSandboxResult> {
        let sb = self.create(&args, false).await?;
        Ok(Json(CreateSandboxResult {
            sandbox: sb.container.name().to_string(),
            image: sb.image.clone(),
            transport: sb.container.transport().to_string(),
        }))
    }

    #[tool(
        description = "Run a shell command in a sandbox and wait for it. Without `sandbox`, a default sandbox is used (created on first use). Output is capped (see `truncated`); a command past its timeout is killed with everything it started."
    )]
    async fn run_command(
        &self,
        Parameters(args): Parameters<RunCommandArgs>,
    ) -> ToolResult<RunCommandResult> {
        let timeout = self.timeout(args.timeout)?;
        let max_output = self.max_output(args.max_output)?;
        let sb = self.sandbox_or_default(args.sandbox.as_deref()).await?;
        let mut command = sb
            .container
            .command(args.command)
            .timeout(timeout)
            .max_output(max_output);
        if let Some(cwd) = args.cwd {
            command = command.cwd(cwd);
        }
        for (k, v) in args.env.unwrap_or_default() {
            command = command.env(k, v);
        }
        let r = command.run().await.map_err(one_line)?;
        Ok(Json(RunCommandResult {
            exit_code: r.exit_code,
            stdout: r.stdout,
            stderr: r.stderr,
            timed_out: r.timed_out,
            truncated: r.truncated,
            duration_ms: r.duration_ms.round() as u64,
        }))
    }

    #[tool(
        description = "Start a shell command in the background in a sandbox. Read its output with read_process_output; end it with kill_process."
    )]
    async fn start_process(
        &self,
        Parameters(args): Parameters<StartProcessArgs>,
    ) -> ToolResult<StartProcessResult> {
        let sb = self.sandbox(&args.sandbox)?;
        sb.ensure_process_room()?;
        let process = sb
            .container
            .command(args.command)
            .spawn()
            .await
            .map_err(one_line)?;
        let process_id = sb.add_process(process);
        Ok(Json(StartProcessResult { process_id }))
    }

    #[tool(
        description = "Output of a background process since the last read, whether it still runs, and its exit code once it has ended."
    )]
    async fn read_process_output(
        &self,
        Parameters(args): Parameters<ProcessArgs>,
    ) -> ToolResult<ProcessOutputResult> {
        let sb = self.sandbox(&args.sandbox)?;
        let tracked = sb.process(&args.process_id)?;
        let process = &tracked.process;
        // Whether it ended is read before its output: once ended, the output is complete.
        let running = process.is_running().await.map_err(one_line)?;
        let exit_code = if running {
            None
        } else {
            let end = process.wait(Some(Duration::ZERO)).await.map_err(one_line)?;
            Some(end.exit_code)
        };
        let fresh = process.read();
        let max = self.config().max_output;
        let (stdout, stderr, more_output) = {
            let mut pending = tracked.pending.lock().unwrap_or_else(|e| e.into_inner());
            let Pending { stdout, stderr } = &mut *pending;
            stdout.push_str(&fresh.stdout);
            stderr.push_str(&fresh.stderr);
            let out = take_prefix(stdout, max);
            let err = take_prefix(stderr, max.saturating_sub(out.len()));
            (out, err, !stdout.is_empty() || !stderr.is_empty())
        };
        if !running && !more_output {
            sb.forget_process(&args.process_id);
        }
        Ok(Json(ProcessOutputResult {
            stdout,
            stderr,
            running,
            exit_code,
            more_output,
            output_lost: process.buffer_overflow(),
        }))
    }

    #[tool(
        description = "Send a signal (default 15, SIGTERM; 9 is SIGKILL) to a background process and everything it started."
    )]
    async fn kill_process(
        &self,
        Parameters(args): Parameters<KillProcessArgs>,
    ) -> ToolResult<KillProcessResult> {
        let sb = self.sandbox(&args.sandbox)?;
        let tracked = sb.process(&args.process_id)?;
        let signalled = tracked
            .process
            .kill(args.signal.unwrap_or(15))
            .await
            .map_err(one_line)?;
        Ok(Json(KillProcessResult { signalled }))
    }

    #[tool(
        description = "Write a file in a sandbox (parents are created; the file is replaced whole). Content is UTF-8 text, or base64 with encoding \"base64\"."
    )]
    async fn write_file(
        &self,
        Parameters(args): Parameters<WriteFileArgs>,
    ) -> ToolResult<WriteFileResult> {
        let sb = self.sandbox(&args.sandbox)?;
        let bytes = match args.encoding.unwrap_or_default() {
            Encoding::Utf8 => args.content.into_bytes(),
            Encoding::Base64 => base64::engine::general_purpose::STANDARD
                .decode(args.content.trim())
                .map_err(|e| format!("content is not valid base64: {e}"))?,
        };
        sb.container
            .write_file(&args.path, &bytes)
            .await
            .map_err(one_line)?;
        Ok(Json(WriteFileResult {
            path: args.path,
            bytes: bytes.len(),
        }))
    }

    #[tool(
        description = "Read a file from a sandbox, as UTF-8 text (default) or base64. Files beyond the output cap are cut (see `truncated`)."
    )]
    async fn read_file(
        &self,
        Parameters(args): Parameters<ReadFileArgs>,
    ) -> ToolResult<ReadFileResult> {
        let sb = self.sandbox(&args.sandbox)?;
        let bytes = sb.container.read_file(&args.path).await.map_err(one_line)?;
        let max = self.config().max_output;
        let encoding = args.encoding.unwrap_or_default();
        let (content, truncated) = match encoding {
            Encoding::Utf8 => file_text(bytes, max, &args.path)?,
            Encoding::Base64 => {
                // Base64 grows by a third: the cap is on the encoded text.
                let raw_max = max / 4 * 3;
                let truncated = bytes.len() > raw_max;
                let raw = &bytes[..bytes.len().min(raw_max)];
                (
                    base64::engine::general_purpose::STANDARD.encode(raw),
                    truncated,
                )
            }
        };
        Ok(Json(ReadFileResult {
            content,
            encoding,
            truncated,
        }))
    }

    #[tool(
        description = "Names in a directory of a sandbox (default: the user's home), sorted; directories end with \"/\"."
    )]
    async fn list_files(
        &self,
        Parameters(args): Parameters<ListFilesArgs>,
    ) -> ToolResult<ListFilesResult> {
        let sb = self.sandbox(&args.sandbox)?;
        let files = sb
            .container
            .list_files(args.path.as_deref())
            .await
            .map_err(one_line)?;
        Ok(Json(ListFilesResult { files }))
    }

    #[tool(description = "The sandboxes this server holds.")]
    async fn list_sandboxes(&self) -> ToolResult<ListSandboxesResult> {
        let default = self.shared.sandboxes.default_name();
        let sandboxes = self
            .shared
            .sandboxes
            .all()
            .iter()
            .map(|sb| SandboxSummary {
                sandbox: sb.container.name().to_string(),
                image: sb.image.clone(),
                transport: sb.container.transport().to_string(),
                persist: sb.container.persist(),
                default: default.as_deref() == Some(sb.container.name()),
                processes: sb.process_count(),
            })
            .collect();
        Ok(Json(ListSandboxesResult { sandboxes }))
    }

    #[tool(
        description = "Stop a sandbox and remove it (a persistent one is only stopped, and kept)."
    )]
    async fn shutdown_sandbox(
        &self,
        Parameters(args): Parameters<SandboxArgs>,
    ) -> ToolResult<ShutdownSandboxResult> {
        let sb = self.shared.sandboxes.remove(&args.sandbox)?;
        sb.container.shutdown(false).await.map_err(one_line)?;
        Ok(Json(ShutdownSandboxResult {
            sandbox: args.sandbox,
            removed: !sb.container.persist(),
        }))
    }

    #[tool(
        description = "Copy a file or directory from the server's allowed host directory into a sandbox."
    )]
    async fn push(&self, Parameters(args): Parameters<TransferArgs>) -> ToolResult<TransferResult> {
        self.transfer(args, |sb, host, path| async move {
            sb.container.push(&host, &path).await
        })
        .await
    }

    #[tool(
        description = "Copy a file or directory from a sandbox into the server's allowed host directory."
    )]
    async fn pull(&self, Parameters(args): Parameters<TransferArgs>) -> ToolResult<TransferResult> {
        self.transfer(args, |sb, host, path| async move {
            sb.container.pull(&path, &host).await
        })
        .await
    }
}

#[tool_handler(
    router = self.tool_router,
    name = "pocketdock",
    instructions = "Offline container sandboxes on the local Podman or Docker engine. run_command runs shell commands (a default sandbox is created on first use); create_sandbox makes more; files move with write_file/read_file/list_files; long-running commands with start_process/read_process_output/kill_process."
)]
impl ServerHandler for PocketdockServer {
    /// The router's call, with bad arguments and panics turned into tool errors: a client's
    /// mistake (or ours) must never end the session.
    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let name = request.name.to_string();
        if !self.tool_router.has_route(&name) {
            return Err(ErrorData::invalid_params(
                format!("no tool named {name:?}"),
                None,
            ));
        }
        let call = ToolCallContext::new(self, request, context);
        match AssertUnwindSafe(self.tool_router.call(call))
            .catch_unwind()
            .await
        {
            Ok(Err(e)) if e.code == ErrorCode::INVALID_PARAMS => Ok(tool_error(format!(
                "bad arguments for {name}: {}",
                one_line(&e.message)
            ))),
            Ok(result) => result,
            Err(_) => {
                tracing::error!(tool = %name, "mcp: a tool call panicked");
                Ok(tool_error(format!(
                    "{name} failed inside the server (a bug); the server goes on"
                )))
            }
        }
    }
}

fn tool_error(message: String) -> CallToolResponse {
    CallToolResult::error(vec![rmcp::model::ContentBlock::text(message)]).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_cut_at_character_boundaries() {
        let mut s = "aé€b".to_string();
        assert_eq!(take_prefix(&mut s, 2), "a");
        assert_eq!(s, "é€b");
        assert_eq!(take_prefix(&mut s, 100), "é€b");
        assert!(s.is_empty());
    }

    #[test]
    fn file_text_is_utf8_or_asks_for_base64() {
        assert_eq!(
            file_text(b"hello".to_vec(), 10, "f").unwrap(),
            ("hello".into(), false)
        );
        assert_eq!(
            file_text("h€llo".as_bytes().to_vec(), 3, "f").unwrap(),
            ("h".into(), true)
        );
        let err = file_text(vec![0xff, 0xfe, b'a'], 10, "bin").unwrap_err();
        assert!(err.contains("base64"), "{err}");
    }
}
