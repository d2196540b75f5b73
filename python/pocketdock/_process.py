"""Streaming and detached commands (async handles)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Union

from pocketdock._buffer import BufferSnapshot
from pocketdock._options import file_bytes

if TYPE_CHECKING:
    from pocketdock import _native
    from pocketdock.types import ExecResult, StreamChunk

__all__ = ["AsyncExecStream", "AsyncProcess"]


class AsyncExecStream:
    """Async iterator over a streaming command's output.

    Returned by ``await AsyncContainer.run(..., stream=True)``. Yields ``StreamChunk`` objects
    as output arrives; afterwards ``result`` holds the ``ExecResult``. Dropping the stream
    before its end kills the command.
    """

    def __init__(self, native: "_native.NativeStream") -> None:
        self._native = native

    def __aiter__(self) -> "AsyncExecStream":
        return self

    async def __anext__(self) -> "StreamChunk":
        chunk: Optional[StreamChunk] = await self._native.next(True)
        if chunk is None:
            raise StopAsyncIteration
        return chunk

    @property
    def result(self) -> "ExecResult":
        """The ExecResult (only available after iteration completes)."""
        result: Optional[ExecResult] = self._native.result()
        if result is None:
            msg = "result not available until iteration completes"
            raise RuntimeError(msg)
        return result

    def __repr__(self) -> str:
        done = self._native.result() is not None
        return f"<{type(self).__name__} {'finished' if done else 'running'}>"


class AsyncProcess:
    """Handle to a detached command running in a container.

    Returned by ``await AsyncContainer.run(..., detach=True)``. Its output fills a ring buffer
    (1 MiB, half per stream) and feeds the container's callbacks.
    """

    def __init__(self, native: "_native.NativeProcess") -> None:
        self._native = native

    async def is_running(self) -> bool:
        """True while the command runs."""
        running: bool = await self._native.is_running(True)
        return running

    async def write_stdin(self, data: Union[str, bytes]) -> None:
        """Write to the command's stdin (text as UTF-8); it stays open until ``close_stdin``."""
        await self._native.write_stdin(True, file_bytes(data))

    async def close_stdin(self) -> None:
        """Close the command's stdin: it reads end-of-file."""
        await self._native.close_stdin(True)

    async def kill(self, signal: int = 15) -> None:
        """Send ``signal`` (default SIGTERM) to the command and every process it started."""
        await self._native.kill(True, int(signal))

    def read(self) -> BufferSnapshot:
        """Drain and return all buffered output."""
        snapshot: BufferSnapshot = self._native.read()
        return snapshot

    def peek(self) -> BufferSnapshot:
        """Return buffered output without draining."""
        snapshot: BufferSnapshot = self._native.peek()
        return snapshot

    async def wait(self, timeout: Optional[float] = None) -> "ExecResult":
        """Wait for the command to end; its exit code and the output still buffered.

        If *timeout* (seconds) passes first, the result has ``timed_out=True`` and exit code
        -1, and the command is left running (``kill()`` ends it).
        """
        result: ExecResult = await self._native.wait(True, None if timeout is None else float(timeout))
        return result

    @property
    def id(self) -> str:
        """The engine's exec id of the background command."""
        return str(self._native.id)

    @property
    def buffer_size(self) -> int:
        """Bytes currently in the ring buffer (both streams)."""
        return self._native.buffer_size

    @property
    def buffer_overflow(self) -> bool:
        """True if buffered data was ever evicted unread."""
        return self._native.buffer_overflow

    def __repr__(self) -> str:
        return f"<{type(self).__name__} buffer_size={self.buffer_size}>"
