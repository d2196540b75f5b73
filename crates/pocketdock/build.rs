//! Builds the in-sandbox agent as a static Linux binary and hands it to the library, which
//! embeds it: `cargo install`, a dependency and `pip install .` all carry the agent with no
//! extra step and no download. `POCKETDOCK_AGENT_BINARY=path` uses a prebuilt one instead (for
//! cross builds, e.g. an aarch64 agent).
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let dest = out.join("pocketdock-agent");
    println!("cargo:rerun-if-env-changed=POCKETDOCK_AGENT_BINARY");
    if let Ok(prebuilt) = std::env::var("POCKETDOCK_AGENT_BINARY") {
        std::fs::copy(&prebuilt, &dest)
            .unwrap_or_else(|e| panic!("POCKETDOCK_AGENT_BINARY={prebuilt}: {e}"));
        return;
    }
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let crates = manifest.parent().expect("crates/").to_path_buf();
    for dir in ["pocketdock-agent", "pocketdock-agent-protocol"] {
        println!(
            "cargo:rerun-if-changed={}",
            crates.join(dir).join("src").display()
        );
        println!(
            "cargo:rerun-if-changed={}",
            crates.join(dir).join("Cargo.toml").display()
        );
    }
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").expect("cargo sets it");
    let target = format!("{arch}-unknown-linux-gnu");
    // One agent build for every profile of the workspace, beside its other outputs.
    let target_dir = workspace_target_dir(&out);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "--profile",
            "agent",
            "--target",
            &target,
        ])
        .arg("--manifest-path")
        .arg(crates.join("pocketdock-agent").join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        // Static: the image may have no libc; the agent makes no NSS calls.
        .env("CARGO_ENCODED_RUSTFLAGS", "-Ctarget-feature=+crt-static")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .status()
        .expect("running cargo to build the agent");
    assert!(
        status.success(),
        "building pocketdock-agent for {target} failed"
    );
    let built = target_dir
        .join(&target)
        .join("agent")
        .join("pocketdock-agent");
    std::fs::copy(&built, &dest).unwrap_or_else(|e| panic!("{}: {e}", built.display()));
}

/// `…/target/<profile>/build/pocketdock-*/out` → `…/target/agent`.
fn workspace_target_dir(out: &Path) -> PathBuf {
    out.ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "build"))
        .and_then(|build| build.parent()?.parent())
        .map(|target| target.join("agent"))
        .unwrap_or_else(|| out.join("agent-target"))
}
