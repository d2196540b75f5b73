"""`pocketdock.Pool` and `pocketdock.async_.AsyncPool`: warm sandboxes, each handed out once."""

from __future__ import annotations

import asyncio
import uuid
from typing import List

import pytest

import pocketdock
from conftest import IMAGE, TEST_LABELS, Engine, managed_containers
from pocketdock.async_ import AsyncPool


def pooled(engine: Engine, mark: str) -> List[str]:
    return sorted(
        (c.get("Labels") or {}).get("pocketdock.instance", "")
        for c in managed_containers(engine.socket)
        if (c.get("Labels") or {}).get("pocketdock.test.pool") == mark
    )


def test_a_pool_hands_out_fresh_sandboxes_and_refills(engine: Engine) -> None:
    mark = uuid.uuid4().hex[:8]
    labels = {**TEST_LABELS, "pocketdock.test.pool": mark}
    with pocketdock.Pool(2, image=IMAGE, labels=labels, socket_path=engine.socket) as pool:
        assert pool.size == 2
        pool.filled()
        assert pool.ready == 2
        claimed = [pool.claim() for _ in range(3)]
        assert len({c.name for c in claimed}) == 3
        for c in claimed:
            assert c.run("test -e /tmp/x && echo used; touch /tmp/x; echo fresh").stdout == "fresh\n"
        pool.filled()
        assert len(pooled(engine, mark)) == 5
    # Closing removed the two it held; the claimed ones stay theirs.
    assert pooled(engine, mark) == sorted(c.name for c in claimed)
    for c in claimed:
        c.shutdown(force=True)
    assert pooled(engine, mark) == []


def test_pool_errors(engine: Engine) -> None:
    with pytest.raises(ValueError):
        pocketdock.Pool(0, socket_path=engine.socket)
    with pytest.raises(ValueError):
        pocketdock.Pool(1, name="fixed", socket_path=engine.socket)
    with pytest.raises(TypeError):
        pocketdock.Pool(1, colour="blue")
    with pocketdock.Pool(1, image="pocketdock/no-such-image:nope", socket_path=engine.socket) as pool:
        with pytest.raises(pocketdock.ImageNotFound):
            pool.claim()
    pool.close()  # a second close does nothing
    with pytest.raises(RuntimeError):
        pool.claim()


def test_the_async_pool(engine: Engine) -> None:
    async def main() -> None:
        async with AsyncPool(1, image=IMAGE, labels=TEST_LABELS, socket_path=engine.socket) as pool:
            c = await pool.claim()
            async with c:
                assert (await c.run("echo ok")).stdout == "ok\n"
            await pool.filled()

    asyncio.run(main())
