//! `pocketdock.yaml`: the project's settings, with the install-level file under the user's home
//! as a base. Unknown keys and wrong types are errors that name the file, the line and the field.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{Error, Result};

/// Name of the configuration file, inside a `.pocketdock/` directory.
pub const CONFIG_FILE: &str = "pocketdock.yaml";
/// The directory that marks a project root (and, under the home directory, holds the
/// install-level configuration).
pub const PROJECT_DIR: &str = ".pocketdock";

const DEFAULT_MAX_LOG_SIZE: &str = "10MB";
const DEFAULT_MAX_LOG_BYTES: u64 = 10 << 20;

/// The resolved configuration: defaults, overlaid by `~/.pocketdock/pocketdock.yaml`, overlaid
/// by the project's `.pocketdock/pocketdock.yaml`.
///
/// In the file the four logging settings live in a `logging:` section (as the reference writes
/// them); they are also accepted at the top level, the section winning where both are given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProjectConfig {
    /// The project's name; empty means the name of the project's directory.
    pub project_name: String,
    /// Image profile the CLI uses when none is given.
    pub default_profile: String,
    /// Whether the CLI creates persistent sandboxes when not told.
    pub default_persist: bool,
    /// Whether persistent sandboxes of the project write run/session/detached logs and history.
    pub auto_log: bool,
    /// Largest size of one log file (`"10MB"`, `"512KB"`, `"1GB"`, plain bytes; units are
    /// powers of 1024). Longer output is cut there; `history.jsonl` rolls over to
    /// `history.jsonl.1` past it.
    pub max_log_size: String,
    /// Most log files kept per instance (the oldest go first); 0 keeps all.
    pub max_logs_per_instance: u32,
    /// Log files older than this many days are deleted; 0 keeps them forever.
    pub retention_days: u32,
    /// Engine socket of the project: used when neither an explicit socket nor
    /// `POCKETDOCK_SOCKET` is given. A relative path is relative to the project root.
    pub socket: Option<PathBuf>,
    /// `trace`, `debug`, `info`, `warn`/`warning`, `error`, `critical` or `off`.
    pub log_level: String,
}

impl Default for ProjectConfig {
    fn default() -> Self {
        ProjectConfig {
            project_name: String::new(),
            default_profile: "minimal-python".into(),
            default_persist: false,
            auto_log: true,
            max_log_size: DEFAULT_MAX_LOG_SIZE.into(),
            max_logs_per_instance: 100,
            retention_days: 30,
            socket: None,
            log_level: "info".into(),
        }
    }
}

impl ProjectConfig {
    /// [`max_log_size`](Self::max_log_size) in bytes (the default, 10 MiB, if it does not parse —
    /// which a loaded configuration never has).
    pub fn max_log_size_bytes(&self) -> u64 {
        parse_size(&self.max_log_size).unwrap_or(DEFAULT_MAX_LOG_BYTES)
    }
}

/// The configuration of the project at `project_root` (or, with `None`, the install-level one
/// alone) over the defaults. A missing file is not an error (its level is skipped); a malformed
/// one is [`Error::ProjectConfig`].
pub fn load_config(project_root: Option<&Path>) -> Result<ProjectConfig> {
    let install = install_config_path();
    let project = project_root.map(|root| root.join(PROJECT_DIR).join(CONFIG_FILE));
    let files: Vec<&Path> = install
        .iter()
        .chain(project.iter())
        .map(PathBuf::as_path)
        .collect();
    load_files(&files)
}

/// `~/.pocketdock/pocketdock.yaml`, where there is a home directory.
pub(crate) fn install_config_path() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(PROJECT_DIR).join(CONFIG_FILE))
}

/// Overlays the files that exist, in order, over the defaults.
pub(crate) fn load_files(files: &[&Path]) -> Result<ProjectConfig> {
    let mut raw = RawConfig::default();
    for file in files {
        let text = match std::fs::read_to_string(file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(Error::ProjectConfig {
                    path: file.to_path_buf(),
                    line: None,
                    field: None,
                    detail: format!("cannot read it: {e}"),
                })
            }
        };
        let mut layer = parse(file, &text)?;
        // A relative socket is relative to the directory holding `.pocketdock/`.
        if let (Some(socket), Some(base)) =
            (layer.socket.as_mut(), file.parent().and_then(Path::parent))
        {
            let stripped = match socket.to_str().and_then(|s| s.strip_prefix("unix://")) {
                Some(rest) => PathBuf::from(rest),
                None => socket.clone(),
            };
            *socket = if stripped.is_relative() {
                base.join(stripped)
            } else {
                stripped
            };
        }
        raw.overlay(layer);
    }
    Ok(raw.resolve())
}

