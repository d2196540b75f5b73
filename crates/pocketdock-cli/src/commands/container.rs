//! Sandbox lifecycle commands: create, reboot, stop, resume, shutdown, snapshot, prune, list, info.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use pocketdock::{create_new_container, ContainerOptions};

use crate::cli::{
    CreateArgs, InfoArgs, ListArgs, PruneArgs, RebootArgs, ShutdownArgs, SnapshotArgs,
};
use crate::exit_status::ExitStatus;
use crate::json;
use crate::printer::Printer;

pub fn create(
    args: CreateArgs,
    socket: Option<&Path>,
    printer: Printer,
) -> anyhow::Result<ExitStatus> {
    let mut options = args.hardening.apply(
        ContainerOptions::default()
            .persist(args.persist)
            // It stays after this command, until `shutdown`: no orphan when we exit.
            .outlive_process(true),
    );
    if let Some(image) = args.image {
        options = options.image(image);
    }
    if let Some(name) = args.name {
        options = options.name(name);
    }
    if let Some(profile) = args.profile {
        options = options.profile(profile);
    }
    if let Some(limit) = args.mem_limit {
        options = options.mem_limit(limit);
    }
    if let Some(cpu) = args.cpu_percent {
        options = options.cpu_percent(cpu);
    }
    if let Some(timeout) = args.timeout {
        options = options.timeout(seconds(timeout)?);
    }
    if let Some(project) = args.project {
        options = options.project(project);
    }
    for device in args.device {
        options = options.device(device);
    }
    for (host, container) in args.ports {
        options = options.port(host, container);
    }
    for volume in args.volumes {
        let (host, container) = volume
            .split_once(':')
            .with_context(|| format!("--volume {volume:?}: expected HOST:CONTAINER"))?;
        let host = std::fs::canonicalize(host).with_context(|| format!("--volume: {host}"))?;
        options = options.volume(host, container);
    }
    if let Some(socket) = socket {
        options = options.socket_path(socket);
    }
    let c = create_new_container(options)?;
    // The sandbox outlives this command; manage it by name from now on.
    c.release();
    if args.json {
        printer.json(&serde_json::json!({"id": c.id(), "name": c.name(), "persist": c.persist()}));
    } else {
        printer.success(&format!("Created {} ({})", c.name(), short(&c.id())));
    }
    Ok(ExitStatus::Success)
}

pub fn reboot(
    args: RebootArgs,
    socket: Option<&Path>,
    printer: Printer,
) -> anyhow::Result<ExitStatus> {
    let c = pocketdock::find_container(&args.container, socket)?;
    c.reboot(args.fresh)?;
    let how = if args.fresh { "recreated" } else { "restarted" };
    printer.success(&format!("{} {how}", args.container));
    Ok(ExitStatus::Success)
}

pub fn stop(name: &str, socket: Option<&Path>, printer: Printer) -> anyhow::Result<ExitStatus> {
    pocketdock::stop_container(name, socket)?;
    printer.success(&format!("{name} stopped"));
    Ok(ExitStatus::Success)
}

pub fn resume(name: &str, socket: Option<&Path>, printer: Printer) -> anyhow::Result<ExitStatus> {
    pocketdock::resume_container(name, socket)?;
    printer.success(&format!("{name} running"));
    Ok(ExitStatus::Success)
}

pub fn shutdown(
    args: ShutdownArgs,
    socket: Option<&Path>,
    printer: Printer,
) -> anyhow::Result<ExitStatus> {
    if !args.yes && !printer.confirm(&format!("Stop and remove {}?", args.container))? {
        printer.note("Aborted.");
        return Ok(ExitStatus::Failure);
    }
    pocketdock::destroy_container(&args.container, socket)?;
    printer.success(&format!("{} shut down and removed", args.container));
    Ok(ExitStatus::Success)
}

pub fn snapshot(
    args: SnapshotArgs,
    socket: Option<&Path>,
    printer: Printer,
) -> anyhow::Result<ExitStatus> {
    let c = pocketdock::find_container(&args.container, socket)?;
    let id = c.snapshot(&args.image)?;
    printer.success(&format!(
        "Saved {} as {} ({})",
        args.container,
        args.image,
        short(&id)
    ));
    Ok(ExitStatus::Success)
}

