"""AsyncContainer: the async handle to a sandbox, over the Rust core's async API."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, List, Literal, Mapping, Optional, Sequence, Union, overload

from pocketdock import _native
from pocketdock._handle import _ContainerBase
from pocketdock._options import (
    DEFAULT_IMAGE,
    DEFAULT_LIST_PATH,
    DEFAULT_MAX_OUTPUT,
    DEFAULT_TIMEOUT,
    PathLike,
    create_kwargs,
    file_bytes,
    command_extra,
    run_args,
)
from pocketdock._process import AsyncExecStream, AsyncProcess
from pocketdock._session import AsyncSession

if TYPE_CHECKING:
    from types import TracebackType

    from pocketdock.types import ContainerInfo, ExecResult

__all__ = ["AsyncContainer", "create_new_container"]

_DEFAULT_IMAGE = DEFAULT_IMAGE
_DEFAULT_TIMEOUT = DEFAULT_TIMEOUT
_DEFAULT_MAX_OUTPUT = DEFAULT_MAX_OUTPUT


class AsyncContainer(_ContainerBase):
    """Async handle to a running container.

    Created via :func:`pocketdock.async_.create_new_container`. Do not instantiate directly.
    """

    # -- commands ---------------------------------------------------------------------------

    @overload
    async def run(
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
    ) -> AsyncExecStream: ...

    @overload
    async def run(
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
    ) -> AsyncProcess: ...

    @overload
    async def run(
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
    async def run(
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
    ) -> Union["ExecResult", AsyncExecStream, AsyncProcess]: ...

    async def run(  # noqa: PLR0913
        self,
        command: Union[str, Sequence[str]],
        *,
        stream: bool = False,
        detach: bool = False,
        timeout: Optional[float] = None,
        max_output: int = _DEFAULT_MAX_OUTPUT,
        lang: Optional[str] = None,
        env: Optional[Mapping[str, str]] = None,
        cwd: Optional[str] = None,
        user: Union[str, int, None] = None,
        stdin: Union[str, bytes, None] = None,
    ) -> Union["ExecResult", AsyncExecStream, AsyncProcess]:
        """Execute a command inside the container.

        Args:
            command: A shell command line (run by ``sh -c``, or ``python3 -c`` with
                ``lang="python"``), or a list: an argv, run exactly as given (no shell).
            stream: If ``True``, return an async iterator of ``StreamChunk``.
            detach: If ``True``, return an ``AsyncProcess`` handle.
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
            ``ExecResult``, ``AsyncExecStream``, or ``AsyncProcess``. Cancelling the call (or
            dropping an unfinished stream) kills the command.

        """
        timeout, max_output, lang = run_args(stream, detach, timeout, max_output, lang)
        command, extra = command_extra(command, env, cwd, user, stdin)
        if stream:
            native = await self._native.stream(True, command, lang, timeout, max_output, extra)
            return AsyncExecStream(native)
        if detach:
            native = await self._native.spawn(True, command, lang, timeout, None, extra)
            return AsyncProcess(native)
        if timeout is None:
            timeout = self._timeout
        result: ExecResult = await self._native.run(True, command, lang, timeout, max_output, extra)
        return result

    async def info(self) -> "ContainerInfo":
        """A live snapshot of the container's state and resource usage."""
        info: ContainerInfo = await self._native.info(True)
        return info

    async def reboot(self, fresh: bool = False) -> None:
        """Restart the container: in place (filesystem kept), or recreated from its image with
        the same configuration when ``fresh`` (a new container id)."""
        await self._native.reboot(True, bool(fresh))

    # -- files ------------------------------------------------------------------------------

    async def write_file(self, path: str, content: Union[str, bytes]) -> None:
        """Write a file into the container (text as UTF-8), creating missing parents."""
        await self._native.write_file(True, path, file_bytes(content))

    async def read_file(self, path: str) -> bytes:
        """The content of a file in the container (``FileNotFoundError`` if missing)."""
        data: bytes = await self._native.read_file(True, path)
        return data

    async def list_files(self, path: str = DEFAULT_LIST_PATH) -> List[str]:
        """Names in a directory of the container, sorted; directories end with ``/``."""
        names: List[str] = await self._native.list_files(True, path)
        return names

    async def push(self, src: PathLike, dest: str) -> None:
        """Copy a host file or directory into the container (``cp -r`` semantics)."""
        await self._native.push(True, os.fspath(src), dest)

    async def pull(self, src: str, dest: PathLike) -> None:
        """Copy a container file or directory to the host (``cp -r`` semantics)."""
        await self._native.pull(True, src, os.fspath(dest))

    # -- the rest ---------------------------------------------------------------------------

    async def session(self) -> AsyncSession:
        """Open a persistent shell session (cwd and exported variables persist)."""
        return AsyncSession(await self._native.session(True))

    async def snapshot(self, image_name: str) -> str:
        """Commit the container's filesystem as an image (``"repo:tag"``); returns its id."""
        image_id: str = await self._native.snapshot(True, image_name)
        return image_id

    async def shutdown(self, force: bool = False) -> None:
        """Stop the container and, unless it is persistent, remove it. ``force`` kills at once."""
        await self._native.shutdown(True, bool(force))
        self._closed = True

    async def __aenter__(self) -> "AsyncContainer":
        return self

    async def __aexit__(
        self,
        exc_type: Optional[type],
        exc_val: Optional[BaseException],
        exc_tb: Optional["TracebackType"],
    ) -> None:
        await self.shutdown()


async def create_new_container(  # noqa: PLR0913
    *,
    image: str = _DEFAULT_IMAGE,
    name: Optional[str] = None,
    timeout: float = _DEFAULT_TIMEOUT,
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
) -> AsyncContainer:
    """Create and start a new container, returning an async handle.

    Args:
        image: Container image (must be present locally: nothing is pulled).
        name: Container name. Default: ``pd-`` + 8 hex characters.
        timeout: Default timeout of blocking ``run()`` calls, in seconds.
        mem_limit: Memory limit (e.g. ``"256m"``, ``"1g"``); malformed: ``ValueError``.
        cpu_percent: CPU cap as a share of one core, 1-100.
        persist: If ``True``, ``shutdown()`` stops but does not remove the container.
        volumes: ``{host_path: container_path}`` read-write binds.
        project: Project name. Default: the project around the current directory, if any.
        profile: Image profile (``"dev"``, ``"agent"`` …): chooses the image (unless *image*
            is given) and the network default. Unknown: ``ValueError``.
        devices: Host devices to pass through (``["/dev/ttyUSB0"]``).
        ports: ``{host_port: container_port}`` TCP port mappings.
        socket_path: Engine socket. Default: ``POCKETDOCK_SOCKET``, then auto-detection.
        network: Give the sandbox a network (or none). Default: none, unless *ports* are
            published or the profile's default is on.
        labels: Extra engine labels for the container, beside pocketdock's own.
        read_only: A read-only root file system, with a writable tmpfs at ``/tmp``.
        pids_limit: Most processes at once (default 512; ``0``: no limit).
        cap_add: Linux capabilities to keep beyond the few every sandbox keeps.
        no_new_privileges: Bar gaining privileges through setuid binaries (default ``True``).

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
    return AsyncContainer(await _native.create_container(True, kw))
