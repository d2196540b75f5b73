"""The exception hierarchy of pocketdock (names, constructors and attributes of the reference).

``PocketDockError`` catches everything pocketdock raises for engine-side trouble::

    PocketDockError
    ├── SocketError
    │   ├── SocketConnectionError   .socket_path, .detail
    │   ├── SocketCommunicationError .detail
    │   └── PodmanNotRunning
    ├── ContainerError              .container_id, .detail
    │   ├── ContainerNotFound
    │   ├── ContainerNotRunning
    │   └── ContainerGone
    ├── ImageNotFound               .image
    ├── SessionClosed
    └── ProjectNotInitialized

Arguments rejected before the engine is asked (a malformed ``mem_limit``, an unknown profile or
language, a negative timeout) raise ``ValueError``, as in the reference; a missing file inside
the container or on the host raises ``FileNotFoundError``.
"""

from __future__ import annotations

import sys
from typing import Optional

__all__ = [
    "ContainerError",
    "ContainerGone",
    "ContainerNotFound",
    "ContainerNotRunning",
    "ImageNotFound",
    "PocketDockError",
    "PodmanNotRunning",
    "ProjectNotInitialized",
    "SessionClosed",
    "SocketCommunicationError",
    "SocketConnectionError",
    "SocketError",
]


class PocketDockError(Exception):
    """Base exception for all pocketdock errors."""


class SocketError(PocketDockError):
    """The container engine's socket could not be reached or understood."""


class SocketConnectionError(SocketError):
    """Cannot connect to the container engine socket."""

    def __init__(self, socket_path: str, detail: str = "") -> None:
        self.socket_path = socket_path
        self.detail = detail
        msg = f"Cannot connect to socket at {socket_path}"
        if detail:
            msg = f"{msg}: {detail}"
        super().__init__(msg)


class SocketCommunicationError(SocketError):
    """Connected, but the conversation with the engine broke down."""

    def __init__(self, detail: str = "") -> None:
        self.detail = detail
        msg = "Socket communication error"
        if detail:
            msg = f"{msg}: {detail}"
        super().__init__(msg)


class PodmanNotRunning(SocketError):
    """No container engine socket found."""

    def __init__(self, hint: Optional[str] = None) -> None:
        if hint is None:
            if sys.platform == "darwin":
                hint = "Try: podman machine start  OR  open Docker Desktop"
            else:
                hint = "Try: systemctl --user start podman.socket"
        self.hint = hint
        super().__init__(f"No container engine socket found. Is Podman or Docker running? {hint}")


class ContainerError(PocketDockError):
    """Error concerning one container."""

    def __init__(self, container_id: str, detail: str = "") -> None:
        self.container_id = container_id
        self.detail = detail
        msg = f"Container {container_id}"
        if detail:
            msg = f"{msg}: {detail}"
        super().__init__(msg)


def _summarised(summary: str, detail: str) -> str:
    """``summary``, with the engine's own words after it when they add something."""
    if detail and detail != summary:
        return f"{summary} ({detail})"
    return summary


class ContainerNotFound(ContainerError):
    """The engine knows no container by that id or name."""

    def __init__(self, container_id: str, detail: str = "") -> None:
        super().__init__(container_id, _summarised("not found", detail))
        self.detail = detail or "not found"


class ContainerNotRunning(ContainerError):
    """The container exists but is stopped."""

    def __init__(self, container_id: str, detail: str = "") -> None:
        super().__init__(container_id, _summarised("is not running", detail))
        self.detail = detail or "is not running"


class ContainerGone(ContainerError):
    """The container was removed behind our back (possibly mid-command)."""

    def __init__(self, container_id: str, detail: str = "") -> None:
        super().__init__(container_id, _summarised("was removed externally", detail))
        self.detail = detail or "was removed externally"


class ImageNotFound(PocketDockError):
    """The image is not present locally (pocketdock never pulls)."""

    def __init__(self, image: str) -> None:
        self.image = image
        super().__init__(f"Image not found: {image}")


class SessionClosed(PocketDockError):
    """Operation attempted on a closed session."""


class ProjectNotInitialized(PocketDockError):
    """No .pocketdock/ project directory found."""

    def __init__(self, path: Optional[str] = None) -> None:
        self.path = path
        msg = "No .pocketdock/ project directory found. Run `pocketdock init` first."
        if path:
            msg = f"{msg} (looked in and above {path})"
        super().__init__(msg)
