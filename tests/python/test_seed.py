"""Every code block of the user's page ("Running Commands"), executed as written.

The blocks are read from the page itself at test time (``seedpage.extract_blocks``), in order,
into one namespace per engine holding ``c``, a sandbox of the stock image
``pocketdock/minimal-python``; each block is one test. After each statement, what the page's
comments say about a value is checked (``result.exit_code    # 0``), and so is what the block
prints where the page says what it prints.

Where the page's examples meet the stock image (said here, and checked as they really behave):

* ``make all 2>&1`` — there is no ``make`` in the image. The example still shows streaming as
  the page describes it: the shell's ``make: not found`` message arrives as a chunk (on stdout,
  because of ``2>&1``), then the stream ends. The test checks exactly that, and that the
  stream's result says exit code 127.
* ``python -m http.server 8080`` — runs (the image has ``python`` → python3). It never ends by
  itself, and Python buffers its stdout when not on a terminal, so the buffer reads show empty
  strings, as they would with the reference.
* "Wait for Completion" — waiting 60 s for the never-ending server would only show a timed-out
  result; so, stated here, this one block waits on a command that ends
  (``sleep 1; echo done``) and the page's ``print(result.exit_code)`` prints ``0``. The server
  from "Detached Mode" is the ``proc`` of "Kill" again, and the test checks that the kill
  really ended it (the reference's kill signalled nothing).
* ``python long_task.py`` — the user's own script, not in the image: run as written, Python
  reports on stderr that it cannot open the file and exits 2, which is what the callbacks
  print (``[err] python: can't open file …`` then ``Exited with code 2``). ``on_stdout`` with a
  script that prints is covered by ``test_core.py``.
"""

from __future__ import annotations

import ast
import contextlib
import io
import time
from typing import Any, Dict, Iterator

import pytest

import pocketdock
from conftest import SEED_PAGE, TEST_LABELS, Engine
from seedpage import Block, extract_blocks

BLOCKS = extract_blocks(SEED_PAGE)
BY_HEADING = {b.heading: b for b in BLOCKS}

# Context for single blocks, run before them in the shared namespace (see the module doc).
SETUP = {
    "Wait for Completion": 'server = proc\nproc = c.run("sleep 1; echo done", detach=True)',
    "Kill": "proc = server",
}


def test_the_extractor_finds_every_code_block_of_the_page() -> None:
    assert len(BLOCKS) == 12, [b.heading for b in BLOCKS]
    assert [b.heading for b in BLOCKS] == [
        "Blocking Mode (Default)",
        "Run Python Code",
        "Timeout",
        "Output Cap",
        "Streaming Mode",
        "Get Final Result After Streaming",
        "Detached Mode",
        "Read Buffered Output",
        "Buffer Overflow",
        "Wait for Completion",
        "Kill",
        "Callbacks",
    ]
    # Headings and prose stay out; the split "Read Buffered Output" example is one block.
    assert all("Timeout\n" not in b.code for b in BLOCKS)
    assert BY_HEADING["Read Buffered Output"].code.count("output = proc.") == 2
    assert BY_HEADING["Callbacks"].code.endswith('proc = c.run("python long_task.py", detach=True)')
    # The page's value claims are found (7 in the first block alone).
    assert len(BY_HEADING["Blocking Mode (Default)"].claims) == 7
    assert sum(len(b.claims) for b in BLOCKS) == 14


@pytest.fixture(scope="module")
def page(engine: Engine) -> Iterator[Dict[str, Any]]:
    """The namespace the page's examples share: ``c`` and what earlier blocks defined."""
    c = pocketdock.create_new_container(socket_path=engine.socket, labels=TEST_LABELS)
    namespace: Dict[str, Any] = {"c": c}
    try:
        yield namespace
    finally:
        for name in ("proc", "server"):
            p = namespace.get(name)
            if p is not None:
                p.kill(signal=9)
        c.shutdown(force=True)


