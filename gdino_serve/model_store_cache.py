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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scripts.build_mar import (
    BERT_FILES,
    HF_FOLDER,
    REPO,
    build_hf_mar,
    build_mar,
    hf_folder_files,
    hf_weights,
    merged_model_yaml,
)

MODEL_NAME = "groundingdino"

logger = logging.getLogger("model_store_cache")


def file_sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


@dataclass(frozen=True)
class ModelSource:
    """What a model store is built from: an ``upstream`` checkpoint with its Python config, or a
    Hugging Face model folder (served by the ``transformers`` back end)."""

    weights: Path
    model_config: Path | None = None
    hf_folder: Path | None = None

    @classmethod
    def upstream(cls, checkpoint: Path, model_config: Path) -> ModelSource:
        return cls(weights=checkpoint, model_config=model_config)

    @classmethod
    def hugging_face(cls, folder: Path) -> ModelSource:
        return cls(weights=hf_weights(folder), hf_folder=folder)

    def archive_inputs(self) -> dict[str, Path]:
        """The files besides the weights that go into the archive, by a name that does not depend on where they lie."""
        handler = sorted(path for path in (REPO / "handler").rglob("*.py") if "__pycache__" not in path.parts)
        inputs = {str(path.relative_to(REPO)): path for path in handler}
        if self.hf_folder is not None:
            return inputs | {f"{HF_FOLDER}/{path}": self.hf_folder / path for path in hf_folder_files(self.hf_folder)}
        assert self.model_config is not None
        bert = {f"bert-base-uncased/{name}": REPO / "bert-base-uncased" / name for name in BERT_FILES}
        return inputs | {f"model_config/{self.model_config.name}": self.model_config} | bert

    def model_yaml(self, overrides: Mapping[str, Any] | None) -> dict[str, Any]:
        return merged_model_yaml(self.model_config, overrides)

    def build(self, export_path: Path, model_name: str, overrides: Mapping[str, Any] | None) -> Path:
        """A no-archive model folder under ``export_path`` (TorchServe serves it in place)."""
        if self.hf_folder is not None:
            return build_hf_mar(self.hf_folder, export_path, model_name, overrides, archive_format="no-archive")
        assert self.model_config is not None
        return build_mar(
            self.weights, export_path, self.model_config, model_name, overrides, archive_format="no-archive"
        )


def store_key(source: ModelSource, model_name: str, model_yaml: Mapping[str, Any]) -> str:
    digest = hashlib.sha256(f"{model_name}|{file_sha256(source.weights)}|".encode())
    digest.update(json.dumps(model_yaml, sort_keys=True).encode())
    for name, path in source.archive_inputs().items():
        digest.update(name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:20]


def cached_model_store(
    source: ModelSource,
    cache_root: Path,
    overrides: Mapping[str, Any] | None = None,
    model_name: str = MODEL_NAME,
) -> Path:
    """A model store holding ``model_name`` (no-archive) for these inputs; built only when missing."""
    started = time.monotonic()
    key = store_key(source, model_name, source.model_yaml(overrides))
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
    source.build(building, model_name, overrides)
    try:
        building.rename(store)  # atomic: a stopped build never leaves a half store under the key
    except OSError:  # another process finished the same store first
        shutil.rmtree(building)
    for old in cache_root.iterdir():  # one checkpoint's store is 600+ MB: keep only the current one
        if old != store and not old.name.startswith(".building-"):
            shutil.rmtree(old, ignore_errors=True)
    logger.info("built the model store %s in %.1f s", store, time.monotonic() - started)
    return store
