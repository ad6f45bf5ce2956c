"""The detection pipeline: the stages wired together, with no serving protocol in sight.

request fields -> parse/validate -> decode -> preprocess -> batched model call -> Detections
(-> masks, for the requests that ask for them). Each request's outcome is either its
:class:`Detections` or the :class:`DetectionError` that stopped it; one bad request never affects
the others, nor does a failed model call (``model_calls``: out of memory is retried in smaller
calls; ``masks``: likewise per request). The model is any :class:`~handler.core.detector.Detector`,
with an optional :class:`~handler.core.segmenter.Segmenter` for masks; building them is the
back-end registry's job (``load_pipeline`` in the back ends' package), so the core imports no back end.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from PIL import Image

from handler.contract.errors import DetectionError, ErrorType, InferenceError, InvalidInput
from handler.core.batching import CallLimits, ModelInput
from handler.core.detections import Detections
from handler.core.detector import Detector
from handler.core.entities import entity_prompt
from handler.core.image_decode import decode_image
from handler.core.image_positions import check_image_positions
from handler.core.masks import segment_or_error
from handler.core.model_calls import predict_or_errors
from handler.core.postprocess import build_detections
from handler.core.preprocess import Preprocessor, Resize
from handler.core.prompt import Prompt, build_prompt
from handler.core.request import DetectionRequest, parse_request
from handler.core.segmenter import Segmenter
from handler.core.settings import HandlerSettings
from handler.core.stage_timer import StageTimer
from handler.core.tokens import TextTokenizer

logger = logging.getLogger(__name__)

Outcome = Detections | DetectionError


@dataclass(frozen=True)
class BatchResult:
    """The outcomes of one batch, in request order, and the time each stage took."""

    outcomes: list[Outcome]
    timer: StageTimer


@dataclass(frozen=True)
class PreparedRequest:
    """A request ready for the model, with the metadata its answer needs."""

    request: DetectionRequest
    image: torch.Tensor
    size: tuple[int, int]  # (width, height) of the image as displayed
    prompt: Prompt
    pixels: Image.Image | None = None  # the decoded image, kept for the mask model when masks are asked


def request_prompt(request: DetectionRequest, tokenizer: TextTokenizer, max_text_len: int) -> Prompt:
    """The chunks the model reads for a request: its entities, or its classes or phrases."""
    if request.entities is not None:
        assert request.classes is not None, "an entities request labels each entity"
        return entity_prompt(request.caption, request.entities, request.classes, tokenizer, max_text_len)
    return build_prompt(request.caption, tokenizer, request.classes, max_text_len, request.classes_per_chunk)


class DetectionPipeline:
    """Answers batches of detection requests with one detector (and masks with one segmenter)."""

    def __init__(self, detector: Detector, settings: HandlerSettings, segmenter: Segmenter | None = None) -> None:
        self.detector = detector
        self.settings = settings
        self.segmenter = segmenter
        self.resize = Resize(settings.resize_short, settings.resize_max)
        self.preprocess = Preprocessor(self.resize, detector.device)
        self.limits = CallLimits.for_device(detector.device, settings.max_sub_batch)

    def prepare(self, fields: Mapping[str, Any], timer: StageTimer | None = None) -> PreparedRequest:
        """Parse, decode and preprocess one request (raises InvalidInput)."""
        timer = timer or StageTimer()
        with timer.stage("decode"):
            request = parse_request(fields, self.settings)
            if request.masks and self.segmenter is None:
                raise InvalidInput(
                    "'masks': this model is served without a mask model (serve it with --mask-model)",
                    ErrorType.INVALID_PARAMETER,
                )
            decoded = decode_image(request.image, self.settings.max_pixels, self.resize.output_size)
            check_image_positions(
                decoded.size,
                self.resize.output_size(*decoded.size),
                self.detector.feature_strides,
                self.detector.num_queries,
            )
        with timer.stage("preprocess"):
            prompt = request_prompt(request, self.detector.tokenizer, self.detector.max_text_len)
            image = self.preprocess(decoded)
        pixels = decoded.pixels if request.masks else None
        return PreparedRequest(request=request, image=image, size=decoded.size, prompt=prompt, pixels=pixels)

    def _prepare_or_error(self, fields: Mapping[str, Any], timer: StageTimer) -> PreparedRequest | DetectionError:
        try:
            return self.prepare(fields, timer)
        except DetectionError as error:
            return error
        except Exception:  # a bug or an unforeseen input must not take the batch down
            logger.exception("unexpected failure while preparing a request")
            return InferenceError()

    def run(self, requests: Sequence[Mapping[str, Any]]) -> list[Outcome]:
        """One outcome per request's fields, in order: its detections, or the error for that request."""
        return self.run_timed(requests).outcomes

    def run_timed(self, requests: Sequence[Mapping[str, Any]]) -> BatchResult:
        """Like :meth:`run`, with the time spent in each stage."""
        timer = StageTimer()
        outcomes: list[PreparedRequest | Outcome] = [self._prepare_or_error(r, timer) for r in requests]
        ready = {i: outcome for i, outcome in enumerate(outcomes) if isinstance(outcome, PreparedRequest)}
        inputs = [
            ModelInput(prepared.image, chunk.caption, prepared.request.box_threshold, chunk.score_tokens)
            for prepared in ready.values()
            for chunk in prepared.prompt.chunks
        ]
        cached = self.detector.prompt_cache.counts
        with timer.stage("model"):
            detections = iter(predict_or_errors(self.detector, inputs, self.limits))
        reused = self.detector.prompt_cache.counts - cached
        timer.count("prompt_cache_hits", reused.hits)
        timer.count("prompt_cache_misses", reused.misses)
        with timer.stage("postprocess"):
            for i, prepared in ready.items():
                chunk_detections = [next(detections) for _ in prepared.prompt.chunks]
                failed = [item for item in chunk_detections if isinstance(item, InferenceError)]
                if failed:
                    outcomes[i] = failed[0]
                    continue
                outcomes[i] = build_detections(
                    chunk_detections, prepared.prompt, prepared.request, prepared.size, self.detector.tokenizer
                )
        with timer.stage("masks"):
            for i, prepared in ready.items():
                found = outcomes[i]
                if self.segmenter is not None and prepared.pixels is not None and isinstance(found, Detections):
                    outcomes[i] = segment_or_error(self.segmenter, found, prepared.pixels, prepared.request)
        return BatchResult(outcomes, timer)  # type: ignore[arg-type]

    def warm_up(self) -> None:
        """One request through every stage, so the first real request is not slow."""
        picture = Image.new("RGB", (640, 480), (120, 110, 100))
        buffer = io.BytesIO()
        picture.save(buffer, format="PNG")
        outcome = self.run([{"image": buffer.getvalue(), "caption": b"warm up"}])[0]
        if isinstance(outcome, DetectionError):
            raise RuntimeError(f"warm-up request failed: {outcome.message}")
        if self.segmenter is not None:  # the detector may find nothing to segment in a flat picture
            list(self.segmenter.segment(picture, picture.size, torch.tensor([[160.0, 120.0, 480.0, 360.0]]), 0.5))
