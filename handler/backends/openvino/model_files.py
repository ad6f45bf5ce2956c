"""What a converted model folder holds, shared by the converter (gdino_serve/openvino_export) and the worker.

Two IR graphs split where GroundingDINO's inputs split: the image graph (Swin, ``input_proj`` and the
position maps: everything that does not read the caption) runs once per image, the caption graph
(BERT, the encoder with its fusion layers, query selection, decoder and heads) once per (image,
caption). An IR carries no model facts, so ``model.json`` beside it holds what the Detector
protocol reports and what the files were made from.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

FOLDER = "openvino_model"  # the converted folder in the model dir (named by the model_config setting)
IMAGE_XML = "image.xml"
IMAGE_BIN = "image.bin"
CAPTION_XML = "caption.xml"
CAPTION_BIN = "caption.bin"  # the largest file: the archive's serialized file
METADATA = "model.json"
# The caption graph's inputs after the image graph's outputs (its level maps, then position maps).
TEXT_INPUTS = ("input_ids", "token_type_ids", "position_ids", "text_self_attention_masks", "text_token_mask")


@dataclass(frozen=True)
class ModelFacts:
    """What ``model.json`` records beside the IR."""

    max_text_len: int
    num_queries: int
    feature_strides: tuple[int, ...]
    feature_levels: int  # the image graph's outputs: this many level maps, then as many position maps
    weights: str  # one of defaults.OPENVINO_WEIGHTS
    openvino: str  # the OpenVINO version that converted it
    source: dict[str, Any]  # checkpoint sha256, config name, versions of the converting stack

    def write(self, folder: Path) -> None:
        (folder / METADATA).write_text(json.dumps(asdict(self), indent=2, sort_keys=True) + "\n")

    @classmethod
    def read(cls, folder: Path) -> ModelFacts:
        values = json.loads((folder / METADATA).read_text())
        return cls(**{**values, "feature_strides": tuple(values["feature_strides"])})
