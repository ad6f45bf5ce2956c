"""Build a self-contained GroundingDINO ``.mar``: handler package, configs, tokenizer, checkpoint.

Two kinds of model: an rf-groundingdino checkpoint with its Python config (``--checkpoint``,
``--config``: the ``upstream`` back end), or a Hugging Face model folder (``--hf-model``: the
``transformers`` back end; its ``model.safetensors`` becomes the archive's serialized file and
the rest of the folder, config and tokenizer, goes in as ``hf_model/``).

The archive holds everything the worker needs, so TorchServe starts it with no network and no
per-model pip install. Handler settings and TorchServe model settings can be overridden here
(tests use a small config and image size) without editing ``model_config/model-config.yaml``.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from handler import defaults

REPO = Path(__file__).resolve().parent.parent
ENTRY = REPO / "handler" / "frontends" / "torchserve" / "torchserve_handler.py"  # the .mar's handler
BERT_FILES = ("vocab.txt", "config.json", "tokenizer_config.json")
HF_FOLDER = "hf_model"  # where a Hugging Face model folder's files lie in the model dir
HF_WEIGHTS = ("model.safetensors", "pytorch_model.bin")

logger = logging.getLogger("build_mar")


def _stage_handler(stage: Path) -> None:
    shutil.copytree(REPO / "handler", stage / "handler", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


def _stage(stage: Path, model_config: Path) -> None:
    """Lay out the archive's extra files exactly as the handler expects them in the model dir."""
    _stage_handler(stage)
    (stage / "model_config").mkdir()
    shutil.copy2(model_config, stage / "model_config" / model_config.name)
    (stage / "bert-base-uncased").mkdir()
    for name in BERT_FILES:
        source = REPO / "bert-base-uncased" / name
        if not source.exists():
            raise SystemExit(f"{source} is missing: run scripts/setup_bert.py first")
        shutil.copy2(source, stage / "bert-base-uncased" / name)


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


def _stage_hf(stage: Path, folder: Path) -> None:
    """The handler package and the folder's files (:func:`hf_folder_files`) as ``hf_model/``."""
    _stage_handler(stage)
    for path in hf_folder_files(folder):
        (stage / HF_FOLDER / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(folder / path, stage / HF_FOLDER / path)


def merged_model_yaml(
    model_config: Path | None,
    overrides: Mapping[str, Any] | None = None,
    handler_overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """model-config.yaml with the model set and the given overrides applied (``None``: a Hugging Face folder)."""
    settings = yaml.safe_load((REPO / "model_config" / "model-config.yaml").read_text())
    settings.update(overrides or {})
    handler = dict(settings.get("handler") or {})
    if model_config is None:
        handler.update(backend="transformers", model_config=HF_FOLDER)
    else:
        handler["model_config"] = f"model_config/{model_config.name}"
    handler.update(handler_overrides or {})
    settings["handler"] = handler
    return settings


def build_mar(
    checkpoint: Path,
    export_path: Path,
    model_config: Path = REPO / defaults.MODEL_CONFIG,
    model_name: str = defaults.MODEL_NAME,
    overrides: Mapping[str, Any] | None = None,
    handler_overrides: Mapping[str, Any] | None = None,
    archive_format: str = "default",
) -> Path:
    """Write ``export_path/model_name.mar`` and return its path.

    ``archive_format="no-archive"`` writes the folder ``export_path/model_name`` instead: TorchServe
    serves it in place, with no zipping here and no unzipping at every start.
    """
    if not checkpoint.exists():
        raise SystemExit(f"checkpoint {checkpoint} not found")
    return _archive(
        checkpoint,
        lambda stage: _stage(stage, model_config),
        export_path,
        model_name,
        merged_model_yaml(model_config, overrides, handler_overrides),
        archive_format,
    )


def build_hf_mar(
    folder: Path,
    export_path: Path,
    model_name: str = defaults.MODEL_NAME,
    overrides: Mapping[str, Any] | None = None,
    handler_overrides: Mapping[str, Any] | None = None,
    archive_format: str = "default",
) -> Path:
    """Like :func:`build_mar` for a Hugging Face model folder, served by the ``transformers`` back end."""
    return _archive(
        hf_weights(folder),
        lambda stage: _stage_hf(stage, folder),
        export_path,
        model_name,
        merged_model_yaml(None, overrides, handler_overrides),
        archive_format,
    )


def _archive(
    checkpoint: Path,
    stage_files: Callable[[Path], None],
    export_path: Path,
    model_name: str,
    model_yaml: Mapping[str, Any],
    archive_format: str,
) -> Path:
    """Run torch-model-archiver on ``checkpoint`` and the files ``stage_files`` lays out."""
    export_path.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mar-stage-") as tmp:
        stage = Path(tmp) / "extra"
        stage.mkdir()
        stage_files(stage)
        config_file = Path(tmp) / "model-config.yaml"
        config_file.write_text(yaml.safe_dump(dict(model_yaml)))
        command = [
            str(Path(sys.executable).parent / "torch-model-archiver"),
            "--model-name",
            model_name,
            "--version",
            "1.0",
            "--handler",
            str(ENTRY),
            "--serialized-file",
            str(checkpoint),
            "--extra-files",
            str(stage),
            "--config-file",
            str(config_file),
            "--export-path",
            str(export_path),
            "--archive-format",
            archive_format,
            "--force",
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    model = parser.add_mutually_exclusive_group(required=True)
    model.add_argument("--checkpoint", type=Path, help="rf-groundingdino checkpoint (.pth), with --config")
    model.add_argument("--hf-model", type=Path, help="Hugging Face GroundingDINO / MM-Grounding-DINO / LLMDet folder")
    parser.add_argument("--config", type=Path, default=REPO / defaults.MODEL_CONFIG)
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
    if args.hf_model:
        build_hf_mar(args.hf_model, args.export_path, args.model_name, overrides)
    else:
        build_mar(args.checkpoint, args.export_path, args.config, args.model_name, overrides)


if __name__ == "__main__":
    main()
