"""The GPU check (``gdino_serve/tools/gpu_check.py``, ``gpu_benchmark.py``) run on the CPU on the tiny
config, so that the lent GPU's one call finds working code: every stage records its figures, the
variants it compares answer as they should (compiled as eager; bfloat16 close to float32), and the
whole check runs its stages and the CUDA tests' subprocess end to end."""

from __future__ import annotations

import json
from collections.abc import Callable

import torch

from gdino_serve.paths import TINY_CONFIG
from gdino_serve.tools.gpu_benchmark import Bench, BenchOptions
from gdino_serve.tools.gpu_check import run_check
from gdino_serve.tools.stage_report import Deadline, Report
from handler.core.pipeline import DetectionPipeline

# Two images of 256x160 px, two dtypes, batches of 1 and 2, one timed pass and no warm-up; compiled with
# aot_eager (inductor's code generation takes minutes on this CPU; tests/model/test_gpu_speedups.py).
OPTIONS = BenchOptions(
    images=2,
    dtypes=("float32", "bfloat16"),
    batch_sizes=(1, 2),
    rounds=1,
    warmups=0,
    compile_mode="default",
    compile_backend="aot_eager",
    compile_dtypes=("float32",),
)
COMPILED_TOLERANCE = 1e-5  # as tests/model/test_gpu_speedups.py measured for aot_eager


def test_every_stage_records_its_figures_on_the_cpu(make_pipeline: Callable[..., DetectionPipeline], tmp_path) -> None:
    pipeline = make_pipeline(resize_short=160, resize_max=256, warmup=False)  # its own model: compiled in place
    path = tmp_path / "gpu_check.json"
    bench = Bench(pipeline, OPTIONS, Report(path), Deadline(600))
    assert [tuple(item.image.shape) for item in bench.inputs] == [(3, 160, 256)] * 2  # the largest input, exactly
    assert not bench.inputs[0].image.equal(bench.inputs[1].image)
    bench.run()
    report = json.loads(path.read_text())
    assert {name: stage["status"] for name, stage in report["stages"].items()} == dict.fromkeys(
        ("precision", "batching", "speedups", "compiled"), "ok"
    )
    for dtype in OPTIONS.dtypes:
        for batch in OPTIONS.batch_sizes:
            assert report["precision"][dtype][f"batch{batch}"]["images_per_s"] > 0
    bfloat16 = report["precision"]["bfloat16"]["vs_float32"]
    assert bfloat16["nonfinite_scores"] == 0 and 0 < bfloat16["max_score_diff"] < 1
    assert report["batching"]["shared_over_exact"] > 0
    assert report["speedups"]["sync_free_decoder"]["on_over_off"] > 0
    assert "float16_islands" not in report["speedups"]  # float16 was not asked for
    compiled = report["compiled"]["float32"]
    assert compiled["batch1"]["first_pass_s"] > 0 and compiled["batch2"]["images_per_s"] > 0
    assert compiled["vs_eager"]["max_score_diff"] <= COMPILED_TOLERANCE
    assert compiled["vs_eager"]["max_box_diff"] <= COMPILED_TOLERANCE


def test_no_measurement_starts_once_the_deadline_has_passed(make_pipeline, tmp_path) -> None:
    path = tmp_path / "gpu_check.json"
    Bench(make_pipeline(resize_short=160, resize_max=256, warmup=False), OPTIONS, Report(path), Deadline(0)).run()
    stages = json.loads(path.read_text())["stages"]
    assert {stage["status"] for stage in stages.values()} == {"skipped: the time budget was spent"}


def test_the_whole_check_runs_every_stage_and_the_cuda_tests_subprocess(tmp_path) -> None:
    """One image, float32, batch 1, nothing compiled: the stages' glue, not the figures."""
    options = BenchOptions(images=1, dtypes=("float32",), batch_sizes=(1,), rounds=1, warmups=0, compile_dtypes=())
    cpu = torch.device("cpu")
    code = run_check(tmp_path, 600, options, cpu, TINY_CONFIG, resize_short=160, resize_max=256)
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    stages = ("checkpoints", "load", "precision", "batching", "speedups", "cuda_tests", "compiled")
    assert {name: stage["status"] for name, stage in report["stages"].items()} == dict.fromkeys(stages, "ok")
    tests = report["cuda_tests"]
    assert tests["returncode"] == 0 and tests["passed"] == tests["failed"] == 0 and tests["skipped"] >= 4  # no CUDA
    assert report["machine"]["carried"]["transformers"] == "4.57.6"
    assert report["precision"]["float32"]["batch1"]["images_per_s"] > 0
    assert code == 0
