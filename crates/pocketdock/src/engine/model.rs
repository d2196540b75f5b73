//! The crate's own view of what it sends to and reads from the engine. Everything above
//! `engine/` works with these types; only this file knows bollard's models, so a change of
//! client library (or an engine's odd JSON) stays here.

use std::collections::HashMap;

use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ContainerStatsResponse, DeviceMapping,
    ExecInspectResponse, HostConfig, PortBinding,
};

/// A sandbox's container configuration: what a creation asks for, and what inspect reports of
/// an existing one (so that it can be created again as it was).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ContainerSpec {
    pub(crate) image: String,
    pub(crate) entrypoint: Option<Vec<String>>,
    pub(crate) cmd: Option<Vec<String>>,
    /// `None`: the image's user.
    pub(crate) user: Option<String>,
    /// Read back only: a creation keeps the image's directory.
    pub(crate) working_dir: Option<String>,
    pub(crate) labels: HashMap<String, String>,
    pub(crate) host: HostSpec,
}

/// The host side of a container: resources, mounts, ports, isolation.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct HostSpec {
    /// The engine's own init as PID 1.
    pub(crate) init: bool,
    /// Bytes; `None`: no limit.
    pub(crate) memory: Option<i64>,
    pub(crate) nano_cpus: Option<i64>,
    /// `host:container:mode`.
    pub(crate) binds: Vec<String>,
    /// (host path, container path).
    pub(crate) devices: Vec<(String, String)>,
    /// Published TCP ports: (host port, container port).
    pub(crate) ports: Vec<(u16, u16)>,
    /// No network at all (the `none` network mode).
    pub(crate) network_disabled: bool,
    pub(crate) cap_drop: Vec<String>,
    pub(crate) cap_add: Vec<String>,
    pub(crate) security_opt: Vec<String>,
    /// As the engine takes it: -1 is no limit; `None` leaves the engine's default.
    pub(crate) pids_limit: Option<i64>,
    pub(crate) read_only: bool,
    /// Mount point → mount options.
    pub(crate) tmpfs: HashMap<String, String>,
}

/// What inspect says of an existing container.
#[derive(Debug, Clone, Default)]
pub(crate) struct ContainerDetails {
    pub(crate) id: String,
    /// Without the engine's leading `/`.
    pub(crate) name: Option<String>,
    pub(crate) created: Option<String>,
    pub(crate) state: ContainerState,
    pub(crate) spec: ContainerSpec,
    /// The container's addresses on its networks (empty strings left out).
    pub(crate) ip_addresses: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct ContainerState {
    /// The engine's word: `running`, `exited`, `removing`, … (`unknown` if it gave none).
    pub(crate) status: String,
    pub(crate) running: bool,
    pub(crate) started_at: Option<String>,
}

impl ContainerState {
    /// Being removed or already dead: the container will not come back.
    pub(crate) fn is_going(&self) -> bool {
        matches!(self.status.as_str(), "removing" | "dead")
    }
}

/// One sample of a container's resource usage.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct StatsSample {
    pub(crate) memory_usage: Option<u64>,
    pub(crate) memory_limit: Option<u64>,
    pub(crate) pids: u64,
    /// CPU time used by the container and by the whole system, in the engine's units.
    pub(crate) cpu_total: u64,
    pub(crate) system_cpu: u64,
    pub(crate) online_cpus: u32,
}

/// An exec's state.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ExecState {
    pub(crate) running: bool,
    pub(crate) exit_code: Option<i64>,
}

fn non_empty<T>(v: Vec<T>) -> Option<Vec<T>> {
    (!v.is_empty()).then_some(v)
}

impl From<ContainerSpec> for ContainerCreateBody {
    fn from(spec: ContainerSpec) -> Self {
        let host = spec.host;
        let mut exposed: Vec<String> = host.ports.iter().map(|(_, c)| format!("{c}/tcp")).collect();
        exposed.sort();
        exposed.dedup();
        let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
        for (host_port, container_port) in &host.ports {
            bindings
                .entry(format!("{container_port}/tcp"))
                .or_insert_with(|| Some(Vec::new()))
                .get_or_insert_with(Vec::new)
                .push(PortBinding {
                    host_ip: None,
                    host_port: Some(host_port.to_string()),
                });
        }
        let devices = host
            .devices
            .into_iter()
            .map(|(on_host, in_container)| DeviceMapping {
                path_on_host: Some(on_host),
                path_in_container: Some(in_container),
                cgroup_permissions: Some("rwm".into()),
            })
            .collect();
        let host_config = HostConfig {
            init: Some(host.init),
            memory: host.memory,
            nano_cpus: host.nano_cpus,
            binds: non_empty(host.binds),
            devices: non_empty(devices),
            port_bindings: (!bindings.is_empty()).then_some(bindings),
            network_mode: host.network_disabled.then(|| "none".to_string()),
            cap_drop: non_empty(host.cap_drop),
            cap_add: non_empty(host.cap_add),
            security_opt: non_empty(host.security_opt),
            pids_limit: host.pids_limit,
            readonly_rootfs: Some(host.read_only),
            tmpfs: (!host.tmpfs.is_empty()).then_some(host.tmpfs),
            ..Default::default()
        };
        ContainerCreateBody {
            image: Some(spec.image),
            entrypoint: spec.entrypoint,
            cmd: spec.cmd,
            user: spec.user,
            labels: Some(spec.labels),
            tty: Some(false),
            open_stdin: Some(false),
            exposed_ports: non_empty(exposed),
            host_config: Some(host_config),
            ..Default::default()
        }
    }
}

