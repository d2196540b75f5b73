//! Finding an engine socket: explicit > `POCKETDOCK_SOCKET` > the project's `socket:` (which
//! the caller reads: this module knows nothing of projects) > the well-known paths, and when
//! none answers but `podman` is installed, a private `podman system service` of our own.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// How long a private Podman service started by us lingers once nobody talks to it.
pub const PRIVATE_SERVICE_IDLE: Duration = Duration::from_secs(600);

const CONNECT_PROBE: Duration = Duration::from_millis(1000);
const SERVICE_STARTUP: Duration = Duration::from_secs(20);

/// Where pocketdock looks for an engine, in order. [`Discovery::with_project_socket`] is what
/// the library uses; building one by hand lets a caller (or a test) choose the candidates.
#[derive(Debug, Clone)]
pub struct Discovery {
    /// Sockets tried in order; the first that accepts a connection wins.
    pub candidates: Vec<PathBuf>,
    /// Where a private Podman service keeps its socket; `None` never starts one.
    pub private_dir: Option<PathBuf>,
    /// The `podman` binary to start a private service with.
    pub podman_binary: String,
}

impl Discovery {
    /// `POCKETDOCK_SOCKET` if set, else `project_socket` if given, else auto-detection.
    pub fn with_project_socket(project_socket: Option<&Path>) -> Discovery {
        let env = std::env::var_os("POCKETDOCK_SOCKET")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from);
        Self::from_sources(env.as_deref(), project_socket)
    }

    /// The precedence itself, from values rather than the environment: `env_socket` (the
    /// `POCKETDOCK_SOCKET` value) alone if given, else `project_socket` alone if given, else
    /// the well-known sockets and a private Podman service. A socket that was named is the only
    /// candidate: if it does not answer, discovery fails rather than picking another engine.
    pub fn from_sources(env_socket: Option<&Path>, project_socket: Option<&Path>) -> Discovery {
        if let Some(p) = env_socket.or(project_socket) {
            return Discovery {
                candidates: vec![strip_scheme(p)],
                private_dir: None,
                podman_binary: "podman".into(),
            };
        }
        let mut candidates = Vec::new();
        let runtime_dir = std::env::var_os("XDG_RUNTIME_DIR")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from);
        if let Some(dir) = &runtime_dir {
            candidates.push(dir.join("podman/podman.sock"));
        }
        candidates.push("/run/podman/podman.sock".into());
        candidates.push("/var/run/docker.sock".into());
        if cfg!(target_os = "macos") {
            if let Some(home) = std::env::var_os("HOME").map(PathBuf::from) {
                candidates.push(home.join(".local/share/containers/podman/machine/podman.sock"));
                candidates.push(home.join(".docker/run/docker.sock"));
            }
        }
        let private_dir = Some(match runtime_dir {
            Some(dir) => dir.join("pocketdock"),
            None => std::env::temp_dir().join(format!("pocketdock-{}", current_uid())),
        });
        Discovery {
            candidates,
            private_dir,
            podman_binary: "podman".into(),
        }
    }

    /// The first candidate that answers; else a private Podman service (reused if one of ours
    /// is already up); else [`Error::PodmanNotRunning`].
    pub async fn discover(&self) -> Result<PathBuf> {
        for candidate in &self.candidates {
            if answers(candidate).await {
                return Ok(candidate.clone());
            }
        }
        match &self.private_dir {
            Some(dir) if find_in_path(&self.podman_binary).is_some() => {
                start_private_podman(&self.podman_binary, dir).await
            }
            _ => Err(Error::PodmanNotRunning {
                hint: not_running_hint(&self.candidates),
            }),
        }
    }
}

/// Accepts `unix:///path` as well as `/path`.
pub(crate) fn strip_scheme(p: &Path) -> PathBuf {
    match p.to_str().and_then(|s| s.strip_prefix("unix://")) {
        Some(rest) => PathBuf::from(rest),
        None => p.to_path_buf(),
    }
}

