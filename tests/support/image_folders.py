"""Folders of images for the annotation client's tests."""

from __future__ import annotations

from pathlib import Path

CORRUPT = b"\x89PNG\r\n\x1a\n" + b"not really a png" * 8


def write_images(root: Path, images: dict[str, bytes]) -> Path:
    """Write ``{relative path: bytes}`` under ``root``; returns ``root``."""
    for key, data in images.items():
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root
