"""Sessions: one long-lived shell (async handle)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Optional

if TYPE_CHECKING:
    from pocketdock import _native
    from pocketdock.types import ExecResult

__all__ = ["AsyncSession"]


class AsyncSession:
    """Async handle to a persistent shell inside a container.

    Created via :meth:`AsyncContainer.session`. The shell's state (cwd, exported variables)
    persists between commands; any call after ``close()`` raises ``SessionClosed``.
    """

    def __init__(self, native: "_native.NativeSession") -> None:
        self._native = native

    @property
    def id(self) -> str:
        """The session's id."""
        return self._native.id

    async def send(self, command: str) -> None:
        """Send a command to the shell without waiting for it."""
        await self._native.send(True, command)

    async def send_and_wait(self, command: str, timeout: Optional[float] = None) -> "ExecResult":
        """Run ``command`` in the shell and wait for its result.

        On timeout everything the command started is killed (the shell stays) and the result
        has ``timed_out=True``.
        """
        result: ExecResult = await self._native.send_and_wait(
            True, command, None if timeout is None else float(timeout)
        )
        return result

    def read(self) -> str:
        """Drain and return all accumulated output (thread-safe)."""
        return self._native.read()

    def on_output(self, fn: Callable[..., object]) -> None:
        """Register ``fn(data: str)`` for every piece of output."""
        self._native.on_output(fn)

    async def close(self) -> None:
        """End the shell and everything it started; the container stays."""
        await self._native.close(True)

    def __repr__(self) -> str:
        state = "closed" if self._native.closed else "open"
        return f"<{type(self).__name__} id={self.id!r} {state}>"
