//! The engine's archive endpoint (`/containers/{id}/archive`): stat, streamed upload and
//! streamed download of tar archives. Both engines serve it on stopped containers too; callers
//! check the container's state themselves.

use std::pin::Pin;
use std::time::Duration;

use bollard::errors::Error as BollardError;
use bollard::query_parameters::{
    ContainerArchiveInfoOptions, DownloadFromContainerOptions, UploadToContainerOptions,
};
use bytes::Bytes;
use futures::{Stream, TryStreamExt};

use super::errors::{self, Ctx};
use super::Engine;
use crate::error::{Error, Result};

/// A tar archive arriving from the engine.
pub(crate) type ArchiveStream = Pin<Box<dyn Stream<Item = Result<Bytes>> + Send>>;

/// Go's `os.FileMode` bits, which is what both engines put in the stat header.
const GO_MODE_DIR: u32 = 1 << 31;
const GO_MODE_SYMLINK: u32 = 1 << 27;

/// The engine applies the client's request timeout until the response head, and an upload's
/// head only comes once the whole body is in: a large push must not be cut off by it.
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// What the engine says about a path in a container.
#[derive(Debug, Clone)]
pub(crate) struct PathStat {
    pub(crate) is_dir: bool,
    pub(crate) is_symlink: bool,
    /// For a symlink, the absolute path it resolves to. Podman reports directories and files
    /// as if they were followed (and fills this for every path), Docker does not follow.
    pub(crate) link_target: String,
}

impl Engine {
    /// Stats a path; `None` if it does not exist.
    pub(crate) async fn stat_path(&self, id: &str, path: &str) -> Result<Option<PathStat>> {
        let opts = ContainerArchiveInfoOptions {
            path: path.to_string(),
        };
        match self.docker.get_container_archive_info(id, Some(opts)).await {
            Ok(stat) => Ok(Some(PathStat {
                is_dir: stat.file_mode & GO_MODE_DIR != 0,
                is_symlink: stat.file_mode & GO_MODE_SYMLINK != 0,
                link_target: stat.link_target,
            })),
            Err(e) if is_missing_path(&e) || is_bodiless_stat_failure(&e) => Ok(None),
            Err(e) => Err(self.fail(e, Ctx::Container(id))),
        }
    }

    /// Streams `body` (a tar archive) into the directory `dir`, which must exist. An error item
    /// in `body` aborts the request, so a half-built archive is never taken for a whole one.
    pub(crate) async fn upload_archive(
        &self,
        id: &str,
        dir: &str,
        body: impl Stream<Item = std::io::Result<Bytes>> + Send + 'static,
    ) -> Result<()> {
        let opts = UploadToContainerOptions {
            path: dir.to_string(),
            // `cp` refuses to replace a directory by a file or the reverse; so do we.
            no_overwrite_dir_non_dir: Some("true".into()),
            copy_uidgid: None,
        };
        self.docker
            .clone()
            .with_timeout(UPLOAD_TIMEOUT)
            .upload_to_container(id, Some(opts), bollard::body_try_stream(body))
            .await
            .map_err(|e| self.fail_path(e, id, dir))
    }

    /// The archive of `path` (a file, or a directory with everything below it), as it arrives.
    pub(crate) fn download_archive(&self, id: &str, path: &str) -> ArchiveStream {
        let opts = DownloadFromContainerOptions {
            path: path.to_string(),
        };
        let engine = self.clone();
        let (id, path) = (id.to_string(), path.to_string());
        Box::pin(
            self.docker
                .download_from_container(&id, Some(opts))
                .map_err(move |e| engine.fail_path(e, &id, &path)),
        )
    }

    /// A 404 of the archive endpoint is about the path unless it names the container.
    fn fail_path(&self, e: BollardError, id: &str, path: &str) -> Error {
        if is_missing_path(&e) {
            return Error::FileNotFound {
                container_id: id.to_string(),
                path: path.to_string(),
            };
        }
        // Docker takes no archive at all into a read-only root, even for a tmpfs below it.
        if matches!(&e, BollardError::DockerResponseServerError { message, .. }
            if message.contains("marked read-only"))
        {
            return Error::ReadOnlyFileSystem {
                container_id: id.to_string(),
                path: path.to_string(),
            };
        }
        errors::map(e, &self.socket_path, Ctx::Container(id))
    }
}

/// Docker answers 404 "Could not find the file", Podman 404 "no such file or directory"; a path
/// below a regular file is a 404 on Podman and a 500 "not a directory" on Docker. A removed
/// container is a 404 too, but says "no such container" (except to HEAD, which has no body:
/// callers have checked the container just before).
fn is_missing_path(e: &BollardError) -> bool {
    let BollardError::DockerResponseServerError {
        status_code,
        message,
    } = e
    else {
        return false;
    };
    let lower = message.to_ascii_lowercase();
    match status_code {
        404 => !lower.contains("no such container"),
        500 => lower.contains("not a directory"),
        _ => false,
    }
}

/// Docker answers a HEAD below a regular file with a 500 and, HEAD having no body, no message:
/// its only stat failure that reaches us is that one (a missing path is a 404).
fn is_bodiless_stat_failure(e: &BollardError) -> bool {
    matches!(
        e,
        BollardError::DockerResponseServerError { status_code: 500, message } if message.trim().is_empty()
    )
}
