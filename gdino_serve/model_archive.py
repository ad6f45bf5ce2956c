"""Build a self-contained GroundingDINO ``.mar``: handler package, configs, tokenizer, weights.

Three kinds of model, each a :class:`ModelFiles`: an rf-groundingdino checkpoint with its Python
config (:class:`UpstreamModel`, the ``upstream`` back end), the same checkpoint converted to
OpenVINO IR (:class:`OpenVinoModel`, the ``openvino`` back end; the caption graph's ``.bin`` becomes
the serialized file, the rest of the converted folder goes in as ``openvino_model/``), or a Hugging
Face model folder (:class:`HuggingFaceModel`, the ``transformers`` back end; its ``model.safetensors``
becomes the archive's serialized file and the rest of the folder, config and tokenizer, goes in as
``hf_model/``).
Either may carry a mask model (:class:`WithMaskModel`): a SAM / SAM 2 folder that goes in whole
as ``mask_model/`` and is named by the ``mask_model`` handler setting.

The archive holds everything the worker needs, so TorchServe starts it with no network and no
per-model pip install: the ``handler`` package (only what serving needs), the model's files and,
for test archives, extra top-level modules (a back end named ``module:Class``). Handler settings
and TorchServe model settings can be overridden here (tests use a small config and image size)
without editing ``model_config/model-config.yaml``.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import yaml

import handler
from gdino_serve.paths import BERT_DIR, BUILD, FULL_CONFIG, MODEL_CONFIGS, REPO
from handler.contract import defaults

HANDLER_PACKAGE = Path(handler.__file__).resolve().parent
ENTRY = HANDLER_PACKAGE / "frontends" / "torchserve" / "torchserve_handler.py"  # the .mar's handler
BERT_FILES = ("vocab.txt", "config.json", "tokenizer_config.json")
HF_FOLDER = "hf_model"  # where a Hugging Face model folder's files lie in the model dir
HF_WEIGHTS = ("model.safetensors", "pytorch_model.bin")
MASK_FOLDER = "mask_model"  # where the mask model's folder lies in the model dir

logger = logging.getLogger("build_mar")


HANDLER_SUFFIXES = (".py", ".json")  # modules and their data files (the vocabularies)


def handler_files() -> dict[str, Path]:
    """The ``handler`` package's modules and data files, by their path in the archive."""
    files = sorted(
        path
        for path in HANDLER_PACKAGE.rglob("*")
        if path.suffix in HANDLER_SUFFIXES and path.is_file() and "__pycache__" not in path.parts
    )
    return {f"handler/{path.relative_to(HANDLER_PACKAGE)}": path for path in files}


class ModelFiles(Protocol):
    """What an archive is built from: a weights file, the files beside it, and the handler settings
    that tell the worker how to read them."""

    weights: Path

    def files(self) -> dict[str, Path]:
        """The model's files besides the weights, by their path in the archive."""
        ...

    def handler_settings(self) -> dict[str, Any]:
        """The ``handler:`` settings that select the back end and its files."""
        ...


def bert_files() -> dict[str, Path]:
    """The BERT tokenizer files both GroundingDINO back ends read, by their path in the archive."""
    bert = {f"{defaults.BERT_DIR}/{name}": BERT_DIR / name for name in BERT_FILES}
    missing = [str(path) for path in bert.values() if not path.exists()]
    if missing:
        raise SystemExit(f"{', '.join(missing)} missing: run python -m scripts.setup_bert first")
    return bert


@dataclass(frozen=True)
class UpstreamModel:
    """An rf-groundingdino checkpoint with its Python architecture config and the BERT tokenizer files."""

    weights: Path
    model_config: Path = FULL_CONFIG

    def files(self) -> dict[str, Path]:
        return {f"model_config/{self.model_config.name}": self.model_config, **bert_files()}

    def handler_settings(self) -> dict[str, Any]:
        return {"backend": "upstream", "model_config": f"model_config/{self.model_config.name}"}


