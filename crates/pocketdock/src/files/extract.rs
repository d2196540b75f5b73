//! Writing an archive from the engine onto the host as it streams in: each entry is admitted by
//! [`Guard`] first, and the host filesystem is checked too (a symlink already in the destination
//! is never followed). Nothing is buffered beyond one copy block.

use std::collections::HashSet;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tar::EntryType;

use super::archive_error;
use super::tar_safety::{Guard, Kind};
use crate::error::{Error, Result};

const COPY_BLOCK: usize = 64 * 1024;

/// Where a pulled `name` lands, `cp -r` style: inside `dest` if that is a directory (or a
/// symlink to one), else at `dest` itself, whose missing parents are created.
pub(super) fn destination(dest: &Path, name: &str, src_is_dir: bool) -> Result<PathBuf> {
    match fs::metadata(dest) {
        Ok(meta) if meta.is_dir() => Ok(dest.join(name)),
        Ok(_) if src_is_dir => Err(Error::HostFile {
            path: dest.to_path_buf(),
            kind: io::ErrorKind::NotADirectory,
            detail: "cannot overwrite a non-directory with a directory".into(),
        }),
        Ok(_) => Ok(dest.to_path_buf()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(parent) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
                fs::create_dir_all(parent).map_err(|e| Error::host_file(parent, e))?;
            }
            Ok(dest.to_path_buf())
        }
        Err(e) => Err(Error::host_file(dest, e)),
    }
}

/// Extracts the archive read from `reader` so that its root becomes `dest_root`. Modes are kept
/// without setuid/setgid/sticky bits; ownership is the caller's.
pub(super) fn extract(reader: impl Read, dest_root: &Path) -> Result<()> {
    let mut archive = tar::Archive::new(reader);
    let mut x = Extraction {
        dest_root,
        guard: Guard::default(),
        real_dirs: HashSet::new(),
        dir_modes: Vec::new(),
        block: vec![0; COPY_BLOCK],
    };
    let mut seen = 0usize;
    for entry in archive.entries().map_err(archive_error)? {
        let entry = entry.map_err(archive_error)?;
        if x.entry(entry)? {
            seen += 1;
        }
    }
    if seen == 0 {
        return Err(Error::communication("the engine sent an empty archive"));
    }
    // Last, deepest first: a read-only directory must not stop its own children being written.
    for (dir, mode) in x.dir_modes.iter().rev() {
        fs::set_permissions(dir, fs::Permissions::from_mode(*mode))
            .map_err(|e| Error::host_file(dir, e))?;
    }
    Ok(())
}

struct Extraction<'a> {
    dest_root: &'a Path,
    guard: Guard,
    /// Paths below the root known to be real directories (created or checked by us).
    real_dirs: HashSet<PathBuf>,
    dir_modes: Vec<(PathBuf, u32)>,
    block: Vec<u8>,
}

