"""Resumable runs: the journal keeps every finished image, so a stopped run restarted ends with
every image exactly once, and nothing done is sent again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from gdino_client import annotate
from gdino_client.journal import Journal, JournalMismatch
from gdino_serve.paths import REPO
from tests.support.fake_service import FakeServer
from tests.support.image_folders import write_images
from tests.support.images import encode

SETTINGS = {"classes": ["cat"], "box_threshold": 0.35}


def output_keys(out: Path) -> list[str]:
    return [json.loads(line)["path"] for line in (out / "responses.jsonl").read_text().splitlines()]


def journal_successes(out: Path) -> Counter:
    lines = (out / "journal.jsonl").read_text().splitlines()[1:]
    return Counter(record["path"] for record in map(json.loads, lines) if record["ok"])


def test_limited_run_restarted_annotates_each_image_once(
    small_folder: Path, tmp_path: Path, fake_server: Callable[..., FakeServer]
) -> None:
    server, out = fake_server(), tmp_path / "out"
    first = annotate(small_folder, out, server.url, classes=["cat"], limit=3, concurrency=2, progress=False)
    assert (first.requested, first.pending) == (3, 4)
    second = annotate(small_folder, out, server.url, classes=["cat"], concurrency=2, progress=False)
    # the first three in path order include the corrupt file: it failed, so it is tried again
    assert (second.resumed, second.requested, second.pending, second.done) == (2, 5, 0, 6)
    assert len(server.service.requests) == 6  # the corrupt file is never sent
    assert sorted(output_keys(out)) == sorted(set(output_keys(out))) and len(output_keys(out)) == 6
    assert set(journal_successes(out).values()) == {1}


def test_failed_image_is_retried_by_the_next_run(
    small_folder: Path, tmp_path: Path, fake_server: Callable[..., FakeServer]
) -> None:
    server, out = fake_server(script=[500]), tmp_path / "out"
    first = annotate(small_folder, out, server.url, classes=["cat"], concurrency=1, progress=False)
    assert len(first.failed) == 2 and "HTTP 500" in " ".join(first.failed.values())
    second = annotate(small_folder, out, server.url, classes=["cat"], concurrency=1, progress=False)
    assert list(second.failed) == ["a/broken.png"] and second.done == 6
    assert len(server.service.requests) == 7  # six images, one of them twice


def test_killed_run_restarted_loses_and_repeats_nothing(tmp_path: Path, fake_server: Callable[..., FakeServer]) -> None:
    images = {f"d{i % 3}/p{i:02d}.png": encode(Image.new("RGB", (32, 24), (i * 10, 0, 0))) for i in range(20)}
    folder = write_images(tmp_path / "images", images)
    server, out = fake_server(delay=0.05), tmp_path / "out"
    command = [
        sys.executable,
        "-m",
        "gdino_client",
        str(folder),
        "--out",
        str(out),
        "--classes",
        "cat",
        "--url",
        server.url,
        "--concurrency",
        "2",
        "--no-progress",
        "--formats",
        "jsonl",
    ]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal = out / "journal.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not journal.exists() or journal.read_text().count("\n") < 7):
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    killed_after = sum(journal_successes(out).values())
    assert 6 <= killed_after < 20, "the kill should land mid-run"

    summary = annotate(folder, out, server.url, classes=["cat"], concurrency=2, progress=False, formats=("jsonl",))
    assert (summary.done, summary.resumed, summary.failed) == (20, killed_after, {})
    assert sorted(output_keys(out)) == sorted(images)
    assert set(journal_successes(out).values()) == {1}
    assert len(server.service.requests) - 20 <= 2  # at most the requests in flight at the kill are sent again


def test_record_cut_short_by_a_kill_is_dropped_and_appending_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    Journal.open(path, SETTINGS).close()
    with path.open("a") as stream:
        stream.write(json.dumps({"path": "a.png", "ok": True, "response": {}}) + "\n" + '{"path": "b.p')
    with Journal.open(path, SETTINGS) as journal:
        assert journal.is_done("a.png") and not journal.is_done("b.png")
        journal.append({"path": "b.png", "ok": False, "reason": "x"})
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line.get("path") for line in lines] == [None, "a.png", "b.png"]


def test_success_is_kept_over_a_later_failure(tmp_path: Path) -> None:
    with Journal.open(tmp_path / "journal.jsonl", SETTINGS) as journal:
        journal.append({"path": "a.png", "ok": False, "reason": "busy"})
        journal.append({"path": "a.png", "ok": True, "response": {"boxes": []}})
        journal.append({"path": "a.png", "ok": False, "reason": "late"})
        assert journal.outcomes() == {"a.png": {"path": "a.png", "ok": True, "response": {"boxes": []}}}


def test_journal_of_other_settings_is_refused_unless_fresh(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    with Journal.open(path, SETTINGS) as journal:
        journal.append({"path": "a.png", "ok": True, "response": {}})
    other = {**SETTINGS, "box_threshold": 0.5}
    with pytest.raises(JournalMismatch, match="--fresh"):
        Journal.open(path, other)
    with Journal.open(path, other, fresh=True) as journal:
        assert journal.outcomes() == {}
