"""Deterministic random-weight GroundingDINO checkpoints in the official format (demo and tests).

Official weights are not needed to exercise the real loading and serving code: a seeded
random-weight checkpoint in the official format (``{"model": state_dict}``, ``module.``-prefixed
keys, plus ``"random_weights": True`` so the loader warns loudly) stands in for them. It detects
nothing meaningful. ``scripts/serve.sh`` serves one when the official file cannot be downloaded.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from gdino_serve.paths import BERT_DIR, BUILD, REPO
from handler.contract import defaults

if TYPE_CHECKING:
    from handler.core.pipeline import DetectionPipeline

# Raw random weights give token logits of standard deviation ~16 (every score 1.0) and boxes that
# are the encoder's fixed anchors. These two scalings spread the best-token scores over about
# 0.55..0.85 and let the box head move and resize boxes, so thresholds and NMS have work to do.
TEXT_OUTPUT_SCALE = 0.05
BOX_HEAD_STD = 0.3
# Small model inputs keep the tiny config fast in tests and soak runs; every other setting is the default.
TINY_SETTINGS = {"resize_short": 320, "resize_max": 512}
CACHE = BUILD / "test-weights"  # random weights made once per machine, shared by tests and benchmarks

logger = logging.getLogger(__name__)


def calibrate(model: torch.nn.Module) -> None:
    """Scale the random weights so scores and boxes look like a detector's, not like noise."""
    with torch.no_grad():
        model.transformer.encoder.text_layers[-1].norm2.weight.mul_(TEXT_OUTPUT_SCALE)
        last = model.bbox_embed[0].layers[-1]
        last.weight.copy_(torch.randn_like(last.weight) * BOX_HEAD_STD)


def make_random_checkpoint(config: Path, out: Path, seed: int = 0, bert_dir: Path = BERT_DIR) -> Path:
    """Build the architecture of ``config`` with seeded random weights and save it to ``out``."""
    from handler.backends.upstream.model_loader import build_model

    if not (bert_dir / "vocab.txt").exists():
        raise FileNotFoundError(f"{bert_dir / 'vocab.txt'} is missing: run python -m scripts.setup_bert first")
    torch.manual_seed(seed)
    model = build_model(config, bert_dir)
    calibrate(model)
    state = {f"module.{key}": value.contiguous() for key, value in model.state_dict().items()}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".partial")
    torch.save({"model": state, "random_weights": True, "seed": seed}, tmp)
    tmp.replace(out)
    logger.info("wrote %s (%.1f MB, seed %d, RANDOM WEIGHTS)", out, out.stat().st_size / 1e6, seed)
    return out


def cached_random_checkpoint(config: Path, seed: int = 0) -> Path:
    """The checkpoint for ``config`` and ``seed`` under build/test-weights, made on first use.

    Tests and benchmarks share it: it is deterministic, so one copy per config and seed will do.
    """
    path = CACHE / f"{config.stem}-seed{seed}.pth"
    return path if path.exists() else make_random_checkpoint(config, path, seed)


def converted_random_checkpoint(config: Path, weights: str = defaults.OPENVINO_DEFAULT_WEIGHTS) -> Path:
    """:func:`cached_random_checkpoint` converted to OpenVINO IR (the ``openvino`` back end's
    folder), under build/test-weights-openvino: converted on first use (minutes for the full config),
    then reused while the checkpoint, config and export code stay the same."""
    from gdino_serve.model_store_cache import converted_openvino_model

    cache = CACHE.with_name(f"{CACHE.name}-openvino") / config.stem
    return converted_openvino_model(cached_random_checkpoint(config), config, cache, weights).folder


def random_pipeline(config: Path, device: torch.device | str = "cpu", **settings: Any) -> DetectionPipeline:
    """The random checkpoint of ``config`` in an in-process pipeline on the upstream back end (benchmarks,
    tests); ``settings`` over the handler's defaults, no warm-up call unless they ask for one."""
    from handler.backends import load_pipeline
    from handler.core.settings import HandlerSettings

    own = HandlerSettings(**{"model_config": str(config.relative_to(REPO)), "warmup": False, **settings})
    return load_pipeline(REPO, cached_random_checkpoint(config), own, torch.device(device))


def converted_pipeline(folder: Path, **settings: Any) -> DetectionPipeline:
    """A converted model ``folder`` (:func:`converted_random_checkpoint`, ``converted_openvino_model``) in an
    in-process pipeline on the openvino back end: what a worker of its archive answers."""
    from handler.backends import load_pipeline
    from handler.backends.openvino.model_files import CAPTION_BIN
    from handler.core.settings import HandlerSettings

    own = {"backend": "openvino", "model_config": folder.name, "bert_dir": str(BERT_DIR), "warmup": False}
    return load_pipeline(
        folder.parent, folder / CAPTION_BIN, HandlerSettings(**{**own, **settings}), torch.device("cpu")
    )


def main() -> None:
    """``python -m scripts.make_random_checkpoint --config model_config/GroundingDINO_SwinT_OGC.py``"""
    import argparse

    from gdino_serve.paths import FULL_CONFIG, WEIGHTS

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=FULL_CONFIG)
    parser.add_argument("--out", type=Path, default=WEIGHTS / "groundingdino_random_demo.pth")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    make_random_checkpoint(args.config, args.out, args.seed)
