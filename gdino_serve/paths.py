"""Where the project's files are: the checkout (or ``$GDINO_HOME``) and the folders under it.

The serving package builds archives from files that are not Python packages (``model_config/``,
``bert-base-uncased/``, ``config.properties``) and keeps weights and caches beside them, so it
runs from a source checkout: the folder holding this package, or ``$GDINO_HOME`` when set (an
installed package serving a checkout elsewhere).
"""

from __future__ import annotations

import os
from pathlib import Path

from handler.contract import defaults

REPO = Path(os.environ.get("GDINO_HOME") or Path(__file__).resolve().parent.parent)
WEIGHTS = REPO / "weights"  # downloaded and demo weights (weights/README.md)
BUILD = REPO / "build"  # everything made locally: caches, test weights, venvs of tools
MODEL_CONFIGS = REPO / "model_config"
BERT_DIR = REPO / "bert-base-uncased"
FULL_CONFIG = REPO / defaults.MODEL_CONFIG  # the default, full-size architecture (official Swin-T OGC)
TINY_CONFIG = MODEL_CONFIGS / "GroundingDINO_tiny_test.py"  # a few-MB architecture for fast tests
# The Ray Serve front end's options (gdino_serve/ray_serve): one Serve config for clusters and one machine.
RAY_SERVE_CONFIG = REPO / "deploy" / "ray" / "serve-config.yaml"
