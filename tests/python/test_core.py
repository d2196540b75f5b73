"""The core's behaviours, seen from Python, on each engine: the three run modes, callbacks,
the GIL, sessions and files."""

from __future__ import annotations

import gc
import sys
import threading
import time
from pathlib import Path
from typing import Any, List, Tuple

import pytest

import pocketdock


def processes(c: pocketdock.Container) -> str:
    """The argv of every process in the container."""
    return c.run("ps -eo args").stdout


def wait_until(predicate: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


# -- blocking ----------------------------------------------------------------------------------


def test_blocking_run_fills_every_field(c: pocketdock.Container) -> None:
    r = c.run("echo out; echo err >&2; exit 3")
    assert (r.exit_code, r.stdout, r.stderr, r.timed_out, r.truncated) == (3, "out\n", "err\n", False, False)
    assert not r.ok and isinstance(r.duration_ms, float) and r.duration_ms > 0
    r = c.run("import sys; print(sys.version_info[0])", lang="python")
    assert (r.exit_code, r.stdout) == (0, "3\n")


def test_the_oom_killer_is_named(make_container: Any) -> None:
    c = make_container(mem_limit="64m")
    r = c.run("python3 -c 'x = bytearray(400 << 20)'")
    assert (r.exit_code, r.oom_killed) == (137, True), r
    r = c.run("kill -9 $$")
    assert (r.exit_code, r.oom_killed) == (137, False), r
    assert c.run("echo ok").stdout == "ok\n"


def test_run_rejects_bad_options(c: pocketdock.Container) -> None:
    with pytest.raises(ValueError, match="mutually exclusive"):
        c.run("true", stream=True, detach=True)
    with pytest.raises(ValueError, match="language"):
        c.run("true", lang="cobol")
    with pytest.raises(ValueError, match="max_output"):
        c.run("true", max_output=-1)
    with pytest.raises(ValueError, match="timeout"):
        c.run("true", timeout=-2)


def test_timeout_kills_every_process_and_keeps_the_output_so_far(c: pocketdock.Container) -> None:
    started = time.monotonic()
    r = c.run("echo started; sleep 300 & sleep 301; echo never", timeout=1)
    assert time.monotonic() - started < 10
    assert (r.exit_code, r.timed_out, r.ok, r.stdout) == (-1, True, False, "started\n")
    ps = processes(c)
    assert "sleep 300" not in ps and "sleep 301" not in ps, ps


def test_the_containers_default_timeout_applies(make_container: Any) -> None:
    c = make_container(timeout=1)
    r = c.run("sleep 20")
    assert r.timed_out and r.duration_ms < 10_000
    assert c.run("sleep 2", timeout=5).ok  # a per-run timeout wins


def test_output_cap_is_exact_and_keeps_the_real_exit_code(c: pocketdock.Container) -> None:
    r = c.run("head -c 100000 /dev/zero | tr '\\0' a; echo tail >&2; exit 3", max_output=100)
    assert (len(r.stdout) + len(r.stderr), r.truncated, r.exit_code) == (100, True, 3)
    # Engines forward the two streams independently: the late stderr line may overtake some
    # stdout, but what is kept is exactly 100 bytes of what the command wrote.
    assert set(r.stdout) == {"a"} and "tail\n".startswith(r.stderr)
    assert not c.run("echo small", max_output=100).truncated


def test_invalid_utf8_becomes_replacement_characters(c: pocketdock.Container) -> None:
    r = c.run("printf 'ok\\377\\n'")
    assert r.stdout == "ok\ufffd\n"


# -- streaming ---------------------------------------------------------------------------------


def test_stream_yields_both_streams_then_the_result(c: pocketdock.Container) -> None:
    stream = c.run("echo one; sleep 0.3; echo two >&2; exit 4", stream=True)
    assert isinstance(stream, pocketdock.ExecStream)
    with pytest.raises(RuntimeError, match="iteration completes"):
        stream.result  # noqa: B018
    chunks = list(stream)
    assert all(isinstance(ch, pocketdock.StreamChunk) for ch in chunks)
    assert ("stdout", "one\n") in [(ch.stream, ch.data) for ch in chunks]
    assert ("stderr", "two\n") in [(ch.stream, ch.data) for ch in chunks]
    r = stream.result
    assert (r.exit_code, r.stdout, r.stderr) == (4, "one\n", "two\n")
    assert list(stream) == []  # ended streams stay ended


def test_stream_never_splits_a_character(c: pocketdock.Container) -> None:
    # The euro sign's three bytes arrive in two writes 0.3 s apart.
    stream = c.run("printf '\\342'; sleep 0.3; printf '\\202\\254\\n'", stream=True)
    data = [ch.data for ch in stream]
    assert "".join(data) == "€\n" and "\ufffd" not in "".join(data)


def test_dropping_an_unfinished_stream_kills_the_command(c: pocketdock.Container) -> None:
    stream = c.run("echo go; exec sleep 302", stream=True)
    assert next(stream).data == "go\n"
    del stream
    gc.collect()
    assert wait_until(lambda: "sleep 302" not in processes(c)), processes(c)


# -- detached ----------------------------------------------------------------------------------


def test_read_drains_and_peek_does_not(c: pocketdock.Container) -> None:
    p = c.run("echo out; echo err >&2", detach=True)
    assert isinstance(p, pocketdock.Process)
    r = p.wait(timeout=20)
    assert r.exit_code == 0 and not p.is_running()
    assert p.peek() == pocketdock.BufferSnapshot("out\n", "err\n")
    assert p.buffer_size == 8
    assert p.read() == pocketdock.BufferSnapshot("out\n", "err\n")
    assert p.read() == pocketdock.BufferSnapshot("", "") and p.buffer_size == 0


def test_buffer_overflow_keeps_the_newest_output(c: pocketdock.Container) -> None:
    p = c.run("head -c 700000 /dev/zero | tr '\\0' x; echo END", detach=True)
    p.wait(timeout=30)
    assert p.buffer_overflow is True
    assert 0 < p.buffer_size <= 512 * 1024
    assert p.peek().stdout.endswith("xEND\n")


def test_each_process_has_an_id_of_its_own(c: pocketdock.Container) -> None:
    a = c.run("true", detach=True)
    b = c.run("true", detach=True)
    assert isinstance(a.id, str) and len(a.id) >= 12
    assert a.id != b.id
    a.wait(timeout=30)
    b.wait(timeout=30)


def test_wait_with_a_timeout_leaves_the_process_running(c: pocketdock.Container) -> None:
    p = c.run("sleep 303", detach=True)
    r = p.wait(timeout=0.5)
    assert (r.timed_out, r.exit_code) == (True, -1)
    assert p.is_running()
    p.kill(signal=9)
    assert p.wait(timeout=10).exit_code in (137, -9)


def test_kill_reaches_every_process_the_command_started(c: pocketdock.Container) -> None:
    p = c.run("sleep 304 & sleep 305 & wait", detach=True)
    assert wait_until(lambda: "sleep 305" in processes(c))
    assert p.kill() is None
    r = p.wait(timeout=10)
    assert not r.timed_out and not p.is_running()
    ps = processes(c)
    assert "sleep 304" not in ps and "sleep 305" not in ps, ps
    p.kill()  # after the end: nothing to do, no error


def test_callbacks_see_output_then_exit_with_the_container(c: pocketdock.Container) -> None:
    events: List[Tuple[str, Any, Any]] = []
    c.on_stdout(lambda container, data: events.append(("out", container, data)))
    c.on_stderr(lambda container, data: events.append(("err", container, data)))
    c.on_exit(lambda container, code: events.append(("exit", container, code)))
    p = c.run("echo hello; echo oops >&2; exit 5", detach=True)
    p.wait(timeout=20)
    assert wait_until(lambda: any(e[0] == "exit" for e in events))
    assert all(e[1] is c for e in events)
    assert "".join(e[2] for e in events if e[0] == "out") == "hello\n"
    assert "".join(e[2] for e in events if e[0] == "err") == "oops\n"
    assert events[-1][0] == "exit" and events[-1][2] == 5


def test_an_exception_in_a_callback_is_reported_and_reading_goes_on(
    c: pocketdock.Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    reported: List[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)
    seen: List[str] = []

    def broken(container: Any, data: str) -> None:
        raise RuntimeError("callback bug")

    c.on_stdout(broken)
    c.on_stdout(lambda container, data: seen.append(data))
    exits: List[int] = []
    c.on_exit(lambda container, code: exits.append(code))
    p = c.run("for i in 1 2 3; do echo line$i; sleep 0.1; done", detach=True)
    assert p.wait(timeout=20).exit_code == 0
    assert wait_until(lambda: exits == [0])
    assert "".join(seen) == "line1\nline2\nline3\n"
    assert p.peek().stdout == "line1\nline2\nline3\n"
    assert reported and isinstance(reported[0].exc_value, RuntimeError)
    assert reported[0].object is broken


def test_callbacks_run_on_a_reader_thread_and_may_use_the_blocking_api(c: pocketdock.Container) -> None:
    results: List[Any] = []

    def on_exit(container: pocketdock.Container, code: int) -> None:
        results.append(
            (threading.current_thread() is threading.main_thread(), container.run("echo nested").stdout)
        )

    c.on_exit(on_exit)
    c.run("true", detach=True).wait(timeout=20)
    assert wait_until(lambda: bool(results), timeout=20)
    assert results == [(False, "nested\n")]


def test_blocking_calls_release_the_gil(c: pocketdock.Container) -> None:
    done = threading.Event()
    result: List[Any] = []
    t = threading.Thread(target=lambda: (result.append(c.run("sleep 1.5")), done.set()))
    t.start()
    spins = 0
    while not done.is_set():
        spins += 1
    t.join()
    assert result[0].ok
    assert spins > 100_000, spins  # this thread ran all along


# -- sessions ----------------------------------------------------------------------------------


def test_session_keeps_directory_and_variables(c: pocketdock.Container) -> None:
    s = c.session()
    assert isinstance(s, pocketdock.Session) and s.id
    assert s.send_and_wait("cd /tmp && export GREETING=hi").ok
    r = s.send_and_wait("pwd; echo $GREETING; echo warn >&2; false")
    assert (r.stdout, r.stderr, r.exit_code) == ("/tmp\nhi\n", "warn\n", 1)
    assert "__PD_" not in s.read()
    s.close()


def test_session_timeout_interrupts_and_the_session_goes_on(c: pocketdock.Container) -> None:
    s = c.session()
    r = s.send_and_wait("echo before; sleep 306", timeout=1)
    assert (r.timed_out, r.exit_code, r.stdout) == (True, -1, "before\n")
    assert "sleep 306" not in processes(c)
    assert s.send_and_wait("echo after").stdout == "after\n"
    s.close()


def test_session_send_read_on_output_and_close(c: pocketdock.Container) -> None:
    s = c.session()
    seen: List[str] = []
    s.on_output(seen.append)
    s.send("echo fire-and-forget")
    assert wait_until(lambda: "fire-and-forget" in "".join(seen))
    assert "fire-and-forget\n" in s.read()
    assert s.read() == ""
    s.close()
    for call in (lambda: s.send("x"), lambda: s.send_and_wait("x")):
        with pytest.raises(pocketdock.SessionClosed):
            call()
    s.close()  # twice is fine


def test_shutdown_closes_sessions(engine: Any, make_container: Any) -> None:
    c = make_container()
    s = c.session()
    c.shutdown()
    with pytest.raises(pocketdock.SessionClosed):
        s.send_and_wait("echo hi")


# -- files -------------------------------------------------------------------------------------


def test_write_read_and_list_files(c: pocketdock.Container) -> None:
    every_byte = bytes(range(256))
    c.write_file("/home/sandbox/deep/dir/data.bin", every_byte)
    c.write_file("/home/sandbox/text.txt", "héllo\n")
    assert c.read_file("/home/sandbox/deep/dir/data.bin") == every_byte
    assert c.read_file("/home/sandbox/text.txt") == "héllo\n".encode()
    names = c.list_files()
    assert "deep/" in names and "text.txt" in names
    assert c.list_files("/home/sandbox/deep/dir") == ["data.bin"]
    assert c.run("stat -c %U /home/sandbox/deep/dir/data.bin").stdout == "sandbox\n"
    with pytest.raises(FileNotFoundError):
        c.read_file("/home/sandbox/missing.txt")
    with pytest.raises(TypeError):
        c.write_file("/tmp/x", 42)  # type: ignore[arg-type]


def test_push_and_pull_trees_like_cp(c: pocketdock.Container, tmp_path: Path) -> None:
    src = tmp_path / "proj"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "a.txt").write_text("A")
    (src / "run.sh").write_text("#!/bin/sh\necho ran\n")
    (src / "run.sh").chmod(0o755)
    c.push(src, "/home/sandbox/proj")  # missing destination: becomes the copy
    assert c.run("/home/sandbox/proj/run.sh").stdout == "ran\n"
    c.run("mkdir -p /home/sandbox/into")
    c.push(str(src), "/home/sandbox/into")  # existing directory: receives it under its name
    assert c.read_file("/home/sandbox/into/proj/sub/a.txt") == b"A"
    c.pull("/home/sandbox/proj", tmp_path / "back")
    assert (tmp_path / "back" / "sub" / "a.txt").read_text() == "A"
    assert (tmp_path / "back" / "run.sh").stat().st_mode & 0o111
    c.pull("/home/sandbox/proj/sub/a.txt", str(tmp_path / "single.txt"))
    assert (tmp_path / "single.txt").read_text() == "A"
    with pytest.raises(FileNotFoundError):
        c.push(tmp_path / "nope", "/tmp/x")
    with pytest.raises(FileNotFoundError):
        c.pull("/nope", tmp_path / "x")
