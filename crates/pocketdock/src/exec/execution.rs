//! One command in flight: its output frames, its deadline, its exit status — and the guarantee
//! that it does not outlive the caller's interest (timeouts and drops kill it in the container;
//! the engines themselves never kill an exec whose client went away).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bollard::container::LogOutput;
use bytes::Bytes;
use futures::StreamExt;
use tokio::time::Instant;

use super::kill::{signal_tree, TOKEN_VAR};
use super::CommandSpec;
use crate::engine::{Engine, ExecRequest, OutputStream};
use crate::error::{Error, Result};
use crate::types::StreamKind;

/// Exit code of a process killed by SIGKILL.
const SIGKILLED: i64 = 128 + 9;
/// How long a SIGKILLed command waits to see whether its container is being removed.
const REMOVAL_PATIENCE: Duration = Duration::from_secs(1);
/// After a kill, how long output still in flight may take to arrive.
const DRAIN_AFTER_KILL: Duration = Duration::from_secs(2);
pub(crate) const SIGKILL: i32 = 9;

/// How a command ended.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Outcome {
    /// `-1` when it timed out.
    pub(crate) exit_code: i64,
    pub(crate) timed_out: bool,
    pub(crate) duration: Duration,
}

impl Outcome {
    pub(crate) fn duration_ms(&self) -> f64 {
        self.duration.as_secs_f64() * 1000.0
    }
}

/// What is needed to signal an exec's processes from anywhere (e.g. `Process::kill` while a
/// reader task owns the [`Execution`]).
#[derive(Debug, Clone)]
pub(crate) struct Killer {
    engine: Engine,
    container_id: String,
    token: String,
    /// Whether we signalled the command ourselves (its death by a signal is then no mystery).
    signalled: Arc<AtomicBool>,
}

impl Killer {
    pub(crate) fn new(engine: Engine, container_id: String, token: String) -> Self {
        Killer {
            engine,
            container_id,
            token,
            signalled: Arc::default(),
        }
    }

    pub(crate) async fn signal(&self, signal: i32) -> Result<usize> {
        self.signal_sparing(signal, None).await
    }

    /// Signals every process of the exec but `spared` (a session's shell).
    pub(crate) async fn signal_sparing(&self, signal: i32, spared: Option<u32>) -> Result<usize> {
        self.signalled.store(true, Ordering::SeqCst);
        signal_tree(
            &self.engine,
            &self.container_id,
            &self.token,
            signal,
            spared,
        )
        .await
        .map_err(|e| gone_if_missing(e, &self.container_id))
    }

    /// Kills in the background on the shared runtime, with a client of its own: the caller
    /// may be dropping us outside any runtime, or inside one that is about to end.
    pub(crate) fn kill_detached(&self) {
        let killer = self.clone();
        crate::cleanup::spawn(async move {
            if let Ok(engine) = Engine::connect_to(killer.engine.socket_path()).await {
                let _ =
                    signal_tree(&engine, &killer.container_id, &killer.token, SIGKILL, None).await;
            }
        });
    }
}

/// A started exec.
pub(crate) struct Execution {
    killer: Killer,
    exec_id: String,
    output: Option<OutputStream>,
    deadline: Option<Instant>,
    started: Instant,
    timed_out: bool,
    /// Set once the exit status is known or the processes were killed: nothing to clean up.
    settled: bool,
}

impl std::fmt::Debug for Execution {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Execution")
            .field("exec_id", &self.exec_id)
            .field("timed_out", &self.timed_out)
            .finish()
    }
}

impl Execution {
    pub(crate) async fn start(
        engine: &Engine,
        container_id: &str,
        spec: &CommandSpec,
        timeout: Option<Duration>,
    ) -> Result<Execution> {
        let started = Instant::now();
        let token = new_token();
        let killer = Killer::new(engine.clone(), container_id.to_string(), token.clone());
        let env = vec![token_env(&token)];
        let exec_id = engine
            .create_exec(
                container_id,
                ExecRequest {
                    cmd: spec.argv(),
                    env,
                    ..Default::default()
                },
            )
            .await?;
        let output = engine.start_exec(&exec_id).await?;
        Ok(Execution {
            killer,
            exec_id,
            output: Some(output),
            deadline: timeout.map(|t| started + t),
            started,
            timed_out: false,
            settled: false,
        })
    }

    pub(crate) fn killer(&self) -> Killer {
        self.killer.clone()
    }

    pub(crate) fn exec_id(&self) -> &str {
        &self.exec_id
    }

    pub(crate) fn started(&self) -> Instant {
        self.started
    }

    /// The next piece of output; `None` once the output has ended (or, after a timeout, once
    /// what was in flight has been drained).
    pub(crate) async fn next_frame(&mut self) -> Result<Option<(StreamKind, Bytes)>> {
        loop {
            let Some(output) = self.output.as_mut() else {
                return Ok(None);
            };
            let item = if self.timed_out {
                tokio::time::timeout(DRAIN_AFTER_KILL, output.next())
                    .await
                    .unwrap_or_default()
            } else if let Some(deadline) = self.deadline {
                match tokio::time::timeout_at(deadline, output.next()).await {
                    Ok(item) => item,
                    Err(_) => {
                        self.expire().await;
                        continue;
                    }
                }
            } else {
                output.next().await
            };
            match item {
                None => {
                    self.output = None;
                    return Ok(None);
                }
                Some(Ok(LogOutput::StdOut { message })) => {
                    return Ok(Some((StreamKind::Stdout, message)))
                }
                Some(Ok(LogOutput::StdErr { message })) => {
                    return Ok(Some((StreamKind::Stderr, message)))
                }
                // A stream without multiplexing headers: all of it is the process's output.
                Some(Ok(LogOutput::Console { message })) => {
                    return Ok(Some((StreamKind::Stdout, message)))
                }
                Some(Ok(LogOutput::StdIn { .. })) => continue,
                Some(Err(e)) => {
                    self.output = None;
                    return Err(diagnose(&self.killer.engine, &self.killer.container_id, e).await);
                }
            }
        }
    }

