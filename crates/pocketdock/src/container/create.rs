//! From options to the engine's create request: validation, labels, host configuration.

use std::collections::HashMap;
use std::time::Duration;

use super::labels;
use crate::engine::{ContainerDetails, ContainerSpec, HostSpec};
use crate::error::{Error, Result};
use crate::options::{parse_mem_limit, ContainerOptions};
use crate::profile::resolve_profile;

/// What creating a sandbox needs, checked before the engine is asked anything.
#[derive(Debug, Clone)]
pub(crate) struct CreatePlan {
    pub(crate) name: String,
    pub(crate) spec: ContainerSpec,
    /// The agent to put into the container before it starts.
    pub(crate) agent: Option<super::agent::AgentInstall>,
}

pub(crate) fn plan(options: &ContainerOptions) -> Result<CreatePlan> {
    let name = options.name.clone().unwrap_or_else(default_name);
    validate_name(&name)?;
    let profile = options
        .profile
        .as_deref()
        .map(resolve_profile)
        .transpose()?;
    let image = match profile {
        Some(p) if !options.image_explicit => p.image_tag.to_string(),
        _ => options.image.clone(),
    };
    // None unless asked: explicitly, by publishing a port (which needs one), or by a profile.
    let network = match options.network {
        Some(false) if !options.ports.is_empty() => {
            return Err(Error::invalid(
                "published ports need a network: drop network(false) or the ports",
            ))
        }
        Some(asked) => asked,
        None if !options.ports.is_empty() => true,
        None => profile.is_some_and(|p| p.network_default),
    };
    let memory = options
        .mem_limit
        .as_deref()
        .map(parse_mem_limit)
        .transpose()?;
    let nano_cpus = options.cpu_percent.map(nano_cpus).transpose()?;
    if options.pids_limit < 0 {
        return Err(Error::invalid(
            "pids_limit must be a number of processes, or 0 for no limit",
        ));
    }
    let cap_add = super::hardening::capabilities(&options.cap_add)?;
    let mut labels: HashMap<String, String> = options.labels.iter().cloned().collect();
    labels.insert(labels::MANAGED.into(), "true".into());
    labels.insert(labels::INSTANCE.into(), name.clone());
    labels.insert(labels::PERSIST.into(), options.persist.to_string());
    labels.insert(labels::CREATED_AT.into(), now_rfc3339());
    labels.insert(labels::TIMEOUT.into(), format_secs(options.timeout));
    if let Some(project) = &options.project {
        labels.insert(labels::PROJECT.into(), project.clone());
    }
    if !options.persist && !options.outlive_process {
        if let Some(holder) = super::holder::this_process() {
            labels.insert(labels::HOLDER.into(), holder);
        }
    }
    if let Some(profile) = profile {
        labels.insert(labels::PROFILE.into(), profile.name.into());
    }
    let binds = options
        .volumes
        .iter()
        .map(|(host, container)| {
            if !host.is_absolute() {
                return Err(Error::invalid(format!(
                    "volume host path {} must be absolute",
                    host.display()
                )));
            }
            Ok(format!("{}:{container}:rw", host.display()))
        })
        .collect::<Result<Vec<_>>>()?;
    let host = HostSpec {
        // The engine's init as PID 1 forwards SIGTERM to `sleep`, so a stop takes
        // milliseconds instead of the engine's 10 s grace (PID 1 ignores SIGTERM).
        init: true,
        memory,
        nano_cpus,
        binds,
        devices: options.devices.iter().map(|d| device(d)).collect(),
        ports: options.ports.clone(),
        network_disabled: !network,
        ..super::hardening::host_spec(options, cap_add)
    };
    Ok(CreatePlan {
        name,
        spec: sandbox_spec(image, labels, host),
        agent: None,
    })
}

/// The plan that recreates a container as it was configured: what `reboot(fresh)` needs.
/// Read from the engine's inspect data, so it works for a resumed handle too.
pub(crate) fn plan_from_inspect(name: &str, info: &ContainerDetails) -> Result<CreatePlan> {
    let config = &info.spec;
    if config.image.is_empty() {
        return Err(Error::communication(
            "the engine did not report the container's image",
        ));
    }
    let mut labels = config.labels.clone();
    labels.insert(labels::CREATED_AT.into(), now_rfc3339());
    let agent = super::agent::install_from_labels(&labels);
    let host = &config.host;
    let host = HostSpec {
        init: agent.is_none(),
        memory: host.memory,
        nano_cpus: host.nano_cpus,
        binds: host.binds.clone(),
        devices: host.devices.clone(),
        ports: host.ports.clone(),
        network_disabled: host.network_disabled,
        ..super::hardening::as_configured(host)
    };
    let mut spec = sandbox_spec(config.image.clone(), labels, host);
    if agent.is_some() {
        // The agent's entrypoint and root user, as first created.
        spec.entrypoint = config.entrypoint.clone();
        spec.cmd = None;
        spec.user = config.user.clone();
    }
    Ok(CreatePlan {
        name: name.to_string(),
        spec,
        agent,
    })
}

