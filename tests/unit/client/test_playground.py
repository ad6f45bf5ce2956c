"""The playground's server against the fake service: the page carries its settings, predictions
are forwarded with status and body unchanged, an unreachable service is a 502 in the service's shape."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import ThreadingHTTPServer

import pytest
import requests
from PIL import Image

from gdino_client.playground import make_server
from gdino_serve.ports import free_port
from tests.support.fake_service import FakeServer, fake_boxes
from tests.support.images import b64, encode


@pytest.fixture
def start() -> Iterator[Callable[[str], str]]:
    servers: list[ThreadingHTTPServer] = []

    def run(service_url: str) -> str:
        server = make_server(
            service_url, {"model": "groundingdino", "box_threshold": 0.4, "text_threshold": 0.2}, port=0
        )
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield run
    for server in servers:
        server.shutdown()
        server.server_close()


def test_page_carries_model_and_default_thresholds(start: Callable[[str], str]) -> None:
    page = requests.get(start("http://127.0.0.1:9"), timeout=5)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert '"model": "groundingdino", "box_threshold": 0.4, "text_threshold": 0.2' in page.text


def test_predictions_are_forwarded_unchanged(
    start: Callable[[str], str], fake_server: Callable[..., FakeServer]
) -> None:
    url = start(fake_server().url)
    body = {"image": b64(encode(Image.new("RGB", (80, 40)))), "classes": ["cat"], "box_threshold": 0.4}
    reply = requests.post(f"{url}/predictions/groundingdino", json=body, timeout=10)
    assert reply.status_code == 200 and reply.json()["boxes"] == fake_boxes(80, 40, ["cat"])["boxes"]
    refused = requests.post(f"{url}/predictions/groundingdino", json={**body, "image": "eA=="}, timeout=10)
    assert refused.status_code == 400 and refused.json()["type"] == "InvalidImage"


def test_unreachable_service_is_a_502(start: Callable[[str], str]) -> None:
    url = start(f"http://127.0.0.1:{free_port()}")
    reply = requests.post(f"{url}/predictions/groundingdino", json={}, timeout=10)
    assert reply.status_code == 502 and reply.json()["type"] == "ServiceUnreachable"
