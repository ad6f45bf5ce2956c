"""``gdino-annotate``: a folder of images through the service into COCO, Label Studio, YOLO and JSONL
(with ``--masks``: segmentation masks in every one of them)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from gdino_client.commands.arguments import (
    add_labelstudio_arguments,
    add_service_arguments,
    configure_logging,
    service_token,
)
from gdino_client.formats import parse_formats
from gdino_client.journal import JournalMismatch
from gdino_client.labelstudio.api import LabelStudioError
from gdino_client.labelstudio.export import MASK_TYPES, LabelStudioOptions
from gdino_client.labelstudio.push import ProjectTarget
from gdino_client.masks import BRUSH_EXTRA, MaskRequest, brush_available
from gdino_client.query import Thresholds
from gdino_client.retry import RetryPolicy
from gdino_client.runner import AnnotateOptions, requested_classes, run
from handler.contract import defaults
from handler.contract.vocabulary import VOCABULARIES

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
    what.add_argument(
        "--vocabulary",
        choices=VOCABULARIES,
        help="a named vocabulary of the service (labels: the dataset's names; the COCO export of 'coco' uses "
        "COCO's category ids)",
    )
    add_service_arguments(p)
    p.add_argument(
        "--formats",
        type=parse_formats,
        default=parse_formats("all"),
        help="comma-separated: coco,labelstudio,yolo,jsonl or all (default all)",
    )
    p.add_argument("--draw", action="store_true", help="also draw the boxes (and masks) into OUT/annotated/")
    p.add_argument(
        "--masks",
        action="store_true",
        help="also ask for a mask per box (the server needs a mask model): COCO segmentation, YOLO segmentation "
        "labels, Label Studio brush or polygon regions, filled masks in the drawn pictures",
    )
    p.add_argument(
        "--mask-format",
        choices=("rle", "polygon"),
        default=defaults.MASK_FORMAT,
        help="masks as the server sends them and COCO stores them (default %(default)s)",
    )
    p.add_argument(
        "--mask-threshold", type=float, default=defaults.MASK_THRESHOLD, help="mask probability (default %(default)s)"
    )
    p.add_argument(
        "--ls-masks",
        choices=MASK_TYPES,
        help="Label Studio mask regions: brush (BrushLabels; needs the labelstudio extra) or polygon "
        "(PolygonLabels); default brush when the extra is installed, else polygon",
    )
    p.add_argument("--concurrency", type=int, default=8, help="requests in flight (default %(default)s)")
    p.add_argument(
        "--timeout", type=float, default=defaults.CLIENT_TIMEOUT_S, help="seconds per request (default %(default)s)"
    )
    p.add_argument("--attempts", type=int, default=5, help="tries per image on 503/507/network errors")
    p.add_argument("--backoff", type=float, default=0.5, help="first retry delay in seconds, doubled each time")
    p.add_argument("--max-backoff", type=float, default=30.0, help="longest retry delay in seconds")
    p.add_argument("--ls-from-name", default="label", help="Label Studio RectangleLabels name")
    p.add_argument("--ls-to-name", default="image", help="Label Studio Image name and data key")
    p.add_argument("--ls-image-prefix", default="/data/local-files/?d=", help="URL prefix of the images")
    p.add_argument(
        "--model-version",
        default=defaults.PREDICTIONS_MODEL_VERSION,
        help="Label Studio predictions' model_version (default %(default)s)",
    )
    p.add_argument(
        "--ls-project",
        help="also import the tasks with their predictions into this Label Studio project (created if missing)",
    )
    add_labelstudio_arguments(p)
    p.add_argument(
        "--ls-document-root",
        type=Path,
        default=os.environ.get("LOCAL_FILES_DOCUMENT_ROOT"),
        help="Label Studio's LOCAL_FILES_DOCUMENT_ROOT, a parent of SOURCE: the images are served as local files "
        "(default $LOCAL_FILES_DOCUMENT_ROOT)",
    )
    p.add_argument("--ls-upload", action="store_true", help="upload the images to Label Studio instead")
    p.add_argument("--limit", type=int, help="annotate at most this many new images in this run")
    p.add_argument("--fresh", action="store_true", help="discard OUT's journal and start over")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return p


def project_target(args: argparse.Namespace) -> ProjectTarget | None:
    """The Label Studio project to import into, or None; ValueError for an incomplete request."""
    if not args.ls_project:
        return None
    if not (args.ls_url and args.ls_token):
        raise ValueError("--ls-project needs --ls-url and --ls-token (or $LABEL_STUDIO_URL and $LABEL_STUDIO_API_KEY)")
    if not args.ls_upload and args.ls_document_root is None:
        raise ValueError(
            "--ls-project needs --ls-document-root (Label Studio's LOCAL_FILES_DOCUMENT_ROOT, a parent of the "
            "images; Label Studio must run with LOCAL_FILES_SERVING_ENABLED=true) or --ls-upload"
        )
    root = None if args.ls_upload else Path(args.ls_document_root)
    return ProjectTarget(args.ls_url, args.ls_token, args.ls_project, root)


def labelstudio_mask_type(args: argparse.Namespace) -> str | None:
    """How Label Studio gets the masks: the asked type, else brush when its encoder is installed."""
    if not args.masks:
        return None
    if args.ls_masks == "brush" and not brush_available():
        raise ValueError(f"--ls-masks brush: {BRUSH_EXTRA}")
    if args.ls_masks is None and not brush_available():
        logger.warning("Label Studio masks as polygons (%s for brush masks)", BRUSH_EXTRA)
        return "polygon"
    return args.ls_masks or "brush"


def options_from(args: argparse.Namespace) -> AnnotateOptions:
    classes, send_classes = requested_classes(
        args.caption,
        args.classes_file or (args.classes.split(",") if args.classes is not None else None),
        args.vocabulary,
    )
    return AnnotateOptions(
        source=args.source,
        out=args.out,
        url=args.url,
        classes=classes,
        send_classes=send_classes,
        thresholds=Thresholds(args.box_threshold, args.text_threshold),
        masks=MaskRequest(args.mask_format, args.mask_threshold) if args.masks else None,
        formats=args.formats,
        draw=args.draw,
        concurrency=args.concurrency,
        model=args.model,
        token=service_token(args),
        timeout=args.timeout,
        retry=RetryPolicy(args.attempts, args.backoff, args.max_backoff),
        labelstudio=LabelStudioOptions(
            args.ls_from_name,
            args.ls_to_name,
            args.ls_image_prefix,
            args.model_version,
            mask_type=labelstudio_mask_type(args),
        ),
        labelstudio_project=project_target(args),
        limit=args.limit,
        fresh=args.fresh,
        progress=not args.no_progress,
    )


def main(argv: list[str] | None = None) -> int:
    """Run and write the summary to stdout; 1 when any image failed, 2 for unusable arguments."""
    args = parser().parse_args(argv)
    configure_logging(args.verbose)
    try:
        summary = run(options_from(args))
    except (JournalMismatch, FileNotFoundError, ValueError) as exc:
        logger.error("%s", exc)
        return EXIT_USAGE
    except LabelStudioError as exc:
        logger.error("Label Studio: %s (the outputs in %s are written)", exc, args.out)
        return EXIT_FAILED_IMAGES
    except KeyboardInterrupt:
        logger.error("interrupted; what is done is in %s, run the same command again to finish", args.out)
        return EXIT_INTERRUPTED
    sys.stdout.write(summary.text())
    return EXIT_FAILED_IMAGES if summary.failed else 0
