"""A rebuild of the container image removes the image it replaced (gdino_serve/container.py): each one
holds the CUDA wheels, about 7.5 GB, and leftovers filled a test machine's disk."""

from __future__ import annotations

import subprocess

from gdino_serve import container


def fake_podman(ids: list[str | None], calls: list[tuple[str, ...]]):
    """``podman`` that answers ``image inspect`` with the next of ``ids`` and records every call."""

    def run(*args: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
        calls.append(args)
        if args[:2] == ("image", "inspect"):
            current = ids.pop(0)
            return subprocess.CompletedProcess(args, 0 if current else 125, stdout=current or "", stderr="")
        return subprocess.CompletedProcess(args, 0, stdout="", stderr="")

    return run


def build_with(monkeypatch, ids: list[str | None]) -> list[tuple[str, ...]]:
    calls: list[tuple[str, ...]] = []
    monkeypatch.setattr(container, "podman", fake_podman(ids, calls))
    monkeypatch.setattr(container.subprocess, "run", lambda command, **kwargs: subprocess.CompletedProcess(command, 0))
    monkeypatch.setattr(container, "host_pip_settings", lambda python="python3": container.PipSettings())
    monkeypatch.setattr(container, "host_pip_cache", lambda python="python3": None)
    container.build_image("localhost/groundingdino-serve:test", base="localhost/base:1")
    return calls


def test_rebuild_that_changes_the_image_removes_the_one_it_replaced(monkeypatch):
    calls = build_with(monkeypatch, ["sha256:old", "sha256:new"])
    assert ("rmi", "sha256:old") in calls


def test_rebuild_from_cache_keeps_the_unchanged_image(monkeypatch):
    calls = build_with(monkeypatch, ["sha256:same", "sha256:same"])
    assert not [call for call in calls if call[0] == "rmi"]


def test_first_build_removes_nothing(monkeypatch):
    calls = build_with(monkeypatch, [None, "sha256:new"])
    assert not [call for call in calls if call[0] == "rmi"]
