"""The buffered output of a detached process."""

from __future__ import annotations

import dataclasses

__all__ = ["BufferSnapshot"]


@dataclasses.dataclass(frozen=True)
class BufferSnapshot:
    """Snapshot of a detached process's buffered output."""

    stdout: str
    stderr: str
