//! Projects: a directory holding `.pocketdock/pocketdock.yaml`. Containers created inside one
//! carry its name as a label; persistent ones also get `.pocketdock/instances/<name>/` with
//! `instance.toml`, `history.jsonl` and `logs/`. `doctor` cross-checks those directories against
//! the engine.
//!
//! Everything here is plain file I/O except [`doctor`] and [`project_status`], which also ask the
//! engine (async here, blocking twins at the crate root).

mod config;
mod doctor;
mod instance;
mod logger;
mod logs;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};

pub use config::{load_config, ProjectConfig, CONFIG_FILE, PROJECT_DIR};
pub use doctor::{doctor, project_status, DoctorReport, ProjectStatus};
pub use instance::{read_instance_metadata, InstanceMetadata};
pub use logs::{list_log_files, read_history, HistoryEntry, LogFile, LogKind};

pub(crate) use instance::{prepare, remove_instance_dir, Instance};
pub(crate) use logger::{DetachLog, SessionLog};

/// Name of the directory, inside `.pocketdock/`, that holds one directory per instance.
pub const INSTANCES_DIR: &str = "instances";

/// Where the library looks for an engine from the current directory: `POCKETDOCK_SOCKET` if
/// set, else the `socket:` of the project around it, else the platform's well-known sockets,
/// then a private Podman service. A malformed project configuration is a warning here (and an
/// error where the project itself is used, such as creating a container in it).
pub(crate) fn discovery() -> crate::engine::Discovery {
    let project_socket = match find_project_root(None) {
        Some(root) => match load_config(Some(&root)) {
            Ok(config) => config.socket,
            Err(e) => {
                tracing::warn!("ignoring the project's socket setting: {e}");
                None
            }
        },
        None => None,
    };
    crate::engine::Discovery::with_project_socket(project_socket.as_deref())
}

/// The directory at or above `start` (default: the current directory) that holds
/// `.pocketdock/pocketdock.yaml`, or `None`.
pub fn find_project_root(start: Option<&Path>) -> Option<PathBuf> {
    let start = match start {
        Some(p) => p.to_path_buf(),
        None => std::env::current_dir().ok()?,
    };
    let start = std::fs::canonicalize(&start).unwrap_or_else(|_| absolute(&start));
    start
        .ancestors()
        .find(|dir| dir.join(PROJECT_DIR).join(CONFIG_FILE).is_file())
        .map(Path::to_path_buf)
}

/// Makes `path` (default: the current directory) a project: writes
/// `.pocketdock/pocketdock.yaml` with the default settings and `project_name` (default: the
/// directory's name), unless the file exists already, and creates `.pocketdock/instances/`.
/// Returns the project root.
pub fn init_project(path: Option<&Path>, project_name: Option<&str>) -> Result<PathBuf> {
    let root = match path {
        Some(p) => absolute(p),
        None => std::env::current_dir().map_err(|e| Error::host_file(Path::new("."), e))?,
    };
    let dir = root.join(PROJECT_DIR);
    std::fs::create_dir_all(&dir).map_err(|e| Error::host_file(&dir, e))?;
    let root = std::fs::canonicalize(&root).map_err(|e| Error::host_file(&root, e))?;
    let dir = root.join(PROJECT_DIR);
    let name = match project_name.filter(|n| !n.is_empty()) {
        Some(n) => n.to_string(),
        None => dir_name(&root),
    };
    let file = dir.join(CONFIG_FILE);
    if !file.exists() {
        std::fs::write(&file, default_yaml(&name)).map_err(|e| Error::host_file(&file, e))?;
    }
    let instances = dir.join(INSTANCES_DIR);
    std::fs::create_dir_all(&instances).map_err(|e| Error::host_file(&instances, e))?;
    Ok(root)
}

/// The file `init_project` writes: the reference's layout plus `socket` and `log_level`.
fn default_yaml(name: &str) -> String {
    // Quoted as YAML needs it (a name such as `2024` or `yes: no` stays a string).
    let quoted = serde_yaml_ng::to_string(name)
        .map(|s| s.trim_end().to_string())
        .unwrap_or_else(|_| format!("{name:?}"));
    format!(
        "# Project configuration for pocketdock\n\
         project_name: {quoted}\n\
         default_profile: minimal-python\n\
         default_persist: false\n\
         # Engine socket of this project; null: POCKETDOCK_SOCKET, then auto-detection.\n\
         socket: null\n\
         log_level: info\n\
         \n\
         logging:\n  \
           auto_log: true\n  \
           max_log_size: \"10MB\"\n  \
           max_logs_per_instance: 100\n  \
           retention_days: 30\n"
    )
}

/// A project: its root, its name and its configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Project {
    /// The directory holding `.pocketdock/`.
    pub root: PathBuf,
    /// `project_name` from the configuration, or the root directory's name when that is empty.
    pub name: String,
    pub config: ProjectConfig,
}

