//! Files: `write_file`, `read_file`, `list_files`, `push`, `pull`. Everything but the listing
//! goes through the engine's archive endpoint, streamed both ways: an archive is built while it
//! is sent and extracted while it arrives, so a transfer holds a few chunks in memory whatever
//! its size. The `tar` crate does the format, on the blocking pool, bridged to the socket by
//! bounded channels (`upload`) and `tokio_util`'s `SyncIoBridge` (`download`).

mod blocking;
mod download;
mod extract;
mod listing;
mod owner;
mod paths;
mod place;
mod plan;
mod tar_safety;
mod upload;
mod watch;

pub(crate) use paths::shell_quote;

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::container::Container;
use crate::engine::{Engine, PathStat};
use crate::error::{Error, Result};
use owner::{Owner, UserSpec};
use plan::Incoming;

/// Where `list_files` looks by default: the sandbox user's home.
const DEFAULT_LIST_DIR: &str = "/home/sandbox";

impl Container {
    /// Writes `data` to `path` (relative paths start at the working directory), creating
    /// missing parent directories. The file gets mode 0644 and, like the parents created, belongs
    /// to the container's user.
    pub async fn write_file(&self, path: &str, data: impl AsRef<[u8]> + Send) -> Result<()> {
        let bytes: &[u8] = data.as_ref();
        let sb = self.sandbox().await?;
        let dest = paths::resolve(&sb.workdir, path)?;
        if sb.read_only {
            return self.write_by_command(&dest, bytes).await;
        }
        let result = async {
            let plan = plan::plan(&sb, &dest, Incoming::File).await?;
            let owner = sb.owner().await?;
            // Whole or not at all: uploaded under a temporary name, then renamed into place.
            let partial = plan.partial();
            let uploaded = upload::write_bytes(&sb, &partial, owner, bytes).await;
            let moves = [place::Move {
                partial: partial.target(),
                target: plan.target(),
            }];
            self.put_in_place(&moves, uploaded).await
        };
        sb.explained(result.await).await
    }

    /// Reads a file through a command, as the sandbox's user (see [`Sandbox::read_only`]).
    async fn read_by_command(&self, path: &str) -> Result<Vec<u8>> {
        let r = self
            .command_argv([
                "sh",
                "-c",
                r#"[ -d "$1" ] && exit 21; exec cat -- "$1""#,
                "sh",
                path,
            ])
            .max_output(usize::MAX)
            .run()
            .await?;
        match r.exit_code {
            0 => Ok(r.stdout_bytes().to_vec()),
            21 => Err(Error::invalid(format!("{path} is a directory"))),
            _ if r.stderr.contains("No such file") => Err(Error::FileNotFound {
                container_id: self.id(),
                path: path.to_string(),
            }),
            _ => Err(Error::Container {
                container_id: self.id(),
                detail: format!("reading {path}: {}", r.stderr.trim()),
            }),
        }
    }

