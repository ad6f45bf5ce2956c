"""Stage 4's safety net: a failed model call costs only the inputs that cannot be served.

An exception escaping the handler would turn TorchServe's whole batch into an anonymous 503.
Instead, when :func:`handler.core.batching.predict_batch` raises:

* out of memory (``torch.OutOfMemoryError`` on CUDA; on the CPU ``MemoryError`` or the allocator's
  ``RuntimeError``, :func:`is_out_of_memory`): the call is
  split in halves and each half retried, since a smaller call needs less memory, down to one
  input; an input that runs out of memory alone gets :class:`ModelOutOfMemory` (507);
* any other exception: each input is retried alone, so the failing one is found and its
  batch-mates are answered; the input that still fails gets :class:`InferenceError` (500).

Exact batching makes the retries safe: an input's answer does not depend on its call's size.
Every failure and retry is logged with the inputs' image shapes and captions.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch

from handler.contract.errors import InferenceError, ModelOutOfMemory
from handler.core.batching import CallLimits, ModelInput, RawDetections, predict_batch
from handler.core.detector import Detector

logger = logging.getLogger(__name__)

OUT_OF_MEMORY = (torch.OutOfMemoryError, MemoryError)
CPU_ALLOCATOR_FAILURE = "can't allocate memory"  # torch's DefaultCPUAllocator raises a plain RuntimeError
ModelOutcome = RawDetections | InferenceError


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether a model call failed for want of memory (CUDA, or the CPU allocator)."""
    return isinstance(exc, OUT_OF_MEMORY) or (isinstance(exc, RuntimeError) and CPU_ALLOCATOR_FAILURE in str(exc))


def failure_reason(exc: BaseException) -> str:
    """The exception's type and first line, for the log."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"


def _describe(item: ModelInput) -> str:
    caption = item.caption if len(item.caption) <= 80 else item.caption[:77] + "..."
    return f"image {tuple(item.image.shape)} caption {caption!r}"


def release_cached_memory(device: torch.device) -> None:
    """Give the allocator's cached blocks back before a retry (CUDA keeps them otherwise)."""
    if device.type == "cuda":
        torch.cuda.empty_cache()


def predict_or_errors(detector: Detector, inputs: Sequence[ModelInput], limits: CallLimits) -> list[ModelOutcome]:
    """Like ``predict_batch``, but a failure becomes the error of the inputs that still fail alone."""
    if not inputs:
        return []
    try:
        return list(predict_batch(detector, inputs, limits))
    except Exception as exc:  # out of memory, or a bug or a device error: find the input that causes it
        out_of_memory = is_out_of_memory(exc)
        reason = failure_reason(exc)
        if not out_of_memory:
            logger.error("model call of %d input(s) failed", len(inputs), exc_info=True)
    # Retries run outside the except block: the traceback holds the failed call's tensors.
    release_cached_memory(detector.device)
    if len(inputs) == 1:
        if out_of_memory:
            logger.error("out of memory on one input alone (%s): answering 507; %s", _describe(inputs[0]), reason)
            return [ModelOutOfMemory()]
        logger.error("model call failed on one input alone (%s): answering 500; %s", _describe(inputs[0]), reason)
        return [InferenceError()]
    if out_of_memory:
        half = len(inputs) // 2
        logger.warning(
            "model call of %d inputs ran out of memory (%s): retrying as %d + %d",
            len(inputs),
            reason,
            half,
            len(inputs) - half,
        )
        return predict_or_errors(detector, inputs[:half], limits) + predict_or_errors(detector, inputs[half:], limits)
    logger.warning("retrying the %d inputs of the failed call one at a time", len(inputs))
    return [outcome for item in inputs for outcome in predict_or_errors(detector, [item], limits)]
