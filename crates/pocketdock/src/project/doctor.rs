//! What needs the engine: `doctor` (instance dirs against containers) and the project summary.

use std::collections::BTreeSet;
use std::path::Path;

use serde::Serialize;

use super::Project;
use crate::container::labels;
use crate::engine::{Discovery, Engine};
use crate::error::Result;
use crate::persistence::{list_item, ContainerListItem};

/// What [`doctor`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DoctorReport {
    /// Persistent containers of the project that have no instance directory.
    pub orphaned_containers: Vec<String>,
    /// Instance directories whose container no longer exists.
    pub stale_instance_dirs: Vec<String>,
    /// Instance directories with their container.
    pub healthy: usize,
}

/// Cross-checks the project's instance directories against the engine's containers of the
/// project (by name, sorted). Non-persistent containers have no instance directory by design
/// and are never orphaned; a container whose `pocketdock.data-path` points into another project
/// of the same name is not this project's. `project_root` defaults to the project around the
/// current directory ([`Error::ProjectNotInitialized`](crate::Error) outside any); the engine is
/// `socket`, else `POCKETDOCK_SOCKET`, else the project's `socket:`, else auto-detected.
pub async fn doctor(project_root: Option<&Path>, socket: Option<&Path>) -> Result<DoctorReport> {
    let project = open(project_root)?;
    let engine = connect(&project, socket).await?;
    let containers = containers_of(&engine, &project).await?;
    let local: BTreeSet<String> = project.instance_names()?.into_iter().collect();
    let names: BTreeSet<&str> = containers.iter().map(|c| c.name.as_str()).collect();
    Ok(DoctorReport {
        orphaned_containers: containers
            .iter()
            .filter(|c| c.persist && !local.contains(&c.name))
            .map(|c| c.name.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
        stale_instance_dirs: local
            .iter()
            .filter(|d| !names.contains(d.as_str()))
            .cloned()
            .collect(),
        healthy: local.iter().filter(|d| names.contains(d.as_str())).count(),
    })
}

/// What `pocketdock status` shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProjectStatus {
    /// Root, name and configuration.
    pub project: Project,
    /// The project's containers on the engine, all states, sorted by name.
    pub containers: Vec<ContainerListItem>,
    /// Names of the instance directories, sorted.
    pub instance_dirs: Vec<String>,
}

/// The project (at `project_root`, default: around the current directory) and its containers;
/// the engine is chosen as for [`doctor`].
pub async fn project_status(
    project_root: Option<&Path>,
    socket: Option<&Path>,
) -> Result<ProjectStatus> {
    let project = open(project_root)?;
    let engine = connect(&project, socket).await?;
    let mut containers = containers_of(&engine, &project).await?;
    containers.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(ProjectStatus {
        instance_dirs: project.instance_names()?,
        containers,
        project,
    })
}

fn open(project_root: Option<&Path>) -> Result<Project> {
    match project_root {
        Some(root) => Project::open(root),
        None => Project::find(None),
    }
}

/// Explicit socket > `POCKETDOCK_SOCKET` > the project's `socket:` > auto-detection.
pub(crate) async fn connect(project: &Project, explicit: Option<&Path>) -> Result<Engine> {
    Engine::connect(explicit, || {
        Discovery::with_project_socket(project.config.socket.as_deref())
    })
    .await
}

/// Managed containers labelled with the project's name, less those whose instance directory
/// is in another project.
async fn containers_of(engine: &Engine, project: &Project) -> Result<Vec<ContainerListItem>> {
    let filter = [
        format!("{}=true", labels::MANAGED),
        format!("{}={}", labels::PROJECT, project.name),
    ];
    let instances = project.instances_dir();
    Ok(engine
        .list_labelled(&filter)
        .await?
        .iter()
        .filter(|c| match c["Labels"][labels::DATA_PATH].as_str() {
            Some(path) if !path.is_empty() => Path::new(path).parent() == Some(&instances),
            _ => true,
        })
        .map(list_item)
        .collect())
}