    /// Writes a file as the sandbox's user, through a command (see [`Sandbox::read_only`]). The
    /// file appears whole or not at all (a temporary name, then a rename).
    ///
    /// The outcome travels in the exit code, which the engine records, not in stderr: Podman 5's
    /// exec attach, under load, can replace a command's output with its own error text. The
    /// size check catches input lost the same way before it could replace the file.
    async fn write_by_command(&self, dest: &str, bytes: &[u8]) -> Result<()> {
        const READ_ONLY: i64 = 30;
        const SHORT: i64 = 31;
        const SCRIPT: &str = r#"tmp="$1.pocketdock-$$"
fail() { rm -f -- "$tmp"; case $1 in *"Read-only file system"*) exit 30;; esac; printf '%s\n' "$1" >&2; exit 1; }
out=$(mkdir -p -- "$(dirname -- "$1")" 2>&1) || fail "$out"
out=$(cat 2>&1 > "$tmp") || fail "$out"
[ "$(wc -c < "$tmp")" -eq "$2" ] || { rm -f -- "$tmp"; exit 31; }
out=$(mv -f -- "$tmp" "$1" 2>&1) || fail "$out""#;
        let r = self
            .command_argv(["sh", "-c", SCRIPT, "sh", dest, &bytes.len().to_string()])
            .stdin(bytes.to_vec())
            .run()
            .await?;
        match r.exit_code {
            0 => Ok(()),
            READ_ONLY => Err(Error::ReadOnlyFileSystem {
                container_id: self.id(),
                path: dest.to_string(),
            }),
            SHORT => Err(Error::communication(format!(
                "writing {dest}: the sandbox did not receive all {} bytes; nothing was written",
                bytes.len()
            ))),
            _ => Err(Error::Container {
                container_id: self.id(),
                detail: format!("writing {dest}: {}", r.stderr.trim()),
            }),
        }
    }

    /// The content of the file at `path` (a symlink is followed). A missing file is
    /// [`Error::FileNotFound`].
    pub async fn read_file(&self, path: &str) -> Result<Vec<u8>> {
        let sb = self.sandbox().await?;
        let path = paths::resolve(&sb.workdir, path)?;
        if sb.read_only {
            return self.read_by_command(&path).await;
        }
        let result = async {
            let (fetch, stat) = sb.followed(&path).await?;
            if stat.is_dir {
                return Err(Error::invalid(format!("{path} is a directory")));
            }
            download::read_file(&sb, &fetch).await
        };
        sb.explained(result.await).await
    }

    /// The names in the directory `path` (default `/home/sandbox`), sorted; directories
    /// end with `/`. Hidden entries are included. Runs as the container's user.
    pub async fn list_files(&self, path: Option<&str>) -> Result<Vec<String>> {
        listing::list(self, path.unwrap_or(DEFAULT_LIST_DIR)).await
    }

    /// Copies the host file or directory tree `host_src` into the container, like `cp -r` or
    /// `docker cp`: an existing directory at `container_dest` receives it under its own name,
    /// otherwise it becomes `container_dest` (missing parents are created). Modes are kept,
    /// symlinks inside a tree stay symlinks; everything belongs to the container's user.
    pub async fn push(&self, host_src: impl AsRef<Path>, container_dest: &str) -> Result<()> {
        let src = host_src.as_ref().to_path_buf();
        let meta = tokio::fs::metadata(&src)
            .await
            .map_err(|e| Error::host_file(&src, e))?;
        let name = host_name(&src).await?;
        let sb = self.sandbox().await?;
        let result = async {
            let dest = paths::resolve(&sb.workdir, container_dest)?;
            let incoming = Incoming::Copy {
                name: &name,
                is_dir: meta.is_dir(),
            };
            let plan = plan::plan(&sb, &dest, incoming).await?;
            let owner = sb.owner().await?;
            // Each file whole or not at all: see `place`.
            let (moves, uploaded) = upload::push_tree(&sb, plan, owner, src).await;
            self.put_in_place(&moves, uploaded).await
        };
        sb.explained(result.await).await
    }

    /// Copies the container's file or directory tree `container_src` to the host, like
    /// `cp -r` or `docker cp`: an existing directory at `host_dest` receives it under its own
    /// name, otherwise it becomes `host_dest` (missing parents are created). Modes are kept
    /// (not setuid/setgid), symlinks inside a tree stay symlinks; a top-level symlink is
    /// followed. An archive entry that would land outside the copy is
    /// [`Error::UnsafeArchive`], and nothing is written outside.
    pub async fn pull(&self, container_src: &str, host_dest: impl AsRef<Path>) -> Result<()> {
        let dest = host_dest.as_ref().to_path_buf();
        let sb = self.sandbox().await?;
        let result = async {
            let src = paths::resolve(&sb.workdir, container_src)?;
            let (_, name) = paths::split(&src).ok_or_else(|| {
                Error::invalid("pulling the whole filesystem (/) is not supported")
            })?;
            let (fetch, stat) = sb.followed(&src).await?;
            download::pull(&sb, &fetch, dest, name.to_string(), stat.is_dir).await
        };
        sb.explained(result.await).await
    }

    /// The container, checked to be running: the archive endpoint serves stopped containers
    /// too, but a sandbox's files are only reachable while it runs, as its commands are.
    async fn sandbox(&self) -> Result<Sandbox> {
        self.ensure_not_removed()?;
        let id = self.id().to_string();
        let engine = self.engine().clone();
        let info = engine
            .inspect_container(&id)
            .await
            .map_err(|e| crate::exec::gone_if_missing(e, &id))?;
        if !info.state.running {
            // A forced removal stops the container first: a second look tells it from a stop.
            return Err(
                match crate::exec::container_trouble(&engine, &id, Duration::ZERO).await {
                    Some(gone @ Error::ContainerGone { .. }) => gone,
                    _ => Error::ContainerNotRunning {
                        container_id: id,
                        detail: "the container is stopped".into(),
                    },
                },
            );
        }
        // With the agent the container's user is root (the agent's); files belong to the
        // user commands run as.
        let user = match self.command_user() {
            Some(user) => user.to_string(),
            None => info.spec.user.clone().unwrap_or_default(),
        };
        Ok(Sandbox {
            engine,
            id,
            workdir: info.spec.working_dir.clone().unwrap_or_default(),
            user,
            read_only: info.spec.host.read_only,
        })
    }
}

/// A running container, as the file operations need it.
#[derive(Debug)]
struct Sandbox {
    engine: Engine,
    id: String,
    workdir: String,
    /// The configured `user[:group]`.
    user: String,
    /// A read-only root: Docker's archive API neither takes files into it nor sees its tmpfs.
    read_only: bool,
}

impl Sandbox {
    fn not_found(&self, path: &str) -> Error {
        Error::FileNotFound {
            container_id: self.id.clone(),
            path: path.to_string(),
        }
    }

