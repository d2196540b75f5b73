"""Command options beyond the reference's, from Python, on each engine: an argv, environment,
directory, user, stdin — blocking, streaming, detached and async."""

from __future__ import annotations

import asyncio
import os

import pytest

import pocketdock
from conftest import TEST_LABELS, Engine
from pocketdock import async_


def expected_transport() -> str:
    return {"exec": "engine-exec", "bridge": "agent-bridge"}.get(
        os.environ.get("POCKETDOCK_TRANSPORT", ""), "agent"
    )


def test_the_sandbox_reports_its_transport(c: pocketdock.Container) -> None:
    assert c.transport == expected_transport()
    assert c.info().transport == expected_transport()


def test_a_list_is_an_argv_run_exactly(c: pocketdock.Container) -> None:
    r = c.run(["printf", "%s\n", "it's", "$HOME"])
    assert r.stdout == "it's\n$HOME\n"
    r = c.run(["sh", "-c", "echo hi; exit 3"])
    assert (r.stdout, r.exit_code) == ("hi\n", 3)
    r = c.run(["no-such-program-xyz"])
    assert r.exit_code == 127 and "no-such-program-xyz" in r.stderr


def test_env_cwd_user_and_stdin(c: pocketdock.Container) -> None:
    r = c.run('echo "$A|$PWD|$(id -un)"', env={"A": "one two"}, cwd="/tmp", user="root")
    assert r.stdout == "one two|/tmp|root\n"
    assert c.run("id -u", user=1000).stdout == "1000\n"
    assert c.run("cat", stdin="fed\n").stdout == "fed\n"
    assert c.run(["wc", "-c"], stdin=b"\x00\xff" * 1000).stdout.strip() == "2000"
    chunks = list(c.run(["sh", "-c", "cat; echo $B"], stream=True, stdin="in\n", env={"B": "b"}))
    assert "".join(ch.data for ch in chunks) == "in\nb\n"


def test_a_detached_process_takes_stdin(c: pocketdock.Container) -> None:
    proc = c.run("tr a-z A-Z", detach=True)
    proc.write_stdin("hello ")
    proc.write_stdin(b"world\n")
    assert proc.is_running()
    proc.close_stdin()
    r = proc.wait(timeout=20)
    assert (r.stdout, r.exit_code) == ("HELLO WORLD\n", 0)


def test_bad_command_options_are_clear_errors(c: pocketdock.Container) -> None:
    with pytest.raises(ValueError):
        c.run([])
    with pytest.raises(TypeError):
        c.run(["echo", 3])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        c.run("true", env={"A": 1})  # type: ignore[dict-item]


def test_async_twins(engine: Engine) -> None:
    async def main() -> None:
        c = await async_.create_new_container(socket_path=engine.socket, labels=TEST_LABELS)
        try:
            r = await c.run(["printf", "%s", "a b"], env={"X": "1"})
            assert r.stdout == "a b"
            proc = await c.run("cat", detach=True)
            await proc.write_stdin("async\n")
            await proc.close_stdin()
            assert (await proc.wait(timeout=20)).stdout == "async\n"
        finally:
            await c.shutdown()

    asyncio.run(main())