impl Extraction<'_> {
    /// Handles one entry; `false` for metadata-only entries.
    fn entry<R: Read>(&mut self, mut entry: tar::Entry<'_, R>) -> Result<bool> {
        let header = entry.header();
        let kind = match header.entry_type() {
            EntryType::Directory => Kind::Dir,
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => Kind::File,
            EntryType::Symlink => Kind::Symlink,
            EntryType::Link => Kind::HardLink,
            EntryType::XGlobalHeader => return Ok(false),
            _ => Kind::Other,
        };
        let mode = header.mode().unwrap_or(0o644) & 0o777;
        let size = header.size().unwrap_or(0);
        let mtime = header.mtime().ok();
        let path = entry.path().map_err(archive_error)?.into_owned();
        let link = entry
            .link_name()
            .map_err(archive_error)?
            .map(|l| l.into_owned());
        let admitted = self.guard.admit(&path, kind, link.as_deref())?;
        self.parents(&admitted.rel, &path)?;
        let target = self.at(&admitted.rel);
        match kind {
            Kind::Dir => {
                if !make_room(&target, true)? {
                    fs::create_dir(&target).map_err(|e| Error::host_file(&target, e))?;
                }
                self.real_dirs.insert(admitted.rel);
                self.dir_modes.push((target, mode));
            }
            Kind::File => {
                // Written whole under a temporary name beside it, then renamed: a copy that
                // fails midway leaves no partial file under the destination's name.
                let partial = partial_name(&target);
                let written = self.write(&mut entry, &partial, mode, mtime, size);
                let placed = written.and_then(|()| {
                    make_room(&target, false)?;
                    fs::rename(&partial, &target).map_err(|e| Error::host_file(&target, e))
                });
                if placed.is_err() {
                    let _ = fs::remove_file(&partial);
                }
                placed?;
            }
            Kind::Symlink => {
                make_room(&target, false)?;
                let to = link.unwrap_or_default();
                std::os::unix::fs::symlink(&to, &target)
                    .map_err(|e| Error::host_file(&target, e))?;
            }
            Kind::HardLink => {
                make_room(&target, false)?;
                let original = self.at(&admitted.link.unwrap_or_default());
                fs::hard_link(&original, &target).map_err(|e| Error::host_file(&target, e))?;
            }
            Kind::Other => {
                tracing::debug!(entry = %path.display(), "skipping a special file");
            }
        }
        Ok(true)
    }

    /// Makes sure every proper ancestor of `rel` (the root included) is a real directory,
    /// creating missing ones: a symlink on the way, from the archive or already on the host,
    /// would lead outside.
    fn parents(&mut self, rel: &Path, entry: &Path) -> Result<()> {
        let mut ancestor = PathBuf::new();
        for component in rel.components() {
            if !self.real_dirs.contains(&ancestor) {
                self.check_dir(&ancestor, entry)?;
                self.real_dirs.insert(ancestor.clone());
            }
            ancestor.push(component);
        }
        Ok(())
    }

    fn check_dir(&self, rel: &Path, entry: &Path) -> Result<()> {
        let dir = self.at(rel);
        match fs::symlink_metadata(&dir) {
            Ok(m) if m.file_type().is_dir() => Ok(()),
            Ok(m) if m.file_type().is_symlink() => Err(Error::UnsafeArchive {
                entry: entry.to_string_lossy().into_owned(),
                reason: format!("it goes through the symlink {}", dir.display()),
            }),
            Ok(_) => Err(Error::HostFile {
                path: dir,
                kind: io::ErrorKind::NotADirectory,
                detail: "cannot overwrite a non-directory with a directory".into(),
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir(&dir).map_err(|e| Error::host_file(&dir, e))
            }
            Err(e) => Err(Error::host_file(&dir, e)),
        }
    }

    /// The host path of `rel`. Not `join("")`, whose trailing `/` would make every call on
    /// the root follow a symlink there.
    fn at(&self, rel: &Path) -> PathBuf {
        if rel.as_os_str().is_empty() {
            self.dest_root.to_path_buf()
        } else {
            self.dest_root.join(rel)
        }
    }

    fn write(
        &mut self,
        entry: &mut impl Read,
        target: &Path,
        mode: u32,
        mtime: Option<u64>,
        size: u64,
    ) -> Result<()> {
        // `create_new` fails rather than follow whatever appeared at `target` meanwhile.
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(target)
            .map_err(|e| Error::host_file(target, e))?;
        let mut written = 0u64;
        loop {
            let n = entry.read(&mut self.block).map_err(archive_error)?;
            if n == 0 {
                break;
            }
            file.write_all(&self.block[..n])
                .map_err(|e| Error::host_file(target, e))?;
            written += n as u64;
        }
        // An archive cut short reads as an early end of the entry, not as an error.
        if written != size {
            return Err(Error::communication(format!(
                "the archive ended after {written} of the {size} bytes of a file"
            )));
        }
        // After writing: a read-only mode must not stop the copy itself.
        file.set_permissions(fs::Permissions::from_mode(mode))
            .map_err(|e| Error::host_file(target, e))?;
        if let Some(secs) = mtime {
            let _ = file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(secs));
        }
        Ok(())
    }
}

/// A name beside `target` for its content while it is written (hidden, unlikely to exist).
fn partial_name(target: &Path) -> PathBuf {
    let name = target.file_name().unwrap_or_default().to_string_lossy();
    target.with_file_name(format!(
        ".{name}.pocketdock-partial-{:08x}",
        rand::random::<u32>()
    ))
}

