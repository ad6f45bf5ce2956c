"""The GPU check on a lent GPU machine: the CUDA-gated tests and the GPU benchmark in one call.

``bash scripts/gpu_check.sh --out DIR`` runs this after installing the carried wheels (the
command that ``bash scripts/gpu_check.sh --dry-run`` prints for the ``device`` tool's ``run``).
Stages, each timed and recorded in ``DIR/gpu_check.json`` as it ends (a failing stage is
recorded and the next one runs; none starts after the time budget; a watchdog ends the process
30 s past it):

1. ``checkpoints``: the random-weight full Swin-T and tiny checkpoints (weights cannot travel);
2. ``load``: the full Swin-T model on cuda:0 at 800/1333 px, and the GPU memory its weights take;
3. ``precision``, ``batching``, ``speedups`` (``gdino_serve/tools/gpu_benchmark.py``);
4. ``cuda_tests``: ``pytest -m cuda`` on the files that hold such tests, in a subprocess
   (``DIR/cuda_tests.xml``);
5. ``compiled``: ``torch.compile`` vs eager (last: it compiles the model in place, and its time
   is the hardest to foresee).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import logging
import platform
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from gdino_serve.paths import FULL_CONFIG, REPO, TINY_CONFIG
from gdino_serve.tools.gpu_check_plan import CHECK_BUDGET_S, DEVICE_WHEELS, MIB, TESTS_TIMEOUT_S, WATCHDOG_GRACE_S
from gdino_serve.tools.stage_report import Deadline, Report

if TYPE_CHECKING:
    from gdino_serve.tools.gpu_benchmark import BenchOptions

logger = logging.getLogger("gpu_check")

CUDA = torch.device("cuda:0")


def machine(device: torch.device) -> dict[str, Any]:
    """The GPU, driver and software the figures were measured with."""
    found: dict[str, Any] = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "carried": {name: importlib.metadata.version(name) for name in DEVICE_WHEELS},
    }
    if device.type != "cuda":
        return {"device": f"CPU, {torch.get_num_threads()} threads", **found}
    smi = shutil.which("nvidia-smi")
    query = [str(smi), "--query-gpu=driver_version", "--format=csv,noheader"]
    driver = subprocess.run(query, capture_output=True, text=True).stdout.strip() if smi else "unknown (no nvidia-smi)"
    _, total = torch.cuda.mem_get_info(device)
    gpu = {"device": torch.cuda.get_device_name(device), "gpu_memory_mib": total / MIB, "driver": driver}
    return {**gpu, "torch_cuda": torch.version.cuda, **found}


def cuda_test_files(tests: Path) -> list[str]:
    """The test files that hold tests marked ``cuda`` (relative to the checkout)."""
    return sorted(str(path.relative_to(REPO)) for path in tests.rglob("test_*.py") if "mark.cuda" in path.read_text())


def junit_counts(path: Path) -> dict[str, Any]:
    """Passed, failed and skipped counts of a JUnit XML file, and the failed tests' names."""
    cases = ElementTree.parse(path).getroot().iter("testcase")
    counts: dict[str, Any] = {"passed": 0, "failed": 0, "skipped": 0, "failed_tests": []}
    for case in cases:
        outcome = next((child.tag for child in case if child.tag in ("failure", "error", "skipped")), "passed")
        if outcome in ("failure", "error"):
            counts["failed"] += 1
            counts["failed_tests"].append(f"{case.get('classname')}::{case.get('name')}")
        else:
            counts[outcome] += 1
    return counts


def run_cuda_tests(out: Path, timeout_s: float) -> dict[str, Any]:
    """``pytest -m cuda`` in a subprocess, at most ``timeout_s``; its counts and the end of its output."""
    junit = out / "cuda_tests.xml"
    command = [sys.executable, "-m", "pytest", "-m", "cuda", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}"]
    command += cuda_test_files(REPO / "tests")
    try:
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as expired:
        output = expired.stdout or ""
        tail = output.decode(errors="replace") if isinstance(output, bytes) else output
        return {"status": f"timed out after {timeout_s:.0f} s", "output_tail": tail[-2000:]}
    result: dict[str, Any] = {"returncode": done.returncode, "output_tail": (done.stdout + done.stderr)[-2000:]}
    if junit.exists():
        result.update(junit_counts(junit))
    return result


def run_check(
    out: Path,
    budget_s: float,
    options: BenchOptions | None = None,
    device: torch.device = CUDA,
    config: Path = FULL_CONFIG,
    **settings: Any,
) -> int:
    """Every stage within ``budget_s`` (the model of ``config`` on ``device``, ``settings`` over the
    handler's defaults); 0 when the tests passed and no stage failed."""
    # Imported here, so that a machine without CUDA is turned away in seconds.
    from gdino_serve.demo_checkpoint import cached_random_checkpoint
    from gdino_serve.tools.gpu_benchmark import Bench, BenchOptions
    from handler.backends import load_pipeline
    from handler.core.settings import HandlerSettings

    deadline = Deadline(budget_s)
    report = Report(out / "gpu_check.json")
    report.watch(deadline, WATCHDOG_GRACE_S)
    report.put(("machine",), machine(device))
    report.put(("budget_s",), budget_s)
    bench, checkpoint = None, None
    with report.stage("checkpoints", deadline) as go:
        if go:
            checkpoint = cached_random_checkpoint(config)
            cached_random_checkpoint(TINY_CONFIG)  # the tests' tiny model
    with report.stage("load", deadline) as go:
        if go and checkpoint:
            handler_settings = HandlerSettings(model_config=str(config.relative_to(REPO)), warmup=False, **settings)
            pipeline = load_pipeline(REPO, checkpoint, handler_settings, device)
            if device.type == "cuda":
                report.put(("memory", "weights_mib"), torch.cuda.memory_allocated(device) / MIB)
            bench = Bench(pipeline, options or BenchOptions(), report, deadline)
    if bench:
        bench.run(("precision", "batching", "speedups"))
    with report.stage("cuda_tests", deadline) as go:
        if go:
            report.put(("cuda_tests",), run_cuda_tests(out, min(TESTS_TIMEOUT_S, deadline.left())))
    if bench:
        bench.run(("compiled",))
    stages = report.data.get("stages", {}).values()
    tests = report.data.get("cuda_tests", {})
    failed = any(stage.get("status") == "failed" for stage in stages) or tests.get("returncode") != 0
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="folder for gpu_check.json and cuda_tests.xml")
    parser.add_argument("--budget-s", type=float, default=CHECK_BUDGET_S, help="no stage starts after this")
    parser.add_argument("--spent-s", type=float, default=0.0, help="seconds of the budget already spent (install)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not torch.cuda.is_available():
        logger.error("no CUDA GPU here: `bash scripts/gpu_check.sh --dry-run` prints the call for a lent one")
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    return run_check(args.out, args.budget_s - args.spent_s)


if __name__ == "__main__":
    sys.exit(main())
