"""The values pocketdock returns: immutable, readable reprs, compared by value."""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any, Dict, Optional, Tuple

__all__ = ["ContainerInfo", "ContainerListItem", "DoctorReport", "ExecResult", "StreamChunk"]


@dataclasses.dataclass(frozen=True)
class ContainerInfo:
    """Live snapshot of a container's state and resource usage.

    Memory, CPU, pids and processes are filled in only while the container runs.
    ``processes`` holds one dict per process with the keys ``PID``, ``USER`` and ``COMMAND``.
    """

    id: str
    name: str
    status: str
    image: str
    created_at: datetime.datetime
    started_at: Optional[datetime.datetime] = None
    uptime: Optional[datetime.timedelta] = None
    memory_usage: str = ""
    memory_limit: str = ""
    memory_percent: float = 0.0
    cpu_percent: float = 0.0
    pids: int = 0
    network: bool = False
    ip_address: str = ""
    ports: Dict[int, int] = dataclasses.field(default_factory=dict)
    processes: Tuple[Dict[str, str], ...] = ()
    #: How commands reach the sandbox: ``"agent"``, ``"agent-bridge"`` or ``"engine-exec"``.
    transport: str = "engine-exec"
    #: What is in force: ``capabilities_dropped``, ``capabilities``, ``no_new_privileges``,
    #: ``pids_limit`` (``None``: no limit), ``read_only``.
    hardening: Dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class ExecResult:
    """What a finished command produced.

    ``exit_code`` is -1 when the command timed out (it was killed, with every process it
    started); ``truncated`` says output beyond ``max_output`` was dropped; ``oom_killed`` says
    the kernel's OOM killer ended it (exit code 137) when the sandbox ran out of memory.
    """

    exit_code: int
    stdout: str = ""
    stderr: str = ""
    duration_ms: float = 0.0
    timed_out: bool = False
    truncated: bool = False
    oom_killed: bool = False

    @property
    def ok(self) -> bool:
        """True if the command exited with code 0 and did not time out."""
        return self.exit_code == 0 and not self.timed_out


@dataclasses.dataclass(frozen=True)
class StreamChunk:
    """A piece of a streaming command's output (never split inside a character)."""

    stream: str  # "stdout" | "stderr"
    data: str


@dataclasses.dataclass(frozen=True)
class ContainerListItem:
    """A pocketdock managed container, as listed."""

    id: str
    name: str
    status: str
    image: str
    created_at: str
    persist: bool
    project: str = ""


@dataclasses.dataclass(frozen=True)
class DoctorReport:
    """What ``doctor()`` found: containers without instance dirs, dirs without containers."""

    orphaned_containers: Tuple[str, ...]
    stale_instance_dirs: Tuple[str, ...]
    healthy: int
