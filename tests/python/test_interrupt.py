"""Ctrl-C during a blocking call: it interrupts promptly and kills the command in the container.

Checked in a child interpreter (Ctrl-C is SIGINT to a process's main thread): the child starts
``c.run("sleep 311")``, the test sends it SIGINT, and the child reports how long the
interruption took and whether the command was still running in the container afterwards.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from conftest import TEST_LABELS, Engine

CHILD = r"""
import json, sys, time
import pocketdock

c = pocketdock.create_new_container(socket_path=sys.argv[1], labels=json.loads(sys.argv[2]))
report = {"name": c.name}
try:
    print("READY", flush=True)
    try:
        c.run(sys.argv[3], timeout=120)
        report["interrupted"] = False
    except KeyboardInterrupt:
        report["interrupted"] = True
        report["at"] = time.time()
    deadline = time.time() + 10
    while time.time() < deadline and "sleep 311" in c.run("ps -eo args").stdout:
        time.sleep(0.1)
    report["still_running"] = "sleep 311" in c.run("ps -eo args").stdout
    report["usable"] = c.run("echo ok").stdout == "ok\n"
finally:
    c.shutdown(force=True)
print(json.dumps(report), flush=True)
"""


def interrupt(engine: Engine, command: str) -> dict:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, engine.socket, json.dumps(TEST_LABELS), command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "READY"
    time.sleep(1.5)
    sent = time.time()
    os.kill(child.pid, signal.SIGINT)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    report: dict = json.loads(out.strip().splitlines()[-1])
    report["delay"] = report.get("at", sent) - sent
    return report


def test_ctrl_c_interrupts_a_blocking_run_and_kills_the_command(engine: Engine) -> None:
    report = interrupt(engine, "sleep 311")
    assert report["interrupted"] is True
    assert report["delay"] < 1.0, report
    assert report["still_running"] is False, report
    assert report["usable"] is True
