//! Project commands: init, status, doctor, logs.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

use pocketdock::{HistoryEntry, LogFile, Project};

use crate::cli::{InitArgs, JsonArgs, LogsArgs};
use crate::exit_status::ExitStatus;
use crate::printer::Printer;

pub fn init(args: InitArgs, printer: Printer) -> anyhow::Result<ExitStatus> {
    let config = pocketdock::init_project(args.path.as_deref(), args.name.as_deref())?;
    printer.success(&format!(
        "Initialised a pocketdock project: {}",
        config.display()
    ));
    Ok(ExitStatus::Success)
}

pub fn status(
    args: JsonArgs,
    socket: Option<&Path>,
    printer: Printer,
) -> anyhow::Result<ExitStatus> {
    let status = pocketdock::project_status(None, socket)?;
    if args.json {
        printer.json(&serde_json::to_value(&status)?);
        return Ok(ExitStatus::Success);
    }
    let p = &status.project;
    let running = status
        .containers
        .iter()
        .filter(|c| c.status == "running")
        .count();
    printer.pairs(&[
        ("Project", p.name.clone()),
        ("Root", p.root.display().to_string()),
        ("Profile", p.config.default_profile.clone()),
        ("Persist", p.config.default_persist.to_string()),
        (
            "Logging",
            if p.config.auto_log {
                format!("on (max {} per file)", p.config.max_log_size)
            } else {
                "off".into()
            },
        ),
        (
            "Containers",
            format!("{} ({running} running)", status.containers.len()),
        ),
        ("Instances", status.instance_dirs.len().to_string()),
    ]);
    if !status.containers.is_empty() {
        printer.line("");
        let rows = status
            .containers
            .iter()
            .map(|c| {
                vec![
                    c.name.clone(),
                    c.status.clone(),
                    c.image.clone(),
                    if c.persist { "yes" } else { "no" }.into(),
                ]
            })
            .collect();
        printer.table(&["NAME", "STATUS", "IMAGE", "PERSIST"], rows);
    }
    Ok(ExitStatus::Success)
}

/// Exit status 1 when anything is out of step, so scripts can check a project.
pub fn doctor(
    args: JsonArgs,
    socket: Option<&Path>,
    printer: Printer,
) -> anyhow::Result<ExitStatus> {
    let report = pocketdock::doctor(None, socket)?;
    let problems = report.orphaned_containers.len() + report.stale_instance_dirs.len();
    if args.json {
        printer.json(&serde_json::to_value(&report)?);
    } else {
        for name in &report.orphaned_containers {
            printer.line(&format!(
                "orphaned container (no instance directory): {name}"
            ));
        }
        for name in &report.stale_instance_dirs {
            printer.line(&format!("stale instance directory (no container): {name}"));
        }
        printer.line(&format!(
            "{} healthy, {problems} problem{}",
            report.healthy,
            if problems == 1 { "" } else { "s" }
        ));
    }
    Ok(if problems == 0 {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

pub fn logs(args: LogsArgs, printer: Printer) -> anyhow::Result<ExitStatus> {
    let project = Project::find(None)?;
    let instances: Vec<String> = match &args.container {
        Some(name) => {
            let dir = project.instance_dir(name);
            anyhow::ensure!(dir.is_dir(), "{name} has no instance directory in project {} (only persistent containers are logged)", project.name);
            vec![name.clone()]
        }
        None => project.instance_names()?,
    };
    if args.history {
        history(&project, &instances, &args, printer)
    } else {
        log_files(&project, &instances, &args, printer)
    }
}

fn history(
    project: &Project,
    instances: &[String],
    args: &LogsArgs,
    printer: Printer,
) -> anyhow::Result<ExitStatus> {
    let mut entries: Vec<(String, HistoryEntry)> = Vec::new();
    for name in instances {
        for e in pocketdock::read_history(&project.instance_dir(name), Some(args.limit))? {
            entries.push((name.clone(), e));
        }
    }
    entries.sort_by(|a, b| a.1.timestamp.cmp(&b.1.timestamp));
    let skip = entries.len().saturating_sub(args.limit);
    let entries = &entries[skip..];
    if args.json {
        printer.json(&with_instance(entries));
    } else {
        for (name, e) in entries {
            printer.line(&history_line(name, e));
        }
    }
    if args.follow {
        let files: Vec<PathBuf> = instances
            .iter()
            .map(|n| project.instance_dir(n).join("history.jsonl"))
            .collect();
        follow(&files, printer, |line| {
            serde_json::from_str::<HistoryEntry>(line)
                .map(|e| history_line("", &e))
                .unwrap_or_default()
        });
    }
    Ok(ExitStatus::Success)
}

fn history_line(instance: &str, e: &HistoryEntry) -> String {
    let status = if e.timed_out {
        "timeout".to_string()
    } else {
        e.exit_code.to_string()
    };
    let who = if instance.is_empty() {
        String::new()
    } else {
        format!("{instance}  ")
    };
    format!(
        "{}  {who}{status:>7}  {:>9.1} ms  {}",
        e.timestamp, e.duration_ms, e.command
    )
}

fn log_files(
    project: &Project,
    instances: &[String],
    args: &LogsArgs,
    printer: Printer,
) -> anyhow::Result<ExitStatus> {
    let mut files: Vec<(String, LogFile)> = Vec::new();
    for name in instances {
        files.extend(
            pocketdock::list_log_files(&project.instance_dir(name))?
                .into_iter()
                .map(|f| (name.clone(), f)),
        );
    }
    files.sort_by(|a, b| a.1.started.cmp(&b.1.started));
    let skip = files.len().saturating_sub(args.limit);
    let files = &files[skip..];
    if args.json {
        printer.json(&with_instance(files));
    } else {
        for (name, f) in files {
            printer.line(&printer.bold(&format!(
                "==> {name} {:?} {} ({} bytes)",
                f.kind, f.started, f.size
            )));
            printer.stdout_raw(&std::fs::read(&f.path).unwrap_or_default());
        }
    }
    if args.follow {
        let newest: Vec<PathBuf> = files
            .last()
            .map(|(_, f)| f.path.clone())
            .into_iter()
            .collect();
        follow(&newest, printer, str::to_string);
    }
    Ok(ExitStatus::Success)
}

/// A JSON array of the items, each with the name of its instance added.
fn with_instance<T: serde::Serialize>(items: &[(String, T)]) -> serde_json::Value {
    items
        .iter()
        .map(|(name, item)| {
            let mut v = serde_json::to_value(item).unwrap_or_default();
            v["instance"] = serde_json::json!(name);
            v
        })
        .collect()
}

/// Prints lines appended to `files` until interrupted; files only grow (rotation starts anew).
fn follow(files: &[PathBuf], printer: Printer, render: impl Fn(&str) -> String) -> ! {
    let mut offsets: Vec<u64> = files
        .iter()
        .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
        .collect();
    loop {
        for (file, offset) in files.iter().zip(offsets.iter_mut()) {
            let Ok(mut handle) = std::fs::File::open(file) else {
                continue;
            };
            let len = handle.metadata().map(|m| m.len()).unwrap_or(0);
            if len < *offset {
                *offset = 0;
            }
            if len == *offset || handle.seek(SeekFrom::Start(*offset)).is_err() {
                continue;
            }
            let mut added = String::new();
            if handle.read_to_string(&mut added).is_ok() {
                // Only whole lines; a partial one is read again next time.
                let complete = added.rfind('\n').map_or(0, |i| i + 1);
                for line in added[..complete].lines() {
                    printer.line(&render(line));
                }
                *offset += complete as u64;
            }
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}
