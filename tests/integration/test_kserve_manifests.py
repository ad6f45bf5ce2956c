"""deploy/kserve/ checked against the KServe SDK's own types (its venv: scripts/setup_kserve_sdk.sh)."""

from __future__ import annotations

import subprocess

import pytest

from gdino_serve.paths import BUILD, REPO
from gdino_serve.tools.validate_kserve_manifests import MANIFESTS

pytestmark = pytest.mark.kserve
MANIFEST_FILES = sorted(MANIFESTS.glob("*.yaml"))

SDK_PYTHON = BUILD / "kserve-sdk" / "bin" / "python"


def test_manifests_match_the_kserve_sdk_types():
    check = subprocess.run(
        [str(SDK_PYTHON), "-m", "gdino_serve.tools.validate_kserve_manifests"], cwd=REPO, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr
    assert check.stderr.count("valid (KServe SDK 0.15.2)") == len(MANIFEST_FILES), check.stderr
