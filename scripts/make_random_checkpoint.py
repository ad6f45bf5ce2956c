"""Write a deterministic random-weight GroundingDINO checkpoint in the official format.

The official ``groundingdino_swint_ogc.pth`` is ``{"model": state_dict}`` with ``module.``-prefixed
keys; tests and the offline demo use a checkpoint of exactly that shape, made from a seed.
It detects nothing meaningful: it exists to exercise the real loading and serving code.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from handler.backends.upstream.model_loader import build_model  # noqa: E402

logger = logging.getLogger("make_random_checkpoint")


# Raw random weights give token logits of standard deviation ~16 (every score 1.0) and boxes that
# are the encoder's fixed anchors. These two scalings spread the best-token scores over about
# 0.55..0.85 and let the box head move and resize boxes, so thresholds and NMS have work to do.
TEXT_OUTPUT_SCALE = 0.05
BOX_HEAD_STD = 0.3


def calibrate(model: torch.nn.Module) -> None:
    """Scale the random weights so scores and boxes look like a detector's, not like noise."""
    with torch.no_grad():
        model.transformer.encoder.text_layers[-1].norm2.weight.mul_(TEXT_OUTPUT_SCALE)
        last = model.bbox_embed[0].layers[-1]
        last.weight.copy_(torch.randn_like(last.weight) * BOX_HEAD_STD)


def make_random_checkpoint(config: Path, out: Path, seed: int = 0, bert_dir: Path = REPO / "bert-base-uncased") -> Path:
    """Build the architecture of ``config`` with seeded random weights and save it to ``out``."""
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
    from scripts.setup_bert import setup_bert

    setup_bert(offline=True)
    path = REPO / "build" / "test-weights" / f"{config.stem}-seed{seed}.pth"
    return path if path.exists() else make_random_checkpoint(config, path, seed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", type=Path, default=REPO / "model_config/GroundingDINO_SwinT_OGC.py")
    parser.add_argument("--out", type=Path, default=REPO / "weights/groundingdino_random_demo.pth")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    make_random_checkpoint(args.config, args.out, args.seed)


if __name__ == "__main__":
    main()
