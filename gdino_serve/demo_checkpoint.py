"""Helpers for tests, demos and the benchmark: configs, a cached random checkpoint, real photos.

Official weights are not needed to exercise the real loading and serving code: a deterministic
random-weight checkpoint in the official format (``{"model": state_dict}``, ``module.``-prefixed
keys) stands in for them. It detects nothing meaningful. Real photos are scikit-image's sample
data (a test requirement). Everything here works on a source checkout of the repository.
"""

from __future__ import annotations

import base64
import io
import logging
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from handler import defaults

REPO = Path(__file__).resolve().parent.parent
TINY_CONFIG = REPO / "model_config" / "GroundingDINO_tiny_test.py"
FULL_CONFIG = REPO / defaults.MODEL_CONFIG
BERT_DIR = REPO / defaults.BERT_DIR
# Small images keep CPU tests fast; every other setting is the service default.
TEST_HANDLER_SETTINGS = {"resize_short": 320, "resize_max": 512}
_WORDS = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa".split()
# 400 distinct names of one to three words, many split into word pieces (e.g. "kilo17" -> kilo ##17)
NAMES_400 = [f"{_WORDS[i % 16]}{i} {_WORDS[(i // 16) % 16]}" if i % 3 else f"{_WORDS[i % 16]} {i}" for i in range(400)]
PHOTOS = ("astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg", "motorcycle_left.png")

# Raw random weights give token logits of standard deviation ~16 (every score 1.0) and boxes that
# are the encoder's fixed anchors. These two scalings spread the best-token scores over about
# 0.55..0.85 and let the box head move and resize boxes, so thresholds and NMS have work to do.
TEXT_OUTPUT_SCALE = 0.05
BOX_HEAD_STD = 0.3

logger = logging.getLogger(__name__)


def photo_bytes(name: str) -> bytes:
    """The encoded bytes of one of scikit-image's sample photos, as stored."""
    import skimage

    return (Path(skimage.__file__).parent / "data" / name).read_bytes()


def encode(image: Image.Image, fmt: str = "PNG", **save_args: Any) -> bytes:
    """``image`` encoded as ``fmt``."""
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **save_args)
    return buffer.getvalue()


def b64(data: bytes) -> str:
    """``data`` as base64 text, as JSON requests carry images."""
    return base64.b64encode(data).decode("ascii")


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
        raise FileNotFoundError(f"{bert_dir / 'vocab.txt'} is missing: run scripts/setup_bert.py first")
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

    Tests and the benchmark share it: it is deterministic, so one copy per config and seed will do.
    """
    path = REPO / "build" / "test-weights" / f"{config.stem}-seed{seed}.pth"
    return path if path.exists() else make_random_checkpoint(config, path, seed)