pub fn prune(
    args: PruneArgs,
    socket: Option<&Path>,
    printer: Printer,
) -> anyhow::Result<ExitStatus> {
    if args.orphans {
        if !args.yes && !printer.confirm("Remove every sandbox whose creating process is gone?")? {
            printer.note("Aborted.");
            return Ok(ExitStatus::Failure);
        }
        let removed = pocketdock::prune_orphans(socket)?;
        printer.success(&format!(
            "Removed {removed} orphaned sandbox{}",
            if removed == 1 { "" } else { "es" }
        ));
        return Ok(ExitStatus::Success);
    }
    let whose = args
        .project
        .as_deref()
        .map(|p| format!(" of project {p}"))
        .unwrap_or_default();
    if !args.yes && !printer.confirm(&format!("Remove every stopped sandbox{whose}?"))? {
        printer.note("Aborted.");
        return Ok(ExitStatus::Failure);
    }
    let removed = pocketdock::prune(args.project.as_deref(), socket)?;
    printer.success(&format!(
        "Removed {removed} stopped sandbox{}",
        if removed == 1 { "" } else { "es" }
    ));
    Ok(ExitStatus::Success)
}

pub fn list(args: ListArgs, socket: Option<&Path>, printer: Printer) -> anyhow::Result<ExitStatus> {
    let items = pocketdock::list_containers(args.project.as_deref(), socket)?;
    if args.json {
        printer.json(&serde_json::Value::Array(
            items.iter().map(json::list_item).collect(),
        ));
        return Ok(ExitStatus::Success);
    }
    if items.is_empty() {
        printer.note("No sandboxes.");
        return Ok(ExitStatus::Success);
    }
    let rows = items
        .iter()
        .map(|c| {
            vec![
                c.name.clone(),
                c.status.clone(),
                c.image.clone(),
                if c.persist { "yes" } else { "no" }.to_string(),
                c.project.clone(),
                c.created_at.clone(),
            ]
        })
        .collect();
    printer.table(
        &["NAME", "STATUS", "IMAGE", "PERSIST", "PROJECT", "CREATED"],
        rows,
    );
    Ok(ExitStatus::Success)
}

pub fn info(args: InfoArgs, socket: Option<&Path>, printer: Printer) -> anyhow::Result<ExitStatus> {
    let c = pocketdock::find_container(&args.container, socket)?;
    let i = c.info()?;
    if args.json {
        printer.json(&json::info(&i));
        return Ok(ExitStatus::Success);
    }
    let ports = i
        .ports
        .iter()
        .map(|(h, c)| format!("{h}->{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    printer.pairs(&[
        ("Name", i.name.clone()),
        ("Id", short(&i.id).to_string()),
        ("Status", i.status.clone()),
        ("Image", i.image.clone()),
        ("Transport", i.transport.to_string()),
        (
            "Created",
            i.created_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
        ),
        (
            "Uptime",
            i.uptime
                .map(|u| format!("{}s", u.as_secs()))
                .unwrap_or_default(),
        ),
        (
            "Memory",
            if i.memory_usage.is_empty() {
                String::new()
            } else {
                format!(
                    "{} / {} ({:.1}%)",
                    i.memory_usage, i.memory_limit, i.memory_percent
                )
            },
        ),
        ("CPU", format!("{:.1}%", i.cpu_percent)),
        ("PIDs", i.pids.to_string()),
        (
            "Network",
            if i.network {
                i.ip_address.clone()
            } else {
                "none".into()
            },
        ),
        ("Ports", ports),
        ("Hardening", hardening(&i.hardening)),
    ]);
    if !i.processes.is_empty() {
        printer.line("");
        let rows = i
            .processes
            .iter()
            .map(|p| vec![p.pid.to_string(), p.user.clone(), p.command.clone()])
            .collect();
        printer.table(&["PID", "USER", "COMMAND"], rows);
    }
    Ok(ExitStatus::Success)
}

pub fn seconds(s: f64) -> anyhow::Result<Duration> {
    anyhow::ensure!(
        s.is_finite() && s > 0.0,
        "a timeout must be a positive number of seconds"
    );
    Ok(Duration::from_secs_f64(s))
}

fn short(id: &str) -> &str {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    &id[..id.len().min(12)]
}

/// `caps CHOWN,KILL; no-new-privileges; pids 512; read-only root`
fn hardening(h: &pocketdock::Hardening) -> String {
    let mut parts = vec![if h.capabilities_dropped {
        format!("caps {}", h.capabilities.join(","))
    } else {
        "the engine's default capabilities".to_string()
    }];
    if h.no_new_privileges {
        parts.push("no-new-privileges".into());
    }
    parts.push(match h.pids_limit {
        Some(n) => format!("pids {n}"),
        None => "no pids limit".into(),
    });
    if h.read_only {
        parts.push("read-only root".into());
    }
    parts.join("; ")
}
