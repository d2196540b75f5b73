"""The package's surface, without an engine: names, submodules, signatures, types, errors."""

from __future__ import annotations

import dataclasses
import datetime
import importlib
import inspect
from typing import Any, Dict, List, Tuple

import pytest

import pocketdock
from pocketdock import errors

# What pocketdock 1.2.6 exports, module by module (a drop-in replacement must too).
REFERENCE_NAMES = {
    "pocketdock": [
        "BufferSnapshot",
        "Container",
        "ContainerError",
        "ContainerGone",
        "ContainerInfo",
        "ContainerListItem",
        "ContainerNotFound",
        "ContainerNotRunning",
        "DoctorReport",
        "ExecResult",
        "ExecStream",
        "ImageNotFound",
        "PocketDockError",
        "PodmanNotRunning",
        "Process",
        "ProfileInfo",
        "ProjectNotInitialized",
        "Session",
        "SessionClosed",
        "SocketCommunicationError",
        "SocketConnectionError",
        "SocketError",
        "StreamChunk",
        "__version__",
        "create_new_container",
        "destroy_container",
        "doctor",
        "find_project_root",
        "get_version",
        "init_project",
        "list_containers",
        "list_profiles",
        "prune",
        "resolve_profile",
        "resume_container",
        "stop_container",
    ],
    "pocketdock.errors": [
        "PocketDockError",
        "SocketError",
        "SocketConnectionError",
        "SocketCommunicationError",
        "PodmanNotRunning",
        "ContainerError",
        "ContainerNotFound",
        "ContainerNotRunning",
        "ContainerGone",
        "ImageNotFound",
        "SessionClosed",
        "ProjectNotInitialized",
    ],
    "pocketdock.types": ["ContainerInfo", "ExecResult", "StreamChunk", "ContainerListItem", "DoctorReport"],
    "pocketdock.persistence": [
        "resume_container",
        "list_containers",
        "destroy_container",
        "prune",
        "stop_container",
    ],
    "pocketdock.projects": ["find_project_root", "init_project", "doctor"],
    "pocketdock.profiles": ["ProfileInfo", "PROFILES", "resolve_profile", "list_profiles"],
    "pocketdock.async_": [
        "AsyncContainer",
        "AsyncExecStream",
        "AsyncProcess",
        "AsyncSession",
        "ProfileInfo",
        "create_new_container",
        "destroy_container",
        "doctor",
        "find_project_root",
        "init_project",
        "list_containers",
        "list_profiles",
        "prune",
        "resolve_profile",
        "resume_container",
        "stop_container",
    ],
}


@pytest.mark.parametrize("module", sorted(REFERENCE_NAMES))
def test_every_reference_name_is_there(module: str) -> None:
    mod = importlib.import_module(module)
    missing = [n for n in REFERENCE_NAMES[module] if not hasattr(mod, n)]
    assert not missing, missing
    if hasattr(mod, "__all__"):
        assert not [n for n in mod.__all__ if not hasattr(mod, n)]


def test_drop_in_imports() -> None:
    from pocketdock.async_ import AsyncContainer  # noqa: F401
    from pocketdock.errors import ContainerNotFound
    from pocketdock.types import ExecResult

    assert ContainerNotFound is pocketdock.ContainerNotFound
    assert ExecResult is pocketdock.ExecResult
    assert pocketdock.ExecStream is pocketdock.SyncExecStream
    assert pocketdock.Process is pocketdock.SyncProcess
    assert pocketdock.Session is pocketdock.SyncSession
    assert isinstance(pocketdock.__version__, str) and pocketdock.get_version() == pocketdock.__version__


def test_sync_and_async_module_functions() -> None:
    from pocketdock import async_, persistence, projects

    for name in ["resume_container", "list_containers", "destroy_container", "prune", "stop_container"]:
        assert inspect.iscoroutinefunction(getattr(persistence, name)), name
        assert getattr(async_, name) is getattr(persistence, name)
        assert not inspect.iscoroutinefunction(getattr(pocketdock, name)), name
    assert inspect.iscoroutinefunction(projects.doctor)
    assert not inspect.iscoroutinefunction(pocketdock.doctor)
    assert inspect.iscoroutinefunction(async_.create_new_container)
    assert not inspect.iscoroutinefunction(pocketdock.create_new_container)


