"""The blocking API: ``Container`` and its stream, process and session handles.

Every call runs on the Rust core's runtime with the GIL released; Ctrl-C interrupts a waiting
call (a blocking ``run`` then kills its command in the container). No Python event loop or
thread of our own is involved.
"""

from __future__ import annotations

import os
from typing import (
    TYPE_CHECKING,
    Callable,
    Iterator,
    List,
    Literal,
    Mapping,
    Optional,
    Sequence,
    Union,
    overload,
)

from pocketdock import _native
from pocketdock._buffer import BufferSnapshot
from pocketdock._handle import _ContainerBase
from pocketdock._options import (
    DEFAULT_IMAGE,
    DEFAULT_LIST_PATH,
    DEFAULT_MAX_OUTPUT,
    DEFAULT_TIMEOUT,
    PathLike,
    command_extra,
    create_kwargs,
    file_bytes,
    run_args,
)

if TYPE_CHECKING:
    from types import TracebackType

    from pocketdock.types import ContainerInfo, ExecResult, StreamChunk

__all__ = ["Container", "SyncExecStream", "SyncProcess", "SyncSession", "create_new_container"]


class SyncExecStream:
    """Iterator over a streaming command's output.

    Returned by ``Container.run(..., stream=True)``. Yields ``StreamChunk`` objects as output
    arrives; afterwards ``result`` holds the ``ExecResult``. Dropping the stream before its end
    kills the command.
    """

    def __init__(self, native: "_native.NativeStream") -> None:
        self._native = native

    def __iter__(self) -> Iterator["StreamChunk"]:
        return self

    def __next__(self) -> "StreamChunk":
        chunk: Optional[StreamChunk] = self._native.next(False)
        if chunk is None:
            raise StopIteration
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


class SyncProcess:
    """Handle to a detached command running in a container.

    Returned by ``Container.run(..., detach=True)``. Its output fills a ring buffer (1 MiB,
    half per stream) and feeds the container's callbacks.
    """

    def __init__(self, native: "_native.NativeProcess") -> None:
        self._native = native

    def is_running(self) -> bool:
        """True while the command runs."""
        running: bool = self._native.is_running(False)
        return running

    def kill(self, signal: int = 15) -> None:
        """Send ``signal`` (default SIGTERM) to the command and every process it started."""
        self._native.kill(False, int(signal))

    def write_stdin(self, data: Union[str, bytes]) -> None:
        """Write to the command's stdin (text as UTF-8); it stays open until ``close_stdin``."""
        self._native.write_stdin(False, file_bytes(data))

    def close_stdin(self) -> None:
        """Close the command's stdin: it reads end-of-file."""
        self._native.close_stdin(False)

    def read(self) -> BufferSnapshot:
        """Drain and return all buffered output."""
        snapshot: BufferSnapshot = self._native.read()
        return snapshot

    def peek(self) -> BufferSnapshot:
        """Return buffered output without draining."""
        snapshot: BufferSnapshot = self._native.peek()
        return snapshot

    def wait(self, timeout: Optional[float] = None) -> "ExecResult":
        """Block until the command ends; its exit code and the output still buffered.

        If *timeout* (seconds) passes first, the result has ``timed_out=True`` and exit code
        -1, and the command is left running (``kill()`` ends it).
        """
        result: ExecResult = self._native.wait(False, None if timeout is None else float(timeout))
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


class SyncSession:
    """Handle to a persistent shell inside a container (see ``Container.session()``).

    The shell's state (cwd, exported variables) persists between commands; any call after
    ``close()`` raises ``SessionClosed``.
    """

    def __init__(self, native: "_native.NativeSession") -> None:
        self._native = native

    @property
    def id(self) -> str:
        """The session's id."""
        return self._native.id

    def send(self, command: str) -> None:
        """Send a command to the shell without waiting for it."""
        self._native.send(False, command)

    def send_and_wait(self, command: str, timeout: Optional[float] = None) -> "ExecResult":
        """Run ``command`` in the shell and wait for its result.

        On timeout everything the command started is killed (the shell stays) and the result
        has ``timed_out=True``.
        """
        result: ExecResult = self._native.send_and_wait(
            False, command, None if timeout is None else float(timeout)
        )
        return result

    def read(self) -> str:
        """Drain and return all accumulated output (thread-safe)."""
        return self._native.read()

    def on_output(self, fn: Callable[..., object]) -> None:
        """Register ``fn(data: str)`` for every piece of output."""
        self._native.on_output(fn)

    def close(self) -> None:
        """End the shell and everything it started; the container stays."""
        self._native.close(False)

    def __repr__(self) -> str:
        state = "closed" if self._native.closed else "open"
        return f"<{type(self).__name__} id={self.id!r} {state}>"


