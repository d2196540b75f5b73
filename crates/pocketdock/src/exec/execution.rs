//! One command in flight, whatever the transport: its output frames, its deadline, its exit
//! status — and the guarantee that it does not outlive the caller's interest (timeouts and
//! drops kill it and everything it started).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::transport::{ExecControl, ExecHandle, ExitStatus, SIGKILL};
use crate::types::StreamKind;

/// Exit code of a process killed by SIGKILL.
const SIGKILLED: i64 = 128 + 9;
/// How long a SIGKILLed command waits to see whether its container is being removed.
const REMOVAL_PATIENCE: Duration = Duration::from_secs(1);
/// When the agent itself went away the sandbox is surely going down; engines can take seconds
/// to say so (rootless Podman's removal).
const LOST_PATIENCE: Duration = Duration::from_secs(10);
/// After a kill, how long all output still in flight may take to arrive, in total.
const DRAIN_AFTER_KILL: Duration = Duration::from_secs(2);
/// Where the transport enforces the timeout, the client's own deadline comes this much later.
const BACKSTOP: Duration = Duration::from_secs(2);

/// How a command ended.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Outcome {
    /// `-1` when it timed out.
    pub(crate) exit_code: i64,
    pub(crate) timed_out: bool,
    /// The kernel's OOM killer ended it.
    pub(crate) oom_killed: bool,
    pub(crate) duration: Duration,
}

impl Outcome {
    pub(crate) fn duration_ms(&self) -> f64 {
        self.duration.as_secs_f64() * 1000.0
    }
}

/// A started command.
pub(crate) struct Execution {
    handle: Box<dyn ExecHandle>,
    control: Arc<dyn ExecControl>,
    /// For explaining failures in terms of the container (`None` in unit tests).
    engine: Option<Engine>,
    container_id: String,
    deadline: Option<Instant>,
    /// Set once killed on the deadline: what is still in flight may arrive until then.
    drain_until: Option<Instant>,
    output_ended: bool,
    started: Instant,
    timed_out: bool,
    /// Set once the exit status is known or the processes were killed: nothing to clean up.
    settled: bool,
}

impl std::fmt::Debug for Execution {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Execution")
            .field("id", &self.handle.id())
            .field("timed_out", &self.timed_out)
            .finish()
    }
}

impl Execution {
    pub(crate) fn new(
        handle: Box<dyn ExecHandle>,
        engine: Option<Engine>,
        container_id: String,
        timeout: Option<Duration>,
        started: Instant,
    ) -> Execution {
        let backstop = if handle.enforces_timeout() {
            BACKSTOP
        } else {
            Duration::ZERO
        };
        Execution {
            control: handle.control(),
            handle,
            engine,
            container_id,
            deadline: timeout.map(|t| started + t + backstop),
            drain_until: None,
            output_ended: false,
            started,
            timed_out: false,
            settled: false,
        }
    }

    pub(crate) fn control(&self) -> Arc<dyn ExecControl> {
        self.control.clone()
    }

    pub(crate) fn id(&self) -> String {
        self.handle.id()
    }

    pub(crate) fn started(&self) -> Instant {
        self.started
    }

    /// The next piece of output; `None` once the output has ended (or, after a timeout, once
    /// what was in flight has been drained).
    pub(crate) async fn next_frame(&mut self) -> Result<Option<(StreamKind, Bytes)>> {
        loop {
            if self.output_ended {
                return Ok(None);
            }
            let limit = self.drain_until.or(self.deadline);
            let item = match limit {
                Some(limit) => {
                    match tokio::time::timeout_at(limit, self.handle.next_output()).await {
                        Ok(item) => item,
                        Err(_) if self.drain_until.is_some() => Ok(None),
                        Err(_) => {
                            self.expire().await;
                            continue;
                        }
                    }
                }
                None => self.handle.next_output().await,
            };
            return match item {
                Ok(Some(frame)) => Ok(Some(frame)),
                Ok(None) => {
                    self.output_ended = true;
                    Ok(None)
                }
                Err(e) => {
                    self.output_ended = true;
                    self.settled = true;
                    Err(self.explain(e).await)
                }
            };
        }
    }

