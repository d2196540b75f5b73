"""pocketdock: offline container sandboxes over the local Podman or Docker socket.

The Python API of pocketdock 1.2.6, over pocketdock's Rust core::

    from pocketdock import create_new_container

    with create_new_container() as c:
        result = c.run("echo hello")
        print(result.stdout)        # hello

The async twin is :mod:`pocketdock.async_`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, List, Optional

from pocketdock import _native
from pocketdock._buffer import BufferSnapshot
from pocketdock._options import PathLike, _path
from pocketdock._pool import Pool
from pocketdock._sync_container import (
    Container,
    SyncExecStream,
    SyncProcess,
    SyncSession,
    create_new_container,
)
from pocketdock.errors import (
    ContainerError,
    ContainerGone,
    ContainerNotFound,
    ContainerNotRunning,
    ImageNotFound,
    PocketDockError,
    PodmanNotRunning,
    ProjectNotInitialized,
    SessionClosed,
    SocketCommunicationError,
    SocketConnectionError,
    SocketError,
)
from pocketdock.profiles import ProfileInfo, list_profiles, resolve_profile
from pocketdock.projects import _doctor_blocking, find_project_root, init_project
from pocketdock.types import (
    ContainerInfo,
    ContainerListItem,
    DoctorReport,
    ExecResult,
    StreamChunk,
)

if TYPE_CHECKING:
    from pathlib import Path


def _package_version() -> str:
    try:
        from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415
    except ImportError:  # pragma: no cover
        return _native.CORE_VERSION
    try:
        return version("pocketdock")
    except PackageNotFoundError:
        return _native.CORE_VERSION


__version__: str = _package_version()


def get_version() -> str:
    """Return the pocketdock package version string."""
    return __version__


def resume_container(
    name: str,
    *,
    socket_path: Optional[PathLike] = None,
    timeout: Optional[float] = None,
) -> Container:
    """A handle to an existing sandbox by name, started again if it was stopped.

    Its configuration (ports, limits, volumes, persistence, default timeout) is what it was
    created with; *timeout* overrides the default timeout of its blocking runs.
    """
    native = _native.resume_container(False, name, _path(socket_path))
    return Container(native, timeout=None if timeout is None else float(timeout))


def list_containers(
    *,
    socket_path: Optional[PathLike] = None,
    project: Optional[str] = None,
) -> List[ContainerListItem]:
    """All pocketdock managed containers, in any state (only *project*'s, if given)."""
    items: List[ContainerListItem] = _native.list_containers(False, project, _path(socket_path))
    return items


def destroy_container(name: str, *, socket_path: Optional[PathLike] = None) -> None:
    """Remove a container completely, running or stopped."""
    _native.destroy_container(False, name, _path(socket_path))


def stop_container(name: str, *, socket_path: Optional[PathLike] = None) -> None:
    """Stop a running container by name without removing it."""
    _native.stop_container(False, name, _path(socket_path))


def prune(*, socket_path: Optional[PathLike] = None, project: Optional[str] = None) -> int:
    """Remove every stopped pocketdock container (of *project*, if given); how many."""
    count: int = _native.prune(False, project, _path(socket_path))
    return count


def doctor(
    *,
    project_root: "Optional[Path]" = None,
    socket_path: Optional[PathLike] = None,
) -> DoctorReport:
    """Cross-check the project's instance dirs against the engine's containers.

    Raises:
        ProjectNotInitialized: Outside a project (and without *project_root*).

    """
    return _doctor_blocking(project_root=project_root, socket_path=socket_path)


ExecStream = SyncExecStream
Process = SyncProcess
Session = SyncSession

__all__ = [
    "BufferSnapshot",
    "Container",
    "ContainerError",
    "ContainerGone",
    "ContainerInfo",
    "ContainerListItem",
    "ContainerNotFound",
    "ContainerNotRunning",
    "DoctorReport",
    "ExecResult",
    "ExecStream",
    "ImageNotFound",
    "PocketDockError",
    "PodmanNotRunning",
    "Process",
    "ProfileInfo",
    "ProjectNotInitialized",
    "Session",
    "SessionClosed",
    "SocketCommunicationError",
    "SocketConnectionError",
    "SocketError",
    "StreamChunk",
    "__version__",
    "Pool",
    "create_new_container",
    "destroy_container",
    "doctor",
    "find_project_root",
    "get_version",
    "init_project",
    "list_containers",
    "list_profiles",
    "prune",
    "resolve_profile",
    "resume_container",
    "stop_container",
]
