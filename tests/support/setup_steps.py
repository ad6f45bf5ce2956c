"""The set-up steps some tests need, run once per session and only when such a test is selected.

``scripts/test.sh`` sets up what every test needs (the venv, the tokenizer files); the heavier
parts (Podman and a Debian base, the KServe SDK venv, Label Studio, Chromium) are installed here,
by marker, when the session's selected tests include one that needs them. So a fast run
(``-m "not integration"``) installs none of them.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Iterable

from gdino_serve.paths import REPO

logger = logging.getLogger(__name__)

# marker -> the script that installs what tests with that marker need
STEPS = {
    "container": "scripts/setup_podman.sh",
    "kserve": "scripts/setup_kserve_sdk.sh",
    "labelstudio": "scripts/setup_labelstudio.sh",
    "browser": "scripts/setup_chromium.sh",
}


def needed_steps(markers: Iterable[str]) -> list[str]:
    """The set-up scripts for a selection whose tests carry ``markers``, in a fixed order."""
    present = set(markers)
    return [script for marker, script in STEPS.items() if marker in present]


def run_steps(scripts: Iterable[str]) -> None:
    """Run each script (bash, from the repository root); a failure stops the session."""
    for script in scripts:
        logger.warning("set-up for the selected tests: bash %s", script)
        subprocess.run(["bash", script], cwd=REPO, check=True)
