"""The detection pipeline: the stages wired together, with no TorchServe in sight.

request fields -> parse/validate -> decode -> preprocess -> batched model call -> response.
Each request's outcome is either its response dict or the error that stopped it; one bad
request never affects the others.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence, Union

import torch
from PIL import Image
from torch import nn

from handler.backends.upstream import precision, upstream_fixes
from handler.core.errors import BadRequest
from handler.core.image_decode import decode_image
from handler.core.batching import ModelInput, predict_batch
from handler.backends.upstream.model_loader import load_model
from handler.core.postprocess import build_response
from handler.core.preprocess import Preprocessor, Resize
from handler.core.prompt import Prompt, build_prompt
from handler.core.request import DetectionRequest, parse_request
from handler.core.settings import HandlerSettings
from handler.core.stage_timer import StageTimer

logger = logging.getLogger(__name__)


class InternalError(BadRequest):
    """A failure of the service itself while handling one request (HTTP 500 for that request)."""

    code = 500

    def __init__(self) -> None:
        super().__init__("internal error while handling this request; see the server log", "InternalServerError")


Outcome = Union[dict[str, Any], BadRequest]


@dataclass(frozen=True)
class BatchResult:
    """The outcomes of one batch, in request order, and the time each stage took."""

    outcomes: list[Outcome]
    timer: StageTimer


@dataclass(frozen=True)
class PreparedRequest:
    """A request ready for the model, with the metadata its response needs."""

    request: DetectionRequest
    image: torch.Tensor
    size: tuple[int, int]  # (width, height) of the image as displayed
    prompt: Prompt


class DetectionPipeline:
    """Answers batches of detection requests with one GroundingDINO model."""

    def __init__(self, model: nn.Module, settings: HandlerSettings, device: torch.device) -> None:
        self.model = model
        self.settings = settings
        self.device = device
        self.tokenizer = model.tokenizer
        self.resize = Resize(settings.resize_short, settings.resize_max)
        self.preprocess = Preprocessor(self.resize, device)
        self.dtype = precision.resolve_dtype(settings.dtype, device)

    @classmethod
    def load(
        cls, model_dir: Path, checkpoint: Path, settings: HandlerSettings, device: torch.device
    ) -> "DetectionPipeline":
        """Build the model from the config and checkpoint found under ``model_dir``."""
        precision.resolve_dtype(settings.dtype, device)  # a bad dtype fails before the model loads
        upstream_fixes.apply()
        precision.apply()
        model = load_model(model_dir / settings.model_config, checkpoint, model_dir / settings.bert_dir, device)
        return cls(model, settings, device)

    def prepare(self, raw: Mapping[str, Any], timer: StageTimer | None = None) -> PreparedRequest:
        """Parse, decode and preprocess one request (raises BadRequest)."""
        timer = timer or StageTimer()
        with timer.stage("decode"):
            request = parse_request(raw, self.settings)
            decoded = decode_image(request.image, self.settings.max_pixels, self.resize.output_size)
        with timer.stage("preprocess"):
            prompt = build_prompt(request.caption, self.tokenizer, request.classes, self.model.max_text_len)
            image = self.preprocess(decoded)
        return PreparedRequest(request=request, image=image, size=decoded.size, prompt=prompt)

    def _prepare_or_error(self, raw: Mapping[str, Any], timer: StageTimer) -> PreparedRequest | BadRequest:
        try:
            return self.prepare(raw, timer)
        except BadRequest as error:
            return error
        except Exception:  # a bug or an unforeseen input must not take the batch down
            logger.exception("unexpected failure while preparing a request")
            return InternalError()

    def run(self, raws: Sequence[Mapping[str, Any]]) -> list[Outcome]:
        """One outcome per request, in order: the response dict, or the error for that request."""
        return self.run_timed(raws).outcomes

    def run_timed(self, raws: Sequence[Mapping[str, Any]]) -> BatchResult:
        """Like :meth:`run`, with the time spent in each stage."""
        timer = StageTimer()
        outcomes: list[PreparedRequest | BadRequest | dict[str, Any]] = [
            self._prepare_or_error(r, timer) for r in raws
        ]
        ready = [i for i, outcome in enumerate(outcomes) if isinstance(outcome, PreparedRequest)]
        inputs = [
            ModelInput(outcomes[i].image, chunk.caption, outcomes[i].request.box_threshold)
            for i in ready
            for chunk in outcomes[i].prompt.chunks
        ]
        with timer.stage("model"), precision.autocast(self.dtype, self.device):
            detections = iter(predict_batch(self.model, inputs, self.device, self.settings.max_sub_batch))
        with timer.stage("postprocess"):
            for i in ready:
                prepared = outcomes[i]
                chunk_detections = [next(detections) for _ in prepared.prompt.chunks]
                outcomes[i] = build_response(
                    chunk_detections, prepared.prompt, prepared.request, prepared.size, self.tokenizer
                )
        return BatchResult(outcomes, timer)  # type: ignore[arg-type]

    def warm_up(self) -> None:
        """One request through every stage, so the first real request is not slow."""
        buffer = io.BytesIO()
        Image.new("RGB", (640, 480), (120, 110, 100)).save(buffer, format="PNG")
        outcome = self.run([{"image": buffer.getvalue(), "caption": b"warm up"}])[0]
        if isinstance(outcome, BadRequest):
            raise RuntimeError(f"warm-up request failed: {outcome.message}")
