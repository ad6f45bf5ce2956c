"""The run's journal: an append-only JSONL file, one record per image outcome, flushed and
fsync'ed as each result arrives, so a killed run loses at most the requests in flight.

The first line holds the settings that shape the results (caption or classes, thresholds);
resuming with other settings is refused, because the old results would not match them.
A line cut short by a kill is dropped when the journal is opened again. Outputs are built from
:meth:`Journal.outcomes`: one record per image, a success winning over any failure.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, TextIO

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1


class JournalMismatch(Exception):
    """The journal was written by a run with other settings."""


def _read(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The complete records of ``path`` and the byte length of its complete lines."""
    data = path.read_bytes()
    complete = data[: data.rfind(b"\n") + 1]
    records = []
    for number, line in enumerate(complete.splitlines(), 1):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            logger.warning("%s:%d is not JSON; skipped", path, number)
    if len(complete) < len(data):
        logger.warning("%s ends with a record cut short (killed run?); it is dropped", path)
    return records, len(complete)


class Journal:
    """Append-only record of per-image outcomes under one set of settings."""

    def __init__(self, path: Path, settings: dict[str, Any], records: list[dict[str, Any]], stream: TextIO):
        self.path = path
        self.settings = settings
        self._outcomes: dict[str, dict[str, Any]] = {}
        self._stream = stream
        for record in records:
            self._remember(record)

    @classmethod
    def open(cls, path: Path, settings: dict[str, Any], fresh: bool = False) -> Journal:
        """Open (or start) the journal at ``path``; ``fresh`` discards what it holds."""
        path.parent.mkdir(parents=True, exist_ok=True)
        if fresh or not path.exists() or path.stat().st_size == 0:
            stream = path.open("w", encoding="utf-8")
            journal = cls(path, settings, [], stream)
            journal._write({"journal": FORMAT_VERSION, "settings": settings})
            return journal
        records, length = _read(path)
        header = records[0] if records else {}
        if header.get("settings") != settings:
            raise JournalMismatch(
                f"{path} was written with settings {header.get('settings')}, not {settings}; "
                "use another output folder, or --fresh to start over"
            )
        with path.open("r+b") as raw:
            raw.truncate(length)
        return cls(path, settings, records[1:], path.open("a", encoding="utf-8"))

    def _remember(self, record: dict[str, Any]) -> None:
        key = record["path"]
        known = self._outcomes.get(key)
        if known is None or not known["ok"]:
            self._outcomes[key] = record

    def _write(self, record: dict[str, Any]) -> None:
        self._stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._stream.flush()
        os.fsync(self._stream.fileno())

    def append(self, record: dict[str, Any]) -> None:
        """Persist one outcome: ``{"path", "ok": True, "response"}`` or ``{"path", "ok": False, "reason"}``."""
        self._write(record)
        self._remember(record)

    def is_done(self, key: str) -> bool:
        return self._outcomes.get(key, {}).get("ok", False)

    def outcomes(self) -> dict[str, dict[str, Any]]:
        """The one record kept per image: its success if it has one, else its latest failure."""
        return dict(self._outcomes)

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
