"""`pocketdock mcp`, driven by the official MCP Python SDK (`mcp` on PyPI) as a client would:
over stdio (and once over streamable HTTP), on each engine — every tool, the error paths, the
cap, the host directory, and the removal of the server's sandboxes however it exits."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, AsyncIterator, Dict, List, Optional

import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from conftest import RUN_ID, Engine, engine_api, managed_containers

TOOLS = {
    "create_sandbox",
    "run_command",
    "start_process",
    "read_process_output",
    "kill_process",
    "write_file",
    "read_file",
    "list_files",
    "list_sandboxes",
    "shutdown_sandbox",
}


def pocketdock_command() -> str:
    found = shutil.which("pocketdock", path=str(Path(sys.executable).parent)) or shutil.which("pocketdock")
    assert found, "the pocketdock command is not installed"
    return found


def server_args(engine: Engine, *extra: str) -> List[str]:
    return [
        "--socket",
        engine.socket,
        "mcp",
        "--label",
        "pocketdock.test=1",
        "--label",
        f"pocketdock.test.run={RUN_ID}",
        *extra,
    ]


@contextlib.asynccontextmanager
async def session(engine: Engine, *extra: str, pidfile: Optional[Path] = None) -> AsyncIterator[ClientSession]:
    """A client session with a fresh server; `pidfile` receives the server's pid."""
    args = [pocketdock_command(), *server_args(engine, *extra)]
    if pidfile is not None:
        # The shell becomes the server (exec): its pid is the server's.
        params = StdioServerParameters(
            command="sh", args=["-c", f'echo $$ > "{pidfile}"; exec "$@"', "sh", *args]
        )
    else:
        params = StdioServerParameters(command=args[0], args=args[1:])
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as s:
            await s.initialize()
            yield s


