//! Image profiles: list, build, export, import.

use std::path::Path;

use crate::cli::{BuildArgs, ExportArgs, ImportArgs, JsonArgs};
use crate::exit_status::ExitStatus;
use crate::json;
use crate::printer::Printer;

pub fn profiles(args: JsonArgs, printer: Printer) -> anyhow::Result<ExitStatus> {
    let all = pocketdock::list_profiles();
    if args.json {
        printer.json(&serde_json::Value::Array(
            all.iter().map(json::profile).collect(),
        ));
        return Ok(ExitStatus::Success);
    }
    let rows = all
        .iter()
        .map(|p| {
            vec![
                p.name.to_string(),
                p.image_tag.to_string(),
                if p.network_default { "on" } else { "off" }.to_string(),
                p.size_estimate.to_string(),
                p.description.to_string(),
            ]
        })
        .collect();
    printer.table(
        &["PROFILE", "IMAGE", "NETWORK", "SIZE", "DESCRIPTION"],
        rows,
    );
    Ok(ExitStatus::Success)
}

fn chosen(names: Vec<String>, all: bool) -> anyhow::Result<Vec<&'static pocketdock::ProfileInfo>> {
    if all {
        return Ok(pocketdock::list_profiles().iter().collect());
    }
    names
        .iter()
        .map(|n| Ok(pocketdock::resolve_profile(n)?))
        .collect()
}

pub fn build(
    args: BuildArgs,
    socket: Option<&Path>,
    printer: Printer,
) -> anyhow::Result<ExitStatus> {
    if let (Some(dir), Some(tag)) = (&args.context, &args.tag) {
        let progress = printer.progress(&format!("Building {tag} from {}", dir.display()));
        pocketdock::build_image_from_dir(dir, tag, socket, &mut |line| progress.step(line))?;
        progress.finish(&format!("Built {tag}"));
        return Ok(ExitStatus::Success);
    }
    for profile in chosen(args.profiles, args.all)? {
        let progress = printer.progress(&format!(
            "Building {} ({})",
            profile.name, profile.image_tag
        ));
        let tag = pocketdock::build_profile(profile.name, socket, &mut |line| progress.step(line))?;
        progress.finish(&format!("Built {tag}"));
    }
    Ok(ExitStatus::Success)
}

pub fn export(
    args: ExportArgs,
    socket: Option<&Path>,
    printer: Printer,
) -> anyhow::Result<ExitStatus> {
    let mut images: Vec<String> = if args.profiles.is_empty() && !args.all {
        Vec::new()
    } else {
        chosen(args.profiles, args.all)?
            .iter()
            .map(|p| p.image_tag.to_string())
            .collect()
    };
    images.extend(args.image);
    let names: Vec<&str> = images.iter().map(String::as_str).collect();
    let progress = printer.progress(&format!(
        "Exporting {} to {}",
        names.join(", "),
        args.output.display()
    ));
    let written = pocketdock::export_images(&names, &args.output, socket)?;
    progress.finish(&format!(
        "Wrote {} ({:.1} MB)",
        args.output.display(),
        written as f64 / 1e6
    ));
    Ok(ExitStatus::Success)
}

pub fn import(
    args: ImportArgs,
    socket: Option<&Path>,
    printer: Printer,
) -> anyhow::Result<ExitStatus> {
    let progress = printer.progress(&format!("Loading {}", args.file.display()));
    let report = pocketdock::import_images(&args.file, socket)?;
    for line in &report {
        progress.step(line);
    }
    progress.finish(&format!("Loaded {}", args.file.display()));
    for line in report {
        printer.line(&line);
    }
    Ok(ExitStatus::Success)
}
