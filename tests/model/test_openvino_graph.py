"""The re-stated inference path that the OpenVINO back end exports (gdino_serve/openvino_export/graph.py),
run eagerly, answers bitwise as the upstream back end does.

Tiny config (the same Swin-T backbone and code paths as the full one), real photos at the sizes the
service feeds the model, an odd size that makes every Swin stage pad, and captions of a few and of
over a hundred tokens. Bitwise, not close: any difference would be a re-statement error, and the
top-900 query selection would turn it into other boxes.
"""

from __future__ import annotations

import pytest
import torch

from gdino_serve.openvino_export.graph import CaptionGraph, ImageGraph, check_supported, check_upstream
from handler.backends.openvino.caption_inputs import caption_inputs
from handler.core.pipeline import DetectionPipeline
from tests.support.model_inputs import NAMES_400

CAPTIONS = ["cup . saucer . a silver spoon .", " . ".join(NAMES_400[:40]) + " ."]


@pytest.mark.parametrize("photo", ["coffee.png", "astronaut.png", "odd size"])
def test_restated_graph_is_bitwise_the_upstream_back_end(pipeline: DetectionPipeline, photos, photo: str) -> None:
    detector = pipeline.detector
    model = detector.model
    check_upstream()
    check_supported(model)
    if photo == "odd size":
        image = torch.randn(1, 3, 157, 203, generator=torch.Generator().manual_seed(0))
    else:
        image = pipeline.prepare({"image": photos[photo], "caption": "x"}).image[None]
    with torch.inference_mode():
        maps = ImageGraph(model)(image)
        for caption in CAPTIONS:
            expected = detector.decode(detector.encode_images(image), [0], [caption])
            probs, boxes = CaptionGraph(model)(*maps, *caption_inputs(model.tokenizer, caption, model.max_text_len))
            assert torch.equal(probs, expected.probs), float((probs - expected.probs).abs().max())
            assert torch.equal(boxes, expected.boxes), float((boxes - expected.boxes).abs().max())
