//! Image operations: build from a context, export to an archive, load from one.

use bytes::Bytes;
use futures::{Stream, StreamExt};

use super::errors::Ctx;
use super::Engine;
use crate::error::{Error, Result};

/// How many times a Podman build that lost its working container is tried.
const PODMAN_BUILD_ATTEMPTS: u32 = 3;

/// One lock per engine socket, for the builds of this process.
fn build_lock(socket: &std::path::Path) -> std::sync::Arc<tokio::sync::Mutex<()>> {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock};
    static LOCKS: OnceLock<Mutex<HashMap<std::path::PathBuf, Arc<tokio::sync::Mutex<()>>>>> =
        OnceLock::new();
    let mut locks = LOCKS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    locks.entry(socket.to_path_buf()).or_default().clone()
}

impl Engine {
    /// Builds `tag` from a tar build context; `progress` gets the build's output lines.
    /// Nothing is pulled: every `FROM` image must be local.
    pub(crate) async fn build_image(
        &self,
        tag: &str,
        context_tar: Bytes,
        progress: &mut (dyn FnMut(&str) + Send),
    ) -> Result<()> {
        // Podman's build API fails cleaning up when two builds overlap ("deleting build
        // container … identifier is not a container"): one build per engine at a time.
        let lock = build_lock(self.socket_path());
        let _one_build = lock.lock().await;
        let mut attempt = 1;
        loop {
            match self.build_once(tag, context_tar.clone(), progress).await {
                // Podman 4.3's buildah loses its working container now and then while other
                // containers come and go ("identifier is not a container"): build again.
                Err(Error::Image { detail, .. })
                    if self.kind() == super::EngineKind::Podman
                        && detail.contains("identifier is not a container")
                        && attempt < PODMAN_BUILD_ATTEMPTS =>
                {
                    tracing::warn!(
                        image = tag,
                        "podman lost its build container; building again"
                    );
                    progress("(podman lost its build container: building again)");
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn build_once(
        &self,
        tag: &str,
        context_tar: Bytes,
        progress: &mut (dyn FnMut(&str) + Send),
    ) -> Result<()> {
        let opts = bollard::query_parameters::BuildImageOptions {
            t: Some(tag.to_string()),
            dockerfile: "Dockerfile".into(),
            rm: true,
            forcerm: true,
            ..Default::default()
        };
        let mut events = std::pin::pin!(self.docker.build_image(
            opts,
            None,
            Some(bollard::body_full(context_tar))
        ));
        while let Some(event) = events.next().await {
            let info = event.map_err(|e| self.build_failed(tag, e))?;
            if let Some(detail) = info.error_detail.and_then(|d| d.message) {
                return Err(Error::Image {
                    image: tag.to_string(),
                    detail,
                });
            }
            for text in [info.stream, info.status].into_iter().flatten() {
                for line in text.lines().filter(|l| !l.trim().is_empty()) {
                    progress(line);
                }
            }
        }
        // Podman reports some failures only by not producing the image.
        self.docker
            .inspect_image(tag)
            .await
            .map(|_| ())
            .map_err(|e| Error::Image {
                image: tag.to_string(),
                detail: format!("the build ended without producing the image ({e})"),
            })
    }

    fn build_failed(&self, tag: &str, e: bollard::errors::Error) -> Error {
        match self.fail(e, Ctx::Engine) {
            Error::SocketCommunication { detail } => Error::Image {
                image: tag.to_string(),
                detail,
            },
            other => other,
        }
    }

    /// The images as one `docker save` archive, streamed.
    pub(crate) fn export_images(
        &self,
        names: &[&str],
    ) -> impl Stream<Item = Result<Bytes>> + Send + 'static {
        let engine = self.clone();
        self.docker
            .export_images(names)
            .map(move |r| r.map_err(|e| engine.fail(e, Ctx::Engine)))
    }

    /// Loads a `docker save` archive; returns the engine's report lines.
    pub(crate) async fn load_images<S>(&self, archive: S) -> Result<Vec<String>>
    where
        S: Stream<Item = std::io::Result<Bytes>> + Send + 'static,
    {
        let opts = bollard::query_parameters::ImportImageOptions {
            quiet: true,
            ..Default::default()
        };
        let mut events = std::pin::pin!(self.docker.import_image_stream(opts, archive, None));
        let mut report = Vec::new();
        while let Some(event) = events.next().await {
            let info = event.map_err(|e| self.fail(e, Ctx::Engine))?;
            if let Some(detail) = info.error_detail.and_then(|d| d.message) {
                return Err(Error::Image {
                    image: "(archive)".into(),
                    detail,
                });
            }
            report.extend(
                info.stream
                    .into_iter()
                    .chain(info.status)
                    .map(|s| s.trim().to_string()),
            );
        }
        Ok(report.into_iter().filter(|s| !s.is_empty()).collect())
    }

    /// Whether the image is present locally.
    pub(crate) async fn image_exists(&self, name: &str) -> Result<bool> {
        match self.docker.inspect_image(name).await {
            Ok(_) => Ok(true),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(false),
            Err(e) => Err(self.fail(e, Ctx::Engine)),
        }
    }

    /// The image's own configuration (user, entrypoint, command); `ImageNotFound` if absent.
    pub(crate) async fn image_config(&self, name: &str) -> Result<ImageConfig> {
        match self.docker.inspect_image(name).await {
            Ok(info) => {
                let config = info.config.unwrap_or_default();
                Ok(ImageConfig {
                    user: config.user.unwrap_or_default(),
                    entrypoint: config.entrypoint.unwrap_or_default(),
                    cmd: config.cmd.unwrap_or_default(),
                })
            }
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Err(Error::ImageNotFound {
                image: name.to_string(),
            }),
            Err(e) => Err(self.fail(e, Ctx::Engine)),
        }
    }
}

/// What a sandbox takes from its image's configuration.
#[derive(Debug, Clone, Default)]
pub(crate) struct ImageConfig {
    pub(crate) user: String,
    pub(crate) entrypoint: Vec<String>,
    pub(crate) cmd: Vec<String>,
}