/// A socket counts only if it accepts a connection: a stale file left by a dead engine does not.
async fn answers(path: &Path) -> bool {
    matches!(
        tokio::time::timeout(CONNECT_PROBE, tokio::net::UnixStream::connect(path)).await,
        Ok(Ok(_))
    )
}

async fn start_private_podman(podman: &str, dir: &Path) -> Result<PathBuf> {
    let socket = dir.join("podman.sock");
    if answers(&socket).await {
        return Ok(socket);
    }
    let fail = |detail: String| Error::PodmanNotRunning {
        hint: format!("starting a private podman service failed: {detail}"),
    };
    std::fs::create_dir_all(dir).map_err(|e| fail(format!("{}: {e}", dir.display())))?;
    // Two processes starting at once must not both bind the socket: serialise on a lock file.
    let lock_path = dir.join("start.lock");
    let lock = tokio::task::spawn_blocking(move || lock_exclusive(&lock_path))
        .await
        .map_err(|e| fail(e.to_string()))?
        .map_err(|e| fail(format!("lock: {e}")))?;
    if answers(&socket).await {
        return Ok(socket);
    }
    let _ = std::fs::remove_file(&socket);
    let log_path = dir.join("podman-service.log");
    let log = std::fs::File::create(&log_path).map_err(|e| fail(e.to_string()))?;
    let mut child = {
        use std::os::unix::process::CommandExt;
        std::process::Command::new(podman)
            .arg("system")
            .arg("service")
            .arg(format!("--time={}", PRIVATE_SERVICE_IDLE.as_secs()))
            .arg(format!("unix://{}", socket.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            // Its own process group: a Ctrl-C aimed at the user's program must not kill it.
            .process_group(0)
            .spawn()
            .map_err(|e| fail(e.to_string()))?
    };
    let started = Instant::now();
    let result = loop {
        if answers(&socket).await {
            break Ok(socket.clone());
        }
        if let Ok(Some(status)) = child.try_wait() {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            break Err(fail(format!("podman exited with {status}: {}", log.trim())));
        }
        if started.elapsed() > SERVICE_STARTUP {
            let _ = child.kill();
            break Err(fail(format!(
                "no answer on {} after {:?}",
                socket.display(),
                SERVICE_STARTUP
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // Reap it when it ends (idle timeout) so it does not linger as a zombie of ours.
    std::thread::spawn(move || child.wait());
    drop(lock);
    result
}

fn lock_exclusive(path: &Path) -> std::io::Result<std::fs::File> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)?;
    file.lock()?;
    Ok(file)
}

fn find_in_path(binary: &str) -> Option<PathBuf> {
    which::which(binary).ok()
}

fn current_uid() -> u32 {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
        .unwrap_or(0)
}

fn not_running_hint(candidates: &[PathBuf]) -> String {
    let tried = candidates
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let start = if cfg!(target_os = "macos") {
        "start one with `podman machine start` or Docker Desktop"
    } else {
        "install podman (pocketdock then starts a private service itself), or start one with \
         `systemctl --user start podman.socket` or `sudo systemctl start docker`"
    };
    format!("no socket answered (tried {tried}); {start}, or point POCKETDOCK_SOCKET at a socket")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_env_then_project_then_auto() {
        let env = Path::new("/env.sock");
        let project = Path::new("unix:///project.sock");
        let d = Discovery::from_sources(Some(env), Some(project));
        assert_eq!(d.candidates, [PathBuf::from("/env.sock")]);
        assert_eq!(d.private_dir, None);
        let d = Discovery::from_sources(None, Some(project));
        assert_eq!(d.candidates, [PathBuf::from("/project.sock")]);
        assert_eq!(
            d.private_dir, None,
            "a named socket is not replaced by another engine"
        );
        let d = Discovery::from_sources(None, None);
        assert!(d
            .candidates
            .contains(&PathBuf::from("/run/podman/podman.sock")));
        assert!(d.private_dir.is_some());
    }
}
