//! Commands as engine execs: create, start, read the multiplexed stream, poll the exit code.
//! Engines never kill an exec whose client went away, and know nothing of process trees, so
//! every exec carries a random token in its environment and kills go through
//! [`token_kill`](super::token_kill).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use tokio::io::AsyncWriteExt;

use super::oom::OomWatch;
use super::token_kill::{signal_tree, TOKEN_VAR};
use super::{ExecControl, ExecHandle, ExecSpec, ExitStatus, SIGKILL};
use crate::engine::{Engine, ExecInput, ExecRequest, OutputStream};
use crate::error::{Error, Result};
use crate::types::StreamKind;

/// Signals an exec's processes from anywhere, and feeds its stdin.
#[derive(Debug, Clone)]
pub(crate) struct Killer {
    engine: Engine,
    container_id: String,
    token: String,
    user: Option<String>,
    /// The sandbox has the agent binary, which kills better than a shell script.
    with_agent: bool,
    signalled: Arc<AtomicBool>,
}

impl Killer {
    pub(crate) fn new(
        engine: Engine,
        container_id: String,
        token: String,
        user: Option<String>,
        with_agent: bool,
    ) -> Self {
        Killer {
            engine,
            container_id,
            token,
            user,
            with_agent,
            signalled: Arc::default(),
        }
    }

    /// Signals every process of the exec but `spared` (a session's shell).
    pub(crate) async fn signal_sparing(&self, signal: i32, spared: Option<u32>) -> Result<usize> {
        self.signalled.store(true, Ordering::SeqCst);
        self.send(signal, spared)
            .await
            .map_err(|e| crate::exec::gone_if_missing(e, &self.container_id))
    }

    /// How many processes of the exec are still alive (signal 0 reaches them all).
    async fn remaining(&self) -> Result<usize> {
        self.send(0, None).await
    }

    async fn send(&self, signal: i32, spared: Option<u32>) -> Result<usize> {
        signal_tree(
            &self.engine,
            &self.container_id,
            self.user.as_deref(),
            self.with_agent,
            &self.token,
            signal,
            spared,
        )
        .await
    }

    /// Kills in the background on the shared runtime, with a client of its own: the caller
    /// may be dropping us outside any runtime, or inside one that is about to end.
    pub(crate) fn kill_detached(&self) {
        let killer = self.clone();
        crate::cleanup::spawn(async move {
            // A start that was under way may put the process there after the first look.
            for pause in [0u64, 500, 2000] {
                tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                let Ok(engine) = Engine::connect_to(killer.engine.socket_path()).await else {
                    continue;
                };
                let user = killer.user.as_deref();
                let _ = signal_tree(
                    &engine,
                    &killer.container_id,
                    user,
                    killer.with_agent,
                    &killer.token,
                    SIGKILL,
                    None,
                )
                .await;
            }
        });
    }
}

struct Control {
    killer: Killer,
    stdin: tokio::sync::Mutex<Option<ExecInput>>,
    exec_id: String,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("engine_exec::Control")
            .field("killer", &self.killer)
            .finish_non_exhaustive()
    }
}

impl ExecControl for Control {
    fn signal_sparing(&self, signal: i32, spare: Option<u32>) -> BoxFuture<'_, Result<usize>> {
        self.killer.signal_sparing(signal, spare).boxed()
    }

    fn resize(&self, cols: u16, rows: u16) -> BoxFuture<'_, Result<()>> {
        self.killer
            .engine
            .resize_exec(&self.exec_id, cols, rows)
            .boxed()
    }

    fn write_stdin(&self, data: Vec<u8>) -> BoxFuture<'_, Result<()>> {
        async move {
            let mut stdin = self.stdin.lock().await;
            let input = stdin
                .as_mut()
                .ok_or_else(|| Error::invalid("the command's stdin is closed"))?;
            input
                .write_all(&data)
                .await
                .and(input.flush().await)
                .map_err(|e| Error::communication(format!("writing to the command's stdin: {e}")))
        }
        .boxed()
    }

    fn close_stdin(&self) -> BoxFuture<'_, Result<()>> {
        async move {
            if let Some(mut input) = self.stdin.lock().await.take() {
                let _ = input.shutdown().await;
            }
            Ok(())
        }
        .boxed()
    }

    fn kill_in_background(&self) {
        self.killer.kill_detached();
    }

    fn signalled(&self) -> bool {
        self.killer.signalled.load(Ordering::SeqCst)
    }
}

pub(crate) struct EngineExec {
    engine: Engine,
    container_id: String,
    exec_id: String,
    output: OutputStream,
    control: Arc<Control>,
    /// How long the output may be quiet before we look whether the exec ended without its
    /// stream saying so.
    quiet: Duration,
    /// The container's OOM kill count as its handle last saw it.
    oom: Arc<OomWatch>,
}

/// The first look at a quiet exec; later looks back off to [`MAX_QUIET`].
const FIRST_QUIET: Duration = Duration::from_secs(2);
const MAX_QUIET: Duration = Duration::from_secs(16);
/// Output that was on its way when an ended exec was found without its stream's end.
const LAST_OUTPUT_GRACE: Duration = Duration::from_millis(300);

