"""Write a benchmark's results as JSON, a Markdown table and a PNG chart."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def throughput_rows(results: dict[str, Any]) -> Iterator[tuple[str, dict[str, float]]]:
    """(label, {images_per_s, p50_ms, p95_ms, n}) for every measured layer and setting."""
    yield "(a) bare model call, batch 1", results["in_process"]["model"]
    yield "(b) pipeline in-process", results["in_process"]["pipeline"]
    for dtype, values in results["precision"].items():
        if "images_per_s" in values:
            yield f"(b) pipeline in-process, {dtype}", values
    for batch, values in results.get("http", {}).items():
        for key, row in values.items():
            if key == "c1_model":
                yield f"(a) bare model call, alternating with (c) {batch.replace('batch', 'batchSize ')} c1", row
            elif key[1:].isdigit():
                yield f"(c) HTTP {batch.replace('batch', 'batchSize ')}, concurrency {key[1:]}", row


def markdown(results: dict[str, Any]) -> str:
    lines = [
        f"Device: {results['device']}; config {results['config']}; resize {results['resize'][0]}/"
        f"{results['resize'][1]}; {len(results['images'])} images ({', '.join(results['images'])}).",
        "",
        "| measurement | images/s | p50 ms | p95 ms | n |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, row in throughput_rows(results):
        lines.append(
            f"| {label} | {row['images_per_s']:.3f} | {row['p50_ms']:.0f} | {row['p95_ms']:.0f} | {row['n']} |"
        )
    stages = results["in_process"]["stages_ms"]
    lines += [
        "",
        "Per-stage mean per request (in-process pipeline): "
        + ", ".join(f"{stage} {ms:.1f} ms" for stage, ms in stages.items()),
    ]
    for key, ratio in results.get("service_to_model_p50", {}).items():
        lines.append(f"Service p50 at concurrency 1 ({key}) / bare model p50 (calls alternating): {ratio:.3f}")
    for batch, values in results.get("http", {}).items():
        lines.append(
            f"{batch}: cold start (TorchServe start to READY) {values['cold_start_s']:.1f} s, "
            f".mar {values['mar_mb']:.0f} MB"
        )
    decode = results["decode_12mp"]
    lines.append(
        f"12 MP JPEG to model input: full decode {decode['full_ms']:.0f} ms, drafted {decode['drafted_ms']:.0f} ms "
        f"({decode['speedup']:.2f}x, decoded at {decode['drafted_pixels'][0]}x{decode['drafted_pixels'][1]}); "
        f"top detections vs full decode: mean IoU {decode['mean_iou']:.3f}, mean score diff {decode['mean_score_diff']:.4f}"
    )
    for variant, values in results.get("batching", {}).items():
        lines.append(
            f"Batch of same-shape requests, {variant}: {values['images_per_s']:.3f} images/s "
            f"({values['vs_exact_plan']:.2f}x the exact plan)"
        )
    for kind, values in results["precision"].items():
        lines.append(
            f"{kind} vs float32, top detections: mean IoU {values['mean_iou']:.3f}, "
            f"mean score diff {values['mean_score_diff']:.4f}"
        )
    lines.append(f"Benchmark wall time: {results.get('benchmark_wall_s', 0):.0f} s")
    return "\n".join(lines) + "\n"


def chart(results: dict[str, Any], path: Path) -> None:
    rows = list(throughput_rows(results))
    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 0.5 * len(rows) + 2), sharey=True)
    labels = [label for label, _ in rows]
    left.barh(labels, [row["images_per_s"] for _, row in rows], color="tab:blue")
    left.set_xlabel("images/s")
    right.barh(labels, [row["p50_ms"] for _, row in rows], color="tab:orange", label="p50")
    right.barh(
        labels,
        [row["p95_ms"] - row["p50_ms"] for _, row in rows],
        left=[row["p50_ms"] for _, row in rows],
        color="tab:red",
        alpha=0.4,
        label="p95",
    )
    right.set_xlabel("latency (ms)")
    right.legend()
    left.invert_yaxis()
    figure.suptitle(f"GroundingDINO {results['config']} on {results['device']}")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def write_report(results: dict[str, Any], out: Path) -> list[Path]:
    """results.json, results.md and results.png in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "results.json", out / "results.md", out / "results.png"]
    paths[0].write_text(json.dumps(results, indent=2))
    paths[1].write_text(markdown(results))
    chart(results, paths[2])
    return paths