/// Every sandbox: the image's user and directory, a `sleep` that the init reaps, no TTY.
fn sandbox_spec(image: String, labels: HashMap<String, String>, host: HostSpec) -> ContainerSpec {
    ContainerSpec {
        image,
        cmd: Some(vec!["sleep".into(), "infinity".into()]),
        labels,
        host,
        ..ContainerSpec::default()
    }
}

fn nano_cpus(percent: u32) -> Result<i64> {
    if (1..=100).contains(&percent) {
        Ok(i64::from(percent) * 10_000_000)
    } else {
        Err(Error::invalid(format!(
            "cpu_percent must be between 1 and 100 (a share of one core), not {percent}"
        )))
    }
}

/// `"/dev/x"` or `"/dev/x:/dev/y"`: (host path, container path).
fn device(spec: &str) -> (String, String) {
    let (host, container) = spec.split_once(':').unwrap_or((spec, spec));
    (host.to_string(), container.to_string())
}

fn default_name() -> String {
    format!("pd-{:08x}", rand::random::<u32>())
}

fn validate_name(name: &str) -> Result<()> {
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if valid {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "container name {name:?} must start with a letter or digit and contain only \
             letters, digits, '_', '.' and '-'"
        )))
    }
}

pub(crate) fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub(crate) fn format_secs(d: Duration) -> String {
    format!("{}", d.as_secs_f64())
}

/// The default-run timeout recorded in a container's labels.
pub(crate) fn timeout_from_labels(labels: &HashMap<String, String>) -> Option<Duration> {
    labels
        .get(labels::TIMEOUT)
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map(Duration::from_secs_f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_become_host_config() {
        let o = ContainerOptions::default()
            .mem_limit("64m")
            .cpu_percent(50)
            .port(18080, 8080)
            .volume("/srv/data", "/data")
            .device("/dev/zero:/dev/z")
            .profile("minimal-python");
        let p = plan(&o).unwrap();
        let hc = &p.spec.host;
        assert_eq!(hc.memory, Some(64 << 20));
        assert_eq!(hc.nano_cpus, Some(500_000_000));
        assert!(
            !hc.network_disabled,
            "a published port needs a network, whatever the profile's default"
        );
        assert_eq!(hc.binds, vec!["/srv/data:/data:rw"]);
        assert_eq!(hc.ports, vec![(18080, 8080)]);
        assert_eq!(hc.devices, vec![("/dev/zero".into(), "/dev/z".into())]);
        assert_eq!(p.spec.image, "pocketdock/minimal-python");
    }

    #[test]
    fn explicit_image_and_network_beat_the_profile() {
        let o = ContainerOptions::default()
            .profile("dev")
            .image("x/y")
            .network(false);
        let p = plan(&o).unwrap();
        assert_eq!(p.spec.image, "x/y");
        assert!(p.spec.host.network_disabled);
        let p = plan(&ContainerOptions::default().profile("dev")).unwrap();
        assert_eq!(p.spec.image, "pocketdock/dev");
        assert!(!p.spec.host.network_disabled);
    }

    #[test]
    fn bad_values_are_rejected_before_the_engine() {
        for o in [
            ContainerOptions::default().mem_limit("lots"),
            ContainerOptions::default().cpu_percent(0),
            ContainerOptions::default().cpu_percent(101),
            ContainerOptions::default().profile("nope"),
            ContainerOptions::default().volume("relative/path", "/x"),
            ContainerOptions::default().name("no spaces"),
            ContainerOptions::default().pids_limit(-1),
            ContainerOptions::default().cap_add("NOT A CAP"),
            ContainerOptions::default().network(false).port(8080, 80),
        ] {
            assert!(
                matches!(plan(&o), Err(Error::InvalidArgument { .. })),
                "{o:?}"
            );
        }
    }

    #[test]
    fn sandboxes_are_hardened_unless_loosened() {
        let hc = plan(&ContainerOptions::default()).unwrap().spec.host;
        assert!(hc.network_disabled);
        assert_eq!(hc.cap_drop, vec!["ALL"]);
        assert_eq!(hc.cap_add, super::super::hardening::KEPT_CAPABILITIES);
        assert_eq!(hc.security_opt, vec!["no-new-privileges"]);
        assert_eq!(hc.pids_limit, Some(crate::options::DEFAULT_PIDS_LIMIT));
        assert!(!hc.read_only);
        let loose = ContainerOptions::default()
            .network(true)
            .cap_add("cap_net_bind_service")
            .no_new_privileges(false)
            .pids_limit(0)
            .read_only(true);
        let hc = plan(&loose).unwrap().spec.host;
        assert!(!hc.network_disabled);
        assert!(hc.cap_add.contains(&"NET_BIND_SERVICE".to_string()));
        assert!(hc.security_opt.is_empty());
        assert_eq!(hc.pids_limit, Some(-1));
        assert!(hc.read_only);
        assert!(hc.tmpfs.contains_key("/tmp"));
    }

    #[test]
    fn timeout_round_trips_through_labels() {
        let p = plan(&ContainerOptions::default().timeout(Duration::from_millis(7500))).unwrap();
        let labels = p.spec.labels;
        assert_eq!(
            timeout_from_labels(&labels),
            Some(Duration::from_millis(7500))
        );
    }
}
