"""docs/labelstudio.md run as printed: its shell blocks in one bash session (its server blocks in
background processes, as in terminals of their own), against a real TorchServe with the tiny
random-weight model and the Label Studio the page's runner starts. Only the values of the page's
settings (ports, the service's address), HOME (a temporary folder with ~/data/site-photos) and
the token the runner prints are the test's. Then: both imports gave every photo a task with boxes
and a served image, and the backend walk ended with boxes on every task under one model version."""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from gdino_client.labelstudio.api import LabelStudio
from gdino_serve.paths import REPO
from gdino_serve.ports import free_ports
from gdino_serve.tools.sample_photos import photo_bytes
from handler.contract import defaults
from tests.support.browser import labelstudio_task_screenshot
from tests.support.doc_blocks import shell_blocks, with_values
from tests.support.image_folders import write_images
from tests.support.shell_session import BackgroundServer, ShellSession

pytestmark = [pytest.mark.labelstudio, pytest.mark.integration]

logger = logging.getLogger(__name__)

PAGE = REPO / "docs" / "labelstudio.md"
PHOTOS = ("astronaut.png", "coffee.png", "rocket.jpg")  # the reader's ~/data/site-photos
CLASSES = ["person", "hard hat"]  # the page's class list
BACKEND_PROJECT, MODEL_TITLE = "Site photos, ML backend", "GroundingDINO"  # the page's names
TOKEN = re.compile(r"export LABEL_STUDIO_API_KEY=(\S+)")


@dataclass
class Walk:
    """What following the page left: the terminal's outputs, the servers' logs, Label Studio."""

    values: dict[str, str]  # the page's settings as the test set them, and the token
    outputs: list[str] = field(default_factory=list)  # each terminal block's
    logs: dict[str, str] = field(default_factory=dict)  # server block -> its output
    seconds: list[tuple[int, float]] = field(default_factory=list)  # (line in the page, seconds) per block

    @property
    def label_studio(self) -> LabelStudio:
        return LabelStudio(f"http://127.0.0.1:{self.values['LABEL_STUDIO_PORT']}", self.values["LABEL_STUDIO_API_KEY"])

    def log_of(self, command: str) -> str:
        return next(log for block, log in self.logs.items() if command in block)


def ready_when(block: str) -> Any:
    """When a server block of the page is up: the runner printed the token, the backend its address."""
    if "labelstudio_runner" in block:
        return TOKEN.search
    if "gdino-labelstudio-backend" in block:
        return lambda output: "ML backend on http://" in output
    raise AssertionError(f"a server block this test does not know:\n{block}")


@pytest.fixture(scope="module")
def walk(fast_served_model: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Walk]:
    home = tmp_path_factory.mktemp("home")
    write_images(home / "data" / "site-photos", {name: photo_bytes(name) for name in PHOTOS})
    label_studio_port, backend_port = free_ports(2)
    values = {
        "TORCHSERVE_URL": fast_served_model.url,  # the tiny model on small inputs: cheap requests
        "LABEL_STUDIO_PORT": str(label_studio_port),
        "BACKEND_PORT": str(backend_port),
    }
    session = ShellSession(REPO, {**os.environ, "HOME": str(home)}, tmp_path_factory.mktemp("blocks"))
    servers: list[BackgroundServer] = []
    replaced: set[str] = set()
    result = Walk(values)
    try:
        for block in shell_blocks(PAGE):
            if block.tag == "skip":
                continue
            text, names = with_values(block.text, values)
            replaced |= names
            started = time.monotonic()
            if block.tag == "server":
                log = home / f"server-{len(servers)}.log"
                server = BackgroundServer(text, log).start(REPO, session.environment())
                servers.append(server)
                output = server.wait_for(ready_when(text))
                if token := TOKEN.search(output):
                    values["LABEL_STUDIO_API_KEY"] = token.group(1)
            else:
                result.outputs.append(session.run(text))
            result.seconds.append((block.line, time.monotonic() - started))
            logger.info("docs/labelstudio.md line %d: %.1f s", block.line, result.seconds[-1][1])
        assert replaced == set(values), f"the page no longer sets {set(values) - replaced}"
        result.logs = {server.block: server.output() for server in servers}
        yield result
    finally:
        session.close()
        for server in reversed(servers):
            server.stop()


