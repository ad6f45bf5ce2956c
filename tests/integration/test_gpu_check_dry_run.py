"""``bash scripts/gpu_check.sh --dry-run`` fetches the wheels that travel to a lent GPU machine
(PyPI; cached in build/gpu-check-wheels, so later runs fetch nothing) and finds that the call fits."""

from __future__ import annotations

import json
import re
import subprocess

from gdino_serve.paths import REPO
from gdino_serve.tools.gpu_check_plan import DEVICE_WHEELS, MAX_COMMAND, normalise


def test_the_dry_run_fetches_every_wheel_and_fits() -> None:
    result = subprocess.run(
        ["bash", "scripts/gpu_check.sh", "--dry-run"], cwd=REPO, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.rstrip().endswith("fits: yes")
    call = json.loads(re.search(r"run tool call:\n(\{.*?\n\})", result.stdout, re.S).group(1))
    assert call["carry"] == ["build/gpu-check-wheels", "bert-base-uncased/vocab.txt"]
    assert len(call["command"]) <= MAX_COMMAND and call["timeout_s"] <= 600
    wheels = sorted(path.name for path in (REPO / "build" / "gpu-check-wheels").glob("*.whl"))
    assert [name.split("-")[0].lower() for name in wheels] == sorted(normalise(name) for name in DEVICE_WHEELS)
    assert "transformers-4.57.6-py3-none-any.whl" in wheels
    assert all(
        re.search(r"(py3-none-any|cp3\d+-abi3-manylinux\S*x86_64|cp312-cp312-manylinux\S*x86_64)\.whl$", n)
        for n in wheels
    )
