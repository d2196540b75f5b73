//! The host directory a server may be allowed to reach, and nothing outside it: no `..`, no
//! absolute path elsewhere, no symlink that leads out.

use std::path::{Component, Path, PathBuf};

/// A directory on the host, canonical (symlinks resolved) once at start.
#[derive(Debug, Clone)]
pub(crate) struct HostDir {
    root: PathBuf,
}

impl HostDir {
    pub(crate) fn new(dir: &Path) -> std::io::Result<HostDir> {
        let root = dir.canonicalize()?;
        if !root.is_dir() {
            return Err(std::io::Error::other(format!(
                "{} is not a directory",
                dir.display()
            )));
        }
        Ok(HostDir { root })
    }

    #[cfg(test)]
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// `path` (relative to the directory, or absolute inside it) as a host path inside the
    /// directory. The longest part of it that exists is resolved, symlinks and all, and must
    /// still be inside; the rest may not contain `..`.
    pub(crate) fn resolve(&self, path: &str) -> Result<PathBuf, String> {
        if path.is_empty() {
            return Err("the host path is empty".into());
        }
        let given = Path::new(path);
        let joined = if given.is_absolute() {
            given.to_path_buf()
        } else {
            self.root.join(given)
        };
        if joined
            .components()
            .any(|c| matches!(c, Component::ParentDir))
        {
            return Err(format!("{path}: `..` is not allowed in host paths"));
        }
        // The deepest ancestor that exists, resolved; what follows it does not exist yet.
        let mut existing = joined.as_path();
        let mut rest = Vec::new();
        let resolved = loop {
            match existing.canonicalize() {
                Ok(real) => break real,
                Err(_) => {
                    let (Some(parent), Some(name)) = (existing.parent(), existing.file_name())
                    else {
                        return Err(format!("{path}: cannot resolve"));
                    };
                    rest.push(name.to_owned());
                    existing = parent;
                }
            }
        };
        let mut full = resolved;
        for name in rest.iter().rev() {
            full.push(name);
        }
        if !full.starts_with(&self.root) {
            return Err(format!(
                "{path} is outside the allowed host directory {}",
                self.root.display()
            ));
        }
        Ok(full)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_and_symlinks_cannot_lead_out() {
        let outside = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("out")).unwrap();
        std::os::unix::fs::symlink("sub", dir.path().join("in")).unwrap();
        let host = HostDir::new(dir.path()).unwrap();
        let root = host.root().to_path_buf();

        assert_eq!(host.resolve("a.txt").unwrap(), root.join("a.txt"));
        assert_eq!(host.resolve("sub/new/b").unwrap(), root.join("sub/new/b"));
        assert_eq!(host.resolve("in/c").unwrap(), root.join("sub/c"));
        assert_eq!(
            host.resolve(root.join("sub").to_str().unwrap()).unwrap(),
            root.join("sub")
        );
        for bad in ["../x", "sub/../../x", "/etc/passwd", "out/x", "out", ""] {
            assert!(host.resolve(bad).is_err(), "{bad} was allowed");
        }
    }
}
