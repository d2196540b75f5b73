"""Editors and mypy see every signature: the installed package type-checks under ``--strict``
(``py.typed``, annotated sources and the ``_native.pyi`` stub), and user code gets precise
types — including ``run``'s overloads — and errors for wrong calls."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import pocketdock

mypy = pytest.importorskip("mypy", reason="scripts/test-python.sh installs mypy")

PACKAGE = Path(pocketdock.__file__).resolve().parent

USER_CODE = """
import asyncio
import pocketdock
from pocketdock.async_ import create_new_container as acreate

c = pocketdock.create_new_container(mem_limit="256m", ports={8080: 80})
reveal_type(c.run("echo hi"))
reveal_type(c.run("echo hi", stream=True))
reveal_type(c.run("echo hi", detach=True))
reveal_type(c.run("echo hi", detach=True).wait(timeout=1))
reveal_type(c.read_file("/x"))
reveal_type(c.info().created_at)
reveal_type(pocketdock.list_containers())
reveal_type(pocketdock.doctor())
c.run(123)
c.run("x", timeout="soon")

async def main() -> None:
    async with await acreate() as a:
        reveal_type(await a.run("x"))
        async for chunk in await a.run("x", stream=True):
            reveal_type(chunk)
"""


def test_the_package_type_checks_strictly() -> None:
    for name in ("py.typed", "_native.pyi"):
        assert (PACKAGE / name).is_file(), name
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--cache-dir=/dev/null",
            "-p",
            "pocketdock",
        ],
        capture_output=True,
        text=True,
        cwd="/",
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_user_code_sees_precise_types(tmp_path: Path) -> None:
    sample = tmp_path / "user.py"
    sample.write_text(USER_CODE)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--no-incremental",
            "--cache-dir=/dev/null",
            "--no-error-summary",
            str(sample),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    out = done.stdout
    revealed = [
        line.split('Revealed type is "')[1].rstrip('"').replace("builtins.", "")
        for line in out.splitlines()
        if "Revealed type" in line
    ]
    assert revealed == [
        "pocketdock.types.ExecResult",
        "pocketdock._sync_container.SyncExecStream",
        "pocketdock._sync_container.SyncProcess",
        "pocketdock.types.ExecResult",
        "bytes",
        "datetime.datetime",
        "list[pocketdock.types.ContainerListItem]",
        "pocketdock.types.DoctorReport",
        "pocketdock.types.ExecResult",
        "pocketdock.types.StreamChunk",
    ], out
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert len(errors) == 2 and all("user.py:15" in e or "user.py:16" in e for e in errors), out
