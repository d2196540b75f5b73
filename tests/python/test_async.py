"""The async twin (``pocketdock.async_``), on each engine, driven by the Rust runtime."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, List, TypeVar

import pytest

import pocketdock
from conftest import TEST_LABELS, Engine
from pocketdock import async_, persistence, projects
from pocketdock.async_ import AsyncContainer, AsyncExecStream, AsyncProcess, AsyncSession

T = TypeVar("T")


def run(engine: Engine, body: Callable[[AsyncContainer], Awaitable[T]], **kw: Any) -> T:
    """``body(c)`` on a fresh async sandbox inside ``async with``, under ``asyncio.run``."""

    async def main() -> T:
        kw.setdefault("labels", TEST_LABELS)
        async with await async_.create_new_container(socket_path=engine.socket, **kw) as c:
            assert isinstance(c, AsyncContainer)
            return await body(c)

    return asyncio.run(main())


def test_blocking_streaming_and_detached_runs(engine: Engine) -> None:
    async def body(c: AsyncContainer) -> None:
        r = await c.run("echo hello")
        assert (r.exit_code, r.stdout, r.ok) == (0, "hello\n", True)
        assert (await c.run("print(2 + 2)", lang="python")).stdout == "4\n"
        r = await c.run("sleep 60", timeout=1)
        assert r.timed_out and not r.ok
        assert (await c.run("cat /dev/urandom | head -c 1000000", max_output=1024)).truncated

        stream = await c.run("echo hello && exit 1", stream=True)
        assert isinstance(stream, AsyncExecStream)
        chunks = [chunk async for chunk in stream]
        assert [ch.data for ch in chunks] == ["hello\n"] and chunks[0].stream == "stdout"
        assert stream.result.exit_code == 1

        printed = []
        async for chunk in await c.run("make all 2>&1", stream=True):
            printed.append(chunk.data)
        assert "".join(printed).endswith("make: not found\n")

        proc = await c.run("sleep 309", detach=True)
        assert isinstance(proc, AsyncProcess)
        assert await proc.is_running()
        assert proc.read() == proc.peek() == pocketdock.BufferSnapshot("", "")
        assert (proc.buffer_size, proc.buffer_overflow) == (0, False)
        r = await proc.wait(timeout=0.3)
        assert r.timed_out
        await proc.kill()
        r = await proc.wait(timeout=10)
        assert not r.timed_out and not await proc.is_running()

    run(engine, body)


def test_concurrent_runs_on_one_container(engine: Engine) -> None:
    async def body(c: AsyncContainer) -> None:
        started = time.monotonic()
        results = await asyncio.gather(*(c.run(f"sleep 1; echo {i}") for i in range(8)))
        assert [r.stdout for r in results] == [f"{i}\n" for i in range(8)]
        assert time.monotonic() - started < 8  # together, not one after the other

    run(engine, body)


def test_cancelling_a_run_kills_the_command(engine: Engine) -> None:
    async def body(c: AsyncContainer) -> None:
        task = asyncio.ensure_future(c.run("sleep 310"))
        await asyncio.sleep(1)
        assert "sleep 310" in (await c.run("ps -eo args")).stdout
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        for _ in range(100):
            if "sleep 310" not in (await c.run("ps -eo args")).stdout:
                break
            await asyncio.sleep(0.1)
        assert "sleep 310" not in (await c.run("ps -eo args")).stdout
        r = await asyncio.wait_for(c.run("echo fine"), timeout=30)
        assert r.stdout == "fine\n"

    run(engine, body)


def test_the_event_loop_is_never_blocked(engine: Engine) -> None:
    async def body(c: AsyncContainer) -> None:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        t = asyncio.ensure_future(ticker())
        await c.run("sleep 1")
        t.cancel()
        assert ticks > 30, ticks

    run(engine, body)


def test_callbacks_session_files_info_and_errors(engine: Engine, tmp_path: Path) -> None:
    async def body(c: AsyncContainer) -> None:
        events: List[Any] = []
        c.on_stdout(lambda container, data: events.append((container, data)))
        c.on_exit(lambda container, code: events.append((container, code)))
        proc = await c.run("echo cb", detach=True)
        await proc.wait(timeout=20)
        for _ in range(100):
            if len(events) >= 2:
                break
            await asyncio.sleep(0.05)
        assert events == [(c, "cb\n"), (c, 0)]

        s = await c.session()
        assert isinstance(s, AsyncSession)
        await s.send_and_wait("cd /tmp && X=7")
        r = await s.send_and_wait("echo $X; pwd")
        assert r.stdout == "7\n/tmp\n"
        seen: List[str] = []
        s.on_output(seen.append)
        await s.send("echo later")
        for _ in range(100):
            if "later" in "".join(seen):
                break
            await asyncio.sleep(0.05)
        assert "later\n" in s.read()
        await s.close()
        with pytest.raises(pocketdock.SessionClosed):
            await s.send("x")

        await c.write_file("/home/sandbox/a/b.txt", "async")
        assert await c.read_file("/home/sandbox/a/b.txt") == b"async"
        assert "a/" in await c.list_files()
        await c.pull("/home/sandbox/a", tmp_path / "a")
        assert (tmp_path / "a" / "b.txt").read_text() == "async"
        await c.push(tmp_path / "a", "/home/sandbox/copy")
        assert await c.list_files("/home/sandbox/copy") == ["b.txt"]
        with pytest.raises(FileNotFoundError):
            await c.read_file("/nope")

        info = await c.info()
        assert info.name == c.name and info.status == "running"
        await c.reboot()
        assert (await c.run("echo back")).ok

        with pytest.raises(ValueError):
            await c.run("x", stream=True, detach=True)

    run(engine, body)


def test_persistence_and_projects_are_async(engine: Engine, tmp_path: Path) -> None:
    async def main() -> None:
        project = f"py-async-{time.monotonic_ns()}"
        c = await async_.create_new_container(
            socket_path=engine.socket, persist=True, project=project, labels=TEST_LABELS
        )
        try:
            await c.shutdown()
            items = await persistence.list_containers(socket_path=engine.socket, project=project)
            assert [i.name for i in items] == [c.name]
            again = await persistence.resume_container(c.name, socket_path=engine.socket)
            assert (await again.run("echo resumed")).stdout == "resumed\n"
            await persistence.stop_container(c.name, socket_path=engine.socket)
            assert await persistence.prune(socket_path=engine.socket, project=project) == 1
            with pytest.raises(pocketdock.ContainerNotFound):
                await persistence.destroy_container(c.name, socket_path=engine.socket)
        finally:
            try:
                await persistence.destroy_container(c.name, socket_path=engine.socket)
            except pocketdock.ContainerNotFound:
                pass

        root = projects.init_project(tmp_path, project_name="py-async-project")
        report = await projects.doctor(project_root=root, socket_path=engine.socket)
        assert report == pocketdock.DoctorReport((), (), 0)

    asyncio.run(main())


def test_async_errors_are_the_same_classes(engine: Engine) -> None:
    async def main() -> None:
        with pytest.raises(pocketdock.ImageNotFound):
            await async_.create_new_container(image="pocketdock/absent:x", socket_path=engine.socket)
        with pytest.raises(ValueError):
            await async_.create_new_container(mem_limit="1.5g", socket_path=engine.socket)
        with pytest.raises(pocketdock.ContainerNotFound):
            await async_.resume_container("pd-absent-py", socket_path=engine.socket)

    asyncio.run(main())


def test_no_python_thread_of_our_own(engine: Engine) -> None:
    before = {t.name for t in threading.enumerate()}

    async def body(c: AsyncContainer) -> None:
        await c.run("true")

    run(engine, body)
    pocketdock.create_new_container(socket_path=engine.socket, labels=TEST_LABELS).shutdown()
    assert {t.name for t in threading.enumerate()} == before
