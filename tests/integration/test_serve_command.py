"""The serve command (gdino-serve, gdino_serve/serve.py) on the host: SIGINT stops it although a shell's
background job inherits SIGINT ignored, and a second start reuses the model store it built; with
``--engine ray`` it answers the README's first request and SIGTERM stops Ray Serve and its local Ray."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest
import requests
import torch
import yaml

from gdino_serve.demo_checkpoint import converted_pipeline
from gdino_serve.demo_hf_model import cached_random_hf_model
from gdino_serve.demo_sam_model import cached_random_sam_model
from gdino_serve.download_weights import MASK_MODELS
from gdino_serve.model_archive import HuggingFaceModel, merged_model_yaml
from gdino_serve.model_store_cache import CONVERSIONS, converted_openvino_model
from gdino_serve.paths import REPO, TINY_CONFIG
from gdino_serve.ports import free_ports
from handler.backends import load_pipeline
from handler.contract.mask_codec import decode_rle
from handler.core.settings import HandlerSettings
from handler.frontends.http.batch_answers import answer_bodies
from tests.support.answers import assert_close
from tests.support.background_jobs import ignore_sigint
from tests.support.images import b64

pytestmark = pytest.mark.integration


def serve(
    checkpoint: Path, cache: Path, ports: list[int], log: Path, hf_model: bool = False, extra: Sequence[str] = ()
) -> subprocess.Popen:
    """The serve command in the background, on ``checkpoint`` (a Hugging Face folder when ``hf_model``)."""
    model = (
        ["--hf-model", str(checkpoint)] if hf_model else ["--checkpoint", str(checkpoint), "--config", str(TINY_CONFIG)]
    )
    model += list(extra)
    command = [
        sys.executable,
        "-m",
        "gdino_serve.serve",
        *model,
        "--cache",
        str(cache),
        "--inference-port",
        str(ports[0]),
        "--management-port",
        str(ports[1]),
        "--metrics-port",
        str(ports[2]),
    ]
    return subprocess.Popen(command, stdout=log.open("ab"), stderr=subprocess.STDOUT, preexec_fn=ignore_sigint)


def wait_healthy(process: subprocess.Popen, url: str, log: Path, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if requests.get(f"{url}/ping", timeout=5).json().get("status") == "Healthy":
                return
        except (requests.RequestException, ValueError):
            pass
        time.sleep(0.5)
    raise AssertionError(f"serve command not healthy:\n{log.read_text()[-4000:]}")


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_sigint_stops_the_background_serve_command_and_a_restart_reuses_its_model_store(
    tiny_checkpoint: Path, tmp_path: Path
):
    ports, log, cache = free_ports(3), tmp_path / "serve.log", tmp_path / "cache"
    for _start in range(2):
        process = serve(tiny_checkpoint, cache, ports, log)
        try:
            wait_healthy(process, f"http://127.0.0.1:{ports[0]}", log)
            os.kill(process.pid, signal.SIGINT)
            assert process.wait(timeout=60) == 0, log.read_text()[-4000:]
        finally:
            if process.poll() is None:
                process.kill()
        assert not any(listening(port) for port in ports), "TorchServe still listening after the stop"
    text = log.read_text()
    assert text.count("SIGINT received: stopping TorchServe") == 2
    assert text.count("built the model store") == 1 and text.count("reusing the model store") == 1
    assert len(list(cache.iterdir())) == 1


@pytest.mark.transformers
def test_serve_command_serves_a_hugging_face_folder_with_the_transformers_back_end(tmp_path: Path, photos):
    """``--hf-model FOLDER``: the answer is the in-process transformers pipeline's on that folder."""
    folder = cached_random_hf_model("mm-grounding-dino")
    ports, log = free_ports(3), tmp_path / "serve.log"
    request = {"image": photos["astronaut.png"], "classes": ["person", "rocket"], "box_threshold": 0.5}
    process = serve(folder, tmp_path / "cache", ports, log, hf_model=True)
    try:
        wait_healthy(process, f"http://127.0.0.1:{ports[0]}", log)
        files = {"image": photos["astronaut.png"], "classes": b"person\nrocket", "box_threshold": b"0.5"}
        served = requests.post(f"http://127.0.0.1:{ports[0]}/predictions/groundingdino", files=files, timeout=300)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    settings = HandlerSettings.from_mapping(
        merged_model_yaml(HuggingFaceModel(folder))["handler"] | {"model_config": folder.name}
    )
    pipeline = load_pipeline(folder.parent, folder / "model.safetensors", settings, torch.device("cpu"))
    (expected,) = answer_bodies(pipeline, [request])
    assert served.status_code == 200, served.text
    assert expected["boxes"] and served.json() == expected