@dataclass(frozen=True)
class OpenVinoModel:
    """A checkpoint converted to OpenVINO IR (``gdino_serve/openvino_export``; the cached conversion:
    ``model_store_cache.converted_openvino_model``) and the BERT tokenizer files.

    The caption graph's weights (about 570 MB for Swin-T) are the serialized file, which TorchServe
    places beside the extra files like any checkpoint; the image graph (about 145 MB), both graphs'
    ``.xml`` and ``model.json`` go in as ``openvino_model/``."""

    folder: Path

    @property
    def weights(self) -> Path:
        from handler.backends.openvino.model_files import CAPTION_BIN  # (imports torch: only when used)

        return self.folder / CAPTION_BIN

    def files(self) -> dict[str, Path]:
        from handler.backends.openvino.model_files import CAPTION_XML, FOLDER, IMAGE_BIN, IMAGE_XML, METADATA

        names = (IMAGE_XML, IMAGE_BIN, CAPTION_XML, METADATA)
        return {**{f"{FOLDER}/{name}": self.folder / name for name in names}, **bert_files()}

    def handler_settings(self) -> dict[str, Any]:
        from handler.backends.openvino.model_files import FOLDER

        return {"backend": "openvino", "model_config": FOLDER}


def hf_weights(folder: Path) -> Path:
    """The single weights file of a Hugging Face model folder (refusing a folder that is not one)."""
    if not (folder / "config.json").exists():
        raise SystemExit(f"{folder} is not a Hugging Face model folder (no config.json)")
    for name in HF_WEIGHTS:
        if (folder / name).exists():
            return folder / name
    raise SystemExit(f"{folder} has none of {', '.join(HF_WEIGHTS)} (sharded checkpoints: merge them first)")


def hf_folder_files(folder: Path) -> list[Path]:
    """The folder's config, processor and tokenizer files (relative paths) that go into the archive:
    not its weights, no hidden files, no ``*.partial`` downloads."""
    files = (path.relative_to(folder) for path in sorted(folder.rglob("*")) if path.is_file())
    return [
        path
        for path in files
        if path.name not in HF_WEIGHTS
        and path.suffix != ".partial"
        and not any(part.startswith(".") for part in path.parts)
    ]


@dataclass(frozen=True)
class HuggingFaceModel:
    """A ``save_pretrained`` GroundingDINO / MM-Grounding-DINO / LLMDet folder."""

    folder: Path

    @property
    def weights(self) -> Path:
        return hf_weights(self.folder)

    def files(self) -> dict[str, Path]:
        return {f"{HF_FOLDER}/{path}": self.folder / path for path in hf_folder_files(self.folder)}

    def handler_settings(self) -> dict[str, Any]:
        return {"backend": "transformers", "model_config": HF_FOLDER}


@dataclass(frozen=True)
class WithMaskModel:
    """A detector's files plus a mask model folder (``save_pretrained`` SAM / SAM 2), weights included."""

    detector: ModelFiles
    mask_folder: Path

    @property
    def weights(self) -> Path:
        return self.detector.weights

    def files(self) -> dict[str, Path]:
        mask_files = [*hf_folder_files(self.mask_folder), hf_weights(self.mask_folder).relative_to(self.mask_folder)]
        return {**self.detector.files(), **{f"{MASK_FOLDER}/{path}": self.mask_folder / path for path in mask_files}}

    def handler_settings(self) -> dict[str, Any]:
        return {**self.detector.handler_settings(), "mask_model": MASK_FOLDER}


def with_mask_model(model: ModelFiles, mask_folder: Path | None) -> ModelFiles:
    """``model`` with the mask model of ``mask_folder``, or ``model`` itself without one."""
    return model if mask_folder is None else WithMaskModel(model, mask_folder)


