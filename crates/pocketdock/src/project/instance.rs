//! Instance directories: `.pocketdock/instances/<name>/` of a persistent container, its
//! `instance.toml`, and how container creation, resumption and removal use them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use super::logger::{InstanceLog, LogSettings};
use super::{find_project_root, Project, INSTANCES_DIR, PROJECT_DIR};
use crate::container::create::CreatePlan;
use crate::container::labels;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::options::ContainerOptions;

const METADATA_FILE: &str = "instance.toml";
pub(crate) const LOGS_DIR: &str = "logs";

/// What `instance.toml` records about a persistent container (the reference's layout:
/// `[container]`, `[resources]`, `[ports]`, `[provenance]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct InstanceMetadata {
    pub container_id: String,
    pub name: String,
    pub image: String,
    pub project: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub persist: bool,
    pub profile: Option<String>,
    pub mem_limit: Option<String>,
    pub cpu_percent: Option<u32>,
    /// `(host port, container port)`.
    pub ports: Vec<(u16, u16)>,
    /// The command line of the program that created the container.
    pub created_by: String,
    pub pid: u32,
}

/// Reads `<instance_dir>/instance.toml`.
pub fn read_instance_metadata(instance_dir: &Path) -> Result<InstanceMetadata> {
    let path = instance_dir.join(METADATA_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::host_file(&path, e))?;
    let file: MetadataFile = toml::from_str(&text).map_err(|e| crate::Error::HostFile {
        path: path.clone(),
        kind: std::io::ErrorKind::InvalidData,
        detail: format!("malformed instance.toml: {}", e.message()),
    })?;
    let mut ports: Vec<(u16, u16)> = file
        .ports
        .iter()
        .filter_map(|(host, container)| Some((host.parse().ok()?, *container)))
        .collect();
    ports.sort_unstable();
    Ok(InstanceMetadata {
        container_id: file.container.id,
        name: file.container.name,
        image: file.container.image,
        project: file.container.project,
        created_at: file.container.created_at,
        persist: file.container.persist,
        profile: file.container.profile,
        mem_limit: file.resources.mem_limit,
        cpu_percent: file.resources.cpu_percent,
        ports,
        created_by: file.provenance.created_by,
        pid: file.provenance.pid,
    })
}

fn write_instance_metadata(instance_dir: &Path, m: &InstanceMetadata) -> std::io::Result<()> {
    let file = MetadataFile {
        container: ContainerSection {
            id: m.container_id.clone(),
            name: m.name.clone(),
            image: m.image.clone(),
            project: m.project.clone(),
            created_at: m.created_at.clone(),
            persist: m.persist,
            profile: m.profile.clone(),
        },
        resources: ResourcesSection {
            mem_limit: m.mem_limit.clone(),
            cpu_percent: m.cpu_percent,
        },
        ports: m
            .ports
            .iter()
            .map(|(host, container)| (host.to_string(), *container))
            .collect(),
        provenance: ProvenanceSection {
            created_by: m.created_by.clone(),
            pid: m.pid,
        },
    };
    let body = toml::to_string(&file).map_err(std::io::Error::other)?;
    let text = format!("# Maintained by pocketdock. Do not edit.\n\n{body}");
    // Written whole and renamed into place: a reader never sees half a file.
    let tmp = instance_dir.join(format!(".{METADATA_FILE}.tmp"));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, instance_dir.join(METADATA_FILE))
}

