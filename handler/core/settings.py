"""Handler settings: defaults that the ``handler:`` section of model-config.yaml can override."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from handler.contract import defaults


@dataclass(frozen=True)
class HandlerSettings:
    """Everything the stages need to know that does not come with a request."""

    backend: str = defaults.BACKEND  # a registered back end, or module:Class (the back-end registry)
    model_config: str = defaults.MODEL_CONFIG
    bert_dir: str = defaults.BERT_DIR
    box_threshold: float = defaults.BOX_THRESHOLD
    text_threshold: float = defaults.TEXT_THRESHOLD
    resize_short: int = defaults.RESIZE_SHORT
    resize_max: int = defaults.RESIZE_MAX
    max_pixels: int = 40_000_000  # decoded size limit; larger images are refused before decoding
    max_caption_chars: int = 4096
    max_detections: int = defaults.MAX_DETECTIONS  # default for requests that do not send 'max_detections'
    max_sub_batch: int = 8  # largest model call on CUDA (multi-threaded CPU calls hold one caption: batching.py)
    dtype: str = "float32"  # model call precision: float32, bfloat16 (CPU/CUDA), float16 (CUDA); see the back ends' dtypes module
    prompt_cache_mb: int = (
        defaults.PROMPT_CACHE_MB
    )  # prompt encodings kept per worker, least recently used dropped first; 0: none
    warmup: bool = True
    # GPU speed-ups of the upstream back end (docs/performance.md, "GPU speed-ups"):
    sync_free_decoder: bool = True  # no per-layer NaN print in the decoder (a host sync each); same answers
    float16_islands: bool = True  # float16 only: fusion attention in float32 (its logits overflow float16)
    compile_mode: str = ""  # torch.compile backbone + transformer: "" (off), default, reduce-overhead, ...
    mask_model: str = ""  # the mask model's folder (relative to the model dir); "" serves no masks
    mask_backend: str = defaults.MASK_BACKEND  # a registered mask back end, or module:Class
    max_mask_boxes: int = defaults.MAX_MASK_BOXES  # boxes segmented per request at most

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> HandlerSettings:
        """Build settings from a mapping, refusing unknown keys so typos do not pass silently."""
        values = dict(values or {})
        known = {field.name: field for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"unknown handler settings in model-config.yaml: {', '.join(unknown)}")
        typed = {}
        for name, value in values.items():
            default = known[name].default
            typed[name] = type(default)(value) if not isinstance(default, bool) else bool(value)
        return cls(**typed)