/// Clears `target` for a new entry: removes a non-directory; keeps a directory for a directory
/// entry (returns `true`: it exists). Never follows a symlink at `target`.
fn make_room(target: &Path, for_dir: bool) -> Result<bool> {
    let conflict = |detail: &str| Error::HostFile {
        path: target.to_path_buf(),
        kind: io::ErrorKind::AlreadyExists,
        detail: detail.into(),
    };
    match fs::symlink_metadata(target) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::host_file(target, e)),
        Ok(m) if m.file_type().is_dir() => {
            if for_dir {
                Ok(true)
            } else {
                Err(conflict(
                    "cannot overwrite a directory with a non-directory",
                ))
            }
        }
        Ok(_) if for_dir => Err(conflict(
            "cannot overwrite a non-directory with a directory",
        )),
        Ok(_) => {
            fs::remove_file(target).map_err(|e| Error::host_file(target, e))?;
            Ok(false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    /// A tar written header by header, so that it can say what no honest builder would.
    #[derive(Default)]
    struct RawTar(Vec<u8>);

    impl RawTar {
        fn entry(
            mut self,
            name: &str,
            kind: EntryType,
            link: &str,
            data: &[u8],
            mode: u32,
        ) -> Self {
            let mut h = tar::Header::new_gnu();
            h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
            h.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
            h.set_entry_type(kind);
            h.set_size(data.len() as u64);
            h.set_mode(mode);
            h.set_mtime(1_000_000_000);
            h.set_cksum();
            self.0.extend_from_slice(h.as_bytes());
            self.0.extend_from_slice(data);
            self.0.resize(self.0.len().div_ceil(512) * 512, 0);
            self
        }
        fn dir(self, name: &str) -> Self {
            self.entry(name, EntryType::Directory, "", b"", 0o755)
        }
        fn file(self, name: &str, data: &[u8]) -> Self {
            self.entry(name, EntryType::Regular, "", data, 0o644)
        }
        fn symlink(self, name: &str, to: &str) -> Self {
            self.entry(name, EntryType::Symlink, to, b"", 0o777)
        }
        fn hardlink(self, name: &str, to: &str) -> Self {
            self.entry(name, EntryType::Link, to, b"", 0o644)
        }
        fn bytes(mut self) -> Vec<u8> {
            self.0.extend_from_slice(&[0; 1024]);
            self.0
        }
    }

    /// A scratch area: `dest` is where the copy goes, `outside` must stay untouched.
    struct Scratch {
        _tmp: tempfile::TempDir,
        dest: PathBuf,
        outside: PathBuf,
    }

    fn scratch() -> Scratch {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside");
        fs::create_dir(&outside).unwrap();
        let dest = tmp.path().join("dest");
        Scratch {
            dest,
            outside,
            _tmp: tmp,
        }
    }

    fn unsafe_rejected(r: Result<()>) -> bool {
        matches!(r, Err(Error::UnsafeArchive { .. }))
    }

    #[test]
    fn an_ordinary_tree_is_copied_with_modes_and_symlinks() {
        let s = scratch();
        let tar = RawTar::default()
            .dir("d/")
            .entry("d/run.sh", EntryType::Regular, "", b"#!/bin/sh\n", 0o755)
            .entry("d/secret", EntryType::Regular, "", b"s", 0o600)
            .dir("d/sub/")
            .file("d/sub/a b\nc", b"\xff\x00bytes")
            .symlink("d/link", "sub/a b\nc")
            .symlink("d/abs", "/etc/passwd")
            .hardlink("d/hard", "d/secret")
            .entry("d/ro/", EntryType::Directory, "", b"", 0o555)
            .file("d/ro/inside", b"x")
            .bytes();
        extract(&tar[..], &s.dest).unwrap();
        let mode = |p: &str| fs::symlink_metadata(s.dest.join(p)).unwrap().mode() & 0o777;
        assert_eq!(mode("run.sh"), 0o755);
        assert_eq!(mode("secret"), 0o600);
        assert_eq!(mode("ro"), 0o555);
        assert_eq!(
            fs::read(s.dest.join("sub/a b\nc")).unwrap(),
            b"\xff\x00bytes"
        );
        assert_eq!(
            fs::read_link(s.dest.join("link")).unwrap(),
            Path::new("sub/a b\nc")
        );
        assert_eq!(
            fs::read_link(s.dest.join("abs")).unwrap(),
            Path::new("/etc/passwd")
        );
        assert_eq!(fs::read(s.dest.join("hard")).unwrap(), b"s");
        assert_eq!(fs::read(s.dest.join("ro/inside")).unwrap(), b"x");
        fs::set_permissions(s.dest.join("ro"), fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn a_single_file_becomes_the_destination() {
        let s = scratch();
        let tar = RawTar::default().file("report.txt", b"hello").bytes();
        extract(&tar[..], &s.dest).unwrap();
        assert_eq!(fs::read(&s.dest).unwrap(), b"hello");
    }

    #[test]
    fn dot_dot_entries_write_nothing_outside() {
        let s = scratch();
        let tar = RawTar::default()
            .dir("d/")
            .file("d/../outside/evil", b"pwned")
            .bytes();
        assert!(unsafe_rejected(extract(&tar[..], &s.dest)));
        assert!(!s.outside.join("evil").exists());
    }

    #[test]
    fn absolute_entries_write_nothing_outside() {
        let s = scratch();
        let evil = s.outside.join("evil");
        let tar = RawTar::default()
            .dir("d/")
            .file(evil.to_str().unwrap(), b"pwned")
            .bytes();
        assert!(unsafe_rejected(extract(&tar[..], &s.dest)));
        assert!(!evil.exists());
    }

    #[test]
    fn writing_through_an_archive_symlink_is_refused() {
        let s = scratch();
        let tar = RawTar::default()
            .dir("d/")
            .symlink("d/escape", s.outside.to_str().unwrap())
            .file("d/escape/evil", b"pwned")
            .bytes();
        assert!(unsafe_rejected(extract(&tar[..], &s.dest)));
        assert!(!s.outside.join("evil").exists());
        // The symlink itself was fine to create; it is just never written through.
        assert!(fs::symlink_metadata(s.dest.join("escape"))
            .unwrap()
            .is_symlink());
    }

    #[test]
    fn a_relative_symlink_climbing_out_is_not_followed_either() {
        let s = scratch();
        let tar = RawTar::default()
            .dir("d/")
            .symlink("d/up", "../outside")
            .dir("d/up/")
            .file("d/up/evil", b"pwned")
            .bytes();
        assert!(unsafe_rejected(extract(&tar[..], &s.dest)));
        assert!(!s.outside.join("evil").exists());
    }

    #[test]
    fn replacing_a_symlink_by_a_file_does_not_follow_it() {
        let s = scratch();
        let victim = s.outside.join("victim");
        fs::write(&victim, b"safe").unwrap();
        let tar = RawTar::default()
            .dir("d/")
            .symlink("d/f", victim.to_str().unwrap())
            .file("d/f", b"pwned")
            .bytes();
        assert!(unsafe_rejected(extract(&tar[..], &s.dest)));
        assert_eq!(fs::read(&victim).unwrap(), b"safe");
    }

    #[test]
    fn a_symlink_already_in_the_destination_is_not_followed() {
        let s = scratch();
        fs::create_dir(&s.dest).unwrap();
        std::os::unix::fs::symlink(&s.outside, s.dest.join("sub")).unwrap();
        let tar = RawTar::default()
            .dir("d/")
            .file("d/sub/evil", b"pwned")
            .bytes();
        assert!(unsafe_rejected(extract(&tar[..], &s.dest)));
        assert!(!s.outside.join("evil").exists());
    }

    #[test]
    fn a_file_over_an_existing_symlink_replaces_the_link_only() {
        let s = scratch();
        fs::create_dir(&s.dest).unwrap();
        let victim = s.outside.join("victim");
        fs::write(&victim, b"safe").unwrap();
        std::os::unix::fs::symlink(&victim, s.dest.join("f")).unwrap();
        let tar = RawTar::default().dir("d/").file("d/f", b"new").bytes();
        extract(&tar[..], &s.dest).unwrap();
        assert_eq!(fs::read(&victim).unwrap(), b"safe");
        assert_eq!(fs::read(s.dest.join("f")).unwrap(), b"new");
    }

    #[test]
    fn hard_links_to_outside_files_are_refused() {
        let s = scratch();
        let victim = s.outside.join("victim");
        fs::write(&victim, b"safe").unwrap();
        for to in [victim.to_str().unwrap(), "d/../../outside/victim"] {
            let _ = fs::remove_dir_all(&s.dest);
            let tar = RawTar::default().dir("d/").hardlink("d/h", to).bytes();
            assert!(unsafe_rejected(extract(&tar[..], &s.dest)), "{to}");
        }
        assert_eq!(fs::metadata(&victim).unwrap().nlink(), 1);
    }

    #[test]
    fn entries_beside_the_root_are_refused() {
        let s = scratch();
        let tar = RawTar::default().dir("d/").file("e/evil", b"x").bytes();
        assert!(unsafe_rejected(extract(&tar[..], &s.dest)));
    }

    #[test]
    fn a_file_cut_short_leaves_nothing_under_its_name() {
        let s = scratch();
        fs::create_dir(&s.dest).unwrap();
        fs::write(s.dest.join("kept"), b"old").unwrap();
        let tar = RawTar::default()
            .dir("d/")
            .file("d/new", &[7u8; 10_000])
            .file("d/kept", &[9u8; 10_000])
            .bytes();
        let names = || {
            let mut names: Vec<String> = fs::read_dir(&s.dest)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            names.sort();
            names
        };
        // The archive ends inside the first file's content.
        assert!(extract(&tar[..512 + 512 + 4000], &s.dest).is_err());
        assert_eq!(names(), ["kept"], "no partial file, no temporary file");
        // Inside the second: the first arrived whole, the old second is untouched.
        let second = 512 + 512 + 10_240;
        assert!(extract(&tar[..second + 512 + 4000], &s.dest).is_err());
        assert_eq!(names(), ["kept", "new"]);
        assert_eq!(fs::read(s.dest.join("new")).unwrap(), vec![7u8; 10_000]);
        assert_eq!(fs::read(s.dest.join("kept")).unwrap(), b"old");
    }

    #[test]
    fn an_empty_archive_is_an_error() {
        let s = scratch();
        let r = extract(&[0u8; 1024][..], &s.dest);
        assert!(matches!(r, Err(Error::SocketCommunication { .. })), "{r:?}");
    }

    #[test]
    fn destination_follows_cp_semantics() {
        let s = scratch();
        // An existing directory receives the source under its own name.
        assert_eq!(
            destination(&s.outside, "src", true).unwrap(),
            s.outside.join("src")
        );
        // A missing destination is the copy; its parents are created.
        let deep = s.dest.join("a/b/copy");
        assert_eq!(destination(&deep, "src", true).unwrap(), deep);
        assert!(s.dest.join("a/b").is_dir());
        // A file can be overwritten by a file, not by a directory.
        let file = s.outside.join("f");
        fs::write(&file, b"x").unwrap();
        assert_eq!(destination(&file, "src", false).unwrap(), file);
        assert!(matches!(
            destination(&file, "src", true),
            Err(Error::HostFile { .. })
        ));
    }

    /// Every file below `dir`, symlinks not followed.
    fn tree(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        if let Ok(entries) = fs::read_dir(dir) {
            for e in entries.flatten() {
                let path = e.path();
                out.push(path.clone());
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    out.extend(tree(&path));
                }
            }
        }
        out
    }

    fn hostile_name() -> impl proptest::strategy::Strategy<Value = String> {
        proptest::prop_oneof![
            proptest::strategy::Just("d/".to_string()),
            proptest::strategy::Just("d/../outside/x".to_string()),
            proptest::strategy::Just("/etc/x".to_string()),
            proptest::strategy::Just("d/link/x".to_string()),
            proptest::strategy::Just("d/sub/../../x".to_string()),
            "d/[a-c]{1,2}(/[a-c]{1,2}){0,2}",
            "[a-c./]{1,12}",
        ]
    }

    fn hostile_link() -> impl proptest::strategy::Strategy<Value = String> {
        proptest::prop_oneof![
            proptest::strategy::Just("../outside".to_string()),
            proptest::strategy::Just("/".to_string()),
            proptest::strategy::Just("..".to_string()),
            "[a-c./]{1,12}",
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Whatever an archive holds — `..`, absolute names, symlinks and hard links out, in
        /// any order — nothing appears outside the destination, and nothing panics.
        #[test]
        fn no_archive_writes_outside(
            entries in proptest::collection::vec(
                (hostile_name(), 0u8..4, hostile_link(), proptest::collection::vec(proptest::num::u8::ANY, 0..40)),
                1..8,
            ),
        ) {
            let s = scratch();
            let mut tar = RawTar::default();
            for (name, kind, link, data) in &entries {
                let name = &name[..name.len().min(90)];
                let link = &link[..link.len().min(90)];
                tar = match kind {
                    0 => tar.file(name, data),
                    1 => tar.dir(name),
                    2 => tar.symlink(name, link),
                    _ => tar.hardlink(name, link),
                };
            }
            let _ = extract(&tar.bytes()[..], &s.dest);
            proptest::prop_assert!(tree(&s.outside).is_empty(), "{:?}", tree(&s.outside));
            let parent = s.dest.parent().unwrap();
            for path in tree(parent) {
                proptest::prop_assert!(
                    path.starts_with(&s.dest) || path.starts_with(&s.outside) || path == s.dest,
                    "{} appeared beside the destination", path.display()
                );
            }
        }

        /// Random bytes are an error or an extraction, never a panic.
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..3000)) {
            let s = scratch();
            let _ = extract(&bytes[..], &s.dest);
            proptest::prop_assert!(tree(&s.outside).is_empty());
        }
    }
}
