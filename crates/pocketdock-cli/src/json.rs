//! The `--json` shapes of the read commands. Stable: fields are only ever added. Documented in
//! docs/cli-json.md and pinned by the CLI tests' shape snapshots.

use serde_json::{json, Value};

pub fn exec_result(r: &pocketdock::ExecResult) -> Value {
    json!({
        "exit_code": r.exit_code,
        "stdout": r.stdout,
        "stderr": r.stderr,
        "ok": r.ok(),
        "duration_ms": r.duration_ms,
        "timed_out": r.timed_out,
        "truncated": r.truncated,
    })
}

pub fn list_item(c: &pocketdock::ContainerListItem) -> Value {
    json!({
        "id": c.id,
        "name": c.name,
        "status": c.status,
        "image": c.image,
        "created_at": c.created_at,
        "persist": c.persist,
        "project": c.project,
    })
}

pub fn info(i: &pocketdock::ContainerInfo) -> Value {
    json!({
        "id": i.id,
        "name": i.name,
        "status": i.status,
        "image": i.image,
        "created_at": i.created_at.map(|t| t.to_rfc3339()),
        "started_at": i.started_at.map(|t| t.to_rfc3339()),
        "uptime_seconds": i.uptime.map(|u| u.as_secs_f64()),
        "memory_usage": i.memory_usage,
        "memory_limit": i.memory_limit,
        "memory_percent": i.memory_percent,
        "cpu_percent": i.cpu_percent,
        "pids": i.pids,
        "network": i.network,
        "ip_address": i.ip_address,
        "ports": i.ports.iter().map(|(h, c)| (h.to_string(), json!(c))).collect::<serde_json::Map<_, _>>(),
        "processes": i.processes.iter().map(|p| json!({"pid": p.pid, "user": p.user, "command": p.command})).collect::<Vec<_>>(),
        "transport": i.transport.to_string(),
        "hardening": i.hardening,
    })
}

pub fn profile(p: &pocketdock::ProfileInfo) -> Value {
    json!({
        "name": p.name,
        "image_tag": p.image_tag,
        "network_default": p.network_default,
        "description": p.description,
        "size_estimate": p.size_estimate,
    })
}
