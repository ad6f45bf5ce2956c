"""The Label Studio ML backend's protocol, against the fake service and a stand-in for Label
Studio's file serving and ML backend list (token checked); the real Label Studio is in tests/integration."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from PIL import Image

from gdino_client.client import DetectionClient
from gdino_client.http_serving import send, send_json
from gdino_client.labelstudio.api import LabelStudio
from gdino_client.labelstudio.backend import BackendSettings, Predictor, connected_title, make_server
from gdino_client.labelstudio.config import UnusableConfig, box_target
from gdino_client.query import Thresholds
from tests.support.background_jobs import ignore_sigint
from tests.support.fake_service import FakeServer, fake_boxes
from tests.support.images import encode

TOKEN = "0123456789abcdef"
CONFIG = (
    '<View><Image name="photo" value="$picture"/><RectangleLabels name="boxes" toName="photo">'
    '<Label value="cat"/><Label value="Remote control"/></RectangleLabels></View>'
)


def test_box_target_reads_names_data_key_and_labels_of_the_config() -> None:
    target = box_target(CONFIG)
    assert (target.from_name, target.to_name, target.data_key) == ("boxes", "photo", "picture")
    assert target.classes.names == ("cat", "Remote control")


@pytest.mark.parametrize(
    "config",
    ["<View", '<View><Image name="i" value="$i"/></View>', '<View><RectangleLabels name="l" toName="x"/></View>'],
)
def test_box_target_refuses_configs_without_rectangles_on_an_image(config: str) -> None:
    with pytest.raises(UnusableConfig):
        box_target(config)


class _Files(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        if self.headers.get("Authorization") != f"Token {TOKEN}":
            return send_json(self, 401, {"detail": "no token"})
        if self.path == "/data/upload/1/cat.png":
            return send(self, 200, encode(Image.new("RGB", (200, 100))), "image/png")
        if self.path == "/api/projects/1/model-versions?extended=true&include_live_models=true":  # 2 is unknown
            return send_json(
                self, 200, {"static": [], "live": [{"url": "http://127.0.0.1:9090", "title": "Site model"}]}
            )
        send_json(self, 404, {"detail": "missing"})

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def backend(fake_server: Callable[..., FakeServer]) -> Iterator[str]:
    files = ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    ls = LabelStudio(f"http://127.0.0.1:{files.server_address[1]}", TOKEN)
    service = fake_server()
    predictor = Predictor(DetectionClient(service.url), BackendSettings(Thresholds(0.3, 0.2), "gd-test"), ls)
    server = make_server(predictor, port=0)
    for running in (files, server):
        threading.Thread(target=partial(running.serve_forever, poll_interval=0.05), daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    for running in (files, server):
        running.shutdown()
        running.server_close()


def test_health_and_setup_answer_with_the_title_the_project_connected_the_model_under(backend: str) -> None:
    assert requests.get(f"{backend}/health", timeout=5).json()["status"] == "UP"
    reply = requests.post(f"{backend}/setup", json={"project": "1.1700000000", "schema": CONFIG}, timeout=5)
    assert reply.status_code == 200 and reply.json() == {"model_version": "Site model"}
    unknown = requests.post(f"{backend}/setup", json={"project": "2.1700000000", "schema": CONFIG}, timeout=5)
    assert unknown.status_code == 200 and unknown.json() == {"model_version": "gd-test"}  # the settings' version
    refused = requests.post(f"{backend}/setup", json={"project": "1.1", "schema": "<View/>"}, timeout=5)
    assert refused.status_code == 400 and "RectangleLabels" in refused.json()["error"]


@pytest.mark.parametrize(
    ("backends", "title"),
    [
        ([{"url": "http://ls-host:1234", "title": "only one"}], "only one"),  # the only one is this one, any URL
        ([{"url": "http://a:9090", "title": "ours"}, {"url": "http://a:9091", "title": "SAM"}], "ours"),
        ([{"url": "http://a:9091", "title": "SAM"}], "SAM"),  # not on this port, but the only one: a proxy
        ([{"url": "http://a:9090", "title": "one"}, {"url": "http://b:9090", "title": "two"}], None),  # unclear
        ([], None),
    ],
)
def test_connected_title_is_the_only_backend_or_the_one_on_this_port(backends: list[dict], title: str | None) -> None:
    assert connected_title(backends, 9090) == title


def test_predict_gives_one_percent_prediction_per_task_and_empty_for_a_missing_image(
    backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    tasks = [{"id": 7, "data": {"picture": "/data/upload/1/cat.png"}}, {"id": 8, "data": {"picture": "/nope.png"}}]
    body = {"tasks": tasks, "label_config": CONFIG, "project": "1.1700000000"}
    with caplog.at_level(logging.INFO, logger="gdino_client.labelstudio.backend"):
        reply = requests.post(f"{backend}/predict", json=body, timeout=30)
    assert reply.status_code == 200
    first, second = reply.json()["results"]
    assert first["model_version"] == "Site model"
    assert second == {"model_version": "Site model", "score": 0.0, "result": []}
    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("predict:")]
    assert line.startswith("predict: project 1, 2 tasks, 2 boxes, 1 failed, ") and "'Site model'" in line
    expected = fake_boxes(200, 100, ["cat", "Remote control"])
    assert [r["value"]["rectanglelabels"] for r in first["result"]] == [["cat"], ["Remote control"]]
    x1, y1, x2, y2 = expected["boxes"][0]
    value = first["result"][0]["value"]
    assert (value["x"], value["y"], value["width"], value["height"]) == pytest.approx(
        (x1 / 2, y1, (x2 - x1) / 2, y2 - y1)
    )
    assert {r["from_name"] for r in first["result"]} == {"boxes"} and {r["to_name"] for r in first["result"]} == {
        "photo"
    }


def test_predict_fails_with_the_reasons_when_every_task_fails(backend: str) -> None:
    tasks = [{"id": 9, "data": {"picture": "/missing.png"}}]
    reply = requests.post(f"{backend}/predict", json={"tasks": tasks, "label_config": CONFIG}, timeout=30)
    assert reply.status_code == 502 and "task 9" in reply.json()["error"] and "404" in reply.json()["error"]


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_the_command_stops_cleanly_on_sigint_and_sigterm_also_as_a_background_job(stop_signal: signal.Signals) -> None:
    """Started as ``command &`` in a script starts it (SIGINT ignored), it still stops, with exit 0."""
    command = [sys.executable, "-m", "gdino_client.commands.labelstudio_backend", "--port", "0"]
    backend = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, preexec_fn=ignore_sigint)
    try:
        assert backend.stderr is not None
        lines = iter(backend.stderr.readline, "")
        assert any("Label Studio ML backend on http://" in line for line in lines)
        backend.send_signal(stop_signal)
        assert backend.wait(timeout=30) == 0
        assert "stopped" in backend.stderr.read()
    finally:
        if backend.poll() is None:
            backend.kill()
