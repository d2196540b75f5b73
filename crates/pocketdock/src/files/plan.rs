//! Where an upload goes, decided from the engine's stat of the destination: `cp -r` semantics,
//! and missing parents as leading entries of the archive, uploaded into the deepest directory
//! that exists. Docker refuses to extract into a missing directory (Podman creates it); this way
//! both behave the same, and the parents belong to the container's user like the rest.

use std::path::PathBuf;

use super::{paths, Sandbox};
use crate::error::{Error, Result};

/// Where an archive goes: an existing directory, and the path of the entry inside it, whose
/// leading components are the missing parents.
#[derive(Debug, Clone)]
pub(super) struct Plan {
    pub(super) dir: String,
    names: Vec<String>,
}

impl Plan {
    pub(super) fn entry(&self) -> PathBuf {
        self.names.iter().collect()
    }

    pub(super) fn parents(&self) -> impl Iterator<Item = PathBuf> + '_ {
        (1..self.names.len()).map(|n| self.names[..n].iter().collect())
    }

    /// The entry's full path in the container.
    pub(super) fn target(&self) -> String {
        paths::join(&self.dir, &self.entry().to_string_lossy())
    }

    /// The same place under a temporary name beside the entry (hidden, unlikely to exist), for
    /// content that is renamed into place once whole.
    pub(super) fn partial(&self) -> Plan {
        let mut names = self.names.clone();
        if let Some(last) = names.last_mut() {
            *last = format!(".{last}.pocketdock-partial-{:08x}", rand::random::<u32>());
        }
        Plan {
            dir: self.dir.clone(),
            names,
        }
    }
}

/// What is being put at the destination.
#[derive(Debug, Clone, Copy)]
pub(super) enum Incoming<'a> {
    /// `write_file`: the destination is the file's path.
    File,
    /// `push`: an existing directory at the destination receives the source under `name`.
    Copy { name: &'a str, is_dir: bool },
}

pub(super) async fn plan(sb: &Sandbox, dest: &str, incoming: Incoming<'_>) -> Result<Plan> {
    match (sb.is_dir(dest).await?, incoming) {
        (Some(true), Incoming::Copy { name, is_dir }) => {
            let target = paths::join(dest, name);
            return match sb.is_dir(&target).await? {
                Some(true) if !is_dir => Err(Error::invalid(format!(
                    "cannot overwrite the directory {target} with a non-directory"
                ))),
                Some(false) if is_dir => Err(Error::invalid(format!(
                    "cannot overwrite the non-directory {target} with a directory"
                ))),
                // A directory merges into an existing one, as with `cp -r`.
                _ => Ok(Plan {
                    dir: dest.to_string(),
                    names: vec![name.to_string()],
                }),
            };
        }
        (Some(true), Incoming::File) => {
            return Err(Error::invalid(format!("{dest} is a directory")))
        }
        (Some(false), Incoming::Copy { is_dir: true, .. }) => {
            return Err(Error::invalid(format!(
                "cannot overwrite the non-directory {dest} with a directory"
            )))
        }
        _ => {}
    }
    // `dest` itself is the new entry: upload into its deepest existing ancestor.
    let (parent, name) =
        paths::split(dest).ok_or_else(|| Error::invalid(format!("cannot write to {dest}")))?;
    let mut names = vec![name.to_string()];
    let mut dir = parent.to_string();
    loop {
        match sb.is_dir(&dir).await? {
            Some(true) => return Ok(Plan { dir, names }),
            Some(false) => return Err(Error::invalid(format!("{dir} is not a directory"))),
            None => {
                let (parent, name) = paths::split(&dir)
                    .ok_or_else(|| Error::communication("the engine says / does not exist"))?;
                names.insert(0, name.to_string());
                dir = parent.to_string();
            }
        }
    }
}
