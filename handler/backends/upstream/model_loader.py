"""Build GroundingDINO from an architecture config and load an official-format checkpoint.

BERT's architecture and tokenizer come from a local ``bert-base-uncased/`` folder; its
weights come only from the GroundingDINO checkpoint (they are part of it), so BERT is
never loaded a second time and the hub is never contacted.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from handler.backends.patching import patched

logger = logging.getLogger(__name__)

# Inference needs no activation checkpointing; the upstream configs turn it on for training.
INFERENCE_OVERRIDES = {"use_checkpoint": False, "use_transformer_ckpt": False}
# Source fingerprint of rf-groundingdino 0.3.0's get_pretrained_language_model, replaced while building.
PRETRAINED_LANGUAGE_MODEL = "6c4e941bf8ec4c88"


class CheckpointError(ValueError):
    """The checkpoint cannot be loaded into the model (format or tensor shapes)."""


def _offline_hub() -> None:
    """Make every transformers / huggingface_hub call local-only."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"


def load_config(config_path: Path) -> Any:
    """Read an upstream-style Python architecture config (``SLConfig``)."""
    from groundingdino.util.slconfig import SLConfig

    return SLConfig.fromfile(str(config_path))


def _bert_from_config(bert_dir: Path, num_hidden_layers: int | None) -> contextlib.AbstractContextManager[None]:
    """While building: the upstream builder creates BERT from its config instead of ``from_pretrained``."""
    from groundingdino.util import get_tokenlizer
    from transformers import BertConfig, BertModel

    def build_bert(_: str) -> BertModel:
        config = BertConfig.from_pretrained(str(bert_dir))
        if num_hidden_layers is not None:
            config.num_hidden_layers = num_hidden_layers
        return BertModel(config)

    return patched(get_tokenlizer, "get_pretrained_language_model", build_bert, PRETRAINED_LANGUAGE_MODEL)


def build_model(config_path: Path, bert_dir: Path) -> nn.Module:
    """Build an uninitialised GroundingDINO (random weights) for ``config_path``."""
    _offline_hub()
    from groundingdino.models import build_model as upstream_build

    args = load_config(config_path)
    for key, value in INFERENCE_OVERRIDES.items():
        args[key] = value
    args.text_encoder_type = str(bert_dir)
    args.device = "cpu"
    num_layers = args.get("bert_num_hidden_layers", None)
    upstream_stdout = io.StringIO()
    with _bert_from_config(bert_dir, num_layers), contextlib.redirect_stdout(upstream_stdout):
        model = upstream_build(args)
    if upstream_stdout.getvalue().strip():
        logger.debug("upstream build said: %s", upstream_stdout.getvalue().strip())
    return model


def read_checkpoint(checkpoint_path: Path) -> dict[str, torch.Tensor]:
    """Return the state dict of an official checkpoint (``{"model": state_dict}``), prefixes removed."""
    try:
        checkpoint = torch.load(checkpoint_path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        logger.warning("%s holds more than tensors; loading it with full unpickling", checkpoint_path)
        checkpoint = torch.load(checkpoint_path, map_location="cpu", weights_only=False)
    if not isinstance(checkpoint, Mapping):
        raise CheckpointError(f"{checkpoint_path}: expected a dict with a 'model' state dict")
    if checkpoint.get("random_weights"):
        logger.warning("!" * 78)
        logger.warning("RANDOM-WEIGHT DEMO CHECKPOINT %s: detections are meaningless.", checkpoint_path.name)
        logger.warning("Serve the official groundingdino_swint_ogc.pth for real results.")
        logger.warning("!" * 78)
    state = checkpoint.get("model", checkpoint)
    return {key.removeprefix("module."): value for key, value in state.items()}


def load_weights(model: nn.Module, state: Mapping[str, torch.Tensor], source: Path) -> None:
    """Load ``state`` into ``model``: shape mismatches fail loudly, missing/unexpected keys are logged."""
    expected = model.state_dict()
    for key, value in state.items():
        if key in expected and expected[key].shape != value.shape:
            raise CheckpointError(
                f"{source}: tensor '{key}' has shape {tuple(value.shape)}, "
                f"the model config expects {tuple(expected[key].shape)} (wrong config for this checkpoint?)"
            )
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys:
        logger.warning("%s: %d missing keys: %s", source, len(result.missing_keys), result.missing_keys[:20])
    if result.unexpected_keys:
        logger.warning("%s: %d unexpected keys: %s", source, len(result.unexpected_keys), result.unexpected_keys[:20])
    logger.info("loaded %d tensors from %s", len(state) - len(result.unexpected_keys), source)


def load_model(config_path: Path, checkpoint_path: Path, bert_dir: Path, device: torch.device) -> nn.Module:
    """Build the model, load its checkpoint, move it to ``device`` and switch to eval mode."""
    model = build_model(config_path, bert_dir)
    load_weights(model, read_checkpoint(checkpoint_path), checkpoint_path)
    return model.to(device).eval()