/// Parses one file's text; errors name `path`, the line and the field.
pub(crate) fn parse(path: &Path, text: &str) -> Result<RawConfig> {
    let deserializer = serde_yaml_ng::Deserializer::from_str(text);
    // An empty file (or one of comments only) is no settings at all.
    let parsed: std::result::Result<Option<RawConfig>, _> =
        serde_path_to_error::deserialize(deserializer);
    match parsed {
        Ok(raw) => Ok(raw.unwrap_or_default()),
        Err(e) => {
            let field = e.path().to_string();
            let field = (!matches!(field.as_str(), "" | "." | "?")).then_some(field);
            let inner = e.into_inner();
            let location = inner.location();
            let line = location.as_ref().map(|l| l.line());
            let mut detail = inner.to_string();
            // The message repeats the field and the position; keep just what went wrong.
            if let Some(f) = &field {
                for prefix in [format!("{f}: "), format!("{}: ", parent_of(f))] {
                    if let Some(rest) = detail.strip_prefix(&prefix) {
                        detail = rest.to_string();
                        break;
                    }
                }
            }
            if let Some(l) = &location {
                let suffix = format!(" at line {} column {}", l.line(), l.column());
                if let Some(rest) = detail.strip_suffix(&suffix) {
                    detail = rest.to_string();
                }
            }
            Err(Error::ProjectConfig {
                path: path.to_path_buf(),
                line,
                field,
                detail,
            })
        }
    }
}

fn parent_of(field: &str) -> &str {
    field.rsplit_once('.').map_or("", |(parent, _)| parent)
}

/// One file's settings: everything optional, so that layers overlay.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    #[serde(default, deserialize_with = "scalar_string")]
    project_name: Option<String>,
    default_profile: Option<String>,
    default_persist: Option<bool>,
    socket: Option<PathBuf>,
    #[serde(default, deserialize_with = "log_level")]
    log_level: Option<String>,
    // The logging settings, accepted at the top level as well as in `logging:`.
    auto_log: Option<bool>,
    #[serde(default, deserialize_with = "size")]
    max_log_size: Option<String>,
    max_logs_per_instance: Option<u32>,
    retention_days: Option<u32>,
    logging: Option<RawLogging>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLogging {
    auto_log: Option<bool>,
    #[serde(default, deserialize_with = "size")]
    max_log_size: Option<String>,
    max_logs_per_instance: Option<u32>,
    retention_days: Option<u32>,
}

impl RawLogging {
    fn overlay(&mut self, other: RawLogging) {
        self.auto_log = other.auto_log.or(self.auto_log);
        self.max_log_size = other.max_log_size.or(self.max_log_size.take());
        self.max_logs_per_instance = other.max_logs_per_instance.or(self.max_logs_per_instance);
        self.retention_days = other.retention_days.or(self.retention_days);
    }
}

impl RawConfig {
    /// The file's logging settings: the section over the top-level keys.
    fn logging(&mut self) -> RawLogging {
        let mut logging = RawLogging {
            auto_log: self.auto_log.take(),
            max_log_size: self.max_log_size.take(),
            max_logs_per_instance: self.max_logs_per_instance.take(),
            retention_days: self.retention_days.take(),
        };
        if let Some(section) = self.logging.take() {
            logging.overlay(section);
        }
        logging
    }

    /// `other` wins where it says something; `null` says nothing.
    fn overlay(&mut self, mut other: RawConfig) {
        let mut logging = self.logging();
        logging.overlay(other.logging());
        self.logging = Some(logging);
        self.project_name = other.project_name.or(self.project_name.take());
        self.default_profile = other.default_profile.or(self.default_profile.take());
        self.default_persist = other.default_persist.or(self.default_persist);
        self.socket = other.socket.or(self.socket.take());
        self.log_level = other.log_level.or(self.log_level.take());
    }

