"""The Label Studio ML backend returns masks when the labeling config has BrushLabels or PolygonLabels."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PIL import Image

from gdino_client.client import DetectionClient
from gdino_client.labelstudio.backend import BackendError, BackendSettings, Predictor
from gdino_client.labelstudio.config import UnusableConfig, box_target
from tests.support.fake_service import FakeServer
from tests.support.images import encode

pytestmark = pytest.mark.masks

LABELS = '<Label value="cat"/><Label value="dog"/>'
IMAGE = '<Image name="photo" value="$picture"/>'
POLYGONS_ONLY = f'<View>{IMAGE}<PolygonLabels name="outline" toName="photo">{LABELS}</PolygonLabels></View>'
BOXES_AND_BRUSH = (
    f'<View>{IMAGE}<RectangleLabels name="box" toName="photo">{LABELS}</RectangleLabels>'
    f'<BrushLabels name="paint" toName="photo">{LABELS}</BrushLabels></View>'
)


class Pictures:
    """Stands in for Label Studio: every task image is a 200 x 100 picture, no model connected by title."""

    def fetch(self, url: str) -> bytes:
        return encode(Image.new("RGB", (200, 100), (90, 120, 150)))

    def ml_backends(self, project: int) -> list[dict]:
        return []


def predict(server: FakeServer, config: str) -> list[dict]:
    predictor = Predictor(DetectionClient(server.url), BackendSettings(), Pictures())  # type: ignore[arg-type]
    body = {"label_config": config, "project": "1", "tasks": [{"id": 7, "data": {"picture": "/data/upload/7.png"}}]}
    return predictor.predict(body)["results"][0]["result"]


def test_config_controls_are_read_for_boxes_and_masks() -> None:
    target = box_target(POLYGONS_ONLY)
    assert (target.from_name, target.mask_from_name, target.mask_type, target.data_key) == (
        None,
        "outline",
        "polygon",
        "picture",
    )
    assert target.classes.names == ("cat", "dog")
    target = box_target(BOXES_AND_BRUSH)
    assert (target.from_name, target.mask_from_name, target.mask_type) == ("box", "paint", "brush")
    with pytest.raises(UnusableConfig, match="draws on 'other'"):
        box_target(BOXES_AND_BRUSH.replace('name="paint" toName="photo"', 'name="paint" toName="other"'))


def test_a_polygon_labels_config_gets_polygon_regions_only(fake_server: Callable[..., FakeServer]) -> None:
    server = fake_server()
    regions = predict(server, POLYGONS_ONLY)
    assert {region["type"] for region in regions} == {"polygonlabels"} and len(regions) == 2
    assert all(region["from_name"] == "outline" and region["to_name"] == "photo" for region in regions)
    assert server.service.requests[-1]["masks"] is True


def test_a_config_with_boxes_and_brushes_gets_both(fake_server: Callable[..., FakeServer]) -> None:
    pytest.importorskip("label_studio_converter.brush", reason="the labelstudio extra is not installed")
    regions = predict(fake_server(), BOXES_AND_BRUSH)
    assert sorted(region["type"] for region in regions) == ["brushlabels"] * 2 + ["rectanglelabels"] * 2
    brush = next(region for region in regions if region["type"] == "brushlabels")
    assert brush["from_name"] == "paint" and brush["value"]["format"] == "rle" and brush["value"]["brushlabels"]


def test_brushes_without_the_labelstudio_extra_are_refused_at_setup(
    fake_server: Callable[..., FakeServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("gdino_client.labelstudio.backend.brush_available", lambda: False)
    predictor = Predictor(DetectionClient(fake_server().url), BackendSettings(), Pictures())  # type: ignore[arg-type]
    with pytest.raises(BackendError, match=r'pip install "\.\[labelstudio\]"') as info:
        predictor.setup({"project": "1", "schema": BOXES_AND_BRUSH})
    assert info.value.status == 400
    assert predictor.setup({"project": "1", "schema": POLYGONS_ONLY}) == {"model_version": "groundingdino"}
