"""The transformers back end answers as transformers' own processor + post-processing does.

Same image, caption and thresholds on tiny random ``grounding-dino`` and ``mm-grounding-dino``
folders: every box of ``post_process_grounded_object_detection`` is found with the same score
and box within 1e-4 and the same phrase, for the caption as the service normalises it (lower case,
ending with ``.``). Two documented differences are accounted for: the
service clips boxes to the image, and its phrases leave out ``[SEP]`` and the ``.`` separators
that transformers' decoding keeps.
"""

from __future__ import annotations

import io
import logging
import re

import pytest
import torch
from PIL import Image

from gdino_serve.demo_hf_model import MODEL_TYPES, cached_random_hf_model
from tests.support.model_inputs import TEST_HANDLER_SETTINGS

logger = logging.getLogger(__name__)
TOLERANCE = 1e-4
CAPTIONS = ("a person. a rocket. flag.", "cat . a silver spoon . the sky")


def _transformers_answer(model_type: str, image: Image.Image, caption: str, box: float, text: float) -> dict:
    from transformers import AutoModelForZeroShotObjectDetection, AutoProcessor

    folder = cached_random_hf_model(model_type)
    processor = AutoProcessor.from_pretrained(folder)
    model = AutoModelForZeroShotObjectDetection.from_pretrained(folder).eval()
    size = {"shortest_edge": TEST_HANDLER_SETTINGS["resize_short"], "longest_edge": TEST_HANDLER_SETTINGS["resize_max"]}
    inputs = processor(images=image, text=caption, return_tensors="pt", size=size)
    with torch.no_grad():
        outputs = model(**inputs)
    return processor.post_process_grounded_object_detection(
        outputs, inputs.input_ids, threshold=box, text_threshold=text, target_sizes=[image.size[::-1]]
    )[0]


def _phrase(text_label: str) -> str:
    """transformers' decoded label as the service writes phrases: no special tokens, no dots."""
    return " ".join(re.sub(r"\[(SEP|CLS|PAD)\]", " ", text_label).replace(".", " ").split())


@pytest.mark.parametrize("model_type", MODEL_TYPES)
@pytest.mark.parametrize("caption", CAPTIONS)
def test_boxes_scores_and_phrases_equal_transformers_post_processing(
    make_hf_pipeline, photos, model_type: str, caption: str, record_property
) -> None:
    pipeline = make_hf_pipeline(model_type, warmup=False)
    data = photos["astronaut.png"]
    image = Image.open(io.BytesIO(data)).convert("RGB")
    request = {"image": data, "caption": caption, "box_threshold": 0.5, "text_threshold": 0.6, "max_detections": 1000}
    (chunk,) = pipeline.prepare(request).prompt.chunks  # the caption as the model reads it (lower case, final '.')
    expected = _transformers_answer(model_type, image, chunk.caption, box=0.5, text=0.6)
    (ours,) = pipeline.run([request])
    width, height = image.size
    boxes = expected["boxes"].clone()
    boxes[:, 0::2] = boxes[:, 0::2].clamp(0, width)
    boxes[:, 1::2] = boxes[:, 1::2].clamp(0, height)
    assert len(ours.scores) == len(expected["scores"]) > 0
    unmatched = set(range(len(boxes)))
    worst = 0.0
    for score, box, phrase in zip(ours.scores, ours.boxes, ours.phrases):
        difference = {
            j: float(max((boxes[j] - box).abs().max(), abs(expected["scores"][j] - score))) for j in unmatched
        }
        j = min(difference, key=difference.get)
        worst = max(worst, difference[j])
        assert difference[j] <= TOLERANCE, (box, boxes[j])
        assert phrase == _phrase(expected["text_labels"][j])
        unmatched.remove(j)
    logger.info("%s %r: %d boxes, largest difference %.3g", model_type, caption, len(ours.scores), worst)
    record_property("largest difference from transformers' post-processing", worst)


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_class_ids_name_the_class_whose_tokens_score_highest(make_hf_pipeline, photos, model_type: str) -> None:
    pipeline = make_hf_pipeline(model_type, warmup=False)
    classes = ["person", "rocket", "american flag"]
    (answer,) = pipeline.run([{"image": photos["astronaut.png"], "classes": classes, "box_threshold": 0.5}])
    assert len(answer.scores) > 0
    assert set(answer.labels) <= set(classes)
    assert all(classes[class_id] == label for class_id, label in zip(answer.class_ids.tolist(), answer.labels))
