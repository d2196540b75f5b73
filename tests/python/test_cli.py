"""`pip install .` provides the `pocketdock` command: the Rust CLI, run from the package."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pocketdock
from conftest import Engine
from pocketdock import _cli


def command() -> str:
    found = shutil.which("pocketdock", path=str(Path(sys.executable).parent)) or shutil.which("pocketdock")
    assert found, "the pocketdock console script is not installed"
    return found


def test_the_command_is_the_bundled_rust_cli() -> None:
    exe = _cli.executable()
    assert exe.is_file() and os.access(exe, os.X_OK)
    assert exe.parent.parent == Path(pocketdock.__file__).resolve().parent
    out = subprocess.run([command(), "--version"], capture_output=True, text=True, check=True).stdout
    assert out.startswith("pocketdock ")
    help_text = subprocess.run([command(), "--help"], capture_output=True, text=True, check=True).stdout
    assert "Usage: pocketdock" in help_text and "exec" in help_text


def test_exec_runs_in_a_throwaway_sandbox(engine: Engine) -> None:
    env = {**os.environ, "POCKETDOCK_SOCKET": engine.socket}
    done = subprocess.run(
        [command(), "exec", "--", "echo hi; exit 3"], capture_output=True, text=True, env=env, timeout=120
    )
    assert (done.returncode, done.stdout) == (3, "hi\n"), done.stderr
    done = subprocess.run(
        [command(), "exec", "--json", "--lang", "python", "--", "print(2 + 2)"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["stdout"] == "4\n" and result["exit_code"] == 0
