"""A local Hugging Face GroundingDINO-family folder -> model and tokenizer, with the hub forced offline.

The folder is what ``save_pretrained`` writes (``config.json``, the processor and tokenizer
files); the weights file may lie elsewhere (in a ``.mar`` it is the archive's serialized file).
The model class comes from ``config.json``'s ``model_type``.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Collection
from pathlib import Path
from typing import Any

import torch
from torch import nn

logger = logging.getLogger(__name__)

# config.json model_type -> transformers class name (LLMDet checkpoints are mm-grounding-dino)
MODEL_CLASSES = {
    "grounding-dino": "GroundingDinoForObjectDetection",
    "mm-grounding-dino": "MMGroundingDinoForObjectDetection",
}

RANDOM_WEIGHTS_MARK = "RANDOM_WEIGHTS.txt"  # written by gdino_serve.demo_hf_model next to random weights


def force_offline() -> None:
    """Never reach for the Hugging Face hub: everything comes from local files."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"


def model_type(folder: Path, known: Collection[str] = tuple(MODEL_CLASSES)) -> str:
    """The folder's ``model_type``; a ValueError naming the ``known`` ones otherwise."""
    config_file = folder / "config.json"
    if not config_file.exists():
        raise FileNotFoundError(f"{config_file} not found: a transformers model folder needs its config.json")
    found = json.loads(config_file.read_text()).get("model_type")
    if found not in known:
        raise ValueError(f"{config_file}: model_type {found!r} is not one of {', '.join(known)}")
    return found


def load_model(folder: Path, weights: Path, device: torch.device) -> nn.Module:
    """The detection model of ``folder``'s config with the weights of ``weights`` (safetensors or torch)."""
    force_offline()
    import transformers
    from safetensors.torch import load_file

    if not weights.exists():
        raise FileNotFoundError(f"weights {weights} not found")
    model_class = getattr(transformers, MODEL_CLASSES[model_type(folder)])
    config = model_class.config_class.from_pretrained(folder, local_files_only=True)
    state = load_file(weights) if weights.suffix == ".safetensors" else torch.load(weights, map_location="cpu")
    model = model_class.from_pretrained(None, config=config, state_dict=state, local_files_only=True)
    logger.info("loaded %s (%s) from %s", model_class.__name__, config.model_type, weights.name)
    if (folder / RANDOM_WEIGHTS_MARK).exists():
        logger.warning("%s holds RANDOM WEIGHTS (a test/demo folder): its detections mean nothing", folder)
    return model.to(device).eval()


def load_tokenizer(folder: Path) -> Any:
    """The folder's (fast, BERT) tokenizer."""
    force_offline()
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(folder, local_files_only=True)
