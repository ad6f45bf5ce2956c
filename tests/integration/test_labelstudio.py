"""Against a real Label Studio 1.23 (its own venv, started once per session): the ML backend
connected to a project answers "retrieve predictions" with the service's boxes for the task's
image, and the one-command import makes every image reachable and attaches every prediction."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gdino_client.classes import ClassList
from gdino_client.client import DetectionClient
from gdino_client.commands.annotate import main
from gdino_client.labelstudio.api import LabelStudio
from gdino_client.labelstudio.backend import BackendSettings, Predictor, make_server
from gdino_client.labelstudio.export import LabelStudioOptions, prediction
from gdino_client.query import Thresholds
from gdino_client.results import image_result
from gdino_serve.tools.labelstudio_runner import LabelStudioServer
from gdino_serve.tools.sample_photos import photo_bytes
from tests.support.browser import labelstudio_task_screenshot
from tests.support.fake_service import FakeServer, FakeService
from tests.support.image_folders import write_images
from tests.support.polling import wait_for

pytestmark = [pytest.mark.labelstudio, pytest.mark.integration]

CLASSES = ["person", "rocket"]
CONFIG = (
    '<View>\n  <Image name="photo" value="$picture"/>\n  <RectangleLabels name="boxes" toName="photo">\n'
    + "".join(f'    <Label value="{name}"/>\n' for name in CLASSES)
    + "  </RectangleLabels>\n</View>\n"
)
THRESHOLDS = Thresholds(box=0.75, text=0.25)  # random weights: fewer, surer boxes
PHOTOS = {"astronaut.png": "astronaut.png", "space/rocket.jpg": "rocket.jpg"}
TITLE = "Site model"  # the name the project connects the ML backend under: the model version everywhere


@pytest.fixture(scope="module")
def ml_backend(served_model: Any, label_studio: LabelStudioServer) -> Iterator[str]:
    """The ML backend, in this process, in front of the real TorchServe, fetching images with the
    personal access token (Label Studio 1.23's /setup sends a legacy token, off by default); its URL."""
    client = DetectionClient(served_model.url)
    ls = LabelStudio(label_studio.url, label_studio.token)
    server = make_server(Predictor(client, BackendSettings(THRESHOLDS), ls), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def backend_project(label_studio: LabelStudioServer, ml_backend: str) -> tuple[LabelStudio, int]:
    """A project with the photos as local-files tasks (no predictions) and the ML backend connected."""
    folder = write_images(label_studio.document_root / "backend", {k: photo_bytes(v) for k, v in PHOTOS.items()})
    ls = LabelStudio(label_studio.url, label_studio.token)
    project = ls.ensure_project("ML backend project", CONFIG)["id"]
    ls.ensure_local_storage(project, str(folder), "photos")
    ls.import_tasks(project, [{"data": {"picture": f"/data/local-files/?d=backend/{key}"}} for key in PHOTOS])
    ls.connect_model(project, ml_backend, TITLE)
    return ls, project


def test_ml_backend_gives_each_task_the_services_boxes_for_its_image(
    backend_project: tuple[LabelStudio, int], served_model: Any
) -> None:
    ls, project = backend_project
    tasks = ls.tasks(project)
    ls.retrieve_predictions(project, [task["id"] for task in tasks])
    tasks = wait_for(lambda: (t := ls.tasks(project)) and all(task["predictions"] for task in t) and t)
    classes = ClassList.of(CLASSES)
    options = LabelStudioOptions("boxes", "photo", model_version=TITLE)
    direct = DetectionClient(served_model.url)
    for task in tasks:
        url = task["data"]["picture"]
        alone = direct.detect(ls.fetch(url), {"classes": CLASSES, **THRESHOLDS.fields()})
        expected = prediction(image_result(url, alone, classes), classes, options)
        (got,) = task["predictions"]
        assert got["model_version"] == TITLE
        assert len(got["result"]) == len(expected["result"])
        for region, want in zip(got["result"], expected["result"]):
            assert region["value"]["rectanglelabels"] == want["value"]["rectanglelabels"]
            for key in ("x", "y", "width", "height"):
                assert region["value"][key] == pytest.approx(want["value"][key], abs=0.01)
    assert sum(len(task["predictions"][0]["result"]) for task in tasks) > 0
    (model,) = ls.ml_backends(project)
    assert ls.call("GET", f"api/projects/{project}")["model_version"] == model["model_version"] == TITLE


@pytest.mark.browser
def test_labelstudio_task_page_shows_the_backends_boxes(
    backend_project: tuple[LabelStudio, int], label_studio: LabelStudioServer
) -> None:
    """Screenshot: build/screenshots/labelstudio_task.png."""
    ls, project = backend_project
    task = next(t for t in ls.tasks(project) if t["predictions"] and t["predictions"][0]["result"])
    entries, path = labelstudio_task_screenshot(label_studio.url, project, task["id"], CLASSES, "labelstudio_task.png")
    assert entries > len(CLASSES) and path.stat().st_size > 10_000


def test_one_command_import_serves_every_image_and_attaches_every_prediction(
    label_studio: LabelStudioServer, tmp_path: Path
) -> None:
    folder = write_images(label_studio.document_root / "folder", {k: photo_bytes(v) for k, v in PHOTOS.items()})
    ls = LabelStudio(label_studio.url, label_studio.token)
    with FakeServer(FakeService()) as service:
        command = [str(folder), "--classes", ",".join(CLASSES), "--url", service.url, "--no-progress"]
        command += ["--ls-url", label_studio.url, "--ls-token", label_studio.token]
        local = command + ["--ls-project", "From a folder", "--ls-document-root", str(label_studio.document_root)]
        assert main([*local, "--out", str(tmp_path / "local")]) == 0
        assert main([*local, "--out", str(tmp_path / "local")]) == 0  # again: nothing imported twice
        upload = command + ["--ls-project", "Uploaded", "--ls-upload", "--out", str(tmp_path / "upload")]
        assert main(upload) == 0
    for title in ("From a folder", "Uploaded"):
        project = ls.find_project(title)
        assert project is not None
        tasks = ls.tasks(project["id"])
        assert sorted(task["data"]["path"] for task in tasks) == sorted(PHOTOS)
        for task in tasks:
            reply = ls.session.get(ls.url + task["data"]["image"].lstrip("/"), timeout=30)
            assert reply.status_code == 200 and reply.content == (folder / task["data"]["path"]).read_bytes()
            (predicted,) = task["predictions"]
            assert [r["value"]["rectanglelabels"] for r in predicted["result"]] == [["person"], ["rocket"]]