impl EngineExec {
    pub(crate) async fn start(
        engine: &Engine,
        container_id: &str,
        spec: &ExecSpec,
        with_agent: bool,
        oom: Arc<OomWatch>,
    ) -> Result<Self> {
        let token = crate::exec::new_token();
        let killer = Killer::new(
            engine.clone(),
            container_id.to_string(),
            token.clone(),
            spec.user.clone(),
            with_agent,
        );
        // Armed before the exec exists: a caller that gives up while the engine is still
        // starting it (a cancelled future) must not leave the command running.
        let guard = KillUnlessStarted(Some(killer.clone()));
        // A handle that found its container running has no OOM baseline: take it before its
        // first command, so that this command's OOM kill is recognised too.
        if oom.wants_baseline() {
            if let Some(count) = super::oom::kills(engine, container_id).await {
                oom.set_baseline(count);
            }
        }
        let mut env = vec![format!("{TOKEN_VAR}={token}")];
        env.extend(spec.env.iter().map(|(k, v)| format!("{k}={v}")));
        let exec_id = engine
            .create_exec(
                container_id,
                ExecRequest {
                    cmd: spec.argv.clone(),
                    env,
                    stdin: spec.stdin,
                    tty: spec.pty.is_some(),
                    user: spec.user.clone(),
                    working_dir: spec.cwd.clone(),
                },
            )
            .await?;
        let (output, input) = engine.start_exec_with_input(&exec_id).await?;
        guard.disarm();
        let input = spec.stdin.then_some(input);
        let control = Arc::new(Control {
            killer,
            stdin: tokio::sync::Mutex::new(input),
            exec_id: exec_id.clone(),
        });
        if let Some((cols, rows)) = spec.pty {
            // The size can only be set once the exec runs; a failure here is cosmetic.
            let _ = control.resize(cols, rows).await;
        }
        Ok(EngineExec {
            engine: engine.clone(),
            container_id: container_id.to_string(),
            exec_id,
            output,
            control,
            quiet: FIRST_QUIET,
            oom,
        })
    }

    /// The next piece of output. Podman (seen on 4.3 and 5.4) under load sometimes never ends
    /// an exec's attach stream although the exec and every process it started are gone: after
    /// a quiet spell, an exec the engine reports ended with no process of it left is taken as
    /// ended.
    async fn next_or_end(&mut self) -> Result<Option<(StreamKind, Bytes)>> {
        loop {
            if let Ok(item) = tokio::time::timeout(self.quiet, self.output.next()).await {
                return item.transpose();
            }
            let killer = &self.control.killer;
            if !ended_without_saying_so(&self.engine, &self.exec_id, killer).await {
                self.quiet = (self.quiet * 2).min(MAX_QUIET);
                continue;
            }
            return match tokio::time::timeout(LAST_OUTPUT_GRACE, self.output.next()).await {
                Ok(item) => item.transpose(),
                Err(_) => {
                    tracing::debug!(exec = %self.exec_id, "engine: the exec ended but its stream did not; taken as ended");
                    Ok(None)
                }
            };
        }
    }
}

/// Whether the engine reports the exec ended and no process of it is left.
async fn ended_without_saying_so(engine: &Engine, exec_id: &str, killer: &Killer) -> bool {
    match engine.inspect_exec(exec_id).await {
        // The count is an exec too, which the same trouble could hold up.
        Ok(Some(state)) if !state.running => matches!(
            tokio::time::timeout(FIRST_QUIET, killer.remaining()).await,
            Ok(Ok(0))
        ),
        _ => false,
    }
}

/// Kills the exec's processes in the background if dropped before it is disarmed.
struct KillUnlessStarted(Option<Killer>);

impl KillUnlessStarted {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for KillUnlessStarted {
    fn drop(&mut self) {
        if let Some(killer) = self.0.take() {
            killer.kill_detached();
        }
    }
}

impl ExecHandle for EngineExec {
    fn next_output(&mut self) -> BoxFuture<'_, Result<Option<(StreamKind, Bytes)>>> {
        self.next_or_end().boxed()
    }

    fn exit_status(&mut self) -> BoxFuture<'_, Result<ExitStatus>> {
        let (engine, container_id, exec_id) = (
            self.engine.clone(),
            self.container_id.clone(),
            self.exec_id.clone(),
        );
        let oom = Arc::clone(&self.oom);
        async move {
            let code = exit_code(&engine, &container_id, &exec_id).await?;
            if code == 128 + i64::from(SIGKILL) {
                if let Some(now) = super::oom::kills(&engine, &container_id).await {
                    if oom.moved(now) {
                        return Ok(ExitStatus::OomKilled(code));
                    }
                }
            }
            Ok(ExitStatus::Code(code))
        }
        .boxed()
    }

    fn control(&self) -> Arc<dyn ExecControl> {
        self.control.clone()
    }

    fn id(&self) -> String {
        self.exec_id.clone()
    }

    fn enforces_timeout(&self) -> bool {
        false
    }
}

/// The engine may report the exec as running for a moment after its output ended; there is
/// no event for the transition, so poll with a short backoff. An exec the engine has forgotten
/// (its container was restarted) ended with no known code: -1.
async fn exit_code(engine: &Engine, container_id: &str, exec_id: &str) -> Result<i64> {
    let mut pause = Duration::from_millis(1);
    loop {
        let Some(info) = engine.inspect_exec(exec_id).await? else {
            return match crate::exec::container_trouble(engine, container_id, Duration::ZERO).await
            {
                Some(e) => Err(e),
                None => Ok(-1),
            };
        };
        if !info.running {
            return Ok(info.exit_code.unwrap_or(-1));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}