class Container(_ContainerBase):
    """Blocking handle to a running container.

    Created via :func:`pocketdock.create_new_container`. Do not instantiate directly. Usable
    as a context manager: leaving the block shuts the container down.
    """

    @overload
    def run(
        self,
        command: Union[str, Sequence[str]],
        *,
        stream: Literal[True],
        timeout: Optional[float] = ...,
        max_output: int = ...,
        lang: Optional[str] = ...,
        env: Optional[Mapping[str, str]] = ...,
        cwd: Optional[str] = ...,
        user: Union[str, int, None] = ...,
        stdin: Union[str, bytes, None] = ...,
    ) -> SyncExecStream: ...

    @overload
    def run(
        self,
        command: Union[str, Sequence[str]],
        *,
        detach: Literal[True],
        timeout: Optional[float] = ...,
        max_output: int = ...,
        lang: Optional[str] = ...,
        env: Optional[Mapping[str, str]] = ...,
        cwd: Optional[str] = ...,
        user: Union[str, int, None] = ...,
        stdin: Union[str, bytes, None] = ...,
    ) -> SyncProcess: ...

    @overload
    def run(
        self,
        command: Union[str, Sequence[str]],
        *,
        timeout: Optional[float] = ...,
        max_output: int = ...,
        lang: Optional[str] = ...,
        env: Optional[Mapping[str, str]] = ...,
        cwd: Optional[str] = ...,
        user: Union[str, int, None] = ...,
        stdin: Union[str, bytes, None] = ...,
    ) -> "ExecResult": ...

    @overload
    def run(
        self,
        command: Union[str, Sequence[str]],
        *,
        stream: bool,
        detach: bool,
        timeout: Optional[float] = ...,
        max_output: int = ...,
        lang: Optional[str] = ...,
        env: Optional[Mapping[str, str]] = ...,
        cwd: Optional[str] = ...,
        user: Union[str, int, None] = ...,
        stdin: Union[str, bytes, None] = ...,
    ) -> Union["ExecResult", SyncExecStream, SyncProcess]: ...

    def run(  # noqa: PLR0913
        self,
        command: Union[str, Sequence[str]],
        *,
        stream: bool = False,
        detach: bool = False,
        timeout: Optional[float] = None,
        max_output: int = DEFAULT_MAX_OUTPUT,
        lang: Optional[str] = None,
        env: Optional[Mapping[str, str]] = None,
        cwd: Optional[str] = None,
        user: Union[str, int, None] = None,
        stdin: Union[str, bytes, None] = None,
    ) -> Union["ExecResult", SyncExecStream, SyncProcess]:
        """Execute a command inside the container.

        Args:
            command: A shell command line (run by ``sh -c``, or ``python3 -c`` with
                ``lang="python"``), or a list: an argv, run exactly as given (no shell).
            stream: If ``True``, return an iterator of ``StreamChunk``.
            detach: If ``True``, return a ``Process`` handle.
            timeout: Seconds before the command (and all it started) is killed. ``None``:
                the container's default for blocking runs, no limit for streams and detached
                processes.
            max_output: Most bytes of output kept, stdout and stderr together.
            lang: ``"python"`` to run the command as Python code; default: shell.
            env: Environment variables for the command, over the container's own.
            cwd: The directory it starts in (default: the image's working directory).
            user: The user it runs as, a name or uid (default: the image's user).
            stdin: Fed to the command's stdin, which is then closed (default: empty; a
                detached process keeps its stdin open for ``write_stdin`` instead).

        Returns:
            ``ExecResult``, ``ExecStream``, or ``Process``. Ctrl-C during a blocking run
            kills the command.

        """
        timeout, max_output, lang = run_args(stream, detach, timeout, max_output, lang)
        command, extra = command_extra(command, env, cwd, user, stdin)
        if stream:
            return SyncExecStream(self._native.stream(False, command, lang, timeout, max_output, extra))
        if detach:
            return SyncProcess(self._native.spawn(False, command, lang, timeout, None, extra))
        if timeout is None:
            timeout = self._timeout
        result: ExecResult = self._native.run(False, command, lang, timeout, max_output, extra)
        return result

    def info(self) -> "ContainerInfo":
        """A live snapshot of the container's state and resource usage."""
        info: ContainerInfo = self._native.info(False)
        return info

    def reboot(self, fresh: bool = False) -> None:
        """Restart the container: in place (filesystem kept), or recreated from its image with
        the same configuration when ``fresh`` (a new container id)."""
        self._native.reboot(False, bool(fresh))

    def write_file(self, path: str, content: Union[str, bytes]) -> None:
        """Write a file into the container (text as UTF-8), creating missing parents."""
        self._native.write_file(False, path, file_bytes(content))

    def read_file(self, path: str) -> bytes:
        """The content of a file in the container (``FileNotFoundError`` if missing)."""
        data: bytes = self._native.read_file(False, path)
        return data

    def list_files(self, path: str = DEFAULT_LIST_PATH) -> List[str]:
        """Names in a directory of the container, sorted; directories end with ``/``."""
        names: List[str] = self._native.list_files(False, path)
        return names

    def push(self, src: PathLike, dest: str) -> None:
        """Copy a host file or directory into the container (``cp -r`` semantics)."""
        self._native.push(False, os.fspath(src), dest)

    def pull(self, src: str, dest: PathLike) -> None:
        """Copy a container file or directory to the host (``cp -r`` semantics)."""
        self._native.pull(False, src, os.fspath(dest))

    def session(self) -> SyncSession:
        """Open a persistent shell session (cwd and exported variables persist)."""
        return SyncSession(self._native.session(False))

    def snapshot(self, image_name: str) -> str:
        """Commit the container's filesystem as an image (``"repo:tag"``); returns its id."""
        image_id: str = self._native.snapshot(False, image_name)
        return image_id

    def shutdown(self, force: bool = False) -> None:
        """Stop the container and, unless it is persistent, remove it. ``force`` kills at once."""
        self._native.shutdown(False, bool(force))
        self._closed = True

    def __enter__(self) -> "Container":
        return self

    def __exit__(
        self,
        exc_type: Optional[type],
        exc_val: Optional[BaseException],
        exc_tb: Optional["TracebackType"],
    ) -> None:
        self.shutdown()


