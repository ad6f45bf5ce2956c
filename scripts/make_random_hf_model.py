"""Write a deterministic random-weight Hugging Face GroundingDINO or MM-Grounding-DINO folder.

    python -m scripts.make_random_hf_model --model-type mm-grounding-dino --size full --out weights/random_mm

The config is built in code (no hub): ``tiny`` for tests, ``full`` for the Swin-T + BERT-base
size of the published checkpoints. It detects nothing meaningful: it exists to exercise the real
loading and serving code of the transformers back end (see :mod:`handler.hf_testing`).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from handler.hf_testing import MODEL_TYPES, SIZES, make_random_hf_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-type", choices=MODEL_TYPES, default="grounding-dino")
    parser.add_argument("--size", choices=SIZES, default="tiny")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    make_random_hf_model(args.model_type, args.out, args.size, args.seed)


if __name__ == "__main__":
    main()
