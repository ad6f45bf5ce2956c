"""One command from a folder to a Label Studio project: after a run, create (or reuse) the
project with the matching labeling config, make the images reachable (a Local Files storage on
the image folder, or uploads), and import each image's task with its prediction once.

Local files need Label Studio started with ``LOCAL_FILES_SERVING_ENABLED=true`` and
``LOCAL_FILES_DOCUMENT_ROOT`` set to a parent of the image folder; the task URLs are
``/data/local-files/?d=<path below that root>``. Uploading needs no settings but copies the images."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from gdino_client.classes import ClassList
from gdino_client.labelstudio.api import LabelStudio
from gdino_client.labelstudio.export import LabelStudioOptions, labeling_config, prediction
from gdino_client.results import ImageResult

logger = logging.getLogger(__name__)

PATH_KEY = "path"  # task data field holding the image's relative path: an image is imported once


@dataclass(frozen=True)
class ProjectTarget:
    """Where the tasks go: ``document_root`` for local files, None to upload the images."""

    url: str
    token: str
    title: str
    document_root: Path | None = None


@dataclass(frozen=True)
class PushReport:
    project: int
    imported: int
    skipped: int  # already in the project
    image_urls: tuple[str, ...]  # of the imported tasks


def local_files_url(image: Path, document_root: Path) -> str:
    """The ``/data/local-files/?d=`` URL of ``image``, which must lie below ``document_root``."""
    try:
        relative = image.resolve().relative_to(document_root.resolve())
    except ValueError:
        raise ValueError(
            f"{image} is not below Label Studio's LOCAL_FILES_DOCUMENT_ROOT {document_root}: start Label Studio "
            "with LOCAL_FILES_DOCUMENT_ROOT set to a parent of the image folder, or upload the images"
        ) from None
    return "/data/local-files/?d=" + quote(relative.as_posix(), safe="/")


def push(
    results: Sequence[ImageResult],
    images: Path,
    classes: ClassList,
    options: LabelStudioOptions,
    target: ProjectTarget,
) -> PushReport:
    """Import ``results`` (keys relative to ``images``) into the project ``target.title``."""
    ls = LabelStudio(target.url, target.token)
    project = ls.ensure_project(target.title, labeling_config(classes, options))["id"]
    if target.document_root is not None:
        ls.ensure_local_storage(project, str(images.resolve()), f"gdino {images.name}")
    known = ls.task_values(project, PATH_KEY)
    tasks: list[dict[str, Any]] = []
    for result in results:
        if result.key in known:
            continue
        path = images / result.key
        if target.document_root is not None:
            url = local_files_url(path, target.document_root)
        else:
            url = ls.upload_image(project, path.name, path.read_bytes())
        tasks.append(
            {
                "data": {options.to_name: url, PATH_KEY: result.key},
                "predictions": [prediction(result, classes, options)],
            }
        )
    if tasks:
        ls.import_tasks(project, tasks)
    logger.info(
        "Label Studio project %r (id %d): %d tasks imported, %d already there: %sprojects/%d/data",
        target.title,
        project,
        len(tasks),
        len(results) - len(tasks),
        ls.url,
        project,
    )
    return PushReport(project, len(tasks), len(results) - len(tasks), tuple(t["data"][options.to_name] for t in tasks))
