"""A model store built once per checkpoint and archive inputs, then reused at every start.

Building a ``.mar`` zips the 600+ MB checkpoint (about a minute) and TorchServe unzips it again at
every start. Here the archive is written with ``--archive-format no-archive`` (a folder TorchServe
serves in place) into ``cache_root/<key>``, where the key is the checkpoint's sha256 plus everything
else that goes into the archive (handler code, model config, tokenizer files, model-config.yaml
settings such as the worker count). A restart with the same inputs finds the folder and builds
nothing; a new checkpoint or code version builds a new folder and removes the old ones.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gdino_serve.model_archive import ModelFiles, archive_files, build_archive, merged_model_yaml
from handler.contract import defaults

logger = logging.getLogger("model_store_cache")


def file_sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def store_key(model: ModelFiles, model_name: str, model_yaml: Mapping[str, Any]) -> str:
    """The weights' sha256, the model-config.yaml settings and every other file of the archive."""
    digest = hashlib.sha256(f"{model_name}|{file_sha256(model.weights)}|".encode())
    digest.update(json.dumps(model_yaml, sort_keys=True).encode())
    for name, path in archive_files(model).items():
        digest.update(name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:20]


def cached_model_store(
    model: ModelFiles,
    cache_root: Path,
    overrides: Mapping[str, Any] | None = None,
    model_name: str = defaults.MODEL_NAME,
    handler_overrides: Mapping[str, Any] | None = None,
) -> Path:
    """A model store holding ``model_name`` (no-archive) for these inputs; built only when missing."""
    started = time.monotonic()
    key = store_key(model, model_name, merged_model_yaml(model, overrides, handler_overrides))
    store = cache_root / key
    if (store / model_name / "MAR-INF" / "MANIFEST.json").exists():
        logger.info(
            "reusing the model store %s (built %s; key computed in %.1f s)",
            store,
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(store.stat().st_mtime)),
            time.monotonic() - started,
        )
        return store
    cache_root.mkdir(parents=True, exist_ok=True)
    building = cache_root / f".building-{key}-{os.getpid()}"
    build_archive(
        model,
        building,
        model_name=model_name,
        overrides=overrides,
        handler_overrides=handler_overrides,
        archive_format="no-archive",
    )
    try:
        building.rename(store)  # atomic: a stopped build never leaves a half store under the key
    except OSError:  # another process finished the same store first
        shutil.rmtree(building)
    for old in cache_root.iterdir():  # one checkpoint's store is 600+ MB: keep only the current one
        if old != store and not old.name.startswith(".building-"):
            shutil.rmtree(old, ignore_errors=True)
    logger.info("built the model store %s in %.1f s", store, time.monotonic() - started)
    return store
