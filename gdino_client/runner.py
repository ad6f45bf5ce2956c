"""One annotation run: collect images, skip what the journal says is done, send the rest
concurrently (bounded, so the server can batch them), journal each outcome as it arrives, then
write every chosen output from the journal and return the summary."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from gdino_client.classes import ClassList
from gdino_client.client import DetectionClient, RequestFailed
from gdino_client.drawing import write_annotated
from gdino_client.formats import FORMATS, writers
from gdino_client.formats.files import write_json
from gdino_client.journal import Journal
from gdino_client.labelstudio.export import LabelStudioOptions
from gdino_client.labelstudio.push import ProjectTarget, push
from gdino_client.masks import MaskRequest
from gdino_client.query import Query, Thresholds
from gdino_client.results import ImageResult, check_response, image_result
from gdino_client.retry import RetryPolicy
from gdino_client.sources import ImageFile, Inputs, UnreadableImage, check_image, collect_images
from gdino_client.summary import Summary, count_detections
from handler.contract import defaults

logger = logging.getLogger(__name__)

JOURNAL_NAME = "journal.jsonl"


@dataclass(frozen=True)
class AnnotateOptions:
    """Everything a run needs; ``send_classes`` sends the class list as ``classes`` (else a caption),
    and a vocabulary's class list (``classes.vocabulary``) is sent by its name."""

    source: str | Path
    out: Path
    url: str
    classes: ClassList
    send_classes: bool
    thresholds: Thresholds = Thresholds()
    masks: MaskRequest | None = None  # also ask for a mask per box
    formats: tuple[str, ...] = FORMATS
    draw: bool = False
    concurrency: int = 8
    model: str = defaults.MODEL_NAME
    token: str | None = None
    timeout: float = defaults.CLIENT_TIMEOUT_S
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    labelstudio: LabelStudioOptions = LabelStudioOptions()
    labelstudio_project: ProjectTarget | None = None  # also import the tasks into this project
    limit: int | None = None  # at most this many new images this run (the rest stay pending)
    fresh: bool = False  # discard the journal and start over
    progress: bool = True

    def __post_init__(self) -> None:
        if self.concurrency < 1 or (self.limit is not None and self.limit < 0):
            raise ValueError("concurrency must be >= 1 and limit >= 0")

    def journal_settings(self) -> dict[str, Any]:
        """What makes results comparable; a journal made with other settings is not resumed."""
        vocabulary = {"vocabulary": self.classes.vocabulary} if self.classes.vocabulary else {}
        settings: dict[str, Any] = {
            "model": self.model,
            "classes": list(self.classes.names),
            "send_classes": self.send_classes,
            **vocabulary,
            "box_threshold": self.thresholds.box,
            "text_threshold": self.thresholds.text,
        }
        if self.masks is not None:  # (only then, so journals of runs without masks still resume)
            settings["masks"] = self.masks.fields()
        return settings


def _attempt(image: ImageFile, query: Query) -> dict[str, Any]:
    """The journal record for one image; every failure becomes a record with its reason."""
    try:
        data = image.path.read_bytes()
        check_image(data)
        response = query.detect(data)
        check_response(response)
    except RequestFailed as exc:
        return {"path": image.key, "ok": False, "reason": exc.reason}
    except (OSError, UnreadableImage, ValueError) as exc:
        return {"path": image.key, "ok": False, "reason": str(exc)}
    return {"path": image.key, "ok": True, "response": response}


def _outcomes(images: Sequence[ImageFile], query: Query, concurrency: int) -> Iterator[dict[str, Any]]:
    """Records as they complete, with at most ``concurrency`` requests in flight."""
    queue = iter(images)
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="annotate") as pool:
        running: set[Future] = {pool.submit(_attempt, image, query) for image in islice(queue, concurrency)}
        while running:
            finished, running = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                yield future.result()
                running |= {pool.submit(_attempt, image, query) for image in islice(queue, 1)}


