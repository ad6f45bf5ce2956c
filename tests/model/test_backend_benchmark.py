"""The back-end benchmark (``python -m scripts.benchmark --compare-backends``) runs end to end: the
full Swin-T random checkpoint on both back ends, every photo cropped to one small size, the calls
timed and the answers compared; what it reports is what it measured."""

from __future__ import annotations

import json

import pytest

from gdino_serve.paths import FULL_CONFIG
from gdino_serve.tools.benchmark_backends import run_backend_benchmark
from gdino_serve.tools.sample_photos import PHOTOS

pytestmark = pytest.mark.openvino


def test_the_benchmark_times_both_back_ends_on_one_input_size_and_compares_their_answers(tmp_path) -> None:
    results = run_backend_benchmark(FULL_CONFIG, (256, 427), "float32", 2, tmp_path, candidate="openvino")
    assert results == json.loads((tmp_path / "backends.json").read_text())
    assert results["input_sizes"] == ["256x427"]
    assert set(results["first_call_s"]) == {"upstream", "openvino"}
    assert results["upstream"]["n"] == results["openvino"]["n"] == 2
    assert results["ratio"] == pytest.approx(results["openvino"]["images_per_s"] / results["upstream"]["images_per_s"])
    assert [row["image"] for row in results["agreement"]] == list(PHOTOS[:2])
    assert all(0 <= row["matched"] <= row["top"] == 100 for row in results["agreement"])
