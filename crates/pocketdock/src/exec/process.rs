//! Detached mode: a background command whose output fills a ring buffer and feeds callbacks.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::watch;

use super::Execution;
use crate::buffer::OutputBuffer;
use crate::error::{Error, Result};
use crate::transport::ExecControl;
use crate::types::{BufferSnapshot, ExecResult, StreamKind};
use crate::utf8::Utf8Decoder;

/// Where a detached process's output and end go besides its buffer (the container's callbacks
/// and the project's log), in order, from its reading task.
pub(crate) trait ProcessSink: Send + Sync + 'static {
    /// A piece of decoded output (never empty).
    fn output<'a>(&'a self, stream: StreamKind, data: &'a str) -> BoxFuture<'a, ()>;
    /// The command ended with this exit code and timeout flag; `None`: following it failed.
    fn finished(&self, exit: Option<(i64, bool)>) -> BoxFuture<'_, ()>;
}

/// How a detached process ended, as seen by its reading task.
#[derive(Debug, Clone)]
enum End {
    Exited {
        exit_code: i64,
        timed_out: bool,
        oom_killed: bool,
    },
    Failed(Error),
}

/// A command running in the background. Dropping the handle leaves it running; it ends with
/// its container at the latest.
#[derive(Debug, Clone)]
pub struct Process {
    exec_id: String,
    shared: Arc<Shared>,
    control: Arc<dyn ExecControl>,
    started: tokio::time::Instant,
}

#[derive(Debug)]
struct Shared {
    buffer: Mutex<OutputBuffer>,
    end: watch::Sender<Option<End>>,
}

impl Process {
    /// Starts the reading task that owns `exec` for the rest of its life.
    pub(crate) fn start(
        exec: Execution,
        buffer_capacity: usize,
        sink: Box<dyn ProcessSink>,
    ) -> Self {
        let (end, _) = watch::channel(None);
        let shared = Arc::new(Shared {
            buffer: Mutex::new(OutputBuffer::new(buffer_capacity)),
            end,
        });
        let process = Process {
            exec_id: exec.id(),
            shared: shared.clone(),
            control: exec.control(),
            started: exec.started(),
        };
        tokio::spawn(read_loop(exec, shared, sink));
        process
    }

    /// The transport's id of the command.
    pub fn id(&self) -> &str {
        &self.exec_id
    }

    /// Whether the command is still running.
    pub async fn is_running(&self) -> Result<bool> {
        Ok(self.shared.end.borrow().is_none())
    }

    /// Buffered output, which is then cleared.
    pub fn read(&self) -> BufferSnapshot {
        self.buffer().drain()
    }

    /// Buffered output, left in place.
    pub fn peek(&self) -> BufferSnapshot {
        self.buffer().peek()
    }

    /// Bytes currently buffered, both streams together.
    pub fn buffer_size(&self) -> usize {
        self.buffer().len()
    }

    /// Whether output was ever evicted from the buffer unread.
    pub fn buffer_overflow(&self) -> bool {
        self.buffer().overflowed()
    }

    /// Waits for the command to end and returns its exit code with the output still buffered.
    /// If `timeout` passes first, the result says `timed_out` (exit code -1) and the command is
    /// left running — call [`Process::kill`] to end it.
    pub async fn wait(&self, timeout: Option<Duration>) -> Result<ExecResult> {
        let mut end = self.shared.end.subscribe();
        let waited = async {
            // The sender lives in `self.shared`, so this cannot fail while we hold `self`.
            let _ = end.wait_for(Option::is_some).await;
        };
        let finished = match timeout {
            Some(t) => tokio::time::timeout(t, waited).await.is_ok(),
            None => {
                waited.await;
                true
            }
        };
        let end = self.shared.end.borrow().clone();
        let (exit_code, timed_out, oom_killed) = match (finished, end) {
            (
                true,
                Some(End::Exited {
                    exit_code,
                    timed_out,
                    oom_killed,
                }),
            ) => (exit_code, timed_out, oom_killed),
            (true, Some(End::Failed(e))) => return Err(e),
            _ => (-1, true, false),
        };
        let snapshot = self.peek();
        Ok(ExecResult {
            exit_code,
            stdout: snapshot.stdout,
            stderr: snapshot.stderr,
            duration_ms: self.started.elapsed().as_secs_f64() * 1000.0,
            timed_out,
            oom_killed,
            truncated: self.buffer_overflow(),
            raw: None,
        })
    }

    /// Sends `signal` (15 = SIGTERM, 9 = SIGKILL, …) to the command and every process it
    /// started. Returns how many processes received it (0 once it has ended).
    pub async fn kill(&self, signal: i32) -> Result<usize> {
        if !(1..=64).contains(&signal) {
            return Err(Error::invalid(format!("{signal} is not a signal number")));
        }
        if self.shared.end.borrow().is_some() {
            return Ok(0);
        }
        self.control.signal(signal).await
    }

    /// Writes to the command's stdin (open until [`Process::close_stdin`] or its end).
    pub async fn write_stdin(&self, data: impl Into<Vec<u8>>) -> Result<()> {
        self.control.write_stdin(data.into()).await
    }

    /// Closes the command's stdin: it reads end-of-file.
    pub async fn close_stdin(&self) -> Result<()> {
        self.control.close_stdin().await
    }

    fn buffer(&self) -> std::sync::MutexGuard<'_, OutputBuffer> {
        self.shared.buffer.lock().unwrap_or_else(|e| e.into_inner())
    }
}

async fn read_loop(mut exec: Execution, shared: Arc<Shared>, sink: Box<dyn ProcessSink>) {
    let mut stdout = Utf8Decoder::default();
    let mut stderr = Utf8Decoder::default();
    let deliver = |stream: StreamKind, data: String| {
        let (shared, sink) = (&shared, &sink);
        async move {
            if data.is_empty() {
                return;
            }
            shared
                .buffer
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(stream, &data);
            sink.output(stream, &data).await;
        }
    };
    let failure = loop {
        match exec.next_frame().await {
            Ok(Some((StreamKind::Stdout, bytes))) => {
                deliver(StreamKind::Stdout, stdout.decode(&bytes)).await
            }
            Ok(Some((StreamKind::Stderr, bytes))) => {
                deliver(StreamKind::Stderr, stderr.decode(&bytes)).await
            }
            Ok(None) => break None,
            Err(e) => break Some(e),
        }
    };
    deliver(StreamKind::Stdout, stdout.finish()).await;
    deliver(StreamKind::Stderr, stderr.finish()).await;
    let end = match failure {
        Some(e) => End::Failed(e),
        None => match exec.finish().await {
            Ok(outcome) => End::Exited {
                exit_code: outcome.exit_code,
                timed_out: outcome.timed_out,
                oom_killed: outcome.oom_killed,
            },
            Err(e) => End::Failed(e),
        },
    };
    let exit = match &end {
        End::Exited {
            exit_code,
            timed_out,
            ..
        } => Some((*exit_code, *timed_out)),
        End::Failed(_) => None,
    };
    sink.finished(exit).await;
    shared.end.send_replace(Some(end));
}
