//! How a detached process's events reach the container's callbacks and the project's log,
//! without `exec/` knowing either.

use std::sync::Weak;

use futures::future::BoxFuture;

use super::{Container, Inner};
use crate::exec::process::ProcessSink;
use crate::project::DetachLog;
use crate::types::StreamKind;

/// A detached process's output and end, to the container's callbacks (while a handle lives)
/// and to the project's log.
pub(super) struct ProcessEvents {
    pub(super) container: Weak<Inner>,
    pub(super) log: Option<DetachLog>,
}

impl ProcessSink for ProcessEvents {
    fn output<'a>(&'a self, stream: StreamKind, data: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if let Some(log) = &self.log {
                log.output(stream, data);
            }
            if let Some(inner) = self.container.upgrade() {
                let container = Container::from_inner(inner);
                container.callbacks().output(&container, stream, data).await;
            }
        })
    }

    fn finished(&self, exit: Option<(i64, bool)>) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if let Some(log) = &self.log {
                match exit {
                    Some((code, timed_out)) => log.finished(Some(code), timed_out),
                    None => log.finished(None, false),
                }
            }
            if let (Some((code, _)), Some(inner)) = (exit, self.container.upgrade()) {
                let container = Container::from_inner(inner);
                container.callbacks().exit(&container, code).await;
            }
        })
    }
}
