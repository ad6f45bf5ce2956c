"""Zero-shot COCO-style evaluation: a served model or an in-process pipeline over a COCO-format set.

    # a running service (through the batch client's DetectionClient)
    python -m gdino_serve.tools.evaluate_coco --images val2017/ --annotations instances_val2017.json \\
        --url http://127.0.0.1:8080 --model groundingdino
    # in process: a Hugging Face folder (transformers back end) or an rf-groundingdino checkpoint
    python -m gdino_serve.tools.evaluate_coco --images val2017/ --annotations instances_val2017.json --hf-model weights/gd-tiny
    python -m gdino_serve.tools.evaluate_coco ... --checkpoint weights/groundingdino_swint_ogc.pth

Every image is prompted with all category names (as a class list: long lists are split into
chunks of at most 256 tokens by the service, one image encoding per request). Each detection's
class id names its category. The table is the one of the GroundingDINO and MM-Grounding-DINO
papers: AP, AP50, AP75 and AP for small/medium/large objects, from pycocotools' COCOeval, plus
images per second. ``--ground-truth`` feeds the annotations back as detections (AP 1.0: a check
of the evaluation itself).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from gdino_serve.paths import REPO
from handler.contract import defaults

logger = logging.getLogger("evaluate_coco")
METRICS = ("AP", "AP50", "AP75", "APs", "APm", "APl")  # COCOeval.stats[0:6]
# Low thresholds and many boxes: AP integrates over the whole ranking (the papers keep 300 per image).
REQUEST_FIELDS = {"box_threshold": 0.05, "text_threshold": 0.05, "max_detections": 300}

Detect = Callable[[bytes, list[str]], dict[str, Any]]  # image bytes, class names -> service answer (JSON)


@dataclass(frozen=True)
class Evaluation:
    """The AP table and how fast the detections came."""

    metrics: dict[str, float]
    images: int
    seconds: float

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds if self.seconds else float("inf")

    def table(self) -> str:
        header = " | ".join(f"{name:>6}" for name in (*METRICS, "img/s"))
        values = " | ".join(f"{100 * self.metrics[name]:6.1f}" for name in METRICS)
        return f"{header}\n{values} | {self.images_per_second:6.2f}"


def coco_detections(answer: dict[str, Any], image_id: int, category_ids: list[int]) -> list[dict[str, Any]]:
    """One service answer (``box_format: xywh``, pixels) as COCO result records."""
    return [
        {"image_id": image_id, "category_id": category_ids[class_id], "bbox": [float(v) for v in box], "score": score}
        for box, score, class_id in zip(answer["boxes"], answer["scores"], answer["class_ids"])
    ]


def ground_truth_detections(coco: Any) -> list[dict[str, Any]]:
    """The annotations themselves as detections with score 1 (they must score AP 1.0)."""
    return [
        {"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 1.0}
        for a in coco.loadAnns(coco.getAnnIds())
    ]


def run_detections(coco: Any, images: Path, detect: Detect, concurrency: int = 1) -> tuple[list[dict], int, float]:
    """Detections of every image of ``coco`` (files under ``images``), the image count and the seconds taken."""
    category_ids = sorted(coco.getCatIds())
    names = [coco.cats[i]["name"] for i in category_ids]
    records = coco.loadImgs(coco.getImgIds())

    def one(record: dict[str, Any]) -> list[dict[str, Any]]:
        answer = detect((images / record["file_name"]).read_bytes(), names)
        return coco_detections(answer, record["id"], category_ids)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(tqdm(pool.map(one, records), total=len(records), desc="images", unit="img"))
    return [detection for found in results for detection in found], len(records), time.perf_counter() - started


def evaluate(coco: Any, detections: list[dict[str, Any]]) -> dict[str, float]:
    """COCOeval's bbox AP table for ``detections`` against ``coco`` (all zeros when nothing was found)."""
    from pycocotools.cocoeval import COCOeval

    if not detections:
        return dict.fromkeys(METRICS, 0.0)
    with contextlib.redirect_stdout(io.StringIO()) as report:
        evaluation = COCOeval(coco, coco.loadRes(detections), "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    logger.info("COCOeval:\n%s", report.getvalue())
    return {name: float(value) for name, value in zip(METRICS, evaluation.stats)}


def served_detector(url: str, model: str, fields: dict[str, Any]) -> Detect:
    """Detections from a running service, through the batch client."""
    from gdino_client.client import DetectionClient

    client = DetectionClient(url, model, timeout=600.0)
    return lambda image, names: client.detect(image, {"classes": names, **fields})


def in_process_detector(pipeline: Any, fields: dict[str, Any]) -> Detect:
    """Detections from an in-process pipeline, answered as the service would."""
    from handler.frontends.http.batch_answers import answer_bodies

    return lambda image, names: answer_bodies(pipeline, [{"image": image, "classes": names, **fields}])[0]


def pipeline_of(args: argparse.Namespace) -> Any:
    """The pipeline of ``--hf-model`` (transformers back end) or ``--checkpoint`` (upstream), on ``--device``."""
    import torch

    from handler.backends import load_pipeline
    from handler.core.settings import HandlerSettings

    device = torch.device(args.device)
    if args.hf_model:
        folder = args.hf_model.resolve()
        settings = HandlerSettings(backend="transformers", model_config=folder.name, warmup=False)
        weights = folder / "model.safetensors"
        return load_pipeline(folder.parent, weights, settings, device)
    settings = HandlerSettings(model_config=str(args.config), warmup=False)
    return load_pipeline(REPO, args.checkpoint, settings, device)


def parse_args(argv: Iterable[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=Path, required=True, help="folder of the images")
    parser.add_argument("--annotations", type=Path, required=True, help="COCO instances_*.json")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--url", help="a running service, e.g. http://127.0.0.1:8080")
    source.add_argument("--hf-model", type=Path, help="Hugging Face model folder, evaluated in process")
    source.add_argument("--checkpoint", type=Path, help="rf-groundingdino checkpoint, evaluated in process")
    source.add_argument("--ground-truth", action="store_true", help="score the annotations themselves (AP 1.0)")
    parser.add_argument("--model", default=defaults.MODEL_NAME, help="served model name (with --url)")
    parser.add_argument("--config", default=defaults.MODEL_CONFIG, help="architecture config (with --checkpoint)")
    parser.add_argument("--device", default="cpu", help="in-process device, e.g. cuda:0")
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight (with --url)")
    parser.add_argument("--box-threshold", type=float, default=REQUEST_FIELDS["box_threshold"])
    parser.add_argument("--max-detections", type=int, default=REQUEST_FIELDS["max_detections"])
    parser.add_argument("--output", type=Path, help="also write the detections (COCO results JSON) here")
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> Evaluation:
    """Detect (or take the ground truth), then evaluate."""
    from pycocotools.coco import COCO

    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(args.annotations))
    fields = {
        **REQUEST_FIELDS,
        "box_threshold": args.box_threshold,
        "max_detections": args.max_detections,
        "box_format": "xywh",
    }
    if args.ground_truth:
        detections, images, seconds = ground_truth_detections(coco), len(coco.getImgIds()), 0.0
    elif args.url:
        detect = served_detector(args.url, args.model, fields)
        detections, images, seconds = run_detections(coco, args.images, detect, args.concurrency)
    else:
        detect = in_process_detector(pipeline_of(args), fields)
        detections, images, seconds = run_detections(coco, args.images, detect)
    if args.output:
        args.output.write_text(json.dumps(detections))
    return Evaluation(evaluate(coco, detections), images, seconds)


def main(argv: Iterable[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    evaluation = run(parse_args(argv))
    sys.stdout.write(evaluation.table() + "\n")


if __name__ == "__main__":
    main()
