"""The ``pocketdock`` command: the Rust CLI (crates/pocketdock-cli), shipped in the package."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import NoReturn


def executable() -> Path:
    """Path of the bundled ``pocketdock`` binary."""
    return Path(__file__).resolve().parent / "_bin" / "pocketdock"


def main() -> NoReturn:
    """Run the bundled CLI with this process's arguments, in place of this process."""
    exe = executable()
    if not exe.is_file():
        sys.stderr.write(
            f"pocketdock: the command's binary is missing ({exe}); reinstall the package "
            "with `pip install .` from the pocketdock repository\n"
        )
        sys.exit(127)
    argv = ["pocketdock", *sys.argv[1:]]
    if os.name == "posix":
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(exe, argv)
    sys.exit(subprocess.call([str(exe), *argv[1:]]))  # pragma: no cover - not POSIX


if __name__ == "__main__":
    main()
