"""Projects: a directory holding ``.pocketdock/pocketdock.yaml`` (the logic lives in the Rust core).

Containers created inside a project carry its name; persistent ones also get
``.pocketdock/instances/<name>/`` with ``instance.toml``, ``history.jsonl`` and ``logs/``.
``doctor`` is async here, as in the reference; ``pocketdock.doctor`` is its blocking twin.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Union

from pocketdock import _native
from pocketdock._options import PathLike, _path
from pocketdock.types import DoctorReport

__all__ = ["doctor", "find_project_root", "init_project"]


def _opt_path(p: Optional[Union[str, "os.PathLike[str]"]]) -> Optional[str]:
    return None if p is None else os.fspath(p)


def find_project_root(start: Optional[Path] = None) -> Optional[Path]:
    """The directory at or above *start* (default: cwd) holding ``.pocketdock/pocketdock.yaml``,
    or ``None``."""
    root = _native.find_project_root(_opt_path(start))
    return None if root is None else Path(root)


def init_project(path: Optional[Path] = None, *, project_name: Optional[str] = None) -> Path:
    """Create ``.pocketdock/pocketdock.yaml`` in *path* (default: cwd), unless it exists, and
    ``.pocketdock/instances/``. The project is named *project_name* (default: the directory's
    name). Returns the project root."""
    return Path(_native.init_project(_opt_path(path), project_name))


async def doctor(
    *,
    project_root: Optional[Path] = None,
    socket_path: Optional[PathLike] = None,
) -> DoctorReport:
    """Cross-check the project's instance dirs against the engine's containers.

    Raises:
        ProjectNotInitialized: Outside a project (and without *project_root*).

    """
    report: DoctorReport = await _native.doctor(True, _opt_path(project_root), _path(socket_path))
    return report


def _doctor_blocking(
    *,
    project_root: Optional[Path] = None,
    socket_path: Optional[PathLike] = None,
) -> DoctorReport:
    report: DoctorReport = _native.doctor(False, _opt_path(project_root), _path(socket_path))
    return report
