"""Persistence management: resume, list, stop, destroy and prune containers by name.

These are the async functions (as in the reference); the blocking ones are at the package root
(``pocketdock.resume_container`` …).
"""

from __future__ import annotations

from typing import List, Optional

from pocketdock import _native
from pocketdock._async_container import AsyncContainer
from pocketdock._options import PathLike, _path
from pocketdock.types import ContainerListItem

__all__ = ["destroy_container", "list_containers", "prune", "resume_container", "stop_container"]


async def resume_container(
    name: str,
    *,
    socket_path: Optional[PathLike] = None,
    timeout: Optional[float] = None,
) -> AsyncContainer:
    """A handle to an existing sandbox by name, started again if it was stopped.

    Its configuration (ports, limits, volumes, persistence, default timeout) is what it was
    created with; *timeout* overrides the default timeout of its blocking runs.

    Raises:
        ContainerNotFound: If no pocketdock container has this name.

    """
    native = await _native.resume_container(True, name, _path(socket_path))
    return AsyncContainer(native, timeout=None if timeout is None else float(timeout))


async def list_containers(
    *,
    socket_path: Optional[PathLike] = None,
    project: Optional[str] = None,
) -> List[ContainerListItem]:
    """All pocketdock managed containers, in any state (only *project*'s, if given)."""
    items: List[ContainerListItem] = await _native.list_containers(True, project, _path(socket_path))
    return items


async def destroy_container(name: str, *, socket_path: Optional[PathLike] = None) -> None:
    """Remove a container, running or stopped."""
    await _native.destroy_container(True, name, _path(socket_path))


async def prune(*, socket_path: Optional[PathLike] = None, project: Optional[str] = None) -> int:
    """Remove every stopped pocketdock container (of *project*, if given); how many."""
    count: int = await _native.prune(True, project, _path(socket_path))
    return count


async def stop_container(name: str, *, socket_path: Optional[PathLike] = None) -> None:
    """Stop a container by name, without removing it."""
    await _native.stop_container(True, name, _path(socket_path))
