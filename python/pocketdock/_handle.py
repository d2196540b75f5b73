"""What the blocking ``Container`` and the ``AsyncContainer`` have in common."""

from __future__ import annotations

import atexit
import weakref
from typing import TYPE_CHECKING, Any, Callable, Optional

if TYPE_CHECKING:
    from pocketdock import _native


class _ContainerBase:
    """Properties, callbacks and repr of a sandbox handle."""

    def __init__(self, native: "_native.NativeContainer", *, timeout: Optional[float] = None) -> None:
        self._native = native
        # A default run timeout given to resume_container(); else the container's own.
        self._timeout = timeout
        self._closed = False
        _live.add(self)

    @property
    def container_id(self) -> str:
        """Full container ID hex string (a new one after ``reboot(fresh=True)``)."""
        return self._native.id

    @property
    def socket_path(self) -> str:
        """Path to the container engine Unix socket."""
        return self._native.socket_path

    @property
    def name(self) -> str:
        """Container name (also the engine's container name), e.g. ``pd-a1b2c3d4``."""
        return self._native.name

    @property
    def transport(self) -> str:
        """How commands reach the sandbox: ``"agent"`` (its in-sandbox agent) or
        ``"engine-exec"``."""
        transport: str = self._native.transport
        return transport

    @property
    def persist(self) -> bool:
        """Whether this container survives shutdown (stop without remove)."""
        return self._native.persist

    @property
    def project(self) -> str:
        """Project name this container belongs to (empty if none)."""
        return self._native.project or ""

    @property
    def data_path(self) -> str:
        """Instance data directory path (empty if none)."""
        return self._native.data_path or ""

    def on_stdout(self, fn: Callable[..., object]) -> None:
        """Register ``fn(container, data: str)`` for stdout of detached processes.

        Callbacks run on pocketdock's reader threads with the GIL held, for every detached
        process of this container; an exception in one is reported (``sys.unraisablehook``)
        and reading goes on.
        """
        self._native.on_stdout(fn, weakref.ref(self))

    def on_stderr(self, fn: Callable[..., object]) -> None:
        """Register ``fn(container, data: str)`` for stderr of detached processes."""
        self._native.on_stderr(fn, weakref.ref(self))

    def on_exit(self, fn: Callable[..., object]) -> None:
        """Register ``fn(container, exit_code: int)`` for the end of detached processes."""
        self._native.on_exit(fn, weakref.ref(self))

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} name={self.name!r} id={self.container_id[:12]!r} "
            f"engine={self._native.engine!r}>"
        )


_live: "weakref.WeakSet[Any]" = weakref.WeakSet()


def _remove_open_containers() -> None:
    """At interpreter exit, remove the non-persistent sandboxes nobody shut down.

    The Rust core removes such a container when its last handle goes away; at exit Python may
    never collect the handle, so it is done here.
    """
    for c in list(_live):
        if c._closed or c.persist:  # noqa: SLF001
            continue
        try:
            c._native.shutdown(False, True)  # noqa: SLF001
        except Exception:  # noqa: BLE001, S110 - nothing to report to at exit
            pass


atexit.register(_remove_open_containers)
