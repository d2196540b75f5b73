//! Module-level operations on sandboxes by name: resume, list, stop, destroy, prune. They read
//! everything from the engine (labels and inspect data), never from memory.

use std::path::Path;

use crate::container::{labels, Container};
use crate::engine::Engine;
use crate::error::{Error, Result};

/// A managed container as listed by [`list_containers`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ContainerListItem {
    pub id: String,
    pub name: String,
    /// The engine's state: `running`, `exited`, …
    pub status: String,
    pub image: String,
    pub created_at: String,
    pub persist: bool,
    pub project: String,
}

/// A handle to an existing sandbox, started again if it was stopped. Its configuration (ports,
/// limits, volumes, default timeout, persistence) is what the container was created with. The
/// handle does not own the container: dropping it never removes it.
pub async fn resume_container(name: &str, socket: Option<&Path>) -> Result<Container> {
    let engine = Engine::connect(socket, crate::project::discovery).await?;
    let info = engine.inspect_container(name).await?;
    let running = info.state.running;
    let container = Container::from_inspect(engine.clone(), &info)?;
    if !running {
        // The agent's socket directory is mounted at start: it may have gone with a reboot
        // of the host (it lives in the runtime directory).
        if let Some(link) = container.agent_link() {
            crate::container::agent::ensure_host_dir(link.host_dir())?;
        }
        engine.start_container(&container.id()).await?;
        // Started now: a new cgroup, with no OOM kill yet.
        container.oom_watch().restarted();
    }
    Ok(container)
}

/// A handle to an existing sandbox as it is (running or not). Like every handle obtained by
/// name, it never removes the container when dropped.
pub async fn find_container(name: &str, socket: Option<&Path>) -> Result<Container> {
    let engine = Engine::connect(socket, crate::project::discovery).await?;
    let info = engine.inspect_container(name).await?;
    Container::from_inspect(engine, &info)
}

/// Managed containers, all states; only those of `project` if given.
pub async fn list_containers(
    project: Option<&str>,
    socket: Option<&Path>,
) -> Result<Vec<ContainerListItem>> {
    let engine = Engine::connect(socket, crate::project::discovery).await?;
    let mut filter = vec![format!("{}=true", labels::MANAGED)];
    if let Some(project) = project {
        filter.push(format!("{}={project}", labels::PROJECT));
    }
    let list = engine.list_labelled(&filter).await?;
    Ok(list.iter().map(list_item).collect())
}

pub(crate) fn list_item(c: &serde_json::Value) -> ContainerListItem {
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let label = |k: &str| text(&c["Labels"][k]);
    let name = c["Names"][0]
        .as_str()
        .map(|n| n.trim_start_matches('/').to_string())
        .unwrap_or_else(|| label(labels::INSTANCE));
    ContainerListItem {
        id: text(&c["Id"]),
        name,
        // Podman says `stopped` for what Docker calls `exited`: one word for both.
        status: match c["State"].as_str().unwrap_or_default() {
            "stopped" => "exited".to_string(),
            other => other.to_string(),
        },
        image: text(&c["Image"]),
        created_at: label(labels::CREATED_AT),
        persist: label(labels::PERSIST) == "true",
        project: label(labels::PROJECT),
    }
}

/// Stops a sandbox without removing it.
pub async fn stop_container(name: &str, socket: Option<&Path>) -> Result<()> {
    let engine = Engine::connect(socket, crate::project::discovery).await?;
    let id = managed_id(&engine, name).await?;
    engine
        .stop_container(&id, crate::container::STOP_GRACE_SECS)
        .await
}

/// Removes a sandbox, running or not, and its instance directory (`pocketdock.data-path`).
pub async fn destroy_container(name: &str, socket: Option<&Path>) -> Result<()> {
    let engine = Engine::connect(socket, crate::project::discovery).await?;
    let info = engine.inspect_container(name).await?;
    let container = Container::from_inspect(engine.clone(), &info)?;
    engine.remove_container(&container.id(), true).await?;
    if let Some(dir) = container.data_path() {
        crate::project::remove_instance_dir(dir);
    }
    container.forget_agent_dir();
    Ok(())
}

/// Removes every stopped managed container (of `project`, if given); returns how many.
pub async fn prune(project: Option<&str>, socket: Option<&Path>) -> Result<usize> {
    let engine = Engine::connect(socket, crate::project::discovery).await?;
    let mut filter = vec![format!("{}=true", labels::MANAGED)];
    if let Some(project) = project {
        filter.push(format!("{}={project}", labels::PROJECT));
    }
    let listed = engine.list_labelled(&filter).await?;
    let mut removed = 0;
    for (item, raw) in listed
        .iter()
        .map(|raw| (list_item(raw), raw))
        .filter(|(c, _)| c.status != "running" && c.status != "paused")
    {
        // Started again meanwhile (the engine refuses without force): not ours to prune.
        if remove_listed(&engine, &item.id, raw, false).await? {
            removed += 1;
        }
    }
    // Socket directories of sandboxes that went another way (removed behind our back).
    crate::container::agent::sweep_host_dirs(&engine, crate::container::agent::SWEEP_MIN_AGE)
        .await?;
    Ok(removed)
}

