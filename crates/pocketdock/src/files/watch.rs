//! A transfer under way keeps an eye on its container: removed or stopped behind our back, or
//! its engine silent, the transfer ends with that typed error instead of waiting on a request
//! that may never end (an engine can hold an upload into a removed container open for good).

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use futures::future::Either;
use futures::{Stream, StreamExt};

use crate::engine::Engine;
use crate::error::{Error, Result};

/// How often a transfer looks at its container: a transfer shorter than this never does.
const LOOK_EVERY: Duration = Duration::from_secs(1);
/// How long one look at the container may take before the engine itself is asked.
const LOOK_PATIENCE: Duration = Duration::from_secs(5);
/// An engine that takes longer than this to answer at all has stopped answering.
pub(super) const ENGINE_PATIENCE: Duration = Duration::from_secs(30);

/// Ends, with the reason, once the container is removed or stopped or its engine stops
/// answering; pending for as long as all is well. A container whose state is slow to come is
/// not trouble by itself: Docker locks a container whose forced removal waits for the very
/// transfer under way, and answers for it once the transfer has ended.
pub(super) async fn trouble(engine: Engine, id: String) -> Error {
    loop {
        tokio::time::sleep(LOOK_EVERY).await;
        let look = crate::exec::container_trouble(&engine, &id, Duration::ZERO);
        match tokio::time::timeout(LOOK_PATIENCE, look).await {
            Ok(None) => {}
            Ok(Some(e)) => return e,
            Err(_) if engine.answers(ENGINE_PATIENCE).await => {}
            Err(_) => {
                return Error::communication(format!(
                    "the engine did not answer for {} s during a file transfer (container {id})",
                    ENGINE_PATIENCE.as_secs()
                ))
            }
        }
    }
}

/// `transfer`, unless trouble comes first (the transfer is then dropped, and its request with
/// it).
pub(super) async fn until_trouble<T>(
    engine: &Engine,
    id: &str,
    transfer: impl Future<Output = Result<T>>,
) -> Result<T> {
    let trouble = std::pin::pin!(trouble(engine.clone(), id.to_string()));
    let transfer = std::pin::pin!(transfer);
    match futures::future::select(transfer, trouble).await {
        Either::Left((done, _)) => done,
        Either::Right((e, _)) => Err(e),
    }
}

/// The stream of a download, which fails with the trouble if it comes before the end: whoever
/// reads it (an extraction on the blocking pool) stops there and cleans up as after any failure.
pub(super) fn stream_until_trouble(
    engine: &Engine,
    id: &str,
    stream: impl Stream<Item = Result<Bytes>> + Send + Unpin + 'static,
) -> impl Stream<Item = Result<Bytes>> + Send + 'static {
    let trouble = Box::pin(trouble(engine.clone(), id.to_string()));
    futures::stream::unfold(Some((stream, trouble)), |state| async move {
        let (mut stream, trouble) = state?;
        match futures::future::select(stream.next(), trouble).await {
            Either::Left((Some(item), trouble)) => Some((item, Some((stream, trouble)))),
            Either::Left((None, _)) => None,
            Either::Right((e, _)) => Some((Err(e), None)),
        }
    })
}
