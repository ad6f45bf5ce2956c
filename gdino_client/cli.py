"""Command line of the batch annotation client (``gdino-annotate --help``)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from gdino_client.client import read_token_file
from gdino_client.formats import parse_formats
from gdino_client.formats.labelstudio import LabelStudioOptions
from gdino_client.journal import JournalMismatch
from gdino_client.query import Thresholds
from gdino_client.retry import RetryPolicy
from gdino_client.runner import AnnotateOptions, requested_classes, run
from handler import defaults

logger = logging.getLogger("annotate")

EXIT_FAILED_IMAGES = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="gdino-annotate",
        description="Annotate a folder (recursive), a glob or a list file of images through the GroundingDINO "
        "REST API into COCO, Label Studio, YOLO and JSONL, optionally drawing the boxes. Resumable: run it "
        "again with the same --out to finish an interrupted run.",
    )
    p.add_argument("source", help="folder, glob pattern ('photos/**/*.jpg') or list file (.txt, one path a line)")
    p.add_argument("--out", type=Path, required=True, help="output folder (journal, outputs, summary.json)")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--caption", help="what to detect, e.g. 'cat . remote control' (its parts are the classes)")
    what.add_argument("--classes", help="comma-separated class names, sent as the 'classes' field")
    what.add_argument("--classes-file", type=Path, help="file with one class name a line")
    p.add_argument("--url", default=defaults.INFERENCE_URL, help="inference address (default %(default)s)")
    p.add_argument("--model", default=defaults.MODEL_NAME, help="model name (default %(default)s)")
    token = p.add_mutually_exclusive_group()
    token.add_argument(
        "--token", default=os.environ.get("TORCHSERVE_TOKEN"), help="inference token (default: $TORCHSERVE_TOKEN)"
    )
    token.add_argument("--token-file", type=Path, help="TorchServe key_file.json, or a file holding the token")
    p.add_argument("--box-threshold", type=float, default=defaults.BOX_THRESHOLD)
    p.add_argument("--text-threshold", type=float, default=defaults.TEXT_THRESHOLD)
    p.add_argument(
        "--formats",
        type=parse_formats,
        default=parse_formats("all"),
        help="comma-separated: coco,labelstudio,yolo,jsonl or all (default all)",
    )
    p.add_argument("--draw", action="store_true", help="also draw the boxes into OUT/annotated/")
    p.add_argument("--concurrency", type=int, default=8, help="requests in flight (default %(default)s)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per request (default %(default)s)")
    p.add_argument("--attempts", type=int, default=5, help="tries per image on 503/507/network errors")
    p.add_argument("--backoff", type=float, default=0.5, help="first retry delay in seconds, doubled each time")
    p.add_argument("--max-backoff", type=float, default=30.0, help="longest retry delay in seconds")
    p.add_argument("--ls-from-name", default="label", help="Label Studio RectangleLabels name")
    p.add_argument("--ls-to-name", default="image", help="Label Studio Image name and data key")
    p.add_argument("--ls-image-prefix", default="/data/local-files/?d=", help="URL prefix of the images")
    p.add_argument("--model-version", default=defaults.MODEL_NAME, help="Label Studio predictions' model_version")
    p.add_argument("--limit", type=int, help="annotate at most this many new images in this run")
    p.add_argument("--fresh", action="store_true", help="discard OUT's journal and start over")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return p


def options_from(args: argparse.Namespace) -> AnnotateOptions:
    classes, send_classes = requested_classes(
        args.caption, args.classes_file or (args.classes.split(",") if args.classes is not None else None)
    )
    return AnnotateOptions(
        source=args.source,
        out=args.out,
        url=args.url,
        classes=classes,
        send_classes=send_classes,
        thresholds=Thresholds(args.box_threshold, args.text_threshold),
        formats=args.formats,
        draw=args.draw,
        concurrency=args.concurrency,
        model=args.model,
        token=read_token_file(args.token_file) if args.token_file else args.token,
        timeout=args.timeout,
        retry=RetryPolicy(args.attempts, args.backoff, args.max_backoff),
        labelstudio=LabelStudioOptions(args.ls_from_name, args.ls_to_name, args.ls_image_prefix, args.model_version),
        limit=args.limit,
        fresh=args.fresh,
        progress=not args.no_progress,
    )


def main(argv: list[str] | None = None) -> int:
    """Run and write the summary to stdout; 1 when any image failed, 2 for unusable arguments."""
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        summary = run(options_from(args))
    except (JournalMismatch, FileNotFoundError, ValueError) as exc:
        logger.error("%s", exc)
        return EXIT_USAGE
    except KeyboardInterrupt:
        logger.error("interrupted; what is done is in %s, run the same command again to finish", args.out)
        return EXIT_INTERRUPTED
    sys.stdout.write(summary.text())
    return EXIT_FAILED_IMAGES if summary.failed else 0
