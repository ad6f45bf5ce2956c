"""The ``openvino`` back end: the Detector protocol on the two IR graphs of a converted model folder.

``encode_images`` runs the image graph once per image, ``decode`` the caption graph once per
(image, caption): each item alone, with the shapes of its solo run, so a batched answer is its
solo answer. The tokenizer is the BERT tokenizer of the upstream back end (``bert_dir``); no
PyTorch model is built. BERT is part of the caption graph, so the prompt cache keeps a caption's
tokens and phrase masks (the graph's text inputs), not its encoding. Answers are FP32: this runtime would otherwise pick bfloat16 on CPUs
with AVX512_BF16 or AMX, which moves most of the 900 queries (docs/performance.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import openvino as ov
import torch

from handler.backends.bert_tokens import BertTokens
from handler.backends.openvino.caption_inputs import caption_inputs
from handler.backends.openvino.model_files import CAPTION_XML, IMAGE_XML, ModelFacts
from handler.contract import defaults
from handler.core.detector import QueryScores
from handler.core.prompt_cache import Encoding, PromptCache
from handler.core.settings import HandlerSettings

logger = logging.getLogger(__name__)


def cpu_config(threads: int) -> dict[str, Any]:
    """The CPU plugin's settings: FP32 inference, ``threads`` threads, one stream, latency first."""
    return {
        "INFERENCE_PRECISION_HINT": "f32",
        "INFERENCE_NUM_THREADS": threads,
        "NUM_STREAMS": 1,
        "PERFORMANCE_HINT": "LATENCY",
    }


def compile_graph(core: ov.Core, xml: Path, threads: int, weights: Path | None = None) -> ov.CompiledModel:
    """Read one IR graph (its ``.bin`` beside it, or ``weights``) and compile it for the CPU."""
    model = core.read_model(xml, weights) if weights else core.read_model(xml)
    return core.compile_model(model, "CPU", cpu_config(threads))


class OpenVinoDetector:
    """GroundingDINO (Swin + BERT) converted to OpenVINO IR, on the CPU."""

    def __init__(
        self,
        folder: Path,
        caption_weights: Path,
        bert_dir: Path,
        threads: int,
        prompt_cache_mb: float = defaults.PROMPT_CACHE_MB,
    ) -> None:
        from transformers import AutoTokenizer

        started = time.monotonic()
        self.facts = ModelFacts.read(folder)
        core = ov.Core()
        self.image = compile_graph(core, folder / IMAGE_XML, threads).create_infer_request()
        self.caption = compile_graph(core, folder / CAPTION_XML, threads, caption_weights).create_infer_request()
        self.text_tokenizer = AutoTokenizer.from_pretrained(str(bert_dir))
        self.tokenizer = BertTokens(self.text_tokenizer)
        self.max_text_len = self.facts.max_text_len
        self.num_queries = self.facts.num_queries
        self.feature_strides = self.facts.feature_strides
        self.device = torch.device("cpu")
        self.prompt_cache = PromptCache(prompt_cache_mb)
        logger.info(
            "OpenVINO %s model (%s weights, converted by OpenVINO %s) compiled for %d CPU threads in %.1f s",
            folder.name,
            self.facts.weights,
            self.facts.openvino,
            threads,
            time.monotonic() - started,
        )
        if self.facts.weights != "float32":
            logger.warning(
                "the OpenVINO model has %s weights: answers differ from the FP32 model's", self.facts.weights
            )

    @classmethod
    def load(
        cls, model_dir: Path, checkpoint: Path, settings: HandlerSettings, device: torch.device
    ) -> OpenVinoDetector:
        """The folder ``settings.model_config`` of ``model_dir``; ``checkpoint`` is the caption graph's weights."""
        if settings.dtype != "float32":
            raise ValueError(f"the openvino back end runs float32 only, not dtype={settings.dtype!r}")
        if device.type != "cpu":
            logger.warning("the openvino back end runs on the CPU, not on %s", device)
        folder, bert_dir = model_dir / settings.model_config, model_dir / settings.bert_dir
        return cls(folder, checkpoint, bert_dir, torch.get_num_threads(), settings.prompt_cache_mb)

    def encode_images(self, images: torch.Tensor) -> list[list[np.ndarray]]:
        """The image graph's level and position maps, per image of the (b, 3, H, W) batch."""
        encoded = []
        for image in images:
            outputs = self.image.infer([image[None].contiguous().numpy()])
            encoded.append([np.array(outputs[index]) for index in range(len(outputs))])  # copies out of the request
        return encoded

    def decode(self, encoded: list[list[np.ndarray]], owners: Sequence[int], captions: Sequence[str]) -> QueryScores:
        """The caption graph once per (image ``owners[i]``, ``captions[i]``)."""
        probs, boxes = [], []
        for owner, caption in zip(owners, captions):
            text = self.prompt_cache.get(caption, lambda text=caption: self._caption_inputs(text))
            outputs = self.caption.infer([*encoded[owner], *(tensor.numpy() for tensor in text)])
            probs.append(torch.from_numpy(np.array(outputs[0])))
            boxes.append(torch.from_numpy(np.array(outputs[1])))
        return QueryScores(probs=torch.cat(probs), boxes=torch.cat(boxes))

    def _caption_inputs(self, caption: str) -> Encoding:
        return caption_inputs(self.text_tokenizer, caption, self.max_text_len)