/// Removes every non-persistent sandbox whose holder — the process that created it — is gone
/// from this host (killed, crashed) without removing it; returns how many. Sandboxes of live
/// processes, of other hosts, persistent ones and those made to outlive their process
/// (`pocketdock create`) stay.
pub async fn prune_orphans(socket: Option<&Path>) -> Result<usize> {
    let engine = Engine::connect(socket, crate::project::discovery).await?;
    remove_orphans(&engine).await
}

pub(crate) async fn remove_orphans(engine: &Engine) -> Result<usize> {
    use crate::container::holder::{state, HolderState};
    let listed = engine
        .list_labelled(&[
            format!("{}=true", labels::MANAGED),
            labels::HOLDER.to_string(),
        ])
        .await?;
    let mut removed = 0;
    for raw in &listed {
        let holder = raw["Labels"][labels::HOLDER].as_str().unwrap_or_default();
        let persist = raw["Labels"][labels::PERSIST].as_str() == Some("true");
        if persist || state(holder) != HolderState::Gone {
            continue;
        }
        let Some(id) = raw["Id"].as_str() else {
            continue;
        };
        tracing::debug!(id, holder, "removing an orphaned sandbox");
        if remove_listed(engine, id, raw, true).await? {
            removed += 1;
        }
    }
    Ok(removed)
}

/// Removes a listed container and its agent's socket directory; `false` if it was removed
/// meanwhile by someone else (or, without `force`, is running again).
async fn remove_listed(
    engine: &Engine,
    id: &str,
    raw: &serde_json::Value,
    force: bool,
) -> Result<bool> {
    match engine.remove_container(id, force).await {
        Ok(()) => {
            if let Some(dir) = raw["Labels"][labels::AGENT_DIR].as_str() {
                crate::container::agent::remove_host_dir(Path::new(dir));
            }
            Ok(true)
        }
        Err(Error::ContainerNotFound { .. }) | Err(Error::Container { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// At most once a minute per engine, from every creation, in the background: orphaned
/// sandboxes and unused socket directories go.
pub(crate) fn sweep_now_and_then(engine: &Engine) {
    static LAST: std::sync::Mutex<Vec<(std::path::PathBuf, std::time::Instant)>> =
        std::sync::Mutex::new(Vec::new());
    {
        let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
        let socket = engine.socket_path();
        match last.iter_mut().find(|(s, _)| s == socket) {
            Some((_, t)) if t.elapsed() < std::time::Duration::from_secs(60) => return,
            Some((_, t)) => *t = std::time::Instant::now(),
            None => last.push((socket.to_path_buf(), std::time::Instant::now())),
        }
    }
    let engine = engine.clone();
    crate::cleanup::spawn(async move {
        if let Err(e) = remove_orphans(&engine).await {
            tracing::debug!("removing orphaned sandboxes: {e}");
        }
        let min_age = crate::container::agent::SWEEP_MIN_AGE;
        if let Err(e) = crate::container::agent::sweep_host_dirs(&engine, min_age).await {
            tracing::debug!("sweeping agent socket directories: {e}");
        }
    });
}

/// The id of the managed container of that name; others are "not found" to us.
async fn managed_id(engine: &Engine, name: &str) -> Result<String> {
    let info = engine.inspect_container(name).await?;
    Container::from_inspect(engine.clone(), &info).map(|c| c.id())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            "[a-zA-Z/_.:-]{0,12}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            let keys = prop_oneof![
                Just("Id".to_string()),
                Just("Names".to_string()),
                Just("State".to_string()),
                Just("Labels".to_string()),
                Just("Image".to_string()),
                Just("pocketdock.persist".to_string()),
                "[a-z]{1,4}",
            ];
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                proptest::collection::btree_map(keys, inner, 0..5)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        /// The engine's list is loose JSON: whatever shape an entry has, reading it never
        /// panics, and what it says where we look is what we report.
        #[test]
        fn any_list_entry_is_read_without_panic(entry in json()) {
            let item = list_item(&entry);
            if let Some(id) = entry.get("Id").and_then(|v| v.as_str()) {
                proptest::prop_assert_eq!(item.id.as_str(), id);
            }
            if let Some("stopped") = entry.get("State").and_then(|v| v.as_str()) {
                proptest::prop_assert_eq!(item.status.as_str(), "exited");
            }
        }
    }
}
