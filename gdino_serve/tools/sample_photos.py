"""Real photos for tests and benchmarks: scikit-image's sample data (a test requirement)."""

from __future__ import annotations

from pathlib import Path

PHOTOS = ("astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg", "motorcycle_left.png")


def photo_bytes(name: str) -> bytes:
    """The encoded bytes of one of scikit-image's sample photos, as stored."""
    import skimage

    return (Path(skimage.__file__).parent / "data" / name).read_bytes()
