"""Fixtures of the Python suite: every engine-facing test runs once per selected engine.

Engines and sockets are chosen like the Rust suite's: ``POCKETDOCK_TEST_ENGINES=podman,docker``
(default both), ``POCKETDOCK_TEST_PODMAN_SOCKET`` (default ``/run/podman/podman.sock``) and
``POCKETDOCK_TEST_DOCKER_SOCKET`` (default ``/var/run/docker.sock``). A selected engine that
does not answer fails its tests; nothing is skipped.

Test containers carry the label ``pocketdock.test=1`` where the test creates them, and every
fixture shuts its containers down in its finalizer; at the end of the session, any pocketdock
container created during the run and still present fails the run (and is removed).
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import os
import socket
import sys
import urllib.parse
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List, Set

import pytest

import pocketdock

REPO = Path(__file__).resolve().parents[2]
SEED_PAGE = Path(
    # A copy of the user's page lives in the repository: a fresh clone has nothing beside it.
    os.environ.get("POCKETDOCK_SEED_PAGE", REPO / "tests" / "fixtures" / "seed-running-commands.txt")
)
RUN_ID = uuid.uuid4().hex[:12]
# Like the Rust suite's; the run id tells this run's containers from those of runs beside it.
TEST_LABELS = {"pocketdock.test": "1", "pocketdock.test.run": RUN_ID}
IMAGE = "pocketdock/minimal-python"
BUSYBOX = "pocketdock/busybox"

_DEFAULT_SOCKETS = {"podman": "/run/podman/podman.sock", "docker": "/var/run/docker.sock"}


@dataclasses.dataclass(frozen=True)
class Engine:
    name: str
    socket: str

    def __str__(self) -> str:
        return self.name


def selected_engines() -> List[Engine]:
    names = [
        n.strip() for n in os.environ.get("POCKETDOCK_TEST_ENGINES", "podman,docker").split(",") if n.strip()
    ]
    engines = []
    for name in names:
        if name not in _DEFAULT_SOCKETS:
            raise pytest.UsageError(f"unknown engine {name!r} in POCKETDOCK_TEST_ENGINES")
        sock = os.environ.get(f"POCKETDOCK_TEST_{name.upper()}_SOCKET", _DEFAULT_SOCKETS[name])
        engines.append(Engine(name, sock))
    return engines


ENGINES = selected_engines()


# -- the engine's own API, for checks behind pocketdock's back ------------------------------


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 30) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self._path)
        self.sock = s


def engine_api(sock: str, method: str, path: str) -> Any:
    """One request to the engine's HTTP API; the decoded JSON body (text if not JSON, or None)."""
    conn = _UnixHTTPConnection(sock)
    try:
        conn.request(method, path)
        resp = conn.getresponse()
        body = resp.read()
    finally:
        conn.close()
    if resp.status >= 400:
        raise RuntimeError(f"{method} {path}: {resp.status} {body[:300]!r}")
    if not body.strip():
        return None
    try:
        return json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace")


def managed_containers(sock: str) -> List[Dict[str, Any]]:
    filters = urllib.parse.quote(json.dumps({"label": ["pocketdock.managed=true"]}))
    result: List[Dict[str, Any]] = engine_api(sock, "GET", f"/containers/json?all=1&filters={filters}")
    return result


def remove_container(sock: str, ident: str) -> None:
    try:
        engine_api(sock, "DELETE", f"/containers/{ident}?force=1")
    except RuntimeError:
        pass


def remove_image(sock: str, ref: str) -> None:
    try:
        engine_api(sock, "DELETE", f"/images/{urllib.parse.quote(ref, safe='')}?force=1")
    except RuntimeError:
        pass


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="session", params=ENGINES, ids=str)
def engine(request: pytest.FixtureRequest) -> Engine:
    """The engine under test (each engine-facing test runs once per selected engine)."""
    e: Engine = request.param
    try:
        engine_api(e.socket, "GET", "/_ping")
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"engine {e.name} does not answer on {e.socket}: {exc}")
    return e


@pytest.fixture()
def socket_env(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """``POCKETDOCK_SOCKET`` points at the engine under test, for code that passes no socket."""
    monkeypatch.setenv("POCKETDOCK_SOCKET", engine.socket)
    return engine


@pytest.fixture()
def c(engine: Engine) -> Iterator[pocketdock.Container]:
    """A fresh sandbox on the engine under test, shut down afterwards."""
    container = pocketdock.create_new_container(socket_path=engine.socket, labels=TEST_LABELS)
    try:
        yield container
    finally:
        container.shutdown(force=True)


@pytest.fixture()
def make_container(engine: Engine) -> Iterator[Any]:
    """``make_container(**kw)``: sandboxes on the engine under test, all shut down afterwards
    (persistent ones destroyed)."""
    made: List[pocketdock.Container] = []

    def make(**kw: Any) -> pocketdock.Container:
        kw.setdefault("socket_path", engine.socket)
        kw.setdefault("labels", TEST_LABELS)
        container = pocketdock.create_new_container(**kw)
        made.append(container)
        return container

    yield make
    for container in made:
        try:
            container.shutdown(force=True)
        except pocketdock.PocketDockError:
            pass
        if container.persist:
            remove_container(engine.socket, container.name)


CREATED: Set[str] = set()


@pytest.fixture(scope="session", autouse=True)
def no_leaked_containers() -> Iterator[None]:
    """Fails the run if a container this run created (a handle made in this process, or one
    labelled with the run's id) is still there at the end; removes it."""
    from pocketdock import _handle

    original = _handle._ContainerBase.__init__

    def recording_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        CREATED.add(self.name)

    _handle._ContainerBase.__init__ = recording_init  # type: ignore[method-assign]
    try:
        yield
    finally:
        _handle._ContainerBase.__init__ = original  # type: ignore[method-assign]
    leaked = []
    for e in ENGINES:
        try:
            now = managed_containers(e.socket)
        except Exception:  # noqa: BLE001 - the engine fixture reports a dead engine
            continue
        for item in now:
            labels = item.get("Labels") or {}
            name = labels.get("pocketdock.instance") or (item.get("Names") or ["?"])[0].lstrip("/")
            if name in CREATED or labels.get("pocketdock.test.run") == RUN_ID:
                leaked.append(f"{e.name}: {name} ({item.get('State')})")
                remove_container(e.socket, item["Id"])
    if leaked:
        sys.stderr.write("leaked containers (now removed):\n  " + "\n  ".join(leaked) + "\n")
        pytest.fail(f"{len(leaked)} pocketdock container(s) leaked: {leaked}")