impl Project {
    /// The project whose root is `root`; [`Error::ProjectNotInitialized`] if it has no
    /// `.pocketdock/pocketdock.yaml`, [`Error::ProjectConfig`] if that is malformed.
    pub fn open(root: &Path) -> Result<Project> {
        let root = std::fs::canonicalize(root).unwrap_or_else(|_| absolute(root));
        if !root.join(PROJECT_DIR).join(CONFIG_FILE).is_file() {
            return Err(Error::ProjectNotInitialized { path: root });
        }
        let config = load_config(Some(&root))?;
        let name = if config.project_name.is_empty() {
            dir_name(&root)
        } else {
            config.project_name.clone()
        };
        Ok(Project { root, name, config })
    }

    /// The project at or above `start` (default: the current directory);
    /// [`Error::ProjectNotInitialized`] outside any.
    pub fn find(start: Option<&Path>) -> Result<Project> {
        match find_project_root(start) {
            Some(root) => Project::open(&root),
            None => Err(Error::ProjectNotInitialized {
                path: match start {
                    Some(p) => absolute(p),
                    None => std::env::current_dir().unwrap_or_default(),
                },
            }),
        }
    }

    /// `.pocketdock/instances/`.
    pub fn instances_dir(&self) -> PathBuf {
        self.root.join(PROJECT_DIR).join(INSTANCES_DIR)
    }

    /// `.pocketdock/instances/<name>/` (whether it exists or not).
    pub fn instance_dir(&self, name: &str) -> PathBuf {
        self.instances_dir().join(name)
    }

    /// Names of the instance directories, sorted.
    pub fn instance_names(&self) -> Result<Vec<String>> {
        let dir = self.instances_dir();
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::host_file(&dir, e)),
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .collect();
        names.sort();
        Ok(names)
    }
}

fn dir_name(root: &Path) -> String {
    root.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_writes_the_defaults_and_keeps_an_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let root = init_project(Some(&dir.path().join("my-app")), None).unwrap();
        assert_eq!(
            root,
            std::fs::canonicalize(dir.path().join("my-app")).unwrap()
        );
        assert!(root.join(".pocketdock/instances").is_dir());
        let file = root.join(".pocketdock/pocketdock.yaml");
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.contains("project_name: my-app\n"), "{text}");
        let config = config::load_files(&[&file]).unwrap();
        assert_eq!(
            config,
            ProjectConfig {
                project_name: "my-app".into(),
                ..ProjectConfig::default()
            }
        );
        // A second init keeps what is there.
        std::fs::write(&file, "project_name: kept\n").unwrap();
        init_project(Some(&root), Some("other")).unwrap();
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            "project_name: kept\n"
        );
        // Awkward names stay strings.
        let root = init_project(Some(&dir.path().join("x")), Some("2024")).unwrap();
        let file = root.join(".pocketdock/pocketdock.yaml");
        assert_eq!(config::load_files(&[&file]).unwrap().project_name, "2024");
        let root = init_project(Some(&dir.path().join("y")), Some("a: b # c")).unwrap();
        let file = root.join(".pocketdock/pocketdock.yaml");
        assert_eq!(
            config::load_files(&[&file]).unwrap().project_name,
            "a: b # c"
        );
    }

    #[test]
    fn find_walks_up_to_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = init_project(Some(dir.path()), Some("walk")).unwrap();
        let deep = root.join("a/b/c");
        std::fs::create_dir_all(&deep).unwrap();
        assert_eq!(find_project_root(Some(&deep)), Some(root.clone()));
        assert_eq!(find_project_root(Some(&root)), Some(root.clone()));
        // A `.pocketdock/` without the file does not make a project.
        let other = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(other.path().join(".pocketdock")).unwrap();
        assert_eq!(find_project_root(Some(other.path())), None);
        // The nearest project wins.
        let inner = init_project(Some(&root.join("a/b")), Some("inner")).unwrap();
        assert_eq!(find_project_root(Some(&deep)), Some(inner.clone()));
        let p = Project::find(Some(&deep)).unwrap();
        assert_eq!(
            (p.name.as_str(), p.root.as_path()),
            ("inner", inner.as_path())
        );
        assert!(matches!(
            Project::find(Some(other.path())),
            Err(Error::ProjectNotInitialized { .. })
        ));
    }

    #[test]
    fn an_empty_name_is_the_directory_name() {
        let dir = tempfile::tempdir().unwrap();
        let root = init_project(Some(&dir.path().join("named-by-dir")), None).unwrap();
        std::fs::write(
            root.join(".pocketdock/pocketdock.yaml"),
            "project_name: \"\"\n",
        )
        .unwrap();
        assert_eq!(Project::open(&root).unwrap().name, "named-by-dir");
        std::fs::write(root.join(".pocketdock/pocketdock.yaml"), "oops: 1\n").unwrap();
        assert!(matches!(
            Project::open(&root),
            Err(Error::ProjectConfig { .. })
        ));
    }
}
