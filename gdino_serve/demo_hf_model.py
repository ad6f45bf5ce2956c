"""Random-weight Hugging Face model folders for the transformers back end (demo, tests, benchmark).

Official weights cannot always be downloaded (no hub access on CI), yet the real loading and
serving code should run: :func:`make_random_hf_model` builds a ``grounding-dino`` or
``mm-grounding-dino`` model from a config written here (``tiny`` for tests, ``full`` for the
Swin-T + BERT-base size of the published checkpoints), with seeded random weights, and saves it
as ``save_pretrained`` does (``config.json``, ``model.safetensors``, processor and tokenizer
files). It detects nothing meaningful.
"""

from __future__ import annotations

import logging
import math
import shutil
from pathlib import Path
from typing import Any

import torch

from gdino_serve.demo_checkpoint import BOX_HEAD_STD, CACHE, TEXT_OUTPUT_SCALE
from gdino_serve.paths import BERT_DIR
from handler.backends.transformers.model_loader import RANDOM_WEIGHTS_MARK

MODEL_TYPES = ("grounding-dino", "mm-grounding-dino")
SIZES = ("tiny", "full")

logger = logging.getLogger(__name__)


def _tiny_config_args() -> dict[str, Any]:
    """A few-layer, narrow architecture of the same shape as the published ones (max_text_len 256)."""
    from transformers import BertConfig, SwinConfig

    backbone = SwinConfig(
        image_size=224, window_size=7, embed_dim=16, depths=[1, 1, 1, 1], num_heads=[1, 2, 2, 2], out_indices=[2, 3, 4]
    )
    text = BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64)
    return {
        "backbone_config": backbone,
        "text_config": text.to_dict(),
        "d_model": 32,
        "encoder_layers": 2,
        "encoder_ffn_dim": 64,
        "encoder_attention_heads": 4,
        "decoder_layers": 2,
        "decoder_ffn_dim": 64,
        "decoder_attention_heads": 4,
        "num_queries": 100,
    }


def build_config(model_type: str, size: str = "tiny") -> Any:
    """The transformers config of ``model_type`` (``full``: the library defaults, Swin-T + BERT-base)."""
    from transformers import GroundingDinoConfig, MMGroundingDinoConfig

    if model_type not in MODEL_TYPES or size not in SIZES:
        raise ValueError(f"model_type must be one of {MODEL_TYPES} and size one of {SIZES}")
    config_class = GroundingDinoConfig if model_type == "grounding-dino" else MMGroundingDinoConfig
    return config_class(**(_tiny_config_args() if size == "tiny" else {}))


def build_processor(bert_dir: Path = BERT_DIR) -> Any:
    """GroundingDINO's processor: the library's image processor and the BERT-base-uncased tokenizer."""
    from transformers import BertTokenizerFast, GroundingDinoImageProcessor, GroundingDinoProcessor

    if not (bert_dir / "vocab.txt").exists():
        raise FileNotFoundError(f"{bert_dir / 'vocab.txt'} is missing: run python -m gdino_serve.bert_vocab first")
    tokenizer = BertTokenizerFast(vocab_file=str(bert_dir / "vocab.txt"), do_lower_case=True)
    return GroundingDinoProcessor(image_processor=GroundingDinoImageProcessor(), tokenizer=tokenizer)


def calibrate(model: torch.nn.Module) -> None:
    """Scale the random weights so scores and boxes look like a detector's, not like noise."""
    with torch.no_grad():
        scale = TEXT_OUTPUT_SCALE
        for head in model.class_embed:
            if hasattr(head, "bias"):  # MM-Grounding-DINO: logits / sqrt(d_model) + a prior bias of -4.6
                head.bias.zero_()
                scale = TEXT_OUTPUT_SCALE * math.sqrt(model.config.d_model)
        model.model.encoder.layers[-1].text_enhancer_layer.layer_norm_after.weight.mul_(scale)
        for head in {id(head): head for head in model.bbox_embed}.values():
            last = head.layers[-1]
            last.weight.copy_(torch.randn_like(last.weight) * BOX_HEAD_STD)


def make_random_hf_model(model_type: str, out: Path, size: str = "tiny", seed: int = 0) -> Path:
    """Save a seeded random ``model_type`` model with its processor to the folder ``out``."""
    from transformers import GroundingDinoForObjectDetection, MMGroundingDinoForObjectDetection

    config = build_config(model_type, size)
    processor = build_processor()
    torch.manual_seed(seed)
    model_class = (
        GroundingDinoForObjectDetection if model_type == "grounding-dino" else MMGroundingDinoForObjectDetection
    )
    model = model_class(config).eval()
    calibrate(model)
    return save_random_folder(model, processor, out, f"{model_type} {size}, seed {seed}", "detector")


def save_random_folder(model: Any, processor: Any, out: Path, what: str, kind: str) -> Path:
    """Save a random-weight ``model`` and its ``processor`` to the folder ``out`` (written beside it,
    then moved into place), marked and logged as random weights (``what``: which model; ``kind``: what
    it is not)."""
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(partial)
    processor.save_pretrained(partial)
    (partial / RANDOM_WEIGHTS_MARK).write_text(f"random weights ({what}): not a {kind}\n")
    shutil.rmtree(out, ignore_errors=True)
    partial.replace(out)
    size_mb = (out / "model.safetensors").stat().st_size / 1e6
    logger.warning("wrote %s (%s, %.1f MB, RANDOM WEIGHTS)", out, what, size_mb)
    return out


def cached_random_hf_model(model_type: str, size: str = "tiny", seed: int = 0) -> Path:
    """The folder for ``model_type``, ``size`` and ``seed`` under build/test-weights, made on first use."""
    path = CACHE / f"hf-{model_type}-{size}-seed{seed}"
    return path if (path / "model.safetensors").exists() else make_random_hf_model(model_type, path, size, seed)


def main() -> None:
    """``python -m scripts.make_random_hf_model --model-type mm-grounding-dino --size full --out DIR``"""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-type", choices=MODEL_TYPES, default="grounding-dino")
    parser.add_argument("--size", choices=SIZES, default="tiny")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    make_random_hf_model(args.model_type, args.out, args.size, args.seed)
