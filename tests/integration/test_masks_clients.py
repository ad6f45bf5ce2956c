"""Masks from a real TorchServe (tiny detector + tiny random SAM 2.1) read by the real clients:
pycocotools' COCO and COCOeval (segm), Ultralytics' dataset check and segment loader, a real Label
Studio importing brush predictions and showing them (screenshot build/screenshots/labelstudio_masks.png),
and the playground filling them (screenshot build/screenshots/playground_masks.png)."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from pycocotools.coco import COCO

from gdino_client import annotate
from gdino_client.commands.annotate import main
from gdino_client.labelstudio.api import LabelStudio
from gdino_client.masks import MaskRequest
from gdino_client.playground import make_server
from gdino_serve.tools.labelstudio_runner import LabelStudioServer
from gdino_serve.tools.sample_photos import photo_bytes
from gdino_serve.torchserve_runner import TorchServe
from handler.contract.mask_codec import segmentation_mask
from tests.integration.test_yolo_dataset import ultralytics  # noqa: F401 - the fixture
from tests.support.browser import chromium, labelstudio_task_screenshot, screenshot
from tests.support.coco_masks import segm_ap_against_itself
from tests.support.image_folders import write_images
from tests.support.images import encode
from tests.support.polling import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.masks]

CLASSES = ["person", "cup", "cat"]
PHOTOS = {"astronaut.png": "astronaut.png", "kitchen/coffee.png": "coffee.png", "cat.png": "chelsea.png"}
SCREENSHOT = "labelstudio_masks.png"
SETTINGS = {"box_threshold": 0.77, "text_threshold": 0.25}  # random weights: a few surer boxes (up to 100 at 0.35)


def small_photo(name: str, longest: int = 200) -> bytes:
    image = Image.open(io.BytesIO(photo_bytes(name))).convert("RGB")
    image.thumbnail((longest, longest))
    return encode(image)


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_images(tmp_path_factory.mktemp("mask-photos"), {k: small_photo(v) for k, v in PHOTOS.items()})


@pytest.fixture(scope="module")
def exported(mask_served_model: TorchServe, photo_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """gdino-annotate with masks (COCO RLE) into every format, pictures drawn."""
    out = tmp_path_factory.mktemp("mask-export")
    summary = annotate(
        photo_folder, out, mask_served_model.url, classes=CLASSES, masks=MaskRequest(), draw=True, progress=False, timeout=600,
        box_threshold=SETTINGS["box_threshold"], text_threshold=SETTINGS["text_threshold"],
    )  # fmt: skip
    assert summary.done == len(PHOTOS) and not summary.failed
    return out


def responses(out: Path) -> dict[str, dict[str, Any]]:
    return {r["path"]: r["response"] for r in map(json.loads, (out / "responses.jsonl").read_text().splitlines())}


def test_pycocotools_reads_the_masks_and_cocoeval_segm_scores_them(exported: Path) -> None:
    coco = COCO(str(exported / "coco.json"))
    answers = responses(exported)
    assert coco.anns and all("segmentation" in annotation for annotation in coco.anns.values())
    for annotation in coco.anns.values():
        image = coco.imgs[annotation["image_id"]]
        served = answers[image["file_name"]]["masks"]
        pixels = coco.annToMask(annotation).astype(bool)
        assert pixels.shape == (image["height"], image["width"]) and annotation["area"] == pixels.sum()
        assert any(np.array_equal(pixels, segmentation_mask(m, image["height"], image["width"])) for m in served)
    assert segm_ap_against_itself(coco) == pytest.approx(1.0)


def test_ultralytics_accepts_the_yolo_segmentation_export(ultralytics, exported: Path) -> None:  # noqa: F811
    from ultralytics.data.dataset import YOLODataset

    data = ultralytics.check_det_dataset(str(exported / "yolo" / "data.yaml"), autodownload=False)
    dataset = YOLODataset(img_path=data["train"], data=data, task="segment", augment=False)
    assert len(dataset.labels) == len(PHOTOS)
    objects = sum(len(label["cls"]) for label in dataset.labels)
    segments = sum(len(label["segments"]) for label in dataset.labels)
    assert objects == segments == len(COCO(str(exported / "coco.json")).anns) > 0


def test_drawn_pictures_show_the_masks(exported: Path, photo_folder: Path) -> None:
    for key in PHOTOS:
        drawn = np.asarray(Image.open(exported / "annotated" / key).convert("RGB"), dtype=int)
        original = np.asarray(Image.open(photo_folder / key).convert("RGB"), dtype=int)
        masks = responses(exported)[key]["masks"]
        if masks:
            height, width = original.shape[:2]
            inside = segmentation_mask(masks[0], height, width)
            assert np.abs(drawn - original).sum(axis=2)[inside].mean() > 20


@pytest.mark.labelstudio
@pytest.mark.browser
def test_label_studio_imports_the_brush_predictions_and_the_task_page_shows_them(
    mask_served_model: TorchServe, photo_folder: Path, label_studio: LabelStudioServer, tmp_path: Path
) -> None:
    """One command: annotate with masks and import into a project with a BrushLabels control."""
    pytest.importorskip("label_studio_converter.brush", reason="the labelstudio extra is not installed")
    command = [str(photo_folder), "--classes", ",".join(CLASSES), "--url", mask_served_model.url, "--no-progress"]
    command += ["--box-threshold", str(SETTINGS["box_threshold"]), "--masks", "--ls-masks", "brush", "--timeout", "600"]
    command += ["--ls-url", label_studio.url, "--ls-token", label_studio.token, "--ls-project", "Masks", "--ls-upload"]
    assert main([*command, "--out", str(tmp_path / "out"), "--formats", "jsonl"]) == 0
    ls = LabelStudio(label_studio.url, label_studio.token)
    project = ls.find_project("Masks")
    assert "<BrushLabels" in project["label_config"]
    tasks = ls.tasks(project["id"])
    brushes = [r for t in tasks for r in t["predictions"][0]["result"] if r["type"] == "brushlabels"]
    assert len(tasks) == len(PHOTOS) and brushes and all(r["value"]["rle"] for r in brushes)
    task = max(tasks, key=lambda t: len(t["predictions"][0]["result"]))
    entries, path = labelstudio_task_screenshot(label_studio.url, project["id"], task["id"], CLASSES, SCREENSHOT)
    assert entries > len(CLASSES) and path.stat().st_size > 10_000


@pytest.fixture(scope="module")
def playground(mask_served_model: TorchServe) -> Iterator[str]:
    settings = {"model": mask_served_model.model_name, **SETTINGS}
    server = make_server(mask_served_model.url, settings, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.browser
def test_the_playground_fills_every_mask(playground: str, photo_folder: Path) -> None:
    from selenium.webdriver.common.by import By

    with chromium() as driver:
        driver.get(playground)
        driver.find_element(By.ID, "prompt").clear()
        driver.find_element(By.ID, "prompt").send_keys(", ".join(CLASSES))
        driver.find_element(By.ID, "masks").click()
        driver.find_element(By.ID, "file").send_keys(str(photo_folder / "astronaut.png"))
        wait_for(lambda: "masks in" in driver.find_element(By.ID, "status").text, 180, "the masks")
        answer = json.loads(driver.find_element(By.ID, "json").text)
        filled = int(driver.find_element(By.ID, "canvas").get_attribute("data-masks"))
        shot = screenshot(driver, "playground_masks.png")
    assert filled == len(answer["masks"]) == len(answer["boxes"]) > 0
    assert all(isinstance(region, list) for mask in answer["masks"] for region in mask)  # polygons
    assert shot.stat().st_size > 10_000
