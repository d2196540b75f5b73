//! What every sandbox gets unless an option loosens it, and how `info()` reads it back.

use std::collections::HashMap;

use bollard::models::HostConfig;

use crate::error::{Error, Result};
use crate::options::ContainerOptions;

/// The Linux capabilities every sandbox keeps; all others are dropped. Each is kept for PID 1
/// or for commands run as `root`; the default user (`sandbox`) has none at all (CapEff 0):
/// - `SETUID`, `SETGID`: PID 1 (the agent, root) starts each command as its user.
/// - `KILL`: PID 1 signals a command's whole tree (timeouts, `kill`), whoever runs it.
/// - `CHOWN`, `DAC_OVERRIDE`, `FOWNER`: a command run as `root` can still manage the sandbox
///   user's files (ownership and modes of what was pushed or built).
pub const KEPT_CAPABILITIES: &[&str] = &[
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "KILL",
    "SETGID",
    "SETUID",
];

/// The hardening in force in a sandbox, as [`info`](crate::Container::info) reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct Hardening {
    /// Every capability not listed in `capabilities` is dropped.
    pub capabilities_dropped: bool,
    /// Capabilities kept (names without `CAP_`).
    pub capabilities: Vec<String>,
    pub no_new_privileges: bool,
    /// `None`: no limit.
    pub pids_limit: Option<i64>,
    pub read_only: bool,
}

/// The kept capabilities plus `extra`, in the engine's spelling (`NET_RAW`, not `cap_net_raw`).
pub(crate) fn capabilities(extra: &[String]) -> Result<Vec<String>> {
    let mut caps: Vec<String> = KEPT_CAPABILITIES.iter().map(|c| c.to_string()).collect();
    for cap in extra {
        let name = cap.trim().to_ascii_uppercase();
        let name = name.strip_prefix("CAP_").unwrap_or(&name).to_string();
        let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_uppercase() || c == '_');
        if !valid {
            return Err(Error::invalid(format!(
                "{cap:?} is not a capability name (e.g. \"NET_BIND_SERVICE\")"
            )));
        }
        if !caps.contains(&name) {
            caps.push(name);
        }
    }
    Ok(caps)
}

/// The hardening part of a new sandbox's host configuration.
pub(crate) fn host_config(options: &ContainerOptions, capabilities: Vec<String>) -> HostConfig {
    HostConfig {
        cap_drop: Some(vec!["ALL".into()]),
        cap_add: Some(capabilities),
        security_opt: options
            .no_new_privileges
            .then(|| vec!["no-new-privileges".into()]),
        // The engines read -1 as "no limit" (Podman would apply its own default to none).
        pids_limit: Some(match options.pids_limit {
            0 => -1,
            n => n,
        }),
        readonly_rootfs: Some(options.read_only),
        tmpfs: options.read_only.then(|| {
            HashMap::from([("/tmp".to_string(), "rw,nosuid,nodev,mode=1777".to_string())])
        }),
        ..Default::default()
    }
}

/// The hardening of an existing sandbox, to create it again as it was.
pub(crate) fn as_configured(host: &HostConfig) -> HostConfig {
    HostConfig {
        cap_drop: host.cap_drop.clone(),
        cap_add: host.cap_add.clone(),
        security_opt: host.security_opt.clone().filter(|o| !o.is_empty()),
        pids_limit: host.pids_limit.filter(|n| *n != 0),
        readonly_rootfs: host.readonly_rootfs,
        tmpfs: host.tmpfs.clone().filter(|t| !t.is_empty()),
        ..Default::default()
    }
}

/// What the engine says is in force.
pub(crate) fn from_inspect(host: &HostConfig) -> Hardening {
    let bare = |cap: &String| cap.strip_prefix("CAP_").unwrap_or(cap).to_ascii_uppercase();
    let dropped: Vec<String> = host.cap_drop.iter().flatten().map(bare).collect();
    Hardening {
        capabilities_dropped: dropped.iter().any(|c| c == "ALL"),
        capabilities: host.cap_add.iter().flatten().map(bare).collect(),
        no_new_privileges: host
            .security_opt
            .iter()
            .flatten()
            .any(|o| o.starts_with("no-new-privileges") && !o.ends_with("false")),
        pids_limit: host.pids_limit.filter(|n| *n > 0),
        read_only: host.readonly_rootfs == Some(true),
    }
}