    fn resolve(mut self) -> ProjectConfig {
        let d = ProjectConfig::default();
        let l = self.logging();
        ProjectConfig {
            project_name: self.project_name.unwrap_or(d.project_name),
            default_profile: self.default_profile.unwrap_or(d.default_profile),
            default_persist: self.default_persist.unwrap_or(d.default_persist),
            auto_log: l.auto_log.unwrap_or(d.auto_log),
            max_log_size: l.max_log_size.unwrap_or(d.max_log_size),
            max_logs_per_instance: l.max_logs_per_instance.unwrap_or(d.max_logs_per_instance),
            retention_days: l.retention_days.unwrap_or(d.retention_days),
            socket: self.socket,
            log_level: self.log_level.unwrap_or(d.log_level),
        }
    }
}

/// A name may be written unquoted even when it looks like a number (`project_name: 2024`).
fn scalar_string<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        S(String),
        I(i64),
        F(f64),
        B(bool),
    }
    Ok(Option::<Scalar>::deserialize(d)?.map(|s| match s {
        Scalar::S(s) => s,
        Scalar::I(i) => i.to_string(),
        Scalar::F(f) => f.to_string(),
        Scalar::B(b) => b.to_string(),
    }))
}

const LOG_LEVELS: [&str; 8] = [
    "trace", "debug", "info", "warn", "warning", "error", "critical", "off",
];

fn log_level<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<String>, D::Error> {
    let Some(level) = Option::<String>::deserialize(d)? else {
        return Ok(None);
    };
    if LOG_LEVELS.contains(&level.to_ascii_lowercase().as_str()) {
        Ok(Some(level))
    } else {
        Err(serde::de::Error::custom(format!(
            "unknown log level {level:?}, expected one of {}",
            LOG_LEVELS.join(", ")
        )))
    }
}

fn size<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Size {
        Bytes(u64),
        Text(String),
    }
    let text = match Option::<Size>::deserialize(d)? {
        None => return Ok(None),
        Some(Size::Bytes(n)) => n.to_string(),
        Some(Size::Text(s)) => s,
    };
    match parse_size(&text) {
        Some(_) => Ok(Some(text)),
        None => Err(serde::de::Error::custom(format!(
            "invalid size {text:?}: use a whole number with an optional unit B, KB, MB or GB \
             (e.g. \"10MB\")"
        ))),
    }
}

