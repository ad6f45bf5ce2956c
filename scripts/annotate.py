"""Batch annotation client: ``python scripts/annotate.py photos/ --out annotations/ --classes cat,dog``.

The logic lives in :mod:`gdino_client`; this file is the command's entry point.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a file, not with -m
    from gdino_client.cli import main

    sys.exit(main())
