//! A live snapshot of a sandbox: state, resources, network, processes.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::container::Container;
use crate::engine::{ContainerDetails, StatsSample};
use crate::error::Result;

/// What [`Container::info`] reports. Live figures (memory, CPU, pids, processes) are present
/// only while the container runs.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerInfo {
    pub id: String,
    pub name: String,
    /// The engine's status: `running`, `exited`, `created`, `paused`, …
    pub status: String,
    pub image: String,
    pub created_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub uptime: Option<Duration>,
    /// Human-readable, e.g. `"42.1 MB"`; empty when not running.
    pub memory_usage: String,
    pub memory_limit: String,
    pub memory_percent: f64,
    /// Share of one core, over a short sampling window.
    pub cpu_percent: f64,
    pub pids: u64,
    pub network: bool,
    pub ip_address: String,
    /// Host port → container port.
    pub ports: BTreeMap<u16, u16>,
    pub processes: Vec<ProcessEntry>,
    /// How commands reach the sandbox.
    pub transport: crate::Transport,
    /// Capabilities, privileges, process limit and root file system in force.
    pub hardening: crate::Hardening,
}

/// One process inside the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessEntry {
    pub pid: u32,
    pub user: String,
    pub command: String,
}

/// Two stats samples this far apart give the CPU figure (the engine's own `stream=false`
/// takes a full second to do the same).
const CPU_SAMPLE: Duration = Duration::from_millis(100);

/// `ps` run directly (argv `exec`s over `sh`), so its own line is easy to leave out.
const PS: &str = "exec ps -eo pid=,user=,args=";

impl Container {
    /// State and resource usage of the container.
    pub async fn info(&self) -> Result<ContainerInfo> {
        self.ensure_not_removed()?;
        let id = self.id();
        let engine = self.engine();
        let inspect = engine
            .inspect_container(&id)
            .await
            .map_err(|e| self.gone_if_missing(e))?;
        let mut info = from_inspect(self.name(), &inspect);
        info.transport = self.transport();
        if let Ok(Some(caps)) = engine.effective_capabilities(&id).await {
            info.hardening.capabilities_dropped = true;
            info.hardening.capabilities = caps;
        }
        if info.status != "running" {
            return Ok(info);
        }
        // Sample before listing processes: the `ps` exec would count as the container's CPU.
        if let Some(first) = stats_with_retries(engine, &id).await {
            tokio::time::sleep(CPU_SAMPLE).await;
            let second = stats_with_retries(engine, &id).await.unwrap_or(first);
            apply_stats(&mut info, &first, &second);
        }
        // Podman's compat `top` answers with an empty body; `ps` in the container works on
        // every engine (an image without `ps` just reports no processes).
        if let Ok(r) = self.run(PS).await {
            if r.ok() {
                info.processes = parse_ps(&r.stdout);
            }
        }
        Ok(info)
    }
}

/// A stats sample, asked for again when a busy engine fails to give one (a rootless Podman
/// under load answered with an error now and then): an `info` without figures is a poor answer,
/// but failing the whole `info` over them would be a worse one.
async fn stats_with_retries(engine: &crate::engine::Engine, id: &str) -> Option<StatsSample> {
    const ATTEMPTS: u32 = 3;
    for attempt in 1..=ATTEMPTS {
        match engine.stats_once(id).await {
            Ok(sample) => return Some(sample),
            Err(e) => {
                tracing::debug!(container = id, attempt, error = %e, "stats sample failed");
                if attempt < ATTEMPTS {
                    tokio::time::sleep(CPU_SAMPLE * attempt).await;
                }
            }
        }
    }
    tracing::warn!(
        container = id,
        "no stats from the engine; info has no live figures"
    );
    None
}

fn from_inspect(name: &str, inspect: &ContainerDetails) -> ContainerInfo {
    let status = inspect.state.status.clone();
    let started_at = inspect.state.started_at.as_deref().and_then(parse_time);
    let uptime = (status == "running")
        .then(|| started_at.map(|t| (Utc::now() - t).to_std().unwrap_or_default()))
        .flatten();
    let ip_address = inspect.ip_addresses.first().cloned().unwrap_or_default();
    let host = &inspect.spec.host;
    ContainerInfo {
        id: inspect.id.clone(),
        name: name.to_string(),
        status,
        image: inspect.spec.image.clone(),
        created_at: inspect.created.as_deref().and_then(parse_time),
        started_at,
        uptime,
        memory_usage: String::new(),
        memory_limit: String::new(),
        memory_percent: 0.0,
        cpu_percent: 0.0,
        pids: 0,
        network: !host.network_disabled && !ip_address.is_empty(),
        ip_address,
        ports: host.ports.iter().copied().collect(),
        processes: Vec::new(),
        transport: crate::Transport::EngineExec,
        hardening: crate::container::hardening::from_inspect(host),
    }
}

fn apply_stats(info: &mut ContainerInfo, first: &StatsSample, second: &StatsSample) {
    if second.memory_usage.is_some() || second.memory_limit.is_some() {
        let (usage, limit) = (
            second.memory_usage.unwrap_or(0),
            second.memory_limit.unwrap_or(0),
        );
        info.memory_usage = format_bytes(usage);
        info.memory_limit = format_bytes(limit);
        if limit > 0 {
            info.memory_percent = round2(usage as f64 / limit as f64 * 100.0);
        }
    }
    info.pids = second.pids;
    let system_delta = second.system_cpu.saturating_sub(first.system_cpu);
    if system_delta > 0 {
        let share = second.cpu_total.saturating_sub(first.cpu_total) as f64 / system_delta as f64;
        info.cpu_percent = round2(share * f64::from(second.online_cpus) * 100.0);
    }
}

fn parse_ps(stdout: &str) -> Vec<ProcessEntry> {
    stdout
        .lines()
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            let pid = parts.next()?.parse().ok()?;
            let user = parts.next()?.to_string();
            let command = parts.collect::<Vec<_>>().join(" ");
            Some(ProcessEntry { pid, user, command })
        })
        .filter(|p| !p.command.starts_with("ps -eo pid=,user=,args="))
        .collect()
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
        .filter(|t| t.timestamp() > 0)
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// `"42.1 MB"`: binary units, as the reference prints them.
pub(crate) fn format_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    for unit in &UNITS[..3] {
        if value < 1024.0 {
            return format!("{value:.1} {unit}");
        }
        value /= 1024.0;
    }
    format!("{value:.1} {}", UNITS[3])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_bytes_like_the_reference() {
        assert_eq!(format_bytes(512), "512 B");
        assert_eq!(format_bytes(1536), "1.5 KB");
        assert_eq!(format_bytes(128 << 20), "128.0 MB");
        assert_eq!(format_bytes(3 << 30), "3.0 GB");
        assert_eq!(format_bytes(5 << 40), "5.0 TB");
    }

    #[test]
    fn parses_ps_output_without_its_own_line() {
        let out = "    1 sandbox  /sbin/docker-init -- sleep infinity\n    7 sandbox  sleep infinity\n   30 sandbox  ps -eo pid=,user=,args=\n";
        let p = parse_ps(out);
        assert_eq!(p.len(), 2);
        assert_eq!(
            p[1],
            ProcessEntry {
                pid: 7,
                user: "sandbox".into(),
                command: "sleep infinity".into()
            }
        );
    }

    #[test]
    fn parses_engine_times() {
        assert!(parse_time("2026-11-27T08:31:02.123456789Z").is_some());
        assert!(parse_time("0001-01-01T00:00:00Z").is_none());
    }
}