    /// Waits for the exit status (after the output ended), still bounded by the deadline.
    pub(crate) async fn finish(&mut self) -> Result<Outcome> {
        if !self.timed_out {
            let code = match self.deadline {
                Some(deadline) => tokio::time::timeout_at(
                    deadline,
                    exit_code(
                        &self.killer.engine,
                        &self.killer.container_id,
                        &self.exec_id,
                    ),
                )
                .await
                .ok(),
                None => Some(
                    exit_code(
                        &self.killer.engine,
                        &self.killer.container_id,
                        &self.exec_id,
                    )
                    .await,
                ),
            };
            match code {
                // SIGKILLed, and not by us: possibly by the container's removal or stop, which
                // must not pass for an ordinary exit.
                Some(Ok(SIGKILLED)) if !self.killer.signalled.load(Ordering::SeqCst) => {
                    self.settled = true;
                    let engine = &self.killer.engine;
                    let id = &self.killer.container_id;
                    return match container_trouble(engine, id, REMOVAL_PATIENCE).await {
                        Some(e) => Err(e),
                        None => Ok(self.outcome(SIGKILLED)),
                    };
                }
                Some(Ok(code)) => {
                    self.settled = true;
                    return Ok(self.outcome(code));
                }
                Some(Err(e)) => {
                    self.settled = true;
                    return Err(diagnose(&self.killer.engine, &self.killer.container_id, e).await);
                }
                None => self.expire().await,
            }
        }
        Ok(self.outcome(-1))
    }

    fn outcome(&self, exit_code: i64) -> Outcome {
        Outcome {
            exit_code,
            timed_out: self.timed_out,
            duration: self.started.elapsed(),
        }
    }

    /// Deadline passed: kill the command and everything it started.
    async fn expire(&mut self) {
        self.timed_out = true;
        self.settled = true;
        if let Err(e) = self.killer.signal(SIGKILL).await {
            tracing::warn!(exec = %self.exec_id, "killing a timed-out command failed: {e}");
        }
    }
}

/// The engine may report the exec as running for a moment after its output ended; there is
/// no event for the transition, so poll with a short backoff. An exec the engine has forgotten
/// (its container was restarted) ended with no known code: -1.
async fn exit_code(engine: &Engine, container_id: &str, exec_id: &str) -> Result<i64> {
    let mut pause = Duration::from_millis(1);
    loop {
        let Some(info) = engine.inspect_exec(exec_id).await? else {
            return match container_trouble(engine, container_id, Duration::ZERO).await {
                Some(e) => Err(e),
                None => Ok(-1),
            };
        };
        if info.running != Some(true) {
            return Ok(info.exit_code.unwrap_or(-1));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

impl Drop for Execution {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        // Abandoned mid-flight (a dropped stream, a cancelled future): the engine would let the
        // command run on, so kill it.
        self.killer.kill_detached();
    }
}

/// Explains a failure in terms of the container: removed (`ContainerGone`), stopped
/// (`ContainerNotRunning`), or else the error as it was.
pub(crate) async fn diagnose(engine: &Engine, container_id: &str, e: Error) -> Error {
    if matches!(
        e,
        Error::ContainerNotRunning { .. } | Error::ContainerGone { .. }
    ) {
        return e;
    }
    container_trouble(engine, container_id, Duration::ZERO)
        .await
        .unwrap_or_else(|| gone_if_missing(e, container_id))
}

/// `ContainerGone` if the container was removed, `ContainerNotRunning` if it stopped; `None`
/// if it still runs after `patience` (an engine kills a container's processes a moment before
/// its state says so).
async fn container_trouble(
    engine: &Engine,
    container_id: &str,
    patience: Duration,
) -> Option<Error> {
    use bollard::models::ContainerStateStatusEnum as Status;
    let gone = |detail: String| Error::ContainerGone {
        container_id: container_id.to_string(),
        detail,
    };
    let deadline = Instant::now() + patience;
    let mut seen_stopped = false;
    loop {
        let state = match engine.inspect_container(container_id).await {
            Err(Error::ContainerNotFound { detail, .. }) => return Some(gone(detail)),
            // Mid-removal Podman may answer with other errors: look again until patience ends.
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            Err(_) => return None,
            Ok(info) => info.state.unwrap_or_default(),
        };
        if matches!(state.status, Some(Status::REMOVING | Status::DEAD)) {
            return Some(gone("the container was removed".into()));
        }
        if state.running == Some(false) {
            // A forced removal first kills, then removes: one more look tells it from a stop.
            if seen_stopped {
                return Some(Error::ContainerNotRunning {
                    container_id: container_id.to_string(),
                    detail: "the container stopped while the command ran".into(),
                });
            }
            seen_stopped = true;
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A container we were using that the engine no longer knows has been removed behind our back.
pub(crate) fn gone_if_missing(e: Error, container_id: &str) -> Error {
    match e {
        Error::ContainerNotFound { detail, .. } => Error::ContainerGone {
            container_id: container_id.to_string(),
            detail,
        },
        e => e,
    }
}

/// The environment entry that marks an exec's processes.
pub(crate) fn token_env(token: &str) -> String {
    format!("{TOKEN_VAR}={token}")
}

pub(crate) fn new_token() -> String {
    format!("{:032x}", rand::random::<u128>())
}
