"""The GPU check's parts that need no GPU (gdino_serve/tools/gpu_check.py): which test files it
runs, how it reads their results, and its refusal to run without CUDA."""

from __future__ import annotations

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
