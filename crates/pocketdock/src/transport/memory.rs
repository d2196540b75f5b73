//! An in-memory transport for unit tests of the exec state machine: scripted output frames,
//! an exit status, and a record of what was signalled.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::FutureExt;

use super::{ExecControl, ExecHandle, ExitStatus};
use crate::error::Result;
use crate::types::StreamKind;

/// One scripted step of the command.
#[derive(Debug, Clone)]
pub(crate) enum Step {
    Out(StreamKind, &'static [u8]),
    /// Nothing happens for this long (or until killed).
    Hang(Duration),
}

#[derive(Debug, Default)]
pub(crate) struct Record {
    pub(crate) signals: Mutex<Vec<i32>>,
    pub(crate) stdin: Mutex<Vec<u8>>,
    pub(crate) stdin_closed: AtomicBool,
    pub(crate) killed: AtomicBool,
}

#[derive(Debug)]
struct Control(Arc<Record>);

impl ExecControl for Control {
    fn signal_sparing(&self, signal: i32, _spare: Option<u32>) -> BoxFuture<'_, Result<usize>> {
        self.0.signals.lock().unwrap().push(signal);
        if signal == 9 {
            self.0.killed.store(true, Ordering::SeqCst);
        }
        async { Ok(1) }.boxed()
    }
    fn resize(&self, _cols: u16, _rows: u16) -> BoxFuture<'_, Result<()>> {
        async { Ok(()) }.boxed()
    }
    fn write_stdin(&self, data: Vec<u8>) -> BoxFuture<'_, Result<()>> {
        self.0.stdin.lock().unwrap().extend(data);
        async { Ok(()) }.boxed()
    }
    fn close_stdin(&self) -> BoxFuture<'_, Result<()>> {
        self.0.stdin_closed.store(true, Ordering::SeqCst);
        async { Ok(()) }.boxed()
    }
    fn kill_in_background(&self) {
        self.0.killed.store(true, Ordering::SeqCst);
    }
    fn signalled(&self) -> bool {
        !self.0.signals.lock().unwrap().is_empty()
    }
}

pub(crate) struct MemoryExec {
    steps: VecDeque<Step>,
    exit: ExitStatus,
    record: Arc<Record>,
    enforces_timeout: bool,
}

impl MemoryExec {
    pub(crate) fn new(steps: Vec<Step>, exit: ExitStatus) -> (Self, Arc<Record>) {
        let record = Arc::new(Record::default());
        let exec = MemoryExec {
            steps: steps.into(),
            exit,
            record: record.clone(),
            enforces_timeout: false,
        };
        (exec, record)
    }
}

impl ExecHandle for MemoryExec {
    fn next_output(&mut self) -> BoxFuture<'_, Result<Option<(StreamKind, Bytes)>>> {
        async move {
            loop {
                if self.record.killed.load(Ordering::SeqCst) {
                    return Ok(None);
                }
                match self.steps.pop_front() {
                    None => return Ok(None),
                    Some(Step::Out(kind, data)) => {
                        return Ok(Some((kind, Bytes::from_static(data))))
                    }
                    Some(Step::Hang(d)) => {
                        let until = tokio::time::Instant::now() + d;
                        while tokio::time::Instant::now() < until
                            && !self.record.killed.load(Ordering::SeqCst)
                        {
                            tokio::time::sleep(Duration::from_millis(5)).await;
                        }
                    }
                }
            }
        }
        .boxed()
    }
    fn exit_status(&mut self) -> BoxFuture<'_, Result<ExitStatus>> {
        let killed = self.record.killed.load(Ordering::SeqCst);
        let exit = if killed {
            ExitStatus::Signal(9)
        } else {
            self.exit
        };
        async move { Ok(exit) }.boxed()
    }
    fn control(&self) -> Arc<dyn ExecControl> {
        Arc::new(Control(self.record.clone()))
    }
    fn id(&self) -> String {
        "memory".into()
    }
    fn enforces_timeout(&self) -> bool {
        self.enforces_timeout
    }
}
