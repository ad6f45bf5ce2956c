"""NMS, max_detections, box formats and the validation of every output option."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from transformers import AutoTokenizer

from gdino_serve.paths import BERT_DIR
from handler.backends.bert_tokens import BertTokens
from handler.contract.errors import InvalidInput
from handler.core.batching import RawDetections
from handler.core.nms import keep_detections
from handler.core.postprocess import build_detections
from handler.core.prompt import build_prompt
from handler.core.request import DetectionRequest, parse_request
from handler.core.settings import HandlerSettings
from handler.frontends.http.replies import detections_body, error_status

SIZE = (200, 100)  # width, height


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    return AutoTokenizer.from_pretrained(str(BERT_DIR))


def _raw(boxes_cxcywh: list[list[float]], best_tokens: list[tuple[int, float]]) -> RawDetections:
    """Detections whose only confident token is ``best_tokens[i] = (position, probability)``."""
    probs = torch.full((len(boxes_cxcywh), 256), 0.1)
    for row, (position, probability) in enumerate(best_tokens):
        probs[row, position] = probability
    return RawDetections(probs=probs, boxes=torch.tensor(boxes_cxcywh))


def _respond(tokenizer: Any, raw: RawDetections, caption: str = "cat . dog .", **options: Any) -> dict[str, Any]:
    request = DetectionRequest(image=b"", caption=caption, box_threshold=0.3, text_threshold=0.25, **options)
    tokens = BertTokens(tokenizer)
    return detections_body(build_detections([raw], build_prompt(caption, tokens), request, SIZE, tokens))


# "[CLS] cat . dog . [SEP]": token 1 is "cat", token 3 is "dog".
DUPLICATES = _raw([[0.5, 0.5, 0.4, 0.4], [0.51, 0.5, 0.4, 0.4], [0.2, 0.2, 0.1, 0.1]], [(1, 0.9), (1, 0.8), (1, 0.7)])


def test_without_nms_threshold_overlapping_boxes_are_all_returned(tokenizer: Any) -> None:
    assert _respond(tokenizer, DUPLICATES)["scores"] == [0.9, 0.8, 0.7]


def test_nms_removes_the_lower_scoring_duplicate_of_the_same_class(tokenizer: Any) -> None:
    response = _respond(tokenizer, DUPLICATES, nms_threshold=0.5)
    assert response["scores"] == [0.9, 0.7]
    assert response["labels"] == ["cat", "cat"]


def test_class_aware_nms_keeps_overlapping_boxes_of_different_classes(tokenizer: Any) -> None:
    raw = _raw([[0.5, 0.5, 0.4, 0.4], [0.51, 0.5, 0.4, 0.4]], [(1, 0.9), (3, 0.8)])
    assert _respond(tokenizer, raw, nms_threshold=0.5)["labels"] == ["cat", "dog"]
    assert _respond(tokenizer, raw, nms_threshold=0.5, class_agnostic_nms=True)["labels"] == ["cat"]


def test_max_detections_keeps_the_highest_scores() -> None:
    boxes = torch.tensor([[0.0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50]])
    scores = torch.tensor([0.5, 0.9, 0.7])
    assert keep_detections(boxes, scores, torch.zeros(3, dtype=torch.long), None, False, 2).tolist() == [1, 2]


@pytest.mark.parametrize(
    ("box_format", "normalized", "expected"),
    [
        ("xyxy", False, [60.0, 30.0, 140.0, 70.0]),
        ("xywh", False, [60.0, 30.0, 80.0, 40.0]),
        ("cxcywh", False, [100.0, 50.0, 80.0, 40.0]),
        ("xyxy", True, [0.3, 0.3, 0.7, 0.7]),
        ("cxcywh", True, [0.5, 0.5, 0.4, 0.4]),
    ],
)
def test_box_format_and_normalized_describe_the_same_box(
    tokenizer: Any, box_format: str, normalized: bool, expected: list[float]
) -> None:
    raw = _raw([[0.5, 0.5, 0.4, 0.4]], [(1, 0.9)])
    response = _respond(tokenizer, raw, box_format=box_format, normalized=normalized)
    assert response["boxes"] == [pytest.approx(expected)]


def test_boxes_are_clipped_to_the_image_in_every_format(tokenizer: Any) -> None:
    raw = _raw([[0.9, 0.5, 0.4, 0.4]], [(1, 0.9)])  # x from 0.7 to 1.1 of the width
    assert _respond(tokenizer, raw)["boxes"] == [pytest.approx([140.0, 30.0, 200.0, 70.0])]
    assert _respond(tokenizer, raw, box_format="xywh", normalized=True)["boxes"] == [
        pytest.approx([0.7, 0.3, 0.3, 0.4])
    ]


def _parse(**fields: Any) -> DetectionRequest:
    return parse_request({"image": b"image bytes", "caption": "cat", **fields}, HandlerSettings())


def test_multipart_text_values_of_output_options_are_accepted() -> None:
    request = _parse(
        nms_threshold=b"0.5", class_agnostic_nms=b"true", max_detections=b"12", box_format=b"XYWH", normalized=b"1"
    )
    assert (request.nms_threshold, request.class_agnostic_nms, request.max_detections) == (0.5, True, 12)
    assert (request.box_format, request.normalized) == ("xywh", True)


def test_output_options_default_to_xyxy_pixels_without_nms() -> None:
    request = _parse()
    assert (request.nms_threshold, request.class_agnostic_nms, request.max_detections) == (None, False, 100)
    assert (request.box_format, request.normalized) == ("xyxy", False)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("nms_threshold", 1.5),
        ("nms_threshold", -0.1),
        ("nms_threshold", "half"),
        ("nms_threshold", True),
        ("class_agnostic_nms", "maybe"),
        ("class_agnostic_nms", 2),
        ("max_detections", 0),
        ("max_detections", 1001),
        ("max_detections", 2.5),
        ("max_detections", "ten"),
        ("max_detections", True),
        ("box_format", "yxyx"),
        ("box_format", 3),
        ("normalized", "sometimes"),
        ("normalized", [True]),
    ],
)
def test_bad_output_option_is_a_400_naming_the_field(field: str, value: Any) -> None:
    with pytest.raises(InvalidInput) as error:
        _parse(**{field: value, **({"nms_threshold": 0.5} if field == "class_agnostic_nms" else {})})
    assert error_status(error.value) == 400 and field in error.value.message


def test_class_agnostic_nms_without_nms_threshold_is_a_400() -> None:
    with pytest.raises(InvalidInput, match="nms_threshold"):
        _parse(class_agnostic_nms=True)