def create_new_container(  # noqa: PLR0913
    *,
    image: str = DEFAULT_IMAGE,
    name: Optional[str] = None,
    timeout: float = DEFAULT_TIMEOUT,
    mem_limit: Optional[str] = None,
    cpu_percent: Optional[int] = None,
    persist: bool = False,
    volumes: Optional[Mapping[str, str]] = None,
    project: Optional[str] = None,
    profile: Optional[str] = None,
    devices: Optional[Sequence[str]] = None,
    ports: Optional[Mapping[int, int]] = None,
    socket_path: Optional[PathLike] = None,
    network: Optional[bool] = None,
    labels: Optional[Mapping[str, str]] = None,
    read_only: bool = False,
    pids_limit: Optional[int] = None,
    cap_add: Optional[Sequence[str]] = None,
    no_new_privileges: bool = True,
) -> Container:
    """Create and start a new container, returning a blocking handle.

    See :func:`pocketdock.async_.create_new_container` for the arguments.
    """
    kw = create_kwargs(
        image=image,
        name=name,
        timeout=timeout,
        mem_limit=mem_limit,
        cpu_percent=cpu_percent,
        persist=persist,
        volumes=volumes,
        project=project,
        profile=profile,
        devices=devices,
        ports=ports,
        socket_path=socket_path,
        network=network,
        labels=labels,
        read_only=read_only,
        pids_limit=pids_limit,
        cap_add=cap_add,
        no_new_privileges=no_new_privileges,
    )
    return Container(_native.create_container(False, kw))
