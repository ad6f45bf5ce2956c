"""Security defaults against a real TorchServe: token authorization as documented, the request
size limit, and decompression bombs of every supported format over HTTP."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from gdino_client.commands.annotate import main as annotate_main
from gdino_serve.paths import REPO
from gdino_serve.tools.sample_photos import photo_bytes
from gdino_serve.torchserve_runner import TorchServe
from tests.support.image_bombs import BOMBS
from tests.support.image_folders import write_images
from tests.support.images import b64

pytestmark = [pytest.mark.integration, pytest.mark.faults]


@pytest.fixture(scope="module")
def secured_server(served_model: TorchServe) -> Iterator[TorchServe]:
    """The same model store served with token authorization on, as docs/serving.md says to turn it on."""
    server = TorchServe(served_model.model_store, extra_config={"disable_token_authorization": "false"})
    server.start(timeout=300)
    try:
        yield server
    finally:
        server.stop()


def inference_key(server: TorchServe) -> str:
    return json.loads(server.key_file.read_text())["inference"]["key"]


def readme_request(server: TorchServe, *headers: str) -> tuple[int, str]:
    """The README's first request with curl (its example image and fields), plus ``headers``."""
    command = ["curl", "-s", "-w", "\n%{http_code}", f"{server.url}/predictions/{server.model_name}"]
    command += ["-F", "image=@examples/cat.jpg", "-F", "caption=cat . ear", "-F", "box_threshold=0.3"]
    for header in headers:
        command += ["-H", header]
    body, _, status = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=True).stdout.rpartition(
        "\n"
    )
    return int(status), body


def test_request_without_a_key_is_refused(secured_server):
    status, body = readme_request(secured_server)
    assert status in (400, 401, 403) and "token" in body.lower()


def test_request_with_a_wrong_key_is_refused(secured_server):
    status, body = readme_request(secured_server, "Authorization: Bearer not-the-key")
    assert status in (400, 401, 403) and "token" in body.lower()


def test_readme_example_works_with_the_inference_key(secured_server):
    status, body = readme_request(secured_server, f"Authorization: Bearer {inference_key(secured_server)}")
    assert status == 200 and "boxes" in json.loads(body)


def test_management_key_is_not_an_inference_key(secured_server):
    management = json.loads(secured_server.key_file.read_text())["management"]["key"]
    status, _ = readme_request(secured_server, f"Authorization: Bearer {management}")
    assert status in (400, 401, 403)


def test_batch_client_reads_the_key_file_and_annotates(secured_server, tmp_path: Path):
    folder = write_images(tmp_path / "photos", {"coffee.png": photo_bytes("coffee.png")})
    args = [str(folder), "--out", str(tmp_path / "out"), "--url", secured_server.url, "--caption", "cup"]
    assert annotate_main([*args, "--no-progress", "--token-file", str(secured_server.key_file)]) == 0
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["done"] == 1
    refused = tmp_path / "refused"
    assert (
        annotate_main(
            [str(folder), "--out", str(refused), "--url", secured_server.url, "--caption", "cup", "--no-progress"]
        )
        == 1
    )


def test_request_over_max_request_size_is_refused_with_413(served_model):
    limit = int(dict(line.split("=", 1) for line in (REPO / "config.properties").read_text().splitlines() if "=" in line and not line.startswith("#"))["max_request_size"])  # fmt: skip
    body = json.dumps({"image": "A" * (limit + 1024), "caption": "cat"})
    reply = requests.post(
        f"{served_model.url}/predictions/{served_model.model_name}",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=120,
    )
    assert reply.status_code == 413
    assert requests.get(f"{served_model.url}/ping", timeout=10).json()["status"] == "Healthy"


@pytest.mark.parametrize("fmt", BOMBS)
def test_decompression_bomb_over_http_gets_400_image_too_large(served_model, fmt):
    reply = requests.post(
        f"{served_model.url}/predictions/{served_model.model_name}",
        json={"image": b64(BOMBS[fmt](16_000, 16_000)), "caption": "cat"},
        timeout=120,
    )
    assert reply.status_code == 400 and reply.json()["type"] == "ImageTooLarge", reply.text
