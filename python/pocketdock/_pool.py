"""Warm pools: sandboxes created and started ahead of need, each handed out once."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Dict, Optional, Type

from pocketdock import _native
from pocketdock._async_container import AsyncContainer
from pocketdock._options import DEFAULT_IMAGE, DEFAULT_TIMEOUT, create_kwargs
from pocketdock._sync_container import Container

# The options of create_new_container, with its defaults.
_DEFAULTS: Dict[str, Any] = {
    "image": DEFAULT_IMAGE,
    "name": None,
    "timeout": DEFAULT_TIMEOUT,
    "mem_limit": None,
    "cpu_percent": None,
    "persist": False,
    "volumes": None,
    "project": None,
    "profile": None,
    "devices": None,
    "ports": None,
    "socket_path": None,
    "network": None,
    "labels": None,
    "read_only": False,
    "pids_limit": None,
    "cap_add": None,
    "no_new_privileges": True,
}


def _native_pool(size: int, options: Dict[str, Any]) -> _native.NativePool:
    unknown = sorted(set(options) - set(_DEFAULTS))
    if unknown:
        raise TypeError(f"Pool() got unexpected option(s): {', '.join(unknown)}")
    if isinstance(size, bool) or not isinstance(size, int):
        raise TypeError(f"size must be an int, not {type(size).__name__}")
    return _native.create_pool(size, create_kwargs(**{**_DEFAULTS, **options}))


class _PoolBase:
    def __init__(self, size: int, **options: Any) -> None:
        self._native = _native_pool(size, options)

    @property
    def size(self) -> int:
        """How many sandboxes the pool keeps ready."""
        return self._native.size()

    @property
    def ready(self) -> int:
        """How many sandboxes are ready now."""
        return self._native.ready()


class Pool(_PoolBase):
    """Keeps *size* sandboxes created and started in the background; :meth:`claim` hands out
    one no one has used (at once when one is ready) and the pool replaces it. A claimed
    sandbox is exactly like one from ``create_new_container(**options)``. Closing the pool
    (or leaving its ``with`` block) removes the sandboxes it still holds.

    *options* are those of :func:`pocketdock.create_new_container`, except ``name``.
    """

    def claim(self) -> Container:
        """A started sandbox no one has used; the error of its creation if that failed."""
        return Container(self._native.claim(False))

    def filled(self) -> None:
        """Waits until the pool holds *size* ready sandboxes (a warm-up)."""
        self._native.filled(False)

    def close(self) -> None:
        """Removes the sandboxes the pool still holds."""
        self._native.close(False)

    def __enter__(self) -> Pool:
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()


class AsyncPool(_PoolBase):
    """:class:`Pool` for asyncio: ``await pool.claim()`` gives an :class:`AsyncContainer`."""

    async def claim(self) -> AsyncContainer:
        return AsyncContainer(await self._native.claim(True))

    async def filled(self) -> None:
        await self._native.filled(True)

    async def close(self) -> None:
        await self._native.close(True)

    async def __aenter__(self) -> AsyncPool:
        return self

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        await self.close()
