"""Write a deterministic random-weight GroundingDINO checkpoint in the official format.

    python -m scripts.make_random_checkpoint --config model_config/GroundingDINO_SwinT_OGC.py

It detects nothing meaningful: it exists to exercise the real loading and serving code
(see :mod:`handler.testing`).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from handler.testing import FULL_CONFIG, REPO, make_random_checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=FULL_CONFIG)
    parser.add_argument("--out", type=Path, default=REPO / "weights/groundingdino_random_demo.pth")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    make_random_checkpoint(args.config, args.out, args.seed)


if __name__ == "__main__":
    main()
