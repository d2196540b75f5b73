//! Deciding, entry by entry, where an archive from the engine may write on the host. A container
//! is not trusted: its archive could name `../x`, `/etc/x`, or create a symlink `d/l -> /etc` and
//! then an entry `d/l/passwd`. Every entry must stay below the archive's one root, and nothing
//! may be written through a symlink the archive created. Pure bookkeeping: the extractor also
//! checks the real filesystem, and never follows the entry's own final component.

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

use crate::error::Error;

/// What an entry creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Dir,
    File,
    Symlink,
    HardLink,
    /// Devices, FIFOs and the like: checked, then skipped by the extractor.
    Other,
}

/// Where an admitted entry goes, relative to the copy's root (empty for the root itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Admitted {
    pub(super) rel: PathBuf,
    /// For a hard link, the entry it links to, relative to the root as well.
    pub(super) link: Option<PathBuf>,
}

/// The state of one archive's extraction.
#[derive(Debug, Default)]
pub(super) struct Guard {
    root: Option<OsString>,
    symlinks: HashSet<PathBuf>,
}

impl Guard {
    /// Admits an entry or says why it is unsafe. `link` is a hard link's target (a symlink's
    /// target is not checked: a symlink may point anywhere, it is only never written through).
    pub(super) fn admit(
        &mut self,
        path: &Path,
        kind: Kind,
        link: Option<&Path>,
    ) -> Result<Admitted, Error> {
        let unsafe_entry = |reason: String| Error::UnsafeArchive {
            entry: path.to_string_lossy().into_owned(),
            reason,
        };
        let rel = self.below_root(path).map_err(unsafe_entry)?;
        self.not_through_symlink(&rel).map_err(unsafe_entry)?;
        if kind != Kind::Symlink && self.symlinks.contains(&rel) {
            return Err(unsafe_entry(
                "it would replace a symlink the archive created".into(),
            ));
        }
        let link = match (kind, link) {
            (Kind::HardLink, Some(target)) => {
                let target_rel = self
                    .below_root(target)
                    .map_err(|r| unsafe_entry(format!("its link target: {r}")))?;
                self.not_through_symlink(&target_rel)
                    .map_err(|r| unsafe_entry(format!("its link target: {r}")))?;
                Some(target_rel)
            }
            (Kind::HardLink, None) => {
                return Err(unsafe_entry("a hard link without target".into()))
            }
            _ => None,
        };
        if kind == Kind::Symlink {
            self.symlinks.insert(rel.clone());
        }
        Ok(Admitted { rel, link })
    }

    /// The path below the archive's root, which the first entry fixes.
    fn below_root(&mut self, path: &Path) -> Result<PathBuf, String> {
        let mut parts = Vec::new();
        for component in path.components() {
            match component {
                Component::Normal(name) => parts.push(name),
                Component::CurDir => {}
                Component::ParentDir => return Err("it contains `..`".into()),
                Component::RootDir | Component::Prefix(_) => {
                    return Err("it is an absolute path".into())
                }
            }
        }
        let Some((first, rest)) = parts.split_first() else {
            return Err("it has an empty path".into());
        };
        match &self.root {
            None => self.root = Some(first.to_os_string()),
            Some(root) if root.as_os_str() == *first => {}
            Some(root) => {
                return Err(format!(
                    "it is outside the archive's root {:?}",
                    root.to_string_lossy()
                ))
            }
        }
        Ok(rest.iter().collect())
    }