def run_block(block: Block, namespace: Dict[str, Any]) -> str:
    """Executes the block statement by statement, checking the page's claims as they come;
    returns what it printed."""
    claims = {claim.line.strip(): claim for claim in block.claims}
    lines = block.code.splitlines()
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        for stmt in ast.parse(block.code).body:
            exec(compile(ast.Module([stmt], type_ignores=[]), f"<{block.heading}>", "exec"), namespace)  # noqa: S102
            claim = claims.get(lines[stmt.lineno - 1].strip())
            if claim is None:
                continue
            value = eval(claim.expression, namespace)  # noqa: S307
            if claim.type_name is not None:
                assert type(value).__name__ == claim.type_name, claim.line
            elif isinstance(claim.value, float):
                # "47.2" is an example timing: a duration in milliseconds is what is promised.
                assert isinstance(value, float) and value > 0, (claim.line, value)
            else:
                assert value == claim.value and type(value) is type(claim.value), (claim.line, value)
    return printed.getvalue()


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: f"{b.index:02d}-{b.heading}")
def test_seed_block(block: Block, page: Dict[str, Any]) -> None:
    setup = SETUP.get(block.heading)
    if setup:
        exec(setup, page)  # noqa: S102
    started = time.monotonic()
    out = run_block(block, page)
    elapsed = time.monotonic() - started
    check = CHECKS.get(block.heading)
    if check:
        check(page, out, elapsed)


# -- what each block prints or does, where the page says -------------------------------------


def _blocking(ns: Dict[str, Any], out: str, elapsed: float) -> None:
    assert out == ""
    assert ns["result"].stdout == "hello\n"


def _python(ns: Dict[str, Any], out: str, elapsed: float) -> None:
    assert out == "4\n\n"


def _timeout(ns: Dict[str, Any], out: str, elapsed: float) -> None:
    r = ns["result"]
    assert r.exit_code == -1 and r.timed_out
    assert 4.5 < elapsed < 15, elapsed
    # A timeout kills the command in the container too (the reference left it running).
    assert "sleep 60" not in ns["c"].run("ps -eo args").stdout


def _cap(ns: Dict[str, Any], out: str, elapsed: float) -> None:
    r = ns["result"]
    assert len(r.stdout.encode("utf-8", "surrogateescape")) <= 1024 * 3
    assert r.exit_code == 0  # the real exit code: the rest was drained, not a crash


def _streaming(ns: Dict[str, Any], out: str, elapsed: float) -> None:
    # `make` is not in the image: the shell says so (on stdout, as 2>&1 asks) and the stream ends.
    assert out.endswith("make: not found\n"), out
    assert ns["chunk"].stream in ("stdout", "stderr")
    assert ns["chunk"].stream == "stdout"


def _final_result(ns: Dict[str, Any], out: str, elapsed: float) -> None:
    assert out == "hello\n1\n"
    assert ns["stream"].result.stdout == "hello\n"


def _detached(ns: Dict[str, Any], out: str, elapsed: float) -> None:
    assert isinstance(ns["proc"], pocketdock.Process)


def _buffer(ns: Dict[str, Any], out: str, elapsed: float) -> None:
    # The server buffers its stdout (not a terminal): both reads print empty strings.
    assert out == "\n\n"
    assert isinstance(ns["output"], pocketdock.BufferSnapshot)


def _overflow(ns: Dict[str, Any], out: str, elapsed: float) -> None:
    assert ns["proc"].buffer_size == 0 and ns["proc"].buffer_overflow is False


def _wait(ns: Dict[str, Any], out: str, elapsed: float) -> None:
    assert out == "0\n"
    assert ns["result"].stdout == "done\n"


def _kill(ns: Dict[str, Any], out: str, elapsed: float) -> None:
    proc = ns["proc"]
    r = proc.wait(timeout=10)
    assert not r.timed_out and not proc.is_running()
    assert r.exit_code in (143, -15, 128 + 15), r  # ended by SIGTERM
    assert "http.server" not in ns["c"].run("ps -eo args").stdout


def _callbacks(ns: Dict[str, Any], out: str, elapsed: float) -> None:
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        r = ns["proc"].wait(timeout=30)
        deadline = time.monotonic() + 5
        while "Exited with code" not in out + printed.getvalue() and time.monotonic() < deadline:
            time.sleep(0.05)
    text = out + printed.getvalue()
    assert r.exit_code == 2
    assert "[err] python: can't open file" in text and "long_task.py" in text, text
    assert text.rstrip().endswith("Exited with code 2"), text


CHECKS = {
    "Blocking Mode (Default)": _blocking,
    "Run Python Code": _python,
    "Timeout": _timeout,
    "Output Cap": _cap,
    "Streaming Mode": _streaming,
    "Get Final Result After Streaming": _final_result,
    "Detached Mode": _detached,
    "Read Buffered Output": _buffer,
    "Buffer Overflow": _overflow,
    "Wait for Completion": _wait,
    "Kill": _kill,
    "Callbacks": _callbacks,
}
