"""``gdino-annotate --vocabulary``: the vocabulary goes by name, labels are the dataset's, COCO keeps COCO's ids."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from pycocotools.coco import COCO

from gdino_client import annotate
from gdino_client.classes import ClassList
from gdino_client.commands.annotate import main
from gdino_client.runner import requested_classes
from tests.support.fake_service import FakeServer


def test_the_coco_export_of_the_coco_vocabulary_uses_cocos_category_ids(
    small_folder: Path, tmp_path: Path, fake_server: Callable[..., FakeServer]
) -> None:
    server = fake_server()
    summary = annotate(small_folder, tmp_path / "out", server.url, vocabulary="coco", progress=False)
    assert {name: count for name, count in summary.detections.items() if count} == {
        "teddy bear": 6,
        "hair drier": 6,
        "toothbrush": 6,
    }
    assert len(summary.detections) == 80
    assert {request["vocabulary"] for request in server.service.requests} == {"coco"}
    assert not any("classes" in request or "caption" in request for request in server.service.requests)
    coco = COCO(str(tmp_path / "out" / "coco.json"))
    assert len(coco.getCatIds()) == 80 and coco.loadCats([1, 13, 90]) == [
        {"id": 1, "name": "person", "supercategory": ""},
        {"id": 13, "name": "stop sign", "supercategory": ""},
        {"id": 90, "name": "toothbrush", "supercategory": ""},
    ]
    assert sorted({annotation["category_id"] for annotation in coco.dataset["annotations"]}) == [88, 89, 90]
    yolo_names = (tmp_path / "out" / "yolo" / "classes.txt").read_text().splitlines()
    assert yolo_names[79] == "toothbrush"  # YOLO counts classes from 0, in the vocabulary's order


def test_an_lvis_run_labels_with_lvis_names_and_numbers_categories_from_one(
    small_folder: Path, tmp_path: Path, fake_server: Callable[..., FakeServer]
) -> None:
    out = tmp_path / "out"
    assert (
        main(
            [
                str(small_folder),
                "--out",
                str(out),
                "--url",
                fake_server().url,
                "--vocabulary",
                "lvis",
                "--formats",
                "coco",
                "--no-progress",
            ]
        )
        == 1
    )  # the folder holds one broken image
    document = json.loads((out / "coco.json").read_text())
    assert len(document["categories"]) == 1203 and document["categories"][0] == {
        "id": 1,
        "name": "aerosol_can",
        "supercategory": "",
    }
    assert sorted({a["category_id"] for a in document["annotations"]}) == [1201, 1202, 1203]
    assert json.loads((out / "journal.jsonl").read_text().splitlines()[0])["settings"]["vocabulary"] == "lvis"


def test_an_older_server_gets_the_vocabularys_class_names_instead(
    small_folder: Path, tmp_path: Path, fake_server: Callable[..., FakeServer], caplog: pytest.LogCaptureFixture
) -> None:
    server = fake_server(accept_vocabulary=False)
    with caplog.at_level(logging.WARNING):
        annotate(small_folder, tmp_path / "out", server.url, vocabulary="voc", concurrency=1, progress=False)
    sent = [request for request in server.service.requests if "classes" in request]
    assert len(sent) == 6 and sent[0]["classes"][:3] == ["aeroplane", "bicycle", "bird"]
    assert sum("does not know the 'vocabulary' field" in r.message for r in caplog.records) == 1


def test_an_unknown_vocabulary_is_a_usage_error_and_only_one_prompt_kind_is_accepted(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown vocabulary 'imagenet'"):
        ClassList.from_vocabulary("imagenet")
    with pytest.raises(ValueError, match="one of a caption, classes or a vocabulary"):
        requested_classes(None, ["cat"], "coco")
    with pytest.raises(SystemExit):
        main([str(tmp_path), "--out", str(tmp_path / "o"), "--vocabulary", "imagenet"])
