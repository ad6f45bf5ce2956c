"""NMS, max_detections, box formats and the validation of every output option."""

from __future__ import annotations

from typing import Any

from handler.core.settings import HandlerSettings
from handler.frontends.http.batch_answers import answer_bodies

# "[CLS] cat . dog . [SEP]": token 1 is "cat", token 3 is "dog".


def test_default_max_detections_comes_from_settings(make_pipeline: Any, photos: dict[str, bytes]) -> None:
    few = make_pipeline(max_detections=3)
    response = answer_bodies(few, [{"image": photos["coffee.png"], "caption": "cup", "box_threshold": 0.0}])[0]
    assert len(response["boxes"]) == 3
    assert HandlerSettings().max_detections == 100


def test_request_max_detections_overrides_the_default(pipeline: Any, photos: dict[str, bytes]) -> None:
    request = {"image": photos["coffee.png"], "caption": "cup", "box_threshold": 0.0}
    assert len(answer_bodies(pipeline, [request])[0]["boxes"]) == 100
    assert len(answer_bodies(pipeline, [{**request, "max_detections": 7}])[0]["boxes"]) == 7
