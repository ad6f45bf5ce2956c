"""What a Detector replica loads, once: a model store folder, or a checkpoint or Hugging Face folder directly.

* ``model_store``: the folder :func:`gdino_serve.model_store_cache.cached_model_store` builds (what
  ``gdino-serve`` serves with TorchServe too). The replica reads it as TorchServe's worker does:
  ``MAR-INF/MANIFEST.json`` names the weights, ``model-config.yaml`` holds ``batchSize``,
  ``maxBatchDelay`` and the ``handler:`` settings, whose paths are relative to the folder.
* ``checkpoint`` (with ``model_config``) or ``hf_model``: the same files linked into a temporary
  folder in the archive's layout, with the checkout's model-config.yaml: no archive is built.
* neither: the official Swin-T weights (downloaded once per node), else the random demo, as
  ``gdino-serve`` does.

``handler`` settings given here override the model-config.yaml ones (e.g. ``dtype``).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gdino_serve.model_archive import HuggingFaceModel, ModelFiles, UpstreamModel, merged_model_yaml
from gdino_serve.paths import REPO
from handler.contract import defaults
from handler.core.settings import HandlerSettings
from handler.frontends.http.kserve_protocol import ModelRef

TORCHSERVE_BATCH_DELAY_MS = 100  # TorchServe's maxBatchDelay when model-config.yaml gives none


@dataclass(frozen=True)
class ReplicaModel:
    """A model's files in the archive's layout and the model-config.yaml that goes with them."""

    model_dir: Path  # the handler settings' paths are relative to it
    weights: Path
    model_yaml: Mapping[str, Any]
    ref: ModelRef

    @property
    def settings(self) -> HandlerSettings:
        return HandlerSettings.from_mapping(self.model_yaml.get("handler"))

    @property
    def max_batch_size(self) -> int:
        """TorchServe's ``batchSize``: the most images one batch holds."""
        return int(self.model_yaml.get("batchSize", 1))

    @property
    def batch_wait_s(self) -> float:
        """TorchServe's ``maxBatchDelay`` (ms) in seconds: how long a batch waits to fill."""
        return float(self.model_yaml.get("maxBatchDelay", TORCHSERVE_BATCH_DELAY_MS)) / 1000.0


def with_handler_overrides(model_yaml: Mapping[str, Any], handler: Mapping[str, Any]) -> dict[str, Any]:
    return {**model_yaml, "handler": {**(model_yaml.get("handler") or {}), **handler}}


def store_model(store: Path, model_name: str = defaults.MODEL_NAME, handler: Mapping[str, Any] = ()) -> ReplicaModel:
    """The model ``model_name`` of a no-archive model store, read as TorchServe's worker reads it."""
    folder = store / model_name
    manifest_file = folder / "MAR-INF" / "MANIFEST.json"
    if not manifest_file.exists():
        raise FileNotFoundError(f"{folder} is not a model store folder of {model_name!r} (no {manifest_file.name})")
    manifest = json.loads(manifest_file.read_text())["model"]
    model_yaml = yaml.safe_load((folder / manifest.get("configFile", "model-config.yaml")).read_text()) or {}
    ref = ModelRef(manifest.get("modelName", model_name), str(manifest.get("modelVersion", defaults.MODEL_VERSION)))
    return ReplicaModel(
        folder, folder / manifest["serializedFile"], with_handler_overrides(model_yaml, dict(handler)), ref
    )


@contextmanager
def linked_model(
    model: ModelFiles, model_name: str = defaults.MODEL_NAME, handler: Mapping[str, Any] = ()
) -> Iterator[ReplicaModel]:
    """``model``'s files linked into a temporary folder in the archive's layout, for as long as loading takes."""
    with tempfile.TemporaryDirectory(prefix="gdino-model-") as tmp:
        folder = Path(tmp)
        for name, path in {**model.files(), model.weights.name: model.weights}.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).symlink_to(path.resolve())
        model_yaml = merged_model_yaml(model, handler_overrides=dict(handler))
        yield ReplicaModel(
            folder, folder / model.weights.name, model_yaml, ModelRef(model_name, defaults.MODEL_VERSION)
        )


def model_files(checkpoint: str | None, model_config: str, hf_model: str | None) -> ModelFiles:
    """The files a ``checkpoint`` (with its architecture config) or ``hf_model`` folder names; the
    official or demo checkpoint when neither is given."""
    if checkpoint and hf_model:
        raise ValueError("give checkpoint or hf_model, not both")
    if hf_model:
        return HuggingFaceModel(Path(hf_model).resolve())
    if not checkpoint:
        from gdino_serve.serve import official_or_demo

        checkpoint = str(official_or_demo())
    config = Path(model_config)
    return UpstreamModel(Path(checkpoint).resolve(), config if config.is_absolute() else REPO / config)
