"""The serving image, built and run with Podman: health, predictions, non-root, ports, restart, stop.

The image is built from the project's Dockerfile on a Debian base made with debootstrap (no
registry needed; gdino_serve/container.py) and serves the tiny random-weight checkpoint, mounted.
The tests share one container and run in file order: the restart and stop tests come last.
"""

from __future__ import annotations

import io
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from PIL import Image

from gdino_serve import container
from gdino_serve.paths import REPO, TINY_CONFIG
from gdino_serve.ports import free_port
from tests.support.images import b64

pytestmark = [pytest.mark.integration, pytest.mark.container]

CAPTION = "person . cup . cat"


@dataclass
class Served:
    name: str
    url: str
    volume: str


def image_size(data: bytes) -> list[int]:
    return list(Image.open(io.BytesIO(data)).size)


@pytest.fixture(scope="module")
def image() -> str:
    if shutil.which("podman") is None or shutil.which("debootstrap") is None:
        pytest.fail("podman and debootstrap are needed: run scripts/setup_podman.sh (scripts/test.sh does)")
    return container.build_image(f"{container.IMAGE}:test")


@pytest.fixture(scope="module")
def served(image: str, tiny_checkpoint: Path) -> Iterator[Served]:
    suffix = uuid.uuid4().hex[:8]
    port = free_port()
    server = Served(f"groundingdino-test-{suffix}", f"http://127.0.0.1:{port}", f"groundingdino-test-cache-{suffix}")
    try:
        container.run_server(
            image, server.name, port, tiny_checkpoint, str(TINY_CONFIG.relative_to(REPO)), server.volume
        )
        container.wait_ready(server.url, server.name)
        yield server
    finally:
        container.podman("rm", "--force", "--time", "0", server.name, check=False)
        container.podman("volume", "rm", "--force", server.volume, check=False)


def predict_json(served: Served, photo: bytes) -> requests.Response:
    return requests.post(
        f"{served.url}/predictions/groundingdino", json={"image": b64(photo), "caption": CAPTION}, timeout=120
    )


def assert_detections(answer: requests.Response, photo: bytes) -> None:
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["image_size"] == image_size(photo)
    assert body["boxes"] and len(body["boxes"]) == len(body["scores"]) == len(body["labels"])
    assert set(body["labels"]) <= {"person", "cup", "cat"}


def test_ping_reports_healthy(served: Served):
    assert requests.get(f"{served.url}/ping", timeout=10).json() == {"status": "Healthy"}


def test_json_prediction_is_answered_for_its_image(served: Served, photos: dict[str, bytes]):
    assert_detections(predict_json(served, photos["astronaut.png"]), photos["astronaut.png"])


def test_multipart_prediction_is_answered_for_its_image(served: Served, photos: dict[str, bytes]):
    photo = photos["coffee.png"]
    answer = requests.post(
        f"{served.url}/predictions/groundingdino",
        timeout=120,
        files={"image": ("coffee.png", photo, "image/png")},
        data={"caption": CAPTION},
    )
    assert_detections(answer, photo)


def test_every_process_runs_as_the_non_root_user(served: Served):
    table = container.podman("top", served.name, "user", "huser", "args").stdout.splitlines()
    rows = [line.split(None, 2) for line in table[1:]]
    assert any("java" in row[2] for row in rows) and any("model_service_worker" in row[2] for row in rows)
    assert {row[0] for row in rows} == {"model-server"}, table
    assert container.podman("exec", served.name, "id", "-u").stdout.strip() == "1000"


def test_only_inference_is_published_and_management_and_metrics_listen_on_loopback(served: Served):
    published = container.podman("port", served.name).stdout.splitlines()
    assert published == [f"8080/tcp -> {served.url.removeprefix('http://')}"], published
    address = container.podman("inspect", "--format", "{{.NetworkSettings.IPAddress}}", served.name).stdout.strip()
    # From inside the container: loopback reaches all three; the container's own network address
    # (what the outside would use) reaches inference only.
    probe = (
        "import socket, sys\n"
        "def up(host, port):\n"
        "    try:\n        socket.create_connection((host, port), timeout=3).close(); return 1\n"
        "    except OSError:\n        return 0\n"
        "print(*(up(host, port) for host in sys.argv[1:] for port in (8080, 8081, 8082)))"
    )
    reached = container.podman("exec", served.name, "python", "-c", probe, "127.0.0.1", address).stdout.split()
    assert reached == ["1", "1", "1", "1", "0", "0"], reached


def test_restart_reuses_the_cached_model_store(served: Served, photos: dict[str, bytes]):
    container.podman("restart", "--time", "10", served.name)
    container.wait_ready(served.url, served.name)
    log = container.logs(served.name)
    assert log.count("built the model store") == 1 and log.count("reusing the model store") == 1, log[-4000:]
    assert_detections(predict_json(served, photos["astronaut.png"]), photos["astronaut.png"])


def test_stop_ends_torchserve_cleanly_within_the_grace_period(served: Served):
    grace = 10
    took = container.stop(served.name, grace)
    state = container.podman("inspect", "--format", "{{.State.ExitCode}}", served.name).stdout.strip()
    log = container.logs(served.name)
    assert state == "0", log[-4000:]  # SIGKILL after the grace period would give 137
    assert took < grace
    assert "SIGTERM received: stopping TorchServe" in log and "TorchServe stopped in" in log
