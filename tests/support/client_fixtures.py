"""Fixtures of the annotation client's tests (a pytest plugin of the root conftest): a fake service,
a folder of images, and one annotation run against the fake service."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from gdino_client import Summary, annotate
from tests.support.fake_service import FakeServer, FakeService
from tests.support.image_folders import CORRUPT, write_images
from tests.support.images import encode

CLASSES = ["person", "hard hat"]
# The readable images of small_folder (its corrupt PNG and text file are skipped).
GOOD = ["a/b/img4.png", "a/img2.png", "a/img3.jpeg", "c/img5.png", "img0.png", "img1.jpeg"]


def run_fake(folder: Path, out: Path, server: FakeServer, **settings: Any) -> Summary:
    """Annotate ``folder`` into ``out`` through the fake ``server`` with CLASSES (keywords override)."""
    settings = {"classes": CLASSES, "draw": True, **settings}
    return annotate(folder, out, server.url, progress=False, **settings)


@pytest.fixture
def small_folder(tmp_path: Path) -> Path:
    """Six small generated pictures in nested folders, one corrupt PNG and one text file."""
    images = {
        f"{folder}img{i}.{fmt.lower()}": encode(Image.new("RGB", (64 + 8 * i, 48 + 4 * i), (40 * i, 90, 200)), fmt)
        for i, (folder, fmt) in enumerate(
            [("", "PNG"), ("", "JPEG"), ("a/", "PNG"), ("a/", "JPEG"), ("a/b/", "PNG"), ("c/", "PNG")]
        )
    }
    return write_images(tmp_path / "images", {**images, "a/broken.png": CORRUPT, "notes.txt": b"not an image"})


@pytest.fixture
def fake_server() -> Iterator[Callable[..., FakeServer]]:
    """Start fake services with the given FakeService settings; all stopped after the test."""
    started: list[FakeServer] = []

    def start(**settings: object) -> FakeServer:
        server = FakeServer(FakeService(**settings)).__enter__()  # type: ignore[arg-type]
        started.append(server)
        return server

    yield start
    for server in started:
        server.__exit__()