#[derive(Debug, Serialize, Deserialize)]
struct MetadataFile {
    container: ContainerSection,
    #[serde(default, skip_serializing_if = "ResourcesSection::is_empty")]
    resources: ResourcesSection,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    ports: BTreeMap<String, u16>,
    #[serde(default)]
    provenance: ProvenanceSection,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct ContainerSection {
    id: String,
    name: String,
    image: String,
    project: String,
    created_at: String,
    persist: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    profile: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct ResourcesSection {
    #[serde(skip_serializing_if = "Option::is_none")]
    mem_limit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cpu_percent: Option<u32>,
}

impl ResourcesSection {
    fn is_empty(&self) -> bool {
        self.mem_limit.is_none() && self.cpu_percent.is_none()
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct ProvenanceSection {
    created_by: String,
    pid: u32,
}

/// Whether `dir` is laid out as `<root>/.pocketdock/instances/<name>`: only such a directory is
/// ever written to or removed because a label points at it.
fn is_instance_dir_path(dir: &Path) -> Option<&Path> {
    let instances = dir.parent()?;
    let pocketdock = instances.parent()?;
    (dir.is_absolute()
        && dir.file_name().is_some()
        && instances.file_name()? == INSTANCES_DIR
        && pocketdock.file_name()? == PROJECT_DIR)
        .then_some(pocketdock.parent()?)
}

/// Removes an instance directory (what `destroy_container` does for the container's
/// `pocketdock.data-path`). Failures are warnings: the container is gone either way.
pub(crate) fn remove_instance_dir(dir: &Path) {
    if is_instance_dir_path(dir).is_none() {
        tracing::warn!(path = %dir.display(), "not removing: not a pocketdock instance directory");
        return;
    }
    match std::fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            tracing::warn!(path = %dir.display(), "removing the instance directory failed: {e}")
        }
    }
}

/// The project side of creating a container: the project it belongs to and, when persistent,
/// its instance directory.
#[derive(Debug)]
pub(crate) struct PreparedInstance {
    project: Project,
    data_path: Option<PathBuf>,
    metadata: InstanceMetadata,
}

/// The project a new container belongs to: `options.project_root`, else the project around the
/// current directory. Puts the project label (unless `options.project` names one already) and,
/// for a persistent container, the data-path label on `plan`.
pub(crate) fn prepare(
    options: &ContainerOptions,
    plan: &mut CreatePlan,
) -> Result<Option<PreparedInstance>> {
    let project = match &options.project_root {
        Some(root) => Project::open(root)?,
        None => match find_project_root(None) {
            Some(root) => Project::open(&root)?,
            None => return Ok(None),
        },
    };
    let label_project = options
        .project
        .clone()
        .unwrap_or_else(|| project.name.clone());
    let data_path = options.persist.then(|| project.instance_dir(&plan.name));
    let labels = &mut plan.spec.labels;
    labels.insert(labels::PROJECT.into(), label_project.clone());
    if let Some(path) = &data_path {
        labels.insert(
            labels::DATA_PATH.into(),
            path.to_string_lossy().into_owned(),
        );
    }
    let metadata = InstanceMetadata {
        container_id: String::new(),
        name: plan.name.clone(),
        image: plan.spec.image.clone(),
        project: label_project,
        created_at: labels.get(labels::CREATED_AT).cloned().unwrap_or_default(),
        persist: options.persist,
        profile: labels.get(labels::PROFILE).cloned(),
        mem_limit: options.mem_limit.clone(),
        cpu_percent: options.cpu_percent,
        ports: options.ports.clone(),
        created_by: std::env::args().collect::<Vec<_>>().join(" "),
        pid: std::process::id(),
    };
    Ok(Some(PreparedInstance {
        project,
        data_path,
        metadata,
    }))
}

impl PreparedInstance {
    /// The project's name as labelled on the container.
    pub(crate) fn project_name(&self) -> &str {
        &self.metadata.project
    }

    /// The engine for the new container: an explicit socket, else `POCKETDOCK_SOCKET`, else the
    /// project's `socket:`, else auto-detection.
    pub(crate) async fn connect(&self, explicit: Option<&Path>) -> Result<Engine> {
        super::doctor::connect(&self.project, explicit).await
    }

    /// Once the container exists: creates its instance directory and writes `instance.toml`.
    /// A failure here is a warning (the container exists and works; `doctor` will report it).
    pub(crate) fn finish(mut self, container_id: &str) -> Option<Instance> {
        let dir = self.data_path.take()?;
        self.metadata.container_id = container_id.to_string();
        let created = std::fs::create_dir_all(dir.join(LOGS_DIR))
            .and_then(|()| write_instance_metadata(&dir, &self.metadata));
        if let Err(e) = created {
            tracing::warn!(path = %dir.display(), "creating the instance directory failed: {e}");
        }
        let instance = Instance::new(dir);
        let _ = instance.log.set(InstanceLog::open(
            instance.data_path.clone(),
            &self.project.config,
        ));
        Some(instance)
    }
}

/// A container's instance directory, as its handle knows it. The logger is set up on first use,
/// so a handle that never runs anything never reads the project's configuration.
#[derive(Debug)]
pub(crate) struct Instance {
    data_path: PathBuf,
    log: OnceLock<Option<InstanceLog>>,
}

impl Instance {
    /// The instance of a `pocketdock.data-path` label.
    pub(crate) fn new(data_path: PathBuf) -> Self {
        Instance {
            data_path,
            log: OnceLock::new(),
        }
    }

    pub(crate) fn data_path(&self) -> &Path {
        &self.data_path
    }

    /// Where run, session and detached logs go; `None` when logging is off (`auto_log: false`),
    /// the directory is gone, or the label points somewhere that is no instance directory.
    pub(crate) fn log(&self) -> Option<&InstanceLog> {
        self.log
            .get_or_init(|| {
                let root = is_instance_dir_path(&self.data_path)?;
                if !self.data_path.is_dir() {
                    return None;
                }
                let config = match Project::open(root) {
                    Ok(project) => project.config,
                    Err(e) => {
                        tracing::warn!("logging with default settings: {e}");
                        Default::default()
                    }
                };
                InstanceLog::open(self.data_path.clone(), &config)
            })
            .as_ref()
    }

    /// Records a new container id (after `reboot(fresh = true)`).
    pub(crate) fn set_container_id(&self, container_id: &str) {
        if is_instance_dir_path(&self.data_path).is_none() {
            return;
        }
        let updated = read_instance_metadata(&self.data_path)
            .map_err(|e| e.to_string())
            .and_then(|mut m| {
                m.container_id = container_id.to_string();
                write_instance_metadata(&self.data_path, &m).map_err(|e| e.to_string())
            });
        if let Err(e) = updated {
            tracing::warn!(path = %self.data_path.display(), "updating instance.toml failed: {e}");
        }
    }
}

impl LogSettings {
    pub(crate) fn from_config(config: &super::ProjectConfig) -> Option<LogSettings> {
        config.auto_log.then(|| LogSettings {
            max_size: config.max_log_size_bytes(),
            max_files: config.max_logs_per_instance as usize,
            retention_days: config.retention_days,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_round_trips_in_the_reference_layout() {
        let dir = tempfile::tempdir().unwrap();
        let m = InstanceMetadata {
            container_id: "abc123".into(),
            name: "pd-1".into(),
            image: "pocketdock/minimal-python".into(),
            project: "demo \"quoted\"".into(),
            created_at: "2024-01-02T03:04:05.000Z".into(),
            persist: true,
            profile: Some("minimal-python".into()),
            mem_limit: Some("256m".into()),
            cpu_percent: Some(50),
            ports: vec![(8080, 80), (9000, 9000)],
            created_by: "prog --flag".into(),
            pid: 42,
        };
        write_instance_metadata(dir.path(), &m).unwrap();
        let text = std::fs::read_to_string(dir.path().join("instance.toml")).unwrap();
        for expected in [
            "[container]",
            "id = \"abc123\"",
            "[resources]",
            "mem_limit = \"256m\"",
            "[ports]",
            "8080 = 80",
            "[provenance]",
        ] {
            assert!(text.contains(expected), "{expected} in\n{text}");
        }
        assert_eq!(read_instance_metadata(dir.path()).unwrap(), m);
    }

    #[test]
    fn reads_a_file_written_by_the_reference() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("instance.toml"),
            "# Maintained by pocketdock. Do not edit.\n\n[container]\nid = \"c1\"\nname = \"n\"\n\
             persist = true\n\n[ports]\n8080 = 80\n\n[provenance]\ncreated_by = \"x\"\npid = 7\n",
        )
        .unwrap();
        let m = read_instance_metadata(dir.path()).unwrap();
        assert_eq!(
            (m.container_id.as_str(), m.ports.as_slice()),
            ("c1", &[(8080, 80)][..])
        );
        assert_eq!((m.mem_limit, m.pid), (None, 7));
    }

    #[test]
    fn only_instance_dirs_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let not_instance = dir.path().join("elsewhere");
        std::fs::create_dir_all(&not_instance).unwrap();
        remove_instance_dir(&not_instance);
        assert!(not_instance.is_dir());
        let instance = dir.path().join(".pocketdock/instances/pd-x");
        std::fs::create_dir_all(instance.join("logs")).unwrap();
        remove_instance_dir(&instance);
        assert!(!instance.exists());
        remove_instance_dir(&instance); // already gone: nothing to say
    }
}