impl From<ContainerInspectResponse> for ContainerDetails {
    fn from(info: ContainerInspectResponse) -> Self {
        let state = info.state.unwrap_or_default();
        let config = info.config.unwrap_or_default();
        let host = info.host_config.unwrap_or_default();
        let ports = host
            .port_bindings
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(key, bindings)| {
                let container: u16 = key.split('/').next()?.parse().ok()?;
                let host: u16 = bindings?.first()?.host_port.as_deref()?.parse().ok()?;
                Some((host, container))
            })
            .collect();
        let devices = host
            .devices
            .unwrap_or_default()
            .into_iter()
            .filter_map(|d| Some((d.path_on_host?, d.path_in_container?)))
            .collect();
        let ip_addresses = info
            .network_settings
            .and_then(|n| n.networks)
            .into_iter()
            .flat_map(|nets| nets.into_values())
            .filter_map(|n| n.ip_address)
            .filter(|ip| !ip.is_empty())
            .collect();
        ContainerDetails {
            id: info.id.unwrap_or_default(),
            name: info.name.map(|n| n.trim_start_matches('/').to_string()),
            created: info.created,
            state: ContainerState {
                status: state
                    .status
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "unknown".into()),
                running: state.running == Some(true),
                started_at: state.started_at,
            },
            spec: ContainerSpec {
                image: config.image.unwrap_or_default(),
                entrypoint: config.entrypoint,
                cmd: config.cmd,
                user: config.user,
                working_dir: config.working_dir,
                labels: config.labels.unwrap_or_default(),
                host: HostSpec {
                    init: host.init == Some(true),
                    memory: host.memory.filter(|m| *m > 0),
                    nano_cpus: host.nano_cpus.filter(|n| *n > 0),
                    binds: host.binds.unwrap_or_default(),
                    devices,
                    ports,
                    network_disabled: host.network_mode.as_deref() == Some("none"),
                    cap_drop: host.cap_drop.unwrap_or_default(),
                    cap_add: host.cap_add.unwrap_or_default(),
                    security_opt: host.security_opt.unwrap_or_default(),
                    pids_limit: host.pids_limit.filter(|n| *n != 0),
                    read_only: host.readonly_rootfs == Some(true),
                    tmpfs: host.tmpfs.unwrap_or_default(),
                },
            },
            ip_addresses,
        }
    }
}

impl From<ContainerStatsResponse> for StatsSample {
    fn from(s: ContainerStatsResponse) -> Self {
        let memory = s.memory_stats.unwrap_or_default();
        let cpu = s.cpu_stats.unwrap_or_default();
        StatsSample {
            memory_usage: memory.usage,
            memory_limit: memory.limit,
            pids: s.pids_stats.and_then(|p| p.current).unwrap_or(0),
            cpu_total: cpu.cpu_usage.and_then(|u| u.total_usage).unwrap_or(0),
            system_cpu: cpu.system_cpu_usage.unwrap_or(0),
            online_cpus: cpu.online_cpus.unwrap_or(1).max(1),
        }
    }
}

impl From<ExecInspectResponse> for ExecState {
    fn from(info: ExecInspectResponse) -> Self {
        ExecState {
            running: info.running == Some(true),
            exit_code: info.exit_code,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_survives_create_then_inspect() {
        let spec = ContainerSpec {
            image: "busybox".into(),
            entrypoint: Some(vec!["/agent".into(), "init".into()]),
            cmd: None,
            user: Some("0".into()),
            working_dir: None,
            labels: HashMap::from([("a".into(), "b".into())]),
            host: HostSpec {
                init: false,
                memory: Some(64 << 20),
                nano_cpus: Some(500_000_000),
                binds: vec!["/srv:/data:rw".into()],
                devices: vec![("/dev/zero".into(), "/dev/z".into())],
                ports: vec![(18080, 8080)],
                network_disabled: false,
                cap_drop: vec!["ALL".into()],
                cap_add: vec!["KILL".into()],
                security_opt: vec!["no-new-privileges".into()],
                pids_limit: Some(512),
                read_only: true,
                tmpfs: HashMap::from([("/tmp".into(), "rw".into())]),
            },
        };
        let body = ContainerCreateBody::from(spec.clone());
        assert_eq!(body.exposed_ports, Some(vec!["8080/tcp".to_string()]));
        // What the engine echoes back of a creation is the creation.
        let inspect = ContainerInspectResponse {
            config: Some(bollard::models::ContainerConfig {
                image: body.image.clone(),
                entrypoint: body.entrypoint.clone(),
                cmd: body.cmd.clone(),
                user: body.user.clone(),
                labels: body.labels.clone(),
                ..Default::default()
            }),
            host_config: body.host_config.clone(),
            ..Default::default()
        };
        assert_eq!(ContainerDetails::from(inspect).spec, spec);
    }

    #[test]
    fn no_network_is_the_none_mode() {
        let body = ContainerCreateBody::from(ContainerSpec {
            host: HostSpec {
                network_disabled: true,
                ..HostSpec::default()
            },
            ..ContainerSpec::default()
        });
        let host = body.host_config.unwrap();
        assert_eq!(host.network_mode.as_deref(), Some("none"));
        assert_eq!(host.port_bindings, None);
        assert_eq!(host.cap_drop, None);
    }
}