    /// Whether `path` is a directory (following a symlink); `None` if it does not exist.
    async fn is_dir(&self, path: &str) -> Result<Option<bool>> {
        match self.engine.stat_path(&self.id, path).await? {
            None => Ok(None),
            Some(stat) if stat.is_symlink && !stat.is_dir => match self.link_target(path, &stat) {
                Some(target) => Ok(Some(
                    self.engine
                        .stat_path(&self.id, target)
                        .await?
                        .is_some_and(|s| s.is_dir),
                )),
                None => Ok(Some(false)),
            },
            Some(stat) => Ok(Some(stat.is_dir)),
        }
    }

    /// The path to fetch for `path` — its target if it is a symlink — and that target's stat.
    /// Podman's archive endpoint follows a symlink and Docker's does not; following it here
    /// makes both behave the same.
    async fn followed(&self, path: &str) -> Result<(String, PathStat)> {
        let stat = self
            .engine
            .stat_path(&self.id, path)
            .await?
            .ok_or_else(|| self.not_found(path))?;
        let Some(target) = self.link_target(path, &stat) else {
            return Ok((path.to_string(), stat));
        };
        let target = target.to_string();
        let target_stat = self
            .engine
            .stat_path(&self.id, &target)
            .await?
            .ok_or_else(|| self.not_found(path))?;
        Ok((target, target_stat))
    }

    /// The resolved target of a symlink, as both engines report it.
    fn link_target<'a>(&self, path: &str, stat: &'a PathStat) -> Option<&'a str> {
        let target = stat.link_target.as_str();
        (stat.is_symlink && target.starts_with('/') && target != path).then_some(target)
    }

    /// The numeric owner for uploads: the container's configured user, looked up in the
    /// container's own `/etc/passwd` and `/etc/group`.
    async fn owner(&self) -> Result<Owner> {
        let spec = UserSpec::parse(&self.user);
        if spec.is_plain_root() {
            return Ok(Owner::ROOT);
        }
        let passwd = if spec.needs_passwd() {
            self.text_or_empty("/etc/passwd").await?
        } else {
            String::new()
        };
        let groups = if spec.needs_group() {
            self.text_or_empty("/etc/group").await?
        } else {
            String::new()
        };
        spec.resolve(&passwd, &groups)
            .map_err(|detail| Error::Container {
                container_id: self.id.clone(),
                detail: format!("cannot tell who owns uploaded files: {detail}"),
            })
    }

    async fn text_or_empty(&self, path: &str) -> Result<String> {
        let read = async {
            let (fetch, _) = self.followed(path).await?;
            download::read_file(self, &fetch).await
        };
        match read.await {
            Ok(bytes) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
            Err(Error::FileNotFound { .. }) => Ok(String::new()),
            Err(e) => Err(e),
        }
    }

    /// A failure explained by the container's fate, if it was removed or stopped meanwhile
    /// (a removed container's files are "not found" too, to some requests; a forced removal
    /// first stops it, so a stop is looked at twice).
    async fn explained<T>(&self, result: Result<T>) -> Result<T> {
        let e = match result {
            Err(
                e @ (Error::FileNotFound { .. }
                | Error::ContainerNotFound { .. }
                | Error::ContainerNotRunning { .. }
                | Error::Container { .. }
                | Error::SocketCommunication { .. }),
            ) => e,
            other => return other,
        };
        let trouble = crate::exec::container_trouble(&self.engine, &self.id, Duration::ZERO);
        // An engine that stopped answering (as the transfer found) gets no longer to answer
        // this look: the transfer's own error then stands.
        let trouble = tokio::time::timeout(watch::ENGINE_PATIENCE, trouble).await;
        Err(match trouble.ok().flatten() {
            Some(Error::ContainerNotRunning { container_id, .. }) => Error::ContainerNotRunning {
                container_id,
                detail: "the container stopped during the transfer".into(),
            },
            Some(trouble) => trouble,
            None => crate::exec::gone_if_missing(e, &self.id),
        })
    }
}

/// The name a pushed source goes by: its last component (of the absolute path, for `.`).
async fn host_name(src: &Path) -> Result<String> {
    let named = match src.file_name() {
        Some(name) => PathBuf::from(name),
        None => tokio::fs::canonicalize(src)
            .await
            .map_err(|e| Error::host_file(src, e))?
            .file_name()
            .map(PathBuf::from)
            .ok_or_else(|| {
                Error::invalid(format!("{} has no name to copy it under", src.display()))
            })?,
    };
    named.into_os_string().into_string().map_err(|raw| {
        Error::invalid(format!(
            "the name {raw:?} is not UTF-8; push its parent directory instead"
        ))
    })
}

/// An error met while reading an archive: the engine's own error if the stream carried one,
/// else a malformed archive.
fn archive_error(e: io::Error) -> Error {
    if e.get_ref().is_some_and(|inner| inner.is::<Error>()) {
        if let Some(Ok(ours)) = e.into_inner().map(|inner| inner.downcast::<Error>()) {
            return *ours;
        }
        return Error::communication("the archive stream failed");
    }
    Error::communication(format!("reading the engine's archive: {e}"))
}

/// `pull`'s extraction, for the fuzz targets.
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz_extract(archive: &[u8], dest: &Path) -> Result<()> {
    extract::extract(archive, dest)
}