    /// No proper ancestor of `rel` (the root included) may be a symlink of this archive.
    fn not_through_symlink(&self, rel: &Path) -> Result<(), String> {
        let mut ancestor = PathBuf::new();
        let check = |a: &Path| {
            if self.symlinks.contains(a) {
                Err(format!(
                    "it goes through the symlink {:?} of the archive",
                    a.to_string_lossy()
                ))
            } else {
                Ok(())
            }
        };
        let components: Vec<_> = rel.components().collect();
        check(&ancestor)?;
        for c in components.iter().take(components.len().saturating_sub(1)) {
            ancestor.push(c);
            check(&ancestor)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admit(g: &mut Guard, path: &str, kind: Kind) -> Result<Admitted, Error> {
        g.admit(Path::new(path), kind, None)
    }

    fn rejected(r: Result<Admitted, Error>) -> bool {
        matches!(r, Err(Error::UnsafeArchive { .. }))
    }

    #[test]
    fn an_ordinary_tree_is_admitted_below_its_root() {
        let mut g = Guard::default();
        assert_eq!(admit(&mut g, "d/", Kind::Dir).unwrap().rel, PathBuf::new());
        assert_eq!(
            admit(&mut g, "d/sub/f.txt", Kind::File).unwrap().rel,
            PathBuf::from("sub/f.txt")
        );
        assert_eq!(
            admit(&mut g, "./d/./g", Kind::File).unwrap().rel,
            PathBuf::from("g")
        );
        // A symlink pointing outside is fine as long as nothing goes through it.
        assert!(g
            .admit(
                Path::new("d/up"),
                Kind::Symlink,
                Some(Path::new("../../etc"))
            )
            .is_ok());
        assert!(admit(&mut g, "d/upper", Kind::File).is_ok());
    }

    #[test]
    fn dot_dot_and_absolute_paths_are_rejected() {
        let mut g = Guard::default();
        admit(&mut g, "d", Kind::Dir).unwrap();
        assert!(rejected(admit(&mut g, "d/../../evil", Kind::File)));
        assert!(rejected(admit(&mut g, "../evil", Kind::File)));
        assert!(rejected(admit(&mut g, "/etc/passwd", Kind::File)));
        assert!(rejected(admit(&mut Guard::default(), "/d", Kind::Dir)));
        assert!(rejected(admit(&mut Guard::default(), "./", Kind::Dir)));
    }

    #[test]
    fn entries_outside_the_root_are_rejected() {
        let mut g = Guard::default();
        admit(&mut g, "d", Kind::Dir).unwrap();
        assert!(rejected(admit(&mut g, "other/f", Kind::File)));
    }

    #[test]
    fn nothing_is_written_through_an_archive_symlink() {
        let mut g = Guard::default();
        admit(&mut g, "d", Kind::Dir).unwrap();
        admit(&mut g, "d/l", Kind::Symlink).unwrap();
        assert!(rejected(admit(&mut g, "d/l/passwd", Kind::File)));
        assert!(rejected(admit(&mut g, "d/l/x/y", Kind::Dir)));
        // Nor by turning the symlink into something else first.
        assert!(rejected(admit(&mut g, "d/l", Kind::Dir)));
        assert!(rejected(admit(&mut g, "d/l", Kind::File)));
    }

    #[test]
    fn a_symlink_root_admits_nothing_below_it() {
        let mut g = Guard::default();
        admit(&mut g, "root", Kind::Symlink).unwrap();
        assert!(rejected(admit(&mut g, "root/f", Kind::File)));
    }

    #[test]
    fn hard_links_must_point_inside_and_not_through_symlinks() {
        let mut g = Guard::default();
        admit(&mut g, "d", Kind::Dir).unwrap();
        admit(&mut g, "d/f", Kind::File).unwrap();
        let ok = g
            .admit(Path::new("d/h"), Kind::HardLink, Some(Path::new("d/f")))
            .unwrap();
        assert_eq!(ok.link, Some(PathBuf::from("f")));
        for target in ["/etc/shadow", "d/../../etc/shadow", "elsewhere/f"] {
            let r = g.admit(Path::new("d/h2"), Kind::HardLink, Some(Path::new(target)));
            assert!(rejected(r), "{target}");
        }
        admit(&mut g, "d/l", Kind::Symlink).unwrap();
        let r = g.admit(
            Path::new("d/h3"),
            Kind::HardLink,
            Some(Path::new("d/l/shadow")),
        );
        assert!(rejected(r));
        assert!(rejected(admit(&mut g, "d/h4", Kind::HardLink)));
    }
}