def project_named(ls: LabelStudio, title: str) -> int:
    project = ls.find_project(title)
    assert project is not None, f"no project {title!r}"
    return int(project["id"])


def test_the_runner_says_where_label_studio_listens_and_the_token(walk: Walk) -> None:
    runner = walk.log_of("labelstudio_runner")
    assert f"Label Studio listening on {walk.label_studio.url.rstrip('/')} " in runner
    assert walk.label_studio.call("GET", "api/projects") is not None  # the printed token works


@pytest.mark.parametrize("title", ["Site photos", "Site photos, uploaded"])
def test_the_one_command_import_gives_every_photo_a_task_with_boxes_and_a_served_image(walk: Walk, title: str) -> None:
    ls = walk.label_studio
    tasks = ls.tasks(project_named(ls, title))
    assert sorted(task["data"]["path"] for task in tasks) == sorted(PHOTOS)
    for task in tasks:
        assert ls.fetch(task["data"]["image"]) == photo_bytes(task["data"]["path"])
        (predicted,) = task["predictions"]
        assert predicted["result"] and predicted["model_version"] == defaults.PREDICTIONS_MODEL_VERSION
        assert {region["value"]["rectanglelabels"][0] for region in predicted["result"]} <= set(CLASSES)


def test_the_backend_walk_ends_with_boxes_on_every_task_under_one_model_version(walk: Walk) -> None:
    ls = walk.label_studio
    project = project_named(ls, BACKEND_PROJECT)
    tasks = ls.tasks(project)
    backend = walk.log_of("gdino-labelstudio-backend")
    assert len(tasks) == len(PHOTOS)
    for task in tasks:
        assert len(task["predictions"]) == 1, f"{walk.outputs[-3:]}\n{backend}"
        (predicted,) = task["predictions"]
        assert predicted["result"] and predicted["model_version"] == MODEL_TITLE
        assert {region["value"]["rectanglelabels"][0] for region in predicted["result"]} <= set(CLASSES)
        assert ls.fetch(task["data"]["image"]) in {photo_bytes(name) for name in PHOTOS}  # an upload
    (model,) = ls.ml_backends(project)
    assert model["readable_state"] == "Connected"
    assert ls.call("GET", f"api/projects/{project}")["model_version"] == model["model_version"] == MODEL_TITLE
    # what the page's last block printed, and what the backend logged
    printed = re.findall(r"^task \d+ (\d+) boxes, model_version (.+)$", walk.outputs[-1], re.MULTILINE)
    assert [(int(count), version) for count, version in printed] == [
        (len(task["predictions"][0]["result"]), MODEL_TITLE) for task in tasks
    ]
    assert f"detections from {walk.values['TORCHSERVE_URL']}/predictions/groundingdino" in backend
    assert f"Label Studio at {ls.url.rstrip('/')}" in backend
    boxes = sum(len(task["predictions"][0]["result"]) for task in tasks)
    assert f"predict: project {project}, {len(PHOTOS)} tasks, {boxes} boxes, 0 failed, " in backend


@pytest.mark.browser
def test_the_task_page_shows_the_backends_boxes(walk: Walk) -> None:
    """Screenshot: build/screenshots/labelstudio_doc_task.png."""
    ls = walk.label_studio
    project = project_named(ls, BACKEND_PROJECT)
    task = ls.tasks(project)[0]
    url = ls.url.rstrip("/")
    entries, path = labelstudio_task_screenshot(url, project, task["id"], CLASSES, "labelstudio_doc_task.png")
    assert entries > len(CLASSES) and path.stat().st_size > 10_000
