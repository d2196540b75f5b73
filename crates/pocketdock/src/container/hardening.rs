//! What every sandbox gets unless an option loosens it, and how `info()` reads it back.

use std::collections::HashMap;

use crate::engine::HostSpec;
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
pub(crate) fn host_spec(options: &ContainerOptions, capabilities: Vec<String>) -> HostSpec {
    HostSpec {
        cap_drop: vec!["ALL".into()],
        cap_add: capabilities,
        security_opt: if options.no_new_privileges {
            vec!["no-new-privileges".into()]
        } else {
            Vec::new()
        },
        // The engines read -1 as "no limit" (Podman would apply its own default to none).
        pids_limit: Some(match options.pids_limit {
            0 => -1,
            n => n,
        }),
        read_only: options.read_only,
        tmpfs: if options.read_only {
            HashMap::from([("/tmp".to_string(), "rw,nosuid,nodev,mode=1777".to_string())])
        } else {
            HashMap::new()
        },
        ..HostSpec::default()
    }
}

/// The hardening of an existing sandbox, to create it again as it was.
pub(crate) fn as_configured(host: &HostSpec) -> HostSpec {
    HostSpec {
        cap_drop: host.cap_drop.clone(),
        cap_add: host.cap_add.clone(),
        security_opt: host.security_opt.clone(),
        pids_limit: host.pids_limit,
        read_only: host.read_only,
        tmpfs: host.tmpfs.clone(),
        ..HostSpec::default()
    }
}

/// What the engine says is in force.
pub(crate) fn from_inspect(host: &HostSpec) -> Hardening {
    let bare = |cap: &String| cap.strip_prefix("CAP_").unwrap_or(cap).to_ascii_uppercase();
    let dropped: Vec<String> = host.cap_drop.iter().map(bare).collect();
    Hardening {
        capabilities_dropped: dropped.iter().any(|c| c == "ALL"),
        capabilities: host.cap_add.iter().map(bare).collect(),
        no_new_privileges: host
            .security_opt
            .iter()
            .any(|o| o.starts_with("no-new-privileges") && !o.ends_with("false")),
        pids_limit: host.pids_limit.filter(|n| *n > 0),
        read_only: host.read_only,
    }
}