@pytest.mark.openvino
def test_serve_command_converts_a_checkpoint_once_and_serves_it_with_the_openvino_back_end(
    tiny_checkpoint: Path, tmp_path: Path, photos
):
    """``--backend openvino``: the checkpoint is converted to OpenVINO IR when the model store is built
    (the tiny config: about a minute), cached beside the stores, and only loaded by the worker; every
    answer of a concurrent batch is the in-process openvino pipeline's answer on the converted model."""
    ports, log, cache = free_ports(3), tmp_path / "serve.log", tmp_path / "cache"
    captions = ["cup . saucer", "person . flag . helmet", "cat .", "rocket . smoke"]
    names = ["coffee.png", "astronaut.png", "chelsea.png", "rocket.jpg"]
    requests_ = [
        {"image": photos[name], "caption": caption, "box_threshold": 0.5} for name, caption in zip(names, captions)
    ]
    process = serve(tiny_checkpoint, cache, ports, log, extra=["--backend", "openvino"])
    try:
        wait_healthy(process, f"http://127.0.0.1:{ports[0]}", log, timeout=900)
        url = f"http://127.0.0.1:{ports[0]}/predictions/groundingdino"
        with ThreadPoolExecutor(len(requests_)) as pool:
            replies = list(
                pool.map(lambda r: requests.post(url, json={**r, "image": b64(r["image"])}, timeout=300), requests_)
            )
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    started = time.monotonic()
    converted = converted_openvino_model(tiny_checkpoint, TINY_CONFIG, cache / CONVERSIONS)  # found, not converted
    assert time.monotonic() - started < 30 and converted.folder.parent == cache / CONVERSIONS
    store = next(path for path in cache.iterdir() if path.name != CONVERSIONS) / "groundingdino"
    assert not list(store.glob("*.pth")), "the worker reads the IR, not the checkpoint"
    assert yaml.safe_load((store / "model-config.yaml").read_text())["handler"]["backend"] == "openvino"
    for reply, expected in zip(replies, answer_bodies(converted_pipeline(converted.folder), requests_)):
        assert reply.status_code == 200, reply.text
        assert expected["boxes"]
        assert_close(reply.json(), expected)


@pytest.mark.masks
def test_serve_command_serves_a_full_size_sam2_mask_model_folder_offline(tiny_checkpoint: Path, tmp_path: Path, photos):
    """``--mask-model FOLDER`` with a full-size random sam2.1-hiera-tiny folder (the published layout and
    size): archived with the detector, loaded offline by the worker, answering one mask per box."""
    name = "facebook/sam2.1-hiera-tiny"
    folder = cached_random_sam_model(name)
    assert abs((folder / "model.safetensors").stat().st_size - MASK_MODELS[name]) < 0.01 * MASK_MODELS[name]
    ports, log = free_ports(3), tmp_path / "serve.log"
    process = serve(tiny_checkpoint, tmp_path / "cache", ports, log, extra=["--mask-model", str(folder)])
    request = {"image": b64(photos["coffee.png"]), "caption": "cup . saucer", "box_threshold": 0.3, "max_detections": 2}
    try:
        wait_healthy(process, f"http://127.0.0.1:{ports[0]}", log, timeout=600)
        url = f"http://127.0.0.1:{ports[0]}/predictions/groundingdino"
        reply = requests.post(url, json={**request, "masks": True}, timeout=600)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    assert reply.status_code == 200, reply.text
    answer = reply.json()
    assert len(answer["masks"]) == len(answer["boxes"]) == 2 and len(answer["mask_scores"]) == 2
    width, height = answer["image_size"]
    assert all(decode_rle(rle).shape == (height, width) for rle in answer["masks"])
    [store] = (tmp_path / "cache").iterdir()
    assert (store / "groundingdino" / "mask_model" / "model.safetensors").stat().st_size == MASK_MODELS[name]


@pytest.mark.ray
def test_the_ray_engine_answers_the_readmes_first_request_and_sigterm_stops_ray_with_it(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    ports, log = free_ports(3), tmp_path / "serve.log"
    process = serve(tiny_checkpoint, tmp_path / "cache", ports, log, extra=["--engine", "ray"])
    try:
        wait_healthy(process, f"http://127.0.0.1:{ports[0]}", log)
        children = psutil.Process(process.pid).children(recursive=True)  # the local Ray's processes
        addresses = {
            found for child in children for found in re.findall(r"-ip-address=(\S+)", " ".join(child.cmdline()))
        }
        assert addresses == {"127.0.0.1"}, addresses  # RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0: loopback only
        with (REPO / "examples" / "cat.jpg").open("rb") as image:  # curl -F image=@examples/cat.jpg ...
            form = {"caption": "cat . ear", "box_threshold": "0.3"}
            reply = requests.post(
                f"http://127.0.0.1:{ports[0]}/predictions/groundingdino", files={"image": image}, data=form, timeout=300
            )
        assert reply.status_code == 200, reply.text
        assert reply.json()["boxes"] and set(reply.json()["labels"]) <= {"cat", "ear"}
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=90) == 0, log.read_text()[-4000:]
    finally:
        if process.poll() is None:
            process.kill()
    assert not listening(ports[0]), "Ray Serve still listening after the stop"
    assert children and not [child for child in children if child.is_running() and child.status() != "zombie"]
    assert "SIGTERM received: stopping Ray Serve" in log.read_text()