async def call(s: ClientSession, tool: str, args: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """A tool's structured result; fails the test on a tool error."""
    r = await s.call_tool(tool, args or {})
    assert not r.is_error, f"{tool}: {r.content}"
    assert r.content and r.content[0].type == "text"  # the text block for text-only clients
    result: Dict[str, Any] = r.structured_content
    return result


async def fails(s: ClientSession, tool: str, args: Dict[str, Any]) -> str:
    """The one-line message of a tool error."""
    r = await s.call_tool(tool, args)
    assert r.is_error, f"{tool} {args} did not fail: {r.structured_content}"
    text: str = r.content[0].text
    assert "\n" not in text.strip(), text
    return text


def names_on_engine(engine: Engine) -> List[str]:
    return [
        (c.get("Labels") or {}).get("pocketdock.instance", "")
        for c in managed_containers(engine.socket)
        if (c.get("Labels") or {}).get("pocketdock.test.run") == RUN_ID
    ]


def wait_gone(pid: int, within: float = 60) -> None:
    """Until process `pid` has ended (a zombie counts as ended)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return
        if state == "Z":
            return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} still runs")


def test_tools_run_commands_in_a_default_sandbox(engine: Engine) -> None:
    async def main() -> None:
        async with session(engine, "--max-output", "1000") as s:
            tools = (await s.list_tools()).tools
            assert {t.name for t in tools} == TOOLS  # no push/pull without --allow-host-dir
            for t in tools:
                assert t.input_schema["type"] == "object" and t.description
            r = await call(s, "run_command", {"command": "echo hi; echo err >&2; exit 3"})
            assert (r["exit_code"], r["stdout"], r["stderr"], r["timed_out"]) == (3, "hi\n", "err\n", False)
            assert isinstance(r["duration_ms"], int)
            r = await call(
                s, "run_command", {"command": 'echo "$GREETING from $(pwd)"', "cwd": "/tmp", "env": {"GREETING": "hello"}}
            )
            assert r["stdout"] == "hello from /tmp\n"
            listed = (await call(s, "list_sandboxes"))["sandboxes"]
            assert len(listed) == 1 and listed[0]["default"], listed
            # The server's cap, and a call's own.
            r = await call(s, "run_command", {"command": "head -c 5000 /dev/zero | tr '\\0' x"})
            assert r["truncated"] and len(r["stdout"]) <= 1000, r
            r = await call(s, "run_command", {"command": "seq 100", "max_output": 20})
            assert r["truncated"] and len(r["stdout"]) <= 20
            r = await call(s, "run_command", {"command": "sleep 30", "timeout": 1})
            assert r["timed_out"] and r["exit_code"] == -1
            assert (await call(s, "run_command", {"command": "echo still"}))["stdout"] == "still\n"

    asyncio.run(main())


def test_sandboxes_files_and_their_errors(engine: Engine) -> None:
    async def main() -> None:
        async with session(engine, "--pool", "0") as s:
            made = await call(s, "create_sandbox", {"image": "pocketdock/busybox"})
            box = made["sandbox"]
            assert made["image"] == "pocketdock/busybox" and made["transport"]
            assert box in names_on_engine(engine)
            w = await call(s, "write_file", {"sandbox": box, "path": "notes/a.txt", "content": "héllo\n"})
            assert w["bytes"] == len("héllo\n".encode())
            blob = bytes(range(256))
            b64 = base64.b64encode(blob).decode()
            await call(s, "write_file", {"sandbox": box, "path": "/tmp/blob", "content": b64, "encoding": "base64"})
            r = await call(s, "read_file", {"sandbox": box, "path": "notes/a.txt"})
            assert (r["content"], r["encoding"], r["truncated"]) == ("héllo\n", "utf-8", False)
            r = await call(s, "read_file", {"sandbox": box, "path": "/tmp/blob", "encoding": "base64"})
            assert base64.b64decode(r["content"]) == blob
            assert "base64" in await fails(s, "read_file", {"sandbox": box, "path": "/tmp/blob"})
            assert (await call(s, "list_files", {"sandbox": box}))["files"] == ["notes/"]
            assert "a.txt" in (await call(s, "list_files", {"sandbox": box, "path": "notes"}))["files"]
            assert "no such file" in (await fails(s, "read_file", {"sandbox": box, "path": "/nope"})).lower()
            assert "base64" in await fails(
                s, "write_file", {"sandbox": box, "path": "x", "content": "%%%", "encoding": "base64"}
            )
            # Unknown sandboxes and bad arguments are tool errors, and the server goes on.
            assert "no sandbox" in await fails(s, "run_command", {"sandbox": "nope", "command": "true"})
            await fails(s, "run_command", {"command": 5})
            await fails(s, "run_command", {})
            await fails(s, "run_command", {"command": "true", "bogus": 1})
            await fails(s, "run_command", {"command": "true", "timeout": -1})
            await fails(s, "write_file", {"sandbox": box, "path": "x", "content": "y", "encoding": "latin-1"})
            await fails(s, "create_sandbox", {"image": "pocketdock/no-such-image:nope"})
            await fails(s, "create_sandbox", {"mem_limit": "lots"})
            done = await call(s, "shutdown_sandbox", {"sandbox": box})
            assert done == {"sandbox": box, "removed": True}
            assert box not in names_on_engine(engine)
            assert "no sandbox" in await fails(s, "shutdown_sandbox", {"sandbox": box})
            assert (await call(s, "list_sandboxes"))["sandboxes"] == []

    asyncio.run(main())


def test_background_processes(engine: Engine) -> None:
    async def main() -> None:
        async with session(engine, "--pool", "0") as s:
            box = (await call(s, "create_sandbox"))["sandbox"]
            pid = (await call(s, "start_process", {"sandbox": box, "command": "touch /tmp/go; for i in 1 2 3; do echo $i; done; echo e >&2; exit 7"}))["process_id"]
            out, err, end = "", "", None
            for _ in range(600):
                r = await call(s, "read_process_output", {"sandbox": box, "process_id": pid})
                out, err = out + r["stdout"], err + r["stderr"]
                if not r["running"] and not r["more_output"]:
                    end = r["exit_code"]
                    break
                await asyncio.sleep(0.05)
            assert (out, err, end) == ("1\n2\n3\n", "e\n", 7)
            # Read to its end, the process is forgotten.
            assert "no process" in await fails(s, "read_process_output", {"sandbox": box, "process_id": pid})
            # "forked" is printed once the shell has started its background sleep: two processes.
            sleeper = (await call(s, "start_process", {"sandbox": box, "command": "sleep 300 & echo forked; sleep 301"}))["process_id"]
            seen = ""
            for _ in range(600):
                r = await call(s, "read_process_output", {"sandbox": box, "process_id": sleeper})
                seen += r["stdout"]
                if "forked" in seen:
                    break
                await asyncio.sleep(0.05)
            assert r["running"] and "exit_code" not in r and seen == "forked\n"
            assert (await call(s, "kill_process", {"sandbox": box, "process_id": sleeper, "signal": 9}))["signalled"] >= 2
            for _ in range(600):
                r = await call(s, "read_process_output", {"sandbox": box, "process_id": sleeper})
                if not r["running"]:
                    break
                await asyncio.sleep(0.05)
            assert not r["running"]
            ps = await call(s, "run_command", {"sandbox": box, "command": "ps -eo args= | grep -c '^sleep 30[01]' || true"})
            assert ps["stdout"].strip() == "0", ps
            assert "no process" in await fails(s, "kill_process", {"sandbox": box, "process_id": "p99"})
            await fails(s, "kill_process", {"sandbox": box, "process_id": sleeper, "signal": 99})

    asyncio.run(main())


def test_the_sandbox_cap(engine: Engine) -> None:
    async def main() -> None:
        async with session(engine, "--pool", "0", "--max-sandboxes", "2") as s:
            a = (await call(s, "create_sandbox"))["sandbox"]
            await call(s, "create_sandbox")
            assert "maximum of 2" in await fails(s, "create_sandbox", {})
            # The default sandbox counts too.
            assert "maximum of 2" in await fails(s, "run_command", {"command": "true"})
            await call(s, "shutdown_sandbox", {"sandbox": a})
            await call(s, "run_command", {"command": "true"})

    asyncio.run(main())


def test_the_pool_serves_creations(engine: Engine) -> None:
    async def main() -> None:
        async with session(engine, "--pool", "2") as s:
            made = [await call(s, "create_sandbox") for _ in range(3)]
            assert len({m["sandbox"] for m in made}) == 3
            for m in made:
                assert (await call(s, "run_command", {"sandbox": m["sandbox"], "command": "test -e /tmp/x && echo used; touch /tmp/x; echo ok"}))["stdout"] == "ok\n"

    asyncio.run(main())


@pytest.mark.parametrize("how", ["stdin", "SIGTERM", "SIGINT"])
def test_sandboxes_go_when_the_server_exits(engine: Engine, how: str, tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"

    async def main() -> List[str]:
        async with session(engine, pidfile=pidfile) as s:
            made = [(await call(s, "create_sandbox"))["sandbox"], (await call(s, "create_sandbox", {"persist": True}))["sandbox"]]
            await call(s, "run_command", {"command": "true"})
            made += [sb["sandbox"] for sb in (await call(s, "list_sandboxes"))["sandboxes"] if sb["default"]]
            assert all(m in names_on_engine(engine) for m in made)
            if how != "stdin":
                pid = int(pidfile.read_text())
                os.kill(pid, getattr(signal, how))
                wait_gone(pid)
        return made

    temporary, persistent, default = asyncio.run(main())
    wait_gone(int(pidfile.read_text()))
    left = names_on_engine(engine)
    assert temporary not in left and default not in left, left
    # Nothing else of the server's (its pool) is left either.
    assert left == [persistent], left
    engine_api(engine.socket, "DELETE", f"/containers/{persistent}?force=1")


def test_after_sigkill_the_orphan_sweep_removes_them(engine: Engine, tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"

    async def main() -> str:
        async with session(engine, pidfile=pidfile) as s:
            box = (await call(s, "create_sandbox", {"image": "pocketdock/busybox"}))["sandbox"]
            os.kill(int(pidfile.read_text()), signal.SIGKILL)
            wait_gone(int(pidfile.read_text()))
            return box

    with contextlib.suppress(Exception):  # the client sees its server die
        asyncio.run(main())
    assert any(names_on_engine(engine))
    done = subprocess.run(
        [pocketdock_command(), "--socket", engine.socket, "prune", "--orphans", "-y"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert names_on_engine(engine) == []


def test_host_files_only_inside_the_allowed_directory(engine: Engine, tmp_path: Path) -> None:
    allowed = tmp_path / "allowed"
    outside = tmp_path / "outside"
    allowed.mkdir()
    outside.mkdir()
    (allowed / "in.txt").write_text("from the host\n")
    (outside / "secret.txt").write_text("secret\n")
    (allowed / "link").symlink_to(outside)

    async def main() -> None:
        async with session(engine, "--pool", "0", "--allow-host-dir", str(allowed)) as s:
            assert {t.name for t in (await s.list_tools()).tools} == TOOLS | {"push", "pull"}
            box = (await call(s, "create_sandbox"))["sandbox"]
            await call(s, "push", {"sandbox": box, "host_path": "in.txt", "sandbox_path": "/tmp/in.txt"})
            r = await call(s, "run_command", {"sandbox": box, "command": "cat /tmp/in.txt; echo made > /tmp/out.txt"})
            assert r["stdout"] == "from the host\n"
            await call(s, "pull", {"sandbox": box, "host_path": "sub/out.txt", "sandbox_path": "/tmp/out.txt"})
            assert (allowed / "sub" / "out.txt").read_text() == "made\n"
            for host_path in ["../outside/secret.txt", str(outside / "secret.txt"), "link/secret.txt", "/etc/passwd"]:
                await fails(s, "push", {"sandbox": box, "host_path": host_path, "sandbox_path": "/tmp/x"})
            for host_path in ["../outside/new.txt", "link/new.txt", str(outside / "new.txt")]:
                await fails(s, "pull", {"sandbox": box, "host_path": host_path, "sandbox_path": "/tmp/out.txt"})
            assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]

    asyncio.run(main())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_streamable_http_behind_a_bearer_token(engine: Engine) -> None:
    import httpx2
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    port = free_port()
    token = "t-" + RUN_ID + "-0123456789"
    server = subprocess.Popen(
        [pocketdock_command(), *server_args(engine, "--pool", "0", "--http", f"127.0.0.1:{port}", "--token", token)],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stderr is not None
        line = server.stderr.readline()  # says it listens
        assert f"127.0.0.1:{port}/mcp" in line and token not in line, line
        url = f"http://127.0.0.1:{port}/mcp"
        assert httpx2.post(url, json={}).status_code == 401
        assert httpx2.post(url, json={}, headers={"Authorization": "Bearer wrong"}).status_code == 401

        async def main() -> str:
            client = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
            async with client, streamable_http_client(url, http_client=client) as (read, write, *_):
                async with ClientSession(read, write) as s:
                    await s.initialize()
                    r = await call(s, "run_command", {"command": "echo over http"})
                    assert r["stdout"] == "over http\n"
                    return str((await call(s, "list_sandboxes"))["sandboxes"][0]["sandbox"])

        box = asyncio.run(main())
        assert box in names_on_engine(engine)
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0
        assert box not in names_on_engine(engine)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def test_http_refuses_other_addresses(engine: Engine) -> None:
    done = subprocess.run(
        [pocketdock_command(), *server_args(engine, "--http", "0.0.0.0:8931", "--token", "x" * 20)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0 and "loopback" in done.stderr, done.stderr
