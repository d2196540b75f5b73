//! With the `bundle-cli` feature (set by the repository's pyproject.toml, so only for `pip
//! install .` / maturin), builds the `pocketdock` command of `crates/pocketdock-cli` and puts it
//! into the Python package (`python/pocketdock/_bin/pocketdock`), whose console script runs it.
//!
//! The CLI is built by a nested cargo into a target directory of its own, so that it never
//! waits on the lock of the build that runs this script.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if env::var_os("CARGO_FEATURE_BUNDLE_CLI").is_none() {
        return;
    }
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let workspace = manifest_dir
        .parent()
        .and_then(Path::parent)
        .expect("crates/pocketdock-py sits two levels below the workspace root")
        .to_path_buf();
    for watched in [
        "crates/pocketdock-cli",
        "crates/pocketdock/src",
        "Cargo.lock",
        "Cargo.toml",
    ] {
        println!(
            "cargo:rerun-if-changed={}",
            workspace.join(watched).display()
        );
    }

    println!("cargo:rerun-if-env-changed=POCKETDOCK_BUNDLE_CLI");
    // A CLI built already from this same workspace (the test suite's debug build) is bundled
    // as it is rather than built a second time.
    if let Some(prebuilt) = env::var_os("POCKETDOCK_BUNDLE_CLI") {
        install_cli(&workspace, Path::new(&prebuilt));
        return;
    }

    let release = env::var("PROFILE").map(|p| p != "debug").unwrap_or(true);
    let target_dir = workspace.join("target").join("pocketdock-py-cli");
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .arg("build")
        .arg("--manifest-path")
        .arg(workspace.join("crates/pocketdock-cli/Cargo.toml"))
        .arg("--bin")
        .arg("pocketdock")
        .arg("--target-dir")
        .arg(&target_dir);
    if release {
        // The workspace keeps line tables in release builds (for profiling); a shipped
        // command needs none.
        build
            .arg("--release")
            .env("CARGO_PROFILE_RELEASE_DEBUG", "0")
            .env("CARGO_PROFILE_RELEASE_STRIP", "symbols");
    }
    // What cargo tells this build script about *this* crate must not configure the nested
    // build (rustflags, features, target dir, the package's own variables).
    for (key, _) in env::vars_os() {
        let key = key.to_string_lossy();
        let ours = key.starts_with("CARGO_FEATURE_")
            || key.starts_with("CARGO_CFG_")
            || key.starts_with("CARGO_PKG_")
            || key.starts_with("CARGO_PRIMARY_")
            || key.starts_with("DEP_")
            || matches!(
                key.as_ref(),
                "CARGO_ENCODED_RUSTFLAGS"
                    | "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_MANIFEST_LINKS"
                    | "CARGO_TARGET_DIR"
                    | "CARGO_BUILD_TARGET_DIR"
                    | "OUT_DIR"
                    | "TARGET"
                    | "HOST"
                    | "PROFILE"
                    | "OPT_LEVEL"
                    | "DEBUG"
                    | "NUM_JOBS"
                    | "RUSTC_LINKER"
                    | "PYO3_BUILD_EXTENSION_MODULE"
            );
        if ours {
            build.env_remove(key.as_ref());
        }
    }
    let status = build
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo to build the pocketdock CLI: {e}"));
    assert!(
        status.success(),
        "building the pocketdock CLI failed ({status})"
    );

    let profile_dir = if release { "release" } else { "debug" };
    install_cli(&workspace, &target_dir.join(profile_dir).join("pocketdock"));
}

/// Copies the built CLI into the Python package's `_bin`.
fn install_cli(workspace: &Path, built: &Path) {
    let bin_dir = workspace.join("python/pocketdock/_bin");
    std::fs::create_dir_all(&bin_dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", bin_dir.display()));
    let dest = bin_dir.join("pocketdock");
    // Replace, never write through: an installed copy may be running.
    let tmp = bin_dir.join(".pocketdock.tmp");
    std::fs::copy(built, &tmp)
        .unwrap_or_else(|e| panic!("cannot copy {} to {}: {e}", built.display(), tmp.display()));
    std::fs::rename(&tmp, &dest)
        .unwrap_or_else(|e| panic!("cannot move the CLI into {}: {e}", dest.display()));
}
