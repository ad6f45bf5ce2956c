"""The GPU check's parts that need no GPU (scripts/gpu_check.sh --out, gdino_serve/tools/gpu_check.py):
the install of the carried wheels ahead of the machine's packages, which test files it runs, how it
reads their results, and its refusal to run without CUDA."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from gdino_serve.paths import REPO
from gdino_serve.tools import gpu_check

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest">
<testcase classname="tests.model.test_cuda" name="test_a"/>
<testcase classname="tests.model.test_cuda" name="test_b"><failure message="boom"/></testcase>
<testcase classname="tests.model.test_batch_invariance" name="test_c[upstream-cuda]"><error message="x"/></testcase>
<testcase classname="tests.model.test_cuda" name="test_d"><skipped message="no"/></testcase>
</testsuite></testsuites>
"""


def test_the_check_runs_every_file_that_holds_cuda_tests() -> None:
    files = gpu_check.cuda_test_files(REPO / "tests")
    assert {"tests/model/test_cuda.py", "tests/model/test_batch_invariance.py"} <= set(files)
    assert "tests/model/test_gpu_speedups.py" not in files  # CPU-only tests


def test_junit_counts(tmp_path) -> None:
    path = tmp_path / "cuda_tests.xml"
    path.write_text(JUNIT)
    assert gpu_check.junit_counts(path) == {
        "passed": 1,
        "failed": 2,
        "skipped": 1,
        "failed_tests": ["tests.model.test_cuda::test_b", "tests.model.test_batch_invariance::test_c[upstream-cuda]"],
    }


def test_without_cuda_it_refuses_and_points_to_the_dry_run(tmp_path, monkeypatch, caplog) -> None:
    monkeypatch.setattr(gpu_check.torch.cuda, "is_available", lambda: False)
    assert gpu_check.main(["--out", str(tmp_path / "out")]) == 2
    assert "--dry-run" in caplog.text and not (tmp_path / "out").exists()


def probe_wheel(folder: Path) -> None:
    """A minimal pure-Python wheel: package ``gpucheckprobe``."""
    folder.mkdir()
    info = "gpucheckprobe-1.0.dist-info"
    with zipfile.ZipFile(folder / "gpucheckprobe-1.0-py3-none-any.whl", "w") as wheel:
        wheel.writestr("gpucheckprobe/__init__.py", "VALUE = 1\n")
        wheel.writestr(f"{info}/METADATA", "Metadata-Version: 2.1\nName: gpucheckprobe\nVersion: 1.0\n")
        wheel.writestr(
            f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        wheel.writestr(f"{info}/RECORD", "")


def test_the_machine_side_installs_the_carried_wheels_then_runs_the_check(tmp_path) -> None:
    """With a one-wheel folder on this CUDA-less machine: the wheel is installed into a fresh
    folder, and the check then stops at its CUDA test with exit code 2."""
    wheels = tmp_path / "wheels"
    probe_wheel(wheels)
    out = tmp_path / "out"
    env = {"PATH": "/usr/bin:/bin", "PYTHON": sys.executable, "GPU_CHECK_WHEELS": str(wheels), "HOME": str(tmp_path)}
    result = subprocess.run(
        ["bash", "scripts/gpu_check.sh", "--out", str(out)], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert result.returncode == 2, result.stdout + result.stderr
    log = (out / "gpu_check.log").read_text()
    site = Path(re.search(r"1 wheels installed into (\S+) in", log).group(1))
    try:
        assert (site / "gpucheckprobe" / "__init__.py").read_text() == "VALUE = 1\n"
    finally:
        shutil.rmtree(site)
    assert "no CUDA GPU here" in log


def test_the_machine_side_refuses_an_empty_wheel_folder(tmp_path) -> None:
    env = {"PATH": "/usr/bin:/bin", "GPU_CHECK_WHEELS": str(tmp_path)}
    result = subprocess.run(
        ["bash", "scripts/gpu_check.sh", "--out", str(tmp_path / "out")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and f"no wheels in {tmp_path}" in result.stdout + result.stderr
