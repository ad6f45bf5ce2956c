"""Which images a run covers: a folder (recursive), a glob pattern or a list file.

Every image gets a key, its path relative to the run's root in POSIX form; the key names the
image in the journal and in every output, so outputs mirror the input tree.
"""

from __future__ import annotations

import glob
import io
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, UnidentifiedImageError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"})
LIST_SUFFIXES = frozenset({".txt", ".lst", ".list"})


class UnreadableImage(Exception):
    """A file that Pillow cannot decode; the message says why."""


@dataclass(frozen=True)
class ImageFile:
    path: Path  # where the file is read from
    key: str  # relative POSIX path under the root: the image's identity in journal and outputs


@dataclass(frozen=True)
class Inputs:
    root: Path
    images: list[ImageFile]
    ignored: list[str] = field(default_factory=list)  # folder files without an image suffix


def _is_within(path: Path, folders: Iterable[Path]) -> bool:
    return any(path == folder or folder in path.parents for folder in folders)


def _folder_files(folder: Path, exclude: list[Path]) -> tuple[list[Path], list[Path]]:
    images, others = [], []
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or _is_within(path.resolve(), exclude):
            continue
        if any(part.startswith(".") for part in path.relative_to(folder).parts):
            continue
        (images if path.suffix.lower() in IMAGE_SUFFIXES else others).append(path)
    return images, others


def _listed_files(list_file: Path) -> list[Path]:
    """Paths one a line, relative to the list file's folder; '#' starts a comment line."""
    lines = [line.strip() for line in list_file.read_text(encoding="utf-8").splitlines()]
    return [list_file.parent / line for line in lines if line and not line.startswith("#")]


def _keyed(paths: list[Path], root: Path) -> list[ImageFile]:
    unique = dict.fromkeys(path.resolve() for path in paths)
    return [ImageFile(path, path.relative_to(root).as_posix()) for path in unique]


def collect_images(source: str | Path, exclude: Iterable[Path] = ()) -> Inputs:
    """The images named by ``source``; files under ``exclude`` (the output folder) are left out."""
    excluded = [Path(path).resolve() for path in exclude]
    source_path = Path(source)
    if source_path.is_dir():
        root = source_path.resolve()
        images, others = _folder_files(root, excluded)
        return Inputs(root, _keyed(images, root), [path.relative_to(root).as_posix() for path in others])
    if source_path.is_file() and source_path.suffix.lower() in LIST_SUFFIXES:
        paths = _listed_files(source_path)
    else:
        paths = [Path(match) for match in sorted(glob.glob(str(source), recursive=True)) if Path(match).is_file()]
    paths = [path for path in paths if not _is_within(path.resolve(), excluded)]
    if not paths:
        raise FileNotFoundError(f"no images found for {source}")
    root = Path(os.path.commonpath([str(path.resolve().parent) for path in paths]))
    return Inputs(root, _keyed(paths, root))


def check_image(data: bytes) -> None:
    """Decode ``data`` fully, as the service will, so a file it would refuse is not sent at all."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        detail = "unknown format" if isinstance(exc, UnidentifiedImageError) else str(exc)
        raise UnreadableImage(f"not a readable image ({detail})") from None