/// `"10MB"`, `"10 mb"`, `"512K"`, `"1GiB"`, `"100B"`, `"4096"` → bytes (units are powers of 1024).
/// Zero is not a size.
pub(crate) fn parse_size(text: &str) -> Option<u64> {
    let s = text.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = (&s[..split], s[split..].trim());
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return None,
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .filter(|n| *n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> Result<ProjectConfig> {
        parse(Path::new("/p/.pocketdock/pocketdock.yaml"), text).map(RawConfig::resolve)
    }

    fn config_error(text: &str) -> (PathBuf, Option<usize>, Option<String>, String) {
        match parse_text(text) {
            Err(Error::ProjectConfig {
                path,
                line,
                field,
                detail,
            }) => (path, line, field, detail),
            other => panic!("expected a config error for {text:?}, got {other:?}"),
        }
    }

    #[test]
    fn defaults_are_the_specs() {
        let c = ProjectConfig::default();
        assert_eq!(c.project_name, "");
        assert_eq!(c.default_profile, "minimal-python");
        assert!(!c.default_persist);
        assert!(c.auto_log);
        assert_eq!(c.max_log_size, "10MB");
        assert_eq!(c.max_log_size_bytes(), 10 << 20);
        assert_eq!(c.max_logs_per_instance, 100);
        assert_eq!(c.retention_days, 30);
        assert_eq!(c.socket, None);
        assert_eq!(c.log_level, "info");
        assert_eq!(parse_text("").unwrap(), c);
        assert_eq!(parse_text("# only a comment\n").unwrap(), c);
    }

    #[test]
    fn reads_the_reference_layout_and_flat_keys() {
        let c = parse_text(
            "project_name: demo\ndefault_persist: true\nsocket: null\nlog_level: DEBUG\n\
             logging:\n  auto_log: false\n  max_log_size: \"2 KB\"\n  max_logs_per_instance: 3\n\
             retention_days: 7\n",
        )
        .unwrap();
        assert_eq!(c.project_name, "demo");
        assert!(c.default_persist);
        assert!(!c.auto_log);
        assert_eq!(c.max_log_size_bytes(), 2048);
        assert_eq!(c.max_logs_per_instance, 3);
        assert_eq!(c.retention_days, 7, "a flat logging key is accepted too");
        assert_eq!(c.log_level, "DEBUG");
        let c = parse_text("retention_days: 1\nlogging:\n  retention_days: 2\n").unwrap();
        assert_eq!(c.retention_days, 2, "the logging section wins");
        assert_eq!(
            parse_text("project_name: 2024\n").unwrap().project_name,
            "2024"
        );
        assert_eq!(
            parse_text("max_log_size: 4096\n")
                .unwrap()
                .max_log_size_bytes(),
            4096
        );
    }

    #[test]
    fn unknown_field_names_file_line_and_field() {
        let (path, line, field, detail) = config_error(
            "project_name: x\ndefault_profile: dev\nlogging:\n  auto_log: true\n  colour: red\n",
        );
        assert_eq!(path, Path::new("/p/.pocketdock/pocketdock.yaml"));
        assert_eq!(line, Some(5));
        assert_eq!(field.as_deref(), Some("logging.colour"));
        assert!(detail.starts_with("unknown field `colour`"), "{detail}");
        let (_, line, field, _) = config_error("project_name: x\ncolour: red\n");
        assert_eq!((line, field.as_deref()), (Some(2), Some("colour")));
        let message = parse_text("x: 1\n").unwrap_err().to_string();
        assert!(
            message.contains("/p/.pocketdock/pocketdock.yaml")
                && message.contains("line 1")
                && message.contains("field `x`"),
            "{message}"
        );
    }

    #[test]
    fn wrong_types_and_values_name_the_field() {
        let (_, line, field, detail) = config_error("project_name: x\ndefault_persist: maybe\n");
        assert_eq!((line, field.as_deref()), (Some(2), Some("default_persist")));
        assert!(detail.contains("expected a boolean"), "{detail}");
        let (_, line, field, _) = config_error("logging:\n  max_logs_per_instance: -1\n");
        assert_eq!(
            (line, field.as_deref()),
            (Some(2), Some("logging.max_logs_per_instance"))
        );
        let (_, line, field, detail) = config_error("\n\nlogging:\n  max_log_size: lots\n");
        assert_eq!(
            (line, field.as_deref()),
            (Some(4), Some("logging.max_log_size"))
        );
        assert!(detail.contains("invalid size"), "{detail}");
        let (_, line, field, _) = config_error("log_level: loud\n");
        assert_eq!((line, field.as_deref()), (Some(1), Some("log_level")));
    }

    #[test]
    fn syntax_errors_and_non_maps_have_a_line() {
        let (_, line, field, _) = config_error("project_name: x\n  bad: indentation\n");
        assert!(line.is_some());
        assert_eq!(field, None);
        let (_, line, _, detail) = config_error("- a list\n");
        assert_eq!(line, Some(1));
        assert!(detail.contains("sequence"), "{detail}");
    }

    #[test]
    fn layers_overlay_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let install = dir.path().join("home/.pocketdock/pocketdock.yaml");
        let project = dir.path().join("proj/.pocketdock/pocketdock.yaml");
        std::fs::create_dir_all(install.parent().unwrap()).unwrap();
        std::fs::create_dir_all(project.parent().unwrap()).unwrap();
        std::fs::write(
            &install,
            "socket: unix:///run/x.sock\nretention_days: 5\nlog_level: warn\n",
        )
        .unwrap();
        std::fs::write(
            &project,
            "project_name: p\nsocket: null\nlogging:\n  retention_days: 9\n",
        )
        .unwrap();
        let c = load_files(&[&install, &project]).unwrap();
        assert_eq!(c.project_name, "p");
        assert_eq!(
            c.socket.as_deref(),
            Some(Path::new("/run/x.sock")),
            "null says nothing"
        );
        assert_eq!((c.retention_days, c.log_level.as_str()), (9, "warn"));
        std::fs::write(&project, "socket: sock/engine.sock\n").unwrap();
        let c = load_files(&[&install, &project]).unwrap();
        assert_eq!(c.socket, Some(dir.path().join("proj/sock/engine.sock")));
        let missing = dir.path().join("nowhere.yaml");
        assert_eq!(load_files(&[&missing]).unwrap(), ProjectConfig::default());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("10MB"), Some(10 << 20));
        assert_eq!(parse_size("10 mb"), Some(10 << 20));
        assert_eq!(parse_size("1GiB"), Some(1 << 30));
        assert_eq!(parse_size("512k"), Some(512 << 10));
        assert_eq!(parse_size("100"), Some(100));
        for bad in ["", "MB", "0", "1.5MB", "-1", "10 TB", "ten"] {
            assert_eq!(parse_size(bad), None, "{bad:?}");
        }
    }
}