# Parameters of the reference's signatures: (name, kind, default); ours may add more after them.
KW = inspect.Parameter.KEYWORD_ONLY
PK = inspect.Parameter.POSITIONAL_OR_KEYWORD
EMPTY = inspect.Parameter.empty
CREATE = [
    ("image", KW, "pocketdock/minimal-python"),
    ("name", KW, None),
    ("timeout", KW, 30),
    ("mem_limit", KW, None),
    ("cpu_percent", KW, None),
    ("persist", KW, False),
    ("volumes", KW, None),
    ("project", KW, None),
    ("profile", KW, None),
    ("devices", KW, None),
    ("ports", KW, None),
]
RUN = [
    ("command", PK, EMPTY),
    ("stream", KW, False),
    ("detach", KW, False),
    ("timeout", KW, None),
    ("max_output", KW, 10_485_760),
    ("lang", KW, None),
]
SIGNATURES: List[Tuple[str, List[Tuple[str, Any, Any]]]] = [
    ("pocketdock.create_new_container", CREATE),
    ("pocketdock.async_.create_new_container", CREATE),
    ("pocketdock.Container.run", RUN),
    ("pocketdock.async_.AsyncContainer.run", RUN),
    ("pocketdock.Container.list_files", [("path", PK, "/home/sandbox")]),
    ("pocketdock.Container.write_file", [("path", PK, EMPTY), ("content", PK, EMPTY)]),
    ("pocketdock.Container.push", [("src", PK, EMPTY), ("dest", PK, EMPTY)]),
    ("pocketdock.Container.pull", [("src", PK, EMPTY), ("dest", PK, EMPTY)]),
    ("pocketdock.Container.snapshot", [("image_name", PK, EMPTY)]),
    ("pocketdock.Process.kill", [("signal", PK, 15)]),
    ("pocketdock.Process.wait", [("timeout", PK, None)]),
    ("pocketdock.resume_container", [("name", PK, EMPTY), ("socket_path", KW, None)]),
    ("pocketdock.list_containers", [("socket_path", KW, None), ("project", KW, None)]),
    ("pocketdock.prune", [("socket_path", KW, None), ("project", KW, None)]),
    ("pocketdock.destroy_container", [("name", PK, EMPTY), ("socket_path", KW, None)]),
    ("pocketdock.stop_container", [("name", PK, EMPTY), ("socket_path", KW, None)]),
    ("pocketdock.doctor", [("project_root", KW, None), ("socket_path", KW, None)]),
    ("pocketdock.init_project", [("path", PK, None), ("project_name", KW, None)]),
    ("pocketdock.find_project_root", [("start", PK, None)]),
]


def _resolve(dotted: str) -> Any:
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


@pytest.mark.parametrize(("dotted", "expected"), SIGNATURES, ids=[s[0] for s in SIGNATURES])
def test_signatures_accept_what_the_reference_accepts(
    dotted: str, expected: List[Tuple[str, Any, Any]]
) -> None:
    params = inspect.signature(_resolve(dotted)).parameters
    for name, kind, default in expected:
        assert name in params, (dotted, name)
        p = params[name]
        assert p.kind == kind, (dotted, name, p.kind)
        assert p.default == default, (dotted, name, p.default)


def test_container_members() -> None:
    for cls in (pocketdock.Container, pocketdock.async_.AsyncContainer):
        for prop in ["container_id", "socket_path", "name", "persist", "project", "data_path"]:
            assert isinstance(inspect.getattr_static(cls, prop), property), (cls, prop)
        for method in [
            "run",
            "info",
            "reboot",
            "write_file",
            "read_file",
            "list_files",
            "push",
            "pull",
            "session",
            "snapshot",
            "shutdown",
            "on_stdout",
            "on_stderr",
            "on_exit",
        ]:
            assert callable(getattr(cls, method)), (cls, method)
    assert hasattr(pocketdock.Container, "__enter__") and hasattr(pocketdock.Container, "__exit__")
    assert hasattr(pocketdock.async_.AsyncContainer, "__aenter__")
    for prop in ["buffer_size", "buffer_overflow"]:
        assert isinstance(inspect.getattr_static(pocketdock.Process, prop), property)
    assert isinstance(inspect.getattr_static(pocketdock.ExecStream, "result"), property)
    for method in ["send", "send_and_wait", "read", "on_output", "close"]:
        assert callable(getattr(pocketdock.Session, method))


# -- result types ------------------------------------------------------------------------------


def _sample(cls: type) -> Tuple[Dict[str, Any], Any]:
    samples: Dict[type, Dict[str, Any]] = {
        pocketdock.ExecResult: {"exit_code": 0, "stdout": "hi\n"},
        pocketdock.StreamChunk: {"stream": "stdout", "data": "x"},
        pocketdock.BufferSnapshot: {"stdout": "a", "stderr": "b"},
        pocketdock.ContainerListItem: {
            "id": "abc",
            "name": "pd-1",
            "status": "running",
            "image": "i",
            "created_at": "t",
            "persist": False,
        },
        pocketdock.DoctorReport: {"orphaned_containers": ("a",), "stale_instance_dirs": (), "healthy": 1},
        pocketdock.ContainerInfo: {
            "id": "abc",
            "name": "pd-1",
            "status": "running",
            "image": "i",
            "created_at": datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc),
        },
        pocketdock.ProfileInfo: {
            "name": "n",
            "image_tag": "t",
            "dockerfile_dir": "d",
            "network_default": False,
            "description": "x",
            "size_estimate": "1",
        },
    }
    kw = samples[cls]
    return kw, cls(**kw)


