"""A JSON report written after every entry, run in timed stages against a deadline (the GPU check).

A lent GPU machine gives one call of a few minutes: whatever the check measured must come back
even when a stage fails or the time runs out. So every entry is written to disk at once
(atomically), a failing stage is recorded with its error and the next one runs, a stage starts
only while the deadline allows, and a watchdog ends the process shortly after the deadline,
noting in the report which stage it stopped.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


class Deadline:
    """A point in time ``budget_s`` seconds from now."""

    def __init__(self, budget_s: float) -> None:
        self.at = time.monotonic() + budget_s

    def left(self) -> float:
        return self.at - time.monotonic()

    def passed(self) -> bool:
        return self.left() <= 0


class Report:
    """Nested JSON entries in ``path``, rewritten after each change."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, Any] = {}
        self.current = ""  # the stage running now
        self._lock = threading.Lock()

    def put(self, keys: Sequence[str], value: Any) -> None:
        """Set the entry at ``keys`` (nested objects are made as needed) and write the report."""
        with self._lock:
            node = self.data
            for key in keys[:-1]:
                node = node.setdefault(key, {})
            node[keys[-1]] = value
            temporary = self.path.with_suffix(".partial")
            temporary.write_text(json.dumps(self.data, indent=2, default=str))
            temporary.replace(self.path)

    @contextlib.contextmanager
    def stage(self, name: str, deadline: Deadline) -> Iterator[bool]:
        """Run a stage: yields False (run nothing) once the deadline has passed; records its time,
        and its error instead of raising it."""
        if deadline.passed():
            self.put(("stages", name), {"status": "skipped: the time budget was spent"})
            yield False
            return
        self.current = name
        began = time.monotonic()
        try:
            yield True
        except Exception as error:  # the next stage still runs; the report says what broke
            logger.exception("stage %s failed", name)
            failure = {"error": repr(error), "traceback": traceback.format_exc()[-3000:]}
            self.put(("stages", name), {"status": "failed", "seconds": time.monotonic() - began, **failure})
        else:
            self.put(("stages", name), {"status": "ok", "seconds": time.monotonic() - began})
        finally:
            self.current = ""

    def watch(self, deadline: Deadline, grace_s: float, exit_code: int = 124) -> threading.Timer:
        """Start a watchdog that ends the process ``grace_s`` after ``deadline`` (a stage that runs
        over), noting the stage it stopped in the report first."""

        def stop() -> None:
            logger.error("the check ran %.0f s past its budget in stage %r: stopping", grace_s, self.current)
            self.put(("stages", self.current or "between stages"), {"status": "stopped by the watchdog"})
            os._exit(exit_code)

        timer = threading.Timer(max(0.0, deadline.left() + grace_s), stop)
        timer.daemon = True
        timer.start()
        return timer