    /// Waits for the exit status (after the output ended), still bounded by the deadline.
    pub(crate) async fn finish(&mut self) -> Result<Outcome> {
        if self.drain_until.is_some() {
            return Ok(self.outcome(-1));
        }
        let status = match self.deadline {
            Some(deadline) => tokio::time::timeout_at(deadline, self.handle.exit_status())
                .await
                .ok(),
            None => Some(self.handle.exit_status().await),
        };
        self.settled = true;
        let code = match status {
            None => {
                self.expire().await;
                return Ok(self.outcome(-1));
            }
            Some(Err(e)) => return Err(self.explain(e).await),
            Some(Ok(ExitStatus::TimedOut)) => {
                self.timed_out = true;
                return Ok(self.outcome(-1));
            }
            Some(Ok(ExitStatus::OomKilled(code))) => {
                return Ok(Outcome {
                    oom_killed: true,
                    ..self.outcome(code)
                })
            }
            Some(Ok(ExitStatus::Code(code))) => code,
            Some(Ok(ExitStatus::Signal(signal))) => 128 + i64::from(signal),
            Some(Ok(ExitStatus::Lost)) => SIGKILLED,
        };
        // SIGKILLed, and not by us: possibly by the container's removal or stop, which must
        // not pass for an ordinary exit.
        let patience = status.as_ref().and_then(|s| removal_patience(s.as_ref()));
        if let (Some(patience), false) = (patience, self.control.signalled()) {
            if let Some(engine) = self.engine.clone() {
                let id = self.container_id.clone();
                if let Some(e) = container_trouble(&engine, &id, patience).await {
                    return Err(e);
                }
            }
        }
        Ok(self.outcome(code))
    }

    /// Not an `async fn` of `&self`: the handle is `Send` but not `Sync`.
    fn explain(&self, e: Error) -> impl std::future::Future<Output = Error> + Send + 'static {
        let (engine, id) = (self.engine.clone(), self.container_id.clone());
        async move {
            match engine {
                Some(engine) => diagnose(&engine, &id, e).await,
                None => e,
            }
        }
    }

    fn outcome(&self, exit_code: i64) -> Outcome {
        Outcome {
            exit_code,
            timed_out: self.timed_out,
            oom_killed: false,
            duration: self.started.elapsed(),
        }
    }

    /// Deadline passed: kill the command and everything it started; what is in flight may
    /// still arrive, for a bounded time in total.
    async fn expire(&mut self) {
        self.timed_out = true;
        self.settled = true;
        self.drain_until = Some(Instant::now() + DRAIN_AFTER_KILL);
        let kill = tokio::time::timeout(DRAIN_AFTER_KILL, self.control.signal(SIGKILL));
        match kill.await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::warn!(exec = %self.handle.id(), "killing a timed-out command failed: {e}")
            }
            Err(_) => {
                tracing::warn!(exec = %self.handle.id(), "killing a timed-out command took too long");
                self.control.kill_in_background();
            }
        }
    }
}

impl Drop for Execution {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        // Abandoned mid-flight (a dropped stream, a cancelled future): kill it, without
        // blocking whoever drops us.
        self.control.kill_in_background();
    }
}

/// For a command (or a session's shell) that ended killed — SIGKILL, or its agent gone, or its
/// exit status lost — how long to look whether its container's removal or stop killed it;
/// `None` for any other end.
pub(crate) fn removal_patience(
    status: std::result::Result<&ExitStatus, &Error>,
) -> Option<Duration> {
    match status {
        Ok(ExitStatus::Code(SIGKILLED)) | Ok(ExitStatus::Signal(9)) => Some(REMOVAL_PATIENCE),
        Ok(ExitStatus::Lost) | Err(_) => Some(LOST_PATIENCE),
        _ => None,
    }
}

/// Explains a failure in terms of the container: removed (`ContainerGone`), stopped
/// (`ContainerNotRunning`), or else the error as it was.
pub(crate) async fn diagnose(engine: &Engine, container_id: &str, e: Error) -> Error {
    if matches!(
        e,
        Error::ContainerNotRunning { .. } | Error::ContainerGone { .. } | Error::Agent { .. }
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
pub(crate) async fn container_trouble(
    engine: &Engine,
    container_id: &str,
    patience: Duration,
) -> Option<Error> {
    let gone = |detail: String| Error::ContainerGone {
        container_id: container_id.to_string(),
        detail,
    };
    let deadline = Instant::now() + patience;
    let mut seen_stopped = false;
    loop {
        let state = match engine.inspect_container(container_id).await {
            Err(Error::ContainerNotFound { detail, .. }) => return Some(gone(detail)),
            // The engine itself cannot be reached (stopped, restarting): that is the answer,
            // at once — waiting out the patience would only delay it.
            Err(e @ Error::SocketConnection { .. }) => return Some(e),
            // Mid-removal Podman may answer with other errors: look again until patience ends.
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            Err(_) => return None,
            Ok(info) => info.state,
        };
        if state.is_going() {
            return Some(gone("the container was removed".into()));
        }
        if !state.running {
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

pub(crate) fn new_token() -> String {
    format!("{:032x}", rand::random::<u128>())
}
