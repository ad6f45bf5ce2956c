"""A model store built once per checkpoint and archive inputs, then reused at every start.

Building a ``.mar`` zips the 600+ MB checkpoint (about a minute) and TorchServe unzips it again at
every start. Here the archive is written with ``--archive-format no-archive`` (a folder TorchServe
serves in place) into ``cache_root/<key>``, where the key is the checkpoint's sha256 plus everything
else that goes into the archive (handler code, model config, tokenizer files, model-config.yaml
settings such as the worker count). A restart with the same inputs finds the folder and builds
nothing; a new checkpoint or code version builds a new folder and removes the old ones.

The ``openvino`` back end serves a checkpoint converted to OpenVINO IR: the conversion (minutes)
is cached the same way in ``cache_root/openvino/<key>`` (:func:`converted_openvino_model`), keyed by
the checkpoint's sha256, its config, the converting stack's versions and the export code.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

from gdino_serve.model_archive import ModelFiles, OpenVinoModel, archive_files, build_archive, merged_model_yaml
from gdino_serve.openvino_export import export_code_files, stack_versions
from gdino_serve.paths import BERT_DIR
from handler.contract import defaults

logger = logging.getLogger("model_store_cache")

CONVERSIONS = "openvino"  # the converted models' folder in a model store cache


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


def cached_folder(
    cache_root: Path, key: str, marker: str, build: Callable[[Path], object], keep: Collection[str] = ()
) -> tuple[Path, bool]:
    """``cache_root/key``, made by ``build(folder)`` when it holds no ``marker`` file, and whether it
    was made now. A build writes to a private folder renamed into place when done (a stopped build
    never leaves a half folder under the key); then every other entry but ``keep`` is removed."""
    folder = cache_root / key
    if (folder / marker).exists():
        return folder, False
    cache_root.mkdir(parents=True, exist_ok=True)
    building = cache_root / f".building-{key}-{os.getpid()}"
    try:
        build(building)
        building.rename(folder)
    except OSError:  # another process finished the same folder first
        if not (folder / marker).exists():
            raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    for old in cache_root.iterdir():  # each entry is hundreds of MB: keep only the current ones
        if old != folder and not old.name.startswith(".building-") and old.name not in keep:
            shutil.rmtree(old, ignore_errors=True)
    return folder, True


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

    def build(folder: Path) -> None:
        build_archive(
            model,
            folder,
            model_name=model_name,
            overrides=overrides,
            handler_overrides=handler_overrides,
            archive_format="no-archive",
        )

    store, built = cached_folder(cache_root, key, f"{model_name}/MAR-INF/MANIFEST.json", build, keep={CONVERSIONS})
    if built:
        logger.info("built the model store %s in %.1f s", store, time.monotonic() - started)
    else:
        logger.info(
            "reusing the model store %s (built %s; key computed in %.1f s)",
            store,
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(store.stat().st_mtime)),
            time.monotonic() - started,
        )
    return store


def conversion_key(checkpoint_sha256: str, config: Path, weights: str) -> str:
    """What a converted folder depends on: checkpoint, config (and BERT's), stack versions, export code."""
    digest = hashlib.sha256(f"openvino|{weights}|{checkpoint_sha256}|".encode())
    digest.update(json.dumps(stack_versions(), sort_keys=True).encode())
    for path in (config, BERT_DIR / "config.json", *export_code_files()):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:20]


def _run_converter(*arguments: str) -> None:
    """The converter in its own process: its few GB of model and export state end with it."""
    subprocess.run([sys.executable, "-m", "gdino_serve.openvino_export.convert", *arguments], check=True)


def converted_openvino_model(
    checkpoint: Path, config: Path, cache_root: Path, weights: str = defaults.OPENVINO_DEFAULT_WEIGHTS
) -> OpenVinoModel:
    """``checkpoint`` (architecture ``config``) as OpenVINO IR with ``weights`` (float32, or int8 made
    from the float32 conversion), converted only when ``cache_root`` holds no such conversion."""
    from handler.backends.openvino.model_files import METADATA

    if weights not in defaults.OPENVINO_WEIGHTS:
        raise SystemExit(f"OpenVINO weights {weights!r} is not one of {', '.join(defaults.OPENVINO_WEIGHTS)}")
    started = time.monotonic()
    checkpoint_sha256 = file_sha256(checkpoint)
    fp32_key = conversion_key(checkpoint_sha256, config, "float32")

    def convert(folder: Path) -> None:
        logger.info("converting %s (%s) to OpenVINO IR: a few minutes, once per checkpoint", checkpoint, config.name)
        _run_converter(
            *("--checkpoint", str(checkpoint), "--config", str(config), "--bert-dir", str(BERT_DIR)),
            *("--checkpoint-sha256", checkpoint_sha256, "--out", str(folder)),
        )

    fp32, built = cached_folder(cache_root, fp32_key, METADATA, convert)
    folder = fp32
    if weights == "int8":
        folder, int8_built = cached_folder(
            cache_root,
            conversion_key(checkpoint_sha256, config, weights),
            METADATA,
            lambda out: _run_converter("--int8", "--source", str(fp32), "--out", str(out)),
            keep={fp32_key},
        )
        built = built or int8_built
    verb = "converted" if built else "reusing"
    logger.info("%s the OpenVINO model %s (%s weights; %.1f s)", verb, folder, weights, time.monotonic() - started)
    return OpenVinoModel(folder)
