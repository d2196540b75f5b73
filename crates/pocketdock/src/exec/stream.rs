//! Streaming mode: text chunks as they arrive, then the final result.

use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use futures::stream::BoxStream;
use futures::{Stream, StreamExt};

use super::run::CappedOutput;
use super::Execution;
use crate::error::Result;
use crate::types::{ExecResult, StreamChunk, StreamKind};
use crate::utf8::Utf8Decoder;

/// The output of a streaming command. Yields [`StreamChunk`]s as they arrive, never splitting a
/// character; after the last one, [`ExecStream::result`] holds the [`ExecResult`] (its text
/// capped at `max_output`). Dropping it before the end kills the command.
pub struct ExecStream {
    chunks: BoxStream<'static, Result<StreamChunk>>,
    result: Arc<OnceLock<ExecResult>>,
    stdin: Stdin,
}

/// The stdin of a running command, usable from any thread while its output is read.
#[derive(Debug, Clone)]
pub struct Stdin {
    control: Arc<dyn crate::transport::ExecControl>,
}

impl Stdin {
    /// Writes to the command's stdin (it must have been opened: `Command::open_stdin`).
    pub async fn write(&self, data: impl Into<Vec<u8>>) -> Result<()> {
        self.control.write_stdin(data.into()).await
    }

    /// Closes the command's stdin: it reads end-of-file.
    pub async fn close(&self) -> Result<()> {
        self.control.close_stdin().await
    }
}

/// Called once with the final result when a stream ends normally.
pub(crate) type FinishHook = Box<dyn FnOnce(&ExecResult) + Send>;

impl std::fmt::Debug for ExecStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecStream")
            .field("result", &self.result.get())
            .finish()
    }
}

struct State {
    on_finish: Option<FinishHook>,
    exec: Execution,
    stdout: Utf8Decoder,
    stderr: Utf8Decoder,
    collected: CappedOutput,
    result: Arc<OnceLock<ExecResult>>,
    done: bool,
}

impl ExecStream {
    pub(crate) fn new(exec: Execution, max_output: usize, on_finish: Option<FinishHook>) -> Self {
        let result = Arc::new(OnceLock::new());
        let stdin = Stdin {
            control: exec.control(),
        };
        let state = State {
            on_finish,
            exec,
            stdout: Utf8Decoder::default(),
            stderr: Utf8Decoder::default(),
            collected: CappedOutput::new(max_output),
            result: result.clone(),
            done: false,
        };
        ExecStream {
            // Fused: polling again after the end gives `None` again, never a panic.
            chunks: futures::stream::unfold(state, next_chunk).fuse().boxed(),
            result,
            stdin,
        }
    }

    /// The command's stdin, to feed while reading its output.
    pub fn stdin(&self) -> Stdin {
        self.stdin.clone()
    }

    /// The final result, once the stream has ended.
    pub fn result(&self) -> Option<&ExecResult> {
        self.result.get()
    }
}

impl Stream for ExecStream {
    type Item = Result<StreamChunk>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.chunks.poll_next_unpin(cx)
    }
}

async fn next_chunk(mut st: State) -> Option<(Result<StreamChunk>, State)> {
    if st.done {
        return None;
    }
    loop {
        match st.exec.next_frame().await {
            Ok(Some((stream, bytes))) => {
                st.collected.push(stream, &bytes);
                let data = match stream {
                    StreamKind::Stdout => st.stdout.decode(&bytes),
                    StreamKind::Stderr => st.stderr.decode(&bytes),
                };
                if !data.is_empty() {
                    return Some((Ok(StreamChunk { stream, data }), st));
                }
            }
            Ok(None) => {
                // An incomplete character left at the very end: one U+FFFD, as lossy decoding.
                for stream in [StreamKind::Stdout, StreamKind::Stderr] {
                    let data = match stream {
                        StreamKind::Stdout => st.stdout.finish(),
                        StreamKind::Stderr => st.stderr.finish(),
                    };
                    if !data.is_empty() {
                        return Some((Ok(StreamChunk { stream, data }), st));
                    }
                }
                st.done = true;
                return match st.exec.finish().await {
                    Ok(outcome) => {
                        let collected = std::mem::replace(&mut st.collected, CappedOutput::new(0));
                        let result = collected.into_result(outcome);
                        if let Some(hook) = st.on_finish.take() {
                            hook(&result);
                        }
                        let _ = st.result.set(result);
                        None
                    }
                    Err(e) => Some((Err(e), st)),
                };
            }
            Err(e) => {
                st.done = true;
                return Some((Err(e), st));
            }
        }
    }
}
