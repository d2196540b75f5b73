"""Hardened sandboxes from Python: the defaults, each loosening, and what ``info()`` reports."""

from __future__ import annotations

from typing import Any

import pytest

import pocketdock

KEPT = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "KILL", "SETGID", "SETUID"]


def cap_eff(c: pocketdock.Container, user: str) -> int:
    r = c.run("grep '^CapEff:' /proc/self/status", user=user)
    assert r.exit_code == 0, r
    return int(r.stdout.split()[1], 16)


def test_a_default_sandbox_is_hardened(c: pocketdock.Container) -> None:
    assert cap_eff(c, "sandbox") == 0
    assert c.run("grep NoNewPrivs /proc/self/status").stdout.split()[1] == "1"
    assert c.run("ls /sys/class/net").stdout.split() == ["lo"]
    info = c.info()
    assert not info.network
    h = info.hardening
    assert h["capabilities_dropped"] and h["no_new_privileges"] and not h["read_only"]
    assert sorted(h["capabilities"]) == KEPT
    assert h["pids_limit"] == 512


def test_options_loosen_it(make_container: Any) -> None:
    c = make_container(network=True, pids_limit=0, cap_add=["MKNOD"], no_new_privileges=False)
    assert c.run("mknod /tmp/n c 1 3 && echo made", user="root").stdout == "made\n"
    h = c.info().hardening
    assert "MKNOD" in h["capabilities"] and not h["no_new_privileges"]
    assert h["pids_limit"] is None
    assert c.info().network


def test_a_read_only_root_keeps_tmp_writable(make_container: Any) -> None:
    c = make_container(read_only=True)
    assert "Read-only file system" in c.run("touch /home/sandbox/x").stderr
    c.write_file("/tmp/a.txt", "kept")
    assert c.read_file("/tmp/a.txt") == b"kept"
    with pytest.raises(OSError) as raised:
        c.write_file("/home/sandbox/a.txt", "no")
    assert raised.value.errno == 30  # EROFS
    assert c.info().hardening["read_only"]


def test_bad_hardening_values_are_value_errors(make_container: Any) -> None:
    with pytest.raises(ValueError):
        make_container(pids_limit=-1)
    with pytest.raises(ValueError):
        make_container(cap_add=["not a cap"])
    with pytest.raises(TypeError):
        make_container(cap_add="MKNOD")
