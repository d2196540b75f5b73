//! Shutting down, rebooting and snapshotting a sandbox.

use super::{create, create_and_start, Container};
use crate::error::{Error, Result};

/// Grace period of a graceful stop. PID 1 is the engine's init, which forwards SIGTERM, so
/// sandboxes stop in milliseconds; this only bounds images whose processes ignore SIGTERM.
pub(crate) const STOP_GRACE_SECS: i32 = 2;

impl Container {
    /// Stops the container (SIGTERM, then SIGKILL after a short grace; `force` kills at once)
    /// and, unless it is persistent, removes it. A container already removed is not an error.
    pub async fn shutdown(&self, force: bool) -> Result<()> {
        self.sessions().close_all().await;
        let engine = self.engine();
        let id = self.id();
        let grace = if force { 0 } else { STOP_GRACE_SECS };
        let result = if self.persist() {
            engine.stop_container(&id, grace).await
        } else if force {
            engine.remove_container(&id, true).await
        } else {
            match engine.stop_container(&id, grace).await {
                Ok(()) => engine.remove_container(&id, true).await,
                Err(e) => Err(e),
            }
        };
        self.after_shutdown(result, !self.persist())
    }

    /// Removes the container at once, persistent or not (a pool's unclaimed sandboxes).
    pub(crate) async fn discard(&self) -> Result<()> {
        let result = self.engine().remove_container(&self.id(), true).await;
        self.after_shutdown(result, true)
    }

    fn after_shutdown(&self, result: Result<()>, removed: bool) -> Result<()> {
        match result {
            Ok(()) | Err(Error::ContainerNotFound { .. }) => {
                self.mark_shut_down();
                if removed {
                    self.forget_agent_dir();
                }
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Restarts the container. In place (`fresh = false`) the filesystem is kept and every
    /// process ends; `fresh = true` recreates it from its image with the same configuration
    /// (name, limits, ports, volumes, labels) and a new id.
    pub async fn reboot(&self, fresh: bool) -> Result<()> {
        self.sessions().close_all().await;
        self.oom_watch().restarted();
        let engine = self.engine();
        let id = self.id();
        if let Some(link) = self.agent_link() {
            link.reset().await;
        }
        if !fresh {
            return engine
                .restart_container(&id, STOP_GRACE_SECS)
                .await
                .map_err(|e| self.gone_if_missing(e));
        }
        let info = engine
            .inspect_container(&id)
            .await
            .map_err(|e| self.gone_if_missing(e))?;
        let plan = create::plan_from_inspect(self.name(), &info)?;
        engine.remove_container(&id, true).await?;
        let new_id = create_and_start(engine, &plan).await?;
        if let Some(instance) = self.instance() {
            instance.set_container_id(&new_id);
        }
        self.set_id(new_id);
        Ok(())
    }

    /// Commits the container's filesystem as an image (`"repo:tag"`, tag default `latest`),
    /// usable as `image` of a new sandbox. Returns the image id.
    pub async fn snapshot(&self, image: &str) -> Result<String> {
        let (repo, tag) = split_image_ref(image)?;
        self.engine()
            .commit(&self.id(), repo, tag)
            .await
            .map_err(|e| self.gone_if_missing(e))
    }
}

/// `"repo:tag"` → (repo, tag); a colon inside a registry host (`host:5000/repo`) is not a tag.
fn split_image_ref(image: &str) -> Result<(&str, &str)> {
    let (repo, tag) = match image.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo, tag),
        _ => (image, "latest"),
    };
    let valid_tag = !tag.is_empty()
        && tag.len() <= 128
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    let valid_repo = !repo.is_empty()
        && repo
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-/:".contains(c));
    if valid_tag && valid_repo {
        Ok((repo, tag))
    } else {
        Err(Error::invalid(format!(
            "{image:?} is not a valid image reference (lowercase repository[:tag])"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::split_image_ref;

    #[test]
    fn splits_image_references() {
        assert_eq!(split_image_ref("a/b:v1").unwrap(), ("a/b", "v1"));
        assert_eq!(split_image_ref("a/b").unwrap(), ("a/b", "latest"));
        assert_eq!(
            split_image_ref("host:5000/a").unwrap(),
            ("host:5000/a", "latest")
        );
        assert!(split_image_ref("A/B:x").is_err());
        assert!(split_image_ref("a:").is_err());
        assert!(split_image_ref("").is_err());
    }
}
