//! Image profiles: named images with a network default.

use crate::error::{Error, Result};

/// A built-in image profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileInfo {
    pub name: &'static str,
    pub image_tag: &'static str,
    /// Whether sandboxes of this profile get a network unless told otherwise.
    pub network_default: bool,
    pub description: &'static str,
    pub size_estimate: &'static str,
}

const fn profile(
    name: &'static str,
    network_default: bool,
    description: &'static str,
    size_estimate: &'static str,
    image_tag: &'static str,
) -> ProfileInfo {
    ProfileInfo {
        name,
        image_tag,
        network_default,
        description,
        size_estimate,
    }
}

static PROFILES: [ProfileInfo; 6] = [
    profile(
        "minimal-python",
        false,
        "Lightest sandbox — Python 3, bash, busybox",
        "~25MB",
        "pocketdock/minimal-python",
    ),
    profile(
        "minimal-node",
        false,
        "Node.js sandbox — Node 22, npm, bash",
        "~60MB",
        "pocketdock/minimal-node",
    ),
    profile(
        "minimal-bun",
        false,
        "Bun sandbox — Bun runtime, bash",
        "~100MB",
        "pocketdock/minimal-bun",
    ),
    profile(
        "dev",
        true,
        "Interactive dev sandbox — git, curl, vim, build tools, ipython",
        "~250MB",
        "pocketdock/dev",
    ),
    profile(
        "agent",
        false,
        "Agent sandbox — requests, pandas, numpy, beautifulsoup4",
        "~350MB",
        "pocketdock/agent",
    ),
    profile(
        "embedded",
        true,
        "C/C++ toolchain — GCC, CMake, ARM cross-compiler, Arduino CLI",
        "~450MB",
        "pocketdock/embedded",
    ),
];

/// All built-in profiles.
pub fn list_profiles() -> &'static [ProfileInfo] {
    &PROFILES
}

/// The profile of that name; an unknown name is an error that lists the known ones.
pub fn resolve_profile(name: &str) -> Result<&'static ProfileInfo> {
    PROFILES.iter().find(|p| p.name == name).ok_or_else(|| {
        let known: Vec<_> = PROFILES.iter().map(|p| p.name).collect();
        Error::invalid(format!(
            "unknown profile {name:?}; known profiles: {}",
            known.join(", ")
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_known_and_lists_known_on_error() {
        assert_eq!(resolve_profile("dev").unwrap().image_tag, "pocketdock/dev");
        assert!(!resolve_profile("minimal-python").unwrap().network_default);
        let err = resolve_profile("nope").unwrap_err().to_string();
        assert!(
            err.contains("minimal-python") && err.contains("embedded"),
            "{err}"
        );
        assert_eq!(list_profiles().len(), 6);
    }
}
