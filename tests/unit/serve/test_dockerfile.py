"""The Dockerfile passes hadolint and serves what the README says (tests/integration/test_container.py builds and runs it)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from gdino_serve.paths import REPO


def hadolint() -> str:
    beside = Path(sys.executable).parent / "hadolint"
    return str(beside) if beside.exists() else shutil.which("hadolint") or "hadolint"


def test_dockerfile_passes_hadolint():
    result = subprocess.run([hadolint(), "Dockerfile"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_runs_as_non_root_and_binds_inference_for_port_publishing():
    text = (REPO / "Dockerfile").read_text()
    assert "USER 1000" in text and "BIND_ADDRESS=0.0.0.0" in text
    assert "openjdk-17" in text and 'CMD ["gdino-serve"]' in text