@pytest.mark.parametrize(
    "cls",
    [
        pocketdock.ExecResult,
        pocketdock.StreamChunk,
        pocketdock.BufferSnapshot,
        pocketdock.ContainerListItem,
        pocketdock.DoctorReport,
        pocketdock.ContainerInfo,
        pocketdock.ProfileInfo,
    ],
    ids=lambda c: c.__name__,
)
def test_result_types_are_immutable_values_with_readable_reprs(cls: type) -> None:
    kw, value = _sample(cls)
    assert dataclasses.is_dataclass(value)
    field = next(iter(kw))
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(value, field, kw[field])
    assert value == cls(**kw)
    assert repr(value).startswith(f"{cls.__name__}(") and f"{field}=" in repr(value)


def test_exec_result_ok_means_exit_zero_and_not_timed_out() -> None:
    assert pocketdock.ExecResult(0).ok
    assert not pocketdock.ExecResult(1).ok
    assert not pocketdock.ExecResult(0, timed_out=True).ok
    assert hash(pocketdock.ExecResult(0, "a")) == hash(pocketdock.ExecResult(0, "a"))


# -- errors ------------------------------------------------------------------------------------


def test_error_hierarchy() -> None:
    E = errors
    assert issubclass(E.SocketError, E.PocketDockError)
    for cls in (E.SocketConnectionError, E.SocketCommunicationError, E.PodmanNotRunning):
        assert issubclass(cls, E.SocketError)
    for cls in (E.ContainerNotFound, E.ContainerNotRunning, E.ContainerGone):
        assert cls.__bases__ == (E.ContainerError,)
    for cls in (E.ContainerError, E.ImageNotFound, E.SessionClosed, E.ProjectNotInitialized):
        assert cls.__bases__ == (E.PocketDockError,)
    assert E.PocketDockError.__bases__ == (Exception,)


def test_error_attributes_and_reference_constructors() -> None:
    E = errors
    e = E.SocketConnectionError("/x.sock", "refused")
    assert (e.socket_path, e.detail) == ("/x.sock", "refused")
    assert str(e) == "Cannot connect to socket at /x.sock: refused"
    assert E.SocketCommunicationError("eof").detail == "eof"
    assert "Is Podman or Docker running?" in str(E.PodmanNotRunning())
    nf = E.ContainerNotFound("abc")
    assert (nf.container_id, str(nf)) == ("abc", "Container abc: not found")
    assert str(E.ContainerNotRunning("abc")) == "Container abc: is not running"
    assert str(E.ContainerGone("abc")) == "Container abc: was removed externally"
    assert E.ContainerError("abc", "boom").detail == "boom"
    assert E.ImageNotFound("img").image == "img"
    assert str(E.ProjectNotInitialized()).startswith("No .pocketdock/ project directory found")
    with pytest.raises(E.PocketDockError):
        raise E.ContainerNotFound("abc", "No such container: abc")


# -- profiles and checks made before any engine is asked ----------------------------------------


def test_profiles() -> None:
    names = [p.name for p in pocketdock.list_profiles()]
    assert names == ["minimal-python", "minimal-node", "minimal-bun", "dev", "agent", "embedded"]
    dev = pocketdock.resolve_profile("dev")
    assert (dev.image_tag, dev.network_default, dev.dockerfile_dir) == ("pocketdock/dev", True, "_images/dev")
    assert not pocketdock.resolve_profile("minimal-python").network_default
    with pytest.raises(ValueError, match="minimal-python"):
        pocketdock.resolve_profile("nope")
    from pocketdock.profiles import PROFILES

    assert PROFILES["agent"] == pocketdock.resolve_profile("agent")


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"mem_limit": "lots"}, "memory limit"),
        ({"mem_limit": "1.5g"}, "memory limit"),
        ({"profile": "nope"}, "known profiles"),
        ({"timeout": -1}, "timeout"),
    ],
)
def test_bad_options_are_value_errors_before_any_engine_is_asked(kw: Dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        pocketdock.create_new_container(socket_path="/nonexistent/engine.sock", **kw)


def test_a_socket_that_does_not_answer_is_a_socket_connection_error(tmp_path: Any) -> None:
    sock = str(tmp_path / "none.sock")
    with pytest.raises(pocketdock.SocketConnectionError) as info:
        pocketdock.create_new_container(socket_path=sock)
    assert info.value.socket_path == sock
    assert isinstance(info.value, pocketdock.SocketError)
    with pytest.raises(pocketdock.SocketError):
        pocketdock.list_containers(socket_path=sock)
