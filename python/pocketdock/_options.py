"""Argument checks and conversions shared by the blocking and async APIs."""

from __future__ import annotations

import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from pocketdock import _native

DEFAULT_IMAGE: str = _native.DEFAULT_IMAGE
DEFAULT_TIMEOUT: int = _native.DEFAULT_TIMEOUT
DEFAULT_MAX_OUTPUT: int = _native.DEFAULT_MAX_OUTPUT
DEFAULT_LIST_PATH = "/home/sandbox"

PathLike = Union[str, "os.PathLike[str]"]


def _pairs(what: str, mapping: Optional[Mapping[Any, Any]]) -> List[Tuple[Any, Any]]:
    if mapping is None:
        return []
    if not isinstance(mapping, Mapping):
        raise TypeError(f"{what} must be a dict, not {type(mapping).__name__}")
    return list(mapping.items())


def _path(p: Optional[PathLike]) -> Optional[str]:
    return None if p is None else os.fspath(p)


def create_kwargs(  # noqa: PLR0913
    *,
    image: str,
    name: Optional[str],
    timeout: Optional[float],
    mem_limit: Optional[str],
    cpu_percent: Optional[int],
    persist: bool,
    volumes: Optional[Mapping[str, str]],
    project: Optional[str],
    profile: Optional[str],
    devices: Optional[Sequence[str]],
    ports: Optional[Mapping[int, int]],
    socket_path: Optional[PathLike],
    network: Optional[bool],
    labels: Optional[Mapping[str, str]],
    read_only: bool = False,
    pids_limit: Optional[int] = None,
    cap_add: Optional[Sequence[str]] = None,
    no_new_privileges: bool = True,
) -> Dict[str, Any]:
    """The keyword arguments of ``_native.create_container``."""
    if devices is not None and isinstance(devices, (str, bytes)):
        raise TypeError("devices must be a list of device paths, not a string")
    if cap_add is not None and isinstance(cap_add, (str, bytes)):
        raise TypeError("cap_add must be a list of capability names, not a string")
    return {
        # The default image is not "explicit": a profile may then choose the image.
        "image": None if image == DEFAULT_IMAGE else image,
        "name": name,
        "timeout": None if timeout is None else float(timeout),
        "mem_limit": mem_limit,
        "cpu_percent": cpu_percent,
        "persist": bool(persist),
        "volumes": [(os.fspath(h), str(c)) for h, c in _pairs("volumes", volumes)],
        "project": project or None,
        "profile": profile,
        "devices": list(devices or []),
        "ports": [(int(h), int(c)) for h, c in _pairs("ports", ports)],
        "socket_path": _path(socket_path),
        "network": network,
        "labels": [(str(k), str(v)) for k, v in _pairs("labels", labels)],
        "read_only": bool(read_only),
        "pids_limit": None if pids_limit is None else int(pids_limit),
        "cap_add": [str(c) for c in (cap_add or [])],
        "no_new_privileges": bool(no_new_privileges),
    }


def run_args(
    stream: bool,
    detach: bool,
    timeout: Optional[float],
    max_output: int,
    lang: Optional[str],
) -> Tuple[Optional[float], int, Optional[str]]:
    """Checks ``run()``'s options; returns ``(timeout, max_output, lang)``."""
    if stream and detach:
        raise ValueError("stream and detach are mutually exclusive")
    if isinstance(max_output, bool) or not isinstance(max_output, int) or max_output < 0:
        raise ValueError(f"max_output must be a whole number of bytes >= 0, not {max_output!r}")
    if timeout is not None:
        timeout = float(timeout)
    if lang is not None and not isinstance(lang, str):
        raise TypeError(f"lang must be a string such as 'python', not {type(lang).__name__}")
    return timeout, max_output, lang


def command_extra(
    command: Union[str, Sequence[str]],
    env: Optional[Mapping[str, str]],
    cwd: Optional[str],
    user: Union[str, int, None],
    stdin: Union[str, bytes, bytearray, memoryview, None],
) -> Tuple[str, Dict[str, Any]]:
    """``run()``'s command and its options beyond the reference's, for the native layer:
    a list is an argv run exactly (no shell); a string is a shell command line."""
    extra: Dict[str, Any] = {"argv": None, "env": None, "cwd": None, "user": None, "stdin": None}
    if isinstance(command, str):
        line = command
    elif isinstance(command, (list, tuple)) and all(isinstance(a, str) for a in command):
        if not command:
            raise ValueError("an argv needs at least the program to run")
        extra["argv"] = list(command)
        line = ""
    else:
        raise TypeError(f"command must be a str or a list of str, not {type(command).__name__}")
    if env is not None:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
            raise TypeError("env must map str to str")
        extra["env"] = list(env.items())
    if cwd is not None:
        extra["cwd"] = str(cwd)
    if user is not None:
        extra["user"] = str(user)
    if stdin is not None:
        extra["stdin"] = file_bytes(stdin)
    return line, extra


def file_bytes(content: Union[str, bytes, bytearray, memoryview]) -> bytes:
    """``write_file``'s content: text is written as UTF-8."""
    if isinstance(content, str):
        return content.encode("utf-8")
    if isinstance(content, (bytes, bytearray, memoryview)):
        return bytes(content)
    raise TypeError(f"content must be str or bytes, not {type(content).__name__}")
