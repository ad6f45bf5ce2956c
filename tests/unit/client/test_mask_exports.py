"""Masks in every export of gdino-annotate, against the fake service (each box's mask: its inscribed ellipse)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from pycocotools.coco import COCO

from gdino_client import annotate
from gdino_client.commands.annotate import main
from gdino_client.masks import MaskRequest, brush_available
from handler.contract.mask_codec import segmentation_mask
from tests.support.coco_masks import segm_ap_against_itself
from tests.support.fake_service import FakeServer, fake_mask

pytestmark = pytest.mark.masks

CLASSES = ["person", "hard hat"]


def run(folder: Path, out: Path, server: FakeServer, mask_format: str = "rle", **options: Any) -> None:
    summary = annotate(
        folder, out, server.url, classes=CLASSES, masks=MaskRequest(mask_format), progress=False, **options
    )
    assert summary.done == 6 and summary.failed.keys() == {"a/broken.png"}


def responses(out: Path) -> dict[str, dict[str, Any]]:
    return {r["path"]: r["response"] for r in map(json.loads, (out / "responses.jsonl").read_text().splitlines())}


@pytest.mark.parametrize("mask_format", ["rle", "polygon"])
def test_coco_segmentation_is_each_boxs_mask_with_its_area_and_cocoeval_segm_reads_it(
    small_folder: Path, tmp_path: Path, fake_server: Callable[..., FakeServer], mask_format: str
) -> None:
    out = tmp_path / "out"
    run(small_folder, out, fake_server(), mask_format)
    answers = responses(out)
    coco = COCO(str(out / "coco.json"))
    assert len(coco.anns) == 12
    for annotation in coco.anns.values():
        image = coco.imgs[annotation["image_id"]]
        answer = answers[image["file_name"]]
        index = [round(b[0], 2) for b in answer["boxes"]].index(annotation["bbox"][0])
        expected = fake_mask(answer["boxes"][index], image["width"], image["height"])
        assert np.array_equal(coco.annToMask(annotation).astype(bool), expected)
        assert annotation["area"] == expected.sum() and annotation["segmentation"] == answer["masks"][index]
    assert segm_ap_against_itself(coco) == pytest.approx(1.0)


def test_yolo_labels_are_segmentation_lines_only_outlining_each_mask(
    small_folder: Path, tmp_path: Path, fake_server: Callable[..., FakeServer]
) -> None:
    out = tmp_path / "out"
    run(small_folder, out, fake_server(), formats=("yolo", "jsonl"))
    answer = responses(out)["a/img2.png"]
    width, height = answer["image_size"]
    lines = (out / "yolo" / "labels" / "a__img2.txt").read_text().splitlines()
    assert len(lines) == 2 and all(len(line.split()) > 6 for line in lines)  # never a box line
    for line, box in zip(lines, answer["boxes"]):
        class_id, *coordinates = line.split()
        points = np.asarray(coordinates, dtype=float).reshape(-1, 2)
        assert class_id in "01" and (points >= 0).all() and (points <= 1).all()
        assert (points * [width, height]).min(axis=0) == pytest.approx(box[:2], abs=1.0)
        assert (points * [width, height]).max(axis=0) == pytest.approx(box[2:], abs=1.0)


def test_label_studio_gets_polygon_regions_in_percent_under_a_polygon_labels_control(
    small_folder: Path, tmp_path: Path, fake_server: Callable[..., FakeServer]
) -> None:
    out = tmp_path / "out"
    assert (
        main(
            [str(small_folder), "--out", str(out), "--url", fake_server().url, "--classes", ",".join(CLASSES)]
            + ["--masks", "--ls-masks", "polygon", "--formats", "labelstudio,jsonl", "--no-progress"]
        )
        == 1
    )  # the corrupt image
    config = (out / "labelstudio_config.xml").read_text()
    assert '<PolygonLabels name="mask" toName="image">' in config and "<RectangleLabels" in config
    task = next(
        t for t in json.loads((out / "labelstudio.json").read_text()) if t["data"]["image"].endswith("img0.png")
    )
    regions = task["predictions"][0]["result"]
    polygons = [region for region in regions if region["type"] == "polygonlabels"]
    assert [region["value"]["polygonlabels"] for region in polygons] == [["person"], ["hard hat"]]
    answer = responses(out)["img0.png"]
    for region, box in zip(polygons, answer["boxes"]):
        points = np.asarray(region["value"]["points"]) / 100 * answer["image_size"]
        assert region["from_name"] == "mask" and region["value"]["closed"] and len(points) >= 3
        assert points.min(axis=0) == pytest.approx(box[:2], abs=1.0)


def test_label_studio_brush_regions_are_label_studios_own_rle_of_each_mask(
    small_folder: Path, tmp_path: Path, fake_server: Callable[..., FakeServer]
) -> None:
    brush = pytest.importorskip("label_studio_converter.brush", reason="the labelstudio extra is not installed")
    out = tmp_path / "out"
    run(small_folder, out, fake_server(), formats=("labelstudio", "jsonl"), labelstudio=_brush_options())
    assert '<BrushLabels name="mask" toName="image">' in (out / "labelstudio_config.xml").read_text()
    answers = responses(out)
    for task in json.loads((out / "labelstudio.json").read_text()):
        answer = answers[task["data"]["image"].split("?d=")[1]]
        width, height = answer["image_size"]
        brushes = [region for region in task["predictions"][0]["result"] if region["type"] == "brushlabels"]
        assert len(brushes) == 2
        for region, rle in zip(brushes, answer["masks"]):
            rgba = brush.decode_rle(region["value"]["rle"]).reshape(height, width, 4)
            assert region["value"]["format"] == "rle" and (rgba[..., 3] == 255).sum() > 0
            assert np.array_equal(rgba[..., 3] == 255, segmentation_mask(rle, height, width))


def _brush_options():
    from gdino_client.labelstudio.export import LabelStudioOptions

    return LabelStudioOptions(mask_type="brush")


def test_without_the_labelstudio_extra_brushes_are_refused_clearly_and_polygons_are_the_default(
    small_folder: Path, tmp_path: Path, fake_server: Callable[..., FakeServer], monkeypatch, caplog
) -> None:
    monkeypatch.setattr("gdino_client.commands.annotate.brush_available", lambda: False)
    command = [str(small_folder), "--url", fake_server().url, "--classes", "person", "--masks", "--no-progress"]
    with caplog.at_level(logging.ERROR):
        assert main([*command, "--out", str(tmp_path / "a"), "--ls-masks", "brush"]) == 2
    assert 'pip install ".[labelstudio]"' in caplog.text
    assert main([*command, "--out", str(tmp_path / "b"), "--formats", "labelstudio"]) == 1
    assert "<PolygonLabels" in (tmp_path / "b" / "labelstudio_config.xml").read_text()
    assert brush_available() == (pytest.importorskip("importlib.util").find_spec("label_studio_converter") is not None)


def test_drawn_pictures_fill_each_mask_translucently(
    small_folder: Path, tmp_path: Path, fake_server: Callable[..., FakeServer]
) -> None:
    out = tmp_path / "out"
    run(small_folder, out, fake_server(), formats=("jsonl",), draw=True)
    answer = responses(out)["a/b/img4.png"]
    original = np.asarray(Image.open(small_folder / "a/b/img4.png").convert("RGB"), dtype=int)
    drawn = np.asarray(Image.open(out / "annotated" / "a/b/img4.png").convert("RGB"), dtype=int)
    width, height = answer["image_size"]
    inside = fake_mask(answer["boxes"][0], width, height) & ~fake_mask(answer["boxes"][1], width, height)
    centre = tuple(int(v) for v in np.argwhere(inside).mean(axis=0))
    assert inside[centre] and np.abs(drawn[centre] - original[centre]).sum() > 60  # tinted
    assert (drawn[0, -1] == original[0, -1]).all()  # outside every box and mask: untouched


def test_a_server_without_a_mask_model_fails_each_image_with_its_reason(
    small_folder: Path, tmp_path: Path, fake_server: Callable[..., FakeServer]
) -> None:
    summary = annotate(
        small_folder, tmp_path / "out", fake_server(masks_available=False).url, classes=CLASSES,
        masks=MaskRequest(), progress=False,
    )  # fmt: skip
    refused = {key: reason for key, reason in summary.failed.items() if key != "a/broken.png"}
    assert summary.done == 0 and len(refused) == 6
    assert all("without a mask model" in reason for reason in refused.values())
