"""Back ends for fault tests only: the ``upstream`` model and the ``sam`` mask model, failing on request.

Never part of the service: the fault tests put this file into their test archive as a top-level
module and select it with ``backend: fault_injection:FaultInjectingDetector`` in the ``handler:``
settings; it serves the ``upstream`` model and logs a warning at load.
A caption containing one of these words makes every model call that holds it:

* ``inject oom``: raise ``torch.OutOfMemoryError`` (as CUDA does when memory runs out);
* ``inject error``: raise ``RuntimeError`` (a model bug or a device fault);
* ``inject sleep``: sleep :data:`SLEEP_S` seconds first (a slow batch to kill a worker in, or to fill the queue).

Calls holding more than ``oom_above`` captions (constructor argument; unlimited by default) also
run out of memory, to exercise the split-and-retry path.

The mask back end (``mask_backend: fault_injection:FaultInjectingSegmenter``) fails by the
displayed image's width, since it sees no caption:

* :data:`MASK_OOM_WIDTH` px wide: ``torch.OutOfMemoryError`` at every call;
* :data:`MASK_OOM_ONCE_WIDTH` px wide: the CPU allocator's ``RuntimeError`` at the first call per
  image size only (a retry passes);
* :data:`MASK_ERROR_WIDTH` px wide: ``RuntimeError`` (a model bug).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from handler.core.detector import Detector, QueryScores
from handler.core.segmenter import BoxMask, Segmenter
from handler.core.settings import HandlerSettings

logger = logging.getLogger(__name__)

INNER_BACKEND = "upstream"
INNER_MASK_BACKEND = "sam"
MASK_OOM_WIDTH, MASK_OOM_ONCE_WIDTH, MASK_ERROR_WIDTH = 97, 83, 89
OOM, ERROR, SLEEP = "inject oom", "inject error", "inject sleep"
SLEEP_S = 1.0


class FaultInjectingDetector:
    """Wraps a :class:`Detector`; fails or stalls model calls whose captions ask for it."""

    def __init__(self, inner: Detector, oom_above: int | None = None) -> None:
        self.inner = inner
        self.tokenizer = inner.tokenizer
        self.max_text_len = inner.max_text_len
        self.device = inner.device
        self.num_queries = inner.num_queries
        self.feature_strides = inner.feature_strides
        self.prompt_cache = inner.prompt_cache
        self.oom_above = oom_above
        self.calls: list[int] = []  # captions per decode call, for tests

    @classmethod
    def load(
        cls, model_dir: Path, checkpoint: Path, settings: HandlerSettings, device: torch.device
    ) -> FaultInjectingDetector:
        from handler.backends import load_detector

        inner = load_detector(model_dir, checkpoint, dataclasses.replace(settings, backend=INNER_BACKEND), device)
        logger.warning(
            "FAULT INJECTION back end: captions with %r, %r or %r fail on purpose (tests only)", OOM, ERROR, SLEEP
        )
        return cls(inner)

    def encode_images(self, images: torch.Tensor) -> Any:
        return self.inner.encode_images(images)

    def decode(self, encoded: Any, owners: Sequence[int], captions: Sequence[str]) -> QueryScores:
        self.calls.append(len(captions))
        if any(SLEEP in caption for caption in captions):
            time.sleep(SLEEP_S)
        if any(OOM in caption for caption in captions) or (
            self.oom_above is not None and len(captions) > self.oom_above
        ):
            raise torch.OutOfMemoryError(f"injected: CUDA out of memory in a call of {len(captions)} caption(s)")
        if any(ERROR in caption for caption in captions):
            raise RuntimeError(f"injected model failure in a call of {len(captions)} caption(s)")
        return self.inner.decode(encoded, owners, captions)


class FaultInjectingSegmenter:
    """Wraps a :class:`Segmenter`; fails on images of the widths above."""

    def __init__(self, inner: Segmenter) -> None:
        self.inner = inner
        self.device = inner.device
        self.failed_once: set[tuple[int, int]] = set()
        self.calls = 0

    @classmethod
    def load(cls, folder: Path, settings: HandlerSettings, device: torch.device) -> FaultInjectingSegmenter:
        from handler.backends import segmenter_class

        inner = segmenter_class(INNER_MASK_BACKEND).load(folder, settings, device)
        logger.warning(
            "FAULT INJECTION mask back end: images %d, %d or %d px wide fail on purpose (tests only)",
            MASK_OOM_WIDTH,
            MASK_OOM_ONCE_WIDTH,
            MASK_ERROR_WIDTH,
        )
        return cls(inner)

    def segment(
        self, pixels: Image.Image, size: tuple[int, int], boxes: torch.Tensor, threshold: float
    ) -> Iterator[BoxMask]:
        self.calls += 1
        if size[0] == MASK_OOM_WIDTH:
            raise torch.OutOfMemoryError(f"injected: CUDA out of memory segmenting {len(boxes)} box(es)")
        if size[0] == MASK_OOM_ONCE_WIDTH and size not in self.failed_once:
            self.failed_once.add(size)
            raise RuntimeError(
                "[enforce fail at alloc_cpu.cpp:117] injected: DefaultCPUAllocator: can't allocate memory"
            )
        if size[0] == MASK_ERROR_WIDTH:
            raise RuntimeError(f"injected mask model failure segmenting {len(boxes)} box(es)")
        return self.inner.segment(pixels, size, boxes, threshold)