def merged_model_yaml(
    model: ModelFiles,
    overrides: Mapping[str, Any] | None = None,
    handler_overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """model-config.yaml with the model's handler settings and the given overrides applied."""
    settings = yaml.safe_load((MODEL_CONFIGS / "model-config.yaml").read_text())
    settings.update(overrides or {})
    settings["handler"] = {**(settings.get("handler") or {}), **model.handler_settings(), **(handler_overrides or {})}
    return settings


def archive_files(model: ModelFiles, extra_modules: Sequence[Path] = ()) -> dict[str, Path]:
    """Every file of the archive besides the weights, by its path in the archive (also the cache key's input)."""
    return {**handler_files(), **model.files(), **{path.name: path for path in extra_modules}}


def build_archive(
    model: ModelFiles,
    export_path: Path,
    model_name: str = defaults.MODEL_NAME,
    overrides: Mapping[str, Any] | None = None,
    handler_overrides: Mapping[str, Any] | None = None,
    archive_format: str = "default",
    extra_modules: Sequence[Path] = (),
) -> Path:
    """Write ``export_path/model_name.mar`` and return its path.

    ``archive_format="no-archive"`` writes the folder ``export_path/model_name`` instead: TorchServe
    serves it in place, with no zipping here and no unzipping at every start. ``extra_modules`` go
    in as top-level modules (the worker imports from the model dir), e.g. a test-only back end.
    """
    if not model.weights.exists():
        raise SystemExit(f"weights {model.weights} not found")
    export_path.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mar-stage-") as tmp:
        stage = Path(tmp) / "extra"
        for name, source in archive_files(model, extra_modules).items():
            (stage / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, stage / name)
        config_file = Path(tmp) / "model-config.yaml"
        config_file.write_text(yaml.safe_dump(merged_model_yaml(model, overrides, handler_overrides)))
        command = [
            str(Path(sys.executable).parent / "torch-model-archiver"),
            *("--model-name", model_name, "--version", defaults.MODEL_VERSION, "--handler", str(ENTRY)),
            *("--serialized-file", str(model.weights), "--extra-files", str(stage)),
            *("--config-file", str(config_file), "--export-path", str(export_path)),
            *("--archive-format", archive_format, "--force"),
        ]
        # The archiver stages files in $TMPDIR/<model name>: a private TMPDIR keeps builds apart.
        subprocess.run(command, check=True, env=dict(os.environ, TMPDIR=tmp))
    if archive_format == "no-archive":
        folder = export_path / model_name
        logger.info("wrote %s/ (no-archive)", folder)
        return folder
    mar = export_path / f"{model_name}.mar"
    logger.info("wrote %s (%.1f MB)", mar, mar.stat().st_size / 1e6)
    return mar


def build_mar(checkpoint: Path, export_path: Path, model_config: Path = FULL_CONFIG, **options: Any) -> Path:
    """:func:`build_archive` of an rf-groundingdino checkpoint and its config (``options``: its keywords)."""
    return build_archive(UpstreamModel(checkpoint, model_config), export_path, **options)


def build_hf_mar(folder: Path, export_path: Path, **options: Any) -> Path:
    """:func:`build_archive` of a Hugging Face model folder, served by the ``transformers`` back end
    (``options``: its keywords)."""
    return build_archive(HuggingFaceModel(folder), export_path, **options)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    model = parser.add_mutually_exclusive_group(required=True)
    model.add_argument("--checkpoint", type=Path, help="rf-groundingdino checkpoint (.pth), with --config")
    model.add_argument("--hf-model", type=Path, help="Hugging Face GroundingDINO / MM-Grounding-DINO / LLMDet folder")
    parser.add_argument("--config", type=Path, default=FULL_CONFIG)
    parser.add_argument(
        "--backend",
        choices=defaults.CHECKPOINT_BACKENDS,
        default=defaults.BACKEND,
        help="the back end serving --checkpoint",
    )
    parser.add_argument(
        "--openvino-weights", choices=defaults.OPENVINO_WEIGHTS, default=defaults.OPENVINO_DEFAULT_WEIGHTS
    )
    parser.add_argument(
        "--conversion-cache",
        type=Path,
        default=BUILD / "model-store-cache" / "openvino",
        help="where --backend openvino keeps converted checkpoints (gdino-serve's, by default)",
    )
    parser.add_argument("--mask-model", type=Path, help="a SAM / SAM 2 folder: answer masks for the boxes")
    parser.add_argument("--export-path", type=Path, default=REPO / "model_store")
    parser.add_argument("--model-name", default=defaults.MODEL_NAME)
    parser.add_argument("--batch-size", type=int, help="override batchSize")
    parser.add_argument("--workers", type=int, help="override minWorkers and maxWorkers")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    overrides: dict[str, Any] = {}
    if args.batch_size:
        overrides["batchSize"] = args.batch_size
    if args.workers:
        overrides.update(minWorkers=args.workers, maxWorkers=args.workers)
    source: ModelFiles = (
        HuggingFaceModel(args.hf_model) if args.hf_model else UpstreamModel(args.checkpoint, args.config)
    )
    if args.checkpoint and args.backend == "openvino":
        from gdino_serve.model_store_cache import converted_openvino_model

        source = converted_openvino_model(args.checkpoint, args.config, args.conversion_cache, args.openvino_weights)
    build_archive(
        with_mask_model(source, args.mask_model), args.export_path, model_name=args.model_name, overrides=overrides
    )
