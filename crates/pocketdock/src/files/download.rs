//! Getting files out of a container: the archive is read on the blocking pool straight from the
//! response body, so nothing waits in memory but the reader's buffer.

use std::io::Read;
use std::path::PathBuf;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use tokio_util::io::{StreamReader, SyncIoBridge};

use super::{archive_error, extract, Sandbox};
use crate::error::{Error, Result};

/// A blocking reader of a download, for the `tar` crate.
type ArchiveReader = SyncIoBridge<StreamReader<BoxStream<'static, std::io::Result<Bytes>>, Bytes>>;

/// Files bigger than this are still read whole, but memory is not reserved for them up front
/// on the word of the archive header.
const MAX_PREALLOCATION: u64 = 16 * 1024 * 1024;

/// The content of the regular file at `path` (symlinks already resolved by the caller).
pub(super) async fn read_file(sb: &Sandbox, path: &str) -> Result<Vec<u8>> {
    let path_owned = path.to_string();
    with_archive(sb, path, move |reader| {
        let mut archive = tar::Archive::new(reader);
        let mut entries = archive.entries().map_err(archive_error)?;
        let mut entry = entries
            .next()
            .ok_or_else(|| Error::communication("the engine sent an empty archive"))?
            .map_err(archive_error)?;
        if !entry.header().entry_type().is_file() {
            return Err(Error::invalid(format!(
                "{path_owned} is not a regular file"
            )));
        }
        let mut data = Vec::with_capacity(entry.size().min(MAX_PREALLOCATION) as usize);
        entry.read_to_end(&mut data).map_err(archive_error)?;
        Ok(data)
    })
    .await
}

/// Extracts the archive of `fetch` on the host (`name` and `is_dir` say what the user asked
/// for; `fetch` may be a symlink's target).
pub(super) async fn pull(
    sb: &Sandbox,
    fetch: &str,
    dest: PathBuf,
    name: String,
    is_dir: bool,
) -> Result<()> {
    with_archive(sb, fetch, move |reader| {
        let root = extract::destination(&dest, &name, is_dir)?;
        extract::extract(reader, &root)
    })
    .await
}

/// Runs `visit` on the blocking pool with the archive of `path` as a reader, while it downloads.
async fn with_archive<T: Send + 'static>(
    sb: &Sandbox,
    path: &str,
    visit: impl FnOnce(ArchiveReader) -> Result<T> + Send + 'static,
) -> Result<T> {
    let mut stream = Box::pin(super::watch::stream_until_trouble(
        &sb.engine,
        &sb.id,
        sb.engine.download_archive(&sb.id, path),
    ));
    // A refusal (a missing path) is the stream's first item: report it before going blocking.
    let first = stream
        .next()
        .await
        .ok_or_else(|| Error::communication("the engine sent an empty archive"))??;
    let body = futures::stream::once(async move { Ok(first) })
        .chain(stream)
        .map_err(std::io::Error::other)
        .boxed();
    let reader = SyncIoBridge::new(StreamReader::new(body));
    tokio::task::spawn_blocking(move || visit(reader))
        .await
        .map_err(|e| Error::communication(format!("reading the archive failed: {e}")))?
}
