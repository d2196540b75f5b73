"""Sandbox lifecycle seen from Python, on each engine: naming and labels, shutdown, errors,
persistence by name, reboot, snapshot, info, resources, profiles, ports and projects."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Any, List

import pytest

import pocketdock
from conftest import BUSYBOX, TEST_LABELS, Engine, engine_api, remove_container, remove_image


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def exists(engine: Engine, ident: str) -> bool:
    try:
        engine_api(engine.socket, "GET", f"/containers/{ident}/json")
    except RuntimeError:
        return False
    return True


def state(engine: Engine, ident: str) -> str:
    status: str = engine_api(engine.socket, "GET", f"/containers/{ident}/json")["State"]["Status"]
    return status


def test_the_name_is_the_engines_and_labels_are_set(engine: Engine, make_container: Any) -> None:
    name = unique("pd-py")
    c = make_container(name=name)
    assert c.name == name and len(c.container_id) == 64 and c.socket_path == engine.socket
    auto = make_container()
    assert auto.name.startswith("pd-") and len(auto.name) == 11
    info = engine_api(engine.socket, "GET", f"/containers/{c.container_id}/json")
    assert info["Name"].lstrip("/") == name
    labels = info["Config"]["Labels"]
    assert labels["pocketdock.managed"] == "true" and labels["pocketdock.instance"] == name
    assert labels["pocketdock.persist"] == "false" and labels["pocketdock.created-at"]
    assert labels["pocketdock.test"] == "1"


def test_shutdown_is_quick_removes_and_is_idempotent(engine: Engine, make_container: Any) -> None:
    c = make_container()
    started = time.monotonic()
    c.shutdown()
    assert time.monotonic() - started < 5  # the reference waited out a 10 s grace period
    assert not exists(engine, c.container_id)
    c.shutdown()
    c.shutdown(force=True)


def test_run_after_shutdown_raises_container_not_found(make_container: Any) -> None:
    # The reference's own test: programs written for it catch ContainerNotFound here.
    c = make_container()
    c.shutdown()
    with pytest.raises(pocketdock.ContainerNotFound):
        c.run("echo hi")
    with pytest.raises(pocketdock.ContainerNotFound):
        c.write_file("/tmp/x", "x")


def test_context_manager_and_dropped_handles_remove_the_container(engine: Engine) -> None:
    with pocketdock.create_new_container(socket_path=engine.socket, labels=TEST_LABELS) as c:
        assert c.run("echo in").stdout == "in\n"
        ident = c.container_id
    assert not exists(engine, ident)
    dropped = pocketdock.create_new_container(socket_path=engine.socket, labels=TEST_LABELS)
    ident = dropped.container_id
    del dropped
    gc.collect()
    # Removed on a thread of its own (the engine is not waited on with the GIL held).
    deadline = time.monotonic() + 20
    while exists(engine, ident) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not exists(engine, ident)


def test_containers_left_open_are_removed_at_exit_unless_persistent(engine: Engine) -> None:
    child = (
        "import json, sys, pocketdock\n"
        "kw = dict(socket_path=sys.argv[1], labels=json.loads(sys.argv[2]))\n"
        "a = pocketdock.create_new_container(**kw)\n"
        "b = pocketdock.create_new_container(persist=True, **kw)\n"
        "a.on_exit(lambda container, code: print(container.name))  # a cycle through Rust\n"
        "print(a.name, b.name)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", child, engine.socket, json.dumps(TEST_LABELS)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    temporary, persistent = done.stdout.split()
    try:
        assert not exists(engine, temporary)
        assert state(engine, persistent) == "running"
    finally:
        remove_container(engine.socket, persistent)


def test_persistent_containers_survive_shutdown_and_resume_by_name(
    engine: Engine, make_container: Any
) -> None:
    c = make_container(persist=True, ports=None)
    c.write_file("/home/sandbox/kept.txt", "kept")
    c.shutdown()
    assert state(engine, c.container_id) in ("exited", "stopped")
    listed = {i.name: i for i in pocketdock.list_containers(socket_path=engine.socket)}
    item = listed[c.name]
    assert isinstance(item, pocketdock.ContainerListItem)
    assert (item.status, item.persist, item.id) == ("exited", True, c.container_id)
    again = pocketdock.resume_container(c.name, socket_path=engine.socket, timeout=1)
    assert (again.name, again.container_id, again.persist) == (c.name, c.container_id, True)
    assert again.read_file("/home/sandbox/kept.txt") == b"kept"
    assert again.run("sleep 10").timed_out  # resume_container(timeout=1)
    pocketdock.stop_container(c.name, socket_path=engine.socket)
    assert state(engine, c.container_id) in ("exited", "stopped")
    with pytest.raises(pocketdock.ContainerNotRunning) as info:
        again.run("true")
    assert isinstance(info.value, pocketdock.ContainerError)
    assert info.value.container_id == c.container_id
    pocketdock.destroy_container(c.name, socket_path=engine.socket)
    assert not exists(engine, c.container_id)
    with pytest.raises(pocketdock.ContainerNotFound):
        pocketdock.resume_container(c.name, socket_path=engine.socket)


def test_prune_removes_only_stopped_containers_of_the_project(engine: Engine, make_container: Any) -> None:
    project = unique("py-prune")
    a, b, running = (make_container(persist=True, project=project) for _ in range(3))
    a.shutdown(force=True)
    b.shutdown(force=True)
    assert {i.name for i in pocketdock.list_containers(socket_path=engine.socket, project=project)} == {
        a.name,
        b.name,
        running.name,
    }
    assert pocketdock.prune(socket_path=engine.socket, project=project) == 2
    assert not exists(engine, a.container_id) and exists(engine, running.container_id)
    assert pocketdock.prune(socket_path=engine.socket, project=project) == 0
    assert running.project == project


def test_removal_behind_our_back_is_container_gone(engine: Engine, make_container: Any) -> None:
    c = make_container()
    errors: List[BaseException] = []

    def long_run() -> None:
        try:
            c.run("sleep 60")
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    t = threading.Thread(target=long_run)
    t.start()
    time.sleep(1)
    remove_container(engine.socket, c.container_id)
    t.join(30)
    assert not t.is_alive()
    assert errors and isinstance(errors[0], pocketdock.ContainerGone), errors
    with pytest.raises(pocketdock.ContainerGone):
        c.run("true")
    with pytest.raises(pocketdock.ContainerError):
        c.info()


def test_a_missing_image_is_image_not_found(engine: Engine) -> None:
    with pytest.raises(pocketdock.ImageNotFound) as info:
        pocketdock.create_new_container(image="pocketdock/not-there:nope", socket_path=engine.socket)
    assert "pocketdock/not-there" in info.value.image
    with pytest.raises(pocketdock.ImageNotFound):  # a profile's image, never pulled
        pocketdock.create_new_container(profile="dev", socket_path=engine.socket)


def test_reboot_in_place_and_fresh(make_container: Any) -> None:
    c = make_container()
    c.write_file("/home/sandbox/note.txt", "x")
    c.run("sleep 307", detach=True)
    c.reboot()
    assert c.read_file("/home/sandbox/note.txt") == b"x"
    assert "sleep 307" not in c.run("ps -eo args").stdout
    old = c.container_id
    c.reboot(fresh=True)
    assert c.container_id != old
    assert c.run("test -e /home/sandbox/note.txt").exit_code == 1
    assert c.run("echo alive").stdout == "alive\n"


def test_snapshot_is_usable_as_an_image(engine: Engine, make_container: Any) -> None:
    c = make_container()
    c.write_file("/home/sandbox/baked.txt", "baked")
    ref = f"pocketdock-py-test/snap:{uuid.uuid4().hex[:8]}"
    image_id = c.snapshot(ref)
    try:
        assert image_id
        d = make_container(image=ref)
        assert d.read_file("/home/sandbox/baked.txt") == b"baked"
        d.shutdown(force=True)
    finally:
        remove_image(engine.socket, ref)
    with pytest.raises(ValueError):
        c.snapshot("Not A Valid:Ref!")


def test_info_reports_state_and_resources(make_container: Any) -> None:
    c = make_container(mem_limit="256m", cpu_percent=50)
    c.run("sleep 308", detach=True)
    info = c.info()
    assert isinstance(info, pocketdock.ContainerInfo)
    assert (info.id, info.name, info.status) == (c.container_id, c.name, "running")
    assert "pocketdock/minimal-python" in info.image
    assert info.created_at.tzinfo is not None and info.started_at is not None
    assert info.uptime is not None and info.uptime.total_seconds() >= 0
    assert info.memory_limit == "256.0 MB" and info.memory_usage.endswith("B")
    assert info.pids >= 2
    assert any("sleep 308" in p["COMMAND"] for p in info.processes)
    c.shutdown()


def test_profile_sets_the_image_and_turns_the_network_off(make_container: Any) -> None:
    c = make_container(profile="minimal-python")
    assert c.run("ls /sys/class/net").stdout.split() == ["lo"]
    assert c.info().network is False
    on = make_container(profile="minimal-python", network=True)
    assert "lo" in on.run("ls /sys/class/net").stdout.split()
    assert len(on.run("ls /sys/class/net").stdout.split()) >= 2


def test_another_image_runs_too(make_container: Any) -> None:
    c = make_container(image=BUSYBOX)
    assert c.run("echo busy").stdout == "busy\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_a_published_port_answers_on_the_host(make_container: Any) -> None:
    host_port = _free_port()
    c = make_container(ports={host_port: 8080})
    c.run("mkdir -p /tmp/www && echo served > /tmp/www/index.html")
    server = c.run("cd /tmp/www && exec python3 -m http.server 8080", detach=True)
    body = ""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and "served" not in body:
        try:
            with socket.create_connection(("127.0.0.1", host_port), timeout=2) as conn:
                conn.sendall(b"GET /index.html HTTP/1.0\r\n\r\n")
                body = conn.makefile("rb").read().decode()
        except OSError:
            time.sleep(0.2)
    assert body.startswith("HTTP/1.0 200") and "served" in body, body
    assert c.info().ports == {host_port: 8080}
    server.kill(signal=9)


def test_volumes_bind_host_directories(make_container: Any, tmp_path: Path) -> None:
    tmp_path.chmod(0o777)
    c = make_container(volumes={str(tmp_path): "/mnt/host"})
    c.run("echo from-sandbox > /mnt/host/out.txt")
    assert (tmp_path / "out.txt").read_text() == "from-sandbox\n"


# -- projects ----------------------------------------------------------------------------------


def test_init_and_find_project(tmp_path: Path) -> None:
    root = pocketdock.init_project(tmp_path / "app", project_name="py-app")
    assert root == (tmp_path / "app").resolve()
    config = (root / ".pocketdock" / "pocketdock.yaml").read_text()
    assert "project_name: py-app" in config and "default_profile: minimal-python" in config
    assert (root / ".pocketdock" / "instances").is_dir()
    (root / "a" / "b").mkdir(parents=True)
    assert pocketdock.find_project_root(root / "a" / "b") == root
    assert pocketdock.find_project_root(tmp_path) is None


def test_doctor_outside_a_project_raises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, socket_env: Engine
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(pocketdock.ProjectNotInitialized):
        pocketdock.doctor()


def test_persistent_containers_in_a_project_get_an_instance_dir(
    engine: Engine, make_container: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = unique("py-proj")
    root = pocketdock.init_project(tmp_path, project_name=name)
    monkeypatch.chdir(root)
    c = make_container(persist=True)
    try:
        assert c.project == name
        assert c.data_path and Path(c.data_path) == root / ".pocketdock" / "instances" / c.name
        c.run("echo logged")
        assert (Path(c.data_path) / "instance.toml").is_file()
        report = pocketdock.doctor(socket_path=engine.socket)
        assert report == pocketdock.DoctorReport(orphaned_containers=(), stale_instance_dirs=(), healthy=1)
        c.shutdown(force=True)
        remove_container(engine.socket, c.container_id)
        report = pocketdock.doctor(project_root=root, socket_path=engine.socket)
        assert report.stale_instance_dirs == (c.name,) and report.healthy == 0
    finally:
        remove_container(engine.socket, c.name)
    os.chdir(tmp_path)
