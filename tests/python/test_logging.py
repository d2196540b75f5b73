"""The library's events reach Python's `logging`, under the `pocketdock` logger."""

from __future__ import annotations

import logging
import time
from typing import Any, List


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: List[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_engine_calls_are_logged_at_debug(make_container: Any) -> None:
    logger = logging.getLogger("pocketdock")
    handler = Collect()
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        c = make_container()
        assert c.run("true").ok
        deadline = time.monotonic() + 10
        found: List[logging.LogRecord] = []
        while time.monotonic() < deadline and not found:
            found = [r for r in handler.records if "engine: create container" in r.getMessage()]
            time.sleep(0.05)
        assert found, [r.getMessage() for r in handler.records]
        record = found[0]
        assert record.levelno == logging.DEBUG
        assert record.name.startswith("pocketdock."), record.name
        assert "image=" in record.getMessage()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
