"""Against a real Label Studio 1.23 (its own venv, started once per session): the ML backend
connected to a project answers "retrieve predictions" with the service's boxes for the task's
image, and the one-command import makes every image reachable and attaches every prediction."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
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
from tests.support.browser import chromium, screenshot
from tests.support.fake_service import FakeServer, FakeService
from tests.support.image_folders import write_images

pytestmark = [pytest.mark.labelstudio, pytest.mark.integration]

CLASSES = ["person", "rocket"]
CONFIG = (
    '<View>\n  <Image name="photo" value="$picture"/>\n  <RectangleLabels name="boxes" toName="photo">\n'
    + "".join(f'    <Label value="{name}"/>\n' for name in CLASSES)
    + "  </RectangleLabels>\n</View>\n"
)
THRESHOLDS = Thresholds(box=0.75, text=0.25)  # random weights: fewer, surer boxes
PHOTOS = {"astronaut.png": "astronaut.png", "space/rocket.jpg": "rocket.jpg"}


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
    ls.connect_model(project, ml_backend, "GroundingDINO")
    return ls, project


def wait_for(condition: Callable[[], Any], timeout: float = 240) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(1)
    return value


def test_ml_backend_gives_each_task_the_services_boxes_for_its_image(
    backend_project: tuple[LabelStudio, int], served_model: Any
) -> None:
    ls, project = backend_project
    tasks = ls.tasks(project)
    ls.retrieve_predictions(project, [task["id"] for task in tasks])
    tasks = wait_for(lambda: (t := ls.tasks(project)) and all(task["predictions"] for task in t) and t)
    classes = ClassList.of(CLASSES)
    options = LabelStudioOptions("boxes", "photo", model_version="groundingdino")
    direct = DetectionClient(served_model.url)
    for task in tasks:
        url = task["data"]["picture"]
        alone = direct.detect(ls.fetch(url), {"classes": CLASSES, **THRESHOLDS.fields()})
        expected = prediction(image_result(url, alone, classes), classes, options)
        (got,) = task["predictions"]
        assert got["model_version"] == "groundingdino"
        assert len(got["result"]) == len(expected["result"])
        for region, want in zip(got["result"], expected["result"]):
            assert region["value"]["rectanglelabels"] == want["value"]["rectanglelabels"]
            for key in ("x", "y", "width", "height"):
                assert region["value"][key] == pytest.approx(want["value"][key], abs=0.01)
    assert sum(len(task["predictions"][0]["result"]) for task in tasks) > 0


@pytest.mark.browser
def test_labelstudio_task_page_shows_the_backends_boxes(
    backend_project: tuple[LabelStudio, int], label_studio: LabelStudioServer
) -> None:
    """Screenshot: build/screenshots/labelstudio_task.png."""
    from selenium.webdriver.common.by import By

    ls, project = backend_project
    task = next(t for t in ls.tasks(project) if t["predictions"] and t["predictions"][0]["result"])
    with chromium() as driver:
        driver.get(f"{label_studio.url}/user/login/")
        driver.find_element(By.NAME, "email").send_keys("annotator@example.com")
        driver.find_element(By.NAME, "password").send_keys("gdino-test-password")
        driver.find_element(By.CSS_SELECTOR, "button[type=submit], input[type=submit]").click()
        wait_for(lambda: "/user/login" not in driver.current_url, 60)
        driver.get(f"{label_studio.url}/projects/{project}/data?task={task['id']}")
        named = "//*[text()='person' or text()='rocket']"  # the label bar, then one entry per region
        regions = wait_for(lambda: (found := driver.find_elements(By.XPATH, named)) and len(found) > 2 and found, 120)
        time.sleep(3)  # let the canvas draw the regions
        path = screenshot(driver, "labelstudio_task.png")
    assert regions and path.stat().st_size > 10_000


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
