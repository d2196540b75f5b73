"""The Python README's examples run as written, on each engine, and print what they say."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path
from typing import List

import pytest

from conftest import REPO, Engine

README = REPO / "python" / "README.md"


def python_blocks(path: Path) -> List[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S)


BLOCKS = python_blocks(README)


def test_the_readme_has_the_quickstart_and_the_async_example() -> None:
    assert len(BLOCKS) == 2
    assert "create_new_container()" in BLOCKS[0] and "async with" in BLOCKS[1]


@pytest.mark.parametrize("index", range(len(BLOCKS)), ids=["quickstart", "async"])
def test_readme_example(index: int, socket_env: Engine) -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(BLOCKS[index], f"README block {index}", "exec"), {"__name__": "__readme__"})  # noqa: S102
    text = out.getvalue()
    if index == 0:
        assert text == (
            "0 'hello\\n' True\n4\n\nTrue\nstdout one\nstderr two\n3\ndone\nb'hi'\nTrue\n/tmp\n1\n"
        ), text
    else:
        assert text == "hello\na\nb\n", text
