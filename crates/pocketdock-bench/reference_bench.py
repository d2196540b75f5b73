#!/usr/bin/env python3
"""Measures the Python reference, pocketdock 1.2.6 from PyPI, the way `bench` measures ours.

Prints one JSON object on stdout (progress goes to stderr):
  {"impl": ..., "version": ..., "socket": ..., "figures": {...}, "samples": {...}}
or, when the package cannot be imported, {"error": "not_importable", "detail": ...} and exit 3.

1.2.6's create_new_container() has no socket argument: it takes POCKETDOCK_SOCKET (then
auto-detection), so --socket sets that variable. Its containers are named pdbench-py-*, and
every one this script creates is removed on the way out, error or not.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import secrets
import sys
import time

STDOUT_BYTES = 52_428_800  # 50 MiB
# The reference's blocking run breaks if max_output is hit while the command still runs.
MAX_OUTPUT = 60_000_000
FILE_BYTES = 104_857_600  # 100 MiB, written then read back
FILE_PATH = "/tmp/bench.bin"
# The payload, the same bytes as the harness writes: a 0..199 ramp, repeated. 200 divides
# FILE_BYTES, so `RAMP * n` builds it in one allocation (no transient copy in the peak RSS).
RAMP = bytes(range(200))


def log(msg: str) -> None:
    print(f"[reference] {msg}", file=sys.stderr, flush=True)


def percentile(samples: list[float], p: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default); same as the harness."""
    if not samples:
        return None
    s = sorted(samples)
    pos = p / 100 * (len(s) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


class Bench:
    def __init__(self, pd, socket: str, image: str) -> None:
        self.pd = pd
        self.socket = socket
        self.image = image
        self.names: list[str] = []  # every container we asked for, removed at the end

    def create(self):
        name = f"pdbench-py-{secrets.token_hex(4)}"
        self.names.append(name)
        return self.pd.create_new_container(image=self.image, name=name)

    def sweep(self) -> None:
        """Force-removes every container this script created that still exists."""
        from pocketdock import _socket_client as sc  # the reference's own engine client
        from pocketdock.errors import ContainerNotFound

        async def remove_all() -> None:
            for name in self.names:
                try:
                    await sc.remove_container(self.socket, name, force=True)
                    log(f"removed leftover {name}")
                except ContainerNotFound:
                    pass
                except Exception as e:  # keep going: remove as many as we can
                    log(f"could not remove {name}: {e!r}")

        asyncio.run(remove_all())


def check(r, what: str) -> None:
    if r.exit_code != 0 or r.timed_out:
        raise RuntimeError(f"{what}: exit {r.exit_code}, timed_out={r.timed_out}, stderr={r.stderr!r}")


def session_latency(c, args: argparse.Namespace) -> list[float]:
    """send_and_wait("true") latencies of one session, after warm-up calls; closed on every path."""
    samples: list[float] = []
    s = c.session()
    try:
        for _ in range(args.warmup):
            check(s.send_and_wait("true"), "warm-up send_and_wait")
        for _ in range(args.session_runs):
            t = time.perf_counter()
            r = s.send_and_wait("true")
            samples.append((time.perf_counter() - t) * 1000)
            check(r, "send_and_wait")
    finally:
        s.close()
    return samples


def file_throughput(c, iters: int) -> tuple[list[float], list[float]]:
    """`iters` writes of the payload to FILE_PATH, then `iters` reads of it (length and content
    checked, outside the timing); MiB/s of each. As on the harness's side, the payload is
    dropped before the reads and each read's bytes before the next one."""
    writes: list[float] = []
    reads: list[float] = []
    if iters == 0:
        return writes, reads
    mib = FILE_BYTES / 1_048_576
    payload = RAMP * (FILE_BYTES // len(RAMP))
    for _ in range(iters):
        t = time.perf_counter()
        c.write_file(FILE_PATH, payload)
        writes.append(mib / (time.perf_counter() - t))
    del payload
    for _ in range(iters):
        t = time.perf_counter()
        data = c.read_file(FILE_PATH)
        dt = time.perf_counter() - t
        if len(data) != FILE_BYTES:
            raise RuntimeError(f"read_file: got {len(data)} bytes of {FILE_BYTES}")
        # FILE_BYTES / 200 non-overlapping ramps in FILE_BYTES bytes tile them: the content is
        # exactly the payload (checked without building a second 100 MiB object).
        if data.count(RAMP) != FILE_BYTES // len(RAMP):
            raise RuntimeError("read_file: the content differs from what was written")
        del data
        reads.append(mib / dt)
    return writes, reads


def measure(b: Bench, args: argparse.Namespace) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {
        "run_true_ms": [],
        "create_first_result_ms": [],
        "shutdown_ms": [],
        "throughput_mib_s": [],
        "session_true_ms": [],
        "write_file_mib_s": [],
        "read_file_mib_s": [],
    }

    log(f"run latency ({args.warmup} warm-up + {args.runs}) and stdout throughput ({args.throughput_iters} x 50 MiB)")
    c = b.create()
    try:
        for _ in range(args.warmup):
            check(c.run("true"), "warm-up run")
        for _ in range(args.runs):
            t = time.perf_counter()
            r = c.run("true")
            samples["run_true_ms"].append((time.perf_counter() - t) * 1000)
            check(r, "run")
        for _ in range(args.throughput_iters):
            t = time.perf_counter()
            r = c.run(f"head -c {STDOUT_BYTES} /dev/zero", max_output=MAX_OUTPUT)
            dt = time.perf_counter() - t
            check(r, "throughput run")
            if len(r.stdout) != STDOUT_BYTES or r.truncated:
                raise RuntimeError(f"throughput run: got {len(r.stdout)} bytes (truncated={r.truncated})")
            samples["throughput_mib_s"].append(STDOUT_BYTES / 1_048_576 / dt)
            del r
        log(f"session send_and_wait ({args.warmup} warm-up + {args.session_runs})")
        samples["session_true_ms"] = session_latency(c, args)
        log(f"write_file / read_file ({args.file_iters} x 100 MiB each)")
        samples["write_file_mib_s"], samples["read_file_mib_s"] = file_throughput(c, args.file_iters)
    finally:
        c.shutdown(force=True)

    n = max(args.create_iters, args.shutdown_iters)
    log(f"create -> first result ({args.create_iters}), shutdown ({args.shutdown_iters}, ~10 s each)")
    for i in range(n):
        t = time.perf_counter()
        c = b.create()
        try:
            r = c.run("true")
            elapsed = time.perf_counter() - t
            check(r, "first run")
            if i < args.create_iters:
                samples["create_first_result_ms"].append(elapsed * 1000)
            if i < args.shutdown_iters:
                t = time.perf_counter()
                c.shutdown()
                samples["shutdown_ms"].append((time.perf_counter() - t) * 1000)
        finally:
            c.shutdown(force=True)  # no-op after a completed shutdown
    return samples


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--socket", required=True, help="engine socket (sets POCKETDOCK_SOCKET)")
    ap.add_argument("--image", default="pocketdock/minimal-python")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--create-iters", type=int, default=5)
    ap.add_argument("--shutdown-iters", type=int, default=2)
    ap.add_argument("--throughput-iters", type=int, default=3)
    ap.add_argument("--file-iters", type=int, default=3, help="100 MiB write_file calls, then as many read_file")
    ap.add_argument("--session-runs", type=int, default=50, help="measured session send_and_wait('true') calls")
    ap.add_argument("--json", action="store_true", help="print only the JSON object on stdout (the default output)")
    args = ap.parse_args()

    if not os.path.exists(args.socket):
        print(json.dumps({"error": "no_socket", "detail": f"no socket at {args.socket}"}))
        return 2
    os.environ["POCKETDOCK_SOCKET"] = args.socket
    try:
        import pocketdock as pd
    except ImportError as e:
        print(json.dumps({"error": "not_importable", "detail": f"{sys.executable}: {e}"}))
        return 3

    b = Bench(pd, args.socket, args.image)
    try:
        samples = measure(b, args)
    except Exception as e:
        print(json.dumps({"error": "failed", "detail": repr(e)}))
        return 1
    finally:
        b.sweep()

    figures = {
        "run_true_p50_ms": percentile(samples["run_true_ms"], 50),
        "run_true_p90_ms": percentile(samples["run_true_ms"], 90),
        "create_first_result_median_ms": percentile(samples["create_first_result_ms"], 50),
        "shutdown_median_ms": percentile(samples["shutdown_ms"], 50),
        "throughput_median_mib_s": percentile(samples["throughput_mib_s"], 50),
        "session_true_p50_ms": percentile(samples["session_true_ms"], 50),
        "session_true_p90_ms": percentile(samples["session_true_ms"], 90),
        "write_file_median_mib_s": percentile(samples["write_file_mib_s"], 50),
        "read_file_median_mib_s": percentile(samples["read_file_mib_s"], 50),
        # ru_maxrss is in KiB on Linux.
        "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }
    print(
        json.dumps(
            {
                "impl": "pocketdock (Python)",
                "version": pd.__version__,
                "socket": args.socket,
                "figures": figures,
                "samples": {**samples, "peak_rss_kib": figures["peak_rss_kib"]},
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