def _send(pending: Sequence[ImageFile], options: AnnotateOptions, journal: Journal, already: int, total: int) -> None:
    client = DetectionClient(options.url, options.model, options.token, options.timeout, options.retry)
    query = Query(client, options.classes, options.thresholds, options.send_classes, options.masks)
    failures = 0
    bar = tqdm(total=total, initial=already, unit="img", disable=not options.progress, dynamic_ncols=True)
    with bar, logging_redirect_tqdm():
        for record in _outcomes(pending, query, options.concurrency):
            journal.append(record)
            if not record["ok"]:
                failures += 1
                logger.debug("%s failed: %s", record["path"], record["reason"])
            bar.set_postfix(failed=failures, refresh=False)
            bar.update()


def _write_outputs(results: list[ImageResult], inputs: Inputs, options: AnnotateOptions) -> None:
    chosen = writers(options.labelstudio, inputs.root)
    for name in options.formats:
        logger.info("wrote %s", chosen[name](results, options.classes, options.out))
    if options.draw:
        for result in results:
            try:
                write_annotated(result, inputs.root / result.key, options.out / "annotated", options.classes)
            except OSError as exc:
                logger.warning("could not draw %s: %s", result.key, exc)
        logger.info("drew %d pictures into %s", len(results), options.out / "annotated")


def run(options: AnnotateOptions) -> Summary:
    """Annotate every image of ``options.source``, resuming from the journal in ``options.out``."""
    started = time.monotonic()
    inputs = collect_images(options.source, exclude=[options.out])
    with Journal.open(options.out / JOURNAL_NAME, options.journal_settings(), options.fresh) as journal:
        todo = [image for image in inputs.images if not journal.is_done(image.key)]
        already = len(inputs.images) - len(todo)
        pending = todo[: options.limit] if options.limit is not None else todo
        if already:
            logger.info("resuming: %d of %d images already done", already, len(inputs.images))
        _send(pending, options, journal, already, len(inputs.images))
        outcomes = journal.outcomes()
    records = [outcomes[image.key] for image in inputs.images if image.key in outcomes]
    results = [image_result(record["path"], record["response"], options.classes) for record in records if record["ok"]]
    _write_outputs(results, inputs, options)
    if options.labelstudio_project is not None:
        push(results, inputs.root, options.classes, options.labelstudio, options.labelstudio_project)
    detections, unmatched = count_detections(results, options.classes)
    summary = Summary(
        images=len(inputs.images),
        done=len(results),
        failed={record["path"]: record["reason"] for record in records if not record["ok"]},
        pending=len(inputs.images) - len(records),
        resumed=already,
        detections=detections,
        unmatched=unmatched,
        ignored=inputs.ignored,
        seconds=time.monotonic() - started,
        requested=len(pending),
    )
    write_json(options.out / "summary.json", summary.to_dict())
    return summary


def requested_classes(
    caption: str | None, classes: Sequence[str] | Path | None, vocabulary: str | None = None
) -> tuple[ClassList, bool]:
    """The run's class list, and whether to send it as ``classes`` or ``vocabulary`` (True) or as a caption."""
    if sum(given is not None for given in (caption, classes, vocabulary)) != 1:
        raise ValueError("give one of a caption, classes or a vocabulary")
    if vocabulary is not None:
        return ClassList.from_vocabulary(vocabulary), True
    if caption is not None:
        return ClassList.from_caption(caption), False
    return (ClassList.from_file(classes) if isinstance(classes, Path) else ClassList.of(classes)), True


def annotate(
    source: str | Path,
    out: str | Path,
    url: str,
    *,
    caption: str | None = None,
    classes: Sequence[str] | Path | None = None,
    vocabulary: str | None = None,
    box_threshold: float = defaults.BOX_THRESHOLD,
    text_threshold: float = defaults.TEXT_THRESHOLD,
    **settings: Any,
) -> Summary:
    """Annotate ``source`` (folder, glob or list file) into ``out``, asking for ``classes``
    (names, or a file with one a line), a named ``vocabulary`` or the parts of ``caption``;
    ``settings`` are the other fields of :class:`AnnotateOptions`."""
    class_list, send_classes = requested_classes(caption, classes, vocabulary)
    thresholds = Thresholds(box_threshold, text_threshold)
    return run(AnnotateOptions(source, Path(out), url, class_list, send_classes, thresholds, **settings))
