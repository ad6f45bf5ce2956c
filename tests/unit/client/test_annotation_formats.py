"""Every output format, checked against the fake service's known answers."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pycocotools.coco import COCO

from gdino_client import Summary
from gdino_client.commands.annotate import main
from tests.support.client_fixtures import CLASSES, GOOD, run_fake
from tests.support.fake_service import FakeServer, fake_boxes


@pytest.fixture
def annotated(small_folder: Path, tmp_path: Path, fake_server: Callable[..., FakeServer]) -> tuple[Path, Summary]:
    out = tmp_path / "out"
    return out, run_fake(small_folder, out, fake_server())


def responses(out: Path) -> dict[str, dict[str, Any]]:
    lines = (out / "responses.jsonl").read_text().splitlines()
    return {record["path"]: record["response"] for record in map(json.loads, lines)}


def test_summary_counts_images_failures_and_detections(annotated: tuple[Path, Summary]) -> None:
    out, summary = annotated
    assert (summary.images, summary.done, summary.pending) == (7, 6, 0)
    assert list(summary.failed) == ["a/broken.png"] and "not a readable image" in summary.failed["a/broken.png"]
    assert summary.detections == {"person": 6, "hard hat": 6}
    assert summary.ignored == ["notes.txt"]
    assert json.loads((out / "summary.json").read_text())["failed"] == summary.failed


def test_jsonl_holds_each_raw_response_once_by_relative_path(annotated: tuple[Path, Summary]) -> None:
    out, _ = annotated
    lines = (out / "responses.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["path"] for line in lines) == GOOD
    first = responses(out)["img0.png"]
    assert first == {**fake_boxes(64, 48, CLASSES), "labels": CLASSES, "class_ids": [0, 1]}


def test_coco_loads_with_pycocotools_and_matches_responses(annotated: tuple[Path, Summary]) -> None:
    out, _ = annotated
    coco = COCO(str(out / "coco.json"))
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == CLASSES
    by_file = {image["file_name"]: image for image in coco.dataset["images"]}
    assert sorted(by_file) == GOOD
    for key, response in responses(out).items():
        image = by_file[key]
        assert [image["width"], image["height"]] == response["image_size"]
        annotations = coco.loadAnns(coco.getAnnIds(imgIds=image["id"]))
        assert [a["bbox"] for a in annotations] == [
            [x1, y1, round(x2 - x1, 2), round(y2 - y1, 2)] for x1, y1, x2, y2 in response["boxes"]
        ]
        assert [a["score"] for a in annotations] == response["scores"]
        assert [a["category_id"] - 1 for a in annotations] == response["class_ids"]
    results = coco.loadRes(coco.dataset["annotations"])
    assert len(results.getAnnIds()) == 12


def test_yolo_lines_are_normalised_and_flattened_next_to_their_images(annotated: tuple[Path, Summary]) -> None:
    out, _ = annotated
    yolo = out / "yolo"
    assert (yolo / "classes.txt").read_text().splitlines() == CLASSES
    flat = sorted(key.replace("/", "__") for key in GOOD)
    assert sorted(p.name for p in (yolo / "images").iterdir()) == flat
    assert sorted(p.name for p in (yolo / "labels").iterdir()) == sorted(str(Path(k).with_suffix(".txt")) for k in flat)
    assert (yolo / "images" / "a__b__img4.png").read_bytes() == (out.parent / "images" / "a/b/img4.png").read_bytes()
    lines = (yolo / "labels" / "img0.txt").read_text().splitlines()
    assert lines == ["0 0.300000 0.550000 0.400000 0.700000", "1 0.400000 0.550000 0.400000 0.700000"]
    for path in (yolo / "labels").glob("*.txt"):
        for line in path.read_text().splitlines():
            class_id, *values = line.split()
            assert int(class_id) in (0, 1) and len(values) == 4
            assert all(0.0 <= float(v) <= 1.0 for v in values)


def test_labelstudio_tasks_have_percent_rectangles_with_labels(annotated: tuple[Path, Summary]) -> None:
    out, _ = annotated
    tasks = json.loads((out / "labelstudio.json").read_text())
    assert [task["data"]["image"] for task in tasks] == [f"/data/local-files/?d={key}" for key in GOOD]
    prediction = next(t for t in tasks if t["data"]["image"].endswith("img0.png"))["predictions"][0]
    assert prediction["model_version"] == "groundingdino" and prediction["score"] == pytest.approx(0.85)
    first = prediction["result"][0]
    assert {k: first[k] for k in ("type", "from_name", "to_name", "original_width", "original_height")} == {
        "type": "rectanglelabels",
        "from_name": "label",
        "to_name": "image",
        "original_width": 64,
        "original_height": 48,
    }
    assert first["value"] == {
        "x": 10.0,
        "y": 20.0,
        "width": 40.0,
        "height": 70.0,
        "rotation": 0,
        "rectanglelabels": ["person"],
    }
    assert first["score"] == 0.9
    config = (out / "labelstudio_config.xml").read_text()
    assert '<RectangleLabels name="label" toName="image">' in config and '<Label value="hard hat"/>' in config


def test_annotated_pictures_mirror_the_tree_in_the_source_format(annotated: tuple[Path, Summary]) -> None:
    out, _ = annotated
    drawn = sorted(p.relative_to(out / "annotated").as_posix() for p in (out / "annotated").rglob("*.*"))
    assert drawn == GOOD


def test_older_server_gets_the_caption_and_phrases_give_class_ids(
    small_folder: Path, tmp_path: Path, fake_server: Callable[..., FakeServer], caplog: pytest.LogCaptureFixture
) -> None:
    server = fake_server(accept_classes=False)
    with caplog.at_level(logging.WARNING):
        summary = run_fake(small_folder, tmp_path / "out", server, classes=["hard hat", "person"], concurrency=1)
    assert summary.detections == {"hard hat": 6, "person": 6} and not summary.unmatched
    assert [r["caption"] for r in server.service.requests if "caption" in r] == ["hard hat . person"] * 6
    assert sum("does not know the 'classes' field" in r.message for r in caplog.records) == 1
    coco = json.loads((tmp_path / "out" / "coco.json").read_text())
    assert [a["category_id"] for a in coco["annotations"][:2]] == [1, 2]


def test_only_chosen_formats_are_written(
    small_folder: Path, tmp_path: Path, fake_server: Callable[..., FakeServer]
) -> None:
    out = tmp_path / "out"
    run_fake(small_folder, out, fake_server(), formats=("yolo",), draw=False)
    assert sorted(p.name for p in out.iterdir()) == ["journal.jsonl", "summary.json", "yolo"]


def test_cli_exits_non_zero_and_lists_failures(
    small_folder: Path, tmp_path: Path, fake_server: Callable[..., FakeServer], capsys: pytest.CaptureFixture
) -> None:
    classes_file = tmp_path / "classes.txt"
    classes_file.write_text("person\nhard hat\n")
    argv = [
        str(small_folder),
        "--out",
        str(tmp_path / "out"),
        "--classes-file",
        str(classes_file),
        "--url",
        fake_server().url,
        "--formats",
        "coco,jsonl",
        "--no-progress",
    ]
    assert main(argv) == 1
    report = capsys.readouterr().out
    assert "done: 6" in report and "FAILED a/broken.png: not a readable image" in report


def test_cli_exits_zero_when_every_image_is_done(
    small_folder: Path, tmp_path: Path, fake_server: Callable[..., FakeServer]
) -> None:
    (small_folder / "a" / "broken.png").unlink()
    argv = [
        str(small_folder / "**" / "*.png"),
        "--out",
        str(tmp_path / "out"),
        "--caption",
        "cat . dog",
        "--url",
        fake_server().url,
        "--formats",
        "coco",
        "--no-progress",
    ]
    assert main(argv) == 0
    coco = json.loads((tmp_path / "out" / "coco.json").read_text())
    assert sorted(i["file_name"] for i in coco["images"]) == ["a/b/img4.png", "a/img2.png", "c/img5.png", "img0.png"]


def test_output_folder_inside_the_source_is_not_annotated(
    small_folder: Path, fake_server: Callable[..., FakeServer]
) -> None:
    server, out = fake_server(), small_folder / "annotations"
    run_fake(small_folder, out, server)
    again = run_fake(small_folder, out, server)
    assert (again.images, again.resumed) == (7, 6)  # the drawn copies under out/ are not new images


def test_cli_refuses_unusable_settings_with_exit_2(
    small_folder: Path, tmp_path: Path, fake_server: Callable[..., FakeServer]
) -> None:
    base = [
        str(small_folder),
        "--out",
        str(tmp_path / "out"),
        "--caption",
        "cat",
        "--url",
        fake_server().url,
        "--no-progress",
        "--formats",
        "jsonl",
    ]
    assert main([*base, "--box-threshold", "1.5"]) == 2
    assert main([*base, "--concurrency", "0"]) == 2
    assert main(base) == 1  # the corrupt file
    assert main([*base, "--text-threshold", "0.5"]) == 2  # the journal holds other settings
    assert main([*base, "--text-threshold", "0.5", "--fresh"]) == 1
