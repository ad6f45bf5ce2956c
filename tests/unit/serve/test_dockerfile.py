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


def test_the_image_can_serve_with_ray_and_run_as_a_ray_node():
    text = (REPO / "Dockerfile").read_text()
    assert " wget " in text  # KubeRay's health probes of a Ray node run wget
    assert "EXPOSE 8080 8000 6379 8265" in text  # TorchServe, Ray Serve, a Ray head's GCS and dashboard
    ignored = (REPO / ".dockerignore").read_text().splitlines()
    assert "deploy" in ignored and "!deploy/ray/serve-config.yaml" in ignored  # gdino-serve --engine ray reads it
    assert "ray[serve]==2.60.0" in (REPO / "requirements.txt").read_text().splitlines()  # set up by setup_env.sh serve
